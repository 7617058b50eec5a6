#include "sentry/fsimpl/gofer/gofer_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/directory_fd.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/page_cache.h"

namespace sentry::fsimpl::gofer {

using Clock = std::chrono::steady_clock;
using ::gofer::HandleStat;
using ::gofer::UniqueFd;
using vfs::Attr;
using vfs::Inode;

// Handles of dead inodes are closed in batches of this many (one RPC each).
constexpr size_t kCloseBatch = 32;
// The byte budget of one Getdents call (about a thousand typical names).
constexpr size_t kGetdentsChunk = 32 * 1024;

// What the filesystem and its inodes share: the connection, the options, and
// the handles waiting to be closed. Outlives every inode (each holds it).
struct Session {
  Session(std::shared_ptr<::gofer::Client> c, const GoferOptions& o)
      : client(std::move(c)), options(o) {}
  ~Session() {
    std::vector<uint64_t> rest;
    {
      absl::MutexLock l(&close_mu);
      rest.swap(pending_close);
    }
    Close(rest);
  }

  // The inode holding `handle` died: the server may forget it.
  void Release(uint64_t handle) {
    std::vector<uint64_t> batch;
    {
      absl::MutexLock l(&close_mu);
      pending_close.push_back(handle);
      if (pending_close.size() < kCloseBatch) return;
      batch.swap(pending_close);
    }
    Close(batch);
  }

  void Close(const std::vector<uint64_t>& handles) {
    if (handles.empty()) return;
    // EIO when the gofer is gone: its handles went with it.
    (void)client->Close(handles);
  }

  const std::shared_ptr<::gofer::Client> client;
  const GoferOptions options;
  absl::Mutex close_mu;
  std::vector<uint64_t> pending_close ABSL_GUARDED_BY(close_mu);
};

namespace {

Attr ToAttr(const struct stat& st) {
  Attr a;
  a.ino = st.st_ino;
  a.mode = st.st_mode;
  a.nlink = st.st_nlink;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.rdev = st.st_rdev;
  a.size = static_cast<uint64_t>(std::max<off_t>(st.st_size, 0));
  a.blocks = static_cast<uint64_t>(std::max<blkcnt_t>(st.st_blocks, 0));
  a.blksize = static_cast<uint32_t>(st.st_blksize);
  a.atime = st.st_atim;
  a.mtime = st.st_mtim;
  a.ctime = st.st_ctim;
  // btime stays zero: the protocol does not carry it (statx leaves it out).
  return a;
}

::gofer::Owner ToOwner(const vfs::Owner& o) { return {o.uid, o.gid}; }

class GoferFile;

// One host file: a gofer handle and its cached attributes.
class GoferInode : public Inode {
 public:
  GoferInode(GoferFilesystem& fs, std::shared_ptr<Session> session, const HandleStat& hs)
      : Inode(fs), session_(std::move(session)), handle_(hs.handle), ino_(hs.stat.st_ino) {
    attr_ = ToAttr(hs.stat);
    fetched_ = Clock::now();
  }
  ~GoferInode() override { session_->Release(handle_); }

  ErrnoOr<Attr> GetAttr() override {
    {
      absl::MutexLock l(&mu_);
      if (!stale_ && !ExpiredLocked()) return attr_;
    }
    ASSIGN_OR_RETURN(struct stat st, Refresh());
    return ToAttr(st);
  }

  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override {
    ::gofer::SetAttrArgs args;
    if (req.mode) args.mode = *req.mode & 07777;
    if (req.uid) args.uid = *req.uid;
    if (req.gid) args.gid = *req.gid;
    if (req.size) {
      if (*req.size > static_cast<uint64_t>(INT64_MAX)) return Errno(EFBIG);
      args.size = static_cast<int64_t>(*req.size);
    }
    if (req.atime) args.atime = *req.atime;
    if (req.mtime) args.mtime = *req.mtime;
    const uint64_t gen = Generation();
    ASSIGN_OR_RETURN(struct stat st, client().SetAttr(handle_, args));
    UpdateAttr(st, gen);
    return Ok();
  }

  // Extended attributes are the host file's, one RPC each (never cached: a
  // value may be up to 64 KiB). The VFS has already checked the namespace and
  // the caller's permission; the gofer serves user.* and trusted.* (as the
  // host allows them to the gofer: trusted.* needs CAP_SYS_ADMIN, which
  // `runsc gofer` lacks) and security.* read-only (EPERM to change). A
  // symlink's attributes are its own (the server never follows it).
  ErrnoOr<std::string> GetXattr(std::string_view name) override {
    return client().GetXattr(handle_, std::string(name));
  }
  ErrnoOrOk SetXattr(std::string_view name, std::string_view value, int flags) override {
    RETURN_IF_ERROR(client().SetXattr(handle_, std::string(name), std::string(value), flags));
    InvalidateAttr();  // ctime
    return Ok();
  }
  ErrnoOr<std::vector<std::string>> ListXattr() override { return client().ListXattr(handle_); }
  ErrnoOrOk RemoveXattr(std::string_view name) override {
    RETURN_IF_ERROR(client().RemoveXattr(handle_, std::string(name)));
    InvalidateAttr();
    return Ok();
  }

  // Exclusive mode: always. Revalidating: once the attributes are older than
  // revalidate_after, a fresh stat; a file the host unlinked (nlink 0, which
  // is also what a replacement by rename leaves behind) is no longer valid.
  bool Valid() override {
    if (!session_->options.revalidate_after) return true;
    {
      absl::MutexLock l(&mu_);
      if (!ExpiredLocked()) return true;
    }
    auto st = Refresh();
    // On an error (EIO: the gofer is gone) keep the dentry; whatever the
    // caller does next needs the gofer and reports the error.
    if (!st.ok()) return true;
    return st->st_nlink > 0;
  }

  // The cached attributes no longer hold (data written, a link added or
  // removed...): the next GetAttr asks the gofer.
  void InvalidateAttr() {
    absl::MutexLock l(&mu_);
    ++gen_;
    stale_ = true;
  }
  // A change counter: capture it before an RPC whose answer updates the cache.
  uint64_t Generation() {
    absl::MutexLock l(&mu_);
    return gen_;
  }
  // `st` is the host's answer to a call made at generation `gen`; it is only
  // trusted to be current if nothing invalidated the cache meanwhile.
  void UpdateAttr(const struct stat& st, uint64_t gen) {
    absl::MutexLock l(&mu_);
    attr_ = ToAttr(st);
    fetched_ = Clock::now();
    if (gen == gen_) stale_ = false;
  }

  uint64_t handle() const { return handle_; }
  uint64_t ino() const { return ino_; }
  ::gofer::Client& client() const { return *session_->client; }
  GoferFilesystem& gfs() const { return static_cast<GoferFilesystem&>(fs()); }

 protected:
  ErrnoOr<struct stat> Refresh() {
    const uint64_t gen = Generation();
    ASSIGN_OR_RETURN(struct stat st, client().Stat(handle_));
    UpdateAttr(st, gen);
    return st;
  }
  bool ExpiredLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto& after = session_->options.revalidate_after;
    return after && Clock::now() - fetched_ >= *after;
  }

  const std::shared_ptr<Session> session_;
  const uint64_t handle_;
  const uint64_t ino_;  // the host's inode number (st_ino)
  absl::Mutex mu_;
  // The cached attributes, converted once when fetched (every path walk
  // through the directory reads them).
  Attr attr_ ABSL_GUARDED_BY(mu_);
  Clock::time_point fetched_ ABSL_GUARDED_BY(mu_);
  uint64_t gen_ ABSL_GUARDED_BY(mu_) = 0;
  bool stale_ ABSL_GUARDED_BY(mu_) = false;
};

// Makes the inode of the right kind for a handle the server returned (the
// inode owns the handle from then on).
std::shared_ptr<GoferInode> MakeInode(GoferFilesystem& fs, const std::shared_ptr<Session>& s,
                                      const HandleStat& hs, uint64_t parent_ino);

// --- Regular files: I/O on a host fd the gofer donated. ---

// The page cache's view of a host file: a dup of an open file's host fd
// (upgraded to a writable one when a writable description maps the file).
class HostFdBacking : public vfs::CacheBacking {
 public:
  explicit HostFdBacking(UniqueFd fd, bool writable) : fd_(std::move(fd)), writable_(writable) {}
  ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) override {
    absl::MutexLock l(&mu_);
    for (;;) {
      const ssize_t n = ::pread(fd_.get(), dst.data(), dst.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Errno(errno);
    }
  }
  ErrnoOr<size_t> WriteAt(std::span<const uint8_t> src, uint64_t offset) override {
    absl::MutexLock l(&mu_);
    if (!writable_) return Errno(EBADF);
    for (;;) {
      const ssize_t n = ::pwrite(fd_.get(), src.data(), src.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Errno(errno);
    }
  }
  ErrnoOr<uint64_t> Size() override {
    absl::MutexLock l(&mu_);
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return Errno(errno);
    return static_cast<uint64_t>(st.st_size);
  }
  // A writable fd for write-back, if the cache has only a read-only one.
  void Upgrade(int writable_fd) {
    absl::MutexLock l(&mu_);
    if (writable_) return;
    const int d = ::fcntl(writable_fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return;
    fd_ = UniqueFd(d);
    writable_ = true;
  }

 private:
  absl::Mutex mu_;
  UniqueFd fd_ ABSL_GUARDED_BY(mu_);
  bool writable_ ABSL_GUARDED_BY(mu_);
};

class GoferFile : public GoferInode {
 public:
  using GoferInode::GoferInode;

  // The file's page cache for mmap (made on first use from `host_fd`, a
  // description's fd); null when the filesystem has no memory file.
  std::shared_ptr<vfs::PageCache> Cache(int host_fd, bool writable) {
    if (session_->options.memory_file == nullptr) return nullptr;
    absl::MutexLock l(&cache_mu_);
    if (cache_ == nullptr) {
      const int d = ::fcntl(host_fd, F_DUPFD_CLOEXEC, 0);
      if (d < 0) return nullptr;
      backing_ = std::make_shared<HostFdBacking>(UniqueFd(d), writable);
      // On a read-only mount nothing in the sandbox changes the file:
      // private mappings may map the host file itself (no copy).
      std::shared_ptr<const platform::HostFile> direct;
      if (static_cast<const GoferFilesystem&>(fs()).read_only() && !writable) {
        const int dd = ::fcntl(host_fd, F_DUPFD_CLOEXEC, 0);
        if (dd >= 0) direct = std::make_shared<const platform::HostFile>(dd);
      }
      cache_ = std::make_shared<vfs::PageCache>(*session_->options.memory_file, backing_,
                                                std::move(direct));
    } else if (writable) {
      backing_->Upgrade(host_fd);
    }
    return cache_;
  }
  // The cache if there is one (reads and writes keep it coherent).
  std::shared_ptr<vfs::PageCache> ExistingCache() {
    absl::MutexLock l(&cache_mu_);
    return cache_;
  }
  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override {
    RETURN_IF_ERROR(GoferInode::SetAttr(req));
    if (req.size) {
      if (auto c = ExistingCache()) c->Truncate(*req.size);
    }
    return Ok();
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

  // Create's fd (O_RDWR), for the Open that follows it.
  void StashFd(UniqueFd fd) {
    absl::MutexLock l(&mu_);
    stash_ = std::move(fd);
  }

  // The read-only host fd every plain O_RDONLY description of the file shares
  // (each keeps its own offset and reads with pread), opened through the gofer
  // on first use and kept while the inode lives: repeated opens of a host file
  // (exec, libraries, configuration) cost no gofer round trip.
  // Once the gofer is gone every open fails, the cached fd's too, as without it.
  // The read-only fd a lookup for an open brought along (LookupToRead).
  void SetReadOnlyFd(UniqueFd fd) {
    absl::MutexLock l(&mu_);
    if (ro_fd_ == nullptr) ro_fd_ = std::make_shared<const UniqueFd>(std::move(fd));
  }

  ErrnoOr<std::shared_ptr<const UniqueFd>> ReadOnlyFd() {
    if (client().connection_lost()) return Errno(EIO);
    {
      absl::MutexLock l(&mu_);
      if (ro_fd_ != nullptr) return ro_fd_;
    }
    ASSIGN_OR_RETURN(UniqueFd fd, client().Open(handle_, O_RDONLY));
    absl::MutexLock l(&mu_);
    if (ro_fd_ == nullptr) ro_fd_ = std::make_shared<const UniqueFd>(std::move(fd));
    return ro_fd_;
  }

 private:
  UniqueFd stash_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const UniqueFd> ro_fd_ ABSL_GUARDED_BY(mu_);
  absl::Mutex cache_mu_;
  std::shared_ptr<HostFdBacking> backing_ ABSL_GUARDED_BY(cache_mu_);
  std::shared_ptr<vfs::PageCache> cache_ ABSL_GUARDED_BY(cache_mu_);
};

class GoferFileFD : public vfs::FileDescription {
 public:
  // `shared`: the fd is the file's read-only one (GoferFile::ReadOnlyFd),
  // whose host offset is nobody's; the description keeps its own in `pos_`.
  GoferFileFD(std::shared_ptr<GoferFile> f, std::shared_ptr<const UniqueFd> fd, bool shared,
              int flags)
      : FileDescription(flags), file_(std::move(f)), fd_(std::move(fd)), shared_(shared) {}

  bool HostCopies() const override { return true; }

  std::shared_ptr<memory::Mappable> Mappable() override {
    const int acc = status_flags() & O_ACCMODE;
    return file_->Cache(fd_->get(), acc == O_WRONLY || acc == O_RDWR);
  }

  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec> dst, int64_t offset) override {
    const int acc = status_flags() & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_RDWR) return Errno(EBADF);
    const int cnt = static_cast<int>(std::min<size_t>(dst.size(), IOV_MAX));
    // What shared mappings wrote reaches the host before the read.
    if (auto cache = file_->ExistingCache()) {
      size_t len = 0;
      for (int i = 0; i < cnt; ++i) len += dst[i].iov_len;
      int64_t at = offset;
      if (at < 0) at = shared_ ? Pos() : lseek(fd_->get(), 0, SEEK_CUR);
      if (at >= 0) RETURN_IF_ERROR(cache->FlushForRead(static_cast<uint64_t>(at), len));
    }
    if (shared_ && offset < 0) {
      // The description's own offset: reads through it are serialized, as
      // Linux's f_pos_lock does.
      absl::MutexLock l(&pos_mu_);
      for (;;) {
        const ssize_t n = ::preadv(fd_->get(), dst.data(), cnt, pos_);
        if (n >= 0) {
          pos_ += n;
          return static_cast<size_t>(n);
        }
        if (errno != EINTR) return Errno(errno);
      }
    }
    for (;;) {
      const ssize_t n = offset < 0 ? ::readv(fd_->get(), dst.data(), cnt)
                                   : ::preadv(fd_->get(), dst.data(), cnt, offset);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Errno(errno);
    }
  }

  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec> src, int64_t offset) override {
    const int acc = status_flags() & O_ACCMODE;
    if (acc != O_WRONLY && acc != O_RDWR) return Errno(EBADF);
    const int cnt = static_cast<int>(std::min<size_t>(src.size(), IOV_MAX));
    // O_APPEND is the description's (fcntl may change it), so it is applied
    // per write, never to the host fd. pwrite on an O_APPEND file appends too,
    // as on Linux.
    const int rwf = (status_flags() & O_APPEND) ? RWF_APPEND : 0;
    // Where the write lands, for the page cache (mappings see the new bytes).
    std::shared_ptr<vfs::PageCache> cache = file_->ExistingCache();
    int64_t at = offset;
    if (cache != nullptr) {
      struct stat st;
      if (rwf != 0) {
        at = fstat(fd_->get(), &st) == 0 ? st.st_size : -1;
      } else if (offset < 0) {
        at = lseek(fd_->get(), 0, SEEK_CUR);
      }
    }
    for (;;) {
      const ssize_t n = ::pwritev2(fd_->get(), src.data(), cnt, offset < 0 ? -1 : offset, rwf);
      if (n >= 0) {
        if (n > 0) file_->InvalidateAttr();
        if (n > 0 && cache != nullptr && at >= 0) {
          cache->NoteWrite(src.first(cnt), static_cast<uint64_t>(at), static_cast<size_t>(n));
        }
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) return Errno(errno);
    }
  }

  bool Seekable() const override { return true; }

  ErrnoOr<struct stat> Stat() override {
    const uint64_t gen = file_->Generation();
    struct stat st;
    if (fstat(fd_->get(), &st) != 0) return Errno(errno);
    file_->UpdateAttr(st, gen);
    return vfs::AttrToStat(ToAttr(st), file_->fs().Dev());
  }

  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return absl::StrFormat("gofer:[%d]", file_->ino()); }

  // The host fd's position is the description's (SEEK_DATA/SEEK_HOLE included).
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override {
    if (shared_) {
      // The host computes SEEK_END/SEEK_DATA/SEEK_HOLE against the file; the
      // shared fd's own offset is never used, so moving it is harmless.
      absl::MutexLock l(&pos_mu_);
      if (whence == SEEK_CUR) {
        if (offset > 0 ? pos_ > INT64_MAX - offset : pos_ + offset < 0) return Errno(EINVAL);
        offset += pos_;
        whence = SEEK_SET;
      }
      const off_t r = lseek(fd_->get(), offset, whence);
      if (r < 0) return Errno(errno);
      pos_ = r;
      return static_cast<int64_t>(r);
    }
    const off_t r = lseek(fd_->get(), offset, whence);
    if (r < 0) return Errno(errno);
    return static_cast<int64_t>(r);
  }

  ErrnoOrOk Sync() override {
    if (fsync(fd_->get()) != 0) return Errno(errno);
    return Ok();
  }

  ErrnoOrOk Allocate(int mode, uint64_t offset, uint64_t length) override {
    const int acc = status_flags() & O_ACCMODE;
    if (acc != O_WRONLY && acc != O_RDWR) return Errno(EBADF);
    if (offset > static_cast<uint64_t>(INT64_MAX) || length > static_cast<uint64_t>(INT64_MAX)) {
      return Errno(EFBIG);
    }
    if (fallocate(fd_->get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
      return Errno(errno);
    }
    file_->InvalidateAttr();
    return Ok();
  }

 private:
  int64_t Pos() {
    absl::MutexLock l(&pos_mu_);
    return pos_;
  }

  const std::shared_ptr<GoferFile> file_;
  const std::shared_ptr<const UniqueFd> fd_;
  const bool shared_;
  absl::Mutex pos_mu_;
  int64_t pos_ ABSL_GUARDED_BY(pos_mu_) = 0;
};

ErrnoOr<std::shared_ptr<vfs::FileDescription>> GoferFile::Open(const vfs::VirtualDentry&,
                                                               int flags) {
  // The host fd: the access mode (O_ACCMODE, "no access", needs an fd that can
  // do neither; O_RDWR is what the VFS checked permission for) and the sync
  // flags, which fcntl cannot change later. O_APPEND is applied per write;
  // O_NONBLOCK means nothing for a regular file; O_DIRECT and O_NOATIME are
  // not passed to the host.
  const int acc = flags & O_ACCMODE;
  const int host_flags = (acc == O_ACCMODE ? O_RDWR : acc) | (flags & (O_DSYNC | O_SYNC));
  UniqueFd fd;
  {
    absl::MutexLock l(&mu_);
    if (stash_.valid() && (flags & (O_DSYNC | O_SYNC)) == 0) fd = std::move(stash_);
    stash_.reset();
  }
  auto self = std::static_pointer_cast<GoferFile>(shared_from_this());
  if (!fd.valid() && host_flags == O_RDONLY) {
    ASSIGN_OR_RETURN(std::shared_ptr<const UniqueFd> ro, ReadOnlyFd());
    return std::shared_ptr<vfs::FileDescription>(
        std::make_shared<GoferFileFD>(std::move(self), std::move(ro), /*shared=*/true, flags));
  }
  if (!fd.valid()) {
    ASSIGN_OR_RETURN(fd, client().Open(handle_, host_flags));
  }
  return std::shared_ptr<vfs::FileDescription>(std::make_shared<GoferFileFD>(
      std::move(self), std::make_shared<const UniqueFd>(std::move(fd)),
      /*shared=*/false, flags));
}

// --- Symlinks: the target is read once (a symlink's contents never change). ---

class GoferSymlink : public GoferInode {
 public:
  GoferSymlink(GoferFilesystem& fs, std::shared_ptr<Session> s, const HandleStat& hs,
               std::optional<std::string> target = std::nullopt)
      : GoferInode(fs, std::move(s), hs), target_(std::move(target)) {}

  ErrnoOr<std::string> Readlink() override {
    {
      absl::MutexLock l(&mu_);
      if (target_) return *target_;
    }
    ASSIGN_OR_RETURN(std::string t, client().Readlink(handle_));
    absl::MutexLock l(&mu_);
    target_ = t;
    return t;
  }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Errno(ELOOP);
  }

 private:
  std::optional<std::string> target_ ABSL_GUARDED_BY(mu_);
};

// FIFOs, sockets and device nodes: the name and attributes are served. A FIFO
// opens a pipe in the Sentry that the inode keeps while any end is open (an
// open end holds its dentry, so the inode stays); it never reaches the host's
// FIFO, as gVisor's gofer FIFOs. Sockets and devices need the socket and
// device layers (ENXIO until then).
class GoferSpecial : public GoferInode {
 public:
  using GoferInode::GoferInode;
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&,
                                                      int flags) override {
    ASSIGN_OR_RETURN(Attr a, GetAttr());
    if (S_ISFIFO(a.mode)) return fifo_.Open(flags);
    return Errno(ENXIO);
  }
  // A host unix socket: the gofer connects to it and donates the fd.
  ErrnoOr<int> ConnectHostSocket(int type) override {
    ASSIGN_OR_RETURN(::gofer::UniqueFd fd, client().Connect(handle_, type));
    return fd.release();
  }

 private:
  pipe::NamedPipe fifo_;
};

// --- Directories. ---

class GoferDir : public GoferInode {
 public:
  GoferDir(GoferFilesystem& fs, std::shared_ptr<Session> s, const HandleStat& hs,
           uint64_t parent_ino)
      : GoferInode(fs, std::move(s), hs), parent_ino_(parent_ino) {}

  ErrnoOr<std::shared_ptr<Inode>> Lookup(std::string_view name) override {
    return LookupImpl(name, /*to_read=*/false);
  }
  // The walk also opens a regular file O_RDONLY (the file's shared read-only
  // fd, GoferFile::ReadOnlyFd): the open that follows costs no round trip.
  ErrnoOr<std::shared_ptr<Inode>> LookupToRead(std::string_view name) override {
    return LookupImpl(name, /*to_read=*/true);
  }

  ErrnoOr<std::shared_ptr<Inode>> LookupImpl(std::string_view name, bool to_read) {
    return LookupAhead({&name, 1}, to_read, nullptr);
  }

  // One walk for every name: the gofer stops at the first that is missing,
  // a symlink or not a directory with names after it.
  ErrnoOr<std::shared_ptr<Inode>> LookupAhead(std::span<const std::string_view> names,
                                              bool read_last,
                                              std::vector<std::shared_ptr<Inode>>* ahead) override {
    if (ahead == nullptr) names = names.first(1);
    if (IsAbsent(names[0])) return Errno(ENOENT);
    std::vector<std::string> walk(names.begin(), names.end());
    ASSIGN_OR_RETURN(::gofer::WalkResult w, client().Walk(handle_, walk, read_last));
    if (w.entries.size() > names.size()) {
      for (const HandleStat& e : w.entries) session_->Release(e.handle);
      return Errno(EIO);
    }
    if (w.entries.empty()) {
      if (w.error.value() == ENOENT) RememberAbsent(names[0]);
      return w.error.value() != 0 ? w.error : Errno(EIO);
    }
    std::shared_ptr<GoferInode> first;
    std::shared_ptr<GoferInode> prev;
    for (size_t i = 0; i < w.entries.size(); ++i) {
      const HandleStat& e = w.entries[i];
      const bool last_entry = i + 1 == w.entries.size();
      std::shared_ptr<GoferInode> inode;
      if (last_entry && S_ISLNK(e.stat.st_mode) && w.last_symlink_target) {
        inode =
            std::make_shared<GoferSymlink>(gfs(), session_, e, std::move(*w.last_symlink_target));
      } else {
        inode = MakeInode(gfs(), session_, e, prev ? prev->ino() : ino_);
      }
      if (prev) {
        ahead->push_back(inode);
      } else {
        first = inode;
      }
      prev = std::move(inode);
    }
    if (w.fd.valid() && w.entries.size() == names.size()) {
      if (auto* f = dynamic_cast<GoferFile*>(prev.get())) f->SetReadOnlyFd(std::move(w.fd));
    }
    // The walk ended at a missing name below what it found: remember that too.
    if (w.entries.size() < names.size() && w.error.value() == ENOENT) {
      if (auto* d = dynamic_cast<GoferDir*>(prev.get())) d->RememberAbsent(names[w.entries.size()]);
    }
    return std::shared_ptr<Inode>(std::move(first));
  }

  ErrnoOr<std::shared_ptr<Inode>> Create(std::string_view name, uint32_t mode,
                                         const vfs::Owner& owner) override {
    ASSIGN_OR_RETURN(::gofer::CreateResult c, client().Create(handle_, std::string(name), O_RDWR,
                                                              mode & 07777, ToOwner(owner)));
    InvalidateAttr();
    std::shared_ptr<GoferInode> inode = MakeInode(gfs(), session_, c.file, ino_);
    if (auto* f = dynamic_cast<GoferFile*>(inode.get())) f->StashFd(std::move(c.fd));
    return std::shared_ptr<Inode>(std::move(inode));
  }

  ErrnoOr<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                        const vfs::Owner& owner) override {
    ASSIGN_OR_RETURN(HandleStat hs,
                     client().Mkdir(handle_, std::string(name), mode & 07777, ToOwner(owner)));
    InvalidateAttr();
    return std::shared_ptr<Inode>(MakeInode(gfs(), session_, hs, ino_));
  }

  // The gofer makes regular files and FIFOs; anything else is EPERM from it.
  ErrnoOr<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t,
                                        const vfs::Owner& owner) override {
    ASSIGN_OR_RETURN(HandleStat hs,
                     client().Mknod(handle_, std::string(name), (mode & S_IFMT) | (mode & 07777),
                                    ToOwner(owner)));
    InvalidateAttr();
    return std::shared_ptr<Inode>(MakeInode(gfs(), session_, hs, ino_));
  }

  ErrnoOr<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                          const vfs::Owner& owner) override {
    if (target.size() > ::gofer::kMaxSymlinkTarget) return Errno(ENAMETOOLONG);
    ASSIGN_OR_RETURN(HandleStat hs, client().Symlink(handle_, std::string(name),
                                                     std::string(target), ToOwner(owner)));
    InvalidateAttr();
    if (!S_ISLNK(hs.stat.st_mode)) {
      // The host replaced the name at once: serve whatever is there now.
      return std::shared_ptr<Inode>(MakeInode(gfs(), session_, hs, ino_));
    }
    return std::shared_ptr<Inode>(
        std::make_shared<GoferSymlink>(gfs(), session_, hs, std::string(target)));
  }

  ErrnoOrOk Link(std::string_view name, const std::shared_ptr<Inode>& target) override {
    auto* t = dynamic_cast<GoferInode*>(target.get());
    if (t == nullptr || &t->fs() != &fs()) return Errno(EXDEV);
    const uint64_t gen = t->Generation();
    ASSIGN_OR_RETURN(HandleStat hs, client().Link(t->handle(), handle_, std::string(name)));
    // The VFS gives the new name the inode it already has; this second handle
    // to the same file is not needed. Its attributes are the file's, fresh.
    session_->Release(hs.handle);
    t->UpdateAttr(hs.stat, gen);
    InvalidateAttr();
    return Ok();
  }

  ErrnoOrOk Unlink(std::string_view name, Inode& child) override {
    RETURN_IF_ERROR(client().Unlink(handle_, std::string(name), 0));
    InvalidateAttr();
    if (auto* c = dynamic_cast<GoferInode*>(&child)) c->InvalidateAttr();
    return Ok();
  }

  ErrnoOrOk Rmdir(std::string_view name, Inode& child) override {
    RETURN_IF_ERROR(client().Unlink(handle_, std::string(name), AT_REMOVEDIR));
    InvalidateAttr();
    if (auto* c = dynamic_cast<GoferInode*>(&child)) c->InvalidateAttr();
    return Ok();
  }

  ErrnoOrOk Rename(std::string_view name, Inode& new_dir, std::string_view new_name,
                   Inode* replaced, unsigned flags) override {
    auto* nd = dynamic_cast<GoferDir*>(&new_dir);
    if (nd == nullptr || &nd->fs() != &fs()) return Errno(EXDEV);
    RETURN_IF_ERROR(
        client().Rename(handle_, std::string(name), nd->handle_, std::string(new_name), flags));
    InvalidateAttr();
    nd->InvalidateAttr();
    if (auto* r = dynamic_cast<GoferInode*>(replaced)) r->InvalidateAttr();
    return Ok();
  }

  // Cookies: 0 is the start, 1 follows ".", 2 follows ".." (Linux's
  // dir_emit_dots numbering); every other cookie is the server's offset of the
  // entry it follows (the host's d_off), passed back to resume after it.
  ErrnoOrOk IterateDir(int64_t offset, const vfs::DirEntrySink& sink) override {
    bool emitted = false;
    if (offset < 1) {
      if (!sink({".", ino_, DT_DIR, 1})) return Ok();
      emitted = true;
    }
    if (offset < 2) {
      if (!sink({"..", parent_ino_.load(), DT_DIR, 2})) return Ok();
      emitted = true;
    }
    int64_t pos = offset <= 2 ? 0 : offset;
    for (;;) {
      auto chunk = client().Getdents(handle_, pos, kGetdentsChunk);
      if (!chunk.ok()) {
        // What was handed out stands (the caller's position moved past it);
        // the next call meets the error again.
        if (emitted) return Ok();
        return chunk.error();
      }
      for (const ::gofer::Dirent& e : chunk->entries) {
        if (e.offset <= 2) {
          // The host used a position we give the dots: resuming after this
          // entry would start over. Stop rather than loop forever.
          static std::atomic<bool> logged{false};
          if (!logged.exchange(true)) {
            SLOG(kWarning,
                 "gofer: directory offset %d of \"%s\" collides with the dot entries; "
                 "listing cut short",
                 e.offset, e.name);
          }
          return Ok();
        }
        if (!sink({e.name, e.ino, e.type, e.offset})) return Ok();
        emitted = true;
        pos = e.offset;
      }
      if (chunk->eof || chunk->entries.empty()) return Ok();
    }
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                      int flags) override;

 private:
  // ".."'s inode number: the directory this one was found in (the root's own
  // for the root).
  std::atomic<uint64_t> parent_ino_;
  // A read-only mount in exclusive mode (runsc do's root): nothing in the
  // sandbox can create a name here, and the host is assumed not to, as for
  // every name already walked (never revalidated): a name the host said
  // is absent stays absent. Programs probe the same missing paths again
  // and again (gcc: 136 of its 359 ENOENT lookups, each a round trip).
  bool RemembersAbsent() const { return gfs().read_only() && !session_->options.revalidate_after; }
  bool IsAbsent(std::string_view name) {
    if (!RemembersAbsent()) return false;
    absl::MutexLock l(&absent_mu_);
    return absent_.find(name) != absent_.end();
  }
  void RememberAbsent(std::string_view name) {
    if (!RemembersAbsent()) return;
    absl::MutexLock l(&absent_mu_);
    if (absent_.size() >= kMaxAbsent) absent_.clear();
    absent_.emplace(name);
  }

  // Names known absent (Lookup), on a read-only mount in exclusive mode only.
  static constexpr size_t kMaxAbsent = 1024;
  absl::Mutex absent_mu_;  // a leaf
  std::set<std::string, std::less<>> absent_ ABSL_GUARDED_BY(absent_mu_);
};

// The open description of a directory: a getdents cookie. No host fd: the
// entries come from Getdents on the handle.
class GoferDirFD : public vfs::DirectoryFD {
 public:
  GoferDirFD(std::shared_ptr<GoferDir> d, int flags)
      : DirectoryFD(d, flags, absl::StrFormat("gofer:[%d]", d->ino())), gdir_(std::move(d)) {}
  ErrnoOrOk Sync() override { return gdir_->client().Fsync(gdir_->handle(), /*data_only=*/false); }

 private:
  const std::shared_ptr<GoferDir> gdir_;
};

ErrnoOr<std::shared_ptr<vfs::FileDescription>> GoferDir::Open(const vfs::VirtualDentry&,
                                                              int flags) {
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<GoferDirFD>(std::static_pointer_cast<GoferDir>(shared_from_this()), flags));
}

std::shared_ptr<GoferInode> MakeInode(GoferFilesystem& fs, const std::shared_ptr<Session>& s,
                                      const HandleStat& hs, uint64_t parent_ino) {
  switch (hs.stat.st_mode & S_IFMT) {
    case S_IFDIR:
      return std::make_shared<GoferDir>(fs, s, hs, parent_ino);
    case S_IFREG:
      return std::make_shared<GoferFile>(fs, s, hs);
    case S_IFLNK:
      return std::make_shared<GoferSymlink>(fs, s, hs);
    default:
      return std::make_shared<GoferSpecial>(fs, s, hs);
  }
}

}  // namespace

GoferFilesystem::GoferFilesystem(std::shared_ptr<Session> session, bool read_only)
    : session_(std::move(session)), dev_(tmpfs::NewAnonDev()), read_only_(read_only) {}

GoferFilesystem::~GoferFilesystem() = default;

ErrnoOr<std::shared_ptr<GoferFilesystem>> GoferFilesystem::Create(
    std::shared_ptr<::gofer::Client> client, const GoferOptions& options) {
  ASSIGN_OR_RETURN(::gofer::AttachResult a, client->Attach());
  auto session = std::make_shared<Session>(std::move(client), options);
  if (!S_ISDIR(a.root.stat.st_mode)) {
    session->Release(a.root.handle);
    return Errno(ENOTDIR);
  }
  auto fs = std::shared_ptr<GoferFilesystem>(new GoferFilesystem(session, a.read_only));
  // The root's ".." is itself.
  fs->root_ = std::make_shared<GoferDir>(*fs, session, a.root, a.root.stat.st_ino);
  return fs;
}

ErrnoOr<struct statfs> GoferFilesystem::StatFS() {
  return session_->client->StatFS(static_cast<GoferInode&>(*root_).handle());
}

}  // namespace sentry::fsimpl::gofer
