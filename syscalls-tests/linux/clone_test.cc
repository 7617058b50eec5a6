// clone(2) and clone3(2): the flag combinations Linux refuses and their
// order, clone3's argument structure (sizes, EFAULT, unknown bits), set_tid,
// CLONE_CLEAR_SIGHAND, and the namespaces' permission rules. (CLONE_PIDFD:
// pidfd_test; namespaces in use: unshare_test.)
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// struct clone_args, version 2 (88 bytes).
struct CloneArgs {
  uint64_t flags = 0, pidfd = 0, child_tid = 0, parent_tid = 0, exit_signal = 0, stack = 0,
           stack_size = 0, tls = 0, set_tid = 0, set_tid_size = 0, cgroup = 0;
};
static_assert(sizeof(CloneArgs) == 88);

long Clone3(const void* args, size_t size) { return syscall(SYS_clone3, args, size); }

// A fork-like clone: the child leaves at once with `code`; returns the
// child's wait status, or -1 (errno set) when the clone failed.
int ForkLike(long r, int code = 0) {
  if (r == 0) _exit(code);
  if (r < 0) return -1;
  return WaitStatus(static_cast<pid_t>(r));
}

// A clone whose child must never run (the call is expected to fail): if it
// does run, it leaves at once.
long MustFail(long r) {
  if (r == 0) _exit(99);
  if (r > 0) WaitStatus(static_cast<pid_t>(r));
  return r;
}

long RawClone(uint64_t flags, void* parent_tid = nullptr, void* child_tid = nullptr) {
  return syscall(SYS_clone, flags, nullptr, parent_tid, child_tid, nullptr);
}

// --- clone: invalid combinations (copy_process's order) ---

TEST(CloneTest, SighandWithoutVmIsEinval) {
  EXPECT_THAT(MustFail(RawClone(CLONE_SIGHAND | SIGCHLD)), SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, ThreadWithoutSighandIsEinval) {
  EXPECT_THAT(MustFail(RawClone(CLONE_THREAD | CLONE_VM | SIGCHLD)), SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, NewnsWithFsIsEinval) {
  EXPECT_THAT(MustFail(RawClone(CLONE_NEWNS | CLONE_FS | SIGCHLD)), SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, NewuserWithFsIsEinval) {
  EXPECT_THAT(MustFail(RawClone(CLONE_NEWUSER | CLONE_FS | SIGCHLD)),
              SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, ThreadWithNewpidIsEinval) {
  EXPECT_THAT(MustFail(RawClone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID)),
              SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, SighandCheckComesBeforeThePidfdCheck) {
  // CLONE_SIGHAND without CLONE_VM is found first, whatever else is wrong.
  EXPECT_THAT(MustFail(RawClone(CLONE_SIGHAND | CLONE_PIDFD | CLONE_THREAD)),
              SyscallFailsWithErrno(EINVAL));
}

TEST(CloneTest, ParentSettidWritesTheChildsPid) {
  pid_t tid = 0;
  const long r = RawClone(CLONE_PARENT_SETTID | SIGCHLD, &tid);
  if (r == 0) _exit(0);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(tid, r);
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
}

TEST(CloneTest, ParentSettidFaultIsIgnored) {
  // kernel_clone ignores put_user's failure: the child exists.
  const long r = RawClone(CLONE_PARENT_SETTID | SIGCHLD, reinterpret_cast<void*>(8));
  const int status = ForkLike(r, 5);
  ASSERT_NE(status, -1) << strerror(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5) << status;
}

TEST(CloneTest, ChildSettidWritesInTheChild) {
  static pid_t tid = 0;
  const long r = RawClone(CLONE_CHILD_SETTID | SIGCHLD, nullptr, &tid);
  if (r == 0) _exit(tid == getpid() ? 0 : 1);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(tid, 0);  // the parent's copy is untouched
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
}

TEST(CloneTest, HighFlagBitsAreIgnored) {
  // clone takes the low 32 bits: CLONE_CLEAR_SIGHAND and CLONE_INTO_CGROUP
  // are clone3's only.
  const int status = ForkLike(RawClone(CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP | SIGCHLD), 3);
  ASSERT_NE(status, -1) << strerror(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
}

TEST(CloneTest, ExitSignalReachesTheParent) {
  // With exit signal 0 the child is a __WCLONE child.
  const long r = RawClone(0);
  if (r == 0) _exit(4);
  ASSERT_THAT(r, SyscallSucceeds());
  int status = 0;
  EXPECT_THAT(waitpid(static_cast<pid_t>(r), &status, __WCLONE), SyscallSucceedsWithValue(r));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 4) << status;
}

TEST(CloneTest, NamespacesNeedCapSysAdmin) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    for (uint64_t ns : {uint64_t{CLONE_NEWUTS}, uint64_t{CLONE_NEWIPC}, uint64_t{CLONE_NEWNET},
                        uint64_t{CLONE_NEWNS}, uint64_t{CLONE_NEWPID}, uint64_t{CLONE_NEWCGROUP}}) {
      CHILD_CHECK(MustFail(RawClone(ns | SIGCHLD)) == -1 && errno == EPERM);
    }
  }));
}

TEST(CloneTest, NewipcWithSysvsemUnprivilegedIsEperm) {
  // copy_namespaces checks the capability before the combination.
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CHILD_CHECK(MustFail(RawClone(CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD)) == -1 && errno == EPERM);
  }));
}

TEST(CloneTest, NewutsChildHasItsOwnHostname) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  struct utsname before;
  ASSERT_THAT(uname(&before), SyscallSucceeds());
  const long r = RawClone(CLONE_NEWUTS | SIGCHLD);
  if (r == 0) {
    struct utsname u;
    if (uname(&u) != 0 || strcmp(u.nodename, before.nodename) != 0) _exit(1);
    if (sethostname("clone-uts", 9) != 0) _exit(2);
    if (uname(&u) != 0 || strcmp(u.nodename, "clone-uts") != 0) _exit(3);
    _exit(0);
  }
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
  struct utsname after;
  ASSERT_THAT(uname(&after), SyscallSucceeds());
  EXPECT_STREQ(after.nodename, before.nodename);
}

// --- clone3: the structure ---

TEST(Clone3Test, SizeBelowVersion0IsEinval) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, size_t{63})), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MustFail(Clone3(&ca, size_t{0})), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SizeAboveAPageIsE2big) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, size_t{4097})), SyscallFailsWithErrno(E2BIG));
}

TEST(Clone3Test, NonzeroBytesPastTheKnownStructAreE2big) {
  alignas(8) unsigned char buf[128] = {};
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  memcpy(buf, &ca, sizeof(ca));
  buf[100] = 1;
  EXPECT_THAT(MustFail(Clone3(buf, sizeof(buf))), SyscallFailsWithErrno(E2BIG));
}

TEST(Clone3Test, ZeroBytesPastTheKnownStructAreAccepted) {
  alignas(8) unsigned char buf[128] = {};
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  memcpy(buf, &ca, sizeof(ca));
  const int status = ForkLike(Clone3(buf, sizeof(buf)), 6);
  ASSERT_NE(status, -1) << strerror(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 6) << status;
}

TEST(Clone3Test, Version0SizeWorks) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  const int status = ForkLike(Clone3(&ca, size_t{64}), 2);
  ASSERT_NE(status, -1) << strerror(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
}

TEST(Clone3Test, BadPointerIsEfault) {
  EXPECT_THAT(MustFail(Clone3(reinterpret_cast<void*>(8), sizeof(CloneArgs))),
              SyscallFailsWithErrno(EFAULT));
}

TEST(Clone3Test, ExitSignalWithHighBitsIsEinval) {
  CloneArgs ca;
  ca.exit_signal = (uint64_t{1} << 32) | SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, ExitSignalPastTheLastSignalIsEinval) {
  CloneArgs ca;
  ca.exit_signal = 65;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SignalBitsInFlagsAreEinval) {
  CloneArgs ca;
  ca.flags = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, DetachedIsEinval) {
  CloneArgs ca;
  ca.flags = CLONE_DETACHED;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, UnknownFlagIsEinval) {
  CloneArgs ca;
  ca.flags = uint64_t{1} << 40;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SighandWithClearSighandIsEinval) {
  CloneArgs ca;
  ca.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, ParentWithExitSignalIsEinval) {
  CloneArgs ca;
  ca.flags = CLONE_PARENT;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, StackWithoutSizeAndSizeWithoutStackAreEinval) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  ca.stack = 0x10000;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
  ca.stack = 0;
  ca.stack_size = 4096;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, IntoCgroupNeedsVersion2) {
  CloneArgs ca;
  ca.flags = CLONE_INTO_CGROUP;
  ca.exit_signal = SIGCHLD;
  EXPECT_THAT(MustFail(Clone3(&ca, size_t{64})), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, PidfdAtTheParentTidAddressIsEinval) {
  int slot = -1;
  CloneArgs ca;
  ca.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
  ca.exit_signal = SIGCHLD;
  ca.pidfd = ca.parent_tid = reinterpret_cast<uintptr_t>(&slot);
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, NewtimeUnprivilegedIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CloneArgs ca;
    ca.flags = CLONE_NEWTIME;
    ca.exit_signal = SIGCHLD;
    CHILD_CHECK(MustFail(Clone3(&ca, sizeof(ca))) == -1 && errno == EPERM);
  }));
}

// --- clone3: CLONE_CLEAR_SIGHAND ---

void Handler(int) {}

TEST(Clone3Test, ClearSighandResetsCaughtSignalsAndKeepsIgnoredOnes) {
  struct sigaction sa = {}, old1, old2;
  sa.sa_handler = Handler;
  sa.sa_flags = SA_RESTART;
  sigaddset(&sa.sa_mask, SIGTERM);
  ASSERT_THAT(sigaction(SIGUSR1, &sa, &old1), SyscallSucceeds());
  sa.sa_handler = SIG_IGN;
  ASSERT_THAT(sigaction(SIGUSR2, &sa, &old2), SyscallSucceeds());
  CloneArgs ca;
  ca.flags = CLONE_CLEAR_SIGHAND;
  ca.exit_signal = SIGCHLD;
  const long r = Clone3(&ca, sizeof(ca));
  if (r == 0) {
    struct sigaction cur;
    if (sigaction(SIGUSR1, nullptr, &cur) != 0 || cur.sa_handler != SIG_DFL) _exit(1);
    if (cur.sa_flags & SA_RESTART) _exit(2);
    if (sigismember(&cur.sa_mask, SIGTERM)) _exit(3);
    if (sigaction(SIGUSR2, nullptr, &cur) != 0 || cur.sa_handler != SIG_IGN) _exit(4);
    if (cur.sa_flags & SA_RESTART) _exit(5);
    _exit(0);
  }
  const int status = r < 0 ? -1 : WaitStatus(static_cast<pid_t>(r));
  sigaction(SIGUSR1, &old1, nullptr);
  sigaction(SIGUSR2, &old2, nullptr);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(status, 0);
  // The parent's actions are its own.
  struct sigaction now;
  ASSERT_THAT(sigaction(SIGUSR1, nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.sa_handler, old1.sa_handler);
}

// --- clone3: set_tid ---

TEST(Clone3Test, SetTidSizeWithoutArrayIsEinval) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  ca.set_tid_size = 1;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SetTidArrayWithoutSizeIsEinval) {
  pid_t tid = 4000;
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  ca.set_tid = reinterpret_cast<uintptr_t>(&tid);
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SetTidSizePastMaxPidNsLevelIsEinval) {
  pid_t tids[33] = {};
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  ca.set_tid = reinterpret_cast<uintptr_t>(tids);
  ca.set_tid_size = 33;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL));
}

TEST(Clone3Test, SetTidBadArrayIsEfault) {
  CloneArgs ca;
  ca.exit_signal = SIGCHLD;
  ca.set_tid = 8;
  ca.set_tid_size = 1;
  EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EFAULT));
}

TEST(Clone3Test, SetTidOutOfRangeIsEinval) {
  for (pid_t bad : {0, -1, 0x7fffffff}) {
    pid_t tid = bad;
    CloneArgs ca;
    ca.exit_signal = SIGCHLD;
    ca.set_tid = reinterpret_cast<uintptr_t>(&tid);
    ca.set_tid_size = 1;
    EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EINVAL)) << bad;
  }
}

TEST(Clone3Test, SetTidUnprivilegedIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    pid_t tid = getpid() + 100;
    CloneArgs ca;
    ca.exit_signal = SIGCHLD;
    ca.set_tid = reinterpret_cast<uintptr_t>(&tid);
    ca.set_tid_size = 1;
    CHILD_CHECK(MustFail(Clone3(&ca, sizeof(ca))) == -1 && errno == EPERM);
  }));
}

TEST(Clone3Test, SetTidInUseIsEexist) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  for (pid_t used : {getpid(), pid_t{1}}) {
    pid_t tid = used;
    CloneArgs ca;
    ca.exit_signal = SIGCHLD;
    ca.set_tid = reinterpret_cast<uintptr_t>(&tid);
    ca.set_tid_size = 1;
    EXPECT_THAT(MustFail(Clone3(&ca, sizeof(ca))), SyscallFailsWithErrno(EEXIST)) << used;
  }
}

// A pid no process, group or session has now (natively, another process may
// still take it before the clone: the test retries a few).
pid_t FreePid(pid_t from) {
  for (pid_t p = from; p < from + 1000; ++p) {
    if (kill(p, 0) == -1 && errno == ESRCH && kill(-p, 0) == -1 && errno == ESRCH &&
        getsid(p) == -1 && access(("/proc/" + std::to_string(p)).c_str(), F_OK) != 0) {
      return p;
    }
  }
  return -1;
}

TEST(Clone3Test, SetTidChoosesTheChildsPid) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  long r = -1;
  pid_t want = -1;
  for (int tries = 0; tries < 5 && r < 0; ++tries) {
    want = FreePid(1000 + tries * 1000);  // below any pid_max (32768 at least)
    ASSERT_GT(want, 0);
    pid_t tid = want;
    CloneArgs ca;
    ca.exit_signal = SIGCHLD;
    ca.set_tid = reinterpret_cast<uintptr_t>(&tid);
    ca.set_tid_size = 1;
    r = Clone3(&ca, sizeof(ca));
    if (r == 0) _exit(getpid() == tid ? 0 : 1);
  }
  ASSERT_THAT(r, SyscallSucceedsWithValue(want));
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
}

}  // namespace
}  // namespace syscalls_test
