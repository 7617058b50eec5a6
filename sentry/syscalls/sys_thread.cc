// Thread and process identity, exit, arch_prctl.
#include <asm/prctl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

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
SyscallResult Getuid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
SyscallResult Geteuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
SyscallResult Getgid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
SyscallResult Getegid(Task& t, const SyscallArgs&) { return t.creds().egid; }
SyscallResult Getpgrp(Task& t, const SyscallArgs&) { return t.pgid(); }

namespace {

// getresuid/getresgid: Linux puts the three ids one at a time and stops at the
// first that faults (the earlier ones stay written).
SyscallResult PutRes(Task& t, const SyscallArgs& a, uint32_t r, uint32_t e, uint32_t s) {
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(0), r));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(1), e));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(2), s));
  return 0;
}

constexpr int kNgroupsMax = 65536;  // NGROUPS_MAX

}  // namespace

SyscallResult Getresuid(Task& t, const SyscallArgs& a) {
  const kernel::Credentials& c = t.creds();
  return PutRes(t, a, c.ruid, c.euid, c.suid);
}

SyscallResult Getresgid(Task& t, const SyscallArgs& a) {
  const kernel::Credentials& c = t.creds();
  return PutRes(t, a, c.rgid, c.egid, c.sgid);
}

SyscallResult Getgroups(Task& t, const SyscallArgs& a) {
  const int size = a.Int(0);
  if (size < 0) return Errno(EINVAL);
  const std::vector<uint32_t>& groups = t.creds().groups;
  const size_t n = groups.size();
  // Size 0 only counts; otherwise it must hold them all.
  if (size == 0 || n == 0) return n;
  if (n > static_cast<size_t>(size)) return Errno(EINVAL);
  auto r = t.mm().CopyOut(a.Addr(1),
                          {reinterpret_cast<const uint8_t*>(groups.data()), n * sizeof(uint32_t)});
  if (!r.ok()) return Errno(EFAULT);
  return n;
}

SyscallResult Setgroups(Task& t, const SyscallArgs& a) {
  // TODO(processes issue): capability sets; today CAP_SETGID is euid 0.
  if (!t.creds().HasCapability()) return Errno(EPERM);
  const unsigned size = a.Uint(0);
  if (size > kNgroupsMax) return Errno(EINVAL);
  std::vector<uint32_t> groups(size);
  if (size != 0) {
    auto r = t.mm().CopyIn(
        a.Addr(1), {reinterpret_cast<uint8_t*>(groups.data()), groups.size() * sizeof(uint32_t)});
    // Linux reads one gid at a time: an invalid gid ((gid_t)-1, never mapped)
    // before the fault is EINVAL, the fault itself EFAULT.
    const size_t got = r.ok() ? groups.size() : r.done / sizeof(uint32_t);
    for (size_t i = 0; i < got; ++i) {
      if (groups[i] == static_cast<uint32_t>(-1)) return Errno(EINVAL);
    }
    if (!r.ok()) return Errno(EFAULT);
  }
  std::sort(groups.begin(), groups.end());
  t.set_groups(std::move(groups));
  return 0;
}

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
