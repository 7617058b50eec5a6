#include "sentry/vfs/vfs.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <atomic>
#include <forward_list>
#include <optional>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "sentry/base/status_macros.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {
namespace {

bool IsDir(const Attr& a) { return S_ISDIR(a.mode); }

// The components a path walk has still to take, the next one last (a
// stack): views into the path being walked and into the symlink targets the
// walk keeps alive. No allocation for paths of up to 16 components.
using WalkStack = absl::InlinedVector<std::string_view, 16>;

// Pushes the components of `path` (empty ones and the slashes dropped) so
// that its first component is taken next.
void PushComponents(std::string_view path, WalkStack* todo) {
  size_t end = path.size();
  while (end > 0) {
    while (end > 0 && path[end - 1] == '/') --end;
    size_t begin = end;
    while (begin > 0 && path[begin - 1] != '/') --begin;
    if (begin < end) todo->push_back(path.substr(begin, end - begin));
    end = begin;
  }
}

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// An O_PATH description: a location and nothing to read or write.
class PathFile : public FileDescription {
 public:
  PathFile(const VirtualDentry& vd, int flags) : FileDescription(flags) { set_location(vd); }
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override {
    ASSIGN_OR_RETURN(Attr a, location().inode().GetAttr());
    return AttrToStat(a, location().inode().fs().Dev());
  }
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(EBADF); }
  ErrnoOr<int64_t> Seek(int64_t, int) override { return Errno(EBADF); }
  ErrnoOrOk IterateDir(const DirEntrySink&) override { return Errno(EBADF); }
  ErrnoOrOk Sync() override { return Errno(EBADF); }
  ErrnoOrOk Allocate(int, uint64_t, uint64_t) override { return Errno(EBADF); }
  std::string Describe() const override { return "path"; }
};

// Open files with no location, as magic links show them: attributes from the
// file, opening reopens it.
class AnonFilesystem : public Filesystem {
 public:
  std::shared_ptr<Inode> Root() override { return root_; }
  std::string_view Name() const override { return "anon_inodefs"; }
  ErrnoOr<struct statfs> StatFS() override { return Errno(ENOSYS); }
  uint64_t Dev() const override { return 0; }
  std::shared_ptr<Inode> root_;
};

class AnonFileInode : public Inode {
 public:
  AnonFileInode(Filesystem& fs, std::shared_ptr<FileDescription> file)
      : Inode(fs), file_(std::move(file)) {}
  ErrnoOr<Attr> GetAttr() override {
    if (file_ == nullptr) {
      Attr a;
      a.mode = S_IFDIR | 0500;
      return a;
    }
    ASSIGN_OR_RETURN(struct stat st, file_->Stat());
    Attr a;
    a.ino = st.st_ino;
    a.mode = st.st_mode;
    a.nlink = st.st_nlink;
    a.uid = st.st_uid;
    a.gid = st.st_gid;
    a.rdev = st.st_rdev;
    a.size = static_cast<uint64_t>(st.st_size);
    a.atime = st.st_atim;
    a.mtime = st.st_mtim;
    a.ctime = st.st_ctim;
    return a;
  }
  ErrnoOrOk SetAttr(const SetAttrRequest& req) override {
    // Only the truncation open(O_TRUNC) asks for.
    if (file_ != nullptr && req.size && !req.mode && !req.uid && !req.gid && !req.atime &&
        !req.mtime) {
      return file_->SetSize(*req.size);
    }
    return Errno(EPERM);
  }
  bool Evictable() override { return false; }
  ErrnoOr<std::shared_ptr<FileDescription>> Open(const VirtualDentry&, int flags) override {
    if (file_ == nullptr) return Errno(ENXIO);
    return file_->Reopen(flags);
  }

 private:
  const std::shared_ptr<FileDescription> file_;
};

}  // namespace

VirtualDentry VirtualFilesystem::AnonymousLocked(std::shared_ptr<FileDescription> file) {
  if (anon_mount_ == nullptr) {
    auto fs = std::make_shared<AnonFilesystem>();
    fs->root_ = std::make_shared<AnonFileInode>(*fs, nullptr);
    anon_mount_ = std::make_shared<Mount>();
    anon_mount_->id = next_mount_id_++;
    anon_mount_->root = std::make_shared<Dentry>(fs->Root(), "/", nullptr);
    anon_mount_->fs = std::move(fs);
    anon_mount_->internal = true;
    internal_roots_.push_back(anon_mount_->root);
  }
  const std::string name = file->Describe();
  auto d = std::make_shared<Dentry>(
      std::make_shared<AnonFileInode>(*anon_mount_->fs, std::move(file)), name, anon_mount_->root);
  return {anon_mount_, std::move(d)};
}

// --- Default inode operations: what Linux answers for the wrong kind of file. ---

Dentry::~Dentry() {
  // The last holder of an unlinked name let go: if the inode has no name
  // left (a directory never has another), its watches hear IN_DELETE_SELF
  // and go (Linux's dentry_unlink_inode -> fsnotify_inoderemove).
  if (!dead_ || inode_ == nullptr || inode_->watches().empty()) return;
  auto a = inode_->GetAttr();
  if (!a.ok() || S_ISDIR(a->mode) || a->nlink == 0) NotifyDeleted(*inode_);
}

ErrnoOr<std::shared_ptr<Inode>> Inode::Lookup(std::string_view) { return Errno(ENOTDIR); }
ErrnoOr<std::shared_ptr<Inode>> Inode::Create(std::string_view, uint32_t, const Owner&) {
  return Errno(ENOTDIR);
}
ErrnoOr<std::shared_ptr<Inode>> Inode::Mkdir(std::string_view, uint32_t, const Owner&) {
  return Errno(ENOTDIR);
}
ErrnoOr<std::shared_ptr<Inode>> Inode::CreateTmpfile(uint32_t, const Owner&) {
  return Errno(EOPNOTSUPP);
}
ErrnoOr<std::shared_ptr<Inode>> Inode::Mknod(std::string_view, uint32_t, uint64_t, const Owner&) {
  return Errno(ENOTDIR);
}
ErrnoOr<std::shared_ptr<Inode>> Inode::Symlink(std::string_view, std::string_view, const Owner&) {
  return Errno(ENOTDIR);
}
ErrnoOrOk Inode::Link(std::string_view, const std::shared_ptr<Inode>&) { return Errno(ENOTDIR); }
ErrnoOrOk Inode::Unlink(std::string_view, Inode&) { return Errno(ENOTDIR); }
ErrnoOrOk Inode::Rmdir(std::string_view, Inode&) { return Errno(ENOTDIR); }
ErrnoOrOk Inode::Rename(std::string_view, Inode&, std::string_view, Inode*, unsigned) {
  return Errno(ENOTDIR);
}
ErrnoOrOk Inode::IterateDir(int64_t, const DirEntrySink&) { return Errno(ENOTDIR); }
ErrnoOr<std::string> Inode::Readlink() { return Errno(EINVAL); }
ErrnoOr<std::string> Inode::GetXattr(std::string_view) { return Errno(EOPNOTSUPP); }
ErrnoOrOk Inode::SetXattr(std::string_view, std::string_view, int) { return Errno(EOPNOTSUPP); }
ErrnoOr<std::vector<std::string>> Inode::ListXattr() { return Errno(EOPNOTSUPP); }
ErrnoOrOk Inode::RemoveXattr(std::string_view) { return Errno(EOPNOTSUPP); }

// --- The tree and the mounts. ---

VirtualFilesystem::VirtualFilesystem(std::shared_ptr<Filesystem> root_fs) {
  auto m = std::make_shared<Mount>();
  absl::MutexLock l(&mu_);
  m->id = next_mount_id_++;
  m->root = std::make_shared<Dentry>(root_fs->Root(), "/", nullptr);
  m->fs = std::move(root_fs);
  root_ = {m, m->root};
}

VirtualFilesystem::~VirtualFilesystem() {
  // Break the parent<->child cycles of every cached tree.
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Dentry>> stack = {root_.dentry};
  for (auto& [key, m] : mounts_) stack.push_back(m->root);
  for (auto& r : internal_roots_) stack.push_back(r);
  while (!stack.empty()) {
    auto d = std::move(stack.back());
    stack.pop_back();
    for (auto& [name, child] : d->children_) stack.push_back(child);
    d->children_.clear();
    d->parent_.reset();
  }
  mounts_.clear();
}

ErrnoOr<std::shared_ptr<Mount>> VirtualFilesystem::MountAt(const VirtualDentry& at,
                                                           std::shared_ptr<Filesystem> fs,
                                                           bool read_only) {
  ASSIGN_OR_RETURN(Attr a, at.inode().GetAttr());
  if (!IsDir(a)) return Errno(ENOTDIR);
  auto m = std::make_shared<Mount>();
  absl::MutexLock l(&mu_);
  // Stack on whatever is already mounted there.
  VirtualDentry top = CrossDownLocked(at);
  m->id = next_mount_id_++;
  m->root = std::make_shared<Dentry>(fs->Root(), "/", nullptr);
  m->fs = std::move(fs);
  m->parent = top.mount;
  m->mountpoint = top.dentry;
  m->read_only = read_only;
  top.dentry->mounts_++;
  mounts_[{top.mount.get(), top.dentry.get()}] = m;
  return m;
}

std::shared_ptr<Mount> VirtualFilesystem::InternalMount(std::shared_ptr<Filesystem> fs) {
  auto m = std::make_shared<Mount>();
  absl::MutexLock l(&mu_);
  m->id = next_mount_id_++;
  m->root = std::make_shared<Dentry>(fs->Root(), "/", nullptr);
  m->fs = std::move(fs);
  m->internal = true;
  internal_roots_.push_back(m->root);
  return m;
}

VirtualDentry VirtualFilesystem::Detached(std::shared_ptr<Mount> internal_mount,
                                          std::shared_ptr<Inode> inode, std::string name) {
  absl::MutexLock l(&mu_);
  auto d = std::make_shared<Dentry>(std::move(inode), std::move(name), internal_mount->root);
  d->dead_ = true;
  return {std::move(internal_mount), std::move(d)};
}

ErrnoOr<std::shared_ptr<Mount>> VirtualFilesystem::MountAtPath(std::string_view path,
                                                               std::shared_ptr<Filesystem> fs,
                                                               bool read_only) {
  const AccessCreds root = AccessCreds::Root();
  PathContext ctx{root_, root_, &root, 0};
  ASSIGN_OR_RETURN(VirtualDentry at, Resolve(ctx, path, kFollow | kDirectory));
  return MountAt(at, std::move(fs), read_only);
}

VirtualDentry VirtualFilesystem::CrossDownLocked(VirtualDentry vd) const {
  while (vd.dentry->mounts_ > 0) {
    auto it = mounts_.find({vd.mount.get(), vd.dentry.get()});
    if (it == mounts_.end()) break;
    vd = {it->second, it->second->root};
  }
  return vd;
}

bool VirtualFilesystem::IsMountpointLocked(const VirtualDentry& vd) const {
  return vd.dentry->mounts_ > 0 && mounts_.count({vd.mount.get(), vd.dentry.get()}) > 0;
}

VirtualDentry VirtualFilesystem::ParentOfLocked(const VirtualDentry& vd,
                                                const VirtualDentry& root) const {
  VirtualDentry cur = vd;
  while (true) {
    if (cur == root) return cur;
    if (cur.dentry != cur.mount->root) break;
    if (cur.mount->parent == nullptr) return cur;  // the namespace's root
    cur = {cur.mount->parent, cur.mount->mountpoint};
  }
  return {cur.mount, cur.dentry->parent_ ? cur.dentry->parent_ : cur.dentry};
}

ErrnoOr<std::shared_ptr<Dentry>> VirtualFilesystem::ChildLocked(const std::shared_ptr<Dentry>& dir,
                                                                std::string_view name,
                                                                bool read_intent) {
  if (std::shared_ptr<Dentry> cached = CachedChildLocked(dir, name)) return cached;
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode,
                   read_intent ? dir->inode_->LookupToRead(name) : dir->inode_->Lookup(name));
  return AddChildLocked(dir, name, std::move(inode));
}

std::shared_ptr<Dentry> VirtualFilesystem::CachedChildLocked(const std::shared_ptr<Dentry>& dir,
                                                             std::string_view name) {
  auto it = dir->children_.find(name);
  if (it == dir->children_.end()) return nullptr;
  if (it->second->inode_->Valid()) {
    it->second->last_used_ = ++use_clock_;
    return it->second;
  }
  KillLocked(it->second);
  dir->children_.erase(it);
  return nullptr;
}

ErrnoOr<std::shared_ptr<Dentry>> VirtualFilesystem::ChildAheadLocked(
    const std::shared_ptr<Dentry>& dir, std::string_view name,
    std::span<const std::string_view> ahead, bool read_intent) {
  if (ahead.empty()) return ChildLocked(dir, name, read_intent);
  absl::InlinedVector<std::string_view, kMaxLookAhead + 1> names;
  names.push_back(name);
  names.insert(names.end(), ahead.begin(), ahead.end());
  std::vector<std::shared_ptr<Inode>> found;
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode,
                   dir->inode_->LookupAhead(names, read_intent, &found));
  std::shared_ptr<Dentry> child = AddChildLocked(dir, name, std::move(inode));
  // New dentries: nothing is cached or mounted below them yet.
  std::shared_ptr<Dentry> d = child;
  for (size_t i = 0; i < found.size() && i < ahead.size(); ++i) {
    d = AddChildLocked(d, ahead[i], std::move(found[i]));
  }
  return child;
}

std::shared_ptr<Dentry> VirtualFilesystem::AddChildLocked(const std::shared_ptr<Dentry>& dir,
                                                          std::string_view name,
                                                          std::shared_ptr<Inode> inode) {
  MaybeEvictLocked();
  auto d = std::make_shared<Dentry>(std::move(inode), std::string(name), dir);
  d->last_used_ = ++use_clock_;
  dir->children_[std::string(name)] = d;
  return d;
}

void VirtualFilesystem::MaybeEvictLocked() {
  if (++adds_since_sweep_ < kSweepEvery) return;
  adds_since_sweep_ = 0;
  // A few passes: dropping leaves can make their parents leaves.
  for (int pass = 0; pass < 4; ++pass) {
    std::vector<std::shared_ptr<Dentry>> stack = {root_.dentry};
    for (const auto& [key, m] : mounts_) stack.push_back(m->root);
    for (const auto& r : internal_roots_) stack.push_back(r);
    size_t total = 0;
    std::vector<std::pair<uint64_t, Dentry*>> victims;  // (last used, dentry)
    while (!stack.empty()) {
      std::shared_ptr<Dentry> d = std::move(stack.back());
      stack.pop_back();
      total += d->children_.size();
      for (const auto& [name, c] : d->children_) {
        // Held only by its parent's map (no fd, cwd, walk or child holds it).
        if (c->children_.empty() && c->mounts_ == 0 && c.use_count() == 1 &&
            c->inode_->Evictable() && c->inode_->watches().empty()) {
          victims.emplace_back(c->last_used_, c.get());
        } else {
          stack.push_back(c);
        }
      }
    }
    if (total <= kMaxCachedDentries) return;
    const size_t target = kMaxCachedDentries * 3 / 4;
    std::sort(victims.begin(), victims.end());
    size_t dropped = 0;
    for (const auto& [used, d] : victims) {
      if (total - dropped <= target) break;
      // Erasing destroys `d` (its parent's map held the last reference); the
      // parent lives on (its own parent or a mount holds it).
      auto& siblings = d->parent_->children_;
      auto it = siblings.find(d->name_);
      if (it != siblings.end() && it->second.get() == d) siblings.erase(it);
      ++dropped;
    }
    if (dropped == 0) return;
  }
}

void VirtualFilesystem::DropChildLocked(const std::shared_ptr<Dentry>& dir, std::string_view name) {
  auto it = dir->children_.find(name);
  if (it == dir->children_.end()) return;
  KillLocked(it->second);
  dir->children_.erase(it);
}

void VirtualFilesystem::KillLocked(const std::shared_ptr<Dentry>& d) {
  // What is cached below a dentry that leaves the tree leaves with it; the
  // children's links to their parents would otherwise make a cycle nothing
  // reaches (an invalidated /proc/<pid> with its cached entries).
  std::vector<std::shared_ptr<Dentry>> stack = {d};
  while (!stack.empty()) {
    std::shared_ptr<Dentry> x = std::move(stack.back());
    stack.pop_back();
    x->dead_ = true;
    for (auto& [child_name, child] : x->children_) stack.push_back(child);
    x->children_.clear();
  }
}

// --- The path resolver. ---

ErrnoOr<VirtualDentry> VirtualFilesystem::WalkLocked(const PathContext& ctx, std::string_view path,
                                                     unsigned flags, Parent* parent) {
  if (path.empty()) {
    if (!(flags & kEmptyPath) || parent != nullptr) return Errno(ENOENT);
    return ctx.start;
  }
  const AccessCreds& creds = *ctx.creds;
  // openat2: RESOLVE_IN_ROOT makes the start the root; RESOLVE_BENEATH forbids
  // leaving it.
  const VirtualDentry root = (flags & kInRoot) ? ctx.start : ctx.root;
  const bool beneath = flags & kBeneath;
  VirtualDentry cur;
  if (path[0] == '/') {
    if (beneath) return Errno(EXDEV);
    cur = root;
  } else {
    cur = ctx.start;
  }
  WalkStack todo;
  PushComponents(path, &todo);
  // Symlink targets read on the way, which `todo` points into.
  std::forward_list<std::string> targets;
  bool trailing_slash = path.back() == '/';
  int symlinks = 0;
  // Depth below the start, for RESOLVE_BENEATH's "..".
  int depth = 0;

  if (parent != nullptr) {
    if (todo.empty()) {
      // "/" (or "///"): there is no last component.
      *parent = {cur, "", Parent::kRoot, trailing_slash};
      return cur;
    }
    parent->name = std::string(todo.front());
    todo.erase(todo.begin());
    parent->kind = parent->name == "."    ? Parent::kDot
                   : parent->name == ".." ? Parent::kDotDot
                                          : Parent::kNormal;
    parent->trailing_slash = trailing_slash;
    trailing_slash = false;
    if (parent->name.size() > kNameMax) return Errno(ENAMETOOLONG);
  }

  // The attributes of `cur` when the step that reached it already fetched
  // them (a child's attributes are fetched for the symlink check, then serve
  // as the directory's for the next component): one GetAttr per component.
  std::optional<Attr> cur_attr;
  while (!todo.empty()) {
    const std::string_view name = todo.back();
    todo.pop_back();
    const bool last = todo.empty();
    if (!cur_attr) {
      ASSIGN_OR_RETURN(Attr a, cur.inode().GetAttr());
      cur_attr = a;
    }
    if (!IsDir(*cur_attr)) return Errno(ENOTDIR);
    RETURN_IF_ERROR(CheckPermission(creds, *cur_attr, kMayExec));
    if (name == ".") continue;
    if (name == "..") {
      if (beneath) {
        if (depth == 0) return Errno(EXDEV);
        --depth;
      }
      VirtualDentry up = ParentOfLocked(cur, root);
      if ((flags & kNoXdev) && up.mount != cur.mount) return Errno(EXDEV);
      cur = std::move(up);
      cur_attr.reset();
      continue;
    }
    if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
    std::shared_ptr<Dentry> child = CachedChildLocked(cur.dentry, name);
    if (child == nullptr) {
      // A miss: the plain components that follow are looked up at once.
      absl::InlinedVector<std::string_view, kMaxLookAhead> ahead;
      for (size_t i = todo.size(); i > 0 && ahead.size() < kMaxLookAhead; --i) {
        const std::string_view n = todo[i - 1];
        if (n == "." || n == ".." || n.size() > kNameMax) break;
        ahead.push_back(n);
      }
      // Read intent for the path's last component (not a parent walk's).
      const bool read_intent =
          (flags & kReadIntent) && parent == nullptr && ahead.size() == todo.size();
      ASSIGN_OR_RETURN(child, ChildAheadLocked(cur.dentry, name, ahead, read_intent));
    }
    VirtualDentry next = CrossDownLocked({cur.mount, child});
    if ((flags & kNoXdev) && next.mount != cur.mount) return Errno(EXDEV);
    ASSIGN_OR_RETURN(Attr a, next.inode().GetAttr());
    if (S_ISLNK(a.mode) && (!last || (flags & kFollow) || trailing_slash) &&
        next.inode().IsMagicLink()) {
      // nd_jump_link: no magic links when asked, none out of a scoped walk.
      if (flags & (kNoMagicLinks | kNoSymlinks)) return Errno(ELOOP);
      if (flags & (kBeneath | kInRoot)) return Errno(EXDEV);
      if (++symlinks > kMaxSymlinks) return Errno(ELOOP);
      ASSIGN_OR_RETURN(MagicLinkTarget m, next.inode().FollowMagicLink());
      // RESOLVE_NO_XDEV: a jump is refused only to another mount.
      if ((flags & kNoXdev) && (m.dentry == nullptr || m.mount != cur.mount)) {
        return Errno(EXDEV);
      }
      cur = m.dentry != nullptr ? VirtualDentry{m.mount, m.dentry} : AnonymousLocked(m.file);
      cur_attr.reset();
      ++depth;
      continue;
    }
    if (S_ISLNK(a.mode) && (!last || (flags & kFollow) || trailing_slash)) {
      if (flags & kNoSymlinks) return Errno(ELOOP);
      if (++symlinks > kMaxSymlinks) return Errno(ELOOP);
      ASSIGN_OR_RETURN(std::string target, next.inode().Readlink());
      if (target.empty()) return Errno(ENOENT);
      if (target[0] == '/') {
        if (beneath) return Errno(EXDEV);
        cur = root;
        cur_attr.reset();
        depth = 0;
      }
      if (last && target.back() == '/') trailing_slash = true;
      targets.push_front(std::move(target));
      PushComponents(targets.front(), &todo);
      continue;
    }
    cur = std::move(next);
    cur_attr = a;
    ++depth;
  }
  if (parent != nullptr || trailing_slash || (flags & kDirectory)) {
    if (!cur_attr) {
      ASSIGN_OR_RETURN(Attr a, cur.inode().GetAttr());
      cur_attr = a;
    }
    if (!IsDir(*cur_attr)) return Errno(ENOTDIR);
  }
  if (parent != nullptr) parent->dir = cur;
  return cur;
}

ErrnoOr<VirtualFilesystem::Parent> VirtualFilesystem::WalkParentLocked(const PathContext& ctx,
                                                                       std::string_view path,
                                                                       unsigned flags) {
  Parent p;
  RETURN_IF_ERROR(WalkLocked(ctx, path, flags, &p));
  return p;
}

ErrnoOr<VirtualDentry> VirtualFilesystem::Resolve(const PathContext& ctx, std::string_view path,
                                                  unsigned flags) {
  absl::MutexLock l(&mu_);
  return WalkLocked(ctx, path, flags, nullptr);
}

std::pair<Owner, uint32_t> VirtualFilesystem::NewInodeOwner(const AccessCreds& c, const Attr& dir,
                                                            uint32_t mode) const {
  Owner o{c.fsuid, c.fsgid};
  if (dir.mode & S_ISGID) {
    o.gid = dir.gid;
    if (S_ISDIR(mode)) mode |= S_ISGID;
  } else if (S_ISREG(mode) && (mode & S_ISGID) && (mode & S_IXGRP) && !c.InGroup(o.gid) &&
             !c.cap_fsetid) {
    mode &= ~S_ISGID;
  }
  return {o, mode};
}

// The parent of a name about to be created, checked: a normal last component
// that does not exist yet, and write+search permission on a writable mount.
ErrnoOr<VirtualFilesystem::Parent> VirtualFilesystem::CreatableLocked(const PathContext& ctx,
                                                                      std::string_view path,
                                                                      bool dir_ok_with_slash) {
  ASSIGN_OR_RETURN(Parent p, WalkParentLocked(ctx, path, kFollow));
  if (p.kind != Parent::kNormal) return Errno(EEXIST);
  auto child = ChildLocked(p.dir.dentry, p.name);
  if (child.ok()) return Errno(EEXIST);
  if (child.error().value() != ENOENT) return child.error();
  if (p.trailing_slash && !dir_ok_with_slash) return Errno(ENOENT);
  ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
  RETURN_IF_ERROR(CheckPermission(*ctx.creds, dir, kMayWrite | kMayExec));
  if (p.dir.mount->read_only) return Errno(EROFS);
  return p;
}

// --- Path operations. ---

ErrnoOr<std::shared_ptr<FileDescription>> VirtualFilesystem::Open(const PathContext& ctx,
                                                                  std::string_view path, int flags,
                                                                  uint32_t mode, unsigned resolve) {
  const AccessCreds& creds = *ctx.creds;
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  absl::MutexLock l(&mu_);
  VirtualDentry vd;
  bool created = false;
  if ((flags & __O_TMPFILE) == __O_TMPFILE) {
    // An unnamed file in the directory `path` names, shown as "#<ino> (deleted)".
    ASSIGN_OR_RETURN(VirtualDentry dir,
                     WalkLocked(ctx, path, resolve | kFollow | kDirectory, nullptr));
    ASSIGN_OR_RETURN(Attr da, dir.inode().GetAttr());
    RETURN_IF_ERROR(CheckPermission(creds, da, kMayWrite | kMayExec));
    if (dir.mount->read_only) return Errno(EROFS);
    auto [owner, m] = NewInodeOwner(creds, da, S_IFREG | (mode & 07777 & ~ctx.umask));
    ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode, dir.inode().CreateTmpfile(m, owner));
    ASSIGN_OR_RETURN(Attr a, inode->GetAttr());
    auto d = std::make_shared<Dentry>(inode, "#" + std::to_string(a.ino), dir.dentry);
    d->dead_ = true;
    d->linkable_ = !(flags & O_EXCL);
    vd = {dir.mount, std::move(d)};
    flags &= ~(__O_TMPFILE | O_EXCL | O_CREAT | O_TRUNC);
    ASSIGN_OR_RETURN(std::shared_ptr<FileDescription> fd, vd.inode().Open(vd, flags));
    fd->set_location(vd);
    NotifyFile(vd.dentry, IN_OPEN);
    return fd;
  }
  if (flags & O_CREAT) {
    // Walk to the parent; an existing last component is opened (through a
    // symlink, even a dangling one, whose target is then created).
    PathContext c = ctx;
    std::string cur(path);
    for (int links = 0;; ++links) {
      ASSIGN_OR_RETURN(Parent p, WalkParentLocked(c, cur, resolve | kFollow));
      if (p.kind != Parent::kNormal) return Errno(EISDIR);
      auto child = ChildLocked(p.dir.dentry, p.name);
      if (child.ok()) {
        if (flags & O_EXCL) return Errno(EEXIST);
        vd = CrossDownLocked({p.dir.mount, *child});
        ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
        if (S_ISLNK(a.mode) && !(flags & O_NOFOLLOW) && vd.inode().IsMagicLink()) {
          // The resolver follows magic links; nothing is created through them.
          ASSIGN_OR_RETURN(vd, WalkLocked(c, cur, resolve | kFollow, nullptr));
          break;
        }
        if (S_ISLNK(a.mode) && !(flags & O_NOFOLLOW)) {
          if (links >= kMaxSymlinks || (resolve & kNoSymlinks)) return Errno(ELOOP);
          ASSIGN_OR_RETURN(std::string target, vd.inode().Readlink());
          if (target.empty()) return Errno(ENOENT);
          if (target[0] == '/' && (resolve & kBeneath)) return Errno(EXDEV);
          if (p.trailing_slash) target += '/';
          c.start = p.dir;
          cur = std::move(target);
          continue;
        }
        if (p.trailing_slash && !S_ISDIR(a.mode)) return Errno(ENOTDIR);
        break;
      }
      if (child.error().value() != ENOENT) return child.error();
      if (p.trailing_slash) return Errno(EISDIR);
      ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
      RETURN_IF_ERROR(CheckPermission(creds, dir, kMayWrite | kMayExec));
      if (p.dir.mount->read_only) return Errno(EROFS);
      auto [owner, m] = NewInodeOwner(creds, dir, S_IFREG | (mode & 07777 & ~ctx.umask));
      ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode, p.dir.inode().Create(p.name, m, owner));
      vd = {p.dir.mount, AddChildLocked(p.dir.dentry, p.name, std::move(inode))};
      created = true;
      NotifyChild(p.dir.inode(), p.name, IN_CREATE, false);
      break;
    }
  } else {
    unsigned f = resolve | ((flags & O_NOFOLLOW) ? 0u : unsigned{kFollow});
    if (flags & O_DIRECTORY) f |= kDirectory;
    if ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_PATH | O_DIRECTORY | O_TRUNC))) {
      f |= kReadIntent;
    }
    ASSIGN_OR_RETURN(vd, WalkLocked(ctx, path, f, nullptr));
  }
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  const int acc = flags & O_ACCMODE;
  if (S_ISLNK(a.mode) && !(flags & O_PATH)) return Errno(ELOOP);
  if ((flags & O_DIRECTORY) && !IsDir(a)) return Errno(ENOTDIR);
  if (!(flags & O_PATH)) {
    if (IsDir(a) && (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))) return Errno(EISDIR);
    if (!created) {
      int may = 0;
      if (acc == O_RDONLY || acc == O_RDWR || acc == O_ACCMODE) may |= kMayRead;
      if (acc == O_WRONLY || acc == O_RDWR || acc == O_ACCMODE || (flags & O_TRUNC)) {
        may |= kMayWrite;
      }
      if (S_ISSOCK(a.mode)) return Errno(ENXIO);
      if ((S_ISCHR(a.mode) || S_ISBLK(a.mode)) && vd.mount->nodev) return Errno(EACCES);
      RETURN_IF_ERROR(CheckPermission(creds, a, may));
      if ((may & kMayWrite) && vd.mount->read_only &&
          (S_ISREG(a.mode) || S_ISDIR(a.mode) || S_ISLNK(a.mode))) {
        return Errno(EROFS);
      }
      if ((flags & O_TRUNC) && S_ISREG(a.mode)) {
        SetAttrRequest req;
        req.size = 0;
        RETURN_IF_ERROR(vd.inode().SetAttr(req));
        NotifyFile(vd.dentry, IN_MODIFY);
      }
    }
  }
  if (flags & O_PATH)
    return std::shared_ptr<FileDescription>(std::make_shared<PathFile>(vd, flags));
  // The description keeps the status flags (open-time flags dropped, as Linux does).
  flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
  ASSIGN_OR_RETURN(std::shared_ptr<FileDescription> fd, vd.inode().Open(vd, flags));
  fd->set_location(vd);
  NotifyFile(vd.dentry, IN_OPEN);
  return fd;
}

ErrnoOrOk VirtualFilesystem::Mkdir(const PathContext& ctx, std::string_view path, uint32_t mode) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent p, CreatableLocked(ctx, path, /*dir_ok_with_slash=*/true));
  ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
  auto [owner, m] = NewInodeOwner(*ctx.creds, dir, S_IFDIR | (mode & 01777 & ~ctx.umask));
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode, p.dir.inode().Mkdir(p.name, m, owner));
  AddChildLocked(p.dir.dentry, p.name, std::move(inode));
  NotifyChild(p.dir.inode(), p.name, IN_CREATE, true);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Mknod(const PathContext& ctx, std::string_view path, uint32_t mode,
                                   uint64_t rdev, VirtualDentry* created) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent p, CreatableLocked(ctx, path, false));
  if ((S_ISCHR(mode) || S_ISBLK(mode)) && !ctx.creds->cap_mknod) return Errno(EPERM);
  ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
  auto [owner, m] = NewInodeOwner(*ctx.creds, dir, (mode & S_IFMT) | (mode & 07777 & ~ctx.umask));
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode, p.dir.inode().Mknod(p.name, m, rdev, owner));
  std::shared_ptr<Dentry> d = AddChildLocked(p.dir.dentry, p.name, std::move(inode));
  if (created != nullptr) *created = VirtualDentry{p.dir.mount, std::move(d)};
  NotifyChild(p.dir.inode(), p.name, IN_CREATE, false);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Symlink(const PathContext& ctx, std::string_view target,
                                     std::string_view path) {
  if (target.empty()) return Errno(ENOENT);
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent p, CreatableLocked(ctx, path, false));
  ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
  auto [owner, m] = NewInodeOwner(*ctx.creds, dir, S_IFLNK | 0777);
  (void)m;
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> inode, p.dir.inode().Symlink(p.name, target, owner));
  AddChildLocked(p.dir.dentry, p.name, std::move(inode));
  NotifyChild(p.dir.inode(), p.name, IN_CREATE, false);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Link(const PathContext& old_ctx, std::string_view old_path,
                                  bool follow, const PathContext& new_ctx,
                                  std::string_view new_path, bool empty_path) {
  absl::MutexLock l(&mu_);
  unsigned f = follow ? unsigned{kFollow} : 0u;
  if (empty_path) f |= kEmptyPath;
  ASSIGN_OR_RETURN(VirtualDentry old, WalkLocked(old_ctx, old_path, f, nullptr));
  ASSIGN_OR_RETURN(Parent p, WalkParentLocked(new_ctx, new_path, kFollow));
  if (p.kind != Parent::kNormal) return Errno(EEXIST);
  auto existing = ChildLocked(p.dir.dentry, p.name);
  if (existing.ok()) return Errno(EEXIST);
  if (existing.error().value() != ENOENT) return existing.error();
  if (p.trailing_slash) return Errno(ENOENT);
  if (old.mount != p.dir.mount) return Errno(EXDEV);
  ASSIGN_OR_RETURN(Attr dir, p.dir.inode().GetAttr());
  RETURN_IF_ERROR(CheckPermission(*new_ctx.creds, dir, kMayWrite | kMayExec));
  if (p.dir.mount->read_only) return Errno(EROFS);
  ASSIGN_OR_RETURN(Attr a, old.inode().GetAttr());
  if (IsDir(a)) return Errno(EPERM);
  // A file with no name left can be linked again only if it was made with
  // O_TMPFILE (and not O_EXCL).
  if (a.nlink == 0 && !old.dentry->linkable_) return Errno(ENOENT);
  RETURN_IF_ERROR(p.dir.inode().Link(p.name, old.dentry->inode()));
  AddChildLocked(p.dir.dentry, p.name, old.dentry->inode());
  // fsnotify_link: the link count, then the new name.
  NotifySelf(old.inode(), IN_ATTRIB);
  NotifyChild(p.dir.inode(), p.name, IN_CREATE, false);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::MayDeleteLocked(const AccessCreds& c, const VirtualDentry& dir,
                                             Inode& child, bool want_dir) {
  ASSIGN_OR_RETURN(Attr d, dir.inode().GetAttr());
  ASSIGN_OR_RETURN(Attr a, child.GetAttr());
  RETURN_IF_ERROR(CheckPermission(c, d, kMayWrite | kMayExec));
  RETURN_IF_ERROR(CheckSticky(c, d, a));
  if (want_dir && !IsDir(a)) return Errno(ENOTDIR);
  if (!want_dir && IsDir(a)) return Errno(EISDIR);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Unlink(const PathContext& ctx, std::string_view path) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent p, WalkParentLocked(ctx, path, kFollow));
  if (p.kind != Parent::kNormal) return Errno(EISDIR);
  ASSIGN_OR_RETURN(std::shared_ptr<Dentry> child, ChildLocked(p.dir.dentry, p.name));
  if (p.trailing_slash) {
    ASSIGN_OR_RETURN(Attr a, child->inode()->GetAttr());
    return Errno(IsDir(a) ? EISDIR : ENOTDIR);
  }
  RETURN_IF_ERROR(MayDeleteLocked(*ctx.creds, p.dir, *child->inode(), false));
  if (IsMountpointLocked({p.dir.mount, child})) return Errno(EBUSY);
  if (p.dir.mount->read_only) return Errno(EROFS);
  RETURN_IF_ERROR(p.dir.inode().Unlink(p.name, *child->inode()));
  // vfs_unlink's order: the link count (IN_ATTRIB), the inode's deletion
  // when nothing else holds the name (IN_DELETE_SELF, IN_IGNORED: the
  // dentry's destructor), then the parent's IN_DELETE.
  NotifySelf(*child->inode(), IN_ATTRIB);
  DropChildLocked(p.dir.dentry, p.name);
  child.reset();
  NotifyChild(p.dir.inode(), p.name, IN_DELETE, false);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Rmdir(const PathContext& ctx, std::string_view path) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent p, WalkParentLocked(ctx, path, kFollow));
  switch (p.kind) {
    case Parent::kDot:
      return Errno(EINVAL);
    case Parent::kDotDot:
      return Errno(ENOTEMPTY);
    case Parent::kRoot:
      return Errno(EBUSY);
    case Parent::kNormal:
      break;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Dentry> child, ChildLocked(p.dir.dentry, p.name));
  RETURN_IF_ERROR(MayDeleteLocked(*ctx.creds, p.dir, *child->inode(), true));
  if (IsMountpointLocked({p.dir.mount, child})) return Errno(EBUSY);
  if (p.dir.mount->read_only) return Errno(EROFS);
  RETURN_IF_ERROR(p.dir.inode().Rmdir(p.name, *child->inode()));
  DropChildLocked(p.dir.dentry, p.name);
  child.reset();
  NotifyChild(p.dir.inode(), p.name, IN_DELETE, true);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Rename(const PathContext& old_ctx, std::string_view old_path,
                                    const PathContext& new_ctx, std::string_view new_path,
                                    unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return Errno(EINVAL);
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return Errno(EINVAL);
  if ((flags & RENAME_WHITEOUT) && (flags & RENAME_EXCHANGE)) return Errno(EINVAL);
  if (flags & RENAME_WHITEOUT) return Errno(EOPNOTSUPP);
  const AccessCreds& creds = *old_ctx.creds;
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Parent op, WalkParentLocked(old_ctx, old_path, kFollow));
  ASSIGN_OR_RETURN(Parent np, WalkParentLocked(new_ctx, new_path, kFollow));
  if (op.dir.mount != np.dir.mount) return Errno(EXDEV);
  if (op.kind != Parent::kNormal) return Errno(EBUSY);
  if (np.kind != Parent::kNormal) return Errno((flags & RENAME_NOREPLACE) ? EEXIST : EBUSY);
  ASSIGN_OR_RETURN(std::shared_ptr<Dentry> old_child, ChildLocked(op.dir.dentry, op.name));
  ASSIGN_OR_RETURN(Attr old_attr, old_child->inode()->GetAttr());
  std::shared_ptr<Dentry> new_child;
  if (auto c = ChildLocked(np.dir.dentry, np.name); c.ok()) {
    new_child = *c;
  } else if (c.error().value() != ENOENT) {
    return c.error();
  }
  if (flags & RENAME_EXCHANGE) {
    if (!new_child) return Errno(ENOENT);
  } else if (new_child && (flags & RENAME_NOREPLACE)) {
    return Errno(EEXIST);
  }
  std::optional<Attr> new_attr;
  if (new_child) {
    ASSIGN_OR_RETURN(new_attr, new_child->inode()->GetAttr());
  }
  // Trailing slashes are only for directories.
  if ((op.trailing_slash || np.trailing_slash) && !IsDir(old_attr)) return Errno(ENOTDIR);
  if ((flags & RENAME_EXCHANGE) && np.trailing_slash && !IsDir(*new_attr)) return Errno(ENOTDIR);
  // Same inode under both names: nothing to do.
  if (new_child && new_child->inode() == old_child->inode()) return Ok();
  // A directory may not move beneath itself (EINVAL), nor replace an ancestor
  // of the source (ENOTEMPTY).
  for (auto d = np.dir.dentry; d; d = d->parent_) {
    if (d == old_child) return Errno(EINVAL);
  }
  if (new_child) {
    for (auto d = op.dir.dentry; d; d = d->parent_) {
      if (d == new_child) return Errno((flags & RENAME_EXCHANGE) ? EINVAL : ENOTEMPTY);
    }
  }
  RETURN_IF_ERROR(MayDeleteLocked(creds, op.dir, *old_child->inode(), IsDir(old_attr)));
  if (new_child) {
    const bool want_dir = (flags & RENAME_EXCHANGE) ? IsDir(*new_attr) : IsDir(old_attr);
    RETURN_IF_ERROR(MayDeleteLocked(creds, np.dir, *new_child->inode(), want_dir));
  } else {
    ASSIGN_OR_RETURN(Attr nd, np.dir.inode().GetAttr());
    RETURN_IF_ERROR(CheckPermission(creds, nd, kMayWrite | kMayExec));
  }
  // A directory changing parent rewrites its "..": write permission on it.
  if (op.dir.dentry != np.dir.dentry) {
    if (IsDir(old_attr)) RETURN_IF_ERROR(CheckPermission(creds, old_attr, kMayWrite));
    if ((flags & RENAME_EXCHANGE) && IsDir(*new_attr)) {
      RETURN_IF_ERROR(CheckPermission(creds, *new_attr, kMayWrite));
    }
  }
  if (IsMountpointLocked({op.dir.mount, old_child}) ||
      (new_child && IsMountpointLocked({np.dir.mount, new_child}))) {
    return Errno(EBUSY);
  }
  if (op.dir.mount->read_only) return Errno(EROFS);
  RETURN_IF_ERROR(op.dir.inode().Rename(op.name, np.dir.inode(), np.name,
                                        new_child ? new_child->inode().get() : nullptr, flags));
  // The cache follows.
  op.dir.dentry->children_.erase(op.name);
  if (new_child) np.dir.dentry->children_.erase(np.name);
  {
    absl::MutexLock names(&DentryNamesMu());
    old_child->name_ = np.name;
    old_child->parent_ = np.dir.dentry;
    if (new_child && (flags & RENAME_EXCHANGE)) {
      new_child->name_ = op.name;
      new_child->parent_ = op.dir.dentry;
    }
  }
  np.dir.dentry->children_[np.name] = old_child;
  if (new_child) {
    if (flags & RENAME_EXCHANGE) {
      op.dir.dentry->children_[op.name] = new_child;
    } else {
      new_child->dead_ = true;
    }
  }
  // fsnotify_move: IN_MOVED_FROM and IN_MOVED_TO sharing a cookie, the
  // replaced file's link count, IN_MOVE_SELF; an exchange is two moves. A
  // replaced inode's IN_DELETE_SELF follows when its dentry goes.
  if (AnyInotifyWatches()) {
    const uint32_t cookie = NewInotifyCookie();
    NotifyChild(op.dir.inode(), op.name, IN_MOVED_FROM, IsDir(old_attr), cookie);
    NotifyChild(np.dir.inode(), np.name, IN_MOVED_TO, IsDir(old_attr), cookie);
    if (new_child && !(flags & RENAME_EXCHANGE)) NotifySelf(*new_child->inode(), IN_ATTRIB);
    NotifySelf(*old_child->inode(), IN_MOVE_SELF);
    if (new_child && (flags & RENAME_EXCHANGE)) {
      const uint32_t cookie2 = NewInotifyCookie();
      NotifyChild(np.dir.inode(), np.name, IN_MOVED_FROM, IsDir(*new_attr), cookie2);
      NotifyChild(op.dir.inode(), op.name, IN_MOVED_TO, IsDir(*new_attr), cookie2);
      NotifySelf(*new_child->inode(), IN_MOVE_SELF);
    }
  }
  return Ok();
}

ErrnoOr<std::string> VirtualFilesystem::Readlink(const PathContext& ctx, std::string_view path) {
  absl::MutexLock l(&mu_);
  if (path.empty()) {
    ASSIGN_OR_RETURN(Attr a, ctx.start.inode().GetAttr());
    if (!S_ISLNK(a.mode)) return Errno(ENOENT);
    return ctx.start.inode().Readlink();
  }
  // readlink of a path that is no symlink is mostly realpath(3) or cpplib
  // checking a file before opening it: looked up as for an open.
  ASSIGN_OR_RETURN(VirtualDentry vd, WalkLocked(ctx, path, kReadIntent, nullptr));
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  if (!S_ISLNK(a.mode)) return Errno(EINVAL);
  return vd.inode().Readlink();
}

ErrnoOrOk VirtualFilesystem::Access(const PathContext& ctx, std::string_view path, unsigned flags,
                                    int may) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(VirtualDentry vd, WalkLocked(ctx, path, flags, nullptr));
  if (may == 0) return Ok();
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  RETURN_IF_ERROR(CheckPermission(*ctx.creds, a, may));
  if ((may & kMayWrite) && vd.mount->read_only &&
      (S_ISREG(a.mode) || S_ISDIR(a.mode) || S_ISLNK(a.mode))) {
    return Errno(EROFS);
  }
  if ((may & kMayExec) && S_ISREG(a.mode) && vd.mount->noexec) return Errno(EACCES);
  return Ok();
}

// --- Attributes. ---

ErrnoOr<Attr> VirtualFilesystem::Stat(const VirtualDentry& vd) { return vd.inode().GetAttr(); }

ErrnoOrOk VirtualFilesystem::Chmod(const AccessCreds& c, const VirtualDentry& vd, uint32_t mode) {
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  ASSIGN_OR_RETURN(uint32_t m, CheckChmod(c, a, mode));
  if (vd.mount->read_only) return Errno(EROFS);
  SetAttrRequest req;
  req.mode = m;
  RETURN_IF_ERROR(vd.inode().SetAttr(req));
  NotifyFile(vd.dentry, IN_ATTRIB);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Chown(const AccessCreds& c, const VirtualDentry& vd,
                                   std::optional<uint32_t> uid, std::optional<uint32_t> gid) {
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  SetAttrRequest req;
  RETURN_IF_ERROR(CheckChown(c, a, uid, gid, &req));
  if (vd.mount->read_only) return Errno(EROFS);
  RETURN_IF_ERROR(vd.inode().SetAttr(req));
  NotifyFile(vd.dentry, IN_ATTRIB);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Utimes(const AccessCreds& c, const VirtualDentry& vd,
                                    std::optional<timespec> atime, std::optional<timespec> mtime) {
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  const bool to_now =
      (!atime || atime->tv_nsec == UTIME_NOW) && (!mtime || mtime->tv_nsec == UTIME_NOW);
  if (vd.mount->read_only) return Errno(EROFS);
  if (!OwnerOrCapable(c, a)) {
    // Setting explicit times is the owner's; "now" also needs only write access.
    if (!to_now) return Errno(EPERM);
    RETURN_IF_ERROR(CheckPermission(c, a, kMayWrite));
  }
  const timespec now = Now();
  SetAttrRequest req;
  if (atime) req.atime = atime->tv_nsec == UTIME_NOW ? now : *atime;
  if (mtime) req.mtime = mtime->tv_nsec == UTIME_NOW ? now : *mtime;
  RETURN_IF_ERROR(vd.inode().SetAttr(req));
  // fsnotify_change: both times are IN_ATTRIB, the access time alone
  // IN_ACCESS, the modification time alone IN_MODIFY.
  NotifyFile(vd.dentry, (atime && mtime) ? IN_ATTRIB : atime ? IN_ACCESS : IN_MODIFY);
  return Ok();
}

ErrnoOrOk VirtualFilesystem::Truncate(const AccessCreds* c, const VirtualDentry& vd,
                                      int64_t length) {
  if (length < 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  if (IsDir(a)) return Errno(EISDIR);
  if (!S_ISREG(a.mode)) return Errno(EINVAL);
  if (c != nullptr) {
    RETURN_IF_ERROR(CheckPermission(*c, a, kMayWrite));
    if (vd.mount->read_only) return Errno(EROFS);
  }
  SetAttrRequest req;
  req.size = static_cast<uint64_t>(length);
  RETURN_IF_ERROR(vd.inode().SetAttr(req));
  NotifyFile(vd.dentry, IN_MODIFY);
  return Ok();
}

// --- Extended attributes (Linux's xattr_permission and the syscalls' checks). ---

namespace {

enum class XattrNs { kUser, kTrusted, kSecurity, kSystem, kUnknown };

constexpr std::string_view kXattrPrefixes[] = {"user.", "trusted.", "security.", "system."};

XattrNs NamespaceOf(std::string_view name) {
  for (size_t i = 0; i < std::size(kXattrPrefixes); ++i) {
    if (name.starts_with(kXattrPrefixes[i])) return static_cast<XattrNs>(i);
  }
  return XattrNs::kUnknown;
}

// A namespace prefix with nothing after it ("user."): xattr_resolve_name's
// EINVAL, once the permission checks have passed.
bool BarePrefix(std::string_view name) {
  for (std::string_view p : kXattrPrefixes) {
    if (name == p) return true;
  }
  return false;
}

// The capability LSM's inode_setxattr and inode_removexattr (writing
// security.* other than security.capability needs CAP_SYS_ADMIN; Linux 6.18
// answers this before the permission bits), Linux's xattr_permission, then
// the bare-prefix EINVAL of the handler lookup.
ErrnoOrOk CheckXattrAccess(const AccessCreds& c, const Attr& a, bool read_only,
                           std::string_view name, int may) {
  if ((may & kMayWrite) && NamespaceOf(name) == XattrNs::kSecurity &&
      name != "security.capability" && !c.cap_sys_admin) {
    return Errno(EPERM);
  }
  RETURN_IF_ERROR(XattrPermission(c, a, read_only, name, may));
  if (BarePrefix(name)) return Errno(EINVAL);
  return Ok();
}

ErrnoOrOk CheckXattrName(std::string_view name) {
  if (name.empty() || name.size() > 255) return Errno(ERANGE);
  return Ok();
}

}  // namespace

// xattr_permission: ENODATA/EPERM answers for what the caller may not see or
// change, then inode_permission.
ErrnoOrOk XattrPermission(const AccessCreds& c, const Attr& a, bool read_only,
                          std::string_view name, int may) {
  switch (NamespaceOf(name)) {
    case XattrNs::kTrusted:
      if (!c.cap_sys_admin) return Errno((may & kMayWrite) ? EPERM : ENODATA);
      return Ok();
    case XattrNs::kUser:
      if (!S_ISREG(a.mode) && !S_ISDIR(a.mode)) {
        return Errno((may & kMayWrite) ? EPERM : ENODATA);
      }
      if (S_ISDIR(a.mode) && (a.mode & S_ISVTX) && (may & kMayWrite) && !OwnerOrCapable(c, a)) {
        return Errno(EPERM);
      }
      break;
    case XattrNs::kSecurity:
      break;
    case XattrNs::kSystem:
    case XattrNs::kUnknown:
      return Errno(EOPNOTSUPP);
  }
  if ((may & kMayWrite) && read_only) return Errno(EROFS);
  return CheckPermission(c, a, may);
}

ErrnoOrOk XattrOnFileWithoutLocation(const AccessCreds& c, const Attr& a, std::string_view name,
                                     int may) {
  RETURN_IF_ERROR(CheckXattrName(name));
  RETURN_IF_ERROR(CheckXattrAccess(c, a, false, name, may));
  return Errno(EOPNOTSUPP);
}

ErrnoOr<std::string> VirtualFilesystem::GetXattr(const AccessCreds& c, const VirtualDentry& vd,
                                                 std::string_view name) {
  RETURN_IF_ERROR(CheckXattrName(name));
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  RETURN_IF_ERROR(CheckXattrAccess(c, a, vd.mount->read_only, name, kMayRead));
  return vd.inode().GetXattr(name);
}

ErrnoOrOk VirtualFilesystem::SetXattr(const AccessCreds& c, const VirtualDentry& vd,
                                      std::string_view name, std::string_view value, int flags) {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckXattrName(name));
  if (value.size() > 65536) return Errno(E2BIG);
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  RETURN_IF_ERROR(CheckXattrAccess(c, a, vd.mount->read_only, name, kMayWrite));
  RETURN_IF_ERROR(vd.inode().SetXattr(name, value, flags));
  NotifyFile(vd.dentry, IN_ATTRIB);
  return Ok();
}

ErrnoOr<std::vector<std::string>> VirtualFilesystem::ListXattr(const AccessCreds& c,
                                                               const VirtualDentry& vd) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, vd.inode().ListXattr());
  // trusted.* only for those who may read them (CAP_SYS_ADMIN).
  if (!c.cap_sys_admin) {
    std::erase_if(names, [](const std::string& n) { return NamespaceOf(n) == XattrNs::kTrusted; });
  }
  return names;
}

ErrnoOrOk VirtualFilesystem::RemoveXattr(const AccessCreds& c, const VirtualDentry& vd,
                                         std::string_view name) {
  RETURN_IF_ERROR(CheckXattrName(name));
  ASSIGN_OR_RETURN(Attr a, vd.inode().GetAttr());
  RETURN_IF_ERROR(CheckXattrAccess(c, a, vd.mount->read_only, name, kMayWrite));
  RETURN_IF_ERROR(vd.inode().RemoveXattr(name));
  NotifyFile(vd.dentry, IN_ATTRIB);
  return Ok();
}

std::string VirtualFilesystem::PathOf(const VirtualDentry& root, const VirtualDentry& vd,
                                      bool* reachable, bool* deleted) {
  absl::MutexLock l(&mu_);
  return PathOfLocked(root, vd, reachable, deleted);
}

std::vector<std::shared_ptr<Mount>> VirtualFilesystem::MountsLocked() const {
  std::vector<std::shared_ptr<Mount>> out = {root_.mount};
  for (const auto& [key, m] : mounts_) out.push_back(m);
  std::sort(out.begin() + 1, out.end(),
            [](const std::shared_ptr<Mount>& a, const std::shared_ptr<Mount>& b) {
              return a->id < b->id;
            });
  return out;
}

std::string VirtualFilesystem::PathOfLocked(const VirtualDentry& root, const VirtualDentry& vd,
                                            bool* reachable, bool* deleted) {
  std::vector<std::string> names;
  VirtualDentry cur = vd;
  bool reached_root = false;
  while (true) {
    if (cur == root) {
      reached_root = true;
      break;
    }
    if (cur.dentry == cur.mount->root) {
      if (cur.mount->internal) {
        reached_root = true;  // shown as if at the root, as Linux does
        break;
      }
      if (cur.mount->parent == nullptr) break;  // the namespace root, not ours
      cur = {cur.mount->parent, cur.mount->mountpoint};
      continue;
    }
    if (cur.dentry->parent_ == nullptr) break;
    names.push_back(cur.dentry->name_);
    cur = {cur.mount, cur.dentry->parent_};
  }
  std::string out = reached_root ? "" : "(unreachable)";
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += "/" + *it;
  if (out.empty() || out == "(unreachable)") out += "/";
  if (reachable != nullptr) *reachable = reached_root;
  const bool is_deleted = vd.dentry->dead_;
  if (deleted != nullptr) *deleted = is_deleted;
  if (is_deleted) out += " (deleted)";
  return out;
}

uint64_t NewAnonDev() {
  static std::atomic<uint32_t> next_minor{16};
  const uint32_t minor = next_minor.fetch_add(1, std::memory_order_relaxed);
  return makedev(0, minor);
}

}  // namespace sentry::vfs
