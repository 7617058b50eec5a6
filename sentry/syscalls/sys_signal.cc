// rt_sigaction, rt_sigprocmask: recorded with Linux's checks; delivery comes with
// the processes issue.
#include <signal.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kSigsetSize = 8;

// The sa_flags bits Linux knows on x86-64 (UAPI_SA_FLAGS): SA_NOCLDSTOP,
// SA_NOCLDWAIT, SA_SIGINFO, SA_EXPOSE_TAGBITS, SA_RESTORER, SA_ONSTACK, SA_RESTART,
// SA_NODEFER, SA_RESETHAND. Since 5.11 it clears the others, so that programs can
// probe for support (SA_UNSUPPORTED).
constexpr uint64_t kKnownSaFlags =
    0x1 | 0x2 | 0x4 | 0x800 | 0x04000000 | 0x08000000 | 0x10000000 | 0x40000000 | 0x80000000;

}  // namespace

SyscallResult RtSigaction(Task& t, const SyscallArgs& a) {
  const int sig = a.Int(0);
  if (a.Size(3) != kSigsetSize) return Errno(EINVAL);
  // Linux copies the new action in before it looks at the signal.
  kernel::KSigaction act;
  const bool set = !a.Addr(1).IsNull();
  if (set) RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<kernel::KSigaction>(1), &act));
  if (sig < 1 || sig > kernel::kNumSignals) return Errno(EINVAL);
  if (set && (sig == SIGKILL || sig == SIGSTOP)) return Errno(EINVAL);
  act.flags &= kKnownSaFlags;
  const kernel::KSigaction old = t.sigaction(sig);
  if (set) {
    act.mask &= ~kernel::kUnblockableSignals;
    t.set_sigaction(sig, act);
  }
  if (!a.Addr(2).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<kernel::KSigaction>(2), old));
  return 0;
}

SyscallResult RtSigprocmask(Task& t, const SyscallArgs& a) {
  if (a.Size(3) != kSigsetSize) return Errno(EINVAL);
  const uint64_t old = t.signal_mask();
  if (!a.Addr(1).IsNull()) {
    uint64_t set;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<uint64_t>(1), &set));
    switch (a.Int(0)) {
      case SIG_BLOCK:
        t.set_signal_mask(old | set);
        break;
      case SIG_UNBLOCK:
        t.set_signal_mask(old & ~set);
        break;
      case SIG_SETMASK:
        t.set_signal_mask(set);
        break;
      default:
        return Errno(EINVAL);
    }
  }
  if (!a.Addr(2).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(2), old));
  return 0;
}

SyscallResult RtSigpending(Task& t, const SyscallArgs& a) {
  // Linux takes any size up to its sigset_t's and copies that many bytes.
  const size_t size = a.Size(1);
  if (size > kSigsetSize) return Errno(EINVAL);
  const uint64_t pending = t.pending_signals();
  auto r = t.mm().CopyOut(a.Addr(0), {reinterpret_cast<const uint8_t*>(&pending), size});
  if (!r.ok()) return Errno(EFAULT);
  return 0;
}

}  // namespace sentry::syscalls
