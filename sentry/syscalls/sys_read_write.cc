// read, write, readv, writev, pread64, pwrite64, preadv(2), pwritev(2), close.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <vector>

#include "sentry/net/socket.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

// Linux's MAX_RW_COUNT: one call moves at most INT_MAX rounded down to a page.
constexpr size_t kMaxRwCount = INT_MAX & ~(kPageSize - 1);

enum class Dir { kRead, kWrite };

ErrnoOr<std::shared_ptr<vfs::FileDescription>> FileFor(Task& t, int fd, Dir dir) {
  auto f = t.fds().Get(fd);
  if (!f.ok()) return f.error();
  int mode = (*f)->status_flags() & O_ACCMODE;
  if (dir == Dir::kRead && mode == O_WRONLY) return Errno(EBADF);
  if (dir == Dir::kWrite && mode == O_RDONLY) return Errno(EBADF);
  return f;
}

// MAX_RW_COUNT bytes of the Sentry's address space that are never accessible
// (PROT_NONE, reserved once): where the host kernel is sent for the part of a
// guest buffer that is not mapped. Null if the reservation failed.
void* FaultRegion() {
  static void* const region = [] {
    void* p =
        mmap(nullptr, kMaxRwCount, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }();
  return region;
}

// Guest iovecs -> the Sentry's iovecs into guest memory, covering the longest
// valid prefix (Linux copies up to the first fault). Where that prefix ends
// short: for a file whose I/O the host kernel does (`host_copies`), the rest
// is one iovec into the fault region, so that the host transfers and faults
// as Linux would; otherwise the prefix alone, and EFAULT if it is empty.
ErrnoOr<std::vector<iovec>> Translate(Task& t, std::span<const iovec> guest, Dir dir,
                                      bool host_copies) {
  std::vector<iovec> out, one;
  size_t total = 0;
  for (size_t i = 0; i < guest.size(); ++i) {
    const iovec& g = guest[i];
    size_t len = std::min(g.iov_len, kMaxRwCount - total);
    if (len == 0) continue;
    auto r = t.mm().InternalIovecs(UserAddr(reinterpret_cast<uint64_t>(g.iov_base)), len,
                                   /*write=*/dir == Dir::kRead, &one);
    out.insert(out.end(), one.begin(), one.end());
    total += r.done;
    if (!r.ok()) {
      void* const fault = host_copies ? FaultRegion() : nullptr;
      if (fault != nullptr) {
        // What the guest asked for beyond the prefix (within MAX_RW_COUNT).
        size_t rest = len - r.done;
        for (size_t j = i + 1; j < guest.size(); ++j) rest += guest[j].iov_len;
        rest = std::min(rest, kMaxRwCount - total);
        out.push_back({fault, rest});
        return out;
      }
      if (total == 0) return Errno(EFAULT);
      break;
    }
    if (total == kMaxRwCount) break;
  }
  return out;
}

// SIGXFSZ as send_sig(SIGXFSZ, current, 0) sends it: from the kernel, to the
// process.
void EfbigSignal(Task& t) {
  siginfo_t info{};
  info.si_signo = SIGXFSZ;
  info.si_code = SI_KERNEL;
  [[maybe_unused]] ErrnoOrOk r = t.SendSignal(info, /*to_group=*/true);
}

// The guest's iovecs cut to `limit` bytes in total.
std::vector<iovec> Clamp(std::span<const iovec> guest, size_t limit) {
  std::vector<iovec> out;
  for (const iovec& g : guest) {
    if (limit == 0) break;
    out.push_back({g.iov_base, std::min(g.iov_len, limit)});
    limit -= out.back().iov_len;
  }
  return out;
}

// The transfer, after the checks each syscall makes in Linux's order.
// readv/writev of nothing never reach the file (do_iter_readv_writev); read
// and write do (vfs_read/vfs_write have no such shortcut: a write of 0 bytes
// to /dev/full is ENOSPC, a read of 0 bytes of a directory EISDIR).
SyscallResult DoIo(Task& t, vfs::FileDescription& file, std::span<const iovec> guest,
                   int64_t offset, Dir dir, bool vector) {
  bool empty = true;
  for (const iovec& g : guest) empty &= g.iov_len == 0;
  if (empty && vector) return 0;
  std::vector<iovec> clamped;
  if (dir == Dir::kWrite) {
    size_t total = 0;
    for (const iovec& g : guest) total += g.iov_len;
    ASSIGN_OR_RETURN(size_t fits, WriteLimit(t, file, offset, total));
    if (fits < total) {
      clamped = Clamp(guest, fits);
      guest = clamped;
    }
  }
  ASSIGN_OR_RETURN(std::vector<iovec> iovs, Translate(t, guest, dir, file.HostCopies()));
  ErrnoOr<size_t> n =
      dir == Dir::kRead ? file.Readv(&t, iovs, offset) : file.Writev(&t, iovs, offset);
  // Sockets send their own SIGPIPE (a unix stream socket unless
  // MSG_NOSIGNAL; datagram and seqpacket sockets never do).
  if (!n.ok() && dir == Dir::kWrite && n.error().value() == EPIPE && !net::AsSocket(file)) {
    t.SendSigpipe();
  }
  if (!n.ok()) return n.error();
  // vfs_read/vfs_write: IN_ACCESS or IN_MODIFY when something moved.
  if (*n > 0 && file.location().ok()) {
    vfs::NotifyFile(file.location().dentry, dir == Dir::kRead ? IN_ACCESS : IN_MODIFY);
  }
  return *n;
}

// read, write, pread64, pwrite64 (ksys_read/vfs_read): the fd, ESPIPE for
// positional I/O, the access mode, access_ok of the whole buffer, then the count
// is clamped to MAX_RW_COUNT.
SyscallResult DoSingle(Task& t, const SyscallArgs& a, int64_t offset, Dir dir) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (offset >= 0 && !file->Seekable()) return Errno(ESPIPE);
  RETURN_IF_ERROR(FileFor(t, a.Int(0), dir));
  if (!AccessOk(a[1], a[2])) return Errno(EFAULT);
  iovec g{reinterpret_cast<void*>(a[1]), std::min(a.Size(2), kMaxRwCount)};
  return DoIo(t, *file, {&g, 1}, offset, dir, /*vector=*/false);
}

// readv, writev, preadv... (vfs_readv + import_iovec): the fd, ESPIPE, the
// access mode, then the vector: its count, each length (EINVAL if negative as a
// ssize_t), access_ok of each buffer, lengths clamped to MAX_RW_COUNT in total.
// The RWF_* flags preadv2/pwritev2 accept (Linux 6.x's RWF_SUPPORTED less
// RWF_ATOMIC, which needs atomic-write support no file here has).
constexpr int kRwfKnown = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;

SyscallResult DoVector(Task& t, const SyscallArgs& a, int64_t offset, Dir dir, int rwf = 0) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (offset >= 0 && !file->Seekable()) return Errno(ESPIPE);
  RETURN_IF_ERROR(FileFor(t, a.Int(0), dir));
  // kiocb_set_rw_flags: unknown flags are EOPNOTSUPP. The sync flags ask for
  // what our writes already are (tmpfs) or get an fsync below (host files);
  // RWF_NOWAIT is honoured as regular files never wait; RWF_APPEND writes at
  // the end.
  if (rwf & ~kRwfKnown) return Errno(EOPNOTSUPP);
  if ((rwf & RWF_APPEND) && dir == Dir::kWrite) {
    ASSIGN_OR_RETURN(struct stat st, file->Stat());
    if (file->Seekable()) offset = st.st_size;
  }
  const uint64_t count = a[2];
  if (count > IOV_MAX) return Errno(EINVAL);
  std::vector<iovec> guest(count);
  if (count != 0) {
    auto r =
        t.mm().CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(guest.data()), count * sizeof(iovec)});
    if (!r.ok()) return Errno(EFAULT);
  }
  for (const iovec& g : guest) {
    if (static_cast<ssize_t>(g.iov_len) < 0) return Errno(EINVAL);
  }
  size_t total = 0;
  for (iovec& g : guest) {
    if (!AccessOk(reinterpret_cast<uint64_t>(g.iov_base), g.iov_len)) return Errno(EFAULT);
    g.iov_len = std::min(g.iov_len, kMaxRwCount - total);
    total += g.iov_len;
  }
  SyscallResult r = DoIo(t, *file, guest, offset, dir, /*vector=*/true);
  if (r.ok() && dir == Dir::kWrite && (rwf & (RWF_DSYNC | RWF_SYNC))) {
    RETURN_IF_ERROR(file->Sync());
  }
  return r;
}

// preadv/pwritev's position: on x86-64 the low word is the whole offset.
int64_t PosFromHiLo(const SyscallArgs& a) { return a.Int64(3); }

}  // namespace

ErrnoOr<size_t> WriteLimit(Task& t, vfs::FileDescription& f, int64_t pos, size_t count) {
  const rlim_t limit = t.rlimit_of(RLIMIT_FSIZE).rlim_cur;
  if (limit == RLIM_INFINITY || count == 0) return count;
  ASSIGN_OR_RETURN(struct stat st, f.Stat());
  if (!S_ISREG(st.st_mode)) return count;
  uint64_t at = static_cast<uint64_t>(pos);
  if (pos < 0 || (f.status_flags() & O_APPEND)) {
    if (f.status_flags() & O_APPEND) {
      at = static_cast<uint64_t>(st.st_size);
    } else {
      ASSIGN_OR_RETURN(int64_t cur, f.Seek(0, SEEK_CUR));
      at = static_cast<uint64_t>(cur);
    }
  }
  if (at >= limit) {
    EfbigSignal(t);
    return Errno(EFBIG);
  }
  return static_cast<size_t>(std::min<uint64_t>(count, limit - at));
}

ErrnoOrOk NewSizeOk(Task& t, uint64_t old_size, uint64_t new_size) {
  const rlim_t limit = t.rlimit_of(RLIMIT_FSIZE).rlim_cur;
  if (new_size <= old_size || limit == RLIM_INFINITY || new_size <= limit) return Ok();
  EfbigSignal(t);
  return Errno(EFBIG);
}

SyscallResult Read(Task& t, const SyscallArgs& a) { return DoSingle(t, a, -1, Dir::kRead); }
SyscallResult Write(Task& t, const SyscallArgs& a) { return DoSingle(t, a, -1, Dir::kWrite); }
SyscallResult Readv(Task& t, const SyscallArgs& a) { return DoVector(t, a, -1, Dir::kRead); }
SyscallResult Writev(Task& t, const SyscallArgs& a) { return DoVector(t, a, -1, Dir::kWrite); }

SyscallResult Pread64(Task& t, const SyscallArgs& a) {
  if (a.Int64(3) < 0) return Errno(EINVAL);
  return DoSingle(t, a, a.Int64(3), Dir::kRead);
}

SyscallResult Pwrite64(Task& t, const SyscallArgs& a) {
  if (a.Int64(3) < 0) return Errno(EINVAL);
  return DoSingle(t, a, a.Int64(3), Dir::kWrite);
}

SyscallResult Preadv(Task& t, const SyscallArgs& a) {
  if (PosFromHiLo(a) < 0) return Errno(EINVAL);
  return DoVector(t, a, PosFromHiLo(a), Dir::kRead);
}

SyscallResult Pwritev(Task& t, const SyscallArgs& a) {
  if (PosFromHiLo(a) < 0) return Errno(EINVAL);
  return DoVector(t, a, PosFromHiLo(a), Dir::kWrite);
}

// preadv2/pwritev2: an offset of -1 means the file position (readv/writev).
SyscallResult Preadv2(Task& t, const SyscallArgs& a) {
  const int64_t pos = PosFromHiLo(a);
  if (pos < -1) return Errno(EINVAL);
  return DoVector(t, a, pos, Dir::kRead, a.Int(5));
}

SyscallResult Pwritev2(Task& t, const SyscallArgs& a) {
  const int64_t pos = PosFromHiLo(a);
  if (pos < -1) return Errno(EINVAL);
  return DoVector(t, a, pos, Dir::kWrite, a.Int(5));
}

SyscallResult Close(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  RETURN_IF_ERROR(t.fds().Close(a.Int(0)));
  ReleasePosixLocks(t, file);
  return 0;
}

}  // namespace sentry::syscalls
