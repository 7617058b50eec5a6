#include "sentry/kernel/credentials.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

static_assert(CAP_LAST_CAP >= kCapLastCap, "the host's <linux/capability.h> is older than ours");

// CAP_FS_SET: what follows the fs uid in and out of 0 (setfsuid).
constexpr uint64_t kFsCapabilities = CapMask(CAP_CHOWN) | CapMask(CAP_DAC_OVERRIDE) |
                                     CapMask(CAP_DAC_READ_SEARCH) | CapMask(CAP_FOWNER) |
                                     CapMask(CAP_FSETID) | CapMask(CAP_LINUX_IMMUTABLE) |
                                     CapMask(CAP_MKNOD) | CapMask(CAP_MAC_OVERRIDE);

constexpr uint32_t kRoot = 0;

bool AnyRoot(const Credentials& c) { return c.ruid == kRoot || c.euid == kRoot || c.suid == kRoot; }

// cap_task_fix_setuid for LSM_SETID_ID, _RE and _RES (cap_emulate_setxuid):
// leaving uid 0 in all three ids drops the permitted and effective sets
// (unless SECURE_KEEP_CAPS) and the ambient set; an euid leaving 0 drops the
// effective set, one coming back to 0 restores it from the permitted set.
void FixSetuid(Credentials& n, const Credentials& old) {
  if (old.IsSecure(kSecbitNoSetuidFixup)) return;
  if (AnyRoot(old) && !AnyRoot(n)) {
    if (!old.IsSecure(kSecbitKeepCaps)) {
      n.cap_permitted = 0;
      n.cap_effective = 0;
    }
    // Programs from before ambient capabilities expect setresuid to a
    // non-root user followed by exec to drop every capability.
    n.cap_ambient = 0;
  }
  if (old.euid == kRoot && n.euid != kRoot) n.cap_effective = 0;
  if (old.euid != kRoot && n.euid == kRoot) n.cap_effective = n.cap_permitted;
}

// cap_task_fix_setuid for LSM_SETID_FS: the file-system capabilities follow
// the fs uid out of and back into 0.
void FixSetfsuid(Credentials& n, const Credentials& old) {
  if (old.IsSecure(kSecbitNoSetuidFixup)) return;
  if (old.fsuid == kRoot && n.fsuid != kRoot) n.cap_effective &= ~kFsCapabilities;
  if (old.fsuid != kRoot && n.fsuid == kRoot) {
    n.cap_effective |= n.cap_permitted & kFsCapabilities;
  }
}

bool IsSubset(uint64_t a, uint64_t b) { return (a & ~b) == 0; }

}  // namespace

Credentials Credentials::ForInit(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  Credentials c;
  c.ruid = c.euid = c.suid = c.fsuid = uid;
  c.rgid = c.egid = c.sgid = c.fsgid = gid;
  c.groups = std::move(groups);
  std::sort(c.groups.begin(), c.groups.end());
  c.cap_bounding = kAllCapabilities;
  if (uid == kRoot) c.cap_permitted = c.cap_effective = kAllCapabilities;
  return c;
}

bool Credentials::InGroup(uint32_t gid) const {
  return gid == fsgid || std::binary_search(groups.begin(), groups.end(), gid);
}

vfs::AccessCreds Credentials::Access() const {
  vfs::AccessCreds c;
  c.fsuid = fsuid;
  c.fsgid = fsgid;
  c.groups = groups;
  c.cap_dac_override = HasCapability(CAP_DAC_OVERRIDE);
  c.cap_dac_read_search = HasCapability(CAP_DAC_READ_SEARCH);
  c.cap_fowner = HasCapability(CAP_FOWNER);
  c.cap_chown = HasCapability(CAP_CHOWN);
  c.cap_fsetid = HasCapability(CAP_FSETID);
  c.cap_mknod = HasCapability(CAP_MKNOD);
  c.cap_sys_admin = HasCapability(CAP_SYS_ADMIN);
  return c;
}

// --- set*id (kernel/sys.c) ---

ErrnoOr<Credentials> SetUid(const Credentials& old, uint32_t uid) {
  if (uid == kNoId) return Errno(EINVAL);
  Credentials n = old;
  if (old.HasCapability(CAP_SETUID)) {
    n.ruid = n.suid = uid;
  } else if (uid != old.ruid && uid != old.suid) {
    return Errno(EPERM);
  }
  n.euid = n.fsuid = uid;
  FixSetuid(n, old);
  return n;
}

ErrnoOr<Credentials> SetReuid(const Credentials& old, uint32_t ruid, uint32_t euid) {
  const bool cap = old.HasCapability(CAP_SETUID);
  Credentials n = old;
  if (ruid != kNoId) {
    if (ruid != old.ruid && ruid != old.euid && !cap) return Errno(EPERM);
    n.ruid = ruid;
  }
  if (euid != kNoId) {
    if (euid != old.ruid && euid != old.euid && euid != old.suid && !cap) return Errno(EPERM);
    n.euid = euid;
  }
  // The saved uid follows a real uid change, or an euid set to anything but
  // the old real uid.
  if (ruid != kNoId || (euid != kNoId && euid != old.ruid)) n.suid = n.euid;
  n.fsuid = n.euid;
  FixSetuid(n, old);
  return n;
}

ErrnoOr<Credentials> SetResuid(const Credentials& old, uint32_t ruid, uint32_t euid,
                               uint32_t suid) {
  // Nothing to change: success without touching anything (not even the
  // capability fix-up).
  if ((ruid == kNoId || ruid == old.ruid) &&
      (euid == kNoId || (euid == old.euid && euid == old.fsuid)) &&
      (suid == kNoId || suid == old.suid)) {
    return old;
  }
  // Without CAP_SETUID each new id must be one of the current three.
  auto is_new = [&](uint32_t id) {
    return id != kNoId && id != old.ruid && id != old.euid && id != old.suid;
  };
  if ((is_new(ruid) || is_new(euid) || is_new(suid)) && !old.HasCapability(CAP_SETUID)) {
    return Errno(EPERM);
  }
  Credentials n = old;
  if (ruid != kNoId) n.ruid = ruid;
  if (euid != kNoId) n.euid = euid;
  if (suid != kNoId) n.suid = suid;
  n.fsuid = n.euid;
  FixSetuid(n, old);
  return n;
}

ErrnoOr<Credentials> SetGid(const Credentials& old, uint32_t gid) {
  if (gid == kNoId) return Errno(EINVAL);
  Credentials n = old;
  if (old.HasCapability(CAP_SETGID)) {
    n.rgid = n.egid = n.sgid = n.fsgid = gid;
  } else if (gid == old.rgid || gid == old.sgid) {
    n.egid = n.fsgid = gid;
  } else {
    return Errno(EPERM);
  }
  return n;
}

ErrnoOr<Credentials> SetRegid(const Credentials& old, uint32_t rgid, uint32_t egid) {
  const bool cap = old.HasCapability(CAP_SETGID);
  Credentials n = old;
  if (rgid != kNoId) {
    if (rgid != old.rgid && rgid != old.egid && !cap) return Errno(EPERM);
    n.rgid = rgid;
  }
  if (egid != kNoId) {
    if (egid != old.rgid && egid != old.egid && egid != old.sgid && !cap) return Errno(EPERM);
    n.egid = egid;
  }
  if (rgid != kNoId || (egid != kNoId && egid != old.rgid)) n.sgid = n.egid;
  n.fsgid = n.egid;
  return n;
}

ErrnoOr<Credentials> SetResgid(const Credentials& old, uint32_t rgid, uint32_t egid,
                               uint32_t sgid) {
  if ((rgid == kNoId || rgid == old.rgid) &&
      (egid == kNoId || (egid == old.egid && egid == old.fsgid)) &&
      (sgid == kNoId || sgid == old.sgid)) {
    return old;
  }
  auto is_new = [&](uint32_t id) {
    return id != kNoId && id != old.rgid && id != old.egid && id != old.sgid;
  };
  if ((is_new(rgid) || is_new(egid) || is_new(sgid)) && !old.HasCapability(CAP_SETGID)) {
    return Errno(EPERM);
  }
  Credentials n = old;
  if (rgid != kNoId) n.rgid = rgid;
  if (egid != kNoId) n.egid = egid;
  if (sgid != kNoId) n.sgid = sgid;
  n.fsgid = n.egid;
  return n;
}

Credentials SetFsuid(const Credentials& old, uint32_t fsuid) {
  if (fsuid == kNoId || fsuid == old.fsuid) return old;
  if (fsuid != old.ruid && fsuid != old.euid && fsuid != old.suid &&
      !old.HasCapability(CAP_SETUID)) {
    return old;
  }
  Credentials n = old;
  n.fsuid = fsuid;
  FixSetfsuid(n, old);
  return n;
}

Credentials SetFsgid(const Credentials& old, uint32_t fsgid) {
  if (fsgid == kNoId || fsgid == old.fsgid) return old;
  if (fsgid != old.rgid && fsgid != old.egid && fsgid != old.sgid &&
      !old.HasCapability(CAP_SETGID)) {
    return old;
  }
  Credentials n = old;
  n.fsgid = fsgid;
  return n;
}

ErrnoOr<Credentials> SetGroups(const Credentials& old, std::vector<uint32_t> groups) {
  if (!old.HasCapability(CAP_SETGID)) return Errno(EPERM);
  Credentials n = old;
  std::sort(groups.begin(), groups.end());
  n.groups = std::move(groups);
  return n;
}

// --- capset (cap_capset) ---

ErrnoOr<Credentials> CapSet(const Credentials& old, uint64_t effective, uint64_t permitted,
                            uint64_t inheritable) {
  // Bits past CAP_LAST_CAP are dropped, as Linux 6.3+ does (mk_kernel_cap).
  effective &= kAllCapabilities;
  permitted &= kAllCapabilities;
  inheritable &= kAllCapabilities;
  // Without CAP_SETPCAP, the inheritable set may only gain what is permitted.
  if (!old.HasCapability(CAP_SETPCAP) &&
      !IsSubset(inheritable, old.cap_inheritable | old.cap_permitted)) {
    return Errno(EPERM);
  }
  // Never beyond the bounding set.
  if (!IsSubset(inheritable, old.cap_inheritable | old.cap_bounding)) return Errno(EPERM);
  if (!IsSubset(permitted, old.cap_permitted)) return Errno(EPERM);
  if (!IsSubset(effective, permitted)) return Errno(EPERM);
  Credentials n = old;
  n.cap_effective = effective;
  n.cap_permitted = permitted;
  n.cap_inheritable = inheritable;
  // Ambient capabilities must stay both permitted and inheritable.
  n.cap_ambient &= permitted & inheritable;
  return n;
}

// --- prctl (cap_task_prctl) ---

ErrnoOr<Credentials> DropBoundingCapability(const Credentials& old, uint64_t cap) {
  if (!old.HasCapability(CAP_SETPCAP)) return Errno(EPERM);
  if (!ValidCapability(cap)) return Errno(EINVAL);
  Credentials n = old;
  n.cap_bounding &= ~CapMask(static_cast<int>(cap));
  return n;
}

ErrnoOr<Credentials> SetSecurebits(const Credentials& old, uint64_t bits) {
  const uint64_t cur = old.securebits;
  // A locked bit may not change, a lock may not go, an unknown bit may not
  // be set, and any change needs CAP_SETPCAP.
  if ((((cur & kSecureAllLocks) >> 1) & (cur ^ bits)) != 0 ||
      (cur & kSecureAllLocks & ~bits) != 0 ||
      (bits & ~uint64_t{kSecureAllLocks | kSecureAllBits}) || !old.HasCapability(CAP_SETPCAP)) {
    return Errno(EPERM);
  }
  Credentials n = old;
  n.securebits = static_cast<uint32_t>(bits);
  return n;
}

ErrnoOr<Credentials> SetKeepCaps(const Credentials& old, uint64_t keep) {
  if (keep > 1) return Errno(EINVAL);
  if (old.IsSecure(kSecbitKeepCapsLocked)) return Errno(EPERM);
  Credentials n = old;
  if (keep) {
    n.securebits |= kSecbitKeepCaps;
  } else {
    n.securebits &= ~kSecbitKeepCaps;
  }
  return n;
}

ErrnoOr<Credentials> RaiseAmbient(const Credentials& old, int cap) {
  const uint64_t m = CapMask(cap);
  if (!(old.cap_permitted & m) || !(old.cap_inheritable & m) ||
      old.IsSecure(kSecbitNoCapAmbientRaise)) {
    return Errno(EPERM);
  }
  Credentials n = old;
  n.cap_ambient |= m;
  return n;
}

Credentials LowerAmbient(const Credentials& old, int cap) {
  Credentials n = old;
  n.cap_ambient &= ~CapMask(cap);
  return n;
}

Credentials ClearAmbient(const Credentials& old) {
  Credentials n = old;
  n.cap_ambient = 0;
  return n;
}

Credentials AccessOverride(const Credentials& c) {
  Credentials n = c;
  n.fsuid = c.ruid;
  n.fsgid = c.rgid;
  if (!c.IsSecure(kSecbitNoSetuidFixup)) {
    n.cap_effective = c.ruid == kRoot ? c.cap_permitted : 0;
  }
  return n;
}

// --- execve ---

ExecTransition ExecCredentials(const Credentials& old, const ExecFile& file,
                               const ExecConditions& conditions) {
  ExecTransition t;
  Credentials& n = t.creds;
  n = old;

  // bprm_fill_uid: the file's set-id bits, unless the mount or no_new_privs
  // says no. Set-group-ID counts only with group execute (without it, the
  // bit means mandatory locking).
  if (!file.nosuid_mount && !conditions.no_new_privs) {
    if (file.mode & S_ISUID) n.euid = file.uid;
    if ((file.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) n.egid = file.gid;
  }

  // cap_bprm_creds_from_file, for a file without file capabilities: the
  // permitted set starts empty (get_file_caps).
  n.cap_permitted = 0;
  bool effective = false;
  // handle_privileged_root: root (real or effective, after the set-uid bit)
  // gets the bounding and inheritable sets, and the effective set too when
  // its euid is 0; not under SECURE_NOROOT.
  if (!old.IsSecure(kSecbitNoroot)) {
    if (n.euid == kRoot || n.ruid == kRoot)
      n.cap_permitted = old.cap_bounding | old.cap_inheritable;
    if (n.euid == kRoot) effective = true;
  }
  // in_group_p() asks the old credentials.
  const bool id_changed = n.euid != old.euid || !old.InGroup(n.egid);
  const bool gained = !IsSubset(n.cap_permitted, old.cap_permitted);
  // An unsafe exec (no_new_privs, a shared fs context) gets no more than it
  // had: ids back to the real ones without CAP_SETUID (always under
  // no_new_privs), and no capability it did not hold.
  if ((id_changed || gained) && (conditions.no_new_privs || conditions.shared_fs)) {
    if (!old.HasCapability(CAP_SETUID) || conditions.no_new_privs) {
      n.euid = n.ruid;
      n.egid = n.rgid;
    }
    n.cap_permitted &= old.cap_permitted;
  }
  n.suid = n.fsuid = n.euid;
  n.sgid = n.fsgid = n.egid;
  // A set-id exec cancels the ambient set (file capabilities would too).
  if (id_changed) n.cap_ambient = 0;
  // pP' = (bounding-derived) | pA'; pE' = fE ? pP' : pA'.
  n.cap_permitted |= n.cap_ambient;
  n.cap_effective = effective ? n.cap_permitted : n.cap_ambient;
  n.securebits &= ~kSecbitKeepCaps;

  // A privilege-elevating exec is a secure one: the ids changed, or a
  // non-root task gained capabilities beyond its ambient ones.
  const bool grew_beyond_ambient = !IsSubset(n.cap_permitted, n.cap_ambient);
  t.secure = id_changed || n.euid != old.ruid || n.egid != old.rgid ||
             (n.ruid != kRoot && (effective || grew_beyond_ambient));
  // begin_new_exec decides dumpability from the old ids.
  t.dumpable = old.euid == old.ruid && old.egid == old.rgid;
  return t;
}

// --- A task's credentials ---

bool PtraceMayAccess(const Credentials& caller, const Credentials& target, bool target_dumpable,
                     bool fscreds) {
  const bool sys_ptrace = caller.HasCapability(CAP_SYS_PTRACE);
  const uint32_t uid = fscreds ? caller.fsuid : caller.ruid;
  const uint32_t gid = fscreds ? caller.fsgid : caller.rgid;
  const bool same_ids = uid == target.euid && uid == target.suid && uid == target.ruid &&
                        gid == target.egid && gid == target.sgid && gid == target.rgid;
  if (!same_ids && !sys_ptrace) return false;
  if (!target_dumpable && !sys_ptrace) return false;
  const uint64_t caller_caps = fscreds ? caller.cap_effective : caller.cap_permitted;
  return (target.cap_permitted & ~caller_caps) == 0 || sys_ptrace;
}

std::shared_ptr<const Credentials> Task::creds_snapshot() const {
  absl::MutexLock l(&creds_mu_);
  return creds_;
}

void Task::SetCredentials(std::shared_ptr<const Credentials> c) {
  absl::MutexLock l(&creds_mu_);
  creds_ = std::move(c);
}

void Task::CommitCredentials(Credentials c) {
  auto next = std::make_shared<const Credentials>(std::move(c));
  std::shared_ptr<const Credentials> old;
  {
    absl::MutexLock l(&creds_mu_);
    old = std::exchange(creds_, next);
  }
  // commit_creds: a task whose ids changed, or that gained capabilities,
  // becomes non-dumpable (fs.suid_dumpable, 0 here) and loses its
  // parent-death signal.
  if (old->euid != next->euid || old->egid != next->egid || old->fsuid != next->fsuid ||
      old->fsgid != next->fsgid || !IsSubset(next->cap_permitted, old->cap_permitted)) {
    dumpable = 0;
    pdeath_signal = 0;
  }
  // The memory manager caches whether mlock may pass RLIMIT_MEMLOCK.
  if (old->HasCapability(CAP_IPC_LOCK) != next->HasCapability(CAP_IPC_LOCK) && mem_ != nullptr &&
      mem_->mm != nullptr) {
    SyncMemoryLimits();
  }
}

ExecTransition Task::ExecCredentialsFor(loader::ExecutableFile& file) {
  // A file from outside the VFS (none today past init) has no set-id bits.
  const ExecFile f = file.SetId().value_or(ExecFile{});
  ExecConditions c;
  c.no_new_privs = no_new_privs.load();
  // check_unsafe_exec: the filesystem context is shared when something other
  // than this process's threads holds it (CLONE_FS without CLONE_THREAD).
  long n_fs = 0;
  {
    absl::MutexLock l(&tree_mu);
    for (const Task* t : tg_->tasks) {
      if (t->fs_ == fs_) ++n_fs;
    }
  }
  c.shared_fs = fs_.use_count() > n_fs;
  return ExecCredentials(creds(), f, c);
}

void Task::CommitExecCredentials(const ExecTransition& t) {
  // begin_new_exec: dumpability from the old ids, then the parent may not
  // signal a secure (privileged) program at its death.
  dumpable = t.dumpable ? 1 : 0;
  if (t.secure) pdeath_signal = 0;
  CommitCredentials(t.creds);
}

}  // namespace sentry::kernel
