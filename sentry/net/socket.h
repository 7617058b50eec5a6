// The socket layer (DESIGN.md §9): what a socket fd holds, and what every
// family shares (Linux's net/socket.c and net/core/sock.c): the socket
// calls as virtual operations, sockfs's inode (fstat, /proc/<pid>/fd), the
// options every socket keeps, and socket(2)'s dispatch by family. Only
// AF_UNIX exists (sentry/net/unix); the netstack comes later.
#ifndef SENTRY_NET_SOCKET_H_
#define SENTRY_NET_SOCKET_H_

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::net {

// Linux's HZ (Debian's kernels): socket timeouts are kept in jiffies, so
// getsockopt returns what setsockopt's value rounds to.
inline constexpr int64_t kHz = 250;
// MAX_SCHEDULE_TIMEOUT: no time limit.
inline constexpr int64_t kNoTimeout = INT64_MAX;
// net.core.optmem_max: the most control data one sendmsg may pass.
inline constexpr size_t kOptmemMax = 131072;

// sendmsg's message, its control data already parsed (SCM_RIGHTS files
// looked up, SCM_CREDENTIALS checked).
struct SendMsgArgs {
  // The data as the Sentry's iovecs over the valid prefix of the guest's
  // buffers; bytes past it (up to `len`) are a fault.
  std::span<const iovec> data;
  size_t len = 0;
  int flags = 0;  // MSG_*, with MSG_DONTWAIT for a non-blocking file
  // msg_name, when given with a length (sockaddr bytes).
  std::optional<std::string> addr;
  std::vector<std::shared_ptr<vfs::FileDescription>> rights;
  std::optional<struct ucred> creds;
};

struct RecvMsgArgs {
  std::span<const iovec> data;  // as SendMsgArgs::data
  size_t len = 0;
  int flags = 0;  // MSG_*, with MSG_DONTWAIT for a non-blocking file
  bool want_addr = false;
};

struct RecvMsgResult {
  size_t n = 0;       // the syscall's value
  int msg_flags = 0;  // MSG_TRUNC, ...
  std::string addr;   // the source address; empty: none (msg_namelen 0)
  // SCM_CREDENTIALS to report (the receiver asked for them).
  std::optional<struct ucred> creds;
  // SCM_RIGHTS: files for the receiver's fd table.
  std::vector<std::shared_ptr<vfs::FileDescription>> rights;
};

class Socket : public vfs::FileDescription {
 public:
  // `flags`: O_NONBLOCK or not; the owner is the creator's fsuid/fsgid.
  Socket(int family, int type, int protocol, int flags, uint32_t uid, uint32_t gid);

  int family() const { return family_; }
  int type() const { return type_; }
  int protocol() const { return protocol_; }
  uint64_t ino() const { return ino_; }
  bool nonblocking() const { return status_flags() & O_NONBLOCK; }

  // --- What every socket file answers the same way. ---
  bool Seekable() const override { return false; }
  // sockfs: S_IFSOCK|0777, one link, no size, the creator's ids.
  ErrnoOr<struct stat> Stat() override;
  // "socket:[ino]", as /proc/<pid>/fd shows it.
  std::string Describe() const override;

  // --- The socket calls (proto_ops). `addr` is the sockaddr as passed (at
  // most sizeof(sockaddr_storage) bytes). ---
  virtual ErrnoOrOk Bind(kernel::Task& t, std::string_view addr) = 0;
  // `backlog` is already capped at somaxconn.
  virtual ErrnoOrOk Listen(kernel::Task& t, int backlog) = 0;
  // A connection, as a new socket file (O_NONBLOCK from `flags`); waits
  // unless this file is non-blocking.
  virtual ErrnoOr<std::shared_ptr<Socket>> Accept(kernel::Task& t, int flags) = 0;
  virtual ErrnoOrOk Connect(kernel::Task& t, std::string_view addr) = 0;
  // getsockname / getpeername: the address bytes (their length is what the
  // syscall reports).
  virtual ErrnoOr<std::string> GetName(bool peer) = 0;
  virtual ErrnoOrOk Shutdown(int how) = 0;
  // `t` is null for the Sentry's own I/O (never waits).
  virtual ErrnoOr<size_t> SendMsg(kernel::Task* t, SendMsgArgs& m) = 0;
  virtual ErrnoOr<RecvMsgResult> RecvMsg(kernel::Task* t, RecvMsgArgs& m) = 0;
  // The option's value (the caller copies out at most the guest's length);
  // `len` is the guest's length (some options check it).
  virtual ErrnoOr<std::vector<uint8_t>> GetSockOpt(kernel::Task& t, int level, int name,
                                                   int len) = 0;
  virtual ErrnoOrOk SetSockOpt(kernel::Task& t, int level, int name,
                               std::span<const uint8_t> val) = 0;
  // Records an error for the next call or SO_ERROR (recvmmsg's late error).
  virtual void SetError(int err) = 0;
  // sock_error: the pending error, cleared (0: none).
  virtual int TakeError() = 0;

 protected:
  // SOL_SOCKET options every family keeps (sk_setsockopt / sk_getsockopt's
  // generic part): the timeouts and the options recorded without effect.
  // nullopt when `name` is not one of them.
  std::optional<ErrnoOrOk> SetCommonOption(kernel::Task& t, int name, std::span<const uint8_t> val);
  std::optional<ErrnoOr<std::vector<uint8_t>>> GetCommonOption(int name, int len);
  // SO_RCVTIMEO / SO_SNDTIMEO in jiffies (kNoTimeout: none).
  int64_t rcvtimeo() const { return rcvtimeo_.load(std::memory_order_relaxed); }
  int64_t sndtimeo() const { return sndtimeo_.load(std::memory_order_relaxed); }

 private:
  const int family_;
  const int type_;
  const int protocol_;
  const uint64_t ino_;
  const uint32_t uid_;
  const uint32_t gid_;
  std::atomic<int64_t> rcvtimeo_{kNoTimeout};
  std::atomic<int64_t> sndtimeo_{kNoTimeout};
  absl::Mutex mu_;
  // Boolean and integer options kept only to be read back.
  std::map<int, int> recorded_ ABSL_GUARDED_BY(mu_);
  struct linger linger_ ABSL_GUARDED_BY(mu_) = {0, 0};
};

// The socket behind `f`, or null (ENOTSOCK).
Socket* AsSocket(vfs::FileDescription& f);

// socket(2) after the flag checks: `type` without SOCK_NONBLOCK and
// SOCK_CLOEXEC; `flags` O_NONBLOCK or 0.
ErrnoOr<std::shared_ptr<Socket>> NewSocket(kernel::Task& t, int family, int type, int protocol,
                                           int flags);
// socketpair(2), the same way (EOPNOTSUPP for families without pairs).
ErrnoOr<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> NewSocketPair(
    kernel::Task& t, int family, int type, int protocol, int flags);

// --- Timeouts (sock_set_timeout / sock_get_timeout). ---
// A timeval option's value in jiffies: EINVAL if shorter than a timeval,
// EDOM for bad microseconds; a negative time is 0 (never wait).
ErrnoOr<int64_t> TimeoutFromTimeval(std::span<const uint8_t> val);
std::vector<uint8_t> TimevalFromTimeout(int64_t jiffies);
// Where a wait of `jiffies` from now ends (nullopt: never).
std::optional<timespec> DeadlineAfter(int64_t jiffies);

}  // namespace sentry::net

#endif  // SENTRY_NET_SOCKET_H_
