// getrlimit, setrlimit, prlimit64.
#include <linux/capability.h>
#include <sys/resource.h>

#include <optional>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr uint64_t kNrOpen = 1048576;  // fs.nr_open

// Linux's do_prlimit, once the caller has copied the new limit in (EFAULT comes
// first) and found the task (ESRCH next): the resource (EINVAL), the new limit
// itself, then the privilege to raise the hard limit.
SyscallResult DoPrlimit(Task& t, unsigned resource, const std::optional<rlimit>& nl,
                        UserAddr old_addr) {
  if (resource >= RLIM_NLIMITS) return Errno(EINVAL);
  if (nl.has_value()) {
    if (nl->rlim_cur > nl->rlim_max) return Errno(EINVAL);
    if (resource == RLIMIT_NOFILE && nl->rlim_max > kNrOpen) return Errno(EPERM);
  }
  rlimit& cur = t.rlimit_of(static_cast<int>(resource));
  const rlimit old = cur;
  if (nl.has_value()) {
    if (nl->rlim_max > cur.rlim_max && !t.creds().HasCapability(CAP_SYS_RESOURCE)) {
      return Errno(EPERM);
    }
    cur = *nl;
    t.SyncMemoryLimits();
  }
  if (!old_addr.IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<rlimit>(old_addr), old));
  return 0;
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
  if (pid != 0 && pid != t.tgid()) return Errno(ESRCH);  // TODO(processes issue)
  return DoPrlimit(t, a.Uint(1), nl, a.Addr(3));
}

}  // namespace sentry::syscalls
