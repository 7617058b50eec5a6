// mincore(2): which pages are resident, and its argument checks.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr uintptr_t kTaskSize = uintptr_t{1} << 47;

TEST(MincoreTest, TouchedPageIsResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 1;
  unsigned char v = 0;
  ASSERT_THAT(mincore(m.ptr(), m.len(), &v), SyscallSucceeds());
  EXPECT_EQ(v & 1, 1);
}

TEST(MincoreTest, OnlyTheLowBitIsUsed) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  m.bytes()[0] = 1;
  unsigned char v[4];
  memset(v, 0xff, sizeof(v));
  ASSERT_THAT(mincore(m.ptr(), m.len(), v), SyscallSucceeds());
  for (unsigned char b : v) EXPECT_EQ(b & ~1, 0);
}

TEST(MincoreTest, UntouchedSingleAnonymousPageIsNotResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  unsigned char v = 0xff;
  ASSERT_THAT(mincore(m.ptr(), m.len(), &v), SyscallSucceeds());
  EXPECT_EQ(v, 0);
}

TEST(MincoreTest, ProtNoneMappingCanBeAsked) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_NONE));
  unsigned char v[2] = {0xff, 0xff};
  ASSERT_THAT(mincore(m.ptr(), m.len(), v), SyscallSucceeds());
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 0);
}

TEST(MincoreTest, LengthIsRoundedUpToPages) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  memset(m.bytes(), 1, m.len());
  unsigned char v[3] = {0, 0, 0x42};
  ASSERT_THAT(mincore(m.ptr(), kPageSize + 1, v), SyscallSucceeds());
  EXPECT_EQ(v[0] & 1, 1);
  EXPECT_EQ(v[1] & 1, 1);
  EXPECT_EQ(v[2], 0x42) << "wrote past the vector";
}

TEST(MincoreTest, ZeroLengthSucceedsEvenWhenUnmapped) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  unsigned char v = 0x42;
  EXPECT_THAT(mincore(reinterpret_cast<void*>(free_addr), 0, &v), SyscallSucceeds());
  EXPECT_EQ(v, 0x42);
  EXPECT_THAT(mincore(reinterpret_cast<void*>(free_addr), 0, nullptr), SyscallSucceeds());
}

TEST(MincoreTest, UnalignedAddressIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  unsigned char v;
  EXPECT_THAT(mincore(m.bytes() + 1, 1, &v), SyscallFailsWithErrno(EINVAL));
}

TEST(MincoreTest, UnmappedPageIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  unsigned char v;
  EXPECT_THAT(mincore(reinterpret_cast<void*>(free_addr), kPageSize, &v),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MincoreTest, HoleInTheRangeIsNoMemory) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  unsigned char v[3];
  EXPECT_THAT(mincore(m.ptr(), m.len(), v), SyscallFailsWithErrno(ENOMEM));
}

TEST(MincoreTest, BeyondTheAddressSpaceIsNoMemory) {
  unsigned char v[2];
  EXPECT_THAT(mincore(reinterpret_cast<void*>(kTaskSize), kPageSize, v),
              SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(mincore(reinterpret_cast<void*>(kTaskSize - kPageSize), 2 * kPageSize, v),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MincoreTest, BadVectorIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(mincore(m.ptr(), m.len(), reinterpret_cast<unsigned char*>(free_addr)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(mincore(m.ptr(), m.len(), nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST(MincoreTest, ReadOnlyVectorIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(mincore(m.ptr(), m.len(), ro.bytes()), SyscallFailsWithErrno(EFAULT));
}

TEST(MincoreTest, PopulatedMappingIsResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(16 * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_POPULATE));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_THAT(vec, ::testing::Each(1));
}

TEST(MincoreTest, ManyPagesAcrossMoreThanOneChunk) {
  // 20000 pages: more than one 4 KiB vector chunk inside a kernel that asks
  // page by page in bounded chunks.
  constexpr size_t kPages = 20000;
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPages * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_NORESERVE));
  for (size_t i = 0; i < kPages; i += 4096) m.page(i)[0] = 1;
  m.page(kPages - 1)[0] = 1;
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  ASSERT_EQ(vec.size(), kPages);
  for (size_t i = 0; i < kPages; i += 4096) EXPECT_EQ(vec[i] & 1, 1) << "page " << i;
  EXPECT_EQ(vec[kPages - 1] & 1, 1);
}

TEST(MincoreTest, UnmappedPageFarInALongRangeIsNoMemory) {
  constexpr size_t kPages = 9000;
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPages * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_NORESERVE));
  ASSERT_THAT(munmap(m.page(kPages - 2), kPageSize), SyscallSucceeds());
  std::vector<uint8_t> vec(kPages);
  EXPECT_THAT(mincore(m.ptr(), m.len(), vec.data()), SyscallFailsWithErrno(ENOMEM));
}

TEST(MincoreTest, AfterDontneedThePageIsNotResident) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 1;
  ASSERT_THAT(madvise(m.ptr(), m.len(), MADV_DONTNEED), SyscallSucceeds());
  unsigned char v = 0xff;
  ASSERT_THAT(mincore(m.ptr(), m.len(), &v), SyscallSucceeds());
  EXPECT_EQ(v, 0);
}

TEST(MincoreTest, SharedAnonymousPageIsResidentOnceWritten) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  m.bytes()[0] = 1;
  unsigned char v = 0;
  ASSERT_THAT(mincore(m.ptr(), m.len(), &v), SyscallSucceeds());
  EXPECT_EQ(v & 1, 1);
}

TEST(MincoreTest, RawSyscallReturnsZero) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  unsigned char v;
  EXPECT_THAT(syscall(SYS_mincore, m.addr(), m.len(), &v), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
