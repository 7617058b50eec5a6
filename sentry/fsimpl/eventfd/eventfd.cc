#include "sentry/fsimpl/eventfd/eventfd.h"

#include <fcntl.h>
#include <poll.h>

#include <atomic>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/anon/anon_inode.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::eventfd {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

int NextId() {
  static std::atomic<int> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

size_t Length(std::span<const iovec> iov) {
  size_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

// Copies the first `n` bytes of the iovecs into or out of `buf`.
void Scatter(std::span<const iovec> iov, const void* buf, size_t n) {
  const auto* p = static_cast<const uint8_t*>(buf);
  for (const iovec& v : iov) {
    const size_t k = std::min(n, v.iov_len);
    memcpy(v.iov_base, p, k);
    p += k;
    n -= k;
    if (n == 0) break;
  }
}
void Gather(std::span<const iovec> iov, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  for (const iovec& v : iov) {
    const size_t k = std::min(n, v.iov_len);
    memcpy(p, v.iov_base, k);
    p += k;
    n -= k;
    if (n == 0) break;
  }
}

ErrnoOr<size_t> Restart(Errno e) {
  // An interrupted wait restarts or ends in EINTR, as the signal decides.
  if (e.value() == EINTR) return Errno(kERESTARTSYS);
  return e;
}

}  // namespace

EventFd::EventFd(uint64_t initial, bool semaphore, int flags)
    : FileDescription(O_RDWR | (flags & O_NONBLOCK)),
      semaphore_(semaphore),
      id_(NextId()),
      count_(initial) {}

uint64_t EventFd::count() const {
  absl::MutexLock l(&mu_);
  return count_;
}

ErrnoOr<uint64_t> EventFd::TryRead() {
  uint64_t v;
  {
    absl::MutexLock l(&mu_);
    if (count_ == 0) return Errno(EAGAIN);
    v = semaphore_ ? 1 : count_;
    count_ -= v;
  }
  queue_.Notify(POLLOUT | POLLWRNORM);
  return v;
}

ErrnoOrOk EventFd::TryWrite(uint64_t v) {
  {
    absl::MutexLock l(&mu_);
    if (kMax - count_ <= v) return Errno(EAGAIN);
    count_ += v;
  }
  // A write of 0 changes nothing, but Linux wakes readers all the same.
  queue_.Notify(POLLIN | POLLRDNORM);
  return Ok();
}

ErrnoOr<uint64_t> EventFd::Read(waiter::Waker* w) {
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    auto r = TryRead();
    if (r.ok() || w == nullptr || (status_flags() & O_NONBLOCK)) return r;
    if (!reg) {
      reg.emplace(queue_, w, POLLIN | POLLRDNORM);
      continue;
    }
    RETURN_IF_ERROR(w->Block(CLOCK_MONOTONIC, nullptr));
  }
}

ErrnoOrOk EventFd::Write(waiter::Waker* w, uint64_t v) {
  if (v == kMax) return Errno(EINVAL);
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    auto r = TryWrite(v);
    if (r.ok() || w == nullptr || (status_flags() & O_NONBLOCK)) return r;
    if (!reg) {
      reg.emplace(queue_, w, POLLOUT | POLLWRNORM);
      continue;
    }
    RETURN_IF_ERROR(w->Block(CLOCK_MONOTONIC, nullptr));
  }
}

ErrnoOr<size_t> EventFd::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t) {
  if (Length(dst) < sizeof(uint64_t)) return Errno(EINVAL);
  auto v = Read(t == nullptr ? nullptr : &t->waker());
  if (!v.ok()) return Restart(v.error());
  Scatter(dst, &*v, sizeof(uint64_t));
  return sizeof(uint64_t);
}

ErrnoOr<size_t> EventFd::Writev(kernel::Task* t, std::span<const iovec> src, int64_t) {
  // A write is exactly 8 bytes (a read at least 8).
  if (Length(src) != sizeof(uint64_t)) return Errno(EINVAL);
  uint64_t v;
  Gather(src, &v, sizeof(v));
  auto r = Write(t == nullptr ? nullptr : &t->waker(), v);
  if (!r.ok()) return Restart(r.error());
  return sizeof(uint64_t);
}

uint32_t EventFd::Readiness(uint32_t mask) {
  uint64_t c = count();
  uint32_t events = 0;
  if (c > 0) events |= POLLIN | POLLRDNORM;
  if (c == kMax) events |= POLLERR;
  if (kMax - 1 > c) events |= POLLOUT | POLLWRNORM;
  return events & mask;
}

ErrnoOr<struct stat> EventFd::Stat() { return anon::AnonInodeStat(); }

ErrnoOr<uint64_t> EventFd::Ioctl(kernel::Task&, uint64_t, uint64_t) { return Errno(ENOTTY); }

std::string EventFd::Describe() const { return anon::AnonInodeName("eventfd"); }

std::string EventFd::FdInfo() const {
  return absl::StrFormat("eventfd-count: %16x\neventfd-id: %d\n", count(), id_);
}

}  // namespace sentry::fsimpl::eventfd
