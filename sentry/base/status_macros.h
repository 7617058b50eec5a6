// RETURN_IF_ERROR / ASSIGN_OR_RETURN for both kinds of error in the project:
// absl::Status / absl::StatusOr<T> at process and IPC boundaries, and
// sentry::Errno / sentry::ErrnoOr<T> inside the kernel. Debian's abseil has no
// status macros, so this is the one small header that provides them.
#ifndef SENTRY_BASE_STATUS_MACROS_H_
#define SENTRY_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/base/errno.h"

namespace sentry::status_internal {

inline bool IsOk(const absl::Status& s) { return s.ok(); }
template <typename T>
bool IsOk(const absl::StatusOr<T>& s) {
  return s.ok();
}
template <typename T>
bool IsOk(const ErrnoOr<T>& e) {
  return e.ok();
}
inline bool IsOk(const Errno& e) { return e.value() == 0; }

inline absl::Status ErrorOf(absl::Status s) { return s; }
template <typename T>
absl::Status ErrorOf(absl::StatusOr<T>&& s) {
  return std::move(s).status();
}
template <typename T>
Errno ErrorOf(ErrnoOr<T>&& e) {
  return e.error();
}
inline Errno ErrorOf(Errno e) { return e; }

}  // namespace sentry::status_internal

#define SENTRY_STATUS_CONCAT_INNER_(a, b) a##b
#define SENTRY_STATUS_CONCAT_(a, b) SENTRY_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (a Status, Errno or ErrnoOr<T>); returns its error if it failed.
#define RETURN_IF_ERROR(expr)                                               \
  do {                                                                      \
    auto&& _sentry_status = (expr);                                         \
    if (!::sentry::status_internal::IsOk(_sentry_status))                   \
      return ::sentry::status_internal::ErrorOf(std::move(_sentry_status)); \
  } while (0)

// ASSIGN_OR_RETURN(auto x, MakeX()): `rhs` is a StatusOr<T> or ErrnoOr<T>.
#define ASSIGN_OR_RETURN(lhs, rhs) \
  SENTRY_ASSIGN_OR_RETURN_IMPL_(SENTRY_STATUS_CONCAT_(_sentry_or_, __LINE__), lhs, rhs)
#define SENTRY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rhs)           \
  auto tmp = (rhs);                                            \
  if (!::sentry::status_internal::IsOk(tmp))                   \
    return ::sentry::status_internal::ErrorOf(std::move(tmp)); \
  lhs = std::move(tmp).value()

#endif  // SENTRY_BASE_STATUS_MACROS_H_
