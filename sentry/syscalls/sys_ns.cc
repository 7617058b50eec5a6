// Namespaces: unshare(2), setns(2), sethostname(2), setdomainname(2)
// (sentry/kernel/namespaces.h).
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>

#include <memory>
#include <string>

#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

using kernel::ThreadGroup;
using kernel::tree_mu;

constexpr int kAllNamespaces = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                               CLONE_NEWTIME | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWCGROUP;

// sethostname and setdomainname: CAP_SYS_ADMIN, at most __NEW_UTS_LEN bytes
// (taken as they are, NULs included).
ErrnoOr<std::string> UtsNameArg(Task& t, const SyscallArgs& a) {
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
  const int len = a.Int(1);
  if (len < 0 || static_cast<size_t>(len) > kernel::kUtsLen) return Errno(EINVAL);
  std::string name(static_cast<size_t>(len), '\0');
  if (!t.mm().CopyIn(a.Addr(0), {reinterpret_cast<uint8_t*>(name.data()), name.size()}).ok()) {
    return Errno(EFAULT);
  }
  return name;
}

}  // namespace

SyscallResult Unshare(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.Unshare(a[0]));
  return 0;
}

SyscallResult Sethostname(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string name, UtsNameArg(t, a));
  t.uts().set_hostname(std::move(name));
  return 0;
}

SyscallResult Setdomainname(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string name, UtsNameArg(t, a));
  t.uts().set_domainname(std::move(name));
  return 0;
}

// setns(fd, nstype): joins the namespace an nsfs file (/proc/<pid>/ns/*)
// names, or the namespaces of `nstype` of a pidfd's process, all or none.
SyscallResult Setns(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  ASSIGN_OR_RETURN(auto f, t.fds().Get(a.Int(0)));
  int kinds = 0;
  std::shared_ptr<kernel::UtsNamespace> uts;
  std::shared_ptr<kernel::ipc::IpcNamespace> ipc;
  if (kernel::NsFile* ns = kernel::NsFile::From(*f)) {
    if (flags != 0 && ns->type() != flags) return Errno(EINVAL);
    kinds = ns->type();
    uts = ns->uts();
    ipc = ns->ipc();
  } else if (kernel::PidFd* pidfd = kernel::PidFd::From(*f)) {
    if (flags == 0 || (flags & ~kAllNamespaces)) return Errno(EINVAL);
    kinds = flags;
    // validate_nsset: the process must be alive (ESRCH) and the caller allowed
    // to read it (PTRACE_MODE_READ_REALCREDS).
    ThreadGroup& target = pidfd->thread_group();
    pid_t tid = 0;
    {
      absl::MutexLock l(&tree_mu);
      if (t.kernel().FindThreadGroupLocked(target.tgid()) != &target || target.tasks.empty()) {
        return Errno(ESRCH);
      }
      tid = target.tasks.front()->tid();
    }
    bool allowed = true, alive = true;
    if (!t.kernel().WithTask(tid, [&](Task& other) {
          alive = !other.exiting();
          allowed = &other.thread_group() == &t.thread_group() ||
                    kernel::PtraceMayAccess(t.creds(), *other.creds_snapshot(), other.dumpable == 1,
                                            /*fscreds=*/false);
          uts = other.uts_ns_snapshot();
          ipc = other.ipc_ns_snapshot();
        })) {
      return Errno(ESRCH);
    }
    if (!allowed) return Errno(EPERM);
    if (!alive) return Errno(ESRCH);
  } else {
    return Errno(EINVAL);
  }

  // Validation, in validate_nsset's order; nothing changes unless all pass.
  // Of the kinds the sandbox has one of, the namespace named is the caller's
  // own, and joining it does what Linux does for that case.
  const bool admin = t.creds().HasCapability(CAP_SYS_ADMIN);
  if (kinds & CLONE_NEWUSER) return Errno(EINVAL);  // userns_install: already in it
  if (kinds & CLONE_NEWNS) {
    // mntns_install: the caller's root and cwd become the namespace's root.
    if (!admin || !t.creds().HasCapability(CAP_SYS_CHROOT)) return Errno(EPERM);
    if (t.fs_context_shared()) return Errno(EINVAL);
  }
  if ((kinds & (CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP | CLONE_NEWNET)) &&
      !admin) {
    return Errno(EPERM);
  }
  if (kinds & CLONE_NEWTIME) {
    // timens_install: a lone thread only.
    {
      absl::MutexLock l(&tree_mu);
      if (t.thread_group().tasks.size() > 1) return Errno(EUSERS);
    }
    if (!admin) return Errno(EPERM);
  }

  // Commit.
  if (kinds & CLONE_NEWNS) {
    const vfs::VirtualDentry root = t.kernel().vfs().Root();
    t.set_fs_root(root);
    t.set_cwd(root);
  }
  if ((kinds & CLONE_NEWUTS) && uts != nullptr) t.set_uts_namespace(std::move(uts));
  // ipcns_install also leaves the semaphore undo list (exit_sem).
  if ((kinds & CLONE_NEWIPC) && ipc != nullptr) {
    t.DetachSemUndo();
    t.set_ipc_namespace(std::move(ipc));
  }
  return 0;
}

}  // namespace sentry::syscalls
