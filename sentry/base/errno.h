// Linux errno values as the Sentry's internal error type.
//
// Inside the kernel every fallible operation returns `Errno` (an error only) or
// `ErrnoOr<T>` (a value or an error). Values are positive Linux errnos; the
// ERESTART* family (512..516) exists only inside the Sentry and is resolved when
// a signal is delivered, never returned to the guest.
#ifndef SENTRY_BASE_ERRNO_H_
#define SENTRY_BASE_ERRNO_H_

#include <cerrno>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/status/status.h"

namespace sentry {

// Internal restart codes (include/linux/errno.h); never visible to the guest.
inline constexpr int kERESTARTSYS = 512;
inline constexpr int kERESTARTNOINTR = 513;
inline constexpr int kERESTARTNOHAND = 514;
inline constexpr int kERESTART_RESTARTBLOCK = 516;

class [[nodiscard]] Errno {
 public:
  constexpr explicit Errno(int value) : value_(value) {}
  constexpr int value() const { return value_; }
  constexpr bool operator==(const Errno&) const = default;
  // The syscall return value the guest sees: -errno.
  constexpr int64_t AsSyscallReturn() const { return -static_cast<int64_t>(value_); }

 private:
  int value_;
};

// "ENOENT", "ERESTARTSYS", or "E<number>" for unknown values.
std::string_view ErrnoName(int value);
// strerror-like text, thread-safe.
std::string_view ErrnoDescription(int value);

// A value or an errno. `ErrnoOr<void>` carries success or an errno.
template <typename T>
class [[nodiscard]] ErrnoOr {
 public:
  ErrnoOr(Errno e) : v_(e) {}  // NOLINT: implicit by design, like absl::StatusOr.
  template <typename U = T,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Errno> &&
                                        !std::is_same_v<std::decay_t<U>, ErrnoOr<T>>>>
  ErrnoOr(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  Errno error() const { return std::get<1>(v_); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] ErrnoOr<void> {
 public:
  ErrnoOr() = default;
  ErrnoOr(Errno e) : e_(e) {}  // NOLINT
  bool ok() const { return e_.value() == 0; }
  Errno error() const { return e_; }

 private:
  Errno e_{0};
};

using ErrnoOrOk = ErrnoOr<void>;
inline ErrnoOrOk Ok() { return ErrnoOrOk(); }

// Conversions at the boundary between the kernel and the rest (one place each way).
absl::Status ErrnoToStatus(Errno e, std::string_view context);
// A host errno from a failed host call, as a Status naming the operation.
absl::Status HostError(std::string_view operation, int host_errno);

}  // namespace sentry

#endif  // SENTRY_BASE_ERRNO_H_
