// The process lifecycle, as Linux's kernel/fork.c, exit.c and fs/exec.c do
// it: clone (threads and fork), execve, exit, zombies and reaping, wait.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/personality.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/kernel/futex_exit.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/tty.h"

namespace sentry::kernel {
namespace {

// The namespaces that need CAP_SYS_ADMIN (not CLONE_NEWUSER), and those the
// sandbox can make.
constexpr uint64_t kCloneNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                      CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;
constexpr uint64_t kSupportedNamespaces = CLONE_NEWIPC | CLONE_NEWUTS;

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.size() > 15) base.resize(15);  // TASK_COMM_LEN - 1
  return base;
}

// flush_signal_handlers(t, 0): caught signals back to SIG_DFL, ignored
// ones stay ignored, and every action loses its flags, mask and restorer.
void FlushSignalHandlersLocked(SignalHandlers& h) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
  for (KSigaction& act : h.actions) {
    if (act.handler != 1 /*SIG_IGN*/) act.handler = 0;
    act.flags = 0;
    act.restorer = 0;
    act.mask = 0;
  }
}

}  // namespace

// --- clone ---

const ipc::SemUndoList* Task::sem_undo() {
  if (sem_undo_ == nullptr) sem_undo_ = std::make_shared<ipc::SemUndoList>(ipc_ns_snapshot());
  return sem_undo_.get();
}

void Task::DetachSemUndo() {
  // exit_sem: the last holder of the list applies its adjustments.
  if (sem_undo_ == nullptr) return;
  sem_undo_->set_exit_pid(tgid());
  sem_undo_.reset();
}

void Task::InheritFrom(Task& parent, uint64_t flags) {
  SetCredentials(parent.creds_snapshot());
  comm_ = parent.comm_;
  start_time_ = Kernel::BootClock();
  {
    // Parent, then child (new: nobody else holds it yet).
    absl::MutexLock parent_sched(&parent.sched_mu);
    absl::MutexLock child_sched(&sched_mu);
    sched = parent.sched;
    if (sched.reset_on_fork) {
      // SCHED_RESET_ON_FORK: the child goes back to a normal policy and nice 0
      // or above.
      if (sched.policy != SCHED_OTHER && sched.policy != SCHED_BATCH &&
          sched.policy != SCHED_IDLE) {
        sched.policy = SCHED_OTHER;
        sched.rt_priority = 0;
      }
      sched.nice = std::max(sched.nice, 0);
      sched.reset_on_fork = false;
    }
    cpu_affinity = parent.cpu_affinity;
  }
  personality = parent.personality.load();
  no_new_privs = parent.no_new_privs.load();
  dumpable = parent.dumpable;
  fs_ = (flags & CLONE_FS) ? parent.fs_ : parent.fs_->Clone();
  fds_ = (flags & CLONE_FILES) ? parent.fds_ : parent.fds_->Fork();
  set_ipc_namespace((flags & CLONE_NEWIPC) ? kernel_.NewIpcNamespace() : parent.ipc_ns_snapshot());
  set_uts_namespace((flags & CLONE_NEWUTS) ? parent.uts().Clone(kernel_.NewNamespaceInode())
                                           : parent.uts_ns_snapshot());
  // copy_semundo: CLONE_SYSVSEM shares the undo list (making it first).
  if (flags & CLONE_SYSVSEM) {
    (void)parent.sem_undo();
    sem_undo_ = parent.sem_undo_;
  }
  // A thread sharing the memory but not a vfork gets no alternate stack.
  if ((flags & (CLONE_VM | CLONE_VFORK)) != CLONE_VM) alt_stack_ = parent.alt_stack_;
  regs_ = parent.regs_;
  regs_.r.rax = 0;  // the child's clone returns 0
  fp_ = parent.fp_;
  fp_.set_dirty(true);
}

ErrnoOr<pid_t> Task::Clone(const CloneArgs& a) {
  const uint64_t flags = a.flags;
  // copy_process's checks, in its order.
  if ((flags & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS)) return Errno(EINVAL);
  if ((flags & (CLONE_NEWUSER | CLONE_FS)) == (CLONE_NEWUSER | CLONE_FS)) return Errno(EINVAL);
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return Errno(EINVAL);
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return Errno(EINVAL);
  if ((flags & CLONE_PARENT) && tg_.get() == kernel_.init_thread_group()) {
    return Errno(EINVAL);  // init (SIGNAL_UNKILLABLE) may not make siblings
  }
  // A thread stays in its process's user and pid namespaces.
  if ((flags & CLONE_THREAD) && (flags & (CLONE_NEWUSER | CLONE_NEWPID))) return Errno(EINVAL);
  // CLONE_DETACHED is kept back for CLONE_PIDFD's sake.
  if ((flags & CLONE_PIDFD) && (flags & (CLONE_DETACHED | CLONE_THREAD))) return Errno(EINVAL);
  if (flags & CLONE_NEWUSER) {
    // TODO(processes issue): user namespaces (they need no privilege in Linux).
    kernel_.RecordGap("clone(CLONE_NEWUSER): user namespaces");
    return Errno(EINVAL);
  }
  // copy_namespaces: CAP_SYS_ADMIN first, then CLONE_NEWIPC without the
  // semaphore undo list it leaves behind.
  if ((flags & kCloneNamespaces) && !creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
  if ((flags & CLONE_NEWIPC) && (flags & CLONE_SYSVSEM)) return Errno(EINVAL);
  if (flags & kCloneNamespaces & ~kSupportedNamespaces) {
    // TODO(processes issue): mount, pid, network, cgroup and time namespaces.
    kernel_.RecordGap("clone with new mnt/pid/net/cgroup/time namespaces");
    return Errno(EINVAL);
  }
  // alloc_pid's set_tid checks (one level: one pid namespace).
  if (a.set_tid != 0) {
    if (a.set_tid < 1 || a.set_tid >= kPidMax) return Errno(EINVAL);
    if (!creds().HasCapability(CAP_SYS_ADMIN) && !creds().HasCapability(CAP_CHECKPOINT_RESTORE)) {
      return Errno(EPERM);
    }
  }
  if (exiting()) return Errno(kERESTARTNOINTR);

  pid_t tid;
  {
    absl::MutexLock l(&tree_mu);
    if (a.set_tid != 0) {
      if (kernel_.PidInUseLocked(a.set_tid)) return Errno(EEXIST);
      tid = a.set_tid;
    } else {
      ASSIGN_OR_RETURN(tid, kernel_.AllocatePidLocked());
    }
  }
  auto child = std::make_shared<Task>(kernel_, tid);
  // The parent's FP state is copied: pull it from the platform first.
  if (!context_->SyncFpState(fp_).ok()) return Errno(ENOMEM);
  child->InheritFrom(*this, flags);
  if (a.stack != 0) child->regs_.r.rsp = a.stack;
  if (flags & CLONE_SETTLS) {
    if (a.tls >= kTaskSizeMax) return Errno(EPERM);
    child->regs_.r.fs_base = a.tls;
  }
  if (flags & CLONE_CHILD_CLEARTID) child->clear_child_tid = a.child_tid;

  // The process it joins or starts.
  std::shared_ptr<ThreadGroup> tg;
  if (flags & CLONE_THREAD) {
    tg = tg_;
  } else {
    tg = std::make_shared<ThreadGroup>(kernel_, tid);
    tg->start_time = child->start_time_;
    tg->rlimits = tg_->rlimits;
    if (flags & CLONE_SIGHAND) {
      tg->handlers = tg_->handlers;
    } else {
      tg->handlers = std::make_shared<SignalHandlers>();
      absl::MutexLock l(&tree_mu);
      tg->handlers->actions = tg_->handlers->actions;
      // CLONE_CLEAR_SIGHAND: flush_signal_handlers(child, 0), as execve.
      if (flags & CLONE_CLEAR_SIGHAND) FlushSignalHandlersLocked(*tg->handlers);
    }
  }
  child->tg_ = tg;
  {
    absl::MutexLock l(&tree_mu);
    child->signal_mask_ = signal_mask_;
  }
  // A new process starts its CPU time at 0 under the inherited RLIMIT_CPU
  // (posix_cpu_timers_init_group).
  if (!(flags & CLONE_THREAD) && tg->rlimits[RLIMIT_CPU].rlim_cur != RLIM_INFINITY) {
    tg->timers->UpdateCpuLimit(tg, tg->rlimits[RLIMIT_CPU].rlim_cur);
  }

  // The platform context and the memory: shared, or a copy-on-write copy
  // in a new address space (any host thread may make and change one).
  // A new process takes a parked runner's if there is one (Kernel::Runner):
  // then its task runs on that runner's host thread.
  platform::Platform& p = kernel_.platform();
  std::unique_ptr<Kernel::Runner> runner;
  if (!(flags & CLONE_VM)) runner = kernel_.TakeRunner();
  if (runner != nullptr) {
    // The stub thread's time so far was earlier processes'; the FP state live
    // in it too, so the child's must be pushed (InheritFrom made it dirty
    // already).
    const platform::Context::CpuTimes g = runner->ctx->GuestCpuTime();
    child->stub_user_base_.store(-g.user_ns, std::memory_order_relaxed);
    child->stub_sys_base_.store(-g.sys_ns, std::memory_order_relaxed);
    child->context_ = std::move(runner->ctx);
    child->fp_.set_dirty(true);
    child->reused_thread_ = true;
  } else {
    auto ctx = p.NewContext();
    if (!ctx.ok()) {
      SLOG(kWarning, "clone: %s", ctx.status().ToString());
      return Errno(EAGAIN);
    }
    child->context_ = *std::move(ctx);
  }
  if (flags & CLONE_VM) {
    child->mem_ = mem_;
  } else {
    std::unique_ptr<platform::AddressSpace> as;
    if (runner != nullptr) {
      as = std::move(runner->as);
    } else {
      absl::StatusOr<std::unique_ptr<platform::AddressSpace>> made = p.NewAddressSpace();
      if (!made.ok()) {
        SLOG(kWarning, "clone: %s", made.status().ToString());
        return Errno(EAGAIN);
      }
      as = *std::move(made);
    }
    auto mem = std::make_shared<GuestMemory>();
    mem->as = std::move(as);
    mem->mm = mem_->mm->Fork(mem->as.get());
    if (mem->mm == nullptr) return Errno(ENOMEM);
    mem->image = mem_->image;
    mem->executable_path = mem_->executable_path;
    mem->patches.CopyFrom(mem_->patches);
    child->mem_ = std::move(mem);
  }
  if (flags & CLONE_VFORK) child->vfork_ = std::make_shared<VforkWait>();
  std::shared_ptr<VforkWait> vfork = child->vfork_;
  // CLONE_PIDFD: a pidfd in the parent's table (close-on-exec; a child that
  // shares the table sees it too), its number stored before the child
  // exists: a fault is EFAULT and no child.
  int pidfd = -1;
  if (flags & CLONE_PIDFD) {
    ASSIGN_OR_RETURN(pidfd, fds_->Install(std::make_shared<PidFd>(tg, 0), /*cloexec=*/true, 0,
                                          rlimit_of(RLIMIT_NOFILE).rlim_cur));
    if (!mem_->mm->CopyOutObj(UserPtr<int32_t>(a.pidfd), int32_t{pidfd}).ok()) {
      [[maybe_unused]] auto r = fds_->Close(pidfd);
      return Errno(EFAULT);
    }
  }
  if (flags & CLONE_PARENT_SETTID) {
    // Linux writes it in the parent (and, with CLONE_VM, so in the child),
    // ignoring a fault.
    [[maybe_unused]] auto r = mem_->mm->CopyOutObj(UserPtr<int32_t>(a.parent_tid), tid);
  }
  if (flags & CLONE_CHILD_SETTID) {
    // Written in the child's memory before it runs.
    [[maybe_unused]] auto r = child->mm().CopyOutObj(UserPtr<int32_t>(a.child_tid), tid);
  }

  tree_mu.Lock();
  if (tg_->group_exiting) {
    // A fatal signal came meanwhile: the clone never happened.
    tree_mu.Unlock();
    if (pidfd >= 0) {
      [[maybe_unused]] auto r = fds_->Close(pidfd);
    }
    return Errno(kERESTARTNOINTR);
  }
  if (a.set_tid != 0 && kernel_.PidInUseLocked(tid)) {
    // Taken meanwhile by another clone.
    tree_mu.Unlock();
    if (pidfd >= 0) {
      [[maybe_unused]] auto r = fds_->Close(pidfd);
    }
    return Errno(EEXIST);
  }
  {
    if (!(flags & CLONE_THREAD)) {
      ThreadGroup* parent = (flags & CLONE_PARENT) ? tg_->parent : tg_.get();
      tg->parent = parent;
      if (parent != nullptr) parent->children.push_back(tg.get());
      tg->pgid = tg_->pgid;
      tg->sid = tg_->sid;
      tg->exit_signal = (flags & CLONE_PARENT) ? tg_->exit_signal : a.exit_signal;
      kernel_.AddThreadGroupLocked(tg);
    }
    tg->tasks.push_back(child.get());
    kernel_.AddTask(child);
  }
  tree_mu.Unlock();
  kernel_.StartTaskThread(
      child, [](Task&) { return absl::OkStatus(); }, std::move(runner));

  if (vfork != nullptr) {
    // The parent sleeps until the child execs or exits; only SIGKILL ends the
    // wait early (wait_for_vfork_done is killable).
    waiter::ScopedRegistration reg(vfork->queue, &waker_, waiter::kEventAll);
    while (!vfork->done.load(std::memory_order_acquire) && !exiting()) {
      [[maybe_unused]] ErrnoOrOk r = waker_.Block(CLOCK_MONOTONIC, nullptr);
      if (!r.ok() && !exiting()) waker_.ClearInterrupt();
    }
  }
  return tid;
}

// --- unshare ---

ErrnoOrOk Task::Unshare(uint64_t flags) {
  // ksys_unshare's implications.
  if (flags & CLONE_NEWUSER) flags |= CLONE_THREAD | CLONE_FS;
  if (flags & CLONE_VM) flags |= CLONE_SIGHAND;
  if (flags & CLONE_SIGHAND) flags |= CLONE_THREAD;
  if (flags & CLONE_NEWNS) flags |= CLONE_FS;
  // check_unshare_flags.
  constexpr uint64_t kAllowed = CLONE_THREAD | CLONE_FS | CLONE_NEWNS | CLONE_SIGHAND | CLONE_VM |
                                CLONE_FILES | CLONE_SYSVSEM | CLONE_NEWUTS | CLONE_NEWIPC |
                                CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWCGROUP |
                                CLONE_NEWTIME;
  if (flags & ~kAllowed) return Errno(EINVAL);
  // Sharing the process, the signal actions or the memory cannot be undone:
  // those flags are accepted only when nothing is shared.
  if (flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) {
    absl::MutexLock l(&tree_mu);
    if (tg_->tasks.size() > 1) return Errno(EINVAL);
    if (flags & CLONE_SIGHAND) {
      for (ThreadGroup* g : kernel_.ThreadGroupsLocked()) {
        if (g != tg_.get() && !g->zombie && g->handlers == tg_->handlers) return Errno(EINVAL);
      }
    }
    // current_is_single_threaded(): no other task uses the memory (a vfork
    // parent, a CLONE_VM child).
    if ((flags & CLONE_VM) && mem_.use_count() > 1) return Errno(EINVAL);
  }
  if (flags & CLONE_NEWUSER) {
    // TODO(processes issue): user namespaces.
    kernel_.RecordGap("unshare(CLONE_NEWUSER): user namespaces");
    return Errno(EINVAL);
  }
  if ((flags & kCloneNamespaces) && !creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
  if (flags & kCloneNamespaces & ~kSupportedNamespaces) {
    // TODO(processes issue): mount, pid (for the children), network, cgroup
    // and time namespaces.
    kernel_.RecordGap("unshare of mnt/pid/net/cgroup/time namespaces");
    return Errno(EINVAL);
  }
  // Nothing can fail from here.
  if ((flags & CLONE_FS) && fs_.use_count() > 1) fs_ = fs_->Clone();
  if ((flags & CLONE_FILES) && fds_.use_count() > 1) fds_ = fds_->Fork();
  if (flags & CLONE_NEWIPC) set_ipc_namespace(kernel_.NewIpcNamespace());
  if (flags & CLONE_NEWUTS) set_uts_namespace(uts().Clone(kernel_.NewNamespaceInode()));
  // CLONE_SYSVSEM (and CLONE_NEWIPC, which implies it) detach from the System V
  // semaphore undo list as exit does.
  if (flags & (CLONE_SYSVSEM | CLONE_NEWIPC)) DetachSemUndo();
  return Ok();
}

// --- execve ---

ErrnoOrOk Task::Exec(const std::string& filename, std::unique_ptr<loader::ExecutableFile> file,
                     std::vector<std::string> argv, std::vector<std::string> envp) {
  // Everything is built aside; the old image stays until the new one loaded
  // (the loader's failures are plain errors, not a killed process).
  platform::Platform& p = kernel_.platform();
  auto mem = std::make_shared<GuestMemory>();
  // The new image is built without an address space (loading maps nothing on
  // the platform). It gets the old image's, emptied, past the point of no
  // return if nothing else holds the old memory then (ExecAddressSpace): no
  // stub to make now and none to destroy. A memory shared with another task
  // (a vfork parent, CLONE_VM, threads not yet gone) gets a new one, made here
  // while failing is still an error.
  {
    bool shared;
    {
      absl::MutexLock l(&proc_mu_);
      shared = mem_.use_count() > 1;
    }
    if (shared) {
      auto as = p.NewAddressSpace();
      if (!as.ok()) {
        SLOG(kWarning, "execve: %s", as.status().ToString());
        return Errno(ENOMEM);
      }
      mem->as = *std::move(as);
    }
  }
  mm::Layout layout;
  layout.max_addr = p.MaxUserAddress();
  mem->mm = std::make_unique<mm::MemoryManager>(kernel_.memory_file(), nullptr, layout);
  // The new credentials (set-id bits, capabilities, AT_SECURE), committed
  // past the point of no return.
  const ExecTransition new_creds = ExecCredentialsFor(*file);
  loader::LoadArgs la;
  la.file = file.get();
  la.filename = filename;
  la.argv = std::move(argv);
  la.envp = std::move(envp);
  la.creds = {new_creds.creds.ruid, new_creds.creds.euid, new_creds.creds.rgid,
              new_creds.creds.egid, new_creds.secure};
  // ADDR_NO_RANDOMIZE (kept across this exec unless it is a secure one).
  {
    uint32_t pers = personality.load();
    if (new_creds.secure) pers &= ~kPerClearOnSetid;
    la.randomize = kernel_.config().randomize && !(pers & ADDR_NO_RANDOMIZE);
  }
  la.max_addr = p.MaxUserAddress();
  la.stack_limit = tg_->rlimits[RLIMIT_STACK].rlim_cur;
  la.open_interp = [this](const std::string& path) { return OpenExecutable(path); };
  la.vdso = kernel_.vdso_mapping();
  // The limits apply to the new image as it is built.
  mem->mm->SetLimits(MemoryLimits(new_creds.creds));
  std::string error;
  auto loaded = loader::Load(*mem->mm, la, &error);
  if (!loaded.ok()) {
    SLOG(kInfo, "execve \"%s\": %s%s%s", filename, ErrnoName(loaded.error().value()),
         error.empty() ? "" : ": ", error);
    return loaded.error();
  }
  pid_t old_tid = 0;
  // The point of no return. de_thread: every other thread of the process
  // exits, and the exec'ing thread takes over the leader's tid.
  {
    absl::MutexLock l(&tree_mu);
    if (tg_->group_exiting) return Errno(kERESTARTNOINTR);  // dying anyway
    for (Task* t : tg_->tasks) {
      if (t == this) continue;
      t->exiting_.store(true, std::memory_order_release);
      t->Interrupt();
    }
    tree_mu.Await(absl::Condition(
        +[](ThreadGroup* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
          return g->tasks.size() == 1 || g->group_exiting;
        },
        tg_.get()));
    if (tg_->group_exiting) return Errno(kERESTARTNOINTR);
    if (tid_ != tg_->tgid()) {
      kernel_.RemoveTask(this);
      kernel_.ForgetDeadLeaderLocked(tg_->tgid());
      old_tid = tid_;
      tid_ = tg_->tgid();
      kernel_.AddTask(shared_from_this());
    }
  }
  if (old_tid != 0) kernel_.futex().ForgetTid(old_tid);
  kernel_.ReleaseDeadLeaders();
  ReleaseMemory(/*exec=*/true);
  bool reused_as = false;
  if (mem->as == nullptr) {
    reused_as = TakeAddressSpaceForExec(*mem);
    if (!reused_as) {
      auto as = p.NewAddressSpace();
      if (!as.ok()) {
        // Past the point of no return: the process dies (begin_new_exec's
        // failures are fatal signals too).
        SLOG(kWarning, "execve past the point of no return: %s", as.status().ToString());
        absl::MutexLock l(&tree_mu);
        KillGroupLocked(ExitStatus{0, SIGKILL, false});
        return Errno(kERESTARTNOINTR);
      }
      mem->as = *std::move(as);
    }
  }
  mem->mm->SetAddressSpace(mem->as.get());
  mem->image = *std::move(loaded);
  mem->executable_path = file->Path().empty() ? AbsoluteExecPath(filename) : file->Path();
  // The old image's stub goes with its memory, unless the new image took it:
  // its time joins the base, and its resident set the process's peak
  // (setmax_mm_hiwater_rss).
  {
    if (!reused_as) {
      const platform::Context::CpuTimes g = context_->GuestCpuTime();
      stub_user_base_.fetch_add(g.user_ns, std::memory_order_relaxed);
      stub_sys_base_.fetch_add(g.sys_ns, std::memory_order_relaxed);
    }
    const int64_t rss_kb = static_cast<int64_t>(mem_->mm->PeakResidentBytes() / 1024);
    absl::MutexLock l(&tree_mu);
    tg_->dead_usage.maxrss_kb = std::max(tg_->dead_usage.maxrss_kb, rss_kb);
  }
  std::shared_ptr<GuestMemory> old_mem;  // let go outside proc_mu_
  {
    absl::MutexLock l(&proc_mu_);
    old_mem = std::move(mem_);
    mem_ = std::move(mem);
  }
  old_mem.reset();
  CommitExecCredentials(new_creds);
  // set_personality_64bit clears READ_IMPLIES_EXEC; a secure exec drops
  // PER_CLEAR_ON_SETID (begin_new_exec's per_clear).
  {
    uint32_t pers = personality.load() & ~uint32_t{READ_IMPLIES_EXEC};
    if (new_creds.secure) pers &= ~kPerClearOnSetid;
    personality.store(pers);
  }
  comm_ = mem_->image.comm.empty() ? Basename(filename) : mem_->image.comm;

  // Exec'd (setpgid's EACCES) before the close-on-exec fds go, as in Linux
  // (begin_new_exec clears PF_FORKNOEXEC first): a parent that learns of the
  // exec from a close-on-exec pipe's end-of-file already sees it.
  {
    absl::MutexLock l(&tree_mu);
    tg_->did_exec = true;
  }
  // Files: an fd table shared with another process is copied first.
  if (fds_.use_count() > 1) {
    std::shared_ptr<FdTable> own = fds_->Fork();
    absl::MutexLock l(&proc_mu_);
    fds_ = std::move(own);
  }
  std::vector<std::shared_ptr<vfs::FileDescription>> closed = fds_->CloseOnExec();
  ReleasePosixLocksOf(closed);
  closed.clear();

  {
    absl::MutexLock l(&tree_mu);
    // Handlers shared with another process are copied; caught signals go
    // back to the default action, ignored ones stay ignored
    // (flush_signal_handlers).
    if (tg_->handlers.use_count() > 1) {
      auto h = std::make_shared<SignalHandlers>();
      h->actions = tg_->handlers->actions;
      tg_->handlers = h;
    }
    FlushSignalHandlersLocked(*tg_->handlers);
    saved_mask_.reset();
  }
  alt_stack_ = {nullptr, SS_DISABLE, 0};
  restart_block_ = nullptr;
  tg_->timers->ClearPosix();  // POSIX timers do not survive execve
  ReleaseVfork();

  std::memset(&regs_.r, 0, sizeof(regs_.r));
  regs_.r.rip = mem_->image.entry;
  regs_.r.rsp = mem_->image.stack_pointer;
  regs_.r.cs = 0x33;
  regs_.r.ss = 0x2b;
  regs_.r.eflags = 0x202;
  regs_.r.orig_rax = ~0ull;
  fp_.Reset();
  regs_replaced_ = true;
  return Ok();
}

std::string Task::AbsoluteExecPath(const std::string& filename) const {
  return AbsolutePathFrom(kernel_.vfs().PathOf(fs_->root(), fs_->cwd()), filename);
}

void Task::ReleasePosixLocksOf(const std::vector<std::shared_ptr<vfs::FileDescription>>& files) {
  for (const auto& f : files) {
    if (f == nullptr) continue;
    f->Flush(tgid());  // f_op->flush, as filp_close
    if (!f->location().ok()) continue;
    kernel_.vfs().locks().ReleaseOn(f->location().dentry->inode().get(),
                                    {vfs::LockOwner::kPosix, static_cast<uintptr_t>(tgid())});
  }
}

void Task::ReleaseMemory(bool exec) {
  // mm_release: robust futexes, PI locks, and clear_child_tid (written and
  // woken in the memory being left, if anyone else still uses it).
  const bool shared = mem_ != nullptr && mem_.use_count() > 1;
  if (exec) {
    ReleaseFutexesAtExec(*this, shared);
  } else {
    ReleaseFutexesAtExit(*this, shared);
  }
}

bool Task::TakeAddressSpaceForExec(GuestMemory& mem) {
  std::shared_ptr<GuestMemory> old;
  {
    absl::MutexLock l(&proc_mu_);
    // Only this task holds it: no other task runs in its address space, and
    // none can start to (a copy of mem_ is taken under proc_mu_). A reader
    // that takes a copy later only uses the memory manager, detached below.
    if (mem_ == nullptr || mem_.use_count() != 1 || mem_->as == nullptr) return false;
    old = mem_;
  }
  platform::AddressSpace* const as = old->as.get();
  old->mm->SetAddressSpace(nullptr);
  // Everything of the old image goes from the host in one call, before its
  // pages can be freed (mm/README.md, invariant 3).
  if (absl::Status s = as->Unmap(0, kernel_.platform().MaxUserAddress()); !s.ok()) {
    // Lost or broken: it goes with the old memory; the new image gets a new one.
    SLOG(kWarning, "execve: emptying the old address space: %s", s.ToString());
    return false;
  }
  mem.as = std::move(old->as);
  return true;
}

void Task::ReleaseVfork() {
  if (vfork_ == nullptr) return;
  vfork_->done.store(true, std::memory_order_release);
  vfork_->queue.Notify(waiter::kEventAll);
  vfork_.reset();
}

// --- exit ---

void Task::ExitThread(int code) {
  exit_code_ = code & 0xff;
  exiting_.store(true, std::memory_order_release);
}

void Task::ExitGroup(int code) {
  absl::MutexLock l(&tree_mu);
  KillGroupLocked(ExitStatus{code & 0xff, 0, false});
}

void Task::KillBySignal(int sig, bool core) {
  absl::MutexLock l(&tree_mu);
  KillGroupLocked(ExitStatus{0, sig, core});
}

void Task::FinishExit() {
  // exit_sem and exit_shm, before the parent hears.
  DetachSemUndo();
  ipc().ShmTaskExit(tid_);
  ReleaseMemory(/*exec=*/false);
  ReleaseVfork();
  // This thread's usage joins the process's exited threads' as its stub
  // goes (with the resident set as a peak). The stub thread goes now, and
  // the files are closed before the parent hears (a pipe's reader sees its
  // end of file by the time wait returns).
  std::unique_ptr<platform::Context> ctx;
  {
    ThreadGroup::Usage u = OwnUsage();
    {
      absl::MutexLock l(&proc_mu_);
      ctx = std::move(context_);
      // What /proc shows of it from now on: the final figures, not the
      // clocks of a stub and a host thread about to go.
      stub_user_base_.store(u.user_ns, std::memory_order_relaxed);
      stub_sys_base_.store(u.sys_ns, std::memory_order_relaxed);
      host_clock_.store(-1, std::memory_order_relaxed);
    }
    if (mem_ != nullptr && mem_->mm != nullptr) {
      u.maxrss_kb = static_cast<int64_t>(mem_->mm->PeakResidentBytes() / 1024);
    }
    absl::MutexLock l(&tree_mu);
    tg_->dead_usage.Add(u);
    usage_counted_ = true;
  }
  // exit_mm: the last user of the memory drops its mappings before the parent
  // hears too (System V shm attach counts, shared pages). The address space is
  // let go first, so that nothing is unmapped in the stub one by one.
  // A host thread that ran the last user of an address space can keep both
  // for a fork (Kernel::Runner): emptied before any page is freed
  // (mm/README.md, invariant 3), as exec's reuse.
  if (mem_ != nullptr && mem_.use_count() == 1 && mem_->mm != nullptr) {
    mem_->mm->SetAddressSpace(nullptr);
    // Not init's: the sandbox ends with it, and nothing would take the runner.
    const bool init = tg_.get() == kernel_.init_thread_group();
    if (ctx != nullptr && mem_->as != nullptr && !init && kernel_.WantsRunner()) {
      if (absl::Status s = mem_->as->Recycle(); s.ok()) {
        // Offered now, before the parent hears: its next fork finds it.
        auto runner = std::make_unique<Kernel::Runner>();
        runner->as = std::move(mem_->as);
        runner->ctx = std::move(ctx);
        runner_park_ = kernel_.OfferRunner(std::move(runner));
      } else if (!absl::IsUnimplemented(s)) {
        SLOG(kDebug, "exit: the address space is not kept: %s", s.ToString());
      }
    }
    (void)mem_->mm->Munmap(0, mem_->mm->layout().max_addr);
  }
  ctx.reset();  // the stub thread goes, unless kept
  {
    std::shared_ptr<FdTable> fds;
    {
      absl::MutexLock l(&proc_mu_);
      fds = std::move(fds_);
      fds_ = std::make_shared<FdTable>();  // empty: /proc may still look
    }
    if (fds.use_count() == 1) {
      // The last user: every file closes, and the process's record locks
      // on them go.
      std::vector<std::shared_ptr<vfs::FileDescription>> files;
      for (auto& [fd, e] : fds->Snapshot()) files.push_back(e.file);
      ReleasePosixLocksOf(files);
    }
  }
  // exit_mm, exit_fs: /proc sees neither any more (let go outside the
  // locks: the last reference may unmap, or drop dentries).
  {
    std::shared_ptr<GuestMemory> mem;
    std::shared_ptr<FsContext> fs;
    {
      absl::MutexLock l(&proc_mu_);
      mem = std::move(mem_);
      fs = std::move(fs_);
      dead_.store(true, std::memory_order_release);
    }
  }
  {
    absl::MutexLock l(&tree_mu);
    kernel_.RemoveTask(this);
    // A leader stays in /proc until its process is reaped.
    if (tid_ == tg_->tgid()) kernel_.AddDeadLeaderLocked(shared_from_this());
  }
  // The tid is gone for PI futexes (outside tree_mu: the futex table looks
  // tasks up under its own locks).
  kernel_.futex().ForgetTid(tid_);
  bool last;
  {
    absl::MutexLock l(&tree_mu);
    ThreadGroup& tg = *tg_;
    tg.tasks.erase(std::remove(tg.tasks.begin(), tg.tasks.end(), this), tg.tasks.end());
    last = tg.tasks.empty();
    if (!last) return;
    if (!tg.group_exiting) tg.exit_status = ExitStatus{exit_code_, 0, false};
    tg.group_exiting = true;  // timer callbacks and senders see it going
  }
  // The process's timers go first, outside tree_mu (their callbacks take it).
  tg_->timers->Clear();
  {
    absl::MutexLock l(&tree_mu);
    ThreadGroup& tg = *tg_;
    tg.exit_uid = creds().ruid;
    BecomeZombie();
  }
  kernel_.ReleaseDeadLeaders();  // autoreaped ones
}

void Task::BecomeZombie() {
  ThreadGroup& tg = *tg_;
  tg.zombie = true;
  tg.stopped = false;
  if (tg.sid == tg.tgid()) HangUpSessionLocked(kernel_, tg.sid);
  // Children go to the nearest subreaper above, else init; zombies among
  // them are announced to their new parent.
  ThreadGroup* reaper = kernel_.init_thread_group();
  for (ThreadGroup* a = tg.parent; a != nullptr; a = a->parent) {
    if (a->child_subreaper && !a->zombie && !a->group_exiting) {
      reaper = a;
      break;
    }
  }
  if (reaper == &tg) reaper = nullptr;  // init itself: the namespace ends
  std::vector<ThreadGroup*> children = std::move(tg.children);
  tg.children.clear();
  for (ThreadGroup* c : children) {
    c->parent = reaper;
    for (Task* t : c->tasks) {
      if (t->pdeath_signal != 0) {
        siginfo_t info{};
        info.si_signo = t->pdeath_signal;
        info.si_code = SI_USER;
        [[maybe_unused]] ErrnoOrOk r = t->SendSignalLocked(info, /*to_group=*/true);
      }
    }
    if (reaper == nullptr) continue;
    reaper->children.push_back(c);
    if (c->zombie) {
      if (c->exit_signal != SIGCHLD) c->exit_signal = SIGCHLD;  // reparent_leader
      NotifyExitLocked(*c);
    }
  }
  if (tg.parent != nullptr) NotifyExitLocked(tg);
  tg.exit_events.Notify(POLLIN | POLLRDNORM);
}

void Task::NotifyExitLocked(ThreadGroup& child) {
  ThreadGroup* parent = child.parent;
  const ExitStatus& st = child.exit_status;
  const int why = st.signal == 0 ? CLD_EXITED : st.core ? CLD_DUMPED : CLD_KILLED;
  // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) never sees its
  // children as zombies: they are reaped at once (autoreap).
  const KSigaction& act = parent->handlers->actions[SIGCHLD - 1];
  const bool autoreap =
      child.exit_signal == SIGCHLD && (act.handler == 1 || (act.flags & kSaNocldwait));
  NotifyParentLocked(child, why, st.signal == 0 ? st.code : st.signal);
  if (autoreap) ReapLocked(child);
}

void Task::ReapLocked(ThreadGroup& child) {
  ThreadGroup* parent = child.parent;
  if (parent != nullptr) {
    auto& c = parent->children;
    c.erase(std::remove(c.begin(), c.end(), &child), c.end());
    // The child's usage and its reaped children's (wait_task_zombie).
    parent->children_usage.Add(child.dead_usage);
    parent->children_usage.Add(child.children_usage);
  }
  child.parent = nullptr;
  child.exit_events.Notify(POLLIN | POLLRDNORM | POLLHUP);  // its pidfds hang up
  child.kernel().RemoveThreadGroupLocked(child.tgid());     // may destroy `child`
}

// --- wait ---

ErrnoOr<std::optional<Task::WaitResult>> Task::Wait(const WaitRequest& req) {
  // The leaders of the children reaped here are destroyed on the way out,
  // outside tree_mu.
  struct Release {
    Kernel& k;
    ~Release() { k.ReleaseDeadLeaders(); }
  } release{kernel_};
  waiter::ScopedRegistration reg(tg_->child_events, &waker_, waiter::kEventChildExit);
  for (;;) {
    {
      absl::MutexLock l(&tree_mu);
      bool any = false;
      for (ThreadGroup* c : std::vector<ThreadGroup*>(tg_->children)) {
        if (req.idtype == P_PID && c->tgid() != req.id) continue;
        if (req.idtype == P_PGID && c->pgid != req.id) continue;
        // __WCLONE selects the children that signal something other than
        // SIGCHLD at exit; __WALL takes both kinds.
        const bool clone_child = c->exit_signal != SIGCHLD;
        if (!(req.options & __WALL) && clone_child != ((req.options & __WCLONE) != 0)) continue;
        any = true;
        WaitResult r;
        r.pid = c->tgid();
        r.uid = c->exit_uid;
        if ((req.options & WEXITED) && c->zombie) {
          const ExitStatus& st = c->exit_status;
          r.code = st.signal == 0 ? CLD_EXITED : st.core ? CLD_DUMPED : CLD_KILLED;
          r.status = st.signal == 0 ? st.code : st.signal;
          r.usage = c->dead_usage;
          r.usage.Add(c->children_usage);
          if (!(req.options & WNOWAIT)) ReapLocked(*c);
          return std::optional<WaitResult>(r);
        }
        if ((req.options & WSTOPPED) && c->stopped && c->stop_waitable) {
          r.code = CLD_STOPPED;
          r.status = c->stop_signal;
          if (!(req.options & WNOWAIT)) c->stop_waitable = false;
          return std::optional<WaitResult>(r);
        }
        if ((req.options & WCONTINUED) && c->continue_waitable) {
          r.code = CLD_CONTINUED;
          r.status = SIGCONT;
          if (!(req.options & WNOWAIT)) c->continue_waitable = false;
          return std::optional<WaitResult>(r);
        }
      }
      if (!any) return Errno(ECHILD);
      if (req.options & WNOHANG) return std::optional<WaitResult>();
    }
    // A child that is ready wins over a signal (do_wait looks first).
    if (waker_.interrupted()) return Errno(kERESTARTSYS);
    [[maybe_unused]] ErrnoOrOk b = waker_.Block(CLOCK_MONOTONIC, nullptr);
  }
}

}  // namespace sentry::kernel
