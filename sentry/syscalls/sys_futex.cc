// futex(2): decodes the arguments the way Linux's sys_futex and do_futex do
// and calls the kernel's FutexManager (sentry/kernel/futex.h).
#include <linux/futex.h>

#include <optional>

#include "sentry/kernel/futex.h"
#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

// Linux's futex_cmd_has_timeout: for the others the argument is val2.
bool HasTimeout(int cmd) {
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAIT_REQUEUE_PI:
      return true;
    default:
      return false;
  }
}

// FUTEX_WAIT(_BITSET): an interrupted wait without a timeout is ERESTARTSYS
// (restarted after an SA_RESTART handler or a stop, EINTR otherwise); with one,
// ERESTART_RESTARTBLOCK, and restart_syscall waits again for the same word,
// value and bitset until the same absolute deadline (futex_wait_restart), so a
// handler never stretches the timeout.
SyscallResult FutexWaitRestartable(Task& t, UserAddr uaddr, bool is_private, uint32_t val,
                                   uint32_t bitset, const kernel::futex::Deadline& deadline) {
  auto r = t.kernel().futex().Wait(t.mm(), uaddr, is_private, val, bitset, t.waker(), deadline);
  if (r.ok()) return 0;
  if (r.error().value() == kERESTARTSYS && deadline.at.has_value()) {
    t.set_restart_block([uaddr, is_private, val, bitset, deadline](Task& t) {
      return FutexWaitRestartable(t, uaddr, is_private, val, bitset, deadline);
    });
    return Errno(kERESTART_RESTARTBLOCK);
  }
  return r.error();
}

}  // namespace

SyscallResult Futex(Task& t, const SyscallArgs& a) {
  const UserAddr uaddr = a.Addr(0);
  const int op = a.Int(1);
  const int cmd = op & FUTEX_CMD_MASK;
  const bool is_private = op & FUTEX_PRIVATE_FLAG;
  const bool realtime = op & FUTEX_CLOCK_REALTIME;
  const uint32_t val = a.Uint(2);
  const UserAddr uaddr2 = a.Addr(4);
  const uint32_t val3 = a.Uint(5);

  // The timeout is read and checked before anything else.
  kernel::futex::Deadline deadline;
  deadline.clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
  if (HasTimeout(cmd) && !a.Addr(3).IsNull()) {
    timespec ts;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(3), &ts));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kernel::kNsPerSec) return Errno(EINVAL);
    if (cmd == FUTEX_WAIT) {
      // Relative, on CLOCK_MONOTONIC. (Only FUTEX_WAIT_BITSET, LOCK_PI2 and
      // WAIT_REQUEUE_PI take FUTEX_CLOCK_REALTIME: below.)
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      deadline.clock = CLOCK_MONOTONIC;
      deadline.at = kernel::TimespecAdd(now, ts);
    } else {
      deadline.at = ts;  // absolute
    }
  }
  if (realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI &&
      cmd != FUTEX_LOCK_PI2) {
    return Errno(ENOSYS);
  }
  // REQUEUE's nr_requeue and WAKE_OP's nr_wake2 travel in the timeout's place.
  const uint32_t val2 = static_cast<uint32_t>(a[3]);
  kernel::FutexManager& futex = t.kernel().futex();
  mm::MemoryManager& mm = t.mm();

  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
      return FutexWaitRestartable(t, uaddr, is_private, val, bitset, deadline);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const uint32_t bitset = cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
      ASSIGN_OR_RETURN(int n, futex.Wake(mm, uaddr, is_private, static_cast<int>(val), bitset));
      return n;
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      ASSIGN_OR_RETURN(
          int n, futex.Requeue(mm, uaddr, uaddr2, is_private, static_cast<int>(val),
                               static_cast<int>(val2), cmd == FUTEX_CMP_REQUEUE ? &val3 : nullptr));
      return n;
    }
    case FUTEX_WAKE_OP: {
      ASSIGN_OR_RETURN(int n, futex.WakeOp(mm, uaddr, uaddr2, is_private, static_cast<int>(val),
                                           static_cast<int>(val2), val3));
      return n;
    }
    case FUTEX_LOCK_PI:
      deadline.clock = CLOCK_REALTIME;  // LOCK_PI's timeout is always on the wall clock
      [[fallthrough]];
    case FUTEX_LOCK_PI2:
      RETURN_IF_ERROR(futex.LockPi(mm, uaddr, is_private, t.tid(), &t.waker(), deadline));
      return 0;
    case FUTEX_TRYLOCK_PI:
      RETURN_IF_ERROR(futex.LockPi(mm, uaddr, is_private, t.tid(), nullptr, {}));
      return 0;
    case FUTEX_UNLOCK_PI:
      RETURN_IF_ERROR(futex.UnlockPi(mm, uaddr, is_private, t.tid()));
      return 0;
    case FUTEX_WAIT_REQUEUE_PI:
      RETURN_IF_ERROR(
          futex.WaitRequeuePi(mm, uaddr, is_private, val, uaddr2, t.tid(), t.waker(), deadline));
      return 0;
    case FUTEX_CMP_REQUEUE_PI: {
      ASSIGN_OR_RETURN(int n,
                       futex.CmpRequeuePi(mm, uaddr, uaddr2, is_private, static_cast<int>(val),
                                          static_cast<int>(val2), val3));
      return n;
    }
    default:
      return Errno(ENOSYS);
  }
}

}  // namespace sentry::syscalls
