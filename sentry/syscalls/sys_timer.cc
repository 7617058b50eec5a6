// Interval timers (setitimer, getitimer, alarm) and POSIX timers
// (timer_create and friends): sentry/kernel/itimers.h.
#include <linux/capability.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include <optional>

#include "sentry/kernel/cpu_timers.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerSec = 1000000000;

ErrnoOr<int64_t> TimevalNs(const timeval& tv) {
  if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return Errno(EINVAL);
  if (tv.tv_sec > INT64_MAX / kNsPerSec - 1) return INT64_MAX / 2;
  return int64_t{tv.tv_sec} * kNsPerSec + tv.tv_usec * kNsPerUs;
}

ErrnoOr<int64_t> TimespecNs(const timespec& ts) {
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNsPerSec) return Errno(EINVAL);
  if (ts.tv_sec > INT64_MAX / kNsPerSec - 1) return INT64_MAX / 2;
  return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

timeval NsTimeval(int64_t ns) {
  // Linux rounds a remaining time up to the next microsecond.
  const int64_t us = (ns + kNsPerUs - 1) / kNsPerUs;
  return {static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

timespec NsTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)};
}

ErrnoOrOk CheckItimerWhich(int which) {
  if (which == ITIMER_REAL || which == ITIMER_VIRTUAL || which == ITIMER_PROF) return Ok();
  return Errno(EINVAL);
}

// put_itimerval: a CPU itimer's ns truncated to microseconds; ITIMER_REAL's
// rounded up (a live timer never reads 0).
timeval ItimerTimeval(int which, int64_t ns) {
  if (which == ITIMER_REAL) return NsTimeval(ns);
  return {static_cast<time_t>(ns / kNsPerSec), static_cast<suseconds_t>(ns % kNsPerSec / kNsPerUs)};
}

}  // namespace

SyscallResult Getitimer(Task& t, const SyscallArgs& a) {
  const int which = a.Int(0);
  RETURN_IF_ERROR(CheckItimerWhich(which));
  int64_t value, interval;
  t.thread_group().timers->GetItimer(which, &value, &interval);
  const itimerval out{ItimerTimeval(which, interval), ItimerTimeval(which, value)};
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerval>(1), out));
  return 0;
}

SyscallResult Setitimer(Task& t, const SyscallArgs& a) {
  // Linux treats a null new value as zero (disarm).
  const int which = a.Int(0);
  itimerval in{};
  if (!a.Addr(1).IsNull()) RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<itimerval>(1), &in));
  RETURN_IF_ERROR(CheckItimerWhich(which));
  ASSIGN_OR_RETURN(int64_t value, TimevalNs(in.it_value));
  ASSIGN_OR_RETURN(int64_t interval, TimevalNs(in.it_interval));
  int64_t old_value, old_interval;
  t.thread_group().timers->SetItimer(which, t.thread_group_ptr(), value, interval, &old_value,
                                     &old_interval);
  if (!a.Addr(2).IsNull()) {
    const itimerval out{ItimerTimeval(which, old_interval), ItimerTimeval(which, old_value)};
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerval>(2), out));
  }
  return 0;
}

SyscallResult Alarm(Task& t, const SyscallArgs& a) {
  int64_t old_value, old_interval;
  t.thread_group().timers->SetItimer(ITIMER_REAL, t.thread_group_ptr(),
                                     int64_t{a.Uint(0)} * kNsPerSec, 0, &old_value, &old_interval);
  // alarm_setitimer: whole seconds, rounding half a second up, and never 0
  // for an armed timer.
  const timeval tv = NsTimeval(old_value);
  uint64_t secs = static_cast<uint64_t>(tv.tv_sec) + (tv.tv_usec >= 500000 ? 1 : 0);
  if (secs == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0)) secs = 1;
  return secs;
}

SyscallResult TimerCreate(Task& t, const SyscallArgs& a) {
  const clockid_t clock = a.Int(0);
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
      break;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      if (!t.creds().HasCapability(CAP_WAKE_ALARM)) return Errno(EPERM);
      break;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      break;  // checked below, after the sigevent (posix_cpu_timer_create)
    default:
      if (clock < 0 && (clock & 7) == 3) return Errno(EOPNOTSUPP);  // CLOCKFD: no timers
      if (clock >= 0) return Errno(EINVAL);
      break;  // another process's or thread's CPU clock
  }
  int notify = SIGEV_SIGNAL;
  int signo = SIGALRM;
  std::optional<sigval> value;
  pid_t target = 0;
  if (!a.Addr(1).IsNull()) {
    sigevent ev;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<sigevent>(1), &ev));
    notify = ev.sigev_notify;
    signo = ev.sigev_signo;
    value = ev.sigev_value;
    switch (notify) {
      case SIGEV_NONE:
        break;
      case SIGEV_SIGNAL:
      case SIGEV_THREAD_ID:
        if (signo < 1 || signo > kernel::kNumSignals) return Errno(EINVAL);
        if (notify == SIGEV_THREAD_ID) {
          // A thread of the caller's process.
          target = ev._sigev_un._tid;
          absl::MutexLock l(&kernel::tree_mu);
          Task* tt = t.kernel().FindTaskLocked(target);
          if (tt == nullptr || tt->tgid() != t.tgid()) return Errno(EINVAL);
        }
        break;
      default:
        return Errno(EINVAL);  // SIGEV_THREAD is glibc's, on SIGEV_THREAD_ID
    }
  }
  std::optional<kernel::CpuClock> cpu;
  if (kernel::IsCpuClockId(clock)) {
    ASSIGN_OR_RETURN(cpu, kernel::ResolveCpuClock(t, clock, /*gettime=*/false));
  }
  ASSIGN_OR_RETURN(int id, t.thread_group().timers->Create(t.thread_group_ptr(), clock, cpu, notify,
                                                           signo, value, target));
  ErrnoOrOk w = t.mm().CopyOutObj(a.Ptr<int32_t>(2), int32_t{id});
  if (!w.ok()) {
    [[maybe_unused]] ErrnoOrOk d = t.thread_group().timers->Delete(id);
    return w.error();
  }
  return 0;
}

SyscallResult TimerSettime(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0);
  const int flags = a.Int(1);
  itimerspec in;
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<itimerspec>(2), &in));
  ASSIGN_OR_RETURN(int64_t value, TimespecNs(in.it_value));
  ASSIGN_OR_RETURN(int64_t interval, TimespecNs(in.it_interval));
  int64_t old_value, old_interval;
  RETURN_IF_ERROR(t.thread_group().timers->Set(id, flags & TIMER_ABSTIME, value, interval,
                                               &old_value, &old_interval));
  if (!a.Addr(3).IsNull()) {
    const itimerspec out{NsTimespec(old_interval), NsTimespec(old_value)};
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerspec>(3), out));
  }
  return 0;
}

SyscallResult TimerGettime(Task& t, const SyscallArgs& a) {
  int64_t value, interval;
  RETURN_IF_ERROR(t.thread_group().timers->Get(a.Int(0), &value, &interval));
  const itimerspec out{NsTimespec(interval), NsTimespec(value)};
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerspec>(1), out));
  return 0;
}

SyscallResult TimerGetoverrun(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(int n, t.thread_group().timers->GetOverrun(a.Int(0)));
  return n;
}

SyscallResult TimerDelete(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.thread_group().timers->Delete(a.Int(0)));
  return 0;
}

}  // namespace sentry::syscalls
