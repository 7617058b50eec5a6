// Process timers that send signals: setitimer/getitimer/alarm (ITIMER_REAL)
// and POSIX timers (timer_create and friends), on the Kernel's TimerService
// (sentry/time). Per process (ThreadGroup::timers).
//
// Locking: ProcessTimers::mu_ guards the table; a timer's TimerService calls
// (Set, Get, destruction) are made with neither it nor tree_mu held, because
// the expiry callback takes tree_mu to queue the signal. Lock order: mu_ >
// nothing (released before any TimerService call); callbacks: tree_mu only.
#ifndef SENTRY_KERNEL_ITIMERS_H_
#define SENTRY_KERNEL_ITIMERS_H_

#include <signal.h>
#include <time.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/time/timer_service.h"

namespace sentry::kernel {

class Kernel;
class ThreadGroup;

// One timer that queues a signal at expiry (Linux's k_itimer).
struct SignalTimer {
  std::unique_ptr<time::Timer> timer;
  // What expiry sends, and to whom: the process, or one thread (SIGEV_THREAD_ID);
  // notify SIGEV_NONE sends nothing.
  int notify = SIGEV_SIGNAL;
  int signo = SIGALRM;
  sigval value{};
  pid_t target_tid = 0;
  int id = -1;  // the POSIX timer id (-1: ITIMER_REAL)
  // Expirations not yet delivered while its signal is queued (overrun), and
  // the overrun of the last delivered signal (timer_getoverrun).
  std::atomic<int64_t> pending_overrun{0};
  std::atomic<bool> signal_queued{false};
  std::atomic<int> last_overrun{0};
};

class ProcessTimers {
 public:
  explicit ProcessTimers(Kernel& k) : kernel_(k) {}
  // Disarms and destroys every timer (waiting for running callbacks): call
  // without tree_mu.
  void Clear();

  // setitimer(ITIMER_REAL) / getitimer: values in ns (relative).
  void SetReal(std::weak_ptr<ThreadGroup> tg, int64_t value_ns, int64_t interval_ns,
               int64_t* old_value_ns, int64_t* old_interval_ns);
  void GetReal(int64_t* value_ns, int64_t* interval_ns);

  // timer_create: the new id, or EAGAIN past the limit.
  // `value` unset: the timer's id (timer_create without a sigevent).
  ErrnoOr<int> Create(std::weak_ptr<ThreadGroup> tg, clockid_t clock, int notify, int signo,
                      std::optional<sigval> value, pid_t target_tid);
  ErrnoOrOk Delete(int id);
  // timer_settime/timer_gettime (relative values in ns).
  ErrnoOrOk Set(int id, bool absolute, int64_t value_ns, int64_t interval_ns, int64_t* old_value,
                int64_t* old_interval);
  ErrnoOrOk Get(int id, int64_t* value_ns, int64_t* interval_ns);
  ErrnoOr<int> GetOverrun(int id);
  // A timer signal was dequeued carrying `overrun`: returns its whole
  // overrun (with the expirations while it was queued), which becomes the
  // one timer_getoverrun reports; the timer may queue again.
  int Delivered(int id, int overrun);
  // execve: POSIX timers do not survive it (ITIMER_REAL does).
  void ClearPosix();

 private:
  std::shared_ptr<SignalTimer> Find(int id);
  std::shared_ptr<SignalTimer> MakeTimer(std::weak_ptr<ThreadGroup> tg, clockid_t clock);

  Kernel& kernel_;
  absl::Mutex mu_;
  std::shared_ptr<SignalTimer> real_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<SignalTimer>> posix_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_ITIMERS_H_
