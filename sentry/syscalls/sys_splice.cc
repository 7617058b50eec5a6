// Copies between files inside the Sentry: sendfile, copy_file_range.
// (splice and tee need pipes: the processes issue.)
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <vector>

#include "sentry/syscalls/handlers.h"
#include "sentry/vfs/file_description.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kMaxRwCount = INT_MAX & ~(kPageSize - 1);
constexpr size_t kChunk = 64 * 1024;

bool Readable(const vfs::FileDescription& f) {
  const int acc = f.status_flags() & O_ACCMODE;
  return !(f.status_flags() & O_PATH) && (acc == O_RDONLY || acc == O_RDWR);
}
bool Writable(const vfs::FileDescription& f) {
  const int acc = f.status_flags() & O_ACCMODE;
  return !(f.status_flags() & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

// Moves up to `count` bytes from `in` at `in_off` to `out` (at `out_off`, or
// its own position when negative). Returns the count moved; `*in_off`
// advances by it. An error only if nothing moved.
ErrnoOr<size_t> CopyLoop(Task& t, vfs::FileDescription& in, int64_t* in_off,
                         vfs::FileDescription& out, int64_t* out_off, size_t count) {
  std::vector<uint8_t> buf(std::min(count, kChunk));
  size_t done = 0;
  while (done < count) {
    iovec r{buf.data(), std::min(buf.size(), count - done)};
    auto n = in.Readv(&t, {&r, 1}, *in_off);
    if (!n.ok()) {
      if (done > 0) break;
      return n.error();
    }
    if (*n == 0) break;
    size_t written = 0;
    while (written < *n) {
      iovec w{buf.data() + written, *n - written};
      auto m = out.Writev(&t, {&w, 1}, out_off != nullptr ? *out_off : -1);
      if (!m.ok()) {
        *in_off += static_cast<int64_t>(written);
        done += written;
        if (done > 0) return done;
        return m.error();
      }
      if (out_off != nullptr) *out_off += static_cast<int64_t>(*m);
      written += *m;
    }
    *in_off += static_cast<int64_t>(*n);
    done += *n;
    if (*n < r.iov_len) break;
  }
  return done;
}

}  // namespace

SyscallResult Sendfile(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto in, t.fds().Get(a.Int(1)));
  if (!Readable(*in)) return Errno(EBADF);
  ASSIGN_OR_RETURN(auto out, t.fds().Get(a.Int(0)));
  if (!Writable(*out)) return Errno(EBADF);
  // The source must be a file with a position (not a pipe or a socket).
  if (!in->Seekable()) return Errno(EINVAL);
  if (out->status_flags() & O_APPEND) return Errno(EINVAL);
  const size_t count = std::min(a.Size(3), kMaxRwCount);
  int64_t off;
  const bool explicit_off = a[2] != 0;
  if (explicit_off) {
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int64_t>(2), &off));
    if (off < 0) return Errno(EINVAL);
  } else {
    ASSIGN_OR_RETURN(off, in->Seek(0, SEEK_CUR));
  }
  if (count == 0) return 0;
  const int64_t start = off;
  ASSIGN_OR_RETURN(size_t n, CopyLoop(t, *in, &off, *out, nullptr, count));
  if (explicit_off) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(2), off));
  } else {
    RETURN_IF_ERROR(in->Seek(start + static_cast<int64_t>(n), SEEK_SET));
  }
  return n;
}

SyscallResult CopyFileRange(Task& t, const SyscallArgs& a) {
  if (a[5] != 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto in, t.fds().Get(a.Int(0)));
  ASSIGN_OR_RETURN(auto out, t.fds().Get(a.Int(2)));
  if (!Readable(*in) || !Writable(*out)) return Errno(EBADF);
  if (out->status_flags() & O_APPEND) return Errno(EBADF);
  ASSIGN_OR_RETURN(struct stat sin, in->Stat());
  ASSIGN_OR_RETURN(struct stat sout, out->Stat());
  if (S_ISDIR(sin.st_mode) || S_ISDIR(sout.st_mode)) return Errno(EISDIR);
  if (!S_ISREG(sin.st_mode) || !S_ISREG(sout.st_mode)) return Errno(EINVAL);
  int64_t in_off, out_off;
  if (a[1] != 0) {
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int64_t>(1), &in_off));
  } else {
    ASSIGN_OR_RETURN(in_off, in->Seek(0, SEEK_CUR));
  }
  if (a[3] != 0) {
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int64_t>(3), &out_off));
  } else {
    ASSIGN_OR_RETURN(out_off, out->Seek(0, SEEK_CUR));
  }
  const size_t len = a.Size(4);
  // generic_copy_file_checks: offsets and lengths that overflow, and
  // overlapping ranges of the same file.
  if (in_off < 0 || out_off < 0) return Errno(EINVAL);
  uint64_t in_end, out_end;
  if (__builtin_add_overflow(static_cast<uint64_t>(in_off), len, &in_end) ||
      __builtin_add_overflow(static_cast<uint64_t>(out_off), len, &out_end) ||
      in_end > static_cast<uint64_t>(INT64_MAX) || out_end > static_cast<uint64_t>(INT64_MAX)) {
    return Errno(EOVERFLOW);
  }
  if (sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino &&
      static_cast<uint64_t>(out_off) < in_end && static_cast<uint64_t>(in_off) < out_end) {
    return Errno(EINVAL);
  }
  // Nothing past the end of the source.
  const uint64_t avail = static_cast<uint64_t>(in_off) >= static_cast<uint64_t>(sin.st_size)
                             ? 0
                             : sin.st_size - in_off;
  const size_t count = std::min<uint64_t>({len, avail, kMaxRwCount});
  if (count == 0) return 0;
  const int64_t in_start = in_off, out_start = out_off;
  ASSIGN_OR_RETURN(size_t n, CopyLoop(t, *in, &in_off, *out, &out_off, count));
  if (a[1] != 0) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(1), in_off));
  } else {
    RETURN_IF_ERROR(in->Seek(in_start + static_cast<int64_t>(n), SEEK_SET));
  }
  if (a[3] != 0) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(3), out_off));
  } else {
    RETURN_IF_ERROR(out->Seek(out_start + static_cast<int64_t>(n), SEEK_SET));
  }
  return n;
}

}  // namespace sentry::syscalls
