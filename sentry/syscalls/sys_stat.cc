// fstat, newfstatat.
#include <fcntl.h>
#include <sys/stat.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

SyscallResult StatFd(Task& t, int fd, UserAddr out) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(fd));
  ASSIGN_OR_RETURN(struct stat st, file->Stat());
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<struct stat>(out), st));
  return 0;
}

}  // namespace

SyscallResult Fstat(Task& t, const SyscallArgs& a) { return StatFd(t, a.Int(0), a.Addr(1)); }

SyscallResult Newfstatat(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, t.mm().CopyInString(a.Addr(1), PATH_MAX));
  // An empty path with AT_EMPTY_PATH stats the fd itself (a host fd too).
  if (path.empty() && (flags & AT_EMPTY_PATH) && a.Int(0) != AT_FDCWD) {
    return StatFd(t, a.Int(0), a.Addr(2));
  }
  return NewfstatatPath(t, a);
}

}  // namespace sentry::syscalls
