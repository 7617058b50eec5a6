// Process timers that send signals: setitimer/getitimer/alarm (ITIMER_REAL,
// ITIMER_VIRTUAL, ITIMER_PROF), POSIX timers (timer_create and friends) and
// RLIMIT_CPU, on the Kernel's TimerService (sentry/time) or, for CPU-time
// clocks, its CpuTimerService (cpu_timers.h). Per process
// (ThreadGroup::timers).
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
#include "sentry/kernel/cpu_timers.h"
#include "sentry/time/timer_service.h"

namespace sentry::kernel {

class Kernel;
class ThreadGroup;

// One timer that queues a signal at expiry (Linux's k_itimer).
struct SignalTimer {
  // On a wall clock, or (cpu set) on a CPU-time clock.
  std::unique_ptr<time::Timer> timer;
  std::unique_ptr<CpuTimer> cpu;
  // What expiry sends, and to whom: the process, or one thread (SIGEV_THREAD_ID);
  // notify SIGEV_NONE sends nothing.
  int notify = SIGEV_SIGNAL;
  int signo = SIGALRM;
  sigval value{};
  pid_t target_tid = 0;
  int id = -1;  // the POSIX timer id (-1: an itimer)
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

  // setitimer / getitimer (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF): values
  // in ns (relative).
  void SetItimer(int which, std::weak_ptr<ThreadGroup> tg, int64_t value_ns, int64_t interval_ns,
                 int64_t* old_value_ns, int64_t* old_interval_ns);
  void GetItimer(int which, int64_t* value_ns, int64_t* interval_ns);

  // timer_create: the new id, or EAGAIN past the limit. `cpu`: the CPU clock
  // `clock` names (CPU-time clocks). `value` unset: the timer's id
  // (timer_create without a sigevent).
  ErrnoOr<int> Create(std::weak_ptr<ThreadGroup> tg, clockid_t clock,
                      const std::optional<CpuClock>& cpu, int notify, int signo,
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
  // execve: POSIX timers do not survive it (the itimers do).
  void ClearPosix();

  // RLIMIT_CPU's soft limit changed (setrlimit, prlimit, fork): watch the
  // process's CPU time for it (RLIM_INFINITY: stop). At the soft limit the
  // process gets SIGXCPU, and the soft limit moves up a second (so SIGXCPU
  // comes every second); at the hard limit SIGKILL (check_process_timers).
  void UpdateCpuLimit(std::weak_ptr<ThreadGroup> tg, uint64_t soft_secs);

 private:
  std::shared_ptr<SignalTimer> Find(int id);
  std::shared_ptr<SignalTimer> MakeTimer(std::weak_ptr<ThreadGroup> tg, clockid_t clock);
  std::shared_ptr<SignalTimer> MakeCpuTimer(std::weak_ptr<ThreadGroup> tg, const CpuClock& clock,
                                            bool one_period);
  // RLIMIT_CPU's check, on the CPU timer's thread.
  void CheckCpuLimit(const std::weak_ptr<ThreadGroup>& tg, int64_t ptime_ns);
  void ArmCpuLimit(uint64_t secs);

  Kernel& kernel_;
  absl::Mutex mu_;
  std::shared_ptr<SignalTimer> real_ ABSL_GUARDED_BY(mu_);
  // ITIMER_VIRTUAL and ITIMER_PROF.
  std::shared_ptr<SignalTimer> virt_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<SignalTimer> prof_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<CpuTimer> cpu_limit_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<SignalTimer>> posix_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_ITIMERS_H_
