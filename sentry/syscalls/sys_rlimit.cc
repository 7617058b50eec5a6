// getrlimit, setrlimit, prlimit64.
#include <sys/resource.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr uint64_t kNrOpen = 1048576;  // fs.nr_open

SyscallResult DoPrlimit(Task& t, pid_t pid, int resource, UserAddr new_addr, UserAddr old_addr) {
  if (resource < 0 || resource >= RLIM_NLIMITS) return Errno(EINVAL);
  if (pid != 0 && pid != t.tgid()) return Errno(ESRCH);  // TODO(processes issue)
  rlimit nl{};
  const bool set = !new_addr.IsNull();
  if (set) {
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<rlimit>(new_addr), &nl));
    if (nl.rlim_cur > nl.rlim_max) return Errno(EINVAL);
  }
  rlimit& cur = t.rlimit_of(resource);
  const rlimit old = cur;
  if (set) {
    if (nl.rlim_max > cur.rlim_max && !t.creds().HasCapability()) return Errno(EPERM);
    if (resource == RLIMIT_NOFILE && nl.rlim_max > kNrOpen) return Errno(EPERM);
    cur = nl;
    t.SyncMemoryLimits();
  }
  if (!old_addr.IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<rlimit>(old_addr), old));
  return 0;
}

}  // namespace

SyscallResult Getrlimit(Task& t, const SyscallArgs& a) {
  if (a.Int(0) < 0 || a.Int(0) >= RLIM_NLIMITS) return Errno(EINVAL);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<rlimit>(1), t.rlimit_of(a.Int(0))));
  return 0;
}

SyscallResult Setrlimit(Task& t, const SyscallArgs& a) {
  if (a.Addr(1).IsNull()) return Errno(EFAULT);
  return DoPrlimit(t, 0, a.Int(0), a.Addr(1), UserAddr());
}

SyscallResult Prlimit64(Task& t, const SyscallArgs& a) {
  return DoPrlimit(t, a.Int(0), a.Int(1), a.Addr(2), a.Addr(3));
}

}  // namespace sentry::syscalls
