// Copies between files inside the Sentry: sendfile, copy_file_range, splice,
// tee.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <vector>

#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/vfs/file_description.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kMaxRwCount = INT_MAX & ~(kPageSize - 1);
constexpr size_t kChunk = 64 * 1024;

// What moved raises IN_ACCESS on the source and IN_MODIFY on the
// destination (files with a location: not anonymous pipes or sockets).
void NotifyMoved(vfs::FileDescription* in, vfs::FileDescription* out, size_t n) {
  if (n == 0) return;
  if (in != nullptr && in->location().ok()) vfs::NotifyFile(in->location().dentry, IN_ACCESS);
  if (out != nullptr && out->location().ok()) vfs::NotifyFile(out->location().dentry, IN_MODIFY);
}

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
  ASSIGN_OR_RETURN(count, WriteLimit(t, out, out_off != nullptr ? *out_off : -1, count));
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
      if (!m.ok() && m.error().value() == EPIPE) t.SendSigpipe();
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
  NotifyMoved(in.get(), out.get(), n);
  if (explicit_off) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(2), off));
  } else {
    RETURN_IF_ERROR(in->Seek(start + static_cast<int64_t>(n), SEEK_SET));
  }
  return n;
}

SyscallResult CopyFileRange(Task& t, const SyscallArgs& a) {
  // flags is an unsigned int: the register's upper half is not looked at.
  if (a.Uint(5) != 0) return Errno(EINVAL);
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
  // An offset plus the length that wraps as unsigned numbers comes first
  // (EOVERFLOW, so -1 with a length of 1 is EOVERFLOW), then a negative
  // offset (rw_verify_area: EINVAL).
  uint64_t in_end, out_end;
  if (__builtin_add_overflow(static_cast<uint64_t>(in_off), len, &in_end) ||
      __builtin_add_overflow(static_cast<uint64_t>(out_off), len, &out_end)) {
    return Errno(EOVERFLOW);
  }
  if (in_off < 0 || out_off < 0) return Errno(EINVAL);
  if (in_end > static_cast<uint64_t>(INT64_MAX) || out_end > static_cast<uint64_t>(INT64_MAX)) {
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
  NotifyMoved(in.get(), out.get(), n);
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

namespace {

using fsimpl::pipe::Pipe;
using fsimpl::pipe::PipeFile;

// SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT.
constexpr unsigned kSpliceAll = 0xf;
constexpr unsigned kSpliceNonblock = 0x2;
// What one pass moves at most through the Sentry's own buffer.
constexpr size_t kSpliceChunk = 1 << 20;

// An interrupted wait restarts or ends in EINTR, as the signal decides.
Errno Restart(Errno e) { return e.value() == EINTR ? Errno(kERESTARTSYS) : e; }

// Waits on both pipes' queues at once (for pipe-to-pipe moves).
ErrnoOrOk WaitEither(Task& t, Pipe& a, Pipe& b) {
  waiter::ScopedRegistration ra(a.queue(), &t.waker(), waiter::kEventAll);
  waiter::ScopedRegistration rb(b.queue(), &t.waker(), waiter::kEventAll);
  return t.Block(CLOCK_MONOTONIC, nullptr);
}

// splice_pipe_to_pipe and link_pipe (tee, `move` false).
SyscallResult PipeToPipe(Task& t, Pipe& in, Pipe& out, size_t len, bool nonblock, bool move) {
  auto data = in.WaitReadable(&t.waker(), nonblock);  // ipipe_prep
  if (!data.ok()) return Restart(data.error());
  auto room = out.WaitWritable(&t.waker(), nonblock);  // opipe_prep
  if (!room.ok()) {
    if (room.error().value() == EPIPE) t.SendSigpipe();
    return Restart(room.error());
  }
  for (;;) {
    bool no_readers = false, eof = false;
    const size_t n = Pipe::Transfer(in, out, len, move, &no_readers, &eof);
    if (no_readers) {
      t.SendSigpipe();
      return Errno(EPIPE);
    }
    if (n > 0 || eof) return n;
    // The input emptied or the output filled meanwhile.
    if (nonblock) return Errno(EAGAIN);
    // Tee copies what is there without waiting for more (link_pipe).
    if (!move) return 0;
    auto r = WaitEither(t, in, out);
    if (!r.ok()) return Restart(r.error());
  }
}

// A pipe's data to a file: do_splice_from (iter_file_splice_write).
SyscallResult PipeToFile(Task& t, Pipe& in, vfs::FileDescription& out, int64_t* off, size_t len,
                         bool nonblock) {
  auto data = in.WaitReadable(&t.waker(), nonblock);
  if (!data.ok()) return Restart(data.error());
  if (!*data) return 0;  // no writer: end of file
  ASSIGN_OR_RETURN(len, WriteLimit(t, out, off != nullptr ? *off : -1, len));
  std::vector<uint8_t> buf(std::min(len, kSpliceChunk));
  const size_t n = in.Peek(buf.data(), buf.size());
  iovec v{buf.data(), n};
  auto w = out.Writev(&t, {&v, 1}, off != nullptr ? *off : -1);
  if (!w.ok()) {
    if (w.error().value() == EPIPE) t.SendSigpipe();
    return w.error();
  }
  // Only what the file took leaves the pipe.
  in.Consume(*w);
  if (off != nullptr) *off += static_cast<int64_t>(*w);
  return *w;
}

// A file's data into a pipe: splice_file_to_pipe.
SyscallResult FileToPipe(Task& t, vfs::FileDescription& in, int64_t* off, Pipe& out, size_t len,
                         bool nonblock) {
  auto room = out.WaitWritable(&t.waker(), nonblock);
  if (!room.ok()) {
    if (room.error().value() == EPIPE) t.SendSigpipe();
    return Restart(room.error());
  }
  // As much as the free buffers hold.
  std::vector<uint8_t> buf(std::min({len, kSpliceChunk, out.Room()}));
  iovec v{buf.data(), buf.size()};
  ASSIGN_OR_RETURN(size_t n, in.Readv(&t, {&v, 1}, off != nullptr ? *off : -1));
  const size_t put = out.Append(buf.data(), n);
  if (off != nullptr) *off += static_cast<int64_t>(put);
  if (put < n && off == nullptr) {
    // What did not fit goes back to the file's position.
    (void)in.Seek(-static_cast<int64_t>(n - put), SEEK_CUR);
  }
  return put;
}

bool CanRead(const vfs::FileDescription& f) {
  const int acc = f.status_flags() & O_ACCMODE;
  return !(f.status_flags() & O_PATH) && (acc == O_RDONLY || acc == O_RDWR);
}
bool CanWrite(const vfs::FileDescription& f) {
  const int acc = f.status_flags() & O_ACCMODE;
  return !(f.status_flags() & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

}  // namespace

SyscallResult Splice(Task& t, const SyscallArgs& a) {
  const int fd_in = a.Int(0), fd_out = a.Int(2);
  const UserAddr off_in(a[1]), off_out(a[3]);
  const size_t len = std::min(a.Size(4), kMaxRwCount);
  unsigned flags = a.Uint(5);
  if (a.Size(4) == 0) return 0;
  if (flags & ~kSpliceAll) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto in, t.fds().Get(fd_in));
  ASSIGN_OR_RETURN(auto out, t.fds().Get(fd_out));
  PipeFile* ip = fsimpl::pipe::AsPipe(*in);
  PipeFile* op = fsimpl::pipe::AsPipe(*out);
  // __do_splice: offsets are for the side that is not a pipe.
  if ((ip != nullptr && off_in.value() != 0) || (op != nullptr && off_out.value() != 0)) {
    return Errno(ESPIPE);
  }
  int64_t in_pos = 0, out_pos = 0;
  if (off_out.value() != 0)
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int64_t>(off_out.value()), &out_pos));
  if (off_in.value() != 0)
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int64_t>(off_in.value()), &in_pos));
  // do_splice.
  if (!CanRead(*in) || !CanWrite(*out)) return Errno(EBADF);
  SyscallResult r = Errno(EINVAL);
  if (ip != nullptr && op != nullptr) {
    if (&ip->pipe() == &op->pipe()) return Errno(EINVAL);
    if ((in->status_flags() | out->status_flags()) & O_NONBLOCK) flags |= kSpliceNonblock;
    return PipeToPipe(t, ip->pipe(), op->pipe(), len, flags & kSpliceNonblock, /*move=*/true);
  }
  if (ip != nullptr) {
    if (off_out.value() != 0) {
      if (!out->Seekable()) return Errno(EINVAL);
      if (out_pos < 0) return Errno(EINVAL);
    }
    if (out->status_flags() & O_APPEND) return Errno(EINVAL);
    if (in->status_flags() & O_NONBLOCK) flags |= kSpliceNonblock;
    r = PipeToFile(t, ip->pipe(), *out, off_out.value() != 0 ? &out_pos : nullptr, len,
                   flags & kSpliceNonblock);
    if (r.ok()) NotifyMoved(nullptr, out.get(), *r);
    if (r.ok() && off_out.value() != 0) {
      RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int64_t>(off_out.value()), out_pos));
    }
    return r;
  }
  if (op != nullptr) {
    if (off_in.value() != 0) {
      if (!in->Seekable()) return Errno(EINVAL);
      if (in_pos < 0) return Errno(EINVAL);
    }
    if (out->status_flags() & O_NONBLOCK) flags |= kSpliceNonblock;
    r = FileToPipe(t, *in, off_in.value() != 0 ? &in_pos : nullptr, op->pipe(), len,
                   flags & kSpliceNonblock);
    if (r.ok()) NotifyMoved(in.get(), nullptr, *r);
    if (r.ok() && off_in.value() != 0) {
      RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int64_t>(off_in.value()), in_pos));
    }
    return r;
  }
  return Errno(EINVAL);
}

SyscallResult Tee(Task& t, const SyscallArgs& a) {
  unsigned flags = a.Uint(3);
  if (flags & ~kSpliceAll) return Errno(EINVAL);
  if (a.Size(2) == 0) return 0;
  const size_t len = std::min(a.Size(2), kMaxRwCount);
  ASSIGN_OR_RETURN(auto in, t.fds().Get(a.Int(0)));
  ASSIGN_OR_RETURN(auto out, t.fds().Get(a.Int(1)));
  if (!CanRead(*in) || !CanWrite(*out)) return Errno(EBADF);
  PipeFile* ip = fsimpl::pipe::AsPipe(*in);
  PipeFile* op = fsimpl::pipe::AsPipe(*out);
  if (ip == nullptr || op == nullptr || &ip->pipe() == &op->pipe()) return Errno(EINVAL);
  if ((in->status_flags() | out->status_flags()) & O_NONBLOCK) flags |= kSpliceNonblock;
  return PipeToPipe(t, ip->pipe(), op->pipe(), len, flags & kSpliceNonblock, /*move=*/false);
}

// vmsplice(2), by copying: the user's bytes become fresh pipe buffers (a
// write end) or the pipe's bytes go to the user's buffers (a read end).
// Linux references the user's pages instead (SPLICE_F_GIFT lets it steal
// them); a copy is what a reader observes either way, except that a caller
// changing its buffer after the call does not change what the pipe holds.
SyscallResult Vmsplice(Task& t, const SyscallArgs& a) {
  const unsigned flags = a.Uint(3);
  if (flags & ~kSpliceAll) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto f, t.fds().Get(a.Int(0)));
  // vmsplice_type: a writable file takes the user's data, a readable one
  // gives it.
  const bool to_pipe = CanWrite(*f);
  if (!to_pipe && !CanRead(*f)) return Errno(EBADF);
  // import_iovec.
  const uint64_t count = a[2];
  if (count > IOV_MAX) return Errno(EINVAL);
  std::vector<iovec> guest(count);
  if (count != 0) {
    auto r =
        t.mm().CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(guest.data()), count * sizeof(iovec)});
    if (!r.ok()) return Errno(EFAULT);
  }
  size_t total = 0;
  for (iovec& g : guest) {
    if (static_cast<ssize_t>(g.iov_len) < 0) return Errno(EINVAL);
    if (!AccessOk(reinterpret_cast<uint64_t>(g.iov_base), g.iov_len)) return Errno(EFAULT);
    g.iov_len = std::min(g.iov_len, kMaxRwCount - total);
    total += g.iov_len;
  }
  if (total == 0) return 0;
  PipeFile* pf = fsimpl::pipe::AsPipe(*f);
  if (pf == nullptr) return Errno(EBADF);
  fsimpl::pipe::Pipe& p = pf->pipe();
  const bool nonblock = flags & kSpliceNonblock;
  if (to_pipe) {
    // vmsplice_to_pipe: wait_for_space, then fill what is free.
    auto room = p.WaitWritable(&t.waker(), nonblock);
    if (!room.ok()) {
      if (room.error().value() == EPIPE) t.SendSigpipe();
      return Restart(room.error());
    }
    std::vector<uint8_t> buf(std::min({total, kSpliceChunk, p.Room()}));
    size_t got = 0;
    for (const iovec& g : guest) {
      if (got == buf.size()) break;
      const size_t want = std::min(g.iov_len, buf.size() - got);
      if (want == 0) continue;
      auto r =
          t.mm().CopyIn(UserAddr(reinterpret_cast<uint64_t>(g.iov_base)), {buf.data() + got, want});
      got += r.done;
      if (!r.ok()) break;
    }
    if (got == 0) return Errno(EFAULT);
    return p.Append(buf.data(), got);
  }
  // vmsplice_to_user: __splice_from_pipe into the user's buffers.
  auto data = p.WaitReadable(&t.waker(), nonblock);
  if (!data.ok()) return Restart(data.error());
  if (!*data) return 0;
  std::vector<uint8_t> buf(std::min(total, kSpliceChunk));
  const size_t n = p.Peek(buf.data(), buf.size());
  size_t put = 0;
  for (const iovec& g : guest) {
    if (put == n) break;
    const size_t want = std::min(g.iov_len, n - put);
    if (want == 0) continue;
    auto r =
        t.mm().CopyOut(UserAddr(reinterpret_cast<uint64_t>(g.iov_base)), {buf.data() + put, want});
    put += r.done;
    if (!r.ok()) break;
  }
  p.Consume(put);
  if (put == 0) return Errno(EFAULT);
  return put;
}

}  // namespace sentry::syscalls
