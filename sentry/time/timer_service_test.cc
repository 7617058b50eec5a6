#include "sentry/time/timer_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace sentry::time {
namespace {

constexpr int64_t kMs = 1000000;

// The host's clocks, with REALTIME and BOOTTIME offsets a test may move.
class FakeClocks : public Clocks {
 public:
  int64_t NowNs(clockid_t c) const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t mono = TimespecToNs(ts);
    switch (c) {
      case CLOCK_MONOTONIC:
        return mono;
      case CLOCK_REALTIME:
        return mono + realtime_offset.load();
      case CLOCK_BOOTTIME:
        return mono + boottime_offset.load();
      default:
        return -1;
    }
  }
  std::atomic<int64_t> realtime_offset{1700000000 * kNsPerSec};
  std::atomic<int64_t> boottime_offset{5 * kNsPerSec};
};

// Counts what a timer's callback hears.
struct Recorder {
  absl::Mutex mu;
  // Guarded by mu.
  uint64_t expirations = 0;
  int calls = 0;
  int clock_sets = 0;
  std::vector<int64_t> fired_at;  // the timer's clock when called

  Timer::Callback Callback(const Clocks& clocks, clockid_t clock) {
    return [this, &clocks, clock](const Expiry& e) {
      absl::MutexLock l(&mu);
      expirations += e.count;
      if (e.count > 0) calls++;
      if (e.clock_set) clock_sets++;
      fired_at.push_back(clocks.NowNs(clock));
    };
  }
  // Waits (for up to 10 s) until `pred` holds.
  bool Await(std::function<bool()> pred) {
    absl::MutexLock l(&mu);
    return mu.AwaitWithTimeout(absl::Condition(&pred), absl::Seconds(10));
  }
};

TEST(TimerServiceTest, OneShotFiresOnceNotBeforeItsDeadline) {
  FakeClocks clocks;
  TimerService svc(clocks);
  for (clockid_t c : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME}) {
    Recorder r;
    auto t = svc.NewTimer(c, r.Callback(clocks, c));
    EXPECT_EQ(t->clock(), c);
    const int64_t deadline = clocks.NowNs(c) + 5 * kMs;
    t->Set({deadline, 0});
    ASSERT_TRUE(r.Await([&] { return r.calls > 0; }));
    usleep(10000);
    absl::MutexLock l(&r.mu);
    EXPECT_EQ(r.calls, 1);
    EXPECT_EQ(r.expirations, 1u);
    EXPECT_GE(r.fired_at[0], deadline);
    EXPECT_EQ(t->Get().next_ns, 0);
  }
}

TEST(TimerServiceTest, ADeadlineInThePastFiresAtOnce) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_MONOTONIC, r.Callback(clocks, CLOCK_MONOTONIC));
  t->Set({1, 0});
  EXPECT_TRUE(r.Await([&] { return r.calls == 1; }));
}

TEST(TimerServiceTest, PeriodicKeepsFiringUntilDisarmed) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_MONOTONIC, r.Callback(clocks, CLOCK_MONOTONIC));
  const int64_t first = clocks.NowNs(CLOCK_MONOTONIC) + 1 * kMs;
  t->Set({first, 2 * kMs});
  ASSERT_TRUE(r.Await([&] { return r.expirations >= 5; }));
  const TimerSetting s = t->Get();
  EXPECT_EQ(s.interval_ns, 2 * kMs);
  EXPECT_GT(s.next_ns, first);
  EXPECT_EQ((s.next_ns - first) % (2 * kMs), 0);
  const TimerSetting old = t->Disarm();
  EXPECT_EQ(old.interval_ns, 2 * kMs);
  uint64_t at_disarm;
  {
    absl::MutexLock l(&r.mu);
    at_disarm = r.expirations;
    // Each call reports every period that passed up to it (the callback
    // reads the clock a little after the service did).
    const uint64_t upto_last = (r.fired_at.back() - first) / (2 * kMs) + 1;
    EXPECT_TRUE(r.expirations == upto_last || r.expirations + 1 == upto_last)
        << r.expirations << " vs " << upto_last;
  }
  usleep(20000);
  absl::MutexLock l(&r.mu);
  EXPECT_EQ(r.expirations, at_disarm);
  EXPECT_EQ(t->Get().next_ns, 0);
}

TEST(TimerServiceTest, ALateCallbackCountsEveryMissedPeriod) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_REALTIME, r.Callback(clocks, CLOCK_REALTIME));
  const int64_t now = clocks.NowNs(CLOCK_REALTIME);
  t->Set({now + kNsPerSec, kNsPerSec});
  // The wall clock jumps 10.5 s: ten deadlines have passed.
  clocks.realtime_offset += 10 * kNsPerSec + kNsPerSec / 2;
  svc.ClockWasSet(CLOCK_REALTIME);
  ASSERT_TRUE(r.Await([&] { return r.calls == 1; }));
  absl::MutexLock l(&r.mu);
  EXPECT_EQ(r.expirations, 10u);  // the deadlines at +1 s, +2 s, ..., +10 s
  EXPECT_EQ(r.clock_sets, 0);     // not asked for
}

TEST(TimerServiceTest, CancelOnSetHearsTheClockBeingSet) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder real, mono;
  auto t = svc.NewTimer(CLOCK_REALTIME, real.Callback(clocks, CLOCK_REALTIME));
  auto m = svc.NewTimer(CLOCK_MONOTONIC, mono.Callback(clocks, CLOCK_MONOTONIC));
  t->Set({clocks.NowNs(CLOCK_REALTIME) + 3600 * kNsPerSec, 0}, /*cancel_on_set=*/true);
  m->Set({clocks.NowNs(CLOCK_MONOTONIC) + 3600 * kNsPerSec, 0}, /*cancel_on_set=*/true);
  clocks.realtime_offset -= 60 * kNsPerSec;
  svc.ClockWasSet(CLOCK_REALTIME);
  ASSERT_TRUE(real.Await([&] { return real.clock_sets == 1; }));
  {
    absl::MutexLock l(&real.mu);
    EXPECT_EQ(real.expirations, 0u);
  }
  // It stays armed, for its deadline on the clock as now set.
  EXPECT_GT(t->Get().next_ns, 0);
  usleep(10000);
  absl::MutexLock l(&mono.mu);
  EXPECT_EQ(mono.clock_sets, 0);
}

TEST(TimerServiceTest, ABootClockJumpMovesItsDeadlines) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_BOOTTIME_ALARM, r.Callback(clocks, CLOCK_BOOTTIME));
  EXPECT_EQ(t->clock(), CLOCK_BOOTTIME);
  t->Set({clocks.NowNs(CLOCK_BOOTTIME) + 30 * kNsPerSec, 0});
  // The host slept for a minute.
  clocks.boottime_offset += 60 * kNsPerSec;
  svc.ClockWasSet(CLOCK_BOOTTIME);
  EXPECT_TRUE(r.Await([&] { return r.calls == 1; }));
}

TEST(TimerServiceTest, SetReturnsThePreviousSetting) {
  FakeClocks clocks;
  TimerService svc(clocks);
  auto t = svc.NewTimer(CLOCK_MONOTONIC, [](const Expiry&) {});
  const int64_t deadline = clocks.NowNs(CLOCK_MONOTONIC) + 3600 * kNsPerSec;
  TimerSetting old = t->Set({deadline, 7});
  EXPECT_EQ(old.next_ns, 0);
  EXPECT_EQ(old.interval_ns, 0);
  old = t->Set({deadline + 1, 0});
  EXPECT_EQ(old.next_ns, deadline);
  EXPECT_EQ(old.interval_ns, 7);
  EXPECT_EQ(svc.ArmedCountForTest(), 1);
  t->Disarm();
  EXPECT_EQ(svc.ArmedCountForTest(), 0);
}

TEST(TimerServiceTest, SetWaitsForACallbackInProgressAndRunsBeforeArm) {
  FakeClocks clocks;
  TimerService svc(clocks);
  absl::Notification started;
  std::atomic<bool> finished{false};
  std::atomic<int> calls{0};
  auto t = svc.NewTimer(CLOCK_MONOTONIC, [&](const Expiry&) {
    if (calls++ == 0) {
      started.Notify();
      usleep(50000);
      finished = true;
    }
  });
  t->Set({1, 0});
  started.WaitForNotification();
  bool finished_before_arm = false;
  t->Set({clocks.NowNs(CLOCK_MONOTONIC) + 3600 * kNsPerSec, 0}, false,
         [&] { finished_before_arm = finished; });
  EXPECT_TRUE(finished_before_arm);
  EXPECT_TRUE(finished);
}

TEST(TimerServiceTest, ACallbackMaySetItsOwnTimer) {
  FakeClocks clocks;
  TimerService svc(clocks);
  std::atomic<int> calls{0};
  Timer* self = nullptr;
  auto t = svc.NewTimer(CLOCK_MONOTONIC, [&](const Expiry&) {
    if (++calls < 3) self->Set({clocks.NowNs(CLOCK_MONOTONIC) + kMs, 0});
  });
  self = t.get();
  t->Set({1, 0});
  for (int i = 0; i < 1000 && calls < 3; ++i) usleep(1000);
  EXPECT_EQ(calls, 3);
}

TEST(TimerServiceTest, NoCallbackAfterTheTimerIsGone) {
  FakeClocks clocks;
  TimerService svc(clocks);
  std::atomic<int> calls{0};
  {
    auto t = svc.NewTimer(CLOCK_MONOTONIC, [&](const Expiry&) { calls++; });
    t->Set({clocks.NowNs(CLOCK_MONOTONIC) + 2 * kMs, 0});
  }
  usleep(10000);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(svc.ArmedCountForTest(), 0);
}

TEST(TimerServiceTest, ATinyPeriodDoesNotSpinButCountsEverything) {
  FakeClocks clocks;
  TimerService svc(clocks);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_MONOTONIC, r.Callback(clocks, CLOCK_MONOTONIC));
  const int64_t first = clocks.NowNs(CLOCK_MONOTONIC);
  t->Set({first, 1});
  usleep(20000);
  t->Disarm();
  absl::MutexLock l(&r.mu);
  // About 20 ms worth of 1 ns periods, in calls at least kMinRearmNs apart.
  EXPECT_GT(r.expirations, 1000000u);
  EXPECT_LE(r.calls, 20 * kMs / TimerService::kMinRearmNs + 2);
  const uint64_t upto_last = static_cast<uint64_t>(r.fired_at.back() - first) + 1;
  EXPECT_LE(r.expirations, upto_last);
  EXPECT_GT(r.expirations + 1000000, upto_last);
}

TEST(TimerServiceTest, ManyTimersEachFireOnceInDeadlineOrder) {
  FakeClocks clocks;
  TimerService svc(clocks);
  constexpr int kTimers = 5000;
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<int64_t> deadlines(kTimers);
  std::vector<std::unique_ptr<Timer>> timers;
  std::mt19937_64 rng(42);
  const int64_t now = clocks.NowNs(CLOCK_MONOTONIC);
  for (int i = 0; i < kTimers; ++i) {
    deadlines[i] = now + 50 * kMs + static_cast<int64_t>(rng() % (50 * kMs));
    timers.push_back(svc.NewTimer(CLOCK_MONOTONIC, [&, i](const Expiry& e) {
      absl::MutexLock l(&mu);
      EXPECT_EQ(e.count, 1u);
      order.push_back(i);
    }));
  }
  for (int i = 0; i < kTimers; ++i) timers[i]->Set({deadlines[i], 0});
  // Timers whose deadline came while others were still being armed (a slow,
  // sanitized build) may fire before an earlier deadline armed after them:
  // the order holds among those due after the arming.
  const int64_t armed = clocks.NowNs(CLOCK_MONOTONIC);
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::vector<int>* o) { return o->size() == static_cast<size_t>(kTimers); }, &order),
        absl::Seconds(30)));
    int64_t last = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (deadlines[order[i]] <= armed) continue;
      ASSERT_LE(last, deadlines[order[i]]) << i;
      last = deadlines[order[i]];
    }
  }
  EXPECT_EQ(svc.ArmedCountForTest(), 0);
}

TEST(TimerServiceTest, WorksOnTheTimekeeper) {
  Timekeeper& tk = Timekeeper::Get();
  TimerService svc(tk);
  Recorder r;
  auto t = svc.NewTimer(CLOCK_REALTIME, r.Callback(tk, CLOCK_REALTIME));
  const int64_t deadline = tk.NowNs(CLOCK_REALTIME) + 3 * kMs;
  t->Set({deadline, 0});
  ASSERT_TRUE(r.Await([&] { return r.calls == 1; }));
  absl::MutexLock l(&r.mu);
  EXPECT_GE(r.fired_at[0], deadline);
}

}  // namespace
}  // namespace sentry::time
