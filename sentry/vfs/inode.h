// What a filesystem implements: inodes (attributes, directory operations,
// opening) and the filesystem object itself. The VFS (vfs.h) walks paths,
// checks permissions and keeps the dentry cache; filesystems never see a path.
#ifndef SENTRY_VFS_INODE_H_
#define SENTRY_VFS_INODE_H_

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/vfs/inotify.h"

namespace sentry::vfs {

class Dentry;
class FileDescription;
class Filesystem;
struct Mount;
struct VirtualDentry;

// Where a magic link (/proc/<pid>/fd/<n>, cwd, root) leads: a location, or
// for an open file with none (a donated host fd, a pipe), the file itself.
struct MagicLinkTarget {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;
  std::shared_ptr<FileDescription> file;
};

// An inode's attributes, as stat/statx report them.
struct Attr {
  uint64_t ino = 0;
  uint32_t mode = 0;  // S_IFMT | permission bits
  uint64_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units
  uint32_t blksize = 4096;
  timespec atime{}, mtime{}, ctime{}, btime{};
};

// What SetAttr changes; unset fields stay. The VFS has checked permission and
// resolved UTIME_NOW; ctime is the filesystem's to update.
struct SetAttrRequest {
  std::optional<uint32_t> mode;  // permission bits only (07777)
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  std::optional<timespec> atime;
  std::optional<timespec> mtime;
};

// Who creates a file: the owner the new inode gets.
struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// One directory entry for getdents. `next` is the cookie that continues after it.
struct DirEntry {
  std::string_view name;
  uint64_t ino;
  uint8_t type;  // DT_*
  int64_t next;
};
// Returns false to stop (the caller's buffer is full).
using DirEntrySink = std::function<bool(const DirEntry&)>;

// stat(2)'s view of `a` on a filesystem whose st_dev is `dev`.
inline struct stat AttrToStat(const Attr& a, uint64_t dev) {
  struct stat st = {};
  st.st_dev = dev;
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = a.blksize;
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_atim = a.atime;
  st.st_mtim = a.mtime;
  st.st_ctim = a.ctime;
  return st;
}

// A new anonymous device number (major 0), as Linux's get_anon_bdev gives:
// st_dev of each filesystem instance and of pseudo filesystems (pipefs).
uint64_t NewAnonDev();

inline uint8_t DirentType(uint32_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }

// An inode. Operations a kind of inode does not support return the errno Linux
// gives for them (the defaults below). Directory operations are called with
// the VFS holding the directory's dentry lock, so a filesystem sees one
// mutation of a directory at a time. Lookup, Readlink, Open and Valid always
// run with the VFS lock held: they must not call back into a VFS operation
// that takes it (see VirtualFilesystem::AssertLocked and the *Locked forms).
class Inode : public std::enable_shared_from_this<Inode> {
 public:
  explicit Inode(Filesystem& fs) : fs_(fs) {}
  virtual ~Inode() = default;
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  Filesystem& fs() const { return fs_; }
  // inotify watches on this inode (inotify.h).
  InodeWatches& watches() { return watches_; }

  virtual ErrnoOr<Attr> GetAttr() = 0;
  virtual ErrnoOrOk SetAttr(const SetAttrRequest& req) = 0;
  // Whether the cached inode still stands for `name` (gofer revalidation).
  virtual bool Valid() { return true; }
  // Whether the VFS may drop an unused dentry of this inode and look the name
  // up again later (false: the inode object carries state a new lookup would
  // not rebuild).
  virtual bool Evictable() { return true; }

  // --- Directories. ENOENT when `name` does not exist. ---
  virtual ErrnoOr<std::shared_ptr<Inode>> Lookup(std::string_view name);
  // Lookup for a caller about to open what it finds for reading (the last
  // component of an O_RDONLY open, exec's included): a filesystem that asks
  // another process may open the file in the same round trip. Default:
  // Lookup.
  virtual ErrnoOr<std::shared_ptr<Inode>> LookupToRead(std::string_view name) {
    return Lookup(name);
  }
  // Lookup of names[0] for a path walk that goes on through names[1..] (each
  // a plain component: not "", "." or ".."), none of them cached: a
  // filesystem that asks another process may look the following names up in
  // the same round trip, each in the directory found before it, and return
  // their inodes in `*ahead` (names[1..k], k >= 0, stopping at anything that
  // is not a directory or does not exist). The walk caches them and still
  // checks every step itself. `read_last`: the walk will open the last of
  // `names` for reading (LookupToRead). Default: Lookup (or LookupToRead) of
  // names[0] alone.
  virtual ErrnoOr<std::shared_ptr<Inode>> LookupAhead(std::span<const std::string_view> names,
                                                      bool read_last,
                                                      std::vector<std::shared_ptr<Inode>>* ahead) {
    (void)ahead;
    return read_last && names.size() == 1 ? LookupToRead(names[0]) : Lookup(names[0]);
  }
  virtual ErrnoOr<std::shared_ptr<Inode>> Create(std::string_view name, uint32_t mode,
                                                 const Owner& owner);
  virtual ErrnoOr<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                                const Owner& owner);
  // O_TMPFILE: a regular file in this directory's filesystem with no name
  // (nlink 0). EOPNOTSUPP where the filesystem cannot.
  virtual ErrnoOr<std::shared_ptr<Inode>> CreateTmpfile(uint32_t mode, const Owner& owner);
  virtual ErrnoOr<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t rdev,
                                                const Owner& owner);
  virtual ErrnoOr<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                                  const Owner& owner);
  virtual ErrnoOrOk Link(std::string_view name, const std::shared_ptr<Inode>& target);
  // `child` is what the VFS looked up for `name`.
  virtual ErrnoOrOk Unlink(std::string_view name, Inode& child);
  virtual ErrnoOrOk Rmdir(std::string_view name, Inode& child);
  // Moves `name` here to `new_name` in `new_dir` (same filesystem). `replaced`
  // is what `new_name` named, if anything; RENAME_EXCHANGE swaps the two. The
  // VFS has checked every rule that does not need the filesystem.
  virtual ErrnoOrOk Rename(std::string_view name, Inode& new_dir, std::string_view new_name,
                           Inode* replaced, unsigned flags);
  // Calls `sink` for each entry from cookie `offset` on ("." and ".." first).
  virtual ErrnoOrOk IterateDir(int64_t offset, const DirEntrySink& sink);

  // --- Symlinks. ---
  virtual ErrnoOr<std::string> Readlink();
  // Magic links: the resolver jumps to their target instead of reading them
  // (RESOLVE_NO_MAGICLINKS refuses them). Called under the VFS lock.
  virtual bool IsMagicLink() { return false; }
  virtual ErrnoOr<MagicLinkTarget> FollowMagicLink() { return Errno(EINVAL); }

  // --- Extended attributes: full names ("user.x"); the VFS has checked the
  // name, the namespace rules and permission. ENODATA when absent;
  // EOPNOTSUPP (the default) where the filesystem keeps none. ---
  virtual ErrnoOr<std::string> GetXattr(std::string_view name);
  // `flags`: XATTR_CREATE (EEXIST if present) or XATTR_REPLACE (ENODATA if not).
  virtual ErrnoOrOk SetXattr(std::string_view name, std::string_view value, int flags);
  virtual ErrnoOr<std::vector<std::string>> ListXattr();
  virtual ErrnoOrOk RemoveXattr(std::string_view name);

  // --- Sockets. ---
  // A connection to the host unix socket this socket file stands for (a
  // file the gofer serves): the connected host socket of `type`, which the
  // caller then owns. ECONNREFUSED where there is none.
  virtual ErrnoOr<int> ConnectHostSocket(int type) {
    (void)type;
    return Errno(ECONNREFUSED);
  }

  // --- Opening. `flags` are open(2)'s; the VFS has checked permission,
  // O_DIRECTORY and truncated for O_TRUNC. ---
  virtual ErrnoOr<std::shared_ptr<FileDescription>> Open(const VirtualDentry& vd, int flags) = 0;

 private:
  Filesystem& fs_;
  InodeWatches watches_;
};

// A mounted filesystem instance.
class Filesystem : public std::enable_shared_from_this<Filesystem> {
 public:
  virtual ~Filesystem() = default;
  virtual std::shared_ptr<Inode> Root() = 0;
  virtual std::string_view Name() const = 0;  // "tmpfs", "proc", ...
  virtual ErrnoOr<struct statfs> StatFS() = 0;
  // st_dev of every inode of this instance.
  virtual uint64_t Dev() const = 0;
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_INODE_H_
