// getrlimit, setrlimit, prlimit64.
#include <linux/capability.h>
#include <sys/resource.h>

#include <memory>
#include <optional>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr uint64_t kNrOpen = 1048576;  // fs.nr_open

// Linux's do_prlimit, once the caller has copied the new limit in (EFAULT comes
// first) and found the task (ESRCH next): the resource (EINVAL), the new limit
// itself, then the privilege to raise the hard limit.
// The limit change itself, on `target`'s process, by caller `t`: the old
// limit, or EINVAL/EPERM.
ErrnoOr<rlimit> ChangeLimit(Task& t, Task& target, unsigned resource,
                            const std::optional<rlimit>& nl) {
  if (resource >= RLIM_NLIMITS) return Errno(EINVAL);
  if (nl.has_value()) {
    if (nl->rlim_cur > nl->rlim_max) return Errno(EINVAL);
    if (resource == RLIMIT_NOFILE && nl->rlim_max > kNrOpen) return Errno(EPERM);
  }
  // RLIMIT_CPU's soft limit is also moved by the CPU-limit check (SIGXCPU),
  // under tree_mu.
  std::optional<absl::MutexLock> cpu_lock;
  if (resource == RLIMIT_CPU) cpu_lock.emplace(&kernel::tree_mu);
  rlimit& cur = target.rlimit_of(static_cast<int>(resource));
  const rlimit old = cur;
  if (nl.has_value()) {
    // Raising the hard limit needs the caller's CAP_SYS_RESOURCE.
    if (nl->rlim_max > cur.rlim_max && !t.creds().HasCapability(CAP_SYS_RESOURCE)) {
      return Errno(EPERM);
    }
    cur = *nl;
  }
  return old;
}

// update_rlimit_cpu: a new RLIMIT_CPU is watched for from now on.
void AfterCpuLimitChange(const std::shared_ptr<kernel::ThreadGroup>& tg, unsigned resource,
                         const std::optional<rlimit>& nl) {
  if (resource != RLIMIT_CPU || !nl.has_value()) return;
  tg->timers->UpdateCpuLimit(tg, nl->rlim_cur);
}

SyscallResult DoPrlimit(Task& t, unsigned resource, const std::optional<rlimit>& nl,
                        UserAddr old_addr) {
  ASSIGN_OR_RETURN(rlimit old, ChangeLimit(t, t, resource, nl));
  if (nl.has_value()) t.SyncMemoryLimits();
  AfterCpuLimitChange(t.thread_group_ptr(), resource, nl);
  if (!old_addr.IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<rlimit>(old_addr), old));
  return 0;
}

// check_prlimit_permission: the caller's real uid and gid must equal all
// three of the target's, or the caller holds CAP_SYS_RESOURCE.
bool MayPrlimit(const kernel::Credentials& c, const kernel::Credentials& tc) {
  const bool ids = c.ruid == tc.euid && c.ruid == tc.suid && c.ruid == tc.ruid &&
                   c.rgid == tc.egid && c.rgid == tc.sgid && c.rgid == tc.rgid;
  return ids || c.HasCapability(CAP_SYS_RESOURCE);
}

}  // namespace

SyscallResult Getrlimit(Task& t, const SyscallArgs& a) {
  if (a.Uint(0) >= RLIM_NLIMITS) return Errno(EINVAL);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<rlimit>(1), t.rlimit_of(a.Int(0))));
  return 0;
}

SyscallResult Setrlimit(Task& t, const SyscallArgs& a) {
  // The limit is copied in before anything is checked (NULL is EFAULT).
  rlimit nl;
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<rlimit>(1), &nl));
  return DoPrlimit(t, a.Uint(0), nl, UserAddr());
}

SyscallResult Prlimit64(Task& t, const SyscallArgs& a) {
  std::optional<rlimit> nl;
  if (!a.Addr(2).IsNull()) {
    nl.emplace();
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<rlimit>(2), &*nl));
  }
  const pid_t pid = a.Int(0);
  if (pid == 0 || pid == t.tid()) return DoPrlimit(t, a.Uint(1), nl, a.Addr(3));
  // Another task (any thread, as find_task_by_vpid): ESRCH, then EPERM.
  if (pid < 0) return Errno(ESRCH);
  ErrnoOr<rlimit> old = Errno(ESRCH);
  bool same_group = false;
  std::shared_ptr<kernel::ThreadGroup> target_tg;
  t.kernel().WithTask(pid, [&](Task& target) {
    if (!MayPrlimit(t.creds(), *target.creds_snapshot())) {
      old = Errno(EPERM);
      return;
    }
    same_group = target.tgid() == t.tgid();
    old = ChangeLimit(t, target, a.Uint(1), nl);
    target_tg = target.thread_group_ptr();
  });
  if (!old.ok()) return old.error();
  AfterCpuLimitChange(target_tg, a.Uint(1), nl);
  // NOTE: another process's memory manager sees new memory limits at its
  // next setrlimit or exec (counted gap); its own group's at once.
  if (nl.has_value()) {
    if (same_group) {
      t.SyncMemoryLimits();
    } else {
      const unsigned r = a.Uint(1);
      if (r == RLIMIT_AS || r == RLIMIT_DATA || r == RLIMIT_STACK || r == RLIMIT_MEMLOCK) {
        t.kernel().RecordGap("prlimit64: memory limits of another process apply later");
      }
    }
  }
  if (!a.Addr(3).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<rlimit>(3), *old));
  return 0;
}

}  // namespace sentry::syscalls
