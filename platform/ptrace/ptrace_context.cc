// PtraceContext: running guest code in a stub thread (the switch path).
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/ptrace_syscalls.h"
#include "sentry/base/status_macros.h"

namespace platform::ptrace {
namespace {

// The 64-bit user code and stack selectors (__USER_CS, __USER_DS): the only ones a
// guest runs with.
constexpr uint64_t kUserCs = 0x33;
constexpr uint64_t kUserDs = 0x2b;

// A syscall-entry stop under PTRACE_O_TRACESYSGOOD.
constexpr int kSyscallStop = SIGTRAP | 0x80;

// Whether a signal is a page fault the memory manager can resolve (and then run
// the guest again). Other SIGSEGVs and SIGBUSes (a general-protection fault is
// SIGSEGV/SI_KERNEL at address 0, an alignment-check trap is SIGBUS/BUS_ADRALN, a
// host kill() is SI_USER) are reported as kSignal with their siginfo, so that the
// Sentry forwards them as they are instead of looking up a bogus address.
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

std::atomic<uint64_t> next_context_id{1};

}  // namespace

PtraceContext::PtraceContext() : id_(next_context_id++) {}

Context::CpuTimes StubCpuTimes(pid_t pid) {
  if (pid <= 0) return {};
  // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_PROF / CPUCLOCK_VIRT).
  auto read = [pid](int which) -> int64_t {
    const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(pid) << 3) | which);
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;  // gone
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  };
  const int64_t prof = read(0), virt = read(1);
  return {virt, prof > virt ? prof - virt : 0};
}

Context::CpuTimes PtraceContext::GuestCpuTime() const {
  return StubCpuTimes(stub_pid_.load(std::memory_order_relaxed));
}

PtraceContext::~PtraceContext() {
  // The task's host thread is done with this stub thread, unless another context
  // of the same thread still has its FP state live there.
  if (last_ != nullptr && last_->tracer == CurrentTid() && !last_->gone.load() &&
      (last_->fp_owner == id_ || last_->fp_owner == 0)) {
    RetireCurrentThreadsStubThread(last_);
  }
}

bool PtraceContext::Current(const StubThread* st, const PtraceAddressSpace& as) {
  return st != nullptr && st->as_id == as.id() && st->tracer == CurrentTid() &&
         !st->gone.load(std::memory_order_relaxed);
}

absl::Status PtraceContext::Prepare(AddressSpace& address_space) {
  auto& as = static_cast<PtraceAddressSpace&>(address_space);
  if (Current(last_.get(), as)) return absl::OkStatus();
  ASSIGN_OR_RETURN(last_, as.StubThreadForCurrentThread(/*create=*/true));
  stub_pid_.store(last_->tid, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<SwitchResult> PtraceContext::Switch(AddressSpace& address_space,
                                                   sentry::arch::Registers& regs,
                                                   sentry::arch::FpState& fp) {
  // NOTE: the ptrace platform makes only PtraceAddressSpaces, and a Sentry runs one
  // platform.
  auto& as = static_cast<PtraceAddressSpace&>(address_space);

  // The stub thread of this host thread in `as`: the one this context ran in last
  // time, in the common case.
  StubThread* st = last_.get();
  if (!Current(st, as)) [[unlikely]] {
    if (fp.stale()) {
      return absl::FailedPreconditionError(
          "ptrace platform: Switch with a stale FP state that is live in another stub thread "
          "(call SyncFpState first)");
    }
    RETURN_IF_ERROR(Prepare(as));
    st = last_.get();
  }
  const pid_t tid = st->tid;

  // Whether the stub thread still holds this context's FP state.
  const bool fp_live_here = st->fp_owner == id_;
  if (fp.stale() && !fp_live_here) {
    return absl::FailedPreconditionError(
        "ptrace platform: Switch with a stale FP state that another context overwrote (call "
        "SyncFpState first)");
  }

  // Publish the running stub thread for Interrupt, unless an interrupt is pending.
  {
    absl::MutexLock l(&mu_);
    if (interrupt_pending_) {
      interrupt_pending_ = false;
      SwitchResult r;
      r.kind = SwitchResult::Kind::kInterrupted;
      return r;
    }
    running_pidfd_ = st->pidfd;
  }
  auto unpublish = [this] {
    absl::MutexLock l(&mu_);
    running_pidfd_ = -1;
  };

  // Registers in. orig_rax is not pushed: -1 keeps the host kernel's syscall-restart
  // logic away from guest registers (restarts are the Sentry's business). cs and ss
  // are forced to the 64-bit user selectors, which also keeps PTRACE_SETREGS from
  // failing on a zeroed Registers.
  user_regs_struct& r = regs.r;
  const uint64_t orig_rax = r.orig_rax;
  r.orig_rax = ~uint64_t{0};
  r.cs = kUserCs;
  r.ss = kUserDs;
  absl::Status s = PtraceSetRegs(tid, r);
  r.orig_rax = orig_rax;
  if (!s.ok()) {
    unpublish();
    return StubThreadLost(*st, "Switch", std::move(s));
  }
  // Push the FP state if the Sentry changed it or the stub thread holds another.
  if (fp.dirty() || !fp_live_here) {
    if (s = PtraceSetXstate(tid, fp.bytes()); !s.ok()) {
      unpublish();
      return StubThreadLost(*st, "Switch", std::move(s));
    }
    fp.set_dirty(false);
  }
  st->fp_owner = id_;

  SwitchResult result;
  int status;
  for (;;) {
    if (s = PtraceResume(tid, PTRACE_SYSEMU); !s.ok()) {
      unpublish();
      return StubThreadLost(*st, "Switch", std::move(s));
    }
    absl::StatusOr<int> waited = WaitForStub(st->pidfd, tid);
    if (!waited.ok()) {
      unpublish();
      return StubThreadLost(*st, "Switch", waited.status());
    }
    status = *waited;
    // A SIGCONT sent to a tracee attached with PTRACE_SEIZE first traps with
    // PTRACE_EVENT_STOP (the kernel's notification of a continue); its own
    // signal-delivery stop follows. Nothing to do here.
    if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP) continue;
    if (WIFSTOPPED(status) && WSTOPSIG(status) == kInterruptSignal && (status >> 16) == 0) {
      absl::MutexLock l(&mu_);
      // An interrupt whose flag a previous Switch already consumed: go on.
      if (!interrupt_pending_) continue;
      interrupt_pending_ = false;
      running_pidfd_ = -1;
      result.kind = SwitchResult::Kind::kInterrupted;
      break;
    }
    unpublish();
    if (!WIFSTOPPED(status) || (status >> 16) != 0) {
      return StubThreadLostWithStatus(*st, "Switch", status);
    }
    if (WSTOPSIG(status) == kSyscallStop) {
      result.kind = SwitchResult::Kind::kSyscall;
      break;
    }
    // A signal-delivery stop: a fault, a trap or another signal. Resuming with
    // signal 0 (above, next time) discards it in the host: the Sentry decides.
    if (s = PtraceGetSiginfo(tid, &result.info); !s.ok()) {
      return StubThreadLost(*st, "Switch", std::move(s));
    }
    if (IsPageFault(result.info)) {
      result.kind = SwitchResult::Kind::kFault;
      result.fault_addr = reinterpret_cast<uint64_t>(result.info.si_addr);
      result.access = kAccessNone;  // ptrace cannot tell.
    } else {
      result.kind = SwitchResult::Kind::kSignal;
    }
    break;
  }

  // Registers out. The FP state stays in the stub thread until SyncFpState.
  if (s = PtraceGetRegs(tid, &r); !s.ok()) return StubThreadLost(*st, "Switch", std::move(s));
  fp.set_stale(true);
  return result;
}

absl::Status PtraceContext::SyncFpState(sentry::arch::FpState& fp) {
  if (!fp.stale()) return absl::OkStatus();
  if (last_ == nullptr) {
    return absl::FailedPreconditionError(
        "ptrace platform: SyncFpState of a stale FP state this context never ran");
  }
  if (CurrentTid() != last_->tracer) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "ptrace platform: SyncFpState on host thread %d, but stub thread %d is traced by host "
        "thread %d",
        CurrentTid(), last_->tid, last_->tracer));
  }
  if (last_->gone.load() || last_->fp_owner != id_) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "ptrace platform: SyncFpState: the live FP state is lost (stub thread %d is gone or "
        "another context ran in it)",
        last_->tid));
  }
  if (absl::Status s = PtraceGetXstate(last_->tid, fp.bytes()); !s.ok()) {
    return absl::Status(s.code(), absl::StrFormat("SyncFpState: %s", s.message()));
  }
  fp.set_stale(false);
  return absl::OkStatus();
}

void PtraceContext::Interrupt() {
  absl::MutexLock l(&mu_);
  interrupt_pending_ = true;
  // Through the pidfd: it can never reach another process, even one that reused
  // the pid of a stub thread that died meanwhile.
  if (running_pidfd_ >= 0) PidfdKill(running_pidfd_, kInterruptSignal);
}

}  // namespace platform::ptrace
