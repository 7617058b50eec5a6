// The ptrace stub: the machine code a stub process runs, and the assembly routine
// that creates a stub process (stub_amd64.S). See platform/README.md.
//
// This header is included by both C++ and the assembly file, so the constants the
// two sides share are macros; the C++ side checks them with static_asserts.
#ifndef PLATFORM_PTRACE_STUB_H_
#define PLATFORM_PTRACE_STUB_H_

// The fd numbers in a stub's fd table, which every stub shares with the
// template stub (kStubForkCloneFlags has CLONE_FILES): the memory file, the
// receiving end of the platform's socket (host files arrive there, received by
// the template: PtracePlatform::MapHostFile), and from PTRACE_STUB_FIRST_HOST_FD
// on the host files it received.
#define PTRACE_STUB_MEMORY_FD 0
#define PTRACE_STUB_SOCKET_FD 1
#define PTRACE_STUB_FIRST_HOST_FD 2

// Exclusive top of the user address space with 4-level paging (TASK_SIZE): the stub
// unmaps everything in [0, stub) and [stub end, this).
#define PTRACE_STUB_USER_TOP 0x7ffffffff000

// Offsets in StubArgs, for the assembly.
#define PTRACE_STUB_ARGS_PPID 0
#define PTRACE_STUB_ARGS_MEMORY_FD 8
#define PTRACE_STUB_ARGS_FILTER 16
#define PTRACE_STUB_ARGS_REGION_START 24
#define PTRACE_STUB_ARGS_REGION_END 32
#define PTRACE_STUB_ARGS_ENTRY 40
#define PTRACE_STUB_ARGS_RSEQ 48
#define PTRACE_STUB_ARGS_RSEQ_LEN 56
#define PTRACE_STUB_ARGS_RSEQ_SIG 64
#define PTRACE_STUB_ARGS_SIGACTIONS 72
#define PTRACE_STUB_ARGS_SOCKET_FD 80

// sizeof(struct kernel_sigaction) on x86-64 (StubSigaction).
#define PTRACE_STUB_SIGACTION_SIZE 32

// Exit codes of a stub child that failed while setting itself up (before it stops).
#define PTRACE_STUB_EXIT_RSEQ 100
#define PTRACE_STUB_EXIT_PDEATHSIG 101
#define PTRACE_STUB_EXIT_PARENT_GONE 102
#define PTRACE_STUB_EXIT_TRACEME 103
#define PTRACE_STUB_EXIT_SIGPROCMASK 104
#define PTRACE_STUB_EXIT_DUP2 105
#define PTRACE_STUB_EXIT_CLOSE_RANGE 106
#define PTRACE_STUB_EXIT_NO_NEW_PRIVS 107
#define PTRACE_STUB_EXIT_SECCOMP 108
#define PTRACE_STUB_EXIT_SIGACTION 109
#define PTRACE_STUB_EXIT_DUP2_SOCKET 110

#ifndef __ASSEMBLER__

#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace platform::ptrace {

// The kernel's struct kernel_sigaction (x86-64), as rt_sigaction(2) takes it.
struct StubSigaction {
  uint64_t handler;  // 0: SIG_DFL
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};
static_assert(sizeof(StubSigaction) == PTRACE_STUB_SIGACTION_SIZE);

// What the stub child needs, built by the parent before clone. The child reads it
// from its copy of the parent's memory, so it may live on the parent's stack.
struct StubArgs {
  uint64_t ppid;             // getpid() of the Sentry, to detect a lost parent.
  uint64_t memory_fd;        // The Sentry's memory file fd (dup2'd to the stub fd).
  const sock_fprog* filter;  // The stub's seccomp filter.
  uint64_t region_start;     // The stub region [start, end) to keep.
  uint64_t region_end;       //
  uint64_t entry;            // Address of StubCode's copy in the stub region.
  // The forking thread's rseq registration, which a fork child inherits: the child
  // unregisters it, else the kernel would fault writing the rseq area once the
  // stub has unmapped it. rseq_len 0: none.
  uint64_t rseq;
  uint64_t rseq_len;
  uint64_t rseq_sig;
  // The action of signals 1 to 64 (entry N-1 for signal N), installed before the
  // stub's filter; null: SIG_DFL for all. An entry with a handler that the
  // kernel refuses is a set-up failure (SIGKILL and SIGSTOP must be SIG_DFL).
  const StubSigaction* sigactions;
  // The receiving end of the platform's socket (dup2'd to PTRACE_STUB_SOCKET_FD);
  // at least PTRACE_STUB_FIRST_HOST_FD, so that the memory file's dup2 to fd 0
  // cannot close it first.
  uint64_t socket_fd;
};
static_assert(offsetof(StubArgs, ppid) == PTRACE_STUB_ARGS_PPID);
static_assert(offsetof(StubArgs, memory_fd) == PTRACE_STUB_ARGS_MEMORY_FD);
static_assert(offsetof(StubArgs, filter) == PTRACE_STUB_ARGS_FILTER);
static_assert(offsetof(StubArgs, region_start) == PTRACE_STUB_ARGS_REGION_START);
static_assert(offsetof(StubArgs, region_end) == PTRACE_STUB_ARGS_REGION_END);
static_assert(offsetof(StubArgs, entry) == PTRACE_STUB_ARGS_ENTRY);
static_assert(offsetof(StubArgs, rseq) == PTRACE_STUB_ARGS_RSEQ);
static_assert(offsetof(StubArgs, rseq_len) == PTRACE_STUB_ARGS_RSEQ_LEN);
static_assert(offsetof(StubArgs, rseq_sig) == PTRACE_STUB_ARGS_RSEQ_SIG);
static_assert(offsetof(StubArgs, sigactions) == PTRACE_STUB_ARGS_SIGACTIONS);
static_assert(offsetof(StubArgs, socket_fd) == PTRACE_STUB_ARGS_SOCKET_FD);
// The set-up's dup2s and close_range rely on this order.
static_assert(PTRACE_STUB_MEMORY_FD == 0 && PTRACE_STUB_SOCKET_FD == 1 &&
              PTRACE_STUB_FIRST_HOST_FD == 2);

extern "C" {

// clone(SIGCHLD) (fork semantics, no libc). Returns the child's pid or -errno in the
// parent; the child never returns: it sets itself up (rseq, PTRACE_TRACEME, signal
// actions, fds: the memory file and the socket, seccomp) and jumps to args->entry. Call with all
// signals blocked.
pid_t platform_ptrace_stub_clone(const StubArgs* args);

// The position-independent stub code, copied to the start of the stub region.
// Entered with %r12/%r13 = region start/end. It munmaps everything else (results in
// %r14/%r15), stops itself with SIGSTOP and then loops on `syscall; int3`.
extern const char platform_ptrace_stub_code_start[];
extern const char platform_ptrace_stub_code_end[];
// The loop's `syscall` (rip right after the SIGSTOP), and the `int3` after it.
extern const char platform_ptrace_stub_syscall[];
extern const char platform_ptrace_stub_int3[];

}  // extern "C"

// Offsets in the stub code (and so in the stub region).
inline size_t StubCodeSize() {
  return platform_ptrace_stub_code_end - platform_ptrace_stub_code_start;
}
inline size_t StubSyscallOffset() {
  return platform_ptrace_stub_syscall - platform_ptrace_stub_code_start;
}
inline size_t StubInt3Offset() {
  return platform_ptrace_stub_int3 - platform_ptrace_stub_code_start;
}

}  // namespace platform::ptrace

#endif  // __ASSEMBLER__

#endif  // PLATFORM_PTRACE_STUB_H_
