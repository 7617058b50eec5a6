#include "syscalls-tests/util/forked_child.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// The write end of the report pipe, in the child.
int g_report_fd = -1;

void WriteAll(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void WriteStr(int fd, const char* s) { WriteAll(fd, s, strlen(s)); }

void WriteInt(int fd, int v) {
  char buf[16];
  char* p = buf + sizeof(buf);
  unsigned u = v < 0 ? -static_cast<unsigned>(v) : static_cast<unsigned>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--p = '-';
  WriteAll(fd, p, static_cast<size_t>(buf + sizeof(buf) - p));
}

}  // namespace

namespace internal {

void ChildCheckFailed(const char* file, int line, const char* cond, int err) {
  const int fd = g_report_fd >= 0 ? g_report_fd : 2;
  WriteStr(fd, file);
  WriteStr(fd, ":");
  WriteInt(fd, line);
  WriteStr(fd, ": CHILD_CHECK(");
  WriteStr(fd, cond);
  WriteStr(fd, ") failed; errno ");
  const char* name = strerrorname_np(err);
  if (name != nullptr) {
    WriteStr(fd, name);
  } else {
    WriteInt(fd, err);
  }
  WriteStr(fd, "\n");
  _exit(1);
}

}  // namespace internal

pid_t ForkPausingChild() {
  const pid_t pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 0;
  }
  return status;
}

int WaitExitCode(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  return WaitStatus(pid);
}

void DropPrivilegesInChild() {
  if (geteuid() != 0) return;
  constexpr uid_t kNobody = 65534;
  CHILD_CHECK(setgroups(0, nullptr) == 0);
  CHILD_CHECK(setresgid(kNobody, kNobody, kNobody) == 0);
  CHILD_CHECK(setresuid(kNobody, kNobody, kNobody) == 0);
}

::testing::AssertionResult InForkedChild(const std::function<void()>& fn) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return ::testing::AssertionFailure() << "pipe2: " << ErrnoName(errno);
  }
  FileDescriptor read_end(fds[0]), write_end(fds[1]);
  // Whatever the parent buffered must not be written twice.
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << ErrnoName(errno);
  if (pid == 0) {
    g_report_fd = write_end.get();
    fn();
    _exit(0);
  }
  write_end.reset();
  std::string report;
  char buf[512];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ::testing::AssertionFailure() << "waitpid: " << ErrnoName(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << "the forked child ";
  if (WIFSIGNALED(status)) {
    failure << "was killed by signal " << WTERMSIG(status) << " (" << strsignal(WTERMSIG(status))
            << ")";
  } else {
    failure << "exited with status " << WEXITSTATUS(status);
  }
  if (!report.empty()) failure << ": " << report;
  return failure;
}

}  // namespace syscalls_test
