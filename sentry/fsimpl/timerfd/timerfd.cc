#include "sentry/fsimpl/timerfd/timerfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>

#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/anon/anon_inode.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::timerfd {
namespace {

// Linux's timespec64_to_ktime: saturating at "never".
int64_t ToNs(const timespec& ts) { return time::TimespecToNs(ts); }

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

}  // namespace

std::shared_ptr<TimerFd> TimerFd::Create(time::TimerService& timers, time::Clocks& clocks,
                                         clockid_t clock, int status_flags) {
  std::shared_ptr<TimerFd> f(new TimerFd(clocks, clock, status_flags));
  // The callback holds no reference: the timer dies with the file, and its
  // destructor waits for a callback in progress.
  TimerFd* self = f.get();
  f->timer_ = timers.NewTimer(clock, [self](const time::Expiry& e) { self->Expired(e); });
  return f;
}

TimerFd::TimerFd(time::Clocks& clocks, clockid_t clock, int status_flags)
    : vfs::FileDescription(status_flags), clocks_(clocks), clock_(clock) {}

TimerFd::~TimerFd() {
  // Epoll entries leave the queue while it is still there.
  ReleaseEpollLinks();
  timer_.reset();
}

void TimerFd::Expired(const time::Expiry& e) {
  if (e.clock_set) {
    // timerfd_clock_was_set: readable, and the next read is ECANCELED.
    if (!might_cancel_.load(std::memory_order_acquire)) return;
    canceled_.store(true, std::memory_order_release);
    ticks_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    ticks_.fetch_add(e.count, std::memory_order_acq_rel);
  }
  queue_.Notify(POLLIN);
}

bool TimerFd::TakeCanceled() {
  return might_cancel_.load(std::memory_order_acquire) &&
         canceled_.exchange(false, std::memory_order_acq_rel);
}

ErrnoOr<itimerspec> TimerFd::SetTime(int flags, const itimerspec& value) {
  // timerfd_setup_cancel: only an absolute wall-clock timer may be canceled.
  const bool cancel = (clock_ == CLOCK_REALTIME || clock_ == CLOCK_REALTIME_ALARM) &&
                      (flags & kTimerAbstime) && (flags & kTimerCancelOnSet);
  might_cancel_.store(cancel, std::memory_order_release);
  time::TimerSetting s;
  const int64_t value_ns = ToNs(value.it_value);
  if (value_ns != 0) {
    s.next_ns = (flags & kTimerAbstime) ? value_ns : SaturatingAdd(clocks_.NowNs(clock_), value_ns);
    // An absolute time at or before the clock's zero has passed: expire now.
    s.next_ns = std::max<int64_t>(s.next_ns, 1);
    s.interval_ns = ToNs(value.it_interval);
  }
  const time::TimerSetting old =
      timer_->Set(s, cancel, [this] { ticks_.store(0, std::memory_order_release); });
  itimerspec out{};
  if (old.next_ns != 0) {
    out.it_value = time::NsToTimespec(std::max<int64_t>(old.next_ns - clocks_.NowNs(clock_), 0));
    out.it_interval = time::NsToTimespec(old.interval_ns);
  }
  // timerfd_setup: a pending clock-set notice ends an arming call (which
  // stays armed) with ECANCELED.
  if (value_ns != 0 && TakeCanceled()) return Errno(ECANCELED);
  return out;
}

itimerspec TimerFd::GetTime() const {
  const time::TimerSetting s = timer_->Get();
  itimerspec out{};
  if (s.next_ns != 0) {
    out.it_value = time::NsToTimespec(std::max<int64_t>(s.next_ns - clocks_.NowNs(clock_), 0));
    out.it_interval = time::NsToTimespec(s.interval_ns);
  }
  return out;
}

ErrnoOr<size_t> TimerFd::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) {
  (void)offset;
  size_t room = 0;
  for (const iovec& v : dst) room += v.iov_len;
  if (room < sizeof(uint64_t)) return Errno(EINVAL);
  for (;;) {
    // As Linux's timerfd_read_iter: a clock-set notice first (its tick goes
    // with it), then the count, then EAGAIN or a wait.
    if (TakeCanceled()) {
      ticks_.store(0, std::memory_order_release);
      return Errno(ECANCELED);
    }
    const uint64_t n = ticks_.exchange(0, std::memory_order_acq_rel);
    if (n != 0) {
      const uint8_t* src = reinterpret_cast<const uint8_t*>(&n);
      size_t done = 0;
      for (const iovec& v : dst) {
        const size_t k = std::min(v.iov_len, sizeof(n) - done);
        std::memcpy(v.iov_base, src + done, k);
        done += k;
        if (done == sizeof(n)) break;
      }
      return sizeof(n);
    }
    if ((status_flags() & O_NONBLOCK) || t == nullptr) return Errno(EAGAIN);
    waiter::ScopedRegistration reg(queue_, &t->waker(), POLLIN);
    // An expiry between the check above and the registration is not lost.
    if (ticks_.load(std::memory_order_acquire) != 0) continue;
    if (!t->Block(CLOCK_MONOTONIC, nullptr).ok()) return Errno(kERESTARTSYS);
  }
}

ErrnoOr<size_t> TimerFd::Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) {
  (void)t, (void)src, (void)offset;
  return Errno(EINVAL);  // no write_iter
}

ErrnoOr<int64_t> TimerFd::Seek(int64_t offset, int whence) {
  (void)offset, (void)whence;
  return 0;
}

ErrnoOr<struct stat> TimerFd::Stat() {
  // Linux's anonymous inode, the one eventfd and epoll show too.
  return anon::AnonInodeStat();
}

ErrnoOr<uint64_t> TimerFd::Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) {
  if (cmd != kIocSetTicks) return Errno(ENOTTY);
  uint64_t ticks;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint64_t>(UserAddr(arg)), &ticks));
  if (ticks == 0) return Errno(EINVAL);
  if (TakeCanceled()) return Errno(ECANCELED);
  ticks_.store(ticks, std::memory_order_release);
  queue_.Notify(POLLIN);
  return 0;
}

uint32_t TimerFd::Readiness(uint32_t mask) {
  return ticks_.load(std::memory_order_acquire) != 0 ? (mask & POLLIN) : 0;
}

}  // namespace sentry::fsimpl::timerfd
