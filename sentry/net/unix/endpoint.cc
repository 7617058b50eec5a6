#include "sentry/net/unix/endpoint.h"

#include <poll.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "sentry/base/status_macros.h"

namespace sentry::net::afunix {

namespace {

constexpr uint32_t kInEvents = POLLIN | POLLRDNORM | POLLRDBAND;
constexpr uint32_t kOutEvents = POLLOUT | POLLWRNORM | POLLWRBAND;
// A state change (shutdown, release, connection) wakes everyone, as
// sock_def_wakeup does.
constexpr uint32_t kAllEvents = waiter::kEventAll;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kSkbStruct = 256;  // SKB_DATA_ALIGN(sizeof(struct sk_buff))
constexpr uint64_t kShinfo = 320;     // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))

uint64_t PageAlign(uint64_t n) { return (n + kPage - 1) & ~(kPage - 1); }

// kmalloc_size_roundup: the slab size classes, then whole pages in powers of two.
uint64_t KmallocSize(uint64_t n) {
  static constexpr uint64_t kSizes[] = {8,   16,  32,   64,   96,   128, 192,
                                        256, 512, 1024, 2048, 4096, 8192};
  for (uint64_t s : kSizes) {
    if (n <= s) return s;
  }
  uint64_t pages = 1;
  while (pages * kPage < n) pages <<= 1;
  return pages * kPage;
}

// Reads the iovecs in order.
class IovecReader {
 public:
  explicit IovecReader(std::span<const iovec> iov) : iov_(iov) {
    for (const iovec& v : iov) size_ += v.iov_len;
  }
  size_t size() const { return size_; }  // the valid prefix
  size_t offset() const { return offset_; }
  void Read(uint8_t* dst, size_t n) {
    while (n > 0 && idx_ < iov_.size()) {
      const iovec& v = iov_[idx_];
      const size_t take = std::min(n, v.iov_len - in_);
      std::memcpy(dst, static_cast<const uint8_t*>(v.iov_base) + in_, take);
      dst += take, n -= take, in_ += take, offset_ += take;
      if (in_ == v.iov_len) ++idx_, in_ = 0;
    }
  }

 private:
  std::span<const iovec> iov_;
  size_t size_ = 0;
  size_t offset_ = 0;
  size_t idx_ = 0;
  size_t in_ = 0;
};

class IovecWriter {
 public:
  explicit IovecWriter(std::span<const iovec> iov) : iov_(iov) {
    for (const iovec& v : iov) size_ += v.iov_len;
  }
  size_t room() const { return size_ - offset_; }
  void Write(const uint8_t* src, size_t n) {
    while (n > 0 && idx_ < iov_.size()) {
      const iovec& v = iov_[idx_];
      const size_t take = std::min(n, v.iov_len - in_);
      std::memcpy(static_cast<uint8_t*>(v.iov_base) + in_, src, take);
      src += take, n -= take, in_ += take, offset_ += take;
      if (in_ == v.iov_len) ++idx_, in_ = 0;
    }
  }

 private:
  std::span<const iovec> iov_;
  size_t size_ = 0;
  size_t offset_ = 0;
  size_t idx_ = 0;
  size_t in_ = 0;
};

// Registers a waker for the life of an operation (nothing without one).
class Registration {
 public:
  Registration(waiter::Queue& q, waiter::Waker* w, uint32_t mask) : q_(&q), w_(w) {
    if (w_ != nullptr) q_->EventRegister(w_, mask);
  }
  ~Registration() {
    if (w_ != nullptr) q_->EventUnregister(w_);
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  waiter::Queue* q_;
  waiter::Waker* w_;
};

// What a receiver is told for a message sent without credentials: the
// invalid ids, as from_kuid_munged reports them.
constexpr Creds kNoCreds{0, kOverflowId, kOverflowId};

std::string FamilyOnly() {
  const sa_family_t f = AF_UNIX;
  return std::string(reinterpret_cast<const char*>(&f), sizeof(f));
}

}  // namespace

uint64_t Truesize(uint64_t head, uint64_t frags) {
  return KmallocSize(((head + 63) & ~uint64_t{63}) + kShinfo) + kSkbStruct + frags;
}

uint64_t StreamChunkTruesize(uint64_t size) {
  constexpr uint64_t kMaxHead = 3776;  // SKB_MAX_HEAD(0)
  uint64_t frags = size > kMaxHead ? size - kMaxHead : 0;
  frags = std::min(size, PageAlign(frags));
  return Truesize(size - frags, frags);
}

uint64_t DgramTruesize(uint64_t len) {
  constexpr uint64_t kMaxAlloc = 4 * kPage - kShinfo;  // SKB_MAX_ALLOC
  constexpr uint64_t kMaxFrags = 17 * kPage;           // MAX_SKB_FRAGS pages
  uint64_t frags = 0;
  if (len > kMaxAlloc) frags = PageAlign(std::min(len - kMaxAlloc, kMaxFrags));
  frags = std::min(frags, len);
  return Truesize(len - frags, frags);
}

// --- Message. ---

Message::~Message() {
  if (inflight_ns != nullptr && !files.empty())
    inflight_ns->RemoveInflight(inflight_uid, files.size());
  if (sender != nullptr && charge != 0) sender->Uncharge(charge);
}

std::vector<std::shared_ptr<vfs::FileDescription>> Message::TakeFiles() {
  if (inflight_ns != nullptr && !files.empty())
    inflight_ns->RemoveInflight(inflight_uid, files.size());
  return std::move(files);
}

// --- Wait. ---

ErrnoOrOk Wait::Sleep() {
  if (!CanWait()) return Errno(EAGAIN);
  ErrnoOrOk r = waker_->Block(CLOCK_MONOTONIC, deadline_ ? &*deadline_ : nullptr);
  if (r.ok()) return Ok();
  if (r.error().value() == ETIMEDOUT) {
    expired_ = true;
    return Ok();
  }
  return Errno(deadline_ ? EINTR : kERESTARTSYS);
}

ErrnoOrOk Wait::SleepOnHostFd(int fd, short events) {
  if (!CanWait()) return Errno(EAGAIN);
  pollfd p{fd, events, 0};
  ErrnoOrOk r = waker_->Block(CLOCK_MONOTONIC, deadline_ ? &*deadline_ : nullptr, {&p, 1});
  if (r.ok()) return Ok();
  if (r.error().value() == ETIMEDOUT) {
    expired_ = true;
    return Ok();
  }
  return Errno(deadline_ ? EINTR : kERESTARTSYS);
}

// --- Endpoint. ---

void Endpoint::PeerWake::NotifyEvent(uint32_t) {
  if (armed.exchange(false, std::memory_order_acq_rel)) owner_->queue_.Notify(kOutEvents);
}

Endpoint::PairLock::PairLock(Endpoint* a, Endpoint* b) {
  if (b == nullptr || a == b) {
    first_ = a;
    second_ = nullptr;
  } else if (a < b) {
    first_ = a;
    second_ = b;
  } else {
    first_ = b;
    second_ = a;
  }
  first_->mu_.Lock();
  if (second_ != nullptr) second_->mu_.Lock();
}

Endpoint::PairLock::~PairLock() {
  if (second_ != nullptr) second_->mu_.Unlock();
  first_->mu_.Unlock();
}

Endpoint::Endpoint(std::shared_ptr<Namespace> ns, int type) : ns_(std::move(ns)), type_(type) {}

Endpoint::~Endpoint() {
  // Release took it away already unless this endpoint never had a file.
  if (peer_wake_target_ != nullptr) peer_wake_target_->peer_wait_.EventUnregister(&peer_wake_);
}

void Endpoint::Pair(const std::shared_ptr<Endpoint>& a, const std::shared_ptr<Endpoint>& b,
                    const Creds& creator) {
  PairLock l(a.get(), b.get());
  a->mu_.AssertHeld();
  b->mu_.AssertHeld();
  a->peer_ = b;
  b->peer_ = a;
  a->peer_cred_ = creator;
  b->peer_cred_ = creator;
  a->state_ = State::kConnected;
  b->state_ = State::kConnected;
}

void Endpoint::SetAddressLocked(std::string addr) {
  addr_owner_ = std::make_unique<const std::string>(std::move(addr));
  addr_.store(addr_owner_.get(), std::memory_order_release);
}

ErrnoOrOk Endpoint::BindAbstract(std::string addr) {
  absl::MutexLock l(&mu_);
  if (address() != nullptr) return Errno(EINVAL);
  if (!ns_->BindAbstract(type_, addr, weak_from_this())) return Errno(EADDRINUSE);
  abstract_ = true;
  SetAddressLocked(std::move(addr));
  return Ok();
}

ErrnoOrOk Endpoint::Autobind() {
  absl::MutexLock l(&mu_);
  if (address() != nullptr) return Ok();
  ASSIGN_OR_RETURN(std::string addr, ns_->BindAutomatic(type_, weak_from_this()));
  abstract_ = true;
  SetAddressLocked(std::move(addr));
  return Ok();
}

ErrnoOrOk Endpoint::BindPath(std::string addr, vfs::VirtualDentry vd) {
  absl::MutexLock l(&mu_);
  if (address() != nullptr) return Errno(EINVAL);
  bound_inode_ = vd.dentry->inode().get();
  path_ = std::move(vd);
  ns_->BindInode(bound_inode_, weak_from_this());
  SetAddressLocked(std::move(addr));
  return Ok();
}

ErrnoOrOk Endpoint::Listen(int backlog, const Creds& cred) {
  if (type_ != SOCK_STREAM && type_ != SOCK_SEQPACKET) return Errno(EOPNOTSUPP);
  if (address() == nullptr) return Errno(EINVAL);  // no listening on an unbound socket
  absl::MutexLock l(&mu_);
  if (state_ != State::kClosed && state_ != State::kListen) return Errno(EINVAL);
  const bool grew = static_cast<size_t>(backlog) > backlog_;
  backlog_ = static_cast<size_t>(backlog);
  state_ = State::kListen;
  peer_cred_ = cred;
  if (grew) peer_wait_.Notify(kAllEvents);
  queue_.Notify(kAllEvents);
  return Ok();
}

ErrnoOr<std::shared_ptr<Endpoint>> Endpoint::Accept(Wait& wait) {
  if (type_ != SOCK_STREAM && type_ != SOCK_SEQPACKET) return Errno(EOPNOTSUPP);
  {
    absl::MutexLock l(&mu_);
    if (state_ != State::kListen) return Errno(EINVAL);
  }
  Registration reg(queue_, wait.waker(), kInEvents | POLLERR | POLLHUP | POLLRDHUP);
  for (;;) {
    std::shared_ptr<Endpoint> got;
    {
      absl::MutexLock l(&mu_);
      // skb_recv_datagram's order: a pending error, a connection, then
      // (when it would wait) a receive shutdown ends it.
      if (err_ != 0) return Errno(std::exchange(err_, 0));
      if (!accept_queue_.empty()) {
        got = std::move(accept_queue_.front());
        accept_queue_.pop_front();
      } else {
        if (!wait.CanWait()) return Errno(EAGAIN);
        if (shutdown_ & kRcvShutdown) return Errno(EINVAL);
      }
    }
    if (got != nullptr) {
      peer_wait_.Notify(kOutEvents);  // connectors waiting for room
      return got;
    }
    RETURN_IF_ERROR(wait.Sleep());
  }
}

ErrnoOrOk Endpoint::Connect(const std::shared_ptr<Endpoint>& other, const Creds& cred, Wait& wait) {
  // The accepted end, made up front (unix_create1 before the locks) and
  // set up under its own lock alone: nobody else can see it yet.
  auto embryo = std::make_shared<Endpoint>(ns_, type_);
  embryo->accepted_.store(false, std::memory_order_relaxed);
  embryo->passcred_.store(other->passcred(), std::memory_order_relaxed);
  {
    absl::MutexLock el(&embryo->mu_);
    embryo->peer_ = shared_from_this();
    embryo->state_ = State::kConnected;
    embryo->peer_cred_ = cred;
    // A listener is bound: its address never changes.
    if (const std::string* a = other->address()) embryo->SetAddressLocked(*a);
  }
  Registration reg(other->peer_wait_, wait.waker(), kAllEvents);
  for (;;) {
    {
      PairLock l(this, other.get());
      mu_.AssertHeld();
      other->mu_.AssertHeld();
      if (other->dead_) return Errno(ECONNREFUSED);
      if (other->state_ != State::kListen || (other->shutdown_ & kRcvShutdown)) {
        return Errno(ECONNREFUSED);
      }
      if (other->RecvqFullLocked()) {
        if (!wait.CanWait()) return Errno(EAGAIN);
      } else {
        // Self connect and simultaneous connect end here: a listener is
        // never the connecting side.
        if (state_ != State::kClosed) {
          return Errno(state_ == State::kConnected ? EISCONN : EINVAL);
        }
        peer_cred_ = other->peer_cred_;
        state_ = State::kConnected;
        peer_ = embryo;
        other->accept_queue_.push_back(embryo);
        other->queue_.Notify(kInEvents);
        return Ok();
      }
    }
    RETURN_IF_ERROR(wait.Sleep());
  }
}

ErrnoOrOk Endpoint::ConnectDatagram(const std::shared_ptr<Endpoint>& other) {
  std::deque<std::unique_ptr<Message>> garbage;
  std::shared_ptr<Endpoint> old;
  {
    PairLock l(this, other.get());
    mu_.AssertHeld();
    if (other != nullptr) {
      other->mu_.AssertHeld();
      if (other->dead_) return Errno(ECONNREFUSED);
      // unix_may_send: a socket connected elsewhere takes only its peer's.
      if (other->peer_ != nullptr && other->peer_.get() != this) return Errno(EPERM);
      state_ = State::kConnected;
      other->state_ = State::kConnected;
    }
    old = peer_;
    peer_ = other;
    if (old != nullptr) {
      if (other == nullptr) state_ = State::kClosed;
      PeerWakeDisconnectLocked(old.get());
      queue_.Notify(kOutEvents);
    }
  }
  if (old != nullptr && old != other) {
    DgramDisconnected(old, &garbage);
    absl::MutexLock l(&old->mu_);
    if (old->peer_ == nullptr) old->state_ = State::kClosed;
  }
  return Ok();
}

void Endpoint::DgramDisconnected(const std::shared_ptr<Endpoint>& old,
                                 std::deque<std::unique_ptr<Message>>* garbage) {
  bool had;
  {
    absl::MutexLock l(&mu_);
    had = !recv_.empty();
    for (auto& m : recv_) garbage->push_back(std::move(m));
    recv_.clear();
  }
  if (!had) return;
  peer_wait_.Notify(kAllEvents);
  // One direction of a pair broke and its messages are lost: the other
  // end hears about it.
  absl::MutexLock l(&old->mu_);
  if (!old->dead_ && old->peer_.get() == this) {
    old->err_ = ECONNRESET;
    old->queue_.Notify(POLLERR);
  }
}

ErrnoOr<std::string> Endpoint::Name(bool peer) const {
  const std::string* a;
  std::shared_ptr<Endpoint> p;
  if (peer) {
    {
      absl::MutexLock l(&mu_);
      p = peer_;
    }
    if (p == nullptr) return Errno(ENOTCONN);
    a = p->address();
  } else {
    a = address();
  }
  if (a == nullptr) return FamilyOnly();
  return *a;
}

ErrnoOrOk Endpoint::Shutdown(int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return Errno(EINVAL);
  const int mode = how + 1;  // SHUT_RD -> kRcvShutdown, SHUT_WR -> kSendShutdown
  std::shared_ptr<Endpoint> other;
  {
    absl::MutexLock l(&mu_);
    shutdown_ |= mode;
    other = peer_;
    queue_.Notify(kAllEvents);
  }
  // Connectors waiting on a listener that stopped receiving are refused.
  peer_wait_.Notify(kAllEvents);
  if (other != nullptr && (type_ == SOCK_STREAM || type_ == SOCK_SEQPACKET)) {
    int peer_mode = 0;
    if (mode & kRcvShutdown) peer_mode |= kSendShutdown;
    if (mode & kSendShutdown) peer_mode |= kRcvShutdown;
    absl::MutexLock l(&other->mu_);
    other->shutdown_ |= peer_mode;
    other->queue_.Notify(kAllEvents);
  }
  return Ok();
}

void Endpoint::Release(bool embryo) {
  std::deque<std::unique_ptr<Message>> garbage;
  std::deque<std::shared_ptr<Endpoint>> embryos;
  std::shared_ptr<Endpoint> skpair;
  std::shared_ptr<Endpoint> wake_target;
  vfs::VirtualDentry path;
  bool had_data;
  {
    absl::MutexLock l(&mu_);
    if (dead_) return;
    if (abstract_) ns_->UnbindAbstract(type_, *address(), this);
    if (bound_inode_ != nullptr) ns_->UnbindInode(bound_inode_, this);
    dead_ = true;
    shutdown_ = kShutdownMask;
    path = std::move(path_);
    state_ = State::kClosed;
    skpair = std::move(peer_);
    peer_ = nullptr;
    had_data = !recv_.empty();
    garbage = std::move(recv_);
    recv_.clear();
    embryos = std::move(accept_queue_);
    accept_queue_.clear();
    if (peer_wake_target_ != nullptr) {
      peer_wake_target_->peer_wait_.EventUnregister(&peer_wake_);
      wake_target = std::move(peer_wake_target_);
      peer_wake_target_ = nullptr;
    }
  }
  peer_wait_.Notify(kAllEvents);
  if (skpair != nullptr && (type_ == SOCK_STREAM || type_ == SOCK_SEQPACKET)) {
    // No more writes either way; unread data (or a connection never
    // accepted) resets the other end.
    absl::MutexLock l(&skpair->mu_);
    skpair->shutdown_ = kShutdownMask;
    if (had_data || embryo) skpair->err_ = ECONNRESET;
    skpair->queue_.Notify(kAllEvents);
  }
  for (auto& e : embryos) e->Release(/*embryo=*/true);
}

// --- Options and state. ---

bool Endpoint::listening() const {
  absl::MutexLock l(&mu_);
  return state_ == State::kListen;
}

bool Endpoint::connected() const {
  absl::MutexLock l(&mu_);
  return state_ == State::kConnected;
}

int Endpoint::TakeError() {
  absl::MutexLock l(&mu_);
  return std::exchange(err_, 0);
}

void Endpoint::SetError(int err) {
  absl::MutexLock l(&mu_);
  err_ = err;
  queue_.Notify(POLLERR);
}

std::optional<Creds> Endpoint::peer_cred() const {
  absl::MutexLock l(&mu_);
  return peer_cred_;
}

void Endpoint::SetSndbuf(int val) {
  // min_t(u32, val, wmem_max): a negative value is a large one.
  uint32_t u = std::min(static_cast<uint32_t>(val), static_cast<uint32_t>(kMaxBuf));
  const int v = static_cast<int>(std::min<uint32_t>(u, INT_MAX / 2));
  sndbuf_.store(std::max(v * 2, kMinSndbuf), std::memory_order_relaxed);
  absl::MutexLock l(&mu_);
  if (WritableLocked()) queue_.Notify(kOutEvents);
}

void Endpoint::SetRcvbuf(int val) {
  uint32_t u = std::min(static_cast<uint32_t>(val), static_cast<uint32_t>(kMaxBuf));
  const int v = static_cast<int>(std::min<uint32_t>(u, INT_MAX / 2));
  rcvbuf_.store(std::max(v * 2, kMinRcvbuf), std::memory_order_relaxed);
}

ErrnoOr<int64_t> Endpoint::InqLen() const {
  absl::MutexLock l(&mu_);
  if (state_ == State::kListen) return Errno(EINVAL);
  int64_t n = 0;
  if (type_ == SOCK_DGRAM) {
    if (!recv_.empty()) n = static_cast<int64_t>(recv_.front()->unread());
  } else {
    for (const auto& m : recv_) n += static_cast<int64_t>(m->unread());
  }
  return n;
}

bool Endpoint::WritableLocked() const {
  return state_ != State::kListen && wmem_.load(std::memory_order_relaxed) * 4 <= sndbuf();
}

void Endpoint::Uncharge(uint64_t n) {
  const int64_t left =
      wmem_.fetch_sub(static_cast<int64_t>(n), std::memory_order_acq_rel) - static_cast<int64_t>(n);
  // unix_write_space: writers hear once the buffer is writable again.
  if (left * 4 <= sndbuf()) queue_.Notify(kOutEvents);
}

// --- The peer_wake dance. ---

bool Endpoint::PeerWakeConnectLocked(const std::shared_ptr<Endpoint>& other) {
  if (peer_wake_target_ != nullptr) return false;
  peer_wake_target_ = other;
  other->peer_wait_.EventRegister(&peer_wake_, kAllEvents);
  return true;
}

void Endpoint::PeerWakeDisconnectLocked(Endpoint* other) {
  if (peer_wake_target_.get() != other) return;
  other->peer_wait_.EventUnregister(&peer_wake_);
  // The caller holds another reference to `other`.
  peer_wake_target_ = nullptr;
}

bool Endpoint::PeerWakeMeLocked(const std::shared_ptr<Endpoint>& other) {
  const bool connected = PeerWakeConnectLocked(other);
  peer_wake_.armed.store(true, std::memory_order_release);
  // A dead receiver reads as writable, so that the next write finds out
  // (ECONNREFUSED) instead of waiting forever.
  if (other->RecvqFullLocked() && !other->dead_) return true;
  if (connected) PeerWakeDisconnectLocked(other.get());
  return false;
}

// --- Readiness. ---

uint32_t Endpoint::Readiness(uint32_t mask) {
  uint32_t r = 0;
  bool writable;
  std::shared_ptr<Endpoint> other;
  {
    absl::MutexLock l(&mu_);
    if (err_ != 0) r |= POLLERR;
    if (type_ == SOCK_STREAM) {
      if (shutdown_ == kShutdownMask) r |= POLLHUP;
      if (shutdown_ & kRcvShutdown) r |= POLLRDHUP | POLLIN | POLLRDNORM;
      if (QueueLenLocked() > 0) r |= POLLIN | POLLRDNORM;
      if (state_ == State::kClosed) r |= POLLHUP;
      if (WritableLocked()) r |= kOutEvents;
      return r & mask;
    }
    if (shutdown_ & kRcvShutdown) r |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (shutdown_ == kShutdownMask) r |= POLLHUP;
    if (QueueLenLocked() > 0) r |= POLLIN | POLLRDNORM;
    if (type_ == SOCK_SEQPACKET && state_ == State::kClosed) r |= POLLHUP;
    // No write status asked for: spare the peer's lock.
    if ((mask & kOutEvents) == 0) return r & mask;
    writable = WritableLocked();
    if (writable) other = peer_;
  }
  if (writable && other != nullptr) {
    // A datagram receiver that is not connected back to us and whose queue
    // is full holds us back (arming peer_wake to hear when it drains).
    PairLock l(this, other.get());
    mu_.AssertHeld();
    other->mu_.AssertHeld();
    if (peer_ == other && other->peer_.get() != this && other->RecvqFullLocked() &&
        PeerWakeMeLocked(other)) {
      writable = false;
    }
  }
  if (writable) r |= kOutEvents;
  return r & mask;
}

// --- Sending. ---

ErrnoOrOk Endpoint::WaitForSendBuffer(Wait& wait) {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (err_ != 0) return Errno(std::exchange(err_, 0));
      if (shutdown_ & kSendShutdown) return Errno(EPIPE);
      if (wmem_.load(std::memory_order_relaxed) < sndbuf()) return Ok();
      if (!wait.CanWait()) return Errno(EAGAIN);
    }
    RETURN_IF_ERROR(wait.Sleep());
  }
}

ErrnoOrOk Endpoint::AttachFiles(SendArgs& args, Message& m) {
  if (args.files.empty()) return Ok();
  // too_many_unix_fds: more files in flight than RLIMIT_NOFILE.
  if (!args.inflight_unlimited && ns_->Inflight(args.self.uid) > args.inflight_limit) {
    return Errno(ETOOMANYREFS);
  }
  m.files = std::move(args.files);
  args.files.clear();
  m.inflight_ns = ns_;
  m.inflight_uid = args.self.uid;
  ns_->AddInflight(m.inflight_uid, m.files.size());
  return Ok();
}

namespace {

// A message charged to `sender`, data still to come.
std::unique_ptr<Message> AllocMessage(std::shared_ptr<Endpoint> sender, uint64_t charge,
                                      std::atomic<int64_t>& wmem) {
  auto m = std::make_unique<Message>();
  wmem.fetch_add(static_cast<int64_t>(charge), std::memory_order_relaxed);
  m->sender = std::move(sender);
  m->charge = charge;
  return m;
}

// Copies the next `size` bytes in: EFAULT when they reach past the valid
// prefix of the guest's buffer (skb_copy_datagram_from_iter faulting).
ErrnoOrOk FillMessage(Message& m, IovecReader& in, size_t size) {
  if (in.offset() + size > in.size()) return Errno(EFAULT);
  m.data.resize(size);
  in.Read(m.data.data(), size);
  return Ok();
}

}  // namespace

ErrnoOr<size_t> Endpoint::Send(SendArgs& args, Wait& wait, bool* sigpipe) {
  *sigpipe = false;
  if (type_ == SOCK_STREAM) return SendStream(args, wait, sigpipe);
  if (type_ == SOCK_SEQPACKET) {
    // unix_seqpacket_sendmsg: a pending error, then the connection; the
    // address is ignored.
    {
      absl::MutexLock l(&mu_);
      if (err_ != 0) return Errno(std::exchange(err_, 0));
      if (state_ != State::kConnected) return Errno(ENOTCONN);
    }
    args.has_addr = false;
  }
  return SendDatagram(args, wait);
}

ErrnoOr<size_t> Endpoint::SendStream(SendArgs& args, Wait& wait, bool* sigpipe) {
  // TODO(unix sockets): MSG_OOB (CONFIG_AF_UNIX_OOB); the caller counts it.
  if (args.flags & MSG_OOB) return Errno(EOPNOTSUPP);
  const bool nosignal = args.flags & MSG_NOSIGNAL;
  std::shared_ptr<Endpoint> other;
  {
    absl::MutexLock l(&mu_);
    if (args.has_addr) return Errno(state_ == State::kConnected ? EISCONN : EOPNOTSUPP);
    other = peer_;
    if (other == nullptr) return Errno(ENOTCONN);
    if (shutdown_ & kSendShutdown) {
      *sigpipe = !nosignal;
      return Errno(EPIPE);
    }
  }
  IovecReader in(args.data);
  size_t sent = 0;
  bool files_sent = false;
  Registration reg(queue_, wait.waker(), kOutEvents | POLLERR | POLLHUP);
  while (sent < args.len) {
    // Two messages in the buffer at least, so that the two sides take turns.
    size_t size = std::min<size_t>(args.len - sent, static_cast<size_t>(sndbuf() / 2 - 64));
    size = std::min<size_t>(size, kMaxStreamChunk);
    if (ErrnoOrOk room = WaitForSendBuffer(wait); !room.ok()) {
      if (sent != 0) return sent;
      return room.error();
    }
    std::unique_ptr<Message> m = AllocMessage(shared_from_this(), StreamChunkTruesize(size), wmem_);
    // The files go with the first message only.
    if (!files_sent) {
      if (ErrnoOrOk a = AttachFiles(args, *m); !a.ok()) {
        if (sent != 0) return sent;
        return a.error();
      }
      files_sent = true;
    }
    if (args.creds) {
      m->creds = args.creds;
    } else if (passcred() || other->passcred() ||
               !other->accepted_.load(std::memory_order_acquire)) {
      m->creds = args.self;
    }
    if (ErrnoOrOk f = FillMessage(*m, in, size); !f.ok()) {
      if (sent != 0) return sent;
      return f.error();
    }
    {
      absl::MutexLock l(&other->mu_);
      if (other->dead_ || (other->shutdown_ & kRcvShutdown)) {
        *sigpipe = sent == 0 && !nosignal;
        if (sent != 0) return sent;
        return Errno(EPIPE);
      }
      other->recv_.push_back(std::move(m));
      other->queue_.Notify(kInEvents);
    }
    sent += size;
  }
  return sent;
}

ErrnoOr<size_t> Endpoint::SendDatagram(SendArgs& args, Wait& wait) {
  if (args.flags & MSG_OOB) return Errno(EOPNOTSUPP);
  if (passcred() && address() == nullptr) RETURN_IF_ERROR(Autobind());
  if (args.len + 32 > static_cast<size_t>(sndbuf())) return Errno(EMSGSIZE);
  std::unique_ptr<Message> m;
  {
    Registration reg(queue_, wait.waker(), kOutEvents | POLLERR | POLLHUP);
    RETURN_IF_ERROR(WaitForSendBuffer(wait));
  }
  m = AllocMessage(shared_from_this(), DgramTruesize(args.len), wmem_);
  RETURN_IF_ERROR(AttachFiles(args, *m));
  IovecReader in(args.data);
  RETURN_IF_ERROR(FillMessage(*m, in, args.len));

  std::shared_ptr<Endpoint> other;
  if (args.has_addr) {
    ASSIGN_OR_RETURN(other, args.lookup());
  } else {
    absl::MutexLock l(&mu_);
    other = peer_;
    if (other == nullptr) return Errno(ENOTCONN);
  }
  if (args.creds) {
    m->creds = args.creds;
  } else if (passcred() || other->passcred() || !other->accepted_.load(std::memory_order_acquire)) {
    m->creds = args.self;
  }

  for (;;) {
    std::optional<Registration> peer_reg;
    std::shared_ptr<Endpoint> dropped;
    bool disconnected = false;
    bool lookup_again = false;
    {
      PairLock l(this, other.get());
      mu_.AssertHeld();
      other->mu_.AssertHeld();
      if (other->peer_ != nullptr && other->peer_.get() != this) return Errno(EPERM);
      if (other->dead_) {
        if (type_ == SOCK_SEQPACKET) return Errno(EPIPE);
        if (peer_ == other) {
          // Our peer is gone: disconnect (its messages to us go too).
          dropped = std::move(peer_);
          peer_ = nullptr;
          PeerWakeDisconnectLocked(other.get());
          queue_.Notify(kOutEvents);
          state_ = State::kClosed;
          disconnected = true;
        } else if (!args.has_addr) {
          return Errno(ECONNRESET);
        } else {
          lookup_again = true;
        }
      } else {
        if (other->shutdown_ & kRcvShutdown) return Errno(EPIPE);
        bool sleep = false;
        if (other.get() != this && other->peer_.get() != this && other->RecvqFullLocked()) {
          if (wait.CanWait()) {
            peer_reg.emplace(other->peer_wait_, wait.waker(), kAllEvents);
            sleep = true;
          } else if (peer_ != other || PeerWakeMeLocked(other)) {
            return Errno(EAGAIN);
          }
        }
        if (!sleep) {
          other->recv_.push_back(std::move(m));
          other->queue_.Notify(kInEvents);
          return args.len;
        }
      }
    }
    if (disconnected) {
      std::deque<std::unique_ptr<Message>> garbage;
      DgramDisconnected(other, &garbage);
      return Errno(ECONNREFUSED);
    }
    if (lookup_again) {
      ASSIGN_OR_RETURN(other, args.lookup());
      continue;
    }
    RETURN_IF_ERROR(wait.Sleep());
  }
}

// --- Receiving. ---

ErrnoOr<RecvResult> Endpoint::Recv(RecvArgs& args, Wait& wait) {
  if (type_ == SOCK_STREAM) return RecvStream(args, wait);
  return RecvDatagram(args, wait);
}

ErrnoOr<RecvResult> Endpoint::RecvDatagram(RecvArgs& args, Wait& wait) {
  if (type_ == SOCK_SEQPACKET) {
    absl::MutexLock l(&mu_);
    if (state_ != State::kConnected) return Errno(ENOTCONN);
  }
  if (args.flags & MSG_OOB) return Errno(EOPNOTSUPP);
  const bool peek = args.flags & MSG_PEEK;
  // Declared before the lock: a consumed message dies after it is released.
  std::unique_ptr<Message> taken;
  Registration reg(queue_, wait.waker(), kInEvents | POLLERR | POLLHUP | POLLRDHUP);
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      // __skb_try_recv_datagram: a pending error comes before any data.
      if (err_ != 0) return Errno(std::exchange(err_, 0));
      if (!recv_.empty()) {
        Message* m = recv_.front().get();
        if (!peek) {
          taken = std::move(recv_.front());
          recv_.pop_front();
          peer_wait_.Notify(kOutEvents);
        }
        RecvResult res;
        if (args.want_addr && m->sender != nullptr) {
          if (const std::string* a = m->sender->address()) res.addr = *a;
        }
        const size_t len = m->data.size();
        size_t size = args.len;
        if (size > len) {
          size = len;
        } else if (size < len) {
          res.msg_flags |= MSG_TRUNC;
        }
        IovecWriter out(args.data);
        // A fault loses the datagram (it was taken off the queue).
        if (size > out.room()) return Errno(EFAULT);
        out.Write(m->data.data(), size);
        res.passcred = passcred();
        res.creds = m->creds.value_or(kNoCreds);
        // MSG_PEEK leaves the files in the message and gives the reader
        // its own references (Linux dups them).
        res.files = peek ? m->files : m->TakeFiles();
        res.n = (args.flags & MSG_TRUNC) ? len : size;
        return res;
      }
      if (!wait.CanWait()) {
        // A disconnected non-blocking seqpacket socket reads end of file.
        if (type_ == SOCK_SEQPACKET && (shutdown_ & kRcvShutdown)) return RecvResult{};
        return Errno(EAGAIN);
      }
      if (shutdown_ & kRcvShutdown) return RecvResult{};
      if (type_ == SOCK_SEQPACKET && state_ != State::kConnected) return Errno(ENOTCONN);
    }
    RETURN_IF_ERROR(wait.Sleep());
  }
}

ErrnoOr<RecvResult> Endpoint::RecvStream(RecvArgs& args, Wait& wait) {
  {
    absl::MutexLock l(&mu_);
    if (state_ != State::kConnected) return Errno(EINVAL);
  }
  // TODO(unix sockets): MSG_OOB (CONFIG_AF_UNIX_OOB); the caller counts it.
  if (args.flags & MSG_OOB) return Errno(EOPNOTSUPP);
  const bool peek = args.flags & MSG_PEEK;
  const size_t target =
      (args.flags & MSG_WAITALL)
          ? args.len
          : std::min<size_t>(static_cast<size_t>(std::max(rcvlowat(), 1)), args.len);
  RecvResult res;
  bool check_creds = false;
  size_t copied = 0;
  size_t size = args.len;
  IovecWriter out(args.data);
  // Consumed messages die after the lock is released.
  std::deque<std::unique_ptr<Message>> garbage;
  Registration reg(queue_, wait.waker(), kInEvents | POLLERR | POLLHUP | POLLRDHUP);
  int err = 0;
  bool done = false;
  while (!done) {
    bool sleep = false;
    {
      absl::MutexLock l(&mu_);
      auto it = recv_.begin();
      if (it == recv_.end()) {
        // POSIX's order: enough data, an error, end of file, then wait.
        if (copied >= target) break;
        if (err_ != 0) {
          err = std::exchange(err_, 0);
          break;
        }
        if (shutdown_ & kRcvShutdown) break;
        if (!wait.CanWait()) {
          err = EAGAIN;
          break;
        }
        sleep = true;
      }
      while (!sleep) {
        Message& m = **it;
        const Creds mc = m.creds.value_or(kNoCreds);
        if (check_creds) {
          // Never glue together messages from different writers.
          if (mc != res.creds) {
            done = true;
            break;
          }
        } else if (passcred()) {
          res.creds = mc;
          check_creds = true;
        }
        if (args.want_addr && m.sender != nullptr) {
          if (const std::string* a = m.sender->address()) res.addr = *a;
        }
        const size_t chunk = std::min(m.unread(), size);
        if (chunk > out.room()) {
          if (copied == 0) err = EFAULT;
          done = true;
          break;
        }
        out.Write(m.data.data() + m.consumed, chunk);
        copied += chunk;
        size -= chunk;
        if (!peek) {
          m.consumed += chunk;
          if (!m.files.empty()) res.files = m.TakeFiles();
          if (m.unread() > 0) {
            done = true;
            break;
          }
          garbage.push_back(std::move(*it));
          it = recv_.erase(it);
          // A message with files ends the read.
          if (!res.files.empty() || size == 0) {
            done = true;
            break;
          }
          if (it == recv_.end()) break;  // look again (and maybe wait) above
        } else {
          if (!m.files.empty()) {
            res.files = m.files;
            done = true;
            break;
          }
          ++it;
          if (it == recv_.end() || size == 0) {
            done = true;
            break;
          }
        }
      }
    }
    if (sleep) {
      if (ErrnoOrOk r = wait.Sleep(); !r.ok()) {
        err = r.error().value();
        break;
      }
    }
  }
  if (copied == 0 && err != 0) return Errno(err);
  res.passcred = passcred();
  res.n = copied;
  return res;
}

}  // namespace sentry::net::afunix
