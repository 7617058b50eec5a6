// --strace: one line per finished syscall, in strace's format:
//   write(1, "hello, world\n", 13) = 13
//   openat(AT_FDCWD, "/x", O_RDONLY) = -1 ENOENT (No such file or directory)
#ifndef SENTRY_SYSCALLS_STRACE_H_
#define SENTRY_SYSCALLS_STRACE_H_

#include <span>
#include <string>

#include "sentry/kernel/syscall_table.h"

namespace sentry::syscalls {

// Formats the line (without the newline).
std::string FormatSyscall(kernel::Task& t, uint64_t nr, const kernel::SyscallArgs& args,
                          const kernel::SyscallResult& r);
// Writes FormatSyscall's line to the kernel's strace fd.
void StraceSyscall(kernel::Task& t, uint64_t nr, const kernel::SyscallArgs& args,
                   const kernel::SyscallResult& r);
// strace's quoting of a byte string: "a\nb", at most `max` bytes then "...".
std::string QuoteBytes(std::span<const uint8_t> bytes, size_t max, bool truncated);

}  // namespace sentry::syscalls

#endif  // SENTRY_SYSCALLS_STRACE_H_
