// rt_sigaction, rt_sigprocmask: recorded with Linux's checks; delivery comes with
// the processes issue.
#include <signal.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kSigsetSize = 8;

}  // namespace

SyscallResult RtSigaction(Task& t, const SyscallArgs& a) {
  const int sig = a.Int(0);
  if (a.Size(3) != kSigsetSize) return Errno(EINVAL);
  if (sig < 1 || sig > kernel::kNumSignals) return Errno(EINVAL);
  kernel::KSigaction act;
  const bool set = !a.Addr(1).IsNull();
  if (set) {
    if (sig == SIGKILL || sig == SIGSTOP) return Errno(EINVAL);
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<kernel::KSigaction>(1), &act));
  }
  const kernel::KSigaction old = t.sigaction(sig);
  if (set) {
    act.mask &= ~kernel::kUnblockableSignals;
    t.sigaction(sig) = act;
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

}  // namespace sentry::syscalls
