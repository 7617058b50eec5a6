// A unix socket connected to a host unix socket: a socket file in a bind
// mount, served by the gofer (its Connect operation connects on the host and
// donates the connected fd). The Sentry moves the data through that fd with
// non-blocking host calls and waits for it as for any host fd (its readiness
// is the host fd's: FileDescription::HostPollFd). Nothing is forwarded to
// the host but the data: no files (SCM_RIGHTS) or credentials cross.
#ifndef SENTRY_NET_UNIX_HOST_CONNECTION_H_
#define SENTRY_NET_UNIX_HOST_CONNECTION_H_

#include <string>

#include "sentry/base/errno.h"
#include "sentry/net/socket.h"
#include "sentry/net/unix/endpoint.h"

namespace sentry::net::afunix {

class HostConnection {
 public:
  // Takes `fd` (a connected host socket of `type`), made non-blocking here.
  // `peer` is the address the guest connected to (getpeername's answer).
  HostConnection(int fd, int type, std::string peer);
  ~HostConnection();
  HostConnection(const HostConnection&) = delete;
  HostConnection& operator=(const HostConnection&) = delete;

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

  // The data of a send, a message's files and credentials refused (EPERM,
  // counted by the caller); `*sigpipe` as Endpoint::Send.
  ErrnoOr<size_t> Send(SendMsgArgs& m, Wait& wait, bool* sigpipe);
  // `*lost_files`: the host passed files, which are dropped (MSG_CTRUNC).
  ErrnoOr<RecvMsgResult> Recv(RecvMsgArgs& m, Wait& wait, bool* lost_files);
  uint32_t Readiness(uint32_t mask) const;
  ErrnoOrOk Shutdown(int how);
  // SIOCINQ / SIOCOUTQ and SO_ERROR, from the host socket.
  ErrnoOr<int> Ioctl(unsigned long cmd) const;
  int TakeError() const;

 private:
  const int fd_;
  const int type_;
  const std::string peer_;
};

}  // namespace sentry::net::afunix

#endif  // SENTRY_NET_UNIX_HOST_CONNECTION_H_
