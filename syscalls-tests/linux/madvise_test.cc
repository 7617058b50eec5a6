// madvise(2): what MADV_DONTNEED and friends do to anonymous memory, which
// advice is accepted where, and the argument checks.
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

TEST(MadviseTest, DontneedZeroesPrivateAnonymousMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  memset(m.bytes(), 0x77, m.len());
  ASSERT_THAT(madvise(m.page(1), kPageSize, MADV_DONTNEED), SyscallSucceeds());
  EXPECT_EQ(m.page(0)[0], 0x77);
  EXPECT_EQ(m.page(1)[0], 0);
  EXPECT_EQ(m.page(1)[kPageSize - 1], 0);
  EXPECT_EQ(m.page(2)[0], 0x77);
}

TEST(MadviseTest, DontneedMakesPagesNonResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 1, m.len());
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_EQ(vec[0] & 1, 0);
  EXPECT_EQ(vec[1] & 1, 0);
}

TEST(MadviseTest, DontneedKeepsSharedAnonymousData) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  m.bytes()[9] = 9;
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[9], 9);
}

TEST(MadviseTest, DontneedOnProtNoneMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 4;
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_NONE), SyscallSucceeds());
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallSucceeds());
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[0], 0);
}

TEST(MadviseTest, DontneedOnLockedMemoryIsInvalid) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 4;
  ASSERT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(m.bytes()[0], 4);
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(MadviseTest, HoleFailsWithNoMemoryAfterAdvisingTheRest) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  memset(m.bytes(), 2, m.len());
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallFailsWithErrno(ENOMEM));
  // Linux advises every mapped part, then reports the hole.
  EXPECT_EQ(m.page(0)[0], 0);
  EXPECT_EQ(m.page(2)[0], 0);
}

TEST(MadviseTest, UnmappedRangeIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  for (int advice : {MADV_NORMAL, MADV_DONTNEED, MADV_WILLNEED, MADV_RANDOM}) {
    EXPECT_THAT(madvise(reinterpret_cast<void*>(free_addr), 2 * kPageSize, advice),
                SyscallFailsWithErrno(ENOMEM))
        << "advice " << advice;
  }
}

TEST(MadviseTest, UnknownAdviceIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  for (int advice : {-1, 5, 6, 7, 1000, 12345}) {
    EXPECT_THAT(madvise(m.ptr(), m.len(), advice), SyscallFailsWithErrno(EINVAL))
        << "advice " << advice;
  }
}

TEST(MadviseTest, UnknownAdviceIsCheckedBeforeTheRange) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(madvise(reinterpret_cast<void*>(free_addr), kPageSize, 12345),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, UnalignedStartIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_THAT(madvise(m.bytes() + 1, kPageSize, MADV_DONTNEED), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, ZeroLengthSucceedsEvenWhenUnmapped) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(madvise(reinterpret_cast<void*>(free_addr), 0, MADV_DONTNEED), SyscallSucceeds());
}

TEST(MadviseTest, LengthIsRoundedUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 3, m.len());
  ASSERT_THAT(madvise(m.ptr(), 1, MADV_DONTNEED), SyscallSucceeds());
  EXPECT_EQ(m.page(0)[kPageSize - 1], 0);
  EXPECT_EQ(m.page(1)[0], 3);
}

TEST(MadviseTest, LengthThatWrapsIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(madvise(m.ptr(), SIZE_MAX, MADV_DONTNEED), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(madvise(m.ptr(), SIZE_MAX - m.addr() + 1 - kPageSize + 1, MADV_NORMAL),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, BeyondTheAddressSpaceIsNoMemory) {
  EXPECT_THAT(madvise(reinterpret_cast<void*>(kTaskSize), kPageSize, MADV_NORMAL),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MadviseTest, AccessPatternAdviceIsAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  m.bytes()[0] = 1;
  for (int advice : {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_NORMAL}) {
    EXPECT_THAT(madvise(m.ptr(), m.len(), advice), SyscallSucceeds()) << "advice " << advice;
  }
  EXPECT_EQ(m.bytes()[0], 1);
}

TEST(MadviseTest, ForkAndDumpAdviceIsAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  for (int advice :
       {MADV_DONTFORK, MADV_DOFORK, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK}) {
    EXPECT_THAT(madvise(m.ptr(), m.len(), advice), SyscallSucceeds()) << "advice " << advice;
  }
}

TEST(MadviseTest, WipeOnForkOnSharedMemoryIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_WIPEONFORK), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, FreeOnPrivateMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 6, m.len());
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_FREE), SyscallSucceeds());
  // The pages may be reclaimed lazily: each reads as the old data or zero.
  EXPECT_THAT(m.bytes()[0], ::testing::AnyOf(0, 6));
  // A write after MADV_FREE keeps the page.
  m.bytes()[kPageSize] = 8;
  EXPECT_EQ(m.bytes()[kPageSize], 8);
}

TEST(MadviseTest, FreeOnSharedMemoryIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_FREE), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, RemoveOnPrivateMemoryIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_REMOVE), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, RemoveOnSharedMemoryPunchesAHole) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  memset(m.bytes(), 5, m.len());
  ASSERT_THAT(madvise(m.page(1), kPageSize, MADV_REMOVE), SyscallSucceeds());
  EXPECT_EQ(m.page(0)[0], 5);
  EXPECT_EQ(m.page(1)[0], 0);
}

TEST(MadviseTest, ColdAndPageoutAreAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 4, m.len());
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_COLD), SyscallSucceeds());
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_PAGEOUT), SyscallSucceeds());
  // Paging out keeps the data.
  EXPECT_EQ(m.bytes()[0], 4);
  EXPECT_EQ(m.bytes()[m.len() - 1], 4);
}

TEST(MadviseTest, PopulateWriteMakesPagesResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_POPULATE_WRITE), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  for (uint8_t v : vec) EXPECT_EQ(v & 1, 1);
  EXPECT_EQ(m.page(3)[0], 0);
}

TEST(MadviseTest, PopulateReadIsAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_READ));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_POPULATE_READ), SyscallSucceeds());
}

TEST(MadviseTest, PopulateWriteOnReadOnlyMemoryIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_POPULATE_WRITE), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, PopulateOnProtNoneIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  EXPECT_THAT(madvise(m.ptr(), m.len(), MADV_POPULATE_READ), SyscallFailsWithErrno(EINVAL));
}

TEST(MadviseTest, PopulateOverAHoleIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(madvise(m.ptr(), 2 * kPageSize, MADV_POPULATE_WRITE), SyscallFailsWithErrno(ENOMEM));
}

TEST(MadviseTest, RawSyscallReturnsZero) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(syscall(SYS_madvise, m.addr(), m.len(), MADV_NORMAL), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
