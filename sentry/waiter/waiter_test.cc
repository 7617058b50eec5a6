#include "sentry/waiter/waiter.h"

#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace sentry::waiter {
namespace {

timespec In(clockid_t clock, long ms) {
  timespec t;
  clock_gettime(clock, &t);
  t.tv_nsec += ms * 1000000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  return t;
}

TEST(WaiterTest, NotifyWakesOnlyMatchingMasks) {
  Queue q;
  Waker in, out;
  q.EventRegister(&in, POLLIN);
  q.EventRegister(&out, POLLOUT);
  q.Notify(POLLIN);
  const timespec soon = In(CLOCK_MONOTONIC, 20);
  EXPECT_TRUE(in.Block(CLOCK_MONOTONIC, &soon).ok());
  EXPECT_EQ(out.Block(CLOCK_MONOTONIC, &soon).error().value(), ETIMEDOUT);
  q.EventUnregister(&in);
  q.EventUnregister(&out);
  EXPECT_FALSE(q.HasWaiters());
}

TEST(WaiterTest, AWakeBeforeBlockIsRemembered) {
  Waker w;
  w.Wake();
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, nullptr).ok());
  const timespec soon = In(CLOCK_MONOTONIC, 10);
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &soon).error().value(), ETIMEDOUT);
}

TEST(WaiterTest, WakeFromAnotherThread) {
  Queue q;
  Waker w;
  ScopedRegistration r(q, &w, POLLIN);
  std::thread t([&] {
    usleep(10000);
    q.Notify(POLLIN | POLLRDNORM);
  });
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, nullptr).ok());
  t.join();
}

TEST(WaiterTest, InterruptIsEintrUntilCleared) {
  Waker w;
  std::thread t([&] {
    usleep(10000);
    w.Interrupt();
  });
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, nullptr).error().value(), EINTR);
  t.join();
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, nullptr).error().value(), EINTR);
  w.ClearInterrupt();
  const timespec soon = In(CLOCK_MONOTONIC, 10);
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &soon).error().value(), ETIMEDOUT);
}

// ClearInterrupt reads the eventfd only after an Interrupt; a count that an
// Interrupt racing with ClearInterrupt leaves behind is not an interrupt.
TEST(WaiterTest, ClearingIsCheapAndStaleCountsAreDropped) {
  Waker w;
  w.ClearInterrupt();  // nothing to drain
  w.Interrupt();
  w.Interrupt();
  w.ClearInterrupt();
  const timespec soon = In(CLOCK_MONOTONIC, 10);
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &soon).error().value(), ETIMEDOUT);
  // What the race leaves: a count with no interrupt pending.
  const uint64_t one = 1;
  ASSERT_EQ(write(w.interrupt_fd(), &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
  const timespec later = In(CLOCK_MONOTONIC, 10);
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &later).error().value(), ETIMEDOUT);
  w.Interrupt();
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, nullptr).error().value(), EINTR);
}

TEST(WaiterTest, HostFdReadiness) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  Waker w;
  ASSERT_EQ(write(p[1], "x", 1), 1);
  pollfd pfd{p[0], POLLIN, 0};
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, nullptr, {&pfd, 1}).ok());
  EXPECT_EQ(pfd.revents & POLLIN, POLLIN);
  close(p[0]);
  close(p[1]);
}

TEST(WaiterTest, PastDeadlineTimesOutAtOnce) {
  Waker w;
  const timespec past{0, 0};
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &past).error().value(), ETIMEDOUT);
}

struct CountingListener : SleepListener {
  void WillSleep() override { ++calls; }
  int calls = 0;
};

// The listener hears of every Block that sleeps, once per Block, and not of
// one that returns at once (a pending wake, an interrupt, a past deadline).
TEST(WaiterTest, TheSleepListenerHearsOnlyOfRealSleeps) {
  Waker w;
  CountingListener l;
  w.set_sleep_listener(&l);
  w.Wake();
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, nullptr).ok());
  EXPECT_EQ(l.calls, 0);
  const timespec past{0, 0};
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &past).error().value(), ETIMEDOUT);
  EXPECT_EQ(l.calls, 0);
  const timespec soon = In(CLOCK_MONOTONIC, 10);
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, &soon).error().value(), ETIMEDOUT);
  EXPECT_EQ(l.calls, 1);
  std::thread t([&] {
    usleep(10000);
    w.Wake();
  });
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, nullptr).ok());
  t.join();
  EXPECT_EQ(l.calls, 2);
  w.Interrupt();
  EXPECT_EQ(w.Block(CLOCK_MONOTONIC, nullptr).error().value(), EINTR);
  EXPECT_EQ(l.calls, 2);
}

}  // namespace
}  // namespace sentry::waiter
