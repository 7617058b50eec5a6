// read, write, readv, writev, pread64, pwrite64, close.
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>

#include <vector>

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

// Guest iovecs -> the Sentry's iovecs into guest memory, covering the longest
// valid prefix (Linux copies up to the first fault). EFAULT if nothing is valid
// but something was asked for.
ErrnoOr<std::vector<iovec>> Translate(Task& t, std::span<const iovec> guest, Dir dir) {
  std::vector<iovec> out, one;
  size_t total = 0;
  for (const iovec& g : guest) {
    size_t len = std::min(g.iov_len, kMaxRwCount - total);
    if (len == 0) continue;
    auto r = t.mm().InternalIovecs(UserAddr(reinterpret_cast<uint64_t>(g.iov_base)), len,
                                   /*write=*/dir == Dir::kRead, &one);
    out.insert(out.end(), one.begin(), one.end());
    total += r.done;
    if (!r.ok()) {
      if (total == 0) return Errno(EFAULT);
      break;
    }
    if (total == kMaxRwCount) break;
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
  ASSIGN_OR_RETURN(std::vector<iovec> iovs, Translate(t, guest, dir));
  ErrnoOr<size_t> n =
      dir == Dir::kRead ? file.Readv(&t, iovs, offset) : file.Writev(&t, iovs, offset);
  if (!n.ok()) return n.error();
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
SyscallResult DoVector(Task& t, const SyscallArgs& a, int64_t offset, Dir dir) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (offset >= 0 && !file->Seekable()) return Errno(ESPIPE);
  RETURN_IF_ERROR(FileFor(t, a.Int(0), dir));
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
  return DoIo(t, *file, guest, offset, dir, /*vector=*/true);
}

}  // namespace

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

SyscallResult Close(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.fds().Close(a.Int(0)));
  return 0;
}

}  // namespace sentry::syscalls
