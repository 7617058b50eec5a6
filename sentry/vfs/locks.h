// Advisory file locks (DESIGN.md §8): flock(2) locks, POSIX record locks
// (fcntl F_SETLK/F_SETLKW/F_GETLK, owned by a process) and open file
// description locks (F_OFD_*, owned by the description). As in Linux, flock
// locks and record locks do not interact; POSIX and OFD record locks do.
//
// Locks are kept per inode (the VFS's inode object) in one table with one
// mutex, a leaf lock.
#ifndef SENTRY_VFS_LOCKS_H_
#define SENTRY_VFS_LOCKS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

// Who holds a lock: a process (POSIX locks, by pid) or an open file
// description (flock and OFD locks, by address).
struct LockOwner {
  enum Kind { kPosix, kDescription } kind = kPosix;
  uintptr_t id = 0;
  bool operator==(const LockOwner&) const = default;
};

// A byte range [start, end); end == kLockToEof means "to the end, however far".
inline constexpr uint64_t kLockToEof = ~uint64_t{0};

struct RecordLock {
  uint64_t start = 0, end = kLockToEof;
  bool write = false;
  LockOwner owner;
  int pid = 0;  // what F_GETLK reports: the process, or -1 for OFD locks
};

// How a blocked request waits: returns EINTR (or another error) to give up.
// Called without the table's lock; the request is retried after it returns.
using LockWait = std::function<ErrnoOrOk()>;

class LockTable {
 public:
  // flock: LOCK_SH, LOCK_EX or LOCK_UN for `owner` (a description).
  // EWOULDBLOCK with `wait` null when another description holds a conflicting
  // lock.
  ErrnoOrOk Flock(const std::shared_ptr<Inode>& inode, const LockOwner& owner, int op,
                  const LockWait& wait);

  // Sets (write or read) or clears (`clear`) the record lock of `lock.owner`
  // on [lock.start, lock.end), merging with and splitting its own locks.
  // EAGAIN with `wait` null when another owner holds a conflicting lock.
  // EDEADLK when `lock.owner` is a process and waiting would close a cycle of
  // processes each waiting for a lock the next one holds (Linux follows POSIX
  // owners only: an OFD lock owner never counts as waiting).
  ErrnoOrOk SetRecord(const std::shared_ptr<Inode>& inode, const RecordLock& lock, bool clear,
                      const LockWait& wait);
  // F_GETLK: the first lock that would conflict with `lock`, if any.
  std::optional<RecordLock> TestRecord(const std::shared_ptr<Inode>& inode, const RecordLock& lock);

  // Drops every lock `owner` holds on `inode` (POSIX: any close of the file by
  // the process) or on any inode (a description going away, a process exiting).
  void ReleaseOn(const Inode* inode, const LockOwner& owner);
  void ReleaseAll(const LockOwner& owner);

 private:
  struct Flocks {
    std::vector<std::pair<LockOwner, bool>> holders;  // (owner, exclusive)
  };
  struct State {
    std::shared_ptr<Inode> inode;  // keeps the key alive while locks exist
    Flocks flocks;
    std::vector<RecordLock> records;  // sorted by start
    bool empty() const { return flocks.holders.empty() && records.empty(); }
  };
  std::optional<RecordLock> ConflictLocked(const State& s, const RecordLock& lock) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropEmptyLocked(const Inode* inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The owners of the locks in `s` that conflict with `lock`.
  std::vector<LockOwner> BlockersLocked(const State& s, const RecordLock& lock) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when a process blocked on `lock` by the owners `frontier` would wait,
  // through the chain of waiting processes, on itself.
  bool WouldDeadlockLocked(const RecordLock& lock, std::vector<LockOwner> frontier) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A process blocked in F_SETLKW: the inode and the lock it wants.
  struct Waiting {
    const Inode* inode = nullptr;
    RecordLock lock;
  };

  absl::Mutex mu_;
  std::map<const Inode*, State> states_ ABSL_GUARDED_BY(mu_);
  std::map<uintptr_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);  // by POSIX owner (pid)
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_LOCKS_H_
