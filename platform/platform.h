// The platform: how guest code runs and traps to the Sentry (DESIGN.md §4).
//
// A Platform makes AddressSpaces (one per guest memory map) and Contexts (one per
// guest thread). The memory manager makes pages visible in an AddressSpace with
// MapFile/Unmap/Protect; a task runs guest code with Context::Switch, which returns
// when the guest makes a syscall, faults, receives a host signal, or is interrupted.
// Callers never see ptrace (or seccomp, or KVM).
//
// Threading: any host thread may create an AddressSpace, change it
// (MapFile/Unmap/Protect) and Switch into it, and several host threads may run
// guest code in one AddressSpace at once (guest threads; each with its own
// Context). A Context is used by one host thread (the task's) at a time; Interrupt
// may be called from any thread. An AddressSpace may be destroyed on any thread,
// also while others are in Switch on it (those Switches then fail promptly). For
// the ptrace backend each (address space, host thread) pair has a stub thread,
// released when the Context is destroyed or the host thread exits; see
// platform/README.md.
#ifndef PLATFORM_PLATFORM_H_
#define PLATFORM_PLATFORM_H_

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sentry/arch/registers.h"

namespace platform {

// Access types, as bits (a fault may report none when the platform cannot tell).
enum AccessType : uint32_t {
  kAccessNone = 0,
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessExec = 4,
};

struct SwitchResult {
  enum class Kind {
    kSyscall,  // regs hold the syscall (orig_rax = number, rip after the instruction).
    // A page fault the memory manager may resolve: SIGSEGV with SEGV_MAPERR or
    // SEGV_ACCERR, SIGBUS with BUS_ADRERR or BUS_OBJERR; see fault_addr / access / info.
    kFault,
    // Any other signal, synchronous or from the host (SIGFPE, SIGILL, SIGTRAP, and
    // also SIGSEGV/SI_KERNEL from a general-protection fault, SIGBUS/BUS_ADRALN,
    // SIGSYS from a guest call into the vsyscall page). The host never delivers it.
    kSignal,
    kInterrupted,  // Context::Interrupt was called.
  };
  Kind kind = Kind::kSyscall;
  // For kFault and kSignal: the host siginfo (si_signo, si_code, si_addr ...).
  siginfo_t info{};
  uint64_t fault_addr = 0;
  // For kFault: the access that faulted, or kAccessNone if the platform cannot tell
  // (ptrace cannot; the memory manager then infers it, see sentry/mm/README.md).
  uint32_t access = kAccessNone;
  // For kSyscall: the syscall instruction itself trapped (systrap with syscall
  // patching on), so the Sentry may patch the site (sentry/kernel/syscall_patch.h).
  bool patchable = false;
};

// Syscall-site patching (platform/systrap/README.md): where a patched site's
// trampoline enters the platform without a trap, and how it tells that the
// thread's %gs base is the platform's (a slot-aligned address in [slot_lo,
// slot_hi) with slot_align bytes per slot).
struct SyscallPatchTarget {
  uint64_t fast_entry = 0;
  uint64_t slot_lo = 0, slot_hi = 0;
  uint64_t slot_align = 0;
};

// A host file that guest memory may map directly (AddressSpace::MapHostFile):
// a read-only host fd the Sentry owns, whose contents no one in the sandbox
// changes (a file of a read-only gofer mount), and an id unique in the
// Sentry's lifetime. A platform that puts its own copy of the fd where its
// stubs can map it keeps that copy only while the HostFile lives (it holds a
// weak reference), so closing one is what ends its use. Thread-safe.
class HostFile {
 public:
  explicit HostFile(int fd) : fd_(fd), id_(next_id_.fetch_add(1, std::memory_order_relaxed)) {}
  HostFile(const HostFile&) = delete;
  HostFile& operator=(const HostFile&) = delete;
  ~HostFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  uint64_t id() const { return id_; }

 private:
  static inline std::atomic<uint64_t> next_id_{1};
  const int fd_;
  const uint64_t id_;
};

class AddressSpace {
 public:
  virtual ~AddressSpace() = default;

  // Maps [file_offset, file_offset+len) of a host file at `addr`
  // (MAP_PRIVATE|MAP_FIXED semantics: replaces what was there) with `prot`
  // (PROT_READ|PROT_EXEC, never PROT_WRITE: the memory manager copies a page
  // into the memory file before the guest may write it). addr, offset and len
  // are page-aligned; the range lies within the file's size as the caller saw
  // it. Unimplemented when the platform cannot map host files (the caller
  // then copies the pages into the memory file and uses MapFile); any other
  // error leaves the range unmapped.
  virtual absl::Status MapHostFile(uint64_t addr, const std::shared_ptr<const HostFile>& file,
                                   uint64_t file_offset, uint64_t len, int prot) {
    (void)addr, (void)file, (void)file_offset, (void)len, (void)prot;
    return absl::UnimplementedError("this platform does not map host files");
  }

  // Maps [file_offset, file_offset+len) of the memory file at guest address `addr`
  // (MAP_SHARED|MAP_FIXED semantics: replaces what was there) with `prot`
  // (PROT_READ|PROT_WRITE|PROT_EXEC). addr, offset and len are page-aligned.
  virtual absl::Status MapFile(uint64_t addr, uint64_t file_offset, uint64_t len, int prot) = 0;
  // Removes any mapping in [addr, addr+len).
  virtual absl::Status Unmap(uint64_t addr, uint64_t len) = 0;
  // Changes the protection of mapped pages in [addr, addr+len).
  virtual absl::Status Protect(uint64_t addr, uint64_t len, int prot) = 0;

  // Makes the address space as good as new for another process: everything
  // below MaxUserAddress() unmapped, and nothing the last process left in the
  // platform's own memory readable by the next one (systrap: the signal
  // frames in its slots). Unlike a new address space, its stub threads stay:
  // a host thread that ran guest code here runs here again without making
  // any (the kernel's parked runners, sentry/kernel/README.md). Call it on a
  // host thread that ran here, with no Switch running in it. On error the
  // address space must be destroyed. Default: Unimplemented.
  virtual absl::Status Recycle() {
    return absl::UnimplementedError("this platform does not recycle address spaces");
  }
};

class Context {
 public:
  virtual ~Context() = default;

  // Runs the guest in `as` with `regs` and `fp` until it needs the kernel. regs are
  // read back on return. fp is pushed first if fp.dirty(); on return it is marked
  // stale (the live copy stays in the context) until SyncFpState pulls it.
  // The guest runs in 64-bit mode: cs/ss are set to the user selectors, and
  // regs.orig_rax is not pushed (the host kernel must not restart syscalls; that
  // is the Sentry's job).
  // An error means the platform lost the guest (the stub died or ptrace failed):
  // the caller must stop the sandbox.
  virtual absl::StatusOr<SwitchResult> Switch(AddressSpace& as, sentry::arch::Registers& regs,
                                              sentry::arch::FpState& fp) = 0;

  // Pulls the live FP state into `fp` if it is stale.
  virtual absl::Status SyncFpState(sentry::arch::FpState& fp) = 0;

  // Makes, on the calling thread (the one that will Switch), what the first
  // Switch in `as` would make (the stub threads that run the guest), so that
  // it costs the first Switch nothing. An error is the platform's (the first
  // Switch would meet it again). Default: nothing.
  virtual absl::Status Prepare(AddressSpace& as) {
    (void)as;
    return absl::OkStatus();
  }

  // Makes a running or the next Switch return kInterrupted promptly. Thread-safe.
  virtual void Interrupt() = 0;

  // The CPU time the guest has used in the stub this context runs in now, as
  // the host accounts it (user: guest code; system: the host kernel's work
  // for the stub, faults and injected calls). Zeros when the platform cannot
  // tell. Thread-safe.
  struct CpuTimes {
    int64_t user_ns = 0;
    int64_t sys_ns = 0;
  };
  virtual CpuTimes GuestCpuTime() const { return {}; }

  // A hint from the task's own thread, between Switches: the task is about to
  // block in the Sentry, so its guest will not run again soon. A platform may
  // stop waiting for it actively (the systrap stub stops spinning). Default:
  // nothing.
  virtual void WillBlock() {}
};

struct Options {
  // The memory file (a memfd) that AddressSpace::MapFile maps from.
  int memory_fd = -1;
  // systrap: let the Sentry patch syscall sites (--systrap-patching).
  bool syscall_patching = false;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // "ptrace" or "systrap" (later "kvm").
  static absl::StatusOr<std::unique_ptr<Platform>> Create(std::string_view name,
                                                          const Options& options);

  virtual std::string_view Name() const = 0;

  // One past the highest guest address: the top of the guest's address space
  // (below the platform's own stub region, if any).
  virtual uint64_t MaxUserAddress() const = 0;

  // Whether kFault results carry the access type.
  virtual bool ReportsAccessType() const = 0;

  // Syscall-site patching: null when the platform cannot or it is off.
  virtual const SyscallPatchTarget* syscall_patch_target() const { return nullptr; }

  virtual absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() = 0;
  virtual absl::StatusOr<std::unique_ptr<Context>> NewContext() = 0;

  // Makes ahead what the first NewAddressSpace would make first (ptrace and
  // systrap: the template stub), so that a thread can do it while the
  // Sentry does something else. Any thread; waits until it is made. A
  // failure is NewAddressSpace's to report (it tries again). Default:
  // nothing.
  virtual void Warm() {}
};

}  // namespace platform

#endif  // PLATFORM_PLATFORM_H_
