// Thread and process identity, exit, arch_prctl. (User and group ids:
// sys_cred.cc.)
#include <asm/prctl.h>
#include <sched.h>
#include <unistd.h>

#include "sentry/arch/registers.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

SyscallResult Exit(Task& t, const SyscallArgs& a) {
  t.ExitThread(a.Int(0));
  return 0;
}

SyscallResult ExitGroup(Task& t, const SyscallArgs& a) {
  t.ExitGroup(a.Int(0));
  return 0;
}

SyscallResult Getpid(Task& t, const SyscallArgs&) { return t.tgid(); }
SyscallResult Getppid(Task& t, const SyscallArgs&) { return t.ppid(); }
SyscallResult Gettid(Task& t, const SyscallArgs&) { return t.tid(); }
SyscallResult Getpgrp(Task& t, const SyscallArgs&) { return t.pgid(); }

SyscallResult SetTidAddress(Task& t, const SyscallArgs& a) {
  t.clear_child_tid = a[0];
  return t.tid();
}

SyscallResult SetRobustList(Task& t, const SyscallArgs& a) {
  // sizeof(struct robust_list_head) on x86-64.
  if (a[1] != 24) return Errno(EINVAL);
  t.robust_list_head = a[0];
  t.robust_list_len = a[1];
  return 0;
}

SyscallResult GetRobustList(Task& t, const SyscallArgs& a) {
  if (a.Int(0) != 0 && a.Int(0) != t.tid()) return Errno(ESRCH);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(1), t.robust_list_head));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(2), uint64_t{24}));
  return 0;
}

// XFEATURE_MAX in Linux 6.16+ (APX is component 19).
constexpr uint64_t kXfeatureMax = 20;

SyscallResult ArchPrctl(Task& t, const SyscallArgs& a) {
  auto& r = t.regs().r;
  // Linux refuses bases at or above TASK_SIZE_MAX (EPERM); the platform could
  // not load them either (PTRACE_SETREGS: EIO).
  switch (a.Int(0)) {
    case ARCH_SET_FS:
      if (a[1] >= kTaskSizeMax) return Errno(EPERM);
      r.fs_base = a[1];
      return 0;
    case ARCH_SET_GS:
      if (a[1] >= kTaskSizeMax) return Errno(EPERM);
      r.gs_base = a[1];
      return 0;
    case ARCH_GET_FS:
      RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(1), uint64_t{r.fs_base}));
      return 0;
    case ARCH_GET_GS:
      RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(1), uint64_t{r.gs_base}));
      return 0;
    case ARCH_GET_CPUID:
      // CPUID faulting is not offered: cpuid always works.
      return 1;
    case ARCH_SET_CPUID:
      return Errno(ENODEV);
    case ARCH_GET_XCOMP_SUPP:
    case ARCH_GET_XCOMP_PERM:
    case ARCH_GET_XCOMP_GUEST_PERM:
      // Everything supported is permitted: the only component Linux makes a
      // process ask for (AMX tile data) is not offered.
      RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint64_t>(1), arch::FpState::UserFeatures()));
      return 0;
    case ARCH_REQ_XCOMP_PERM:
    case ARCH_REQ_XCOMP_GUEST_PERM:
      // Linux: an index past the last known component is EINVAL; any other
      // is EOPNOTSUPP unless it is a dynamic component the CPU has.
      if (a[1] >= kXfeatureMax) return Errno(EINVAL);
      return Errno(EOPNOTSUPP);
    default:
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
