// Guest addresses. The Sentry never dereferences one: guest memory is reached only
// through the memory manager's CopyIn/CopyOut, which translate to the memory file.
#ifndef SENTRY_BASE_USER_ADDR_H_
#define SENTRY_BASE_USER_ADDR_H_

#include <compare>
#include <cstdint>

namespace sentry {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageShift = 12;
constexpr uint64_t PageRoundDown(uint64_t v) { return v & ~(kPageSize - 1); }
// NOTE: wraps to 0 for v > 2^64 - 4096; callers check overflow first.
constexpr uint64_t PageRoundUp(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }
constexpr bool IsPageAligned(uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// A guest virtual address.
class UserAddr {
 public:
  constexpr UserAddr() = default;
  constexpr explicit UserAddr(uint64_t v) : v_(v) {}
  constexpr uint64_t value() const { return v_; }
  constexpr bool IsNull() const { return v_ == 0; }
  constexpr UserAddr operator+(uint64_t n) const { return UserAddr(v_ + n); }
  constexpr auto operator<=>(const UserAddr&) const = default;

 private:
  uint64_t v_ = 0;
};

// A guest pointer to a T: copied with CopyInObj/CopyOutObj, never dereferenced.
template <typename T>
class UserPtr {
 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(uint64_t v) : a_(v) {}
  constexpr explicit UserPtr(UserAddr a) : a_(a) {}
  constexpr UserAddr addr() const { return a_; }
  constexpr bool IsNull() const { return a_.IsNull(); }
  constexpr UserPtr operator+(uint64_t n) const { return UserPtr(a_ + n * sizeof(T)); }

 private:
  UserAddr a_;
};

}  // namespace sentry

#endif  // SENTRY_BASE_USER_ADDR_H_
