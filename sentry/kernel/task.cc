#include "sentry/kernel/task.h"
#include <pthread.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/loader/script.h"

namespace sentry::kernel {
namespace {

thread_local Task* current_task = nullptr;

}  // namespace

// `path` made absolute against `cwd` and normalized lexically (no ".", "..",
// or repeated slashes), as Linux's /proc/pid/exe always is. (static glibc
// asserts that readlink("/proc/self/exe") starts with '/'.)
std::string AbsolutePathFrom(const std::string& cwd, const std::string& path) {
  std::vector<std::string> parts;
  const std::string full = !path.empty() && path[0] == '/' ? path : cwd + "/" + path;
  size_t i = 0;
  while (i < full.size()) {
    size_t j = full.find('/', i);
    if (j == std::string::npos) j = full.size();
    const std::string part = full.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

Task* Task::Current() { return current_task; }

Task::CurrentScope::CurrentScope(Task* t) : saved_(current_task) { current_task = t; }
Task::CurrentScope::~CurrentScope() { current_task = saved_; }

Task::Task(Kernel& k, pid_t tid) : kernel_(k), tid_(tid) {
  waker_.set_sleep_listener(&sleep_hook_);
  absl::MutexLock l(&ns_mu_);
  ipc_ns_ = k.root_ipc_namespace();
  uts_ns_ = k.root_uts_namespace();
}

std::shared_ptr<ipc::IpcNamespace> Task::ipc_ns_snapshot() const {
  absl::MutexLock l(&ns_mu_);
  return ipc_ns_;
}

std::shared_ptr<UtsNamespace> Task::uts_ns_snapshot() const {
  absl::MutexLock l(&ns_mu_);
  return uts_ns_;
}

void Task::set_ipc_namespace(std::shared_ptr<ipc::IpcNamespace> ns) {
  absl::MutexLock l(&ns_mu_);
  ipc_ns_ = std::move(ns);
}

void Task::set_uts_namespace(std::shared_ptr<UtsNamespace> ns) {
  absl::MutexLock l(&ns_mu_);
  uts_ns_ = std::move(ns);
}

Task::~Task() {
  // The context may hold a stub thread in the address space: it goes first.
  context_.reset();
  mem_.reset();
}

// --- PendingSignals ---

bool PendingSignals::Add(const siginfo_t& info) {
  const int sig = info.si_signo;
  if (sig < SIGRTMIN && Has(sig)) return false;  // standard signals do not queue
  set |= SigBit(sig);
  queue[sig - 1].push_back(info);
  return true;
}

siginfo_t PendingSignals::Take(int sig) {
  std::vector<siginfo_t>& q = queue[sig - 1];
  siginfo_t info = q.front();
  q.erase(q.begin());
  if (q.empty()) set &= ~SigBit(sig);
  return info;
}

void PendingSignals::Discard(int sig) {
  set &= ~SigBit(sig);
  queue[sig - 1].clear();
}

void PendingSignals::DiscardSet(uint64_t sigs) {
  for (int sig = 1; sig <= kNumSignals; ++sig) {
    if (sigs & set & SigBit(sig)) Discard(sig);
  }
}

// --- FsContext ---

std::shared_ptr<FsContext> FsContext::Clone() const {
  absl::MutexLock l(&mu_);
  return std::make_shared<FsContext>(root_, cwd_, umask_);
}
vfs::VirtualDentry FsContext::root() const {
  absl::MutexLock l(&mu_);
  return root_;
}
vfs::VirtualDentry FsContext::cwd() const {
  absl::MutexLock l(&mu_);
  return cwd_;
}
uint32_t FsContext::umask() const {
  absl::MutexLock l(&mu_);
  return umask_;
}
void FsContext::set_root(vfs::VirtualDentry vd) {
  absl::MutexLock l(&mu_);
  root_ = std::move(vd);
}
void FsContext::set_cwd(vfs::VirtualDentry vd) {
  absl::MutexLock l(&mu_);
  cwd_ = std::move(vd);
}
uint32_t FsContext::set_umask(uint32_t m) {
  absl::MutexLock l(&mu_);
  const uint32_t old = umask_;
  umask_ = m & 0777;
  return old;
}

// --- Identity ---

pid_t Task::ppid() const {
  absl::MutexLock l(&tree_mu);
  // 0 when the parent is outside the PID namespace (init's).
  return tg_->parent == nullptr ? 0 : tg_->parent->tgid();
}

pid_t Task::pgid() const {
  absl::MutexLock l(&tree_mu);
  return tg_->pgid;
}

pid_t Task::sid() const {
  absl::MutexLock l(&tree_mu);
  return tg_->sid;
}

// --- Init ---

namespace {

// Why the first program could not start, as a shell would judge it: NotFound
// (exit 127) when it or its interpreter does not exist, InvalidArgument (126)
// when it cannot be executed.
absl::Status ExecError(const std::string& filename, Errno e, const std::string& detail) {
  const std::string msg =
      absl::StrFormat("exec \"%s\": %s%s%s", filename, ErrnoDescription(e.value()),
                      detail.empty() ? "" : ": ", detail);
  return e.value() == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
}

}  // namespace

absl::Status Task::StartInit(const InitArgs& args, std::shared_ptr<ThreadGroup> tg) {
  start_time_ = Kernel::BootClock();  // on the boot clock, as /proc reports it
  tg_ = std::move(tg);
  tg_->start_time = start_time_;
  tg_->handlers = std::make_shared<SignalHandlers>();

  platform::Platform& p = kernel_.platform();
  mem_ = std::make_shared<GuestMemory>();
  SLOG(kDebug, "boot: init's address space");
  ASSIGN_OR_RETURN(mem_->as, p.NewAddressSpace());
  ASSIGN_OR_RETURN(context_, p.NewContext());
  SLOG(kDebug, "boot: init's address space ready");
  // The program is loaded (the gofer's round trips, its data copied in) on
  // another thread while this one, the tracer-to-be, makes the stub threads
  // the first Switch would make (~1 ms at boot: an injector, a guest thread
  // and their set-up): neither waits for the other.
  absl::Status loaded;
  std::thread loader([&] { loaded = LoadInit(args); });
  if (absl::Status s = context_->Prepare(*mem_->as); !s.ok()) {
    // The first Switch meets it again and stops the sandbox.
    SLOG(kDebug, "init's stub threads: %s", s.ToString());
  }
  loader.join();
  return loaded;
}

absl::Status Task::LoadInit(const InitArgs& args) {
  platform::Platform& p = kernel_.platform();
  mm::Layout layout;
  layout.max_addr = p.MaxUserAddress();
  mem_->mm = std::make_unique<mm::MemoryManager>(kernel_.memory_file(), mem_->as.get(), layout);

  // Resource limits: the configured ones, else Linux's defaults for init.
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    if (static_cast<size_t>(r) < kernel_.config().rlimits.size()) {
      tg_->rlimits[r] = kernel_.config().rlimits[r];
    } else {
      tg_->rlimits[r] = {RLIM_INFINITY, RLIM_INFINITY};
    }
  }
  if (tg_->rlimits[RLIMIT_CPU].rlim_cur != RLIM_INFINITY) {
    tg_->timers->UpdateCpuLimit(tg_, tg_->rlimits[RLIMIT_CPU].rlim_cur);
  }
  // As runc leaves the container's process (credentials.h); before the
  // memory limits, which follow CAP_IPC_LOCK.
  SetCredentials(
      std::make_shared<const Credentials>(Credentials::ForInit(args.uid, args.gid, args.groups)));
  SyncMemoryLimits();

  const int ncpu = std::max(1, kernel_.config().num_cpus);
  {
    absl::MutexLock l(&sched_mu);
    cpu_affinity.assign((ncpu + 63) / 64, 0);
    for (int i = 0; i < ncpu; ++i) cpu_affinity[i / 64] |= uint64_t{1} << (i % 64);
  }

  fds_ = std::make_shared<FdTable>();
  set_ipc_namespace(kernel_.root_ipc_namespace());
  fs_ = std::make_shared<FsContext>(kernel_.vfs().Root(), kernel_.vfs().Root(), 022);
  if (!args.cwd.empty()) {
    const vfs::AccessCreds creds = access_creds();
    const vfs::VirtualDentry root = fs_->root();
    const vfs::PathContext ctx{root, root, &creds, fs_->umask()};
    // What chdir(2) would accept: a directory the task may search.
    auto cwd = kernel_.vfs().Resolve(ctx, args.cwd, vfs::kFollow | vfs::kDirectory);
    ErrnoOrOk usable = cwd.ok() ? ErrnoOrOk(Ok()) : ErrnoOrOk(cwd.error());
    if (usable.ok()) {
      auto attr = kernel_.vfs().Stat(*cwd);
      usable = attr.ok() ? vfs::CheckPermission(creds, *attr, vfs::kMayExec) : attr.error();
    }
    if (usable.ok()) {
      fs_->set_cwd(*std::move(cwd));
    } else {
      SLOG(kInfo, "working directory \"%s\" is not usable in the sandbox (%s); using /", args.cwd,
           ErrnoName(usable.error().value()));
    }
  }
  for (size_t i = 0; i < args.stdio.size(); ++i) {
    fds_->InstallAt(static_cast<int>(i), args.stdio[i], /*cloexec=*/false);
    // A terminal on stdio becomes init's controlling terminal, with init's
    // group in the foreground (as runc makes the console the container's).
    if (std::shared_ptr<vfs::TtyJobControl> jc = args.stdio[i]->JobControl()) {
      kernel_.NoteTerminalFile(args.stdio[i]);
      absl::MutexLock l(&tree_mu);
      jc->sid = tg_->sid;
      jc->fg_pgid = tg_->pgid;
    }
  }

  // The executable: a file handed over, or the path opened through the
  // sandbox's own VFS (after the cwd is set: a relative path starts there).
  std::unique_ptr<loader::ExecutableFile> opened;
  loader::ExecutableFile* exe = args.executable;
  if (exe == nullptr) {
    auto o = OpenExecutable(args.filename);
    if (!o.ok()) return ExecError(args.filename, o.error(), "");
    opened = *std::move(o);
    exe = opened.get();
  }
  // A "#!" script runs as execve(2) would run it.
  std::vector<std::string> argv = args.argv;
  auto interp = loader::FollowScripts(
      *exe, args.filename, &argv, [this](const std::string& path) { return OpenExecutable(path); });
  if (!interp.ok()) return ExecError(args.filename, interp.error(), "");
  if (*interp != nullptr) {
    opened = *std::move(interp);
    exe = opened.get();
  }
  loader::LoadArgs la;
  la.file = exe;
  la.filename = args.filename;
  la.argv = std::move(argv);
  la.envp = args.envp;
  la.creds = {args.uid, args.uid, args.gid, args.gid, false};
  la.randomize = kernel_.config().randomize;
  la.max_addr = p.MaxUserAddress();
  la.stack_limit = tg_->rlimits[RLIMIT_STACK].rlim_cur;
  la.open_interp = [this](const std::string& path) { return OpenExecutable(path); };
  la.vdso = kernel_.vdso_mapping();
  std::string error;
  auto loaded = loader::Load(*mem_->mm, la, &error);
  if (!loaded.ok()) return ExecError(args.filename, loaded.error(), error);
  comm_ = loaded->comm;
  mem_->image = *std::move(loaded);
  SLOG(kDebug, "boot: init loaded (%s)", args.filename);
  mem_->executable_path = exe->Path().empty() ? AbsoluteExecPath(args.filename) : exe->Path();

  std::memset(&regs_.r, 0, sizeof(regs_.r));
  regs_.r.rip = mem_->image.entry;
  regs_.r.rsp = mem_->image.stack_pointer;
  regs_.r.cs = 0x33;  // __USER_CS
  regs_.r.ss = 0x2b;  // __USER_DS
  regs_.r.eflags = 0x202;
  fp_.Reset();
  absl::MutexLock l(&tree_mu);
  tg_->tasks.push_back(this);
  kernel_.AddTask(shared_from_this());
  return absl::OkStatus();
}

// --- The run loop ---

absl::Status Task::Run() {
  if (clockid_t c; pthread_getcpuclockid(pthread_self(), &c) == 0) {
    // A runner's thread: its earlier tasks' time is not this one's.
    if (timespec ts{}; reused_thread_ && clock_gettime(c, &ts) == 0) {
      stub_sys_base_.fetch_sub(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec,
                               std::memory_order_relaxed);
    }
    host_clock_.store(c);
  }
  for (;;) {
    PrepareReturnToGuest();
    if (exiting()) break;
    absl::StatusOr<platform::SwitchResult> r = context_->Switch(*mem_->as, regs_, fp_);
    if (!r.ok()) {
      if (exiting()) break;  // the address space went away under a dying task
      FinishExit();
      return absl::Status(
          r.status().code(),
          absl::StrFormat("task %d: the platform lost the guest: %s", tid_, r.status().message()));
    }
    switch (r->kind) {
      case platform::SwitchResult::Kind::kSyscall:
        if (r->patchable) MaybePatchSyscallSite();
        HandleSyscall();
        break;
      case platform::SwitchResult::Kind::kFault:
        HandleFault(*r);
        break;
      case platform::SwitchResult::Kind::kSignal:
        HandleSignal(*r);
        break;
      case platform::SwitchResult::Kind::kInterrupted:
        break;
    }
  }
  FinishExit();
  return absl::OkStatus();
}

void Task::MaybePatchSyscallSite() {
  const platform::SyscallPatchTarget* target = kernel_.platform().syscall_patch_target();
  if (target == nullptr) return;
  // Only this task holds the memory (threads and vfork children share it).
  const bool single = mem_.use_count() == 1;
  mem_->patches.MaybePatch(*target, *mem_->mm, kernel_.patch_stats(), single, regs_.r.rip,
                           regs_.r.orig_rax);
}

void Task::HandleSyscall() {
  CurrentScope current(this);
  const uint64_t nr = regs_.r.orig_rax;
  const SyscallArgs args{
      {regs_.r.rdi, regs_.r.rsi, regs_.r.rdx, regs_.r.r10, regs_.r.r8, regs_.r.r9}};
  const SyscallTable& table = kernel_.syscall_table();
  const SyscallInfo* info = table.Lookup(nr);
  SyscallResult result = Errno(ENOSYS);
  regs_replaced_ = false;
  if (info != nullptr && info->handler != nullptr) {
    if (info->support == Support::kPartial) kernel_.CountPartial(nr);
    result = info->handler(*this, args);
  } else {
    kernel_.CountUnimplemented(nr);
    result = Errno(info != nullptr ? info->error : ENOSYS);
  }
  if (kernel_.config().strace && table.strace != nullptr) table.strace(*this, nr, args, result);
  if (regs_replaced_) return;  // rt_sigreturn, execve: the registers are set
  if (result.ok()) {
    regs_.r.rax = *result;
  } else {
    // ERESTART* stay in rax until PrepareReturnToGuest settles them: restart
    // or EINTR, depending on the handler of the signal that interrupted.
    regs_.r.rax = static_cast<uint64_t>(-static_cast<int64_t>(result.error().value()));
    const int e = result.error().value();
    syscall_restart_ = e >= kERESTARTSYS && e <= kERESTART_RESTARTBLOCK;
  }
}

void Task::HandleFault(const platform::SwitchResult& r) {
  minflt_.fetch_add(1, std::memory_order_relaxed);
  mm::FaultResult fr = mem_->mm->HandleFault(r.fault_addr, r.access);
  SLOG(kDebug, "task %d: fault at %#x (rip %#x, si_code %d): %d", tid_, r.fault_addr, regs_.r.rip,
       r.info.si_code, static_cast<int>(fr));
  if (fr == mm::FaultResult::kHandled) return;
  siginfo_t info{};
  info.si_signo = fr == mm::FaultResult::kBusError ? SIGBUS : SIGSEGV;
  switch (fr) {
    case mm::FaultResult::kBusError:
      info.si_code = BUS_ADRERR;
      break;
    case mm::FaultResult::kSegvAccErr:
      info.si_code = SEGV_ACCERR;
      break;
    default:
      info.si_code = SEGV_MAPERR;
      break;
  }
  info.si_addr = reinterpret_cast<void*>(r.fault_addr);
  SLOG(kInfo, "task %d: %s at address %#x (rip %#x)", tid_, sigabbrev_np(info.si_signo),
       r.fault_addr, regs_.r.rip);
  ForceSignal(info);
}

void Task::HandleSignal(const platform::SwitchResult& r) {
  SLOG(kInfo, "task %d: host signal %s (code %d) at rip %#x", tid_, sigabbrev_np(r.info.si_signo),
       r.info.si_code, regs_.r.rip);
  siginfo_t info = r.info;
  if (info.si_signo == SIGSYS) {
    // A guest call into the vsyscall page: Linux (vsyscall=xonly or none)
    // kills it with SIGSEGV at the call's address.
    info = {};
    info.si_signo = SIGSEGV;
    info.si_code = SEGV_MAPERR;
    info.si_addr = reinterpret_cast<void*>(regs_.r.rip);
  }
  ForceSignal(info);
}

void Task::SyncMemoryLimits() { mem_->mm->SetLimits(MemoryLimits(creds())); }

mm::Limits Task::MemoryLimits(const Credentials& c) const {
  mm::Limits l;
  l.as = tg_->rlimits[RLIMIT_AS].rlim_cur;
  l.data = tg_->rlimits[RLIMIT_DATA].rlim_cur;
  l.data_max = tg_->rlimits[RLIMIT_DATA].rlim_max;
  l.stack = tg_->rlimits[RLIMIT_STACK].rlim_cur;
  l.memlock = tg_->rlimits[RLIMIT_MEMLOCK].rlim_cur;
  l.can_ipc_lock = c.HasCapability(CAP_IPC_LOCK);
  return l;
}

ErrnoOrOk Task::SleepUntil(clockid_t clock, const timespec& deadline) {
  const bool forever = deadline.tv_sec >= INT64_MAX / 1000000000 - 1;
  for (;;) {
    ErrnoOrOk r = waker_.Block(clock, forever ? nullptr : &deadline);
    if (!r.ok() && r.error().value() == ETIMEDOUT) return Ok();
    if (!r.ok()) return r;  // EINTR
    // A wake meant for another wait (a stale notification): sleep on.
  }
}

ErrnoOr<short> Task::WaitHostFd(int fd, short events) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    RETURN_IF_ERROR(waker_.Block(CLOCK_MONOTONIC, nullptr, {&pfd, 1}));
    if (pfd.revents != 0) return pfd.revents;
  }
}

void Task::SleepHook::Woke() { task->sleeping_.store(false, std::memory_order_relaxed); }

void Task::SleepHook::WillSleep() {
  task->sleeping_.store(true, std::memory_order_relaxed);
  // Only the task's own thread blocks on its waker, and only it changes context_.
  if (task->context_ != nullptr) task->context_->WillBlock();
}

void Task::Interrupt() {
  waker_.Interrupt();
  if (context_) context_->Interrupt();
}

std::shared_ptr<GuestMemory> Task::memory_for_proc() const {
  absl::MutexLock l(&proc_mu_);
  return mem_;
}

std::shared_ptr<FsContext> Task::fs_for_proc() const {
  absl::MutexLock l(&proc_mu_);
  return fs_;
}

std::shared_ptr<FdTable> Task::fds_for_proc() const {
  absl::MutexLock l(&proc_mu_);
  return fds_;
}

ThreadGroup::Usage Task::OwnUsage() const {
  ThreadGroup::Usage u;
  u.user_ns = stub_user_base_.load(std::memory_order_relaxed);
  u.sys_ns = stub_sys_base_.load(std::memory_order_relaxed);
  {
    absl::MutexLock l(&proc_mu_);  // the context goes at exit, under it
    if (context_ != nullptr) {
      const platform::Context::CpuTimes g = context_->GuestCpuTime();
      u.user_ns += g.user_ns;
      u.sys_ns += g.sys_ns;
    }
  }
  const clockid_t host = host_clock_.load(std::memory_order_relaxed);
  timespec ts{};
  if (host != -1 && clock_gettime(host, &ts) == 0) {
    u.sys_ns += int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }
  u.minflt = minflt_.load(std::memory_order_relaxed);
  return u;
}

ThreadGroup::Usage ThreadGroup::CpuUsage(bool* live) {
  Usage u;
  absl::MutexLock l(&tree_mu);
  u.user_ns = dead_usage.user_ns;
  u.sys_ns = dead_usage.sys_ns;
  for (Task* t : tasks) {
    if (t->usage_counted_) continue;
    const Usage o = t->OwnUsage();
    u.user_ns += o.user_ns;
    u.sys_ns += o.sys_ns;
  }
  if (live != nullptr) *live = !tasks.empty() && !zombie;
  return u;
}

ThreadGroup::Usage Task::ProcessUsage() {
  ThreadGroup::Usage u;
  {
    absl::MutexLock l(&tree_mu);
    u = tg_->dead_usage;
    for (Task* t : tg_->tasks) {
      if (!t->usage_counted_) u.Add(t->OwnUsage());
    }
  }
  if (mem_ != nullptr && mem_->mm != nullptr) {
    u.maxrss_kb = std::max<int64_t>(u.maxrss_kb, mem_->mm->PeakResidentBytes() / 1024);
  }
  return u;
}

timespec Task::CpuTime() const {
  const ThreadGroup::Usage u = OwnUsage();
  const int64_t ns = u.user_ns + u.sys_ns;
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

namespace {

// An executable read through an open file of the sandbox's VFS.
class VfsExecutable : public loader::ExecutableFile {
 public:
  VfsExecutable(std::shared_ptr<vfs::FileDescription> file, std::string path)
      : file_(std::move(file)), path_(std::move(path)) {}
  std::string Path() const override { return path_; }
  ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) override {
    size_t done = 0;
    while (done < dst.size()) {
      if (offset + done > static_cast<uint64_t>(INT64_MAX)) break;
      iovec v{dst.data() + done, dst.size() - done};
      ASSIGN_OR_RETURN(size_t n, file_->Readv(nullptr, {&v, 1}, offset + done));
      if (n == 0) break;
      done += n;
    }
    return done;
  }
  std::optional<loader::SetIdInfo> SetId() override {
    auto a = file_->location().inode().GetAttr();
    if (!a.ok()) return std::nullopt;
    return loader::SetIdInfo{a->mode, a->uid, a->gid, file_->location().mount->nosuid};
  }
  MapInfo Mappable() override {
    MapInfo m;
    m.object = file_->Mappable();
    if (auto st = file_->Stat(); st.ok()) {
      m.dev = st->st_dev;
      m.ino = st->st_ino;
    }
    return m;
  }

 private:
  std::shared_ptr<vfs::FileDescription> file_;
  std::string path_;
};

}  // namespace

ErrnoOr<std::unique_ptr<loader::ExecutableFile>> Task::OpenExecutable(const std::string& path) {
  const vfs::AccessCreds creds = access_creds();
  const vfs::VirtualDentry root = fs_->root(), cwd = fs_->cwd();
  const vfs::PathContext ctx{root, cwd, &creds, fs_->umask()};
  return OpenExecutableAt(ctx, path, /*follow=*/true, /*empty_path=*/false);
}

ErrnoOr<std::unique_ptr<loader::ExecutableFile>> Task::OpenExecutableAt(const vfs::PathContext& ctx,
                                                                        const std::string& path,
                                                                        bool follow,
                                                                        bool empty_path) {
  const vfs::AccessCreds& creds = *ctx.creds;
  std::shared_ptr<vfs::FileDescription> file;
  if (empty_path && path.empty()) {
    // execveat(fd, "", AT_EMPTY_PATH): the file the fd names, opened anew.
    ASSIGN_OR_RETURN(vfs::VirtualDentry vd, kernel_.vfs().Resolve(ctx, "", vfs::kEmptyPath));
    ASSIGN_OR_RETURN(vfs::Attr a, vd.inode().GetAttr());
    if (!S_ISREG(a.mode)) return Errno(EACCES);
    ASSIGN_OR_RETURN(file, vd.inode().Open(vd, O_RDONLY));
    file->set_location(vd);
  } else {
    ASSIGN_OR_RETURN(file, kernel_.vfs().Open(ctx, path, O_RDONLY | (follow ? 0 : O_NOFOLLOW), 0));
  }
  // open_exec's checks: a regular file, executable, on a mount that allows it.
  ASSIGN_OR_RETURN(vfs::Attr a, file->location().inode().GetAttr());
  if (!S_ISREG(a.mode)) return Errno(EACCES);
  RETURN_IF_ERROR(vfs::CheckPermission(creds, a, vfs::kMayExec));
  if (file->location().mount->noexec) return Errno(EACCES);
  std::string resolved = kernel_.vfs().PathOf(ctx.root, file->location());
  return std::unique_ptr<loader::ExecutableFile>(
      new VfsExecutable(std::move(file), std::move(resolved)));
}

}  // namespace sentry::kernel
