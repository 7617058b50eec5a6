#include "sentry/fsimpl/epoll/epoll.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/anon/anon_inode.h"

namespace sentry::fsimpl::epoll {
namespace {

// Serializes epoll_ctl calls that put an epoll in an epoll, so two of them
// cannot close a loop together (Linux's epnested_mutex).
absl::Mutex& NestMutex() {
  static absl::Mutex* const mu = new absl::Mutex();
  return *mu;
}

// What an entry registers for on its file's queue, and polls it for.
uint32_t PollMask(uint32_t events) { return (events & ~kPrivateBits) | POLLERR | POLLHUP; }

}  // namespace

// One watched (description, fd).
struct EpollFile::Entry : public waiter::Waiter, public vfs::FileDescription::EpollLink {
  Entry(std::shared_ptr<Shared> s, const std::shared_ptr<vfs::FileDescription>& f, int fd,
        uint32_t ev, uint64_t d, bool on_host)
      : shared(std::move(s)), file(f), key(f.get(), fd), events(ev), data(d), host(on_host) {}

  // Under the queue's lock: on the ready list, then wake whoever waits on
  // the epoll (ep_poll_callback).
  void NotifyEvent(uint32_t) override {
    // A one-shot entry that fired waits for EPOLL_CTL_MOD.
    if ((events.load(std::memory_order_acquire) & ~kPrivateBits) == 0) return;
    {
      absl::MutexLock l(&shared->ready_mu);
      if (linked) return;  // already listed: its waiters were woken then
      it = shared->ready.insert(shared->ready.end(), this);
      linked = true;
    }
    shared->queue.Notify(POLLIN | POLLRDNORM);
  }

  // The description is going. Its release may come under any lock, an
  // epoll's own mu_ included (the last reference dropped by a nested
  // epoll's poll), so the entry only leaves the queue and the ready list
  // here and is marked dead; the epoll drops dead entries under its own lock
  // (PurgeLocked), as Linux defers a file's final release.
  void DescriptionReleased(vfs::FileDescription& f) override {
    f.EventUnregister(this);
    dead.store(true, std::memory_order_release);
    {
      absl::MutexLock l(&shared->ready_mu);
      if (linked) {
        shared->ready.erase(it);
        linked = false;
      }
    }
    shared->has_dead.store(true, std::memory_order_release);
  }

  const std::shared_ptr<Shared> shared;
  const std::weak_ptr<vfs::FileDescription> file;
  const Key key;
  // Written under the epoll's mu_; read by NotifyEvent too.
  std::atomic<uint32_t> events;
  uint64_t data;  // under the epoll's mu_
  const bool host;
  std::atomic<bool> dead{false};
  // Under shared->ready_mu.
  bool linked = false;
  std::list<Entry*>::iterator it;
};

std::shared_ptr<EpollFile> EpollFile::Create() {
  return std::shared_ptr<EpollFile>(new EpollFile());
}

EpollFile::EpollFile() : FileDescription(O_RDWR), shared_(std::make_shared<Shared>()) {}

EpollFile::~EpollFile() {
  // Outer epolls leave our queue while EventUnregister still reaches it.
  ReleaseEpollLinks();
  std::map<Key, std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock l(&mu_);
    entries.swap(interest_);
    host_.clear();
  }
  for (auto& [key, e] : entries) {
    std::shared_ptr<vfs::FileDescription> f = e->file.lock();
    if (f == nullptr) continue;  // going: it tells the entry (which it holds)
    f->EventUnregister(e.get());
    f->RemoveEpollLink(e.get());
    if (EpollFile* child = AsEpoll(*f)) {
      absl::MutexLock l(&child->parents_mu_);
      auto it = std::find(child->parents_.begin(), child->parents_.end(), this);
      if (it != child->parents_.end()) child->parents_.erase(it);
    }
  }
}

bool EpollFile::Link(Entry* e) {
  absl::MutexLock l(&shared_->ready_mu);
  if (e->linked) return false;
  e->it = shared_->ready.insert(shared_->ready.end(), e);
  e->linked = true;
  return true;
}

void EpollFile::RemoveLocked(const std::shared_ptr<Entry>& e) {
  interest_.erase(e->key);
  host_.erase(std::remove(host_.begin(), host_.end(), e.get()), host_.end());
  absl::MutexLock l(&shared_->ready_mu);
  if (e->linked) {
    shared_->ready.erase(e->it);
    e->linked = false;
  }
}

void EpollFile::PurgeLocked() {
  if (!shared_->has_dead.exchange(false, std::memory_order_acq_rel)) return;
  for (auto it = interest_.begin(); it != interest_.end();) {
    std::shared_ptr<Entry> e = (it++)->second;
    if (e->dead.load(std::memory_order_acquire)) RemoveLocked(e);
  }
}

int EpollFile::HeightBelow(const EpollFile* target, bool* found) {
  // Children that are epolls, taken under our lock and walked outside it.
  std::vector<std::shared_ptr<vfs::FileDescription>> children;
  {
    absl::MutexLock l(&mu_);
    for (auto& [key, e] : interest_) {
      std::shared_ptr<vfs::FileDescription> f = e->file.lock();
      if (f != nullptr && AsEpoll(*f) != nullptr) children.push_back(std::move(f));
    }
  }
  int height = 0;
  for (auto& f : children) {
    EpollFile* c = AsEpoll(*f);
    if (c == target) {
      *found = true;
      return kMaxNests + 1;
    }
    height = std::max(height, c->HeightBelow(target, found) + 1);
    if (*found || height > kMaxNests) return kMaxNests + 1;
  }
  return height;
}

int EpollFile::DepthAbove() {
  std::vector<std::shared_ptr<EpollFile>> parents;
  {
    absl::MutexLock l(&parents_mu_);
    for (EpollFile* p : parents_) {
      // A parent being destroyed has no owner reference left: skip it.
      std::shared_ptr<EpollFile> sp = p->weak_from_this().lock();
      if (sp != nullptr) parents.push_back(std::move(sp));
    }
  }
  int depth = 0;
  for (auto& p : parents) depth = std::max(depth, p->DepthAbove() + 1);
  return depth;
}

ErrnoOrOk EpollFile::Add(int fd, const std::shared_ptr<vfs::FileDescription>& file, uint32_t events,
                         uint64_t data) {
  std::optional<absl::MutexLock> nest;
  EpollFile* child = AsEpoll(*file);
  if (child != nullptr) {
    // ep_loop_check: no loop, and the chain of epolls stays within kMaxNests.
    nest.emplace(&NestMutex());
    bool found = child == this;
    const int below = found ? kMaxNests + 1 : child->HeightBelow(this, &found);
    if (found || below > kMaxNests || below + 1 + DepthAbove() > kMaxNests) return Errno(ELOOP);
  }
  const bool host = file->HostPollFd() >= 0;
  auto e = std::make_shared<Entry>(shared_, file, fd, events, data, host);
  {
    absl::MutexLock l(&mu_);
    PurgeLocked();
    if (interest_.count(e->key) != 0) return Errno(EEXIST);
    interest_[e->key] = e;
    if (host) host_.push_back(e.get());
    file->EventRegister(e.get(), PollMask(events));
    file->AddEpollLink(e);
    if (child != nullptr) {
      absl::MutexLock pl(&child->parents_mu_);
      child->parents_.push_back(this);
    }
  }
  // Ready already: listed now (ep_insert polls the new entry).
  if (host || (file->Readiness(PollMask(events)) & PollMask(events)) != 0) {
    if (Link(e.get())) shared_->queue.Notify(POLLIN | POLLRDNORM);
  }
  return Ok();
}

ErrnoOrOk EpollFile::Modify(int fd, const std::shared_ptr<vfs::FileDescription>& file,
                            uint32_t events, uint64_t data) {
  std::shared_ptr<Entry> e;
  {
    absl::MutexLock l(&mu_);
    PurgeLocked();
    auto it = interest_.find({file.get(), fd});
    if (it == interest_.end()) return Errno(ENOENT);
    e = it->second;
    if (e->events.load() & EPOLLEXCLUSIVE) return Errno(EINVAL);
    // The queue registration carries the mask: register again.
    file->EventUnregister(e.get());
    e->events.store(events, std::memory_order_release);
    e->data = data;
    file->EventRegister(e.get(), PollMask(events));
  }
  if (e->host || (file->Readiness(PollMask(events)) & PollMask(events)) != 0) {
    if (Link(e.get())) shared_->queue.Notify(POLLIN | POLLRDNORM);
  }
  return Ok();
}

ErrnoOrOk EpollFile::Delete(int fd, const std::shared_ptr<vfs::FileDescription>& file) {
  std::shared_ptr<Entry> e;
  {
    absl::MutexLock l(&mu_);
    PurgeLocked();
    auto it = interest_.find({file.get(), fd});
    if (it == interest_.end()) return Errno(ENOENT);
    e = it->second;
    file->EventUnregister(e.get());
    RemoveLocked(e);
  }
  file->RemoveEpollLink(e.get());
  if (EpollFile* child = AsEpoll(*file)) {
    absl::MutexLock l(&child->parents_mu_);
    auto it = std::find(child->parents_.begin(), child->parents_.end(), this);
    if (it != child->parents_.end()) child->parents_.erase(it);
  }
  return Ok();
}

std::vector<epoll_event> EpollFile::Collect(int max) {
  std::vector<epoll_event> out;
  // Files polled here are released after the lock (see PurgeLocked).
  std::vector<std::shared_ptr<vfs::FileDescription>> keep;
  CollectLocked(max, &out, &keep);
  return out;
}

void EpollFile::CollectLocked(int max, std::vector<epoll_event>* result,
                              std::vector<std::shared_ptr<vfs::FileDescription>>* keep) {
  std::vector<epoll_event>& out = *result;
  absl::MutexLock l(&mu_);
  PurgeLocked();
  for (Entry* h : host_) {
    if (h->events.load() & ~kPrivateBits) Link(h);
  }
  std::list<Entry*> tx;
  {
    absl::MutexLock rl(&shared_->ready_mu);
    tx.swap(shared_->ready);
    for (Entry* e : tx) e->linked = false;
  }
  std::vector<Entry*> relist;
  auto it = tx.begin();
  for (; it != tx.end() && static_cast<int>(out.size()) < max; ++it) {
    Entry* e = *it;
    std::shared_ptr<vfs::FileDescription> f = e->file.lock();
    if (f == nullptr) continue;
    const uint32_t events = e->events.load();
    const uint32_t revents = f->Readiness(PollMask(events)) & PollMask(events);
    keep->push_back(std::move(f));
    if (revents == 0) continue;  // not ready after all: off the list
    epoll_event ev{};
    ev.events = revents;
    ev.data.u64 = e->data;
    out.push_back(ev);
    if (events & EPOLLONESHOT) {
      e->events.store(events & kPrivateBits, std::memory_order_release);
    } else if (!(events & EPOLLET)) {
      relist.push_back(e);  // level-triggered: polled again next time
    }
  }
  {
    absl::MutexLock rl(&shared_->ready_mu);
    // What was not reached goes back first, in order, then the
    // level-triggered entries just reported (unless a notification listed
    // them meanwhile).
    auto pos = shared_->ready.begin();
    for (auto rest = it; rest != tx.end(); ++rest) {
      Entry* e = *rest;
      if (e->linked) continue;
      e->it = shared_->ready.insert(pos, e);
      e->linked = true;
    }
    for (Entry* e : relist) {
      if (e->linked) continue;
      e->it = shared_->ready.insert(shared_->ready.end(), e);
      e->linked = true;
    }
  }
}

std::vector<pollfd> EpollFile::HostPollFds() {
  std::vector<pollfd> fds;
  std::vector<std::shared_ptr<vfs::FileDescription>> keep;  // released after the lock
  absl::MutexLock l(&mu_);
  PurgeLocked();
  for (Entry* h : host_) {
    const uint32_t events = h->events.load();
    if ((events & ~kPrivateBits) == 0) continue;
    std::shared_ptr<vfs::FileDescription> f = h->file.lock();
    if (f == nullptr) continue;
    fds.push_back({f->HostPollFd(), static_cast<short>(PollMask(events) & 0xffff), 0});
    keep.push_back(std::move(f));
  }
  return fds;
}

ErrnoOr<std::vector<epoll_event>> EpollFile::Wait(waiter::Waker* w, int max,
                                                  const timespec* deadline) {
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    std::vector<epoll_event> ev = Collect(max);
    if (!ev.empty() || w == nullptr) return ev;
    if (!reg) {
      // Register, then collect again: an event in between is not lost.
      reg.emplace(shared_->queue, w, POLLIN | POLLRDNORM);
      continue;
    }
    std::vector<pollfd> host = HostPollFds();
    ErrnoOrOk r = w->Block(CLOCK_MONOTONIC, deadline, host);
    if (!r.ok()) {
      if (r.error().value() == ETIMEDOUT) return Collect(max);
      return r.error();
    }
  }
}

uint32_t EpollFile::Readiness(uint32_t mask) {
  // ep_eventpoll_poll: readable while a listed entry is ready; entries found
  // not ready leave the list.
  bool ready = false;
  std::vector<std::shared_ptr<vfs::FileDescription>> keep;
  {
    absl::MutexLock l(&mu_);
    PurgeLocked();
    for (Entry* h : host_) {
      if (h->events.load() & ~kPrivateBits) Link(h);
    }
    std::list<Entry*> tx;
    {
      absl::MutexLock rl(&shared_->ready_mu);
      tx.swap(shared_->ready);
      for (Entry* e : tx) e->linked = false;
    }
    std::vector<Entry*> back;
    for (Entry* e : tx) {
      if (ready) {
        back.push_back(e);
        continue;
      }
      std::shared_ptr<vfs::FileDescription> f = e->file.lock();
      if (f == nullptr) continue;
      const uint32_t events = e->events.load();
      if (f->Readiness(PollMask(events)) & PollMask(events)) {
        ready = true;
        back.push_back(e);
      }
      keep.push_back(std::move(f));
    }
    absl::MutexLock rl(&shared_->ready_mu);
    auto pos = shared_->ready.begin();
    for (Entry* e : back) {
      if (e->linked) continue;
      e->it = shared_->ready.insert(pos, e);
      e->linked = true;
    }
  }
  keep.clear();
  return ready ? (mask & (POLLIN | POLLRDNORM)) : 0;
}

void EpollFile::EventRegister(waiter::Waiter* w, uint32_t mask) {
  shared_->queue.EventRegister(w, mask);
}

void EpollFile::EventUnregister(waiter::Waiter* w) { shared_->queue.EventUnregister(w); }

ErrnoOr<size_t> EpollFile::Readv(kernel::Task*, std::span<const iovec>, int64_t) {
  return Errno(EINVAL);
}

ErrnoOr<size_t> EpollFile::Writev(kernel::Task*, std::span<const iovec>, int64_t) {
  return Errno(EINVAL);
}

ErrnoOr<struct stat> EpollFile::Stat() { return anon::AnonInodeStat(); }

ErrnoOr<uint64_t> EpollFile::Ioctl(kernel::Task&, uint64_t, uint64_t) { return Errno(ENOTTY); }

std::string EpollFile::Describe() const { return anon::AnonInodeName("eventpoll"); }

std::string EpollFile::FdInfo() const {
  struct Line {
    int fd;
    uint32_t events;
    uint64_t data;
    std::shared_ptr<vfs::FileDescription> file;
  };
  std::vector<Line> lines;
  {
    absl::MutexLock l(&mu_);
    for (auto& [key, e] : interest_) {
      lines.push_back({key.second, e->events.load(), e->data, e->file.lock()});
    }
  }
  std::string s;
  for (const Line& ln : lines) {
    if (ln.file == nullptr) continue;
    auto pos = ln.file->Seek(0, SEEK_CUR);
    auto st = ln.file->Stat();
    absl::StrAppendFormat(&s, "tfd: %8d events: %8x data: %16x  pos:%d ino:%x sdev:%x\n", ln.fd,
                          ln.events, ln.data, pos.ok() ? *pos : 0, st.ok() ? st->st_ino : 0,
                          st.ok() ? st->st_dev : 0);
  }
  return s;
}

size_t EpollFile::size() {
  absl::MutexLock l(&mu_);
  PurgeLocked();
  return interest_.size();
}

EpollFile* AsEpoll(vfs::FileDescription& f) { return dynamic_cast<EpollFile*>(&f); }

}  // namespace sentry::fsimpl::epoll
