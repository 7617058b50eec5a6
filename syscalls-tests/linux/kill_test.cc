// kill(2), tkill(2), tgkill(2) and rt_sigqueueinfo(2): signal 0 as an
// existence and permission probe, pid 0, -1 and -pgrp, the permission rules
// for an unprivileged sender (EPERM), and the order of the errors (EINVAL for
// the signal before ESRCH for the target).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

TEST(KillTest, SignalZeroProbesExistence) {
  EXPECT_THAT(kill(getpid(), 0), SyscallSucceeds());
  EXPECT_THAT(kill(0x3ffffff, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, DeliversToAChild) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(kill(pid, SIGTERM), SyscallSucceeds());
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(KillTest, ZombieStillExists) {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  usleep(50000);
  EXPECT_THAT(kill(pid, 0), SyscallSucceeds());
  WaitStatus(pid);
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, BadSignalIsEinval) {
  EXPECT_THAT(kill(getpid(), -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(kill(getpid(), 65), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(kill(getpid(), 1000), SyscallFailsWithErrno(EINVAL));
}

TEST(KillTest, MissingTargetIsReportedBeforeABadSignal) {
  // Linux looks the process up first; the signal number is checked on
  // delivery to a target it found.
  EXPECT_THAT(kill(0x3ffffff, 65), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(kill(getpid(), 65), SyscallFailsWithErrno(EINVAL));
}

TEST(KillTest, IntMinPidIsEsrch) {
  EXPECT_THAT(syscall(SYS_kill, INT_MIN, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, PidZeroSignalsTheCallersGroup) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setpgid(0, 0) == 0);
    const pid_t member = fork();
    if (member == 0) {
      for (;;) pause();
    }
    signal(SIGUSR1, SIG_IGN);
    CHILD_CHECK(kill(0, SIGUSR1) == 0);
    int status;
    CHILD_CHECK(waitpid(member, &status, 0) == member);
    CHILD_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1);
  }));
}

TEST(KillTest, NegativePidSignalsAGroup) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    for (;;) pause();
  }
  setpgid(pid, pid);
  ASSERT_THAT(kill(-pid, SIGKILL), SyscallSucceeds());
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_THAT(kill(-pid, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, MinusOneSkipsTheCaller) {
  EXPECT_TRUE(InForkedChild([] {
    // Unprivileged, with nothing else of ours around except perhaps other
    // test processes: every process we may signal gets signal 0; we are not
    // hit (and signal 0 kills nobody).
    DropPrivilegesInChild();
    const int r = kill(-1, 0);
    CHILD_CHECK(r == 0 || errno == ESRCH);
  }));
}

TEST(KillTest, UnprivilegedSenderToRootIsEperm) {
  SKIP_IF(geteuid() != 0);
  const pid_t target = ForkPausingChild();
  EXPECT_TRUE(InForkedChild([target] {
    DropPrivilegesInChild();
    CHILD_CHECK(kill(target, SIGTERM) == -1 && errno == EPERM);
    CHILD_CHECK(kill(target, 0) == -1 && errno == EPERM);
  }));
  kill(target, SIGKILL);
  WaitStatus(target);
}

TEST(KillTest, SameUidMaySignal) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    const pid_t target = fork();
    if (target == 0) {
      for (;;) pause();
    }
    CHILD_CHECK(kill(target, SIGKILL) == 0);
    CHILD_CHECK(waitpid(target, nullptr, 0) == target);
  }));
}

TEST(KillTest, SigcontWithinTheSessionIsAllowed) {
  SKIP_IF(geteuid() != 0);
  // SIGCONT needs only the same session, whatever the credentials.
  EXPECT_TRUE(InForkedChild([] {
    const pid_t parent_session_member = getppid();
    DropPrivilegesInChild();
    CHILD_CHECK(kill(parent_session_member, SIGCONT) == 0);
  }));
}

TEST(TkillTest, SignalsTheCallingThread) {
  EXPECT_TRUE(InForkedChild([] {
    signal(SIGUSR2, SIG_IGN);
    CHILD_CHECK(syscall(SYS_tkill, gettid(), SIGUSR2) == 0);
    CHILD_CHECK(syscall(SYS_tkill, gettid(), 0) == 0);
  }));
}

TEST(TkillTest, BadTidIsEinvalUnknownIsEsrch) {
  EXPECT_THAT(syscall(SYS_tkill, 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tkill, -5, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tkill, 0x3ffffff, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_tkill, gettid(), 99), SyscallFailsWithErrno(EINVAL));
}

TEST(TgkillTest, NeedsTheRightThreadGroup) {
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), gettid(), 0), SyscallSucceeds());
  const pid_t pid = ForkPausingChild();
  // The child's tid is not in our thread group.
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), pid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_tgkill, pid, pid, 0), SyscallSucceeds());
  kill(pid, SIGKILL);
  WaitStatus(pid);
}

TEST(TgkillTest, NonPositiveIdsAreEinval) {
  EXPECT_THAT(syscall(SYS_tgkill, 0, gettid(), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, -1, -1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), gettid(), 65), SyscallFailsWithErrno(EINVAL));
}

TEST(RtSigqueueinfoTest, QueuesToAProcessWithData) {
  EXPECT_TRUE(InForkedChild([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    CHILD_CHECK(sigprocmask(SIG_BLOCK, &set, nullptr) == 0);
    siginfo_t info = {};
    info.si_signo = SIGRTMIN + 1;
    info.si_code = SI_QUEUE;
    info.si_value.sival_int = 1234;
    CHILD_CHECK(syscall(SYS_rt_sigqueueinfo, getpid(), SIGRTMIN + 1, &info) == 0);
    siginfo_t got = {};
    struct timespec zero = {0, 0};
    CHILD_CHECK(sigtimedwait(&set, &got, &zero) == SIGRTMIN + 1);
    CHILD_CHECK(got.si_code == SI_QUEUE && got.si_value.sival_int == 1234);
  }));
}

TEST(RtSigqueueinfoTest, KernelCodesFromAnotherProcessAreEperm) {
  siginfo_t info = {};
  info.si_signo = SIGUSR1;
  info.si_code = SI_KERNEL;
  const pid_t pid = ForkPausingChild();
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &info), SyscallFailsWithErrno(EPERM));
  info.si_code = SI_USER;
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &info), SyscallFailsWithErrno(EPERM));
  kill(pid, SIGKILL);
  WaitStatus(pid);
}

TEST(RtSigqueueinfoTest, Errors) {
  siginfo_t info = {};
  info.si_code = SI_QUEUE;
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, getpid(), 65, &info), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, 0x3ffffff, SIGUSR1, &info),
              SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, 8L), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
