// socket, socketpair, bind, listen, accept, accept4, connect, getsockname,
// getpeername, shutdown, sendto, recvfrom, sendmsg, recvmsg, sendmmsg,
// recvmmsg, getsockopt, setsockopt: Linux's net/socket.c (the argument
// checks, in its order) and net/core/scm.c (control messages); the sockets
// themselves are sentry/net's.
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "sentry/kernel/ktime.h"
#include "sentry/net/socket.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr size_t kMaxRwCount = INT_MAX & ~(kPageSize - 1);  // MAX_RW_COUNT
constexpr int kSockaddrStorage = sizeof(sockaddr_storage);  // 128
constexpr uint64_t kUioMaxIov = 1024;                       // UIO_MAXIOV
constexpr unsigned kMsgCmsgCompat = 0x80000000;             // MSG_CMSG_COMPAT
// MSG_INTERNAL_SENDMSG_FLAGS: MSG_SPLICE_PAGES, MSG_SENDPAGE_NOPOLICY,
// MSG_SENDPAGE_DECRYPTED; the guest cannot pass them.
constexpr unsigned kMsgInternal = 0x8000000 | 0x10000 | 0x100000;
constexpr unsigned kMsgWaitForOne = 0x10000;  // MSG_WAITFORONE

// struct user_msghdr and struct mmsghdr as x86-64 lays them out.
struct UserMsghdr {
  uint64_t msg_name;
  int32_t msg_namelen;
  uint32_t pad0;
  uint64_t msg_iov;
  uint64_t msg_iovlen;
  uint64_t msg_control;
  uint64_t msg_controllen;
  uint32_t msg_flags;
  uint32_t pad1;
};
static_assert(sizeof(UserMsghdr) == 56);
constexpr uint64_t kNamelenOffset = offsetof(UserMsghdr, msg_namelen);
constexpr uint64_t kControllenOffset = offsetof(UserMsghdr, msg_controllen);
constexpr uint64_t kFlagsOffset = offsetof(UserMsghdr, msg_flags);
constexpr uint64_t kMmsghdrSize = 64;  // struct mmsghdr: the header and msg_len
constexpr uint64_t kMsgLenOffset = 56;

uint64_t FdLimit(Task& t) { return t.rlimit_of(RLIMIT_NOFILE).rlim_cur; }

struct SocketRef {
  std::shared_ptr<vfs::FileDescription> file;
  net::Socket* sock;
};

// The socket `fd` names: EBADF, ENOTSOCK.
ErrnoOr<SocketRef> SocketOf(Task& t, int fd) {
  ASSIGN_OR_RETURN(auto f, t.fds().Get(fd));
  net::Socket* s = net::AsSocket(*f);
  if (s == nullptr) return Errno(ENOTSOCK);
  return SocketRef{std::move(f), s};
}

// An fd taken before the call can fail (get_unused_fd_flags), so that
// running out of fds is EMFILE before anything else happens.
class ReservedFd : public vfs::FileDescription {
 public:
  ReservedFd() : vfs::FileDescription(O_RDONLY) {}
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
    return Errno(EBADF);
  }
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override { return Errno(EBADF); }
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(EBADF); }
  std::string Describe() const override { return "anon_inode:[reserved]"; }
};

ErrnoOr<int> ReserveFd(Task& t, bool cloexec) {
  return t.fds().Install(std::make_shared<ReservedFd>(), cloexec, 0, FdLimit(t));
}

// move_addr_to_kernel: EINVAL for a length outside [0, 128], EFAULT.
ErrnoOr<std::string> AddrIn(Task& t, UserAddr addr, int len) {
  if (len < 0 || len > kSockaddrStorage) return Errno(EINVAL);
  std::string s(static_cast<size_t>(len), '\0');
  if (len > 0) {
    auto r = t.mm().CopyIn(addr, {reinterpret_cast<uint8_t*>(s.data()), s.size()});
    if (!r.ok()) return Errno(EFAULT);
  }
  return s;
}

// move_addr_to_user: at most the guest's length of the address, and its
// whole length in the length word ("the value before truncation").
ErrnoOrOk AddrOut(Task& t, const std::string& addr, UserAddr uaddr, UserAddr ulen) {
  int len;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int>(ulen.value()), &len));
  const int klen = static_cast<int>(addr.size());
  if (len > klen) len = klen;
  if (len < 0) return Errno(EINVAL);
  if (len > 0) {
    auto r = t.mm().CopyOut(
        uaddr, {reinterpret_cast<const uint8_t*>(addr.data()), static_cast<size_t>(len)});
    if (!r.ok()) return Errno(EFAULT);
  }
  return t.mm().CopyOutObj(UserPtr<int>(ulen.value()), klen);
}

// The guest's buffers as the Sentry's iovecs over their valid prefix (the
// socket faults where that prefix ends, as a copy would).
std::vector<iovec> Translate(Task& t, std::span<const iovec> guest, bool write) {
  std::vector<iovec> out, one;
  for (const iovec& g : guest) {
    if (g.iov_len == 0) continue;
    auto r = t.mm().InternalIovecs(UserAddr(reinterpret_cast<uint64_t>(g.iov_base)), g.iov_len,
                                   write, &one);
    out.insert(out.end(), one.begin(), one.end());
    if (!r.ok()) break;
  }
  return out;
}

// import_iovec: EMSGSIZE past UIO_MAXIOV (the msghdr's rule), EFAULT,
// EINVAL for a negative length, lengths capped at MAX_RW_COUNT in all.
ErrnoOr<std::vector<iovec>> ImportIovecs(Task& t, uint64_t uiov, uint64_t count, size_t* total) {
  if (count > kUioMaxIov) return Errno(EMSGSIZE);
  std::vector<iovec> iov(count);
  if (count != 0) {
    auto r = t.mm().CopyIn(UserAddr(uiov),
                           {reinterpret_cast<uint8_t*>(iov.data()), count * sizeof(iovec)});
    if (!r.ok()) return Errno(EFAULT);
  }
  for (const iovec& v : iov) {
    if (static_cast<ssize_t>(v.iov_len) < 0) return Errno(EINVAL);
  }
  *total = 0;
  for (iovec& v : iov) {
    if (!AccessOk(reinterpret_cast<uint64_t>(v.iov_base), v.iov_len)) return Errno(EFAULT);
    v.iov_len = std::min(v.iov_len, kMaxRwCount - *total);
    *total += v.iov_len;
  }
  return iov;
}

// --- Control messages (net/core/scm.c). ---

// scm_check_creds: the sender may only claim its own process and ids
// (real, effective or saved) unless privileged; -1 is no id (EINVAL).
ErrnoOrOk CheckCreds(Task& t, const struct ucred& c) {
  if (c.uid == static_cast<uid_t>(-1) || c.gid == static_cast<gid_t>(-1)) return Errno(EINVAL);
  const kernel::Credentials& me = t.creds();
  const bool pid_ok = c.pid == t.tgid() || me.HasCapability(CAP_SYS_ADMIN);
  const bool uid_ok =
      c.uid == me.ruid || c.uid == me.euid || c.uid == me.suid || me.HasCapability(CAP_SETUID);
  const bool gid_ok =
      c.gid == me.rgid || c.gid == me.egid || c.gid == me.sgid || me.HasCapability(CAP_SETGID);
  if (pid_ok && uid_ok && gid_ok) return Ok();
  return Errno(EPERM);
}

bool PidExists(Task& t, pid_t pid) {
  if (pid <= 0) return false;
  if (t.kernel().WithTask(pid, [](kernel::Task&) {})) return true;
  absl::MutexLock l(&kernel::tree_mu);
  return t.kernel().FindThreadGroupLocked(pid) != nullptr;
}

// __scm_send: SCM_RIGHTS (unix sockets only; at most SCM_MAX_FD files in
// one message) and SCM_CREDENTIALS; anything else at SOL_SOCKET is EINVAL,
// other levels are skipped.
ErrnoOrOk ParseControl(Task& t, net::Socket& s, std::span<const uint8_t> ctl, net::SendMsgArgs& m) {
  constexpr size_t kHdr = sizeof(cmsghdr);
  constexpr size_t kMaxFd = 253;  // SCM_MAX_FD
  size_t off = 0;
  while (ctl.size() >= kHdr && off <= ctl.size() - kHdr) {
    cmsghdr h;
    std::memcpy(&h, ctl.data() + off, kHdr);
    // CMSG_OK: the header's length covers a header and stays in the buffer.
    if (h.cmsg_len < kHdr || h.cmsg_len > ctl.size() - off) return Errno(EINVAL);
    if (h.cmsg_level == SOL_SOCKET) {
      const uint8_t* data = ctl.data() + off + kHdr;
      const size_t data_len = h.cmsg_len - kHdr;
      switch (h.cmsg_type) {
        case SCM_RIGHTS: {
          if (s.family() != AF_UNIX) return Errno(EINVAL);
          const size_t num = data_len / sizeof(int);
          if (num == 0) break;
          if (num > kMaxFd || m.rights.size() + num > kMaxFd) return Errno(EINVAL);
          for (size_t i = 0; i < num; ++i) {
            int fd;
            std::memcpy(&fd, data + i * sizeof(int), sizeof(fd));
            if (fd < 0) return Errno(EBADF);
            ASSIGN_OR_RETURN(auto f, t.fds().Get(fd));
            m.rights.push_back(std::move(f));
          }
          break;
        }
        case SCM_CREDENTIALS: {
          struct ucred c;
          if (h.cmsg_len != CMSG_LEN(sizeof(c))) return Errno(EINVAL);
          std::memcpy(&c, data, sizeof(c));
          RETURN_IF_ERROR(CheckCreds(t, c));
          if (!PidExists(t, c.pid)) return Errno(ESRCH);
          m.creds = c;
          break;
        }
        default:
          // TODO(unix sockets): SCM_PIDFD and SCM_SECURITY.
          if (h.cmsg_type == 0x04 /* SCM_PIDFD */) t.kernel().RecordGap("sendmsg(SCM_PIDFD)");
          return Errno(EINVAL);
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return Ok();
}

// Where received control messages go: the guest's buffer, its room, what
// was used, and MSG_CTRUNC.
struct ControlOut {
  uint64_t ptr = 0;
  uint64_t left = 0;
  uint64_t used = 0;
  bool truncated = false;

  void Advance(uint64_t n) {
    ptr += n;
    left -= n;
    used += n;
  }
};

// put_cmsg: a control message, cut short (and MSG_CTRUNC) when the buffer
// is; nothing when not even a header fits.
void PutCmsg(Task& t, ControlOut& out, int level, int type, const void* data, size_t len) {
  if (out.left < sizeof(cmsghdr)) {
    out.truncated = true;
    return;
  }
  uint64_t cmlen = CMSG_LEN(len);
  if (out.left < cmlen) {
    out.truncated = true;
    cmlen = out.left;
  }
  std::vector<uint8_t> buf(cmlen);
  cmsghdr h{};
  h.cmsg_len = cmlen;
  h.cmsg_level = level;
  h.cmsg_type = type;
  std::memcpy(buf.data(), &h, sizeof(h));
  std::memcpy(buf.data() + sizeof(h), data, cmlen - sizeof(h));
  if (!t.mm().CopyOut(UserAddr(out.ptr), buf).ok()) return;
  out.Advance(std::min<uint64_t>(CMSG_SPACE(len), out.left));
}

// scm_detach_fds: as many files as fit become fds of the receiver (with
// MSG_CMSG_CLOEXEC, close-on-exec), stopping at RLIMIT_NOFILE; the rest
// are closed and MSG_CTRUNC says so.
void DetachFds(Task& t, ControlOut& out, std::vector<std::shared_ptr<vfs::FileDescription>>& files,
               bool cloexec) {
  const uint64_t room =
      out.left <= sizeof(cmsghdr) ? 0 : (out.left - sizeof(cmsghdr)) / sizeof(int);
  const size_t fdmax = std::min<uint64_t>(room, files.size());
  size_t i = 0;
  for (; i < fdmax; ++i) {
    auto fd = t.fds().Install(files[i], cloexec, 0, FdLimit(t));
    if (!fd.ok()) break;
    const uint64_t at = out.ptr + CMSG_LEN(i * sizeof(int));
    if (!t.mm().CopyOutObj(UserPtr<int>(at), *fd).ok()) {
      (void)t.fds().Close(*fd);
      break;
    }
  }
  if (i > 0) {
    cmsghdr h{};
    h.cmsg_len = CMSG_LEN(i * sizeof(int));
    h.cmsg_level = SOL_SOCKET;
    h.cmsg_type = SCM_RIGHTS;
    if (t.mm().CopyOutObj(UserPtr<cmsghdr>(out.ptr), h).ok()) {
      out.Advance(std::min<uint64_t>(CMSG_SPACE(i * sizeof(int)), out.left));
    }
  }
  if (i < files.size()) out.truncated = true;
  files.clear();
}

// scm_recv: SCM_CREDENTIALS when the receiver asked for them, then
// SCM_RIGHTS. Without a control buffer, anything to report is MSG_CTRUNC
// (and passed files are closed).
ControlOut DeliverControl(Task& t, uint64_t ctl, uint64_t ctl_len, net::RecvMsgResult& r,
                          unsigned flags) {
  ControlOut out{ctl, ctl_len, 0, false};
  if (ctl == 0) {
    out.truncated = r.creds.has_value() || !r.rights.empty();
    r.rights.clear();
    return out;
  }
  if (r.creds) PutCmsg(t, out, SOL_SOCKET, SCM_CREDENTIALS, &*r.creds, sizeof(*r.creds));
  if (!r.rights.empty()) DetachFds(t, out, r.rights, flags & MSG_CMSG_CLOEXEC);
  return out;
}

// ___sys_sendmsg: the header, its address and iovecs, the control data,
// then the socket. `allowed` are the msg_flags bits that count (sendmmsg's
// MSG_EOR). Returns the bytes sent and, in `*complete`, whether all were.
SyscallResult SendOne(Task& t, net::Socket& s, uint64_t umsg, unsigned flags, unsigned allowed,
                      bool* complete) {
  UserMsghdr mh;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<UserMsghdr>(umsg), &mh));
  int namelen = mh.msg_name == 0 ? 0 : mh.msg_namelen;
  if (namelen < 0) return Errno(EINVAL);
  namelen = std::min(namelen, kSockaddrStorage);
  net::SendMsgArgs m;
  if (namelen > 0) {
    ASSIGN_OR_RETURN(std::string addr, AddrIn(t, UserAddr(mh.msg_name), namelen));
    m.addr = std::move(addr);
  }
  size_t total = 0;
  ASSIGN_OR_RETURN(std::vector<iovec> guest, ImportIovecs(t, mh.msg_iov, mh.msg_iovlen, &total));
  // ____sys_sendmsg: the control data, at most optmem_max of it.
  if (mh.msg_controllen > INT_MAX) return Errno(ENOBUFS);
  flags |= mh.msg_flags & allowed;
  std::vector<uint8_t> ctl;
  if (mh.msg_controllen > 0) {
    if (mh.msg_controllen > net::kOptmemMax) return Errno(ENOBUFS);
    ctl.resize(mh.msg_controllen);
    if (!t.mm().CopyIn(UserAddr(mh.msg_control), ctl).ok()) return Errno(EFAULT);
  }
  flags &= ~kMsgInternal;
  if (s.nonblocking()) flags |= MSG_DONTWAIT;
  RETURN_IF_ERROR(ParseControl(t, s, ctl, m));
  std::vector<iovec> data = Translate(t, guest, /*write=*/false);
  m.data = data;
  m.len = total;
  m.flags = static_cast<int>(flags);
  ASSIGN_OR_RETURN(size_t n, s.SendMsg(&t, m));
  *complete = n >= total;
  return n;
}

// ___sys_recvmsg: the header and iovecs, the socket, then the address, the
// control messages, msg_flags and msg_controllen written back.
SyscallResult RecvOne(Task& t, net::Socket& s, uint64_t umsg, unsigned flags,
                      unsigned* out_flags = nullptr) {
  UserMsghdr mh;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<UserMsghdr>(umsg), &mh));
  int namelen = mh.msg_name == 0 ? 0 : mh.msg_namelen;
  if (namelen < 0) return Errno(EINVAL);
  size_t total = 0;
  ASSIGN_OR_RETURN(std::vector<iovec> guest, ImportIovecs(t, mh.msg_iov, mh.msg_iovlen, &total));
  if (s.nonblocking()) flags |= MSG_DONTWAIT;
  std::vector<iovec> data = Translate(t, guest, /*write=*/true);
  net::RecvMsgArgs m;
  m.data = data;
  m.len = total;
  m.flags = static_cast<int>(flags);
  m.want_addr = mh.msg_name != 0;
  ASSIGN_OR_RETURN(net::RecvMsgResult r, s.RecvMsg(&t, m));
  const ControlOut ctl = DeliverControl(t, mh.msg_control, mh.msg_controllen, r, flags);
  if (mh.msg_name != 0) {
    RETURN_IF_ERROR(AddrOut(t, r.addr, UserAddr(mh.msg_name), UserAddr(umsg + kNamelenOffset)));
  }
  unsigned msg_flags = (flags & MSG_CMSG_CLOEXEC) | static_cast<unsigned>(r.msg_flags);
  if (ctl.truncated) msg_flags |= MSG_CTRUNC;
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<uint32_t>(umsg + kFlagsOffset), msg_flags));
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<uint64_t>(umsg + kControllenOffset), ctl.used));
  if (out_flags != nullptr) *out_flags = msg_flags;
  return r.n;
}

bool IsRestart(const Errno& e) {
  const int v = e.value();
  return v == kERESTARTSYS || v == kERESTARTNOINTR || v == kERESTARTNOHAND ||
         v == kERESTART_RESTARTBLOCK;
}

}  // namespace

SyscallResult Socket(Task& t, const SyscallArgs& a) {
  const int family = a.Int(0);
  const int type = a.Int(1);
  const int flags = type & ~0xf;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto s, net::NewSocket(t, family, type & 0xf, a.Int(2), flags & SOCK_NONBLOCK));
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(s), flags & SOCK_CLOEXEC, 0, FdLimit(t)));
  return static_cast<uint64_t>(fd);
}

SyscallResult Socketpair(Task& t, const SyscallArgs& a) {
  const int type = a.Int(1);
  const int flags = type & ~0xf;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return Errno(EINVAL);
  const bool cloexec = flags & SOCK_CLOEXEC;
  // Linux takes both fds and writes their numbers before it makes the
  // sockets: EMFILE and EFAULT come before the family's errors.
  ASSIGN_OR_RETURN(int fd1, ReserveFd(t, cloexec));
  auto fd2 = ReserveFd(t, cloexec);
  if (!fd2.ok()) {
    (void)t.fds().Close(fd1);
    return fd2.error();
  }
  auto fail = [&](Errno e) -> SyscallResult {
    (void)t.fds().Close(fd1);
    (void)t.fds().Close(*fd2);
    return e;
  };
  const int fds[2] = {fd1, *fd2};
  if (!t.mm().CopyOut(a.Addr(3), {reinterpret_cast<const uint8_t*>(fds), sizeof(fds)}).ok()) {
    return fail(Errno(EFAULT));
  }
  auto pair = net::NewSocketPair(t, a.Int(0), type & 0xf, a.Int(2), flags & SOCK_NONBLOCK);
  if (!pair.ok()) return fail(pair.error());
  (void)t.fds().InstallAt(fd1, std::move(pair->first), cloexec);
  (void)t.fds().InstallAt(*fd2, std::move(pair->second), cloexec);
  return 0;
}

SyscallResult Bind(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  ASSIGN_OR_RETURN(std::string addr, AddrIn(t, a.Addr(1), a.Int(2)));
  RETURN_IF_ERROR(s.sock->Bind(t, addr));
  return 0;
}

SyscallResult Listen(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  int backlog = a.Int(1);
  constexpr int kSomaxconn = 4096;  // net.core.somaxconn
  if (static_cast<unsigned>(backlog) > kSomaxconn) backlog = kSomaxconn;
  RETURN_IF_ERROR(s.sock->Listen(t, backlog));
  return 0;
}

namespace {

// __sys_accept4: EBADF, the flags, an fd (EMFILE), ENOTSOCK, the
// connection, then the peer's address (a fault there loses the connection,
// as on Linux).
SyscallResult DoAccept(Task& t, const SyscallArgs& a, int flags) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return Errno(EINVAL);
  const bool cloexec = flags & SOCK_CLOEXEC;
  ASSIGN_OR_RETURN(int fd, ReserveFd(t, cloexec));
  auto fail = [&](Errno e) -> SyscallResult {
    (void)t.fds().Close(fd);
    return e;
  };
  net::Socket* s = net::AsSocket(*file);
  if (s == nullptr) return fail(Errno(ENOTSOCK));
  auto got = s->Accept(t, flags & SOCK_NONBLOCK);
  if (!got.ok()) return fail(got.error());
  if (a[1] != 0) {
    auto peer = (*got)->GetName(/*peer=*/true);
    if (!peer.ok()) return fail(Errno(ECONNABORTED));
    if (ErrnoOrOk w = AddrOut(t, *peer, a.Addr(1), a.Addr(2)); !w.ok()) return fail(w.error());
  }
  (void)t.fds().InstallAt(fd, std::move(*got), cloexec);
  return static_cast<uint64_t>(fd);
}

}  // namespace

SyscallResult Accept(Task& t, const SyscallArgs& a) { return DoAccept(t, a, 0); }
SyscallResult Accept4(Task& t, const SyscallArgs& a) { return DoAccept(t, a, a.Int(3)); }

SyscallResult Connect(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(0)));
  ASSIGN_OR_RETURN(std::string addr, AddrIn(t, a.Addr(1), a.Int(2)));
  net::Socket* s = net::AsSocket(*file);
  if (s == nullptr) return Errno(ENOTSOCK);
  RETURN_IF_ERROR(s->Connect(t, addr));
  return 0;
}

namespace {

SyscallResult DoGetName(Task& t, const SyscallArgs& a, bool peer) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  ASSIGN_OR_RETURN(std::string addr, s.sock->GetName(peer));
  RETURN_IF_ERROR(AddrOut(t, addr, a.Addr(1), a.Addr(2)));
  return 0;
}

}  // namespace

SyscallResult Getsockname(Task& t, const SyscallArgs& a) { return DoGetName(t, a, false); }
SyscallResult Getpeername(Task& t, const SyscallArgs& a) { return DoGetName(t, a, true); }

SyscallResult Shutdown(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  RETURN_IF_ERROR(s.sock->Shutdown(a.Int(1)));
  return 0;
}

SyscallResult Sendto(Task& t, const SyscallArgs& a) {
  // import_ubuf: the length capped, the buffer's range checked first.
  const size_t len = std::min(a.Size(2), kMaxRwCount);
  if (!AccessOk(a[1], len)) return Errno(EFAULT);
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  net::SendMsgArgs m;
  if (a[4] != 0) {
    ASSIGN_OR_RETURN(std::string addr, AddrIn(t, a.Addr(4), a.Int(5)));
    if (!addr.empty()) m.addr = std::move(addr);
  }
  unsigned flags = a.Uint(3) & ~kMsgInternal;
  if (s.sock->nonblocking()) flags |= MSG_DONTWAIT;
  const iovec g{reinterpret_cast<void*>(a[1]), len};
  std::vector<iovec> data = Translate(t, {&g, 1}, /*write=*/false);
  m.data = data;
  m.len = len;
  m.flags = static_cast<int>(flags);
  ASSIGN_OR_RETURN(size_t n, s.sock->SendMsg(&t, m));
  return n;
}

SyscallResult Recvfrom(Task& t, const SyscallArgs& a) {
  const size_t len = std::min(a.Size(2), kMaxRwCount);
  if (!AccessOk(a[1], len)) return Errno(EFAULT);
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  unsigned flags = a.Uint(3);
  if (s.sock->nonblocking()) flags |= MSG_DONTWAIT;
  const iovec g{reinterpret_cast<void*>(a[1]), len};
  std::vector<iovec> data = Translate(t, {&g, 1}, /*write=*/true);
  net::RecvMsgArgs m;
  m.data = data;
  m.len = len;
  m.flags = static_cast<int>(flags);
  m.want_addr = a[4] != 0;
  ASSIGN_OR_RETURN(net::RecvMsgResult r, s.sock->RecvMsg(&t, m));
  // Files passed to a reader without a control buffer are closed.
  r.rights.clear();
  if (a[4] != 0) RETURN_IF_ERROR(AddrOut(t, r.addr, a.Addr(4), a.Addr(5)));
  return r.n;
}

SyscallResult Sendmsg(Task& t, const SyscallArgs& a) {
  const unsigned flags = a.Uint(2);
  if (flags & kMsgCmsgCompat) return Errno(EINVAL);
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  bool complete;
  return SendOne(t, *s.sock, a[1], flags, 0, &complete);
}

SyscallResult Recvmsg(Task& t, const SyscallArgs& a) {
  const unsigned flags = a.Uint(2);
  if (flags & kMsgCmsgCompat) return Errno(EINVAL);
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  return RecvOne(t, *s.sock, a[1], flags);
}

SyscallResult Sendmmsg(Task& t, const SyscallArgs& a) {
  unsigned flags = a.Uint(3);
  if (flags & kMsgCmsgCompat) return Errno(EINVAL);
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  const uint64_t vlen = std::min<uint64_t>(a.Uint(2), kUioMaxIov);
  uint64_t done = 0;
  SyscallResult err = uint64_t{0};
  while (done < vlen) {
    const uint64_t entry = a[1] + done * kMmsghdrSize;
    bool complete = true;
    err = SendOne(t, *s.sock, entry, flags, MSG_EOR, &complete);
    if (!err.ok()) break;
    const uint32_t n = static_cast<uint32_t>(*err);
    if (ErrnoOrOk w = t.mm().CopyOutObj(UserPtr<uint32_t>(entry + kMsgLenOffset), n); !w.ok()) {
      err = w.error();
      break;
    }
    ++done;
    if (!complete) break;
  }
  // An error is reported only when nothing was sent.
  if (done != 0) return done;
  if (!err.ok()) return err.error();
  return 0;
}

SyscallResult Recvmmsg(Task& t, const SyscallArgs& a) {
  unsigned flags = a.Uint(3);
  if (flags & kMsgCmsgCompat) return Errno(EINVAL);
  std::optional<timespec> end;
  if (a[4] != 0) {
    timespec ts;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(4), &ts));
    // poll_select_set_timeout: EINVAL for an invalid time.
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kernel::kNsPerSec) return Errno(EINVAL);
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    end = kernel::TimespecAdd(now, ts);
  }
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  if (!(flags & MSG_ERRQUEUE)) {
    if (int e = s.sock->TakeError(); e != 0) return Errno(e);
  }
  const uint64_t vlen = std::min<uint64_t>(a.Uint(2), kUioMaxIov);
  uint64_t done = 0;
  SyscallResult err = uint64_t{0};
  while (done < vlen) {
    const uint64_t entry = a[1] + done * kMmsghdrSize;
    unsigned got_flags = 0;
    err = RecvOne(t, *s.sock, entry, flags & ~kMsgWaitForOne, &got_flags);
    if (!err.ok()) break;
    const uint32_t n = static_cast<uint32_t>(*err);
    if (ErrnoOrOk w = t.mm().CopyOutObj(UserPtr<uint32_t>(entry + kMsgLenOffset), n); !w.ok()) {
      err = w.error();
      break;
    }
    ++done;
    // MSG_WAITFORONE: wait for the first datagram only.
    if (flags & kMsgWaitForOne) flags |= MSG_DONTWAIT;
    if (end) {
      // The timeout is only looked at between datagrams, as on Linux.
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      const timespec left = kernel::TimespecSubClamped(*end, now);
      if (left.tv_sec == 0 && left.tv_nsec == 0) break;
    }
    if (got_flags & MSG_OOB) break;
  }
  if (end) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const timespec left = kernel::TimespecSubClamped(*end, now);
    if (done > 0) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(4), left));
  }
  if (err.ok()) return done;
  if (done == 0) return err.error();
  // A later error waits for the next call (or SO_ERROR).
  if (err.error().value() != EAGAIN && !IsRestart(err.error()))
    s.sock->SetError(err.error().value());
  return done;
}

SyscallResult Getsockopt(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  const int level = a.Int(1);
  const int name = a.Int(2);
  int len = 0;
  if (level == SOL_SOCKET) {
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int>(4), &len));
    if (len < 0) return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> v, s.sock->GetSockOpt(t, level, name, len));
  const size_t n = std::min<size_t>(static_cast<size_t>(len), v.size());
  if (!t.mm().CopyOut(a.Addr(3), {v.data(), n}).ok()) return Errno(EFAULT);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int>(4), static_cast<int>(n)));
  return 0;
}

SyscallResult Setsockopt(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(SocketRef s, SocketOf(t, a.Int(0)));
  const int level = a.Int(1);
  const int name = a.Int(2);
  const int optlen = a.Int(4);
  if (optlen < 0) return Errno(EINVAL);
  // The largest SOL_SOCKET value is a timeval: the options see at most that
  // much (a longer optlen reads as that long). A length too short for an int
  // is EINVAL before anything is read.
  std::vector<uint8_t> val(static_cast<size_t>(std::min(optlen, 16)));
  if (level == SOL_SOCKET && optlen >= static_cast<int>(sizeof(int))) {
    if (!t.mm().CopyIn(a.Addr(3), val).ok()) return Errno(EFAULT);
  }
  RETURN_IF_ERROR(s.sock->SetSockOpt(t, level, name, val));
  return 0;
}

}  // namespace sentry::syscalls
