#include "platform/systrap/systrap_platform.h"

#include <linux/seccomp.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_syscalls.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_seccomp.h"
#include "platform/systrap/systrap_sigframe.h"
#include "sentry/base/errno.h"
#include "sentry/base/status_macros.h"

namespace platform::systrap {
namespace {

using ptrace::StubThread;

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

static_assert(SYSTRAP_CTL_FPX_SW + sizeof(FpxSwBytes) <= SYSTRAP_CTL_XSTATE_SIZE);
static_assert(SYSTRAP_FAST_FRAME + sizeof(KernelRtSigframe) <= SYSTRAP_FAST_FP);
static_assert(SYSTRAP_FAST_FP % 64 == 0 && SYSTRAP_FAST_FRAME % 16 == 0);

struct ThreadList {
  std::vector<std::shared_ptr<SystrapThread>> list;
  // A host thread's exit kills its guest stub threads (their contexts may still
  // hold references, so the processes are retired here, not when freed).
  ~ThreadList() {
    std::vector<std::shared_ptr<SystrapThread>> all = std::move(list);
    for (const std::shared_ptr<SystrapThread>& t : all) ptrace::RetireStubThread(t->st);
  }
};
thread_local ThreadList threads;

// Where the guest-thread filter's sock_fprog (then the filter) lies in the stub
// code page: after the systrap code (`code` bytes at kStubExtraCodeOffset).
uint64_t GuestFilterOffset(size_t code) {
  return (ptrace::kStubExtraCodeOffset + code + 15) & ~uint64_t{15};
}

}  // namespace

// --- Slots ---

void SlotSet::Close() {
  absl::MutexLock l(&mu_);
  platform_.FreeSlots(owned_);
  owned_.clear();
  free_.clear();
  closed_ = true;
}

void SlotSet::Scrub() {
  absl::MutexLock l(&mu_);
  auto zero = [](uint8_t* p, size_t len) {
    if (madvise(p, len, MADV_REMOVE) != 0) std::memset(p, 0, len);
  };
  for (uint32_t s : owned_) {
    uint8_t* const mem = platform_.SlotMem(s);
    if (std::find(free_.begin(), free_.end(), s) != free_.end()) {
      zero(mem, kSlotSize);
      continue;
    }
    zero(mem + SYSTRAP_ALTSTACK_OFFSET, kSlotSize - SYSTRAP_ALTSTACK_OFFSET);
    for (size_t off : {SYSTRAP_CTL_FS_BASE, SYSTRAP_CTL_GS_BASE, SYSTRAP_CTL_UC, SYSTRAP_CTL_INFO,
                       SYSTRAP_CTL_FAST_RSP}) {
      std::memset(mem + off, 0, sizeof(uint64_t));
    }
  }
}

absl::StatusOr<std::pair<uint32_t, bool>> SlotSet::Acquire() {
  {
    absl::MutexLock l(&mu_);
    if (!free_.empty()) {
      const uint32_t s = free_.back();
      free_.pop_back();
      return std::pair{s, false};
    }
  }
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("systrap platform: the address space is gone");
  ASSIGN_OR_RETURN(uint32_t s, platform_.AllocateSlot());
  owned_.push_back(s);
  return std::pair{s, true};
}

void SlotSet::Release(uint32_t slot) {
  absl::MutexLock l(&mu_);
  if (!closed_) free_.push_back(slot);
}

SystrapThread::SystrapThread(std::shared_ptr<StubThread> st, std::shared_ptr<SlotSet> slots,
                             uint32_t slot, uint8_t* slot_mem, uint64_t stub_base, uint64_t as_id,
                             pid_t owner)
    : st(std::move(st)),
      slots(std::move(slots)),
      slot(slot),
      mem(slot_mem),
      stub_base(stub_base),
      as_id(as_id),
      owner(owner) {}

SystrapThread::~SystrapThread() {
  ptrace::RetireStubThread(st);
  slots->Release(slot);
}

// --- SystrapPlatform ---

absl::StatusOr<std::unique_ptr<SystrapPlatform>> SystrapPlatform::New(const Options& options) {
  // The handler saves and restores the guest's fs/gs bases with rd/wrfsbase.
  if ((getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) == 0) {
    return absl::FailedPreconditionError(
        "systrap platform: this CPU or kernel does not enable FSGSBASE for user mode "
        "(AT_HWCAP2); use --platform=ptrace");
  }
  (void)MultiCpu();  // Now, not on a Switch after the Sentry's filter is in place.
  const size_t code = platform_systrap_stub_code_end - platform_systrap_stub_code_start;
  ASSIGN_OR_RETURN(
      std::unique_ptr<ptrace::PtracePlatform> p,
      ptrace::PtracePlatform::New(options, ptrace::StubMode::kSystrap,
                                  std::span<const char>(platform_systrap_stub_code_start, code)));
  // The guest-thread filter and its sock_fprog go into the stub code page, past
  // the code: read-only in every stub, where no guest thread can change them
  // between the Sentry's writing and a new thread's seccomp (in a slot, any guest
  // thread of the address space could). Written in the Sentry's copy before any
  // stub exists: every stub is cloned from the Sentry's mapping.
  {
    const uint64_t region = p->region_start();
    const std::vector<sock_filter> filter = ptrace::BuildSystrapGuestThreadFilter(region);
    const uint64_t off = GuestFilterOffset(code);
    const size_t bytes = filter.size() * sizeof(sock_filter);
    if (off + sizeof(sock_fprog) + bytes > ptrace::kStubRegionSize) {
      return absl::InternalError("systrap platform: the guest-thread filter does not fit");
    }
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(filter.size());
    prog.filter = reinterpret_cast<sock_filter*>(region + off + sizeof(sock_fprog));
    void* page = reinterpret_cast<void*>(region);
    if (mprotect(page, ptrace::kStubRegionSize, PROT_READ | PROT_WRITE) != 0) {
      return sentry::HostError("systrap: mprotect of the stub code page", errno);
    }
    std::memcpy(reinterpret_cast<char*>(region + off), &prog, sizeof(prog));
    std::memcpy(reinterpret_cast<char*>(region + off + sizeof(sock_fprog)), filter.data(), bytes);
    if (mprotect(page, ptrace::kStubRegionSize, PROT_READ | PROT_EXEC) != 0) {
      return sentry::HostError("systrap: mprotect of the stub code page", errno);
    }
  }
  // The slots live in the memory file past its end (it is sparse: nothing is
  // used until a slot is touched), mapped once in the Sentry.
  struct stat st;
  if (fstat(options.memory_fd, &st) != 0)
    return sentry::HostError("systrap: fstat of the memory file", errno);
  const uint64_t offset =
      (static_cast<uint64_t>(st.st_size) + kSlotSize - 1) / kSlotSize * kSlotSize;
  if (ftruncate(options.memory_fd, static_cast<off_t>(offset + kSlotAreaSize)) != 0) {
    return sentry::HostError("systrap: growing the memory file for the slots", errno);
  }
  void* mem = mmap(nullptr, kSlotAreaSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                   options.memory_fd, static_cast<off_t>(offset));
  if (mem == MAP_FAILED) return sentry::HostError("systrap: mmap of the slots", errno);
  return std::unique_ptr<SystrapPlatform>(new SystrapPlatform(
      std::move(p), static_cast<uint8_t*>(mem), offset, options.syscall_patching));
}

SystrapPlatform::SystrapPlatform(std::unique_ptr<ptrace::PtracePlatform> p, uint8_t* slot_mem,
                                 uint64_t slot_file_offset, bool patching)
    : ptrace_(std::move(p)),
      slot_area_((ptrace_->region_start() - kSlotAreaSize) & ~(kSlotSize - 1)),
      slot_mem_(slot_mem),
      slot_file_offset_(slot_file_offset),
      patching_(patching) {
  patch_target_.fast_entry = StubCodeAddr(platform_systrap_stub_fast_entry);
  patch_target_.slot_lo = slot_area_;
  patch_target_.slot_hi = slot_area_ + kSlotAreaSize;
  patch_target_.slot_align = kSlotSize;
  ptrace_->SetTemplateSignalActions(HandlerActions());
}

// The handlers go into the template stub, once: every stub is a fork of it (so
// starts with them, at the same address: the code page is the same in all) and its
// stub threads share them (CLONE_SIGHAND). The template installs them itself as it
// sets itself up (PtracePlatform::SetTemplateSignalActions).
ptrace::PtracePlatform::SignalActions SystrapPlatform::HandlerActions() const {
  ptrace::PtracePlatform::SignalActions actions{};
  ptrace::StubSigaction act{};
  act.handler = StubCodeAddr(platform_systrap_stub_handler);
  act.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER;
  act.restorer = StubCodeAddr(platform_systrap_stub_restorer);
  act.mask = ~uint64_t{0};
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (!HandledSignal(sig)) continue;  // SIGKILL, SIGSTOP: SIG_DFL
    actions[sig - 1] = act;
    // The interrupt signal's own handler (see the fast entry).
    if (sig == kInterruptSignal) {
      actions[sig - 1].handler = StubCodeAddr(platform_systrap_stub_interrupt_handler);
    }
  }
  return actions;
}

SystrapPlatform::~SystrapPlatform() {
  ptrace_.reset();
  munmap(slot_mem_, kSlotAreaSize);
}

uint64_t SystrapPlatform::GuestFilterProgAddr() const {
  return ptrace_->region_start() +
         GuestFilterOffset(platform_systrap_stub_code_end - platform_systrap_stub_code_start);
}

uint64_t SystrapPlatform::StubCodeAddr(const char* sym) const {
  return ptrace_->region_start() + ptrace::kStubExtraCodeOffset + SystrapStubOffset(sym);
}

absl::StatusOr<uint32_t> SystrapPlatform::AllocateSlot() {
  absl::MutexLock l(&slot_mu_);
  if (!free_slots_.empty()) {
    const uint32_t s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  if (next_slot_ >= kMaxSlots) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("systrap platform: all %d stub-thread slots are in use", kMaxSlots));
  }
  return next_slot_++;
}

void SystrapPlatform::FreeSlots(const std::vector<uint32_t>& slots) {
  absl::MutexLock l(&slot_mu_);
  for (uint32_t s : slots) {
    // Back to zeros and to the host: a slot is reused by another address space.
    if (madvise(SlotMem(s), kSlotSize, MADV_REMOVE) != 0) std::memset(SlotMem(s), 0, kSlotSize);
    free_slots_.push_back(s);
  }
}

absl::StatusOr<std::unique_ptr<AddressSpace>> SystrapPlatform::NewAddressSpace() {
  ASSIGN_OR_RETURN(std::unique_ptr<AddressSpace> as, ptrace_->NewAddressSpace());
  std::unique_ptr<ptrace::PtraceAddressSpace> inner(
      static_cast<ptrace::PtraceAddressSpace*>(as.release()));
  return std::unique_ptr<AddressSpace>(new SystrapAddressSpace(*this, std::move(inner)));
}

absl::StatusOr<std::unique_ptr<Context>> SystrapPlatform::NewContext() {
  return std::unique_ptr<Context>(new SystrapContext());
}

// --- SystrapAddressSpace ---

SystrapAddressSpace::SystrapAddressSpace(SystrapPlatform& platform,
                                         std::unique_ptr<ptrace::PtraceAddressSpace> as)
    : platform_(platform), slots_(std::make_shared<SlotSet>(platform)), inner_(std::move(as)) {}

SystrapAddressSpace::~SystrapAddressSpace() {
  inner_.reset();  // Every process of the stub is reaped: its memory map is gone.
  slots_->Close();
}

absl::Status SystrapAddressSpace::CheckRange(std::string_view op, uint64_t addr,
                                             uint64_t len) const {
  const uint64_t max = platform_.MaxUserAddress();
  if (addr > max || len > max - addr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("systrap platform: %s of [%#x, +%#x): outside the guest address space "
                        "[0, %#x)",
                        op, addr, len, max));
  }
  return absl::OkStatus();
}

absl::Status SystrapAddressSpace::MapFile(uint64_t addr, uint64_t file_offset, uint64_t len,
                                          int prot) {
  RETURN_IF_ERROR(CheckRange("MapFile", addr, len));
  return inner_->MapFile(addr, file_offset, len, prot);
}

absl::Status SystrapAddressSpace::MapHostFile(uint64_t addr,
                                              const std::shared_ptr<const HostFile>& file,
                                              uint64_t file_offset, uint64_t len, int prot) {
  RETURN_IF_ERROR(CheckRange("MapHostFile", addr, len));
  return inner_->MapHostFile(addr, file, file_offset, len, prot);
}

absl::Status SystrapAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  RETURN_IF_ERROR(CheckRange("Unmap", addr, len));
  return inner_->Unmap(addr, len);
}

absl::Status SystrapAddressSpace::Recycle() {
  RETURN_IF_ERROR(inner_->Unmap(0, platform_.MaxUserAddress()));
  slots_->Scrub();
  return absl::OkStatus();
}

absl::Status SystrapAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  RETURN_IF_ERROR(CheckRange("Protect", addr, len));
  return inner_->Protect(addr, len, prot);
}

absl::StatusOr<std::shared_ptr<SystrapThread>> SystrapAddressSpace::ThreadForCurrentThread() {
  std::vector<std::shared_ptr<SystrapThread>>& l = threads.list;
  for (size_t i = 0; i < l.size();) {
    if (l[i]->st->gone.load(std::memory_order_relaxed)) {
      l[i] = std::move(l.back());
      l.pop_back();
      continue;
    }
    if (l[i]->as_id == id()) return l[i];
    ++i;
  }
  if (lost()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("systrap platform: stub process %d is lost", inner_->pid()));
  }
  return NewThread();
}

// A guest stub thread: cloned by injection from the calling thread's traced stub
// thread (so it is traced by us from birth), set up with injected syscalls (its
// parent-death signal, its altstack, the guest-thread filter), pointed at the
// wait loop and detached.
absl::StatusOr<std::shared_ptr<SystrapThread>> SystrapAddressSpace::NewThread() {
  ASSIGN_OR_RETURN(std::shared_ptr<StubThread> injector,
                   inner_->StubThreadForCurrentThread(/*create=*/true));
  (void)injector;
  ASSIGN_OR_RETURN(auto acquired, slots_->Acquire());
  const uint32_t slot = acquired.first;
  const bool fresh = acquired.second;
  absl::Cleanup release = [&] { slots_->Release(slot); };
  uint8_t* const mem = platform_.SlotMem(slot);
  const uint64_t base = platform_.SlotStubAddr(slot);
  if (fresh) {
    RETURN_IF_ERROR(
        inner_->MapFile(base, platform_.SlotFileOffset(slot), kSlotSize, PROT_READ | PROT_WRITE));
  }
  std::memset(mem, 0, SYSTRAP_ALTSTACK_OFFSET);

  // The set-up data the injected calls read, in the control page.
  // What the fast entry needs to write a frame rt_sigreturn accepts.
  {
    const uint64_t mask = sentry::arch::FpState::UserFeatures();
    const uint64_t size = sentry::arch::FpState::XsaveSize();
    FpxSwBytes sw{};
    sw.magic1 = kFpXstateMagic1;
    sw.extended_size = static_cast<uint32_t>(size + 4);
    sw.xfeatures = mask;
    sw.xstate_size = static_cast<uint32_t>(size);
    std::memcpy(mem + SYSTRAP_CTL_XSAVE_MASK, &mask, sizeof(mask));
    std::memcpy(mem + SYSTRAP_CTL_FPX_SW, &sw, sizeof(sw));
    std::memcpy(mem + SYSTRAP_CTL_XSTATE_SIZE, &size, sizeof(size));
  }
  stack_t ss{};
  ss.ss_sp = reinterpret_cast<void*>(base + SYSTRAP_ALTSTACK_OFFSET);
  ss.ss_flags = 0;
  ss.ss_size = kSlotSize - SYSTRAP_ALTSTACK_OFFSET;
  std::memcpy(mem + SYSTRAP_CTL_ALTSTACK, &ss, sizeof(ss));

  ASSIGN_OR_RETURN(int64_t child, inner_->InjectSyscall(
                                      SYS_clone, {ptrace::kStubThreadCloneFlags, 0, 0, 0, 0, 0}));
  if (child < 0) {
    return sentry::HostError(
        absl::StrFormat("systrap: clone of a stub thread in stub process %d", inner_->pid()),
        static_cast<int>(-child));
  }
  const pid_t tid = static_cast<pid_t>(child);
  absl::StatusOr<int> pidfd = ptrace::PidfdOpen(tid);
  if (!pidfd.ok()) {
    ::kill(tid, SIGKILL);  // Our tracee: nobody else reaps it.
    while (::waitpid(tid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return pidfd.status();
  }
  // Traced by us from birth (CLONE_PTRACE from a seized tracee): it stops before
  // its first instruction.
  absl::StatusOr<int> status = ptrace::WaitForStub(*pidfd, tid);
  if (!status.ok() || !WIFSTOPPED(*status)) {
    ptrace::KillAndReap(*pidfd);
    close(*pidfd);
    return absl::InternalError(absl::StrFormat(
        "systrap: new stub thread %d: %s", tid,
        status.ok() ? ptrace::DescribeWaitStatus(tid, *status) : status.status().ToString()));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<StubThread> st, inner_->AdoptStubThread(tid, *pidfd));

  // Its set-up in one run of stub code (not one injection per call): the
  // parent-death signal, the altstack, the guest-thread filter.
  {
    user_regs_struct regs = inner_->inject_regs();
    regs.rip = platform_.StubCodeAddr(platform_systrap_stub_thread_setup);
    regs.r15 = base;
    regs.r14 = platform_.GuestFilterProgAddr();
    regs.r13 = platform_.ptrace().stub_int3_addr();
    ASSIGN_OR_RETURN(const user_regs_struct done, inner_->RunUntilInt3(*st, regs));
    if (done.rax != 0) {
      static constexpr const char* kSteps[] = {"prctl(PR_SET_PDEATHSIG)", "sigaltstack",
                                               "seccomp of the guest-thread filter"};
      const char* what = done.r12 >= 1 && done.r12 <= 3 ? kSteps[done.r12 - 1] : "set-up";
      ptrace::RetireStubThread(st);
      return sentry::HostError(absl::StrFormat("systrap: %s in new stub thread %d", what, tid),
                               static_cast<int>(-static_cast<int64_t>(done.rax)));
    }
  }
  // To the wait loop, untraced.
  uint32_t trapped = SYSTRAP_STATE_TRAPPED;
  std::memcpy(mem + SYSTRAP_CTL_STATE, &trapped, sizeof(trapped));
  user_regs_struct regs = inner_->inject_regs();
  regs.rip = platform_.StubCodeAddr(platform_systrap_stub_wait);
  regs.r15 = base;
  regs.rsp = base + kSlotSize;
  if (absl::Status s = ptrace::PtraceSetRegs(tid, regs); !s.ok()) {
    return ptrace::StubThreadLost(*st, "systrap stub thread set-up", s);
  }
  // Every signal blocked in the wait loop, as in the handler: a signal (a stale
  // interrupt) waits for the first frame, whose mask unblocks them.
  const uint64_t all = ~uint64_t{0};
  if (::ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all) != 0) {
    return ptrace::StubThreadLost(*st, "systrap stub thread set-up",
                                  sentry::HostError("PTRACE_SETSIGMASK", errno));
  }
  if (absl::Status s = ptrace::PtraceDetach(tid, 0); !s.ok()) {
    return ptrace::StubThreadLost(*st, "systrap stub thread set-up", s);
  }
  std::move(release).Cancel();
  auto t = std::make_shared<SystrapThread>(st, slots_, slot, mem, base, id(), ptrace::CurrentTid());
  t->patching = platform_.patching();
  threads.list.push_back(t);
  return t;
}

}  // namespace platform::systrap
