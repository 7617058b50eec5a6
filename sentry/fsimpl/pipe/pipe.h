// Pipes and FIFOs, as Linux's fs/pipe.c: a ring of page-sized buffers shared
// by the descriptions of its ends. pipe(2) makes an anonymous pipe (pipefs);
// a FIFO's inode keeps a NamedPipe whose opens share one pipe while any end
// is open. See README.md for the design and the lock order.
//
// Lock order: Pipe::mu_ > the pipe's waiter::Queue > what waiters take.
#ifndef SENTRY_FSIMPL_PIPE_PIPE_H_
#define SENTRY_FSIMPL_PIPE_PIPE_H_

#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::pipe {

inline constexpr size_t kPipePage = 4096;        // one buffer (PAGE_SIZE)
inline constexpr size_t kPipeBuf = 4096;         // PIPE_BUF: writes up to it are atomic
inline constexpr uint32_t kDefaultSlots = 16;    // PIPE_DEF_BUFFERS: 64 KiB
inline constexpr uint32_t kMinDefaultSlots = 2;  // PIPE_MIN_DEF_BUFFERS (over the soft limit)
// /proc/sys/fs/pipe-max-size: the largest size an unprivileged F_SETPIPE_SZ
// may ask for.
inline constexpr uint32_t kPipeMaxSize = 1 << 20;
// /proc/sys/fs/pipe-user-pages-soft: the pages one user's pipes may hold
// before new pipes shrink to kMinDefaultSlots and growing is EPERM.
inline constexpr uint64_t kPipeUserPagesSoft = 16384;
// An end was opened (what a FIFO open waits for). Only on a pipe's queue.
inline constexpr uint32_t kEventPipeOpen = 1u << 25;

// Who makes or resizes a pipe: the user its buffers are charged to, and
// whether it has CAP_SYS_RESOURCE (the limits do not apply) and
// CAP_SYS_ADMIN (with CAP_SYS_RESOURCE, pipe_is_unprivileged_user's test).
struct PipeUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool cap_sys_resource = false;
  bool cap_sys_admin = false;
};

// The pages charged to `uid`'s pipes (pipe_user_pages_soft's count), for tests.
uint64_t ChargedPages(uint32_t uid);

class Pipe {
 public:
  // A pipe with no ends yet. `named`: a FIFO (its opens wait for the other
  // end; an anonymous pipe's never do).
  Pipe(const PipeUser& user, bool named);
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  bool named() const { return named_; }
  uint64_t ino() const { return ino_; }

  // --- Ends (fifo_open and pipe_release's counting). ---
  // Counts an end that reads and/or writes.
  void AddEnd(bool read, bool write);
  void RemoveEnd(bool read, bool write);
  struct Counts {
    int readers, writers;
    uint64_t r_counter, w_counter;  // ends ever opened for reading/writing
  };
  Counts counts() const;

  // --- I/O. One pass each, never waiting: the description loops. ---
  // Moves data into `dst` (Sentry addresses): the bytes read (> 0), 0 at end
  // of file (empty, no writer), or EAGAIN when a reader must wait.
  ErrnoOr<size_t> Read(std::span<const iovec> dst);
  // Moves data from `*src` (advanced past what was taken): the bytes taken,
  // 0 when full, EPIPE when nobody reads. `first` is the call's first pass
  // (the only one that may merge into the last buffer; `total` is the whole
  // call's length); `packet` is O_DIRECT (one buffer per write of up to a
  // page, read whole).
  ErrnoOr<size_t> Write(std::span<iovec>* src, size_t total, bool first, bool packet);
  // Whether a writer must wait (full, and someone reads).
  bool MustWaitToWrite() const;

  // pipe_poll: the events of an end that reads and/or writes. `f_pipe` is
  // the description's writer count at open (POLLHUP is held back until a
  // writer came and went, for a FIFO opened O_RDONLY|O_NONBLOCK).
  uint32_t Readiness(bool read, bool write, uint64_t f_pipe) const;
  waiter::Queue& queue() { return queue_; }

  // FIONREAD: the bytes in the pipe.
  size_t Available() const;
  // F_GETPIPE_SZ.
  size_t Capacity() const;
  // F_SETPIPE_SZ (pipe_set_size): the new capacity; EINVAL, EPERM, EBUSY.
  ErrnoOr<size_t> SetCapacity(uint32_t size, const PipeUser& who);

  // fstat of an anonymous pipe.
  struct stat Stat() const;

  // --- splice and tee. ---
  // Waits (unless `w` is null or `nonblock`: EAGAIN) until the pipe has data
  // (true) or no writer (false); EINTR.
  ErrnoOr<bool> WaitReadable(waiter::Waker* w, bool nonblock);
  // Waits (unless `w` is null or `nonblock`: EAGAIN) until a buffer is
  // free; EPIPE without readers; EINTR.
  ErrnoOrOk WaitWritable(waiter::Waker* w, bool nonblock);
  // Copies up to `max` bytes from the front into `buf`, leaving them.
  size_t Peek(uint8_t* buf, size_t max) const;
  // Drops `n` bytes from the front (what a Peek showed).
  void Consume(size_t n);
  // What the free buffers hold: a page each.
  size_t Room() const;
  // Appends up to `n` bytes of `buf` in fresh buffers that later writes do
  // not merge into (what a file spliced in fills), as many as are free.
  size_t Append(const uint8_t* buf, size_t n);
  // Pipe to pipe, both locked: up to `len` bytes of `in`'s buffers become
  // buffers of `out` (moved, or copied for tee), while `out` has room. Sets
  // `*no_readers` when `out` has no reader and `*eof` when `in` is empty
  // without a writer. (Both locks are taken by address, which the analysis
  // cannot follow.)
  static size_t Transfer(Pipe& in, Pipe& out, size_t len, bool move, bool* no_readers,
                         bool* eof) ABSL_NO_THREAD_SAFETY_ANALYSIS;

 private:
  friend class NamedPipe;
  struct Buffer {
    std::unique_ptr<uint8_t[]> page;
    uint32_t offset = 0;
    uint32_t len = 0;
    bool packet = false;
    bool merge = true;  // PIPE_BUF_FLAG_CAN_MERGE: writes may append
  };
  bool FullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return bufs_.size() >= max_usage_; }
  std::unique_ptr<uint8_t[]> PageLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const bool named_;
  const uint64_t ino_;
  const uint32_t uid_, gid_;
  mutable absl::Mutex mu_;
  std::deque<Buffer> bufs_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<uint8_t[]> spare_ ABSL_GUARDED_BY(mu_);  // tmp_page
  uint32_t max_usage_ ABSL_GUARDED_BY(mu_);
  uint32_t nr_accounted_ ABSL_GUARDED_BY(mu_);
  int readers_ ABSL_GUARDED_BY(mu_) = 0;
  int writers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t r_counter_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t w_counter_ ABSL_GUARDED_BY(mu_) = 1;
  timespec ctime_ ABSL_GUARDED_BY(mu_){};
  timespec mtime_ ABSL_GUARDED_BY(mu_){};
  timespec atime_ ABSL_GUARDED_BY(mu_){};
  waiter::Queue queue_;
};

// One end of a pipe: what an fd of pipe(2) or an open FIFO holds.
class PipeFile : public vfs::FileDescription {
 public:
  // An end of `pipe` whose access mode is flags'; the caller has counted it
  // (Pipe::AddEnd, NamedPipe::Open).
  PipeFile(std::shared_ptr<Pipe> pipe, int flags, uint64_t f_pipe = 0);
  ~PipeFile() override;

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  // "pipe:[ino]" (a FIFO has its path as its location).
  std::string Describe() const override;
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override;
  void EventUnregister(waiter::Waiter* w) override;
  bool CanPoll() const override { return true; }
  // /proc/self/fd/N of an anonymous pipe: another end of the same pipe
  // (never waiting, as fifo_open for pipefs).
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Reopen(int flags) override;
  // A FIFO open that must wait for the other end does it here.
  ErrnoOrOk WaitOpened(kernel::Task& t) override;

  // The same I/O with an explicit waker (null: never wait), for tests and
  // the syscalls: EINTR when interrupted.
  ErrnoOr<size_t> Read(waiter::Waker* w, std::span<const iovec> dst);
  ErrnoOr<size_t> Write(waiter::Waker* w, std::span<const iovec> src);
  // Waits until the counter an open waits on moves (wait_for_partner).
  ErrnoOrOk WaitForPartner(waiter::Waker& w);

  Pipe& pipe() const { return *pipe_; }
  bool readable() const { return read_; }
  bool writable() const { return write_; }

 private:
  friend class NamedPipe;
  const std::shared_ptr<Pipe> pipe_;
  const bool read_;
  const bool write_;
  const uint64_t f_pipe_;
  // A FIFO open that waits: for w_counter (a reader) or r_counter (a writer)
  // to move past `wait_from_`.
  enum class Wait { kNone, kWriter, kReader } wait_ = Wait::kNone;
  uint64_t wait_from_ = 0;
};

// A FIFO's pipe, kept by its inode (Linux's i_pipe): opens share one pipe
// while any end of it is open.
class NamedPipe {
 public:
  // fifo_open, the part that never blocks (it runs under the VFS lock):
  // counts the end, ENXIO for O_WRONLY|O_NONBLOCK without a reader, EINVAL
  // for an access mode of 3. A blocking open's wait is left to WaitOpened.
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(int flags);

 private:
  absl::Mutex mu_;
  std::weak_ptr<Pipe> pipe_ ABSL_GUARDED_BY(mu_);
};

// pipe(2)'s two descriptions: [0] reads (O_NONBLOCK from `flags`), [1] writes
// (O_NONBLOCK and O_DIRECT from `flags`).
std::pair<std::shared_ptr<PipeFile>, std::shared_ptr<PipeFile>> NewPipe(const PipeUser& user,
                                                                        int flags);

// The pipe behind `f`, or null when it is not a pipe (pipe_fcntl's EBADF).
PipeFile* AsPipe(vfs::FileDescription& f);

}  // namespace sentry::fsimpl::pipe

#endif  // SENTRY_FSIMPL_PIPE_PIPE_H_
