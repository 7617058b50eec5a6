// The Kernel: the Sentry's global state — the memory file, the platform, the
// syscall accounting — and the tasks that run guest threads (DESIGN.md §6).
//
// Lock order: the VFS lock > tree_mu (task.h) > a Task's FdTable > MemoryManager >
// MemoryFile.
#ifndef SENTRY_KERNEL_KERNEL_H_
#define SENTRY_KERNEL_KERNEL_H_

#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/arch/vdso/vdso.h"
#include "sentry/kernel/cpu_timers.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/syscall_patch.h"
#include "sentry/kernel/syscall_table.h"
#include "sentry/loader/loader.h"
#include "sentry/memory/memory_file.h"
#include "sentry/time/timekeeper.h"
#include "sentry/time/timer_service.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace sentry::net::afunix {
class Namespace;
}
namespace sentry::fsimpl::mqueue {
class MqueueNamespace;
class UserBytes;
struct Creator;
}  // namespace sentry::fsimpl::mqueue

namespace sentry::kernel {

class Task;
class ThreadGroup;

// Who `t` is as the creator of a POSIX message queue: its real uid (charged),
// its RLIMIT_MSGQUEUE and whether it has CAP_SYS_RESOURCE.
fsimpl::mqueue::Creator MqueueCreator(Task& t);

// The task tree's one lock (see task.h).
ABSL_CONST_INIT extern absl::Mutex tree_mu;

// The Linux release and version the sandbox reports (uname(2), /proc/version,
// /proc/sys/kernel/osrelease): Debian 12's kernel series. No Linux build has
// this version string, which is how tests know they run in the sandbox.
inline constexpr char kLinuxRelease[] = "6.1.0";
inline constexpr char kLinuxVersion[] = "#1 SMP PREEMPT_DYNAMIC sandbox";
// pid_max: Linux's on 64-bit machines with many CPUs (/proc/sys/kernel/pid_max
// shows the default for the CPU count; pids never reach this).
inline constexpr pid_t kPidMax = 4194304;

struct KernelConfig {
  bool strace = false;
  int strace_fd = 2;      // where --strace lines go
  bool randomize = true;  // address-space layout randomization
  std::string hostname = "sandbox";
  // CPUs the sandbox reports (sched_getaffinity, sysinfo, /proc later). Read
  // once at boot: after boot the Sentry opens no host path (sysconf would).
  int num_cpus = 1;
  // Memory the sandbox reports as its total (/proc/meminfo's MemTotal). Read
  // once at boot like num_cpus; 0 means the host's RAM as sysinfo(2) says at
  // boot.
  uint64_t total_memory = 0;
  // Initial resource limits of the first process (RLIM_NLIMITS entries).
  std::vector<rlimit> rlimits;
  // The root filesystem (the Kernel takes it: pass the only reference, as it
  // must die before the memory file); null means an empty tmpfs (with /tmp, /dev, /proc
  // and /sys to mount on).
  std::shared_ptr<vfs::Filesystem> root_fs;
  // The root mount is read-only (a read-only gofer attach): the VFS answers
  // EROFS itself.
  bool root_read_only = false;
  // Map the Sentry's vDSO into every process (AT_SYSINFO_EHDR). Off: the
  // guest's clock calls all trap (runsc --vdso=false, for debugging).
  bool vdso = true;
};

// How the init process ended, as wait(2) would say.
struct ExitStatus {
  int code = 0;    // exit code when signal == 0
  int signal = 0;  // the signal that killed it, or 0
  bool core = false;
};

struct InitArgs {
  // The program; null: `filename` is opened through the sandbox's VFS.
  loader::ExecutableFile* executable = nullptr;
  std::string filename;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  // Files to install as the guest's fds 0, 1, 2, ...
  std::vector<std::shared_ptr<vfs::FileDescription>> stdio;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
  // The initial working directory: this path if it resolves to a directory
  // the process may use, else the root.
  std::string cwd;
};

class Kernel {
 public:
  Kernel(KernelConfig config, const SyscallTable& table, std::unique_ptr<memory::MemoryFile> mf,
         std::unique_ptr<platform::Platform> platform);
  ~Kernel();

  // Starts the init process on its own host thread and waits for the sandbox to
  // end. An error means the Sentry lost control (the message says why).
  absl::StatusOr<ExitStatus> RunInit(const InitArgs& args);

  const KernelConfig& config() const { return config_; }
  const SyscallTable& syscall_table() const { return table_; }
  memory::MemoryFile& memory_file() { return *mf_; }
  // The sandbox's filesystem tree, rooted at KernelConfig::root_fs (under
  // `runsc do`, the host's root through the gofer, read-only).
  // TODO(filesystems issue): the overlay root (a tmpfs over the gofer's).
  vfs::VirtualFilesystem& vfs() { return *vfs_; }
  // A new memfd: an unnamed tmpfs file at "/memfd:NAME (deleted)", opened
  // read-write.
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> NewMemfd(const std::string& name, uint32_t mode,
                                                          const vfs::Owner& owner, int seals);
  platform::Platform& platform() { return *platform_; }
  const platform::Platform& platform() const { return *platform_; }
  // Futex waiters, PI locks and robust lists, shared by every task (futex.h).
  FutexManager& futex() { return *futex_; }
  // Unix-domain socket names: abstract names, bound socket files, files in
  // flight (sentry/net/unix/namespace.h).
  const std::shared_ptr<net::afunix::Namespace>& unix_namespace() const { return unix_ns_; }
  // The initial IPC namespace (System V IPC, sentry/kernel/ipc); tasks hold
  // theirs (Task::ipc_namespace).
  const std::shared_ptr<ipc::IpcNamespace>& root_ipc_namespace() const { return ipc_ns_; }
  // The initial UTS namespace (KernelConfig::hostname, domain "(none)");
  // tasks hold theirs (Task::uts).
  const std::shared_ptr<UtsNamespace>& root_uts_namespace() const { return uts_ns_; }
  // A new, empty IPC namespace (clone and unshare with CLONE_NEWIPC), with
  // no POSIX message queues and the default fs.mqueue limits.
  std::shared_ptr<ipc::IpcNamespace> NewIpcNamespace();
  // A namespace inode number for a new namespace (Linux's proc_alloc_inum).
  uint32_t NewNamespaceInode() { return next_ns_inode_.fetch_add(1, std::memory_order_relaxed); }
  // Whether `pid` is in use as a task, process, process group or session id
  // (clone3's set_tid: EEXIST).
  bool PidInUseLocked(pid_t pid) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);

  // The sandbox's boot clock, the one source of clock_gettime(CLOCK_BOOTTIME),
  // sysinfo's uptime and /proc/uptime: the Timekeeper's CLOCK_BOOTTIME, which
  // tracks the host's (see README.md, "Time").
  static timespec BootClock();
  // The Sentry's clocks (the vDSO's too), and its timers (timerfd; later
  // setitimer, alarm and POSIX timers): see sentry/time/README.md.
  time::Timekeeper& timekeeper() { return time::Timekeeper::Get(); }
  time::TimerService& timers() { return *timers_; }
  // Timers on CPU-time clocks (cpu_timers.h), polled from the TimerService.
  CpuTimerService& cpu_timers() { return *cpu_timers_; }
  // What the loader maps as the vDSO; null with KernelConfig::vdso off.
  const loader::VdsoMapping* vdso_mapping() const {
    return vdso_ != nullptr ? &vdso_mapping_ : nullptr;
  }
  // Boot on the boot clock (BootClock): 0, the host's boot. Uptime and
  // process start times (/proc) count from it.
  const timespec& boot_time() const { return boot_time_; }
  // The wall-clock time of that moment (/proc/stat's btime).
  const timespec& boot_realtime() const { return boot_realtime_; }

  // --- The task set, by tid, and the processes, by tgid (zombies too, until
  // reaped). Guarded by tree_mu (task.h). Lock order: the VFS lock > tree_mu
  // > a task's own locks. ---
  void AddTask(std::shared_ptr<Task> t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  void RemoveTask(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Calls `fn` with task `tid`, which cannot go away meanwhile (though it may
  // be exiting); false (and no call) if there is no such task. tree_mu is not
  // held during the call.
  bool WithTask(pid_t tid, absl::FunctionRef<void(Task&)> fn) const;
  // The tids of every task, ascending.
  std::vector<pid_t> TaskIds() const;
  // The tgids of every process, zombies included, ascending (/proc).
  std::vector<pid_t> ProcessIds() const;
  // /proc's view: like WithTask, but a process's leader that has exited
  // (a zombie, or a leader gone while other threads run) is found too,
  // under its tid, until the process is reaped (Task::dead()).
  bool WithProcTask(pid_t tid, absl::FunctionRef<void(Task&)> fn) const;
  // The tids of process `tgid`'s threads, its exited leader included,
  // ascending; empty if there is no such process.
  std::vector<pid_t> ThreadIds(pid_t tgid) const;
  // A leader that exited: kept for /proc until its process is reaped (or
  // exec gives its tid to another thread).
  void AddDeadLeaderLocked(std::shared_ptr<Task> t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  void ForgetDeadLeaderLocked(pid_t tgid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Destroys the forgotten leaders, outside tree_mu (a Task's destruction
  // may take the VFS lock).
  void ReleaseDeadLeaders();
  int TaskCount() const;
  // The pid given out last (/proc/loadavg).
  pid_t LastPid() const;
  // Under tree_mu: the task or process with this id, or null.
  Task* FindTaskLocked(pid_t tid) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  ThreadGroup* FindThreadGroupLocked(pid_t tgid) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  std::shared_ptr<ThreadGroup> FindThreadGroupPtrLocked(pid_t tgid) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Every process (zombies included), under tree_mu.
  std::vector<ThreadGroup*> ThreadGroupsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // A free pid (not a task, process, process group or session id), or EAGAIN.
  ErrnoOr<pid_t> AllocatePidLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  void AddThreadGroupLocked(std::shared_ptr<ThreadGroup> tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  void RemoveThreadGroupLocked(pid_t tgid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  ThreadGroup* init_thread_group() const { return init_tg_; }
  // The job-control state of the host terminal with device number `rdev`
  // (one per terminal, whatever descriptions refer to it).
  std::shared_ptr<vfs::TtyJobControl> TerminalFor(dev_t rdev);
  std::vector<std::shared_ptr<vfs::TtyJobControl>> TerminalsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  bool SessionHasTerminalLocked(pid_t sid) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // The controlling terminal of session `sid`: a description to reopen
  // (/dev/tty), or null.
  std::shared_ptr<vfs::FileDescription> ControllingTerminal(pid_t sid) const;
  // Remembers a description of a terminal for /dev/tty.
  void NoteTerminalFile(std::shared_ptr<vfs::FileDescription> f);
  // The first process (tgid 1, its own group and session), registered as the
  // namespace's init. RunInit makes it; tests that start a task by hand too.
  std::shared_ptr<ThreadGroup> NewInitThreadGroup();
  // A host thread whose task exited, parked with that task's address space,
  // emptied (AddressSpace::Recycle), and its platform context: a fork takes
  // both for the child and hands the child's task to that thread, which then
  // runs it in the stub threads it already has there (no stub to fork, no
  // stub thread to make, none to kill). Destroying an unused Runner lets the
  // thread go.
  struct RunnerPark;
  struct Runner {
    Runner() = default;
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;
    ~Runner();
    std::unique_ptr<platform::AddressSpace> as;
    std::unique_ptr<platform::Context> ctx;
    std::shared_ptr<RunnerPark> park;  // how to reach the parked thread
  };
  // A parked runner (the most recently parked), or nullptr.
  std::unique_ptr<Runner> TakeRunner();
  // Whether an exiting task's thread should offer itself as a runner: the
  // pool has room and the sandbox is not ending.
  bool WantsRunner();
  // Puts the calling task thread's runner in the pool, where a fork may take
  // it at once (its job waits until the thread is done with its task); the
  // thread then waits for a job on what this returns. nullptr: no room, and
  // `runner` went here.
  std::shared_ptr<RunnerPark> OfferRunner(std::unique_ptr<Runner> runner);

  // Runs `task` on a host thread: `runner`'s, or a new one. There `setup`
  // runs (before the run loop; an error ends the task before it ever ran),
  // then Task::Run. The Kernel owns the task until its run ends.
  void StartTaskThread(std::shared_ptr<Task> task, std::function<absl::Status(Task&)> setup,
                       std::unique_ptr<Runner> runner = nullptr);

  // Records a guest's use of an unimplemented syscall (logged once per number).
  void CountUnimplemented(uint64_t nr);
  // (number, count) of every unimplemented syscall hit so far.
  std::vector<std::pair<uint64_t, uint64_t>> UnimplementedCounts() const;
  // Calls to syscalls the table marks partial (the dispatcher counts them).
  void CountPartial(uint64_t nr) {
    partial_[nr < kMaxSyscallNumber ? nr : kMaxSyscallNumber].fetch_add(1,
                                                                        std::memory_order_relaxed);
  }
  std::vector<std::pair<uint64_t, uint64_t>> PartialCounts() const;

  // Records a guest's use of an unimplemented flag, option or path of an
  // implemented syscall ("prctl(PR_SET_MM)", "kill: delivery to a handler"):
  // counted, and logged once per run. Never a silent failure.
  void RecordGap(std::string_view what);
  // (what, count) of every gap hit so far.
  std::vector<std::pair<std::string, uint64_t>> GapCounts() const;

  // Syscall-site patching's counts (syscall_patch.h).
  SyscallPatchStats& patch_stats() { return patch_stats_; }
  const SyscallPatchStats& patch_stats() const { return patch_stats_; }

 private:
  SyscallPatchStats patch_stats_;
  // /dev, /dev/shm, /proc and /sys (DESIGN.md §8).
  void MountStandardFilesystems();

  KernelConfig config_;
  const SyscallTable& table_;
  std::unique_ptr<memory::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
  // Its pages are in the memory file (so it goes first), and its [vvar] page
  // is a mirror of the Timekeeper's.
  std::unique_ptr<arch::Vdso> vdso_;
  loader::VdsoMapping vdso_mapping_;
  // Outlives every file (timerfds hold its timers).
  std::unique_ptr<time::TimerService> timers_;
  std::unique_ptr<CpuTimerService> cpu_timers_;  // on timers_; outlives every process
  std::unique_ptr<vfs::VirtualFilesystem> vfs_;
  std::shared_ptr<vfs::Filesystem> memfd_fs_;
  std::shared_ptr<vfs::Mount> memfd_mount_;
  timespec boot_time_{};
  timespec boot_realtime_{};
  std::map<pid_t, std::shared_ptr<Task>> tasks_ ABSL_GUARDED_BY(tree_mu);
  std::map<pid_t, std::shared_ptr<ThreadGroup>> thread_groups_ ABSL_GUARDED_BY(tree_mu);
  // Exited leaders of unreaped processes, by tgid (/proc shows them), and
  // those forgotten but not yet destroyed (ReleaseDeadLeaders).
  std::map<pid_t, std::shared_ptr<Task>> dead_leaders_ ABSL_GUARDED_BY(tree_mu);
  std::vector<std::shared_ptr<Task>> forgotten_leaders_ ABSL_GUARDED_BY(tree_mu);
  ThreadGroup* init_tg_ = nullptr;
  pid_t last_pid_ ABSL_GUARDED_BY(tree_mu) = 0;
  std::map<dev_t, std::shared_ptr<vfs::TtyJobControl>> terminals_ ABSL_GUARDED_BY(tree_mu);
  std::vector<std::weak_ptr<vfs::FileDescription>> terminal_files_ ABSL_GUARDED_BY(tree_mu);
  // A host thread's tasks, one after another (StartTaskThread).
  void RunTasks(std::shared_ptr<Task> task, std::function<absl::Status(Task&)> setup);
  // Empties the runner pool for good (the sandbox ends): the threads go.
  void DrainRunners();
  absl::Mutex runners_mu_;
  std::vector<std::unique_ptr<Runner>> runners_ ABSL_GUARDED_BY(runners_mu_);
  bool draining_ ABSL_GUARDED_BY(runners_mu_) = false;
  // Host threads running tasks (or parked as runners); RunInit waits for
  // them all.
  absl::Mutex threads_mu_;
  int live_threads_ ABSL_GUARDED_BY(threads_mu_) = 0;
  // A fatal platform error: the sandbox must stop.
  absl::Status platform_error_ ABSL_GUARDED_BY(threads_mu_);
  std::unique_ptr<FutexManager> futex_;
  std::shared_ptr<net::afunix::Namespace> unix_ns_;
  std::shared_ptr<ipc::IpcNamespace> ipc_ns_;
  std::shared_ptr<UtsNamespace> uts_ns_;
  std::atomic<uint32_t> next_ns_inode_{kFirstDynamicNsIno};
  // RLIMIT_MSGQUEUE bytes by user, for the queues of every IPC namespace.
  std::shared_ptr<fsimpl::mqueue::UserBytes> mq_user_bytes_;
  mutable absl::Mutex gaps_mu_;
  absl::flat_hash_map<std::string, uint64_t> gaps_ ABSL_GUARDED_BY(gaps_mu_);
  // Index kMaxSyscallNumber counts numbers beyond the table.
  std::array<std::atomic<uint64_t>, kMaxSyscallNumber + 1> unimplemented_{};
  std::array<std::atomic<uint64_t>, kMaxSyscallNumber + 1> partial_{};
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_KERNEL_H_
