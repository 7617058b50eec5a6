// mmap(2) and munmap(2): placement, MAP_FIXED and MAP_FIXED_NOREPLACE,
// argument checks, zero-filled anonymous memory, splitting by munmap. Protection
// is observed through the kernel (mincore, probes), never by faulting.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

using ::testing::Each;
using ::testing::Eq;
using ::testing::Ne;

// The x86-64 user address space ends at 2^47 (4-level paging).
constexpr uintptr_t kTaskSize = uintptr_t{1} << 47;

// Not in glibc's <sys/mman.h>; Linux ignores it unless built with
// CONFIG_MMAP_ALLOW_UNINITIALIZED (never on a general-purpose kernel).
constexpr int kMapUninitialized = 0x4000000;

void* MmapAnon(void* addr, size_t len, int prot, int flags) {
  return mmap(addr, len, prot, flags | MAP_ANONYMOUS, -1, 0);
}

// True when fd 0 is /dev/null, as the runner arranges.
bool StdinIsDevNull() {
  struct stat st;
  return fstat(0, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

TEST(MmapTest, AnonymousMemoryIsZeroFilled) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  const uint8_t* p = m.bytes();
  for (size_t i = 0; i < m.len(); i++) ASSERT_EQ(p[i], 0) << "at offset " << i;
}

TEST(MmapTest, AnonymousMemoryIsReadWrite) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 0xa5, m.len());
  for (size_t i = 0; i < m.len(); i += 97) EXPECT_EQ(m.bytes()[i], 0xa5);
}

TEST(MmapTest, ReturnsPageAlignedAddress) {
  for (size_t len : {size_t{1}, kPageSize - 1, kPageSize, kPageSize + 1, 3 * kPageSize}) {
    void* p = MmapAnon(nullptr, len, PROT_READ, MAP_PRIVATE);
    ASSERT_THAT(p, SyscallSucceeds());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u) << "len " << len;
    EXPECT_THAT(munmap(p, len), SyscallSucceeds());
  }
}

TEST(MmapTest, LengthIsRoundedUpToPages) {
  void* p = MmapAnon(nullptr, kPageSize + 1, PROT_READ, MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, 2 * kPageSize);
  EXPECT_TRUE(IsMapped(m.addr(), 2 * kPageSize));
}

TEST(MmapTest, FreeHintIsHonored) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  void* p = MmapAnon(reinterpret_cast<void*>(free_addr), 2 * kPageSize, PROT_READ, MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, 2 * kPageSize);
  EXPECT_EQ(m.addr(), free_addr);
}

TEST(MmapTest, OccupiedHintGoesElsewhereAndKeepsTheOldMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping old, Mapping::Anonymous(kPageSize));
  old.bytes()[0] = 42;
  void* p = MmapAnon(old.ptr(), kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, kPageSize);
  EXPECT_NE(m.addr(), old.addr());
  EXPECT_EQ(old.bytes()[0], 42);
  EXPECT_EQ(m.bytes()[0], 0);
}

TEST(MmapTest, UnalignedHintStillGivesAlignedAddress) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  void* p = MmapAnon(reinterpret_cast<void*>(free_addr + 123), kPageSize, PROT_READ, MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, kPageSize);
  EXPECT_EQ(m.addr() % kPageSize, 0u);
}

TEST(MmapTest, HintAboveTheAddressSpaceIsIgnored) {
  void* p = MmapAnon(reinterpret_cast<void*>(kTaskSize + 16 * kPageSize), kPageSize, PROT_READ,
                     MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, kPageSize);
  EXPECT_LT(m.addr(), kTaskSize);
}

TEST(MmapTest, FixedReplacesPartOfAnExistingMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  memset(m.bytes(), 7, m.len());
  void* p = MmapAnon(m.page(1), kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED);
  ASSERT_THAT(p, SyscallSucceedsWithValue(m.page(1)));
  EXPECT_EQ(m.page(0)[kPageSize - 1], 7);
  EXPECT_EQ(m.page(1)[0], 0);
  EXPECT_EQ(m.page(1)[kPageSize - 1], 0);
  EXPECT_EQ(m.page(2)[0], 7);
}

TEST(MmapTest, FixedAtAFreeAddress) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  void* want = reinterpret_cast<void*>(free_addr);
  void* p = MmapAnon(want, kPageSize, PROT_READ, MAP_PRIVATE | MAP_FIXED);
  ASSERT_THAT(p, SyscallSucceedsWithValue(want));
  Mapping m(p, kPageSize);
}

TEST(MmapTest, FixedUnalignedIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_THAT(MmapAnon(m.bytes() + 1, kPageSize, PROT_READ, MAP_PRIVATE | MAP_FIXED),
              SyscallFailsWithErrno(EINVAL));
  // The failed call must not have touched what was there.
  EXPECT_TRUE(ProbeWritable(m.addr()));
}

TEST(MmapTest, FixedBeyondTheAddressSpaceIsNoMemory) {
  EXPECT_THAT(
      MmapAnon(reinterpret_cast<void*>(kTaskSize), kPageSize, PROT_READ, MAP_PRIVATE | MAP_FIXED),
      SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(MmapAnon(reinterpret_cast<void*>(kTaskSize - kPageSize), 2 * kPageSize, PROT_READ,
                       MAP_PRIVATE | MAP_FIXED),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MmapTest, FixedNoReplaceAtAFreeAddress) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  void* want = reinterpret_cast<void*>(free_addr);
  void* p =
      MmapAnon(want, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED_NOREPLACE);
  ASSERT_THAT(p, SyscallSucceedsWithValue(want));
  Mapping m(p, 2 * kPageSize);
}

TEST(MmapTest, FixedNoReplaceOverAMappingIsEexist) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  m.bytes()[0] = 9;
  EXPECT_THAT(MmapAnon(m.ptr(), kPageSize, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(m.bytes()[0], 9);
  EXPECT_TRUE(ProbeWritable(m.addr()));
}

TEST(MmapTest, FixedNoReplaceOverlappingTheEndIsEexist) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(0), 2 * kPageSize), SyscallSucceeds());
  // [page 0, page 3) overlaps the mapping left at page 2.
  EXPECT_THAT(MmapAnon(m.page(0), 3 * kPageSize, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
}

TEST(MmapTest, FixedNoReplaceUnalignedIsInvalid) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(MmapAnon(reinterpret_cast<void*>(free_addr + 1), kPageSize, PROT_READ,
                       MAP_PRIVATE | MAP_FIXED_NOREPLACE),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, ZeroLengthIsInvalid) {
  EXPECT_THAT(MmapAnon(nullptr, 0, PROT_READ, MAP_PRIVATE), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MmapAnon(nullptr, 0, PROT_READ, MAP_SHARED), SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, LengthThatOverflowsWhenRoundedIsNoMemory) {
  EXPECT_THAT(MmapAnon(nullptr, SIZE_MAX, PROT_READ, MAP_PRIVATE), SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(MmapAnon(nullptr, SIZE_MAX - kPageSize + 2, PROT_READ, MAP_PRIVATE),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MmapTest, LengthLargerThanTheAddressSpaceIsNoMemory) {
  EXPECT_THAT(MmapAnon(nullptr, kTaskSize + kPageSize, PROT_READ, MAP_PRIVATE | MAP_NORESERVE),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MmapTest, NeitherSharedNorPrivateIsInvalid) {
  EXPECT_THAT(MmapAnon(nullptr, kPageSize, PROT_READ, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, UnknownMapTypeIsInvalid) {
  // MAP_TYPE is 0x0f; 0x04 is no type at all.
  EXPECT_THAT(MmapAnon(nullptr, kPageSize, PROT_READ, 0x04), SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, UnknownFlagBitsAreIgnoredByPlainMapPrivate) {
  // Only MAP_SHARED_VALIDATE checks the flags; the legacy types ignore what
  // they do not know.
  void* p = MmapAnon(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | 0x800000);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, kPageSize);
}

TEST(MmapTest, SharedValidateWithUnknownFlagsOnAFileIsNotSupported) {
  SKIP_IF(!StdinIsDevNull());
  // Linux checks the flags of a MAP_SHARED_VALIDATE file mapping before it
  // asks the file whether it can be mapped at all.
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, 0, 0),
              SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, 0, 0),
              SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(MmapTest, SharedWithGrowsDownIsInvalid) {
  EXPECT_THAT(MmapAnon(nullptr, kPageSize, PROT_READ, MAP_SHARED | MAP_GROWSDOWN),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, PrivateGrowsDown) {
  void* p = MmapAnon(nullptr, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_GROWSDOWN);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, 2 * kPageSize);
  EXPECT_TRUE(ProbeWritable(m.addr() + kPageSize));
}

TEST(MmapTest, BadFdIsEbadf) {
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE, -1, 0),
              SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED, 1000, 0),
              SyscallFailsWithErrno(EBADF));
}

TEST(MmapTest, BadFdIsCheckedBeforeTheLength) {
  EXPECT_THAT(mmap(nullptr, 0, PROT_READ, MAP_PRIVATE, -1, 0), SyscallFailsWithErrno(EBADF));
}

TEST(MmapTest, UnalignedOffsetIsCheckedFirst) {
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE, -1, 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, AnonymousIgnoresFdAndAlignedOffset) {
  void* p = mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 1000, 16 * kPageSize);
  ASSERT_THAT(p, SyscallSucceeds());
  Mapping m(p, kPageSize);
  EXPECT_EQ(m.bytes()[0], 0);
}

TEST(MmapTest, FileWithZeroLengthIsInvalid) {
  SKIP_IF(!StdinIsDevNull());
  EXPECT_THAT(mmap(nullptr, 0, PROT_READ, MAP_PRIVATE, 0, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(MmapTest, DevNullCannotBeMapped) {
  SKIP_IF(!StdinIsDevNull());
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE, 0, 0),
              SyscallFailsWithErrno(ENODEV));
}

TEST(MmapTest, SharedWritableMappingOfAReadOnlyFdIsEacces) {
  SKIP_IF(!StdinIsDevNull());
  // fd 0 is open O_RDONLY; Linux checks the access mode before the file's
  // mmap support.
  EXPECT_THAT(mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 0),
              SyscallFailsWithErrno(EACCES));
}

TEST(MmapTest, PopulatePrefaultsEveryPage) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(8 * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_POPULATE));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  for (uint8_t v : vec) EXPECT_EQ(v & 1, 1);
}

TEST(MmapTest, PagesAreResidentOnlyOnceTouched) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  m.page(2)[5] = 1;
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_EQ(vec[0] & 1, 0);
  EXPECT_EQ(vec[1] & 1, 0);
  EXPECT_EQ(vec[2] & 1, 1);
  EXPECT_EQ(vec[3] & 1, 0);
}

TEST(MmapTest, LockedMappingIsResident) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_LOCKED));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  for (uint8_t v : vec) EXPECT_EQ(v & 1, 1);
}

TEST(MmapTest, ProtNoneIsMappedButInaccessible) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_NONE));
  EXPECT_TRUE(IsMapped(m.addr(), m.len()));
  EXPECT_FALSE(ProbeReadable(m.addr()));
  EXPECT_FALSE(ProbeWritable(m.addr() + kPageSize));
}

TEST(MmapTest, ReadOnlyIsReadableNotWritable) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_TRUE(ProbeReadable(m.addr()));
  EXPECT_FALSE(ProbeWritable(m.addr()));
  EXPECT_EQ(m.bytes()[100], 0);
}

TEST(MmapTest, WriteOnlyImpliesReadOnX86) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_WRITE));
  EXPECT_TRUE(ProbeWritable(m.addr()));
  EXPECT_TRUE(ProbeReadable(m.addr()));
}

TEST(MmapTest, ExecMappingIsAccepted) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_READ | PROT_EXEC));
  EXPECT_TRUE(ProbeReadable(m.addr()));
}

TEST(MmapTest, Map32BitIsBelowTwoGigabytes) {
  ASSERT_OK_AND_ASSIGN(
      Mapping m, Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_32BIT));
  EXPECT_LT(m.end(), uintptr_t{1} << 31);
}

TEST(MmapTest, NoreserveAllowsAHugeMapping) {
  constexpr size_t kLen = size_t{64} << 30;
  ASSERT_OK_AND_ASSIGN(
      Mapping m, Mapping::Anonymous(kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE));
  m.bytes()[kLen / 2] = 1;
  EXPECT_EQ(m.bytes()[kLen / 2 + 1], 0);
}

TEST(MmapTest, HugeWritablePrivateMappingIsNotCommitted) {
  // Under the default heuristic overcommit policy Linux refuses one private
  // writable mapping larger than RAM and swap together.
  SKIP_IF(OvercommitPolicy() == 1);
  constexpr size_t kLen = size_t{1} << 46;  // 64 TiB
  void* w = MmapAnon(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  EXPECT_THAT(w, SyscallFailsWithErrno(ENOMEM));
  if (w != MAP_FAILED) munmap(w, kLen);
  // Read-only private memory is not committed, so it is fine.
  void* p = MmapAnon(nullptr, kLen, PROT_READ, MAP_PRIVATE);
  ASSERT_THAT(p, SyscallSucceeds());
  munmap(p, kLen);
}

TEST(MmapTest, AcceptedHintFlags) {
  for (int flag :
       {MAP_STACK, MAP_NORESERVE, MAP_NONBLOCK, MAP_DENYWRITE, MAP_EXECUTABLE, kMapUninitialized}) {
    void* p = MmapAnon(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | flag);
    ASSERT_THAT(p, SyscallSucceeds()) << "flag " << std::hex << flag;
    EXPECT_EQ(static_cast<uint8_t*>(p)[0], 0) << "flag " << std::hex << flag;
    munmap(p, kPageSize);
  }
}

TEST(MmapTest, SharedAnonymousIsZeroFilledAndWritable) {
  ASSERT_OK_AND_ASSIGN(Mapping m,
                       Mapping::Anonymous(2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_EQ(m.bytes()[kPageSize + 3], 0);
  m.bytes()[kPageSize + 3] = 3;
  EXPECT_EQ(m.bytes()[kPageSize + 3], 3);
}

TEST(MunmapTest, UnmapsTheRange) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + kPageSize, kPageSize));
  m.release();
}

TEST(MunmapTest, MiddlePageSplitsTheMapping) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  memset(m.bytes(), 5, m.len());
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_TRUE(IsMapped(m.addr(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + kPageSize, kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
  EXPECT_EQ(m.page(0)[0], 5);
  EXPECT_EQ(m.page(2)[kPageSize - 1], 5);
}

TEST(MunmapTest, LengthIsRoundedUp) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.ptr(), kPageSize + 1), SyscallSucceeds());
  EXPECT_FALSE(IsMapped(m.addr() + kPageSize, kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
}

TEST(MunmapTest, UnalignedAddressIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(munmap(m.bytes() + 1, kPageSize - 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_TRUE(IsMapped(m.addr(), kPageSize));
}

TEST(MunmapTest, ZeroLengthIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(munmap(m.ptr(), 0), SyscallFailsWithErrno(EINVAL));
}

TEST(MunmapTest, UnmappedRangeSucceeds) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(4 * kPageSize));
  EXPECT_THAT(munmap(reinterpret_cast<void*>(free_addr), 4 * kPageSize), SyscallSucceeds());
}

TEST(MunmapTest, RangeBeyondTheAddressSpaceIsInvalid) {
  EXPECT_THAT(munmap(reinterpret_cast<void*>(kTaskSize - kPageSize), 2 * kPageSize),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(munmap(reinterpret_cast<void*>(kPageSize), SIZE_MAX - kPageSize),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MunmapTest, RangeCoveringMappedAndUnmappedPages) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(munmap(m.ptr(), 3 * kPageSize), SyscallSucceeds());
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
  EXPECT_FALSE(IsMapped(m.addr() + 2 * kPageSize, kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + 3 * kPageSize, kPageSize));
}

TEST(MunmapTest, RemappingAnUnmappedRangeIsZeroFilled) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 1, m.len());
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  void* p =
      MmapAnon(m.page(1), kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED_NOREPLACE);
  ASSERT_THAT(p, SyscallSucceedsWithValue(m.page(1)));
  EXPECT_EQ(m.page(1)[0], 0);
  EXPECT_EQ(m.page(0)[0], 1);
}

TEST(MunmapTest, RawSyscallWithUnalignedLengthUnmapsWholePages) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_THAT(syscall(SYS_munmap, m.addr(), size_t{1}), SyscallSucceedsWithValue(0));
  EXPECT_FALSE(IsMapped(m.addr(), kPageSize));
  EXPECT_TRUE(IsMapped(m.addr() + kPageSize, kPageSize));
}

}  // namespace
}  // namespace syscalls_test
