#include "sentry/vfs/inotify.h"

#include <sys/stat.h>

#include <string>

#include "sentry/vfs/inode.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

std::atomic<int64_t> g_watches{0};

bool IsDirInode(Inode& inode) {
  auto a = inode.GetAttr();
  return a.ok() && S_ISDIR(a->mode);
}

// The events a parent hears about its children (FS_EVENTS_POSS_ON_CHILD).
constexpr uint32_t kOnChild =
    IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN;

}  // namespace

bool AnyInotifyWatches() { return g_watches.load(std::memory_order_acquire) > 0; }

absl::Mutex& DentryNamesMu() {
  static absl::Mutex* mu = new absl::Mutex;
  return *mu;
}

uint32_t NewInotifyCookie() {
  static std::atomic<uint32_t> next{1};
  uint32_t c = next.fetch_add(1, std::memory_order_relaxed);
  if (c == 0) c = next.fetch_add(1, std::memory_order_relaxed);
  return c;
}

void InodeWatches::Add(std::shared_ptr<InotifyWatch> w) {
  absl::MutexLock l(&mu_);
  watches_.push_back(std::move(w));
  count_.fetch_add(1, std::memory_order_release);
  g_watches.fetch_add(1, std::memory_order_release);
}

void InodeWatches::Remove(const InotifyWatch* w) {
  std::shared_ptr<InotifyWatch> gone;  // released outside the lock
  absl::MutexLock l(&mu_);
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->get() == w) {
      gone = std::move(*it);
      watches_.erase(it);
      count_.fetch_sub(1, std::memory_order_release);
      g_watches.fetch_sub(1, std::memory_order_release);
      break;
    }
  }
}

void InodeWatches::Notify(uint32_t mask, uint32_t cookie, std::string_view name, bool unlinked) {
  if (empty()) return;
  std::vector<std::shared_ptr<InotifyWatch>> ws;
  {
    absl::MutexLock l(&mu_);
    ws = watches_;
  }
  for (const auto& w : ws) {
    const uint32_t wm = w->mask.load(std::memory_order_relaxed);
    if (!(wm & mask & IN_ALL_EVENTS)) continue;
    if (unlinked && (wm & IN_EXCL_UNLINK)) continue;
    if (auto owner = w->owner.lock()) owner->Deliver(*w, mask, cookie, name);
  }
}

void InodeWatches::RemoveAll() {
  std::vector<std::shared_ptr<InotifyWatch>> ws;
  {
    absl::MutexLock l(&mu_);
    ws.swap(watches_);
    count_.store(0, std::memory_order_release);
    g_watches.fetch_sub(static_cast<int64_t>(ws.size()), std::memory_order_release);
  }
  for (const auto& w : ws) {
    if (auto owner = w->owner.lock()) owner->WatchGone(*w);
  }
}

void NotifyChild(Inode& dir, std::string_view name, uint32_t mask, bool child_is_dir,
                 uint32_t cookie) {
  if (dir.watches().empty()) return;
  dir.watches().Notify(mask | (child_is_dir ? IN_ISDIR : 0), cookie, name, false);
}

void NotifySelf(Inode& inode, uint32_t mask) {
  if (inode.watches().empty()) return;
  inode.watches().Notify(mask | (IsDirInode(inode) ? IN_ISDIR : 0), 0, "", false);
}

void NotifyFile(const std::shared_ptr<Dentry>& d, uint32_t mask) {
  if (!AnyInotifyWatches() || d == nullptr) return;
  Inode& inode = *d->inode();
  std::shared_ptr<Dentry> parent;
  std::string name;
  bool dead;
  {
    absl::MutexLock l(&DentryNamesMu());
    parent = d->parent();
    name = d->name();
    dead = d->dead();
  }
  const bool parent_watched =
      parent != nullptr && !parent->inode()->watches().empty() && (mask & kOnChild) != 0;
  if (inode.watches().empty() && !parent_watched) return;
  if (IsDirInode(inode)) mask |= IN_ISDIR;
  // The parent hears first (fsnotify_handle_event), then the file itself.
  if (parent_watched) parent->inode()->watches().Notify(mask, 0, name, dead);
  inode.watches().Notify(mask, 0, "", dead);
}

void NotifyDeleted(Inode& inode) {
  if (inode.watches().empty()) return;
  inode.watches().Notify(IN_DELETE_SELF | (IsDirInode(inode) ? IN_ISDIR : 0), 0, "", false);
  inode.watches().RemoveAll();
}

}  // namespace sentry::vfs
