// mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2), and how
// RLIMIT_MEMLOCK and CAP_IPC_LOCK govern them. The unprivileged cases run in a
// forked child that drops root's privileges.
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
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// True when we may lock `bytes` more: a privilege, or room under the limit
// (which these tests never get near, but a machine may set it to 0).
bool CanLock(size_t bytes) {
  if (HaveCapability(CAP_IPC_LOCK)) return true;
  struct rlimit rl;
  return getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur >= bytes + 64 * kPageSize;
}

int Mlock2(const void* addr, size_t len, unsigned flags) {
  return static_cast<int>(syscall(SYS_mlock2, addr, len, flags));
}

bool AllResident(uintptr_t addr, size_t len) {
  auto vec = Mincore(addr, len);
  if (!vec.ok()) return false;
  for (uint8_t v : vec.value()) {
    if (!(v & 1)) return false;
  }
  return true;
}

TEST(MlockTest, LockAndUnlock) {
  SKIP_IF(!CanLock(4 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  EXPECT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(MlockTest, LockingPopulatesThePages) {
  SKIP_IF(!CanLock(4 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
  EXPECT_EQ(m.page(3)[0], 0);
}

TEST(MlockTest, LockingKeepsTheData) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  memset(m.bytes(), 0x11, m.len());
  ASSERT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  ASSERT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_EQ(m.bytes()[0], 0x11);
  EXPECT_EQ(m.bytes()[m.len() - 1], 0x11);
}

TEST(MlockTest, UnalignedAddressIsRoundedDown) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  // [addr + 100, addr + page + 1) covers both pages.
  ASSERT_THAT(mlock(m.bytes() + 100, kPageSize - 99), SyscallSucceeds());
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
  EXPECT_THAT(munlock(m.bytes() + 1, 1), SyscallSucceeds());
}

TEST(MlockTest, ZeroLengthSucceedsEvenWhenUnmapped) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(mlock(reinterpret_cast<void*>(free_addr), 0), SyscallSucceeds());
  EXPECT_THAT(munlock(reinterpret_cast<void*>(free_addr), 0), SyscallSucceeds());
}

TEST(MlockTest, UnmappedRangeIsNoMemory) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_THAT(mlock(reinterpret_cast<void*>(free_addr), 2 * kPageSize),
              SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(munlock(reinterpret_cast<void*>(free_addr), 2 * kPageSize),
              SyscallFailsWithErrno(ENOMEM));
}

TEST(MlockTest, HoleInTheRangeIsNoMemory) {
  SKIP_IF(!CanLock(3 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(3 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  EXPECT_THAT(mlock(m.ptr(), m.len()), SyscallFailsWithErrno(ENOMEM));
}

TEST(MlockTest, ProtNoneMemoryCannotBePopulated) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_NONE));
  // Linux marks the range locked, then fails to fault it in: ENOMEM.
  EXPECT_THAT(mlock(m.ptr(), m.len()), SyscallFailsWithErrno(ENOMEM));
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(Mlock2Test, OnFaultLocksProtNoneMemory) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize, PROT_NONE));
  EXPECT_THAT(Mlock2(m.ptr(), m.len(), MLOCK_ONFAULT), SyscallSucceeds());
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(MlockTest, LengthThatWrapsIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  // Linux weighs the length against RLIMIT_MEMLOCK before it looks at the
  // range: without CAP_IPC_LOCK such a length is simply too much to lock.
  const int want = HaveCapability(CAP_IPC_LOCK) ? EINVAL : ENOMEM;
  EXPECT_THAT(mlock(m.ptr(), (0 - m.addr()) + kPageSize), SyscallFailsWithErrno(want));
}

TEST(MlockTest, LockedMappingSurvivesMprotect) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  ASSERT_THAT(mprotect(m.ptr(), kPageSize, PROT_READ), SyscallSucceeds());
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(Mlock2Test, OnFaultDoesNotPopulate) {
  SKIP_IF(!CanLock(4 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_THAT(Mlock2(m.ptr(), m.len(), MLOCK_ONFAULT), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_EQ(vec[0] & 1, 0);
  EXPECT_EQ(vec[3] & 1, 0);
  m.page(1)[0] = 1;
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(Mlock2Test, NoFlagsIsLikeMlock) {
  SKIP_IF(!CanLock(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(Mlock2(m.ptr(), m.len(), 0), SyscallSucceeds());
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
}

TEST(Mlock2Test, UnknownFlagIsInvalid) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(Mlock2(m.ptr(), m.len(), 2), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mlock2(m.ptr(), m.len(), MLOCK_ONFAULT | 0x100), SyscallFailsWithErrno(EINVAL));
}

TEST(MlockallTest, InvalidFlags) {
  EXPECT_THAT(mlockall(0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(mlockall(MCL_ONFAULT), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(mlockall(MCL_CURRENT | 0x100), SyscallFailsWithErrno(EINVAL));
}

TEST(MlockallTest, FutureLocksNewMappings) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_THAT(mlockall(MCL_FUTURE), SyscallSucceeds());
  Cleanup unlock([] { munlockall(); });
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
}

TEST(MlockallTest, FutureWithOnFaultDoesNotPopulate) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_THAT(mlockall(MCL_FUTURE | MCL_ONFAULT), SyscallSucceeds());
  Cleanup unlock([] { munlockall(); });
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_EQ(vec[2] & 1, 0);
}

TEST(MlockallTest, CurrentLocksWhatIsMapped) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
  ASSERT_THAT(mlockall(MCL_CURRENT), SyscallSucceeds());
  Cleanup unlock([] { munlockall(); });
  EXPECT_TRUE(AllResident(m.addr(), m.len()));
  // A mapping made afterwards is not locked.
  ASSERT_OK_AND_ASSIGN(Mapping later, Mapping::Anonymous(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(later.addr(), later.len()));
  EXPECT_EQ(vec[1] & 1, 0);
}

TEST(MlockallTest, MunlockallWithNothingLocked) {
  EXPECT_THAT(munlockall(), SyscallSucceeds());
  EXPECT_THAT(munlockall(), SyscallSucceeds());
}

TEST(MlockallTest, MunlockallEndsMclFuture) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_THAT(mlockall(MCL_FUTURE), SyscallSucceeds());
  ASSERT_THAT(munlockall(), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> vec, Mincore(m.addr(), m.len()));
  EXPECT_EQ(vec[1] & 1, 0);
}

// With CAP_IPC_LOCK, RLIMIT_MEMLOCK does not apply.
TEST(MlockRlimitTest, CapIpcLockIgnoresTheLimit) {
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  struct rlimit old;
  ASSERT_THAT(getrlimit(RLIMIT_MEMLOCK, &old), SyscallSucceeds());
  Cleanup restore([old] { setrlimit(RLIMIT_MEMLOCK, &old); });
  const struct rlimit zero = {0, old.rlim_max};
  ASSERT_THAT(setrlimit(RLIMIT_MEMLOCK, &zero), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(8 * kPageSize));
  EXPECT_THAT(mlock(m.ptr(), m.len()), SyscallSucceeds());
  EXPECT_THAT(munlock(m.ptr(), m.len()), SyscallSucceeds());
  ASSERT_OK_AND_ASSIGN(Mapping locked, Mapping::Anonymous(2 * kPageSize, PROT_READ | PROT_WRITE,
                                                          MAP_PRIVATE | MAP_LOCKED));
}

// The unprivileged side, in a forked child. `limit` is RLIMIT_MEMLOCK (soft
// and hard) set while still root.
void InUnprivilegedChildWithMemlock(rlim_t limit, const std::function<void()>& fn) {
  EXPECT_TRUE(InForkedChild([&] {
    const struct rlimit rl = {limit, limit};
    CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    DropPrivilegesInChild();
    fn();
  }));
}

TEST(MlockRlimitTest, ZeroLimitWithoutPrivilegeIsEperm) {
  InUnprivilegedChildWithMemlock(0, [] {
    void* p = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(p != MAP_FAILED);
    CHILD_CHECK(mlock(p, kPageSize) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_mlock2, p, kPageSize, MLOCK_ONFAULT) == -1 && errno == EPERM);
    CHILD_CHECK(mlockall(MCL_CURRENT) == -1 && errno == EPERM);
    CHILD_CHECK(mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1,
                     0) == MAP_FAILED &&
                errno == EPERM);
    // Unlocking needs no privilege.
    CHILD_CHECK(munlock(p, kPageSize) == 0);
    CHILD_CHECK(munlockall() == 0);
  });
}

TEST(MlockRlimitTest, LockingPastTheLimitWithoutPrivilegeIsNoMemory) {
  InUnprivilegedChildWithMemlock(2 * kPageSize, [] {
    void* p =
        mmap(nullptr, 3 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(p != MAP_FAILED);
    CHILD_CHECK(mlock(p, 3 * kPageSize) == -1 && errno == ENOMEM);
    CHILD_CHECK(mlock(p, 2 * kPageSize) == 0);
    // Already locked pages do not count twice.
    CHILD_CHECK(mlock(p, 2 * kPageSize) == 0);
    CHILD_CHECK(mlock(static_cast<char*>(p) + 2 * kPageSize, kPageSize) == -1 && errno == ENOMEM);
    CHILD_CHECK(munlock(p, kPageSize) == 0);
    CHILD_CHECK(mlock(static_cast<char*>(p) + 2 * kPageSize, kPageSize) == 0);
  });
}

TEST(MlockRlimitTest, MlockallCurrentPastTheLimitIsNoMemory) {
  InUnprivilegedChildWithMemlock(
      2 * kPageSize, [] { CHILD_CHECK(mlockall(MCL_CURRENT) == -1 && errno == ENOMEM); });
}

TEST(MlockRlimitTest, MapLockedPastTheLimitIsEagain) {
  InUnprivilegedChildWithMemlock(2 * kPageSize, [] {
    CHILD_CHECK(mmap(nullptr, 3 * kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED,
                     -1, 0) == MAP_FAILED &&
                errno == EAGAIN);
    CHILD_CHECK(mmap(nullptr, 2 * kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED,
                     -1, 0) != MAP_FAILED);
  });
}

TEST(MlockRlimitTest, MclFutureThenMappingPastTheLimitIsEagain) {
  InUnprivilegedChildWithMemlock(2 * kPageSize, [] {
    // MCL_FUTURE alone is accepted whatever the limit; later mappings are
    // held to it.
    CHILD_CHECK(mlockall(MCL_FUTURE) == 0);
    CHILD_CHECK(mmap(nullptr, 4 * kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
                    MAP_FAILED &&
                errno == EAGAIN);
    CHILD_CHECK(munlockall() == 0);
    CHILD_CHECK(mmap(nullptr, 4 * kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
                MAP_FAILED);
  });
}

}  // namespace
}  // namespace syscalls_test
