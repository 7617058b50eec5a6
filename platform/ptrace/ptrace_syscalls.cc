#include "platform/ptrace/ptrace_syscalls.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
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

absl::Status PtraceSeize(pid_t tid, long options) {
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(options)) != 0) {
    return PtraceError("PTRACE_SEIZE", tid);
  }
  return absl::OkStatus();
}

absl::Status PtraceDetach(pid_t tid, int signal) {
  if (::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(uintptr_t(signal))) != 0) {
    return PtraceError("PTRACE_DETACH", tid);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PidfdOpen(pid_t pid) {
  // NOTE: raw syscalls: glibc 2.36 declares the pidfd wrappers without extern "C".
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return sentry::HostError(absl::StrFormat("pidfd_open of stub process %d", pid), errno);
  return fd;
}

void PidfdKill(int pidfd, int signal) {
  ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0);
}

namespace {

// A waitid result as the status word waitpid would have returned.
int WaitStatusOf(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
      return info.si_status & 0x7f;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
    case CLD_CONTINUED:
      return 0xffff;
    default:  // CLD_TRAPPED, CLD_STOPPED: si_status is the whole ptrace exit code.
      return (info.si_status << 8) | 0x7f;
  }
}

}  // namespace

absl::StatusOr<int> WaitForStub(int pidfd, pid_t pid) {
  siginfo_t info;
  for (;;) {
    if (::waitid(P_PIDFD, pidfd, &info, WEXITED | __WALL) == 0) return WaitStatusOf(info);
    if (errno == EINTR) continue;
    return sentry::HostError(absl::StrFormat("waitid for stub process %d", pid), errno);
  }
}

int KillAndReap(int pidfd) {
  PidfdKill(pidfd, SIGKILL);
  for (;;) {
    siginfo_t info;
    if (::waitid(P_PIDFD, pidfd, &info, WEXITED | __WALL) != 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (info.si_code == CLD_EXITED || info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
      return WaitStatusOf(info);
    }
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
