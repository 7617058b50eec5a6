// The ptrace platform (DESIGN.md §4): one stub process per address space, traced
// by the Sentry host thread that created it; guest syscalls stop the stub through
// PTRACE_SYSEMU and never run on the host. See platform/README.md for the stub
// layout, the seccomp filter, interrupts and the threading rules.
//
// Lock order: PtraceContext::mu_ is a leaf (it guards only the interrupt state).
#ifndef PLATFORM_PTRACE_PTRACE_PLATFORM_H_
#define PLATFORM_PTRACE_PTRACE_PLATFORM_H_

#include <linux/filter.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"

namespace platform::ptrace {

// The host signal Context::Interrupt sends to a running stub thread. A stub never
// gets it otherwise (guest code cannot send host signals), so a stop with it is an
// interrupt, or a stale one that Switch ignores.
inline constexpr int kInterruptSignal = SIGUSR2;

// The stub region: its first page holds the stub code (read+exec).
inline constexpr uint64_t kStubRegionSize = 4096;

class PtracePlatform final : public Platform {
 public:
  // Reserves the stub region at the highest free address it can get and copies the
  // stub code there. `options.memory_fd` must stay open while the platform lives.
  static absl::StatusOr<std::unique_ptr<PtracePlatform>> New(const Options& options);
  // The platform must outlive its address spaces and contexts.
  ~PtracePlatform() override;

  std::string_view Name() const override { return "ptrace"; }
  uint64_t MaxUserAddress() const override { return region_start_; }
  bool ReportsAccessType() const override { return false; }
  // Creates a stub process traced by the calling host thread, which is the only one
  // that may use the address space (see platform.h).
  absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() override;
  absl::StatusOr<std::unique_ptr<Context>> NewContext() override;

  uint64_t region_start() const { return region_start_; }
  uint64_t region_end() const { return region_start_ + kStubRegionSize; }
  // The stub's `syscall` instruction, and the `int3` right after it.
  uint64_t stub_syscall_addr() const;
  uint64_t stub_int3_addr() const;

 private:
  PtracePlatform(int memory_fd, uint64_t region_start);

  const int memory_fd_;
  const uint64_t region_start_;
  // The stub's seccomp filter, built once; children read it from their copy of
  // our memory.
  std::vector<sock_filter> filter_;
  sock_fprog filter_prog_{};
};

class PtraceAddressSpace final : public AddressSpace {
 public:
  // Kills the stub and reaps it. May run on any host thread of the Sentry.
  ~PtraceAddressSpace() override;

  absl::Status MapFile(uint64_t addr, uint64_t file_offset, uint64_t len, int prot) override;
  absl::Status Unmap(uint64_t addr, uint64_t len) override;
  absl::Status Protect(uint64_t addr, uint64_t len, int prot) override;

  // Runs syscall `nr` in the stopped stub, from the stub's code page (so the stub's
  // seccomp filter applies), and returns its raw result (-errno on failure). The
  // guest registers are not preserved: Context::Switch sets all of them.
  absl::StatusOr<int64_t> InjectSyscall(uint64_t nr, const std::array<uint64_t, 6>& args);

  pid_t pid() const { return pid_; }
  // The host thread that traces the stub.
  pid_t tracer_tid() const { return tracer_; }
  // Unique among all address spaces of this process (pids get reused).
  uint64_t id() const { return id_; }
  // Whether the stub is gone (it died, or ptrace failed on it).
  bool lost() const { return lost_; }

  // Fails with FailedPrecondition unless called on the tracer thread of a live stub.
  absl::Status CheckUsable(std::string_view operation) const;
  // Build the error for a failed ptrace request or an unexpected wait status, and
  // kill and reap the stub: it is lost. If the stub died, the message says how.
  absl::Status Lost(std::string_view during, absl::Status cause);
  absl::Status LostWithStatus(std::string_view during, int wait_status);

 private:
  friend class PtracePlatform;
  friend class PtraceContext;
  PtraceAddressSpace(const PtracePlatform& platform, pid_t pid);
  absl::Status Start();
  absl::Status CheckRange(std::string_view operation, uint64_t addr, uint64_t len) const;

  const PtracePlatform& platform_;
  const pid_t pid_;
  const pid_t tracer_;
  const uint64_t id_;
  bool lost_ = false;
  bool reaped_ = false;
  // Registers for injected syscalls: the stub's own at its start-up stop.
  user_regs_struct inject_regs_{};
  // The PtraceContext (by id) whose FP state the stub thread holds, or 0.
  uint64_t fp_owner_ = 0;
};

class PtraceContext final : public Context {
 public:
  PtraceContext();

  absl::StatusOr<SwitchResult> Switch(AddressSpace& as, sentry::arch::Registers& regs,
                                      sentry::arch::FpState& fp) override;
  absl::Status SyncFpState(sentry::arch::FpState& fp) override;
  void Interrupt() override;

 private:
  absl::Mutex mu_;
  bool interrupt_pending_ ABSL_GUARDED_BY(mu_) = false;
  // The stub thread while Switch runs it, else 0. Interrupt signals it under mu_,
  // and Switch clears it under mu_ before the stub can be reaped, so the signal can
  // never hit a reused pid.
  pid_t running_tgid_ ABSL_GUARDED_BY(mu_) = 0;
  pid_t running_tid_ ABSL_GUARDED_BY(mu_) = 0;

  // Unique among all contexts of this process.
  const uint64_t id_;
  // Where the live FP state of this context is (only touched by the task's thread).
  uint64_t fp_as_id_ = 0;
  pid_t fp_tid_ = 0;
  pid_t fp_tracer_ = 0;
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_PLATFORM_H_
