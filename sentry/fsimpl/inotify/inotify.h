// An inotify instance (Linux's fs/notify/inotify/inotify_user.c): the
// description inotify_init1 returns. It holds its watches by descriptor
// (wd) and a queue of events that read(2) hands out; the VFS delivers into
// it through vfs::InotifySink (sentry/vfs/inotify.h).
//
// Lock order: VFS mu_ > InotifyFile::mu_ > InodeWatches::mu_; the waiter
// queue is notified with no lock held.
#ifndef SENTRY_FSIMPL_INOTIFY_INOTIFY_H_
#define SENTRY_FSIMPL_INOTIFY_INOTIFY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inotify.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::inotify {

// /proc/sys/fs/inotify/max_queued_events: past it, one IN_Q_OVERFLOW.
inline constexpr size_t kMaxQueuedEvents = 16384;

class InotifyFile final : public vfs::FileDescription, public vfs::InotifySink {
 public:
  // `flags`: O_NONBLOCK from IN_NONBLOCK.
  static std::shared_ptr<InotifyFile> Create(int flags);
  explicit InotifyFile(int flags);
  ~InotifyFile() override;

  // inotify_add_watch once the path is resolved: the watch's descriptor (an
  // existing watch on `inode` is updated: replaced, or ORed with
  // IN_MASK_ADD; EEXIST with IN_MASK_CREATE).
  ErrnoOr<int> AddWatch(std::shared_ptr<vfs::Inode> inode, uint32_t mask);
  // inotify_rm_watch: EINVAL for an unknown wd; queues IN_IGNORED.
  ErrnoOrOk RmWatch(int wd);

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  // noop_llseek: the position stays 0.
  ErrnoOr<int64_t> Seek(int64_t, int) override { return int64_t{0}; }
  ErrnoOr<struct stat> Stat() override;
  // FIONREAD: the bytes of the queued events.
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;  // anon_inode:inotify
  std::string FdInfo() const override;    // one "inotify wd:..." line per watch
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override { queue_.EventRegister(w, mask); }
  void EventUnregister(waiter::Waiter* w) override { queue_.EventUnregister(w); }
  bool CanPoll() const override { return true; }

  void Deliver(vfs::InotifyWatch& w, uint32_t mask, uint32_t cookie,
               std::string_view name) override;
  void WatchGone(vfs::InotifyWatch& w) override;

 private:
  struct Event {
    int32_t wd;
    uint32_t mask;
    uint32_t cookie;
    std::string name;
    // struct inotify_event and the name padded (with at least one NUL) to
    // a multiple of its size.
    size_t Size() const;
  };
  // Queues `e`, merging it into an identical last event, or IN_Q_OVERFLOW
  // once the queue is full. Returns whether readers should wake.
  bool QueueLocked(Event e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeReaders();

  std::weak_ptr<InotifyFile> self_;
  mutable absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::shared_ptr<vfs::InotifyWatch>> watches_ ABSL_GUARDED_BY(mu_);
  int next_wd_ ABSL_GUARDED_BY(mu_) = 1;
  waiter::Queue queue_;
};

// The instance behind a description, or null.
InotifyFile* AsInotify(vfs::FileDescription& f);

}  // namespace sentry::fsimpl::inotify

#endif  // SENTRY_FSIMPL_INOTIFY_INOTIFY_H_
