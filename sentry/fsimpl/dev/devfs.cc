#include "sentry/fsimpl/dev/devfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/dev/devices.h"

namespace sentry::fsimpl::dev {

ErrnoOr<std::shared_ptr<tmpfs::TmpfsFilesystem>> NewDevtmpfs(memory::MemoryFile& mf) {
  tmpfs::TmpfsOptions opts;
  opts.root_mode = 0755;
  opts.name = "devtmpfs";
  auto fs = tmpfs::TmpfsFilesystem::Create(mf, opts);
  vfs::Inode& root = *fs->Root();
  const vfs::Owner owner;  // root:root
  for (const StandardDevice& d : StandardDevices()) {
    RETURN_IF_ERROR(root.Mknod(d.name, S_IFCHR | d.mode, makedev(d.major, d.minor), owner));
  }
  RETURN_IF_ERROR(root.Symlink("fd", "/proc/self/fd", owner));
  RETURN_IF_ERROR(root.Symlink("stdin", "/proc/self/fd/0", owner));
  RETURN_IF_ERROR(root.Symlink("stdout", "/proc/self/fd/1", owner));
  RETURN_IF_ERROR(root.Symlink("stderr", "/proc/self/fd/2", owner));
  RETURN_IF_ERROR(root.Mkdir("shm", S_IFDIR | 0755, owner));
  RETURN_IF_ERROR(root.Mkdir("mqueue", S_IFDIR | 0755, owner));
  return fs;
}

}  // namespace sentry::fsimpl::dev
