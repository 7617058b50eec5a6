// What the waiting syscalls share (poll, select and epoll families):
// relative timeouts turned into deadlines, and the signal mask a wait runs
// under (ppoll, pselect6, epoll_pwait).
#ifndef SENTRY_SYSCALLS_WAIT_H_
#define SENTRY_SYSCALLS_WAIT_H_

#include <time.h>

#include <cstdint>
#include <optional>

#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

// When a wait ends: `immediate` never waits; otherwise at `deadline`
// (absolute, CLOCK_MONOTONIC), or never when unset.
struct Timeout {
  bool immediate = false;
  std::optional<timespec> deadline;
  const timespec* deadline_ptr() const { return deadline ? &*deadline : nullptr; }
};

inline timespec MonotonicNow() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now;
}

// poll_select_set_timeout: EINVAL for an invalid relative timeout; 0 is
// immediate.
inline ErrnoOr<Timeout> RelativeTimeout(int64_t sec, int64_t nsec) {
  if (sec < 0 || nsec < 0 || nsec >= kernel::kNsPerSec) return Errno(EINVAL);
  Timeout t;
  if (sec == 0 && nsec == 0) {
    t.immediate = true;
  } else {
    t.deadline = kernel::TimespecAdd(MonotonicNow(), timespec{sec, nsec});
  }
  return t;
}

// A timeout in milliseconds (poll, epoll_wait): negative waits forever.
inline Timeout MillisecondTimeout(int ms) {
  Timeout t;
  if (ms == 0) {
    t.immediate = true;
  } else if (ms > 0) {
    t.deadline = kernel::TimespecAdd(MonotonicNow(), timespec{ms / 1000, (ms % 1000) * 1000000L});
  }
  return t;
}

// Whether a syscall's result says a signal ended its wait.
inline bool Interrupted(const SyscallResult& r) {
  if (r.ok()) return false;
  const int e = r.error().value();
  return e == EINTR || e == kERESTARTSYS || e == kERESTARTNOHAND || e == kERESTART_RESTARTBLOCK;
}

// The signal mask a wait runs under (ppoll, pselect6, epoll_pwait*), as
// Linux's set_user_sigmask and restore_saved_sigmask_unless: the old mask is
// the task's saved mask; a wait that a signal ended keeps the temporary one
// until that signal is delivered (its handler's frame holds the old mask, or
// the task puts it back), any other end puts the old one back at once.
class WaitSigmask {
 public:
  explicit WaitSigmask(Task& t) : t_(t) {}
  ~WaitSigmask() {
    if (old_) t_.set_signal_mask(*old_);  // an error before the wait
  }
  WaitSigmask(const WaitSigmask&) = delete;
  WaitSigmask& operator=(const WaitSigmask&) = delete;

  // set_user_sigmask: nothing for a null mask; EINVAL unless `size` is 8;
  // EFAULT.
  ErrnoOrOk Set(UserAddr mask, size_t size) {
    if (mask.value() == 0) return Ok();
    if (size != sizeof(uint64_t)) return Errno(EINVAL);
    uint64_t m;
    RETURN_IF_ERROR(t_.mm().CopyInObj(UserPtr<uint64_t>(mask.value()), &m));
    old_ = t_.signal_mask();
    t_.SetSavedMask(*old_);
    t_.set_signal_mask(m);
    // A signal the new mask lets through, already pending, ends the wait
    // (signal_pending).
    if (t_.HasDeliverableSignal()) t_.waker().Interrupt();
    return Ok();
  }
  // The syscall's result, after the mask is settled.
  SyscallResult Finish(SyscallResult r) {
    if (old_ && Interrupted(r)) old_.reset();  // restored with the delivery
    return r;
  }

 private:
  Task& t_;
  std::optional<uint64_t> old_;
};

}  // namespace sentry::syscalls

#endif  // SENTRY_SYSCALLS_WAIT_H_
