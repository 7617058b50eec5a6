#include "syscalls-tests/runner/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_format.h"

namespace syscalls_runner {
namespace {

absl::Time Monotonic() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

// Between fork and execve: async-signal-safe calls only.
[[noreturn]] void Child(char* const* argv, char* const* envp, int out, int err, int report) {
  setpgid(0, 0);
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
    int e = errno;
    (void)!write(report, &e, sizeof(e));
    _exit(127);
  }
  // Nothing but stdio (and the close-on-exec report pipe) reaches the test.
  if (report > 3) syscall(SYS_close_range, 3, report - 1, 0);
  syscall(SYS_close_range, report + 1, ~0U, 0);
  execve(argv[0], argv, envp);
  int e = errno;
  (void)!write(report, &e, sizeof(e));
  _exit(127);
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (!started) return absl::StrFormat("not started: %s", error);
  if (timed_out) return absl::StrFormat("timed out after %s", absl::FormatDuration(wall));
  if (status > 128) {
    const char* abbrev = sigabbrev_np(status - 128);
    return absl::StrFormat("killed by signal %d (SIG%s)", status - 128,
                           abbrev != nullptr ? abbrev : "?");
  }
  return absl::StrFormat("exit status %d", status);
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         absl::Duration timeout) {
  ProcessResult r;
  std::vector<char*> c_argv, c_env;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const std::string& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  int out[2], err[2], report[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    r.error = absl::StrFormat("pipe2: %s", strerror(errno));
    return r;
  }
  const absl::Time start = Monotonic();
  const pid_t pid = fork();
  if (pid < 0) {
    r.error = absl::StrFormat("fork: %s", strerror(errno));
    for (int fd : {out[0], out[1], err[0], err[1], report[0], report[1]}) close(fd);
    return r;
  }
  if (pid == 0) Child(c_argv.data(), c_env.data(), out[1], err[1], report[1]);
  setpgid(pid, pid);
  close(out[1]);
  close(err[1]);
  close(report[1]);

  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof(exec_errno)) {
    waitpid(pid, nullptr, 0);
    close(out[0]);
    close(err[0]);
    r.error = absl::StrFormat("execve %s: %s", argv[0], strerror(exec_errno));
    return r;
  }
  r.started = true;

  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&r.out, &r.err};
  const absl::Time deadline = start + timeout;
  bool reaped = false;
  int wstatus = 0;
  char buf[65536];
  while (fds[0] >= 0 || fds[1] >= 0 || !reaped) {
    if (!reaped && waitpid(pid, &wstatus, WNOHANG) == pid) {
      reaped = true;
      r.wall = Monotonic() - start;
    }
    const absl::Time now = Monotonic();
    if (!r.timed_out && !reaped && now >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      r.timed_out = true;
    }
    // Once the child is gone, whatever it left behind holding the pipes
    // gets a short grace period, then the group is killed.
    if (reaped && now >= r.wall + start + absl::Seconds(2)) {
      kill(-pid, SIGKILL);
      break;
    }
    if (fds[0] < 0 && fds[1] < 0) {
      usleep(1000);
      continue;
    }
    struct pollfd p[2];
    int np = 0, idx[2];
    for (int i = 0; i < 2; i++) {
      if (fds[i] < 0) continue;
      p[np] = {fds[i], POLLIN, 0};
      idx[np++] = i;
    }
    if (poll(p, np, 20) < 0 && errno != EINTR) break;
    for (int k = 0; k < np; k++) {
      if (p[k].revents == 0) continue;
      ssize_t got = read(fds[idx[k]], buf, sizeof(buf));
      if (got > 0) {
        sinks[idx[k]]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        CloseFd(fds[idx[k]]);
      }
    }
  }
  CloseFd(fds[0]);
  CloseFd(fds[1]);
  if (!reaped) {
    waitpid(pid, &wstatus, 0);
    r.wall = Monotonic() - start;
  }
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.status = 128 + WTERMSIG(wstatus);
  return r;
}

}  // namespace syscalls_runner
