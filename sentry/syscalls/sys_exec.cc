// execve, execveat: argument copying with Linux's limits, "#!" scripts, and
// the exec itself (Task::Exec).
#include <fcntl.h>
#include <limits.h>

#include <string>
#include <vector>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kMaxArgStrlen = 32 * 4096;    // MAX_ARG_STRLEN
constexpr size_t kArgMax = 32 * 4096;          // ARG_MAX: the least room argv+envp get
constexpr size_t kMaxArgStrings = 0x7fffffff;  // MAX_ARG_STRINGS
constexpr size_t kBinprmBufSize = 256;         // BINPRM_BUF_SIZE: the "#!" line's limit
constexpr int kMaxInterpDepth = 5;             // nested interpreters (exec_binprm)
constexpr uint64_t kStkLim = 8 * 1024 * 1024;  // _STK_LIM

// Copies a NULL-terminated array of string pointers.
ErrnoOr<std::vector<std::string>> CopyInStrings(Task& t, UserAddr array, size_t* total) {
  std::vector<std::string> out;
  if (array.IsNull()) return out;  // Linux accepts a null argv or envp as empty
  for (size_t i = 0;; ++i) {
    if (i >= kMaxArgStrings) return Errno(E2BIG);
    uint64_t p;
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint64_t>(array.value() + i * 8), &p));
    if (p == 0) break;
    auto s = t.mm().CopyInString(UserAddr(p), kMaxArgStrlen);
    if (!s.ok()) {
      // A string without its terminator within MAX_ARG_STRLEN is E2BIG.
      return s.error().value() == ENAMETOOLONG ? Errno(E2BIG) : s.error();
    }
    *total += s->size() + 1 + sizeof(uint64_t);
    out.push_back(*std::move(s));
  }
  return out;
}

// A "#!" line: the interpreter and its one optional argument.
struct Shebang {
  std::string interp;
  std::optional<std::string> arg;
};

ErrnoOr<std::optional<Shebang>> ReadShebang(loader::ExecutableFile& f) {
  char buf[kBinprmBufSize];
  ASSIGN_OR_RETURN(size_t n, f.ReadAt({reinterpret_cast<uint8_t*>(buf), sizeof(buf)}, 0));
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return std::optional<Shebang>();
  std::string line(buf + 2, n - 2);
  const size_t nl = line.find('\n');
  if (nl != std::string::npos) {
    line.resize(nl);
  } else if (n == sizeof(buf)) {
    // A line longer than the buffer: only an error if the interpreter's
    // name itself does not end within it (Linux 5.1+).
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.find_first_of(" \t", start) == std::string::npos) {
      return Errno(ENOEXEC);
    }
  }
  auto trim = [](std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    const size_t e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  };
  trim(line);
  if (line.empty()) return Errno(ENOEXEC);
  Shebang sb;
  const size_t sp = line.find_first_of(" \t");
  sb.interp = line.substr(0, sp);
  if (sp != std::string::npos) {
    std::string arg = line.substr(sp);
    trim(arg);
    if (!arg.empty()) sb.arg = arg;
  }
  return std::optional<Shebang>(sb);
}

SyscallResult DoExec(Task& t, int dirfd, UserAddr path_addr, UserAddr argv_addr, UserAddr envp_addr,
                     int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, t.mm().CopyInString(path_addr, PATH_MAX));
  size_t total = 0;
  ASSIGN_OR_RETURN(std::vector<std::string> argv, CopyInStrings(t, argv_addr, &total));
  ASSIGN_OR_RETURN(std::vector<std::string> envp, CopyInStrings(t, envp_addr, &total));
  // bprm_stack_limits: a quarter of the stack limit (at most 3/4 of
  // _STK_LIM, at least ARG_MAX) for the strings and their pointers.
  uint64_t limit = std::min<uint64_t>(kStkLim / 4 * 3, t.rlimit_of(RLIMIT_STACK).rlim_cur / 4);
  limit = std::max<uint64_t>(limit, kArgMax);
  if (total > limit) return Errno(E2BIG);
  // Linux passes an empty argv on as { "" } (and says so in the log).
  if (argv.empty()) argv.push_back("");

  const vfs::AccessCreds creds = t.access_creds();
  const bool empty = (flags & AT_EMPTY_PATH) && path.empty();
  ASSIGN_OR_RETURN(vfs::PathContext ctx, AtContext(t, dirfd, path, &creds, empty));
  ASSIGN_OR_RETURN(auto file, t.OpenExecutableAt(ctx, path, !(flags & AT_SYMLINK_NOFOLLOW), empty));
  // The name the new image sees (AT_EXECFN, /proc/pid/exe's path): the path,
  // or /dev/fd/N for a path relative to a directory fd.
  std::string filename = path;
  if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) {
    filename = "/dev/fd/" + std::to_string(dirfd) + (path.empty() ? "" : "/" + path);
  }
  for (int depth = 0;; ++depth) {
    ASSIGN_OR_RETURN(std::optional<Shebang> sb, ReadShebang(*file));
    if (!sb.has_value()) break;
    if (depth >= kMaxInterpDepth) return Errno(ELOOP);
    // argv[0] is replaced by the interpreter, its argument and the script.
    std::vector<std::string> next{sb->interp};
    if (sb->arg.has_value()) next.push_back(*sb->arg);
    next.push_back(filename);
    next.insert(next.end(), argv.begin() + 1, argv.end());
    argv = std::move(next);
    ASSIGN_OR_RETURN(file, t.OpenExecutable(sb->interp));
    filename = sb->interp;
  }
  RETURN_IF_ERROR(t.Exec(filename, std::move(file), std::move(argv), std::move(envp)));
  return 0;
}

}  // namespace

SyscallResult Execve(Task& t, const SyscallArgs& a) {
  return DoExec(t, AT_FDCWD, a.Addr(0), a.Addr(1), a.Addr(2), 0);
}

SyscallResult Execveat(Task& t, const SyscallArgs& a) {
  return DoExec(t, a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), a.Int(4));
}

}  // namespace sentry::syscalls
