// Thin wrappers around the raw ptrace, wait and signal calls of the ptrace platform.
// Each returns an absl::Status that names the request and the stub thread; building
// the message costs only on failure, so they are fit for the switch path.
#ifndef PLATFORM_PTRACE_PTRACE_SYSCALLS_H_
#define PLATFORM_PTRACE_PTRACE_SYSCALLS_H_

#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace platform::ptrace {

// The calling host thread's tid (cached per thread: gettid is a syscall).
pid_t CurrentTid();

absl::Status PtraceSetOptions(pid_t tid, long options);
absl::Status PtraceGetRegs(pid_t tid, user_regs_struct* regs);
absl::Status PtraceSetRegs(pid_t tid, const user_regs_struct& regs);
// NT_X86_XSTATE: the whole xsave area (the kernel wants exactly its size).
absl::Status PtraceGetXstate(pid_t tid, std::span<uint8_t> xsave);
absl::Status PtraceSetXstate(pid_t tid, std::span<uint8_t> xsave);
absl::Status PtraceGetSiginfo(pid_t tid, siginfo_t* info);
// PTRACE_SYSEMU or PTRACE_CONT; never delivers a signal to the stub.
absl::Status PtraceResume(pid_t tid, int request);

// waitpid(tid, __WALL), retried on EINTR. Returns the wait status.
absl::StatusOr<int> WaitForStub(pid_t tid);

// SIGKILL `pid` and reap it (waitpid until it is gone). Returns its final wait
// status, or -1 if it was already reaped. A stub that already died keeps its own
// status (a zombie ignores the SIGKILL).
int KillAndReap(pid_t pid);

// "stub process 12 was killed by signal 9 (SIGKILL)", "... exited with status 1", or
// "... stopped by signal 5 (SIGTRAP)", from a wait status.
std::string DescribeWaitStatus(pid_t pid, int status);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_SYSCALLS_H_
