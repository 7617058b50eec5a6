// Futexes; see futex.h and README.md ("Futexes"). Function names follow
// Linux's kernel/futex where the logic does.
#include "sentry/kernel/futex.h"

#include <atomic>
#include <utility>

#include "absl/hash/hash.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace sentry::kernel {

using futex::Bucket;
using futex::Deadline;
using futex::kBitsetMatchAny;
using futex::kOwnerDied;
using futex::kTidMask;
using futex::kWaiters;
using futex::PiState;
using futex::Waiter;
using mm::FutexKey;

namespace futex {

// FUTEX_OP's fields (include/uapi/linux/futex.h).
namespace {
constexpr uint32_t kOpSet = 0, kOpAdd = 1, kOpOr = 2, kOpAndn = 3, kOpXor = 4;
constexpr uint32_t kOpOpargShift = 8;  // the flag in the op field: oparg is 1 << oparg
constexpr uint32_t kCmpEq = 0, kCmpNe = 1, kCmpLt = 2, kCmpLe = 3, kCmpGt = 4, kCmpGe = 5;

// A 12-bit field, sign-extended (sign_extend32(v, 11)).
int32_t SignExtend12(uint32_t v) { return static_cast<int32_t>(v << 20) >> 20; }
}  // namespace

ErrnoOr<uint32_t> WakeOpApply(uint32_t encoded_op, uint32_t old) {
  const uint32_t op = (encoded_op >> 28) & 0x7;
  int32_t oparg = SignExtend12((encoded_op >> 12) & 0xfff);
  if (encoded_op & (kOpOpargShift << 28)) {
    // Linux masks an out-of-range shift (and logs "fix this program").
    oparg = static_cast<int32_t>(1u << (static_cast<uint32_t>(oparg) & 31));
  }
  const uint32_t arg = static_cast<uint32_t>(oparg);
  switch (op) {
    case kOpSet:
      return arg;
    case kOpAdd:
      return old + arg;
    case kOpOr:
      return old | arg;
    case kOpAndn:
      return old & ~arg;
    case kOpXor:
      return old ^ arg;
    default:
      return Errno(ENOSYS);
  }
}

ErrnoOr<bool> WakeOpCompare(uint32_t encoded_op, uint32_t old) {
  const uint32_t cmp = (encoded_op >> 24) & 0xf;
  const int32_t cmparg = SignExtend12(encoded_op & 0xfff);
  const int32_t v = static_cast<int32_t>(old);
  switch (cmp) {
    case kCmpEq:
      return v == cmparg;
    case kCmpNe:
      return v != cmparg;
    case kCmpLt:
      return v < cmparg;
    case kCmpGe:
      return v >= cmparg;
    case kCmpLe:
      return v <= cmparg;
    case kCmpGt:
      return v > cmparg;
    default:
      return Errno(ENOSYS);
  }
}

}  // namespace futex

namespace {

// Linux's get_futex_key: the address must be 4-aligned (EINVAL) before
// anything else.
ErrnoOr<FutexKey> KeyOf(mm::MemoryManager& mm, UserAddr addr, bool is_private, bool write) {
  if (addr.value() % sizeof(uint32_t) != 0) return Errno(EINVAL);
  return mm.FutexKeyAt(addr, is_private, write);
}

ErrnoOr<uint32_t> Load(mm::MemoryManager& mm, UserAddr addr) {
  uint32_t v = 0;
  RETURN_IF_ERROR(
      mm.WithWord(addr, /*write=*/false, [&v](uint32_t* p) { v = std::atomic_ref(*p).load(); }));
  return v;
}

// Compare-and-exchange on the guest word (write access): the value found,
// which equals `expected` when `desired` was stored.
ErrnoOr<uint32_t> CmpXchg(mm::MemoryManager& mm, UserAddr addr, uint32_t expected,
                          uint32_t desired) {
  uint32_t found = expected;
  RETURN_IF_ERROR(mm.WithWord(addr, /*write=*/true, [&](uint32_t* p) {
    std::atomic_ref(*p).compare_exchange_strong(found, desired);
  }));
  return found;
}

// Locks two buckets (once if they are the same), the lower address first.
class ABSL_SCOPED_LOCKABLE DoubleLock {
 public:
  DoubleLock(Bucket& a, Bucket& b)
      ABSL_EXCLUSIVE_LOCK_FUNCTION(a.mu, b.mu) ABSL_NO_THREAD_SAFETY_ANALYSIS : a_(&a),
                                                                                b_(&b) {
    Bucket* first = a_ < b_ ? a_ : b_;
    Bucket* second = a_ < b_ ? b_ : a_;
    first->mu.Lock();
    if (second != first) second->mu.Lock();
  }
  ~DoubleLock() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    a_->mu.Unlock();
    if (b_ != a_) b_->mu.Unlock();
  }
  DoubleLock(const DoubleLock&) = delete;
  DoubleLock& operator=(const DoubleLock&) = delete;

 private:
  Bucket* a_;
  Bucket* b_;
};

void Enqueue(Bucket& b, Waiter& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu) {
  w.prev = b.tail;
  w.next = nullptr;
  if (b.tail != nullptr) {
    b.tail->next = &w;
  } else {
    b.head = &w;
  }
  b.tail = &w;
  w.bucket.store(&b, std::memory_order_release);
}

// Takes `w` off `b`'s list; its `bucket` still says `b`.
void Unlink(Bucket& b, Waiter& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu) {
  if (w.prev != nullptr) {
    w.prev->next = w.next;
  } else {
    b.head = w.next;
  }
  if (w.next != nullptr) {
    w.next->prev = w.prev;
  } else {
    b.tail = w.prev;
  }
  w.prev = w.next = nullptr;
}

// Dequeues `w` for good (`locked`: it was handed a PI lock) and wakes its
// thread. `w` must not be touched afterwards: once it sees itself dequeued
// its thread may return and free it. The wake comes first, while `w` is still
// marked queued (its thread then waits for our lock), so that the Waker is
// never used after the waiting task has gone.
void WakeWaiter(Bucket& b, Waiter& w, bool locked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu) {
  Unlink(b, w);
  w.locked = locked;
  w.waker->Wake();
  w.bucket.store(nullptr, std::memory_order_release);
}

// Linux's requeue_futex: `w` now waits on `key` in `to`.
void Move(Bucket& from, Bucket& to, Waiter& w, const FutexKey& key)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(from.mu, to.mu) {
  w.key = key;
  if (&from == &to) return;
  Unlink(from, w);
  Enqueue(to, w);
}

// The first waiter on `key` (Linux's futex_top_waiter).
Waiter* TopWaiter(Bucket& b, const FutexKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu) {
  for (Waiter* w = b.head; w != nullptr; w = w->next) {
    if (w->key == key) return w;
  }
  return nullptr;
}

const timespec* DeadlinePtr(const Deadline& d) { return d.at ? &*d.at : nullptr; }

// Linux's attach_to_pi_state: a waiter exists, so the word must agree with
// its PI state (the table of cases in Linux's kernel/futex/pi.c).
ErrnoOr<int> AttachToPiState(mm::MemoryManager& mm, UserAddr addr, uint32_t uval,
                             const std::shared_ptr<PiState>& pi_state,
                             std::shared_ptr<PiState>* ps) {
  // The waiter is not a PI waiter: PI and non-PI operations mixed on a word.
  if (pi_state == nullptr) return Errno(EINVAL);
  ASSIGN_OR_RETURN(uint32_t uval2, Load(mm, addr));
  if (uval2 != uval) return Errno(EAGAIN);
  const pid_t pid = static_cast<pid_t>(uval & kTidMask);
  if (uval & kOwnerDied) {
    if (pi_state->owner == 0) {
      if (pid != 0) return Errno(EINVAL);
      *ps = pi_state;
      return 0;
    }
    if (pid == 0) {
      *ps = pi_state;
      return 0;
    }
  } else if (pi_state->owner == 0) {
    return Errno(EINVAL);
  }
  if (pid != pi_state->owner) return Errno(EINVAL);
  *ps = pi_state;
  return 0;
}

}  // namespace

FutexManager::FutexManager(std::function<bool(pid_t)> task_exists)
    : task_exists_(std::move(task_exists)) {}

FutexManager::~FutexManager() = default;

Bucket* FutexManager::BucketFor(const FutexKey& key) {
  return &buckets_[absl::Hash<FutexKey>{}(key) % kNumBuckets];
}

namespace {

// The bucket `w` is queued in, locked; null if someone dequeued it.
Bucket* LockQueued(Waiter& w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (;;) {
    Bucket* b = w.bucket.load(std::memory_order_acquire);
    if (b == nullptr) return nullptr;
    b->mu.Lock();
    // A requeue may have moved it meanwhile (holding this lock too).
    if (w.bucket.load(std::memory_order_relaxed) == b) return b;
    b->mu.Unlock();
  }
}

// Sleeps until someone dequeues `w` (Ok), or the deadline passes or the waker
// is interrupted while `w` is still queued: then the error (ETIMEDOUT, EINTR)
// with `w`'s bucket locked in *locked. Spurious wakes sleep again.
ErrnoOrOk SleepQueued(Waiter& w, const Deadline& d, Bucket** locked) {
  for (;;) {
    ErrnoOrOk r = w.waker->Block(d.clock, DeadlinePtr(d));
    Bucket* b = LockQueued(w);
    if (b == nullptr) return Ok();
    if (r.ok()) {  // a stale wake: go back to sleep
      b->mu.AssertHeld();
      b->mu.Unlock();
      continue;
    }
    *locked = b;
    return r.error().value() == ETIMEDOUT ? r : ErrnoOrOk(Errno(EINTR));
  }
}

// Takes `w` (queued in the locked `b`) off the queue ourselves and unlocks.
void LeaveQueue(Bucket* b, Waiter& w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Unlink(*b, w);
  w.bucket.store(nullptr, std::memory_order_relaxed);
  b->mu.Unlock();
}

}  // namespace

// ---------------------------------------------------------------------------
// WAIT, WAKE, REQUEUE, WAKE_OP

ErrnoOrOk FutexManager::Wait(mm::MemoryManager& mm, UserAddr addr, bool is_private, uint32_t val,
                             uint32_t bitset, waiter::Waker& waker, const Deadline& deadline) {
  if (bitset == 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/false));
  Waiter w;
  w.key = std::move(key);
  w.bitset = bitset;
  w.waker = &waker;
  Bucket& b = *BucketFor(w.key);
  {
    // The check and the queueing are one step with respect to every waker.
    absl::MutexLock l(&b.mu);
    ASSIGN_OR_RETURN(uint32_t cur, Load(mm, addr));
    if (cur != val) return Errno(EAGAIN);
    Enqueue(b, w);
  }
  Bucket* locked = nullptr;
  ErrnoOrOk r = SleepQueued(w, deadline, &locked);
  if (r.ok()) return Ok();  // woken, whatever else happened
  LeaveQueue(locked, w);
  return r.error().value() == ETIMEDOUT ? Errno(ETIMEDOUT) : Errno(kERESTARTSYS);
}

ErrnoOr<int> FutexManager::Wake(mm::MemoryManager& mm, UserAddr addr, bool is_private, int nr_wake,
                                uint32_t bitset) {
  if (bitset == 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/false));
  Bucket& b = *BucketFor(key);
  absl::MutexLock l(&b.mu);
  int woken = 0;
  for (Waiter *w = b.head, *next; w != nullptr; w = next) {
    next = w->next;
    if (!(w->key == key)) continue;
    // A PI waiter is woken only by UNLOCK_PI.
    if (w->pi_state != nullptr || w->requeue_pi) return Errno(EINVAL);
    if (!(w->bitset & bitset)) continue;
    WakeWaiter(b, *w, false);
    if (++woken >= nr_wake) break;
  }
  return woken;
}

ErrnoOr<int> FutexManager::Requeue(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2,
                                   bool is_private, int nr_wake, int nr_requeue,
                                   const uint32_t* cmpval) {
  if (nr_wake < 0 || nr_requeue < 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(FutexKey key1, KeyOf(mm, addr, is_private, /*write=*/false));
  ASSIGN_OR_RETURN(FutexKey key2, KeyOf(mm, addr2, is_private, /*write=*/false));
  Bucket& b1 = *BucketFor(key1);
  Bucket& b2 = *BucketFor(key2);
  DoubleLock l(b1, b2);
  if (cmpval != nullptr) {
    ASSIGN_OR_RETURN(uint32_t cur, Load(mm, addr));
    if (cur != *cmpval) return Errno(EAGAIN);
  }
  int count = 0;
  for (Waiter *w = b1.head, *next; w != nullptr; w = next) {
    next = w->next;
    if (count - nr_wake >= nr_requeue) break;
    if (!(w->key == key1)) continue;
    // WAIT_REQUEUE_PI waiters go with CMP_REQUEUE_PI only; PI waiters never move.
    if (w->requeue_pi || w->pi_state != nullptr) return Errno(EINVAL);
    if (++count <= nr_wake) {
      WakeWaiter(b1, *w, false);
    } else {
      Move(b1, b2, *w, key2);
    }
  }
  return count;
}

ErrnoOr<int> FutexManager::WakeOp(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2,
                                  bool is_private, int nr_wake, int nr_wake2, uint32_t encoded_op) {
  ASSIGN_OR_RETURN(FutexKey key1, KeyOf(mm, addr, is_private, /*write=*/false));
  ASSIGN_OR_RETURN(FutexKey key2, KeyOf(mm, addr2, is_private, /*write=*/true));
  Bucket& b1 = *BucketFor(key1);
  Bucket& b2 = *BucketFor(key2);
  DoubleLock l(b1, b2);
  // An unknown operation fails before the word is touched; an unknown
  // comparison after it was changed (Linux's order).
  RETURN_IF_ERROR(futex::WakeOpApply(encoded_op, 0));
  uint32_t old = 0;
  RETURN_IF_ERROR(mm.WithWord(addr2, /*write=*/true, [&](uint32_t* p) {
    std::atomic_ref word(*p);
    old = word.load();
    while (!word.compare_exchange_weak(old, *futex::WakeOpApply(encoded_op, old))) {
    }
  }));
  ASSIGN_OR_RETURN(bool wake2, futex::WakeOpCompare(encoded_op, old));
  int woken = 0;
  for (Waiter *w = b1.head, *next; w != nullptr; w = next) {
    next = w->next;
    if (!(w->key == key1)) continue;
    if (w->pi_state != nullptr || w->requeue_pi) return Errno(EINVAL);
    WakeWaiter(b1, *w, false);
    if (++woken >= nr_wake) break;
  }
  if (wake2) {
    int woken2 = 0;
    for (Waiter *w = b2.head, *next; w != nullptr; w = next) {
      next = w->next;
      if (!(w->key == key2)) continue;
      if (w->pi_state != nullptr || w->requeue_pi) return Errno(EINVAL);
      WakeWaiter(b2, *w, false);
      if (++woken2 >= nr_wake2) break;
    }
    woken += woken2;
  }
  return woken;
}

// ---------------------------------------------------------------------------
// PI

FutexManager::OwnerState FutexManager::GetOwnerState(pid_t tid) {
  bool dead = false;
  {
    absl::MutexLock l(&exit_mu_);
    auto it = exits_.find(tid);
    if (it != exits_.end()) {
      if (it->second == ExitState::kExiting) return OwnerState::kExiting;
      dead = true;
    }
  }
  const bool exists = task_exists_(tid);
  if (dead) {
    if (!exists) ForgetTid(tid);
    return OwnerState::kDead;
  }
  return exists ? OwnerState::kAlive : OwnerState::kDead;
}

void FutexManager::WaitForExit(pid_t tid) {
  absl::MutexLock l(&exit_mu_);
  auto done = [this, tid]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    auto it = exits_.find(tid);
    return it == exits_.end() || it->second != ExitState::kExiting;
  };
  exit_mu_.Await(absl::Condition(&done));
}

// Linux's attach_to_pi_owner (and handle_exit_race): the first waiter of a
// lock held by the TID in `uval`.
ErrnoOr<int> FutexManager::AttachToPiOwner(mm::MemoryManager& mm, UserAddr addr, uint32_t uval,
                                           std::shared_ptr<PiState>* ps) {
  const pid_t pid = static_cast<pid_t>(uval & kTidMask);
  if (pid == 0) return Errno(EAGAIN);
  switch (GetOwnerState(pid)) {
    case OwnerState::kAlive: {
      auto state = std::make_shared<PiState>();
      state->owner = pid;
      *ps = std::move(state);
      return 0;
    }
    case OwnerState::kExiting:
      return Errno(EBUSY);
    case OwnerState::kDead:
      break;
  }
  // The owner is gone. If its exit changed the word (robust list), retry;
  // otherwise the word is bogus (no robust list, or a made-up TID).
  ASSIGN_OR_RETURN(uint32_t uval2, Load(mm, addr));
  if (uval2 != uval) return Errno(EAGAIN);
  return Errno(ESRCH);
}

ErrnoOr<int> FutexManager::LockPiAtomic(mm::MemoryManager& mm, UserAddr addr, Bucket& b,
                                        const FutexKey& key, pid_t tid, bool set_waiters,
                                        std::shared_ptr<PiState>* ps) {
  ASSIGN_OR_RETURN(uint32_t uval, Load(mm, addr));
  if (static_cast<pid_t>(uval & kTidMask) == tid) return Errno(EDEADLK);
  if (Waiter* top = TopWaiter(b, key)) return AttachToPiState(mm, addr, uval, top->pi_state, ps);
  if ((uval & kTidMask) == 0) {
    // Free (a stale FUTEX_WAITERS or FUTEX_OWNER_DIED, or a caller that did
    // not try user space first): take it, keeping FUTEX_OWNER_DIED.
    uint32_t newval = (uval & kOwnerDied) | static_cast<uint32_t>(tid);
    if (set_waiters) newval |= kWaiters;
    ASSIGN_OR_RETURN(uint32_t found, CmpXchg(mm, addr, uval, newval));
    if (found != uval) return Errno(EAGAIN);
    if (set_waiters) {
      auto state = std::make_shared<PiState>();
      state->owner = tid;
      *ps = std::move(state);
    }
    return 1;
  }
  // The first waiter: FUTEX_WAITERS sends the owner's unlock to the kernel.
  const uint32_t newval = uval | kWaiters;
  ASSIGN_OR_RETURN(uint32_t found, CmpXchg(mm, addr, uval, newval));
  if (found != uval) return Errno(EAGAIN);
  return AttachToPiOwner(mm, addr, newval, ps);
}

ErrnoOrOk FutexManager::LockPi(mm::MemoryManager& mm, UserAddr addr, bool is_private, pid_t tid,
                               waiter::Waker* waker, const Deadline& deadline) {
  ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/true));
  Bucket& b = *BucketFor(key);
  Waiter w;
  for (;;) {
    std::shared_ptr<PiState> ps;
    ErrnoOr<int> r = 0;
    {
      absl::MutexLock l(&b.mu);
      r = LockPiAtomic(mm, addr, b, key, tid, /*set_waiters=*/false, &ps);
      if (r.ok() && *r == 1) return Ok();
      if (r.ok()) {
        // Held by someone else. (The sandbox keeps no lock unowned while it
        // has waiters, so a trylock cannot take it here.)
        if (waker == nullptr) return Errno(EAGAIN);
        w.key = key;
        w.waker = waker;
        w.tid = tid;
        w.mm = &mm;
        w.pi_addr = addr.value();
        w.pi_state = std::move(ps);
        Enqueue(b, w);
        break;
      }
    }
    const int err = r.error().value();
    if (err != EAGAIN && err != EBUSY) return r.error();
    if (err == EBUSY) {
      // The owner is exiting: its exit will mark the word; look again after.
      auto uval = Load(mm, addr);
      if (uval.ok()) WaitForExit(static_cast<pid_t>(*uval & kTidMask));
    }
    if (waker != nullptr && waker->interrupted()) return Errno(kERESTARTNOINTR);
  }
  Bucket* locked = nullptr;
  ErrnoOrOk r = SleepQueued(w, deadline, &locked);
  if (r.ok()) return Ok();  // handed the lock
  LeaveQueue(locked, w);
  return r.error().value() == ETIMEDOUT ? Errno(ETIMEDOUT) : Errno(kERESTARTNOINTR);
}

ErrnoOrOk FutexManager::UnlockPi(mm::MemoryManager& mm, UserAddr addr, bool is_private, pid_t tid) {
  for (;;) {
    // Read before the key (Linux's get_user): a misaligned word not ours is
    // EPERM, not EINVAL.
    uint32_t uval = 0;
    RETURN_IF_ERROR(mm.CopyInObj(UserPtr<uint32_t>(addr), &uval));
    // Only the owner unlocks.
    if (static_cast<pid_t>(uval & kTidMask) != tid) return Errno(EPERM);
    ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/true));
    Bucket& b = *BucketFor(key);
    absl::MutexLock l(&b.mu);
    if (Waiter* top = TopWaiter(b, key)) {
      // The kernel's state must agree that we own it.
      if (top->pi_state == nullptr || top->pi_state->owner != tid) return Errno(EINVAL);
      // Linux's wake_futex_pi: the first waiter becomes the owner. The
      // WAITERS bit stays while there is PI state; OWNER_DIED goes.
      const uint32_t newval = kWaiters | static_cast<uint32_t>(top->tid);
      ASSIGN_OR_RETURN(uint32_t found, CmpXchg(mm, addr, uval, newval));
      if (found != uval) {
        // A waiter set FUTEX_WAITERS after we read the word: look again.
        if ((found & kTidMask) == uval) continue;
        return Errno(EINVAL);
      }
      top->pi_state->owner = top->tid;
      WakeWaiter(b, *top, /*locked=*/true);
      return Ok();
    }
    // No waiters in the kernel: free it, dropping WAITERS and OWNER_DIED.
    ASSIGN_OR_RETURN(uint32_t found, CmpXchg(mm, addr, uval, 0));
    return found == uval ? Ok() : ErrnoOrOk(Errno(EAGAIN));
  }
}

ErrnoOrOk FutexManager::WaitRequeuePi(mm::MemoryManager& mm, UserAddr addr, bool is_private,
                                      uint32_t val, UserAddr addr2, pid_t tid, waiter::Waker& waker,
                                      const Deadline& deadline) {
  if (addr == addr2) return Errno(EINVAL);
  ASSIGN_OR_RETURN(FutexKey key2, KeyOf(mm, addr2, is_private, /*write=*/true));
  ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/false));
  Waiter w;
  w.key = std::move(key);
  w.waker = &waker;
  w.tid = tid;
  w.mm = &mm;
  w.pi_addr = addr2.value();
  w.requeue_pi = true;
  w.requeue_pi_key = std::move(key2);
  Bucket& b = *BucketFor(w.key);
  {
    absl::MutexLock l(&b.mu);
    ASSIGN_OR_RETURN(uint32_t cur, Load(mm, addr));
    if (cur != val) return Errno(EAGAIN);
    // Shared futexes can be one word under two addresses.
    if (w.key == w.requeue_pi_key) return Errno(EINVAL);
    Enqueue(b, w);
  }
  Bucket* locked = nullptr;
  ErrnoOrOk r = SleepQueued(w, deadline, &locked);
  if (r.ok()) return Ok();  // the requeue, or an unlock after it, handed us the lock
  const bool requeued = w.pi_state != nullptr;  // guarded by *locked
  LeaveQueue(locked, w);
  if (r.error().value() == ETIMEDOUT) return Errno(ETIMEDOUT);
  // Interrupted: before the requeue the call restarts; after it a restart
  // would only find the word changed, so Linux says so at once.
  return requeued ? Errno(EAGAIN) : Errno(kERESTARTNOINTR);
}

ErrnoOr<int> FutexManager::CmpRequeuePi(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2,
                                        bool is_private, int nr_wake, int nr_requeue,
                                        uint32_t cmpval) {
  if (nr_wake < 0 || nr_requeue < 0) return Errno(EINVAL);
  if (addr == addr2) return Errno(EINVAL);
  // Waking more than the one waiter that can take the lock makes no sense.
  if (nr_wake != 1) return Errno(EINVAL);
  ASSIGN_OR_RETURN(FutexKey key1, KeyOf(mm, addr, is_private, /*write=*/false));
  ASSIGN_OR_RETURN(FutexKey key2, KeyOf(mm, addr2, is_private, /*write=*/true));
  if (key1 == key2) return Errno(EINVAL);
  Bucket& b1 = *BucketFor(key1);
  Bucket& b2 = *BucketFor(key2);
  for (;;) {
    pid_t exiting_owner = 0;
    {
      DoubleLock l(b1, b2);
      ASSIGN_OR_RETURN(uint32_t cur, Load(mm, addr));
      if (cur != cmpval) return Errno(EAGAIN);
      int count = 0;
      std::shared_ptr<PiState> ps;
      // Linux's futex_proxy_trylock_atomic: take addr2 for the first waiter
      // if it is free; else set up the state its waiters queue on.
      if (Waiter* top = TopWaiter(b1, key1)) {
        if (!top->requeue_pi || top->pi_state != nullptr) return Errno(EINVAL);
        if (!(top->requeue_pi_key == key2)) return Errno(EINVAL);
        ErrnoOr<int> r = LockPiAtomic(mm, addr2, b2, key2, top->tid,
                                      /*set_waiters=*/nr_requeue > 0, &ps);
        if (!r.ok()) {
          const int err = r.error().value();
          if (err != EAGAIN && err != EBUSY) return r.error();
          if (err == EBUSY) {
            auto uval = Load(mm, addr2);
            exiting_owner = uval.ok() ? static_cast<pid_t>(*uval & kTidMask) : 0;
          }
        } else {
          if (*r == 1) {
            top->key = key2;
            top->pi_state = ps;
            WakeWaiter(b1, *top, /*locked=*/true);
            ++count;
          }
          int err = 0;
          for (Waiter *w = b1.head, *next; w != nullptr; w = next) {
            next = w->next;
            if (count - nr_wake >= nr_requeue) break;
            if (!(w->key == key1)) continue;
            if (!w->requeue_pi || w->pi_state != nullptr || !(w->requeue_pi_key == key2)) {
              err = EINVAL;
              break;
            }
            if (ps == nullptr) break;  // (cannot happen: requeueing implies set_waiters)
            if (ps->owner == w->tid) {
              // It would wait for a lock it holds (rt_mutex deadlock detection).
              err = EDEADLK;
              break;
            }
            w->pi_state = ps;
            Move(b1, b2, *w, key2);
            ++count;
          }
          if (err != 0) return Errno(err);
          return count;
        }
      } else {
        return 0;  // nobody to requeue
      }
    }
    // The word changed, or its owner is exiting: start again.
    if (exiting_owner != 0) WaitForExit(exiting_owner);
  }
}

// ---------------------------------------------------------------------------
// Exit

void FutexManager::ExitBegin(pid_t tid) {
  absl::MutexLock l(&exit_mu_);
  exits_[tid] = ExitState::kExiting;
}

void FutexManager::ExitEnd(pid_t tid) {
  absl::MutexLock l(&exit_mu_);
  exits_[tid] = ExitState::kDead;
}

void FutexManager::ForgetTid(pid_t tid) {
  absl::MutexLock l(&exit_mu_);
  exits_.erase(tid);
}

// Linux's handle_futex_death: 0 to go on walking, -1 to stop.
int FutexManager::HandleFutexDeath(mm::MemoryManager& mm, uint64_t uaddr, pid_t tid, bool pi,
                                   bool pending_op) {
  if (uaddr % sizeof(uint32_t) != 0) return -1;
  const UserAddr addr(uaddr);
  for (;;) {
    ErrnoOr<uint32_t> uval = Load(mm, addr);
    if (!uval.ok()) return -1;
    // The owner died between releasing the word (0) and waking a waiter, or
    // a woken waiter died before taking it: wake another without marking the
    // word, which is consistent as it is.
    if (pending_op && !pi && *uval == 0) {
      (void)Wake(mm, addr, /*is_private=*/false, 1, kBitsetMatchAny);
      return 0;
    }
    if (static_cast<pid_t>(*uval & kTidMask) != tid) return 0;
    const uint32_t mval = (*uval & kWaiters) | kOwnerDied;
    ErrnoOr<uint32_t> found = CmpXchg(mm, addr, *uval, mval);
    if (!found.ok()) return -1;
    if (*found != *uval) continue;
    // PI waiters are handed the lock by ExitPiState instead.
    if (!pi && (*uval & kWaiters)) (void)Wake(mm, addr, /*is_private=*/false, 1, kBitsetMatchAny);
    return 0;
  }
}

void FutexManager::ExitRobustList(mm::MemoryManager& mm, pid_t tid, uint64_t head) {
  if (head == 0) return;
  // struct robust_list_head { struct robust_list list; long futex_offset;
  //                           struct robust_list* list_op_pending; }
  // Entries are guest pointers; bit 0 marks a PI futex.
  auto fetch = [&mm](uint64_t at, uint64_t* entry, bool* pi) {
    uint64_t v = 0;
    if (!mm.CopyInObj(UserPtr<uint64_t>(at), &v).ok()) return false;
    *entry = v & ~uint64_t{1};
    *pi = v & 1;
    return true;
  };
  uint64_t entry = 0, pending = 0;
  bool pi = false, pending_pi = false;
  int64_t futex_offset = 0;
  if (!fetch(head, &entry, &pi)) return;
  if (!mm.CopyInObj(UserPtr<int64_t>(head + 8), &futex_offset).ok()) return;
  if (!fetch(head + 16, &pending, &pending_pi)) return;
  int limit = futex::kRobustListLimit;
  while (entry != head) {
    // Fetch the next entry before the futex is released.
    uint64_t next = 0;
    bool next_pi = false;
    const bool fetched = fetch(entry, &next, &next_pi);
    // The pending entry may be on the list too: handle it once, below.
    if (entry != pending &&
        HandleFutexDeath(mm, entry + static_cast<uint64_t>(futex_offset), tid, pi, false) != 0) {
      return;
    }
    if (!fetched) return;
    entry = next;
    pi = next_pi;
    if (--limit == 0) break;  // a long or circular list
  }
  if (pending != 0) {
    (void)HandleFutexDeath(mm, pending + static_cast<uint64_t>(futex_offset), tid, pending_pi,
                           true);
  }
}

void FutexManager::HandOffFromDeadOwner(Bucket& b, Waiter& w) {
  // Linux: the waiter that takes the rt_mutex fixes the word up
  // (fixup_pi_state_owner); here the exiting task does it for it.
  const UserAddr addr(w.pi_addr);
  const uint32_t newtid = static_cast<uint32_t>(w.tid) | kWaiters | kOwnerDied;
  ErrnoOr<uint32_t> uval = Load(*w.mm, addr);
  for (int tries = 0; uval.ok() && tries < 1000; ++tries) {
    ErrnoOr<uint32_t> found = CmpXchg(*w.mm, addr, *uval, (*uval & kOwnerDied) | newtid);
    if (!found.ok() || *found == *uval) break;
    uval = found;
  }
  w.pi_state->owner = w.tid;
  WakeWaiter(b, w, /*locked=*/true);
}

void FutexManager::ExitPiState(pid_t tid) {
  for (Bucket& b : buckets_) {
    absl::MutexLock l(&b.mu);
    // Every waiter of a lock shares its state; the first one met is first in line.
    for (Waiter *w = b.head, *next; w != nullptr; w = next) {
      next = w->next;
      if (w->pi_state != nullptr && w->pi_state->owner == tid) {
        w->pi_state->owner = 0;
        HandOffFromDeadOwner(b, *w);
      }
    }
  }
}

void FutexManager::ClearChildTid(mm::MemoryManager& mm, uint64_t addr) {
  (void)mm.CopyOutObj(UserPtr<uint32_t>(addr), uint32_t{0});
  (void)Wake(mm, UserAddr(addr), /*is_private=*/false, 1, kBitsetMatchAny);
}

void FutexManager::ExitThread(mm::MemoryManager& mm, pid_t tid, uint64_t robust_list_head,
                              uint64_t clear_child_tid) {
  ExitBegin(tid);
  ExitRobustList(mm, tid, robust_list_head);
  ExitPiState(tid);
  ExitEnd(tid);
  if (clear_child_tid != 0) ClearChildTid(mm, clear_child_tid);
}

void FutexManager::ExecThread(mm::MemoryManager& mm, pid_t tid, uint64_t robust_list_head,
                              uint64_t clear_child_tid) {
  ExitBegin(tid);
  ExitRobustList(mm, tid, robust_list_head);
  ExitPiState(tid);
  ForgetTid(tid);
  if (clear_child_tid != 0) ClearChildTid(mm, clear_child_tid);
}

ErrnoOr<int> FutexManager::CountWaiters(mm::MemoryManager& mm, UserAddr addr, bool is_private) {
  ASSIGN_OR_RETURN(FutexKey key, KeyOf(mm, addr, is_private, /*write=*/false));
  Bucket& b = *BucketFor(key);
  absl::MutexLock l(&b.mu);
  int n = 0;
  for (Waiter* w = b.head; w != nullptr; w = w->next) n += w->key == key;
  return n;
}

}  // namespace sentry::kernel
