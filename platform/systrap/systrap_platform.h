// The systrap platform (DESIGN.md §4): guest threads run untraced in stub threads;
// a guest syscall (SIGSYS from the stub's seccomp filter), fault or signal runs
// the stub's handler on an altstack in a slot of memory shared with the Sentry,
// which hands the signal frame over with a futex. Built on the ptrace platform's
// stubs (StubMode::kSystrap): stub creation, the stub code page, stub-thread
// lifetimes and address-space changes (injected into a traced stub thread) are
// the ptrace platform's. See platform/systrap/README.md.
//
// Lock order: SystrapContext::mu_, SlotSet::mu_ and SystrapPlatform::slot_mu_ are
// leaves.
#ifndef PLATFORM_SYSTRAP_SYSTRAP_PLATFORM_H_
#define PLATFORM_SYSTRAP_SYSTRAP_PLATFORM_H_

#include <linux/filter.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/systrap/systrap_stub.h"

namespace platform::systrap {

// The signal Interrupt sends (the ptrace platform's).
inline constexpr int kInterruptSignal = ptrace::kInterruptSignal;
// The signals the stub's handler takes: every one that can be caught. The traps
// and faults guest code causes, its syscalls (SIGSYS from the seccomp filter) and
// the interrupt, but also any other host signal sent to a stub (a terminal's
// SIGINT to its process group, SIGTERM, SIGHUP, ...), which the Sentry sees as
// kSignal, as under ptrace (where it is a signal-delivery stop), instead of the
// default action killing the stub thread.
inline constexpr int kMaxSignal = 64;
constexpr bool HandledSignal(int sig) {
  return sig >= 1 && sig <= kMaxSignal && sig != SIGKILL && sig != SIGSTOP;
}
// Guest address space given up for slots, just below the stub code page.
inline constexpr uint64_t kSlotAreaSize = uint64_t{256} << 20;
inline constexpr uint64_t kSlotSize = SYSTRAP_SLOT_SIZE;
inline constexpr uint32_t kMaxSlots = kSlotAreaSize / kSlotSize;

class SystrapPlatform;

// The slots of one address space: mapped in its stub, so a slot never moves to
// another address space before the stub's memory map is gone (all of its
// processes reaped), when the address space closes the set. A slot freed by a
// retired stub thread is reused by the next stub thread of the same address space.
// The set may outlive the platform (in a host thread's list of stub threads); once
// closed it no longer touches it.
class SlotSet {
 public:
  explicit SlotSet(SystrapPlatform& platform) : platform_(platform) {}
  SlotSet(const SlotSet&) = delete;
  SlotSet& operator=(const SlotSet&) = delete;

  // A slot for a new stub thread, and whether it is new to this address space
  // (then it must be mapped into the stub).
  absl::StatusOr<std::pair<uint32_t, bool>> Acquire();
  void Release(uint32_t slot);
  // Gives every slot back to the platform (the stub is gone).
  void Close();
  // Zeroes what a process left in the slots (Recycle): every free slot
  // whole; in a slot in use (its stub thread parked in the wait loop, which
  // uses registers only) the altstack and the control page's fs/gs bases,
  // frame addresses and fast-entry %rsp, keeping the hand-over words.
  void Scrub();

 private:
  SystrapPlatform& platform_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex mu_;
  std::vector<uint32_t> owned_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_ ABSL_GUARDED_BY(mu_);
};

// A guest stub thread: an untraced stub process that runs one host thread's guest
// code in one address space, and its slot.
struct SystrapThread {
  SystrapThread(std::shared_ptr<ptrace::StubThread> st, std::shared_ptr<SlotSet> slots,
                uint32_t slot, uint8_t* slot_mem, uint64_t stub_base, uint64_t as_id, pid_t owner);
  ~SystrapThread();  // Kills and reaps the process, then frees the slot.
  SystrapThread(const SystrapThread&) = delete;
  SystrapThread& operator=(const SystrapThread&) = delete;

  const std::shared_ptr<ptrace::StubThread> st;
  const std::shared_ptr<SlotSet> slots;
  const uint32_t slot;
  uint8_t* const mem;        // The slot in the Sentry.
  const uint64_t stub_base;  // The slot in the stub.
  const uint64_t as_id;
  const pid_t owner;  // The host thread that runs it.
  // The frame to run next: offsets of its ucontext and xsave area in the slot
  // (validated). Only the owner touches these.
  uint64_t uc_off = 0;
  uint64_t fp_off = 0;
  // The SystrapContext (by id) whose FP state the frame holds, or 0.
  uint64_t fp_owner = 0;
  // The Sentry's adaptive spin before it sleeps on the futex (systrap_context.cc).
  uint32_t spin_misses = 0;  // consecutive waits that ended asleep
  uint32_t spin_retry = 0;
  // The stub's (published in the control page before each RUN).
  uint32_t stub_spin_misses = 0;  // consecutive RUNs that found the stub asleep
  uint32_t stub_spin_retry = 0;
  // WillBlock sent the stub to sleep: its next RUN finding it asleep is no miss.
  bool stub_told_to_sleep = false;
  // Syscall patching is on: the guest runs with %gs base = the control page
  // whenever its own is 0 (translated in WriteFrame/ReadFrame).
  bool patching = false;
};

class SystrapPlatform final : public Platform {
 public:
  // FailedPrecondition if the CPU or kernel lacks FSGSBASE in user mode.
  static absl::StatusOr<std::unique_ptr<SystrapPlatform>> New(const Options& options);
  ~SystrapPlatform() override;

  std::string_view Name() const override { return "systrap"; }
  uint64_t MaxUserAddress() const override { return slot_area_; }
  bool ReportsAccessType() const override { return true; }
  const SyscallPatchTarget* syscall_patch_target() const override {
    return patching_ ? &patch_target_ : nullptr;
  }
  bool patching() const { return patching_; }
  absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() override;
  void Warm() override { ptrace_->Warm(); }
  absl::StatusOr<std::unique_ptr<Context>> NewContext() override;

  ptrace::PtracePlatform& ptrace() { return *ptrace_; }
  // The stub address of a symbol of the systrap stub code.
  uint64_t StubCodeAddr(const char* sym) const;
  uint8_t* SlotMem(uint32_t slot) const { return slot_mem_ + uint64_t{slot} * kSlotSize; }
  uint64_t SlotStubAddr(uint32_t slot) const { return slot_area_ + uint64_t{slot} * kSlotSize; }
  uint64_t SlotFileOffset(uint32_t slot) const {
    return slot_file_offset_ + uint64_t{slot} * kSlotSize;
  }
  // The stub address of the guest-thread filter's sock_fprog (read-only, in the
  // stub code page).
  uint64_t GuestFilterProgAddr() const;

  absl::StatusOr<uint32_t> AllocateSlot();
  void FreeSlots(const std::vector<uint32_t>& slots);

 private:
  SystrapPlatform(std::unique_ptr<ptrace::PtracePlatform> p, uint8_t* slot_mem,
                  uint64_t slot_file_offset, bool patching);
  // The template stub's signal actions (PtracePlatform::SetTemplateSignalActions):
  // the stub's handlers for every signal but SIGKILL and SIGSTOP.
  ptrace::PtracePlatform::SignalActions HandlerActions() const;

  std::unique_ptr<ptrace::PtracePlatform> ptrace_;
  const uint64_t slot_area_;  // In every stub: [slot_area_, + kSlotAreaSize).
  uint8_t* const slot_mem_;   // The same memory-file range in the Sentry.
  const uint64_t slot_file_offset_;
  const bool patching_;
  SyscallPatchTarget patch_target_;

  absl::Mutex slot_mu_;
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(slot_mu_);
  uint32_t next_slot_ ABSL_GUARDED_BY(slot_mu_) = 0;
};

class SystrapAddressSpace final : public AddressSpace {
 public:
  SystrapAddressSpace(SystrapPlatform& platform, std::unique_ptr<ptrace::PtraceAddressSpace> as);
  // Destroys the stub (every process reaped), then lets the slots go.
  ~SystrapAddressSpace() override;

  absl::Status MapFile(uint64_t addr, uint64_t file_offset, uint64_t len, int prot) override;
  // As the ptrace backend's (the stubs are its stubs).
  absl::Status MapHostFile(uint64_t addr, const std::shared_ptr<const HostFile>& file,
                           uint64_t file_offset, uint64_t len, int prot) override;
  absl::Status Unmap(uint64_t addr, uint64_t len) override;
  absl::Status Protect(uint64_t addr, uint64_t len, int prot) override;
  // Unmaps the guest range and scrubs every slot of the address space (the
  // frames, fast-entry frames and fs/gs bases of the last process's threads);
  // the guest stub threads stay parked in their wait loops.
  absl::Status Recycle() override;

  uint64_t id() const { return inner_->id(); }
  bool lost() const { return inner_->lost(); }
  ptrace::PtraceAddressSpace& inner() { return *inner_; }
  // The calling host thread's guest stub thread here, found or created.
  absl::StatusOr<std::shared_ptr<SystrapThread>> ThreadForCurrentThread();

 private:
  absl::Status CheckRange(std::string_view op, uint64_t addr, uint64_t len) const;
  absl::StatusOr<std::shared_ptr<SystrapThread>> NewThread();

  SystrapPlatform& platform_;
  // Declared before inner_: destroyed after it (after the stub is gone).
  std::shared_ptr<SlotSet> slots_;
  std::unique_ptr<ptrace::PtraceAddressSpace> inner_;
};

// Whether the Sentry may spin waiting for a stub (more than one CPU to run on).
// Computed once; SystrapPlatform::New asks first.
bool MultiCpu();

class SystrapContext final : public Context {
 public:
  SystrapContext();
  ~SystrapContext() override;

  absl::StatusOr<SwitchResult> Switch(AddressSpace& as, sentry::arch::Registers& regs,
                                      sentry::arch::FpState& fp) override;
  absl::Status SyncFpState(sentry::arch::FpState& fp) override;
  // The calling thread's guest stub thread in `as` (created if need be: with
  // its injector, ~1 ms at boot).
  absl::Status Prepare(AddressSpace& as) override;
  void Interrupt() override;
  // The guest stub thread's CPU clocks (ptrace::StubCpuTimes).
  CpuTimes GuestCpuTime() const override;
  // Tells the stub thread last run (if it is the calling thread's) to stop
  // spinning and sleep.
  void WillBlock() override;

 private:
  // Whether `t` (the stub thread last run) is the calling thread's in `as`.
  static bool Current(const SystrapThread* t, const SystrapAddressSpace& as);
  // The tid of the guest stub thread last run (0: none), for GuestCpuTime.
  std::atomic<pid_t> stub_pid_{0};
  absl::Mutex mu_;
  bool interrupt_pending_ ABSL_GUARDED_BY(mu_) = false;
  // When the interrupt signal went to the running stub thread (0: not sent).
  int64_t interrupt_sent_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int running_pidfd_ ABSL_GUARDED_BY(mu_) = -1;
  const uint64_t id_;
  std::shared_ptr<SystrapThread> last_;
};

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_SYSTRAP_PLATFORM_H_
