// A unix-domain socket file (AF_UNIX): what socket(2), socketpair(2) and
// accept(2) give the guest. The protocol is the Endpoint's (endpoint.h); this
// adds what needs the calling task: addresses resolved through the VFS,
// credentials, timeouts, SIGPIPE. A socket connected to a host socket file
// served by the gofer moves its data through the host fd the gofer donated
// (host_connection.h).
#ifndef SENTRY_NET_UNIX_UNIX_SOCKET_H_
#define SENTRY_NET_UNIX_UNIX_SOCKET_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "sentry/net/socket.h"
#include "sentry/net/unix/endpoint.h"
#include "sentry/net/unix/host_connection.h"

namespace sentry::net::afunix {

class UnixSocket : public Socket {
 public:
  UnixSocket(std::shared_ptr<Endpoint> ep, int flags, uint32_t uid, uint32_t gid);
  ~UnixSocket() override;

  Endpoint& endpoint() const { return *ep_; }

  // --- FileDescription. read(2) and write(2) are recv and send without
  // flags (MSG_EOR for a seqpacket write); files passed to a reader that
  // cannot take them are closed. ---
  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  // SIOCINQ (FIONREAD), SIOCOUTQ; ENOTTY otherwise.
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override;
  void EventUnregister(waiter::Waiter* w) override;
  int HostPollFd() const override;
  bool CanPoll() const override { return true; }

  // --- Socket. ---
  ErrnoOrOk Bind(kernel::Task& t, std::string_view addr) override;
  ErrnoOrOk Listen(kernel::Task& t, int backlog) override;
  ErrnoOr<std::shared_ptr<Socket>> Accept(kernel::Task& t, int flags) override;
  ErrnoOrOk Connect(kernel::Task& t, std::string_view addr) override;
  ErrnoOr<std::string> GetName(bool peer) override;
  ErrnoOrOk Shutdown(int how) override;
  ErrnoOr<size_t> SendMsg(kernel::Task* t, SendMsgArgs& m) override;
  ErrnoOr<RecvMsgResult> RecvMsg(kernel::Task* t, RecvMsgArgs& m) override;
  ErrnoOr<std::vector<uint8_t>> GetSockOpt(kernel::Task& t, int level, int name, int len) override;
  ErrnoOrOk SetSockOpt(kernel::Task& t, int level, int name, std::span<const uint8_t> val) override;
  void SetError(int err) override { ep_->SetError(err); }
  int TakeError() override;

 private:
  // unix_find_other: the socket `addr` (validated) names, of our type.
  ErrnoOr<std::shared_ptr<Endpoint>> Lookup(kernel::Task& t, std::string_view addr);
  ErrnoOrOk BindPath(kernel::Task& t, std::string_view addr);
  // connect(2) to a socket file with no sandbox socket bound to it: the
  // host socket behind a gofer file, when there is one.
  ErrnoOrOk ConnectHost(kernel::Task& t, const vfs::VirtualDentry& vd, std::string_view addr);
  // How a call made with `flags` may wait: not with MSG_DONTWAIT or
  // without a task, else until the timeout (`jiffies`, 0: not at all).
  Wait WaitFor(kernel::Task* t, int flags, int64_t jiffies) const;
  HostConnection* host() const { return host_.load(std::memory_order_acquire); }

  const std::shared_ptr<Endpoint> ep_;
  // Set once, when connect(2) reaches a host socket; owned by host_owner_.
  std::atomic<HostConnection*> host_{nullptr};
  absl::Mutex host_mu_;
  std::unique_ptr<HostConnection> host_owner_ ABSL_GUARDED_BY(host_mu_);
};

// socket(AF_UNIX, type, protocol): EPROTONOSUPPORT for a protocol other
// than 0 or PF_UNIX, ESOCKTNOSUPPORT for a type other than SOCK_STREAM,
// SOCK_DGRAM (SOCK_RAW is one) and SOCK_SEQPACKET.
ErrnoOr<std::shared_ptr<Socket>> NewUnixSocket(kernel::Task& t, int type, int protocol, int flags);
ErrnoOr<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> NewUnixSocketPair(
    kernel::Task& t, int type, int protocol, int flags);

// unix_validate_addr: EINVAL unless a sockaddr_un with a name.
ErrnoOrOk ValidateAddress(std::string_view addr);

}  // namespace sentry::net::afunix

#endif  // SENTRY_NET_UNIX_UNIX_SOCKET_H_
