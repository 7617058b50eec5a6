// Signals, as Linux's kernel/signal.c and arch/x86/kernel/signal.c do them:
// sending (prepare, queue, choose a thread, wake it), delivery on the way back
// to the guest (default actions, job control, handler frames), rt_sigreturn,
// and the restart of interrupted syscalls.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/tty.h"

namespace sentry::kernel {
namespace {

constexpr uint64_t kSigDfl = 0;
constexpr uint64_t kSigIgn = 1;

enum class DefaultAction { kTerminate, kCore, kStop, kIgnore, kContinue };

DefaultAction DefaultActionOf(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGCONT:
      return DefaultAction::kContinue;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return DefaultAction::kStop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return DefaultAction::kCore;
    default:
      return DefaultAction::kTerminate;  // the rest, real-time signals included
  }
}

// sig_handler_ignored: SIG_IGN, or SIG_DFL where the default is to ignore.
bool Ignores(const KSigaction& act, int sig) {
  return act.handler == kSigIgn ||
         (act.handler == kSigDfl && (DefaultActionOf(sig) == DefaultAction::kIgnore ||
                                     DefaultActionOf(sig) == DefaultAction::kContinue));
}

// --- The x86-64 signal frame (arch/x86/include/asm/sigframe.h). ---

constexpr uint64_t kUcFpXstate = 0x1;
constexpr uint64_t kUcSigcontextSs = 0x2;
constexpr uint64_t kUcStrictRestoreSs = 0x4;
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr size_t kSwReservedOffset = 464;  // struct _fpx_sw_bytes in the fxsave area
constexpr size_t kXsaveHeaderOffset = 512;
constexpr size_t kMxcsrOffset = 24;
constexpr size_t kMxcsrMaskOffset = 28;
constexpr uint64_t kXfeatureFpSse = 0x3;
// The flags a handler may change through its frame (FIX_EFLAGS).
constexpr uint64_t kFixEflags = 0x40000 /*AC*/ | 0x800 /*OF*/ | 0x400 /*DF*/ | 0x100 /*TF*/ |
                                0x80 /*SF*/ | 0x40 /*ZF*/ | 0x10 /*AF*/ | 0x4 /*PF*/ | 0x1 /*CF*/ |
                                0x10000 /*RF*/;
constexpr size_t kRedZone = 128;
constexpr size_t kMinSigStackSize = 2048;                  // MINSIGSTKSZ
constexpr int kSsAutodisarm = static_cast<int>(1u << 31);  // SS_AUTODISARM

struct Sigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved1[8];
};
static_assert(sizeof(Sigcontext) == 256);

struct KStack {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};

struct Ucontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KStack uc_stack;
  Sigcontext uc_mcontext;
  uint64_t uc_sigmask;
};
static_assert(sizeof(Ucontext) == 304);

struct RtSigframe {
  uint64_t pretcode;
  Ucontext uc;
  siginfo_t info;
};
static_assert(sizeof(RtSigframe) == 440);

struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);

uint32_t MxcsrMask() {
  // The CPU's MXCSR_MASK, from an fxsave of our own (0xffbf if it says 0).
  static const uint32_t mask = [] {
    alignas(16) uint8_t area[512] = {};
    asm volatile("fxsave %0" : "=m"(area));
    uint32_t m;
    std::memcpy(&m, area + kMxcsrMaskOffset, 4);
    return m == 0 ? 0xffbfu : m;
  }();
  return mask;
}

}  // namespace

// --- Actions and masks ---

KSigaction Task::sigaction(int sig) const {
  absl::MutexLock l(&tree_mu);
  return tg_->handlers->actions[sig - 1];
}

void Task::set_sigaction(int sig, const KSigaction& act) {
  absl::MutexLock l(&tree_mu);
  tg_->handlers->actions[sig - 1] = act;
  // Setting an action that ignores a signal discards it wherever it is
  // pending in the process (do_sigaction).
  if (Ignores(act, sig)) {
    tg_->shared_pending.Discard(sig);
    for (Task* t : tg_->tasks) t->pending_.Discard(sig);
  }
}

uint64_t Task::signal_mask() const {
  absl::MutexLock l(&tree_mu);
  return signal_mask_;
}

void Task::set_signal_mask(uint64_t m) {
  absl::MutexLock l(&tree_mu);
  signal_mask_ = m & ~kUnblockableSignals;
}

void Task::SetSigwaitSet(uint64_t set) {
  absl::MutexLock l(&tree_mu);
  if (set != 0) {
    real_blocked_ = signal_mask_;
    signal_mask_ &= ~set;
  } else {
    signal_mask_ = real_blocked_;
    real_blocked_ = 0;
  }
}

void Task::SetSavedMask(uint64_t m) {
  absl::MutexLock l(&tree_mu);
  saved_mask_ = m;
}

uint64_t Task::pending_signals() const {
  absl::MutexLock l(&tree_mu);
  return (pending_.set | tg_->shared_pending.set) & signal_mask_;
}

Task::ProcView Task::View() const {
  absl::MutexLock l(&tree_mu);
  ProcView v;
  const ThreadGroup& tg = *tg_;
  v.state = exiting()                                   ? 'Z'
            : tg.stopped                                ? 'T'
            : sleeping_.load(std::memory_order_relaxed) ? 'S'
                                                        : 'R';
  v.threads = static_cast<int>(tg.tasks.size());
  v.exit_signal = tg.exit_signal;
  v.pending = pending_.set;
  v.shared_pending = tg.shared_pending.set;
  v.blocked = signal_mask_;
  for (const auto& q : tg.shared_pending.queue) v.queued += q.size();
  for (const Task* t : tg.tasks) {
    for (const auto& q : t->pending_.queue) v.queued += q.size();
  }
  return v;
}

uint64_t Task::PendingIn(uint64_t set) const {
  absl::MutexLock l(&tree_mu);
  return (pending_.set | tg_->shared_pending.set) & set;
}

bool Task::HasDeliverableSignal() const {
  absl::MutexLock l(&tree_mu);
  return ((pending_.set | tg_->shared_pending.set) & ~signal_mask_) != 0;
}

stack_t Task::alt_stack() const {
  stack_t ss = alt_stack_;
  if (ss.ss_flags != SS_DISABLE && OnAltStack(regs_.r.rsp)) ss.ss_flags |= SS_ONSTACK;
  return ss;
}

bool Task::OnAltStack(uint64_t sp) const {
  if (alt_stack_.ss_flags & SS_DISABLE) return false;
  const uint64_t base = reinterpret_cast<uint64_t>(alt_stack_.ss_sp);
  return sp > base && sp - base <= alt_stack_.ss_size;
}

// --- Sending ---

ErrnoOrOk Task::SendSignal(const siginfo_t& info, bool to_group) {
  absl::MutexLock l(&tree_mu);
  return SendSignalLocked(info, to_group);
}

void Task::SendSigpipe() {
  siginfo_t info{};
  info.si_signo = SIGPIPE;
  info.si_code = SI_USER;
  info.si_pid = tgid();
  info.si_uid = creds().ruid;
  [[maybe_unused]] ErrnoOrOk r = SendSignal(info, /*to_group=*/false);
}

ErrnoOrOk Task::SendSignalLocked(const siginfo_t& info, bool to_group) {
  ThreadGroup& tg = *tg_;
  const int sig = info.si_signo;
  if (tg.zombie || tg.group_exiting) return Ok();  // nobody left to take it
  // prepare_signal: a stop signal discards a pending SIGCONT, SIGCONT
  // discards pending stop signals and resumes a stopped process, whether or
  // not the new signal is then ignored.
  if (kStopSignals & SigBit(sig)) {
    tg.shared_pending.Discard(SIGCONT);
    for (Task* t : tg.tasks) t->pending_.Discard(SIGCONT);
  }
  if (sig == SIGCONT) {
    tg.shared_pending.DiscardSet(kStopSignals);
    for (Task* t : tg.tasks) t->pending_.DiscardSet(kStopSignals);
    if (tg.stopped) {
      tg.stopped = false;
      tg.stop_waitable = false;
      tg.continue_waitable = true;
      NotifyParentLocked(tg, CLD_CONTINUED, SIGCONT);
      for (Task* t : tg.tasks) t->waker_.Wake();
    }
  }
  const KSigaction& act = tg.handlers->actions[sig - 1];
  // sig_ignored: a signal the addressed thread blocks is never ignored (its
  // action may change before it is unblocked). The PID namespace's init
  // (SIGNAL_UNKILLABLE) drops signals with the default action sent from
  // inside the namespace, SIGKILL and SIGSTOP too.
  const bool blocked = ((signal_mask_ | real_blocked_) & SigBit(sig)) != 0;
  const bool unkillable = &tg == kernel_.init_thread_group() && act.handler == kSigDfl;
  if (!blocked && (Ignores(act, sig) || unkillable)) return Ok();
  PendingSignals& p = to_group ? tg.shared_pending : pending_;
  if (sig >= SIGRTMIN && p.Has(sig)) {
    // Queued real-time signals count against RLIMIT_SIGPENDING.
    size_t queued = 0;
    for (const auto& q : tg.shared_pending.queue) queued += q.size();
    for (Task* t : tg.tasks) {
      for (const auto& q : t->pending_.queue) queued += q.size();
    }
    if (queued >= tg.rlimits[RLIMIT_SIGPENDING].rlim_cur) return Errno(EAGAIN);
  }
  p.Add(info);
  tg.signal_events.Notify(POLLIN);
  // complete_signal: SIGKILL kills the whole process at once.
  if (sig == SIGKILL && !unkillable) {
    KillGroupLocked(ExitStatus{0, SIGKILL, false});
    return Ok();
  }
  WakeForSignal(sig, to_group);
  return Ok();
}

void Task::WakeForSignal(int sig, bool to_group) {
  if (!to_group) {
    if (!(signal_mask_ & SigBit(sig))) Interrupt();
    return;
  }
  // A process-directed signal goes to a thread that does not block it: the
  // addressed one if it can, else the first that can.
  if (!(signal_mask_ & SigBit(sig)) && !exiting()) {
    Interrupt();
    return;
  }
  for (Task* t : tg_->tasks) {
    if (!(t->signal_mask_ & SigBit(sig)) && !t->exiting()) {
      t->Interrupt();
      return;
    }
  }
}

void Task::NotifyParentLocked(ThreadGroup& child, int why, int status) {
  ThreadGroup* parent = child.parent;
  if (parent == nullptr || parent->tasks.empty()) {
    if (parent != nullptr) parent->child_events.Notify(waiter::kEventChildExit);
    return;
  }
  const KSigaction& act = parent->handlers->actions[SIGCHLD - 1];
  int sig = SIGCHLD;
  if (why == CLD_EXITED || why == CLD_KILLED || why == CLD_DUMPED) {
    sig = child.exit_signal;
  } else if (act.flags & kSaNocldstop) {
    sig = 0;  // stops and continues are not signalled
  }
  if (sig != 0) {
    siginfo_t info{};
    info.si_signo = sig;
    info.si_code = why;
    info.si_pid = child.tgid();
    info.si_uid = child.exit_uid;
    info.si_status = status;
    [[maybe_unused]] ErrnoOrOk r = parent->tasks.front()->SendSignalLocked(info, true);
  }
  parent->child_events.Notify(waiter::kEventChildExit);
}

// --- Faults ---

void Task::ForceSignal(const siginfo_t& info) {
  absl::MutexLock l(&tree_mu);
  const int sig = info.si_signo;
  KSigaction& act = tg_->handlers->actions[sig - 1];
  // force_sig_info: a blocked or ignored fault signal is unblocked and
  // reset to the default action, which kills even init.
  const bool blocked = signal_mask_ & SigBit(sig);
  if (blocked || act.handler == kSigIgn) {
    act.handler = kSigDfl;
    signal_mask_ &= ~SigBit(sig);
  }
  if (act.handler == kSigDfl) {
    SLOG(kInfo, "task %d: killed by %s", tid(), sigabbrev_np(sig));
    KillGroupLocked(ExitStatus{0, sig, DefaultActionOf(sig) == DefaultAction::kCore});
    return;
  }
  pending_.Add(info);
}

// --- Delivery ---

void Task::PrepareReturnToGuest() {
  absl::MutexLock l(&tree_mu);
  waker_.ClearInterrupt();
  bool handled = false;
  for (;;) {
    if (exiting()) return;
    // Job control: a stopped process's threads wait here for SIGCONT (or
    // SIGKILL).
    while (tg_->stopped && !exiting()) {
      waker_.ClearInterrupt();
      tree_mu.Unlock();
      [[maybe_unused]] ErrnoOrOk r = waker_.Block(CLOCK_MONOTONIC, nullptr);
      tree_mu.Lock();
    }
    if (exiting()) return;
    const Delivery d = DeliverSignal();
    if (d == Delivery::kNone) break;
    if (d == Delivery::kHandler) handled = true;
  }
  if (handled) return;
  // No handler ran: an interrupted syscall restarts (sigsuspend and the
  // other temporary masks are restored first).
  if (saved_mask_.has_value()) {
    signal_mask_ = *saved_mask_;
    saved_mask_.reset();
  }
  if (syscall_restart_) {
    syscall_restart_ = false;
    const int e = static_cast<int>(-static_cast<int64_t>(regs_.r.rax));
    regs_.r.rax = e == kERESTART_RESTARTBLOCK ? 219 /* __NR_restart_syscall */ : regs_.r.orig_rax;
    regs_.r.rip -= 2;  // back onto the syscall instruction
  }
}

Task::Delivery Task::DeliverSignal() {
  ThreadGroup& tg = *tg_;
  for (;;) {
    const uint64_t deliverable = (pending_.set | tg.shared_pending.set) & ~signal_mask_;
    if (deliverable == 0) return Delivery::kNone;
    const uint64_t sync = deliverable & kSynchronousSignals;
    const int sig = __builtin_ctzll(sync != 0 ? sync : deliverable) + 1;
    siginfo_t info = pending_.Has(sig) ? pending_.Take(sig) : tg.shared_pending.Take(sig);
    if (info.si_code == SI_TIMER)
      info.si_overrun = tg.timers->Delivered(info.si_timerid, info.si_overrun);
    KSigaction& act = tg.handlers->actions[sig - 1];
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl) {
      // init takes no default action (it was blocked when sent).
      if (&tg == kernel_.init_thread_group()) continue;
      switch (DefaultActionOf(sig)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:
          continue;
        case DefaultAction::kStop:
          // The terminal's stop signals do nothing to an orphaned group
          // (nobody is left to continue it).
          if (sig != SIGSTOP && IsOrphanedPgrpLocked(kernel_, tg.pgid)) continue;
          StopGroup(sig);
          return Delivery::kAgain;
        case DefaultAction::kTerminate:
        case DefaultAction::kCore:
          KillGroupLocked(ExitStatus{0, sig, DefaultActionOf(sig) == DefaultAction::kCore});
          return Delivery::kAgain;
      }
    }
    // A handler. An interrupted syscall first becomes EINTR or restarts.
    if (syscall_restart_) {
      syscall_restart_ = false;
      const int e = static_cast<int>(-static_cast<int64_t>(regs_.r.rax));
      if (e == kERESTARTNOINTR || (e == kERESTARTSYS && (act.flags & kSaRestart))) {
        regs_.r.rax = regs_.r.orig_rax;
        regs_.r.rip -= 2;
      } else {
        regs_.r.rax = static_cast<uint64_t>(-EINTR);
      }
    }
    const KSigaction used = act;
    if (!SetupHandlerFrame(sig, info, used)) {
      // force_sigsegv: the frame could not be written.
      SLOG(kInfo, "task %d: cannot set up the frame for %s: SIGSEGV", tid_, sigabbrev_np(sig));
      KillGroupLocked(ExitStatus{0, SIGSEGV, true});
      return Delivery::kAgain;
    }
    uint64_t mask = signal_mask_ | used.mask;
    if (!(used.flags & kSaNodefer)) mask |= SigBit(sig);
    signal_mask_ = mask & ~kUnblockableSignals;
    saved_mask_.reset();
    if (used.flags & kSaResethand) {
      act.handler = kSigDfl;
      act.flags &= ~kSaSiginfo;
    }
    return Delivery::kHandler;
  }
}

void Task::StopGroup(int sig) {
  ThreadGroup& tg = *tg_;
  if (tg.stopped) return;
  tg.stopped = true;
  tg.stop_signal = sig;
  tg.stop_waitable = true;
  tg.continue_waitable = false;
  for (Task* t : tg.tasks) {
    if (t != this) t->Interrupt();
  }
  NotifyParentLocked(tg, CLD_STOPPED, sig);
}

void Task::KillGroupLocked(const ExitStatus& status) {
  ThreadGroup& tg = *tg_;
  if (tg.group_exiting || tg.zombie) return;
  tg.group_exiting = true;
  tg.exit_status = status;
  for (Task* t : tg.tasks) {
    t->exiting_.store(true, std::memory_order_release);
    t->Interrupt();
  }
}

bool Task::SetupHandlerFrame(int sig, const siginfo_t& info, const KSigaction& act) {
  // x86-64 has no default restorer: without SA_RESTORER, Linux fails the
  // frame (the task gets SIGSEGV).
  if (!(act.flags & kSaRestorer)) return false;
  if (!context_->SyncFpState(fp_).ok()) return false;
  const size_t xsave_size = fp_.bytes().size();
  const uint64_t old_sp = regs_.r.rsp;
  uint64_t sp = old_sp - kRedZone;
  const bool on_alt = OnAltStack(old_sp);
  if ((act.flags & kSaOnstack) && !(alt_stack_.ss_flags & SS_DISABLE) && !on_alt) {
    sp = reinterpret_cast<uint64_t>(alt_stack_.ss_sp) + alt_stack_.ss_size;
  }
  // The xsave image (64-byte aligned) and its trailing magic, then the frame
  // below it, aligned so that the handler starts as if called (sp % 16 == 8).
  sp = (sp - xsave_size - sizeof(uint32_t)) & ~uint64_t{63};
  const uint64_t fpstate = sp;
  const uint64_t frame_addr = ((sp - sizeof(RtSigframe)) & ~uint64_t{15}) - 8;

  std::vector<uint8_t> xsave(fp_.bytes().begin(), fp_.bytes().end());
  FpxSwBytes sw{};
  sw.magic1 = kFpXstateMagic1;
  sw.extended_size = static_cast<uint32_t>(xsave_size + sizeof(uint32_t));
  sw.xfeatures = arch::FpState::UserFeatures();
  sw.xstate_size = static_cast<uint32_t>(xsave_size);
  std::memcpy(xsave.data() + kSwReservedOffset, &sw, sizeof(sw));
  xsave.resize(xsave_size + sizeof(uint32_t));
  std::memcpy(xsave.data() + xsave_size, &kFpXstateMagic2, sizeof(uint32_t));

  RtSigframe f{};
  f.pretcode = act.restorer;
  f.uc.uc_flags = kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs;
  f.uc.uc_stack.ss_sp = reinterpret_cast<uint64_t>(alt_stack_.ss_sp);
  f.uc.uc_stack.ss_flags = alt_stack_.ss_flags == SS_DISABLE ? SS_DISABLE
                           : on_alt                          ? SS_ONSTACK
                                                             : alt_stack_.ss_flags;
  f.uc.uc_stack.ss_size = alt_stack_.ss_size;
  Sigcontext& sc = f.uc.uc_mcontext;
  const user_regs_struct& r = regs_.r;
  sc.r8 = r.r8, sc.r9 = r.r9, sc.r10 = r.r10, sc.r11 = r.r11;
  sc.r12 = r.r12, sc.r13 = r.r13, sc.r14 = r.r14, sc.r15 = r.r15;
  sc.di = r.rdi, sc.si = r.rsi, sc.bp = r.rbp, sc.bx = r.rbx;
  sc.dx = r.rdx, sc.ax = r.rax, sc.cx = r.rcx, sc.sp = r.rsp;
  sc.ip = r.rip, sc.flags = r.eflags;
  sc.cs = 0x33, sc.ss = 0x2b;
  if (sig == SIGSEGV || sig == SIGBUS) {
    sc.cr2 = reinterpret_cast<uint64_t>(info.si_addr);
    sc.trapno = 14;  // X86_TRAP_PF
  }
  sc.oldmask = saved_mask_.value_or(signal_mask_);
  sc.fpstate = fpstate;
  f.uc.uc_sigmask = saved_mask_.value_or(signal_mask_);
  f.info = info;

  if (!mem_->mm->CopyOut(UserAddr(fpstate), xsave).ok()) return false;
  if (!mem_->mm->CopyOut(UserAddr(frame_addr), {reinterpret_cast<const uint8_t*>(&f), sizeof(f)})
           .ok()) {
    return false;
  }
  regs_.r.rsp = frame_addr;
  regs_.r.rip = act.handler;
  regs_.r.rdi = static_cast<uint64_t>(sig);
  regs_.r.rsi = frame_addr + offsetof(RtSigframe, info);
  regs_.r.rdx = frame_addr + offsetof(RtSigframe, uc);
  regs_.r.rax = 0;
  regs_.r.eflags &= ~uint64_t{0x400 /*DF*/ | 0x10000 /*RF*/ | 0x100 /*TF*/};
  regs_.r.cs = 0x33;
  regs_.r.ss = 0x2b;
  // The handler starts with a clean FPU (fpu__clear_user_states).
  fp_.Reset();
  // kSsAutodisarm: the alternate stack is disabled while the handler runs on it.
  if ((alt_stack_.ss_flags & kSsAutodisarm) && sp < old_sp && (act.flags & kSaOnstack) && !on_alt) {
    alt_stack_ = {nullptr, SS_DISABLE, 0};
  }
  return true;
}

bool Task::SignalReturn() {
  const uint64_t frame_addr = regs_.r.rsp - 8;
  RtSigframe f;
  if (!mem_->mm->CopyIn(UserAddr(frame_addr), {reinterpret_cast<uint8_t*>(&f), sizeof(f)}).ok()) {
    return false;
  }
  const Sigcontext& sc = f.uc.uc_mcontext;
  // The FP state first: a bad one fails the whole return (badframe).
  if (!context_->SyncFpState(fp_).ok()) return false;
  if (sc.fpstate == 0) {
    fp_.Reset();
  } else {
    const size_t xsave_size = fp_.bytes().size();
    if (sc.fpstate % 64 != 0) return false;
    std::vector<uint8_t> xsave(xsave_size);
    if (!mem_->mm->CopyIn(UserAddr(sc.fpstate), xsave).ok()) return false;
    FpxSwBytes sw;
    std::memcpy(&sw, xsave.data() + kSwReservedOffset, sizeof(sw));
    uint32_t magic2 = 0;
    bool extended = sw.magic1 == kFpXstateMagic1 && sw.xstate_size == xsave_size &&
                    sw.extended_size == xsave_size + sizeof(uint32_t);
    if (extended) {
      if (!mem_->mm
               ->CopyIn(UserAddr(sc.fpstate + xsave_size),
                        {reinterpret_cast<uint8_t*>(&magic2), sizeof(magic2)})
               .ok()) {
        return false;
      }
      extended = magic2 == kFpXstateMagic2;
    }
    uint32_t mxcsr;
    std::memcpy(&mxcsr, xsave.data() + kMxcsrOffset, sizeof(mxcsr));
    if (mxcsr & ~MxcsrMask()) return false;
    uint64_t header[8];
    std::memcpy(header, xsave.data() + kXsaveHeaderOffset, sizeof(header));
    if (extended) {
      // XSTATE_BV within what we offer, no compaction, reserved bytes zero.
      if ((header[0] & ~arch::FpState::UserFeatures()) != 0 || header[1] != 0) return false;
      for (int i = 2; i < 8; ++i) {
        if (header[i] != 0) return false;
      }
    } else {
      // A legacy (fxsave-only) image: the rest in its initial state.
      std::fill(xsave.begin() + kXsaveHeaderOffset, xsave.end(), 0);
      header[0] = kXfeatureFpSse;
      std::memcpy(xsave.data() + kXsaveHeaderOffset, header, sizeof(uint64_t));
    }
    std::memset(xsave.data() + kSwReservedOffset, 0, sizeof(FpxSwBytes));
    std::memcpy(fp_.bytes().data(), xsave.data(), xsave_size);
    fp_.set_dirty(true);
    fp_.set_stale(false);
  }
  user_regs_struct& r = regs_.r;
  r.r8 = sc.r8, r.r9 = sc.r9, r.r10 = sc.r10, r.r11 = sc.r11;
  r.r12 = sc.r12, r.r13 = sc.r13, r.r14 = sc.r14, r.r15 = sc.r15;
  r.rdi = sc.di, r.rsi = sc.si, r.rbp = sc.bp, r.rbx = sc.bx;
  r.rdx = sc.dx, r.rax = sc.ax, r.rcx = sc.cx, r.rsp = sc.sp;
  r.rip = sc.ip;
  r.eflags = (r.eflags & ~kFixEflags) | (sc.flags & kFixEflags);
  r.cs = 0x33;
  r.ss = 0x2b;
  r.orig_rax = ~0ull;  // no syscall restart from here
  {
    absl::MutexLock l(&tree_mu);
    signal_mask_ = f.uc.uc_sigmask & ~kUnblockableSignals;
  }
  // restore_altstack: as sigaltstack(2) would take it; refused silently
  // while running on the current alternate stack.
  const KStack& ss = f.uc.uc_stack;
  const int mode = ss.ss_flags & ~kSsAutodisarm;
  if (!OnAltStack(r.rsp) && (mode == 0 || mode == SS_ONSTACK || mode == SS_DISABLE)) {
    if (mode == SS_DISABLE) {
      alt_stack_ = {nullptr, SS_DISABLE, 0};
    } else if (ss.ss_size >= kMinSigStackSize) {
      alt_stack_.ss_sp = reinterpret_cast<void*>(ss.ss_sp);
      alt_stack_.ss_flags = ss.ss_flags & kSsAutodisarm;
      alt_stack_.ss_size = ss.ss_size;
    }
  }
  return true;
}

std::optional<siginfo_t> Task::TakeSignal(uint64_t set) {
  absl::MutexLock l(&tree_mu);
  const uint64_t avail = (pending_.set | tg_->shared_pending.set) & set;
  if (avail == 0) return std::nullopt;
  const uint64_t sync = avail & kSynchronousSignals;
  const int sig = __builtin_ctzll(sync != 0 ? sync : avail) + 1;
  siginfo_t info = pending_.Has(sig) ? pending_.Take(sig) : tg_->shared_pending.Take(sig);
  if (info.si_code == SI_TIMER) {
    info.si_overrun = tg_->timers->Delivered(info.si_timerid, info.si_overrun);
  }
  return info;
}

SyscallResult Task::RunRestartBlock() {
  if (!restart_block_) return Errno(EINTR);
  auto fn = std::move(restart_block_);
  restart_block_ = nullptr;
  return fn(*this);
}

}  // namespace sentry::kernel
