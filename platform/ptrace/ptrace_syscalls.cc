#include "platform/ptrace/ptrace_syscalls.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_format.h"
#include "sentry/base/errno.h"

namespace platform::ptrace {
namespace {

absl::Status PtraceError(const char* request, pid_t tid) {
  int e = errno;
  return sentry::HostError(absl::StrFormat("%s on stub thread %d", request, tid), e);
}

// The regset note type, as the pointer-sized `addr` argument ptrace reads.
void* const kXstateNote = reinterpret_cast<void*>(uintptr_t{NT_X86_XSTATE});

const char* SignalName(int sig) {
  const char* name = sigabbrev_np(sig);
  return name != nullptr ? name : "?";
}

}  // namespace

pid_t CurrentTid() {
  static thread_local pid_t tid = 0;
  if (tid == 0) tid = gettid();
  return tid;
}

absl::Status PtraceSetOptions(pid_t tid, long options) {
  if (::ptrace(PTRACE_SETOPTIONS, tid, nullptr, reinterpret_cast<void*>(options)) != 0) {
    return PtraceError("PTRACE_SETOPTIONS", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceGetRegs(pid_t tid, user_regs_struct* regs) {
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, regs) != 0) return PtraceError("PTRACE_GETREGS", tid);
  return absl::OkStatus();
}

absl::Status PtraceSetRegs(pid_t tid, const user_regs_struct& regs) {
  if (::ptrace(PTRACE_SETREGS, tid, nullptr, &regs) != 0) {
    return PtraceError("PTRACE_SETREGS", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceGetXstate(pid_t tid, std::span<uint8_t> xsave) {
  iovec iov{xsave.data(), xsave.size()};
  if (::ptrace(PTRACE_GETREGSET, tid, kXstateNote, &iov) != 0) {
    return PtraceError("PTRACE_GETREGSET NT_X86_XSTATE", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceSetXstate(pid_t tid, std::span<uint8_t> xsave) {
  iovec iov{xsave.data(), xsave.size()};
  if (::ptrace(PTRACE_SETREGSET, tid, kXstateNote, &iov) != 0) {
    return PtraceError("PTRACE_SETREGSET NT_X86_XSTATE", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceGetSiginfo(pid_t tid, siginfo_t* info) {
  if (::ptrace(PTRACE_GETSIGINFO, tid, nullptr, info) != 0) {
    return PtraceError("PTRACE_GETSIGINFO", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceResume(pid_t tid, int request) {
  if (::ptrace(static_cast<__ptrace_request>(request), tid, nullptr, nullptr) != 0) {
    return PtraceError(request == PTRACE_SYSEMU ? "PTRACE_SYSEMU" : "PTRACE_CONT", tid);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> WaitForStub(pid_t tid) {
  int status;
  for (;;) {
    pid_t r = ::waitpid(tid, &status, __WALL);
    if (r == tid) return status;
    if (r < 0 && errno == EINTR) continue;
    return sentry::HostError(absl::StrFormat("waitpid for stub thread %d", tid),
                             r < 0 ? errno : ECHILD);
  }
}

int KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  for (;;) {
    int status;
    pid_t r = ::waitpid(pid, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (WIFEXITED(status) || WIFSIGNALED(status)) return status;
  }
}

std::string DescribeWaitStatus(pid_t pid, int status) {
  if (WIFEXITED(status)) {
    return absl::StrFormat("stub process %d exited with status %d", pid, WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrFormat("stub process %d was killed by signal %d (SIG%s)", pid, WTERMSIG(status),
                           SignalName(WTERMSIG(status)));
  }
  if (WIFSTOPPED(status)) {
    return absl::StrFormat("stub process %d stopped by signal %d (SIG%s), event %d", pid,
                           WSTOPSIG(status) & 0x7f, SignalName(WSTOPSIG(status) & 0x7f),
                           status >> 16);
  }
  return absl::StrFormat("stub process %d: unexpected wait status %#x", pid, status);
}

}  // namespace platform::ptrace
