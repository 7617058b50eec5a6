// The seccomp filter every stub process installs on itself (DESIGN.md §4, §11.2).
#ifndef PLATFORM_PTRACE_STUB_SECCOMP_H_
#define PLATFORM_PTRACE_STUB_SECCOMP_H_

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace platform::ptrace {

// The BPF program for a stub whose code page starts at `code_page`:
//  - any syscall made from outside the code page kills the stub process, except
//    that a guest call into the vsyscall page (emulated by the host kernel, which
//    runs seccomp but not ptrace) traps with SIGSYS, which the Sentry sees;
//  - from the code page, only what the platform injects is allowed: mmap of the
//    memory file (MAP_SHARED|MAP_FIXED on PTRACE_STUB_MEMORY_FD), munmap, mprotect,
//    and the start-up's getpid and kill(SIGSTOP). Anything else kills.
// Guest syscalls never reach this filter: PTRACE_SYSEMU stops them before seccomp
// runs and skips them.
std::vector<sock_filter> BuildStubFilter(uint64_t code_page);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_SECCOMP_H_
