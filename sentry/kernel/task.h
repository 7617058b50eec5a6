// Tasks and thread groups (DESIGN.md §6). A Task is one guest thread, run by
// its own host thread: switch to the guest, handle what came back (a syscall,
// a fault, a signal), deliver pending signals, repeat. A ThreadGroup is a
// process: its threads, its place in the process tree, its signal actions and
// shared pending signals, its exit status.
//
// Locking: `tree_mu` (one lock for the whole task tree, like Linux's
// tasklist_lock and sighand lock together) guards the tree (parents,
// children, thread lists, process groups and sessions), exit and stop state,
// and all signal state (actions, masks, pending sets). Lock order: the VFS
// lock > tree_mu > a FdTable > a MemoryManager > the MemoryFile; a waiter
// Queue's lock may be taken under tree_mu.
#ifndef SENTRY_KERNEL_TASK_H_
#define SENTRY_KERNEL_TASK_H_

#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/arch/registers.h"
#include "sentry/base/errno.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/kernel/itimers.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
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
// The personality bits a privilege-raising exec clears (PER_CLEAR_ON_SETID).
inline constexpr uint32_t kPerClearOnSetid =
    READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO;
inline constexpr uint64_t SigBit(int sig) { return uint64_t{1} << (sig - 1); }
inline constexpr uint64_t kUnblockableSignals = SigBit(SIGKILL) | SigBit(SIGSTOP);
inline constexpr uint64_t kStopSignals =
    SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
// Signals a fault raises: dequeued before any other (Linux's SYNCHRONOUS_MASK).
inline constexpr uint64_t kSynchronousSignals = SigBit(SIGSEGV) | SigBit(SIGBUS) | SigBit(SIGILL) |
                                                SigBit(SIGTRAP) | SigBit(SIGFPE) | SigBit(SIGSYS);
inline constexpr uint64_t kSaRestorer = 0x04000000;
inline constexpr uint64_t kSaOnstack = 0x08000000;
inline constexpr uint64_t kSaRestart = 0x10000000;
inline constexpr uint64_t kSaNodefer = 0x40000000;
inline constexpr uint64_t kSaResethand = 0x80000000;
inline constexpr uint64_t kSaSiginfo = 4;
inline constexpr uint64_t kSaNocldstop = 1;
inline constexpr uint64_t kSaNocldwait = 2;

// The signal actions of a process; shared between processes made with
// CLONE_SIGHAND (threads always are).
struct SignalHandlers {
  std::array<KSigaction, kNumSignals> actions ABSL_GUARDED_BY(tree_mu){};
};

// Signals waiting for delivery: a set, and for each signal the siginfo of
// every queued instance (standard signals hold at most one; real-time ones
// queue).
struct PendingSignals {
  uint64_t set = 0;
  std::array<std::vector<siginfo_t>, kNumSignals> queue;
  bool Has(int sig) const { return (set & SigBit(sig)) != 0; }
  // False when a standard signal was already pending (it is not queued twice).
  bool Add(const siginfo_t& info);
  siginfo_t Take(int sig);
  void Discard(int sig);
  void DiscardSet(uint64_t sigs);
};

// A guest address space: the platform's and the memory manager's halves, and
// what exec put there. Shared by the tasks of CLONE_VM.
struct GuestMemory {
  ~GuestMemory() {
    // The address space goes first, and every mapping with it (its stub processes
    // are killed and reaped): the memory manager, which refers to it, is detached
    // from it and then frees its pages without unmapping them one by one (a
    // platform call each).
    if (mm != nullptr) mm->SetAddressSpace(nullptr);
    as.reset();
    mm.reset();
  }
  std::unique_ptr<platform::AddressSpace> as;
  std::unique_ptr<mm::MemoryManager> mm;
  // Where exec put the image, argv, envp and auxv (/proc/pid/stat, cmdline,
  // environ, auxv), and the path it was given, made absolute against the cwd
  // (/proc/pid/exe).
  loader::LoadResult image;
  std::string executable_path;
  // Syscall sites patched in this memory (systrap).
  SyscallPatchState patches;
};

// Root, working directory and umask: shared by the tasks of CLONE_FS.
class FsContext {
 public:
  FsContext(vfs::VirtualDentry root, vfs::VirtualDentry cwd, uint32_t umask)
      : root_(std::move(root)), cwd_(std::move(cwd)), umask_(umask) {}
  std::shared_ptr<FsContext> Clone() const;
  vfs::VirtualDentry root() const;
  vfs::VirtualDentry cwd() const;
  uint32_t umask() const;
  void set_root(vfs::VirtualDentry vd);
  void set_cwd(vfs::VirtualDentry vd);
  uint32_t set_umask(uint32_t m);  // returns the old one

 private:
  mutable absl::Mutex mu_;
  vfs::VirtualDentry root_ ABSL_GUARDED_BY(mu_);
  vfs::VirtualDentry cwd_ ABSL_GUARDED_BY(mu_);
  uint32_t umask_ ABSL_GUARDED_BY(mu_);
};

// `path` made absolute against `cwd` and normalized lexically (no ".", "..",
// or repeated slashes), as Linux's /proc/pid/exe always is.
std::string AbsolutePathFrom(const std::string& cwd, const std::string& path);

// A process.
class ThreadGroup {
 public:
  ThreadGroup(Kernel& k, pid_t tgid)
      : timers(std::make_unique<ProcessTimers>(k)), kernel_(k), tgid_(tgid) {}
  Kernel& kernel() { return kernel_; }
  pid_t tgid() const { return tgid_; }

  // --- The tree (tree_mu). ---
  ThreadGroup* parent ABSL_GUARDED_BY(tree_mu) = nullptr;  // null: outside the namespace
  std::vector<ThreadGroup*> children ABSL_GUARDED_BY(tree_mu);
  std::vector<Task*> tasks ABSL_GUARDED_BY(tree_mu);  // live threads
  pid_t pgid ABSL_GUARDED_BY(tree_mu) = 0;
  pid_t sid ABSL_GUARDED_BY(tree_mu) = 0;
  // The signal the parent gets when the process ends (clone's low byte).
  int exit_signal ABSL_GUARDED_BY(tree_mu) = SIGCHLD;
  bool child_subreaper ABSL_GUARDED_BY(tree_mu) = false;
  // Whether it has exec'd since fork (setpgid on a child that has: EACCES).
  bool did_exec ABSL_GUARDED_BY(tree_mu) = false;
  // The real uid at exit (siginfo's si_uid for the parent).
  uint32_t exit_uid ABSL_GUARDED_BY(tree_mu) = 0;

  // --- Exit (tree_mu). A group exit (exit_group, a fatal signal) kills
  // every thread; the last thread out makes the process a zombie, which
  // stays until its parent reaps it. ---
  bool group_exiting ABSL_GUARDED_BY(tree_mu) = false;
  bool zombie ABSL_GUARDED_BY(tree_mu) = false;
  ExitStatus exit_status ABSL_GUARDED_BY(tree_mu);

  // --- Job control (tree_mu). ---
  bool stopped ABSL_GUARDED_BY(tree_mu) = false;
  int stop_signal ABSL_GUARDED_BY(tree_mu) = 0;
  // A stop or continue the parent has not collected with wait yet.
  bool stop_waitable ABSL_GUARDED_BY(tree_mu) = false;
  bool continue_waitable ABSL_GUARDED_BY(tree_mu) = false;

  // --- Signals (tree_mu). ---
  std::shared_ptr<SignalHandlers> handlers;  // the pointer is set at creation
  PendingSignals shared_pending ABSL_GUARDED_BY(tree_mu);

  // Notified (kEventChildExit) when a child changes state, for wait4/waitid.
  waiter::Queue child_events;
  // Notified (POLLIN) when a signal is queued for the process or one of its
  // threads (signalfd).
  waiter::Queue signal_events;
  // Notified (POLLIN) when the process becomes a zombie and when it is
  // reaped (POLLHUP), for its pidfds.
  waiter::Queue exit_events;

  // Interval and POSIX timers (itimers.h). Cleared, outside tree_mu, when
  // the last thread exits.
  std::unique_ptr<ProcessTimers> timers;

  // Per-process limits (read and written by the group's threads).
  std::array<rlimit, RLIM_NLIMITS> rlimits{};
  // Resource usage (getrusage, times, wait4): of the threads that exited,
  // and of the reaped children (each with their own reaped children).
  struct Usage {
    int64_t user_ns = 0, sys_ns = 0;
    int64_t minflt = 0;
    int64_t maxrss_kb = 0;  // a peak: combined by max, not sum
    void Add(const Usage& o) {
      user_ns += o.user_ns;
      sys_ns += o.sys_ns;
      minflt += o.minflt;
      maxrss_kb = std::max(maxrss_kb, o.maxrss_kb);
    }
  };
  Usage dead_usage ABSL_GUARDED_BY(tree_mu);
  Usage children_usage ABSL_GUARDED_BY(tree_mu);
  // The process's CPU time (user and system of every thread, live and
  // exited; the rest of Usage left 0). `live`, if given: whether any thread
  // still runs (a zombie's clock has stopped). Takes tree_mu.
  Usage CpuUsage(bool* live = nullptr);
  timespec start_time{};

 private:
  Kernel& kernel_;
  const pid_t tgid_;
};

class Task : public std::enable_shared_from_this<Task> {
 public:
  Task(Kernel& k, pid_t tid);
  ~Task();

  // Sets up init: the address space, and the executable loaded (on a thread
  // of its own, meanwhile this one makes the stub threads). Must run on the
  // task's host thread (the platform's tracer).
  absl::Status StartInit(const InitArgs& args, std::shared_ptr<ThreadGroup> tg);
  // The run loop; returns when the thread has exited.
  absl::Status Run();

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
  ThreadGroup& thread_group() { return *tg_; }
  const std::shared_ptr<ThreadGroup>& thread_group_ptr() { return tg_; }
  mm::MemoryManager& mm() { return *mem_->mm; }
  const std::shared_ptr<GuestMemory>& memory() { return mem_; }
  FdTable& fds() { return *fds_; }
  // --- Namespaces (namespaces.h). Replaced only by the task's own thread
  // (unshare, setns), under ns_mu_; its own thread reads them without it,
  // any other thread takes a snapshot. ---
  ipc::IpcNamespace& ipc() ABSL_NO_THREAD_SAFETY_ANALYSIS { return *ipc_ns_; }
  UtsNamespace& uts() ABSL_NO_THREAD_SAFETY_ANALYSIS { return *uts_ns_; }
  std::shared_ptr<ipc::IpcNamespace> ipc_ns_snapshot() const;
  std::shared_ptr<UtsNamespace> uts_ns_snapshot() const;
  void set_ipc_namespace(std::shared_ptr<ipc::IpcNamespace> ns);
  void set_uts_namespace(std::shared_ptr<UtsNamespace> ns);
  // unshare(2) of the calling task (after the syscall's flag checks):
  // CLONE_FILES, CLONE_FS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_SYSVSEM and the
  // no-op CLONE_THREAD/CLONE_SIGHAND/CLONE_VM of a lone thread.
  ErrnoOrOk Unshare(uint64_t flags);
  // The task's semaphore undo list, made at its first SEM_UNDO (the task's
  // own thread only).
  const ipc::SemUndoList* sem_undo();
  // Leaves the undo list (applying it if this was its last holder): exit,
  // unshare(CLONE_SYSVSEM) and joining another IPC namespace.
  void DetachSemUndo();
  const std::shared_ptr<FdTable>& fd_table_ptr() { return fds_; }
  arch::Registers& regs() { return regs_; }
  arch::FpState& fp() { return fp_; }
  platform::Context& context() { return *context_; }

  pid_t tid() const { return tid_.load(std::memory_order_relaxed); }
  pid_t tgid() const { return tg_->tgid(); }
  pid_t ppid() const;
  pid_t pgid() const;
  pid_t sid() const;

  const loader::LoadResult& image() const { return mem_->image; }
  const std::string& executable_path() const { return mem_->executable_path; }
  // CLOCK_MONOTONIC when the task started (/proc/pid/stat's starttime).
  const timespec& start_time() const { return start_time_; }

  // --- Credentials (credentials.cc): per thread, as in Linux. Only the
  // task's own thread replaces them, never in place (copy-on-write), so a
  // snapshot another thread holds never changes under it. ---
  // The task's own thread only (a syscall handler on its own task).
  const Credentials& creds() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return *creds_; }
  // Any thread (kill's permission check, /proc).
  std::shared_ptr<const Credentials> creds_snapshot() const;
  // The task's own thread: replaces the credentials with commit_creds' side
  // effects (a new euid, egid, fsuid or fsgid, or permitted capabilities
  // gained, make the process non-dumpable and clear pdeath_signal; the
  // memory-lock limit follows CAP_IPC_LOCK).
  void CommitCredentials(Credentials c);
  // What file access looks at: fsuid/fsgid, groups, the file capabilities.
  vfs::AccessCreds access_creds() const { return creds().Access(); }
  // execve's credential transition for `file` (ExecCredentials with this
  // task's no_new_privs and fs sharing), and its commit after the point of
  // no return (dumpability, pdeath_signal on a secure exec).
  ExecTransition ExecCredentialsFor(loader::ExecutableFile& file);
  void CommitExecCredentials(const ExecTransition& t);

  const std::string& comm() const { return comm_; }
  void set_comm(std::string c) { comm_ = std::move(c); }
  // Opens `path` (from the task's root and cwd) for exec: a regular file the
  // task may execute, on a mount that allows it (EACCES otherwise).
  // StartInit's part that needs no particular thread: init's memory, limits,
  // credentials, fds and cwd, then the program loaded.
  absl::Status LoadInit(const InitArgs& args);
  ErrnoOr<std::unique_ptr<loader::ExecutableFile>> OpenExecutable(const std::string& path);
  // The same from `ctx` (execveat): `follow` a final symlink (else ELOOP),
  // `empty_path`: "" names ctx.start (AT_EMPTY_PATH).
  ErrnoOr<std::unique_ptr<loader::ExecutableFile>> OpenExecutableAt(const vfs::PathContext& ctx,
                                                                    const std::string& path,
                                                                    bool follow, bool empty_path);

  // --- The filesystem context: root, working directory, umask. ---
  FsContext& fs() { return *fs_; }
  vfs::VirtualDentry fs_root() const { return fs_->root(); }
  vfs::VirtualDentry cwd() const { return fs_->cwd(); }
  void set_cwd(vfs::VirtualDentry vd) { fs_->set_cwd(std::move(vd)); }
  void set_fs_root(vfs::VirtualDentry vd) { fs_->set_root(std::move(vd)); }
  uint32_t umask() const { return fs_->umask(); }
  // Whether another task shares the filesystem context (CLONE_FS).
  bool fs_context_shared() const { return fs_.use_count() > 1; }
  void set_umask(uint32_t m) { fs_->set_umask(m); }

  // --- Processes (process.cc). ---
  // clone(2), clone3(2): the new task's tid. `stack`, `tls` and the tid
  // pointers as clone takes them.
  struct CloneArgs {
    uint64_t flags = 0;
    int exit_signal = 0;
    uint64_t stack = 0;
    uint64_t parent_tid = 0;
    uint64_t child_tid = 0;
    uint64_t tls = 0;
    // CLONE_PIDFD: where the pidfd's number goes (clone: parent_tid).
    uint64_t pidfd = 0;
    // clone3's set_tid (one level: the sandbox has one pid namespace); 0: any.
    pid_t set_tid = 0;
  };
  ErrnoOr<pid_t> Clone(const CloneArgs& args);
  // execve(2) of an already opened file (argv and envp copied in).
  ErrnoOrOk Exec(const std::string& filename, std::unique_ptr<loader::ExecutableFile> file,
                 std::vector<std::string> argv, std::vector<std::string> envp);
  // exit(2): this thread; exit_group(2): every thread of the process.
  void ExitThread(int code);
  void ExitGroup(int code);
  // The whole process dies of `sig` (a default action).
  void KillBySignal(int sig, bool core);
  bool exiting() const { return exiting_.load(std::memory_order_acquire); }

  // --- Signals (signals.cc). ---
  KSigaction sigaction(int sig) const;
  // rt_sigaction: sets the action; one that ignores the signal discards it if
  // pending, as Linux does.
  void set_sigaction(int sig, const KSigaction& act);
  uint64_t signal_mask() const;
  uint64_t signal_mask_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
    return signal_mask_;
  }
  // Sets the mask (SIGKILL and SIGSTOP never blocked).
  void set_signal_mask(uint64_t m);
  // Blocked signals pending for this thread or its process (rt_sigpending).
  uint64_t pending_signals() const;
  // The signals of `set` pending for this thread or its process.
  uint64_t PendingIn(uint64_t set) const;
  // Whether a signal is pending that this thread would take now.
  bool HasDeliverableSignal() const;
  // sigsuspend/ppoll/pselect/epoll_pwait: the mask to restore once the
  // signal the temporary mask let in has been delivered.
  void SetSavedMask(uint64_t m);
  // What /proc shows of the task (one consistent snapshot under tree_mu).
  struct ProcView {
    char state = 'R';  // R (the reader itself), S, T (stopped), Z (exiting)
    int threads = 1;
    int exit_signal = SIGCHLD;
    uint64_t pending = 0, shared_pending = 0, blocked = 0;
    size_t queued = 0;  // queued signals (SigQ)
  };
  ProcView View() const;
  // --- wait4 / waitid (process.cc) ---
  struct WaitRequest {
    int idtype = P_ALL;  // P_ALL, P_PID, P_PGID
    pid_t id = 0;
    int options = 0;  // WNOHANG, WEXITED, WSTOPPED, WCONTINUED, WNOWAIT, __WALL, __WCLONE
  };
  struct WaitResult {
    pid_t pid = 0;
    int code = 0;    // CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED
    int status = 0;  // exit code or signal
    uint32_t uid = 0;
    ThreadGroup::Usage usage;  // the child's and its reaped children's
  };
  // A child's state change, or nullopt with WNOHANG when none is ready.
  // ECHILD when no child matches; ERESTARTSYS when interrupted.
  ErrnoOr<std::optional<WaitResult>> Wait(const WaitRequest& req);
  // Sends a signal to this thread (tkill, faults) or to its process (kill).
  // `info.si_signo` is the signal. EAGAIN when a real-time signal cannot be
  // queued (RLIMIT_SIGPENDING).
  ErrnoOrOk SendSignal(const siginfo_t& info, bool to_group);
  // A write that ended in EPIPE: send_sig(SIGPIPE, current, 0), to this
  // thread, as from its own process (SI_USER).
  void SendSigpipe();
  // The same with tree_mu held (kill walking the processes).
  ErrnoOrOk SendSignalLockedPublic(const siginfo_t& info, bool to_group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
    return SendSignalLocked(info, to_group);
  }
  // rt_sigtimedwait: unblocks `set` while waiting for it (0: done waiting);
  // the signals stay "blocked" for the rule that blocked signals are never
  // ignored.
  void SetSigwaitSet(uint64_t set);
  // Takes a pending signal in `set` (for rt_sigtimedwait): the lowest first.
  std::optional<siginfo_t> TakeSignal(uint64_t set);
  // A signal the task cannot go on without (rt_sigreturn's bad frame).
  void ForceSignalPublic(const siginfo_t& info) { ForceSignal(info); }
  // rt_sigreturn: restores the frame the handler returns through; false if
  // the frame was bad (the task then gets SIGSEGV).
  bool SignalReturn();
  // Marks the registers as set by the handler (rt_sigreturn, execve): the
  // syscall's result must not overwrite rax.
  void set_regs_replaced() { regs_replaced_ = true; }
  // For a syscall returning ERESTART_RESTARTBLOCK: what restart_syscall runs.
  void set_restart_block(std::function<SyscallResult(Task&)> fn) { restart_block_ = std::move(fn); }
  SyscallResult RunRestartBlock();
  // sigaltstack.
  stack_t alt_stack() const;
  bool OnAltStack(uint64_t sp) const;
  void set_alt_stack(const stack_t& ss) { alt_stack_ = ss; }

  // --- Limits. ---
  rlimit& rlimit_of(int resource) { return tg_->rlimits[resource]; }
  // Applies the memory limits to the memory manager after a change.
  void SyncMemoryLimits();
  // The memory manager's limits from the process's rlimits and `c`.
  mm::Limits MemoryLimits(const Credentials& c) const;

  // --- prctl state. no_new_privs applies at execve (read by /proc); keep_caps
  // is a securebit of the credentials. TODO(processes issue): dumpable belongs
  // to the mm. ---
  int pdeath_signal = 0;
  std::atomic<bool> no_new_privs{false};  // once set, never cleared
  int dumpable = 1;                       // SUID_DUMP_USER

  // --- Scheduling, recorded: the guest's threads run wherever and however the
  // host schedules the platform's stub. ---
  struct SchedAttr {
    int policy = SCHED_OTHER;
    int rt_priority = 0;  // 1..99 under SCHED_FIFO and SCHED_RR, else 0
    bool reset_on_fork = false;
    int nice = 0;  // -20..19
    // SCHED_DEADLINE's parameters (ns) and flags, as sched_setattr set them.
    uint64_t dl_runtime = 0, dl_deadline = 0, dl_period = 0, dl_flags = 0;
  };
  // Any task may read or change another's (sched_*(2), *priority(2)): under
  // sched_mu, a leaf.
  mutable absl::Mutex sched_mu;
  SchedAttr sched ABSL_GUARDED_BY(sched_mu);
  // One bit per CPU of the sandbox (KernelConfig::num_cpus); never empty.
  std::vector<uint64_t> cpu_affinity ABSL_GUARDED_BY(sched_mu);

  // personality(2) (Linux's task->personality): inherited by clone; execve
  // of a 64-bit image clears READ_IMPLIES_EXEC, a secure exec the
  // PER_CLEAR_ON_SETID bits. Any thread (/proc) may read it.
  std::atomic<uint32_t> personality{0};

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
  // Every wait on waker() (this, pipes, futexes, eventfd, epoll, wait4...)
  // tells the platform first that the guest will not run for a while
  // (WillSleep: Context::WillBlock), unless a wake is already pending.
  ErrnoOrOk Block(clockid_t clock, const timespec* deadline, std::span<pollfd> host_fds = {}) {
    return waker_.Block(clock, deadline, host_fds);
  }
  waiter::Waker& waker() { return waker_; }
  void Interrupt();

  // CPU time the guest thread has used (the stub's time plus the Sentry's work).
  timespec CpuTime() const;
  // This thread's usage: user = the guest's time in its stubs; system = the
  // host's for the stubs plus the Sentry's work for the task; minor faults =
  // the faults the Sentry resolved. Any thread.
  ThreadGroup::Usage OwnUsage() const;
  // Where the task's thread waits as a runner, if the exit offered its
  // emptied address space and context to the kernel's pool (else nullptr).
  // For the task's own thread, after Run.
  std::shared_ptr<Kernel::RunnerPark> TakeRunnerPark() { return std::move(runner_park_); }
  // RUSAGE_SELF: every thread of the process, live and exited, with the
  // peak resident set.
  ThreadGroup::Usage ProcessUsage();

  // --- What /proc reads from other threads. The task's own thread replaces
  // its memory, fs context and fd table only under proc_mu_ (exec, exit);
  // a reader elsewhere takes a reference under it. After exit they are null
  // (the memory, the fs context: Linux's exit_mm, exit_fs) or empty (the fd
  // table), and dead() is true: a process's leader stays visible in /proc
  // (Kernel::WithProcTask) until the process is reaped. ---
  std::shared_ptr<GuestMemory> memory_for_proc() const;
  std::shared_ptr<FsContext> fs_for_proc() const;
  std::shared_ptr<FdTable> fds_for_proc() const;
  bool dead() const { return dead_.load(std::memory_order_acquire); }

 private:
  // waker_'s SleepListener: the task's thread is about to sleep. A member, not
  // a base, so that Task has no vtable (UBSan's vptr checks would then need
  // Task's typeinfo in every library that calls it).
  struct SleepHook final : waiter::SleepListener {
    explicit SleepHook(Task* t) : task(t) {}
    void WillSleep() override;
    void Woke() override;
    Task* const task;
  };
  SleepHook sleep_hook_{this};
  // Asleep in a wait of the Sentry's (waker_'s Block): /proc's state S;
  // otherwise the task runs guest code or is served (R).
  std::atomic<bool> sleeping_{false};
  friend class Kernel;
  friend class ThreadGroup;
  void HandleSyscall();
  // At a syscall that trapped: patch its site (syscall_patch.h).
  void MaybePatchSyscallSite();
  void HandleFault(const platform::SwitchResult& r);
  void HandleSignal(const platform::SwitchResult& r);
  // Before going back to the guest: stop if the group is stopped, deliver
  // pending signals (running a handler, or a default action), and settle an
  // interrupted syscall's restart.
  void PrepareReturnToGuest();
  // Delivers one pending signal, if any: none was deliverable, a handler
  // frame was set up, or a default action was taken (look again).
  enum class Delivery { kNone, kHandler, kAgain };
  Delivery DeliverSignal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  ErrnoOrOk SendSignalLocked(const siginfo_t& info, bool to_group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Tells `child`'s parent it exited, stopped or continued (`why`: CLD_*):
  // SIGCHLD (or the exit signal) unless the parent asked not to, and a wake
  // for its waits.
  static void NotifyParentLocked(ThreadGroup& child, int why, int status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  bool SetupHandlerFrame(int sig, const siginfo_t& info, const KSigaction& act)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // A fault or trap the guest cannot continue past without a handler.
  void ForceSignal(const siginfo_t& info);
  // The thread-exit path: robust futexes, clear_child_tid, leaving the group.
  void FinishExit();
  // mm_release: clear_child_tid and the robust list, on leaving a memory
  // (exit, exec).
  void ReleaseMemory(bool exec);
  // Lets a vfork parent go on (the child exec'd or exited).
  // execve past the point of no return: moves the old memory's address space,
  // emptied, to `mem` if this task is the only holder of the old memory.
  bool TakeAddressSpaceForExec(GuestMemory& mem);
  void ReleaseVfork();
  std::string AbsoluteExecPath(const std::string& filename) const;
  // Drops the POSIX record locks the process holds on these files and tells
  // each it was closed (filp_close: f_op->flush).
  void ReleasePosixLocksOf(const std::vector<std::shared_ptr<vfs::FileDescription>>& files);
  // Tells a dead child's parent (and reaps it if the parent ignores SIGCHLD).
  static void NotifyExitLocked(ThreadGroup& child) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Reaps a zombie child: gone from the tree and the pid table.
  static void ReapLocked(ThreadGroup& child) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // The group's last thread is gone: it becomes a zombie and its parent hears.
  void BecomeZombie() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Chooses the thread that takes a process-directed signal, and wakes it.
  void WakeForSignal(int sig, bool to_group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Stops the group (a stop signal's default action) / continues it.
  void StopGroup(int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  void KillGroupLocked(const ExitStatus& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
  // Sets up a new task for clone (runs on the parent's thread).
  void InheritFrom(Task& parent, uint64_t flags);
  // Sets the credentials without commit_creds' side effects (init; clone,
  // where the child shares the parent's until either changes them).
  void SetCredentials(std::shared_ptr<const Credentials> c);

  Kernel& kernel_;
  std::atomic<pid_t> tid_;  // changes only when exec takes over the leader's tid
  std::shared_ptr<ThreadGroup> tg_;
  // Replaced whole, by the task's own thread only (CommitCredentials); the
  // lock lets other threads take a snapshot.
  mutable absl::Mutex creds_mu_;
  std::shared_ptr<const Credentials> creds_ ABSL_GUARDED_BY(creds_mu_) =
      std::make_shared<const Credentials>();
  std::string comm_;
  timespec start_time_{};
  // Read freely by the task's own thread; replaced (by it) and read by
  // others under proc_mu_.
  mutable absl::Mutex proc_mu_;
  std::shared_ptr<FsContext> fs_;
  std::shared_ptr<GuestMemory> mem_;
  std::atomic<bool> dead_{false};
  // Usage (OwnUsage): the guest's time in the stubs an exec left behind, the
  // host thread's CPU clock (-1 before Run), faults resolved; and whether the
  // exit counted this thread into the group's dead_usage already.
  std::atomic<int64_t> stub_user_base_{0}, stub_sys_base_{0};
  std::atomic<clockid_t> host_clock_{-1};
  std::atomic<int64_t> minflt_{0};
  bool usage_counted_ ABSL_GUARDED_BY(tree_mu) = false;
  std::unique_ptr<platform::Context> context_;
  // Set by FinishExit when the exit offered the address space and context
  // as a runner (Kernel::Runner).
  std::shared_ptr<Kernel::RunnerPark> runner_park_;
  // The task runs on a runner's host thread: Run starts its clock from
  // where the thread's earlier tasks left it.
  bool reused_thread_ = false;
  std::shared_ptr<FdTable> fds_;
  // System V IPC (CLONE_NEWIPC gives a child a fresh one) and the host and
  // domain names (CLONE_NEWUTS a copy). ns_mu_ is a leaf.
  mutable absl::Mutex ns_mu_;
  std::shared_ptr<ipc::IpcNamespace> ipc_ns_ ABSL_GUARDED_BY(ns_mu_);
  std::shared_ptr<UtsNamespace> uts_ns_ ABSL_GUARDED_BY(ns_mu_);
  // Shared with the tasks cloned with CLONE_SYSVSEM; applied when the last
  // of them exits (exit_sem).
  std::shared_ptr<ipc::SemUndoList> sem_undo_;
  arch::Registers regs_;
  arch::FpState fp_;
  uint64_t signal_mask_ ABSL_GUARDED_BY(tree_mu) = 0;
  // rt_sigtimedwait: the signals waited for, unblocked meanwhile but never
  // ignored (Linux's real_blocked).
  uint64_t real_blocked_ ABSL_GUARDED_BY(tree_mu) = 0;
  // A mask to restore after the next handler is set up (or at once if none).
  std::optional<uint64_t> saved_mask_ ABSL_GUARDED_BY(tree_mu);
  PendingSignals pending_ ABSL_GUARDED_BY(tree_mu);
  stack_t alt_stack_{nullptr, SS_DISABLE, 0};
  std::atomic<bool> exiting_{false};
  // Whether to run the exit path when the loop ends (a thread that exited).
  int exit_code_ = 0;
  // vfork: the parent waits on this until the child execs or exits.
  struct VforkWait {
    waiter::Queue queue;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<VforkWait> vfork_;
  // Set by a syscall handler that replaced the whole register file
  // (rt_sigreturn, execve): the result must not go to rax.
  bool regs_replaced_ = false;
  // The last syscall returned an ERESTART* code (still in rax).
  bool syscall_restart_ = false;
  // What restart_syscall(2) resumes after ERESTART_RESTARTBLOCK.
  std::function<SyscallResult(Task&)> restart_block_;
  // What blocking waits sleep on; Interrupt() interrupts it.
  waiter::Waker waker_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TASK_H_
