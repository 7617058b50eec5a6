// Credentials as Linux keeps them (include/linux/cred.h; man 7 credentials,
// man 7 capabilities): user and group ids, supplementary groups, the five
// capability sets and the securebits, and the transitions that the set*id
// syscalls, setgroups, capset, prctl and execve make (kernel/sys.c,
// kernel/capability.c, security/commoncap.c, fs/exec.c).
//
// Every transition here is a pure function from the old credentials to the
// new ones (or the errno Linux gives), like Linux's prepare_creds / modify /
// commit_creds: a task never edits its credentials in place, it replaces them
// (Task::CommitCredentials). See README.md, "Credentials".
//
// The sandbox has one user namespace, the initial one: every id but
// (uint32_t)-1 is mapped, and "capable" means "in the effective set".
#ifndef SENTRY_KERNEL_CREDENTIALS_H_
#define SENTRY_KERNEL_CREDENTIALS_H_

#include <cstdint>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/loader/loader.h"
#include "sentry/vfs/permissions.h"

namespace sentry::kernel {

// --- Capabilities: numbered as in <linux/capability.h> (CAP_CHOWN ...); a
// set is a mask of 1 << cap. ---
inline constexpr int kCapLastCap = 40;  // CAP_CHECKPOINT_RESTORE (Linux 5.9+)
inline constexpr uint64_t kAllCapabilities = (uint64_t{1} << (kCapLastCap + 1)) - 1;
constexpr uint64_t CapMask(int cap) { return uint64_t{1} << cap; }
// cap_valid(): what prctl's capability arguments (unsigned long) accept.
constexpr bool ValidCapability(uint64_t cap) { return cap <= kCapLastCap; }

// --- securebits (<linux/securebits.h>, as Linux 6.1 knows them). ---
inline constexpr uint32_t kSecbitNoroot = 1 << 0;
inline constexpr uint32_t kSecbitNorootLocked = 1 << 1;
inline constexpr uint32_t kSecbitNoSetuidFixup = 1 << 2;
inline constexpr uint32_t kSecbitNoSetuidFixupLocked = 1 << 3;
inline constexpr uint32_t kSecbitKeepCaps = 1 << 4;
inline constexpr uint32_t kSecbitKeepCapsLocked = 1 << 5;
inline constexpr uint32_t kSecbitNoCapAmbientRaise = 1 << 6;
inline constexpr uint32_t kSecbitNoCapAmbientRaiseLocked = 1 << 7;
inline constexpr uint32_t kSecureAllBits =
    kSecbitNoroot | kSecbitNoSetuidFixup | kSecbitKeepCaps | kSecbitNoCapAmbientRaise;
inline constexpr uint32_t kSecureAllLocks = kSecureAllBits << 1;

// An id argument that means "leave this one alone" (setreuid, setresuid, ...);
// as an id it is never mapped, so setuid(-1) is EINVAL.
inline constexpr uint32_t kNoId = static_cast<uint32_t>(-1);

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, sorted (as setgroups leaves them)
  uint64_t cap_inheritable = 0;
  uint64_t cap_permitted = 0;
  uint64_t cap_effective = 0;
  uint64_t cap_bounding = kAllCapabilities;
  uint64_t cap_ambient = 0;
  uint32_t securebits = 0;

  // The container's first process, as runc starts it: uid 0 holds every
  // capability (permitted, effective, bounding; like Linux's init_cred), any
  // other uid only the bounding set. Inheritable and ambient are empty.
  static Credentials ForInit(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups);

  // capable(cap): whether `cap` is in the effective set.
  bool HasCapability(int cap) const { return (cap_effective & CapMask(cap)) != 0; }
  // issecure(): whether a securebit (a kSecbit* mask) is set.
  bool IsSecure(uint32_t bit) const { return (securebits & bit) != 0; }
  // in_group_p(): the fs gid or a supplementary group.
  bool InGroup(uint32_t gid) const;
  // What file access looks at: the fs ids, the groups and the file
  // capabilities of the effective set.
  vfs::AccessCreds Access() const;

  bool operator==(const Credentials&) const = default;
};

// ptrace_may_access(target, PTRACE_MODE_*) between two processes (kernel/
// ptrace.c's __ptrace_may_access with commoncap's cap_ptrace_access_check;
// no LSM): the caller's ids (the fs ids with `fscreds`, else the real ones)
// equal all three of the target's uids and gids, or CAP_SYS_PTRACE; a
// target that is not dumpable needs CAP_SYS_PTRACE; and the target's
// permitted capabilities must be within the caller's (its effective set with
// `fscreds`, else the permitted one), or CAP_SYS_PTRACE. The same process is
// always allowed (the caller checks that first).
bool PtraceMayAccess(const Credentials& caller, const Credentials& target, bool target_dumpable,
                     bool fscreds);

// --- The set*id family (kernel/sys.c), with cap_task_fix_setuid's
// capability changes. Each returns the new credentials or Linux's errno:
// EINVAL for an unmapped id ((uint32_t)-1 where it is not "leave alone"),
// EPERM for a change the caller may not make without CAP_SETUID/CAP_SETGID. ---
ErrnoOr<Credentials> SetUid(const Credentials& old, uint32_t uid);
ErrnoOr<Credentials> SetReuid(const Credentials& old, uint32_t ruid, uint32_t euid);
ErrnoOr<Credentials> SetResuid(const Credentials& old, uint32_t ruid, uint32_t euid, uint32_t suid);
ErrnoOr<Credentials> SetGid(const Credentials& old, uint32_t gid);
ErrnoOr<Credentials> SetRegid(const Credentials& old, uint32_t rgid, uint32_t egid);
ErrnoOr<Credentials> SetResgid(const Credentials& old, uint32_t rgid, uint32_t egid, uint32_t sgid);
// setfsuid/setfsgid never fail: the result equals `old` when the change is
// refused (or changes nothing). The syscall returns the old fs id either way.
Credentials SetFsuid(const Credentials& old, uint32_t fsuid);
Credentials SetFsgid(const Credentials& old, uint32_t fsgid);
// setgroups: CAP_SETGID (EPERM); `groups` is sorted here.
ErrnoOr<Credentials> SetGroups(const Credentials& old, std::vector<uint32_t> groups);

// --- capset(2) (cap_capset): the three sets for the caller. EPERM for an
// inheritable set beyond inheritable|permitted (without CAP_SETPCAP) or
// beyond inheritable|bounding, a permitted set beyond the old one, or an
// effective set beyond the new permitted one. Ambient capabilities no longer
// both permitted and inheritable go. ---
ErrnoOr<Credentials> CapSet(const Credentials& old, uint64_t effective, uint64_t permitted,
                            uint64_t inheritable);

// --- prctl's capability options (cap_task_prctl). `cap` is prctl's unsigned
// long argument. ---
// PR_CAPBSET_DROP: EPERM without CAP_SETPCAP, then EINVAL for an invalid cap.
ErrnoOr<Credentials> DropBoundingCapability(const Credentials& old, uint64_t cap);
// PR_SET_SECUREBITS: EPERM when a locked bit would change, a lock would go,
// an unknown bit is asked for, or the caller lacks CAP_SETPCAP.
ErrnoOr<Credentials> SetSecurebits(const Credentials& old, uint64_t bits);
// PR_SET_KEEPCAPS: EINVAL past 1, EPERM when SECURE_KEEP_CAPS is locked.
ErrnoOr<Credentials> SetKeepCaps(const Credentials& old, uint64_t keep);
// PR_CAP_AMBIENT_RAISE: EPERM unless permitted and inheritable both hold it
// and SECURE_NO_CAP_AMBIENT_RAISE is clear. The caller checked `cap`.
ErrnoOr<Credentials> RaiseAmbient(const Credentials& old, int cap);
Credentials LowerAmbient(const Credentials& old, int cap);
Credentials ClearAmbient(const Credentials& old);

// access(2) and faccessat(2) without AT_EACCESS check as the real ids
// (access_override_creds): the fs ids become the real ones, and unless
// SECURE_NO_SETUID_FIXUP, the effective set becomes the permitted one for a
// real uid 0 and empty for any other.
Credentials AccessOverride(const Credentials& c);

// --- execve (fs/exec.c's bprm_fill_uid and security/commoncap.c's
// cap_bprm_creds_from_file). ---

// What execve's credential transition reads of the file it runs (the final
// one: the interpreter of a "#!" script, never the script): its mode, owner,
// and whether its mount honours set-id bits.
using ExecFile = loader::SetIdInfo;

// What execve's "unsafe" conditions are (check_unsafe_exec).
struct ExecConditions {
  // The task set no_new_privs: set-id bits are ignored and no capability is
  // gained (LSM_UNSAFE_NO_NEW_PRIVS).
  bool no_new_privs = false;
  // The task's filesystem context (CLONE_FS) is shared with another process
  // (LSM_UNSAFE_SHARE): a gain of ids or capabilities is cut back.
  bool shared_fs = false;
};

struct ExecTransition {
  Credentials creds;
  // AT_SECURE (bprm->secureexec): the ids or capabilities changed in a way
  // the new program must not trust its environment about.
  bool secure = false;
  // Whether the new image is dumpable (SUID_DUMP_USER) or not (fs.suid_dumpable,
  // 0 in the sandbox): not when the old euid/egid differed from the real ids.
  // commit_creds' own rule (Task::CommitCredentials) applies on top.
  bool dumpable = true;
};

// The credentials a task gets from execve of `file`. File capabilities
// (security.capability xattrs) are not read: every file is one without them,
// so root gains the bounding|inheritable set as permitted (and effective
// when its euid is 0), unless SECURE_NOROOT, and a non-root task keeps only
// its ambient capabilities. Saved and fs ids become the effective ones.
ExecTransition ExecCredentials(const Credentials& old, const ExecFile& file,
                               const ExecConditions& conditions);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_CREDENTIALS_H_
