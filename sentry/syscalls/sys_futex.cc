// futex. Single-threaded for now: a WAIT sleeps until its timeout (no other
// thread can wake it) and a WAKE finds no waiter.
// TODO(processes issue): the futex table with waiters keyed by address
// (private) and memory-file page (shared), REQUEUE, WAKE_OP, PI, robust lists.
#include <linux/futex.h>

#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

SyscallResult Futex(Task& t, const SyscallArgs& a) {
  const UserAddr uaddr = a.Addr(0);
  const int op = a.Int(1);
  const int cmd = op & FUTEX_CMD_MASK;
  const bool realtime = op & FUTEX_CLOCK_REALTIME;
  const uint32_t val = a.Uint(2);
  if (uaddr.value() & 3) return Errno(EINVAL);
  // get_futex_key(): access_ok always; a shared key also needs the page.
  if (!AccessOk(uaddr.value(), sizeof(uint32_t))) return Errno(EFAULT);
  if (!(op & FUTEX_PRIVATE_FLAG)) {
    uint32_t word;
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint32_t>(uaddr), &word));
  }
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      if (realtime && cmd == FUTEX_WAIT) return Errno(ENOSYS);
      if (cmd == FUTEX_WAIT_BITSET && a.Uint(5) == 0) return Errno(EINVAL);
      bool has_timeout = !a.Addr(3).IsNull();
      timespec ts{};
      if (has_timeout) {
        RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(3), &ts));
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno(EINVAL);
      }
      uint32_t cur;
      RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint32_t>(uaddr), &cur));
      if (cur != val) return Errno(EAGAIN);
      const clockid_t clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
      timespec deadline;
      if (!has_timeout) {
        deadline = {INT64_MAX, 0};  // forever
      } else if (cmd == FUTEX_WAIT_BITSET) {
        deadline = ts;  // absolute
      } else {
        timespec now;
        clock_gettime(clock, &now);
        deadline = kernel::TimespecAdd(now, ts);
      }
      ErrnoOrOk r = t.SleepUntil(clock, deadline);
      if (!r.ok()) return Errno(kERESTARTSYS);
      return Errno(ETIMEDOUT);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
      if (cmd == FUTEX_WAKE_BITSET && a.Uint(5) == 0) return Errno(EINVAL);
      return 0;
    default:
      return Errno(ENOSYS);
  }
}

}  // namespace sentry::syscalls
