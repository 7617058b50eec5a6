// The fd table: dup, dup2, dup3, fcntl; memfd_create.
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

SyscallResult MemfdCreate(Task& t, const SyscallArgs& a) {
  constexpr unsigned kMfdCloexec = 0x1, kMfdAllowSealing = 0x2, kMfdHugetlb = 0x4,
                     kMfdNoexecSeal = 0x8, kMfdExec = 0x10;
  constexpr int kSealExec = 0x20;  // F_SEAL_EXEC
  const unsigned flags = a.Uint(1);
  if (flags & kMfdHugetlb) {
    // No huge pages behind the memory file.
    t.kernel().RecordGap("memfd_create(MFD_HUGETLB)");
    return Errno(EINVAL);
  }
  if (flags & ~(kMfdCloexec | kMfdAllowSealing | kMfdNoexecSeal | kMfdExec)) return Errno(EINVAL);
  if ((flags & kMfdExec) && (flags & kMfdNoexecSeal)) return Errno(EINVAL);
  // MFD_NAME_MAX_LEN: 249 bytes ("memfd:" + name fits NAME_MAX).
  auto name = t.mm().CopyInString(a.Addr(0), 250);
  if (!name.ok()) return name.error().value() == ENAMETOOLONG ? Errno(EINVAL) : name.error();
  if (name->size() > 249) return Errno(EINVAL);
  uint32_t mode = 0777;
  int seals = 0;
  bool sealable = flags & kMfdAllowSealing;
  if (flags & kMfdNoexecSeal) {
    mode &= ~0111u;
    seals = kSealExec;
    sealable = true;
  }
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(auto file,
                   t.kernel().NewMemfd(*name, mode, vfs::Owner{creds.fsuid, creds.fsgid}, seals));
  if (!sealable) (void)file->AddSeals(F_SEAL_SEAL);
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(file), flags & kMfdCloexec, 0, FdLimit(t)));
  return fd;
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
    case F_ADD_SEALS:
      if (path_only) return Errno(EBADF);
      RETURN_IF_ERROR(entry.file->AddSeals(a.Int(2)));
      return 0;
    case F_GET_SEALS: {
      if (path_only) return Errno(EBADF);
      ASSIGN_OR_RETURN(int seals, entry.file->GetSeals());
      return seals;
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
