// The ptrace platform (DESIGN.md §4): one stub process per address space, and in
// it one stub thread per (address space, Sentry host thread) pair, traced by that
// host thread; guest syscalls stop the stub thread through PTRACE_SYSEMU and never
// run on the host. See platform/README.md for the stub layout, the seccomp filter,
// stub threads, interrupts and the threading rules.
//
// Lock order: PtraceContext::mu_, StubCore::mu_, StubFactory::mu_ and
// PtracePlatform::host_files_mu_ are leaves (none is held while taking another).
#ifndef PLATFORM_PTRACE_PTRACE_PLATFORM_H_
#define PLATFORM_PTRACE_PTRACE_PLATFORM_H_

#include <linux/filter.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_factory.h"
#include "platform/ptrace/stub_seccomp.h"

namespace platform::ptrace {

// The host signal Context::Interrupt sends to a running stub thread. A stub never
// gets it otherwise (guest code cannot send host signals), so a stop with it is an
// interrupt, or a stale one that Switch ignores.
inline constexpr int kInterruptSignal = SIGUSR2;

// The stub region: its first page holds the stub code (read+exec).
inline constexpr uint64_t kStubRegionSize = 4096;
// Where a backend built on this one (systrap) puts its own stub code in the page.
inline constexpr uint64_t kStubExtraCodeOffset = 2048;

class PtracePlatform;
class StubCore;

// A stub thread: a host process that shares the stub's memory map, traced by one
// Sentry host thread (its tracer), which alone runs guest code in it (Switch) and
// injects syscalls into it. Owned jointly (shared_ptr) by its address space's
// StubCore, its tracer's thread-local list, and the contexts that last ran in it;
// the object outlives the process, so its pidfd stays valid for late signals.
class StubThread {
 public:
  StubThread(pid_t tid, int pidfd, pid_t tracer, uint64_t as_id, std::weak_ptr<StubCore> core);
  ~StubThread();  // Closes the pidfd (the process is gone by then).
  StubThread(const StubThread&) = delete;
  StubThread& operator=(const StubThread&) = delete;

  const pid_t tid;  // Also its pid: each stub thread is a process of its own.
  const int pidfd;
  const pid_t tracer;    // The Sentry host thread that traces it.
  const uint64_t as_id;  // PtraceAddressSpace::id() of its address space.
  const uint64_t id;     // Unique among all stub threads of this process.
  const std::weak_ptr<StubCore> core;
  // Set once the process was (or is being) killed: never use it again.
  std::atomic<bool> gone{false};
  // The PtraceContext (by id) whose FP state the stub thread holds, or 0. Only its
  // tracer thread touches it.
  uint64_t fp_owner = 0;
};

// The state of one address space that outlives its PtraceAddressSpace handle while
// stub threads or their users still refer to it: the stub's first process (traced
// by the factory thread) and the list of stub threads.
class StubCore {
 public:
  StubCore(pid_t pid, int pidfd, uint64_t id) : pid(pid), pidfd(pidfd), id(id) {}
  ~StubCore();
  StubCore(const StubCore&) = delete;
  StubCore& operator=(const StubCore&) = delete;

  const pid_t pid;  // The stub's first process.
  const int pidfd;
  const uint64_t id;
  // Registers for injected syscalls: the first process's own at its start-up stop
  // (set before the core is shared; the same for every stub thread).
  user_regs_struct inject_regs{};
  // The first process was reaped (factory thread only).
  bool first_reaped = false;

  // Lost (a stub process died or ptrace failed) or destroyed: every call fails.
  std::atomic<bool> dead{false};

  // Marks the core lost and kills every stub thread (their tracers or the
  // destructor reap them). The first process is left to the destructor, so that
  // a clone in flight on the factory thread is never cut in half.
  void MarkLost();
  bool destroyed() const {
    absl::MutexLock l(&mu_);
    return destroyed_;
  }

 private:
  friend class PtraceAddressSpace;
  friend class PtracePlatform;
  friend void RetireStubThread(const std::shared_ptr<StubThread>& st);
  // The same for one of the calling thread's own stub threads, also forgetting it in
  // the thread's list.
  void RetireCurrentThreadsStubThread(const std::shared_ptr<StubThread>& st);

  bool NoneCreating() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return creating_ == 0; }

  mutable absl::Mutex mu_;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
  // Stub threads being created (the destructor waits for them).
  int creating_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<StubThread>> threads_ ABSL_GUARDED_BY(mu_);
};

// Kills and reaps a stub thread whose tracer is done with it, and forgets it (its
// address space's list, its tracer's list). Runs on the tracer thread, or on any
// thread once the tracer cannot use it any more.
void RetireStubThread(const std::shared_ptr<StubThread>& st);
// The same for one of the calling thread's own stub threads, also forgetting it in
// the thread's list.
void RetireCurrentThreadsStubThread(const std::shared_ptr<StubThread>& st);

class PtracePlatform final : public Platform {
 public:
  // Reserves the stub region at the highest free address it can get, copies the
  // stub code there and starts the factory thread. `options.memory_fd` must stay
  // open while the platform lives. `mode` picks the stubs' seccomp filter
  // (stub_seccomp.h); `extra_code` (systrap's stub code, position independent) is
  // copied at kStubExtraCodeOffset in the code page.
  static absl::StatusOr<std::unique_ptr<PtracePlatform>> New(const Options& options,
                                                             StubMode mode = StubMode::kPtrace,
                                                             std::span<const char> extra_code = {});
  // The platform must outlive its address spaces and contexts.
  ~PtracePlatform() override;

  std::string_view Name() const override { return "ptrace"; }
  uint64_t MaxUserAddress() const override { return region_start_; }
  bool ReportsAccessType() const override { return false; }
  // Any host thread: the factory thread creates the stub process.
  absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() override;
  absl::StatusOr<std::unique_ptr<Context>> NewContext() override;
  // The template stub, on the factory thread.
  void Warm() override;

  uint64_t region_start() const { return region_start_; }
  uint64_t region_end() const { return region_start_ + kStubRegionSize; }
  // The stub's `syscall` instruction, and the `int3` right after it.
  uint64_t stub_syscall_addr() const;
  uint64_t stub_int3_addr() const;
  // The factory thread's tid (the tracer of every stub's first process).
  pid_t factory_tid() const { return factory_->tid(); }
  // The template stub's pid, or 0 if there is none now (for tests).
  pid_t TemplatePid();

  // Runs syscall `nr` in a stub and returns its raw result (-errno on failure).
  using Injector =
      absl::FunctionRef<absl::StatusOr<int64_t>(uint64_t nr, const std::array<uint64_t, 6>& args)>;
  // What a backend does to every template stub it makes, before any stub is forked
  // from it (so every stub starts with it): `inject` runs syscalls in the template
  // (on the factory thread, through its code page and seccomp filter). An error
  // kills the template and fails the NewAddressSpace that made it. The systrap
  // backend installs its signal handlers this way. Set it before the first
  // NewAddressSpace.
  using TemplateSetup = std::function<absl::Status(Injector inject)>;
  void SetTemplateSetup(TemplateSetup setup) { template_setup_ = std::move(setup); }
  // The signal actions of every template stub (entry N-1 for signal N; SIGKILL's
  // and SIGSTOP's must be SIG_DFL), which every stub then inherits. The template
  // installs them itself while it sets itself up, before its seccomp filter: no
  // injection (the systrap backend's handlers; as 62 injected rt_sigactions
  // they were most of the template's set-up time). Set it before the first
  // NewAddressSpace.
  using SignalActions = std::array<StubSigaction, 64>;
  void SetTemplateSignalActions(const SignalActions& actions) { template_sigactions_ = actions; }

  // For tests: the number of `file` in the stubs' shared fd table (installed by
  // an earlier MapHostFile in the current template), or -1.
  int InstalledHostFileFd(const HostFile& file);

 private:
  friend class PtraceAddressSpace;
  PtracePlatform(int memory_fd, uint64_t region_start, StubMode mode,
                 std::unique_ptr<StubFactory> factory, int send_fd, int recv_fd,
                 uint64_t scratch_file_offset, uint8_t* scratch_mem);

  // On the factory thread: a new stub, forked from the template stub (which is made
  // first, and made again once if it died).
  absl::StatusOr<std::shared_ptr<StubCore>> CreateStub();
  // Makes (and sets up) the template stub if there is none. Factory thread.
  absl::Status EnsureTemplate();
  // On the factory thread: forks a stub process from the Sentry itself and checks it
  // (how the template stub is made).
  absl::StatusOr<std::shared_ptr<StubCore>> CreateStubFromSentry() const;
  // On the factory thread: injects clone(kStubForkCloneFlags) into the template and
  // checks the child. *template_lost is set if the template died or a ptrace
  // request on it failed (it is then killed and reaped).
  absl::StatusOr<std::shared_ptr<StubCore>> ForkTemplate(StubCore& tmpl, bool* template_lost) const;
  // On the factory thread: unmaps the scratch page from the template if a host-file
  // install left it there, before a fork. *template_lost as ForkTemplate's.
  absl::Status UnmapScratchPage(bool* template_lost);
  // On the factory thread: clones a stub thread from the core's first process,
  // sets its PR_SET_PDEATHSIG and detaches it, stopped.
  absl::Status CloneStubThread(StubCore& core, pid_t* tid, int* pidfd) const;

  // Host files (MapHostFile, platform/README.md): every stub shares the
  // template's fd table (CLONE_FILES), into which the template receives host
  // files through the platform's socket.
  // The template's generation now (a new template has a new, empty table).
  uint64_t CurrentGeneration();
  // The number of `file` in the fd table of the template of `generation`,
  // installed first if needed (on the factory thread). Unimplemented if that
  // template is gone (its stubs keep its table, but nothing is added to it);
  // FailedPrecondition if the install failed otherwise.
  absl::StatusOr<int> HostFileFd(const std::shared_ptr<const HostFile>& file, uint64_t generation);
  // On the factory thread: closes in the template the files whose HostFile is
  // gone, then sends `file` to the template and has it receive it into its
  // table (recvmsg into the scratch page, mapped in the template until its next
  // fork).
  absl::StatusOr<int> InstallHostFile(const std::shared_ptr<const HostFile>& file,
                                      uint64_t generation);
  // On the factory thread: injects syscall `nr` into the template; if that
  // fails, the template is lost (killed, reaped and forgotten: the next
  // NewAddressSpace makes another one) and the error is Unimplemented (the
  // caller of MapHostFile copies instead).
  absl::StatusOr<int64_t> InjectIntoTemplate(uint64_t nr, const std::array<uint64_t, 6>& args,
                                             std::string_view what);
  // Receives and closes whatever is queued on the socket (a message that a
  // failed install left behind).
  void DrainSocket() const;

  const int memory_fd_;
  const uint64_t region_start_;
  // The stub's seccomp filter, built once; children read it from their copy of
  // our memory.
  std::vector<sock_filter> filter_;
  sock_fprog filter_prog_{};
  // The template stub: a stub like any other, which never runs guest code and has no
  // address space; every new stub is a fork of it. Only the factory thread touches
  // it (made at the first NewAddressSpace, killed and reaped by the destructor).
  std::shared_ptr<StubCore> template_;
  TemplateSetup template_setup_;
  std::optional<SignalActions> template_sigactions_;

  // The platform's AF_UNIX datagram socket pair (non-blocking): the Sentry sends
  // host files on send_fd_; recv_fd_ is the receiving end, which every template
  // holds as PTRACE_STUB_SOCKET_FD, kept here to drain it.
  int send_fd_ = -1;
  int recv_fd_ = -1;
  // A page of the memory file past what the memory manager uses (at
  // scratch_file_offset_), mapped here at scratch_mem_ and, while it receives
  // a host file, in the template (only there: no guest ever maps it; the
  // template keeps it from one install to the next, and unmaps it before it
  // forks a stub).
  uint64_t scratch_file_offset_ = 0;
  uint8_t* scratch_mem_ = nullptr;
  // The scratch page is mapped in the template now (factory thread only).
  bool scratch_mapped_ = false;
  absl::Mutex host_files_mu_;
  uint64_t generation_ ABSL_GUARDED_BY(host_files_mu_) = 0;
  struct InstalledHostFile {
    std::weak_ptr<const HostFile> file;
    int fd;  // In the table of the template of generation_.
  };
  // By HostFile::id.
  std::unordered_map<uint64_t, InstalledHostFile> host_files_ ABSL_GUARDED_BY(host_files_mu_);

  std::unique_ptr<StubFactory> factory_;
};

class PtraceAddressSpace final : public AddressSpace {
 public:
  // Kills and reaps every process of the stub. May run on any host thread, also
  // while another host thread is in Switch on it (that Switch then fails).
  ~PtraceAddressSpace() override;

  absl::Status MapFile(uint64_t addr, uint64_t file_offset, uint64_t len, int prot) override;
  // Maps the host file privately (MAP_PRIVATE|MAP_FIXED) from the stubs' shared
  // fd table. Unimplemented if this address space's stub was forked from a
  // template that is gone (lost and made again); FailedPrecondition if the file
  // could not be put into the stubs' table or the host refuses the mapping
  // (EACCES, EPERM, ENODEV: e.g. PROT_EXEC on a noexec mount); InvalidArgument
  // for PROT_WRITE. The caller copies in all three cases.
  absl::Status MapHostFile(uint64_t addr, const std::shared_ptr<const HostFile>& file,
                           uint64_t file_offset, uint64_t len, int prot) override;
  absl::Status Unmap(uint64_t addr, uint64_t len) override;
  absl::Status Protect(uint64_t addr, uint64_t len, int prot) override;
  // Unmaps [0, MaxUserAddress()): a stub thread keeps nothing else of a
  // process (Switch sets every register, and pushes the FP state of a
  // context that did not run here last or is dirty).
  absl::Status Recycle() override;

  // Runs syscall `nr` from the stub's code page (so the stub's seccomp filter
  // applies) and returns its raw result (-errno on failure): in the calling host
  // thread's stub thread if it has one here (and then its guest registers are not
  // preserved: Context::Switch sets all of them), else in the first process, on
  // the factory thread.
  absl::StatusOr<int64_t> InjectSyscall(uint64_t nr, const std::array<uint64_t, 6>& args);

  // The stub's first process.
  pid_t pid() const { return core_->pid; }
  // Unique among all address spaces of this process (pids get reused).
  uint64_t id() const { return core_->id; }
  // Whether the stub is lost (a stub process died, or ptrace failed on it).
  bool lost() const { return core_->dead.load(std::memory_order_relaxed); }

  // The calling host thread's stub thread in this address space (found or, if
  // `create`, created). FailedPrecondition if the address space is lost.
  absl::StatusOr<std::shared_ptr<StubThread>> StubThreadForCurrentThread(bool create);
  // The tid of the calling thread's stub thread here, or 0 (for tests).
  pid_t CurrentStubThreadTid() const;
  // The tids of all live stub threads (for tests).
  std::vector<pid_t> StubThreadTids() const;

  // For the systrap backend (platform/systrap/README.md), which runs guest code in
  // stub threads it clones itself and then detaches:
  // Adds the stub process `tid` (a stub thread, `pidfd` now owned by the result,
  // traced by the calling thread) to this address space's list, so that losing or
  // destroying the address space kills it too. It is not put in the calling
  // thread's list of traced stub threads (no injection goes through it after its
  // set-up). Kills it and fails if the address space is lost or destroyed.
  absl::StatusOr<std::shared_ptr<StubThread>> AdoptStubThread(pid_t tid, int pidfd);
  // Injects syscall `nr` into `st` (stopped, traced by the calling thread) and
  // returns its raw result; on failure `st` is lost (as in Switch).
  absl::StatusOr<int64_t> InjectInto(StubThread& st, uint64_t nr,
                                     const std::array<uint64_t, 6>& args);
  // Runs `st` (stopped, traced by the calling thread) from `regs` until it stops
  // at the stub's int3, and returns its registers there; on failure `st` is lost.
  // For set-up code in the stub code page that ends with a jump to that int3.
  absl::StatusOr<user_regs_struct> RunUntilInt3(StubThread& st, const user_regs_struct& regs);
  // The registers injections start from (rip at the stub's `syscall`).
  const user_regs_struct& inject_regs() const { return core_->inject_regs; }

 private:
  friend class PtracePlatform;
  PtraceAddressSpace(PtracePlatform& platform, std::shared_ptr<StubCore> core, uint64_t generation)
      : platform_(platform), core_(std::move(core)), generation_(generation) {}
  absl::Status CheckRange(std::string_view operation, uint64_t addr, uint64_t len) const;
  absl::StatusOr<std::shared_ptr<StubThread>> NewStubThread();

  PtracePlatform& platform_;
  const std::shared_ptr<StubCore> core_;
  // The generation of the template the stub was forked from (whose fd table it
  // shares).
  const uint64_t generation_;
};

// Builds the error for a stub thread that died or on which a ptrace request failed
// (or an unexpected wait status), kills and reaps it, and marks its address space
// lost. If it died, the message says how; if its address space was destroyed
// meanwhile, the message says that.
absl::Status StubThreadLost(StubThread& st, std::string_view during, absl::Status cause);
absl::Status StubThreadLostWithStatus(StubThread& st, std::string_view during, int wait_status);

// The host CPU time of a stub thread (each is a process of its own, so the
// Sentry may read its process CPU clocks): user time as the guest's, the rest
// as system time. Zeros once it is gone.
Context::CpuTimes StubCpuTimes(pid_t pid);

class PtraceContext final : public Context {
 public:
  PtraceContext();
  // Retires the stub thread it last ran in when destroyed on that stub thread's
  // tracer and no other context's FP state is live there.
  ~PtraceContext() override;

  absl::StatusOr<SwitchResult> Switch(AddressSpace& as, sentry::arch::Registers& regs,
                                      sentry::arch::FpState& fp) override;
  absl::Status SyncFpState(sentry::arch::FpState& fp) override;
  // The calling thread's stub thread in `as` (created if need be).
  absl::Status Prepare(AddressSpace& as) override;
  void Interrupt() override;
  // The stub thread's process CPU clocks (each stub thread is a process of
  // its own, so the host lets the Sentry read them).
  CpuTimes GuestCpuTime() const override;

 private:
  // Whether `st` (the stub thread last run) is the calling thread's in `as`.
  static bool Current(const StubThread* st, const PtraceAddressSpace& as);
  // The pid of the stub thread last_ names (0: none), for GuestCpuTime.
  std::atomic<pid_t> stub_pid_{0};
  absl::Mutex mu_;
  bool interrupt_pending_ ABSL_GUARDED_BY(mu_) = false;
  // The pidfd of the stub thread while Switch runs it, else -1. Interrupt signals
  // it under mu_; last_ keeps it open meanwhile.
  int running_pidfd_ ABSL_GUARDED_BY(mu_) = -1;

  // Unique among all contexts of this process.
  const uint64_t id_;
  // The stub thread this context last ran in (the cache for the next Switch, and
  // where its live FP state is). Only touched by the task's thread.
  std::shared_ptr<StubThread> last_;
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_PLATFORM_H_
