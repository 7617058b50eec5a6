#include "sentry/kernel/task.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace sentry::kernel {
namespace {

// Default actions (signal(7)): true if the signal terminates the process.
bool DefaultTerminates(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return false;
    default:
      return true;
  }
}

// sig_kernel_ignore: the signals whose default action is to do nothing.
bool DefaultIgnores(int sig) {
  return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

constexpr uint64_t kStopSignals =
    SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
bool IsStopSignal(int sig) { return (kStopSignals & SigBit(sig)) != 0; }

bool DefaultDumpsCore(int sig) {
  switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

thread_local Task* current_task = nullptr;

// `path` made absolute against `cwd` and normalized lexically (no ".", "..",
// or repeated slashes), as Linux's /proc/pid/exe always is. (static glibc
// asserts that readlink("/proc/self/exe") starts with '/'.)
std::string AbsolutePath(const std::string& cwd, const std::string& path) {
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

}  // namespace

Task* Task::Current() { return current_task; }

Task::CurrentScope::CurrentScope(Task* t) : saved_(current_task) { current_task = t; }
Task::CurrentScope::~CurrentScope() { current_task = saved_; }

Task::Task(Kernel& k, pid_t tid) : kernel_(k), tid_(tid) {}

Task::~Task() {
  kernel_.RemoveTask(this);
  // The memory manager refers to the address space: release it first.
  mm_.reset();
  as_.reset();
}

absl::Status Task::Start(const InitArgs& args) {
  start_time_ = Kernel::BootClock();  // on the boot clock, as /proc reports it
  platform::Platform& p = kernel_.platform();
  ASSIGN_OR_RETURN(as_, p.NewAddressSpace());
  ASSIGN_OR_RETURN(context_, p.NewContext());
  mm::Layout layout;
  layout.max_addr = p.MaxUserAddress();
  mm_ = std::make_shared<mm::MemoryManager>(kernel_.memory_file(), as_.get(), layout);

  // Resource limits: the configured ones, else Linux's defaults for init.
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    if (static_cast<size_t>(r) < kernel_.config().rlimits.size()) {
      rlimits_[r] = kernel_.config().rlimits[r];
    } else {
      rlimits_[r] = {RLIM_INFINITY, RLIM_INFINITY};
    }
  }
  SyncMemoryLimits();

  const int ncpu = std::max(1, kernel_.config().num_cpus);
  cpu_affinity.assign((ncpu + 63) / 64, 0);
  for (int i = 0; i < ncpu; ++i) cpu_affinity[i / 64] |= uint64_t{1} << (i % 64);

  creds_.ruid = creds_.euid = creds_.suid = creds_.fsuid = args.uid;
  creds_.rgid = creds_.egid = creds_.sgid = creds_.fsgid = args.gid;
  creds_.groups = args.groups;
  std::sort(creds_.groups.begin(), creds_.groups.end());

  fds_ = std::make_shared<FdTable>();
  fs_root_ = cwd_ = kernel_.vfs().Root();
  if (!args.cwd.empty()) {
    const vfs::AccessCreds creds = access_creds();
    const vfs::PathContext ctx{fs_root_, fs_root_, &creds, umask_};
    // What chdir(2) would accept: a directory the task may search.
    auto cwd = kernel_.vfs().Resolve(ctx, args.cwd, vfs::kFollow | vfs::kDirectory);
    ErrnoOrOk usable = cwd.ok() ? ErrnoOrOk(Ok()) : ErrnoOrOk(cwd.error());
    if (usable.ok()) {
      auto attr = kernel_.vfs().Stat(*cwd);
      usable = attr.ok() ? vfs::CheckPermission(creds, *attr, vfs::kMayExec) : attr.error();
    }
    if (usable.ok()) {
      cwd_ = *std::move(cwd);
    } else {
      SLOG(kInfo, "working directory \"%s\" is not usable in the sandbox (%s); using /", args.cwd,
           ErrnoName(usable.error().value()));
    }
  }
  for (size_t i = 0; i < args.stdio.size(); ++i) {
    fds_->InstallAt(static_cast<int>(i), args.stdio[i], /*cloexec=*/false);
  }

  // The executable: a file handed over, or the path opened through the
  // sandbox's own VFS (after the cwd is set: a relative path starts there).
  std::unique_ptr<loader::ExecutableFile> opened;
  loader::ExecutableFile* exe = args.executable;
  if (exe == nullptr) {
    auto o = OpenExecutable(args.filename);
    if (!o.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("exec \"%s\": %s", args.filename, ErrnoDescription(o.error().value())));
    }
    opened = *std::move(o);
    exe = opened.get();
  }
  loader::LoadArgs la;
  la.file = exe;
  la.filename = args.filename;
  la.argv = args.argv;
  la.envp = args.envp;
  la.creds = {args.uid, args.uid, args.gid, args.gid, false};
  la.randomize = kernel_.config().randomize;
  la.max_addr = p.MaxUserAddress();
  la.stack_limit = rlimits_[RLIMIT_STACK].rlim_cur;
  la.open_interp = [this](const std::string& path) { return OpenExecutable(path); };
  std::string error;
  auto loaded = loader::Load(*mm_, la, &error);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("exec \"%s\": %s%s%s", args.filename,
                                                      ErrnoDescription(loaded.error().value()),
                                                      error.empty() ? "" : ": ", error));
  }
  comm_ = loaded->comm;
  image_ = *std::move(loaded);
  executable_path_ = AbsolutePath(kernel_.vfs().PathOf(fs_root_, cwd_), args.filename);

  std::memset(&regs_.r, 0, sizeof(regs_.r));
  regs_.r.rip = image_.entry;
  regs_.r.rsp = image_.stack_pointer;
  regs_.r.cs = 0x33;  // __USER_CS
  regs_.r.ss = 0x2b;  // __USER_DS
  regs_.r.eflags = 0x202;
  fp_.Reset();
  kernel_.AddTask(this);
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Task::Run() {
  while (!exiting_) {
    absl::StatusOr<platform::SwitchResult> r = context_->Switch(*as_, regs_, fp_);
    if (!r.ok()) {
      return absl::Status(
          r.status().code(),
          absl::StrFormat("task %d: the platform lost the guest: %s", tid_, r.status().message()));
    }
    switch (r->kind) {
      case platform::SwitchResult::Kind::kSyscall:
        HandleSyscall();
        break;
      case platform::SwitchResult::Kind::kFault:
        HandleFault(*r);
        break;
      case platform::SwitchResult::Kind::kSignal:
        HandleSignal(*r);
        break;
      case platform::SwitchResult::Kind::kInterrupted:
        waker_.ClearInterrupt();
        break;
    }
  }
  return exit_status_;
}

void Task::HandleSyscall() {
  CurrentScope current(this);
  const uint64_t nr = regs_.r.orig_rax;
  const SyscallArgs args{
      {regs_.r.rdi, regs_.r.rsi, regs_.r.rdx, regs_.r.r10, regs_.r.r8, regs_.r.r9}};
  const SyscallTable& table = kernel_.syscall_table();
  const SyscallInfo* info = table.Lookup(nr);
  SyscallResult result = Errno(ENOSYS);
  if (info != nullptr && info->handler != nullptr) {
    if (info->support == Support::kPartial) kernel_.CountPartial(nr);
    result = info->handler(*this, args);
  } else {
    kernel_.CountUnimplemented(nr);
    result = Errno(info != nullptr ? info->error : ENOSYS);
  }
  if (result.ok()) {
    regs_.r.rax = *result;
  } else {
    int e = result.error().value();
    // TODO(processes issue): with signal delivery, ERESTART* restart or become
    // EINTR depending on the handler; until then an interrupted call is EINTR.
    if (e >= kERESTARTSYS && e <= kERESTART_RESTARTBLOCK) e = EINTR;
    regs_.r.rax = static_cast<uint64_t>(-static_cast<int64_t>(e));
  }
  if (kernel_.config().strace && table.strace != nullptr) table.strace(*this, nr, args, result);
}

void Task::HandleFault(const platform::SwitchResult& r) {
  mm::FaultResult fr = mm_->HandleFault(r.fault_addr, r.access);
  SLOG(kDebug, "task %d: fault at %#x (rip %#x, si_code %d): %d", tid_, r.fault_addr, regs_.r.rip,
       r.info.si_code, static_cast<int>(fr));
  if (fr == mm::FaultResult::kHandled) return;
  int sig = fr == mm::FaultResult::kBusError ? SIGBUS : SIGSEGV;
  SLOG(kInfo, "task %d: %s at address %#x (rip %#x)", tid_, sigabbrev_np(sig), r.fault_addr,
       regs_.r.rip);
  // TODO(processes issue): deliver to a guest handler when one is installed.
  KillBySignal(sig, DefaultDumpsCore(sig));
}

void Task::HandleSignal(const platform::SwitchResult& r) {
  int sig = r.info.si_signo;
  SLOG(kInfo, "task %d: host signal %s (code %d) at rip %#x", tid_, sigabbrev_np(sig),
       r.info.si_code, regs_.r.rip);
  // TODO(processes issue): deliver to a guest handler when one is installed and
  // the signal is not blocked; synchronous signals force the default action.
  const KSigaction& act = sigaction(sig);
  bool synchronous = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
                     sig == SIGTRAP || sig == SIGSYS;
  if (!synchronous && (act.handler == 1 /*SIG_IGN*/ || !DefaultTerminates(sig))) return;
  KillBySignal(sig, DefaultDumpsCore(sig));
}

ErrnoOrOk Task::SendSignalToSelf(int sig) {
  const KSigaction& act = sigaction(sig);
  // prepare_signal: a stop signal discards a pending SIGCONT and SIGCONT
  // discards pending stop signals, whether or not the new one is then ignored.
  if (IsStopSignal(sig)) pending_ &= ~SigBit(SIGCONT);
  if (sig == SIGCONT) pending_ &= ~kStopSignals;
  if (act.handler > 1 /*a handler*/) {
    // TODO(processes issue): queue it for delivery.
    kernel_.RecordGap("signal delivery to a guest handler (kill, tkill, tgkill)");
    return Errno(ENOSYS);
  }
  // A blocked signal is never ignored: it waits in the pending set, since its
  // action may change before it is unblocked.
  if (signal_mask_ & SigBit(sig)) {
    pending_ |= SigBit(sig);
    return Ok();
  }
  // The guest is its PID namespace's init: like Linux (SIGNAL_UNKILLABLE), init
  // ignores signals sent from inside its namespace whose action is the default
  // one, SIGKILL and SIGSTOP included; and an ignored signal is discarded.
  return Ok();
}

void Task::set_sigaction(int sig, const KSigaction& act) {
  sigactions_[sig - 1] = act;
  // sig_handler_ignored: SIG_IGN, or SIG_DFL where the default is to ignore.
  if (act.handler == 1 /*SIG_IGN*/ || (act.handler == 0 && DefaultIgnores(sig))) {
    pending_ &= ~SigBit(sig);
  }
}

void Task::set_signal_mask(uint64_t m) {
  signal_mask_ = m & ~kUnblockableSignals;
  const uint64_t unblocked = pending_ & ~signal_mask_;
  if (unblocked == 0) return;
  pending_ &= signal_mask_;
  // What get_signal would do with each: ignored (SIG_IGN), or for init the
  // default action of a signal sent from inside its namespace: nothing.
  for (int sig = 1; sig <= kNumSignals; ++sig) {
    if ((unblocked & SigBit(sig)) && sigaction(sig).handler > 1) {
      // A handler was installed while it was pending.
      // TODO(processes issue): deliver it.
      kernel_.RecordGap("signal delivery to a guest handler (a pending signal unblocked)");
    }
  }
}

void Task::ExitGroup(int code) {
  exiting_ = true;
  exit_status_ = ExitStatus{code & 0xff, 0, false};
}

void Task::KillBySignal(int sig, bool core) {
  exiting_ = true;
  exit_status_ = ExitStatus{0, sig, core};
}

void Task::SyncMemoryLimits() {
  mm::Limits l;
  l.as = rlimits_[RLIMIT_AS].rlim_cur;
  l.data = rlimits_[RLIMIT_DATA].rlim_cur;
  l.data_max = rlimits_[RLIMIT_DATA].rlim_max;
  l.stack = rlimits_[RLIMIT_STACK].rlim_cur;
  l.memlock = rlimits_[RLIMIT_MEMLOCK].rlim_cur;
  l.can_ipc_lock = creds_.HasCapability();
  mm_->SetLimits(l);
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

void Task::Interrupt() {
  waker_.Interrupt();
  if (context_) context_->Interrupt();
}

timespec Task::CpuTime() const {
  // TODO: add the stub thread's CPU time (the guest's own user time), which
  // the platform will report; today this is the Sentry thread's share.
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts;
}

namespace {

// An executable read through an open file of the sandbox's VFS.
class VfsExecutable : public loader::ExecutableFile {
 public:
  explicit VfsExecutable(std::shared_ptr<vfs::FileDescription> file) : file_(std::move(file)) {}
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

 private:
  std::shared_ptr<vfs::FileDescription> file_;
};

}  // namespace

ErrnoOr<std::unique_ptr<loader::ExecutableFile>> Task::OpenExecutable(const std::string& path) {
  const vfs::AccessCreds creds = access_creds();
  const vfs::PathContext ctx{fs_root_, cwd_, &creds, umask_};
  ASSIGN_OR_RETURN(auto file, kernel_.vfs().Open(ctx, path, O_RDONLY, 0));
  // open_exec's checks: a regular file, executable, on a mount that allows it.
  ASSIGN_OR_RETURN(vfs::Attr a, file->location().inode().GetAttr());
  if (!S_ISREG(a.mode)) return Errno(EACCES);
  RETURN_IF_ERROR(vfs::CheckPermission(creds, a, vfs::kMayExec));
  if (file->location().mount->noexec) return Errno(EACCES);
  return std::unique_ptr<loader::ExecutableFile>(new VfsExecutable(std::move(file)));
}

vfs::AccessCreds Task::access_creds() const {
  vfs::AccessCreds c;
  c.fsuid = creds_.fsuid;
  c.fsgid = creds_.fsgid;
  c.groups = creds_.groups;
  // TODO(processes issue): capability sets; until then euid 0 holds every
  // file capability.
  if (creds_.HasCapability()) {
    c.cap_dac_override = c.cap_dac_read_search = c.cap_fowner = c.cap_chown = c.cap_fsetid =
        c.cap_mknod = true;
  }
  return c;
}

}  // namespace sentry::kernel
