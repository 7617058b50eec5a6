#include "tests/e2e/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_format.h"

extern char** environ;

namespace e2e {
namespace {

// How long the pipes may stay open after the child is reaped (a grandchild the
// child left behind may hold them) before we stop reading.
constexpr absl::Duration kDrainGrace = absl::Seconds(2);

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return true;
}

// Deadlines and wall times come from CLOCK_MONOTONIC (MonotonicNow() can jump);
// only differences of these values mean anything.
absl::Time MonotonicNow() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrFormat("SIG%s", abbrev) : "unknown";
}

// In the child, between fork and execve: only async-signal-safe calls.
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, int in, int out, int err,
                            int report) {
  setpgid(0, 0);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // Undo anything our parent (gtest, a shell) set that would leak into the child.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
    int e = errno;
    (void)!write(report, &e, sizeof(e));
    _exit(127);
  }
  // Close everything else but the report pipe, which is O_CLOEXEC.
  if (report > 3) syscall(SYS_close_range, 3, report - 1, 0);
  syscall(SYS_close_range, report + 1, ~0U, 0);
  execve(argv[0], argv, envp);
  int e = errno;
  (void)!write(report, &e, sizeof(e));
  _exit(127);
}

}  // namespace

std::string RunResult::Describe() const {
  if (!started) return absl::StrFormat("not started: %s", error);
  if (timed_out) {
    return absl::StrFormat("timed out after %s (process group killed)", absl::FormatDuration(wall));
  }
  if (status > 128) {
    return absl::StrFormat("killed by signal %d (%s), status %d", status - 128,
                           SignalName(status - 128), status);
  }
  return absl::StrFormat("exit status %d", status);
}

RunResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult result;
  if (argv.empty()) {
    result.error = "empty argv";
    return result;
  }
  // Build the C arrays before fork: the child may not allocate.
  std::vector<char*> c_argv;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  char* const* envp = environ;
  if (options.env.has_value()) {
    for (const std::string& e : *options.env) c_env.push_back(const_cast<char*>(e.c_str()));
    c_env.push_back(nullptr);
    envp = c_env.data();
  }

  Fd in_r, in_w, out_r, out_w, err_r, err_w, rep_r, rep_w;
  if (!MakePipe(in_r, in_w) || !MakePipe(out_r, out_w) || !MakePipe(err_r, err_w) ||
      !MakePipe(rep_r, rep_w)) {
    result.error = absl::StrFormat("pipe2: %s", strerror(errno));
    return result;
  }

  absl::Time start = MonotonicNow();
  pid_t pid = fork();
  if (pid < 0) {
    result.error = absl::StrFormat("fork: %s", strerror(errno));
    return result;
  }
  if (pid == 0) {
    ExecChild(c_argv.data(), envp, in_r.get(), out_w.get(), err_w.get(), rep_w.get());
  }
  // Also from here, so a kill right after fork finds the group.
  setpgid(pid, pid);
  in_r.Close();
  out_w.Close();
  err_w.Close();
  rep_w.Close();

  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(rep_r.get(), &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(exec_errno)) {
    waitpid(pid, nullptr, 0);
    result.error = absl::StrFormat("execve %s: %s", argv[0], strerror(exec_errno));
    return result;
  }
  result.started = true;

  // The child may exit without reading its stdin; writing must not kill us.
  struct sigaction ignore = {}, old_pipe;
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  if (options.stdin_data.empty()) in_w.Close();

  absl::Time deadline = start + options.timeout;
  absl::Time drain_deadline = absl::InfiniteFuture();
  size_t in_off = 0;
  bool reaped = false;
  int wstatus = 0;
  char buf[65536];
  while (out_r.get() >= 0 || err_r.get() >= 0 || !reaped) {
    if (!reaped) {
      pid_t w = waitpid(pid, &wstatus, WNOHANG);
      if (w == pid) {
        reaped = true;
        result.wall = MonotonicNow() - start;
        drain_deadline = MonotonicNow() + kDrainGrace;
        in_w.Close();
      }
    }
    absl::Time now = MonotonicNow();
    if (!reaped && now >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      result.timed_out = true;
      deadline = absl::InfiniteFuture();
      continue;
    }
    if (reaped && now >= drain_deadline) {
      // Something the child started still holds its stdout or stderr open. The
      // group cannot have been recycled while that member lives.
      kill(-pid, SIGKILL);
      break;
    }
    if (out_r.get() < 0 && err_r.get() < 0) {
      // Nothing left to read: just wait for the exit, in short steps so the
      // deadline is kept.
      usleep(1000);
      continue;
    }
    struct pollfd fds[3];
    int nfds = 0;
    Fd* owners[3];
    auto add = [&](Fd& fd, short events) {
      if (fd.get() < 0) return;
      fds[nfds] = {fd.get(), events, 0};
      owners[nfds++] = &fd;
    };
    add(out_r, POLLIN);
    add(err_r, POLLIN);
    add(in_w, POLLOUT);
    absl::Time wake = std::min(reaped ? drain_deadline : deadline, now + absl::Milliseconds(20));
    int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(wake - now)) + 1;
    int ready = poll(fds, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; ready > 0 && i < nfds; i++) {
      if (fds[i].revents == 0) continue;
      Fd& fd = *owners[i];
      if (&fd == &in_w) {
        ssize_t w =
            write(fd.get(), options.stdin_data.data() + in_off, options.stdin_data.size() - in_off);
        if (w > 0) in_off += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == options.stdin_data.size()) {
          fd.Close();
        }
        continue;
      }
      ssize_t r = read(fd.get(), buf, sizeof(buf));
      if (r > 0) {
        (&fd == &out_r ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        fd.Close();
      }
    }
  }
  sigaction(SIGPIPE, &old_pipe, nullptr);
  if (!reaped) {
    waitpid(pid, &wstatus, 0);
    result.wall = MonotonicNow() - start;
  }

  if (WIFEXITED(wstatus)) {
    result.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.status = 128 + WTERMSIG(wstatus);
  }
  return result;
}

}  // namespace e2e
