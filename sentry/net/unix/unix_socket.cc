#include "sentry/net/unix/unix_socket.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/kernel/task.h"

namespace sentry::net::afunix {

namespace {

sa_family_t FamilyOf(std::string_view addr) {
  sa_family_t f = 0;
  if (addr.size() >= sizeof(f)) std::memcpy(&f, addr.data(), sizeof(f));
  return f;
}

// unix_mkname_bsd: the path ends at the first NUL within the address.
std::string PathOf(std::string_view addr) {
  std::string_view p = addr.substr(kPathOffset);
  return std::string(p.substr(0, p.find('\0')));
}

// The address a bound socket file keeps: the family, the path and its NUL
// (what getsockname reports, up to 111 bytes for a 108-byte path).
std::string BsdAddress(std::string_view addr) {
  std::string out(addr.substr(0, kPathOffset));
  out += PathOf(addr);
  out.push_back('\0');
  return out;
}

Creds ConnectorCreds(kernel::Task& t) {
  // SO_PEERCRED: the process and its effective ids.
  return Creds{t.tgid(), t.creds().euid, t.creds().egid};
}

std::vector<uint8_t> IntValue(int v) {
  std::vector<uint8_t> out(sizeof(int));
  std::memcpy(out.data(), &v, sizeof(v));
  return out;
}

vfs::PathContext ContextOf(kernel::Task& t, const vfs::AccessCreds* creds) {
  return vfs::PathContext{t.fs_root(), t.cwd(), creds, t.umask()};
}

}  // namespace

ErrnoOrOk ValidateAddress(std::string_view addr) {
  if (addr.size() <= kPathOffset || addr.size() > kAddrMax) return Errno(EINVAL);
  if (FamilyOf(addr) != AF_UNIX) return Errno(EINVAL);
  return Ok();
}

UnixSocket::UnixSocket(std::shared_ptr<Endpoint> ep, int flags, uint32_t uid, uint32_t gid)
    : Socket(AF_UNIX, ep->type(), 0, flags, uid, gid), ep_(std::move(ep)) {}

UnixSocket::~UnixSocket() {
  // Epoll entries wait on the endpoint's queue, which may outlive this file
  // (a peer or a queued message holds the endpoint): they leave first.
  ReleaseEpollLinks();
  ep_->Release();
}

Wait UnixSocket::WaitFor(kernel::Task* t, int flags, int64_t jiffies) const {
  if (t == nullptr || (flags & MSG_DONTWAIT) || jiffies == 0) return Wait();
  return Wait(&t->waker(), DeadlineAfter(jiffies));
}

// --- FileDescription. ---

ErrnoOr<size_t> UnixSocket::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) {
  (void)offset;
  RecvMsgArgs m;
  m.data = dst;
  for (const iovec& v : dst) m.len += v.iov_len;
  // sock_read_iter: nothing to read is nothing read.
  if (m.len == 0) return size_t{0};
  m.flags = nonblocking() ? MSG_DONTWAIT : 0;
  ASSIGN_OR_RETURN(RecvMsgResult r, RecvMsg(t, m));
  return r.n;
}

ErrnoOr<size_t> UnixSocket::Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) {
  (void)offset;
  SendMsgArgs m;
  m.data = src;
  for (const iovec& v : src) m.len += v.iov_len;
  m.flags = nonblocking() ? MSG_DONTWAIT : 0;
  if (type() == SOCK_SEQPACKET) m.flags |= MSG_EOR;
  return SendMsg(t, m);
}

ErrnoOr<uint64_t> UnixSocket::Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) {
  switch (cmd) {
    case SIOCINQ:
    case SIOCOUTQ: {
      int v;
      if (HostConnection* h = host()) {
        ASSIGN_OR_RETURN(v, h->Ioctl(cmd));
      } else if (cmd == SIOCINQ) {
        ASSIGN_OR_RETURN(int64_t n, ep_->InqLen());
        v = static_cast<int>(n);
      } else {
        v = static_cast<int>(ep_->OutqLen());
      }
      RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int>(arg), v));
      return 0;
    }
    default:
      // TODO(unix sockets): F_SETOWN's ioctls (FIOSETOWN, SIOCSPGRP),
      // SIOCATMARK, SIOCUNIXFILE and the device ioctls (SIOCGIF*).
      if (cmd == FIOSETOWN || cmd == FIOGETOWN || cmd == SIOCSPGRP || cmd == SIOCGPGRP ||
          (cmd >> 8) == 0x89) {
        t.kernel().RecordGap(absl::StrFormat("ioctl(AF_UNIX socket, %#x)", cmd));
      }
      return Errno(ENOTTY);
  }
}

uint32_t UnixSocket::Readiness(uint32_t mask) {
  if (HostConnection* h = host()) return h->Readiness(mask);
  return ep_->Readiness(mask);
}

void UnixSocket::EventRegister(waiter::Waiter* w, uint32_t mask) { ep_->EventRegister(w, mask); }

void UnixSocket::EventUnregister(waiter::Waiter* w) { ep_->EventUnregister(w); }

int UnixSocket::HostPollFd() const {
  HostConnection* h = host();
  return h != nullptr ? h->fd() : -1;
}

// --- Addresses. ---

ErrnoOrOk UnixSocket::Bind(kernel::Task& t, std::string_view addr) {
  // A bare family asks for an automatic (abstract) name.
  if (addr.size() == kPathOffset && FamilyOf(addr) == AF_UNIX) return ep_->Autobind();
  RETURN_IF_ERROR(ValidateAddress(addr));
  if (addr[kPathOffset] != '\0') return BindPath(t, addr);
  return ep_->BindAbstract(std::string(addr));
}

ErrnoOrOk UnixSocket::BindPath(kernel::Task& t, std::string_view addr) {
  const std::string path = PathOf(addr);
  const vfs::AccessCreds creds = t.access_creds();
  const vfs::PathContext ctx = ContextOf(t, &creds);
  vfs::VirtualFilesystem& v = t.kernel().vfs();
  // The socket file: mode 0777 less the umask (the VFS applies it).
  vfs::VirtualDentry created;
  ErrnoOrOk made = v.Mknod(ctx, path, S_IFSOCK | 0777, 0, &created);
  if (!made.ok()) return Errno(made.error().value() == EEXIST ? EADDRINUSE : made.error().value());
  ErrnoOrOk bound = ep_->BindPath(BsdAddress(addr), std::move(created));
  if (!bound.ok()) {
    // Already bound: the file just made goes again.
    (void)v.Unlink(ctx, path);
    return bound.error();
  }
  return Ok();
}

ErrnoOr<std::shared_ptr<Endpoint>> UnixSocket::Lookup(kernel::Task& t, std::string_view addr) {
  Namespace& ns = ep_->ns();
  if (addr[kPathOffset] == '\0') {
    // Abstract names are per type: another type's is no name at all.
    auto found = ns.FindAbstract(type(), std::string(addr));
    if (found == nullptr) return Errno(ECONNREFUSED);
    return std::static_pointer_cast<Endpoint>(found);
  }
  const vfs::AccessCreds creds = t.access_creds();
  const vfs::PathContext ctx = ContextOf(t, &creds);
  vfs::VirtualFilesystem& v = t.kernel().vfs();
  ASSIGN_OR_RETURN(vfs::VirtualDentry vd, v.Resolve(ctx, PathOf(addr), vfs::kFollow));
  ASSIGN_OR_RETURN(vfs::Attr attr, v.Stat(vd));
  RETURN_IF_ERROR(vfs::CheckPermission(creds, attr, vfs::kMayWrite));
  if (!S_ISSOCK(attr.mode)) return Errno(ECONNREFUSED);
  auto found = ns.FindInode(vd.dentry->inode().get());
  if (found == nullptr) return Errno(ECONNREFUSED);
  auto other = std::static_pointer_cast<Endpoint>(found);
  if (other->type() != type()) return Errno(EPROTOTYPE);
  return other;
}

ErrnoOrOk UnixSocket::Connect(kernel::Task& t, std::string_view addr) {
  if (host() != nullptr) return Errno(EISCONN);
  if (type() == SOCK_DGRAM) {
    if (addr.size() < sizeof(sa_family_t)) return Errno(EINVAL);
    // AF_UNSPEC dissolves the association.
    if (FamilyOf(addr) == AF_UNSPEC) return ep_->ConnectDatagram(nullptr);
    RETURN_IF_ERROR(ValidateAddress(addr));
    if (ep_->passcred() && ep_->address() == nullptr) RETURN_IF_ERROR(ep_->Autobind());
    ASSIGN_OR_RETURN(std::shared_ptr<Endpoint> other, Lookup(t, addr));
    return ep_->ConnectDatagram(other);
  }
  RETURN_IF_ERROR(ValidateAddress(addr));
  if (ep_->passcred() && ep_->address() == nullptr) RETURN_IF_ERROR(ep_->Autobind());
  auto other = Lookup(t, addr);
  if (!other.ok() && other.error().value() == ECONNREFUSED && addr[kPathOffset] != '\0') {
    // No sandbox socket holds the file: a host socket, maybe.
    const vfs::AccessCreds creds = t.access_creds();
    auto vd = t.kernel().vfs().Resolve(ContextOf(t, &creds), PathOf(addr), vfs::kFollow);
    if (vd.ok()) return ConnectHost(t, *vd, addr);
  }
  if (!other.ok()) return other.error();
  Wait wait = WaitFor(&t, nonblocking() ? MSG_DONTWAIT : 0, sndtimeo());
  return ep_->Connect(*other, ConnectorCreds(t), wait);
}

ErrnoOrOk UnixSocket::ConnectHost(kernel::Task& t, const vfs::VirtualDentry& vd,
                                  std::string_view addr) {
  if (type() == SOCK_DGRAM) return Errno(ECONNREFUSED);
  ASSIGN_OR_RETURN(vfs::Attr attr, vd.inode().GetAttr());
  if (!S_ISSOCK(attr.mode)) return Errno(ECONNREFUSED);
  auto fd = vd.inode().ConnectHostSocket(type());
  if (!fd.ok()) return fd.error();
  absl::MutexLock l(&host_mu_);
  if (ep_->listening() || ep_->connected() || host_owner_ != nullptr) {
    close(*fd);
    return Errno(ep_->listening() ? EINVAL : EISCONN);
  }
  t.kernel().RecordGap(
      "connect(AF_UNIX) to a host socket: data only, no SCM_RIGHTS or credentials");
  host_owner_ = std::make_unique<HostConnection>(*fd, type(), BsdAddress(addr));
  host_.store(host_owner_.get(), std::memory_order_release);
  return Ok();
}

int UnixSocket::TakeError() {
  if (HostConnection* h = host()) return h->TakeError();
  return ep_->TakeError();
}

ErrnoOr<std::string> UnixSocket::GetName(bool peer) {
  if (HostConnection* h = host(); h != nullptr && peer) return h->peer();
  return ep_->Name(peer);
}

ErrnoOrOk UnixSocket::Listen(kernel::Task& t, int backlog) {
  if (host() != nullptr) return Errno(EINVAL);
  return ep_->Listen(backlog, ConnectorCreds(t));
}

ErrnoOr<std::shared_ptr<Socket>> UnixSocket::Accept(kernel::Task& t, int flags) {
  if (host() != nullptr) return Errno(EINVAL);
  Wait wait = WaitFor(&t, nonblocking() ? MSG_DONTWAIT : 0, rcvtimeo());
  ASSIGN_OR_RETURN(std::shared_ptr<Endpoint> e, ep_->Accept(wait));
  e->MarkAccepted();
  return std::shared_ptr<Socket>(
      std::make_shared<UnixSocket>(std::move(e), flags, t.creds().fsuid, t.creds().fsgid));
}

ErrnoOrOk UnixSocket::Shutdown(int how) {
  if (HostConnection* h = host()) {
    if (how < SHUT_RD || how > SHUT_RDWR) return Errno(EINVAL);
    return h->Shutdown(how);
  }
  return ep_->Shutdown(how);
}

// --- Data. ---

ErrnoOr<size_t> UnixSocket::SendMsg(kernel::Task* t, SendMsgArgs& m) {
  Wait wait = WaitFor(t, m.flags, sndtimeo());
  bool sigpipe = false;
  ErrnoOr<size_t> r = Errno(EINVAL);
  if (HostConnection* h = host()) {
    if ((!m.rights.empty() || m.creds) && t != nullptr) {
      t->kernel().RecordGap("sendmsg(SCM_RIGHTS/SCM_CREDENTIALS) to a host socket");
    }
    r = h->Send(m, wait, &sigpipe);
  } else {
    if ((m.flags & MSG_OOB) && t != nullptr && type() == SOCK_STREAM) {
      t->kernel().RecordGap("sendmsg(AF_UNIX, MSG_OOB)");
    }
    SendArgs a;
    a.data = m.data;
    a.len = m.len;
    a.flags = m.flags;
    if (m.addr && type() != SOCK_SEQPACKET) {
      a.has_addr = true;
      if (type() == SOCK_DGRAM && !(m.flags & MSG_OOB)) {
        RETURN_IF_ERROR(ValidateAddress(*m.addr));
        if (t == nullptr) return Errno(ECONNREFUSED);
        const std::string addr = *m.addr;
        a.lookup = [this, t, addr] { return Lookup(*t, addr); };
      }
    }
    if (m.creds) a.creds = Creds{m.creds->pid, m.creds->uid, m.creds->gid};
    a.files = std::move(m.rights);
    if (t != nullptr) {
      a.self = Creds{t->tgid(), t->creds().ruid, t->creds().rgid};
      a.inflight_limit = t->rlimit_of(RLIMIT_NOFILE).rlim_cur;
      // too_many_unix_fds: CAP_SYS_RESOURCE or CAP_SYS_ADMIN pass the limit.
      a.inflight_unlimited =
          t->creds().HasCapability(CAP_SYS_RESOURCE) || t->creds().HasCapability(CAP_SYS_ADMIN);
    } else {
      a.self = Creds{0, 0, 0};
      a.inflight_unlimited = true;
    }
    r = ep_->Send(a, wait, &sigpipe);
  }
  if (sigpipe && t != nullptr) t->SendSigpipe();
  return r;
}

ErrnoOr<RecvMsgResult> UnixSocket::RecvMsg(kernel::Task* t, RecvMsgArgs& m) {
  Wait wait = WaitFor(t, m.flags, rcvtimeo());
  if (HostConnection* h = host()) {
    bool lost = false;
    auto r = h->Recv(m, wait, &lost);
    if (lost && t != nullptr) t->kernel().RecordGap("recvmsg: files passed by a host socket");
    return r;
  }
  if ((m.flags & MSG_OOB) && t != nullptr && type() == SOCK_STREAM) {
    t->kernel().RecordGap("recvmsg(AF_UNIX, MSG_OOB)");
  }
  RecvArgs a;
  a.data = m.data;
  a.len = m.len;
  a.flags = m.flags;
  a.want_addr = m.want_addr;
  ASSIGN_OR_RETURN(RecvResult r, ep_->Recv(a, wait));
  RecvMsgResult out;
  out.n = r.n;
  out.msg_flags = r.msg_flags;
  out.addr = std::move(r.addr);
  if (r.passcred) {
    struct ucred u;
    u.pid = r.creds.pid;
    u.uid = r.creds.uid;
    u.gid = r.creds.gid;
    out.creds = u;
  }
  out.rights = std::move(r.files);
  return out;
}

// --- Options. ---

ErrnoOr<std::vector<uint8_t>> UnixSocket::GetSockOpt(kernel::Task& t, int level, int name,
                                                     int len) {
  if (level != SOL_SOCKET) return Errno(EOPNOTSUPP);
  switch (name) {
    case SO_ERROR:
      return IntValue(TakeError());
    case SO_SNDBUF:
      return IntValue(ep_->sndbuf());
    case SO_RCVBUF:
      return IntValue(ep_->rcvbuf());
    case SO_ACCEPTCONN:
      return IntValue(ep_->listening() ? 1 : 0);
    case SO_PASSCRED:
      return IntValue(ep_->passcred() ? 1 : 0);
    case SO_RCVLOWAT:
      return IntValue(ep_->rcvlowat());
    case SO_PEERCRED: {
      // cred_to_ucred: no peer is pid 0 and ids -1.
      struct ucred u {
        0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)
      };
      if (host() != nullptr) {
        t.kernel().RecordGap("getsockopt(SO_PEERCRED) of a host socket");
      } else if (auto c = ep_->peer_cred()) {
        u.pid = c->pid;
        u.uid = c->uid;
        u.gid = c->gid;
      }
      std::vector<uint8_t> out(sizeof(u));
      std::memcpy(out.data(), &u, sizeof(u));
      return out;
    }
    case SO_PEERNAME: {
      ASSIGN_OR_RETURN(std::string a, GetName(/*peer=*/true));
      if (static_cast<int>(a.size()) < len) return Errno(EINVAL);
      return std::vector<uint8_t>(a.begin(), a.end());
    }
    case SO_PEEK_OFF:
      // sk_peek_off's default: no peek offset.
      return IntValue(-1);
    default:
      break;
  }
  if (auto common = GetCommonOption(name, len)) return *std::move(common);
  t.kernel().RecordGap(absl::StrFormat("getsockopt(AF_UNIX, SOL_SOCKET, %d)", name));
  return Errno(ENOPROTOOPT);
}

ErrnoOrOk UnixSocket::SetSockOpt(kernel::Task& t, int level, int name,
                                 std::span<const uint8_t> val) {
  if (level != SOL_SOCKET) return Errno(EOPNOTSUPP);
  if (val.size() < sizeof(int)) return Errno(EINVAL);
  int v;
  std::memcpy(&v, val.data(), sizeof(v));
  switch (name) {
    case SO_SNDBUF:
      ep_->SetSndbuf(v);
      return Ok();
    case SO_RCVBUF:
      ep_->SetRcvbuf(v);
      return Ok();
    case SO_SNDBUFFORCE:
    case SO_RCVBUFFORCE:
      // CAP_NET_ADMIN passes the limits (not the doubling or the floor).
      if (!t.creds().HasCapability(CAP_NET_ADMIN)) return Errno(EPERM);
      t.kernel().RecordGap("setsockopt(SO_SNDBUFFORCE/SO_RCVBUFFORCE): capped at wmem_max");
      if (name == SO_SNDBUFFORCE) {
        ep_->SetSndbuf(std::max(v, 0));
      } else {
        ep_->SetRcvbuf(std::max(v, 0));
      }
      return Ok();
    case SO_PASSCRED:
      ep_->set_passcred(v != 0);
      return Ok();
    case SO_RCVLOWAT:
      if (v < 0) v = INT_MAX;
      ep_->set_rcvlowat(v != 0 ? v : 1);
      return Ok();
    default:
      break;
  }
  if (auto common = SetCommonOption(t, name, val)) return *common;
  // TODO(unix sockets): SO_PEEK_OFF, SO_PASSSEC, SO_PASSPIDFD, SO_PASSRIGHTS,
  // SO_ATTACH_FILTER and the rest.
  t.kernel().RecordGap(absl::StrFormat("setsockopt(AF_UNIX, SOL_SOCKET, %d)", name));
  return Errno(ENOPROTOOPT);
}

// --- Making sockets. ---

namespace {

ErrnoOr<int> UnixType(int type, int protocol) {
  if (protocol != 0 && protocol != PF_UNIX) return Errno(EPROTONOSUPPORT);
  switch (type) {
    case SOCK_STREAM:
    case SOCK_DGRAM:
    case SOCK_SEQPACKET:
      return type;
    case SOCK_RAW:
      return SOCK_DGRAM;  // BSD has SOCK_RAW unix sockets: datagrams
    default:
      return Errno(ESOCKTNOSUPPORT);
  }
}

}  // namespace

ErrnoOr<std::shared_ptr<Socket>> NewUnixSocket(kernel::Task& t, int type, int protocol, int flags) {
  ASSIGN_OR_RETURN(int ty, UnixType(type, protocol));
  auto ep = std::make_shared<Endpoint>(t.kernel().unix_namespace(), ty);
  return std::shared_ptr<Socket>(
      std::make_shared<UnixSocket>(std::move(ep), flags, t.creds().fsuid, t.creds().fsgid));
}

ErrnoOr<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> NewUnixSocketPair(
    kernel::Task& t, int type, int protocol, int flags) {
  ASSIGN_OR_RETURN(int ty, UnixType(type, protocol));
  auto a = std::make_shared<Endpoint>(t.kernel().unix_namespace(), ty);
  auto b = std::make_shared<Endpoint>(t.kernel().unix_namespace(), ty);
  Endpoint::Pair(a, b, ConnectorCreds(t));
  const uint32_t uid = t.creds().fsuid, gid = t.creds().fsgid;
  return std::make_pair(std::shared_ptr<Socket>(std::make_shared<UnixSocket>(a, flags, uid, gid)),
                        std::shared_ptr<Socket>(std::make_shared<UnixSocket>(b, flags, uid, gid)));
}

}  // namespace sentry::net::afunix
