#include "sentry/net/socket.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/ktime.h"
#include "sentry/kernel/task.h"
#include "sentry/net/unix/unix_socket.h"

namespace sentry::net {

namespace {

constexpr int kAfMax = 46;    // AF_MAX: families are below it
constexpr int kSockMax = 11;  // SOCK_MAX: SOCK_PACKET + 1

// sockfs: one anonymous device; inode numbers from one counter (get_next_ino).
uint64_t SockfsDev() {
  static const uint64_t dev = fsimpl::tmpfs::NewAnonDev();
  return dev;
}

uint64_t NextIno() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

const char* FamilyName(int family) {
  switch (family) {
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_NETLINK:
      return "AF_NETLINK";
    case AF_PACKET:
      return "AF_PACKET";
    default:
      return nullptr;
  }
}

std::vector<uint8_t> IntValue(int v) {
  std::vector<uint8_t> out(sizeof(int));
  std::memcpy(out.data(), &v, sizeof(v));
  return out;
}

}  // namespace

Socket::Socket(int family, int type, int protocol, int flags, uint32_t uid, uint32_t gid)
    : vfs::FileDescription(O_RDWR | (flags & O_NONBLOCK)),
      family_(family),
      type_(type),
      protocol_(protocol),
      ino_(NextIno()),
      uid_(uid),
      gid_(gid) {}

ErrnoOr<struct stat> Socket::Stat() {
  vfs::Attr a;
  a.ino = ino_;
  a.mode = S_IFSOCK | 0777;
  a.nlink = 1;
  a.uid = uid_;
  a.gid = gid_;
  a.blksize = 4096;
  return vfs::AttrToStat(a, SockfsDev());
}

std::string Socket::Describe() const { return absl::StrFormat("socket:[%u]", ino_); }

std::optional<ErrnoOrOk> Socket::SetCommonOption(kernel::Task& t, int name,
                                                 std::span<const uint8_t> val) {
  int v = 0;
  std::memcpy(&v, val.data(), sizeof(v));  // the caller checked the length
  switch (name) {
    case SO_TYPE:
    case SO_PROTOCOL:
    case SO_DOMAIN:
    case SO_ERROR:
      return ErrnoOrOk(Errno(ENOPROTOOPT));
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW:
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW: {
      ErrnoOr<int64_t> j = TimeoutFromTimeval(val);
      if (!j.ok()) return ErrnoOrOk(j.error());
      const bool rcv = name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW;
      (rcv ? rcvtimeo_ : sndtimeo_).store(*j, std::memory_order_relaxed);
      return ErrnoOrOk();
    }
    case SO_DEBUG:
      // Only CAP_NET_ADMIN may turn it on.
      if (v != 0 && !t.creds().HasCapability(CAP_NET_ADMIN)) return ErrnoOrOk(Errno(EACCES));
      [[fallthrough]];
    case SO_REUSEADDR:
    case SO_REUSEPORT:
    case SO_KEEPALIVE:
    case SO_DONTROUTE:
    case SO_BROADCAST:
    case SO_OOBINLINE:
    case SO_NO_CHECK: {
      absl::MutexLock l(&mu_);
      recorded_[name] = v != 0;
      return ErrnoOrOk();
    }
    case SO_PRIORITY: {
      // 0..6 for anyone; others need CAP_NET_ADMIN or CAP_NET_RAW.
      if ((v < 0 || v > 6) && !t.creds().HasCapability(CAP_NET_RAW) &&
          !t.creds().HasCapability(CAP_NET_ADMIN)) {
        return ErrnoOrOk(Errno(EPERM));
      }
      absl::MutexLock l(&mu_);
      recorded_[name] = v;
      return ErrnoOrOk();
    }
    case SO_LINGER: {
      struct linger lg;
      if (val.size() < sizeof(lg)) return ErrnoOrOk(Errno(EINVAL));
      std::memcpy(&lg, val.data(), sizeof(lg));
      absl::MutexLock l(&mu_);
      linger_.l_onoff = lg.l_onoff != 0;
      if (lg.l_onoff) linger_.l_linger = lg.l_linger;
      return ErrnoOrOk();
    }
    case SO_BSDCOMPAT:
      return ErrnoOrOk();
    default:
      return std::nullopt;
  }
}

std::optional<ErrnoOr<std::vector<uint8_t>>> Socket::GetCommonOption(int name, int len) {
  (void)len;
  switch (name) {
    case SO_TYPE:
      return IntValue(type_);
    case SO_PROTOCOL:
      return IntValue(protocol_);
    case SO_DOMAIN:
      return IntValue(family_);
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW:
      return TimevalFromTimeout(rcvtimeo());
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW:
      return TimevalFromTimeout(sndtimeo());
    case SO_SNDLOWAT:
      return IntValue(1);
    case SO_BSDCOMPAT:
      return IntValue(0);
    case SO_DEBUG:
    case SO_REUSEADDR:
    case SO_REUSEPORT:
    case SO_KEEPALIVE:
    case SO_DONTROUTE:
    case SO_BROADCAST:
    case SO_OOBINLINE:
    case SO_NO_CHECK:
    case SO_PRIORITY: {
      absl::MutexLock l(&mu_);
      auto it = recorded_.find(name);
      return IntValue(it == recorded_.end() ? 0 : it->second);
    }
    case SO_LINGER: {
      absl::MutexLock l(&mu_);
      std::vector<uint8_t> out(sizeof(linger_));
      std::memcpy(out.data(), &linger_, sizeof(linger_));
      return out;
    }
    default:
      return std::nullopt;
  }
}

Socket* AsSocket(vfs::FileDescription& f) { return dynamic_cast<Socket*>(&f); }

ErrnoOr<std::shared_ptr<Socket>> NewSocket(kernel::Task& t, int family, int type, int protocol,
                                           int flags) {
  if (family < 0 || family >= kAfMax) return Errno(EAFNOSUPPORT);
  if (type < 0 || type >= kSockMax) return Errno(EINVAL);
  if (family == AF_UNIX) return afunix::NewUnixSocket(t, type, protocol, flags);
  // TODO(network issue): the netstack (DESIGN.md §9) and the other families.
  if (const char* name = FamilyName(family)) {
    t.kernel().RecordGap(absl::StrFormat("socket(%s)", name));
  } else {
    t.kernel().RecordGap(absl::StrFormat("socket(family %d)", family));
  }
  return Errno(EAFNOSUPPORT);
}

ErrnoOr<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> NewSocketPair(
    kernel::Task& t, int family, int type, int protocol, int flags) {
  if (family != AF_UNIX) {
    // Families that exist but make no pairs answer EOPNOTSUPP; none but
    // AF_UNIX exists here.
    ASSIGN_OR_RETURN(auto s, NewSocket(t, family, type, protocol, flags));
    (void)s;
    return Errno(EOPNOTSUPP);
  }
  return afunix::NewUnixSocketPair(t, type, protocol, flags);
}

ErrnoOr<int64_t> TimeoutFromTimeval(std::span<const uint8_t> val) {
  // The old and the new (__kernel_sock_timeval) layouts are the same on
  // x86-64: two 64-bit fields.
  struct {
    int64_t sec;
    int64_t usec;
  } tv;
  if (val.size() < sizeof(tv)) return Errno(EINVAL);
  std::memcpy(&tv, val.data(), sizeof(tv));
  if (tv.usec < 0 || tv.usec >= 1000000) return Errno(EDOM);
  if (tv.sec < 0) return int64_t{0};
  int64_t j = kNoTimeout;
  if ((tv.sec != 0 || tv.usec != 0) && tv.sec < kNoTimeout / kHz - 1) {
    constexpr int64_t kUsecPerJiffy = 1000000 / kHz;
    j = tv.sec * kHz + (tv.usec + kUsecPerJiffy - 1) / kUsecPerJiffy;
  }
  return j;
}

std::vector<uint8_t> TimevalFromTimeout(int64_t jiffies) {
  int64_t tv[2] = {0, 0};
  if (jiffies != kNoTimeout) {
    tv[0] = jiffies / kHz;
    tv[1] = (jiffies % kHz) * 1000000 / kHz;
  }
  std::vector<uint8_t> out(sizeof(tv));
  std::memcpy(out.data(), tv, sizeof(tv));
  return out;
}

std::optional<timespec> DeadlineAfter(int64_t jiffies) {
  if (jiffies == kNoTimeout) return std::nullopt;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t ns_per_jiffy = kernel::kNsPerSec / kHz;
  const timespec d{static_cast<time_t>(jiffies / kHz),
                   static_cast<long>((jiffies % kHz) * ns_per_jiffy)};
  return kernel::TimespecAdd(now, d);
}

}  // namespace sentry::net
