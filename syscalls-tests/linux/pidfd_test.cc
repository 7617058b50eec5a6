// pidfd_open(2), pidfd_send_signal(2), waitid(P_PIDFD), polling a pidfd,
// clone's and clone3's CLONE_PIDFD, and pidfd_getfd(2).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/prctl.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace {

using syscalls_test::InForkedChild;
using syscalls_test::KillAndReap;
using syscalls_test::SyscallFailsWithErrno;
using syscalls_test::SyscallSucceeds;
using syscalls_test::SyscallSucceedsWithValue;
using syscalls_test::WaitStatus;

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

// --- CLONE_PIDFD ---

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

struct CloneArgs {
  uint64_t flags = 0, pidfd = 0, child_tid = 0, parent_tid = 0, exit_signal = 0, stack = 0,
           stack_size = 0, tls = 0;
};

// The Pid: line of /proc/self/fdinfo/<fd>.
std::string FdinfoPid(int fd) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  const int f = open(path.c_str(), O_RDONLY);
  if (f < 0) return "";
  char buf[1024];
  const ssize_t n = read(f, buf, sizeof(buf) - 1);
  close(f);
  if (n <= 0) return "";
  buf[n] = 0;
  const char* p = strstr(buf, "Pid:\t");
  if (p == nullptr) return "";
  return std::string(p + 5, strcspn(p + 5, "\n"));
}

TEST(PidfdTest, CloneReturnsAPidfdAtParentTid) {
  int pidfd = -1;
  const long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr);
  if (r == 0) _exit(9);
  ASSERT_THAT(r, SyscallSucceeds());
  ASSERT_GE(pidfd, 0);
  EXPECT_EQ(fcntl(pidfd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(FdinfoPid(pidfd), std::to_string(r));
  siginfo_t info{};
  ASSERT_EQ(syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, nullptr), 0);
  EXPECT_EQ(info.si_pid, r);
  EXPECT_EQ(info.si_status, 9);
  close(pidfd);
}

TEST(PidfdTest, CloneChildDoesNotHaveThePidfd) {
  int pidfd = -1;
  const long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr);
  if (r == 0) _exit(fcntl(pidfd, F_GETFD) == -1 && errno == EBADF ? 0 : 1);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
  close(pidfd);
}

TEST(PidfdTest, ClonePidfdWithParentSettidIsEinval) {
  int slot = -1;
  const long r = syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, nullptr, &slot,
                         nullptr, nullptr);
  if (r == 0) _exit(0);
  EXPECT_THAT(r, SyscallFailsWithErrno(EINVAL));
}

// (CLONE_PIDFD with CLONE_THREAD is EINVAL before Linux 6.9 and a thread
// pidfd since: not tested.)
TEST(PidfdTest, ClonePidfdWithDetachedIsEinval) {
  int slot = -1;
  const long r =
      syscall(SYS_clone, CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, nullptr, &slot, nullptr, nullptr);
  if (r == 0) _exit(0);
  EXPECT_THAT(r, SyscallFailsWithErrno(EINVAL));
}

TEST(PidfdTest, ClonePidfdFaultIsEfaultAndNoChild) {
  const long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, reinterpret_cast<void*>(8),
                         nullptr, nullptr);
  if (r == 0) _exit(0);
  EXPECT_THAT(r, SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(waitpid(-1, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
}

TEST(PidfdTest, Clone3PidfdAndParentTidBoth) {
  int pidfd = -1;
  pid_t tid = 0;
  CloneArgs ca;
  ca.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
  ca.exit_signal = SIGCHLD;
  ca.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  ca.parent_tid = reinterpret_cast<uintptr_t>(&tid);
  const long r = syscall(SYS_clone3, &ca, sizeof(ca));
  if (r == 0) _exit(3);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_EQ(tid, r);
  ASSERT_GE(pidfd, 0);
  EXPECT_EQ(FdinfoPid(pidfd), std::to_string(r));
  EXPECT_EQ(syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0), 0);
  siginfo_t info{};
  ASSERT_EQ(syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, nullptr), 0);
  EXPECT_EQ(info.si_status, 3);
  close(pidfd);
}

TEST(PidfdTest, Clone3PidfdPollsWhenTheChildExits) {
  int pidfd = -1;
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  CloneArgs ca;
  ca.flags = CLONE_PIDFD;
  ca.exit_signal = SIGCHLD;
  ca.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  const long r = syscall(SYS_clone3, &ca, sizeof(ca));
  if (r == 0) {
    close(p[1]);
    char c;
    _exit(read(p[0], &c, 1) == 0 ? 0 : 1);
  }
  ASSERT_THAT(r, SyscallSucceeds());
  close(p[0]);
  pollfd pfd{pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  close(p[1]);
  ASSERT_EQ(poll(&pfd, 1, -1), 1);
  EXPECT_TRUE(pfd.revents & POLLIN);
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
  close(pidfd);
}

// --- pidfd_getfd ---

int PidfdGetfd(int pidfd, int fd, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, flags));
}

// A child that makes a pipe with "hello" in it and reports the read end's
// number, then waits to be killed.
pid_t ChildWithPipe(int* child_fd) {
  int report[2];
  if (pipe(report) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    int p[2];
    if (pipe(p) != 0 || write(p[1], "hello", 5) != 5) _exit(1);
    if (write(report[1], &p[0], sizeof(p[0])) != sizeof(p[0])) _exit(2);
    for (;;) pause();
  }
  close(report[1]);
  if (pid < 0 || read(report[0], child_fd, sizeof(*child_fd)) != sizeof(*child_fd)) {
    close(report[0]);
    return -1;
  }
  close(report[0]);
  return pid;
}

TEST(PidfdGetfdTest, TakesAChildsFileCloseOnExec) {
  int child_fd = -1;
  const pid_t pid = ChildWithPipe(&child_fd);
  ASSERT_GT(pid, 0);
  const int pidfd = PidfdOpen(pid, 0);
  ASSERT_GE(pidfd, 0);
  const int fd = PidfdGetfd(pidfd, child_fd, 0);
  ASSERT_THAT(fd, SyscallSucceeds());
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  char buf[8] = {};
  EXPECT_THAT(read(fd, buf, sizeof(buf)), SyscallSucceedsWithValue(5));
  EXPECT_STREQ(buf, "hello");
  close(fd);
  close(pidfd);
  KillAndReap(pid);
}

TEST(PidfdGetfdTest, ArgumentErrors) {
  int child_fd = -1;
  const pid_t pid = ChildWithPipe(&child_fd);
  ASSERT_GT(pid, 0);
  const int pidfd = PidfdOpen(pid, 0);
  ASSERT_GE(pidfd, 0);
  EXPECT_THAT(PidfdGetfd(pidfd, child_fd, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(PidfdGetfd(pidfd, child_fd, O_CLOEXEC), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(PidfdGetfd(-1, child_fd, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(PidfdGetfd(0, child_fd, 0), SyscallFailsWithErrno(EBADF));  // not a pidfd
  EXPECT_THAT(PidfdGetfd(pidfd, 1000, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(PidfdGetfd(pidfd, -1, 0), SyscallFailsWithErrno(EBADF));
  close(pidfd);
  KillAndReap(pid);
}

// A zombie has no files: EBADF until Linux 6.9, ESRCH (an exited task) since.
TEST(PidfdGetfdTest, ZombieHasNoFilesAndReapedIsEsrch) {
  int child_fd = -1;
  const pid_t pid = ChildWithPipe(&child_fd);
  ASSERT_GT(pid, 0);
  const int pidfd = PidfdOpen(pid, 0);
  ASSERT_GE(pidfd, 0);
  ASSERT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  siginfo_t info{};
  ASSERT_THAT(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), SyscallSucceeds());
  EXPECT_THAT(PidfdGetfd(pidfd, child_fd, 0),
              SyscallFailsWithErrno(::testing::AnyOf(EBADF, ESRCH)));
  WaitStatus(pid);
  EXPECT_THAT(PidfdGetfd(pidfd, child_fd, 0), SyscallFailsWithErrno(ESRCH));
  close(pidfd);
}

TEST(PidfdGetfdTest, OwnProcessIsAllowed) {
  const int pidfd = PidfdOpen(getpid(), 0);
  ASSERT_GE(pidfd, 0);
  const int fd = PidfdGetfd(pidfd, pidfd, 0);
  ASSERT_THAT(fd, SyscallSucceeds());
  EXPECT_NE(fd, pidfd);
  // The same description: fdinfo names the same process.
  EXPECT_EQ(FdinfoPid(fd), std::to_string(getpid()));
  close(fd);
  close(pidfd);
}

TEST(PidfdGetfdTest, AnotherUidIsEperm) {
  SKIP_IF(geteuid() != 0);
  int child_fd = -1;
  const pid_t pid = ChildWithPipe(&child_fd);  // stays root
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(InForkedChild([pid, child_fd] {
    const int pidfd = PidfdOpen(pid, 0);
    CHILD_CHECK(pidfd >= 0);
    syscalls_test::DropPrivilegesInChild();
    CHILD_CHECK(PidfdGetfd(pidfd, child_fd, 0) == -1 && errno == EPERM);
  }));
  KillAndReap(pid);
}

TEST(PidfdGetfdTest, SameUidChildIsAllowedUnlessNotDumpable) {
  EXPECT_TRUE(InForkedChild([] {
    syscalls_test::DropPrivilegesInChild();
    // Leaving root made the process non-dumpable.
    CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);
    for (bool dumpable : {true, false}) {
      int child_fd = -1;
      if (!dumpable) CHILD_CHECK(prctl(PR_SET_DUMPABLE, 0) == 0);
      const pid_t pid = ChildWithPipe(&child_fd);  // inherits dumpability
      if (!dumpable) CHILD_CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);
      CHILD_CHECK(pid > 0);
      const int pidfd = PidfdOpen(pid, 0);
      CHILD_CHECK(pidfd >= 0);
      const int fd = PidfdGetfd(pidfd, child_fd, 0);
      if (dumpable) {
        CHILD_CHECK(fd >= 0);
        close(fd);
      } else {
        CHILD_CHECK(fd == -1 && errno == EPERM);
      }
      close(pidfd);
      KillAndReap(pid);
    }
  }));
}

}  // namespace
