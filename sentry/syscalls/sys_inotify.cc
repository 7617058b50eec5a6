// inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch: the
// instance is sentry/fsimpl/inotify, the watches and events sentry/vfs/inotify.h.
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>

#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/vfs/permissions.h"

namespace sentry::syscalls {
namespace {

using fsimpl::inotify::AsInotify;
using fsimpl::inotify::InotifyFile;

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

// Every bit inotify_add_watch knows (ALL_INOTIFY_BITS).
constexpr uint32_t kAllInotifyBits = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED |
                                     IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE |
                                     IN_MASK_ADD | IN_ISDIR | IN_ONESHOT;

}  // namespace

SyscallResult InotifyInit1(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(0);
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return Errno(EINVAL);
  auto f = InotifyFile::Create(flags & IN_NONBLOCK);
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(f), flags & IN_CLOEXEC, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

SyscallResult InotifyInit(Task& t, const SyscallArgs&) { return InotifyInit1(t, SyscallArgs{{0}}); }

// inotify_add_watch: the mask's bits, the fd, the path (followed unless
// IN_DONT_FOLLOW, a directory with IN_ONLYDIR), read permission on it.
SyscallResult InotifyAddWatch(Task& t, const SyscallArgs& a) {
  const uint32_t mask = a.Uint(2);
  if (!(mask & kAllInotifyBits)) return Errno(EINVAL);
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  InotifyFile* in = AsInotify(*file);
  if (in == nullptr) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, t.mm().CopyInString(a.Addr(1), PATH_MAX));
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(vfs::PathContext ctx, AtContext(t, AT_FDCWD, path, &creds, false));
  unsigned f = (mask & IN_DONT_FOLLOW) ? 0u : unsigned{vfs::kFollow};
  if (mask & IN_ONLYDIR) f |= vfs::kDirectory;
  ASSIGN_OR_RETURN(vfs::VirtualDentry vd, t.kernel().vfs().Resolve(ctx, path, f));
  ASSIGN_OR_RETURN(vfs::Attr at, vd.inode().GetAttr());
  RETURN_IF_ERROR(vfs::CheckPermission(creds, at, vfs::kMayRead));
  ASSIGN_OR_RETURN(int wd, in->AddWatch(vd.dentry->inode(), mask));
  return wd;
}

SyscallResult InotifyRmWatch(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  InotifyFile* in = AsInotify(*file);
  if (in == nullptr) return Errno(EINVAL);
  RETURN_IF_ERROR(in->RmWatch(a.Int(1)));
  return 0;
}

}  // namespace sentry::syscalls
