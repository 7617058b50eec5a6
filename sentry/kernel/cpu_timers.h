// CPU-time clocks and the timers on them (Linux's kernel/time/posix-cpu-timers.c):
// the clocks of a process or a thread (CLOCK_PROCESS_CPUTIME_ID,
// CLOCK_THREAD_CPUTIME_ID and the ids clock_getcpuclockid and
// pthread_getcpuclockid make), and timers that expire when such a clock
// reaches a deadline: ITIMER_VIRTUAL, ITIMER_PROF, POSIX timers on CPU
// clocks, RLIMIT_CPU and clock_nanosleep on a CPU clock.
//
// The host cannot wake the Sentry when a guest has used so much CPU time, so
// the CpuTimerService samples the clocks of armed timers from a poller (one
// wall-clock timer on the Kernel's TimerService): each pass samples every
// armed timer's clock, fires those that reached their deadline, and sleeps
// until the earliest moment any could: its CPU time left divided by the most
// that clock can advance per unit of wall time (the host's CPUs for a
// process, 2 for a thread: its stub and its Sentry thread), at least
// kMinPollNs and at most kMaxPollNs. So nothing spins, a timer never fires
// early, and it fires at most kMinPollNs (+ scheduling delay) late — Linux
// checks at each tick (4 ms at HZ=250). A process that blocks accrues no CPU
// time; its timer is then sampled every (time left / rate), never faster
// than every kMinPollNs.
//
// Locking: CpuTimerService::mu_ is a leaf; clocks are sampled and callbacks
// run without it, on the TimerService's thread. As with time::Timer, when
// CpuTimer::Set or ~CpuTimer returns, no callback of the old setting runs or
// will run (unless called from the timer's own callback, which Set may be);
// so a callback must not take a lock held around Set or the destructor.
// Sampling a process clock takes tree_mu.
#ifndef SENTRY_KERNEL_CPU_TIMERS_H_
#define SENTRY_KERNEL_CPU_TIMERS_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/time/timer_service.h"

namespace sentry::kernel {

class Task;
class ThreadGroup;

// Linux's CPUCLOCK_* clock types (the low two bits of a CPU clock id).
inline constexpr int kCpuClockProf = 0;   // user + system
inline constexpr int kCpuClockVirt = 1;   // user
inline constexpr int kCpuClockSched = 2;  // everything the scheduler ran (user + system here)
// Linux's TICK_NSEC at HZ=250 (Debian's): the resolution of the PROF and VIRT
// clocks, and what setitimer adds to an ITIMER_VIRTUAL/PROF value.
inline constexpr int64_t kCpuTickNs = 4000000;

// A CPU clock: of a process (`group`) or of one thread (`task`).
struct CpuClock {
  std::weak_ptr<ThreadGroup> group;
  std::weak_ptr<Task> task;
  int which = kCpuClockSched;
  // The clock's value in ns; nullopt once its thread or process is gone.
  std::optional<int64_t> Now() const;
  // The most it can advance per ns of wall time.
  int MaxRate() const;
};

// Linux's pid_for_clock and clock_pid_type: the clock `id` names for `caller`
// (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID or a ~pid << 3 | type
// id; not a CLOCKFD id). `gettime`: clock_gettime, where a process clock may
// name the process by the caller's own tid. EINVAL for a bad type, a
// thread clock of another process, or a pid that names no process or thread.
ErrnoOr<CpuClock> ResolveCpuClock(Task& caller, clockid_t id, bool gettime);
// Whether `id` is a CPU clock (the two static ids or a negative non-CLOCKFD id).
bool IsCpuClockId(clockid_t id);

struct CpuExpiry {
  uint64_t count = 0;  // expirations since the last call (>= 1)
  int64_t now_ns = 0;  // the clock's value when it was sampled
};

// The host CPUs the guest's stubs and the Sentry's threads can run on: no
// CPU clock of the sandbox can advance faster than this many ns per ns.
// Counted at the first call, which must come before the Sentry's seccomp
// filter (sysconf reads /sys): boot makes it while it may read host files.
int HostCpus();

class CpuTimerService;

class CpuTimer {
 public:
  using Callback = std::function<void(const CpuExpiry&)>;
  ~CpuTimer();
  CpuTimer(const CpuTimer&) = delete;
  CpuTimer& operator=(const CpuTimer&) = delete;

  const CpuClock& clock() const { return clock_; }
  // Arms (next_ns > 0: absolute on the clock) or disarms it; returns the old
  // setting. `before_arm` as time::Timer::Set's.
  time::TimerSetting Set(const time::TimerSetting& s,
                         const std::function<void()>& before_arm = nullptr);
  time::TimerSetting Get() const;

 private:
  friend class CpuTimerService;
  CpuTimer(CpuTimerService& service, CpuClock clock, Callback cb, bool one_period)
      : service_(service),
        clock_(std::move(clock)),
        callback_(std::move(cb)),
        one_period_(one_period) {}
  CpuTimerService& service_;
  const CpuClock clock_;
  const Callback callback_;
  // Linux's itimers move on by one period per check (check_cpu_itimer), and
  // POSIX CPU timers past every period that passed (bump_cpu_timer).
  const bool one_period_;
};

class CpuTimerService {
 public:
  static constexpr int64_t kMinPollNs = 2000000;     // 2 ms
  static constexpr int64_t kMaxPollNs = 1000000000;  // 1 s
  explicit CpuTimerService(time::TimerService& wall);
  ~CpuTimerService();  // every CpuTimer must be gone

  // `one_period`: each pass that finds it expired moves it on by one period
  // only (setitimer's); else past every period that passed, counted.
  std::unique_ptr<CpuTimer> NewTimer(CpuClock clock, CpuTimer::Callback cb,
                                     bool one_period = false);

  int ArmedCountForTest() const;

 private:
  friend class CpuTimer;
  struct State {
    time::TimerSetting setting;
    uint64_t gen = 0;  // changes with every Set (a pass's sample is then stale)
    bool running = false;
  };
  time::TimerSetting Set(CpuTimer& t, const time::TimerSetting& s,
                         const std::function<void()>& before_arm);
  time::TimerSetting Get(const CpuTimer& t) const;
  void Remove(CpuTimer& t);
  void AwaitIdle(const CpuTimer& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool OnPollThread() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One pass: sample, fire, re-arm the poller.
  void Poll();

  mutable absl::Mutex mu_;
  absl::CondVar idle_cv_;
  std::map<const CpuTimer*, State> timers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_gen_ ABSL_GUARDED_BY(mu_) = 1;
  // A Set on the poller's thread during a pass: poll again at once.
  bool repoll_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id poll_thread_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<time::Timer> poller_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_CPU_TIMERS_H_
