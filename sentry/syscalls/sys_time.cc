// Clocks and sleeps. Time comes from the Sentry's Timekeeper (the clocks the
// vDSO reads too, tracking the host's: sentry/time/README.md); CPU-time clocks
// from the task's accounting.
#include <sys/time.h>
#include <time.h>

#include <atomic>
#include <memory>
#include <optional>

#include "sentry/kernel/cpu_timers.h"
#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/time/timekeeper.h"

namespace sentry::syscalls {
namespace {

constexpr clockid_t kClockTai = 11;

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

ErrnoOr<timespec> ReadClock(Task& t, clockid_t c) {
  if (kernel::IsCpuClockId(c)) {
    ASSIGN_OR_RETURN(kernel::CpuClock clock, kernel::ResolveCpuClock(t, c, /*gettime=*/true));
    const std::optional<int64_t> now = clock.Now();
    if (!now.has_value()) return Errno(EINVAL);  // gone meanwhile
    return time::NsToTimespec(*now);
  }
  switch (c) {
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_REALTIME_ALARM:
    case kClockTai:
      // The same computation as the vDSO's, from the same parameters.
      return t.kernel().timekeeper().Now(c);
    default:
      return Errno(EINVAL);  // unknown, or a posix clock fd (CLOCKFD): none here
  }
}

// Copies in and checks a sleep's request (EFAULT, then EINVAL).
ErrnoOr<timespec> CopyInRequest(Task& t, UserAddr req_addr) {
  timespec req;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<timespec>(req_addr), &req));
  if (!ValidTimespec(req)) return Errno(EINVAL);
  return req;
}

// What an interrupted sleep returns; a relative one writes the time left
// (`deadline` - `now`) to `rem`.
SyscallResult Interrupted(Task& t, bool abs, const timespec& deadline, const timespec& now,
                          UserAddr rem) {
  if (!abs && !rem.IsNull()) {
    RETURN_IF_ERROR(
        t.mm().CopyOutObj(UserPtr<timespec>(rem), kernel::TimespecSubClamped(deadline, now)));
  }
  return Errno(abs ? kERESTARTNOHAND : kERESTART_RESTARTBLOCK);
}

// Sleeps on `clock` until `deadline` on the guest's clock (the Timekeeper's,
// which the vDSO reads too): the host's monotonic clock times each wait, and a
// wake that comes before the guest's clock is there waits again for the rest.
// TODO(processes issue): an absolute CLOCK_REALTIME sleep should end early
// when the clock is set past its deadline (it now ends when the time it
// computed at the start has elapsed).
SyscallResult SleepUntilDeadline(Task& t, clockid_t clock, bool abs, const timespec& deadline,
                                 UserAddr rem) {
  time::Timekeeper& tk = t.kernel().timekeeper();
  const int64_t deadline_ns = time::TimespecToNs(deadline);
  for (;;) {
    const int64_t left = deadline_ns - tk.NowNs(clock);
    if (left <= 0) return 0;
    timespec host_now;
    clock_gettime(CLOCK_MONOTONIC, &host_now);
    ErrnoOrOk r =
        t.SleepUntil(CLOCK_MONOTONIC, kernel::TimespecAdd(host_now, time::NsToTimespec(left)));
    if (r.ok()) continue;
    if (!abs) {
      // A relative sleep that restarts (no handler ran: a stop, an ignored
      // signal) goes on to the same deadline through restart_syscall.
      t.set_restart_block([clock, deadline, rem](Task& t) {
        return SleepUntilDeadline(t, clock, false, deadline, rem);
      });
    }
    return Interrupted(t, abs, deadline, tk.Now(clock), rem);
  }
}

// Sleeps on `clock` for `req` (relative, or absolute with TIMER_ABSTIME).
SyscallResult Sleep(Task& t, clockid_t clock, bool abs, const timespec& req, UserAddr rem) {
  const timespec deadline =
      abs ? req : kernel::TimespecAdd(t.kernel().timekeeper().Now(clock), req);
  return SleepUntilDeadline(t, clock, abs, deadline, rem);
}

// do_cpu_nanosleep: a temporary timer on a CPU clock (another thread's, or a
// process's) that wakes the sleeper at `deadline`.
SyscallResult SleepOnCpuClockUntil(Task& t, const kernel::CpuClock& clock, bool abs,
                                   const timespec& deadline, UserAddr rem) {
  const int64_t deadline_ns = time::TimespecToNs(deadline);
  std::atomic<bool> fired{false};
  std::unique_ptr<kernel::CpuTimer> timer =
      t.kernel().cpu_timers().NewTimer(clock, [&t, &fired](const kernel::CpuExpiry&) {
        fired.store(true, std::memory_order_release);
        t.waker().Wake();
      });
  timer->Set({deadline_ns, 0});
  for (;;) {
    if (fired.load(std::memory_order_acquire)) return 0;
    ErrnoOrOk r = t.Block(CLOCK_MONOTONIC, nullptr);
    if (r.ok()) continue;
    timer.reset();                                        // no callback runs past this
    if (fired.load(std::memory_order_acquire)) return 0;  // it did fire
    const int64_t now = clock.Now().value_or(0);
    if (!abs) {
      // posix_cpu_nsleep_restart: on to the same deadline.
      t.set_restart_block([clock, deadline, rem](Task& t) {
        return SleepOnCpuClockUntil(t, clock, false, deadline, rem);
      });
    }
    return Interrupted(t, abs, deadline, time::NsToTimespec(now), rem);
  }
}

// posix_cpu_nsleep: a zero request disarms Linux's timer and a deadline
// already reached fires it, so either returns at once; else the sleep lasts
// until the clock gets there (a process's own clock advances only with its
// other threads' work) or a signal.
SyscallResult SleepOnCpuClock(Task& t, const kernel::CpuClock& clock, bool abs, const timespec& req,
                              UserAddr rem) {
  const std::optional<int64_t> now = clock.Now();
  if (!now.has_value()) return Errno(EINVAL);
  const timespec deadline = abs ? req : kernel::TimespecAdd(time::NsToTimespec(*now), req);
  if ((req.tv_sec == 0 && req.tv_nsec == 0) || time::TimespecToNs(deadline) <= *now) return 0;
  return SleepOnCpuClockUntil(t, clock, abs, deadline, rem);
}

}  // namespace

SyscallResult ClockGettime(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(timespec ts, ReadClock(t, a.Int(0)));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), ts));
  return 0;
}

SyscallResult ClockGetres(Task& t, const SyscallArgs& a) {
  const clockid_t c = a.Int(0);
  timespec res{0, 1};
  if (kernel::IsCpuClockId(c)) {
    // posix_cpu_clock_getres: the clock must exist (not by a thread's tid);
    // PROF and VIRT tick, SCHED is in ns.
    ASSIGN_OR_RETURN(kernel::CpuClock clock, kernel::ResolveCpuClock(t, c, /*gettime=*/false));
    if (clock.which != kernel::kCpuClockSched) res = time::NsToTimespec(kernel::kCpuTickNs);
  } else {
    RETURN_IF_ERROR(ReadClock(t, c));
    if (c == CLOCK_REALTIME_COARSE || c == CLOCK_MONOTONIC_COARSE) {
      res = time::NsToTimespec(time::Timekeeper::CoarseResolutionNs());
    }
  }
  if (!a.Addr(1).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), res));
  return 0;
}

SyscallResult Gettimeofday(Task& t, const SyscallArgs& a) {
  if (!a.Addr(0).IsNull()) {
    const timespec ts = t.kernel().timekeeper().Now(CLOCK_REALTIME);
    timeval tv{ts.tv_sec, ts.tv_nsec / 1000};
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timeval>(0), tv));
  }
  if (!a.Addr(1).IsNull()) {
    struct timezone tz {
      0, 0
    };  // The sandbox runs in UTC.
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct timezone>(1), tz));
  }
  return 0;
}

SyscallResult Time(Task& t, const SyscallArgs& a) {
  const timespec ts = t.kernel().timekeeper().Now(CLOCK_REALTIME);
  if (!a.Addr(0).IsNull()) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(0), int64_t{ts.tv_sec}));
  }
  return ts.tv_sec;
}

SyscallResult Nanosleep(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(timespec req, CopyInRequest(t, a.Addr(0)));
  return Sleep(t, CLOCK_MONOTONIC, false, req, a.Addr(1));
}

// Linux's order: the clock (EINVAL if unknown, EOPNOTSUPP if it has no
// nsleep), the request (EFAULT, EINVAL), then the clock's own checks.
SyscallResult ClockNanosleep(Task& t, const SyscallArgs& a) {
  const clockid_t c = a.Int(0);
  const bool abs = a.Int(1) & TIMER_ABSTIME;  // other flag bits are ignored
  const UserAddr rem = a.Addr(3);
  if (c < 0 || c == CLOCK_PROCESS_CPUTIME_ID) {
    // (c & 7) == 3 is a posix clock fd (CLOCKFD), which has no nsleep.
    if ((c & 7) == 3) return Errno(EOPNOTSUPP);
    ASSIGN_OR_RETURN(timespec req, CopyInRequest(t, a.Addr(2)));
    // posix_cpu_nsleep: never on the caller's own thread clock; then the
    // clock must exist (pid_for_clock), else EINVAL.
    const pid_t pid = ~(c >> 3);
    if (c < 0 && (c & 4) && (pid == 0 || pid == t.tid())) return Errno(EINVAL);
    ASSIGN_OR_RETURN(kernel::CpuClock clock, kernel::ResolveCpuClock(t, c, /*gettime=*/false));
    return SleepOnCpuClock(t, clock, abs, req, rem);
  }
  switch (c) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case kClockTai: {
      ASSIGN_OR_RETURN(timespec req, CopyInRequest(t, a.Addr(2)));
      return Sleep(t, c, abs, req, rem);
    }
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM: {
      // The alarm clocks sleep only with an RTC device, which the sandbox does
      // not have.
      RETURN_IF_ERROR(CopyInRequest(t, a.Addr(2)));
      return Errno(EOPNOTSUPP);
    }
    case CLOCK_THREAD_CPUTIME_ID:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      return Errno(EOPNOTSUPP);  // no nsleep
    default:
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
