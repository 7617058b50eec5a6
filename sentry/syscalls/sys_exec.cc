// execve, execveat: argument copying with Linux's limits, "#!" scripts
// (sentry/loader/script.h), and the exec itself (Task::Exec).
#include <fcntl.h>
#include <limits.h>

#include <string>
#include <vector>

#include "sentry/loader/script.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kMaxArgStrlen = 32 * 4096;    // MAX_ARG_STRLEN
constexpr size_t kArgMax = 32 * 4096;          // ARG_MAX: the least room argv+envp get
constexpr size_t kMaxArgStrings = 0x7fffffff;  // MAX_ARG_STRINGS
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
  // "#!" scripts: the interpreter is loaded instead; the name stays the
  // script's (AT_EXECFN, the task's name), as in Linux.
  ASSIGN_OR_RETURN(std::unique_ptr<loader::ExecutableFile> interp,
                   loader::FollowScripts(*file, filename, &argv, [&t](const std::string& p) {
                     return t.OpenExecutable(p);
                   }));
  if (interp != nullptr) file = std::move(interp);
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
