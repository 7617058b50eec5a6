// Permission checks, in one place (DESIGN.md §8), as Linux's
// generic_permission, may_delete, chown_ok and friends do them.
#ifndef SENTRY_VFS_PERMISSIONS_H_
#define SENTRY_VFS_PERMISSIONS_H_

#include <cstdint>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

inline constexpr int kMayExec = 1;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayRead = 4;

// The part of a task's credentials that file access looks at.
struct AccessCreds {
  uint32_t fsuid = 0;
  uint32_t fsgid = 0;
  std::vector<uint32_t> groups;
  bool cap_dac_override = false;
  bool cap_dac_read_search = false;
  bool cap_fowner = false;
  bool cap_chown = false;
  bool cap_fsetid = false;
  bool cap_mknod = false;
  bool cap_sys_admin = false;  // trusted.* extended attributes

  // Root in its namespace: every file capability.
  static AccessCreds Root() {
    AccessCreds c;
    c.cap_dac_override = c.cap_dac_read_search = c.cap_fowner = c.cap_chown = c.cap_fsetid =
        c.cap_mknod = c.cap_sys_admin = true;
    return c;
  }
  bool InGroup(uint32_t gid) const;
};

// Linux's generic_permission: `may` is a mask of kMay*. EACCES when refused.
ErrnoOrOk CheckPermission(const AccessCreds& c, const Attr& a, int may);
// Whether `c` owns `a` or has CAP_FOWNER (inode_owner_or_capable).
bool OwnerOrCapable(const AccessCreds& c, const Attr& a);
// The sticky-directory rule of may_delete: EPERM when `c` may not remove or
// replace `child` in `dir`.
ErrnoOrOk CheckSticky(const AccessCreds& c, const Attr& dir, const Attr& child);
// chmod: EPERM unless owner or CAP_FOWNER. Returns the mode bits to set (the
// setgid bit is dropped for a group the caller is not in, without CAP_FSETID).
ErrnoOr<uint32_t> CheckChmod(const AccessCreds& c, const Attr& a, uint32_t mode);
// chown: EPERM unless Linux's chown_ok/chgrp_ok allow it. Fills `req` with the
// new owner and, for non-directories, the mode with setuid/setgid cleared.
ErrnoOrOk CheckChown(const AccessCreds& c, const Attr& a, std::optional<uint32_t> uid,
                     std::optional<uint32_t> gid, SetAttrRequest* req);

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_PERMISSIONS_H_
