// The open description of a directory that lists itself from a cookie
// (Inode::IterateDir): getdents goes on from the last entry taken, lseek sets
// the cookie (SEEK_SET, SEEK_CUR), read is EISDIR. Filesystems whose
// directories need nothing more use it as it is (tmpfs, the gofer's, kernfs).
#ifndef SENTRY_VFS_DIRECTORY_FD_H_
#define SENTRY_VFS_DIRECTORY_FD_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

class DirectoryFD : public FileDescription {
 public:
  DirectoryFD(std::shared_ptr<Inode> dir, int flags, std::string description)
      : FileDescription(flags), dir_(std::move(dir)), description_(std::move(description)) {}

  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EISDIR);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  bool Seekable() const override { return true; }
  ErrnoOr<struct stat> Stat() override {
    auto a = dir_->GetAttr();
    if (!a.ok()) return a.error();
    return AttrToStat(*a, dir_->fs().Dev());
  }
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return description_; }
  // Directories are never open for writing.
  ErrnoOrOk Allocate(int, uint64_t, uint64_t) override { return Errno(EBADF); }

  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override {
    absl::MutexLock l(&mu_);
    if (whence == SEEK_CUR) {
      if (__builtin_add_overflow(cookie_, offset, &offset)) return Errno(EINVAL);
    } else if (whence != SEEK_SET) {
      return Errno(EINVAL);
    }
    if (offset < 0) return Errno(EINVAL);
    cookie_ = offset;
    return offset;
  }

  ErrnoOrOk IterateDir(const DirEntrySink& sink) override {
    absl::MutexLock l(&mu_);
    int64_t cookie = cookie_;
    auto r = dir_->IterateDir(cookie, [&](const DirEntry& e) {
      if (!sink(e)) return false;
      cookie = e.next;
      return true;
    });
    cookie_ = cookie;
    return r;
  }

 protected:
  const std::shared_ptr<Inode>& dir() const { return dir_; }

 private:
  const std::shared_ptr<Inode> dir_;
  const std::string description_;
  absl::Mutex mu_;
  int64_t cookie_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_DIRECTORY_FD_H_
