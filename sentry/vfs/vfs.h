// The virtual filesystem (DESIGN.md §8): dentries, mounts, the one path
// resolver and the path-based operations built on it. Filesystems implement
// Inode (inode.h); nothing else walks paths or checks permissions.
//
// Locking (v1): one mutex, VirtualFilesystem::mu_, guards the dentry tree
// (names, parents, children caches) and the mount table, and is held across
// every path-based operation, including the filesystem's directory calls.
// Data I/O on open files never takes it. Lock order: vfs mu_ > an inode's own
// lock > MemoryManager > MemoryFile. (Per-directory locks come when a
// workload shows the single lock contended; the gofer's RPCs are the risk.)
#ifndef SENTRY_VFS_VFS_H_
#define SENTRY_VFS_VFS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/locks.h"
#include "sentry/vfs/permissions.h"

namespace sentry::vfs {

class VirtualFilesystem;
struct Mount;

// A name in a directory of one filesystem instance. Parents hold their cached
// children and children their parents; VirtualFilesystem's destructor breaks
// the cycles. Everything but the inode is guarded by the VFS lock.
class Dentry {
 public:
  Dentry(std::shared_ptr<Inode> inode, std::string name, std::shared_ptr<Dentry> parent)
      : inode_(std::move(inode)), name_(std::move(name)), parent_(std::move(parent)) {}
  // A dead dentry whose inode is gone with it raises IN_DELETE_SELF.
  ~Dentry();
  Dentry(const Dentry&) = delete;
  Dentry& operator=(const Dentry&) = delete;

  const std::shared_ptr<Inode>& inode() const { return inode_; }
  // Valid under the VFS lock (or for a dentry nobody can rename).
  const std::string& name() const { return name_; }
  const std::shared_ptr<Dentry>& parent() const { return parent_; }
  // Unlinked (or replaced by a rename): still usable through open files and
  // cwds, no longer reachable by name.
  bool dead() const { return dead_; }

 private:
  friend class VirtualFilesystem;
  std::shared_ptr<Inode> inode_;
  std::string name_;
  std::shared_ptr<Dentry> parent_;  // null for a filesystem's root
  std::map<std::string, std::shared_ptr<Dentry>, std::less<>> children_;
  int mounts_ = 0;  // mounts whose mountpoint this is
  bool dead_ = false;
  bool linkable_ = false;   // an O_TMPFILE file (not O_EXCL) that linkat may name
  uint64_t last_used_ = 0;  // the VFS's use clock when last looked up
};

// A filesystem's root dentry mounted on a location of its parent mount.
struct Mount {
  uint64_t id = 0;
  std::shared_ptr<Filesystem> fs;
  std::shared_ptr<Dentry> root;
  std::shared_ptr<Mount> parent;  // null for the namespace's root mount
  std::shared_ptr<Dentry> mountpoint;
  bool read_only = false;
  bool nosuid = false;
  bool nodev = false;
  bool noexec = false;
  // Internal (memfd's tmpfs): in no namespace; its files' paths are "/name".
  bool internal = false;
};

// The only way a location is named: a dentry as reached through a mount.
struct VirtualDentry {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;

  bool ok() const { return dentry != nullptr; }
  Inode& inode() const { return *dentry->inode(); }
  bool operator==(const VirtualDentry& o) const { return mount == o.mount && dentry == o.dentry; }
};

// How to resolve a path (lookup flags, and openat2's RESOLVE_*).
enum ResolveFlags : unsigned {
  kFollow = 1 << 0,        // follow a trailing symlink
  kDirectory = 1 << 1,     // the result must be a directory
  kEmptyPath = 1 << 2,     // "" names the start (AT_EMPTY_PATH)
  kNoXdev = 1 << 3,        // RESOLVE_NO_XDEV: EXDEV on crossing a mount
  kNoSymlinks = 1 << 4,    // RESOLVE_NO_SYMLINKS: ELOOP on any symlink
  kBeneath = 1 << 5,       // RESOLVE_BENEATH: never above the start (EXDEV)
  kInRoot = 1 << 6,        // RESOLVE_IN_ROOT: the start is the root
  kNoMagicLinks = 1 << 7,  // RESOLVE_NO_MAGICLINKS
  // Internal: the last component is about to be opened for reading (a
  // lookup that misses the dentry cache uses Inode::LookupToRead).
  kReadIntent = 1 << 8,
};

// Who resolves, and from where.
struct PathContext {
  VirtualDentry root;   // the task's root: ".." and absolute paths stop here
  VirtualDentry start;  // the cwd or the dirfd's location
  const AccessCreds* creds = nullptr;
  uint32_t umask = 022;
};

inline constexpr int kMaxSymlinks = 40;  // MAXSYMLINKS
// The dentry cache's size: past it, unused dentries are dropped (each may pin
// a gofer handle, a host fd in the gofer).
inline constexpr size_t kMaxCachedDentries = 4096;
inline constexpr size_t kSweepEvery = 512;
inline constexpr size_t kNameMax = 255;  // NAME_MAX
// How many uncached components past a missed one a walk asks for at once
// (Inode::LookupAhead).
inline constexpr size_t kMaxLookAhead = 8;

// Linux's xattr_permission for attribute `name` of a file with attributes
// `a`: user.* on regular files and directories only (EPERM to write, ENODATA
// to read elsewhere), trusted.* for CAP_SYS_ADMIN, system.* and unknown
// prefixes EOPNOTSUPP, EROFS, then the permission bits (`may`: kMayRead or
// kMayWrite).
ErrnoOrOk XattrPermission(const AccessCreds& c, const Attr& a, bool read_only,
                          std::string_view name, int may);
// f*xattr on a file with no location (a pipe, a socket): the same checks,
// then EOPNOTSUPP, as Linux's pipefs and sockfs have no attributes to give.
ErrnoOrOk XattrOnFileWithoutLocation(const AccessCreds& c, const Attr& a, std::string_view name,
                                     int may);

class VirtualFilesystem {
 public:
  explicit VirtualFilesystem(std::shared_ptr<Filesystem> root_fs);
  ~VirtualFilesystem();
  VirtualFilesystem(const VirtualFilesystem&) = delete;
  VirtualFilesystem& operator=(const VirtualFilesystem&) = delete;

  VirtualDentry Root() const { return root_; }
  LockTable& locks() { return locks_; }
  // Mounts `fs` on `at` (a directory).
  ErrnoOr<std::shared_ptr<Mount>> MountAt(const VirtualDentry& at, std::shared_ptr<Filesystem> fs,
                                          bool read_only);
  // Mounts `fs` on an absolute path resolved with full privileges.
  ErrnoOr<std::shared_ptr<Mount>> MountAtPath(std::string_view path, std::shared_ptr<Filesystem> fs,
                                              bool read_only);

  ErrnoOr<VirtualDentry> Resolve(const PathContext& ctx, std::string_view path, unsigned flags);

  // A location for a file that has no name (memfd_create): on an internal
  // mount of `fs`, named `name` and already deleted, as Linux shows it
  // ("/memfd:x (deleted)").
  VirtualDentry Detached(std::shared_ptr<Mount> internal_mount, std::shared_ptr<Inode> inode,
                         std::string name);
  // An internal mount of `fs`, for Detached.
  std::shared_ptr<Mount> InternalMount(std::shared_ptr<Filesystem> fs);

  // open(2): `flags` and `mode` as the guest passed them (the caller has
  // validated the flag bits). Creates with `mode & ~umask`.
  ErrnoOr<std::shared_ptr<FileDescription>> Open(const PathContext& ctx, std::string_view path,
                                                 int flags, uint32_t mode, unsigned resolve = 0);
  ErrnoOrOk Mkdir(const PathContext& ctx, std::string_view path, uint32_t mode);
  // Regular files, FIFOs, sockets and devices (the caller has checked the type).
  // `created`, when given, is set to the new file's location (a socket bind
  // keeps it).
  ErrnoOrOk Mknod(const PathContext& ctx, std::string_view path, uint32_t mode, uint64_t rdev,
                  VirtualDentry* created = nullptr);
  ErrnoOrOk Symlink(const PathContext& ctx, std::string_view target, std::string_view path);
  // `empty_path`: AT_EMPTY_PATH, "" names old_ctx.start (an O_TMPFILE file).
  ErrnoOrOk Link(const PathContext& old_ctx, std::string_view old_path, bool follow,
                 const PathContext& new_ctx, std::string_view new_path, bool empty_path = false);
  ErrnoOrOk Unlink(const PathContext& ctx, std::string_view path);
  ErrnoOrOk Rmdir(const PathContext& ctx, std::string_view path);
  ErrnoOrOk Rename(const PathContext& old_ctx, std::string_view old_path,
                   const PathContext& new_ctx, std::string_view new_path, unsigned flags);
  // An empty path reads the link at ctx.start itself (readlinkat on an O_PATH
  // fd): ENOENT if that is not a symlink.
  ErrnoOr<std::string> Readlink(const PathContext& ctx, std::string_view path);
  // access/faccessat: `may` is kMay* (0 checks existence only).
  ErrnoOrOk Access(const PathContext& ctx, std::string_view path, unsigned flags, int may);

  // Attribute operations on a resolved location (stat, chmod, chown, utimes,
  // truncate by path or fd).
  ErrnoOr<Attr> Stat(const VirtualDentry& vd);
  ErrnoOrOk Chmod(const AccessCreds& c, const VirtualDentry& vd, uint32_t mode);
  ErrnoOrOk Chown(const AccessCreds& c, const VirtualDentry& vd, std::optional<uint32_t> uid,
                  std::optional<uint32_t> gid);
  // Times: nullopt leaves a time alone; UTIME_NOW as tv_nsec means now.
  ErrnoOrOk Utimes(const AccessCreds& c, const VirtualDentry& vd, std::optional<timespec> atime,
                   std::optional<timespec> mtime);
  // truncate(2) (permission checked) and ftruncate (the fd was opened for writing).
  ErrnoOrOk Truncate(const AccessCreds* c, const VirtualDentry& vd, int64_t length);

  // Extended attributes, with Linux's namespace rules (user.* on regular
  // files and directories only; trusted.* privileged; system.* and unknown
  // prefixes EOPNOTSUPP) and checks (ERANGE for a bad name, E2BIG for a value
  // over 64 KiB, EROFS).
  ErrnoOr<std::string> GetXattr(const AccessCreds& c, const VirtualDentry& vd,
                                std::string_view name);
  ErrnoOrOk SetXattr(const AccessCreds& c, const VirtualDentry& vd, std::string_view name,
                     std::string_view value, int flags);
  ErrnoOr<std::vector<std::string>> ListXattr(const AccessCreds& c, const VirtualDentry& vd);
  ErrnoOrOk RemoveXattr(const AccessCreds& c, const VirtualDentry& vd, std::string_view name);

  // The path of `vd` as seen from `root`, for getcwd and /proc. An unlinked
  // location gets " (deleted)"; one outside `root` is "(unreachable)..." as
  // Linux's d_path writes it. `reachable` reports which.
  std::string PathOf(const VirtualDentry& root, const VirtualDentry& vd, bool* reachable = nullptr,
                     bool* deleted = nullptr);

  // --- For filesystems that show the VFS itself (/proc). Inode::Lookup,
  // Readlink, Open and Valid run with the VFS lock held (inode.h), so they
  // use these forms, after AssertLocked() (which dies if nobody holds it). ---
  void AssertLocked() const ABSL_ASSERT_EXCLUSIVE_LOCK(mu_) { mu_.AssertHeld(); }
  std::string PathOfLocked(const VirtualDentry& root, const VirtualDentry& vd,
                           bool* reachable = nullptr, bool* deleted = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every mount, the root first, then in the order they were made.
  std::vector<std::shared_ptr<Mount>> MountsLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

 private:
  struct Parent {
    VirtualDentry dir;
    std::string name;
    enum Kind { kNormal, kDot, kDotDot, kRoot } kind = kNormal;
    bool trailing_slash = false;
  };

  ErrnoOr<VirtualDentry> WalkLocked(const PathContext& ctx, std::string_view path, unsigned flags,
                                    Parent* parent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrnoOr<Parent> WalkParentLocked(const PathContext& ctx, std::string_view path, unsigned flags)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The cached or looked-up child `name` of `dir` (a directory dentry).
  // `read_intent`: a miss looks the name up with Inode::LookupToRead.
  ErrnoOr<std::shared_ptr<Dentry>> ChildLocked(const std::shared_ptr<Dentry>& dir,
                                               std::string_view name, bool read_intent = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The valid cached child `name` of `dir`, or null (an invalid one is
  // dropped).
  std::shared_ptr<Dentry> CachedChildLocked(const std::shared_ptr<Dentry>& dir,
                                            std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ChildLocked for a walk that goes on through `ahead` (plain components):
  // a miss asks the inode to look them up too (Inode::LookupAhead) and
  // caches what it found below the child. `read_intent` is then for the last
  // of `ahead` (or `name` if `ahead` is empty).
  ErrnoOr<std::shared_ptr<Dentry>> ChildAheadLocked(const std::shared_ptr<Dentry>& dir,
                                                    std::string_view name,
                                                    std::span<const std::string_view> ahead,
                                                    bool read_intent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Dentry> AddChildLocked(const std::shared_ptr<Dentry>& dir, std::string_view name,
                                         std::shared_ptr<Inode> inode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropChildLocked(const std::shared_ptr<Dentry>& dir, std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every kSweepEvery new dentries: if more than kMaxCachedDentries are
  // cached, drops the least recently used ones nothing else holds (leaves
  // with no mounts, whose inodes say they can be looked up again).
  void MaybeEvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `d` and everything cached below it dead and drops those caches.
  void KillLocked(const std::shared_ptr<Dentry>& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A location for an open file that has none (a magic link's target): a
  // dentry on an internal mount whose inode reopens the file.
  VirtualDentry AnonymousLocked(std::shared_ptr<FileDescription> file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The mount on `vd`, if any, followed down to the topmost.
  VirtualDentry CrossDownLocked(VirtualDentry vd) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  VirtualDentry ParentOfLocked(const VirtualDentry& vd, const VirtualDentry& root) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool IsMountpointLocked(const VirtualDentry& vd) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Owner and mode bits of a new inode in `dir` (setgid directories pass
  // their group on, and to subdirectories the bit itself).
  std::pair<Owner, uint32_t> NewInodeOwner(const AccessCreds& c, const Attr& dir,
                                           uint32_t mode) const;
  ErrnoOr<Parent> CreatableLocked(const PathContext& ctx, std::string_view path,
                                  bool dir_ok_with_slash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrnoOrOk MayDeleteLocked(const AccessCreds& c, const VirtualDentry& dir, Inode& child,
                            bool want_dir) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  LockTable locks_;
  VirtualDentry root_;
  uint64_t next_mount_id_ ABSL_GUARDED_BY(mu_) = 1;
  // (parent mount, mountpoint dentry) -> the mount on top.
  std::map<std::pair<const Mount*, const Dentry*>, std::shared_ptr<Mount>> mounts_
      ABSL_GUARDED_BY(mu_);
  uint64_t use_clock_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<Mount> anon_mount_ ABSL_GUARDED_BY(mu_);
  uint64_t adds_since_sweep_ ABSL_GUARDED_BY(mu_) = 0;
  // Roots of internal mounts, for teardown.
  std::vector<std::shared_ptr<Dentry>> internal_roots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_VFS_H_
