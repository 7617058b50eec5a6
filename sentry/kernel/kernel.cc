#include "sentry/kernel/kernel.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <thread>

#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/dev/devfs.h"
#include "sentry/fsimpl/dev/devices.h"
#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/fsimpl/proc/proc.h"
#include "sentry/fsimpl/sys/sys.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/task.h"
#include "sentry/net/unix/namespace.h"

namespace sentry::kernel {

fsimpl::mqueue::Creator MqueueCreator(Task& t) {
  const Credentials c = t.creds();
  return {c.ruid, t.rlimit_of(RLIMIT_MSGQUEUE).rlim_cur, c.HasCapability(CAP_SYS_RESOURCE)};
}

namespace {

// The task creating a queue through the mqueue filesystem (none: the Sentry
// itself, unlimited).
fsimpl::mqueue::Creator MqueueCreatorOfCurrent() {
  Task* t = Task::Current();
  if (t == nullptr) return {0, RLIM_INFINITY, true};
  return MqueueCreator(*t);
}

}  // namespace

ABSL_CONST_INIT absl::Mutex tree_mu(absl::kConstInit);

Kernel::Kernel(KernelConfig config, const SyscallTable& table,
               std::unique_ptr<memory::MemoryFile> mf, std::unique_ptr<platform::Platform> platform)
    : config_(std::move(config)),
      table_(table),
      mf_(std::move(mf)),
      platform_(std::move(platform)) {
  // A PI futex's owner is looked up by TID (under a futex bucket lock).
  futex_ =
      std::make_unique<FutexManager>([this](pid_t tid) { return WithTask(tid, [](Task&) {}); });
  unix_ns_ = std::make_shared<net::afunix::Namespace>();
  mq_user_bytes_ = std::make_shared<fsimpl::mqueue::UserBytes>();
  ipc_ns_ = std::make_shared<ipc::IpcNamespace>(*mf_);
  ipc_ns_->set_inode(kInitIpcNsIno);
  ipc_ns_->set_mqueue(std::make_shared<fsimpl::mqueue::MqueueNamespace>(mq_user_bytes_));
  uts_ns_ =
      std::make_shared<UtsNamespace>(kInitUtsNsIno, config_.hostname.substr(0, kUtsLen), "(none)");
  // One boot clock (README.md, "Time"): the Timekeeper's CLOCK_BOOTTIME,
  // which tracks the host's, so boot was at 0 on it, and at (now - uptime) on
  // the wall clock.
  boot_time_ = {0, 0};
  {
    time::Timekeeper& tk = timekeeper();
    boot_realtime_ = time::NsToTimespec(tk.NowNs(CLOCK_REALTIME) - tk.NowNs(CLOCK_BOOTTIME));
  }
  timers_ = std::make_unique<time::TimerService>(timekeeper());
  cpu_timers_ = std::make_unique<CpuTimerService>(*timers_);
  if (config_.vdso) {
    auto vdso = arch::Vdso::Create(*mf_, timekeeper(), std::max(1, config_.num_cpus));
    if (vdso.ok()) {
      vdso_ = std::move(*vdso);
      vdso_mapping_ = {vdso_->vvar(), arch::Vdso::vvar_size(), vdso_->image(), vdso_->image_size()};
    } else {
      // Programs still run, making real syscalls for the time.
      SLOG(kWarning, "no vDSO: %s", ErrnoName(vdso.error().value()));
    }
  }
  if (config_.total_memory == 0) {
    struct sysinfo si;
    if (::sysinfo(&si) == 0) config_.total_memory = uint64_t{si.totalram} * si.mem_unit;
  }
  // The VFS alone holds the root from here: a filesystem keeps memory-file
  // pages, so it must go before the memory file does (members die in reverse).
  std::shared_ptr<vfs::Filesystem> root_fs = std::move(config_.root_fs);
  config_.root_fs.reset();
  const bool empty_root = root_fs == nullptr;
  if (root_fs == nullptr) {
    fsimpl::tmpfs::TmpfsOptions root;
    root.root_mode = 0755;
    root_fs = fsimpl::tmpfs::TmpfsFilesystem::Create(*mf_, root);
  }
  vfs_ = std::make_unique<vfs::VirtualFilesystem>(std::move(root_fs));
  // Nothing else can see the mount yet.
  if (config_.root_read_only) vfs_->Root().mount->read_only = true;
  if (empty_root) {
    // An empty root gets the directories the standard mounts go on.
    const vfs::AccessCreds creds = vfs::AccessCreds::Root();
    const vfs::PathContext ctx{vfs_->Root(), vfs_->Root(), &creds, 0};
    SCHECK(vfs_->Mkdir(ctx, "/tmp", 01777).ok());
    for (const char* dir : {"/dev", "/proc", "/sys"}) SCHECK(vfs_->Mkdir(ctx, dir, 0755).ok());
  }
  // Linux's shm_mnt: where memfds live.
  memfd_fs_ = fsimpl::tmpfs::TmpfsFilesystem::Create(*mf_);
  memfd_mount_ = vfs_->InternalMount(memfd_fs_);
  MountStandardFilesystems();
  // /dev/tty: the opener's session's controlling terminal, opened anew.
  fsimpl::dev::SetControllingTtyOpener(
      [](int flags) -> ErrnoOr<std::shared_ptr<vfs::FileDescription>> {
        Task* t = Task::Current();
        if (t == nullptr) return Errno(ENXIO);
        std::shared_ptr<vfs::FileDescription> f = t->kernel().ControllingTerminal(t->sid());
        if (f == nullptr) return Errno(ENXIO);
        return f->Reopen(flags);
      });
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> Kernel::NewMemfd(const std::string& name,
                                                                uint32_t mode,
                                                                const vfs::Owner& owner,
                                                                int seals) {
  auto& fs = static_cast<fsimpl::tmpfs::TmpfsFilesystem&>(*memfd_fs_);
  std::shared_ptr<vfs::Inode> inode = fs.NewAnonymousFile(mode, owner, true);
  vfs::VirtualDentry vd = vfs_->Detached(memfd_mount_, inode, "memfd:" + name);
  ASSIGN_OR_RETURN(std::shared_ptr<vfs::FileDescription> file,
                   inode->Open(vd, O_RDWR | 0100000 /* O_LARGEFILE */));
  file->set_location(vd);
  if (seals != 0) RETURN_IF_ERROR(file->AddSeals(seals));
  return file;
}

timespec Kernel::BootClock() { return time::Timekeeper::Get().Now(CLOCK_BOOTTIME); }

void Kernel::MountStandardFilesystems() {
  // Each goes on an existing directory of the root; a root without it (a
  // container image with no /proc, say) goes without, as runc would refuse.
  auto mount = [&](const char* path, ErrnoOr<std::shared_ptr<vfs::Filesystem>> fs, bool read_only,
                   bool nosuid, bool nodev, bool noexec) {
    if (!fs.ok()) {
      SLOG(kWarning, "no %s: %s", path, ErrnoName(fs.error().value()));
      return;
    }
    auto m = vfs_->MountAtPath(path, *std::move(fs), read_only);
    if (!m.ok()) {
      SLOG(kWarning, "cannot mount %s: %s", path, ErrnoName(m.error().value()));
      return;
    }
    // Set before any task exists: nothing else can see the mount yet.
    (*m)->nosuid = nosuid;
    (*m)->nodev = nodev;
    (*m)->noexec = noexec;
  };
  auto devtmpfs = fsimpl::dev::NewDevtmpfs(*mf_);
  mount("/dev",
        devtmpfs.ok() ? ErrnoOr<std::shared_ptr<vfs::Filesystem>>(*devtmpfs) : devtmpfs.error(),
        false, /*nosuid=*/true, /*nodev=*/false, /*noexec=*/false);
  fsimpl::tmpfs::TmpfsOptions shm;
  shm.root_mode = 01777;
  mount("/dev/shm", fsimpl::tmpfs::TmpfsFilesystem::Create(*mf_, shm), false, true, true, false);
  // The initial IPC namespace's POSIX message queues (as systemd mounts them:
  // nosuid, nodev, noexec). One mount namespace: a task in another IPC
  // namespace still sees these here, as Linux shows what was mounted.
  mount("/dev/mqueue",
        fsimpl::mqueue::NewMqueueFilesystem(ipc_ns_->mqueue_ptr(), &MqueueCreatorOfCurrent), false,
        true, true, true);
  mount("/proc", fsimpl::proc::NewProcFilesystem(*this), false, true, true, true);
  mount("/sys", fsimpl::sys::NewSysFilesystem(config_.num_cpus), /*read_only=*/true, true, true,
        true);
}

Kernel::~Kernel() = default;

std::shared_ptr<ThreadGroup> Kernel::NewInitThreadGroup() {
  auto tg = std::make_shared<ThreadGroup>(*this, /*tgid=*/1);
  absl::MutexLock l(&tree_mu);
  last_pid_ = std::max(last_pid_, 1);
  tg->pgid = tg->sid = 1;
  init_tg_ = tg.get();
  AddThreadGroupLocked(tg);
  return tg;
}

absl::StatusOr<ExitStatus> Kernel::RunInit(const InitArgs& args) {
  std::shared_ptr<ThreadGroup> tg = NewInitThreadGroup();
  absl::Status start_error;
  // The task gets its own host thread: with ptrace, that thread becomes the
  // tracer of the stub, so it must also be the one that creates it.
  StartTaskThread(std::make_shared<Task>(*this, /*tid=*/1), [&, tg](Task& t) {
    absl::Status s = t.StartInit(args, tg);
    if (!s.ok()) {
      start_error = s;
      absl::MutexLock l(&tree_mu);
      tg->zombie = true;
    }
    return s;
  });
  // The sandbox ends when init does: Linux kills the rest of a PID namespace
  // when its init dies (zap_pid_ns_processes). Then every host thread is
  // waited for.
  {
    absl::MutexLock l(&tree_mu);
    tree_mu.Await(absl::Condition(
        +[](ThreadGroup* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) { return g->zombie; },
        tg.get()));
    SLOG(kDebug, "boot: init exited");
    for (auto& [tid, task] : tasks_) {
      (void)tid;
      task->KillGroupLocked(ExitStatus{0, SIGKILL, false});
    }
  }
  DrainRunners();
  {
    absl::MutexLock l(&threads_mu_);
    threads_mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &live_threads_));
    if (!platform_error_.ok()) return platform_error_;
  }
  SLOG(kDebug, "boot: every task thread ended");
  if (!start_error.ok()) return start_error;
  absl::MutexLock l(&tree_mu);
  const ExitStatus status = tg->exit_status;
  init_tg_ = nullptr;
  thread_groups_.clear();
  return status;
}

// How many runners wait at most, and for how long: enough for a shell or
// make -j2 forking on two CPUs; an idle runner holds a host thread and a
// stub process.
constexpr size_t kMaxRunners = 4;
constexpr absl::Duration kRunnerIdle = absl::Seconds(2);

struct Kernel::RunnerPark {
  absl::Mutex mu;
  // The job a fork handed over, or the runner was let go unused.
  std::shared_ptr<Task> task ABSL_GUARDED_BY(mu);
  std::function<absl::Status(Task&)> setup ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;

  bool Decided() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return task != nullptr || cancelled; }
};

Kernel::Runner::~Runner() {
  if (park == nullptr) return;
  absl::MutexLock l(&park->mu);
  park->cancelled = true;
}

std::unique_ptr<Kernel::Runner> Kernel::TakeRunner() {
  absl::MutexLock l(&runners_mu_);
  if (runners_.empty()) return nullptr;
  std::unique_ptr<Runner> r = std::move(runners_.back());
  runners_.pop_back();
  return r;
}

bool Kernel::WantsRunner() {
  absl::MutexLock l(&runners_mu_);
  return !draining_ && runners_.size() < kMaxRunners;
}

std::shared_ptr<Kernel::RunnerPark> Kernel::OfferRunner(std::unique_ptr<Runner> runner) {
  std::shared_ptr<RunnerPark> park = std::make_shared<RunnerPark>();
  runner->park = park;
  {
    absl::MutexLock l(&runners_mu_);
    if (!draining_ && runners_.size() < kMaxRunners) {
      runners_.push_back(std::move(runner));
      return park;
    }
  }
  runner->park = nullptr;
  return nullptr;  // runner goes here, on its stub threads' tracer
}

void Kernel::DrainRunners() {
  std::vector<std::unique_ptr<Runner>> all;
  {
    absl::MutexLock l(&runners_mu_);
    draining_ = true;
    all = std::move(runners_);
    runners_.clear();
  }
  // Each goes with its address space and context (the stub threads killed
  // here); its thread wakes and ends.
}

void Kernel::StartTaskThread(std::shared_ptr<Task> task, std::function<absl::Status(Task&)> setup,
                             std::unique_ptr<Runner> runner) {
  if (runner != nullptr && runner->park != nullptr) {
    std::shared_ptr<RunnerPark> park = std::move(runner->park);
    absl::MutexLock l(&park->mu);
    park->task = std::move(task);
    park->setup = std::move(setup);
    return;
  }
  {
    absl::MutexLock l(&threads_mu_);
    ++live_threads_;
  }
  std::thread([this, task = std::move(task), setup = std::move(setup)]() mutable {
    RunTasks(std::move(task), std::move(setup));
    absl::MutexLock l(&threads_mu_);
    --live_threads_;
  }).detach();
}

void Kernel::RunTasks(std::shared_ptr<Task> task, std::function<absl::Status(Task&)> setup) {
  while (task != nullptr) {
    absl::Status s = setup(*task);
    if (s.ok()) s = task->Run();
    // InvalidArgument and NotFound are the guest's own failures to start
    // (Task::StartInit's exec errors), not the platform's.
    if (!s.ok() && !absl::IsInvalidArgument(s) && !absl::IsNotFound(s)) {
      // The platform lost the guest (DESIGN.md §11.6): the sandbox stops.
      SLOG(kError, "%s", s.ToString());
      {
        absl::MutexLock l(&threads_mu_);
        if (platform_error_.ok()) platform_error_ = s;
      }
      absl::MutexLock l(&tree_mu);
      if (init_tg_ != nullptr && !init_tg_->zombie) {
        for (auto& [tid, t] : tasks_) {
          (void)tid;
          t->KillGroupLocked(ExitStatus{0, SIGKILL, false});
        }
      }
    }
    // Parked (Task::FinishExit offered the runner): wait for a job.
    std::shared_ptr<RunnerPark> park = task->TakeRunnerPark();
    task.reset();
    setup = nullptr;
    if (park == nullptr) return;
    bool decided;
    {
      absl::MutexLock l(&park->mu);
      decided =
          park->mu.AwaitWithTimeout(absl::Condition(park.get(), &RunnerPark::Decided), kRunnerIdle);
    }
    if (!decided) {
      // Idle too long: take it back, unless a fork took it meanwhile.
      std::unique_ptr<Runner> mine;
      {
        absl::MutexLock l(&runners_mu_);
        for (auto it = runners_.begin(); it != runners_.end(); ++it) {
          if ((*it)->park == park) {
            mine = std::move(*it);
            runners_.erase(it);
            break;
          }
        }
      }
      if (mine != nullptr) {
        mine->park = nullptr;
        return;
      }
    }
    absl::MutexLock l(&park->mu);
    park->mu.Await(absl::Condition(park.get(), &RunnerPark::Decided));
    task = std::move(park->task);
    setup = std::move(park->setup);
  }
}

void Kernel::AddTask(std::shared_ptr<Task> t) {
  const pid_t tid = t->tid();
  tasks_[tid] = std::move(t);
}

void Kernel::RemoveTask(Task* t) {
  auto it = tasks_.find(t->tid());
  if (it != tasks_.end() && it->second.get() == t) tasks_.erase(it);
}

Task* Kernel::FindTaskLocked(pid_t tid) const {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : it->second.get();
}

ThreadGroup* Kernel::FindThreadGroupLocked(pid_t tgid) const {
  auto it = thread_groups_.find(tgid);
  return it == thread_groups_.end() ? nullptr : it->second.get();
}

std::shared_ptr<ThreadGroup> Kernel::FindThreadGroupPtrLocked(pid_t tgid) const {
  auto it = thread_groups_.find(tgid);
  return it == thread_groups_.end() ? nullptr : it->second;
}

std::vector<ThreadGroup*> Kernel::ThreadGroupsLocked() const {
  std::vector<ThreadGroup*> out;
  out.reserve(thread_groups_.size());
  for (const auto& [tgid, tg] : thread_groups_) out.push_back(tg.get());
  return out;
}

void Kernel::AddThreadGroupLocked(std::shared_ptr<ThreadGroup> tg) {
  thread_groups_[tg->tgid()] = std::move(tg);
}

void Kernel::RemoveThreadGroupLocked(pid_t tgid) {
  ForgetDeadLeaderLocked(tgid);
  thread_groups_.erase(tgid);
}

void Kernel::AddDeadLeaderLocked(std::shared_ptr<Task> t) {
  const pid_t tgid = t->tgid();
  dead_leaders_[tgid] = std::move(t);
}

void Kernel::ForgetDeadLeaderLocked(pid_t tgid) {
  auto it = dead_leaders_.find(tgid);
  if (it == dead_leaders_.end()) return;
  forgotten_leaders_.push_back(std::move(it->second));
  dead_leaders_.erase(it);
}

void Kernel::ReleaseDeadLeaders() {
  std::vector<std::shared_ptr<Task>> gone;
  {
    absl::MutexLock l(&tree_mu);
    gone.swap(forgotten_leaders_);
  }
}

bool Kernel::WithProcTask(pid_t tid, absl::FunctionRef<void(Task&)> fn) const {
  std::shared_ptr<Task> t;
  {
    absl::MutexLock l(&tree_mu);
    auto it = tasks_.find(tid);
    if (it != tasks_.end()) {
      t = it->second;
    } else {
      auto d = dead_leaders_.find(tid);
      if (d == dead_leaders_.end()) return false;
      t = d->second;
    }
  }
  fn(*t);
  return true;
}

std::vector<pid_t> Kernel::ThreadIds(pid_t tgid) const {
  absl::MutexLock l(&tree_mu);
  std::vector<pid_t> out;
  ThreadGroup* tg = FindThreadGroupLocked(tgid);
  if (tg == nullptr) return out;
  for (const Task* t : tg->tasks) out.push_back(t->tid());
  if (dead_leaders_.count(tgid) != 0) out.push_back(tgid);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::shared_ptr<ipc::IpcNamespace> Kernel::NewIpcNamespace() {
  auto ns = std::make_shared<ipc::IpcNamespace>(*mf_);
  ns->set_inode(NewNamespaceInode());
  ns->set_mqueue(std::make_shared<fsimpl::mqueue::MqueueNamespace>(mq_user_bytes_));
  return ns;
}

bool Kernel::PidInUseLocked(pid_t p) const {
  if (tasks_.count(p) != 0 || thread_groups_.count(p) != 0) return true;
  for (const auto& [tgid, tg] : thread_groups_) {
    if (tg->pgid == p || tg->sid == p) return true;
  }
  return false;
}

ErrnoOr<pid_t> Kernel::AllocatePidLocked() {
  // Linux's pid_max on 64-bit machines with many CPUs is 4194304; ids go up
  // and wrap past 300 (RESERVED_PIDS), skipping any still in use as a task,
  // process, group or session id.
  constexpr pid_t kReserved = 300;
  pid_t p = last_pid_;
  for (int tries = 0; tries < kPidMax; ++tries) {
    p = p + 1 >= kPidMax ? kReserved : p + 1;
    if (!PidInUseLocked(p)) {
      last_pid_ = p;
      return p;
    }
  }
  return Errno(EAGAIN);
}

bool Kernel::WithTask(pid_t tid, absl::FunctionRef<void(Task&)> fn) const {
  std::shared_ptr<Task> t;
  {
    absl::MutexLock l(&tree_mu);
    auto it = tasks_.find(tid);
    if (it == tasks_.end()) return false;
    t = it->second;
  }
  fn(*t);
  return true;
}

std::vector<pid_t> Kernel::TaskIds() const {
  absl::MutexLock l(&tree_mu);
  std::vector<pid_t> out;
  out.reserve(tasks_.size());
  for (const auto& [tid, t] : tasks_) out.push_back(tid);
  return out;
}

std::shared_ptr<vfs::TtyJobControl> Kernel::TerminalFor(dev_t rdev) {
  absl::MutexLock l(&tree_mu);
  std::shared_ptr<vfs::TtyJobControl>& jc = terminals_[rdev];
  if (jc == nullptr) jc = std::make_shared<vfs::TtyJobControl>();
  return jc;
}

std::vector<std::shared_ptr<vfs::TtyJobControl>> Kernel::TerminalsLocked() const {
  std::vector<std::shared_ptr<vfs::TtyJobControl>> out;
  for (const auto& [dev, jc] : terminals_) out.push_back(jc);
  return out;
}

bool Kernel::SessionHasTerminalLocked(pid_t sid) const {
  for (const auto& [dev, jc] : terminals_) {
    if (jc->sid == sid) return true;
  }
  return false;
}

void Kernel::NoteTerminalFile(std::shared_ptr<vfs::FileDescription> f) {
  absl::MutexLock l(&tree_mu);
  terminal_files_.push_back(f);
}

std::shared_ptr<vfs::FileDescription> Kernel::ControllingTerminal(pid_t sid) const {
  absl::MutexLock l(&tree_mu);
  for (const auto& w : terminal_files_) {
    std::shared_ptr<vfs::FileDescription> f = w.lock();
    if (f == nullptr) continue;
    std::shared_ptr<vfs::TtyJobControl> jc = f->JobControl();
    if (jc != nullptr && jc->sid == sid && sid != 0) return f;
  }
  return nullptr;
}

std::vector<pid_t> Kernel::ProcessIds() const {
  absl::MutexLock l(&tree_mu);
  std::vector<pid_t> out;
  for (const auto& [tid, t] : tasks_) {
    if (t->tid() == t->tgid()) out.push_back(tid);
  }
  for (const auto& [tgid, t] : dead_leaders_) out.push_back(tgid);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

pid_t Kernel::LastPid() const {
  absl::MutexLock l(&tree_mu);
  return last_pid_;
}

int Kernel::TaskCount() const {
  absl::MutexLock l(&tree_mu);
  return static_cast<int>(tasks_.size());
}

void Kernel::CountUnimplemented(uint64_t nr) {
  size_t i = nr < kMaxSyscallNumber ? nr : kMaxSyscallNumber;
  if (unimplemented_[i].fetch_add(1, std::memory_order_relaxed) == 0) {
    const SyscallInfo* info = table_.Lookup(nr);
    SLOG(kInfo, "unimplemented syscall %s (%d)%s%s", info ? info->name : "unknown", nr,
         info && info->note[0] ? ": " : "", info ? info->note : "");
  }
}

void Kernel::RecordGap(std::string_view what) {
  bool first;
  {
    absl::MutexLock l(&gaps_mu_);
    first = gaps_[std::string(what)]++ == 0;
  }
  if (first) SLOG(kInfo, "unimplemented: %s", what);
}

std::vector<std::pair<std::string, uint64_t>> Kernel::GapCounts() const {
  absl::MutexLock l(&gaps_mu_);
  std::vector<std::pair<std::string, uint64_t>> out(gaps_.begin(), gaps_.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> Kernel::PartialCounts() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < partial_.size(); ++i) {
    uint64_t n = partial_[i].load(std::memory_order_relaxed);
    if (n != 0) out.emplace_back(i, n);
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> Kernel::UnimplementedCounts() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < unimplemented_.size(); ++i) {
    uint64_t n = unimplemented_[i].load(std::memory_order_relaxed);
    if (n != 0) out.emplace_back(i, n);
  }
  return out;
}

}  // namespace sentry::kernel
