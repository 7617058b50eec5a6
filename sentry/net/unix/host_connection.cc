#include "sentry/net/unix/host_connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace sentry::net::afunix {

HostConnection::HostConnection(int fd, int type, std::string peer)
    : fd_(fd), type_(type), peer_(std::move(peer)) {
  const int fl = fcntl(fd_, F_GETFL);
  if (fl >= 0) (void)fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
}

HostConnection::~HostConnection() { close(fd_); }

ErrnoOr<size_t> HostConnection::Send(SendMsgArgs& m, Wait& wait, bool* sigpipe) {
  *sigpipe = false;
  if (!m.rights.empty() || m.creds) return Errno(EPERM);
  size_t prefix = 0;
  for (const iovec& v : m.data) prefix += v.iov_len;
  // A datagram is taken whole or not at all.
  if (prefix < m.len && type_ != SOCK_STREAM) return Errno(EFAULT);
  std::vector<iovec> iov(m.data.begin(), m.data.end());
  size_t idx = 0;
  size_t sent = 0;
  const int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (m.flags & MSG_EOR);
  for (;;) {
    msghdr mh{};
    mh.msg_iov = iov.data() + idx;
    mh.msg_iovlen = iov.size() - idx;
    const ssize_t n = sendmsg(fd_, &mh, flags);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      // A blocking stream send goes on until everything is sent.
      if (type_ != SOCK_STREAM || sent == prefix || !wait.CanWait()) break;
      size_t left = static_cast<size_t>(n);
      while (idx < iov.size() && left >= iov[idx].iov_len) left -= iov[idx++].iov_len;
      if (idx < iov.size()) {
        iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
        iov[idx].iov_len -= left;
      }
      continue;
    }
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && wait.CanWait()) {
      if (ErrnoOrOk r = wait.SleepOnHostFd(fd_, POLLOUT); !r.ok()) {
        if (sent != 0) return sent;
        return r.error();
      }
      continue;
    }
    if (sent != 0) return sent;
    if (e == EPIPE && type_ == SOCK_STREAM) *sigpipe = !(m.flags & MSG_NOSIGNAL);
    return Errno(e);
  }
  if (sent == 0 && prefix < m.len) return Errno(EFAULT);
  return sent;
}

ErrnoOr<RecvMsgResult> HostConnection::Recv(RecvMsgArgs& m, Wait& wait, bool* lost_files) {
  *lost_files = false;
  std::vector<iovec> iov(m.data.begin(), m.data.end());
  size_t prefix = 0;
  for (const iovec& v : iov) prefix += v.iov_len;
  // No valid byte of the guest's buffer: the host would read nothing.
  if (prefix == 0 && m.len > 0) return Errno(EFAULT);
  const int flags = MSG_DONTWAIT | (m.flags & (MSG_PEEK | MSG_TRUNC));
  const bool waitall = (m.flags & MSG_WAITALL) && !(m.flags & MSG_PEEK) && type_ == SOCK_STREAM;
  size_t idx = 0;
  RecvMsgResult res;
  for (;;) {
    msghdr mh{};
    sockaddr_storage from{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = iov.data() + idx;
    mh.msg_iovlen = iov.size() - idx;
    const ssize_t n = recvmsg(fd_, &mh, flags);
    if (n >= 0) {
      if (mh.msg_flags & MSG_CTRUNC) *lost_files = true;
      // The host's address means nothing here: the sender is the peer.
      if (m.want_addr && mh.msg_namelen > sizeof(sa_family_t)) res.addr = peer_;
      res.msg_flags |= mh.msg_flags & MSG_TRUNC;
      res.n += static_cast<size_t>(n);
      if (!waitall || n == 0 || res.n >= prefix) break;
      size_t left = static_cast<size_t>(n);
      while (idx < iov.size() && left >= iov[idx].iov_len) left -= iov[idx++].iov_len;
      if (idx < iov.size()) {
        iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
        iov[idx].iov_len -= left;
      }
      continue;
    }
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN && wait.CanWait()) {
      if (ErrnoOrOk r = wait.SleepOnHostFd(fd_, POLLIN); !r.ok()) {
        if (res.n != 0) break;
        return r.error();
      }
      continue;
    }
    if (res.n != 0) break;
    return Errno(e);
  }
  return res;
}

uint32_t HostConnection::Readiness(uint32_t mask) const {
  pollfd p{fd_, static_cast<short>(mask), 0};
  if (poll(&p, 1, 0) <= 0) return 0;
  return static_cast<uint32_t>(static_cast<uint16_t>(p.revents)) & mask;
}

ErrnoOrOk HostConnection::Shutdown(int how) {
  if (shutdown(fd_, how) != 0) return Errno(errno);
  return Ok();
}

ErrnoOr<int> HostConnection::Ioctl(unsigned long cmd) const {
  int v = 0;
  if (ioctl(fd_, cmd, &v) != 0) return Errno(errno);
  return v;
}

int HostConnection::TakeError() const {
  int v = 0;
  socklen_t len = sizeof(v);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &v, &len) != 0) return 0;
  return v;
}

}  // namespace sentry::net::afunix
