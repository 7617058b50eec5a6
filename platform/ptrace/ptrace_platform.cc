#include "platform/ptrace/ptrace_platform.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_syscalls.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_seccomp.h"
#include "sentry/base/errno.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kUserTop = PTRACE_STUB_USER_TOP;
// Where to look for the stub region: from the top of the user address space down,
// one candidate per GiB, over the last TiB.
constexpr uint64_t kCandidateStep = uint64_t{1} << 30;
constexpr uint64_t kLowestCandidate = 0x7f0000000000;

static_assert(kStubRegionSize % kPageSize == 0);

std::atomic<uint64_t> next_address_space_id{1};

// What a stub child that exited during its set-up was doing (stub.h).
const char* StubSetupStep(int exit_code) {
  switch (exit_code) {
    case PTRACE_STUB_EXIT_RSEQ:
      return "rseq(RSEQ_FLAG_UNREGISTER)";
    case PTRACE_STUB_EXIT_PDEATHSIG:
      return "prctl(PR_SET_PDEATHSIG)";
    case PTRACE_STUB_EXIT_PARENT_GONE:
      return "its parent check (the Sentry is gone)";
    case PTRACE_STUB_EXIT_TRACEME:
      return "ptrace(PTRACE_TRACEME)";
    case PTRACE_STUB_EXIT_SIGPROCMASK:
      return "rt_sigprocmask";
    case PTRACE_STUB_EXIT_DUP2:
      return "dup2 of the memory file";
    case PTRACE_STUB_EXIT_CLOSE_RANGE:
      return "close_range";
    case PTRACE_STUB_EXIT_NO_NEW_PRIVS:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case PTRACE_STUB_EXIT_SECCOMP:
      return "seccomp(SECCOMP_SET_MODE_FILTER)";
    default:
      return nullptr;
  }
}

}  // namespace

// --- PtracePlatform ---

absl::StatusOr<std::unique_ptr<PtracePlatform>> PtracePlatform::New(const Options& options) {
  if (options.memory_fd < 0) {
    return absl::InvalidArgumentError("ptrace platform: no memory file (Options::memory_fd)");
  }
  SCHECK(StubCodeSize() <= kStubRegionSize);

  uint64_t start = 0;
  for (uint64_t c = kUserTop - kStubRegionSize; c >= kLowestCandidate; c -= kCandidateStep) {
    void* want = reinterpret_cast<void*>(c);
    void* p = mmap(want, kStubRegionSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
      if (errno == EEXIST) continue;
      return sentry::HostError(absl::StrFormat("mmap of the ptrace stub region at %#x", c), errno);
    }
    if (p != want) {  // A kernel that ignores MAP_FIXED_NOREPLACE put it elsewhere.
      munmap(p, kStubRegionSize);
      continue;
    }
    start = c;
    break;
  }
  if (start == 0) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("ptrace platform: no free address for the stub region in [%#x, %#x)",
                        kLowestCandidate, kUserTop));
  }
  void* region = reinterpret_cast<void*>(start);
  std::memcpy(region, platform_ptrace_stub_code_start, StubCodeSize());
  if (mprotect(region, kStubRegionSize, PROT_READ | PROT_EXEC) != 0) {
    int e = errno;
    munmap(region, kStubRegionSize);
    return sentry::HostError(absl::StrFormat("mprotect of the ptrace stub region at %#x", start),
                             e);
  }
  return std::unique_ptr<PtracePlatform>(new PtracePlatform(options.memory_fd, start));
}

PtracePlatform::PtracePlatform(int memory_fd, uint64_t region_start)
    : memory_fd_(memory_fd), region_start_(region_start), filter_(BuildStubFilter(region_start)) {
  filter_prog_.len = static_cast<unsigned short>(filter_.size());
  filter_prog_.filter = filter_.data();
}

PtracePlatform::~PtracePlatform() {
  munmap(reinterpret_cast<void*>(region_start_), kStubRegionSize);
}

uint64_t PtracePlatform::stub_syscall_addr() const { return region_start_ + StubSyscallOffset(); }
uint64_t PtracePlatform::stub_int3_addr() const { return region_start_ + StubInt3Offset(); }

absl::StatusOr<std::unique_ptr<AddressSpace>> PtracePlatform::NewAddressSpace() {
  StubArgs args{
      .ppid = static_cast<uint64_t>(getpid()),
      .memory_fd = static_cast<uint64_t>(memory_fd_),
      .filter = &filter_prog_,
      .region_start = region_start_,
      .region_end = region_end(),
      .entry = region_start_,
      .rseq = 0,
      .rseq_len = 0,
      .rseq_sig = 0,
  };
  // glibc registers an rseq area per thread (at the thread pointer + __rseq_offset);
  // the kernel's registration is at least 32 bytes long (glibc >= 2.40 may report a
  // smaller feature size in __rseq_size).
  if (__rseq_size != 0) {
    args.rseq =
        reinterpret_cast<uint64_t>(static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset);
    args.rseq_len = std::max<uint64_t>(__rseq_size, 32);
    args.rseq_sig = RSEQ_SIG;
  }
  // The child must not run a Sentry signal handler before it resets them all.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = platform_ptrace_stub_clone(&args);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return sentry::HostError("clone of a ptrace stub process", -pid);

  // From here on, the destructor kills and reaps the child whatever happens.
  std::unique_ptr<PtraceAddressSpace> as(new PtraceAddressSpace(*this, pid));
  RETURN_IF_ERROR(as->Start());
  return std::unique_ptr<AddressSpace>(std::move(as));
}

absl::StatusOr<std::unique_ptr<Context>> PtracePlatform::NewContext() {
  return std::unique_ptr<Context>(new PtraceContext());
}

// --- PtraceAddressSpace ---

PtraceAddressSpace::PtraceAddressSpace(const PtracePlatform& platform, pid_t pid)
    : platform_(platform), pid_(pid), tracer_(CurrentTid()), id_(next_address_space_id++) {}

PtraceAddressSpace::~PtraceAddressSpace() {
  if (!reaped_) KillAndReap(pid_);
}

absl::Status PtraceAddressSpace::Start() {
  // The child stops itself with SIGSTOP once it is clean, or exits if it cannot be.
  absl::StatusOr<int> status = WaitForStub(pid_);
  if (!status.ok()) return Lost("start-up", status.status());
  if (WIFEXITED(*status) && StubSetupStep(WEXITSTATUS(*status)) != nullptr) {
    reaped_ = lost_ = true;
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace stub process %d failed to set itself up: %s failed", pid_,
                        StubSetupStep(WEXITSTATUS(*status))));
  }
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSTOP) {
    return LostWithStatus("start-up", *status);
  }
  // EXITKILL: a stub never outlives its tracer thread (DESIGN.md §11.6).
  if (absl::Status s = PtraceSetOptions(pid_, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD); !s.ok()) {
    return Lost("start-up", std::move(s));
  }

  // Check that the stub is where it should be and unmapped all of the Sentry.
  user_regs_struct r;
  if (absl::Status s = PtraceGetRegs(pid_, &r); !s.ok()) return Lost("start-up", std::move(s));
  if (r.rip != platform_.stub_syscall_addr()) {
    lost_ = true;
    return absl::InternalError(
        absl::StrFormat("ptrace stub process %d stopped at %#x, not at its syscall loop %#x", pid_,
                        r.rip, platform_.stub_syscall_addr()));
  }
  for (const auto& [result, what] : {std::pair{r.r14, "below"}, std::pair{r.r15, "above"}}) {
    if (result != 0) {
      lost_ = true;
      return sentry::HostError(
          absl::StrFormat("ptrace stub process %d: munmap of everything %s the stub region", pid_,
                          what),
          -static_cast<int>(result));
    }
  }
  inject_regs_ = r;
  inject_regs_.fs_base = inject_regs_.gs_base = 0;
  inject_regs_.orig_rax = ~uint64_t{0};  // Not in a syscall: no restart by the kernel.
  inject_regs_.rip = platform_.stub_syscall_addr();
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::CheckUsable(std::string_view operation) const {
  if (CurrentTid() != tracer_) {
    // TODO(threads): one stub thread per guest thread, each traced by its task's host
    // thread: inject clone into the stub for a new thread, have it stop itself, detach
    // it with PTRACE_DETACH + SIGSTOP, and PTRACE_SEIZE it from the new tracer.
    return absl::FailedPreconditionError(absl::StrFormat(
        "ptrace platform: %s on host thread %d, but stub process %d is traced by host thread "
        "%d (one host thread per address space: multi-threaded guests are not supported yet)",
        operation, CurrentTid(), pid_, tracer_));
  }
  if (lost_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace platform: %s: stub process %d is lost", operation, pid_));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::Lost(std::string_view during, absl::Status cause) {
  // The stub is stopped whenever we make a request, so a request fails with ESRCH
  // (NotFound) only if the stub died: then say how. Otherwise the stub is in an
  // unknown state and is killed (DESIGN.md §11.6).
  const bool died = absl::IsNotFound(cause);
  const int status = KillAndReap(pid_);
  lost_ = reaped_ = true;
  if (died && status != -1) {
    return absl::InternalError(
        absl::StrFormat("%s: %s (%s)", during, DescribeWaitStatus(pid_, status), cause.message()));
  }
  return absl::Status(cause.code(), absl::StrFormat("%s: %s; stub process %d killed", during,
                                                    cause.message(), pid_));
}

absl::Status PtraceAddressSpace::LostWithStatus(std::string_view during, int wait_status) {
  if (!WIFEXITED(wait_status) && !WIFSIGNALED(wait_status)) KillAndReap(pid_);
  lost_ = reaped_ = true;
  return absl::InternalError(
      absl::StrFormat("%s: %s", during, DescribeWaitStatus(pid_, wait_status)));
}

absl::StatusOr<int64_t> PtraceAddressSpace::InjectSyscall(uint64_t nr,
                                                          const std::array<uint64_t, 6>& args) {
  RETURN_IF_ERROR(CheckUsable("syscall injection"));
  user_regs_struct r = inject_regs_;
  r.rax = nr;
  r.rdi = args[0];
  r.rsi = args[1];
  r.rdx = args[2];
  r.r10 = args[3];
  r.r8 = args[4];
  r.r9 = args[5];
  const std::string_view during = "syscall injection";
  if (absl::Status s = PtraceSetRegs(pid_, r); !s.ok()) return Lost(during, std::move(s));
  for (;;) {
    if (absl::Status s = PtraceResume(pid_, PTRACE_CONT); !s.ok()) return Lost(during, s);
    absl::StatusOr<int> status = WaitForStub(pid_);
    if (!status.ok()) return Lost(during, status.status());
    if (!WIFSTOPPED(*status) || (*status >> 16) != 0) return LostWithStatus(during, *status);
    const int sig = WSTOPSIG(*status);
    if (sig == kInterruptSignal) continue;  // A stale interrupt: drop it.
    siginfo_t info;
    if (absl::Status s = PtraceGetSiginfo(pid_, &info); !s.ok()) return Lost(during, std::move(s));
    if (sig == SIGTRAP && info.si_code == SI_KERNEL) {  // The int3.
      if (absl::Status s = PtraceGetRegs(pid_, &r); !s.ok()) return Lost(during, std::move(s));
      if (r.rip == platform_.stub_int3_addr() + 1) return static_cast<int64_t>(r.rax);
    }
    // A signal sent to the idle stub from the host (si_code <= 0): drop it too.
    if (info.si_code <= 0) continue;
    // Anything else is a fault of the stub itself: it would recur forever.
    PtraceGetRegs(pid_, &r).IgnoreError();
    return Lost(during, absl::InternalError(absl::StrFormat(
                            "stub stopped by signal %d (si_code %d, address %p) at rip %#x", sig,
                            info.si_code, info.si_addr, r.rip)));
  }
}

absl::Status PtraceAddressSpace::CheckRange(std::string_view operation, uint64_t addr,
                                            uint64_t len) const {
  const uint64_t max = platform_.MaxUserAddress();
  if (addr % kPageSize != 0 || len % kPageSize != 0 || len == 0 || addr > max || len > max - addr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ptrace platform: %s of [%#x, +%#x): not page-aligned or outside the guest address "
        "space [0, %#x)",
        operation, addr, len, max));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::MapFile(uint64_t addr, uint64_t file_offset, uint64_t len,
                                         int prot) {
  RETURN_IF_ERROR(CheckRange("MapFile", addr, len));
  if (file_offset % kPageSize != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ptrace platform: MapFile of unaligned file offset %#x", file_offset));
  }
  ASSIGN_OR_RETURN(int64_t ret, InjectSyscall(SYS_mmap, {addr, len, static_cast<uint64_t>(prot),
                                                         MAP_SHARED | MAP_FIXED,
                                                         PTRACE_STUB_MEMORY_FD, file_offset}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("mmap of memory-file offset %#x at [%#x, %#x) prot %#x in stub process %d",
                        file_offset, addr, addr + len, prot, pid_),
        static_cast<int>(-ret));
  }
  if (static_cast<uint64_t>(ret) != addr) {
    return absl::InternalError(
        absl::StrFormat("mmap at %#x in stub process %d mapped at %#x instead", addr, pid_, ret));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  RETURN_IF_ERROR(CheckRange("Unmap", addr, len));
  ASSIGN_OR_RETURN(int64_t ret, InjectSyscall(SYS_munmap, {addr, len, 0, 0, 0, 0}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("munmap of [%#x, %#x) in stub process %d", addr, addr + len, pid_),
        static_cast<int>(-ret));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  RETURN_IF_ERROR(CheckRange("Protect", addr, len));
  ASSIGN_OR_RETURN(int64_t ret,
                   InjectSyscall(SYS_mprotect, {addr, len, static_cast<uint64_t>(prot), 0, 0, 0}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("mprotect of [%#x, %#x) to prot %#x in stub process %d", addr, addr + len,
                        prot, pid_),
        static_cast<int>(-ret));
  }
  return absl::OkStatus();
}

}  // namespace platform::ptrace
