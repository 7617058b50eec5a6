// Anonymous memory at scale: maps 256 MiB, checks it reads as zeros, touches
// every page, checks what it wrote and unmaps it. Then mremap(2): grow with
// MREMAP_MAYMOVE, move with MREMAP_FIXED and shrink, checking the data survives
// each step. Prints checksums of what it read back, which are the same on every
// correct kernel.
#define _GNU_SOURCE  // mremap
#include <stdint.h>
#include <sys/mman.h>

#include "util.h"

static uint64_t Fnv(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

static const uint64_t kFnvBasis = 0xcbf29ce484222325ull;

static uint64_t Pattern(size_t page, size_t slot) {
  return (page + 1) * 0x9e3779b97f4a7c15ull ^ (slot << 56);
}

// True when no page of [addr, addr+len) is mapped (msync fails with ENOMEM).
static int Unmapped(void* addr, size_t len) {
  return msync(addr, len, MS_ASYNC) == -1 && errno == ENOMEM;
}

static void BigMap(size_t page) {
  const size_t kLen = (size_t)256 << 20;
  const size_t kPages = kLen / page;
  const size_t kWords = page / sizeof(uint64_t);
  uint64_t* m = mmap(NULL, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  // Fresh anonymous memory reads as zeros (and reading must not break writing).
  for (size_t p = 0; p < kPages; p += 97) CHECK(m[p * kWords + kWords / 3] == 0);
  for (size_t p = 0; p < kPages; p++) {
    uint64_t* w = m + p * kWords;
    w[0] = Pattern(p, 0);
    w[kWords / 2] = Pattern(p, 1);
    w[kWords - 1] = Pattern(p, 2);
  }
  uint64_t h = kFnvBasis;
  for (size_t p = 0; p < kPages; p++) {
    uint64_t* w = m + p * kWords;
    CHECK(w[0] == Pattern(p, 0));
    CHECK(w[kWords / 2] == Pattern(p, 1));
    CHECK(w[kWords - 1] == Pattern(p, 2));
    CHECK(w[1] == 0);
    h = Fnv(h, w[0] ^ w[kWords / 2] ^ w[kWords - 1]);
  }
  CHECK(munmap(m, kLen) == 0);
  CHECK(Unmapped(m, kLen));
  Print("mmap 256 MiB: %zu pages ok, checksum %016llx\n", kPages, (unsigned long long)h);
}

static void Remap(size_t page) {
  const size_t kWords = page / sizeof(uint64_t);
  const size_t kSmall = 4, kBig = 1024;
  uint64_t* a =
      mmap(NULL, kSmall * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(a != MAP_FAILED);
  for (size_t i = 0; i < kSmall * kWords; i++) a[i] = Pattern(i, 3);

  // Grow; the kernel may move it.
  uint64_t* b = mremap(a, kSmall * page, kBig * page, MREMAP_MAYMOVE);
  CHECK(b != MAP_FAILED);
  uint64_t h = kFnvBasis;
  for (size_t i = 0; i < kSmall * kWords; i++) {
    CHECK(b[i] == Pattern(i, 3));
    h = Fnv(h, b[i]);
  }
  for (size_t p = kSmall; p < kBig; p++) {
    CHECK(b[p * kWords] == 0);
    b[p * kWords + 5] = Pattern(p, 4);
  }
  Print("mremap grow %zu -> %zu pages: data kept, checksum %016llx\n", kSmall, kBig,
        (unsigned long long)h);

  // Move to an address we choose: reserve it first so nothing else is there.
  uint64_t* target = mmap(NULL, kBig * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(target != MAP_FAILED);
  uint64_t* c = mremap(b, kBig * page, kBig * page, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  CHECK(c == target);
  CHECK(Unmapped(b, kBig * page));
  h = kFnvBasis;
  for (size_t i = 0; i < kSmall * kWords; i++) {
    CHECK(c[i] == Pattern(i, 3));
    h = Fnv(h, c[i]);
  }
  for (size_t p = kSmall; p < kBig; p++) {
    CHECK(c[p * kWords + 5] == Pattern(p, 4));
    h = Fnv(h, c[p * kWords + 5]);
  }
  Print("mremap move (MREMAP_FIXED): data kept, checksum %016llx\n", (unsigned long long)h);

  // Shrink in place: the tail goes away, the head stays.
  uint64_t* d = mremap(c, kBig * page, 2 * page, 0);
  CHECK(d == c);
  CHECK(Unmapped((char*)c + 2 * page, (kBig - 2) * page));
  CHECK(d[0] == Pattern(0, 3));
  CHECK(d[2 * kWords - 1] == Pattern(2 * kWords - 1, 3));
  CHECK(munmap(d, 2 * page) == 0);
  Print("mremap shrink %zu -> 2 pages: ok\n", kBig);
}

int main(void) {
  long page = sysconf(_SC_PAGESIZE);
  CHECK(page > 0);
  BigMap((size_t)page);
  Remap((size_t)page);
  return 0;
}
