// Owned memory mappings, and ways to look at memory without touching it.
//
//   ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(4 * kPageSize));
//   m.bytes()[0] = 1;            // unmapped when `m` goes out of scope
//
// Signal delivery is not in the sandbox yet, so a test must never fault on
// purpose: it asks the kernel instead. ProbeReadable/ProbeWritable make the
// kernel read or write the address (a copy-in or a copy-out), which gives
// EFAULT where the guest itself would get SIGSEGV; mincore says which pages
// are mapped.
#ifndef SYSCALLS_TESTS_UTIL_MAPPING_H_
#define SYSCALLS_TESTS_UTIL_MAPPING_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {

class Mapping {
 public:
  Mapping() = default;
  // Takes ownership of [addr, addr + len).
  Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
  Mapping(Mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), len_(std::exchange(other.len_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    reset(other.addr_, other.len_);
    other.addr_ = nullptr;
    other.len_ = 0;
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  // mmap(hint, len, prot, flags | MAP_ANONYMOUS, -1, 0).
  static ErrnoOr<Mapping> Anonymous(size_t len, int prot = PROT_READ | PROT_WRITE,
                                    int flags = MAP_PRIVATE, void* hint = nullptr);

  void* ptr() const { return addr_; }
  uintptr_t addr() const { return reinterpret_cast<uintptr_t>(addr_); }
  uintptr_t end() const { return addr() + len_; }
  size_t len() const { return len_; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(addr_); }
  // Page `i` of the mapping.
  uint8_t* page(size_t i) const { return bytes() + i * kPageSize; }

  // Unmaps what is held (munmap of a range that is already partly unmapped is
  // fine) and takes [addr, addr + len).
  void reset(void* addr = nullptr, size_t len = 0);
  // Gives up ownership.
  void* release() {
    len_ = 0;
    return std::exchange(addr_, nullptr);
  }

 private:
  void* addr_ = nullptr;
  size_t len_ = 0;
};

// An address range of `len` bytes that nothing is mapped at right now (found
// by mapping and unmapping it); for MAP_FIXED and mremap targets.
ErrnoOr<uintptr_t> FindUnmappedRange(size_t len);

// mincore(2) of [addr, addr + len): one byte per page, or the errno.
ErrnoOr<std::vector<uint8_t>> Mincore(uintptr_t addr, size_t len);

// True when each page of [addr, addr + len) is mapped (mincore succeeds).
bool IsMapped(uintptr_t addr, size_t len);

// True when the kernel can read 4 bytes at `addr` (4-aligned) on our behalf:
// futex(FUTEX_WAIT_PRIVATE) with a zero timeout reads the word and returns
// EAGAIN or ETIMEDOUT, or EFAULT when it cannot.
bool ProbeReadable(uintptr_t addr);

// True when the kernel can write 16 bytes at `addr`: clock_gettime(2) (the
// real syscall, not the vDSO) writes a timespec there or fails with EFAULT.
// The 16 bytes are overwritten.
bool ProbeWritable(uintptr_t addr);

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_MAPPING_H_
