// What a program may do to its vDSO, and what it must not get away with:
//   vdso time          glibc's time calls (through the vDSO) agree with the
//                      syscalls and never go backwards
//   vdso write-vvar    a store to [vvar] (read-only): dies by SIGSEGV (139)
//   vdso unmap         munmap [vdso] and [vvar]: the kernel does not mind,
//                      and the time syscalls still work
//   vdso mremap        move [vdso] elsewhere: likewise
// After unmap and mremap it makes no libc time call: glibc keeps pointers
// into the old vDSO.
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

struct Range {
  uintptr_t start, end;
};

// The range /proc/self/maps gives for `name` ("[vdso]"), or {0, 0}.
static struct Range Find(const char* name) {
  struct Range r = {0, 0};
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == NULL) return r;
  char line[512];
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long s, e;
    char n[256] = "";
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, n) >= 2 && strcmp(n, name) == 0) {
      r.start = s;
      r.end = e;
    }
  }
  fclose(f);
  return r;
}

static int64_t SysMonotonic(void) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) return -1;
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int Time(void) {
  int64_t last = SysMonotonic();
  for (int i = 0; i < 20000; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t v = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    CHECK(v >= last);
    last = v;
    if (i % 100 == 0) {
      const int64_t s = SysMonotonic();
      CHECK(s >= last);
      last = s;
    }
  }
  struct timeval tv;
  CHECK(gettimeofday(&tv, NULL) == 0);
  const time_t t = time(NULL);
  CHECK(t >= tv.tv_sec - 1 && t <= tv.tv_sec + 1);
  Print("clocks agree\n");
  return 0;
}

static int WriteVvar(void) {
  struct Range vvar = Find("[vvar]");
  CHECK(vvar.start != 0);
  Print("writing [vvar]\n");
  *(volatile char*)vvar.start = 1;
  Print("wrote [vvar]\n");  // not reached
  return 0;
}

static int Unmap(void) {
  struct Range vdso = Find("[vdso]"), vvar = Find("[vvar]");
  CHECK(vdso.start != 0 && vvar.start != 0);
  CHECK(munmap((void*)vdso.start, vdso.end - vdso.start) == 0);
  CHECK(munmap((void*)vvar.start, vvar.end - vvar.start) == 0);
  CHECK(Find("[vdso]").start == 0);
  CHECK(SysMonotonic() > 0);
  Print("unmapped, the clock still reads\n");
  return 0;
}

static int Mremap(void) {
  struct Range vdso = Find("[vdso]");
  CHECK(vdso.start != 0);
  const size_t len = vdso.end - vdso.start;
  void* target = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(target != MAP_FAILED);
  void* moved = mremap((void*)vdso.start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  CHECK(moved == target);
  struct Range now = Find("[vdso]");
  CHECK(now.start == (uintptr_t)target);
  CHECK(SysMonotonic() > 0);
  Print("moved, the clock still reads\n");
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  CHECK(getauxval(AT_SYSINFO_EHDR) != 0);
  if (strcmp(argv[1], "time") == 0) return Time();
  if (strcmp(argv[1], "write-vvar") == 0) return WriteVvar();
  if (strcmp(argv[1], "unmap") == 0) return Unmap();
  if (strcmp(argv[1], "mremap") == 0) return Mremap();
  return 2;
}
