// mprotect(2): what each protection lets the kernel do with the memory (probes,
// not faults), splitting, holes, and the argument checks in Linux's order.
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
// <asm-generic/mman-common.h>; glibc does not define it.
constexpr int kProtSem = 0x8;

TEST(MprotectTest, ProtNoneRemovesAccess) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_NONE), SyscallSucceeds());
  EXPECT_FALSE(ProbeReadable(m.addr()));
  EXPECT_FALSE(ProbeWritable(m.addr()));
  EXPECT_TRUE(IsMapped(m.addr(), m.len()));
}

TEST(MprotectTest, ReadOnlyRemovesWrite) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 1;
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ), SyscallSucceeds());
  EXPECT_TRUE(ProbeReadable(m.addr()));
  EXPECT_FALSE(ProbeWritable(m.addr()));
  EXPECT_EQ(m.bytes()[0], 1);
}

TEST(MprotectTest, GrantingWriteToAReadOnlyMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_READ));
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_WRITE), SyscallSucceeds());
  EXPECT_TRUE(ProbeWritable(m.addr()));
  m.bytes()[1] = 2;
  EXPECT_EQ(m.bytes()[1], 2);
}

TEST(MprotectTest, DataSurvivesAProtNoneRoundTrip) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 0x3c, m.len());
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_NONE), SyscallSucceeds());
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_WRITE), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[0], 0x3c);
  EXPECT_EQ(m.bytes()[m.len() - 1], 0x3c);
}

TEST(MprotectTest, UntouchedProtNonePagesAreZeroWhenOpened) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[kPageSize - 1], 0);
}

TEST(MprotectTest, MiddlePageSplitsTheMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(mprotect(m.page(1), kPageSize, PROT_NONE), SyscallSucceeds());
  EXPECT_TRUE(ProbeWritable(m.addr()));
  EXPECT_FALSE(ProbeReadable(m.addr() + kPageSize));
  EXPECT_TRUE(ProbeWritable(m.addr() + 2 * kPageSize));
}

TEST(MprotectTest, WriteOnlyImpliesReadOnX86) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_WRITE), SyscallSucceeds());
  EXPECT_TRUE(ProbeReadable(m.addr()));
  EXPECT_TRUE(ProbeWritable(m.addr()));
}

TEST(MprotectTest, ExecAndSemAreAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_EXEC), SyscallSucceeds());
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_WRITE | kProtSem), SyscallSucceeds());
}

TEST(MprotectTest, LengthIsRoundedUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(mprotect(m.ptr(), 1, PROT_READ), SyscallSucceeds());
  EXPECT_FALSE(ProbeWritable(m.addr()));
  EXPECT_TRUE(ProbeWritable(m.addr() + kPageSize));
}

TEST(MprotectTest, ZeroLengthSucceedsEvenWhenUnmapped) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(mprotect(reinterpret_cast<void*>(free_addr), 0, PROT_READ), SyscallSucceeds());
}

TEST(MprotectTest, UnalignedAddressIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.bytes() + 1, kPageSize - 1, PROT_READ), SyscallFailsWithErrno(EINVAL));
  // Alignment is checked before the length.
  EXPECT_THAT(mprotect(m.bytes() + 1, 0, PROT_READ), SyscallFailsWithErrno(EINVAL));
}

TEST(MprotectTest, UnmappedRangeIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(mprotect(reinterpret_cast<void*>(free_addr), 2 * kPageSize, PROT_READ),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MprotectTest, HoleAfterTheStartChangesTheFirstPartThenFails) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(mprotect(m.ptr(), 3 * kPageSize, PROT_READ), SyscallFailsWithErrno(ENOMEM));
  // Linux applies the change up to the hole.
  EXPECT_FALSE(ProbeWritable(m.addr()));
  EXPECT_TRUE(ProbeWritable(m.addr() + 2 * kPageSize));
}

TEST(MprotectTest, HoleAtTheStartChangesNothing) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(0), kPageSize), SyscallSucceeds());
  EXPECT_THAT(mprotect(m.ptr(), 2 * kPageSize, PROT_READ), SyscallFailsWithErrno(ENOMEM));
  EXPECT_TRUE(ProbeWritable(m.addr() + kPageSize));
}

TEST(MprotectTest, UnknownProtBitIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | 0x10), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), 0x40), SyscallFailsWithErrno(EINVAL));
  EXPECT_TRUE(ProbeWritable(m.addr()));
}

TEST(MprotectTest, GrowsDownAndUpTogetherIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MprotectTest, GrowsDownOnAnOrdinaryMappingIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_GROWSDOWN),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MprotectTest, GrowsUpIsInvalidOnX86) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_GROWSUP), SyscallFailsWithErrno(EINVAL));
}

TEST(MprotectTest, GrowsDownExtendsToTheStartOfAGrowsDownMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_GROWSDOWN));
  // Asking for the top page with PROT_GROWSDOWN changes down to the start.
  ASSERT_THAT(mprotect(m.page(3), kPageSize, PROT_READ | PROT_GROWSDOWN), SyscallSucceeds());
  EXPECT_FALSE(ProbeWritable(m.addr() + kPageSize));
  EXPECT_FALSE(ProbeWritable(m.addr() + 3 * kPageSize));
}

TEST(MprotectTest, LengthThatWrapsIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(mprotect(m.ptr(), SIZE_MAX, PROT_READ), SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(mprotect(m.ptr(), SIZE_MAX - m.addr() + 1, PROT_READ), SyscallFailsWithErrno(ENOMEM));
}

TEST(MprotectTest, BeyondTheAddressSpaceIsNoMemory) {
  EXPECT_THAT(mprotect(reinterpret_cast<void*>(kTaskSize), kPageSize, PROT_READ),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MprotectTest, SharedAnonymousCanBeMadeReadOnlyAndBack) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  m.bytes()[0] = 8;
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ), SyscallSucceeds());
  EXPECT_FALSE(ProbeWritable(m.addr()));
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_WRITE), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[0], 8);
}

TEST(MprotectTest, SpansSeveralAdjacentMappings) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  // Three VMAs: replace the middle page with a fresh mapping.
  ASSERT_THAT(mmap(m.page(1), kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
              SyscallSucceeds());
  ASSERT_THAT(mprotect(m.ptr(), m.len(), PROT_READ | PROT_WRITE), SyscallSucceeds());
  for (int i = 0; i < 3; i++) EXPECT_TRUE(ProbeWritable(m.addr() + i * kPageSize)) << i;
}

TEST(MprotectTest, RawSyscallReturnsZero) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(syscall(SYS_mprotect, m.addr(), m.len(), PROT_READ), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
