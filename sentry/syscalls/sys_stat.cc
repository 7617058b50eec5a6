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
  if (path.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno(ENOENT);
    if (a.Int(0) == AT_FDCWD) return Errno(ENOENT);  // TODO(filesystems issue): the cwd.
    return StatFd(t, a.Int(0), a.Addr(2));
  }
  // TODO(filesystems issue): path resolution. The sandbox has no filesystem yet,
  // so no path exists.
  return Errno(ENOENT);
}

}  // namespace sentry::syscalls
