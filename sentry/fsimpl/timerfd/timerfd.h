// timerfd (timerfd_create(2)): a file whose reads return how many times a
// timer on the guest's clocks expired (README.md). The timer is one of the
// Kernel's TimerService; its callback adds to the count and wakes readers,
// poll and epoll through the file's wait queue.
//
// Lock order: none of its own. The count and the cancel state are atomics
// that the timer's callback and the file's calls share; TimerFd::SetTime
// resets them in Timer::Set's before_arm, where no callback can run.
#ifndef SENTRY_FSIMPL_TIMERFD_TIMERFD_H_
#define SENTRY_FSIMPL_TIMERFD_TIMERFD_H_

#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "sentry/time/timer_service.h"
#include "sentry/vfs/file_description.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::timerfd {

// TFD_TIMER_* (linux/timerfd.h).
inline constexpr int kTimerAbstime = 1 << 0;
inline constexpr int kTimerCancelOnSet = 1 << 1;
// TFD_IOC_SET_TICKS: _IOW('T', 0, __u64).
inline constexpr uint32_t kIocSetTicks = 0x40085400;

class TimerFd : public vfs::FileDescription {
 public:
  // A disarmed timer on `clock` (CLOCK_REALTIME, MONOTONIC, BOOTTIME or their
  // _ALARM variants; the caller checks). `status_flags`: O_RDWR plus
  // O_NONBLOCK if asked.
  static std::shared_ptr<TimerFd> Create(time::TimerService& timers, time::Clocks& clocks,
                                         clockid_t clock, int status_flags);
  ~TimerFd() override;

  // timerfd_settime(2) with `flags` (TFD_TIMER_*) and a valid `value`:
  // returns the old setting, or ECANCELED (the new one is set all the same)
  // when the clock was set while TFD_TIMER_CANCEL_ON_SET was in force.
  ErrnoOr<itimerspec> SetTime(int flags, const itimerspec& value);
  // timerfd_gettime(2).
  itimerspec GetTime() const;
  clockid_t clock() const { return clock_; }

  // 8 bytes: the expirations since the last read (blocking until there is
  // one unless O_NONBLOCK: EAGAIN); EINVAL for less room; ECANCELED once
  // after the clock was set (TFD_TIMER_CANCEL_ON_SET).
  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  // noop_llseek: the position (always 0).
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override;
  ErrnoOr<struct stat> Stat() override;
  // TFD_IOC_SET_TICKS (Linux's checkpoint/restore ioctl); ENOTTY otherwise.
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override { return "anon_inode:[timerfd]"; }

  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override { queue_.EventRegister(w, mask); }
  void EventUnregister(waiter::Waiter* w) override { queue_.EventUnregister(w); }
  bool CanPoll() const override { return true; }  // epoll may watch it

  // For tests and /proc: the expirations not yet read.
  uint64_t ticks() const { return ticks_.load(std::memory_order_acquire); }

 private:
  TimerFd(time::Clocks& clocks, clockid_t clock, int status_flags);
  void Expired(const time::Expiry& e);
  // Linux's timerfd_canceled: true once after the clock was set while
  // cancel-on-set was in force.
  bool TakeCanceled();

  time::Clocks& clocks_;
  const clockid_t clock_;
  std::unique_ptr<time::Timer> timer_;
  waiter::Queue queue_;
  std::atomic<uint64_t> ticks_{0};
  std::atomic<bool> might_cancel_{false};  // TFD_TIMER_CANCEL_ON_SET in force
  std::atomic<bool> canceled_{false};      // the clock was set since
};

}  // namespace sentry::fsimpl::timerfd

#endif  // SENTRY_FSIMPL_TIMERFD_TIMERFD_H_
