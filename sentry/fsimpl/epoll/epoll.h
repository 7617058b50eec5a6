// epoll (Linux's fs/eventpoll.c): an interest set of (description, fd)
// entries and a ready list. An entry registers on its file's wait queue; the
// file's notification puts it on the ready list; epoll_wait polls the listed
// entries again and reports the ready ones (level-triggered entries stay
// listed, edge-triggered ones wait for the next notification, one-shot ones
// are disabled). Entries belong to the description, not the fd: they go when
// the description does (vfs::FileDescription::EpollLink). See README.md.
//
// Lock order: the global nesting lock (epoll_ctl adding an epoll) >
// EpollFile::mu_ (the interest set; an outer epoll's before an inner one's)
// > a watched file's own locks > its waiter::Queue > Entry::NotifyEvent's
// ready lock (a leaf) ... then, with the ready lock released, the epoll's own
// queue (whose waiters may be an outer epoll's entries: queue locks nest
// along the epoll chain, acyclic because epoll_ctl refuses loops).
#ifndef SENTRY_FSIMPL_EPOLL_EPOLL_H_
#define SENTRY_FSIMPL_EPOLL_EPOLL_H_

#include <poll.h>
#include <sys/epoll.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::epoll {

// EP_MAX_NESTS: how deep epolls may be nested in epolls.
inline constexpr int kMaxNests = 4;
// The flags that are not events (EP_PRIVATE_BITS).
inline constexpr uint32_t kPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;

class EpollFile : public vfs::FileDescription, public std::enable_shared_from_this<EpollFile> {
 public:
  static std::shared_ptr<EpollFile> Create();
  ~EpollFile() override;

  // --- epoll_ctl. The caller has checked the arguments (see sys_epoll.cc);
  // `events` includes EPOLLERR | EPOLLHUP. ---
  // EEXIST if (file, fd) is watched; ELOOP when `file` is an epoll that
  // watches this one (at any depth) or is nested too deep.
  ErrnoOrOk Add(int fd, const std::shared_ptr<vfs::FileDescription>& file, uint32_t events,
                uint64_t data);
  // ENOENT if not watched; EINVAL for an entry added with EPOLLEXCLUSIVE.
  ErrnoOrOk Modify(int fd, const std::shared_ptr<vfs::FileDescription>& file, uint32_t events,
                   uint64_t data);
  ErrnoOrOk Delete(int fd, const std::shared_ptr<vfs::FileDescription>& file);

  // Up to `max` ready events now (ep_send_events).
  std::vector<epoll_event> Collect(int max);
  // Collects, waiting while there is nothing: until `deadline` (absolute, on
  // CLOCK_MONOTONIC; null: forever) passes (an empty result) or `w` is
  // interrupted (EINTR). A null `w` never waits.
  ErrnoOr<std::vector<epoll_event>> Wait(waiter::Waker* w, int max, const timespec* deadline);

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  // noop_llseek: the position stays 0.
  ErrnoOr<int64_t> Seek(int64_t, int) override { return int64_t{0}; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;  // anon_inode:[eventpoll]
  std::string FdInfo() const override;    // one "tfd: ..." line per entry
  // POLLIN | POLLRDNORM while some listed entry is ready.
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override;
  void EventUnregister(waiter::Waiter* w) override;
  bool CanPoll() const override { return true; }

  // Entries (for tests).
  size_t size();

 private:
  struct Entry;
  // What an entry's notification touches: kept alive by every entry, so that
  // a notification never reaches a freed epoll.
  struct Shared {
    absl::Mutex ready_mu;  // a leaf
    std::list<Entry*> ready ABSL_GUARDED_BY(ready_mu);
    waiter::Queue queue;                // whoever waits on the epoll itself
    std::atomic<bool> has_dead{false};  // some entry's description went
  };
  using Key = std::pair<const vfs::FileDescription*, int>;

  EpollFile();
  // How many levels of epolls are below this one (0: none), and whether
  // `target` is among them (then more than kMaxNests). Takes each epoll's
  // mu_ in turn, never two at once.
  int HeightBelow(const EpollFile* target, bool* found);
  // How many levels of epolls watch this one (0: none).
  int DepthAbove();
  // Drops `e` from the interest set, the host list and the ready list.
  void RemoveLocked(const std::shared_ptr<Entry>& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts `e` on the ready list unless it is there; true if it was not.
  bool Link(Entry* e);
  // Drops the entries whose descriptions went (Entry::DescriptionReleased
  // marks them dead).
  void PurgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<pollfd> HostPollFds();
  // Collect's work under mu_; the files it polled go in `keep`, released by
  // the caller after the lock (one may be the last reference, and a
  // description's release takes mu_).
  void CollectLocked(int max, std::vector<epoll_event>* out,
                     std::vector<std::shared_ptr<vfs::FileDescription>>* keep);

  const std::shared_ptr<Shared> shared_;
  mutable absl::Mutex mu_;
  std::map<Key, std::shared_ptr<Entry>> interest_ ABSL_GUARDED_BY(mu_);
  // Entries on donated host fds: no queue tells about them, so every
  // collection polls them (level-triggered, whatever EPOLLET says).
  std::vector<Entry*> host_ ABSL_GUARDED_BY(mu_);
  // The epolls watching this one, for the nesting limit; each removes
  // itself before it is freed. A leaf lock.
  absl::Mutex parents_mu_;
  std::vector<EpollFile*> parents_ ABSL_GUARDED_BY(parents_mu_);
};

// The epoll behind `f`, or null.
EpollFile* AsEpoll(vfs::FileDescription& f);

}  // namespace sentry::fsimpl::epoll

#endif  // SENTRY_FSIMPL_EPOLL_EPOLL_H_
