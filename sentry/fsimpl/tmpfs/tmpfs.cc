#include "sentry/fsimpl/tmpfs/tmpfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/status_macros.h"
#include "sentry/base/user_addr.h"
#include "sentry/fsimpl/dev/devices.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/vfs/directory_fd.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::tmpfs {
namespace {

using vfs::Attr;
using vfs::Inode;
using vfs::Owner;

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020  // Linux 6.3; newer than Debian 12's headers
#endif

// Linux's MAX_LFS_FILESIZE.
constexpr uint64_t kMaxFileSize = uint64_t{INT64_MAX};

class TmpfsInode : public Inode {
 public:
  TmpfsInode(TmpfsFilesystem& fs, uint32_t mode, const Owner& owner, uint64_t rdev = 0)
      : Inode(fs), tfs_(fs), ino_(fs.NextIno()) {
    attr_.ino = ino_;
    attr_.mode = mode;
    attr_.uid = owner.uid;
    attr_.gid = owner.gid;
    attr_.rdev = rdev;
    attr_.nlink = S_ISDIR(mode) ? 2 : 1;
    attr_.atime = attr_.mtime = attr_.ctime = attr_.btime = Now();
  }

  ErrnoOr<Attr> GetAttr() override {
    absl::MutexLock l(&mu_);
    Attr a = attr_;
    a.size = SizeLocked();
    a.blocks = BlocksLocked();
    return a;
  }

  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override {
    bool shrunk = false;
    {
      absl::MutexLock l(&mu_);
      if (req.size) {
        shrunk = *req.size < SizeLocked();
        RETURN_IF_ERROR(TruncateLocked(*req.size));
      }
      const timespec now = Now();
      if (req.mode) attr_.mode = (attr_.mode & S_IFMT) | (*req.mode & 07777);
      if (req.uid) attr_.uid = *req.uid;
      if (req.gid) attr_.gid = *req.gid;
      if (req.atime) attr_.atime = *req.atime;
      if (req.mtime) attr_.mtime = *req.mtime;
      attr_.ctime = now;
    }
    // Outside the lock: mappers lock themselves first, then ask us for pages.
    if (shrunk) Shrunk(*req.size);
    return Ok();
  }

  ErrnoOr<std::string> GetXattr(std::string_view name) override {
    absl::MutexLock l(&mu_);
    auto it = xattrs_.find(name);
    if (it == xattrs_.end()) return Errno(ENODATA);
    return it->second;
  }
  ErrnoOrOk SetXattr(std::string_view name, std::string_view value, int flags) override {
    absl::MutexLock l(&mu_);
    auto it = xattrs_.find(name);
    if ((flags & XATTR_CREATE) && it != xattrs_.end()) return Errno(EEXIST);
    if ((flags & XATTR_REPLACE) && it == xattrs_.end()) return Errno(ENODATA);
    xattrs_[std::string(name)] = std::string(value);
    attr_.ctime = Now();
    return Ok();
  }
  ErrnoOr<std::vector<std::string>> ListXattr() override {
    absl::MutexLock l(&mu_);
    std::vector<std::string> names;
    for (const auto& [n, v] : xattrs_) names.push_back(n);
    return names;
  }
  ErrnoOrOk RemoveXattr(std::string_view name) override {
    absl::MutexLock l(&mu_);
    auto it = xattrs_.find(name);
    if (it == xattrs_.end()) return Errno(ENODATA);
    xattrs_.erase(it);
    attr_.ctime = Now();
    return Ok();
  }

  void AddLinks(int64_t n) {
    absl::MutexLock l(&mu_);
    attr_.nlink += n;
    attr_.ctime = Now();
  }
  uint64_t ino() const { return ino_; }
  TmpfsFilesystem& tfs() const { return tfs_; }

 protected:
  virtual uint64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return attr_.size; }
  virtual uint64_t BlocksLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return 0; }
  virtual ErrnoOrOk TruncateLocked(uint64_t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Errno(EINVAL);
  }
  // The file shrank to `size` (called without mu_).
  virtual void Shrunk(uint64_t size) { (void)size; }
  void TouchLocked(bool modify) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const timespec now = Now();
    if (modify) attr_.mtime = attr_.ctime = now;
  }

  TmpfsFilesystem& tfs_;
  const uint64_t ino_;
  mutable absl::Mutex mu_;
  Attr attr_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> xattrs_ ABSL_GUARDED_BY(mu_);
};

// --- Regular files. ---

// A tmpfs file is its own page cache: mappings share the very pages read and
// write use (Linux's shmem).
class RegularFile : public TmpfsInode, public memory::Mappable {
 public:
  using TmpfsInode::TmpfsInode;

  // --- memory::Mappable ---
  uint64_t Size() const override {
    absl::MutexLock l(&mu_);
    return attr_.size;
  }
  ErrnoOrOk Get(uint64_t start, uint64_t end, bool /*writable*/,
                std::vector<std::pair<uint64_t, memory::FileRange>>* out) override {
    absl::MutexLock l(&mu_);
    end = std::min(end, (attr_.size + kPageSize - 1) / kPageSize * kPageSize);
    for (uint64_t off = start; off < end; off += kPageSize) {
      auto page = PageLocked(off / kPageSize);
      if (!page.ok()) return page.error();
      memory::FileRange r{*page, *page + kPageSize};
      tfs_.memory_file().IncRef(r);
      if (!out->empty() && out->back().first + out->back().second.Length() == off &&
          out->back().second.end == r.start) {
        out->back().second.end = r.end;
      } else {
        out->emplace_back(off, r);
      }
    }
    return Ok();
  }
  bool Has(uint64_t offset) const override {
    absl::MutexLock l(&mu_);
    return pages_.count(offset / kPageSize) != 0;
  }
  // MADV_REMOVE, fallocate(PUNCH_HOLE): zeros in place, for every mapper.
  ErrnoOrOk Zero(uint64_t start, uint64_t end) override {
    absl::MutexLock l(&mu_);
    for (auto it = pages_.lower_bound(start / kPageSize);
         it != pages_.end() && it->first * kPageSize < end; ++it) {
      const uint64_t ps = it->first * kPageSize;
      const uint64_t s = std::max(start, ps), e = std::min(end, ps + kPageSize);
      if (s == ps && e == ps + kPageSize) {
        tfs_.memory_file().Decommit({it->second, it->second + kPageSize});
      } else {
        std::memset(tfs_.memory_file().Internal(it->second) + (s - ps), 0, e - s);
      }
    }
    return Ok();
  }
  ~RegularFile() override {
    absl::MutexLock l(&mu_);
    FreeFromLocked(0);
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

  // Copies file bytes at `offset` into `dst` (host memory). Returns the count.
  size_t Read(std::span<const iovec> dst, uint64_t offset) {
    absl::MutexLock l(&mu_);
    attr_.atime = Now();
    if (offset >= attr_.size) return 0;
    size_t done = 0;
    uint64_t remaining = attr_.size - offset;
    for (const iovec& v : dst) {
      uint8_t* out = static_cast<uint8_t*>(v.iov_base);
      size_t len = std::min<uint64_t>(v.iov_len, remaining);
      size_t pos = 0;
      while (pos < len) {
        const uint64_t off = offset + done + pos;
        const uint64_t page = off / kPageSize, in_page = off % kPageSize;
        const size_t n = std::min<uint64_t>(len - pos, kPageSize - in_page);
        auto it = pages_.find(page);
        if (it == pages_.end()) {
          std::memset(out + pos, 0, n);
        } else {
          std::memcpy(out + pos, tfs_.memory_file().Internal(it->second) + in_page, n);
        }
        pos += n;
      }
      done += len;
      remaining -= len;
      if (remaining == 0) break;
    }
    return done;
  }

  // Writes `src` at `offset` (at the end for append). Returns the count and
  // the offset after it.
  ErrnoOr<std::pair<size_t, uint64_t>> Write(std::span<const iovec> src, uint64_t offset,
                                             bool append, uint64_t size_limit) {
    absl::MutexLock l(&mu_);
    if (append) offset = attr_.size;
    size_t total = 0;
    for (const iovec& v : src) total += v.iov_len;
    if (total == 0) return std::pair<size_t, uint64_t>{0, offset};
    // Sealed files (memfd): no writes, or none past the end.
    if (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Errno(EPERM);
    if (seals_ & F_SEAL_GROW) {
      if (offset >= attr_.size) return Errno(EPERM);
      total = std::min<uint64_t>(total, attr_.size - offset);
    }
    // RLIMIT_FSIZE and the largest file: EFBIG if nothing fits.
    const uint64_t limit = std::min(size_limit, kMaxFileSize);
    if (offset >= limit) return Errno(EFBIG);
    total = std::min<uint64_t>(total, limit - offset);
    size_t done = 0;
    for (const iovec& v : src) {
      const uint8_t* in = static_cast<const uint8_t*>(v.iov_base);
      size_t len = std::min<size_t>(v.iov_len, total - done);
      size_t pos = 0;
      while (pos < len) {
        const uint64_t off = offset + done + pos;
        const uint64_t page = off / kPageSize, in_page = off % kPageSize;
        const size_t n = std::min<uint64_t>(len - pos, kPageSize - in_page);
        auto page_off = PageLocked(page);
        if (!page_off.ok()) {
          if (done + pos == 0) return page_off.error();
          return Finish(offset, done + pos);
        }
        std::memcpy(tfs_.memory_file().Internal(*page_off) + in_page, in + pos, n);
        pos += n;
      }
      done += len;
      if (done == total) break;
    }
    return Finish(offset, done);
  }

  ErrnoOr<int64_t> SeekDataHole(int64_t offset, int whence) {
    absl::MutexLock l(&mu_);
    if (offset < 0 || static_cast<uint64_t>(offset) >= attr_.size) return Errno(ENXIO);
    uint64_t off = static_cast<uint64_t>(offset);
    if (whence == SEEK_DATA) {
      auto it = pages_.lower_bound(off / kPageSize);
      if (it == pages_.end()) return Errno(ENXIO);
      uint64_t data = std::max(off, it->first * kPageSize);
      if (data >= attr_.size) return Errno(ENXIO);
      return static_cast<int64_t>(data);
    }
    // SEEK_HOLE: the first page not present at or after `off`, or the end.
    uint64_t page = off / kPageSize;
    while (pages_.count(page)) ++page;
    return static_cast<int64_t>(std::min(std::max(off, page * kPageSize), attr_.size));
  }

  ErrnoOrOk Allocate(int mode, uint64_t offset, uint64_t length) {
    absl::MutexLock l(&mu_);
    if (mode & ~FALLOC_FL_KEEP_SIZE) return Errno(EOPNOTSUPP);
    if (length > kMaxFileSize - offset) return Errno(EFBIG);
    const uint64_t end = offset + length;
    if ((seals_ & F_SEAL_GROW) && !(mode & FALLOC_FL_KEEP_SIZE) && end > attr_.size) {
      return Errno(EPERM);
    }
    for (uint64_t p = offset / kPageSize; p < (end + kPageSize - 1) / kPageSize; ++p) {
      RETURN_IF_ERROR(PageLocked(p));
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > attr_.size) {
      attr_.size = end;
      TouchLocked(true);
    }
    return Ok();
  }

 protected:
  uint64_t BlocksLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pages_.size() * (kPageSize / 512);
  }
  // Mappings lose the pages past the end, private copies included (SIGBUS).
  void Shrunk(uint64_t size) override { UnmapPastEnd(size); }
  ErrnoOrOk TruncateLocked(uint64_t size) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (size > kMaxFileSize) return Errno(EFBIG);
    if ((size < attr_.size && (seals_ & F_SEAL_SHRINK)) ||
        (size > attr_.size && (seals_ & F_SEAL_GROW))) {
      return Errno(EPERM);
    }
    if (size < attr_.size) {
      // Zero the tail of the last partial page, drop the pages past it.
      const uint64_t keep = (size + kPageSize - 1) / kPageSize;
      if (size % kPageSize != 0) {
        auto it = pages_.find(size / kPageSize);
        if (it != pages_.end()) {
          std::memset(tfs_.memory_file().Internal(it->second) + size % kPageSize, 0,
                      kPageSize - size % kPageSize);
        }
      }
      FreeFromLocked(keep);
    }
    attr_.size = size;
    TouchLocked(true);
    return Ok();
  }

 private:
  // The memory-file offset of file page `page`, allocating it.
  ErrnoOr<uint64_t> PageLocked(uint64_t page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pages_.find(page);
    if (it != pages_.end()) return it->second;
    RETURN_IF_ERROR(tfs_.ChargePages(1));
    auto r = tfs_.memory_file().Allocate(kPageSize);
    if (!r.ok()) {
      tfs_.UnchargePages(1);
      return Errno(ENOSPC);
    }
    pages_[page] = r->start;
    return r->start;
  }
  void FreeFromLocked(uint64_t first_page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pages_.lower_bound(first_page);
    uint64_t freed = 0;
    while (it != pages_.end()) {
      tfs_.memory_file().DecRef({it->second, it->second + kPageSize});
      it = pages_.erase(it);
      ++freed;
    }
    tfs_.UnchargePages(freed);
  }
  std::pair<size_t, uint64_t> Finish(uint64_t offset, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    attr_.size = std::max<uint64_t>(attr_.size, offset + n);
    TouchLocked(true);
    // TODO(filesystems issue): a write by a task without CAP_FSETID drops
    // set-user-ID and group-executable set-group-ID, as Linux's file_remove_privs.
    return {n, offset + n};
  }

  std::map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);  // file page -> memory-file offset
  // F_SEAL_*: a tmpfs file starts sealed against sealing; memfd_create with
  // MFD_ALLOW_SEALING starts with none.
  int seals_ ABSL_GUARDED_BY(mu_) = F_SEAL_SEAL;

 public:
  int seals() const {
    absl::MutexLock l(&mu_);
    return seals_;
  }
  void set_seals(int s) {
    absl::MutexLock l(&mu_);
    seals_ = s;
  }
  // memfd_add_seals.
  ErrnoOrOk AddSeals(int add) {
    // Asked before taking mu_ (a mapper's lock comes first). NOTE: a shared
    // writable mmap racing with this call is not excluded, as Linux's
    // mapping_deny_writable would.
    const bool writable_mapped = HasWritableSharedMapping();
    absl::MutexLock l(&mu_);
    constexpr int kAll = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
                         F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;
    if (add & ~kAll) return Errno(EINVAL);
    if (seals_ & F_SEAL_SEAL) return Errno(EPERM);
    // F_SEAL_EXEC on an executable file implies the write seals (W^X).
    if ((add & F_SEAL_EXEC) && (attr_.mode & 0111)) {
      add |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
    }
    // F_SEAL_WRITE is EBUSY while a shared writable mapping exists.
    if ((add & F_SEAL_WRITE) && !(seals_ & F_SEAL_WRITE) && writable_mapped) {
      return Errno(EBUSY);
    }
    seals_ |= add;
    return Ok();
  }
};

// The open description of a tmpfs regular file.
class RegularFileFD : public vfs::FileDescription {
 public:
  RegularFileFD(std::shared_ptr<RegularFile> f, int flags)
      : FileDescription(flags), file_(std::move(f)) {}

  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec> dst, int64_t offset) override {
    if ((status_flags() & O_ACCMODE) == O_WRONLY) return Errno(EBADF);
    // Nothing asked: no atime update (generic_file_read_iter).
    size_t total = 0;
    for (const iovec& v : dst) total += v.iov_len;
    if (total == 0) return size_t{0};
    if (offset >= 0) return file_->Read(dst, offset);
    absl::MutexLock l(&mu_);
    size_t n = file_->Read(dst, offset_);
    offset_ += n;
    return n;
  }

  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec> src, int64_t offset) override {
    if ((status_flags() & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
    // pwrite on an O_APPEND file appends too (Linux's documented bug).
    const bool append = status_flags() & O_APPEND;
    if (offset >= 0) {
      ASSIGN_OR_RETURN(auto r, file_->Write(src, offset, append, UINT64_MAX));
      return r.first;
    }
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(auto r, file_->Write(src, offset_, append, UINT64_MAX));
    offset_ = r.second;
    return r.first;
  }

  bool Seekable() const override { return true; }

  ErrnoOr<struct stat> Stat() override {
    ASSIGN_OR_RETURN(Attr a, file_->GetAttr());
    return vfs::AttrToStat(a, file_->fs().Dev());
  }

  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return absl::StrFormat("tmpfs:[%d]", file_->ino()); }

  std::shared_ptr<memory::Mappable> Mappable() override {
    return std::shared_ptr<memory::Mappable>(file_, static_cast<memory::Mappable*>(file_.get()));
  }
  ErrnoOr<int> GetSeals() override { return file_->seals(); }
  ErrnoOrOk AddSeals(int seals) override {
    if ((status_flags() & O_ACCMODE) == O_RDONLY) return Errno(EPERM);
    return file_->AddSeals(seals);
  }

  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override {
    absl::MutexLock l(&mu_);
    int64_t base = 0;
    switch (whence) {
      case SEEK_SET:
        break;
      case SEEK_CUR:
        base = offset_;
        break;
      case SEEK_END: {
        ASSIGN_OR_RETURN(Attr a, file_->GetAttr());
        base = static_cast<int64_t>(a.size);
        break;
      }
      case SEEK_DATA:
      case SEEK_HOLE: {
        ASSIGN_OR_RETURN(int64_t r, file_->SeekDataHole(offset, whence));
        offset_ = r;
        return r;
      }
      default:
        return Errno(EINVAL);
    }
    int64_t pos;
    if (__builtin_add_overflow(base, offset, &pos) || pos < 0) return Errno(EINVAL);
    offset_ = pos;
    return pos;
  }

  ErrnoOrOk Allocate(int mode, uint64_t offset, uint64_t length) override {
    if ((status_flags() & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
    return file_->Allocate(mode, offset, length);
  }

 private:
  std::shared_ptr<RegularFile> file_;
  absl::Mutex mu_;
  int64_t offset_ ABSL_GUARDED_BY(mu_) = 0;
};

ErrnoOr<std::shared_ptr<vfs::FileDescription>> RegularFile::Open(const vfs::VirtualDentry&,
                                                                 int flags) {
  return std::shared_ptr<vfs::FileDescription>(std::make_shared<RegularFileFD>(
      std::static_pointer_cast<RegularFile>(shared_from_this()), flags & ~O_CREAT));
}

// --- Symlinks and special files. ---

class Symlink : public TmpfsInode {
 public:
  Symlink(TmpfsFilesystem& fs, const Owner& owner, std::string target)
      : TmpfsInode(fs, S_IFLNK | 0777, owner), target_(std::move(target)) {}
  ErrnoOr<std::string> Readlink() override { return target_; }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Errno(ELOOP);
  }

 protected:
  uint64_t SizeLocked() const override { return target_.size(); }

 private:
  const std::string target_;
};

// FIFOs, sockets and device nodes. A character device opens its driver from
// the device registry (ENXIO for an unknown number, as Linux); block devices
// have no drivers (ENXIO); a FIFO opens the pipe its inode keeps; sockets
// are ENXIO (the VFS refuses them first).
class Special : public TmpfsInode {
 public:
  using TmpfsInode::TmpfsInode;
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override {
    uint32_t mode;
    uint64_t rdev;
    {
      absl::MutexLock l(&mu_);
      mode = attr_.mode;
      rdev = attr_.rdev;
    }
    if (S_ISCHR(mode)) return dev::OpenCharDevice(rdev, vd, flags);
    if (S_ISFIFO(mode)) return fifo_.Open(flags);
    return Errno(ENXIO);
  }

 private:
  pipe::NamedPipe fifo_;
};

// --- Directories. ---

class Directory : public TmpfsInode {
 public:
  Directory(TmpfsFilesystem& fs, uint32_t mode, const Owner& owner, uint64_t parent_ino)
      : TmpfsInode(fs, mode, owner), parent_ino_(parent_ino) {}

  ErrnoOr<std::shared_ptr<Inode>> Lookup(std::string_view name) override {
    absl::MutexLock l(&dir_mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return Errno(ENOENT);
    return it->second.inode;
  }

  ErrnoOr<std::shared_ptr<Inode>> Create(std::string_view name, uint32_t mode,
                                         const Owner& owner) override {
    return Add(name, std::make_shared<RegularFile>(tfs_, mode, owner));
  }
  ErrnoOr<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                        const Owner& owner) override {
    auto d = std::make_shared<Directory>(tfs_, mode, owner, ino());
    ASSIGN_OR_RETURN(auto inode, Add(name, d));
    AddLinks(1);  // the child's ".."
    return inode;
  }
  ErrnoOr<std::shared_ptr<Inode>> CreateTmpfile(uint32_t mode, const Owner& owner) override {
    {
      absl::MutexLock l(&dir_mu_);
      if (removed_) return Errno(ENOENT);
    }
    return tfs_.NewAnonymousFile(mode, owner, /*allow_sealing=*/false);
  }
  ErrnoOr<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t rdev,
                                        const Owner& owner) override {
    if (S_ISREG(mode)) return Create(name, mode, owner);
    return Add(name, std::make_shared<Special>(tfs_, mode, owner, rdev));
  }
  ErrnoOr<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                          const Owner& owner) override {
    if (target.size() >= 4096) return Errno(ENAMETOOLONG);
    return Add(name, std::make_shared<class Symlink>(tfs_, owner, std::string(target)));
  }
  ErrnoOrOk Link(std::string_view name, const std::shared_ptr<Inode>& target) override {
    auto* t = dynamic_cast<TmpfsInode*>(target.get());
    if (t == nullptr || &t->fs() != &fs()) return Errno(EXDEV);
    RETURN_IF_ERROR(Add(name, target));
    t->AddLinks(1);
    return Ok();
  }
  ErrnoOrOk Unlink(std::string_view name, Inode& child) override {
    RETURN_IF_ERROR(Remove(name));
    static_cast<TmpfsInode&>(child).AddLinks(-1);
    return Ok();
  }
  ErrnoOrOk Rmdir(std::string_view name, Inode& child) override {
    auto& d = static_cast<Directory&>(child);
    {
      absl::MutexLock l(&d.dir_mu_);
      if (!d.entries_.empty()) return Errno(ENOTEMPTY);
      d.removed_ = true;
    }
    RETURN_IF_ERROR(Remove(name));
    d.AddLinks(-2);
    AddLinks(-1);
    return Ok();
  }

  ErrnoOrOk Rename(std::string_view name, Inode& new_dir_inode, std::string_view new_name,
                   Inode* replaced, unsigned flags) override;

  ErrnoOrOk IterateDir(int64_t offset, const vfs::DirEntrySink& sink) override {
    absl::MutexLock l(&dir_mu_);
    if (offset < 1 && !sink({".", ino(), DT_DIR, 1})) return Ok();
    if (offset < 2 && !sink({"..", parent_ino_, DT_DIR, 2})) return Ok();
    // Entries in creation order; the one with serial s has cookie s + 3.
    for (auto it = order_.lower_bound(std::max<int64_t>(offset, 2) - 2); it != order_.end(); ++it) {
      const Entry& e = entries_.find(it->second)->second;
      auto* ti = static_cast<TmpfsInode*>(e.inode.get());
      ASSIGN_OR_RETURN(Attr a, ti->GetAttr());
      if (!sink(
              {it->second, a.ino, vfs::DirentType(a.mode), static_cast<int64_t>(it->first) + 3})) {
        break;
      }
    }
    return Ok();
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

 protected:
  // Linux's tmpfs counts BOGO_DIRENT_SIZE (20) per entry, "." and ".." included.
  uint64_t SizeLocked() const override { return (count_.load() + 2) * 20; }

 private:
  struct Entry {
    std::shared_ptr<Inode> inode;
    uint64_t serial;
  };

  ErrnoOr<std::shared_ptr<Inode>> Add(std::string_view name, std::shared_ptr<Inode> inode) {
    {
      absl::MutexLock l(&dir_mu_);
      if (removed_) return Errno(ENOENT);
      if (entries_.count(name)) return Errno(EEXIST);
      const uint64_t serial = next_serial_++;
      entries_.emplace(std::string(name), Entry{inode, serial});
      order_.emplace(serial, std::string(name));
      count_++;
    }
    absl::MutexLock l(&mu_);
    TouchLocked(true);
    return inode;
  }
  ErrnoOrOk Remove(std::string_view name) {
    {
      absl::MutexLock l(&dir_mu_);
      auto it = entries_.find(name);
      if (it == entries_.end()) return Errno(ENOENT);
      order_.erase(it->second.serial);
      entries_.erase(it);
      count_--;
    }
    absl::MutexLock l(&mu_);
    TouchLocked(true);
    return Ok();
  }

  absl::Mutex dir_mu_;
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(dir_mu_);
  std::map<uint64_t, std::string> order_ ABSL_GUARDED_BY(dir_mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(dir_mu_) = 0;
  bool removed_ ABSL_GUARDED_BY(dir_mu_) = false;
  std::atomic<uint64_t> count_{0};

 public:
  std::atomic<uint64_t> parent_ino_;
};

ErrnoOrOk Directory::Rename(std::string_view name, Inode& new_dir_inode, std::string_view new_name,
                            Inode* replaced, unsigned flags) {
  auto& nd = static_cast<Directory&>(new_dir_inode);
  std::shared_ptr<Inode> moving;
  {
    absl::MutexLock l(&dir_mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return Errno(ENOENT);
    moving = it->second.inode;
  }
  Attr ma = *static_cast<TmpfsInode&>(*moving).GetAttr();
  const bool moving_dir = S_ISDIR(ma.mode);
  if (flags & RENAME_EXCHANGE) {
    std::shared_ptr<Inode> other;
    {
      absl::MutexLock l(&nd.dir_mu_);
      other = nd.entries_.find(new_name)->second.inode;
    }
    const bool other_dir = S_ISDIR(static_cast<TmpfsInode&>(*other).GetAttr()->mode);
    // Swap the two entries' inodes in place.
    if (&nd == this) {
      absl::MutexLock l(&dir_mu_);
      std::swap(entries_.find(name)->second.inode, entries_.find(new_name)->second.inode);
    } else {
      {
        absl::MutexLock l(&dir_mu_);
        entries_.find(name)->second.inode = other;
      }
      {
        absl::MutexLock l(&nd.dir_mu_);
        nd.entries_.find(new_name)->second.inode = moving;
      }
      if (moving_dir != other_dir) {
        AddLinks(moving_dir ? -1 : 1);
        nd.AddLinks(moving_dir ? 1 : -1);
      }
      if (moving_dir) static_cast<Directory&>(*moving).parent_ino_ = nd.ino();
      if (other_dir) static_cast<Directory&>(*other).parent_ino_ = ino();
    }
    return Ok();
  }
  if (replaced != nullptr) {
    if (S_ISDIR(static_cast<TmpfsInode&>(*replaced).GetAttr()->mode)) {
      RETURN_IF_ERROR(nd.Rmdir(new_name, *replaced));
    } else {
      RETURN_IF_ERROR(nd.Unlink(new_name, *replaced));
    }
  }
  RETURN_IF_ERROR(Remove(name));
  auto added = nd.Add(new_name, moving);
  if (!added.ok()) {
    (void)Add(name, moving);  // put it back
    return added.error();
  }
  if (moving_dir && &nd != this) {
    AddLinks(-1);
    nd.AddLinks(1);
    static_cast<Directory&>(*moving).parent_ino_ = nd.ino();
  }
  static_cast<TmpfsInode&>(*moving).AddLinks(0);  // ctime
  return Ok();
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> Directory::Open(const vfs::VirtualDentry&,
                                                               int flags) {
  return std::shared_ptr<vfs::FileDescription>(std::make_shared<vfs::DirectoryFD>(
      shared_from_this(), flags, absl::StrFormat("tmpfs:[%d]", ino())));
}

}  // namespace

TmpfsFilesystem::TmpfsFilesystem(memory::MemoryFile& mf, uint64_t limit_pages, std::string name)
    : mf_(mf), limit_pages_(limit_pages), dev_(NewAnonDev()), name_(std::move(name)) {}

TmpfsFilesystem::~TmpfsFilesystem() = default;

std::shared_ptr<TmpfsFilesystem> TmpfsFilesystem::Create(memory::MemoryFile& mf,
                                                         const TmpfsOptions& options) {
  uint64_t limit = options.size_limit != 0 ? options.size_limit : mf.capacity() / 2;
  auto fs = std::shared_ptr<TmpfsFilesystem>(
      new TmpfsFilesystem(mf, std::max<uint64_t>(limit / kPageSize, 1), options.name));
  fs->root_ = std::make_shared<Directory>(*fs, S_IFDIR | (options.root_mode & 07777),
                                          options.root_owner, 0);
  // The root's ".." is itself.
  auto& root = static_cast<Directory&>(*fs->root_);
  root.parent_ino_ = root.ino();
  return fs;
}

std::shared_ptr<vfs::Inode> TmpfsFilesystem::NewAnonymousFile(uint32_t mode,
                                                              const vfs::Owner& owner,
                                                              bool allow_sealing) {
  auto f = std::make_shared<RegularFile>(*this, S_IFREG | (mode & 07777), owner);
  f->set_seals(allow_sealing ? 0 : F_SEAL_SEAL);
  f->AddLinks(-1);  // no name: nlink 0
  return f;
}

ErrnoOrOk TmpfsFilesystem::ChargePages(uint64_t pages) {
  uint64_t used = pages_used_.load(std::memory_order_relaxed);
  do {
    if (used + pages > limit_pages_) return Errno(ENOSPC);
  } while (!pages_used_.compare_exchange_weak(used, used + pages, std::memory_order_relaxed));
  return Ok();
}

void TmpfsFilesystem::UnchargePages(uint64_t pages) {
  pages_used_.fetch_sub(pages, std::memory_order_relaxed);
}

ErrnoOr<struct statfs> TmpfsFilesystem::StatFS() {
  struct statfs s = {};
  s.f_type = TMPFS_MAGIC;
  s.f_bsize = kPageSize;
  s.f_frsize = kPageSize;
  s.f_blocks = limit_pages_;
  const uint64_t used = pages_used();
  s.f_bfree = s.f_bavail = limit_pages_ > used ? limit_pages_ - used : 0;
  s.f_files = limit_pages_;  // Linux: min(RAM pages/2, lowmem pages)
  s.f_ffree = s.f_files - std::min<uint64_t>(s.f_files, next_ino_.load() - 1);
  s.f_namelen = 255;
  return s;
}

}  // namespace sentry::fsimpl::tmpfs
