// Futexes: the waiters of futex(2), robust lists and the PI lock protocol,
// modelled on Linux's kernel/futex (DESIGN.md §6). See README.md, "Futexes".
//
// The manager knows nothing of Task: an operation gets the address space the
// addresses are in (mm::MemoryManager), the caller's TID where the protocol
// needs it (PI), and the waiter::Waker to block on, so that tests drive it
// with plain host threads.
//
// Waiters are keyed by mm::FutexKey (MemoryManager::FutexKeyAt): (mm, address)
// for private futexes, (object, offset) for shared memory, and hashed into
// buckets. FUTEX_WAIT checks the word and queues with the bucket's lock held,
// and every waker takes that lock, so a wake cannot slip between the check and
// the sleep. The guest word is read and changed through the Sentry's mapping
// of the memory file (MemoryManager::WithWord), with real atomic operations.
//
// Lock order: Bucket::mu (two at once: the lower address first) > the
// MemoryManager's lock (the word, and the robust list at exit), and
// Bucket::mu > the owner lookup (the Kernel's task set lock); exit_mu_ is a
// leaf. A Waker is notified under a bucket lock (it takes no lock).
#ifndef SENTRY_KERNEL_FUTEX_H_
#define SENTRY_KERNEL_FUTEX_H_

#include <sys/types.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/mm.h"
#include "sentry/waiter/waiter.h"

namespace sentry::kernel {

namespace futex {

// The bits of a PI or robust futex word (include/uapi/linux/futex.h).
inline constexpr uint32_t kWaiters = 0x80000000;    // FUTEX_WAITERS
inline constexpr uint32_t kOwnerDied = 0x40000000;  // FUTEX_OWNER_DIED
inline constexpr uint32_t kTidMask = 0x3fffffff;    // FUTEX_TID_MASK
inline constexpr uint32_t kBitsetMatchAny = 0xffffffff;
// The most robust-list entries walked at exit (ROBUST_LIST_LIMIT).
inline constexpr int kRobustListLimit = 2048;
// sizeof(struct robust_list_head) on x86-64.
inline constexpr uint64_t kRobustListHeadSize = 24;

// When a blocking operation gives up: `at` (absolute) on `clock`; never
// without `at`.
struct Deadline {
  clockid_t clock = CLOCK_MONOTONIC;
  std::optional<timespec> at;
};

// FUTEX_WAKE_OP's encoded operation applied to `old`: the new value, or
// ENOSYS for an unknown operation. An out-of-range shift is masked to 0..31,
// as Linux does (with a warning there).
ErrnoOr<uint32_t> WakeOpApply(uint32_t encoded_op, uint32_t old);
// FUTEX_WAKE_OP's comparison of the old value: ENOSYS for an unknown one.
ErrnoOr<bool> WakeOpCompare(uint32_t encoded_op, uint32_t old);

struct PiState;
struct Bucket;

// One blocked operation; lives on the blocked thread's stack. Every field but
// `bucket` is guarded by the lock of the bucket it is queued in.
struct Waiter {
  mm::FutexKey key;
  uint32_t bitset = kBitsetMatchAny;
  waiter::Waker* waker = nullptr;
  // The waiting task, and where its PI word is (in its own mm): the exit of
  // a PI owner hands the lock to a waiter by writing its TID there.
  pid_t tid = 0;
  mm::MemoryManager* mm = nullptr;
  uint64_t pi_addr = 0;
  // A PI lock waiter (FUTEX_LOCK_PI, or FUTEX_WAIT_REQUEUE_PI once requeued):
  // the lock it waits for. Linux's futex_q::pi_state.
  std::shared_ptr<PiState> pi_state;
  // FUTEX_WAIT_REQUEUE_PI: waits on `key` for CMP_REQUEUE_PI to this key.
  bool requeue_pi = false;
  mm::FutexKey requeue_pi_key;
  // How it left the queue: woken, or (PI) handed the lock.
  bool locked = false;
  // The bucket's list.
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  // The bucket it is queued in; null once dequeued by someone else, which
  // is what the waiting thread looks at. Changed only under that bucket's
  // lock (and the new one's, for a requeue).
  std::atomic<Bucket*> bucket{nullptr};
};

// A PI futex's kernel state while it has waiters (Linux's futex_pi_state):
// which TID owns the lock. The sandbox does not schedule, so there is no
// priority inheritance: a PI futex is a lock handed to its waiters in FIFO
// order, with Linux's word protocol and errors.
struct PiState {
  pid_t owner = 0;  // 0: the owner died and nobody has been handed the lock yet
};

struct Bucket {
  absl::Mutex mu;
  Waiter* head ABSL_GUARDED_BY(mu) = nullptr;
  Waiter* tail ABSL_GUARDED_BY(mu) = nullptr;
};

}  // namespace futex

class FutexManager {
 public:
  // `task_exists(tid)`: whether `tid` names a task (a PI owner's liveness);
  // called under a bucket lock, so it may take the task set's lock but no
  // futex lock.
  explicit FutexManager(std::function<bool(pid_t)> task_exists);
  ~FutexManager();
  FutexManager(const FutexManager&) = delete;
  FutexManager& operator=(const FutexManager&) = delete;

  // --- futex(2). Addresses are in `mm`; `is_private` is FUTEX_PRIVATE_FLAG.
  // Blocking operations sleep on `waker`: Waker::Interrupt ends them with the
  // restart code Linux uses. Argument checks that Linux makes before the
  // operation (timeouts, FUTEX_CLOCK_REALTIME, the command) are the caller's.

  // FUTEX_WAIT / FUTEX_WAIT_BITSET: sleeps until woken (Ok), unless the word
  // is not `val` (EAGAIN). ETIMEDOUT; kERESTARTSYS when interrupted (the
  // caller turns it into ERESTART_RESTARTBLOCK when there is a deadline).
  ErrnoOrOk Wait(mm::MemoryManager& mm, UserAddr addr, bool is_private, uint32_t val,
                 uint32_t bitset, waiter::Waker& waker, const futex::Deadline& deadline);
  // FUTEX_WAKE / FUTEX_WAKE_BITSET: the number woken. As in Linux, a
  // `nr_wake` below 1 still wakes one.
  ErrnoOr<int> Wake(mm::MemoryManager& mm, UserAddr addr, bool is_private, int nr_wake,
                    uint32_t bitset);
  // FUTEX_REQUEUE (`cmpval` null) / FUTEX_CMP_REQUEUE: wakes `nr_wake`
  // waiters of `addr` and moves up to `nr_requeue` more to `addr2`; returns
  // both counted.
  ErrnoOr<int> Requeue(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2, bool is_private,
                       int nr_wake, int nr_requeue, const uint32_t* cmpval);
  // FUTEX_WAKE_OP: applies `encoded_op` to the word at `addr2`, wakes up to
  // `nr_wake` of `addr` and, if the comparison of the old value holds, up to
  // `nr_wake2` of `addr2`.
  ErrnoOr<int> WakeOp(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2, bool is_private,
                      int nr_wake, int nr_wake2, uint32_t encoded_op);

  // FUTEX_LOCK_PI / LOCK_PI2 (`waker` non-null) and FUTEX_TRYLOCK_PI (null):
  // takes the lock in the word for `tid`, or sleeps until the owner hands it
  // over. EDEADLK (we own it), ESRCH (the owner TID names no task), EINVAL
  // (the word disagrees with the kernel's state), EAGAIN (trylock),
  // ETIMEDOUT; kERESTARTNOINTR when interrupted.
  ErrnoOrOk LockPi(mm::MemoryManager& mm, UserAddr addr, bool is_private, pid_t tid,
                   waiter::Waker* waker, const futex::Deadline& deadline);
  // FUTEX_UNLOCK_PI: EPERM unless `tid` owns the word; hands the lock to the
  // first waiter (the word becomes its TID | FUTEX_WAITERS) or clears it.
  ErrnoOrOk UnlockPi(mm::MemoryManager& mm, UserAddr addr, bool is_private, pid_t tid);
  // FUTEX_WAIT_REQUEUE_PI: waits on `addr` (non-PI) until FUTEX_CMP_REQUEUE_PI
  // moves it to the PI futex `addr2`, then returns owning it (Ok).
  // ETIMEDOUT; interrupted: kERESTARTNOINTR before the requeue, EAGAIN after.
  ErrnoOrOk WaitRequeuePi(mm::MemoryManager& mm, UserAddr addr, bool is_private, uint32_t val,
                          UserAddr addr2, pid_t tid, waiter::Waker& waker,
                          const futex::Deadline& deadline);
  // FUTEX_CMP_REQUEUE_PI: takes `addr2` for the first waiter of `addr` if it
  // is free (waking it), and queues up to `nr_requeue` others on it.
  ErrnoOr<int> CmpRequeuePi(mm::MemoryManager& mm, UserAddr addr, UserAddr addr2, bool is_private,
                            int nr_wake, int nr_requeue, uint32_t cmpval);

  // --- Thread exit (Linux's futex_exit_release and mm_release). The exit
  // path calls ExitThread, or the pieces in this order. `mm` is the exiting
  // thread's address space, still alive. ---

  // All of it: ExitBegin, ExitRobustList, ExitPiState, ExitEnd, then
  // ClearChildTid when `clear_child_tid` is non-zero. (Linux clears the TID
  // only when another task shares the mm: pass 0 otherwise.)
  void ExitThread(mm::MemoryManager& mm, pid_t tid, uint64_t robust_list_head,
                  uint64_t clear_child_tid);
  // The same at execve, on the old mm before it goes (Linux's
  // futex_exec_release and exec_mm_release): the task lives on under its TID,
  // so a PI locker finds it alive again afterwards.
  void ExecThread(mm::MemoryManager& mm, pid_t tid, uint64_t robust_list_head,
                  uint64_t clear_child_tid);
  // `tid` is exiting: a PI locker that finds it the owner waits for ExitEnd.
  void ExitBegin(pid_t tid);
  // Linux's exit_robust_list: walks the robust list at `head` (set_robust_list;
  // 0: none), at most kRobustListLimit entries and the pending one, and marks
  // each futex `tid` holds FUTEX_OWNER_DIED (keeping FUTEX_WAITERS), waking
  // one waiter of a non-PI one. Stops quietly at any fault.
  void ExitRobustList(mm::MemoryManager& mm, pid_t tid, uint64_t head);
  // Linux's exit_pi_state_list: hands every PI lock `tid` owns and others wait
  // for to its first waiter, marked FUTEX_OWNER_DIED.
  void ExitPiState(pid_t tid);
  // `tid` has finished: a PI locker that finds it the owner gets ESRCH (or
  // retries if the word changed).
  void ExitEnd(pid_t tid);
  // mm_release's clear_child_tid: stores 0 at `addr` and wakes one waiter
  // (a shared futex, as Linux does; pthread_join waits on it).
  void ClearChildTid(mm::MemoryManager& mm, uint64_t addr);
  // `tid` may be given to a new task (it left the task set): forgets its exit.
  void ForgetTid(pid_t tid);

  // The number of waiters queued on the futex at `addr` (tests).
  ErrnoOr<int> CountWaiters(mm::MemoryManager& mm, UserAddr addr, bool is_private);

 private:
  static constexpr size_t kNumBuckets = 256;
  enum class ExitState { kExiting, kDead };
  enum class OwnerState { kAlive, kExiting, kDead };

  futex::Bucket* BucketFor(const mm::FutexKey& key);
  OwnerState GetOwnerState(pid_t tid);
  void WaitForExit(pid_t tid);

  // Linux's futex_lock_pi_atomic, with `b` (key's bucket) locked: 1 when the
  // lock was taken for `tid`, 0 when `*ps` is the state to wait on, or an
  // error (EAGAIN: the word changed, retry; EBUSY: the owner is exiting,
  // WaitForExit and retry).
  ErrnoOr<int> LockPiAtomic(mm::MemoryManager& mm, UserAddr addr, futex::Bucket& b,
                            const mm::FutexKey& key, pid_t tid, bool set_waiters,
                            std::shared_ptr<futex::PiState>* ps)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu);
  ErrnoOr<int> AttachToPiOwner(mm::MemoryManager& mm, UserAddr addr, uint32_t uval,
                               std::shared_ptr<futex::PiState>* ps);
  // Handle a PI futex whose owner died to `w` (its first waiter): the word
  // becomes w's TID | FUTEX_WAITERS | FUTEX_OWNER_DIED.
  void HandOffFromDeadOwner(futex::Bucket& b, futex::Waiter& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu);
  int HandleFutexDeath(mm::MemoryManager& mm, uint64_t uaddr, pid_t tid, bool pi, bool pending_op);

  std::function<bool(pid_t)> task_exists_;
  std::array<futex::Bucket, kNumBuckets> buckets_;
  absl::Mutex exit_mu_;
  // Tasks between ExitBegin and ForgetTid. Lazily forgotten once task_exists_
  // says the TID is gone.
  absl::flat_hash_map<pid_t, ExitState> exits_ ABSL_GUARDED_BY(exit_mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FUTEX_H_
