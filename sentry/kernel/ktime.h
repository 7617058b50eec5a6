// timespec arithmetic that saturates instead of overflowing (guest-chosen
// timeouts can be anything up to INT64_MAX seconds).
#ifndef SENTRY_KERNEL_KTIME_H_
#define SENTRY_KERNEL_KTIME_H_

#include <time.h>

#include <cstdint>

namespace sentry::kernel {

inline constexpr int64_t kNsPerSec = 1000000000;

// a + b for valid timespecs (0 <= tv_nsec < 1e9); {INT64_MAX, 0} ("never") when
// the sum does not fit.
inline timespec TimespecAdd(const timespec& a, const timespec& b) {
  if (b.tv_sec > INT64_MAX - a.tv_sec - 1) return {INT64_MAX, 0};
  timespec r{a.tv_sec + b.tv_sec, a.tv_nsec + b.tv_nsec};
  if (r.tv_nsec >= kNsPerSec) {
    r.tv_sec++;
    r.tv_nsec -= kNsPerSec;
  }
  return r;
}

// max(a - b, 0).
inline timespec TimespecSubClamped(const timespec& a, const timespec& b) {
  if (a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec)) return {0, 0};
  timespec r{a.tv_sec - b.tv_sec, a.tv_nsec - b.tv_nsec};
  if (r.tv_nsec < 0) {
    r.tv_sec--;
    r.tv_nsec += kNsPerSec;
  }
  return r;
}

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_KTIME_H_
