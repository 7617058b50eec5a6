// The fd table: dup, dup2, dup3, fcntl; memfd_create.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "absl/strings/str_format.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

uint64_t FdLimit(Task& t) { return t.rlimit_of(RLIMIT_NOFILE).rlim_cur; }

}  // namespace

// POSIX record locks belong to the process and go with any close of the file;
// the description hears of the close too (f_op->flush).
void ReleasePosixLocks(Task& t, const std::shared_ptr<vfs::FileDescription>& f) {
  if (f == nullptr) return;
  f->Flush(t.tgid());
  if (!f->location().ok()) return;
  t.kernel().vfs().locks().ReleaseOn(f->location().dentry->inode().get(),
                                     {vfs::LockOwner::kPosix, static_cast<uintptr_t>(t.tgid())});
}

namespace {

// A blocked lock request waits in short interruptible sleeps and retries.
vfs::LockWait LockWaiter(Task& t) {
  return [&t]() -> ErrnoOrOk {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 5 * 1000 * 1000;
    if (now.tv_nsec >= 1000000000) {
      now.tv_sec++;
      now.tv_nsec -= 1000000000;
    }
    auto r = t.SleepUntil(CLOCK_MONOTONIC, now);
    if (!r.ok()) return Errno(EINTR);
    return Ok();
  };
}

vfs::LockOwner DescriptionOwner(const vfs::FileDescription& f) {
  return {vfs::LockOwner::kDescription, reinterpret_cast<uintptr_t>(&f)};
}

// fcntl's struct flock -> a range, as Linux's flock_to_posix_lock.
ErrnoOr<vfs::RecordLock> RangeOf(vfs::FileDescription& f, const struct flock& fl) {
  int64_t base = 0;
  switch (fl.l_whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR: {
      ASSIGN_OR_RETURN(base, f.Seek(0, SEEK_CUR));
      break;
    }
    case SEEK_END: {
      ASSIGN_OR_RETURN(struct stat st, f.Stat());
      base = st.st_size;
      break;
    }
    default:
      return Errno(EINVAL);
  }
  int64_t start;
  if (__builtin_add_overflow(base, static_cast<int64_t>(fl.l_start), &start)) {
    return Errno(EOVERFLOW);
  }
  if (start < 0) return Errno(EINVAL);
  vfs::RecordLock r;
  if (fl.l_len > 0) {
    int64_t end;
    if (__builtin_add_overflow(start, static_cast<int64_t>(fl.l_len) - 1, &end)) {
      return Errno(EOVERFLOW);
    }
    r.start = static_cast<uint64_t>(start);
    r.end = static_cast<uint64_t>(end) + 1;
  } else if (fl.l_len < 0) {
    int64_t s2 = start + fl.l_len;
    if (s2 < 0) return Errno(EINVAL);
    r.start = static_cast<uint64_t>(s2);
    r.end = static_cast<uint64_t>(start);
  } else {
    r.start = static_cast<uint64_t>(start);
    r.end = vfs::kLockToEof;
  }
  return r;
}

SyscallResult RecordLockCmd(Task& t, const std::shared_ptr<vfs::FileDescription>& file, int cmd,
                            UserAddr arg) {
  struct flock fl;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<struct flock>(arg), &fl));
  const bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  const bool get = cmd == F_GETLK || cmd == F_OFD_GETLK;
  if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) return Errno(EINVAL);
  if (ofd && fl.l_pid != 0) return Errno(EINVAL);
  if (!file->location().ok()) {
    t.kernel().RecordGap("fcntl record locks on a donated host fd");
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(vfs::RecordLock lock, RangeOf(*file, fl));
  lock.write = fl.l_type == F_WRLCK;
  lock.owner = ofd ? DescriptionOwner(*file)
                   : vfs::LockOwner{vfs::LockOwner::kPosix, static_cast<uintptr_t>(t.tgid())};
  lock.pid = ofd ? -1 : t.tgid();
  const std::shared_ptr<vfs::Inode>& inode = file->location().dentry->inode();
  vfs::LockTable& table = t.kernel().vfs().locks();
  if (get) {
    if (fl.l_type == F_UNLCK) return Errno(EINVAL);
    std::optional<vfs::RecordLock> c = table.TestRecord(inode, lock);
    if (!c) {
      fl.l_type = F_UNLCK;
    } else {
      fl.l_type = c->write ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = static_cast<off_t>(c->start);
      fl.l_len = c->end == vfs::kLockToEof ? 0 : static_cast<off_t>(c->end - c->start);
      fl.l_pid = c->pid;
    }
    RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<struct flock>(arg), fl));
    return 0;
  }
  const int acc = file->status_flags() & O_ACCMODE;
  if (fl.l_type == F_RDLCK && acc == O_WRONLY) return Errno(EBADF);
  if (fl.l_type == F_WRLCK && acc == O_RDONLY) return Errno(EBADF);
  const bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  if (ofd) file->NoteLocks(&table);
  RETURN_IF_ERROR(
      table.SetRecord(inode, lock, fl.l_type == F_UNLCK, wait ? LockWaiter(t) : vfs::LockWait()));
  return 0;
}

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
  ReleasePosixLocks(t, t.fds().InstallAt(newfd, std::move(file), flags & O_CLOEXEC));
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

SyscallResult Flock(Task& t, const SyscallArgs& a) {
  // Linux's order: LOCK_MAND (removed in 5.15) is ignored outright, then the
  // operation is checked, then the fd.
  constexpr unsigned kLockMand = 32;
  if (a.Uint(1) & kLockMand) return 0;
  const int op = a.Int(1) & ~LOCK_NB;
  if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (file->status_flags() & O_PATH) return Errno(EBADF);
  if (!file->location().ok()) {
    t.kernel().RecordGap("flock on a donated host fd");
    return Errno(EINVAL);
  }
  vfs::LockTable& table = t.kernel().vfs().locks();
  file->NoteLocks(&table);
  const bool wait = !(a.Int(1) & LOCK_NB) && op != LOCK_UN;
  RETURN_IF_ERROR(table.Flock(file->location().dentry->inode(), DescriptionOwner(*file), op,
                              wait ? LockWaiter(t) : vfs::LockWait()));
  return 0;
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
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      if (path_only) return Errno(EBADF);
      return RecordLockCmd(t, entry.file, cmd, a.Addr(2));
    case F_ADD_SEALS:
      if (path_only) return Errno(EBADF);
      RETURN_IF_ERROR(entry.file->AddSeals(a.Int(2)));
      return 0;
    case F_GET_SEALS: {
      if (path_only) return Errno(EBADF);
      ASSIGN_OR_RETURN(int seals, entry.file->GetSeals());
      return seals;
    }
    case F_SETPIPE_SZ:
    case F_GETPIPE_SZ:
      if (path_only) return Errno(EBADF);
      return PipeFcntl(t, *entry.file, cmd, a[2]);
    default:
      if (path_only) return Errno(EBADF);
      // Leases, owners, signals: later pieces of the
      // filesystems and processes issues.
      t.kernel().RecordGap(absl::StrFormat("fcntl cmd %d", cmd));
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
