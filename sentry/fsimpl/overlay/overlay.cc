#include "sentry/fsimpl/overlay/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::overlay {
namespace {

using vfs::Attr;
using vfs::Inode;

constexpr uint64_t kOverlayMagic = 0x794c7630;  // OVERLAYFS_SUPER_MAGIC
// Inode numbers of files that exist only above: kept apart from the lower
// filesystem's (Linux's xino does the same with high bits).
constexpr uint64_t kUpperInoBit = uint64_t{1} << 62;

bool IsDir(const Attr& a) { return S_ISDIR(a.mode); }

bool IsWhiteout(Inode& i) {
  auto a = i.GetAttr();
  return a.ok() && S_ISCHR(a->mode) && a->rdev == 0;
}

class OverlayInode;

// The open description of a non-directory: the layer's own, with the
// overlay's attributes (so fstat agrees with stat).
class OverlayFileFD : public vfs::FileDescription {
 public:
  OverlayFileFD(std::shared_ptr<vfs::FileDescription> inner, std::shared_ptr<Inode> inode,
                int flags)
      : FileDescription(flags), inner_(std::move(inner)), inode_(std::move(inode)) {}
  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t off) override {
    return inner_->Readv(t, dst, off);
  }
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t off) override {
    return inner_->Writev(t, src, off);
  }
  bool HostCopies() const override { return inner_->HostCopies(); }
  bool Seekable() const override { return inner_->Seekable(); }
  ErrnoOr<struct stat> Stat() override {
    ASSIGN_OR_RETURN(Attr a, inode_->GetAttr());
    return vfs::AttrToStat(a, inode_->fs().Dev());
  }
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override {
    return inner_->Ioctl(t, cmd, arg);
  }
  std::string Describe() const override { return inner_->Describe(); }
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override {
    return inner_->Seek(offset, whence);
  }
  ErrnoOrOk Sync() override { return inner_->Sync(); }
  ErrnoOrOk Allocate(int mode, uint64_t offset, uint64_t length) override {
    return inner_->Allocate(mode, offset, length);
  }
  std::shared_ptr<memory::Mappable> Mappable() override { return inner_->Mappable(); }
  void set_status_flags(int f) override {
    FileDescription::set_status_flags(f);
    inner_->set_status_flags(f);
  }

 private:
  std::shared_ptr<vfs::FileDescription> inner_;
  std::shared_ptr<Inode> inode_;
};

// A directory's merged listing, taken when it is first read (and again after
// a seek to 0), as Linux's overlayfs caches it per open directory.
struct MergedEntry {
  std::string name;
  uint64_t ino;
  uint8_t type;
};

class OverlayInode : public Inode {
 public:
  OverlayInode(OverlayFilesystem& fs, std::shared_ptr<Inode> upper, std::shared_ptr<Inode> lower,
               std::shared_ptr<OverlayInode> parent, std::string name)
      : Inode(fs),
        ofs_(fs),
        lower_(std::move(lower)),
        upper_(std::move(upper)),
        parent_(std::move(parent)),
        name_(std::move(name)) {
    if (lower_ != nullptr) {
      auto a = lower_->GetAttr();
      ino_ = a.ok() ? a->ino : 0;
    } else {
      auto a = upper_->GetAttr();
      ino_ = (a.ok() ? a->ino : 0) | kUpperInoBit;
    }
  }

  std::shared_ptr<Inode> upper() const {
    absl::MutexLock l(&mu_);
    return upper_;
  }
  const std::shared_ptr<Inode>& lower() const { return lower_; }
  // The layer that answers for this file now.
  std::shared_ptr<Inode> top() const {
    auto u = upper();
    return u ? u : lower_;
  }
  bool opaque() const {
    absl::MutexLock l(&mu_);
    return opaque_;
  }

  ErrnoOr<Attr> GetAttr() override {
    // One look at the copy-up state (every path walk through here asks).
    std::shared_ptr<Inode> up;
    bool opaque;
    {
      absl::MutexLock l(&mu_);
      up = upper_;
      opaque = opaque_;
    }
    ASSIGN_OR_RETURN(Attr a, up != nullptr ? up->GetAttr() : lower_->GetAttr());
    // A merged directory looks like the lower one (its size and link count
    // count the lower entries), with the owner and mode it has above, and
    // the upper times once they are newer (entries made or removed above).
    if (lower_ != nullptr && up != nullptr && !opaque && S_ISDIR(a.mode)) {
      ASSIGN_OR_RETURN(Attr l, lower_->GetAttr());
      auto newer = [](const timespec& x, const timespec& y) {
        return x.tv_sec != y.tv_sec ? x.tv_sec > y.tv_sec : x.tv_nsec > y.tv_nsec;
      };
      if (!newer(a.mtime, l.mtime)) {
        a.mtime = l.mtime;
        a.ctime = l.ctime;
        a.atime = l.atime;
      }
      a.size = l.size;
      a.blocks = l.blocks;
      a.nlink = l.nlink;
    }
    a.ino = ino_;
    return a;
  }
  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override {
    RETURN_IF_ERROR(CopyUp());
    return upper()->SetAttr(req);
  }
  bool Valid() override { return lower_ == nullptr || lower_->Valid(); }
  // A socket file of the layer that answers for it (a copied-up one has no
  // host socket behind it, as on Linux's overlayfs).
  ErrnoOr<int> ConnectHostSocket(int type) override { return top()->ConnectHostSocket(type); }
  // Only a purely lower file may be looked up afresh: an upper one carries its
  // copy-up origin (inode number) and opaqueness in this object.
  bool Evictable() override { return upper() == nullptr; }

  ErrnoOr<std::shared_ptr<Inode>> Lookup(std::string_view name) override {
    return LookupImpl(name, /*to_read=*/false);
  }
  // The lower layer's lookup carries the intent (a lower file is opened
  // there, read-only: no copy-up).
  ErrnoOr<std::shared_ptr<Inode>> LookupToRead(std::string_view name) override {
    return LookupImpl(name, /*to_read=*/true);
  }
  ErrnoOr<std::shared_ptr<Inode>> LookupImpl(std::string_view name, bool to_read);
  // A name that is only in the lower layer has nothing above it, and neither
  // has anything below it: the lower layer looks the names up at once.
  ErrnoOr<std::shared_ptr<Inode>> LookupAhead(std::span<const std::string_view> names,
                                              bool read_last,
                                              std::vector<std::shared_ptr<Inode>>* ahead) override;
  ErrnoOr<std::shared_ptr<Inode>> Create(std::string_view name, uint32_t mode,
                                         const vfs::Owner& owner) override {
    return MakeChild(name, [&](Inode& dir) { return dir.Create(name, mode, owner); });
  }
  ErrnoOr<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                        const vfs::Owner& owner) override {
    return MakeChild(name, [&](Inode& dir) { return dir.Mkdir(name, mode, owner); });
  }
  ErrnoOr<std::shared_ptr<Inode>> CreateTmpfile(uint32_t mode, const vfs::Owner& owner) override {
    RETURN_IF_ERROR(CopyUp());
    ASSIGN_OR_RETURN(std::shared_ptr<Inode> u, upper()->CreateTmpfile(mode, owner));
    return std::shared_ptr<Inode>(std::make_shared<OverlayInode>(ofs_, u, nullptr, Self(), ""));
  }
  ErrnoOr<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t rdev,
                                        const vfs::Owner& owner) override {
    return MakeChild(name, [&](Inode& dir) { return dir.Mknod(name, mode, rdev, owner); });
  }
  ErrnoOr<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                          const vfs::Owner& owner) override {
    return MakeChild(name, [&](Inode& dir) { return dir.Symlink(name, target, owner); });
  }
  ErrnoOrOk Link(std::string_view name, const std::shared_ptr<Inode>& target) override;
  ErrnoOrOk Unlink(std::string_view name, Inode& child) override {
    return Remove(name, static_cast<OverlayInode&>(child), false);
  }
  ErrnoOrOk Rmdir(std::string_view name, Inode& child) override {
    return Remove(name, static_cast<OverlayInode&>(child), true);
  }
  ErrnoOrOk Rename(std::string_view name, Inode& new_dir, std::string_view new_name,
                   Inode* replaced, unsigned flags) override;
  ErrnoOrOk IterateDir(int64_t offset, const vfs::DirEntrySink& sink) override {
    ASSIGN_OR_RETURN(std::vector<MergedEntry> entries, Merged());
    for (size_t i = static_cast<size_t>(std::max<int64_t>(offset, 0)); i < entries.size(); ++i) {
      if (!sink({entries[i].name, entries[i].ino, entries[i].type, static_cast<int64_t>(i + 1)})) {
        break;
      }
    }
    return Ok();
  }
  ErrnoOr<std::string> Readlink() override { return top()->Readlink(); }
  ErrnoOr<std::string> GetXattr(std::string_view name) override { return top()->GetXattr(name); }
  ErrnoOrOk SetXattr(std::string_view name, std::string_view value, int flags) override {
    RETURN_IF_ERROR(CopyUp());
    return upper()->SetXattr(name, value, flags);
  }
  ErrnoOr<std::vector<std::string>> ListXattr() override { return top()->ListXattr(); }
  ErrnoOrOk RemoveXattr(std::string_view name) override {
    RETURN_IF_ERROR(CopyUp());
    return upper()->RemoveXattr(name);
  }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

  // "." and "..", then the upper entries, then the lower ones not hidden.
  ErrnoOr<std::vector<MergedEntry>> Merged();
  // Copies this file (and its parents) up, if it is not there already.
  ErrnoOrOk CopyUp();

 private:
  // Creates `name` in the upper directory with `make`, replacing a whiteout
  // (the new directory is then opaque).
  template <typename F>
  ErrnoOr<std::shared_ptr<Inode>> MakeChild(std::string_view name, F make);
  ErrnoOrOk Remove(std::string_view name, OverlayInode& child, bool dir);
  // The upper entry of `name` in this (copied-up) directory, if any.
  std::shared_ptr<Inode> UpperEntry(std::string_view name) {
    auto u = upper();
    if (u == nullptr) return nullptr;
    auto r = u->Lookup(name);
    return r.ok() ? *r : nullptr;
  }
  // Removes the whiteouts an upper directory holds, so that it can go.
  ErrnoOrOk ClearWhiteouts(Inode& upper_dir);
  std::shared_ptr<OverlayInode> Self() {
    return std::static_pointer_cast<OverlayInode>(shared_from_this());
  }
  void Forget(std::string_view name) {
    absl::MutexLock l(&mu_);
    children_.erase(std::string(name));
  }
  void Remember(std::string_view name, const std::shared_ptr<OverlayInode>& c) {
    absl::MutexLock l(&mu_);
    children_[std::string(name)] = c;
  }

  OverlayFilesystem& ofs_;
  const std::shared_ptr<Inode> lower_;
  uint64_t ino_ = 0;
  mutable absl::Mutex mu_;
  std::shared_ptr<Inode> upper_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<OverlayInode> parent_ ABSL_GUARDED_BY(mu_);  // null for the root
  std::string name_ ABSL_GUARDED_BY(mu_);
  bool opaque_ ABSL_GUARDED_BY(mu_) = false;
  // The live child objects, so that every lookup of a name gets the same one.
  std::map<std::string, std::weak_ptr<OverlayInode>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

// A directory's open description: the merged listing, snapshotted.
class OverlayDirFD : public vfs::FileDescription {
 public:
  OverlayDirFD(std::shared_ptr<OverlayInode> dir, int flags)
      : FileDescription(flags), dir_(std::move(dir)) {}
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EISDIR);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  bool Seekable() const override { return true; }
  ErrnoOr<struct stat> Stat() override {
    ASSIGN_OR_RETURN(Attr a, dir_->GetAttr());
    return vfs::AttrToStat(a, dir_->fs().Dev());
  }
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return "overlay dir"; }
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override {
    absl::MutexLock l(&mu_);
    if (whence == SEEK_CUR) {
      if (__builtin_add_overflow(pos_, offset, &offset)) return Errno(EINVAL);
    } else if (whence != SEEK_SET) {
      return Errno(EINVAL);
    }
    if (offset < 0) return Errno(EINVAL);
    if (offset == 0) snapshot_.reset();
    pos_ = offset;
    return offset;
  }
  ErrnoOrOk IterateDir(const vfs::DirEntrySink& sink) override {
    absl::MutexLock l(&mu_);
    if (!snapshot_) {
      ASSIGN_OR_RETURN(auto entries, dir_->Merged());
      snapshot_ = std::make_unique<std::vector<MergedEntry>>(std::move(entries));
    }
    for (size_t i = static_cast<size_t>(pos_); i < snapshot_->size(); ++i) {
      const MergedEntry& e = (*snapshot_)[i];
      if (!sink({e.name, e.ino, e.type, static_cast<int64_t>(i + 1)})) break;
      pos_ = static_cast<int64_t>(i + 1);
    }
    return Ok();
  }

 private:
  std::shared_ptr<OverlayInode> dir_;
  absl::Mutex mu_;
  int64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<std::vector<MergedEntry>> snapshot_ ABSL_GUARDED_BY(mu_);
};

ErrnoOr<std::shared_ptr<Inode>> OverlayInode::LookupImpl(std::string_view name, bool to_read) {
  {
    absl::MutexLock l(&mu_);
    auto it = children_.find(name);
    if (it != children_.end()) {
      if (auto c = it->second.lock()) return std::shared_ptr<Inode>(c);
      children_.erase(it);
    }
  }
  std::shared_ptr<Inode> u, lo;
  if (auto up = upper()) {
    auto r = up->Lookup(name);
    if (r.ok()) {
      if (IsWhiteout(**r)) return Errno(ENOENT);
      u = *r;
    } else if (r.error().value() != ENOENT) {
      return r.error();
    }
  }
  bool u_is_dir = false;
  if (u) {
    ASSIGN_OR_RETURN(Attr ua, u->GetAttr());
    u_is_dir = IsDir(ua);
  }
  if (lower_ && !opaque() && (!u || u_is_dir)) {
    auto r = to_read && !u ? lower_->LookupToRead(name) : lower_->Lookup(name);
    if (r.ok()) {
      ASSIGN_OR_RETURN(Attr la, (*r)->GetAttr());
      // Below an upper directory, only a directory merges with it.
      if (!u || IsDir(la)) lo = *r;
    } else if (r.error().value() != ENOENT && r.error().value() != ENOTDIR) {
      return r.error();
    }
  }
  if (!u && !lo) return Errno(ENOENT);
  auto child = std::make_shared<OverlayInode>(ofs_, u, lo, Self(), std::string(name));
  Remember(name, child);
  return std::shared_ptr<Inode>(child);
}

ErrnoOr<std::shared_ptr<Inode>> OverlayInode::LookupAhead(
    std::span<const std::string_view> names, bool read_last,
    std::vector<std::shared_ptr<Inode>>* ahead) {
  if (names.size() < 2 || lower_ == nullptr || opaque()) {
    return Inode::LookupAhead(names, read_last, ahead);
  }
  if (auto up = upper()) {
    // A name above (a whiteout too) is looked up alone, as ever.
    auto r = up->Lookup(names[0]);
    if (r.ok() || r.error().value() != ENOENT) return Inode::LookupAhead(names, read_last, ahead);
  }
  {
    absl::MutexLock l(&mu_);
    auto it = children_.find(names[0]);
    if (it != children_.end()) {
      if (auto c = it->second.lock()) return std::shared_ptr<Inode>(c);
      children_.erase(it);
    }
  }
  std::vector<std::shared_ptr<Inode>> lower_ahead;
  auto lo = lower_->LookupAhead(names, read_last, &lower_ahead);
  if (!lo.ok()) return lo.error().value() == ENOTDIR ? Errno(ENOENT) : lo.error();
  auto child = std::make_shared<OverlayInode>(ofs_, nullptr, *lo, Self(), std::string(names[0]));
  Remember(names[0], child);
  std::shared_ptr<OverlayInode> dir = child;
  for (size_t i = 0; i < lower_ahead.size() && i + 1 < names.size(); ++i) {
    auto c = std::make_shared<OverlayInode>(ofs_, nullptr, std::move(lower_ahead[i]), dir,
                                            std::string(names[i + 1]));
    dir->Remember(names[i + 1], c);
    ahead->push_back(c);
    dir = std::move(c);
  }
  return std::shared_ptr<Inode>(child);
}

ErrnoOr<std::vector<MergedEntry>> OverlayInode::Merged() {
  std::vector<MergedEntry> out;
  std::shared_ptr<OverlayInode> parent;
  {
    absl::MutexLock l(&mu_);
    parent = parent_;
  }
  ASSIGN_OR_RETURN(Attr self, GetAttr());
  uint64_t parent_ino = self.ino;
  if (parent) {
    ASSIGN_OR_RETURN(Attr pa, parent->GetAttr());
    parent_ino = pa.ino;
  }
  out.push_back({".", self.ino, DT_DIR});
  out.push_back({"..", parent_ino, DT_DIR});
  std::set<std::string, std::less<>> seen;
  auto collect = [&](Inode& layer, bool is_upper) -> ErrnoOrOk {
    // Entries first, then the whiteout checks (a layer may hold its own lock
    // while it lists).
    std::vector<MergedEntry> found;
    RETURN_IF_ERROR(layer.IterateDir(0, [&](const vfs::DirEntry& e) {
      if (e.name != "." && e.name != "..") found.push_back({std::string(e.name), e.ino, e.type});
      return true;
    }));
    for (MergedEntry& e : found) {
      if (seen.count(e.name)) continue;
      seen.emplace(e.name);
      // Whiteouts hide the lower name and are not shown.
      if (is_upper && e.type == DT_CHR) {
        auto c = layer.Lookup(e.name);
        if (c.ok() && IsWhiteout(**c)) continue;
      }
      if (is_upper) e.ino |= kUpperInoBit;
      out.push_back(std::move(e));
    }
    return Ok();
  };
  if (auto up = upper()) RETURN_IF_ERROR(collect(*up, true));
  if (lower_ && !opaque()) RETURN_IF_ERROR(collect(*lower_, false));
  // Upper entries get the inode number stat gives: the live object's, else
  // the lower directory's they merge with, else their own with the upper bit.
  for (MergedEntry& e : out) {
    if (!(e.ino & kUpperInoBit)) continue;
    {
      absl::MutexLock l(&mu_);
      auto it = children_.find(e.name);
      if (it != children_.end()) {
        if (auto c = it->second.lock()) {
          e.ino = c->ino_;
          continue;
        }
      }
    }
    if (e.type == DT_DIR && lower_ && !opaque()) {
      auto lc = lower_->Lookup(e.name);
      if (lc.ok()) {
        auto la = (*lc)->GetAttr();
        if (la.ok() && IsDir(*la)) e.ino = la->ino;
      }
    }
  }
  return out;
}

ErrnoOrOk OverlayInode::CopyUp() {
  if (upper() != nullptr) return Ok();
  std::shared_ptr<OverlayInode> parent;
  std::string name;
  {
    absl::MutexLock l(&mu_);
    parent = parent_;
    name = name_;
  }
  if (parent == nullptr) return Errno(EIO);  // the root always has an upper layer
  RETURN_IF_ERROR(parent->CopyUp());
  absl::MutexLock copy(&ofs_.copy_up_mu());
  if (upper() != nullptr) return Ok();
  ASSIGN_OR_RETURN(Attr a, lower_->GetAttr());
  const vfs::Owner owner{a.uid, a.gid};
  std::shared_ptr<Inode> pu = parent->upper();
  std::shared_ptr<Inode> u;
  if (S_ISDIR(a.mode)) {
    ASSIGN_OR_RETURN(u, pu->Mkdir(name, a.mode, owner));
  } else if (S_ISLNK(a.mode)) {
    ASSIGN_OR_RETURN(std::string target, lower_->Readlink());
    ASSIGN_OR_RETURN(u, pu->Symlink(name, target, owner));
  } else if (S_ISREG(a.mode)) {
    ASSIGN_OR_RETURN(u, pu->Create(name, a.mode, owner));
    // The data, through the layers' own files.
    auto fail = [&](Errno e) -> ErrnoOrOk {
      (void)pu->Unlink(name, *u);
      return e;
    };
    auto in = lower_->Open(vfs::VirtualDentry{}, O_RDONLY);
    if (!in.ok()) return fail(in.error());
    auto out = u->Open(vfs::VirtualDentry{}, O_WRONLY);
    if (!out.ok()) return fail(out.error());
    std::vector<uint8_t> buf(64 * 1024);
    for (uint64_t off = 0; off < a.size;) {
      iovec v{buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), a.size - off))};
      auto n = (*in)->Readv(nullptr, {&v, 1}, static_cast<int64_t>(off));
      if (!n.ok()) return fail(n.error());
      if (*n == 0) break;
      iovec w{buf.data(), *n};
      auto m = (*out)->Writev(nullptr, {&w, 1}, static_cast<int64_t>(off));
      if (!m.ok()) return fail(m.error());
      off += *n;
    }
  } else {
    ASSIGN_OR_RETURN(u, pu->Mknod(name, a.mode, a.rdev, owner));
  }
  vfs::SetAttrRequest times;
  times.mode = a.mode & 07777;
  times.atime = a.atime;
  times.mtime = a.mtime;
  (void)u->SetAttr(times);
  // Extended attributes the lower file has (where both layers keep them).
  if (auto names = lower_->ListXattr(); names.ok()) {
    for (const std::string& n : *names) {
      if (auto v = lower_->GetXattr(n); v.ok()) (void)u->SetXattr(n, *v, 0);
    }
  }
  absl::MutexLock l(&mu_);
  upper_ = std::move(u);
  return Ok();
}

template <typename F>
ErrnoOr<std::shared_ptr<Inode>> OverlayInode::MakeChild(std::string_view name, F make) {
  RETURN_IF_ERROR(CopyUp());
  std::shared_ptr<Inode> up = upper();
  bool replaced_whiteout = false;
  if (auto old = UpperEntry(name); old && IsWhiteout(*old)) {
    RETURN_IF_ERROR(up->Unlink(name, *old));
    replaced_whiteout = true;
  }
  ErrnoOr<std::shared_ptr<Inode>> made = make(*up);
  if (!made.ok()) return made.error();
  auto child = std::make_shared<OverlayInode>(ofs_, *made, nullptr, Self(), std::string(name));
  if (replaced_whiteout) {
    absl::MutexLock l(&child->mu_);
    child->opaque_ = true;
  }
  Remember(name, child);
  return std::shared_ptr<Inode>(child);
}

ErrnoOrOk OverlayInode::Link(std::string_view name, const std::shared_ptr<Inode>& target) {
  auto* t = dynamic_cast<OverlayInode*>(target.get());
  if (t == nullptr) return Errno(EXDEV);
  RETURN_IF_ERROR(t->CopyUp());
  RETURN_IF_ERROR(CopyUp());
  std::shared_ptr<Inode> up = upper();
  if (auto old = UpperEntry(name); old && IsWhiteout(*old)) RETURN_IF_ERROR(up->Unlink(name, *old));
  return up->Link(name, t->upper());
}

ErrnoOrOk OverlayInode::ClearWhiteouts(Inode& upper_dir) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(upper_dir.IterateDir(0, [&](const vfs::DirEntry& e) {
    if (e.name != "." && e.name != "..") names.emplace_back(e.name);
    return true;
  }));
  for (const std::string& n : names) {
    ASSIGN_OR_RETURN(std::shared_ptr<Inode> c, upper_dir.Lookup(n));
    if (!IsWhiteout(*c)) return Errno(ENOTEMPTY);
    RETURN_IF_ERROR(upper_dir.Unlink(n, *c));
  }
  return Ok();
}

ErrnoOrOk OverlayInode::Remove(std::string_view name, OverlayInode& child, bool dir) {
  if (dir) {
    ASSIGN_OR_RETURN(std::vector<MergedEntry> entries, child.Merged());
    if (entries.size() > 2) return Errno(ENOTEMPTY);
  }
  RETURN_IF_ERROR(CopyUp());
  std::shared_ptr<Inode> up = upper();
  if (auto cu = child.upper()) {
    if (dir) {
      RETURN_IF_ERROR(ClearWhiteouts(*cu));
      RETURN_IF_ERROR(up->Rmdir(name, *cu));
    } else {
      RETURN_IF_ERROR(up->Unlink(name, *cu));
    }
  }
  if (child.lower()) {
    // Hide what is below.
    RETURN_IF_ERROR(up->Mknod(name, S_IFCHR, 0, vfs::Owner{0, 0}));
  }
  Forget(name);
  return Ok();
}

ErrnoOrOk OverlayInode::Rename(std::string_view name, Inode& new_dir_inode,
                               std::string_view new_name, Inode* replaced, unsigned flags) {
  auto& nd = static_cast<OverlayInode&>(new_dir_inode);
  ASSIGN_OR_RETURN(std::shared_ptr<Inode> src_inode, Lookup(name));
  auto src = std::static_pointer_cast<OverlayInode>(src_inode);
  auto* rep = static_cast<OverlayInode*>(replaced);
  ASSIGN_OR_RETURN(Attr sa, src->GetAttr());
  // Without Linux's redirect_dir, a directory with lower content cannot move
  // (EXDEV: mv copies instead); exchanges are only between upper files.
  if (IsDir(sa) && src->lower()) return Errno(EXDEV);
  if ((flags & RENAME_EXCHANGE) && (src->lower() || (rep && rep->lower()))) return Errno(EXDEV);
  if (rep) {
    ASSIGN_OR_RETURN(Attr ra, rep->GetAttr());
    if (IsDir(ra) && !(flags & RENAME_EXCHANGE)) {
      ASSIGN_OR_RETURN(std::vector<MergedEntry> entries, rep->Merged());
      if (entries.size() > 2) return Errno(ENOTEMPTY);
      if (auto ru = rep->upper()) RETURN_IF_ERROR(ClearWhiteouts(*ru));
    }
  }
  RETURN_IF_ERROR(src->CopyUp());
  RETURN_IF_ERROR(CopyUp());
  RETURN_IF_ERROR(nd.CopyUp());
  std::shared_ptr<Inode> up = upper(), nup = nd.upper();
  // What the upper rename replaces: the target's upper entry, or a whiteout
  // (removed first: the name is free in the merged view).
  std::shared_ptr<Inode> upper_replaced = nd.UpperEntry(new_name);
  bool over_whiteout = false;
  if (upper_replaced && IsWhiteout(*upper_replaced)) {
    RETURN_IF_ERROR(nup->Unlink(new_name, *upper_replaced));
    upper_replaced.reset();
    over_whiteout = true;
  }
  RETURN_IF_ERROR(up->Rename(name, *nup, new_name, upper_replaced.get(), flags));
  const bool hide_old = src->lower() != nullptr;
  if (hide_old && !(flags & RENAME_EXCHANGE)) {
    RETURN_IF_ERROR(up->Mknod(name, S_IFCHR, 0, vfs::Owner{0, 0}));
  }
  // A directory now standing where a lower directory was must hide it.
  if (IsDir(sa) && ((rep && rep->lower()) || over_whiteout) && !(flags & RENAME_EXCHANGE)) {
    absl::MutexLock l(&src->mu_);
    src->opaque_ = true;
  }
  Forget(name);
  nd.Forget(new_name);
  {
    absl::MutexLock l(&src->mu_);
    src->parent_ = nd.Self();
    src->name_ = std::string(new_name);
  }
  nd.Remember(new_name, src);
  if ((flags & RENAME_EXCHANGE) && rep) {
    auto other = std::static_pointer_cast<OverlayInode>(rep->shared_from_this());
    {
      absl::MutexLock l(&other->mu_);
      other->parent_ = Self();
      other->name_ = std::string(name);
    }
    Remember(name, other);
  }
  return Ok();
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> OverlayInode::Open(const vfs::VirtualDentry& vd,
                                                                  int flags) {
  ASSIGN_OR_RETURN(Attr a, GetAttr());
  if (IsDir(a)) {
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<OverlayDirFD>(Self(), flags));
  }
  // A FIFO is its layer's pipe, opened for I/O without a copy-up (as Linux's
  // overlayfs leaves special files to their own file operations).
  if (S_ISFIFO(a.mode)) return top()->Open(vd, flags);
  const int acc = flags & O_ACCMODE;
  if (acc != O_RDONLY || (flags & O_TRUNC)) RETURN_IF_ERROR(CopyUp());
  ASSIGN_OR_RETURN(std::shared_ptr<vfs::FileDescription> inner, top()->Open(vd, flags));
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<OverlayFileFD>(std::move(inner), shared_from_this(), flags));
}

}  // namespace

OverlayFilesystem::OverlayFilesystem(std::shared_ptr<vfs::Filesystem> lower,
                                     std::shared_ptr<vfs::Filesystem> upper)
    : lower_(std::move(lower)), upper_(std::move(upper)), dev_(tmpfs::NewAnonDev()) {}

std::shared_ptr<OverlayFilesystem> OverlayFilesystem::Create(
    std::shared_ptr<vfs::Filesystem> lower, std::shared_ptr<vfs::Filesystem> upper) {
  auto fs = std::shared_ptr<OverlayFilesystem>(new OverlayFilesystem(lower, upper));
  fs->root_ = std::make_shared<OverlayInode>(*fs, upper->Root(), lower->Root(), nullptr, "/");
  // The root's attributes are the lower root's.
  auto a = lower->Root()->GetAttr();
  if (a.ok()) {
    vfs::SetAttrRequest req;
    req.mode = a->mode & 07777;
    req.uid = a->uid;
    req.gid = a->gid;
    (void)upper->Root()->SetAttr(req);
  }
  return fs;
}

ErrnoOr<struct statfs> OverlayFilesystem::StatFS() {
  ASSIGN_OR_RETURN(struct statfs s, upper_->StatFS());
  s.f_type = kOverlayMagic;
  return s;
}

}  // namespace sentry::fsimpl::overlay
