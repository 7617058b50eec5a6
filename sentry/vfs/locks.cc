#include "sentry/vfs/locks.h"

#include <sys/file.h>

#include <algorithm>

#include "sentry/base/status_macros.h"

namespace sentry::vfs {
namespace {

bool Overlap(const RecordLock& a, const RecordLock& b) {
  return a.start < b.end && b.start < a.end;
}

}  // namespace

ErrnoOrOk LockTable::Flock(const std::shared_ptr<Inode>& inode, const LockOwner& owner, int op,
                           const LockWait& wait) {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      State& s = states_[inode.get()];
      if (s.inode == nullptr) s.inode = inode;
      auto& h = s.flocks.holders;
      // Converting drops the old lock first (Linux: not atomic).
      h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& e) { return e.first == owner; }),
              h.end());
      if (op == LOCK_UN) {
        DropEmptyLocked(inode.get());
        return Ok();
      }
      const bool exclusive = op == LOCK_EX;
      const bool conflict =
          std::any_of(h.begin(), h.end(), [&](const auto& e) { return exclusive || e.second; });
      if (!conflict) {
        h.emplace_back(owner, exclusive);
        return Ok();
      }
      DropEmptyLocked(inode.get());
    }
    if (!wait) return Errno(EWOULDBLOCK);
    RETURN_IF_ERROR(wait());
  }
}

std::optional<RecordLock> LockTable::ConflictLocked(const State& s, const RecordLock& lock) const {
  for (const RecordLock& r : s.records) {
    if (r.owner == lock.owner) continue;
    if ((r.write || lock.write) && Overlap(r, lock)) return r;
  }
  return std::nullopt;
}

ErrnoOrOk LockTable::SetRecord(const std::shared_ptr<Inode>& inode, const RecordLock& lock,
                               bool clear, const LockWait& wait) {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      State& s = states_[inode.get()];
      if (s.inode == nullptr) s.inode = inode;
      if (clear || !ConflictLocked(s, lock)) {
        // Cut the owner's locks out of [start, end), keeping what lies outside.
        std::vector<RecordLock> out;
        for (const RecordLock& r : s.records) {
          if (!(r.owner == lock.owner) || !Overlap(r, lock)) {
            out.push_back(r);
            continue;
          }
          if (r.start < lock.start) {
            RecordLock left = r;
            left.end = lock.start;
            out.push_back(left);
          }
          if (r.end > lock.end) {
            RecordLock right = r;
            right.start = lock.end;
            out.push_back(right);
          }
        }
        if (!clear) {
          RecordLock n = lock;
          // Merge with the owner's adjacent locks of the same kind.
          for (auto it = out.begin(); it != out.end();) {
            if (it->owner == n.owner && it->write == n.write &&
                (it->end == n.start || n.end == it->start)) {
              n.start = std::min(n.start, it->start);
              n.end = std::max(n.end, it->end);
              it = out.erase(it);
            } else {
              ++it;
            }
          }
          out.push_back(n);
        }
        std::sort(out.begin(), out.end(),
                  [](const RecordLock& a, const RecordLock& b) { return a.start < b.start; });
        s.records = std::move(out);
        DropEmptyLocked(inode.get());
        if (lock.owner.kind == LockOwner::kPosix) waiting_.erase(lock.owner.id);
        return Ok();
      }
      if (!wait) {
        DropEmptyLocked(inode.get());
        return Errno(EAGAIN);
      }
      if (lock.owner.kind == LockOwner::kPosix) {
        if (WouldDeadlockLocked(lock, BlockersLocked(s, lock))) {
          waiting_.erase(lock.owner.id);
          return Errno(EDEADLK);
        }
        waiting_[lock.owner.id] = Waiting{inode.get(), lock};
      }
    }
    // The request stays in waiting_ across retries, so that another process's
    // deadlock check never misses it; it leaves when this call returns.
    if (ErrnoOrOk waited = wait(); !waited.ok()) {
      absl::MutexLock l(&mu_);
      if (lock.owner.kind == LockOwner::kPosix) waiting_.erase(lock.owner.id);
      return waited;
    }
  }
}

std::vector<LockOwner> LockTable::BlockersLocked(const State& s, const RecordLock& lock) const {
  std::vector<LockOwner> out;
  for (const RecordLock& r : s.records) {
    if (r.owner == lock.owner) continue;
    if ((r.write || lock.write) && Overlap(r, lock)) out.push_back(r.owner);
  }
  return out;
}

bool LockTable::WouldDeadlockLocked(const RecordLock& lock, std::vector<LockOwner> frontier) const {
  // Walk the waits-for graph from the holders, over POSIX owners only, a
  // bounded number of steps (Linux: MAX_DEADLK_ITERATIONS, 10).
  std::vector<uintptr_t> seen;
  for (int depth = 0; depth < 10 && !frontier.empty(); ++depth) {
    std::vector<LockOwner> next;
    for (const LockOwner& o : frontier) {
      if (o.kind != LockOwner::kPosix) continue;
      if (o == lock.owner) return true;
      if (std::find(seen.begin(), seen.end(), o.id) != seen.end()) continue;
      seen.push_back(o.id);
      auto w = waiting_.find(o.id);
      if (w == waiting_.end()) continue;
      auto st = states_.find(w->second.inode);
      if (st == states_.end()) continue;
      for (const LockOwner& b : BlockersLocked(st->second, w->second.lock)) next.push_back(b);
    }
    frontier = std::move(next);
  }
  return false;
}

std::optional<RecordLock> LockTable::TestRecord(const std::shared_ptr<Inode>& inode,
                                                const RecordLock& lock) {
  absl::MutexLock l(&mu_);
  auto it = states_.find(inode.get());
  if (it == states_.end()) return std::nullopt;
  return ConflictLocked(it->second, lock);
}

void LockTable::ReleaseOn(const Inode* inode, const LockOwner& owner) {
  absl::MutexLock l(&mu_);
  auto it = states_.find(inode);
  if (it == states_.end()) return;
  auto& recs = it->second.records;
  recs.erase(std::remove_if(recs.begin(), recs.end(),
                            [&](const RecordLock& r) { return r.owner == owner; }),
             recs.end());
  auto& h = it->second.flocks.holders;
  h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& e) { return e.first == owner; }),
          h.end());
  DropEmptyLocked(inode);
}

void LockTable::ReleaseAll(const LockOwner& owner) {
  std::vector<const Inode*> inodes;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [inode, s] : states_) inodes.push_back(inode);
  }
  for (const Inode* i : inodes) ReleaseOn(i, owner);
}

void LockTable::DropEmptyLocked(const Inode* inode) {
  auto it = states_.find(inode);
  if (it != states_.end() && it->second.empty()) states_.erase(it);
}

}  // namespace sentry::vfs
