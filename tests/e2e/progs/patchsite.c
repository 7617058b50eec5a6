/* A `mov $getppid, %eax; syscall` site called 40 times, then its bytes as
 * /proc/self/mem reads them: "patched" (systrap's syscall-site patching
 * rewrote it to `jmp *abs32` and a [systrap] mapping exists), "original", or
 * "mixed" (one without the other: a bug). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

long patchsite_getppid(void);
extern const unsigned char patchsite_site[];
__asm__(
    ".text\n"
    ".globl patchsite_getppid, patchsite_site\n"
    ".p2align 4\n"
    "patchsite_getppid: nop\n"
    "patchsite_site: mov $110, %eax\n"
    "syscall\n"
    "ret\n");

int main(void) {
  for (int i = 0; i < 40; ++i) { /* more than the traps before a site is patched */
    if (patchsite_getppid() != getppid()) {
      fprintf(stderr, "wrong getppid\n");
      return 1;
    }
  }
  unsigned char b[7];
  int fd = open("/proc/self/mem", O_RDONLY);
  if (fd < 0) {
    memcpy(b, patchsite_site, 7); /* no /proc/self/mem: what loads read */
  } else {
    if (pread(fd, b, 7, (off_t)(unsigned long)patchsite_site) != 7) return 2;
    close(fd);
  }
  static const unsigned char orig[7] = {0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05};
  const int jump = b[0] == 0xff && b[1] == 0x24 && b[2] == 0x25 && b[5] == 0x0f && b[6] == 0x05;
  char maps[65536];
  fd = open("/proc/self/maps", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, maps, sizeof(maps) - 1);
  if (n < 0) return 3;
  maps[n] = 0;
  const int region = strstr(maps, "[systrap]") != NULL;
  if (memcmp(b, orig, 7) == 0 && !region) {
    printf("original\n");
  } else if (jump && region) {
    printf("patched\n");
  } else {
    printf("mixed\n");
  }
  return 0;
}
