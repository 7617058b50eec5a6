// A unix-domain socket's protocol state, as Linux's struct unix_sock and
// net/unix/af_unix.c keep it: the connection (peer, listening and accept
// queue), the receive queue of messages with their credentials and passed
// files, send-buffer accounting, shutdown, and readiness. The description the
// guest holds (unix_socket.h) adds what needs a task: paths, signals, fds.
//
// Operations that may wait take a Wait (a waker, or none: never wait). Data
// moves between the Sentry's iovecs (guest memory already translated) and
// the messages, under the endpoint's lock (the copy cannot block).
//
// Lock order (see README.md):
//   an Endpoint's mu_ (two at once only through PairLock: by address)
//   > a peer_wait_ Queue's lock > a queue_ Queue's lock > what waiters take.
// Never drop a message, a file description or an endpoint that may be the
// last reference under mu_: their destructors take other endpoints' locks.
// Release order: collect them in a local declared before the lock.
#ifndef SENTRY_NET_UNIX_ENDPOINT_H_
#define SENTRY_NET_UNIX_ENDPOINT_H_

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/net/unix/namespace.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"
#include "sentry/waiter/waiter.h"

namespace sentry::net::afunix {

// --- Linux's constants for unix sockets. ---
inline constexpr int kDefaultBuf = 212992;               // net.core.{w,r}mem_default
inline constexpr int kMaxBuf = 212992;                   // net.core.{w,r}mem_max (the default)
inline constexpr int kMinSndbuf = 4608;                  // SOCK_MIN_SNDBUF
inline constexpr int kMinRcvbuf = 2304;                  // SOCK_MIN_RCVBUF
inline constexpr int kMaxDgramQlen = 10;                 // net.unix.max_dgram_qlen
inline constexpr int kSomaxconn = 4096;                  // net.core.somaxconn
inline constexpr size_t kScmMaxFd = 253;                 // SCM_MAX_FD
inline constexpr uint32_t kOverflowId = 65534;           // overflowuid/overflowgid
inline constexpr size_t kAddrMax = sizeof(sockaddr_un);  // 110
inline constexpr size_t kPathOffset = offsetof(sockaddr_un, sun_path);  // 2

// Shutdown bits (sk_shutdown).
inline constexpr int kRcvShutdown = 1;
inline constexpr int kSendShutdown = 2;
inline constexpr int kShutdownMask = 3;

// The memory one message takes, as Linux charges it to the sender (the skb's
// truesize: the head from kmalloc's size classes, the struct sk_buff, the
// page fragments). Send buffers fill up at the same byte counts as on Linux.
uint64_t Truesize(uint64_t head, uint64_t frags);
// How unix_stream_sendmsg and unix_dgram_sendmsg split a message of `len`
// bytes between the head and page fragments.
uint64_t StreamChunkTruesize(uint64_t len);
uint64_t DgramTruesize(uint64_t len);
// The most one stream skb carries (SKB_MAX_HEAD(0) + 32 KiB).
inline constexpr uint64_t kMaxStreamChunk = 3776 + 32768;

// struct ucred: who sent a message (SCM_CREDENTIALS) or made a connection
// (SO_PEERCRED).
struct Creds {
  int32_t pid = 0;
  uint32_t uid = kOverflowId;
  uint32_t gid = kOverflowId;
  bool operator==(const Creds&) const = default;
};

class Endpoint;

// One queued message (an skb): its data, the part a stream reader has
// consumed, its credentials and files. It charges its truesize to the
// sender's send buffer until it is destroyed.
struct Message {
  Message() = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message();

  size_t unread() const { return data.size() - consumed; }
  // Hands the passed files over (to the reader): no longer in flight.
  std::vector<std::shared_ptr<vfs::FileDescription>> TakeFiles();

  std::vector<uint8_t> data;
  size_t consumed = 0;
  // Set when the message carries credentials (explicit or added for a
  // receiver that wants them).
  std::optional<Creds> creds;
  std::vector<std::shared_ptr<vfs::FileDescription>> files;
  // Whose send buffer it is charged to, and whose address a reader sees.
  std::shared_ptr<Endpoint> sender;
  uint64_t charge = 0;
  // The files are counted in flight for this user (Namespace::Inflight).
  std::shared_ptr<Namespace> inflight_ns;
  uint32_t inflight_uid = 0;
};

// How an operation may wait.
class Wait {
 public:
  // Never waits: EAGAIN.
  Wait() = default;
  // Waits through `waker` until `deadline` (absolute, CLOCK_MONOTONIC; unset:
  // no limit). A null waker never waits.
  Wait(waiter::Waker* waker, std::optional<timespec> deadline)
      : waker_(waker), deadline_(deadline) {}

  waiter::Waker* waker() const { return waker_; }
  bool CanWait() const { return waker_ != nullptr && !expired_; }
  // Sleeps until woken: Ok to look again (also once the deadline passed,
  // after which CanWait is false); an interrupted wait's error:
  // ERESTARTSYS without a time limit, EINTR with one (sock_intr_errno).
  ErrnoOrOk Sleep();
  // The same, also ending when host fd `fd` reports one of `events`.
  ErrnoOrOk SleepOnHostFd(int fd, short events);

 private:
  waiter::Waker* waker_ = nullptr;
  std::optional<timespec> deadline_;
  bool expired_ = false;
};

// What a send carries, beyond the data.
struct SendArgs {
  // The data, as the Sentry's iovecs over the valid prefix of the guest's
  // buffer, and the length asked for: bytes past the prefix are a fault.
  std::span<const iovec> data;
  size_t len = 0;
  int flags = 0;  // MSG_*
  // A destination was given (msg_name): how to find it, looked up when
  // Linux does (after the data is taken). Unset: the connected peer.
  bool has_addr = false;
  std::function<ErrnoOr<std::shared_ptr<Endpoint>>()> lookup;
  // SCM_CREDENTIALS as sent (checked), and SCM_RIGHTS.
  std::optional<Creds> creds;
  std::vector<std::shared_ptr<vfs::FileDescription>> files;
  // The sender: its process id and real ids (credentials added for a
  // receiver that asks), and the in-flight limit (RLIMIT_NOFILE; none when
  // privileged).
  Creds self;
  uint64_t inflight_limit = 0;
  bool inflight_unlimited = false;
};

struct RecvArgs {
  std::span<const iovec> data;  // as SendArgs::data
  size_t len = 0;
  int flags = 0;
  bool want_addr = false;
};

struct RecvResult {
  // The syscall's result: bytes copied, or a datagram's full length with
  // MSG_TRUNC.
  size_t n = 0;
  int msg_flags = 0;  // MSG_TRUNC
  std::string addr;   // the sender's address; empty: none
  // The receiver asked for SCM_CREDENTIALS (SO_PASSCRED): what to report.
  bool passcred = false;
  Creds creds{0, 0, 0};
  // SCM_RIGHTS: the files now belong to the reader.
  std::vector<std::shared_ptr<vfs::FileDescription>> files;
};

class Endpoint : public NamedEndpoint, public std::enable_shared_from_this<Endpoint> {
 public:
  Endpoint(std::shared_ptr<Namespace> ns, int type);
  ~Endpoint() override;
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  int type() const { return type_; }
  Namespace& ns() const { return *ns_; }

  // --- Setting up. ---
  // socketpair: `a` and `b` connected back to back, both made by `creator`.
  static void Pair(const std::shared_ptr<Endpoint>& a, const std::shared_ptr<Endpoint>& b,
                   const Creds& creator);
  // The address (sockaddr_un bytes, as getsockname reports them), or null
  // when unbound. Set once.
  const std::string* address() const { return addr_.load(std::memory_order_acquire); }
  // unix_bind_abstract: EINVAL when bound, EADDRINUSE when the name is taken.
  ErrnoOrOk BindAbstract(std::string addr);
  // unix_autobind (nothing when already bound).
  ErrnoOrOk Autobind();
  // unix_bind_bsd after the socket file is made at `vd`: EINVAL when
  // already bound (the caller removes the file).
  ErrnoOrOk BindPath(std::string addr, vfs::VirtualDentry vd);
  // unix_listen: `backlog` already capped at somaxconn. `cred` becomes what
  // connectors see as SO_PEERCRED.
  ErrnoOrOk Listen(int backlog, const Creds& cred);
  // unix_accept: a connection from the queue, waiting for one.
  ErrnoOr<std::shared_ptr<Endpoint>> Accept(Wait& wait);
  // unix_stream_connect to `other` (what the name led to): waits while its
  // backlog is full. `cred` is the connector's (the accepted socket's
  // SO_PEERCRED).
  ErrnoOrOk Connect(const std::shared_ptr<Endpoint>& other, const Creds& cred, Wait& wait);
  // unix_dgram_connect: `other` becomes the default peer; null disconnects
  // (AF_UNSPEC).
  ErrnoOrOk ConnectDatagram(const std::shared_ptr<Endpoint>& other);
  // unix_getname: the address, or the peer's (ENOTCONN without one); an
  // unbound socket's is the family alone.
  ErrnoOr<std::string> Name(bool peer) const;
  // unix_shutdown: `how` is SHUT_RD, SHUT_WR or SHUT_RDWR.
  ErrnoOrOk Shutdown(int how);
  // unix_release_sock: the last file reference went away (or, for
  // `embryo`, the listener that held an unaccepted connection did).
  void Release(bool embryo = false);
  // An accepted connection now has a file (before, credentials always go
  // with messages to it: !other->sk_socket).
  void MarkAccepted() { accepted_.store(true, std::memory_order_release); }

  // --- Data. ---
  // unix_stream_sendmsg / unix_dgram_sendmsg / unix_seqpacket_sendmsg: the
  // bytes sent. `*sigpipe` says a stream writer must get SIGPIPE.
  ErrnoOr<size_t> Send(SendArgs& args, Wait& wait, bool* sigpipe);
  ErrnoOr<RecvResult> Recv(RecvArgs& args, Wait& wait);

  // --- Readiness: unix_poll (stream) and unix_dgram_poll (datagram and
  // seqpacket). ---
  uint32_t Readiness(uint32_t mask);
  void EventRegister(waiter::Waiter* w, uint32_t mask) { queue_.EventRegister(w, mask); }
  void EventUnregister(waiter::Waiter* w) { queue_.EventUnregister(w); }

  // --- Options and state. ---
  bool listening() const;
  bool connected() const;
  // sock_error: the pending error, cleared (0 if none).
  int TakeError();
  void SetError(int err);
  // SO_PEERCRED: unset is pid 0, uid and gid -1.
  std::optional<Creds> peer_cred() const;
  int sndbuf() const { return sndbuf_.load(std::memory_order_relaxed); }
  int rcvbuf() const { return rcvbuf_.load(std::memory_order_relaxed); }
  // sock_setsockopt's SO_SNDBUF / SO_RCVBUF: doubled, capped and floored.
  void SetSndbuf(int val);
  void SetRcvbuf(int val);
  bool passcred() const { return passcred_.load(std::memory_order_relaxed); }
  void set_passcred(bool on) { passcred_.store(on, std::memory_order_relaxed); }
  int rcvlowat() const { return rcvlowat_.load(std::memory_order_relaxed); }
  void set_rcvlowat(int v) { rcvlowat_.store(v, std::memory_order_relaxed); }
  // SIOCINQ (EINVAL while listening) and SIOCOUTQ.
  ErrnoOr<int64_t> InqLen() const;
  int64_t OutqLen() const { return wmem_.load(std::memory_order_relaxed); }

 private:
  enum class State { kClosed, kListen, kConnected };  // TCP_CLOSE, _LISTEN, _ESTABLISHED

  // Forwards wakes of the peer's peer_wait_ to our queue_ (Linux's
  // peer_wake): a datagram writer held back by a full receiver hears when
  // it drains. Fires once per arming.
  class PeerWake : public waiter::Waiter {
   public:
    explicit PeerWake(Endpoint* owner) : owner_(owner) {}
    void NotifyEvent(uint32_t events) override;
    std::atomic<bool> armed{false};

   private:
    Endpoint* owner_;
  };

  // Both endpoints' locks, by address (one when they are the same).
  class PairLock {
   public:
    PairLock(Endpoint* a, Endpoint* b) ABSL_NO_THREAD_SAFETY_ANALYSIS;
    ~PairLock() ABSL_NO_THREAD_SAFETY_ANALYSIS;
    PairLock(const PairLock&) = delete;
    PairLock& operator=(const PairLock&) = delete;

   private:
    Endpoint* first_;
    Endpoint* second_;
  };

  bool RecvqFullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return QueueLenLocked() > backlog_;
  }
  size_t QueueLenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == State::kListen ? accept_queue_.size() : recv_.size();
  }
  bool WritableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetAddressLocked(std::string addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The peer_wake dance (both locked).
  bool PeerWakeConnectLocked(const std::shared_ptr<Endpoint>& other)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PeerWakeDisconnectLocked(Endpoint* other) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PeerWakeMeLocked(const std::shared_ptr<Endpoint>& other) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(other->mu_);
  // unix_dgram_disconnected: our queue goes (into `garbage`), and `old`
  // hears ECONNRESET if it was connected back to us.
  void DgramDisconnected(const std::shared_ptr<Endpoint>& old,
                         std::deque<std::unique_ptr<Message>>* garbage);
  // The sock_alloc_send_pskb wait: Ok once the send buffer has room.
  ErrnoOrOk WaitForSendBuffer(Wait& wait);
  // A message of `data[offset, offset+size)`, charged to us; EFAULT if that
  // reaches past the valid prefix.
  ErrnoOr<std::unique_ptr<Message>> NewMessage(const SendArgs& args, size_t offset, size_t size,
                                               uint64_t charge);
  // unix_attach_fds: moves the files into `m` (ETOOMANYREFS past the limit).
  ErrnoOrOk AttachFiles(SendArgs& args, Message& m);
  ErrnoOr<size_t> SendStream(SendArgs& args, Wait& wait, bool* sigpipe);
  ErrnoOr<size_t> SendDatagram(SendArgs& args, Wait& wait);
  ErrnoOr<RecvResult> RecvStream(RecvArgs& args, Wait& wait);
  ErrnoOr<RecvResult> RecvDatagram(RecvArgs& args, Wait& wait);
  void Uncharge(uint64_t n);
  friend struct Message;

  const std::shared_ptr<Namespace> ns_;
  const int type_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  std::shared_ptr<Endpoint> peer_ ABSL_GUARDED_BY(mu_);
  int shutdown_ ABSL_GUARDED_BY(mu_) = 0;
  int err_ ABSL_GUARDED_BY(mu_) = 0;
  bool dead_ ABSL_GUARDED_BY(mu_) = false;
  // The address: set once (under mu_), read without it.
  std::atomic<const std::string*> addr_{nullptr};
  std::unique_ptr<const std::string> addr_owner_ ABSL_GUARDED_BY(mu_);
  bool abstract_ ABSL_GUARDED_BY(mu_) = false;    // holds its name in ns_
  vfs::VirtualDentry path_ ABSL_GUARDED_BY(mu_);  // a bound socket file
  const vfs::Inode* bound_inode_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<std::unique_ptr<Message>> recv_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Endpoint>> accept_queue_ ABSL_GUARDED_BY(mu_);
  // sk_max_ack_backlog: the listen backlog, or max_dgram_qlen.
  size_t backlog_ ABSL_GUARDED_BY(mu_) = kMaxDgramQlen;
  std::optional<Creds> peer_cred_ ABSL_GUARDED_BY(mu_);
  // Where our PeerWake is registered (a peer's peer_wait_), if anywhere.
  std::shared_ptr<Endpoint> peer_wake_target_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> accepted_{true};
  std::atomic<int> sndbuf_{kDefaultBuf};
  std::atomic<int> rcvbuf_{kDefaultBuf};
  std::atomic<bool> passcred_{false};
  std::atomic<int> rcvlowat_{1};
  // Bytes (truesize) of our messages not yet consumed (sk_wmem_alloc).
  std::atomic<int64_t> wmem_{0};
  waiter::Queue queue_;      // sk_sleep: readers, writers, pollers
  waiter::Queue peer_wait_;  // writers and connectors waiting for our queue to drain
  PeerWake peer_wake_{this};
};

}  // namespace sentry::net::afunix

#endif  // SENTRY_NET_UNIX_ENDPOINT_H_
