// Building blocks for filesystems whose files the Sentry synthesizes from its
// own state (/proc, /sys): inodes with fixed or computed attributes,
// directories listed by a function, files generated when opened, symlinks
// whose target is computed when read. Nothing is stored; nothing is
// writable unless a file says how.
#ifndef SENTRY_FSIMPL_KERNFS_KERNFS_H_
#define SENTRY_FSIMPL_KERNFS_KERNFS_H_

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::kernfs {

// A filesystem of synthetic inodes: no storage, an anonymous st_dev, and
// statfs as Linux's simple_statfs (the magic, the block size, NAME_MAX).
class SyntheticFilesystem : public vfs::Filesystem {
 public:
  SyntheticFilesystem(std::string name, int64_t magic, uint32_t blksize);

  std::shared_ptr<vfs::Inode> Root() override { return root_; }
  std::string_view Name() const override { return name_; }
  ErrnoOr<struct statfs> StatFS() override;
  uint64_t Dev() const override { return dev_; }

  // The st_blksize of every inode (proc says 1024, sysfs 4096).
  uint32_t blksize() const { return blksize_; }
  // A fresh inode number for an inode made once (the static tree).
  uint64_t NextIno() { return next_ino_++; }

 protected:
  // Sets the root (from the subclass's construction, before any use).
  void set_root(std::shared_ptr<vfs::Inode> root) { root_ = std::move(root); }

 private:
  const std::string name_;
  const int64_t magic_;
  const uint32_t blksize_;
  const uint64_t dev_;
  std::atomic<uint64_t> next_ino_{1};
  std::shared_ptr<vfs::Inode> root_;
};

// Attributes fixed at creation, except for what the hooks compute (the owner
// of a task's files follows the task's credentials) and the times. As Linux's
// proc_setattr: changing the mode, owner or group is EPERM; a size change
// (open with O_TRUNC) has nothing to cut and succeeds; times are kept.
class SyntheticInode : public vfs::Inode {
 public:
  SyntheticInode(SyntheticFilesystem& fs, uint64_t ino, uint32_t mode);

  ErrnoOr<vfs::Attr> GetAttr() override;
  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override;
  uint64_t ino() const { return ino_; }
  SyntheticFilesystem& sfs() const { return sfs_; }

 protected:
  virtual vfs::Owner Owner() const { return {}; }
  virtual uint32_t Mode() const { return mode_; }  // S_IFMT included
  virtual uint64_t Nlink() const { return S_ISDIR(mode_) ? 2 : 1; }
  virtual uint64_t Size() const { return 0; }

 private:
  SyntheticFilesystem& sfs_;
  const uint64_t ino_;
  const uint32_t mode_;
  mutable absl::Mutex mu_;
  timespec atime_ ABSL_GUARDED_BY(mu_), mtime_ ABSL_GUARDED_BY(mu_), ctime_ ABSL_GUARDED_BY(mu_);
};

// A directory whose entries List() gives. Each entry has a position: unique,
// ascending, at least 2 ("." is 0 and ".." 1); the getdents cookie after an
// entry is its position + 1, so entries that come and go (pids, fds) never
// make a listing skip or repeat the others.
class Directory : public SyntheticInode {
 public:
  struct Entry {
    std::string name;
    uint64_t ino;
    uint8_t type;  // DT_*
    int64_t pos;
  };

  Directory(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm, uint64_t parent_ino);

  virtual ErrnoOr<std::vector<Entry>> List() = 0;
  ErrnoOrOk IterateDir(int64_t offset, const vfs::DirEntrySink& sink) override;

  // Nothing is made or removed here: what Linux answers for a directory
  // without those operations (vfs_create's EACCES, the others' EPERM).
  ErrnoOr<std::shared_ptr<vfs::Inode>> Create(std::string_view, uint32_t,
                                              const vfs::Owner&) override {
    return Errno(EACCES);
  }
  ErrnoOr<std::shared_ptr<vfs::Inode>> Mkdir(std::string_view, uint32_t,
                                             const vfs::Owner&) override {
    return Errno(EPERM);
  }
  ErrnoOr<std::shared_ptr<vfs::Inode>> Mknod(std::string_view, uint32_t, uint64_t,
                                             const vfs::Owner&) override {
    return Errno(EPERM);
  }
  ErrnoOr<std::shared_ptr<vfs::Inode>> Symlink(std::string_view, std::string_view,
                                               const vfs::Owner&) override {
    return Errno(EPERM);
  }
  ErrnoOrOk Link(std::string_view, const std::shared_ptr<vfs::Inode>&) override {
    return Errno(EPERM);
  }
  ErrnoOrOk Unlink(std::string_view, vfs::Inode&) override { return Errno(EPERM); }
  ErrnoOrOk Rmdir(std::string_view, vfs::Inode&) override { return Errno(EPERM); }
  ErrnoOrOk Rename(std::string_view, vfs::Inode&, std::string_view, vfs::Inode*,
                   unsigned) override {
    return Errno(EPERM);
  }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

  uint64_t parent_ino() const { return parent_ino_; }

 private:
  const uint64_t parent_ino_;
};

// A directory with a fixed set of children, listed in the order added.
class StaticDirectory : public Directory {
 public:
  using Directory::Directory;

  // Adds a child; only while the tree is being built (not thread-safe).
  void Add(std::string name, std::shared_ptr<vfs::Inode> child);

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override;
  ErrnoOr<std::vector<Entry>> List() override;

 protected:
  // The static children, positions 2, 3, ...
  std::vector<Entry> StaticEntries() const;
  ErrnoOr<std::shared_ptr<vfs::Inode>> LookupStatic(std::string_view name) const;

  uint64_t Nlink() const override;

 private:
  std::vector<std::pair<std::string, std::shared_ptr<vfs::Inode>>> children_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A regular file (size 0, as in /proc) whose contents are generated when it
// is opened for reading: a snapshot, read in pieces with stable offsets,
// like Linux's seq files. Writes go to `writer` when there is one; without
// one a write is EINVAL (Linux's "no write method"), or with
// `deny_write_open` opening for writing is EACCES (a read-only sysctl).
class GeneratedFile : public SyntheticInode {
 public:
  using Generator = std::function<ErrnoOr<std::string>()>;
  // Takes what one write(2) gave: its first page at most (`head`; Linux's
  // proc writers copy no more) and its whole length. Returns the bytes it
  // consumed.
  using Writer = std::function<ErrnoOr<size_t>(std::string_view head, size_t total)>;

  GeneratedFile(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm, Generator generate,
                Writer write = nullptr, bool deny_write_open = false);

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

 private:
  const Generator generate_;
  const Writer write_;
  const bool deny_write_open_;
};

// A file holding fixed text.
std::shared_ptr<GeneratedFile> ConstantFile(SyntheticFilesystem& fs, uint64_t ino, uint32_t perm,
                                            std::string text);

// A symlink whose target is computed when it is read (/proc/self).
class Symlink : public SyntheticInode {
 public:
  using Target = std::function<ErrnoOr<std::string>()>;
  Symlink(SyntheticFilesystem& fs, uint64_t ino, Target target, uint32_t perm = 0777);

  ErrnoOr<std::string> Readlink() override { return target_(); }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Errno(ELOOP);
  }

 private:
  const Target target_;
};

// The open description of a generated file: the snapshot and a position.
class SnapshotFD : public vfs::FileDescription {
 public:
  SnapshotFD(std::string data, GeneratedFile::Writer write, int flags)
      : FileDescription(flags), data_(std::move(data)), write_(std::move(write)) {}

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return true; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return "kernfs"; }
  // seq_lseek: SEEK_SET and SEEK_CUR to any offset >= 0; SEEK_END is EINVAL.
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override;

 private:
  const std::string data_;
  const GeneratedFile::Writer write_;
  absl::Mutex mu_;
  int64_t offset_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::fsimpl::kernfs

#endif  // SENTRY_FSIMPL_KERNFS_KERNFS_H_
