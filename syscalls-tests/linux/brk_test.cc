// brk(2), through the raw syscall: the C library's brk()/sbrk() keep their
// own idea of the break. brk never fails with an errno: it returns the new
// break, or the unchanged old one when it cannot move it.
//
// NOTE: glibc's malloc grows its heap with sbrk. Between moving the break and
// putting it back these tests must not allocate (no EXPECT_THAT, no
// std::vector), or malloc could take the pages under test; they record what
// they see in locals and check it after the break is restored.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

uintptr_t Brk(uintptr_t addr) { return static_cast<uintptr_t>(syscall(SYS_brk, addr)); }

uintptr_t PageUp(uintptr_t a) { return (a + kPageSize - 1) & ~(kPageSize - 1); }

// mincore without allocating: true when the page at `addr` is mapped.
bool PageMapped(uintptr_t addr) {
  unsigned char v;
  return syscall(SYS_mincore, addr & ~(kPageSize - 1), kPageSize, &v) == 0;
}

TEST(BrkTest, QueryReturnsTheSameBreak) {
  const uintptr_t a = Brk(0);
  const uintptr_t b = Brk(0);
  EXPECT_NE(a, 0u);
  EXPECT_EQ(a, b);
}

TEST(BrkTest, GrowGivesZeroedWritableMemory) {
  const uintptr_t cur = Brk(0);
  const uintptr_t base = PageUp(cur);
  const uintptr_t want = base + 4 * kPageSize;
  const uintptr_t got = Brk(want);
  bool zero = true, mapped = false;
  if (got == want) {
    mapped = PageMapped(base) && PageMapped(want - 1);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(base);
    for (size_t i = 0; i < 4 * kPageSize; i++) zero &= p[i] == 0;
    memset(reinterpret_cast<void*>(base), 0x5a, 4 * kPageSize);
  }
  const uintptr_t restored = Brk(cur);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(mapped);
  EXPECT_TRUE(zero);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, ShrinkUnmapsThePages) {
  const uintptr_t cur = Brk(0);
  const uintptr_t base = PageUp(cur);
  const uintptr_t grown = Brk(base + 2 * kPageSize);
  const uintptr_t shrunk = Brk(cur);
  const bool still_mapped = PageMapped(base) || PageMapped(base + kPageSize);
  EXPECT_EQ(grown, base + 2 * kPageSize);
  EXPECT_EQ(shrunk, cur);
  EXPECT_FALSE(still_mapped);
}

TEST(BrkTest, MemoryIsZeroAgainAfterShrinkAndRegrow) {
  const uintptr_t cur = Brk(0);
  const uintptr_t base = PageUp(cur);
  const uintptr_t want = base + kPageSize;
  bool ok = Brk(want) == want;
  if (ok) *reinterpret_cast<volatile uint8_t*>(base + 10) = 7;
  ok &= Brk(cur) == cur;
  ok &= Brk(want) == want;
  const uint8_t after = ok ? *reinterpret_cast<volatile uint8_t*>(base + 10) : 0xff;
  const uintptr_t restored = Brk(cur);
  EXPECT_TRUE(ok);
  EXPECT_EQ(after, 0);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, UnalignedBreakIsKeptExactly) {
  const uintptr_t cur = Brk(0);
  const uintptr_t want = PageUp(cur) + kPageSize + 123;
  const uintptr_t got = Brk(want);
  const uintptr_t query = Brk(0);
  const uintptr_t restored = Brk(cur);
  EXPECT_EQ(got, want);
  EXPECT_EQ(query, want);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, BelowTheStartFailsWithTheOldBreak) {
  const uintptr_t cur = Brk(0);
  EXPECT_EQ(Brk(1), cur);
  EXPECT_EQ(Brk(kPageSize), cur);
  EXPECT_EQ(Brk(0), cur);
}

TEST(BrkTest, AboveTheAddressSpaceFailsWithTheOldBreak) {
  const uintptr_t cur = Brk(0);
  EXPECT_EQ(Brk(uintptr_t{1} << 47), cur);
  EXPECT_EQ(Brk(UINTPTR_MAX & ~(kPageSize - 1)), cur);
  EXPECT_EQ(Brk(0), cur);
}

TEST(BrkTest, KeepsAGapOfOnePageBelowTheNextMapping) {
  const uintptr_t cur = Brk(0);
  const uintptr_t base = PageUp(cur);
  // Something mapped two pages above the break's page.
  void* block = mmap(reinterpret_cast<void*>(base + 2 * kPageSize), kPageSize, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ASSERT_THAT(block, SyscallSucceedsWithValue(reinterpret_cast<void*>(base + 2 * kPageSize)));
  Mapping blocker(block, kPageSize);
  const uintptr_t touching = Brk(base + 2 * kPageSize);
  const uintptr_t with_gap = Brk(base + kPageSize);
  const uintptr_t restored = Brk(cur);
  EXPECT_EQ(touching, cur);
  EXPECT_EQ(with_gap, base + kPageSize);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, RlimitDataStopsGrowth) {
  struct rlimit old;
  ASSERT_THAT(getrlimit(RLIMIT_DATA, &old), SyscallSucceeds());
  const uintptr_t cur = Brk(0);
  const struct rlimit none = {0, old.rlim_max};
  const bool lowered = syscall(SYS_setrlimit, RLIMIT_DATA, &none) == 0;
  const uintptr_t got = Brk(PageUp(cur) + 16 * kPageSize);
  const bool restored_limit = syscall(SYS_setrlimit, RLIMIT_DATA, &old) == 0;
  const uintptr_t restored = Brk(cur);
  EXPECT_TRUE(lowered);
  EXPECT_TRUE(restored_limit);
  EXPECT_EQ(got, cur);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, HugeGrowthIsNotCommitted) {
  SKIP_IF(OvercommitPolicy() == 1);
  const uintptr_t cur = Brk(0);
  const uintptr_t got = Brk(PageUp(cur) + (uintptr_t{1} << 45));  // 32 TiB
  const uintptr_t restored = Brk(cur);
  EXPECT_EQ(got, cur);
  EXPECT_EQ(restored, cur);
}

TEST(BrkTest, SameValueIsANoOp) {
  const uintptr_t cur = Brk(0);
  EXPECT_EQ(Brk(cur), cur);
  EXPECT_EQ(Brk(0), cur);
}

TEST(BrkTest, ManySmallSteps) {
  const uintptr_t cur = Brk(0);
  uintptr_t b = cur;
  int failures = 0;
  for (int i = 0; i < 64; i++) {
    const uintptr_t want = b + 1000;
    b = Brk(want);
    if (b != want) failures++;
    *reinterpret_cast<volatile uint8_t*>(b - 1) = 1;
  }
  const uintptr_t restored = Brk(cur);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(restored, cur);
}

}  // namespace
}  // namespace syscalls_test
