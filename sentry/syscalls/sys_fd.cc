// The fd table: dup, dup2, dup3, fcntl.
#include <fcntl.h>

#include "absl/strings/str_format.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

uint64_t FdLimit(Task& t) { return t.rlimit_of(RLIMIT_NOFILE).rlim_cur; }

// The status flags F_SETFL may change (Linux's SETFL_MASK).
constexpr int kSetflMask = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_ASYNC;

}  // namespace

SyscallResult Dup(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(file), false, 0, FdLimit(t)));
  return fd;
}

SyscallResult Dup3(Task& t, const SyscallArgs& a) {
  const int oldfd = a.Int(0), newfd = a.Int(1), flags = a.Int(2);
  if (flags & ~O_CLOEXEC) return Errno(EINVAL);
  if (oldfd == newfd) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(oldfd));
  if (newfd < 0 || static_cast<uint64_t>(newfd) >= FdLimit(t)) return Errno(EBADF);
  t.fds().InstallAt(newfd, std::move(file), flags & O_CLOEXEC);
  return newfd;
}

SyscallResult Dup2(Task& t, const SyscallArgs& a) {
  const int oldfd = a.Int(0), newfd = a.Int(1);
  if (oldfd == newfd) {
    RETURN_IF_ERROR(t.fds().Get(oldfd));
    return newfd;
  }
  return Dup3(t, SyscallArgs{{a[0], a[1], 0}});
}

SyscallResult Fcntl(Task& t, const SyscallArgs& a) {
  const int fd = a.Int(0), cmd = a.Int(1);
  ASSIGN_OR_RETURN(auto entry, t.fds().GetEntry(fd));
  const bool path_only = entry.file->status_flags() & O_PATH;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const uint64_t min = a[2];
      if (min >= FdLimit(t) || min > INT32_MAX) return Errno(EINVAL);
      ASSIGN_OR_RETURN(int nfd, t.fds().Install(entry.file, cmd == F_DUPFD_CLOEXEC,
                                                static_cast<int>(min), FdLimit(t)));
      return nfd;
    }
    case F_GETFD:
      return entry.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      RETURN_IF_ERROR(t.fds().SetCloexec(fd, a[2] & FD_CLOEXEC));
      return 0;
    case F_GETFL:
      return static_cast<uint32_t>(entry.file->status_flags());
    case F_SETFL: {
      if (path_only) return Errno(EBADF);
      const int flags = entry.file->status_flags();
      entry.file->set_status_flags((flags & ~kSetflMask) | (a.Int(2) & kSetflMask));
      return 0;
    }
    default:
      if (path_only) return Errno(EBADF);
      // Locks, leases, owners, pipe sizes, seals: later pieces of the
      // filesystems and processes issues.
      t.kernel().RecordGap(absl::StrFormat("fcntl cmd %d", cmd));
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
