// runsc do [flags] -- PROGRAM ARGS...: runs one program in a fresh sandbox, with
// the caller's stdio, environment and identity; the program's exit status
// becomes runsc's (128+N when signal N killed it).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "runsc/cmd/commands.h"
#include "runsc/sandbox/boot.h"
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

// The sandbox side: boot the Sentry; report the exit status on `status_fd`.
[[noreturn]] void RunSandbox(const BootConfig& bc, int status_fd) {
  auto result = Boot(bc);
  if (!result.ok()) {
    std::string msg = absl::StrFormat("runsc: sandbox failed: %s\n", result.status().message());
    [[maybe_unused]] ssize_t n = write(2, msg.data(), msg.size());
    _exit(result.status().code() == absl::StatusCode::kInvalidArgument ? 126 : 125);
  }
  [[maybe_unused]] ssize_t n = write(status_fd, &*result, sizeof(*result));
  _exit(0);
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

  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    fprintf(stderr, "runsc do: pipe: %s\n", strerror(errno));
    return 125;
  }
  // The sandbox runs in a child process so that this process can report how it
  // ended, whatever happens to it.
  // TODO(filesystems issue): new namespaces, the gofer, and `runsc boot`.
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "runsc do: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    close(status_pipe[0]);
    RunSandbox(bc, status_pipe[1]);
  }
  close(status_pipe[1]);
  close(exe);
  for (int fd : bc.stdio_fds) close(fd);

  sentry::kernel::ExitStatus es;
  ssize_t got;
  do {
    got = read(status_pipe[0], &es, sizeof(es));
  } while (got < 0 && errno == EINTR);
  int ws = 0;
  while (waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
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
