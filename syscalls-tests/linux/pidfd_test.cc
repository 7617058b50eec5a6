// pidfd_open(2), pidfd_send_signal(2), waitid(P_PIDFD) and polling a pidfd.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"

namespace {

using syscalls_test::SyscallFailsWithErrno;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int PidfdOpen(pid_t pid, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
}

// A child that waits on a pipe until the returned fd is closed.
pid_t HeldChild(int* release) {
  int p[2];
  if (pipe(p) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[1]);
    char c;
    _exit(read(p[0], &c, 1) == 0 ? 7 : 8);
  }
  close(p[0]);
  *release = p[1];
  return pid;
}

TEST(PidfdTest, OpenErrors) {
  EXPECT_THAT(PidfdOpen(getpid(), 0x1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(PidfdOpen(0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(PidfdOpen(-1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(PidfdOpen(0x3fffff, 0), SyscallFailsWithErrno(ESRCH));
  const int fd = PidfdOpen(getpid(), 0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  char buf[8];
  EXPECT_THAT(read(fd, buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  close(fd);
}

TEST(PidfdTest, PollsReadableWhenTheProcessExitsAndWaitidReapsIt) {
  int release;
  const pid_t pid = HeldChild(&release);
  ASSERT_GT(pid, 0);
  const int fd = PidfdOpen(pid, 0);
  ASSERT_GE(fd, 0);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  close(release);
  ASSERT_EQ(poll(&p, 1, -1), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  siginfo_t info{};
  ASSERT_EQ(syscall(SYS_waitid, P_PIDFD, fd, &info, WEXITED, nullptr), 0);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_status, 7);
  // Reaped: the pidfd hangs up, signals are ESRCH.
  p.revents = 0;
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLHUP);
  EXPECT_THAT(syscall(SYS_pidfd_send_signal, fd, SIGTERM, nullptr, 0),
              SyscallFailsWithErrno(ESRCH));
  close(fd);
}

TEST(PidfdTest, SendSignalKillsAndNonBlockingWaitIsEagain) {
  int release;
  const pid_t pid = HeldChild(&release);
  ASSERT_GT(pid, 0);
  const int fd = PidfdOpen(pid, O_NONBLOCK);
  ASSERT_GE(fd, 0);
  siginfo_t info{};
  EXPECT_THAT(syscall(SYS_waitid, P_PIDFD, fd, &info, WEXITED, nullptr),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0x80),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_pidfd_send_signal, release, SIGKILL, nullptr, 0),
              SyscallFailsWithErrno(EBADF));
  ASSERT_EQ(syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0), 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, -1), 1);
  ASSERT_EQ(syscall(SYS_waitid, P_PIDFD, fd, &info, WEXITED, nullptr), 0);
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGKILL);
  close(release);
  close(fd);
}

TEST(PidfdTest, WaitidOnANonChildIsEchild) {
  const int fd = PidfdOpen(getpid(), 0);
  ASSERT_GE(fd, 0);
  siginfo_t info{};
  EXPECT_THAT(syscall(SYS_waitid, P_PIDFD, fd, &info, WEXITED | WNOHANG, nullptr),
              SyscallFailsWithErrno(ECHILD));
  close(fd);
}

}  // namespace
