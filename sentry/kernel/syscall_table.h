// The syscall table as data (DESIGN.md §7): for each number its name, handler,
// support level, note and argument formats. The kernel defines the shape; the
// Linux x86-64 table itself is filled in by sentry/syscalls/linux64.cc.
#ifndef SENTRY_KERNEL_SYSCALL_TABLE_H_
#define SENTRY_KERNEL_SYSCALL_TABLE_H_

#include <array>
#include <cstdint>

#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"

namespace sentry::kernel {

class Task;

struct SyscallArgs {
  std::array<uint64_t, 6> v{};
  uint64_t operator[](int i) const { return v[i]; }
  int Int(int i) const { return static_cast<int>(v[i]); }
  uint32_t Uint(int i) const { return static_cast<uint32_t>(v[i]); }
  int64_t Int64(int i) const { return static_cast<int64_t>(v[i]); }
  size_t Size(int i) const { return static_cast<size_t>(v[i]); }
  UserAddr Addr(int i) const { return UserAddr(v[i]); }
  template <typename T>
  UserPtr<T> Ptr(int i) const {
    return UserPtr<T>(v[i]);
  }
};

// What a handler returns: the syscall's value or an errno (-errno to the guest).
using SyscallResult = ErrnoOr<uint64_t>;
using SyscallHandler = SyscallResult (*)(Task& t, const SyscallArgs& args);

enum class Support : uint8_t {
  kFull,           // implemented as Linux does it
  kPartial,        // implemented; `note` says what is missing
  kUnimplemented,  // returns `error` (ENOSYS by default); counted and logged once
};

// How --strace prints an argument.
enum class ArgFormat : uint8_t {
  kNone,
  kDec,   // signed decimal
  kUDec,  // unsigned decimal
  kHex,
  kOct,       // file modes
  kFd,        // an fd (AT_FDCWD printed as such)
  kPath,      // a NUL-terminated string in guest memory
  kInBuf,     // a buffer whose length is the next argument, printed before the call
  kOutBuf,    // a buffer whose length is the return value, printed after the call
  kIovecIn,   // an iovec array, count in the next argument
  kIovecOut,  // an iovec array filled by the call, count in the next argument
  kPtr,       // an address, NULL printed as such
  kSignal,    // a signal number: SIGSEGV
  kSigset,    // a pointer to a sigset_t
  kTimespec,  // a pointer to a struct timespec, read before the call
  kClockId,
  kMmapProt,
  kMmapFlags,
  kOpenFlags,
  kFutexOp,
  kArchPrctl,
  kRlimitResource,
  kMadvice,
  kWhence,
};

struct SyscallInfo {
  const char* name = nullptr;
  SyscallHandler handler = nullptr;
  Support support = Support::kUnimplemented;
  int error = ENOSYS;     // for kUnimplemented
  const char* note = "";  // what a partial implementation lacks, or why unimplemented
  std::array<ArgFormat, 6> args{};
};

inline constexpr size_t kMaxSyscallNumber = 512;

struct SyscallTable {
  std::array<SyscallInfo, kMaxSyscallNumber> entries{};
  // Prints one strace line for a finished syscall (set by the syscalls library).
  void (*strace)(Task& t, uint64_t nr, const SyscallArgs& args, const SyscallResult& r) = nullptr;

  const SyscallInfo* Lookup(uint64_t nr) const {
    return nr < entries.size() && entries[nr].name != nullptr ? &entries[nr] : nullptr;
  }
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SYSCALL_TABLE_H_
