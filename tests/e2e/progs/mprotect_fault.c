// Maps a page read-write, fills it, makes it read-only with mprotect(2), reads it
// back, then writes to it: the write must kill the process with SIGSEGV (139).
#include <stdint.h>
#include <sys/mman.h>

#include "util.h"

int main(void) {
  long page = sysconf(_SC_PAGESIZE);
  CHECK(page > 0);
  volatile uint8_t* p =
      mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  for (long i = 0; i < page; i++) p[i] = (uint8_t)(i * 7);
  CHECK(mprotect((void*)p, (size_t)page, PROT_READ) == 0);
  unsigned sum = 0;
  for (long i = 0; i < page; i++) sum += p[i];
  Print("read-only page sum: %u\n", sum);
  p[page / 2] = 1;  // Must fault.
  Print("write to a read-only page did not fault\n");
  return 0;
}
