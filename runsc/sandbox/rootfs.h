// The sandbox's root filesystem when a gofer serves it (`runsc do`): the
// gofer's view of the host's root, and the Sentry's own mounts on top where
// the host must neither show through nor be written.
#ifndef RUNSC_SANDBOX_ROOTFS_H_
#define RUNSC_SANDBOX_ROOTFS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "sentry/fsimpl/gofer/gofer_fs.h"
#include "sentry/kernel/kernel.h"

namespace runsc {

// Attaches to the gofer on `gofer_fd` (a connected SOCK_SEQPACKET socket; owned
// from then on) and returns its root as a filesystem.
absl::StatusOr<std::shared_ptr<sentry::fsimpl::gofer::GoferFilesystem>> AttachGoferRoot(
    int gofer_fd, sentry::memory::MemoryFile& mf);

// Mounts, in the kernel's tree: without the overlay, a fresh tmpfs on /tmp
// (guest files live in Sentry memory; the host's /tmp is never written). The
// Kernel itself mounts the sandbox's /dev, /proc and /sys over the host's.
// A directory the root lacks is skipped.
absl::Status MountSandboxDirs(sentry::kernel::Kernel& kernel, bool overlay);

}  // namespace runsc

#endif  // RUNSC_SANDBOX_ROOTFS_H_
