// runsc do [flags] -- PROGRAM ARGS...: runs one program in a fresh sandbox, with
// the caller's stdio, environment, identity and working directory; the
// program's exit status becomes runsc's (128+N when signal N killed it).
//
// Processes: this one (the supervisor), `runsc gofer` serving the host's root
// read-only (its own process, mount namespace and seccomp filter), and the
// sandbox (the Sentry), connected to the gofer by a SOCK_SEQPACKET socketpair.
// If the gofer cannot start or dies, the sandbox is stopped and runsc exits
// 125 naming the gofer and the cause; when the sandbox ends, the gofer is
// killed and reaped.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "runsc/cmd/commands.h"
#include "runsc/sandbox/boot.h"
#include "runsc/sandbox/isolate.h"
#include "sentry/base/log.h"

extern char** environ;

namespace runsc {
namespace {

// Finds `name` like execvp: as a path if it has a slash, else on $PATH.
absl::StatusOr<std::string> FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(p, ':')) {
    std::string candidate = absl::StrFormat("%s/%s", dir.empty() ? "." : dir, name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrFormat("\"%s\": not found in PATH", name));
}

// Starts `runsc gofer` serving the host's root read-only over `sock` (the
// gofer's end of the socketpair). Returns its pid, or -1 with errno.
pid_t StartGofer(int sock, const std::string& log_level) {
  // Everything the child needs is built before fork.
  std::vector<std::string> args = {"runsc",
                                   "--log-level=" + log_level,
                                   "gofer",
                                   "--",
                                   "--root=/",
                                   "--read-only",
                                   absl::StrFormat("--socket-fd=%d", sock)};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The child: dies with runsc, takes no terminal signals (runsc ends it), has
  // only the socket and stderr of ours (stdin and stdout are the guest's).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(125);
  setsid();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    if (null > 2) close(null);
  }
  fcntl(sock, F_SETFD, 0);  // kept across exec
  execv("/proc/self/exe", argv.data());
  std::string msg = absl::StrFormat("runsc do: cannot start the gofer: exec /proc/self/exe: %s\n",
                                    strerror(errno));
  [[maybe_unused]] ssize_t n = write(2, msg.data(), msg.size());
  _exit(125);
}

// "exited with status 1", "was killed by signal 9 (Killed)".
std::string DescribeWait(int ws) {
  if (WIFSIGNALED(ws)) {
    return absl::StrFormat("was killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
  }
  return absl::StrFormat("exited with status %d", WEXITSTATUS(ws));
}

// The sandbox side: reports how it ended on `status_fd` and exits.
[[noreturn]] void ExitSandbox(const absl::StatusOr<sentry::kernel::ExitStatus>& result,
                              int status_fd) {
  SLOG(kDebug, "boot: sentry exits");
  if (!result.ok()) {
    std::string msg = absl::StrFormat("runsc: sandbox failed: %s\n", result.status().message());
    [[maybe_unused]] ssize_t n = write(2, msg.data(), msg.size());
    // As a shell: 127 when the program (or its "#!" interpreter) is not
    // found in the sandbox, 126 when it cannot be executed.
    int code = 125;
    if (absl::IsNotFound(result.status())) code = 127;
    if (absl::IsInvalidArgument(result.status())) code = 126;
    _exit(code);
  }
  [[maybe_unused]] ssize_t n = write(status_fd, &*result, sizeof(*result));
  _exit(0);
}

// The sandbox side: boot the Sentry; report the exit status on `status_fd`.
[[noreturn]] void RunSandbox(BootConfig bc, int status_fd) {
  // Once init has ended, exit without destroying the kernel (see
  // BootConfig::exit_without_teardown; DoCommand reaps the stubs).
  const int gofer_fd = bc.gofer_fd;
  bc.exit_without_teardown = [status_fd,
                              gofer_fd](const absl::StatusOr<sentry::kernel::ExitStatus>& r) {
    // The gofer sees the hang-up now and exits while this process does (its
    // exit, a mount namespace to tear down, took ~0.7 ms after ours).
    if (gofer_fd >= 0) shutdown(gofer_fd, SHUT_RDWR);
    ExitSandbox(r, status_fd);
  };
  ExitSandbox(Boot(bc), status_fd);
}

}  // namespace

int DoCommand(const CommandLine& cl) {
  if (cl.args.empty()) {
    fprintf(stderr, "runsc do: missing program (usage: runsc do [flags] -- PROGRAM ARGS...)\n");
    return 2;
  }
  auto path = FindProgram(cl.args[0]);
  if (!path.ok()) {
    fprintf(stderr, "runsc do: %s\n", std::string(path.status().message()).c_str());
    return 127;
  }
  int exe = open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (exe < 0) {
    fprintf(stderr, "runsc do: open \"%s\": %s\n", path->c_str(), strerror(errno));
    return errno == ENOENT ? 127 : 126;
  }
  struct stat st;
  if (fstat(exe, &st) != 0 || !S_ISREG(st.st_mode) || access(path->c_str(), X_OK) != 0) {
    fprintf(stderr, "runsc do: exec \"%s\": permission denied (not an executable file)\n",
            path->c_str());
    return 126;
  }

  BootConfig bc;
  bc.platform = cl.flags.platform;
  bc.strace = cl.flags.strace;
  bc.aslr = cl.flags.aslr;
  bc.vdso = cl.flags.vdso;
  bc.systrap_patching = cl.flags.systrap_patching;
  bc.overlay = cl.flags.overlay == "memory";
  if (!cl.flags.report.empty()) {
    bc.report_fd =
        open(cl.flags.report.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (bc.report_fd < 0) {
      fprintf(stderr, "runsc do: --report: open \"%s\": %s\n", cl.flags.report.c_str(),
              strerror(errno));
      return 125;
    }
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  bc.hostname = host;
  bc.executable_fd = exe;
  bc.filename = *path;
  bc.argv = cl.args;
  for (char** e = environ; *e != nullptr; ++e) bc.envp.push_back(*e);
  bc.uid = getuid();
  bc.gid = getgid();
  if (int n = getgroups(0, nullptr); n > 0) {
    std::vector<gid_t> groups(static_cast<size_t>(n));
    n = getgroups(n, groups.data());
    if (n > 0) bc.groups.assign(groups.begin(), groups.begin() + n);
  }
  for (int fd = 0; fd < 3; ++fd) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) {
      fprintf(stderr, "runsc do: stdio fd %d is not open: %s\n", fd, strerror(errno));
      return 125;
    }
    bc.stdio_fds.push_back(d);
  }

  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) != nullptr) bc.cwd = cwd;

  // The gofer first: the Sentry's root filesystem is its.
  int gofer_sock[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, gofer_sock) != 0) {
    fprintf(stderr, "runsc do: cannot start the gofer: socketpair: %s\n", strerror(errno));
    return 125;
  }
  SLOG(kDebug, "boot: starting the gofer");
  const pid_t gofer = StartGofer(gofer_sock[1], cl.flags.log_level);
  if (gofer < 0) {
    fprintf(stderr, "runsc do: cannot start the gofer: fork: %s\n", strerror(errno));
    return 125;
  }
  bc.gofer_fd = gofer_sock[0];

  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    fprintf(stderr, "runsc do: pipe: %s\n", strerror(errno));
    kill(gofer, SIGKILL);
    waitpid(gofer, nullptr, 0);
    return 125;
  }
  // The Sentry exits without tearing its kernel down (RunSandbox): its stubs,
  // killed as it exits, are orphaned then. As a subreaper this process gets
  // them, and reaps them before it returns: nothing is left behind.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The sandbox runs in a child process so that this process can report how it
  // ended, whatever happens to it.
  // TODO(filesystems issue): `runsc boot`, and a pid namespace of its own.
  const pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "runsc do: fork: %s\n", strerror(errno));
    kill(gofer, SIGKILL);
    waitpid(gofer, nullptr, 0);
    return 125;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
    close(status_pipe[0]);
    // Only the gofer may hold its end: a dying gofer must hang up on the Sentry.
    close(gofer_sock[1]);
    // The Sentry's own namespaces, while this process has one thread; Boot
    // pivots into an empty root once it has read what it needs.
    if (absl::Status s = EnterSentryNamespaces(); !s.ok()) {
      std::string msg = absl::StrFormat("runsc: sandbox failed: %s\n", s.message());
      [[maybe_unused]] ssize_t n = write(2, msg.data(), msg.size());
      _exit(125);
    }
    SLOG(kDebug, "boot: sentry namespaces entered");
    BootConfig sandbox_bc = bc;
    sandbox_bc.empty_root = true;
    RunSandbox(sandbox_bc, status_pipe[1]);
  }
  close(status_pipe[1]);
  close(gofer_sock[0]);
  close(gofer_sock[1]);
  close(exe);
  for (int fd : bc.stdio_fds) close(fd);

  // Wait for the sandbox; if the gofer fails first, stop the sandbox. (A gofer
  // exiting 0 has seen the Sentry hang up: the sandbox is ending.)
  int ws = 0;
  bool gofer_reaped = false, gofer_failed = false;
  for (;;) {
    int s = 0;
    const pid_t p = waitpid(-1, &s, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "runsc do: waitpid: %s\n", strerror(errno));
      break;
    }
    if (p == gofer) {
      gofer_reaped = true;
      if (!WIFEXITED(s) || WEXITSTATUS(s) != 0) {
        gofer_failed = true;
        fprintf(stderr,
                "runsc do: the gofer (pid %d, serving the host's files) %s; stopping the "
                "sandbox\n",
                gofer, DescribeWait(s).c_str());
        kill(child, SIGKILL);
      }
    } else if (p == child) {
      SLOG(kDebug, "boot: sandbox reaped");
      ws = s;
      break;
    }
  }
  if (!gofer_reaped) {
    // The sandbox may have ended because the gofer died (both were waiting
    // to be reaped): say so rather than only what the Sentry saw.
    // A failed sandbox may have seen the gofer hang up a moment before the
    // gofer became reapable: give it a little time to show.
    const bool sandbox_failed = !WIFEXITED(ws) || WEXITSTATUS(ws) != 0;
    int s = 0;
    pid_t r = waitpid(gofer, &s, WNOHANG);
    for (int i = 0; r == 0 && sandbox_failed && i < 20; ++i) {
      usleep(10 * 1000);
      r = waitpid(gofer, &s, WNOHANG);
    }
    if (r == gofer) {
      gofer_reaped = true;
      if (!WIFEXITED(s) || WEXITSTATUS(s) != 0) {
        gofer_failed = true;
        fprintf(stderr, "runsc do: the gofer (pid %d, serving the host's files) %s\n", gofer,
                DescribeWait(s).c_str());
      }
    }
  }
  if (!gofer_reaped) {
    kill(gofer, SIGKILL);
    while (waitpid(gofer, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  // The Sentry's orphans (see PR_SET_CHILD_SUBREAPER above): every one was
  // SIGKILLed as the Sentry exited (PTRACE_O_EXITKILL, PR_SET_PDEATHSIG).
  for (;;) {
    if (waitpid(-1, nullptr, __WALL) > 0) continue;
    if (errno == EINTR) continue;
    break;
  }
  SLOG(kDebug, "boot: gofer and stubs reaped");
  if (gofer_failed) return 125;

  sentry::kernel::ExitStatus es;
  ssize_t got;
  do {
    got = read(status_pipe[0], &es, sizeof(es));
  } while (got < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (got != sizeof(es)) {
    if (WIFSIGNALED(ws)) {
      fprintf(stderr, "runsc do: the sandbox died: killed by signal %d (%s)\n", WTERMSIG(ws),
              strsignal(WTERMSIG(ws)));
      return 125;
    }
    // The sandbox already printed why.
    return WIFEXITED(ws) && WEXITSTATUS(ws) != 0 ? WEXITSTATUS(ws) : 125;
  }
  if (es.signal != 0) return 128 + es.signal;
  return es.code;
}

}  // namespace runsc
