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
// stub's memory map, fd table (the one of all stubs: kStubForkCloneFlags), fs and
// signal handlers (all
// SIG_DFL); a child of the stub's parent, the platform's factory thread
// (CLONE_PARENT, so any Sentry thread reaps it with one wait), traced from birth by
// the factory thread (CLONE_PTRACE). No exit signal in the flags: with
// CLONE_PARENT the child takes the stub's (SIGCHLD).
inline constexpr uint64_t kStubThreadCloneFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PARENT | CLONE_PTRACE;

// The clone that makes a new stub from the template stub (platform/README.md): fork
// semantics for memory (its own copy of the template's memory map, which is the
// stub page alone) and signal handlers (all SIG_DFL, or systrap's); the
// template's fd table shared (CLONE_FILES: every stub and stub thread has the
// one table, holding the memory file, the platform's socket and the host files
// the template received for MapHostFile); a child of the template's parent, the
// factory thread (CLONE_PARENT, which also gives it the template's exit signal,
// SIGCHLD), traced from birth by the factory thread with the template's ptrace
// options (CLONE_PTRACE). It inherits the template's seccomp filter and
// no_new_privs.
inline constexpr uint64_t kStubForkCloneFlags = CLONE_FILES | CLONE_PARENT | CLONE_PTRACE;

// The BPF program for a stub whose code page starts at `code_page`:
//  - any syscall made from outside the code page kills the stub process, except
//    that a guest call into the vsyscall page (emulated by the host kernel, which
//    runs seccomp but not ptrace) traps with SIGSYS, which the Sentry sees;
//  - from the code page, only what the platform injects is allowed: mmap of the
//    memory file (MAP_SHARED|MAP_FIXED on PTRACE_STUB_MEMORY_FD), mmap of a host
//    file (MAP_PRIVATE|MAP_FIXED on an fd >= PTRACE_STUB_FIRST_HOST_FD, prot
//    without PROT_WRITE), munmap, mprotect, the start-up's getpid and
//    kill(SIGSTOP), for a new stub thread clone with exactly kStubThreadCloneFlags
//    and no stack, and prctl(PR_SET_PDEATHSIG, SIGKILL), for a new stub (from the
//    template) clone with exactly kStubForkCloneFlags and no stack, and for the
//    template's table of host files recvmsg(PTRACE_STUB_SOCKET_FD, msg, 0) and
//    close of an fd >= PTRACE_STUB_FIRST_HOST_FD. Anything else kills.
// Guest syscalls never reach this filter: PTRACE_SYSEMU stops them before seccomp
// runs and skips them.
//
// With `mode` kSystrap (platform/systrap/README.md), guest threads run untraced,
// so every syscall from outside the code page (of any ABI: an `int 0x80` too)
// traps with SIGSYS instead of killing: the stub's signal handler hands it to
// the Sentry. From the code page
// it also allows what that handler and a guest thread's set-up use:
// futex(FUTEX_WAIT or FUTEX_WAKE), rt_sigreturn, sched_yield, seccomp(SECCOMP_SET_MODE_FILTER,
// 0) to stack BuildSystrapGuestThreadFilter, and rt_sigaction and sigaltstack (the
// injected set-up of the handlers, once in the template stub, and of each guest
// thread's altstack).
enum class StubMode { kPtrace, kSystrap };
std::vector<sock_filter> BuildStubFilter(uint64_t code_page, StubMode mode = StubMode::kPtrace);

// The second filter a systrap stub thread that runs guest code stacks on top of
// BuildStubFilter(code_page, kSystrap). Such a thread is untraced, so guest code
// that jumps to a `syscall` in the code page (or rt_sigreturns there with a forged
// frame) really runs it: this filter leaves it only what the stub's signal handler
// needs, futex(FUTEX_WAIT or FUTEX_WAKE, no other op or flag), sched_yield and
// rt_sigreturn;
// anything else from the code page kills the process (the injections of the
// mmap/munmap/mprotect/clone/prctl the first filter allows go through the traced
// first process, which does not have this filter). From outside the code page
// every syscall traps (SIGSYS), as in the first filter.
std::vector<sock_filter> BuildSystrapGuestThreadFilter(uint64_t code_page);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_SECCOMP_H_
