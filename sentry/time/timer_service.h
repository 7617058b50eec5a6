// The Sentry's timers: one host thread that sleeps until the earliest
// deadline of any timer on the guest's clocks (CLOCK_REALTIME, MONOTONIC,
// BOOTTIME), then calls the callbacks of those that expired. One ordered set
// of deadlines serves every timer in the sandbox, so a timer costs no host
// resource of its own: timerfds now; setitimer, alarm and POSIX timers next
// (their callback sends the signal).
//
// A timer is armed with an absolute deadline on its clock and an optional
// period. When the deadline passes, the service calls the callback with the
// number of expirations since the last call (more than 1 when a periodic
// timer fell behind) and re-arms a periodic timer for its next period. A
// timer with `cancel_on_set` also hears, with `clock_set`, when its clock
// (CLOCK_REALTIME) was set (TFD_TIMER_CANCEL_ON_SET).
//
// Deadlines are kept as CLOCK_MONOTONIC times (a REALTIME or BOOTTIME
// deadline less that clock's offset, recomputed when the Timekeeper says a
// clock was set), and the thread checks the timer's own clock before firing,
// so a timer never fires before its clock reaches the deadline.
//
// Callbacks run on the service's thread, one at a time, without the service's
// lock. When Set (or the Timer's destructor) returns, no callback of the
// previous setting is running or will run — unless Set is called from the
// timer's own callback. So a callback must not take a lock that is held while
// calling Set, Disarm or ~Timer on its own timer.
//
// Lock order: whatever the callers hold > TimerService::mu_ (a leaf;
// callbacks run without it).
#ifndef SENTRY_TIME_TIMER_SERVICE_H_
#define SENTRY_TIME_TIMER_SERVICE_H_

#include <time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/time/timekeeper.h"
#include "sentry/waiter/waiter.h"

namespace sentry::time {

class TimerService;

// What a callback hears.
struct Expiry {
  uint64_t count = 0;      // expirations since the last call (0 with clock_set alone)
  bool clock_set = false;  // the clock was set (cancel_on_set timers only)
};

// A timer's setting: `next_ns` absolute on the timer's clock (0: disarmed),
// `interval_ns` the period (0: one-shot).
struct TimerSetting {
  int64_t next_ns = 0;
  int64_t interval_ns = 0;
};

class Timer {
 public:
  using Callback = std::function<void(const Expiry&)>;

  // Disarms the timer and waits for a callback in progress (so it must not
  // be destroyed from its own callback).
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  clockid_t clock() const { return clock_; }

  // Arms (s.next_ns > 0) or disarms the timer; returns the previous setting
  // as Get would have. A deadline already passed fires at once.
  // `cancel_on_set`: hear about the clock being set (REALTIME clocks only).
  // `before_arm` runs once no callback of the old setting runs and before one
  // of the new one can start, under the service's lock (so it may only touch
  // what the callback touches, such as an atomic count, and take no lock):
  // where the owner resets what its callbacks accumulate.
  TimerSetting Set(const TimerSetting& s, bool cancel_on_set = false,
                   const std::function<void()>& before_arm = nullptr);
  TimerSetting Disarm() { return Set({}); }
  // The next expiry not yet reported to the callback (later than now for a
  // periodic timer even if the callback is late), and the period; next_ns 0
  // when disarmed.
  TimerSetting Get() const;

 private:
  friend class TimerService;
  Timer(TimerService& service, clockid_t clock, Callback cb);

  TimerService& service_;
  const clockid_t clock_;
  const Callback callback_;
};

class TimerService {
 public:
  // Starts the thread. `clocks` must outlive the service; a Timekeeper's
  // clock-set events reach the service's timers.
  explicit TimerService(Clocks& clocks);
  // Stops the thread. Every Timer must be gone.
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // A disarmed timer on `clock`: CLOCK_REALTIME, CLOCK_MONOTONIC,
  // CLOCK_BOOTTIME or their _ALARM variants (the same clocks here: the sandbox
  // never suspends).
  std::unique_ptr<Timer> NewTimer(clockid_t clock, Timer::Callback callback);

  // `clock` jumped against CLOCK_MONOTONIC: recompute the deadlines on it and
  // tell its cancel_on_set timers. (A Timekeeper calls this by itself.)
  void ClockWasSet(clockid_t clock);

  // Periodic timers whose period is shorter than this are re-armed no sooner
  // than this after firing (the expirations still all count): a 1 ns period
  // must not make the thread spin.
  static constexpr int64_t kMinRearmNs = 50000;

  int ArmedCountForTest() const;

 private:
  friend class Timer;
  // What the service keeps of a timer.
  struct State {
    TimerSetting setting;
    int64_t key = 0;  // its place in `queue_` (CLOCK_MONOTONIC ns), if queued
    bool queued = false;
    bool cancel_on_set = false;
    bool clock_set_pending = false;
    bool running = false;  // its callback is being called
  };

  TimerSetting Set(Timer& t, const TimerSetting& s, bool cancel_on_set,
                   const std::function<void()>& before_arm);
  TimerSetting Get(const Timer& t) const;
  void Remove(Timer& t);
  // A timer's place in `queue_`: its deadline as CLOCK_MONOTONIC ns.
  int64_t KeyFor(const Timer& t, const State& st) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Timer& t, State& st, int64_t key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dequeue(Timer& t, State& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TimerSetting CurrentSetting(const Timer& t, const State& st) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until `t`'s callback is not running (unless this is the service's
  // own thread, in a callback).
  void AwaitIdle(const Timer& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();

  Clocks& clocks_;
  Timekeeper* timekeeper_ = nullptr;
  int listener_ = 0;
  mutable absl::Mutex mu_;
  absl::CondVar idle_cv_;
  // (key, timer): armed timers by deadline.
  std::set<std::pair<int64_t, Timer*>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<const Timer*, State> timers_ ABSL_GUARDED_BY(mu_);  // every live timer
  bool clock_set_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  waiter::Waker wake_;  // what the thread sleeps on
  std::thread::id thread_id_;
  std::thread thread_;
};

}  // namespace sentry::time

#endif  // SENTRY_TIME_TIMER_SERVICE_H_
