// msync(2) on anonymous memory: which flag combinations Linux accepts, and the
// range checks (ENOMEM for holes, EBUSY for invalidating locked memory).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

TEST(MsyncTest, EachValidFlagCombination) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  m.bytes()[0] = 1;
  for (int flags :
       {0, MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE, MS_ASYNC | MS_INVALIDATE}) {
    EXPECT_THAT(msync(m.ptr(), m.len(), flags), SyscallSucceeds()) << "flags " << flags;
  }
  EXPECT_EQ(m.bytes()[0], 1);
}

TEST(MsyncTest, SharedAnonymousMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  m.bytes()[0] = 1;
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[0], 1);
}

TEST(MsyncTest, SyncAndAsyncTogetherIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC | MS_ASYNC), SyscallFailsWithErrno(EINVAL));
}

TEST(MsyncTest, UnknownFlagIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(msync(m.ptr(), m.len(), 8), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC | 0x100), SyscallFailsWithErrno(EINVAL));
}

TEST(MsyncTest, UnalignedAddressIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(msync(m.bytes() + 1, 1, MS_SYNC), SyscallFailsWithErrno(EINVAL));
}

TEST(MsyncTest, FlagsAreCheckedBeforeTheRange) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(msync(reinterpret_cast<void*>(free_addr), kPageSize, MS_SYNC | MS_ASYNC),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MsyncTest, UnmappedRangeIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(msync(reinterpret_cast<void*>(free_addr), 2 * kPageSize, MS_SYNC),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MsyncTest, HoleInTheRangeIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC), SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_INVALIDATE), SyscallFailsWithErrno(ENOMEM));
}

TEST(MsyncTest, AsyncOverAHoleIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_ASYNC), SyscallFailsWithErrno(ENOMEM));
}

TEST(MsyncTest, ZeroLengthSucceedsEvenWhenUnmapped) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(msync(reinterpret_cast<void*>(free_addr), 0, MS_SYNC), SyscallSucceeds());
}

TEST(MsyncTest, LengthIsRoundedUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  // One byte more than a page reaches into the hole.
  EXPECT_THAT(msync(m.ptr(), kPageSize + 1, MS_SYNC), SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(msync(m.ptr(), kPageSize, MS_SYNC), SyscallSucceeds());
}

TEST(MsyncTest, LengthThatWrapsIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  // start + len wraps around to the first page.
  EXPECT_THAT(msync(m.ptr(), (0 - m.addr()) + kPageSize, MS_SYNC), SyscallFailsWithErrno(ENOMEM));
}

TEST(MsyncTest, LengthThatRoundsUpToZeroIsANoOp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  // Linux rounds the length up to pages first: SIZE_MAX becomes 0, and an
  // empty range succeeds.
  EXPECT_THAT(msync(m.ptr(), SIZE_MAX, MS_SYNC), SyscallSucceeds());
}

TEST(MsyncTest, InvalidateOnLockedMemoryIsBusy) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_INVALIDATE), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC), SyscallSucceeds());
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(MsyncTest, ProtNoneMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  EXPECT_THAT(msync(m.ptr(), m.len(), MS_SYNC), SyscallSucceeds());
}

TEST(MsyncTest, RawSyscallReturnsZero) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(syscall(SYS_msync, m.addr(), m.len(), MS_ASYNC), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
