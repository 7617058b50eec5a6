// Path-based file syscalls: open, the *at family, stat, directories, links,
// attributes, the working directory (DESIGN.md §8). Handlers decode the
// arguments and build a PathContext; the VFS does the rest.
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <linux/close_range.h>

#include <array>
#include <climits>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/vfs/file_description.h"

namespace sentry::syscalls {
namespace {

using vfs::PathContext;
using vfs::VirtualDentry;

ErrnoOr<std::string> CopyInPath(Task& t, UserAddr addr) {
  return t.mm().CopyInString(addr, PATH_MAX);
}

}  // namespace

ErrnoOr<PathContext> AtContext(Task& t, int dirfd, std::string_view path,
                               const vfs::AccessCreds* creds, bool empty_ok) {
  // An empty path is ENOENT before dirfd is looked at (Linux's getname).
  if (path.empty() && !empty_ok) return Errno(ENOENT);
  PathContext ctx{t.fs_root(), t.cwd(), creds, t.umask()};
  if ((!path.empty() && path[0] == '/') || dirfd == AT_FDCWD) return ctx;
  ASSIGN_OR_RETURN(auto file, t.fds().Get(dirfd));
  if (!file->location().ok()) {
    // A pipe, socket or donated host fd: no location to start from.
    if (path.empty() && empty_ok) return Errno(EBADF);
    return Errno(ENOTDIR);
  }
  if (!(path.empty() && empty_ok)) {
    ASSIGN_OR_RETURN(vfs::Attr a, file->location().inode().GetAttr());
    if (!S_ISDIR(a.mode)) return Errno(ENOTDIR);
  }
  ctx.start = file->location();
  return ctx;
}

namespace {

// The kernel's O_LARGEFILE (glibc defines it as 0 on x86-64).
constexpr int kOLargefile = 0100000;

constexpr int kValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT | kOLargefile |
                                O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH |
                                __O_TMPFILE;

SyscallResult DoOpen(Task& t, int dirfd, UserAddr path_addr, int flags, uint32_t mode,
                     unsigned resolve) {
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, path_addr));
  // RESOLVE_IN_ROOT: an absolute path starts at dirfd too (Linux's path_init),
  // which is the relative path without its leading slashes.
  if ((resolve & vfs::kInRoot) && !path.empty() && path[0] == '/') {
    const size_t rest = path.find_first_not_of('/');
    path = rest == std::string::npos ? std::string(".") : path.substr(rest);
  }
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, dirfd, path, &creds));
  // x86-64 opens are always large-file (F_GETFL shows it).
  ASSIGN_OR_RETURN(auto file, t.kernel().vfs().Open(ctx, path, (flags & ~O_CLOEXEC) | kOLargefile,
                                                    mode, resolve));
  // Outside the VFS lock: a FIFO waits here for its other end.
  RETURN_IF_ERROR(file->WaitOpened(t));
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(file), flags & O_CLOEXEC, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

// open/openat drop unknown flags (the old ABI); O_TMPFILE must name a directory
// and be writable.
SyscallResult OpenCommon(Task& t, int dirfd, UserAddr path, int flags, uint32_t mode) {
  flags &= kValidOpenFlags;
  // Linux (6.4 on) refuses O_CREAT | O_DIRECTORY, which once made a regular file.
  if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY)) return Errno(EINVAL);
  if ((flags & __O_TMPFILE) == __O_TMPFILE) {
    if ((flags & O_ACCMODE) == O_RDONLY || (flags & O_CREAT)) return Errno(EINVAL);
  } else if (flags & __O_TMPFILE & ~O_DIRECTORY) {
    return Errno(EINVAL);  // __O_TMPFILE without O_DIRECTORY
  }
  if (!(flags & (O_CREAT | __O_TMPFILE))) mode = 0;
  return DoOpen(t, dirfd, path, flags, mode, 0);
}

std::optional<uint32_t> IdArg(uint64_t v) {
  if (static_cast<uint32_t>(v) == UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// The location a stat/chmod/chown/utimes-style call names.
ErrnoOr<VirtualDentry> LocateAt(Task& t, int dirfd, UserAddr path_addr, int at_flags,
                                bool follow_default, const vfs::AccessCreds& creds) {
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, path_addr));
  const bool empty = (at_flags & AT_EMPTY_PATH) && path.empty();
  if (empty && dirfd == AT_FDCWD) return t.cwd();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, dirfd, path, &creds, empty));
  unsigned f = 0;
  if (follow_default ? !(at_flags & AT_SYMLINK_NOFOLLOW) : (at_flags & AT_SYMLINK_FOLLOW)) {
    f |= vfs::kFollow;
  }
  if (at_flags & AT_EMPTY_PATH) f |= vfs::kEmptyPath;
  return t.kernel().vfs().Resolve(ctx, path, f);
}

SyscallResult StatOut(Task& t, const VirtualDentry& vd, UserAddr out) {
  ASSIGN_OR_RETURN(vfs::Attr a, t.kernel().vfs().Stat(vd));
  struct stat st = vfs::AttrToStat(a, vd.inode().fs().Dev());
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<struct stat>(out), st));
  return 0;
}

}  // namespace

SyscallResult Open(Task& t, const SyscallArgs& a) {
  return OpenCommon(t, AT_FDCWD, a.Addr(0), a.Int(1), a[2]);
}
SyscallResult Openat(Task& t, const SyscallArgs& a) {
  return OpenCommon(t, a.Int(0), a.Addr(1), a.Int(2), a[3]);
}
SyscallResult Creat(Task& t, const SyscallArgs& a) {
  return OpenCommon(t, AT_FDCWD, a.Addr(0), O_CREAT | O_WRONLY | O_TRUNC, a[1]);
}

SyscallResult Openat2(Task& t, const SyscallArgs& a) {
  const size_t size = a.Size(3);
  if (size < sizeof(open_how)) return Errno(EINVAL);
  if (size > kPageSize) return Errno(E2BIG);
  open_how how = {};
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<open_how>(2), &how));
  // A larger struct's extra bytes must be zero.
  if (size > sizeof(how)) {
    std::vector<uint8_t> rest(size - sizeof(how));
    auto r = t.mm().CopyIn(a.Addr(2) + sizeof(how), rest);
    if (!r.ok()) return Errno(EFAULT);
    for (uint8_t b : rest) {
      if (b != 0) return Errno(E2BIG);
    }
  }
  // openat2 is strict: unknown flags, a mode without O_CREAT/O_TMPFILE, and
  // unknown resolve bits are EINVAL.
  if (how.flags & ~static_cast<uint64_t>(kValidOpenFlags)) return Errno(EINVAL);
  const int flags = static_cast<int>(how.flags);
  const bool creating = (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE;
  if (how.mode & ~uint64_t{07777}) return Errno(EINVAL);
  if (!creating && how.mode != 0) return Errno(EINVAL);
  constexpr uint64_t kResolveAll = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
                                   RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;
  if (how.resolve & ~kResolveAll) return Errno(EINVAL);
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return Errno(EINVAL);
  if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY)) return Errno(EINVAL);
  if ((flags & O_PATH) && (flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) {
    return Errno(EINVAL);
  }
  if ((flags & __O_TMPFILE) == __O_TMPFILE) {
    if ((flags & O_ACCMODE) == O_RDONLY || (flags & O_CREAT)) return Errno(EINVAL);
  } else if (flags & __O_TMPFILE & ~O_DIRECTORY) {
    return Errno(EINVAL);
  }
  // RESOLVE_CACHED: the lookup must not block; ours could (the gofer).
  if (how.resolve & RESOLVE_CACHED) return Errno(EAGAIN);
  unsigned resolve = 0;
  if (how.resolve & RESOLVE_NO_XDEV) resolve |= vfs::kNoXdev;
  if (how.resolve & RESOLVE_NO_MAGICLINKS) resolve |= vfs::kNoMagicLinks;
  if (how.resolve & RESOLVE_NO_SYMLINKS) resolve |= vfs::kNoSymlinks;
  if (how.resolve & RESOLVE_BENEATH) resolve |= vfs::kBeneath;
  if (how.resolve & RESOLVE_IN_ROOT) resolve |= vfs::kInRoot;
  return DoOpen(t, a.Int(0), a.Addr(1), flags, static_cast<uint32_t>(how.mode), resolve);
}

SyscallResult Lseek(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  const int whence = a.Int(2);
  if (whence < SEEK_SET || whence > SEEK_HOLE) return Errno(EINVAL);
  ASSIGN_OR_RETURN(int64_t pos, file->Seek(a.Int64(1), whence));
  return static_cast<uint64_t>(pos);
}

namespace {

// getdents64 (`old_format` false) and the old getdents (true: struct
// linux_dirent, an unsigned long inode and offset, and the type in the last
// byte of the record).
SyscallResult GetdentsCommon(Task& t, const SyscallArgs& a, bool old_format) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  // Linux caps the count at INT_MAX and needs room for one record.
  const size_t count = std::min<size_t>(a.Size(2), INT_MAX);
  // struct linux_dirent: d_ino, d_off (unsigned long), d_reclen, d_name.
  constexpr size_t kOldNameOffset = 2 * sizeof(unsigned long) + sizeof(uint16_t);
  std::vector<uint8_t> buf;
  bool too_small = false;
  // iterate_dir: IN_ACCESS on the directory, even when nothing is left.
  if (file->location().ok()) vfs::NotifyFile(file->location().dentry, IN_ACCESS);
  RETURN_IF_ERROR(file->IterateDir([&](const vfs::DirEntry& e) {
    const size_t reclen =
        old_format ? (kOldNameOffset + e.name.size() + 2 + sizeof(long) - 1) & ~(sizeof(long) - 1)
                   : (offsetof(struct dirent64, d_name) + e.name.size() + 1 + 7) & ~size_t{7};
    if (buf.size() + reclen > count) {
      too_small = buf.empty();
      return false;
    }
    const size_t at = buf.size();
    buf.resize(at + reclen, 0);
    if (old_format) {
      const unsigned long ino = e.ino, off = static_cast<unsigned long>(e.next);
      const uint16_t len = static_cast<uint16_t>(reclen);
      std::memcpy(buf.data() + at, &ino, sizeof(ino));
      std::memcpy(buf.data() + at + sizeof(ino), &off, sizeof(off));
      std::memcpy(buf.data() + at + 2 * sizeof(ino), &len, sizeof(len));
      std::memcpy(buf.data() + at + kOldNameOffset, e.name.data(), e.name.size());
      buf[at + reclen - 1] = e.type;
      return true;
    }
    struct dirent64 d = {};
    d.d_ino = e.ino;
    d.d_off = e.next;
    d.d_reclen = static_cast<uint16_t>(reclen);
    d.d_type = e.type;
    std::memcpy(buf.data() + at, &d, offsetof(struct dirent64, d_name));
    std::memcpy(buf.data() + at + offsetof(struct dirent64, d_name), e.name.data(), e.name.size());
    return true;
  }));
  if (too_small) return Errno(EINVAL);
  if (!buf.empty()) {
    auto r = t.mm().CopyOut(a.Addr(1), buf);
    if (!r.ok()) return Errno(EFAULT);
  }
  return buf.size();
}

}  // namespace

SyscallResult Getdents64(Task& t, const SyscallArgs& a) { return GetdentsCommon(t, a, false); }
SyscallResult Getdents(Task& t, const SyscallArgs& a) { return GetdentsCommon(t, a, true); }

SyscallResult Mkdirat(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(0), path, &creds));
  RETURN_IF_ERROR(t.kernel().vfs().Mkdir(ctx, path, a[2]));
  return 0;
}
SyscallResult Mkdir(Task& t, const SyscallArgs& a) {
  return Mkdirat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1]}});
}

SyscallResult Mknodat(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  uint32_t mode = a[2];
  switch (mode & S_IFMT) {
    case 0:
      mode |= S_IFREG;
      break;
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFCHR:
    case S_IFBLK:
      break;
    case S_IFDIR:
      return Errno(EPERM);
    default:
      return Errno(EINVAL);
  }
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(0), path, &creds));
  RETURN_IF_ERROR(t.kernel().vfs().Mknod(ctx, path, mode, static_cast<uint32_t>(a[3])));
  return 0;
}
SyscallResult Mknod(Task& t, const SyscallArgs& a) {
  return Mknodat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2]}});
}

SyscallResult Unlinkat(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(2);
  if (flags & ~AT_REMOVEDIR) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(0), path, &creds));
  if (flags & AT_REMOVEDIR) {
    RETURN_IF_ERROR(t.kernel().vfs().Rmdir(ctx, path));
  } else {
    RETURN_IF_ERROR(t.kernel().vfs().Unlink(ctx, path));
  }
  return 0;
}
SyscallResult Unlink(Task& t, const SyscallArgs& a) {
  return Unlinkat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], 0}});
}
SyscallResult Rmdir(Task& t, const SyscallArgs& a) {
  return Unlinkat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], AT_REMOVEDIR}});
}

SyscallResult Symlinkat(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string target, CopyInPath(t, a.Addr(0)));
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(2)));
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(1), path, &creds));
  RETURN_IF_ERROR(t.kernel().vfs().Symlink(ctx, target, path));
  return 0;
}
SyscallResult Symlink(Task& t, const SyscallArgs& a) {
  return Symlinkat(t, SyscallArgs{{a[0], static_cast<uint64_t>(AT_FDCWD), a[1]}});
}

SyscallResult Readlinkat(Task& t, const SyscallArgs& a) {
  const int64_t size = a.Int(3);
  if (size <= 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  const vfs::AccessCreds creds = t.access_creds();
  // An empty path reads the link an O_PATH fd names.
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(0), path, &creds, true));
  ASSIGN_OR_RETURN(std::string target, t.kernel().vfs().Readlink(ctx, path));
  const size_t n = std::min<size_t>(target.size(), static_cast<size_t>(size));
  auto r = t.mm().CopyOut(a.Addr(2), {reinterpret_cast<const uint8_t*>(target.data()), n});
  if (!r.ok()) return Errno(EFAULT);
  return n;
}
SyscallResult Readlink(Task& t, const SyscallArgs& a) {
  return Readlinkat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2]}});
}

SyscallResult Linkat(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(4);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string old_path, CopyInPath(t, a.Addr(1)));
  ASSIGN_OR_RETURN(std::string new_path, CopyInPath(t, a.Addr(3)));
  const vfs::AccessCreds creds = t.access_creds();
  // AT_EMPTY_PATH links the file dirfd names (an O_TMPFILE file, say); Linux
  // asks CAP_DAC_READ_SEARCH for it, ENOENT otherwise.
  const bool empty = (flags & AT_EMPTY_PATH) && old_path.empty();
  if (empty && !creds.cap_dac_read_search) return Errno(ENOENT);
  ASSIGN_OR_RETURN(PathContext old_ctx, AtContext(t, a.Int(0), old_path, &creds, empty));
  ASSIGN_OR_RETURN(PathContext new_ctx, AtContext(t, a.Int(2), new_path, &creds));
  RETURN_IF_ERROR(t.kernel().vfs().Link(old_ctx, old_path, flags & AT_SYMLINK_FOLLOW, new_ctx,
                                        new_path, empty));
  return 0;
}
SyscallResult Link(Task& t, const SyscallArgs& a) {
  const uint64_t cwd = static_cast<uint64_t>(AT_FDCWD);
  return Linkat(t, SyscallArgs{{cwd, a[0], cwd, a[1], 0}});
}

SyscallResult Renameat2(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string old_path, CopyInPath(t, a.Addr(1)));
  ASSIGN_OR_RETURN(std::string new_path, CopyInPath(t, a.Addr(3)));
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(PathContext old_ctx, AtContext(t, a.Int(0), old_path, &creds));
  ASSIGN_OR_RETURN(PathContext new_ctx, AtContext(t, a.Int(2), new_path, &creds));
  RETURN_IF_ERROR(
      t.kernel().vfs().Rename(old_ctx, old_path, new_ctx, new_path, static_cast<unsigned>(a[4])));
  return 0;
}
SyscallResult Renameat(Task& t, const SyscallArgs& a) {
  return Renameat2(t, SyscallArgs{{a[0], a[1], a[2], a[3], 0}});
}
SyscallResult Rename(Task& t, const SyscallArgs& a) {
  const uint64_t cwd = static_cast<uint64_t>(AT_FDCWD);
  return Renameat2(t, SyscallArgs{{cwd, a[0], cwd, a[1], 0}});
}

SyscallResult Stat(Task& t, const SyscallArgs& a) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, AT_FDCWD, a.Addr(0), 0, true, creds));
  return StatOut(t, vd, a.Addr(1));
}
SyscallResult Lstat(Task& t, const SyscallArgs& a) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd,
                   LocateAt(t, AT_FDCWD, a.Addr(0), AT_SYMLINK_NOFOLLOW, true, creds));
  return StatOut(t, vd, a.Addr(1));
}

SyscallResult Statx(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(2);
  const uint32_t mask = static_cast<uint32_t>(a[3]);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) {
    return Errno(EINVAL);
  }
  if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return Errno(EINVAL);
  if (mask & STATX__RESERVED) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  const vfs::AccessCreds creds = t.access_creds();
  std::shared_ptr<vfs::FileDescription> file;
  struct statx sx = {};
  if (path.empty() && (flags & AT_EMPTY_PATH) && a.Int(0) != AT_FDCWD) {
    ASSIGN_OR_RETURN(file, t.fds().Get(a.Int(0)));
  }
  struct stat st;
  vfs::Attr attr;
  bool have_attr = false;
  if (file && !file->location().ok()) {
    ASSIGN_OR_RETURN(st, file->Stat());
  } else {
    VirtualDentry vd;
    if (file) {
      vd = file->location();
    } else {
      ASSIGN_OR_RETURN(vd, LocateAt(t, a.Int(0), a.Addr(1), flags, true, creds));
    }
    ASSIGN_OR_RETURN(attr, t.kernel().vfs().Stat(vd));
    have_attr = true;
    st = vfs::AttrToStat(attr, vd.inode().fs().Dev());
  }
  // A filesystem that does not know the birth time (the gofer's) leaves it
  // zero: statx then leaves STATX_BTIME out, as Linux does for such files.
  const bool have_btime = have_attr && (attr.btime.tv_sec != 0 || attr.btime.tv_nsec != 0);
  sx.stx_mask = STATX_BASIC_STATS | (have_btime ? STATX_BTIME : 0);
  sx.stx_blksize = st.st_blksize;
  sx.stx_nlink = st.st_nlink;
  sx.stx_uid = st.st_uid;
  sx.stx_gid = st.st_gid;
  sx.stx_mode = st.st_mode;
  sx.stx_ino = st.st_ino;
  sx.stx_size = st.st_size;
  sx.stx_blocks = st.st_blocks;
  auto ts = [](const timespec& t) {
    return statx_timestamp{t.tv_sec, static_cast<uint32_t>(t.tv_nsec), 0};
  };
  sx.stx_atime = ts(st.st_atim);
  sx.stx_mtime = ts(st.st_mtim);
  sx.stx_ctime = ts(st.st_ctim);
  if (have_btime) sx.stx_btime = ts(attr.btime);
  sx.stx_rdev_major = major(st.st_rdev);
  sx.stx_rdev_minor = minor(st.st_rdev);
  sx.stx_dev_major = major(st.st_dev);
  sx.stx_dev_minor = minor(st.st_dev);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct statx>(4), sx));
  return 0;
}

SyscallResult NewfstatatPath(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(3);
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, a.Int(0), a.Addr(1), flags, true, creds));
  return StatOut(t, vd, a.Addr(2));
}

namespace {
// chdir and chroot: the directory the path names, which the task may search.
ErrnoOr<VirtualDentry> SearchableDir(Task& t, UserAddr path_addr) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, path_addr));
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, AT_FDCWD, path, &creds));
  ASSIGN_OR_RETURN(VirtualDentry vd,
                   t.kernel().vfs().Resolve(ctx, path, vfs::kFollow | vfs::kDirectory));
  ASSIGN_OR_RETURN(vfs::Attr at, vd.inode().GetAttr());
  RETURN_IF_ERROR(vfs::CheckPermission(creds, at, vfs::kMayExec));
  return vd;
}
}  // namespace

SyscallResult Chdir(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(VirtualDentry vd, SearchableDir(t, a.Addr(0)));
  t.set_cwd(std::move(vd));
  return 0;
}

SyscallResult Fchdir(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (!file->location().ok()) return Errno(ENOTDIR);
  ASSIGN_OR_RETURN(vfs::Attr at, file->location().inode().GetAttr());
  if (!S_ISDIR(at.mode)) return Errno(ENOTDIR);
  RETURN_IF_ERROR(vfs::CheckPermission(t.access_creds(), at, vfs::kMayExec));
  t.set_cwd(file->location());
  return 0;
}

SyscallResult Getcwd(Task& t, const SyscallArgs& a) {
  bool deleted = false;
  std::string cwd = t.kernel().vfs().PathOf(t.fs_root(), t.cwd(), nullptr, &deleted);
  if (deleted) return Errno(ENOENT);
  if (a.Size(1) < cwd.size() + 1) return Errno(ERANGE);
  auto r =
      t.mm().CopyOut(a.Addr(0), {reinterpret_cast<const uint8_t*>(cwd.c_str()), cwd.size() + 1});
  if (!r.ok()) return Errno(EFAULT);
  return cwd.size() + 1;
}

SyscallResult Umask(Task& t, const SyscallArgs& a) {
  const uint32_t old = t.umask();
  t.set_umask(static_cast<uint32_t>(a[0]));
  return old;
}

SyscallResult Faccessat2(Task& t, const SyscallArgs& a) {
  const int mode = a.Int(2);
  const int flags = a.Int(3);
  if (mode & ~(R_OK | W_OK | X_OK)) return Errno(EINVAL);
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::string path, CopyInPath(t, a.Addr(1)));
  // access(2) checks with the real ids unless AT_EACCESS, and with the
  // permitted capabilities only if the real uid is 0.
  const vfs::AccessCreds creds =
      (flags & AT_EACCESS) ? t.access_creds() : kernel::AccessOverride(t.creds()).Access();
  ASSIGN_OR_RETURN(PathContext ctx, AtContext(t, a.Int(0), path, &creds, flags & AT_EMPTY_PATH));
  unsigned f = (flags & AT_SYMLINK_NOFOLLOW) ? 0u : unsigned{vfs::kFollow};
  if (flags & AT_EMPTY_PATH) f |= vfs::kEmptyPath;
  int may = 0;
  if (mode & R_OK) may |= vfs::kMayRead;
  if (mode & W_OK) may |= vfs::kMayWrite;
  if (mode & X_OK) may |= vfs::kMayExec;
  RETURN_IF_ERROR(t.kernel().vfs().Access(ctx, path, f, may));
  return 0;
}
SyscallResult Faccessat(Task& t, const SyscallArgs& a) {
  return Faccessat2(t, SyscallArgs{{a[0], a[1], a[2], 0}});
}
SyscallResult Access(Task& t, const SyscallArgs& a) {
  return Faccessat2(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1], 0}});
}

// RLIMIT_FSIZE for a regular file growing to `length` (inode_newsize_ok,
// which Linux's truncate runs after its permission checks; those of the
// filesystem's own come first here only for the path's existence).
ErrnoOrOk SizeLimitOk(Task& t, const VirtualDentry& vd, int64_t length) {
  if (length < 0) return Ok();  // the filesystem's EINVAL
  auto attr = vd.dentry->inode()->GetAttr();
  if (!attr.ok() || !S_ISREG(attr->mode)) return Ok();
  return NewSizeOk(t, attr->size, static_cast<uint64_t>(length));
}

SyscallResult Truncate(Task& t, const SyscallArgs& a) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, AT_FDCWD, a.Addr(0), 0, true, creds));
  RETURN_IF_ERROR(SizeLimitOk(t, vd, a.Int64(1)));
  RETURN_IF_ERROR(t.kernel().vfs().Truncate(&creds, vd, a.Int64(1)));
  return 0;
}

SyscallResult Ftruncate(Task& t, const SyscallArgs& a) {
  // Linux's order: the length, then the fd (O_PATH descriptions are not
  // found: EBADF), then what the file is.
  if (a.Int64(1) < 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (file->status_flags() & O_PATH) return Errno(EBADF);
  if (!file->location().ok()) return Errno(EINVAL);
  if ((file->status_flags() & O_ACCMODE) == O_RDONLY) return Errno(EINVAL);
  RETURN_IF_ERROR(SizeLimitOk(t, file->location(), a.Int64(1)));
  RETURN_IF_ERROR(t.kernel().vfs().Truncate(nullptr, file->location(), a.Int64(1)));
  return 0;
}

namespace {

// do_fchmodat: `at_flags` are AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH
// (fchmodat2; fchmodat has none). A symlink's own mode cannot change: Linux's
// notify_change answers EOPNOTSUPP before any ownership check.
SyscallResult DoFchmodat(Task& t, int dirfd, UserAddr path, uint32_t mode, int at_flags) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, dirfd, path, at_flags, true, creds));
  ASSIGN_OR_RETURN(vfs::Attr attr, vd.inode().GetAttr());
  if (S_ISLNK(attr.mode)) return Errno(EOPNOTSUPP);
  RETURN_IF_ERROR(t.kernel().vfs().Chmod(creds, vd, mode));
  return 0;
}

}  // namespace

SyscallResult Fchmodat(Task& t, const SyscallArgs& a) {
  return DoFchmodat(t, a.Int(0), a.Addr(1), static_cast<uint32_t>(a[2]), 0);
}
SyscallResult Fchmodat2(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno(EINVAL);
  return DoFchmodat(t, a.Int(0), a.Addr(1), static_cast<uint32_t>(a[2]), flags);
}
SyscallResult Chmod(Task& t, const SyscallArgs& a) {
  return Fchmodat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1]}});
}
SyscallResult Fchmod(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (!file->location().ok()) return Errno(EBADF);  // TODO: host fds and pipes
  if (file->status_flags() & O_PATH) return Errno(EBADF);
  RETURN_IF_ERROR(
      t.kernel().vfs().Chmod(t.access_creds(), file->location(), static_cast<uint32_t>(a[1])));
  return 0;
}

SyscallResult Fchownat(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno(EINVAL);
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, a.Int(0), a.Addr(1), flags, true, creds));
  RETURN_IF_ERROR(t.kernel().vfs().Chown(creds, vd, IdArg(a[2]), IdArg(a[3])));
  return 0;
}
SyscallResult Chown(Task& t, const SyscallArgs& a) {
  return Fchownat(t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2], 0}});
}
SyscallResult Lchown(Task& t, const SyscallArgs& a) {
  return Fchownat(
      t, SyscallArgs{{static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW}});
}
SyscallResult Fchown(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (!file->location().ok()) return Errno(EBADF);
  if (file->status_flags() & O_PATH) return Errno(EBADF);
  RETURN_IF_ERROR(
      t.kernel().vfs().Chown(t.access_creds(), file->location(), IdArg(a[1]), IdArg(a[2])));
  return 0;
}

SyscallResult Utimensat(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno(EINVAL);
  std::optional<timespec> atime, mtime;
  timespec now_ts{0, UTIME_NOW};
  if (a[2] == 0) {
    atime = mtime = now_ts;
  } else {
    timespec ts[2];
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec[2]>(2), &ts));
    for (const timespec& x : ts) {
      if (x.tv_nsec != UTIME_NOW && x.tv_nsec != UTIME_OMIT &&
          (x.tv_nsec < 0 || x.tv_nsec >= 1000000000)) {
        return Errno(EINVAL);
      }
    }
    if (ts[0].tv_nsec != UTIME_OMIT) atime = ts[0];
    if (ts[1].tv_nsec != UTIME_OMIT) mtime = ts[1];
    if (!atime && !mtime) return 0;
  }
  const vfs::AccessCreds creds = t.access_creds();
  VirtualDentry vd;
  if (a[1] == 0) {
    // utimensat(fd, NULL, ...): the fd itself (futimens). With AT_FDCWD
    // Linux reads the (null) path instead: EFAULT.
    if (a.Int(0) == AT_FDCWD) return Errno(EFAULT);
    ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
    if (!file->location().ok()) return Errno(EBADF);
    vd = file->location();
  } else {
    ASSIGN_OR_RETURN(vd, LocateAt(t, a.Int(0), a.Addr(1), flags, true, creds));
  }
  RETURN_IF_ERROR(t.kernel().vfs().Utimes(creds, vd, atime, mtime));
  return 0;
}

namespace {

// utime/utimes/futimesat: microsecond times, checked as Linux does.
ErrnoOr<std::optional<std::array<timespec, 2>>> TimevalsIn(Task& t, UserAddr addr) {
  if (addr.value() == 0) return std::optional<std::array<timespec, 2>>();
  timeval tv[2];
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<timeval[2]>(addr), &tv));
  std::array<timespec, 2> ts;
  for (int i = 0; i < 2; ++i) {
    if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return Errno(EINVAL);
    ts[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
  }
  return std::optional<std::array<timespec, 2>>(ts);
}

SyscallResult SetTimes(Task& t, int dirfd, UserAddr path, int at_flags,
                       const std::optional<std::array<timespec, 2>>& times) {
  const vfs::AccessCreds creds = t.access_creds();
  VirtualDentry vd;
  if (path.value() == 0) {
    ASSIGN_OR_RETURN(auto file, t.fds().Get(dirfd));
    if (!file->location().ok()) return Errno(EBADF);
    vd = file->location();
  } else {
    ASSIGN_OR_RETURN(vd, LocateAt(t, dirfd, path, at_flags, true, creds));
  }
  const timespec now{0, UTIME_NOW};
  RETURN_IF_ERROR(
      t.kernel().vfs().Utimes(creds, vd, times ? (*times)[0] : now, times ? (*times)[1] : now));
  return 0;
}

}  // namespace

SyscallResult Utime(Task& t, const SyscallArgs& a) {
  std::optional<std::array<timespec, 2>> times;
  if (a[1] != 0) {
    struct {
      int64_t actime, modtime;
    } ub;
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<decltype(ub)>(a.Addr(1)), &ub));
    times = std::array<timespec, 2>{timespec{ub.actime, 0}, timespec{ub.modtime, 0}};
  }
  return SetTimes(t, AT_FDCWD, a.Addr(0), 0, times);
}

SyscallResult Utimes(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto times, TimevalsIn(t, a.Addr(1)));
  return SetTimes(t, AT_FDCWD, a.Addr(0), 0, times);
}

SyscallResult Futimesat(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto times, TimevalsIn(t, a.Addr(2)));
  return SetTimes(t, a.Int(0), a.Addr(1), 0, times);
}

SyscallResult CloseRange(Task& t, const SyscallArgs& a) {
  const unsigned first = a.Uint(0), last = a.Uint(1);
  const unsigned flags = a.Uint(2);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return Errno(EINVAL);
  if (first > last) return Errno(EINVAL);
  // CLOSE_RANGE_UNSHARE: the table is not shared yet (one task), so there is
  // nothing to unshare. TODO(processes issue): with CLONE_FILES, copy first.
  for (const auto& f : t.fds().CloseRange(first, last, flags & CLOSE_RANGE_CLOEXEC)) {
    ReleasePosixLocks(t, f);
  }
  return 0;
}

SyscallResult Sync(Task&, const SyscallArgs&) {
  // tmpfs and the overlay's upper layer live in memory; host files are
  // written through at each write (the gofer's fds are not cached).
  return 0;
}

SyscallResult Syncfs(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  (void)file;
  return 0;
}

SyscallResult SyncFileRange(Task& t, const SyscallArgs& a) {
  const int64_t offset = a.Int64(1), nbytes = a.Int64(2);
  const unsigned flags = a.Uint(3);
  constexpr unsigned kValid =
      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (flags & ~kValid) return Errno(EINVAL);
  int64_t end;
  if (offset < 0 || nbytes < 0 || __builtin_add_overflow(offset, nbytes, &end)) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  ASSIGN_OR_RETURN(struct stat st, file->Stat());
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
      !S_ISBLK(st.st_mode)) {
    return Errno(ESPIPE);
  }
  if (flags & SYNC_FILE_RANGE_WRITE) RETURN_IF_ERROR(file->Sync());
  return 0;
}

SyscallResult Chroot(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(VirtualDentry vd, SearchableDir(t, a.Addr(0)));
  if (!t.creds().HasCapability(CAP_SYS_CHROOT)) return Errno(EPERM);
  t.set_fs_root(std::move(vd));
  return 0;
}

// --- Extended attributes. ---

namespace {

enum class XattrTarget { kPath, kLink, kFd };

// The file an xattr call names. A descriptor with no location (a pipe, a
// socket) has no attributes: `name` (empty for listxattr) gets the permission
// answers Linux gives before EOPNOTSUPP; listxattr lists nothing.
ErrnoOr<VirtualDentry> XattrLocation(Task& t, XattrTarget how, const SyscallArgs& a,
                                     const vfs::AccessCreds& creds, std::string_view name = {},
                                     int may = 0) {
  if (how == XattrTarget::kFd) {
    ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
    if (file->status_flags() & O_PATH) return Errno(EBADF);
    if (!file->location().ok()) {
      if (may == 0) return Errno(EOPNOTSUPP);
      ASSIGN_OR_RETURN(struct stat st, file->Stat());
      vfs::Attr attr;
      attr.mode = st.st_mode;
      attr.uid = st.st_uid;
      attr.gid = st.st_gid;
      RETURN_IF_ERROR(vfs::XattrOnFileWithoutLocation(creds, attr, name, may));
      return Errno(EOPNOTSUPP);
    }
    return file->location();
  }
  return LocateAt(t, AT_FDCWD, a.Addr(0), how == XattrTarget::kLink ? AT_SYMLINK_NOFOLLOW : 0, true,
                  creds);
}

// The attribute name: at most XATTR_NAME_MAX, ERANGE if longer or empty.
ErrnoOr<std::string> XattrName(Task& t, UserAddr addr) {
  auto n = t.mm().CopyInString(addr, 256);
  if (!n.ok()) return n.error().value() == ENAMETOOLONG ? Errno(ERANGE) : n.error();
  if (n->empty() || n->size() > 255) return Errno(ERANGE);
  return n;
}

SyscallResult DoSetxattr(Task& t, const SyscallArgs& a, XattrTarget how) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(std::string name, XattrName(t, a.Addr(1)));
  const size_t size = a.Size(3);
  if (size > 65536) return Errno(E2BIG);
  std::string value(size, '\0');
  if (size != 0) {
    auto r = t.mm().CopyIn(a.Addr(2), {reinterpret_cast<uint8_t*>(value.data()), size});
    if (!r.ok()) return Errno(EFAULT);
  }
  ASSIGN_OR_RETURN(VirtualDentry vd, XattrLocation(t, how, a, creds, name, vfs::kMayWrite));
  RETURN_IF_ERROR(t.kernel().vfs().SetXattr(creds, vd, name, value, a.Int(4)));
  return 0;
}

SyscallResult DoGetxattr(Task& t, const SyscallArgs& a, XattrTarget how) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(std::string name, XattrName(t, a.Addr(1)));
  ASSIGN_OR_RETURN(VirtualDentry vd, XattrLocation(t, how, a, creds, name, vfs::kMayRead));
  ASSIGN_OR_RETURN(std::string value, t.kernel().vfs().GetXattr(creds, vd, name));
  const size_t size = a.Size(3);
  if (size == 0) return value.size();
  if (size < value.size()) return Errno(ERANGE);
  auto r =
      t.mm().CopyOut(a.Addr(2), {reinterpret_cast<const uint8_t*>(value.data()), value.size()});
  if (!r.ok()) return Errno(EFAULT);
  return value.size();
}

SyscallResult DoListxattr(Task& t, const SyscallArgs& a, XattrTarget how) {
  const vfs::AccessCreds creds = t.access_creds();
  auto vd = XattrLocation(t, how, a, creds);
  // A file with no location lists nothing (Linux's pipefs, sockfs).
  if (!vd.ok() && vd.error().value() != EOPNOTSUPP) return vd.error();
  auto names = vd.ok() ? t.kernel().vfs().ListXattr(creds, *vd)
                       : ErrnoOr<std::vector<std::string>>(Errno(EOPNOTSUPP));
  std::string list;
  if (names.ok()) {
    for (const std::string& n : *names) list.append(n).push_back('\0');
  } else if (names.error().value() != EOPNOTSUPP) {
    return names.error();
  }
  const size_t size = a.Size(2);
  if (size == 0) return list.size();
  if (size < list.size()) return Errno(ERANGE);
  auto r = t.mm().CopyOut(a.Addr(1), {reinterpret_cast<const uint8_t*>(list.data()), list.size()});
  if (!r.ok()) return Errno(EFAULT);
  return list.size();
}

SyscallResult DoRemovexattr(Task& t, const SyscallArgs& a, XattrTarget how) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(std::string name, XattrName(t, a.Addr(1)));
  ASSIGN_OR_RETURN(VirtualDentry vd, XattrLocation(t, how, a, creds, name, vfs::kMayWrite));
  RETURN_IF_ERROR(t.kernel().vfs().RemoveXattr(creds, vd, name));
  return 0;
}

}  // namespace

SyscallResult Setxattr(Task& t, const SyscallArgs& a) {
  return DoSetxattr(t, a, XattrTarget::kPath);
}
SyscallResult Lsetxattr(Task& t, const SyscallArgs& a) {
  return DoSetxattr(t, a, XattrTarget::kLink);
}
SyscallResult Fsetxattr(Task& t, const SyscallArgs& a) {
  return DoSetxattr(t, a, XattrTarget::kFd);
}
SyscallResult Getxattr(Task& t, const SyscallArgs& a) {
  return DoGetxattr(t, a, XattrTarget::kPath);
}
SyscallResult Lgetxattr(Task& t, const SyscallArgs& a) {
  return DoGetxattr(t, a, XattrTarget::kLink);
}
SyscallResult Fgetxattr(Task& t, const SyscallArgs& a) {
  return DoGetxattr(t, a, XattrTarget::kFd);
}
SyscallResult Listxattr(Task& t, const SyscallArgs& a) {
  return DoListxattr(t, a, XattrTarget::kPath);
}
SyscallResult Llistxattr(Task& t, const SyscallArgs& a) {
  return DoListxattr(t, a, XattrTarget::kLink);
}
SyscallResult Flistxattr(Task& t, const SyscallArgs& a) {
  return DoListxattr(t, a, XattrTarget::kFd);
}
SyscallResult Removexattr(Task& t, const SyscallArgs& a) {
  return DoRemovexattr(t, a, XattrTarget::kPath);
}
SyscallResult Lremovexattr(Task& t, const SyscallArgs& a) {
  return DoRemovexattr(t, a, XattrTarget::kLink);
}
SyscallResult Fremovexattr(Task& t, const SyscallArgs& a) {
  return DoRemovexattr(t, a, XattrTarget::kFd);
}

SyscallResult Fallocate(Task& t, const SyscallArgs& a) {
  const int mode = a.Int(1);
  const int64_t offset = a.Int64(2), len = a.Int64(3);
  if (offset < 0 || len <= 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (mode & ~FALLOC_FL_KEEP_SIZE) {
    t.kernel().RecordGap(absl::StrFormat("fallocate mode %#x", mode));
    return Errno(EOPNOTSUPP);
  }
  // Growing a regular file past RLIMIT_FSIZE (shmem_fallocate, ext4's):
  // SIGXFSZ and EFBIG, unless the size is kept.
  if (!(mode & FALLOC_FL_KEEP_SIZE) && len <= INT64_MAX - offset) {
    ASSIGN_OR_RETURN(struct stat st, file->Stat());
    if (S_ISREG(st.st_mode)) {
      RETURN_IF_ERROR(
          NewSizeOk(t, static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(offset + len)));
    }
  }
  RETURN_IF_ERROR(file->Allocate(mode, offset, len));
  return 0;
}

SyscallResult Fadvise64(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (file->status_flags() & O_PATH) return Errno(EBADF);
  const int advice = a.Int(3);
  if (advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE) return Errno(EINVAL);
  if (a.Int64(2) < 0) return Errno(EINVAL);
  // Pipes and sockets: ESPIPE. For files it is advice only: the page cache
  // reads what is faulted, and tmpfs has nothing to read ahead.
  if (!file->Seekable()) return Errno(ESPIPE);
  return 0;
}

SyscallResult Fsync(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  RETURN_IF_ERROR(file->Sync());
  return 0;
}

namespace {
SyscallResult StatfsOut(Task& t, const VirtualDentry& vd, UserAddr out) {
  ASSIGN_OR_RETURN(struct statfs s, vd.inode().fs().StatFS());
  // The mount's flags (flags_by_mnt).
  if (vd.mount->read_only) s.f_flags |= ST_RDONLY;
  if (vd.mount->nosuid) s.f_flags |= ST_NOSUID;
  if (vd.mount->nodev) s.f_flags |= ST_NODEV;
  if (vd.mount->noexec) s.f_flags |= ST_NOEXEC;
  s.f_flags |= 0x20;  // ST_VALID: f_flags is meaningful
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<struct statfs>(out), s));
  return 0;
}
}  // namespace

SyscallResult Statfs(Task& t, const SyscallArgs& a) {
  const vfs::AccessCreds creds = t.access_creds();
  ASSIGN_OR_RETURN(VirtualDentry vd, LocateAt(t, AT_FDCWD, a.Addr(0), 0, true, creds));
  return StatfsOut(t, vd, a.Addr(1));
}
SyscallResult Fstatfs(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (!file->location().ok()) {
    t.kernel().RecordGap("fstatfs on a host fd");
    return Errno(ENOSYS);
  }
  return StatfsOut(t, file->location(), a.Addr(1));
}

}  // namespace sentry::syscalls
