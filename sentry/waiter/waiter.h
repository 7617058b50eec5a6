// Wait queues: how an object (a pipe, an eventfd, a futex word, a process)
// tells whoever waits on it that something happened, and how a task blocks
// until it does (DESIGN.md §6). Modelled on Linux's wait_queue_head and
// gVisor's waiter.Queue.
//
// Events are poll(2) bits (POLLIN, POLLOUT, ...) plus the few internal bits
// below. An object owns a Queue and calls Notify(events) after its state
// changes; a waiter registers with the mask it cares about, re-checks the
// object's state (so a change between its check and its registration is not
// lost), and blocks. Notification is level-free: a waiter must re-check the
// state after waking, and wakes may be spurious.
//
// Lock order: an object's own lock > Queue::mu_ > what Waiter::NotifyEvent
// takes (which must be a leaf: a Waker takes nothing; epoll takes only its
// ready list's lock, then, that released, notifies its own queue, so queue
// locks nest along a chain of epolls, which epoll_ctl keeps acyclic).
#ifndef SENTRY_WAITER_WAITER_H_
#define SENTRY_WAITER_WAITER_H_

#include <poll.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::waiter {

// Internal events beyond poll(2)'s bits.
inline constexpr uint32_t kEventHUp = POLLHUP;
inline constexpr uint32_t kEventChildExit = 1u << 24;  // a child changed state (wait4)
inline constexpr uint32_t kEventAll = ~0u;

// Something that wants to hear about events on a Queue.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Called with the queue's lock held, from whatever thread changed the
  // object: must not block or take any lock but a leaf.
  virtual void NotifyEvent(uint32_t events) = 0;
};

class Queue {
 public:
  Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Registers `w` for the events in `mask` (a waiter registers at most once
  // per queue).
  void EventRegister(Waiter* w, uint32_t mask);
  void EventUnregister(Waiter* w);
  // Tells every waiter whose mask meets `events`.
  void Notify(uint32_t events);
  bool HasWaiters() const;

 private:
  struct Entry {
    Waiter* waiter;
    uint32_t mask;
  };
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Registers `w` on `q` for the life of the scope.
class ScopedRegistration {
 public:
  ScopedRegistration(Queue& q, Waiter* w, uint32_t mask) : q_(&q), w_(w) {
    q.EventRegister(w, mask);
  }
  ~ScopedRegistration() { q_->EventUnregister(w_); }
  ScopedRegistration(const ScopedRegistration&) = delete;
  ScopedRegistration& operator=(const ScopedRegistration&) = delete;

 private:
  Queue* q_;
  Waiter* w_;
};

// Told by a Waker whose host thread is about to sleep in Block (a task: its
// platform context stops spinning for the guest, Context::WillBlock). Called
// on that thread, at most once per Block, and not when a wake is already
// pending (Block then returns at once).
class SleepListener {
 public:
  virtual void WillSleep() = 0;
  // The Block that told WillSleep returns (on the same thread).
  virtual void Woke() {}

 protected:
  ~SleepListener() = default;
};

// What a blocked host thread sleeps on: an eventfd that NotifyEvent (or
// Wake) makes readable, polled together with an interrupt eventfd and any host
// fds the caller also waits for. A Task owns one (Task::waker()); tests make
// their own.
class Waker : public Waiter {
 public:
  Waker();
  ~Waker() override;
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  void NotifyEvent(uint32_t events) override;
  void Wake();
  // Makes the current or next Block return EINTR (until ClearInterrupt).
  void Interrupt();
  void ClearInterrupt();
  bool interrupted() const { return interrupted_.load(std::memory_order_acquire); }

  // Blocks until woken (Ok), interrupted (EINTR), `deadline` on `clock` passes
  // (ETIMEDOUT; null waits forever), or one of `host_fds` is ready (Ok, with
  // revents set). A wake that came before the call returns at once: wakes are
  // remembered until a Block consumes them.
  ErrnoOrOk Block(clockid_t clock, const timespec* deadline, std::span<pollfd> host_fds = {});

  // The fd to poll for interrupts (for waits that poll host fds themselves).
  int interrupt_fd() const { return interrupt_fd_; }

  // Set once, by the owner, before any Block (null: none).
  void set_sleep_listener(SleepListener* l) { sleep_listener_ = l; }

 private:
  SleepListener* sleep_listener_ = nullptr;
  int wake_fd_ = -1;
  // A Wake since the last drain of wake_fd_ (set before the eventfd is
  // written): Block then will not sleep, so it does not tell the listener.
  // Only a hint: a stale value costs one needless or one missed WillSleep.
  std::atomic<bool> wake_pending_{false};
  int interrupt_fd_ = -1;
  std::atomic<bool> interrupted_{false};
  // An Interrupt wrote interrupt_fd_ since the last ClearInterrupt drained it.
  std::atomic<bool> fd_signalled_{false};
};

}  // namespace sentry::waiter

#endif  // SENTRY_WAITER_WAITER_H_
