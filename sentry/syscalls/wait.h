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

// The task's signal mask for the length of a wait, the old one put back when
// it ends. TODO(processes issue): once signals are delivered, a signal that
// interrupts the wait runs its handler under the temporary mask, and the old
// one comes back after it (restore_saved_sigmask).
class ScopedSigmask {
 public:
  explicit ScopedSigmask(Task& t) : t_(t) {}
  ~ScopedSigmask() {
    if (saved_) t_.set_signal_mask(*saved_);
  }
  ScopedSigmask(const ScopedSigmask&) = delete;
  ScopedSigmask& operator=(const ScopedSigmask&) = delete;

  // set_user_sigmask: nothing for a null mask; EINVAL unless `size` is 8;
  // EFAULT.
  ErrnoOrOk Set(UserAddr mask, size_t size) {
    if (mask.value() == 0) return Ok();
    if (size != sizeof(uint64_t)) return Errno(EINVAL);
    uint64_t m;
    RETURN_IF_ERROR(t_.mm().CopyInObj(UserPtr<uint64_t>(mask.value()), &m));
    saved_ = t_.signal_mask();
    t_.set_signal_mask(m);
    return Ok();
  }

 private:
  Task& t_;
  std::optional<uint64_t> saved_;
};

}  // namespace sentry::syscalls

#endif  // SENTRY_SYSCALLS_WAIT_H_
