// A Task is one guest thread, run by its own host thread: switch to the guest,
// handle what came back (a syscall, a fault, a signal), repeat (DESIGN.md §6).
#ifndef SENTRY_KERNEL_TASK_H_
#define SENTRY_KERNEL_TASK_H_

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/platform.h"
#include "sentry/arch/registers.h"
#include "sentry/base/errno.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"
#include "sentry/waiter/waiter.h"

namespace sentry::kernel {

// The kernel's struct sigaction (what rt_sigaction reads and writes).
struct KSigaction {
  uint64_t handler = 0;  // SIG_DFL (0), SIG_IGN (1) or a guest address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};
static_assert(sizeof(KSigaction) == 32);

inline constexpr int kNumSignals = 64;
inline constexpr uint64_t SigBit(int sig) { return uint64_t{1} << (sig - 1); }
inline constexpr uint64_t kUnblockableSignals = SigBit(SIGKILL) | SigBit(SIGSTOP);

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, sorted (as setgroups leaves them)
  bool HasCapability() const { return euid == 0; }  // TODO(processes issue): capability sets.
};

class Task {
 public:
  Task(Kernel& k, pid_t tid);
  ~Task();

  // Sets up the address space and loads the executable. Must run on the task's
  // host thread (the platform's tracer).
  absl::Status Start(const InitArgs& args);
  // The run loop; returns how the thread group ended.
  absl::StatusOr<ExitStatus> Run();

  // The task whose syscall this host thread is serving, or null (the Sentry's
  // own work, other threads). /proc/self resolves through it: the VFS hands
  // filesystems no task.
  static Task* Current();
  // Makes `t` the current task of this thread for a scope (the run loop
  // around each syscall; tests).
  class CurrentScope {
   public:
    explicit CurrentScope(Task* t);
    ~CurrentScope();
    CurrentScope(const CurrentScope&) = delete;
    CurrentScope& operator=(const CurrentScope&) = delete;

   private:
    Task* saved_;
  };

  Kernel& kernel() { return kernel_; }
  mm::MemoryManager& mm() { return *mm_; }
  FdTable& fds() { return *fds_; }
  arch::Registers& regs() { return regs_; }
  platform::Context& context() { return *context_; }

  pid_t tid() const { return tid_; }
  pid_t tgid() const { return tid_; }  // TODO(processes issue): thread groups.
  pid_t ppid() const { return 0; }     // init's parent is outside the namespace.
  pid_t pgid() const { return tid_; }
  pid_t sid() const { return tid_; }

  // Where exec put the image, argv, envp and auxv (/proc/pid/stat, cmdline,
  // environ, auxv), and the path it was given, made absolute against the cwd
  // (/proc/pid/exe).
  const loader::LoadResult& image() const { return image_; }
  const std::string& executable_path() const { return executable_path_; }
  // CLOCK_MONOTONIC when the task started (/proc/pid/stat's starttime).
  const timespec& start_time() const { return start_time_; }

  const Credentials& creds() const { return creds_; }
  // setgroups(2): `groups` sorted.
  void set_groups(std::vector<uint32_t> groups) { creds_.groups = std::move(groups); }
  const std::string& comm() const { return comm_; }
  void set_comm(std::string c) { comm_ = std::move(c); }
  // What file access looks at: fsuid/fsgid, groups, the file capabilities.
  vfs::AccessCreds access_creds() const;
  // Opens `path` (from the task's root and cwd) for exec: a regular file the
  // task may execute, on a mount that allows it (EACCES otherwise).
  ErrnoOr<std::unique_ptr<loader::ExecutableFile>> OpenExecutable(const std::string& path);

  // --- The filesystem context: root, working directory, umask. ---
  // TODO(processes issue): shared between tasks with CLONE_FS.
  const vfs::VirtualDentry& fs_root() const { return fs_root_; }
  const vfs::VirtualDentry& cwd() const { return cwd_; }
  void set_cwd(vfs::VirtualDentry vd) { cwd_ = std::move(vd); }
  void set_fs_root(vfs::VirtualDentry vd) { fs_root_ = std::move(vd); }
  uint32_t umask() const { return umask_; }
  void set_umask(uint32_t m) { umask_ = m & 0777; }

  // --- Exiting. The run loop stops after the current syscall. ---
  void ExitGroup(int code);
  void KillBySignal(int sig, bool core);
  // Sends `sig` (1..64) from the guest to its own thread group (kill, tkill,
  // tgkill to itself). ENOSYS, recorded as a gap, when it would need delivery to
  // a handler (the processes issue).
  ErrnoOrOk SendSignalToSelf(int sig);
  bool exiting() const { return exiting_; }

  // --- Signals, recorded until delivery exists (processes issue). ---
  const KSigaction& sigaction(int sig) const { return sigactions_[sig - 1]; }
  // rt_sigaction: sets the action; one that ignores the signal discards it if
  // pending, as Linux does.
  void set_sigaction(int sig, const KSigaction& act);
  uint64_t signal_mask() const { return signal_mask_; }
  // Sets the mask; signals it unblocks are taken from the pending set.
  void set_signal_mask(uint64_t m);
  // Signals sent while blocked, waiting for the mask to let them through
  // (rt_sigpending). One bit per signal: a queued real-time signal's count and
  // siginfo come with delivery.
  uint64_t pending_signals() const { return pending_ & signal_mask_; }

  // --- Limits. ---
  rlimit& rlimit_of(int resource) { return rlimits_[resource]; }
  // Applies the memory limits to the memory manager after a change.
  void SyncMemoryLimits();

  // --- prctl state, recorded. TODO(processes issue): pdeath_signal is sent
  // when the parent exits, child_subreaper adopts orphans, no_new_privs and
  // keep_caps apply at execve and setuid, dumpable belongs to the mm (and is
  // reset at execve). ---
  int pdeath_signal = 0;
  bool child_subreaper = false;
  bool no_new_privs = false;  // once set, never cleared
  bool keep_caps = false;     // SECURE_KEEP_CAPS
  int dumpable = 1;           // SUID_DUMP_USER

  // --- Scheduling, recorded: the guest's threads run wherever and however the
  // host schedules the platform's stub. ---
  struct SchedAttr {
    int policy = SCHED_OTHER;
    int rt_priority = 0;  // 1..99 under SCHED_FIFO and SCHED_RR, else 0
    bool reset_on_fork = false;
    int nice = 0;  // -20..19
  };
  SchedAttr sched;
  // One bit per CPU of the sandbox (KernelConfig::num_cpus); never empty.
  std::vector<uint64_t> cpu_affinity;

  // --- Thread state from set_tid_address / set_robust_list. ---
  uint64_t clear_child_tid = 0;
  uint64_t robust_list_head = 0;
  uint64_t robust_list_len = 0;

  // --- Blocking. Every wait is interruptible: Interrupt() (from any thread)
  // ends it with EINTR. ---
  // Sleeps until `deadline` on `clock` (absolute; beyond ~2262 means forever).
  // EINTR if interrupted first.
  ErrnoOrOk SleepUntil(clockid_t clock, const timespec& deadline);
  // Waits until host fd `fd` reports one of `events` (poll(2) bits); returns them.
  ErrnoOr<short> WaitHostFd(int fd, short events);
  // Blocks until the task's waker is notified (Ok: re-check what you wait
  // for), it is interrupted (EINTR), `deadline` on `clock` passes (ETIMEDOUT;
  // null: never) or one of `host_fds` is ready. Register waker() on the
  // queues first (waiter::ScopedRegistration).
  ErrnoOrOk Block(clockid_t clock, const timespec* deadline, std::span<pollfd> host_fds = {}) {
    return waker_.Block(clock, deadline, host_fds);
  }
  waiter::Waker& waker() { return waker_; }
  void Interrupt();

  // CPU time the guest thread has used (the stub's time plus the Sentry's work).
  timespec CpuTime() const;

 private:
  void HandleSyscall();
  void HandleFault(const platform::SwitchResult& r);
  void HandleSignal(const platform::SwitchResult& r);

  Kernel& kernel_;
  pid_t tid_;
  Credentials creds_;
  std::string comm_;
  loader::LoadResult image_;
  std::string executable_path_;
  timespec start_time_{};
  vfs::VirtualDentry fs_root_;
  vfs::VirtualDentry cwd_;
  uint32_t umask_ = 022;
  std::unique_ptr<platform::AddressSpace> as_;
  std::unique_ptr<platform::Context> context_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<FdTable> fds_;
  arch::Registers regs_;
  arch::FpState fp_;
  std::array<KSigaction, kNumSignals> sigactions_{};
  uint64_t signal_mask_ = 0;
  uint64_t pending_ = 0;
  std::array<rlimit, RLIM_NLIMITS> rlimits_{};
  bool exiting_ = false;
  ExitStatus exit_status_;
  // What blocking waits sleep on; Interrupt() interrupts it.
  waiter::Waker waker_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TASK_H_
