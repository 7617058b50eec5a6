// Prints what the kernel handed the program at exec: argc, argv, envp and the
// auxiliary vector. Only values that are the same on every correct kernel are
// printed; for pointers (AT_RANDOM) and layout-dependent entries only presence.
#include <sys/auxv.h>

#include "util.h"

extern char** environ;

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

struct Entry {
  unsigned long type;
  const char* name;
};

static const struct Entry kValues[] = {
    {AT_PAGESZ, "AT_PAGESZ"}, {AT_PHENT, "AT_PHENT"},   {AT_PHNUM, "AT_PHNUM"},
    {AT_UID, "AT_UID"},       {AT_EUID, "AT_EUID"},     {AT_GID, "AT_GID"},
    {AT_EGID, "AT_EGID"},     {AT_SECURE, "AT_SECURE"}, {AT_HWCAP, "AT_HWCAP"},
    {AT_HWCAP2, "AT_HWCAP2"}, {AT_CLKTCK, "AT_CLKTCK"},
};

static const struct Entry kStrings[] = {
    {AT_PLATFORM, "AT_PLATFORM"},
    {AT_EXECFN, "AT_EXECFN"},
};

static const struct Entry kPresence[] = {
    {AT_RANDOM, "AT_RANDOM"}, {AT_MINSIGSTKSZ, "AT_MINSIGSTKSZ"},   {AT_ENTRY, "AT_ENTRY"},
    {AT_PHDR, "AT_PHDR"},     {AT_SYSINFO_EHDR, "AT_SYSINFO_EHDR"},  // the vDSO (runsc
                                                                     // --vdso=false: absent)
};

int main(int argc, char** argv) {
  Print("argc %d\n", argc);
  for (int i = 0; i < argc; i++) Print("argv[%d] \"%s\"\n", i, argv[i]);
  Print("argv[argc] %s\n", argv[argc] == NULL ? "NULL" : "not NULL");
  int n = 0;
  for (char** e = environ; *e != NULL; e++, n++) Print("envp[%d] \"%s\"\n", n, *e);
  Print("envc %d\n", n);

  for (size_t i = 0; i < sizeof(kValues) / sizeof(kValues[0]); i++) {
    errno = 0;
    unsigned long v = getauxval(kValues[i].type);
    if (v == 0 && errno == ENOENT) {
      Print("%s absent\n", kValues[i].name);
    } else {
      Print("%s %#lx\n", kValues[i].name, v);
    }
  }
  for (size_t i = 0; i < sizeof(kStrings) / sizeof(kStrings[0]); i++) {
    const char* s = (const char*)getauxval(kStrings[i].type);
    Print("%s %s%s%s\n", kStrings[i].name, s ? "\"" : "", s ? s : "absent", s ? "\"" : "");
  }
  for (size_t i = 0; i < sizeof(kPresence) / sizeof(kPresence[0]); i++) {
    errno = 0;
    unsigned long v = getauxval(kPresence[i].type);
    Print("%s %s\n", kPresence[i].name,
          v != 0            ? "present (non-zero)"
          : errno == ENOENT ? "absent"
                            : "present (zero)");
  }
  return 0;
}
