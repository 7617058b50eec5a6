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

// One past the highest user address on x86-64 with 4-level paging (TASK_SIZE_MAX).
inline constexpr uint64_t kTaskSizeMax = (uint64_t{1} << 47) - kPageSize;

// Linux's access_ok(): [addr, addr+length) lies in the user address space. A
// syscall checks it up front (EFAULT) even where it then copies nothing.
constexpr bool AccessOk(uint64_t addr, uint64_t length) {
  return addr <= kTaskSizeMax && length <= kTaskSizeMax - addr;
}

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
