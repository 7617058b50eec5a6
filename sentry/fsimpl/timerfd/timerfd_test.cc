#include "sentry/fsimpl/timerfd/timerfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>

#include "gtest/gtest.h"

namespace sentry::fsimpl::timerfd {
namespace {

constexpr int64_t kMs = 1000000;

// The host's monotonic clock, with a REALTIME offset a test may move.
class FakeClocks : public time::Clocks {
 public:
  int64_t NowNs(clockid_t c) const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t mono = time::TimespecToNs(ts);
    if (c == CLOCK_REALTIME || c == CLOCK_REALTIME_ALARM) return mono + realtime_offset.load();
    return mono;
  }
  std::atomic<int64_t> realtime_offset{1700000000 * time::kNsPerSec};
};

class TimerFdTest : public ::testing::Test {
 protected:
  FakeClocks clocks_;
  time::TimerService timers_{clocks_};

  std::shared_ptr<TimerFd> New(clockid_t clock = CLOCK_MONOTONIC) {
    return TimerFd::Create(timers_, clocks_, clock, O_RDWR | O_NONBLOCK);
  }
  // Reads the count (never blocks: no task).
  ErrnoOr<uint64_t> ReadCount(TimerFd& f) {
    uint64_t v = 0;
    iovec iov{&v, sizeof(v)};
    ErrnoOr<size_t> n = f.Readv(nullptr, {&iov, 1}, -1);
    if (!n.ok()) return n.error();
    EXPECT_EQ(*n, 8u);
    return v;
  }
  // Waits for the file to become readable, through its wait queue.
  bool AwaitReadable(TimerFd& f) {
    waiter::Waker w;
    f.EventRegister(&w, POLLIN);
    bool ready = false;
    for (int i = 0; i < 1000 && !ready; ++i) {
      ready = f.Readiness(POLLIN | POLLOUT) == POLLIN;
      if (ready) break;
      timespec deadline;
      clock_gettime(CLOCK_MONOTONIC, &deadline);
      deadline.tv_sec += 10;
      if (!w.Block(CLOCK_MONOTONIC, &deadline).ok()) break;
    }
    f.EventUnregister(&w);
    return ready;
  }
  static itimerspec Spec(int64_t value_ns, int64_t interval_ns = 0) {
    return {time::NsToTimespec(interval_ns), time::NsToTimespec(value_ns)};
  }
};

TEST_F(TimerFdTest, AOneShotExpiresOnce) {
  auto f = New();
  EXPECT_EQ(f->Readiness(POLLIN), 0u);
  EXPECT_EQ(ReadCount(*f).error(), Errno(EAGAIN));
  auto old = f->SetTime(0, Spec(2 * kMs));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->it_value.tv_sec, 0);
  EXPECT_EQ(old->it_value.tv_nsec, 0);
  ASSERT_TRUE(AwaitReadable(*f));
  EXPECT_EQ(*ReadCount(*f), 1u);
  EXPECT_EQ(ReadCount(*f).error(), Errno(EAGAIN));
  const itimerspec cur = f->GetTime();
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_nsec, 0);
}

TEST_F(TimerFdTest, APeriodicTimerCountsEveryPeriod) {
  auto f = New();
  ASSERT_TRUE(f->SetTime(0, Spec(1 * kMs, 1 * kMs)).ok());
  usleep(20000);
  ASSERT_TRUE(AwaitReadable(*f));
  const uint64_t n = *ReadCount(*f);
  EXPECT_GE(n, 2u);
  const itimerspec cur = f->GetTime();
  EXPECT_EQ(cur.it_interval.tv_nsec, 1 * kMs);
  EXPECT_GT(cur.it_value.tv_nsec, 0);
  EXPECT_LE(cur.it_value.tv_nsec, 1 * kMs);
  // Disarming returns the setting and stops the count.
  auto old = f->SetTime(0, Spec(0));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->it_interval.tv_nsec, 1 * kMs);
  EXPECT_EQ(f->ticks(), 0u);  // settime resets what was not read
  usleep(5000);
  EXPECT_EQ(ReadCount(*f).error(), Errno(EAGAIN));
}

TEST_F(TimerFdTest, AbsoluteDeadlinesAndTheOldValue) {
  auto f = New(CLOCK_REALTIME);
  const int64_t now = clocks_.NowNs(CLOCK_REALTIME);
  ASSERT_TRUE(f->SetTime(kTimerAbstime, Spec(now + 3600 * time::kNsPerSec)).ok());
  auto old = f->SetTime(kTimerAbstime, Spec(now - time::kNsPerSec));  // in the past: at once
  ASSERT_TRUE(old.ok());
  EXPECT_GT(old->it_value.tv_sec, 3590);
  EXPECT_LE(old->it_value.tv_sec, 3600);
  ASSERT_TRUE(AwaitReadable(*f));
  EXPECT_EQ(*ReadCount(*f), 1u);
}

TEST_F(TimerFdTest, ShortReadsAndWrites) {
  auto f = New();
  uint32_t small;
  iovec iov{&small, sizeof(small)};
  EXPECT_EQ(f->Readv(nullptr, {&iov, 1}, -1).error(), Errno(EINVAL));
  uint64_t v = 1;
  iovec w{&v, sizeof(v)};
  EXPECT_EQ(f->Writev(nullptr, {&w, 1}, -1).error(), Errno(EINVAL));
  // An 8-byte count split across iovecs.
  ASSERT_TRUE(f->SetTime(0, Spec(1)).ok());
  ASSERT_TRUE(AwaitReadable(*f));
  uint8_t a[3], b[5];
  iovec two[] = {{a, sizeof(a)}, {b, sizeof(b)}};
  ASSERT_EQ(*f->Readv(nullptr, two, -1), 8u);
  uint64_t got;
  std::memcpy(&got, a, 3);
  std::memcpy(reinterpret_cast<uint8_t*>(&got) + 3, b, 5);
  EXPECT_EQ(got, 1u);
}

TEST_F(TimerFdTest, CancelOnSet) {
  auto f = New(CLOCK_REALTIME);
  const int64_t now = clocks_.NowNs(CLOCK_REALTIME);
  ASSERT_TRUE(
      f->SetTime(kTimerAbstime | kTimerCancelOnSet, Spec(now + 3600 * time::kNsPerSec)).ok());
  clocks_.realtime_offset += 10 * time::kNsPerSec;
  timers_.ClockWasSet(CLOCK_REALTIME);
  ASSERT_TRUE(AwaitReadable(*f));
  EXPECT_EQ(ReadCount(*f).error(), Errno(ECANCELED));
  EXPECT_EQ(ReadCount(*f).error(), Errno(EAGAIN));  // once
  // Still armed.
  EXPECT_GT(f->GetTime().it_value.tv_sec, 3500);
  // A notice pending when the timer is armed again: ECANCELED, armed anyway.
  clocks_.realtime_offset -= 10 * time::kNsPerSec;
  timers_.ClockWasSet(CLOCK_REALTIME);
  ASSERT_TRUE(AwaitReadable(*f));
  EXPECT_EQ(
      f->SetTime(kTimerAbstime | kTimerCancelOnSet, Spec(now + 7200 * time::kNsPerSec)).error(),
      Errno(ECANCELED));
  EXPECT_GT(f->GetTime().it_value.tv_sec, 7100);
}

TEST_F(TimerFdTest, CancelOnSetNeedsAnAbsoluteWallClockTimer) {
  for (auto [clock, flags] : {std::pair{CLOCK_MONOTONIC, kTimerAbstime | kTimerCancelOnSet},
                              std::pair{CLOCK_REALTIME, kTimerCancelOnSet}}) {
    auto f = New(clock);
    ASSERT_TRUE(f->SetTime(flags, Spec(clocks_.NowNs(clock) + 3600 * time::kNsPerSec)).ok());
    timers_.ClockWasSet(CLOCK_REALTIME);
    usleep(5000);
    EXPECT_EQ(ReadCount(*f).error(), Errno(EAGAIN));
  }
}

TEST_F(TimerFdTest, WhatItLooksLike) {
  auto f = New(CLOCK_BOOTTIME);
  EXPECT_EQ(f->Describe(), "anon_inode:[timerfd]");
  EXPECT_FALSE(f->Seekable());
  EXPECT_EQ(*f->Seek(100, SEEK_SET), 0);
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode, static_cast<mode_t>(0600));
  EXPECT_EQ(st->st_nlink, 1u);
  EXPECT_EQ(f->status_flags(), O_RDWR | O_NONBLOCK);
}

TEST_F(TimerFdTest, ClosingAnArmedTimer) {
  for (int i = 0; i < 100; ++i) {
    auto f = New();
    ASSERT_TRUE(f->SetTime(0, Spec(i * 1000, 1000)).ok());
  }
  usleep(2000);
  EXPECT_EQ(timers_.ArmedCountForTest(), 0);
}

}  // namespace
}  // namespace sentry::fsimpl::timerfd
