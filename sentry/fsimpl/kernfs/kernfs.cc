#include "sentry/fsimpl/kernfs/kernfs.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/directory_fd.h"

namespace sentry::fsimpl::kernfs {
namespace {

constexpr size_t kMaxWriteCopy = 4096;

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace

// --- SyntheticFilesystem ---

SyntheticFilesystem::SyntheticFilesystem(std::string name, int64_t magic, uint32_t blksize)
    : name_(std::move(name)), magic_(magic), blksize_(blksize), dev_(tmpfs::NewAnonDev()) {}

ErrnoOr<struct statfs> SyntheticFilesystem::StatFS() {
  struct statfs s = {};
  s.f_type = magic_;
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  s.f_namelen = 255;
  return s;
}

// --- SyntheticInode ---

SyntheticInode::SyntheticInode(SyntheticFilesystem& fs, uint64_t ino, uint32_t mode)
    : Inode(fs), sfs_(fs), ino_(ino), mode_(mode) {
  atime_ = mtime_ = ctime_ = Now();
}

ErrnoOr<vfs::Attr> SyntheticInode::GetAttr() {
  vfs::Attr a;
  a.ino = ino_;
  a.mode = Mode();
  a.nlink = Nlink();
  const vfs::Owner o = Owner();
  a.uid = o.uid;
  a.gid = o.gid;
  a.size = Size();
  a.blksize = sfs_.blksize();
  absl::MutexLock l(&mu_);
  a.atime = atime_;
  a.mtime = mtime_;
  a.ctime = a.btime = ctime_;
  return a;
}

ErrnoOrOk SyntheticInode::SetAttr(const vfs::SetAttrRequest& req) {
  if (req.mode || req.uid || req.gid) return Errno(EPERM);
  absl::MutexLock l(&mu_);
  if (req.atime) atime_ = *req.atime;
  if (req.mtime) mtime_ = *req.mtime;
  ctime_ = Now();
  return Ok();
}

// --- Directories ---

Directory::Directory(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm, uint64_t parent_ino)
    : SyntheticInode(fs, ino, S_IFDIR | (perm & 07777)), parent_ino_(parent_ino) {}

ErrnoOrOk Directory::IterateDir(int64_t offset, const vfs::DirEntrySink& sink) {
  if (offset < 1 && !sink({".", ino(), DT_DIR, 1})) return Ok();
  if (offset < 2 && !sink({"..", parent_ino_, DT_DIR, 2})) return Ok();
  ASSIGN_OR_RETURN(std::vector<Entry> entries, List());
  for (const Entry& e : entries) {
    if (e.pos < offset) continue;
    if (!sink({e.name, e.ino, e.type, e.pos + 1})) break;
  }
  return Ok();
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> Directory::Open(const vfs::VirtualDentry&,
                                                               int flags) {
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<vfs::DirectoryFD>(shared_from_this(), flags, "kernfs"));
}

void StaticDirectory::Add(std::string name, std::shared_ptr<vfs::Inode> child) {
  index_[name] = children_.size();
  children_.emplace_back(std::move(name), std::move(child));
}

ErrnoOr<std::shared_ptr<vfs::Inode>> StaticDirectory::LookupStatic(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return Errno(ENOENT);
  return children_[it->second].second;
}

ErrnoOr<std::shared_ptr<vfs::Inode>> StaticDirectory::Lookup(std::string_view name) {
  return LookupStatic(name);
}

std::vector<Directory::Entry> StaticDirectory::StaticEntries() const {
  std::vector<Entry> out;
  out.reserve(children_.size());
  for (size_t i = 0; i < children_.size(); ++i) {
    auto a = children_[i].second->GetAttr();
    if (!a.ok()) continue;
    out.push_back(
        {children_[i].first, a->ino, vfs::DirentType(a->mode), static_cast<int64_t>(i) + 2});
  }
  return out;
}

ErrnoOr<std::vector<Directory::Entry>> StaticDirectory::List() { return StaticEntries(); }

uint64_t StaticDirectory::Nlink() const {
  uint64_t n = 2;
  for (const auto& [name, child] : children_) {
    auto a = child->GetAttr();
    if (a.ok() && S_ISDIR(a->mode)) ++n;
  }
  return n;
}

// --- Generated files ---

GeneratedFile::GeneratedFile(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm,
                             Generator generate, Writer write, bool deny_write_open)
    : SyntheticInode(fs, ino, S_IFREG | (perm & 07777)),
      generate_(std::move(generate)),
      write_(std::move(write)),
      deny_write_open_(deny_write_open) {}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> GeneratedFile::Open(const vfs::VirtualDentry&,
                                                                   int flags) {
  const int acc = flags & O_ACCMODE;
  const bool reading = acc == O_RDONLY || acc == O_RDWR;
  const bool writing = acc == O_WRONLY || acc == O_RDWR;
  if (writing && write_ == nullptr && deny_write_open_) return Errno(EACCES);
  std::string data;
  if (reading) {
    ASSIGN_OR_RETURN(data, generate_());
  }
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<SnapshotFD>(std::move(data), write_, flags));
}

std::shared_ptr<GeneratedFile> ConstantFile(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm,
                                            std::string text) {
  return std::make_shared<GeneratedFile>(
      fs, ino, perm, [text = std::move(text)]() -> ErrnoOr<std::string> { return text; });
}

Symlink::Symlink(SyntheticFilesystem& fs, uint64_t ino, Target target, uint32_t perm)
    : SyntheticInode(fs, ino, S_IFLNK | (perm & 07777)), target_(std::move(target)) {}

// --- SnapshotFD ---

ErrnoOr<size_t> SnapshotFD::Readv(kernel::Task*, std::span<const iovec> dst, int64_t offset) {
  if ((status_flags() & O_ACCMODE) == O_WRONLY) return Errno(EBADF);
  auto copy = [&](int64_t pos) {
    size_t done = 0;
    if (pos < 0 || static_cast<uint64_t>(pos) >= data_.size()) return done;
    size_t at = static_cast<size_t>(pos);
    for (const iovec& v : dst) {
      const size_t n = std::min(v.iov_len, data_.size() - at);
      std::memcpy(v.iov_base, data_.data() + at, n);
      at += n;
      done += n;
      if (at == data_.size()) break;
    }
    return done;
  };
  if (offset >= 0) return copy(offset);
  absl::MutexLock l(&mu_);
  const size_t n = copy(offset_);
  offset_ += static_cast<int64_t>(n);
  return n;
}

ErrnoOr<size_t> SnapshotFD::Writev(kernel::Task*, std::span<const iovec> src, int64_t) {
  if ((status_flags() & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
  if (write_ == nullptr) return Errno(EINVAL);
  // The guest decides the length: never copy more than a page of it.
  std::string head;
  size_t total = 0;
  for (const iovec& v : src) {
    const size_t take = std::min(v.iov_len, kMaxWriteCopy - head.size());
    head.append(static_cast<const char*>(v.iov_base), take);
    total += v.iov_len;
  }
  return write_(head, total);
}

ErrnoOr<struct stat> SnapshotFD::Stat() {
  if (!location().ok()) return Errno(EBADF);
  ASSIGN_OR_RETURN(vfs::Attr a, location().inode().GetAttr());
  return vfs::AttrToStat(a, location().inode().fs().Dev());
}

ErrnoOr<int64_t> SnapshotFD::Seek(int64_t offset, int whence) {
  absl::MutexLock l(&mu_);
  if (whence == SEEK_CUR) {
    if (__builtin_add_overflow(offset_, offset, &offset)) return Errno(EINVAL);
  } else if (whence != SEEK_SET) {
    return Errno(EINVAL);
  }
  if (offset < 0) return Errno(EINVAL);
  offset_ = offset;
  return offset;
}

}  // namespace sentry::fsimpl::kernfs
