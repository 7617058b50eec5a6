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

// PTRACE_SEIZE with `options` (no SIGSTOP is sent; see platform/README.md).
absl::Status PtraceSeize(pid_t tid, long options);
// PTRACE_DETACH, leaving `signal` (0 or SIGSTOP) to be delivered untraced.
absl::Status PtraceDetach(pid_t tid, int signal);

// Every stub process (the first one and each stub thread) is a process of its own,
// so a pidfd names it exactly: signals and waits through it can never reach a
// process that reused the pid after a reap by another Sentry thread.
absl::StatusOr<int> PidfdOpen(pid_t pid);
// pidfd_send_signal; errors (the process is already gone) are ignored.
void PidfdKill(int pidfd, int signal);

// waitid(P_PIDFD, pidfd, WEXITED | __WALL), retried on EINTR: the next ptrace stop
// or the death of the stub process `pid`. Returns it as a waitpid(2) status
// (WIFSTOPPED, WSTOPSIG, status >> 16 = the ptrace event, WIFSIGNALED ...). An
// ECHILD error means another Sentry thread reaped it.
absl::StatusOr<int> WaitForStub(int pidfd, pid_t pid);

// SIGKILL the stub process behind `pidfd` and reap it (wait until it is gone).
// Returns its final wait status, or -1 if it was already reaped (by another
// thread). A stub that already died keeps its own status (a zombie ignores the
// SIGKILL). Safe to call from any Sentry thread, concurrently with others.
int KillAndReap(int pidfd);

// "stub process 12 was killed by signal 9 (SIGKILL)", "... exited with status 1", or
// "... stopped by signal 5 (SIGTRAP)", from a wait status.
std::string DescribeWaitStatus(pid_t pid, int status);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_SYSCALLS_H_
