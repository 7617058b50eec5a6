// The identity syscalls: getpid, gettid, getppid, the user and group ids,
// process group and session, set_tid_address, and prctl's process name.
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr pid_t kNoSuchPid = 1 << 22;  // PID_MAX_LIMIT: never a pid

TEST(GetpidTest, IsPositiveAndStable) {
  const pid_t pid = getpid();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(getpid(), pid);
  EXPECT_THAT(syscall(SYS_getpid), SyscallSucceedsWithValue(pid));
}

TEST(GettidTest, MainThreadIdIsThePid) {
  EXPECT_EQ(gettid(), getpid());
  EXPECT_THAT(syscall(SYS_gettid), SyscallSucceedsWithValue(getpid()));
}

TEST(GetppidTest, IsZeroOnlyForAnInitProcess) {
  const pid_t ppid = getppid();
  EXPECT_GE(ppid, 0);
  // The first process of a pid namespace has no parent in it.
  if (getpid() == 1) {
    EXPECT_EQ(ppid, 0);
  } else {
    EXPECT_GT(ppid, 0);
    EXPECT_NE(ppid, getpid());
  }
}

TEST(GetppidTest, IsStable) { EXPECT_EQ(getppid(), getppid()); }

TEST(UidTest, RealAndEffectiveAgreeWithoutSetuid) {
  EXPECT_EQ(getuid(), geteuid());
  EXPECT_EQ(getgid(), getegid());
}

TEST(UidTest, RawSyscallsAgreeWithLibc) {
  EXPECT_THAT(syscall(SYS_getuid), SyscallSucceedsWithValue(getuid()));
  EXPECT_THAT(syscall(SYS_geteuid), SyscallSucceedsWithValue(geteuid()));
  EXPECT_THAT(syscall(SYS_getgid), SyscallSucceedsWithValue(getgid()));
  EXPECT_THAT(syscall(SYS_getegid), SyscallSucceedsWithValue(getegid()));
}

TEST(UidTest, GetresuidAgreesWithGetuid) {
  uid_t r = 1, e = 1, s = 1;
  ASSERT_THAT(syscall(SYS_getresuid, &r, &e, &s), SyscallSucceeds());
  EXPECT_EQ(r, getuid());
  EXPECT_EQ(e, geteuid());
  EXPECT_EQ(s, geteuid());
}

TEST(UidTest, GetresgidAgreesWithGetgid) {
  gid_t r = 1, e = 1, s = 1;
  ASSERT_THAT(syscall(SYS_getresgid, &r, &e, &s), SyscallSucceeds());
  EXPECT_EQ(r, getgid());
  EXPECT_EQ(e, getegid());
  EXPECT_EQ(s, getegid());
}

TEST(UidTest, GetresuidWithABadPointerIsEfault) {
  uid_t r, e;
  EXPECT_THAT(syscall(SYS_getresuid, &r, &e, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(UidTest, GetgroupsCountsAndFills) {
  const long n = syscall(SYS_getgroups, 0, nullptr);
  ASSERT_THAT(n, SyscallSucceeds());
  std::vector<gid_t> groups(n + 1);
  EXPECT_THAT(syscall(SYS_getgroups, groups.size(), groups.data()), SyscallSucceedsWithValue(n));
  if (n > 0) {
    EXPECT_THAT(syscall(SYS_getgroups, n - 1, groups.data()), SyscallFailsWithErrno(EINVAL));
  }
  EXPECT_THAT(syscall(SYS_getgroups, -1, groups.data()), SyscallFailsWithErrno(EINVAL));
}

TEST(UidTest, GetresgidWithABadPointerIsEfault) {
  gid_t r, e;
  EXPECT_THAT(syscall(SYS_getresgid, &r, &e, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_getresgid, nullptr, &e, &r), SyscallFailsWithErrno(EFAULT));
}

TEST(UidTest, GetresuidWritesTheIdsBeforeTheBadPointer) {
  // One put_user at a time: the real uid is written, the saved one is not.
  uid_t r = 12345, s = 12345;
  EXPECT_THAT(syscall(SYS_getresuid, &r, kKernelAddress, &s), SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(r, getuid());
  EXPECT_EQ(s, 12345u);
}

TEST(UidTest, GetgroupsWithABadPointer) {
  const long n = syscall(SYS_getgroups, 0, nullptr);
  ASSERT_THAT(n, SyscallSucceeds());
  // Size 0 only counts: the pointer is never used.
  EXPECT_THAT(syscall(SYS_getgroups, 0, kKernelAddress), SyscallSucceedsWithValue(n));
  if (n > 0) {
    EXPECT_THAT(syscall(SYS_getgroups, n, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  }
}

class SetgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF(!HaveCapability(CAP_SETGID));
    const long n = syscall(SYS_getgroups, 0, nullptr);
    ASSERT_THAT(n, SyscallSucceeds());
    saved_.resize(n);
    ASSERT_THAT(syscall(SYS_getgroups, n, saved_.data()), SyscallSucceedsWithValue(n));
    restore_ = true;
  }
  void TearDown() override {
    if (restore_) syscall(SYS_setgroups, saved_.size(), saved_.data());
  }
  std::vector<gid_t> saved_;
  bool restore_ = false;
};

TEST_F(SetgroupsTest, SetsSortedGroups) {
  const gid_t groups[] = {5, 3, 1000};
  ASSERT_THAT(syscall(SYS_setgroups, 3, groups), SyscallSucceeds());
  gid_t got[4] = {};
  ASSERT_THAT(syscall(SYS_getgroups, 4, got), SyscallSucceedsWithValue(3));
  EXPECT_EQ(got[0], 3u);
  EXPECT_EQ(got[1], 5u);
  EXPECT_EQ(got[2], 1000u);
  EXPECT_THAT(syscall(SYS_getgroups, 2, got), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(syscall(SYS_setgroups, 0, nullptr), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_getgroups, 0, nullptr), SyscallSucceedsWithValue(0));
  // With no groups, nothing is copied: any pointer will do.
  EXPECT_THAT(syscall(SYS_getgroups, 4, kKernelAddress), SyscallSucceedsWithValue(0));
}

TEST_F(SetgroupsTest, Errors) {
  const gid_t bad[] = {5, static_cast<gid_t>(-1)};
  EXPECT_THAT(syscall(SYS_setgroups, 2, bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_setgroups, 65537, bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_setgroups, -1, bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_setgroups, 1, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(PgidTest, GetpgrpIsGetpgidOfSelf) {
  // 0 when the group's leader lives outside this PID namespace (as under a
  // CI runner started in a fresh namespace); never negative.
  const pid_t pgrp = getpgrp();
  EXPECT_GE(pgrp, 0);
  EXPECT_THAT(getpgid(0), SyscallSucceedsWithValue(pgrp));
  EXPECT_THAT(getpgid(getpid()), SyscallSucceedsWithValue(pgrp));
  EXPECT_THAT(syscall(SYS_getpgrp), SyscallSucceedsWithValue(pgrp));
}

TEST(PgidTest, NonexistentProcessIsEsrch) {
  EXPECT_THAT(getpgid(kNoSuchPid), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(getpgid(-1), SyscallFailsWithErrno(ESRCH));
}

TEST(SidTest, GetsidOfSelf) {
  // 0 when the session's leader lives outside this PID namespace.
  const pid_t sid = getsid(0);
  EXPECT_GE(sid, 0);
  EXPECT_THAT(getsid(getpid()), SyscallSucceedsWithValue(sid));
}

TEST(SidTest, NonexistentProcessIsEsrch) {
  EXPECT_THAT(getsid(kNoSuchPid), SyscallFailsWithErrno(ESRCH));
}

TEST(SidTest, ProcessGroupIsInTheSession) {
  // A process group never spans sessions; the session leader's pid is the
  // session id, and it leads a group of the same id.
  const pid_t sid = getsid(0);
  if (getpgrp() == sid) SUCCEED();
  EXPECT_THAT(getsid(getpgrp()), SyscallSucceedsWithValue(sid));
}

TEST(SetTidAddressTest, ReturnsTheThreadId) {
  static int slot;
  EXPECT_THAT(syscall(SYS_set_tid_address, &slot), SyscallSucceedsWithValue(gettid()));
  // Any address is accepted; it is only written when the thread exits.
  EXPECT_THAT(syscall(SYS_set_tid_address, kKernelAddress), SyscallSucceedsWithValue(gettid()));
  EXPECT_THAT(syscall(SYS_set_tid_address, nullptr), SyscallSucceedsWithValue(gettid()));
}

TEST(RobustListTest, SetAndGet) {
  struct RobustListHead {
    void* next;
    long futex_offset;
    void* pending;
  };
  static RobustListHead head = {&head, 0, nullptr};
  void* old_head = nullptr;
  size_t old_len = 0;
  ASSERT_THAT(syscall(SYS_get_robust_list, 0, &old_head, &old_len), SyscallSucceeds());
  Cleanup restore([=] { syscall(SYS_set_robust_list, old_head, old_len); });
  ASSERT_THAT(syscall(SYS_set_robust_list, &head, sizeof(head)), SyscallSucceeds());
  void* got = nullptr;
  size_t len = 0;
  ASSERT_THAT(syscall(SYS_get_robust_list, 0, &got, &len), SyscallSucceeds());
  EXPECT_EQ(got, &head);
  EXPECT_EQ(len, sizeof(head));
}

TEST(RobustListTest, WrongLengthIsEinval) {
  static long head[3];
  EXPECT_THAT(syscall(SYS_set_robust_list, head, size_t{8}), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_set_robust_list, head, size_t{100}), SyscallFailsWithErrno(EINVAL));
}

TEST(RobustListTest, GetOfANonexistentThreadIsEsrch) {
  void* head;
  size_t len;
  EXPECT_THAT(syscall(SYS_get_robust_list, kNoSuchPid, &head, &len), SyscallFailsWithErrno(ESRCH));
}

TEST(RobustListTest, GetWithBadPointersIsEfault) {
  void* head;
  size_t len;
  EXPECT_THAT(syscall(SYS_get_robust_list, 0, kKernelAddress, &len), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_get_robust_list, 0, &head, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
}

class ProcessNameTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(prctl(PR_GET_NAME, saved_), SyscallSucceeds()); }
  void TearDown() override { prctl(PR_SET_NAME, saved_); }
  char saved_[16] = {};
};

TEST_F(ProcessNameTest, SetAndGet) {
  ASSERT_THAT(prctl(PR_SET_NAME, "syscalls-test"), SyscallSucceeds());
  char name[16] = {};
  ASSERT_THAT(prctl(PR_GET_NAME, name), SyscallSucceeds());
  EXPECT_STREQ(name, "syscalls-test");
}

TEST_F(ProcessNameTest, LongNamesAreTruncatedToFifteenBytes) {
  ASSERT_THAT(prctl(PR_SET_NAME, "0123456789abcdefghij"), SyscallSucceeds());
  char name[32];
  memset(name, 'x', sizeof(name));
  ASSERT_THAT(prctl(PR_GET_NAME, name), SyscallSucceeds());
  EXPECT_STREQ(name, "0123456789abcde");
  EXPECT_EQ(name[16], 'x') << "PR_GET_NAME writes 16 bytes";
}

TEST_F(ProcessNameTest, BadPointersAreEfault) {
  EXPECT_THAT(prctl(PR_SET_NAME, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(prctl(PR_GET_NAME, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(PrctlTest, UnknownOptionIsEinval) {
  EXPECT_THAT(prctl(0x7fff1234, 0, 0, 0, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(PrctlTest, DumpableRoundTrip) {
  const int old = prctl(PR_GET_DUMPABLE);
  ASSERT_THAT(old, SyscallSucceeds());
  Cleanup restore([old] { prctl(PR_SET_DUMPABLE, old); });
  ASSERT_THAT(prctl(PR_SET_DUMPABLE, 0), SyscallSucceeds());
  EXPECT_THAT(prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(0));
  ASSERT_THAT(prctl(PR_SET_DUMPABLE, 1), SyscallSucceeds());
  EXPECT_THAT(prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(1));
  EXPECT_THAT(prctl(PR_SET_DUMPABLE, 2), SyscallFailsWithErrno(EINVAL));
}

}  // namespace
}  // namespace syscalls_test
