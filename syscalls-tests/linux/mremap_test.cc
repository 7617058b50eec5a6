// mremap(2): shrinking, growing in place and by moving, MREMAP_FIXED,
// MREMAP_DONTUNMAP, duplicating shared mappings, and the error cases.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr uintptr_t kTaskSize = uintptr_t{1} << 47;

// mremap through the raw syscall: glibc's wrapper reads a fifth argument only
// with MREMAP_FIXED/MREMAP_DONTUNMAP, which is what we want to control.
long Mremap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr = nullptr) {
  return syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
}

long Mremap(uintptr_t old_addr, size_t old_len, size_t new_len, int flags, uintptr_t new_addr = 0) {
  return Mremap(reinterpret_cast<void*>(old_addr), old_len, new_len, flags,
                reinterpret_cast<void*>(new_addr));
}

void Fill(Mapping& m) {
  for (size_t i = 0; i < m.len(); i++) m.bytes()[i] = static_cast<uint8_t>(i * 7 + 1);
}

bool HasFill(const uint8_t* p, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (p[i] != static_cast<uint8_t>(i * 7 + 1)) return false;
  }
  return true;
}

TEST(MremapTest, ShrinkInPlace) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  Fill(m);
  ASSERT_THAT(Mremap(m.addr(), 4 * kPageSize, 2 * kPageSize, 0),
              SyscallSucceedsWithValue(static_cast<long>(m.addr())));
  EXPECT_TRUE(HasFill(m.bytes(), 2 * kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + 3 * kPageSize, kPageSize));
}

TEST(MremapTest, ShrinkToAnUnalignedLengthRoundsUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(Mremap(m.addr(), 3 * kPageSize, kPageSize + 1, 0),
              SyscallSucceedsWithValue(static_cast<long>(m.addr())));
  EXPECT_TRUE(IsMapped(m.addr(), 2 * kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
}

TEST(MremapTest, GrowInPlaceWhenTheSpaceAfterIsFree) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  Fill(m);
  ASSERT_THAT(munmap(m.page(2), 2 * kPageSize), SyscallSucceeds());
  ASSERT_THAT(Mremap(m.addr(), 2 * kPageSize, 4 * kPageSize, 0),
              SyscallSucceedsWithValue(static_cast<long>(m.addr())));
  EXPECT_TRUE(HasFill(m.bytes(), 2 * kPageSize));
  // The new pages are fresh zero pages.
  EXPECT_EQ(m.page(2)[0], 0);
  EXPECT_EQ(m.page(3)[kPageSize - 1], 0);
}

TEST(MremapTest, GrowInPlaceIsBlockedByANeighbour) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(mprotect(m.page(1), kPageSize, PROT_READ), SyscallSucceeds());
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 2 * kPageSize, 0), SyscallFailsWithErrno(ENOMEM));
}

TEST(MremapTest, GrowingPartOfAMappingCannotBeDoneInPlace) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  // The first page is followed by the rest of its own mapping.
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 2 * kPageSize, 0), SyscallFailsWithErrno(ENOMEM));
}

TEST(MremapTest, GrowMayMoveMovesAndKeepsTheData) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  Fill(m);
  // Pin the page after the first two so that growing must move.
  ASSERT_THAT(mprotect(m.page(2), kPageSize, PROT_READ), SyscallSucceeds());
  long r = Mremap(m.addr(), 2 * kPageSize, 8 * kPageSize, MREMAP_MAYMOVE);
  ASSERT_THAT(r, SyscallSucceeds());
  Mapping moved(reinterpret_cast<void*>(r), 8 * kPageSize);
  EXPECT_NE(moved.addr(), m.addr());
  EXPECT_TRUE(HasFill(moved.bytes(), 2 * kPageSize));
  EXPECT_EQ(moved.page(7)[0], 0);
  EXPECT_FALSE(IsMapped(m.addr(), 2 * kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
}

TEST(MremapTest, MoveKeepsTheProtection) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_READ));
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(2 * kPageSize));
  ASSERT_THAT(Mremap(m.addr(), m.len(), m.len(), MREMAP_MAYMOVE | MREMAP_FIXED, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping moved(reinterpret_cast<void*>(target), 2 * kPageSize);
  m.release();
  EXPECT_TRUE(ProbeReadable(moved.addr()));
  EXPECT_FALSE(ProbeWritable(moved.addr()));
}

TEST(MremapTest, FixedMovesToTheGivenAddress) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(2 * kPageSize));
  ASSERT_THAT(Mremap(m.addr(), m.len(), m.len(), MREMAP_MAYMOVE | MREMAP_FIXED, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping moved(reinterpret_cast<void*>(target), 2 * kPageSize);
  EXPECT_TRUE(HasFill(moved.bytes(), moved.len()));
  EXPECT_FALSE(IsMapped(m.addr(), m.len()));
  m.release();
}

TEST(MremapTest, FixedReplacesWhatIsAtTheTarget) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(Mapping target, Mapping::Anonymous(3 * kPageSize));
  memset(target.bytes(), 0xee, target.len());
  ASSERT_THAT(Mremap(m.addr(), kPageSize, kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED,
                     target.addr() + kPageSize),
              SyscallSucceedsWithValue(static_cast<long>(target.addr() + kPageSize)));
  m.release();
  EXPECT_EQ(target.page(0)[0], 0xee);
  EXPECT_TRUE(HasFill(target.page(1), kPageSize));
  EXPECT_EQ(target.page(2)[0], 0xee);
}

TEST(MremapTest, FixedCanShrinkAndGrowWhileMoving) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(6 * kPageSize));
  ASSERT_THAT(Mremap(m.addr(), 4 * kPageSize, 2 * kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping small(reinterpret_cast<void*>(target), 2 * kPageSize);
  EXPECT_TRUE(HasFill(small.bytes(), 2 * kPageSize));
  // All of the old range is gone, including the part that was not moved.
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + 3 * kPageSize, kPageSize));
  m.release();
}

TEST(MremapTest, FixedWithoutMayMoveIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kPageSize, MREMAP_FIXED, target),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, FixedOverlappingTheOldRangeIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  EXPECT_THAT(Mremap(m.addr(), 2 * kPageSize, 2 * kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED,
                     m.addr() + kPageSize),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mremap(m.addr() + kPageSize, 2 * kPageSize, 2 * kPageSize,
                     MREMAP_MAYMOVE | MREMAP_FIXED, m.addr()),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, FixedUnalignedTargetIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED, target + 8),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, FixedTargetBeyondTheAddressSpaceIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 2 * kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED,
                     kTaskSize - kPageSize),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, DontUnmapKeepsTheOldRangeEmpty) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  Fill(m);
  long r = Mremap(m.addr(), m.len(), m.len(), MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
  ASSERT_THAT(r, SyscallSucceeds());
  Mapping moved(reinterpret_cast<void*>(r), 2 * kPageSize);
  EXPECT_NE(moved.addr(), m.addr());
  EXPECT_TRUE(HasFill(moved.bytes(), moved.len()));
  // The old range stays mapped, its private anonymous pages now empty.
  EXPECT_TRUE(IsMapped(m.addr(), m.len()));
  EXPECT_EQ(m.bytes()[0], 0);
  EXPECT_EQ(m.page(1)[kPageSize - 1], 0);
}

TEST(MremapTest, DontUnmapWithFixed) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(kPageSize));
  ASSERT_THAT(Mremap(m.addr(), kPageSize, kPageSize,
                     MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping moved(reinterpret_cast<void*>(target), kPageSize);
  EXPECT_TRUE(HasFill(moved.bytes(), kPageSize));
  EXPECT_TRUE(IsMapped(m.addr(), kPageSize));
}

TEST(MremapTest, DontUnmapWithADifferentSizeIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 2 * kPageSize, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mremap(m.addr(), 2 * kPageSize, kPageSize, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, DontUnmapWithoutMayMoveIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kPageSize, MREMAP_DONTUNMAP),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, UnknownFlagsAreInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kPageSize, 0x10), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kPageSize, MREMAP_MAYMOVE | 0x100),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, UnalignedOldAddressIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_THAT(Mremap(m.addr() + 1, kPageSize, kPageSize, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, ZeroNewLengthIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, 0, MREMAP_MAYMOVE), SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, NewLengthThatWrapsIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), kPageSize, SIZE_MAX, MREMAP_MAYMOVE), SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, UnmappedOldAddressIsEfault) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(Mremap(free_addr, kPageSize, 2 * kPageSize, MREMAP_MAYMOVE),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Mremap(free_addr, kPageSize, kPageSize, 0), SyscallFailsWithErrno(EFAULT));
}

TEST(MremapTest, OldRangeRunningPastItsMappingIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(2), kPageSize), SyscallSucceeds());
  EXPECT_THAT(Mremap(m.addr(), 3 * kPageSize, 4 * kPageSize, MREMAP_MAYMOVE),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_TRUE(IsMapped(m.addr(), 2 * kPageSize));
}

TEST(MremapTest, OldRangeSpanningTwoMappingsIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  // Different protections make two VMAs.
  ASSERT_THAT(mprotect(m.page(1), kPageSize, PROT_READ), SyscallSucceeds());
  EXPECT_THAT(Mremap(m.addr(), 2 * kPageSize, 3 * kPageSize, MREMAP_MAYMOVE),
              SyscallFailsWithErrno(EFAULT));
}

TEST(MremapTest, ZeroOldLengthOfAPrivateMappingIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mremap(m.addr(), 0, kPageSize, MREMAP_MAYMOVE), SyscallFailsWithErrno(EINVAL));
}

TEST(MremapTest, ZeroOldLengthDuplicatesASharedMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  m.bytes()[0] = 11;
  long r = Mremap(m.addr(), 0, 2 * kPageSize, MREMAP_MAYMOVE);
  ASSERT_THAT(r, SyscallSucceeds());
  Mapping dup(reinterpret_cast<void*>(r), 2 * kPageSize);
  EXPECT_NE(dup.addr(), m.addr());
  // Two views of the same pages.
  EXPECT_EQ(dup.bytes()[0], 11);
  dup.page(1)[5] = 22;
  EXPECT_EQ(m.page(1)[5], 22);
  m.bytes()[1] = 33;
  EXPECT_EQ(dup.bytes()[1], 33);
}

TEST(MremapTest, SharedMappingMovesWithItsContents) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(2 * kPageSize));
  ASSERT_THAT(Mremap(m.addr(), kPageSize, 2 * kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  m.release();
  Mapping moved(reinterpret_cast<void*>(target), 2 * kPageSize);
  EXPECT_TRUE(HasFill(moved.bytes(), kPageSize));
}

TEST(MremapTest, SameSizeIsANoOp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  Fill(m);
  EXPECT_THAT(Mremap(m.addr(), m.len(), m.len(), 0),
              SyscallSucceedsWithValue(static_cast<long>(m.addr())));
  EXPECT_TRUE(HasFill(m.bytes(), m.len()));
}

TEST(MremapTest, OldLengthIsRoundedUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(kPageSize));
  // old_len 1 means the whole first page.
  ASSERT_THAT(Mremap(m.addr(), 1, kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED, target),
              SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping moved(reinterpret_cast<void*>(target), kPageSize);
  EXPECT_TRUE(HasFill(moved.bytes(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + kPageSize, kPageSize));
}

TEST(MremapTest, GrowingPastWhatCanBeFoundOrCommittedIsNoMemory) {
  SKIP_IF(OvercommitPolicy() == 1);
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  // Half the address space, private and writable: no room, or no commit.
  EXPECT_THAT(Mremap(m.addr(), kPageSize, kTaskSize / 2, MREMAP_MAYMOVE),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MremapTest, MovingPartOfAMappingSplitsIt) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  Fill(m);
  ASSERT_OK_AND_ASSIGN(uintptr_t target, FindUnmappedRange(kPageSize));
  ASSERT_THAT(
      Mremap(m.addr() + kPageSize, kPageSize, kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED, target),
      SyscallSucceedsWithValue(static_cast<long>(target)));
  Mapping moved(reinterpret_cast<void*>(target), kPageSize);
  EXPECT_TRUE(HasFill(m.bytes(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + kPageSize, kPageSize));
  EXPECT_EQ(moved.bytes()[0], static_cast<uint8_t>(kPageSize * 7 + 1));
  EXPECT_EQ(m.page(2)[0], static_cast<uint8_t>(2 * kPageSize * 7 + 1));
}

}  // namespace
}  // namespace syscalls_test
