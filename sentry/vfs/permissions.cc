#include "sentry/vfs/permissions.h"

#include <sys/stat.h>

#include <algorithm>

namespace sentry::vfs {

bool AccessCreds::InGroup(uint32_t gid) const {
  return gid == fsgid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

ErrnoOrOk CheckPermission(const AccessCreds& c, const Attr& a, int may) {
  uint32_t mode = a.mode;
  if (c.fsuid == a.uid) {
    mode >>= 6;
  } else if (c.InGroup(a.gid)) {
    mode >>= 3;
  }
  if ((may & ~mode & 7) == 0) return Ok();
  if (S_ISDIR(a.mode)) {
    // Directories: DAC is overridable; read and search also by DAC_READ_SEARCH.
    if (!(may & kMayWrite) && c.cap_dac_read_search) return Ok();
    if (c.cap_dac_override) return Ok();
    return Errno(EACCES);
  }
  if (may == kMayRead && c.cap_dac_read_search) return Ok();
  // Read and write are always overridable; execute only if some exec bit is set.
  if ((!(may & kMayExec) || (a.mode & 0111)) && c.cap_dac_override) return Ok();
  return Errno(EACCES);
}

bool OwnerOrCapable(const AccessCreds& c, const Attr& a) {
  return c.fsuid == a.uid || c.cap_fowner;
}

ErrnoOrOk CheckSticky(const AccessCreds& c, const Attr& dir, const Attr& child) {
  if (!(dir.mode & S_ISVTX)) return Ok();
  if (c.fsuid == child.uid || c.fsuid == dir.uid || c.cap_fowner) return Ok();
  return Errno(EPERM);
}

ErrnoOr<uint32_t> CheckChmod(const AccessCreds& c, const Attr& a, uint32_t mode) {
  if (!OwnerOrCapable(c, a)) return Errno(EPERM);
  mode &= 07777;
  if ((mode & S_ISGID) && !c.InGroup(a.gid) && !c.cap_fsetid) mode &= ~S_ISGID;
  return mode;
}

ErrnoOrOk CheckChown(const AccessCreds& c, const Attr& a, std::optional<uint32_t> uid,
                     std::optional<uint32_t> gid, SetAttrRequest* req) {
  if (uid && *uid != a.uid) {
    if (!c.cap_chown) return Errno(EPERM);
  }
  if (gid && *gid != a.gid) {
    const bool owner = c.fsuid == a.uid && (!uid || *uid == a.uid);
    if (!(owner && c.InGroup(*gid)) && !c.cap_chown) return Errno(EPERM);
  }
  if (uid) req->uid = *uid;
  if (gid) req->gid = *gid;
  // Any chown, even of neither id (Linux's chown_common), drops set-id bits on
  // non-directories (setgid only when it means "set group id", that is with
  // group execute).
  if (!S_ISDIR(a.mode)) {
    uint32_t mode = a.mode & 07777;
    uint32_t kill = S_ISUID;
    if (mode & S_IXGRP) kill |= S_ISGID;
    if (mode & kill) req->mode = mode & ~kill;
  }
  return Ok();
}

}  // namespace sentry::vfs
