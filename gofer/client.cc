#include "gofer/client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_format.h"
#include "gofer/attr.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace gofer {

using sentry::Errno;
using sentry::ErrnoOr;
using sentry::ErrnoOrOk;

namespace {

HandleStat ToHandleStat(const proto::HandleAttr& h) {
  return HandleStat{h.handle(), AttrToStat(h.attr())};
}

void SetOwner(const std::optional<Owner>& owner, proto::Owner* out) {
  if (!owner) return;
  out->set_uid(owner->uid);
  out->set_gid(owner->gid);
}

}  // namespace

Client::Client(UniqueFd sock, const ClientOptions& options)
    : options_(options), sock_(std::move(sock)) {}

bool Client::connection_lost() const {
  absl::MutexLock l(&mu_);
  return lost_;
}

Errno Client::LoseLocked(const std::string& why) {
  if (!lost_) {
    SLOG(kError, "gofer connection lost: %s; every file operation now fails with EIO", why);
    lost_ = true;
    sock_.reset();
  }
  return Errno(EIO);
}

ErrnoOrOk Client::Call(const proto::Request& req, proto::Response& resp, UniqueFd* fd) {
  std::string out;
  if (!req.SerializeToString(&out)) return Errno(EINVAL);
  // Too big to send (e.g. very many names): the caller's problem, not the link's.
  if (out.size() > kMaxMessageSize) return Errno(E2BIG);

  absl::MutexLock l(&mu_);
  if (lost_) return Errno(EIO);
  ssize_t n;
  do {
    n = send(sock_.get(), out.data(), out.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return LoseLocked(absl::StrFormat("send: %s", strerror(errno)));

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  if (recv_buf_ == nullptr) recv_buf_ = std::make_unique_for_overwrite<char[]>(kMaxMessageSize);
  alignas(struct cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      return LoseLocked(absl::StrFormat("no answer within %d ms", options_.timeout_ms));
    }
    struct pollfd p = {sock_.get(), POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return LoseLocked(absl::StrFormat("poll: %s", strerror(errno)));
    if (r == 0) continue;  // the deadline check above ends it
    if (!(p.revents & POLLIN)) {
      return LoseLocked(
          absl::StrFormat("the socket reported %s", (p.revents & POLLHUP) ? "hangup" : "an error"));
    }
    struct iovec iov = {recv_buf_.get(), kMaxMessageSize};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = recvmsg(sock_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return LoseLocked(absl::StrFormat("recvmsg: %s", strerror(errno)));
    if (n == 0) return LoseLocked("the gofer closed the connection (did it die?)");
    std::vector<UniqueFd> fds;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
        fds.emplace_back(f);
      }
    }
    if (msg.msg_flags & MSG_TRUNC) {
      return LoseLocked("a response was larger than the protocol allows");
    }
    if (!resp.ParseFromArray(recv_buf_.get(), static_cast<int>(n))) {
      return LoseLocked("a response did not parse");
    }
    if (msg.msg_flags & MSG_CTRUNC) {
      // The one fd a response may carry did not fit in our fd table (the
      // kernel dropped it): this call fails, the connection is fine.
      if (resp.fd_attached() && fds.empty()) return Errno(EMFILE);
      return LoseLocked("a response carried more fds than the protocol allows");
    }
    if (fds.size() != (resp.fd_attached() ? 1u : 0u)) {
      return LoseLocked(absl::StrFormat("a response carried %zu fds, expected %d", fds.size(),
                                        resp.fd_attached() ? 1 : 0));
    }
    if (!fds.empty()) {
      if (fd == nullptr) return LoseLocked("a response carried an unexpected fd");
      *fd = std::move(fds[0]);
    }
    return sentry::Ok();
  }
}

ErrnoOrOk Client::CallOk(const proto::Request& req, proto::Response& resp, UniqueFd* fd) {
  RETURN_IF_ERROR(Call(req, resp, fd));
  if (resp.error() != 0) return Errno(resp.error());
  return sentry::Ok();
}

ErrnoOr<AttachResult> Client::Attach() {
  proto::Request req;
  req.mutable_attach();
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return AttachResult{ToHandleStat(resp.attach().root()), resp.attach().read_only()};
}

ErrnoOr<WalkResult> Client::Walk(uint64_t dir, const std::vector<std::string>& names,
                                 bool open_last_read_only) {
  proto::Request req;
  auto* w = req.mutable_walk();
  w->set_dir(dir);
  for (const auto& n : names) w->add_names(n);
  w->set_open_last_read_only(open_last_read_only);
  proto::Response resp;
  WalkResult r;
  RETURN_IF_ERROR(Call(req, resp, open_last_read_only ? &r.fd : nullptr));
  if (!resp.has_walk()) return Errno(resp.error() != 0 ? resp.error() : EIO);
  for (const auto& e : resp.walk().entries()) r.entries.push_back(ToHandleStat(e));
  r.stopped_at_symlink = resp.walk().status() == proto::WALK_STOPPED_AT_SYMLINK;
  if (resp.walk().has_last_symlink_target() && !r.entries.empty() &&
      S_ISLNK(r.entries.back().stat.st_mode)) {
    r.last_symlink_target = resp.walk().last_symlink_target();
  }
  r.error = Errno(resp.error());
  if (r.error.value() != 0) r.fd.reset();
  return r;
}

ErrnoOr<struct stat> Client::Stat(uint64_t handle) {
  proto::Request req;
  req.mutable_stat()->set_handle(handle);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return AttrToStat(resp.stat().attr());
}

ErrnoOr<struct statfs> Client::StatFS(uint64_t handle) {
  proto::Request req;
  req.mutable_statfs()->set_handle(handle);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  const auto& s = resp.statfs();
  struct statfs out = {};
  out.f_type = s.type();
  out.f_bsize = s.bsize();
  out.f_blocks = s.blocks();
  out.f_bfree = s.bfree();
  out.f_bavail = s.bavail();
  out.f_files = s.files();
  out.f_ffree = s.ffree();
  out.f_namelen = s.namelen();
  out.f_frsize = s.frsize();
  out.f_flags = s.flags();
  return out;
}

ErrnoOr<UniqueFd> Client::Open(uint64_t handle, int flags) {
  proto::Request req;
  req.mutable_open()->set_handle(handle);
  req.mutable_open()->set_flags(static_cast<uint32_t>(flags));
  proto::Response resp;
  UniqueFd fd;
  RETURN_IF_ERROR(CallOk(req, resp, &fd));
  if (!fd.valid()) return Errno(EIO);
  return fd;
}

ErrnoOr<CreateResult> Client::Create(uint64_t dir, const std::string& name, int flags, mode_t mode,
                                     std::optional<Owner> owner) {
  proto::Request req;
  auto* c = req.mutable_create();
  c->set_dir(dir);
  c->set_name(name);
  c->set_flags(static_cast<uint32_t>(flags));
  c->set_mode(mode);
  if (owner) SetOwner(owner, c->mutable_owner());
  proto::Response resp;
  UniqueFd fd;
  ErrnoOrOk r = CallOk(req, resp, &fd);
  if (!r.ok()) {
    // The file was made but its fd did not fit here: release its handle.
    if (r.error().value() == EMFILE && resp.error() == 0 && resp.has_create()) {
      (void)Close({resp.create().file().handle()});
    }
    return r.error();
  }
  if (!fd.valid()) return Errno(EIO);
  return CreateResult{ToHandleStat(resp.create().file()), std::move(fd)};
}

ErrnoOr<HandleStat> Client::Mkdir(uint64_t dir, const std::string& name, mode_t mode,
                                  std::optional<Owner> owner) {
  proto::Request req;
  auto* m = req.mutable_mkdir();
  m->set_dir(dir);
  m->set_name(name);
  m->set_mode(mode);
  if (owner) SetOwner(owner, m->mutable_owner());
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return ToHandleStat(resp.mkdir().dir());
}

ErrnoOr<HandleStat> Client::Mknod(uint64_t dir, const std::string& name, mode_t mode,
                                  std::optional<Owner> owner) {
  proto::Request req;
  auto* m = req.mutable_mknod();
  m->set_dir(dir);
  m->set_name(name);
  m->set_mode(mode);
  if (owner) SetOwner(owner, m->mutable_owner());
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return ToHandleStat(resp.mknod().node());
}

ErrnoOr<HandleStat> Client::Symlink(uint64_t dir, const std::string& name,
                                    const std::string& target, std::optional<Owner> owner) {
  proto::Request req;
  auto* s = req.mutable_symlink();
  s->set_dir(dir);
  s->set_name(name);
  s->set_target(target);
  if (owner) SetOwner(owner, s->mutable_owner());
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return ToHandleStat(resp.symlink().link());
}

ErrnoOr<HandleStat> Client::Link(uint64_t target, uint64_t dir, const std::string& name) {
  proto::Request req;
  auto* l = req.mutable_link();
  l->set_target(target);
  l->set_dir(dir);
  l->set_name(name);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return ToHandleStat(resp.link().link());
}

ErrnoOrOk Client::Unlink(uint64_t dir, const std::string& name, int flags) {
  proto::Request req;
  auto* u = req.mutable_unlink();
  u->set_dir(dir);
  u->set_name(name);
  u->set_flags(static_cast<uint32_t>(flags));
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOrOk Client::Rename(uint64_t old_dir, const std::string& old_name, uint64_t new_dir,
                         const std::string& new_name, unsigned flags) {
  proto::Request req;
  auto* r = req.mutable_rename();
  r->set_old_dir(old_dir);
  r->set_old_name(old_name);
  r->set_new_dir(new_dir);
  r->set_new_name(new_name);
  r->set_flags(flags);
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOr<std::string> Client::Readlink(uint64_t handle) {
  proto::Request req;
  req.mutable_readlink()->set_handle(handle);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return resp.readlink().target();
}

ErrnoOr<DirentChunk> Client::Getdents(uint64_t dir, int64_t offset, size_t max_bytes) {
  proto::Request req;
  auto* g = req.mutable_getdents();
  g->set_dir(dir);
  g->set_offset(offset);
  g->set_max_bytes(static_cast<uint32_t>(std::min(max_bytes, kMaxGetdentsBytes)));
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  DirentChunk chunk;
  chunk.eof = resp.getdents().eof();
  for (const auto& d : resp.getdents().entries()) {
    chunk.entries.push_back(Dirent{d.ino(), static_cast<uint8_t>(d.type()), d.offset(), d.name()});
  }
  return chunk;
}

ErrnoOr<struct stat> Client::SetAttr(uint64_t handle, const SetAttrArgs& args) {
  proto::Request req;
  auto* s = req.mutable_setattr();
  s->set_handle(handle);
  if (args.mode) {
    s->set_set_mode(true);
    s->set_mode(*args.mode);
  }
  if (args.uid) {
    s->set_set_uid(true);
    s->set_uid(*args.uid);
  }
  if (args.gid) {
    s->set_set_gid(true);
    s->set_gid(*args.gid);
  }
  if (args.size) {
    s->set_set_size(true);
    s->set_size(*args.size);
  }
  if (args.atime) {
    s->set_set_atime(true);
    s->set_atime_sec(args.atime->tv_sec);
    s->set_atime_nsec(args.atime->tv_nsec);
  }
  if (args.mtime) {
    s->set_set_mtime(true);
    s->set_mtime_sec(args.mtime->tv_sec);
    s->set_mtime_nsec(args.mtime->tv_nsec);
  }
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return AttrToStat(resp.setattr().attr());
}

ErrnoOrOk Client::Fsync(uint64_t handle, bool data_only) {
  proto::Request req;
  req.mutable_fsync()->set_handle(handle);
  req.mutable_fsync()->set_data_only(data_only);
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOrOk Client::Fallocate(uint64_t handle, int mode, int64_t offset, int64_t length) {
  proto::Request req;
  auto* f = req.mutable_fallocate();
  f->set_handle(handle);
  f->set_mode(static_cast<uint32_t>(mode));
  f->set_offset(offset);
  f->set_length(length);
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOr<std::string> Client::GetXattr(uint64_t handle, const std::string& name) {
  proto::Request req;
  req.mutable_getxattr()->set_handle(handle);
  req.mutable_getxattr()->set_name(name);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return resp.getxattr().value();
}

ErrnoOrOk Client::SetXattr(uint64_t handle, const std::string& name, const std::string& value,
                           int flags) {
  proto::Request req;
  auto* s = req.mutable_setxattr();
  s->set_handle(handle);
  s->set_name(name);
  s->set_value(value);
  s->set_flags(static_cast<uint32_t>(flags));
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOr<std::vector<std::string>> Client::ListXattr(uint64_t handle) {
  proto::Request req;
  req.mutable_listxattr()->set_handle(handle);
  proto::Response resp;
  RETURN_IF_ERROR(CallOk(req, resp));
  return std::vector<std::string>(resp.listxattr().names().begin(), resp.listxattr().names().end());
}

ErrnoOrOk Client::RemoveXattr(uint64_t handle, const std::string& name) {
  proto::Request req;
  req.mutable_removexattr()->set_handle(handle);
  req.mutable_removexattr()->set_name(name);
  proto::Response resp;
  return CallOk(req, resp);
}

ErrnoOr<UniqueFd> Client::Connect(uint64_t handle, int type) {
  proto::Request req;
  req.mutable_connect()->set_handle(handle);
  req.mutable_connect()->set_type(type);
  proto::Response resp;
  UniqueFd fd;
  RETURN_IF_ERROR(CallOk(req, resp, &fd));
  if (!fd.valid()) return Errno(EIO);
  return fd;
}

ErrnoOrOk Client::Close(const std::vector<uint64_t>& handles) {
  proto::Request req;
  for (uint64_t h : handles) req.mutable_close()->add_handles(h);
  if (handles.empty()) req.mutable_close();
  proto::Response resp;
  return CallOk(req, resp);
}

}  // namespace gofer
