#include "gofer/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace gofer {

using sentry::Errno;
using sentry::ErrnoOr;

namespace {

constexpr Errno kOk{0};

Errno HostErrno() { return Errno(errno); }

// One path component: never "", ".", "..", nor anything with '/' or NUL.
Errno CheckName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    return Errno(EINVAL);
  }
  if (name.size() > kMaxNameLength) return Errno(ENAMETOOLONG);
  return kOk;
}

// Open flags a client may ask for (beside the access mode).
constexpr int kAllowedOpenFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC |
                                  O_DIRECT | O_NOATIME | O_DIRECTORY | O_LARGEFILE;

// The xattr namespaces the gofer serves: user.* and trusted.* (as the host
// allows them to the gofer's own credentials: trusted.* needs CAP_SYS_ADMIN,
// which `runsc gofer` does not hold), and security.* read-only (labels and
// file capabilities are read, never changed through the gofer: EPERM).
// Anything else (system.*, unknown prefixes) is EOPNOTSUPP.
enum class XattrAccess { kNone, kReadOnly, kReadWrite };

XattrAccess XattrNamespaceAccess(const std::string& name) {
  auto has = [&](std::string_view prefix) {
    return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
  };
  if (has("user.") || has("trusted.")) return XattrAccess::kReadWrite;
  if (has("security.")) return XattrAccess::kReadOnly;
  return XattrAccess::kNone;
}

Errno CheckXattrName(const std::string& name, bool write) {
  if (name.empty() || name.size() > kMaxNameLength) return Errno(ERANGE);
  if (name.find('\0') != std::string::npos) return Errno(EINVAL);
  switch (XattrNamespaceAccess(name)) {
    case XattrAccess::kNone:
      return Errno(EOPNOTSUPP);
    case XattrAccess::kReadOnly:
      return write ? Errno(EPERM) : kOk;
    case XattrAccess::kReadWrite:
      return kOk;
  }
  return Errno(EOPNOTSUPP);
}

std::string FdName(int fd) { return absl::StrFormat("%d", fd); }

}  // namespace

// The operation table: one row per request kind (data, not a switch).
const Server::Op* Server::FindOp(proto::Request::OpCase op) {
  using R = proto::Request;
  static const struct {
    R::OpCase c;
    Op op;
  } kOps[] = {
      {R::kAttach, {&Server::Attach, false}},
      {R::kWalk, {&Server::Walk, false}},
      {R::kStat, {&Server::Stat, false}},
      {R::kStatfs, {&Server::StatFS, false}},
      {R::kOpen, {&Server::Open, false}},  // checks its own flags for EROFS
      {R::kCreate, {&Server::Create, true}},
      {R::kMkdir, {&Server::Mkdir, true}},
      {R::kMknod, {&Server::Mknod, true}},
      {R::kSymlink, {&Server::Symlink, true}},
      {R::kLink, {&Server::Link, true}},
      {R::kUnlink, {&Server::Unlink, true}},
      {R::kRename, {&Server::Rename, true}},
      {R::kReadlink, {&Server::Readlink, false}},
      {R::kGetdents, {&Server::Getdents, false}},
      {R::kSetattr, {&Server::SetAttr, true}},
      {R::kFsync, {&Server::Fsync, false}},
      {R::kFallocate, {&Server::Fallocate, true}},
      {R::kGetxattr, {&Server::GetXattr, false}},
      {R::kSetxattr, {&Server::SetXattr, true}},
      {R::kListxattr, {&Server::ListXattr, false}},
      {R::kRemovexattr, {&Server::RemoveXattr, true}},
      {R::kConnect, {&Server::Connect, false}},
      {R::kClose, {&Server::Close, false}},
  };
  for (const auto& row : kOps) {
    if (row.c == op) return &row.op;
  }
  return nullptr;
}

Server::Server(UniqueFd root, UniqueFd proc_self_fd, const ServerOptions& options)
    : root_(std::move(root)), proc_self_fd_(std::move(proc_self_fd)), options_(options) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(UniqueFd root, UniqueFd proc_self_fd,
                                                       const ServerOptions& options) {
  struct stat st;
  if (fstat(root.get(), &st) != 0) return sentry::HostError("gofer: fstat(root)", errno);
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError("gofer: the root is not a directory");
  }
  if (fstat(proc_self_fd.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError("gofer: proc_self_fd is not a directory");
  }
  if (options.max_handles == 0) return absl::InvalidArgumentError("gofer: max_handles is 0");
  return std::unique_ptr<Server>(new Server(std::move(root), std::move(proc_self_fd), options));
}

absl::StatusOr<std::unique_ptr<Server>> Server::CreateFromPath(const std::string& root_path,
                                                               const ServerOptions& options) {
  UniqueFd root(open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return sentry::HostError(absl::StrFormat("gofer: open(\"%s\")", root_path), errno);
  }
  UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return sentry::HostError("gofer: open(\"/proc/self/fd\")", errno);
  return Create(std::move(root), std::move(proc), options);
}

absl::Status Server::Serve(int sock) {
  // Connect names a socket by its fd number relative to the working directory
  // (sockaddr_un has no *at form). Give this thread a private fs context so the
  // chdir affects nobody else.
  if (!cwd_is_proc_fd_) {
    if (unshare(CLONE_FS) != 0) return sentry::HostError("gofer: unshare(CLONE_FS)", errno);
    if (fchdir(proc_self_fd_.get()) != 0) {
      return sentry::HostError("gofer: fchdir(/proc/self/fd)", errno);
    }
    cwd_is_proc_fd_ = true;
  }
  std::vector<char> buf(kMaxMessageSize);
  std::string out;
  for (;;) {
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // No control buffer: fds a client tries to send are closed by the kernel.
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sentry::HostError("gofer: recvmsg", errno);
    }
    // NOTE: a zero-length message cannot be told from end of file on a
    // SOCK_SEQPACKET socket; both end the connection.
    if (n == 0) return absl::OkStatus();  // the Sentry hung up
    proto::Request req;
    proto::Response resp;
    UniqueFd donated;
    if (msg.msg_flags & MSG_TRUNC) {
      resp.set_error(EMSGSIZE);
    } else if (!req.ParseFromArray(buf.data(), static_cast<int>(n))) {
      resp.set_error(EINVAL);
    } else {
      Handle(req, resp, donated);
    }
    // Never an empty message (the client would read it as a hangup): every
    // response sets `error` or a result, so it has at least one field.
    if (!resp.SerializeToString(&out) || out.empty() || out.size() > kMaxMessageSize) {
      // A server bug, not a client's doing: still answer, in bounds.
      SLOG(kError, "gofer: response to op %d too large (%zu bytes)",
           static_cast<int>(req.op_case()), out.size());
      resp.Clear();
      resp.set_error(EIO);
      donated.reset();
      resp.SerializeToString(&out);
    }
    iov = {out.data(), out.size()};
    msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (donated.valid()) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int fd = donated.get();
      memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    }
    ssize_t sent;
    do {
      sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      if (errno == EPIPE || errno == ECONNRESET) return absl::OkStatus();
      return sentry::HostError("gofer: sendmsg", errno);
    }
    // `donated` closes here: the Sentry now holds the only copy.
  }
}

void Server::Handle(const proto::Request& req, proto::Response& resp, UniqueFd& donated) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const Op* op = FindOp(req.op_case());
  Errno e = kOk;
  if (op == nullptr) {
    e = Errno(ENOSYS);
  } else if (op->mutates && options_.read_only) {
    e = Errno(EROFS);
  } else {
    e = (this->*(op->fn))(req, resp, donated);
  }
  resp.set_error(e.value());
  if (e.value() != 0 && !resp.has_walk()) {
    // An error carries no result (Walk's partial result is the exception).
    resp.clear_result();
    donated.reset();
  }
  resp.set_fd_attached(donated.valid());
}

ErrnoOr<Server::Entry*> Server::Lookup(uint64_t handle) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) return Errno(EBADF);
  return &it->second;
}

ErrnoOr<Server::Entry*> Server::LookupDir(uint64_t handle) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) return Errno(EBADF);
  if (it->second.type != S_IFDIR) return Errno(ENOTDIR);
  return &it->second;
}

Errno Server::CheckRoom(size_t n) const {
  return handles_.size() + n > options_.max_handles ? Errno(EMFILE) : kOk;
}

Errno Server::AddHandle(UniqueFd fd, proto::HandleAttr* out) {
  RETURN_IF_ERROR(CheckRoom(1));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return HostErrno();
  uint64_t h = next_handle_++;
  Entry& e = handles_[h];
  e.fd = std::move(fd);
  e.type = st.st_mode & S_IFMT;
  out->set_handle(h);
  StatToAttr(st, out->mutable_attr());
  return kOk;
}

ErrnoOr<UniqueFd> Server::Reopen(const Entry& e, int flags) {
  // The magic link /proc/self/fd/N leads to exactly the inode of the O_PATH fd
  // (no name is looked up on the way), and the kernel refuses to open a symlink
  // reached that way (ELOOP), so no host symlink is ever followed. O_NOFOLLOW
  // cannot be added: it would refuse the magic link itself.
  UniqueFd fd(
      openat(proc_self_fd_.get(), FdName(e.fd.get()).c_str(), flags | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return HostErrno();
  return fd;
}

Errno Server::FinishCreate(int dir_fd, const std::string& name, const proto::Owner* owner,
                           proto::HandleAttr* out) {
  // NOTE: the name is looked up once more (one component, O_NOFOLLOW): if the
  // host replaced it meanwhile we get the replacement, which is still inside the
  // root and still not followed.
  UniqueFd fd(openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return HostErrno();
  if (owner != nullptr && fchownat(fd.get(), "", owner->uid(), owner->gid(), AT_EMPTY_PATH) != 0) {
    return HostErrno();
  }
  return AddHandle(std::move(fd), out);
}

Errno Server::Attach(const proto::Request&, proto::Response& resp, UniqueFd&) {
  UniqueFd fd(fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return HostErrno();
  auto* r = resp.mutable_attach();
  r->set_read_only(options_.read_only);
  return AddHandle(std::move(fd), r->mutable_root());
}

Errno Server::Walk(const proto::Request& req, proto::Response& resp, UniqueFd& donated) {
  const auto& w = req.walk();
  if (static_cast<size_t>(w.names_size()) > kMaxWalkComponents) return Errno(E2BIG);
  for (const std::string& name : w.names()) RETURN_IF_ERROR(CheckName(name));
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(w.dir()));
  auto* r = resp.mutable_walk();
  r->set_status(proto::WALK_COMPLETE);
  int cur = dir->fd.get();
  for (int i = 0; i < w.names_size(); ++i) {
    const std::string& name = w.names(i);
    Errno e = CheckRoom(1);
    UniqueFd fd;
    if (e.value() == 0) {
      fd.reset(openat(cur, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) e = HostErrno();
    }
    if (e.value() == 0) e = AddHandle(std::move(fd), r->add_entries());
    if (e.value() != 0) {
      if (r->entries_size() > i) r->mutable_entries()->RemoveLast();
      r->set_status(proto::WALK_STOPPED_BY_ERROR);
      return e;
    }
    const bool last = i + 1 == w.names_size();
    const uint32_t type = r->entries(i).attr().mode() & S_IFMT;
    if (type == S_IFLNK) {
      // Never followed: the client resolves the link and walks on itself,
      // with its target from here.
      char buf[kMaxSymlinkTarget + 1];
      const ssize_t n = readlinkat(handles_[r->entries(i).handle()].fd.get(), "", buf, sizeof(buf));
      if (n >= 0) r->set_last_symlink_target(std::string(buf, static_cast<size_t>(n)));
      if (!last) r->set_status(proto::WALK_STOPPED_AT_SYMLINK);
      return kOk;
    }
    if (last) {
      if (type == S_IFREG && w.open_last_read_only()) {
        // As Open(O_RDONLY) would; a failure only means no fd.
        ErrnoOr<UniqueFd> fd = Reopen(handles_[r->entries(i).handle()], O_RDONLY);
        if (fd.ok()) donated = *std::move(fd);
      }
      break;
    }
    if (type != S_IFDIR) {
      r->set_status(proto::WALK_STOPPED_BY_ERROR);
      return Errno(ENOTDIR);
    }
    cur = handles_[r->entries(i).handle()].fd.get();
  }
  return kOk;
}

Errno Server::Stat(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  ASSIGN_OR_RETURN(Entry * e, Lookup(req.stat().handle()));
  struct stat st;
  if (fstat(e->fd.get(), &st) != 0) return HostErrno();
  StatToAttr(st, resp.mutable_stat()->mutable_attr());
  return kOk;
}

Errno Server::StatFS(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  ASSIGN_OR_RETURN(Entry * e, Lookup(req.statfs().handle()));
  struct statfs s;
  if (fstatfs(e->fd.get(), &s) != 0) return HostErrno();
  auto* r = resp.mutable_statfs();
  r->set_type(s.f_type);
  r->set_bsize(s.f_bsize);
  r->set_blocks(s.f_blocks);
  r->set_bfree(s.f_bfree);
  r->set_bavail(s.f_bavail);
  r->set_files(s.f_files);
  r->set_ffree(s.f_ffree);
  r->set_namelen(s.f_namelen);
  r->set_frsize(s.f_frsize);
  r->set_flags(s.f_flags);
  return kOk;
}

Errno Server::Open(const proto::Request& req, proto::Response& resp, UniqueFd& donated) {
  const auto& o = req.open();
  int flags = static_cast<int>(o.flags());
  if ((flags & ~kAllowedOpenFlags) != 0 || (flags & O_ACCMODE) == O_ACCMODE) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(Entry * e, Lookup(o.handle()));
  const bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  switch (e->type) {
    case S_IFREG:
      if (flags & O_DIRECTORY) return Errno(ENOTDIR);
      break;
    case S_IFDIR:
      if (writes) return Errno(EISDIR);
      break;
    case S_IFIFO:
      if (flags & O_DIRECTORY) return Errno(ENOTDIR);
      flags |= O_NONBLOCK;  // the gofer must never block waiting for a peer
      break;
    case S_IFLNK:
      return Errno(ELOOP);
    default:
      return Errno(ENXIO);  // sockets (use Connect) and devices
  }
  if (writes && options_.read_only) return Errno(EROFS);
  ASSIGN_OR_RETURN(donated, Reopen(*e, flags));
  resp.mutable_open();
  return kOk;
}

Errno Server::Create(const proto::Request& req, proto::Response& resp, UniqueFd& donated) {
  const auto& c = req.create();
  RETURN_IF_ERROR(CheckName(c.name()));
  int flags = static_cast<int>(c.flags());
  if ((flags & ~kAllowedOpenFlags) != 0 || (flags & O_DIRECTORY) ||
      (flags & O_ACCMODE) == O_ACCMODE) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(c.dir()));
  RETURN_IF_ERROR(CheckRoom(1));
  // O_EXCL: an existing name (a symlink included) is EEXIST, never followed.
  UniqueFd fd(openat(dir->fd.get(), c.name().c_str(),
                     flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                     c.mode() & 07777));
  if (!fd.valid()) return HostErrno();
  Errno e = kOk;
  if (c.has_owner() && fchown(fd.get(), c.owner().uid(), c.owner().gid()) != 0) e = HostErrno();
  // The handle is the very inode just created, re-opened O_PATH by fd.
  UniqueFd path;
  if (e.value() == 0) {
    path.reset(openat(proc_self_fd_.get(), FdName(fd.get()).c_str(), O_PATH | O_CLOEXEC));
    if (!path.valid()) e = HostErrno();
  }
  if (e.value() == 0) e = AddHandle(std::move(path), resp.mutable_create()->mutable_file());
  if (e.value() != 0) {
    unlinkat(dir->fd.get(), c.name().c_str(), 0);  // undo: no side effect on error
    return e;
  }
  donated = std::move(fd);
  return kOk;
}

Errno Server::Mkdir(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& m = req.mkdir();
  RETURN_IF_ERROR(CheckName(m.name()));
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(m.dir()));
  RETURN_IF_ERROR(CheckRoom(1));
  if (mkdirat(dir->fd.get(), m.name().c_str(), m.mode() & 07777) != 0) return HostErrno();
  Errno e = FinishCreate(dir->fd.get(), m.name(), m.has_owner() ? &m.owner() : nullptr,
                         resp.mutable_mkdir()->mutable_dir());
  if (e.value() != 0) unlinkat(dir->fd.get(), m.name().c_str(), AT_REMOVEDIR);
  return e;
}

Errno Server::Mknod(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& m = req.mknod();
  RETURN_IF_ERROR(CheckName(m.name()));
  mode_t mode = m.mode();
  if ((mode & S_IFMT) == 0) mode |= S_IFREG;  // as mknod(2) does
  if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != S_IFIFO) return Errno(EPERM);
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(m.dir()));
  RETURN_IF_ERROR(CheckRoom(1));
  if (mknodat(dir->fd.get(), m.name().c_str(), mode & (S_IFMT | 07777), 0) != 0) {
    return HostErrno();
  }
  Errno e = FinishCreate(dir->fd.get(), m.name(), m.has_owner() ? &m.owner() : nullptr,
                         resp.mutable_mknod()->mutable_node());
  if (e.value() != 0) unlinkat(dir->fd.get(), m.name().c_str(), 0);
  return e;
}

Errno Server::Symlink(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& s = req.symlink();
  RETURN_IF_ERROR(CheckName(s.name()));
  if (s.target().empty()) return Errno(ENOENT);
  if (s.target().size() > kMaxSymlinkTarget) return Errno(ENAMETOOLONG);
  if (s.target().find('\0') != std::string::npos) return Errno(EINVAL);
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(s.dir()));
  RETURN_IF_ERROR(CheckRoom(1));
  // The target is only data here: the server never walks it.
  if (symlinkat(s.target().c_str(), dir->fd.get(), s.name().c_str()) != 0) return HostErrno();
  Errno e = FinishCreate(dir->fd.get(), s.name(), s.has_owner() ? &s.owner() : nullptr,
                         resp.mutable_symlink()->mutable_link());
  if (e.value() != 0) unlinkat(dir->fd.get(), s.name().c_str(), 0);
  return e;
}

Errno Server::Link(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& l = req.link();
  RETURN_IF_ERROR(CheckName(l.name()));
  ASSIGN_OR_RETURN(Entry * target, Lookup(l.target()));
  if (target->type == S_IFDIR) return Errno(EPERM);
  const int target_fd = target->fd.get();
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(l.dir()));
  RETURN_IF_ERROR(CheckRoom(1));
  // linkat(fd, "", AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the magic
  // link names the same inode and AT_SYMLINK_FOLLOW follows only the magic
  // link (a symlink reached through it is linked, not followed).
  if (linkat(proc_self_fd_.get(), FdName(target_fd).c_str(), dir->fd.get(), l.name().c_str(),
             AT_SYMLINK_FOLLOW) != 0) {
    return HostErrno();
  }
  return FinishCreate(dir->fd.get(), l.name(), nullptr, resp.mutable_link()->mutable_link());
}

Errno Server::Unlink(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& u = req.unlink();
  RETURN_IF_ERROR(CheckName(u.name()));
  if ((u.flags() & ~static_cast<uint32_t>(AT_REMOVEDIR)) != 0) return Errno(EINVAL);
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(u.dir()));
  if (unlinkat(dir->fd.get(), u.name().c_str(), static_cast<int>(u.flags())) != 0) {
    return HostErrno();
  }
  resp.mutable_unlink();
  return kOk;
}

Errno Server::Rename(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& r = req.rename();
  RETURN_IF_ERROR(CheckName(r.old_name()));
  RETURN_IF_ERROR(CheckName(r.new_name()));
  const uint32_t flags = r.flags();
  if (flags != 0 && flags != RENAME_NOREPLACE && flags != RENAME_EXCHANGE) return Errno(EINVAL);
  ASSIGN_OR_RETURN(Entry * old_dir, LookupDir(r.old_dir()));
  const int old_fd = old_dir->fd.get();
  ASSIGN_OR_RETURN(Entry * new_dir, LookupDir(r.new_dir()));
  if (renameat2(old_fd, r.old_name().c_str(), new_dir->fd.get(), r.new_name().c_str(), flags) !=
      0) {
    return HostErrno();
  }
  resp.mutable_rename();
  return kOk;
}

Errno Server::Readlink(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  ASSIGN_OR_RETURN(Entry * e, Lookup(req.readlink().handle()));
  if (e->type != S_IFLNK) return Errno(EINVAL);
  char buf[kMaxSymlinkTarget + 1];
  ssize_t n = readlinkat(e->fd.get(), "", buf, sizeof(buf));
  if (n < 0) return HostErrno();
  resp.mutable_readlink()->set_target(std::string(buf, static_cast<size_t>(n)));
  return kOk;
}

Errno Server::Getdents(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& g = req.getdents();
  ASSIGN_OR_RETURN(Entry * dir, LookupDir(g.dir()));
  if (!dir->dir_fd.valid()) {
    ASSIGN_OR_RETURN(dir->dir_fd, Reopen(*dir, O_RDONLY | O_DIRECTORY));
  }
  const size_t budget = std::min<size_t>(g.max_bytes(), kMaxGetdentsBytes);
  if (lseek(dir->dir_fd.get(), g.offset(), SEEK_SET) < 0) return HostErrno();
  auto* r = resp.mutable_getdents();
  size_t used = 0;
  alignas(8) char buf[16 * 1024];
  for (;;) {
    long n = syscall(SYS_getdents64, dir->dir_fd.get(), buf, sizeof(buf));
    if (n < 0) return HostErrno();
    if (n == 0) {
      r->set_eof(true);
      return kOk;
    }
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + pos);
      pos += d->d_reclen;
      const std::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      const size_t cost = 24 + name.size();
      if (used + cost > budget) {
        // The next call resumes at the previous entry's offset.
        return r->entries_size() == 0 ? Errno(EINVAL) : kOk;
      }
      used += cost;
      auto* out = r->add_entries();
      out->set_ino(d->d_ino);
      out->set_type(d->d_type);
      out->set_offset(d->d_off);
      out->set_name(std::string(name));
    }
  }
}

Errno Server::SetAttr(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& s = req.setattr();
  ASSIGN_OR_RETURN(Entry * e, Lookup(s.handle()));
  const int fd = e->fd.get();
  if (s.set_size()) {
    if (e->type == S_IFDIR) return Errno(EISDIR);
    if (e->type != S_IFREG) return Errno(EINVAL);
    if (s.size() < 0) return Errno(EINVAL);
  }
  if (s.set_mode()) {
    if (e->type == S_IFLNK) return Errno(EOPNOTSUPP);
    // fchmod does not take O_PATH fds; the magic link names the same inode.
    if (fchmodat(proc_self_fd_.get(), FdName(fd).c_str(), s.mode() & 07777, 0) != 0) {
      return HostErrno();
    }
  }
  if (s.set_uid() || s.set_gid()) {
    const uid_t uid = s.set_uid() ? s.uid() : static_cast<uid_t>(-1);
    const gid_t gid = s.set_gid() ? s.gid() : static_cast<gid_t>(-1);
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) return HostErrno();
  }
  if (s.set_size()) {
    ASSIGN_OR_RETURN(UniqueFd w, Reopen(*e, O_WRONLY | O_NONBLOCK));
    if (ftruncate(w.get(), s.size()) != 0) return HostErrno();
  }
  if (s.set_atime() || s.set_mtime()) {
    struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (s.set_atime()) ts[0] = {s.atime_sec(), s.atime_nsec()};
    if (s.set_mtime()) ts[1] = {s.mtime_sec(), s.mtime_nsec()};
    // AT_EMPTY_PATH on an O_PATH fd: the inode itself, a symlink included.
    if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0) return HostErrno();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return HostErrno();
  StatToAttr(st, resp.mutable_setattr()->mutable_attr());
  return kOk;
}

Errno Server::Fsync(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  ASSIGN_OR_RETURN(Entry * e, Lookup(req.fsync().handle()));
  if (e->type != S_IFREG && e->type != S_IFDIR) return Errno(EINVAL);
  ASSIGN_OR_RETURN(UniqueFd fd,
                   Reopen(*e, O_RDONLY | O_NONBLOCK | (e->type == S_IFDIR ? O_DIRECTORY : 0)));
  if ((req.fsync().data_only() ? fdatasync(fd.get()) : fsync(fd.get())) != 0) return HostErrno();
  resp.mutable_fsync();
  return kOk;
}

Errno Server::Fallocate(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& f = req.fallocate();
  ASSIGN_OR_RETURN(Entry * e, Lookup(f.handle()));
  if (e->type == S_IFDIR) return Errno(EISDIR);
  if (e->type != S_IFREG) return Errno(ENODEV);
  ASSIGN_OR_RETURN(UniqueFd fd, Reopen(*e, O_WRONLY | O_NONBLOCK));
  if (fallocate(fd.get(), static_cast<int>(f.mode()), f.offset(), f.length()) != 0) {
    return HostErrno();
  }
  resp.mutable_fallocate();
  return kOk;
}

// Xattrs act on the handle's inode through its magic link, relative to the
// working directory Serve set to /proc/self/fd: getxattr("N") jumps to
// exactly the inode of the O_PATH fd N (no name is looked up on the way) and
// does not follow it further, so a symlink handle gets lgetxattr semantics
// and FIFOs, sockets and devices are never opened (no side effects, nothing
// blocks). Linux's per-type rules (user.* only on regular files and
// directories) are the host's answers.
Errno Server::GetXattr(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& g = req.getxattr();
  RETURN_IF_ERROR(CheckXattrName(g.name(), /*write=*/false));
  ASSIGN_OR_RETURN(Entry * e, Lookup(g.handle()));
  if (!cwd_is_proc_fd_) return Errno(EIO);  // Serve sets this up
  const std::string link = FdName(e->fd.get());
  // Most values are small: try a small buffer first, the largest on ERANGE.
  std::string value(256, '\0');
  ssize_t n = getxattr(link.c_str(), g.name().c_str(), value.data(), value.size());
  if (n < 0 && errno == ERANGE) {
    value.resize(kMaxXattrValue);
    n = getxattr(link.c_str(), g.name().c_str(), value.data(), value.size());
  }
  if (n < 0) return HostErrno();
  value.resize(static_cast<size_t>(n));
  resp.mutable_getxattr()->set_value(std::move(value));
  return kOk;
}

Errno Server::SetXattr(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& s = req.setxattr();
  RETURN_IF_ERROR(CheckXattrName(s.name(), /*write=*/true));
  if (s.value().size() > kMaxXattrValue) return Errno(E2BIG);
  if ((s.flags() & ~static_cast<uint32_t>(XATTR_CREATE | XATTR_REPLACE)) != 0) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(Entry * e, Lookup(s.handle()));
  if (!cwd_is_proc_fd_) return Errno(EIO);
  if (setxattr(FdName(e->fd.get()).c_str(), s.name().c_str(), s.value().data(), s.value().size(),
               static_cast<int>(s.flags())) != 0) {
    return HostErrno();
  }
  resp.mutable_setxattr();
  return kOk;
}

Errno Server::ListXattr(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  ASSIGN_OR_RETURN(Entry * e, Lookup(req.listxattr().handle()));
  if (!cwd_is_proc_fd_) return Errno(EIO);
  std::string list(kMaxXattrList, '\0');
  ssize_t n = listxattr(FdName(e->fd.get()).c_str(), list.data(), list.size());
  if (n < 0) return HostErrno();
  auto* r = resp.mutable_listxattr();
  for (size_t pos = 0; pos < static_cast<size_t>(n);) {
    size_t end = list.find('\0', pos);
    if (end == std::string::npos || end > static_cast<size_t>(n)) end = static_cast<size_t>(n);
    std::string name = list.substr(pos, end - pos);
    if (XattrNamespaceAccess(name) != XattrAccess::kNone) r->add_names(std::move(name));
    pos = end + 1;
  }
  return kOk;
}

Errno Server::RemoveXattr(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  const auto& rm = req.removexattr();
  RETURN_IF_ERROR(CheckXattrName(rm.name(), /*write=*/true));
  ASSIGN_OR_RETURN(Entry * e, Lookup(rm.handle()));
  if (!cwd_is_proc_fd_) return Errno(EIO);
  if (removexattr(FdName(e->fd.get()).c_str(), rm.name().c_str()) != 0) return HostErrno();
  resp.mutable_removexattr();
  return kOk;
}

Errno Server::Connect(const proto::Request& req, proto::Response& resp, UniqueFd& donated) {
  const auto& c = req.connect();
  if (c.type() != SOCK_STREAM && c.type() != SOCK_SEQPACKET && c.type() != SOCK_DGRAM) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(Entry * e, Lookup(c.handle()));
  if (e->type != S_IFSOCK) return Errno(ECONNREFUSED);
  if (!cwd_is_proc_fd_) return Errno(EIO);  // Serve sets this up
  UniqueFd s(socket(AF_UNIX, c.type() | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.valid()) return HostErrno();
  // The address is the handle's fd number relative to this thread's working
  // directory, /proc/self/fd: the magic link leads to the socket inode itself.
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string name = FdName(e->fd.get());
  memcpy(addr.sun_path, name.data(), name.size());
  // Non-blocking: a full backlog is EAGAIN, not a stuck gofer.
  if (connect(s.get(), reinterpret_cast<const struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return HostErrno();
  }
  int fl = fcntl(s.get(), F_GETFL);
  if (fl < 0 || fcntl(s.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) return HostErrno();
  donated = std::move(s);
  resp.mutable_connect();
  return kOk;
}

Errno Server::Close(const proto::Request& req, proto::Response& resp, UniqueFd&) {
  Errno e = kOk;
  for (uint64_t h : req.close().handles()) {
    if (handles_.erase(h) == 0) e = Errno(EBADF);
  }
  if (e.value() == 0) resp.mutable_close();
  return e;
}

}  // namespace gofer
