// Signal syscalls: actions, masks, rt_sigreturn, sigaltstack, waiting for
// signals (rt_sigsuspend, pause, rt_sigtimedwait), restart_syscall. Delivery
// itself is in sentry/kernel/signals.cc.
#include <signal.h>
#include <sys/signalfd.h>

#include <optional>

#include "sentry/kernel/signalfd.h"
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

SyscallResult RtSigreturn(Task& t, const SyscallArgs&) {
  t.set_regs_replaced();
  if (!t.SignalReturn()) {
    // badframe: force_sig(SIGSEGV).
    siginfo_t info{};
    info.si_signo = SIGSEGV;
    info.si_code = SI_KERNEL;
    t.ForceSignalPublic(info);
  }
  return 0;
}

SyscallResult Sigaltstack(Task& t, const SyscallArgs& a) {
  constexpr int kSsAutodisarm = static_cast<int>(1u << 31);
  constexpr size_t kMinSigStackSize = 2048;
  const stack_t old = t.alt_stack();
  if (!a.Addr(0).IsNull()) {
    stack_t ss;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<stack_t>(0), &ss));
    // Not while running on it.
    if (t.OnAltStack(t.regs().r.rsp)) return Errno(EPERM);
    const int mode = ss.ss_flags & ~kSsAutodisarm;
    if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) return Errno(EINVAL);
    if (mode == SS_DISABLE) {
      ss.ss_sp = nullptr;
      ss.ss_size = 0;
      ss.ss_flags = SS_DISABLE;
    } else {
      if (ss.ss_size < kMinSigStackSize) return Errno(ENOMEM);
      ss.ss_flags &= kSsAutodisarm;
    }
    t.set_alt_stack(ss);
  }
  if (!a.Addr(1).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<stack_t>(1), old));
  return 0;
}

SyscallResult RtSigsuspend(Task& t, const SyscallArgs& a) {
  if (a.Size(1) != kSigsetSize) return Errno(EINVAL);
  uint64_t mask;
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<uint64_t>(0), &mask));
  // Sleep with the given mask until a signal is delivered; the old mask
  // comes back after the handler (it is the one saved in the frame).
  t.SetSavedMask(t.signal_mask());
  t.set_signal_mask(mask);
  while (!t.HasDeliverableSignal()) {
    if (!t.Block(CLOCK_MONOTONIC, nullptr).ok()) break;
  }
  return Errno(kERESTARTNOHAND);
}

SyscallResult Pause(Task& t, const SyscallArgs&) {
  while (!t.HasDeliverableSignal()) {
    if (!t.Block(CLOCK_MONOTONIC, nullptr).ok()) break;
  }
  return Errno(kERESTARTNOHAND);
}

SyscallResult RtSigtimedwait(Task& t, const SyscallArgs& a) {
  if (a.Size(3) != kSigsetSize) return Errno(EINVAL);
  uint64_t set;
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<uint64_t>(0), &set));
  set &= ~kernel::kUnblockableSignals;
  std::optional<timespec> deadline;
  if (!a.Addr(2).IsNull()) {
    timespec rel;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(2), &rel));
    if (rel.tv_sec < 0 || rel.tv_nsec < 0 || rel.tv_nsec >= 1000000000) return Errno(EINVAL);
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    timespec d{now.tv_sec + rel.tv_sec, now.tv_nsec + rel.tv_nsec};
    if (d.tv_nsec >= 1000000000) {
      d.tv_sec++;
      d.tv_nsec -= 1000000000;
    }
    deadline = d;
  }
  // The signals waited for are unblocked while waiting (so that sending one
  // wakes us, as Linux's real_blocked), then taken here, not delivered.
  t.SetSigwaitSet(set);
  auto take = [&]() -> std::optional<SyscallResult> {
    if (auto info = t.TakeSignal(set)) {
      t.SetSigwaitSet(0);
      if (!a.Addr(1).IsNull()) {
        ErrnoOrOk w = t.mm().CopyOutObj(a.Ptr<siginfo_t>(1), *info);
        if (!w.ok()) return SyscallResult(w.error());
      }
      return SyscallResult(uint64_t(info->si_signo));
    }
    return std::nullopt;
  };
  for (;;) {
    if (auto r = take()) return *r;
    // Another unblocked signal interrupts the wait.
    if (t.HasDeliverableSignal()) break;
    ErrnoOrOk r = t.Block(CLOCK_MONOTONIC, deadline ? &*deadline : nullptr);
    if (!r.ok() && r.error().value() == ETIMEDOUT) {
      if (auto got = take()) return *got;
      t.SetSigwaitSet(0);
      return Errno(EAGAIN);
    }
    if (!r.ok()) {
      if (auto got = take()) return *got;
      break;
    }
  }
  t.SetSigwaitSet(0);
  return Errno(EINTR);
}

SyscallResult RestartSyscall(Task& t, const SyscallArgs&) { return t.RunRestartBlock(); }

namespace {

SyscallResult DoSignalfd(Task& t, int fd, UserAddr mask_addr, size_t size, int flags) {
  if (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC)) return Errno(EINVAL);
  if (size != kSigsetSize) return Errno(EINVAL);
  uint64_t mask;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint64_t>(mask_addr), &mask));
  mask &= ~kernel::kUnblockableSignals;  // silently dropped, as Linux
  if (fd != -1) {
    ASSIGN_OR_RETURN(auto file, t.fds().Get(fd));
    auto* sfd = dynamic_cast<kernel::SignalFd*>(file.get());
    if (sfd == nullptr) return Errno(EINVAL);
    sfd->set_mask(mask);
    return fd;
  }
  auto file = std::make_shared<kernel::SignalFd>(mask, flags & SFD_NONBLOCK);
  ASSIGN_OR_RETURN(int nfd, t.fds().Install(std::move(file), flags & SFD_CLOEXEC, 0,
                                            t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return nfd;
}

}  // namespace

SyscallResult Signalfd(Task& t, const SyscallArgs& a) {
  return DoSignalfd(t, a.Int(0), a.Addr(1), a.Size(2), 0);
}

SyscallResult Signalfd4(Task& t, const SyscallArgs& a) {
  return DoSignalfd(t, a.Int(0), a.Addr(1), a.Size(2), a.Int(3));
}

}  // namespace sentry::syscalls
