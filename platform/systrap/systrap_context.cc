// SystrapContext: running guest code in an untraced stub thread (the switch path).
// Everything read back from the slot was writable by the guest (any thread of the
// address space): it is copied out first and then validated; a bad slot loses the
// address space.
#include <linux/audit.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_syscalls.h"
#include "platform/systrap/systrap_platform.h"
#include "platform/systrap/systrap_sigframe.h"
#include "sentry/base/status_macros.h"

namespace platform::systrap {
namespace {

using sentry::arch::FpState;

constexpr uint16_t kUserCs = 0x33;
constexpr uint16_t kUserDs = 0x2b;
constexpr uint64_t kVsyscallPage = 0xffffffffff600000;
constexpr int kSysSeccomp = 1;  // SIGSYS si_code
// The page-fault exception (sigcontext trapno) and its error code bits (err).
constexpr uint64_t kTrapPageFault = 14;
constexpr uint64_t kPfWrite = 1 << 1;
constexpr uint64_t kPfInstr = 1 << 4;
// Iterations (`pause`s, ~25 ns each on this class of machine) the Sentry spins on
// the state word before it sleeps on the futex. A futex wake-up costs tens of
// microseconds on a virtual machine (an idle vCPU halts; waking it is an IPI
// through the hypervisor), a trap round trip a few: spinning ~100 us is cheaper
// than one sleep. Adaptive: after kMissesBeforeShortSpin waits in a row that
// ended asleep (a guest computing between syscalls, or blocked), the Sentry spins
// only kShortSpin, with a full spin every kProbeEvery-th wait to notice a change.
constexpr int kMaxSpin = 4000;
constexpr int kShortSpin = kMaxSpin / 16;
constexpr uint32_t kMissesBeforeShortSpin = 4;
constexpr uint32_t kProbeEvery = 16;
// The stub's spin after a trap (published in its control page), adaptive the same
// way: full while the Sentry's answer comes before the stub gives up and sleeps,
// short once it came late kMissesBeforeShortSpin times in a row (a task that
// blocks in the Sentry, or computes there), with a full one every kProbeEvery-th
// time; none with one CPU (the Sentry cannot answer while the stub spins).
constexpr uint32_t kStubShortSpin = SYSTRAP_STUB_SPIN / 16;
static_assert(SYSTRAP_STUB_SPIN <= SYSTRAP_STUB_SPIN_MAX);
// How long the Sentry sleeps before it checks that the stub thread is alive.
constexpr int64_t kLivenessCheckNs = 20'000'000;
// How long a stub thread may leave the interrupt signal unanswered (a guest that
// forged its frame's signal mask or altstack) before it is killed.
constexpr int64_t kInterruptDeadlineNs = 5'000'000'000;

std::atomic<uint64_t> next_context_id{1};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000 + ts.tv_nsec;
}

bool Canonical(uint64_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) == v;
}

std::atomic<uint32_t>& State(SystrapThread& t) {
  return *reinterpret_cast<std::atomic<uint32_t>*>(t.mem + SYSTRAP_CTL_STATE);
}

uint64_t Load64(const SystrapThread& t, size_t off) {
  uint64_t v;
  std::memcpy(&v, t.mem + off, sizeof(v));
  return v;
}
void Store64(SystrapThread& t, size_t off, uint64_t v) { std::memcpy(t.mem + off, &v, sizeof(v)); }

bool IsPageFault(const siginfo_t& info) {
  switch (info.si_signo) {
    case SIGSEGV:
      return info.si_code == SEGV_MAPERR || info.si_code == SEGV_ACCERR;
    case SIGBUS:
      return info.si_code == BUS_ADRERR || info.si_code == BUS_OBJERR;
    default:
      return false;
  }
}

// The access of a page fault from the frame's error code: the kernel copies the
// hardware's into sigcontext `err` (and the exception into `trapno`) for a
// SIGSEGV or SIGBUS it raises from a page fault. Anything else: unknown.
uint32_t FaultAccess(uint64_t trapno, uint64_t err) {
  if (trapno != kTrapPageFault) return kAccessNone;
  if (err & kPfInstr) return kAccessExec;
  if (err & kPfWrite) return kAccessWrite;
  return kAccessRead;
}

// The frame to run: registers from the Sentry, FP state if asked, in the thread's
// current frame position.
void WriteFrame(SystrapThread& t, const user_regs_struct& r, const FpState* fp) {
  auto* uc = reinterpret_cast<KernelUcontext*>(t.mem + t.uc_off);
  KernelUcontext u{};
  u.uc_flags = kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs;
  u.uc_stack.ss_sp = t.stub_base + SYSTRAP_ALTSTACK_OFFSET;
  u.uc_stack.ss_size = kSlotSize - SYSTRAP_ALTSTACK_OFFSET;
  KernelSigcontext& m = u.uc_mcontext;
  m.r8 = r.r8, m.r9 = r.r9, m.r10 = r.r10, m.r11 = r.r11;
  m.r12 = r.r12, m.r13 = r.r13, m.r14 = r.r14, m.r15 = r.r15;
  m.rdi = r.rdi, m.rsi = r.rsi, m.rbp = r.rbp, m.rbx = r.rbx;
  m.rdx = r.rdx, m.rax = r.rax, m.rcx = r.rcx, m.rsp = r.rsp;
  m.rip = r.rip, m.eflags = r.eflags;
  m.cs = kUserCs, m.ss = kUserDs;
  m.fpstate = t.stub_base + t.fp_off;
  u.uc_sigmask = 0;  // The stub thread's host mask: nothing blocked.
  std::memcpy(uc, &u, sizeof(u));
  if (fp != nullptr) {
    const size_t size = FpState::XsaveSize();
    uint8_t* area = t.mem + t.fp_off;
    std::memcpy(area, fp->bytes().data(), size);
    FpxSwBytes sw{};
    sw.magic1 = kFpXstateMagic1;
    sw.extended_size = static_cast<uint32_t>(size + 4);
    sw.xfeatures = FpState::UserFeatures();
    sw.xstate_size = static_cast<uint32_t>(size);
    std::memcpy(area + kFpxSwBytesOffset, &sw, sizeof(sw));
    std::memcpy(area + size, &kFpXstateMagic2, sizeof(kFpXstateMagic2));
  }
  Store64(t, SYSTRAP_CTL_FS_BASE, r.fs_base);
  // With patching, a guest whose %gs base is 0 runs with its control page there
  // (how a patched site's trampoline finds its slot); ReadFrame turns it back.
  Store64(t, SYSTRAP_CTL_GS_BASE, t.patching && r.gs_base == 0 ? t.stub_base : r.gs_base);
  Store64(t, SYSTRAP_CTL_UC, t.stub_base + t.uc_off);
}

// The initial frame position of a fresh stub thread: its xsave area at the top of
// the altstack, the frame below it (as the kernel places them).
void InitFramePosition(SystrapThread& t) {
  const uint64_t size = FpState::XsaveSize();
  t.fp_off = (kSlotSize - (size + 4)) & ~uint64_t{63};
  const uint64_t frame = (t.fp_off - sizeof(KernelRtSigframe)) & ~uint64_t{15};
  t.uc_off = frame + offsetof(KernelRtSigframe, uc);
}

absl::Status BadSlot(SystrapThread& t, const std::string& what) {
  return ptrace::StubThreadLost(*t.st, "systrap Switch",
                                absl::InternalError(absl::StrFormat(
                                    "stub thread %d wrote a bad frame: %s", t.st->tid, what)));
}

// Reads the frame the stub reported: copies it out, then validates it. Fills
// `regs` (all but orig_rax/rax for syscalls, which the caller sets), `info` and
// the access of a page fault (`access`, from the frame's trapno and err).
absl::Status ReadFrame(SystrapThread& t, user_regs_struct& r, siginfo_t& info, uint32_t& access) {
  const uint64_t uc_addr = Load64(t, SYSTRAP_CTL_UC);
  const uint64_t info_addr = Load64(t, SYSTRAP_CTL_INFO);
  const uint64_t fs_base = Load64(t, SYSTRAP_CTL_FS_BASE);
  uint64_t gs_base = Load64(t, SYSTRAP_CTL_GS_BASE);
  if (t.patching && gs_base == t.stub_base) gs_base = 0;
  const uint64_t lo = t.stub_base + SYSTRAP_ALTSTACK_OFFSET;
  const uint64_t hi = t.stub_base + kSlotSize;
  if (uc_addr < lo || uc_addr % 8 != 0 ||
      uc_addr + sizeof(KernelUcontext) + sizeof(siginfo_t) > hi ||
      info_addr != uc_addr + sizeof(KernelUcontext)) {
    return BadSlot(t, absl::StrFormat("ucontext at %#x, siginfo at %#x", uc_addr, info_addr));
  }
  KernelUcontext u;
  std::memcpy(&u, t.mem + (uc_addr - t.stub_base), sizeof(u));
  std::memcpy(&info, t.mem + (info_addr - t.stub_base), sizeof(info));
  const KernelSigcontext& m = u.uc_mcontext;
  const uint64_t fp = m.fpstate;
  if (fp < lo || fp % 64 != 0 || fp + FpState::XsaveSize() + 4 > hi) {
    return BadSlot(t, absl::StrFormat("xsave area at %#x", fp));
  }
  if (!HandledSignal(info.si_signo)) return BadSlot(t, absl::StrFormat("signal %d", info.si_signo));
  if (m.cs != kUserCs || m.ss != kUserDs) {
    return BadSlot(t, absl::StrFormat("cs %#x ss %#x", m.cs, m.ss));
  }
  if (!Canonical(m.rip) || !Canonical(fs_base) || !Canonical(gs_base)) {
    return BadSlot(t, absl::StrFormat("rip %#x fs_base %#x gs_base %#x", m.rip, fs_base, gs_base));
  }
  t.uc_off = uc_addr - t.stub_base;
  t.fp_off = fp - t.stub_base;
  r.r8 = m.r8, r.r9 = m.r9, r.r10 = m.r10, r.r11 = m.r11;
  r.r12 = m.r12, r.r13 = m.r13, r.r14 = m.r14, r.r15 = m.r15;
  r.rdi = m.rdi, r.rsi = m.rsi, r.rbp = m.rbp, r.rbx = m.rbx;
  r.rdx = m.rdx, r.rax = m.rax, r.rcx = m.rcx, r.rsp = m.rsp;
  r.rip = m.rip, r.eflags = m.eflags;
  r.cs = kUserCs, r.ss = kUserDs;
  r.ds = r.es = r.fs = r.gs = 0;
  r.fs_base = fs_base, r.gs_base = gs_base;
  r.orig_rax = ~uint64_t{0};
  access = FaultAccess(m.trapno, m.err);
  return absl::OkStatus();
}

void Wake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, &word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

std::atomic<uint32_t>& Flag(SystrapThread& t, size_t off) {
  return *reinterpret_cast<std::atomic<uint32_t>*>(t.mem + off);
}

}  // namespace

bool MultiCpu() {
  // sched_getaffinity, not sysconf: glibc reads /sys for the online CPUs, and the
  // Sentry's seccomp filter refuses opening host files.
  static const bool multi = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) > 1;
  }();
  return multi;
}

SystrapContext::SystrapContext() : id_(next_context_id++) {}

SystrapContext::~SystrapContext() {
  // The host thread is done with its stub thread, unless another context of the
  // same thread has its FP state live there.
  if (last_ != nullptr && last_->owner == ptrace::CurrentTid() && !last_->st->gone.load() &&
      (last_->fp_owner == id_ || last_->fp_owner == 0)) {
    ptrace::RetireStubThread(last_->st);
  }
}

Context::CpuTimes SystrapContext::GuestCpuTime() const {
  return ptrace::StubCpuTimes(stub_pid_.load(std::memory_order_relaxed));
}

bool SystrapContext::Current(const SystrapThread* t, const SystrapAddressSpace& as) {
  return t != nullptr && t->as_id == as.id() && t->owner == ptrace::CurrentTid() &&
         !t->st->gone.load(std::memory_order_relaxed);
}

absl::Status SystrapContext::Prepare(AddressSpace& address_space) {
  auto& as = static_cast<SystrapAddressSpace&>(address_space);
  if (Current(last_.get(), as)) return absl::OkStatus();
  ASSIGN_OR_RETURN(last_, as.ThreadForCurrentThread());
  if (last_->uc_off == 0) InitFramePosition(*last_);
  return absl::OkStatus();
}

absl::StatusOr<SwitchResult> SystrapContext::Switch(AddressSpace& address_space,
                                                    sentry::arch::Registers& regs,
                                                    sentry::arch::FpState& fp) {
  auto& as = static_cast<SystrapAddressSpace&>(address_space);
  SystrapThread* t = last_.get();
  if (!Current(t, as)) [[unlikely]] {
    if (fp.stale()) {
      return absl::FailedPreconditionError(
          "systrap platform: Switch with a stale FP state that is live in another stub thread "
          "(call SyncFpState first)");
    }
    RETURN_IF_ERROR(Prepare(as));
    t = last_.get();
  }
  const bool fp_live_here = t->fp_owner == id_;
  if (fp.stale() && !fp_live_here) {
    return absl::FailedPreconditionError(
        "systrap platform: Switch with a stale FP state that another context overwrote (call "
        "SyncFpState first)");
  }
  {
    absl::MutexLock l(&mu_);
    if (interrupt_pending_) {
      interrupt_pending_ = false;
      SwitchResult r;
      r.kind = SwitchResult::Kind::kInterrupted;
      return r;
    }
    running_pidfd_ = t->st->pidfd;
    interrupt_sent_ns_ = 0;
  }
  stub_pid_.store(t->st->tid, std::memory_order_relaxed);
  auto unpublish = [this] {
    absl::MutexLock l(&mu_);
    running_pidfd_ = -1;
  };

  const bool push_fp = fp.dirty() || !fp_live_here;
  WriteFrame(*t, regs.r, push_fp ? &fp : nullptr);
  if (push_fp) fp.set_dirty(false);
  t->fp_owner = id_;

  std::atomic<uint32_t>& state = State(*t);
  SwitchResult result;
  std::atomic<uint32_t>& stub_sleeping = Flag(*t, SYSTRAP_CTL_STUB_SLEEPING);
  std::atomic<uint32_t>& sentry_sleeping = Flag(*t, SYSTRAP_CTL_SENTRY_SLEEPING);
  for (;;) {
    // The stub's spin for its next wait, from how its last one ended: asleep (or
    // about to be) means it spun for nothing.
    const bool stub_slept = stub_sleeping.load(std::memory_order_relaxed) != 0;
    if (!t->stub_told_to_sleep) {
      t->stub_spin_misses =
          stub_slept ? std::min(t->stub_spin_misses + 1, kMissesBeforeShortSpin) : 0;
    }
    t->stub_told_to_sleep = false;
    const uint32_t stub_spin = !MultiCpu()                                    ? 0
                               : t->stub_spin_misses < kMissesBeforeShortSpin ? SYSTRAP_STUB_SPIN
                               : ++t->stub_spin_retry % kProbeEvery == 0      ? SYSTRAP_STUB_SPIN
                                                                              : kStubShortSpin;
    Flag(*t, SYSTRAP_CTL_STUB_SPIN).store(stub_spin, std::memory_order_relaxed);
    // A full barrier between the state and the stub's flag (see the stub).
    state.store(SYSTRAP_STATE_RUN, std::memory_order_seq_cst);
    if (stub_sleeping.load(std::memory_order_seq_cst) != 0) Wake(state);
    // Wait for the next trap: spin, then sleep with a timeout to check the stub
    // thread is alive (a killed one never wakes us).
    bool trapped = false;
    // One CPU: the stub cannot run while we spin.
    const int spin = !MultiCpu()                               ? 0
                     : t->spin_misses < kMissesBeforeShortSpin ? kMaxSpin
                     : ++t->spin_retry % kProbeEvery == 0      ? kMaxSpin
                                                               : kShortSpin;
    for (int i = 1; i <= spin; ++i) {
      if (state.load(std::memory_order_acquire) == SYSTRAP_STATE_TRAPPED) {
        trapped = true;
        break;
      }
      __builtin_ia32_pause();
      // The stub may be queued behind us on this CPU (we just woke it, or it
      // was preempted): let it run. Nothing else to run: back at once.
      if (i % SYSTRAP_YIELD_EVERY == 0) sched_yield();
    }
    t->spin_misses = trapped ? 0 : std::min(t->spin_misses + 1, kMissesBeforeShortSpin);
    while (!trapped) {
      const timespec timeout{0, kLivenessCheckNs};
      sentry_sleeping.store(1, std::memory_order_seq_cst);
      if (state.load(std::memory_order_seq_cst) == SYSTRAP_STATE_RUN) {
        syscall(SYS_futex, &state, FUTEX_WAIT, SYSTRAP_STATE_RUN, &timeout, nullptr, 0);
      }
      sentry_sleeping.store(0, std::memory_order_relaxed);
      const uint32_t s = state.load(std::memory_order_acquire);
      if (s == SYSTRAP_STATE_TRAPPED) break;
      if (s != SYSTRAP_STATE_RUN) {
        unpublish();
        return BadSlot(*t, absl::StrFormat("state word %#x", s));
      }
      if (t->st->gone.load()) {
        unpublish();
        return ptrace::StubThreadLost(*t->st, "systrap Switch",
                                      absl::NotFoundError("the stub thread was killed"));
      }
      pollfd pfd{t->st->pidfd, POLLIN, 0};
      if (poll(&pfd, 1, 0) > 0) {  // It exited (or was killed).
        unpublish();
        return ptrace::StubThreadLost(*t->st, "systrap Switch",
                                      absl::NotFoundError("the stub thread died"));
      }
      bool overdue;
      {
        absl::MutexLock l(&mu_);
        overdue = interrupt_sent_ns_ != 0 && NowNs() - interrupt_sent_ns_ > kInterruptDeadlineNs;
        // The stub code returns from an interrupt that finds it running (the
        // fast entry of a patched site runs with signals unblocked): send it
        // again until the guest takes it.
        if (t->patching && interrupt_sent_ns_ != 0 && interrupt_pending_) {
          ptrace::PidfdKill(t->st->pidfd, kInterruptSignal);
        }
      }
      if (overdue) {
        unpublish();
        return ptrace::StubThreadLost(
            *t->st, "systrap Switch",
            absl::DeadlineExceededError("the stub thread did not take the interrupt signal"));
      }
    }
    // The stub never writes the state again before we say RUN: a guest thread
    // that does is caught by the frame checks or the next state check.
    uint32_t access = kAccessNone;
    if (absl::Status s = ReadFrame(*t, regs.r, result.info, access); !s.ok()) {
      unpublish();
      return s;
    }
    const int sig = result.info.si_signo;
    if (sig == kInterruptSignal) {
      absl::MutexLock l(&mu_);
      // An interrupt a previous Switch already consumed: resume as it was (the
      // stub's own fs/gs and frame are in the slot).
      if (!interrupt_pending_) continue;
      interrupt_pending_ = false;
      running_pidfd_ = -1;
      result.kind = SwitchResult::Kind::kInterrupted;
      break;
    }
    unpublish();
    if (sig == SIGSYS && result.info.si_code == kSysSeccomp) {
      const uint64_t call = reinterpret_cast<uint64_t>(result.info.si_call_addr);
      if (call - kVsyscallPage < 4096) {
        result.kind = SwitchResult::Kind::kSignal;  // As the ptrace platform reports it.
        break;
      }
      // The kernel rolled rax back to the syscall number; report it as at a
      // ptrace syscall-entry stop.
      regs.r.orig_rax = regs.r.rax;
      regs.r.rax = static_cast<uint64_t>(-ENOSYS);
      result.kind = SwitchResult::Kind::kSyscall;
      result.info = {};
      result.patchable = t->patching;
      break;
    }
    if (IsPageFault(result.info)) {
      result.kind = SwitchResult::Kind::kFault;
      result.fault_addr = reinterpret_cast<uint64_t>(result.info.si_addr);
      result.access = access;
    } else {
      result.kind = SwitchResult::Kind::kSignal;
    }
    break;
  }
  fp.set_stale(true);
  return result;
}

absl::Status SystrapContext::SyncFpState(sentry::arch::FpState& fp) {
  if (!fp.stale()) return absl::OkStatus();
  if (last_ == nullptr || last_->st->gone.load() || last_->fp_owner != id_) {
    return absl::FailedPreconditionError(
        "systrap platform: SyncFpState: the live FP state is lost (its stub thread is gone or "
        "another context ran in it)");
  }
  if (last_->owner != ptrace::CurrentTid()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "systrap platform: SyncFpState on host thread %d, but stub thread %d is run by host "
        "thread %d",
        ptrace::CurrentTid(), last_->st->tid, last_->owner));
  }
  std::span<uint8_t> b = fp.bytes();
  std::memcpy(b.data(), last_->mem + last_->fp_off, b.size());
  // Validate the copy: the guest could write the frame.
  uint64_t xstate_bv, xcomp_bv;
  std::memcpy(&xstate_bv, b.data() + kXstateBvOffset, 8);
  std::memcpy(&xcomp_bv, b.data() + kXcompBvOffset, 8);
  if ((xstate_bv & ~FpState::UserFeatures()) != 0 || xcomp_bv != 0) {
    return BadSlot(*last_, absl::StrFormat("xstate_bv %#x xcomp_bv %#x", xstate_bv, xcomp_bv));
  }
  // The kernel's software bytes are frame business, not guest state.
  std::memset(b.data() + kFpxSwBytesOffset, 0, sizeof(FpxSwBytes));
  fp.set_stale(false);
  return absl::OkStatus();
}

void SystrapContext::WillBlock() {
  SystrapThread* t = last_.get();
  if (t == nullptr || t->owner != ptrace::CurrentTid()) return;
  Flag(*t, SYSTRAP_CTL_STUB_SPIN).store(0, std::memory_order_relaxed);
  t->stub_told_to_sleep = true;
}

void SystrapContext::Interrupt() {
  absl::MutexLock l(&mu_);
  interrupt_pending_ = true;
  if (running_pidfd_ >= 0) {
    ptrace::PidfdKill(running_pidfd_, kInterruptSignal);
    if (interrupt_sent_ns_ == 0) interrupt_sent_ns_ = NowNs();
  }
}

}  // namespace platform::systrap
