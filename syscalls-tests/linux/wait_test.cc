// wait4(2) and waitid(2): exit statuses, signals, WNOHANG, WNOWAIT, WUNTRACED
// and WCONTINUED, P_PID/P_PGID/P_ALL/P_PIDFD selection, the siginfo waitid
// fills, __WCLONE, and the errors (ECHILD, EINVAL, EFAULT).
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// A child that exits with `code` at once.
pid_t ForkExit(int code) {
  const pid_t pid = fork();
  if (pid == 0) _exit(code);
  return pid;
}

long Wait4(pid_t pid, int* status, int options, struct rusage* ru = nullptr) {
  return syscall(SYS_wait4, pid, status, options, ru);
}

long Waitid(idtype_t type, id_t id, siginfo_t* info, int options) {
  return syscall(SYS_waitid, type, id, info, options, nullptr);
}

TEST(WaitTest, Wait4ReportsTheExitStatus) {
  const pid_t pid = ForkExit(42);
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_THAT(Wait4(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

TEST(WaitTest, Wait4ReportsTheKillingSignal) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  int status = 0;
  ASSERT_THAT(Wait4(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(WaitTest, WnohangReturnsZeroWhileTheChildRuns) {
  const pid_t pid = ForkPausingChild();
  int status;
  EXPECT_THAT(Wait4(pid, &status, WNOHANG), SyscallSucceedsWithValue(0));
  kill(pid, SIGKILL);
  EXPECT_THAT(Wait4(pid, &status, 0), SyscallSucceedsWithValue(pid));
}

TEST(WaitTest, NullStatusIsAllowed) {
  const pid_t pid = ForkExit(0);
  EXPECT_THAT(Wait4(pid, nullptr, 0), SyscallSucceedsWithValue(pid));
}

TEST(WaitTest, MinusOneWaitsForAnyChild) {
  const pid_t pid = ForkExit(3);
  int status;
  EXPECT_THAT(Wait4(-1, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(WaitTest, NoChildrenIsEchild) {
  int status;
  EXPECT_THAT(Wait4(-1, &status, 0), SyscallFailsWithErrno(ECHILD));
  EXPECT_THAT(Wait4(-1, &status, WNOHANG), SyscallFailsWithErrno(ECHILD));
  // Not our child: init.
  EXPECT_THAT(Wait4(1, &status, 0), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, ReapedChildIsEchild) {
  const pid_t pid = ForkExit(0);
  ASSERT_THAT(Wait4(pid, nullptr, 0), SyscallSucceedsWithValue(pid));
  EXPECT_THAT(Wait4(pid, nullptr, 0), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, Wait4BadOptionsAreEinval) {
  EXPECT_THAT(Wait4(-1, nullptr, 0x100000), SyscallFailsWithErrno(EINVAL));
  // WEXITED and WNOWAIT are waitid's options, not wait4's.
  EXPECT_THAT(Wait4(-1, nullptr, WNOWAIT), SyscallFailsWithErrno(EINVAL));
}

TEST(WaitTest, Wait4BadStatusPointerIsEfault) {
  const pid_t pid = ForkExit(0);
  EXPECT_THAT(syscall(SYS_wait4, pid, 8L, 0, nullptr), SyscallFailsWithErrno(EFAULT));
  Wait4(pid, nullptr, 0);
}

TEST(WaitTest, WaitForAProcessGroup) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    _exit(7);
  }
  setpgid(pid, pid);
  int status;
  // -pgid selects the group; 0 would select ours, which it left.
  EXPECT_THAT(Wait4(-pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(WaitTest, WuntracedAndWcontinued) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(kill(pid, SIGSTOP), SyscallSucceeds());
  int status;
  ASSERT_THAT(Wait4(pid, &status, WUNTRACED), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSTOPPED(status));
  EXPECT_EQ(WSTOPSIG(status), SIGSTOP);
  ASSERT_THAT(kill(pid, SIGCONT), SyscallSucceeds());
  ASSERT_THAT(Wait4(pid, &status, WCONTINUED), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFCONTINUED(status));
  kill(pid, SIGKILL);
  ASSERT_THAT(Wait4(pid, &status, 0), SyscallSucceedsWithValue(pid));
}

TEST(WaitTest, WaitidExitedFillsSiginfo) {
  const pid_t pid = ForkExit(9);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallSucceedsWithValue(0));
  EXPECT_EQ(info.si_signo, SIGCHLD);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 9);
  EXPECT_EQ(info.si_uid, getuid());
}

TEST(WaitTest, WaitidKilledFillsSiginfo) {
  const pid_t pid = ForkPausingChild();
  kill(pid, SIGTERM);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallSucceeds());
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGTERM);
}

TEST(WaitTest, WaitidWnowaitLeavesTheChildWaitable) {
  const pid_t pid = ForkExit(5);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED | WNOWAIT), SyscallSucceeds());
  EXPECT_EQ(info.si_pid, pid);
  info = {};
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallSucceeds());
  EXPECT_EQ(info.si_status, 5);
  EXPECT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, WaitidWnohangZeroesSiPid) {
  const pid_t pid = ForkPausingChild();
  siginfo_t info;
  memset(&info, 0xff, sizeof(info));
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED | WNOHANG), SyscallSucceedsWithValue(0));
  EXPECT_EQ(info.si_pid, 0);
  EXPECT_EQ(info.si_signo, 0);
  kill(pid, SIGKILL);
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallSucceeds());
}

TEST(WaitTest, WaitidStoppedAndContinued) {
  const pid_t pid = ForkPausingChild();
  kill(pid, SIGSTOP);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_PID, pid, &info, WSTOPPED), SyscallSucceeds());
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  EXPECT_EQ(info.si_status, SIGSTOP);
  kill(pid, SIGCONT);
  ASSERT_THAT(Waitid(P_PID, pid, &info, WCONTINUED), SyscallSucceeds());
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_status, SIGCONT);
  kill(pid, SIGKILL);
  ASSERT_THAT(Waitid(P_PID, pid, &info, WEXITED), SyscallSucceeds());
}

TEST(WaitTest, WaitidPAll) {
  const pid_t pid = ForkExit(1);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_ALL, 0, &info, WEXITED), SyscallSucceeds());
  EXPECT_EQ(info.si_pid, pid);
}

TEST(WaitTest, WaitidPPgid) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    _exit(2);
  }
  setpgid(pid, pid);
  siginfo_t info = {};
  ASSERT_THAT(Waitid(P_PGID, pid, &info, WEXITED), SyscallSucceeds());
  EXPECT_EQ(info.si_pid, pid);
}

TEST(WaitTest, WaitidNeedsAStateOption) {
  siginfo_t info;
  const pid_t pid = ForkExit(0);
  EXPECT_THAT(Waitid(P_PID, pid, &info, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Waitid(P_PID, pid, &info, WNOHANG), SyscallFailsWithErrno(EINVAL));
  Wait4(pid, nullptr, 0);
}

TEST(WaitTest, WaitidBadIdtypeIsEinval) {
  siginfo_t info;
  EXPECT_THAT(Waitid(static_cast<idtype_t>(42), 0, &info, WEXITED), SyscallFailsWithErrno(EINVAL));
}

TEST(WaitTest, WaitidBadOptionBitsAreEinval) {
  siginfo_t info;
  EXPECT_THAT(Waitid(P_ALL, 0, &info, WEXITED | 0x100000), SyscallFailsWithErrno(EINVAL));
}

TEST(WaitTest, WaitidNoChildIsEchild) {
  siginfo_t info;
  EXPECT_THAT(Waitid(P_ALL, 0, &info, WEXITED), SyscallFailsWithErrno(ECHILD));
  EXPECT_THAT(Waitid(P_PID, 1, &info, WEXITED), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, WaitidBadInfoPointerIsEfault) {
  const pid_t pid = ForkExit(0);
  EXPECT_THAT(syscall(SYS_waitid, P_PID, pid, 8L, WEXITED, nullptr), SyscallFailsWithErrno(EFAULT));
  Wait4(pid, nullptr, 0);
}

TEST(WaitTest, WcloneSkipsOrdinaryChildren) {
  const pid_t pid = ForkExit(0);
  usleep(50000);
  // A fork child reports SIGCHLD: __WCLONE waits only for the others.
  EXPECT_THAT(Wait4(pid, nullptr, __WCLONE | WNOHANG), SyscallFailsWithErrno(ECHILD));
  EXPECT_THAT(Wait4(pid, nullptr, __WALL), SyscallSucceedsWithValue(pid));
}

TEST(WaitTest, Wait4FillsRusage) {
  const pid_t pid = ForkExit(0);
  struct rusage ru;
  memset(&ru, 0xff, sizeof(ru));
  ASSERT_THAT(Wait4(pid, nullptr, 0, &ru), SyscallSucceedsWithValue(pid));
  EXPECT_GE(ru.ru_utime.tv_sec, 0);
  EXPECT_LT(ru.ru_utime.tv_usec, 1000000);
  EXPECT_GE(ru.ru_maxrss, 0);
}

}  // namespace
}  // namespace syscalls_test
