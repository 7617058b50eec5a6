// kill, tkill, tgkill, prctl, getcwd: what a single process can do to itself
// until the process model exists (the processes issue).
#include <linux/prctl.h>
#include <signal.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kTaskCommLen = 16;

ErrnoOrOk CheckSignal(int sig) {
  if (sig < 0 || sig > kernel::kNumSignals) return Errno(EINVAL);
  return Ok();
}

SyscallResult Signal(Task& t, int sig) {
  RETURN_IF_ERROR(CheckSignal(sig));
  if (sig == 0) return 0;  // only the existence and permission check
  RETURN_IF_ERROR(t.SendSignalToSelf(sig));
  return 0;
}

}  // namespace

SyscallResult Kill(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const int sig = a.Int(1);
  RETURN_IF_ERROR(CheckSignal(sig));
  // Linux refuses INT_MIN outright (its negation would overflow).
  if (pid == INT_MIN) return Errno(ESRCH);
  if (pid == -1) {
    // Every process the caller may signal except itself and init: the guest is
    // init and alone, so nobody.
    return Errno(ESRCH);
  }
  if (pid > 0 && pid != t.tgid()) return Errno(ESRCH);
  if (pid < -1 && -pid != t.pgid()) return Errno(ESRCH);
  return Signal(t, sig);
}

SyscallResult Tkill(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckSignal(a.Int(1)));
  if (a.Int(0) != t.tid()) return Errno(ESRCH);
  return Signal(t, a.Int(1));
}

SyscallResult Tgkill(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0 || a.Int(1) <= 0) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckSignal(a.Int(2)));
  if (a.Int(0) != t.tgid() || a.Int(1) != t.tid()) return Errno(ESRCH);
  return Signal(t, a.Int(2));
}

SyscallResult Prctl(Task& t, const SyscallArgs& a) {
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
    default:
      // TODO(processes issue): PDEATHSIG, DUMPABLE, NO_NEW_PRIVS, KEEPCAPS,
      // CHILD_SUBREAPER, SET_MM and the rest.
      t.kernel().RecordGap(absl::StrFormat("prctl option %d", a.Int(0)));
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
