#include "syscalls-tests/util/mapping.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace syscalls_test {

ErrnoOr<Mapping> Mapping::Anonymous(size_t len, int prot, int flags, void* hint) {
  void* p = mmap(hint, len, prot, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ErrnoOr<Mapping>::Error(errno, "mmap");
  return Mapping(p, len);
}

void Mapping::reset(void* addr, size_t len) {
  if (addr_ != nullptr && len_ != 0) {
    const int saved = errno;
    munmap(addr_, len_);
    errno = saved;
  }
  addr_ = addr;
  len_ = len;
}

ErrnoOr<uintptr_t> FindUnmappedRange(size_t len) {
  void* p = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ErrnoOr<uintptr_t>::Error(errno, "mmap");
  if (munmap(p, len) != 0) return ErrnoOr<uintptr_t>::Error(errno, "munmap");
  return reinterpret_cast<uintptr_t>(p);
}

ErrnoOr<std::vector<uint8_t>> Mincore(uintptr_t addr, size_t len) {
  std::vector<uint8_t> vec((len + kPageSize - 1) / kPageSize);
  if (mincore(reinterpret_cast<void*>(addr), len, vec.data()) != 0) {
    return ErrnoOr<std::vector<uint8_t>>::Error(errno, "mincore");
  }
  return vec;
}

bool IsMapped(uintptr_t addr, size_t len) { return Mincore(addr, len).ok(); }

bool ProbeReadable(uintptr_t addr) {
  struct timespec zero = {0, 0};
  long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, 0xdeadbeefU, &zero, nullptr, 0);
  return r == 0 || errno != EFAULT;
}

bool ProbeWritable(uintptr_t addr) {
  return syscall(SYS_clock_gettime, CLOCK_MONOTONIC, addr) == 0;
}

}  // namespace syscalls_test
