#include "sentry/waiter/waiter.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "sentry/base/log.h"

namespace sentry::waiter {
namespace {

// Saturates at INT64_MAX ("never") instead of overflowing.
int64_t ToNs(const timespec& ts) {
  constexpr int64_t kMaxSec = INT64_MAX / 1000000000 - 1;
  if (ts.tv_sec > kMaxSec) return INT64_MAX;
  if (ts.tv_sec < -kMaxSec) return INT64_MIN;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void Drain(int fd) {
  uint64_t v;
  [[maybe_unused]] ssize_t n = read(fd, &v, sizeof(v));
}

void Signal(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(fd, &one, sizeof(one));
}

}  // namespace

void Queue::EventRegister(Waiter* w, uint32_t mask) {
  absl::MutexLock l(&mu_);
  entries_.push_back({w, mask});
}

void Queue::EventUnregister(Waiter* w) {
  absl::MutexLock l(&mu_);
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [w](const Entry& e) { return e.waiter == w; });
  if (it != entries_.end()) entries_.erase(it);
}

void Queue::Notify(uint32_t events) {
  absl::MutexLock l(&mu_);
  for (const Entry& e : entries_) {
    if (e.mask & events) e.waiter->NotifyEvent(events & e.mask);
  }
}

bool Queue::HasWaiters() const {
  absl::MutexLock l(&mu_);
  return !entries_.empty();
}

Waker::Waker() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  interrupt_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0 || interrupt_fd_ < 0) {
    // Without them no task can block: the Sentry cannot go on.
    SLOG(kError, "eventfd for a waiter: %s", strerror(errno));
    abort();
  }
}

Waker::~Waker() {
  close(wake_fd_);
  close(interrupt_fd_);
}

void Waker::NotifyEvent(uint32_t) { Wake(); }

void Waker::Wake() {
  wake_pending_.store(true, std::memory_order_release);
  Signal(wake_fd_);
}

void Waker::Interrupt() {
  interrupted_.store(true, std::memory_order_release);
  fd_signalled_.store(true, std::memory_order_release);
  Signal(interrupt_fd_);
}

void Waker::ClearInterrupt() {
  interrupted_.store(false, std::memory_order_release);
  // Every return to the guest clears: read the eventfd only when an
  // Interrupt may have written it (a read is a host syscall). A count that
  // lands after this (Interrupt racing with it) is stale; Block drops it.
  if (fd_signalled_.exchange(false, std::memory_order_acq_rel)) Drain(interrupt_fd_);
}

ErrnoOrOk Waker::Block(clockid_t clock, const timespec* deadline, std::span<pollfd> host_fds) {
  std::vector<pollfd> pfds;
  pfds.reserve(2 + host_fds.size());
  pfds.push_back({interrupt_fd_, POLLIN, 0});
  pfds.push_back({wake_fd_, POLLIN, 0});
  for (const pollfd& p : host_fds) pfds.push_back({p.fd, p.events, 0});
  const int64_t deadline_ns = deadline == nullptr ? INT64_MAX : ToNs(*deadline);
  bool told = false;
  absl::Cleanup woke = [this, &told] {
    if (told) sleep_listener_->Woke();
  };
  for (;;) {
    if (interrupted()) return Errno(EINTR);
    timespec rel{};
    const timespec* timeout = nullptr;
    if (deadline_ns != INT64_MAX) {
      timespec now;
      clock_gettime(clock, &now);
      const int64_t left = deadline_ns - ToNs(now);
      if (left <= 0) return Errno(ETIMEDOUT);
      rel = {static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
      timeout = &rel;
    }
    if (!told && sleep_listener_ != nullptr && !wake_pending_.load(std::memory_order_acquire)) {
      told = true;
      sleep_listener_->WillSleep();
    }
    const int n = ppoll(pfds.data(), pfds.size(), timeout, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(EIO);
    }
    if (n == 0) continue;  // the deadline check above decides
    if (pfds[0].revents != 0) {
      if (interrupted()) return Errno(EINTR);
      // A count left by an Interrupt that a ClearInterrupt already consumed
      // (only this task clears, and Interrupt sets `interrupted_` before it
      // writes): drop it and wait on.
      Drain(interrupt_fd_);
      continue;
    }
    bool ready = false;
    if (pfds[1].revents != 0) {
      wake_pending_.store(false, std::memory_order_relaxed);
      Drain(wake_fd_);
      ready = true;
    }
    for (size_t i = 0; i < host_fds.size(); ++i) {
      host_fds[i].revents = pfds[2 + i].revents;
      if (host_fds[i].revents != 0) ready = true;
    }
    if (ready) return Ok();
  }
}

}  // namespace sentry::waiter
