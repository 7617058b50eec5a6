// Clocks and sleeps. Time comes from the host's clocks; CPU-time clocks from the
// task's accounting.
#include <sys/time.h>
#include <time.h>

#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr clockid_t kClockTai = 11;

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

// Linux's CPU-clock ids: ~pid << 3 | type, with bit 2 set for a thread clock.
bool IsCpuClock(clockid_t c) { return c < 0; }

ErrnoOr<timespec> ReadClock(Task& t, clockid_t c) {
  timespec ts{};
  if (IsCpuClock(c)) {
    const pid_t pid = ~(c >> 3);
    const bool thread = c & 4;
    if ((c & 3) == 3) return Errno(EINVAL);  // CPUCLOCK_MAX
    if (pid != 0 && pid != (thread ? t.tid() : t.tgid())) return Errno(EINVAL);
    return t.CpuTime();
  }
  switch (c) {
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return t.CpuTime();
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
    case kClockTai:
      clock_gettime(c == CLOCK_REALTIME_ALARM   ? CLOCK_REALTIME
                    : c == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME
                                                : c,
                    &ts);
      return ts;
    default:
      return Errno(EINVAL);
  }
}

// Sleeps on `clock` for `req` (relative, or absolute with TIMER_ABSTIME); on
// interruption of a relative sleep, writes the time left to `rem`.
SyscallResult Sleep(Task& t, clockid_t clock, bool abs, UserAddr req_addr, UserAddr rem) {
  timespec req;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<timespec>(req_addr), &req));
  if (!ValidTimespec(req)) return Errno(EINVAL);
  timespec now;
  clock_gettime(clock, &now);
  const timespec deadline = abs ? req : kernel::TimespecAdd(now, req);
  ErrnoOrOk r = t.SleepUntil(clock, deadline);
  if (r.ok()) return 0;
  if (!abs && !rem.IsNull()) {
    clock_gettime(clock, &now);
    RETURN_IF_ERROR(
        t.mm().CopyOutObj(UserPtr<timespec>(rem), kernel::TimespecSubClamped(deadline, now)));
  }
  // TODO(processes issue): ERESTART_RESTARTBLOCK with restart_syscall.
  return Errno(abs ? kERESTARTNOHAND : kERESTART_RESTARTBLOCK);
}

}  // namespace

SyscallResult ClockGettime(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(timespec ts, ReadClock(t, a.Int(0)));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), ts));
  return 0;
}

SyscallResult ClockGetres(Task& t, const SyscallArgs& a) {
  const clockid_t c = a.Int(0);
  RETURN_IF_ERROR(ReadClock(t, c));
  timespec res{0, 1};
  if (c == CLOCK_REALTIME_COARSE || c == CLOCK_MONOTONIC_COARSE) clock_getres(c, &res);
  if (!a.Addr(1).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), res));
  return 0;
}

SyscallResult Gettimeofday(Task& t, const SyscallArgs& a) {
  if (!a.Addr(0).IsNull()) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
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
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (!a.Addr(0).IsNull()) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(0), int64_t{ts.tv_sec}));
  }
  return ts.tv_sec;
}

SyscallResult Nanosleep(Task& t, const SyscallArgs& a) {
  return Sleep(t, CLOCK_MONOTONIC, false, a.Addr(0), a.Addr(1));
}

SyscallResult ClockNanosleep(Task& t, const SyscallArgs& a) {
  const clockid_t c = a.Int(0);
  const int flags = a.Int(1);
  switch (c) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case kClockTai:
      break;
    case CLOCK_THREAD_CPUTIME_ID:
      return Errno(EINVAL);
    case CLOCK_PROCESS_CPUTIME_ID:
      // TODO(processes issue): sleeping on CPU-time clocks.
      return Errno(EOPNOTSUPP);
    default:
      if (IsCpuClock(c)) return Errno(EOPNOTSUPP);
      if (!ReadClock(t, c).ok()) return Errno(EINVAL);
      return Errno(EOPNOTSUPP);
  }
  return Sleep(t, c == kClockTai ? CLOCK_TAI : c, flags & TIMER_ABSTIME, a.Addr(2), a.Addr(3));
}

}  // namespace sentry::syscalls
