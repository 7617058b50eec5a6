// Credentials: the user and group ids (get*id, set*id, setfs*id), the
// supplementary groups, capget/capset, and prctl's capability options. The
// rules live in sentry/kernel/credentials.cc; handlers decode, call them and
// commit the result.
#include <linux/capability.h>
#include <linux/prctl.h>

#include <vector>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

using kernel::Credentials;

namespace {

constexpr int kNgroupsMax = 65536;  // NGROUPS_MAX

// getresuid/getresgid: Linux puts the three ids one at a time and stops at the
// first that faults (the earlier ones stay written).
SyscallResult PutRes(Task& t, const SyscallArgs& a, uint32_t r, uint32_t e, uint32_t s) {
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(0), r));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(1), e));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(2), s));
  return 0;
}

// Commits the result of a credential transition, or returns its errno.
SyscallResult Commit(Task& t, ErrnoOr<Credentials> c) {
  if (!c.ok()) return c.error();
  t.CommitCredentials(*std::move(c));
  return 0;
}

}  // namespace

// --- Ids ---

SyscallResult Getuid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
SyscallResult Geteuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
SyscallResult Getgid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
SyscallResult Getegid(Task& t, const SyscallArgs&) { return t.creds().egid; }

SyscallResult Getresuid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  return PutRes(t, a, c.ruid, c.euid, c.suid);
}

SyscallResult Getresgid(Task& t, const SyscallArgs& a) {
  const Credentials& c = t.creds();
  return PutRes(t, a, c.rgid, c.egid, c.sgid);
}

SyscallResult Setuid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetUid(t.creds(), a.Uint(0)));
}

SyscallResult Setgid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetGid(t.creds(), a.Uint(0)));
}

SyscallResult Setreuid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetReuid(t.creds(), a.Uint(0), a.Uint(1)));
}

SyscallResult Setregid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetRegid(t.creds(), a.Uint(0), a.Uint(1)));
}

SyscallResult Setresuid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetResuid(t.creds(), a.Uint(0), a.Uint(1), a.Uint(2)));
}

SyscallResult Setresgid(Task& t, const SyscallArgs& a) {
  return Commit(t, kernel::SetResgid(t.creds(), a.Uint(0), a.Uint(1), a.Uint(2)));
}

SyscallResult Setfsuid(Task& t, const SyscallArgs& a) {
  // The old fs uid, whether or not it changed: never an errno.
  const uint32_t old = t.creds().fsuid;
  Credentials next = kernel::SetFsuid(t.creds(), a.Uint(0));
  if (next.fsuid != old) t.CommitCredentials(std::move(next));
  return old;
}

SyscallResult Setfsgid(Task& t, const SyscallArgs& a) {
  const uint32_t old = t.creds().fsgid;
  Credentials next = kernel::SetFsgid(t.creds(), a.Uint(0));
  if (next.fsgid != old) t.CommitCredentials(std::move(next));
  return old;
}

// --- Supplementary groups ---

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
  // may_setgroups comes before the size.
  if (!t.creds().HasCapability(CAP_SETGID)) return Errno(EPERM);
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
      if (groups[i] == kernel::kNoId) return Errno(EINVAL);
    }
    if (!r.ok()) return Errno(EFAULT);
  }
  return Commit(t, kernel::SetGroups(t.creds(), std::move(groups)));
}

// --- capget, capset (kernel/capability.c) ---

namespace {

// struct __user_cap_header_struct and __user_cap_data_struct.
struct CapHeader {
  uint32_t version;
  int32_t pid;
};
struct CapData {
  uint32_t effective;
  uint32_t permitted;
  uint32_t inheritable;
};
static_assert(sizeof(CapHeader) == 8 && sizeof(CapData) == 12);

// cap_validate_magic: how many CapData the header's version means (1 for
// version 1's 32-bit sets, 2 for versions 2 and 3). An unknown version is
// EINVAL, with the version the kernel prefers written back.
ErrnoOr<size_t> CapDataCount(Task& t, UserAddr header) {
  uint32_t version;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint32_t>(header), &version));
  switch (version) {
    case _LINUX_CAPABILITY_VERSION_1:
      return size_t{_LINUX_CAPABILITY_U32S_1};
    case _LINUX_CAPABILITY_VERSION_2:
    case _LINUX_CAPABILITY_VERSION_3:
      return size_t{_LINUX_CAPABILITY_U32S_3};
    default:
      RETURN_IF_ERROR(
          t.mm().CopyOutObj(UserPtr<uint32_t>(header), uint32_t{_LINUX_CAPABILITY_VERSION_3}));
      return Errno(EINVAL);
  }
}

}  // namespace

SyscallResult Capget(Task& t, const SyscallArgs& a) {
  const UserAddr header = a.Addr(0);
  const UserAddr data = a.Addr(1);
  ErrnoOr<size_t> count = CapDataCount(t, header);
  // A null data pointer probes the version: success even for an unknown one
  // (which has been written back).
  if (data.IsNull()) {
    if (!count.ok() && count.error().value() != EINVAL) return count.error();
    return 0;
  }
  if (!count.ok()) return count.error();
  int32_t pid;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int32_t>(header + sizeof(uint32_t)), &pid));
  if (pid < 0) return Errno(EINVAL);
  // Any task's sets can be read, by its (thread) id.
  std::shared_ptr<const Credentials> c;
  if (pid == 0 || pid == t.tid()) {
    c = t.creds_snapshot();
  } else {
    absl::MutexLock l(&kernel::tree_mu);
    Task* target = t.kernel().FindTaskLocked(pid);
    if (target == nullptr) return Errno(ESRCH);
    c = target->creds_snapshot();
  }
  const CapData out[2] = {
      {static_cast<uint32_t>(c->cap_effective), static_cast<uint32_t>(c->cap_permitted),
       static_cast<uint32_t>(c->cap_inheritable)},
      {static_cast<uint32_t>(c->cap_effective >> 32), static_cast<uint32_t>(c->cap_permitted >> 32),
       static_cast<uint32_t>(c->cap_inheritable >> 32)},
  };
  // Version 1 sees the low 32 capabilities only.
  auto r = t.mm().CopyOut(data, {reinterpret_cast<const uint8_t*>(out), *count * sizeof(CapData)});
  if (!r.ok()) return Errno(EFAULT);
  return 0;
}

SyscallResult Capset(Task& t, const SyscallArgs& a) {
  const UserAddr header = a.Addr(0);
  ASSIGN_OR_RETURN(size_t count, CapDataCount(t, header));
  int32_t pid;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int32_t>(header + sizeof(uint32_t)), &pid));
  // Only the caller's own sets can be changed.
  if (pid != 0 && pid != t.tid()) return Errno(EPERM);
  CapData in[2] = {};
  auto r = t.mm().CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(in), count * sizeof(CapData)});
  if (!r.ok()) return Errno(EFAULT);
  auto join = [](uint32_t lo, uint32_t hi) { return uint64_t{lo} | (uint64_t{hi} << 32); };
  return Commit(t, kernel::CapSet(t.creds(), join(in[0].effective, in[1].effective),
                                  join(in[0].permitted, in[1].permitted),
                                  join(in[0].inheritable, in[1].inheritable)));
}

// --- prctl's capability options (cap_task_prctl) ---

SyscallResult CapabilityPrctl(Task& t, const SyscallArgs& a) {
  // prctl's arguments are unsigned longs.
  const uint64_t arg2 = a[1], arg3 = a[2], arg4 = a[3], arg5 = a[4];
  const Credentials& c = t.creds();
  switch (a.Int(0)) {
    case PR_CAPBSET_READ:
      if (!kernel::ValidCapability(arg2)) return Errno(EINVAL);
      return (c.cap_bounding & kernel::CapMask(static_cast<int>(arg2))) ? 1 : 0;
    case PR_CAPBSET_DROP:
      return Commit(t, kernel::DropBoundingCapability(c, arg2));
    case PR_GET_SECUREBITS:
      return c.securebits;
    case PR_SET_SECUREBITS:
      return Commit(t, kernel::SetSecurebits(c, arg2));
    case PR_GET_KEEPCAPS:
      return c.IsSecure(kernel::kSecbitKeepCaps) ? 1 : 0;
    case PR_SET_KEEPCAPS:
      return Commit(t, kernel::SetKeepCaps(c, arg2));
    case PR_CAP_AMBIENT:
      if (arg2 == PR_CAP_AMBIENT_CLEAR_ALL) {
        if (arg3 != 0 || arg4 != 0 || arg5 != 0) return Errno(EINVAL);
        return Commit(t, kernel::ClearAmbient(c));
      }
      if (!kernel::ValidCapability(arg3) || arg4 != 0 || arg5 != 0) return Errno(EINVAL);
      switch (arg2) {
        case PR_CAP_AMBIENT_IS_SET:
          return (c.cap_ambient & kernel::CapMask(static_cast<int>(arg3))) ? 1 : 0;
        case PR_CAP_AMBIENT_RAISE:
          return Commit(t, kernel::RaiseAmbient(c, static_cast<int>(arg3)));
        case PR_CAP_AMBIENT_LOWER:
          return Commit(t, kernel::LowerAmbient(c, static_cast<int>(arg3)));
        default:
          return Errno(EINVAL);
      }
    default:
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
