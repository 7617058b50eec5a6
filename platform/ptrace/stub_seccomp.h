// The seccomp filter every stub process installs on itself (DESIGN.md §4, §11.2).
#ifndef PLATFORM_PTRACE_STUB_SECCOMP_H_
#define PLATFORM_PTRACE_STUB_SECCOMP_H_

#include <linux/filter.h>
#include <sched.h>

#include <cstdint>
#include <vector>

namespace platform::ptrace {

// The clone that makes a stub thread (platform/README.md): a process of its own
// (no CLONE_THREAD, so a SIGSTOP or a SIGKILL reaches only it) that shares the
// stub's memory map, fd table (the memory file only), fs and signal handlers (all
// SIG_DFL); a child of the stub's parent, the platform's factory thread
// (CLONE_PARENT, so any Sentry thread reaps it with one wait), traced from birth by
// the factory thread (CLONE_PTRACE). No exit signal in the flags: with
// CLONE_PARENT the child takes the stub's (SIGCHLD).
inline constexpr uint64_t kStubThreadCloneFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PARENT | CLONE_PTRACE;

// The BPF program for a stub whose code page starts at `code_page`:
//  - any syscall made from outside the code page kills the stub process, except
//    that a guest call into the vsyscall page (emulated by the host kernel, which
//    runs seccomp but not ptrace) traps with SIGSYS, which the Sentry sees;
//  - from the code page, only what the platform injects is allowed: mmap of the
//    memory file (MAP_SHARED|MAP_FIXED on PTRACE_STUB_MEMORY_FD), munmap, mprotect,
//    the start-up's getpid and kill(SIGSTOP), and for a new stub thread clone with
//    exactly kStubThreadCloneFlags and no stack, and prctl(PR_SET_PDEATHSIG,
//    SIGKILL). Anything else kills.
// Guest syscalls never reach this filter: PTRACE_SYSEMU stops them before seccomp
// runs and skips them.
std::vector<sock_filter> BuildStubFilter(uint64_t code_page);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_SECCOMP_H_
