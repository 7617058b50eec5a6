#include "sentry/fsimpl/inotify/inotify.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/anon/anon_inode.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::inotify {
namespace {

// What a watch keeps of the mask it was given (INOTIFY_USER_MASK).
constexpr uint32_t kUserMask = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;

ErrnoOr<size_t> Restart(Errno e) {
  if (e.value() == EINTR) return Errno(kERESTARTSYS);
  return e;
}

}  // namespace

size_t InotifyFile::Event::Size() const {
  constexpr size_t kHeader = sizeof(struct inotify_event);
  if (name.empty()) return kHeader;
  return kHeader + (name.size() + 1 + kHeader - 1) / kHeader * kHeader;
}

std::shared_ptr<InotifyFile> InotifyFile::Create(int flags) {
  auto f = std::make_shared<InotifyFile>(flags);
  f->self_ = f;
  return f;
}

InotifyFile::InotifyFile(int flags) : FileDescription(O_RDONLY | (flags & O_NONBLOCK)) {}

InotifyFile::~InotifyFile() {
  ReleaseEpollLinks();
  std::map<int, std::shared_ptr<vfs::InotifyWatch>> ws;
  {
    absl::MutexLock l(&mu_);
    ws.swap(watches_);
  }
  for (auto& [wd, w] : ws) w->inode->watches().Remove(w.get());
}

InotifyFile* AsInotify(vfs::FileDescription& f) { return dynamic_cast<InotifyFile*>(&f); }

ErrnoOr<int> InotifyFile::AddWatch(std::shared_ptr<vfs::Inode> inode, uint32_t mask) {
  absl::MutexLock l(&mu_);
  for (auto& [wd, w] : watches_) {
    if (w->inode != inode) continue;
    // inotify_update_existing_watch.
    if (mask & IN_MASK_CREATE) return Errno(EEXIST);
    uint32_t m = mask & kUserMask;
    if (mask & IN_MASK_ADD) m |= w->mask.load(std::memory_order_relaxed);
    w->mask.store(m, std::memory_order_relaxed);
    return wd;
  }
  // idr_alloc_cyclic from 1.
  int wd = next_wd_;
  while (watches_.count(wd) != 0 || wd <= 0) wd = wd <= 0 || wd == INT32_MAX ? 1 : wd + 1;
  next_wd_ = wd == INT32_MAX ? 1 : wd + 1;
  auto w = std::make_shared<vfs::InotifyWatch>();
  w->owner = std::weak_ptr<vfs::InotifySink>(self_.lock());
  w->wd = wd;
  w->mask.store(mask & kUserMask, std::memory_order_relaxed);
  w->inode = std::move(inode);
  watches_[wd] = w;
  w->inode->watches().Add(w);
  return wd;
}

ErrnoOrOk InotifyFile::RmWatch(int wd) {
  std::shared_ptr<vfs::InotifyWatch> w;
  bool wake;
  {
    absl::MutexLock l(&mu_);
    auto it = watches_.find(wd);
    if (it == watches_.end()) return Errno(EINVAL);
    w = std::move(it->second);
    watches_.erase(it);
    wake = QueueLocked({wd, IN_IGNORED, 0, ""});
    w->inode->watches().Remove(w.get());
  }
  if (wake) WakeReaders();
  return Ok();
}

bool InotifyFile::QueueLocked(Event e) {
  if (events_.size() >= kMaxQueuedEvents) {
    if (events_.back().mask == IN_Q_OVERFLOW) return false;
    Event o{-1, IN_Q_OVERFLOW, 0, ""};
    bytes_ += o.Size();
    events_.push_back(std::move(o));
    return true;
  }
  // inotify_merge: an event identical to the last one queued is dropped.
  if (!events_.empty()) {
    const Event& last = events_.back();
    if (!(last.mask & IN_IGNORED) && last.mask == e.mask && last.wd == e.wd &&
        last.name == e.name) {
      return false;
    }
  }
  bytes_ += e.Size();
  events_.push_back(std::move(e));
  return true;
}

void InotifyFile::WakeReaders() { queue_.Notify(POLLIN | POLLRDNORM); }

void InotifyFile::Deliver(vfs::InotifyWatch& w, uint32_t mask, uint32_t cookie,
                          std::string_view name) {
  // inotify never reports IN_ISDIR with IN_MOVE_SELF or IN_DELETE_SELF.
  if (mask & (IN_MOVE_SELF | IN_DELETE_SELF)) mask &= ~IN_ISDIR;
  std::shared_ptr<vfs::InotifyWatch> oneshot;
  bool wake;
  {
    absl::MutexLock l(&mu_);
    auto it = watches_.find(w.wd);
    if (it == watches_.end() || it->second.get() != &w) return;  // removed meanwhile
    wake = QueueLocked({w.wd, mask, cookie, std::string(name)});
    if (w.mask.load(std::memory_order_relaxed) & IN_ONESHOT) {
      oneshot = std::move(it->second);
      watches_.erase(it);
      wake |= QueueLocked({w.wd, IN_IGNORED, 0, ""});
      oneshot->inode->watches().Remove(oneshot.get());
    }
  }
  if (wake) WakeReaders();
}

void InotifyFile::WatchGone(vfs::InotifyWatch& w) {
  std::shared_ptr<vfs::InotifyWatch> gone;
  bool wake;
  {
    absl::MutexLock l(&mu_);
    auto it = watches_.find(w.wd);
    if (it == watches_.end() || it->second.get() != &w) return;
    gone = std::move(it->second);
    watches_.erase(it);
    wake = QueueLocked({w.wd, IN_IGNORED, 0, ""});
  }
  if (wake) WakeReaders();
}

ErrnoOr<size_t> InotifyFile::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t) {
  size_t room = 0;
  for (const iovec& v : dst) room += v.iov_len;
  std::optional<waiter::ScopedRegistration> reg;
  std::vector<uint8_t> out;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      // As many whole events as fit; EINVAL if not even the first does.
      while (!events_.empty()) {
        const Event& e = events_.front();
        const size_t n = e.Size();
        if (out.size() + n > room) {
          if (out.empty()) return Errno(EINVAL);
          break;
        }
        struct inotify_event h = {};
        h.wd = e.wd;
        h.mask = e.mask;
        h.cookie = e.cookie;
        h.len = static_cast<uint32_t>(n - sizeof(h));
        const size_t at = out.size();
        out.resize(at + n, 0);
        std::memcpy(out.data() + at, &h, sizeof(h));
        std::memcpy(out.data() + at + sizeof(h), e.name.data(), e.name.size());
        bytes_ -= n;
        events_.pop_front();
      }
    }
    if (!out.empty()) break;
    if (t == nullptr || (status_flags() & O_NONBLOCK)) return Errno(EAGAIN);
    if (!reg) {
      reg.emplace(queue_, &t->waker(), POLLIN | POLLRDNORM);
      continue;
    }
    auto r = t->waker().Block(CLOCK_MONOTONIC, nullptr);
    if (!r.ok()) return Restart(r.error());
  }
  size_t done = 0;
  for (const iovec& v : dst) {
    const size_t k = std::min(v.iov_len, out.size() - done);
    std::memcpy(v.iov_base, out.data() + done, k);
    done += k;
    if (done == out.size()) break;
  }
  return done;
}

ErrnoOr<size_t> InotifyFile::Writev(kernel::Task*, std::span<const iovec>, int64_t) {
  return Errno(EINVAL);
}

ErrnoOr<struct stat> InotifyFile::Stat() { return anon::AnonInodeStat(); }

ErrnoOr<uint64_t> InotifyFile::Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) {
  if (cmd != FIONREAD) return Errno(ENOTTY);
  int n;
  {
    absl::MutexLock l(&mu_);
    n = static_cast<int>(std::min<size_t>(bytes_, INT32_MAX));
  }
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int>(arg), n));
  return 0;
}

std::string InotifyFile::Describe() const { return anon::AnonInodeName("inotify"); }

std::string InotifyFile::FdInfo() const {
  std::map<int, std::shared_ptr<vfs::InotifyWatch>> ws;
  {
    absl::MutexLock l(&mu_);
    ws = watches_;
  }
  std::string s;
  for (const auto& [wd, w] : ws) {
    auto a = w->inode->GetAttr();
    s += absl::StrFormat("inotify wd:%x ino:%x sdev:%x mask:%x ignored_mask:0\n", wd,
                         a.ok() ? a->ino : 0, w->inode->fs().Dev(),
                         w->mask.load(std::memory_order_relaxed));
  }
  return s;
}

uint32_t InotifyFile::Readiness(uint32_t mask) {
  absl::MutexLock l(&mu_);
  return events_.empty() ? 0 : (mask & (POLLIN | POLLRDNORM));
}

}  // namespace sentry::fsimpl::inotify
