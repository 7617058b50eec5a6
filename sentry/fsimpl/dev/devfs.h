// /dev: a devtmpfs, which as in Linux is a tmpfs instance (named "devtmpfs")
// populated with the standard device nodes and links. The nodes open their
// drivers through the device registry (devices.h).
#ifndef SENTRY_FSIMPL_DEV_DEVFS_H_
#define SENTRY_FSIMPL_DEV_DEVFS_H_

#include <memory>

#include "sentry/base/errno.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/memory/memory_file.h"

namespace sentry::fsimpl::dev {

// A new /dev (mode 0755, root's) holding null, zero, full, random, urandom,
// tty (crw-rw-rw-), the links fd -> /proc/self/fd and stdin, stdout, stderr ->
// /proc/self/fd/0..2, and the empty directories shm and mqueue for the /dev/shm and /dev/mqueue
// mounts.
ErrnoOr<std::shared_ptr<tmpfs::TmpfsFilesystem>> NewDevtmpfs(memory::MemoryFile& mf);

}  // namespace sentry::fsimpl::dev

#endif  // SENTRY_FSIMPL_DEV_DEVFS_H_
