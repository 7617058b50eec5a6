#include "runsc/sandbox/isolate.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentry/base/errno.h"

namespace runsc {

using sentry::HostError;

absl::Status EnterSentryNamespaces() {
  if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0) {
    return HostError("sentry: unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNET)", errno);
  }
  // Nothing mounted here reaches the host, and nothing the host mounts later
  // reaches the Sentry.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return HostError("sentry: making mounts private", errno);
  }
  return absl::OkStatus();
}

absl::Status EnterEmptyRoot() {
  // Staged on /proc, which every Linux host has: in our own (private) mount
  // namespace the tmpfs only shadows it here, and it is gone after the pivot.
  // One inode (the root directory itself), read-only from the start, so no
  // moment exists in which anything can be created in it.
  constexpr char kStaging[] = "/proc";
  if (mount("sentry-root", kStaging, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=0555") != 0) {
    return HostError("sentry: mounting an empty tmpfs for the root", errno);
  }
  if (chdir(kStaging) != 0) return HostError("sentry: chdir to the empty root", errno);
  // pivot_root(".", "."): the old root ends up stacked on "/", then detached.
  if (syscall(SYS_pivot_root, ".", ".") != 0) return HostError("sentry: pivot_root", errno);
  if (umount2(".", MNT_DETACH) != 0) return HostError("sentry: detaching the host's root", errno);
  if (chdir("/") != 0) return HostError("sentry: chdir(\"/\")", errno);
  return absl::OkStatus();
}

}  // namespace runsc
