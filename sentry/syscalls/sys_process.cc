// Processes: kill and its family, clone/fork/vfork, wait4/waitid, process
// groups and sessions, prctl.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <signal.h>

#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>

#include <climits>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

using kernel::ThreadGroup;
using kernel::tree_mu;

namespace {

constexpr size_t kTaskCommLen = 16;
constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD (Linux 6.9)

ErrnoOrOk CheckSignal(int sig) {
  if (sig < 0 || sig > kernel::kNumSignals) return Errno(EINVAL);
  return Ok();
}

// check_kill_permission: CAP_KILL, or the sender's real or effective uid is
// the target's real or saved uid; SIGCONT within a session always.
bool MaySignal(Task& sender, ThreadGroup& target, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
  if (target.tasks.empty()) return true;  // a zombie: nothing to refuse
  const kernel::Credentials& s = sender.creds();
  const std::shared_ptr<const kernel::Credentials> t = target.tasks.front()->creds_snapshot();
  if (s.HasCapability(CAP_KILL)) return true;
  if (s.euid == t->suid || s.euid == t->ruid || s.ruid == t->suid || s.ruid == t->ruid) return true;
  return sig == SIGCONT && target.sid == sender.thread_group().sid;
}

siginfo_t UserInfo(Task& t, int sig, int code) {
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = code;
  info.si_pid = t.tgid();
  info.si_uid = t.creds().ruid;
  return info;
}

// Sends to one process (sig 0: only the checks).
ErrnoOrOk SendToGroup(Task& t, ThreadGroup& target, const siginfo_t& info)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
  if (!MaySignal(t, target, info.si_signo)) return Errno(EPERM);
  if (info.si_signo == 0 || target.tasks.empty()) return Ok();
  return target.tasks.front()->SendSignalLockedPublic(info, /*to_group=*/true);
}

}  // namespace

SyscallResult Kill(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const int sig = a.Int(1);
  // Linux refuses INT_MIN outright (its negation would overflow).
  if (pid == INT_MIN) return Errno(ESRCH);
  // Linux's order: the target is looked up first (ESRCH), and the signal
  // number is checked per target found (EINVAL), before the permission.
  const siginfo_t info = UserInfo(t, sig, SI_USER);
  absl::MutexLock l(&tree_mu);
  if (pid > 0) {
    ThreadGroup* g = t.kernel().FindThreadGroupLocked(pid);
    if (g == nullptr) return Errno(ESRCH);
    RETURN_IF_ERROR(CheckSignal(sig));
    RETURN_IF_ERROR(SendToGroup(t, *g, info));
    return 0;
  }
  // A group (0: the caller's), or with -1 every process the caller may
  // signal but init and itself. Success if any got it; else the last error.
  const pid_t pgid = pid == 0 ? t.thread_group().pgid : -pid;
  bool found = false;
  ErrnoOrOk last = Errno(ESRCH);
  for (ThreadGroup* g : t.kernel().ThreadGroupsLocked()) {
    if (pid == -1) {
      if (g == t.kernel().init_thread_group() || g == &t.thread_group() || g->zombie) continue;
    } else if (g->pgid != pgid) {
      continue;
    }
    ErrnoOrOk r = CheckSignal(sig);
    if (r.ok()) r = SendToGroup(t, *g, info);
    if (r.ok()) {
      found = true;
    } else {
      last = r;
    }
  }
  if (found) return 0;
  return last.error();
}

namespace {

SyscallResult ThreadKill(Task& t, pid_t tgid, pid_t tid, const siginfo_t& info) {
  absl::MutexLock l(&tree_mu);
  Task* target = t.kernel().FindTaskLocked(tid);
  if (target == nullptr || (tgid > 0 && target->tgid() != tgid)) return Errno(ESRCH);
  if (!MaySignal(t, target->thread_group(), info.si_signo)) return Errno(EPERM);
  if (info.si_signo == 0) return 0;
  RETURN_IF_ERROR(target->SendSignalLockedPublic(info, /*to_group=*/false));
  return 0;
}

// rt_sigqueueinfo's siginfo: the caller may not pose as the kernel or as
// tkill when signalling another process.
ErrnoOr<siginfo_t> QueueInfo(Task& t, pid_t target_tgid, int sig, UserAddr uinfo) {
  siginfo_t info;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<siginfo_t>(uinfo), &info));
  if ((info.si_code >= 0 || info.si_code == SI_TKILL) && target_tgid != t.tgid()) {
    return Errno(EPERM);
  }
  info.si_signo = sig;
  return info;
}

}  // namespace

SyscallResult Tkill(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckSignal(a.Int(1)));
  return ThreadKill(t, 0, a.Int(0), UserInfo(t, a.Int(1), SI_TKILL));
}

SyscallResult Tgkill(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0 || a.Int(1) <= 0) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckSignal(a.Int(2)));
  return ThreadKill(t, a.Int(0), a.Int(1), UserInfo(t, a.Int(2), SI_TKILL));
}

SyscallResult RtSigqueueinfo(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const int sig = a.Int(1);
  ASSIGN_OR_RETURN(siginfo_t info, QueueInfo(t, pid, sig, a.Addr(2)));
  RETURN_IF_ERROR(CheckSignal(sig));
  absl::MutexLock l(&tree_mu);
  ThreadGroup* g = pid > 0 ? t.kernel().FindThreadGroupLocked(pid) : nullptr;
  if (g == nullptr) return Errno(ESRCH);
  RETURN_IF_ERROR(SendToGroup(t, *g, info));
  return 0;
}

// pidfd_open(pid, flags): a pidfd for a process (a thread-group leader).
SyscallResult PidfdOpen(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const unsigned flags = a.Uint(1);
  if (flags & ~static_cast<unsigned>(O_NONBLOCK)) {
    if (flags & kPidfdThread) t.kernel().RecordGap("pidfd_open(PIDFD_THREAD)");
    return Errno(EINVAL);
  }
  if (pid <= 0) return Errno(EINVAL);
  std::shared_ptr<ThreadGroup> tg;
  {
    absl::MutexLock l(&tree_mu);
    // A live thread that is not its process's leader: EINVAL (without
    // PIDFD_THREAD); a zombie not yet reaped still has its pidfd.
    Task* task = t.kernel().FindTaskLocked(pid);
    if (task != nullptr && task->tid() != task->tgid()) return Errno(EINVAL);
    tg = t.kernel().FindThreadGroupPtrLocked(pid);
    if (tg == nullptr) return Errno(ESRCH);
  }
  auto f = std::make_shared<kernel::PidFd>(std::move(tg), flags & O_NONBLOCK);
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(f), /*cloexec=*/true, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

// pidfd_send_signal(pidfd, sig, info, flags): kill(2), or with `info`
// rt_sigqueueinfo(2), for the pidfd's process.
SyscallResult PidfdSendSignal(Task& t, const SyscallArgs& a) {
  const int sig = a.Int(1);
  if (a.Uint(3) != 0) {
    t.kernel().RecordGap("pidfd_send_signal flags (PIDFD_SIGNAL_*)");
    return Errno(EINVAL);
  }
  RETURN_IF_ERROR(CheckSignal(sig));
  ASSIGN_OR_RETURN(auto f, t.fds().Get(a.Int(0)));
  kernel::PidFd* pidfd = kernel::PidFd::From(*f);
  if (pidfd == nullptr) return Errno(EBADF);
  ThreadGroup& target = pidfd->thread_group();
  siginfo_t info = UserInfo(t, sig, SI_USER);
  if (!a.Addr(2).IsNull()) {
    ASSIGN_OR_RETURN(info, QueueInfo(t, target.tgid(), sig, a.Addr(2)));
    // The signal number is the argument's; a different one in the siginfo
    // is EINVAL (copy_siginfo_from_user_any).
    siginfo_t raw;
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<siginfo_t>(a.Addr(2)), &raw));
    if (raw.si_signo != sig) return Errno(EINVAL);
  }
  absl::MutexLock l(&tree_mu);
  // A reaped process can no longer be signalled: ESRCH, as Linux's
  // pid_task() finds no task. A zombie still has one: the signal is
  // accepted (and goes nowhere), as kill(2) of a zombie.
  if (t.kernel().FindThreadGroupLocked(target.tgid()) != &target) return Errno(ESRCH);
  RETURN_IF_ERROR(SendToGroup(t, target, info));
  return 0;
}

// pidfd_getfd(pidfd, targetfd, flags): a duplicate (close-on-exec) of
// another process's fd, if the caller may ptrace-attach to it
// (PTRACE_MODE_ATTACH_REALCREDS).
SyscallResult PidfdGetfd(Task& t, const SyscallArgs& a) {
  if (a.Uint(2) != 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto f, t.fds().Get(a.Int(0)));
  kernel::PidFd* pidfd = kernel::PidFd::From(*f);
  if (pidfd == nullptr) return Errno(EBADF);
  ThreadGroup& target = pidfd->thread_group();
  pid_t tid = 0;
  {
    absl::MutexLock l(&tree_mu);
    // Reaped, or exited (a zombie has no files left): ESRCH, as Linux 6.9+
    // (6.1 said EBADF for a zombie).
    if (t.kernel().FindThreadGroupLocked(target.tgid()) != &target) return Errno(ESRCH);
    if (target.tasks.empty()) return Errno(ESRCH);
    tid = target.tasks.front()->tid();
  }
  std::optional<ErrnoOr<std::shared_ptr<vfs::FileDescription>>> file;
  const bool found = t.kernel().WithTask(tid, [&](Task& other) {
    if (&other.thread_group() != &t.thread_group() &&
        !kernel::PtraceMayAccess(t.creds(), *other.creds_snapshot(), other.dumpable == 1,
                                 /*fscreds=*/false)) {
      file.emplace(Errno(EPERM));
      return;
    }
    if (other.exiting()) {
      file.emplace(Errno(ESRCH));
      return;
    }
    file.emplace(other.fds().Get(a.Int(1)));
  });
  if (!found) return Errno(ESRCH);
  ASSIGN_OR_RETURN(std::shared_ptr<vfs::FileDescription> desc, std::move(*file));
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(desc), /*cloexec=*/true, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

SyscallResult RtTgsigqueueinfo(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0 || a.Int(1) <= 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(siginfo_t info, QueueInfo(t, a.Int(0), a.Int(2), a.Addr(3)));
  RETURN_IF_ERROR(CheckSignal(a.Int(2)));
  return ThreadKill(t, a.Int(0), a.Int(1), info);
}

// --- clone, fork, vfork ---

SyscallResult Clone(Task& t, const SyscallArgs& a) {
  // x86-64: clone(flags, stack, parent_tid, child_tid, tls). Only the low 32
  // bits of flags count (the clone3-only flags live above them).
  const uint64_t raw = a[0] & 0xffffffffu;
  Task::CloneArgs c;
  c.flags = raw & ~uint64_t{CSIGNAL};
  c.exit_signal = static_cast<int>(raw & CSIGNAL);
  if (c.exit_signal > kernel::kNumSignals) return Errno(EINVAL);
  c.stack = a[1];
  c.parent_tid = a[2];
  c.child_tid = a[3];
  c.tls = a[4];
  // CLONE_PIDFD stores the pidfd where CLONE_PARENT_SETTID would store the
  // tid: the two exclude each other.
  c.pidfd = a[2];
  if ((c.flags & CLONE_PIDFD) && (c.flags & CLONE_PARENT_SETTID)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(pid_t tid, t.Clone(c));
  return tid;
}

SyscallResult Clone3(Task& t, const SyscallArgs& a) {
  // struct clone_args, versions 0 (64 bytes) to 2 (88 bytes); a bigger one
  // (up to a page) must be zero past what we know.
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
  } ca{};
  constexpr size_t kVer0 = 64, kVer2 = 88;
  constexpr uint64_t kMaxPidNsLevel = 32;
  const size_t size = a.Size(1);
  if (size > kPageSize) return Errno(E2BIG);
  if (size < kVer0) return Errno(EINVAL);
  std::vector<uint8_t> buf(size);
  if (!t.mm().CopyIn(a.Addr(0), buf).ok()) return Errno(EFAULT);
  for (size_t i = sizeof(ca); i < size; ++i) {
    if (buf[i] != 0) return Errno(E2BIG);
  }
  std::memcpy(&ca, buf.data(), std::min(size, sizeof(ca)));
  // copy_clone_args_from_user.
  if (ca.set_tid_size > kMaxPidNsLevel) return Errno(EINVAL);
  if ((ca.set_tid == 0) != (ca.set_tid_size == 0)) return Errno(EINVAL);
  if ((ca.exit_signal & ~uint64_t{CSIGNAL}) ||
      ca.exit_signal > static_cast<uint64_t>(kernel::kNumSignals)) {
    return Errno(EINVAL);
  }
  if ((ca.flags & CLONE_INTO_CGROUP) && (ca.cgroup > INT_MAX || size < kVer2)) {
    return Errno(EINVAL);
  }
  std::vector<pid_t> set_tid(ca.set_tid_size);
  if (!set_tid.empty() &&
      !t.mm()
           .CopyIn(UserAddr(ca.set_tid),
                   {reinterpret_cast<uint8_t*>(set_tid.data()), set_tid.size() * sizeof(pid_t)})
           .ok()) {
    return Errno(EFAULT);
  }
  // clone3_args_valid.
  constexpr uint64_t kClone3Flags = 0xffffffffu | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
  if (ca.flags & ~kClone3Flags) return Errno(EINVAL);
  if (ca.flags & (CLONE_DETACHED | (CSIGNAL & ~uint64_t{CLONE_NEWTIME}))) return Errno(EINVAL);
  if ((ca.flags & CLONE_SIGHAND) && (ca.flags & CLONE_CLEAR_SIGHAND)) return Errno(EINVAL);
  if ((ca.flags & (CLONE_THREAD | CLONE_PARENT)) && ca.exit_signal != 0) return Errno(EINVAL);
  if ((ca.stack == 0) != (ca.stack_size == 0)) return Errno(EINVAL);
  if (ca.stack != 0 && !AccessOk(ca.stack, ca.stack_size)) return Errno(EINVAL);
  // kernel_clone.
  if ((ca.flags & CLONE_PIDFD) && (ca.flags & CLONE_PARENT_SETTID) && ca.pidfd == ca.parent_tid) {
    return Errno(EINVAL);
  }
  // The sandbox has one pid namespace (level 0): one tid at most.
  if (set_tid.size() > 1) return Errno(EINVAL);
  if (ca.flags & CLONE_INTO_CGROUP) {
    // TODO(processes issue): cgroups.
    t.kernel().RecordGap("clone3 CLONE_INTO_CGROUP");
    return Errno(EINVAL);
  }
  Task::CloneArgs c;
  c.flags = ca.flags;
  c.exit_signal = static_cast<int>(ca.exit_signal);
  c.stack = ca.stack == 0 ? 0 : ca.stack + ca.stack_size;  // the stack grows down
  c.parent_tid = ca.parent_tid;
  c.child_tid = ca.child_tid;
  c.tls = ca.tls;
  c.pidfd = ca.pidfd;
  if (!set_tid.empty()) {
    // alloc_pid: a tid out of range is EINVAL even as 0.
    if (set_tid[0] < 1) return Errno(EINVAL);
    c.set_tid = set_tid[0];
  }
  ASSIGN_OR_RETURN(pid_t tid, t.Clone(c));
  return tid;
}

SyscallResult Fork(Task& t, const SyscallArgs&) {
  Task::CloneArgs c;
  c.exit_signal = SIGCHLD;
  ASSIGN_OR_RETURN(pid_t tid, t.Clone(c));
  return tid;
}

SyscallResult Vfork(Task& t, const SyscallArgs&) {
  Task::CloneArgs c;
  c.flags = CLONE_VM | CLONE_VFORK;
  c.exit_signal = SIGCHLD;
  ASSIGN_OR_RETURN(pid_t tid, t.Clone(c));
  return tid;
}

// --- wait4, waitid ---

namespace {

struct WaitOut {
  pid_t pid = 0;
  std::optional<Task::WaitResult> r;
};

ErrnoOr<std::optional<Task::WaitResult>> DoWait(Task& t, int idtype, pid_t id, int options) {
  Task::WaitRequest req;
  req.idtype = idtype;
  req.id = id;
  req.options = options;
  return t.Wait(req);
}

timeval ToTimeval(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<suseconds_t>(ns % 1000000000 / 1000)};
}

// What the kernel's usage counters fill in a struct rusage (the rest stays
// 0: no block I/O, IPC or context-switch counts are kept).
struct rusage ToRusage(const kernel::ThreadGroup::Usage& u) {
  struct rusage ru {};
  ru.ru_utime = ToTimeval(u.user_ns);
  ru.ru_stime = ToTimeval(u.sys_ns);
  ru.ru_maxrss = static_cast<long>(u.maxrss_kb);
  ru.ru_minflt = static_cast<long>(u.minflt);
  return ru;
}

ErrnoOrOk PutRusage(Task& t, UserAddr addr, const std::optional<Task::WaitResult>& r) {
  if (addr.IsNull()) return Ok();
  struct rusage ru {};
  if (r.has_value() && (r->code == CLD_EXITED || r->code == CLD_KILLED || r->code == CLD_DUMPED)) {
    ru = ToRusage(r->usage);
  }
  return t.mm().CopyOutObj(UserPtr<struct rusage>(addr), ru);
}

}  // namespace

SyscallResult Wait4(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const int options = a.Int(2);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) {
    return Errno(EINVAL);
  }
  // Linux: INT_MIN would overflow its negation.
  if (pid == INT_MIN) return Errno(ESRCH);
  int idtype = P_ALL;
  pid_t id = 0;
  if (pid < -1) {
    idtype = P_PGID;
    id = -pid;
  } else if (pid == 0) {
    idtype = P_PGID;
    id = t.pgid();
  } else if (pid > 0) {
    idtype = P_PID;
    id = pid;
  }
  ASSIGN_OR_RETURN(auto r, DoWait(t, idtype, id, options | WEXITED));
  if (!r.has_value()) return 0;
  if (!a.Addr(1).IsNull()) {
    int status = 0;
    switch (r->code) {
      case CLD_EXITED:
        status = (r->status & 0xff) << 8;
        break;
      case CLD_KILLED:
        status = r->status;
        break;
      case CLD_DUMPED:
        status = r->status | 0x80;
        break;
      case CLD_STOPPED:
        status = (r->status << 8) | 0x7f;
        break;
      case CLD_CONTINUED:
        status = 0xffff;
        break;
    }
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int32_t>(1), int32_t{status}));
  }
  RETURN_IF_ERROR(PutRusage(t, a.Addr(3), r));
  return r->pid;
}

SyscallResult Waitid(Task& t, const SyscallArgs& a) {
  const int which = a.Int(0);
  pid_t id = a.Int(1);
  int options = a.Int(3);
  bool nonblocking_pidfd = false;
  if (options &
      ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) {
    return Errno(EINVAL);
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return Errno(EINVAL);
  int idtype;
  switch (which) {
    case P_ALL:
      idtype = P_ALL;
      break;
    case P_PID:
      if (id <= 0) return Errno(EINVAL);
      idtype = P_PID;
      break;
    case P_PGID:
      if (id < 0) return Errno(EINVAL);
      if (id == 0) id = t.pgid();
      idtype = P_PGID;
      break;
    case P_PIDFD: {
      // The pidfd's process, by its pid (ECHILD below when it is not the
      // caller's child); a non-blocking pidfd makes the wait WNOHANG, and
      // EAGAIN when nothing is ready (Linux 5.10).
      ASSIGN_OR_RETURN(auto f, t.fds().Get(id));
      kernel::PidFd* pidfd = kernel::PidFd::From(*f);
      if (pidfd == nullptr) return Errno(EINVAL);
      id = pidfd->thread_group().tgid();
      idtype = P_PID;
      if (f->status_flags() & O_NONBLOCK) {
        nonblocking_pidfd = !(options & WNOHANG);
        options |= WNOHANG;
      }
      break;
    }
    default:
      return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(auto r, DoWait(t, idtype, id, options));
  if (nonblocking_pidfd && !r.has_value()) return Errno(EAGAIN);
  if (!a.Addr(2).IsNull()) {
    siginfo_t info{};
    if (r.has_value()) {
      info.si_signo = SIGCHLD;
      info.si_code = r->code;
      info.si_pid = r->pid;
      info.si_uid = r->uid;
      info.si_status = r->status;
    }
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<siginfo_t>(2), info));
  }
  RETURN_IF_ERROR(PutRusage(t, a.Addr(4), r));
  return 0;
}

// --- Resource usage ---

namespace {

int64_t Ns(const timespec& ts) { return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec; }

kernel::ThreadGroup::Usage ChildrenUsage(Task& t) {
  absl::MutexLock l(&tree_mu);
  return t.thread_group().children_usage;
}

}  // namespace

SyscallResult Getrusage(Task& t, const SyscallArgs& a) {
  const int who = a.Int(0);
  struct rusage ru {};
  switch (who) {
    case RUSAGE_SELF:
      ru = ToRusage(t.ProcessUsage());
      break;
    case RUSAGE_THREAD: {
      kernel::ThreadGroup::Usage u = t.OwnUsage();
      u.maxrss_kb = t.ProcessUsage().maxrss_kb;  // the mm's, as Linux's
      ru = ToRusage(u);
      break;
    }
    case RUSAGE_CHILDREN:
      ru = ToRusage(ChildrenUsage(t));
      break;
    default:
      return Errno(EINVAL);
  }
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct rusage>(1), ru));
  return 0;
}

SyscallResult Times(Task& t, const SyscallArgs& a) {
  constexpr int64_t kNsPerTick = 1000000000 / 100;  // USER_HZ
  if (!a.Addr(0).IsNull()) {
    struct tms tm {};
    const kernel::ThreadGroup::Usage self = t.ProcessUsage();
    const kernel::ThreadGroup::Usage children = ChildrenUsage(t);
    tm.tms_utime = self.user_ns / kNsPerTick;
    tm.tms_stime = self.sys_ns / kNsPerTick;
    tm.tms_cutime = children.user_ns / kNsPerTick;
    tm.tms_cstime = children.sys_ns / kNsPerTick;
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct tms>(0), tm));
  }
  // Clock ticks since boot, as Linux's jiffies (it starts them 5 minutes
  // before wrapping, which programs only subtract).
  return static_cast<uint64_t>(Ns(kernel::Kernel::BootClock()) / kNsPerTick);
}

// --- Process groups and sessions ---

SyscallResult Setpgid(Task& t, const SyscallArgs& a) {
  pid_t pid = a.Int(0);
  pid_t pgid = a.Int(1);
  if (pgid < 0) return Errno(EINVAL);
  absl::MutexLock l(&tree_mu);
  ThreadGroup& self = t.thread_group();
  if (pid == 0) pid = self.tgid();
  if (pgid == 0) pgid = pid;
  ThreadGroup* target = t.kernel().FindThreadGroupLocked(pid);
  if (target == nullptr || target->zombie) return Errno(ESRCH);
  if (target != &self) {
    if (target->parent != &self) return Errno(ESRCH);
    if (target->sid != self.sid) return Errno(EPERM);
    if (target->did_exec) return Errno(EACCES);
  }
  if (target->sid == target->tgid()) return Errno(EPERM);  // a session leader
  if (pgid != target->tgid()) {
    // Joining a group: it must exist in the caller's session.
    bool exists = false;
    for (ThreadGroup* g : t.kernel().ThreadGroupsLocked()) {
      if (g->pgid == pgid && g->sid == self.sid && !g->zombie) exists = true;
    }
    if (!exists) return Errno(EPERM);
  }
  target->pgid = pgid;
  return 0;
}

SyscallResult Setsid(Task& t, const SyscallArgs&) {
  absl::MutexLock l(&tree_mu);
  ThreadGroup& self = t.thread_group();
  // Not if a process group with the caller's id exists (it leads one).
  for (ThreadGroup* g : t.kernel().ThreadGroupsLocked()) {
    if (g->pgid == self.tgid()) return Errno(EPERM);
  }
  self.sid = self.pgid = self.tgid();
  return self.tgid();
}

SyscallResult Getpgid(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  absl::MutexLock l(&tree_mu);
  ThreadGroup* g = pid == 0 ? &t.thread_group() : t.kernel().FindThreadGroupLocked(pid);
  if (g == nullptr) return Errno(ESRCH);
  return g->pgid;
}

SyscallResult Getsid(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  absl::MutexLock l(&tree_mu);
  ThreadGroup* g = pid == 0 ? &t.thread_group() : t.kernel().FindThreadGroupLocked(pid);
  if (g == nullptr) return Errno(ESRCH);
  return g->sid;
}

SyscallResult Prctl(Task& t, const SyscallArgs& a) {
  // prctl's arguments are unsigned longs.
  const uint64_t arg2 = a[1], arg3 = a[2], arg4 = a[3], arg5 = a[4];
  switch (a.Int(0)) {
    case PR_SET_NAME: {
      // Linux copies TASK_COMM_LEN bytes and terminates them; a fault is EFAULT.
      char name[kTaskCommLen] = {};
      auto r = t.mm().CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(name), kTaskCommLen - 1});
      if (r.done == 0 || (!r.ok() && std::memchr(name, 0, r.done) == nullptr)) {
        return Errno(EFAULT);
      }
      name[kTaskCommLen - 1] = 0;
      t.set_comm(name);
      return 0;
    }
    case PR_GET_NAME: {
      char name[kTaskCommLen] = {};
      std::memcpy(name, t.comm().data(), std::min(t.comm().size(), kTaskCommLen - 1));
      auto r = t.mm().CopyOut(a.Addr(1), {reinterpret_cast<uint8_t*>(name), kTaskCommLen});
      if (!r.ok()) return Errno(EFAULT);
      return 0;
    }
    case PR_SET_PDEATHSIG:
      // valid_signal(): 0 (none) to _NSIG.
      if (arg2 > static_cast<uint64_t>(kernel::kNumSignals)) return Errno(EINVAL);
      t.pdeath_signal = static_cast<int>(arg2);
      return 0;
    case PR_GET_PDEATHSIG:
      RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int32_t>(1), int32_t{t.pdeath_signal}));
      return 0;
    case PR_GET_DUMPABLE:
      return t.dumpable;
    case PR_SET_DUMPABLE:
      // SUID_DUMP_DISABLE or SUID_DUMP_USER; SUID_DUMP_ROOT (2) only comes from
      // fs.suid_dumpable at execve.
      if (arg2 != 0 && arg2 != 1) return Errno(EINVAL);
      t.dumpable = static_cast<int>(arg2);
      return 0;
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_CAP_AMBIENT:
      return CapabilityPrctl(t, a);  // sys_cred.cc
    case PR_SET_CHILD_SUBREAPER: {
      absl::MutexLock l(&tree_mu);
      t.thread_group().child_subreaper = arg2 != 0;
      return 0;
    }
    case PR_GET_CHILD_SUBREAPER: {
      int32_t v;
      {
        absl::MutexLock l(&tree_mu);
        v = t.thread_group().child_subreaper;
      }
      RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int32_t>(1), v));
      return 0;
    }
    case PR_SET_NO_NEW_PRIVS:
      // It can be set, never cleared.
      if (arg2 != 1 || arg3 != 0 || arg4 != 0 || arg5 != 0) return Errno(EINVAL);
      t.no_new_privs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (arg2 != 0 || arg3 != 0 || arg4 != 0 || arg5 != 0) return Errno(EINVAL);
      return t.no_new_privs ? 1 : 0;
    default:
      // Options Linux has and we lack are gaps (counted, logged once); EINVAL
      // is also Linux's answer to an option it does not know.
      // TODO(processes issue): SET_MM, SECCOMP, TIMERSLACK and the rest.
      t.kernel().RecordGap(absl::StrFormat("prctl option %d", a.Int(0)));
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
