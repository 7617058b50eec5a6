// inotify's core (Linux's fsnotify, for inotify only): the watches on an
// inode and the events the VFS raises. The instances (what an inotify fd
// holds) are in sentry/fsimpl/inotify; they see the VFS only through
// InotifySink.
//
// Watches live on inodes (Inode::watches()), as Linux's marks do: every path
// and bind mount to an inode shares them. Events are raised in the VFS's
// path operations (create, unlink, rename, attributes) and, for I/O on open
// files, by the syscall layer (NotifyFile). Only changes made inside the
// sandbox are seen: the host changing a gofer file raises nothing.
//
// Lock order: VFS mu_ > an InotifySink's own lock > InodeWatches::mu_ >
// DentryNamesMu() (a leaf). Events are queued with no InodeWatches lock held
// (the watch list is copied first), so a sink may remove watches while
// queueing (IN_ONESHOT).
#ifndef SENTRY_VFS_INOTIFY_H_
#define SENTRY_VFS_INOTIFY_H_

#include <sys/inotify.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sentry::vfs {

class Dentry;
class Inode;
class InotifySink;

// One watch: an instance's interest in an inode. The inode holds it (its
// list) and it holds the inode, until rm_watch, the instance's close, an
// IN_ONESHOT event or the inode's deletion breaks the pair.
struct InotifyWatch {
  std::weak_ptr<InotifySink> owner;
  int wd = 0;
  std::atomic<uint32_t> mask{0};  // IN_* events and IN_ONESHOT, IN_EXCL_UNLINK
  std::shared_ptr<Inode> inode;
};

// What an inotify instance implements.
class InotifySink {
 public:
  virtual ~InotifySink() = default;
  // An event for `w` (its mask matched). `name` is empty for events on the
  // watched inode itself.
  virtual void Deliver(InotifyWatch& w, uint32_t mask, uint32_t cookie, std::string_view name) = 0;
  // The inode dropped `w` (it was deleted): IN_IGNORED, and forget it.
  virtual void WatchGone(InotifyWatch& w) = 0;
};

// The watches on one inode.
class InodeWatches {
 public:
  InodeWatches() = default;
  InodeWatches(const InodeWatches&) = delete;
  InodeWatches& operator=(const InodeWatches&) = delete;

  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  void Add(std::shared_ptr<InotifyWatch> w);
  void Remove(const InotifyWatch* w);
  // Delivers `mask` to every watch that wants one of its events. `unlinked`:
  // the subject's name is gone (watches with IN_EXCL_UNLINK skip it).
  void Notify(uint32_t mask, uint32_t cookie, std::string_view name, bool unlinked);
  // Every watch goes, each with IN_IGNORED (the inode was deleted).
  void RemoveAll();

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<InotifyWatch>> watches_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> count_{0};
};

// Whether any watch exists in the sandbox: the hot paths' test.
bool AnyInotifyWatches();

// Guards Dentry::name_ and parent_ against readers that do not hold the VFS
// lock (events raised on I/O); written under both.
absl::Mutex& DentryNamesMu();

// A fresh cookie pairing IN_MOVED_FROM with IN_MOVED_TO.
uint32_t NewInotifyCookie();

// An event in directory `dir` about its entry `name` (IN_CREATE, IN_DELETE,
// IN_MOVED_FROM/TO): IN_ISDIR is added when `child_is_dir`.
void NotifyChild(Inode& dir, std::string_view name, uint32_t mask, bool child_is_dir,
                 uint32_t cookie = 0);
// An event on `inode` itself only (IN_DELETE_SELF, IN_MOVE_SELF, IN_ATTRIB
// for a link count).
void NotifySelf(Inode& inode, uint32_t mask);
// An event on the file at `d` (IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB,
// IN_CLOSE_*): to its own watches and, with its name, to its parent's.
void NotifyFile(const std::shared_ptr<Dentry>& d, uint32_t mask);
// `d` is going with its inode deleted (no name left and nothing holding it):
// IN_DELETE_SELF, then every watch goes with IN_IGNORED.
void NotifyDeleted(Inode& inode);

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_INOTIFY_H_
