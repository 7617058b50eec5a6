// An open file description: what an fd refers to (offset, status flags, the
// file, and where it was opened). Data moves through the Sentry's internal
// iovecs into guest memory (see MemoryManager::InternalIovecs).
#ifndef SENTRY_VFS_FILE_DESCRIPTION_H_
#define SENTRY_VFS_FILE_DESCRIPTION_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/memory/mappable.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/locks.h"
#include "sentry/vfs/vfs.h"
#include "sentry/waiter/waiter.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::vfs {

// A terminal's job-control state: the session it is the controlling terminal
// of (0: none) and its foreground process group. Shared by every description
// of the same terminal; guarded by the kernel's task-tree lock
// (sentry::kernel::tree_mu), which owns the session rules (kernel/tty.cc).
struct TtyJobControl {
  int sid = 0;
  int fg_pgid = 0;
};

class FileDescription {
 public:
  explicit FileDescription(int status_flags) : status_flags_(status_flags) {}
  // Drops the flock and OFD locks the description holds, and leaves the
  // epoll sets that watch it.
  virtual ~FileDescription() {
    ReleaseEpollLinks();
    // IN_CLOSE_WRITE or IN_CLOSE_NOWRITE (Linux's __fput), never for O_PATH.
    if (location_.ok() && !(status_flags() & O_PATH) && AnyInotifyWatches()) {
      const int acc = status_flags() & O_ACCMODE;
      NotifyFile(location_.dentry,
                 (acc == O_WRONLY || acc == O_RDWR) ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE);
    }
    if (lock_table_ != nullptr && location_.ok()) {
      lock_table_->ReleaseOn(location_.dentry->inode().get(),
                             {LockOwner::kDescription, reinterpret_cast<uintptr_t>(this)});
    }
  }

  // `offset` < 0 means the description's own offset (advanced by the call).
  // `dst`/`src` are Sentry addresses. Returns bytes transferred; may block
  // (interruptibly, through the task). `t` is null for the Sentry's own I/O
  // (the loader, copy-up), which never blocks: EAGAIN instead.
  virtual ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) = 0;
  virtual ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) = 0;
  // Whether Readv/Writev hand the iovecs to the host kernel (readv(2) and
  // friends), which turns an inaccessible address into EFAULT. Such a file
  // may be given iovecs pointing at memory the Sentry keeps inaccessible, for
  // the part of a guest buffer that is not mapped: the host then faults
  // exactly where Linux would, after transferring what Linux would (nothing,
  // for /dev/null or an end of file).
  virtual bool HostCopies() const { return false; }
  // Whether pread/pwrite are allowed (ESPIPE otherwise).
  virtual bool Seekable() const = 0;
  virtual ErrnoOr<struct stat> Stat() = 0;
  virtual ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) = 0;
  // For /proc/pid/fd and strace: e.g. "host:[1]" or a path.
  virtual std::string Describe() const = 0;

  // lseek(2); ESPIPE for files without a position.
  virtual ErrnoOr<int64_t> Seek(int64_t offset, int whence) {
    (void)offset, (void)whence;
    return Errno(ESPIPE);
  }
  // getdents64: entries from the description's position on, until `sink`
  // refuses one; the position advances past what was taken.
  virtual ErrnoOrOk IterateDir(const DirEntrySink& sink) {
    (void)sink;
    return Errno(ENOTDIR);
  }
  virtual ErrnoOrOk Sync() { return Ok(); }
  // f_op->flush: process `tgid` closed an fd of this description (close,
  // dup2 over it, close_range, close-on-exec, the last exit of an fd table).
  virtual void Flush(int32_t tgid) { (void)tgid; }
  // fallocate(2) mode 0 and FALLOC_FL_KEEP_SIZE; ENODEV for non-files.
  virtual ErrnoOrOk Allocate(int mode, uint64_t offset, uint64_t length) {
    (void)mode, (void)offset, (void)length;
    return Errno(ENODEV);
  }

  // Opening it again through a magic link (/proc/self/fd/N) when it has no
  // location: a new description of the same file. ENXIO where impossible (as
  // Linux for sockets).
  virtual ErrnoOr<std::shared_ptr<FileDescription>> Reopen(int flags) {
    (void)flags;
    return Errno(ENXIO);
  }

  // Truncation of a file with no location (O_TRUNC through a magic link).
  virtual ErrnoOrOk SetSize(uint64_t size) {
    (void)size;
    return Errno(EINVAL);
  }

  // F_GET_SEALS / F_ADD_SEALS: EINVAL for files that cannot be sealed.
  virtual ErrnoOr<int> GetSeals() { return Errno(EINVAL); }
  virtual ErrnoOrOk AddSeals(int seals) {
    (void)seals;
    return Errno(EINVAL);
  }

  // --- Readiness, for poll, select and epoll (and blocking I/O). ---
  // The poll(2) events in `mask` the file has now. Regular files and
  // directories are always readable and writable, as in Linux.
  virtual uint32_t Readiness(uint32_t mask) {
    return mask & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
  }
  // Hear about changes in readiness (files whose readiness never changes
  // need not: the default registers nowhere).
  virtual void EventRegister(waiter::Waiter* w, uint32_t mask) { (void)w, (void)mask; }
  virtual void EventUnregister(waiter::Waiter* w) { (void)w; }
  // A host fd whose readiness is the file's (a donated host fd): waits poll it
  // on the host instead of registering. -1 otherwise.
  virtual int HostPollFd() const { return -1; }
  // Whether the file has a poll method (Linux's file_can_poll): epoll_ctl
  // refuses the others with EPERM, while poll and select see them as always
  // ready (Readiness).
  virtual bool CanPoll() const { return false; }

  // --- Epoll entries watching the description (Linux's f_ep). An entry
  // holds the description weakly and must leave when it goes: the
  // description tells it. ---
  class EpollLink {
   public:
    virtual ~EpollLink() = default;
    // The description is going; `f` is it. Called once, never under the
    // description's own locks; EventUnregister still reaches the file's own
    // queues when the file called ReleaseEpollLinks from its destructor.
    virtual void DescriptionReleased(FileDescription& f) = 0;
  };
  void AddEpollLink(std::shared_ptr<EpollLink> l) {
    absl::MutexLock lock(&epoll_links_mu_);
    epoll_links_.push_back(std::move(l));
  }
  void RemoveEpollLink(const EpollLink* l) {
    std::shared_ptr<EpollLink> gone;  // released outside the lock
    absl::MutexLock lock(&epoll_links_mu_);
    for (auto it = epoll_links_.begin(); it != epoll_links_.end(); ++it) {
      if (it->get() == l) {
        gone = std::move(*it);
        epoll_links_.erase(it);
        break;
      }
    }
  }

  // open(2) calls this once the VFS has made the description and let go of
  // its lock: where an open waits, interruptibly (a FIFO opened for reading
  // waits for a writer). Not called for the Sentry's own opens.
  virtual ErrnoOrOk WaitOpened(kernel::Task& t) {
    (void)t;
    return Ok();
  }

  // Lines /proc/<pid>/fdinfo/<fd> adds after the common ones, each ending in
  // a newline ("eventfd-count: ...").
  virtual std::string FdInfo() const { return ""; }

  // A terminal's job-control state, or null for files that are not
  // terminals (the job-control ioctls are then ENOTTY).
  virtual std::shared_ptr<TtyJobControl> JobControl() { return nullptr; }

  // What mmap maps; null when the file cannot be mapped (ENODEV).
  virtual std::shared_ptr<memory::Mappable> Mappable() { return nullptr; }

  // Where the file was opened: unset for donated host fds, pipes, sockets.
  const VirtualDentry& location() const { return location_; }
  void set_location(VirtualDentry vd) { location_ = std::move(vd); }
  // The description holds locks in `t` (released with it).
  void NoteLocks(LockTable* t) { lock_table_ = t; }

  // O_APPEND, O_NONBLOCK, ... plus the access mode.
  int status_flags() const { return status_flags_.load(std::memory_order_relaxed); }
  virtual void set_status_flags(int f) { status_flags_.store(f, std::memory_order_relaxed); }

 protected:
  // Tells the watching epoll entries that the description is going (once; the
  // base destructor calls it too). A description whose EventRegister
  // registers on a queue that may outlive it (a pipe end on its pipe's) calls
  // this first thing in its destructor, while its EventUnregister still works.
  void ReleaseEpollLinks() {
    std::vector<std::shared_ptr<EpollLink>> links;
    {
      absl::MutexLock lock(&epoll_links_mu_);
      links.swap(epoll_links_);
    }
    for (const auto& l : links) l->DescriptionReleased(*this);
  }

 private:
  std::atomic<int> status_flags_;
  absl::Mutex epoll_links_mu_;
  std::vector<std::shared_ptr<EpollLink>> epoll_links_ ABSL_GUARDED_BY(epoll_links_mu_);
  VirtualDentry location_;
  LockTable* lock_table_ = nullptr;
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_FILE_DESCRIPTION_H_
