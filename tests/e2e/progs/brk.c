// The program break: grows it, writes the new heap, shrinks it, grows it again
// (the re-grown part must read as zeros), and checks that requests below the
// start or beyond the address space leave it unchanged. Prints only offsets from
// the (page-aligned) initial break, never addresses, so the output does not depend on the layout.
//
// It uses the raw system call (not sbrk's cached value) and no stdio, so nothing
// else moves the break behind its back.
#include <stdint.h>
#include <sys/syscall.h>

#include "util.h"

static uintptr_t Brk(uintptr_t addr) { return (uintptr_t)syscall(SYS_brk, addr); }

int main(void) {
  const uintptr_t kGrow = 1 << 20;
  long page = sysconf(_SC_PAGESIZE);
  CHECK(page > 0);
  // NOTE: static glibc has already moved the break by a few bytes (its TLS block
  // comes from sbrk), so work from the next page boundary.
  uintptr_t initial = Brk(0);
  CHECK(initial != 0);
  uintptr_t start = (initial + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  CHECK(Brk(start) == start);

  uintptr_t end = Brk(start + kGrow);
  Print("grow by %lu: brk moved by %lu\n", (unsigned long)kGrow, (unsigned long)(end - start));
  CHECK(end == start + kGrow);
  volatile uint8_t* heap = (volatile uint8_t*)start;
  for (uintptr_t i = 0; i < kGrow; i += 64) heap[i] = (uint8_t)(i >> 6);
  unsigned sum = 0;
  for (uintptr_t i = 0; i < kGrow; i += 64) sum += heap[i];
  Print("heap written and read back: sum %u\n", sum);

  end = Brk(start + kGrow / 2);
  Print("shrink to %lu: brk at +%lu\n", (unsigned long)(kGrow / 2), (unsigned long)(end - start));
  CHECK(end == start + kGrow / 2);

  end = Brk(start + kGrow);
  CHECK(end == start + kGrow);
  unsigned nonzero = 0, kept = 0;
  for (uintptr_t i = kGrow / 2; i < kGrow; i += 64) nonzero += heap[i] != 0;
  for (uintptr_t i = 0; i < kGrow / 2; i += 64) kept += heap[i] == (uint8_t)(i >> 6);
  Print("re-grow: %u nonzero bytes in the re-grown half, %u of %lu samples kept below\n", nonzero,
        kept, (unsigned long)(kGrow / 2 / 64));

  // Unaligned break: brk reports exactly what was asked; the page holding it is usable.
  end = Brk(start + kGrow + 10);
  CHECK(end == start + kGrow + 10);
  heap[kGrow + 9] = 0x5a;
  Print("unaligned brk: at +%lu, byte written\n", (unsigned long)(end - start));

  uintptr_t before = Brk(0);
  Print("brk below the start: unchanged %s\n", Brk(4096) == before ? "yes" : "no");
  Print("brk past the address space: unchanged %s\n",
        Brk(start + ((uintptr_t)1 << 47)) == before ? "yes" : "no");

  // glibc's wrappers on top of the same system call.
  CHECK(brk((void*)start) == 0);
  CHECK(Brk(0) == start);
  void* old = sbrk(4096);
  CHECK(old != (void*)-1);
  Print("sbrk(4096) returned the old break: %s\n", (uintptr_t)old == start ? "yes" : "no");
  Print("sbrk(0) after: +%lu\n", (unsigned long)((uintptr_t)sbrk(0) - start));
  return 0;
}
