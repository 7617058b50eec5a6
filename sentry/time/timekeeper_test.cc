#include "sentry/time/timekeeper.h"

#include <cpuid.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sentry::time {
namespace {

int64_t HostNs(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return TimespecToNs(ts);
}

bool InvariantTsc() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) || eax < 0x80000007) return false;
  __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx);
  return (edx >> 8) & 1;
}

Timekeeper::Options Manual() {
  Timekeeper::Options o;
  o.start_thread = false;
  return o;
}

// A Timekeeper in TSC mode: two updates 5 ms apart.
void Calibrate(Timekeeper& tk) {
  usleep(5000);
  tk.Update();
}

constexpr clockid_t kClocks[] = {CLOCK_REALTIME,      CLOCK_MONOTONIC,       CLOCK_BOOTTIME,
                                 CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                                 CLOCK_TAI,           CLOCK_REALTIME_ALARM,  CLOCK_BOOTTIME_ALARM};

TEST(TimespecTest, Conversions) {
  EXPECT_EQ(TimespecToNs({3, 5}), 3000000005);
  timespec ts = NsToTimespec(3000000005);
  EXPECT_EQ(ts.tv_sec, 3);
  EXPECT_EQ(ts.tv_nsec, 5);
  ts = NsToTimespec(-1);
  EXPECT_EQ(ts.tv_sec, -1);
  EXPECT_EQ(ts.tv_nsec, 999999999);
  EXPECT_EQ(TimespecToNs({INT64_MAX, 0}), INT64_MAX);
}

TEST(TimekeeperTest, StartsOnTheHostsClocksThenUsesTheTsc) {
  Timekeeper tk(Manual());
  EXPECT_FALSE(tk.UsesTsc());
  for (clockid_t c : kClocks) {
    const int64_t before = HostNs(c == CLOCK_REALTIME_ALARM   ? CLOCK_REALTIME
                                  : c == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME
                                                              : c);
    EXPECT_GE(tk.NowNs(c), before - 5000000) << c;  // coarse clocks lag a tick
  }
  if (!InvariantTsc()) GTEST_SKIP() << "no invariant TSC: the host's clocks only";
  Calibrate(tk);
  EXPECT_TRUE(tk.UsesTsc());
}

TEST(TimekeeperTest, TracksTheHostAndLeadsIt) {
  if (!InvariantTsc()) GTEST_SKIP() << "no invariant TSC";
  Timekeeper tk(Manual());
  Calibrate(tk);
  for (int round = 0; round < 3; ++round) {
    for (clockid_t c : {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW}) {
      for (int i = 0; i < 1000; ++i) {
        const int64_t host_before = HostNs(c);
        const int64_t ours = tk.NowNs(c);
        const int64_t host_after = HostNs(c);
        // Never behind the host (what the host times is never late by
        // ours), and close to it.
        ASSERT_GE(ours, host_before) << "clock " << c << " round " << round;
        ASSERT_LT(ours - host_after, 1000000) << "clock " << c << " round " << round;
      }
    }
    usleep(20000);
    tk.Update();
  }
}

TEST(TimekeeperTest, NeverGoesBackwardsAcrossUpdates) {
  if (!InvariantTsc()) GTEST_SKIP() << "no invariant TSC";
  Timekeeper tk(Manual());
  std::atomic<bool> done{false};
  std::thread updater([&] {
    for (int i = 0; i < 200; ++i) {
      tk.Update();
      usleep(500);
    }
    done = true;
  });
  std::vector<std::thread> readers;
  std::atomic<int> failures{0};
  for (clockid_t c : {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME}) {
    readers.emplace_back([&, c] {
      int64_t last = tk.NowNs(c);
      while (!done) {
        const int64_t now = tk.NowNs(c);
        if (now < last) failures++;
        last = now;
      }
    });
  }
  updater.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures, 0);
}

TEST(TimekeeperTest, MirrorsCarryTheParameters) {
  Timekeeper tk(Manual());
  sandbox_vvar v{};
  v.coarse_res_ns = 1234;
  v.num_cpus = 3;
  tk.AddMirror(&v);
  Calibrate(tk);
  const sandbox_vvar p = tk.ParamsForTest();
  EXPECT_EQ(v.seq % 2, 0u);
  EXPECT_EQ(v.mode, p.mode);
  EXPECT_EQ(v.base_tsc, p.base_tsc);
  EXPECT_EQ(v.mono_base_ns, p.mono_base_ns);
  EXPECT_EQ(v.mono_mult, p.mono_mult);
  EXPECT_EQ(v.raw_mult, p.raw_mult);
  EXPECT_EQ(v.realtime_offset_ns, p.realtime_offset_ns);
  EXPECT_EQ(v.boottime_offset_ns, p.boottime_offset_ns);
  // Its owner's fields are left alone.
  EXPECT_EQ(v.coarse_res_ns, 1234);
  EXPECT_EQ(v.num_cpus, 3u);
  // A reader of the mirror computes what the Timekeeper does.
  int64_t ns;
  if (v.mode == SANDBOX_VVAR_MODE_TSC) {
    ASSERT_EQ(sandbox_vvar_clock_ns(&v, CLOCK_MONOTONIC, &ns), 0);
    const int64_t after = tk.NowNs(CLOCK_MONOTONIC);
    EXPECT_LE(ns, after);
    EXPECT_GT(ns, after - 1000000);
  } else {
    EXPECT_EQ(sandbox_vvar_clock_ns(&v, CLOCK_MONOTONIC, &ns), -1);
  }
  EXPECT_EQ(sandbox_vvar_clock_ns(&v, CLOCK_PROCESS_CPUTIME_ID, &ns), -1);
  tk.RemoveMirror(&v);
  const uint32_t seq = v.seq;
  tk.Update();
  EXPECT_EQ(v.seq, seq);
}

TEST(TimekeeperTest, ASetWallClockIsReportedAndFollowed) {
  Timekeeper tk(Manual());
  Calibrate(tk);
  std::vector<clockid_t> heard;
  const int id = tk.AddClockSetListener([&](clockid_t c) { heard.push_back(c); });
  tk.Update();
  EXPECT_TRUE(heard.empty());
  const int64_t before = tk.NowNs(CLOCK_REALTIME);
  tk.AdjustRealtimeForTest(100 * kNsPerSec);
  tk.Update();
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], CLOCK_REALTIME);
  const int64_t after = tk.NowNs(CLOCK_REALTIME);
  if (tk.UsesTsc()) {
    EXPECT_GE(after - before, 100 * kNsPerSec);
    EXPECT_LT(after - before, 101 * kNsPerSec);
  }
  tk.RemoveClockSetListener(id);
  tk.AdjustRealtimeForTest(-100 * kNsPerSec);
  tk.Update();
  EXPECT_EQ(heard.size(), 1u);
}

TEST(TimekeeperTest, WithoutTheTscEveryReadIsTheHosts) {
  Timekeeper::Options o = Manual();
  o.use_tsc = false;
  Timekeeper tk(o);
  Calibrate(tk);
  tk.Update();
  EXPECT_FALSE(tk.UsesTsc());
  sandbox_vvar v{};
  tk.AddMirror(&v);
  int64_t ns;
  EXPECT_EQ(sandbox_vvar_clock_ns(&v, CLOCK_MONOTONIC, &ns), -1);
  const int64_t before = HostNs(CLOCK_MONOTONIC);
  const int64_t ours = tk.NowNs(CLOCK_MONOTONIC);
  EXPECT_GE(ours, before);
  EXPECT_LE(ours, HostNs(CLOCK_MONOTONIC));
  tk.RemoveMirror(&v);
}

TEST(TimekeeperTest, OtherClocksAreNotItsOwn) {
  Timekeeper tk(Manual());
  EXPECT_EQ(tk.NowNs(CLOCK_PROCESS_CPUTIME_ID), -1);
  EXPECT_EQ(tk.NowNs(CLOCK_THREAD_CPUTIME_ID), -1);
  EXPECT_EQ(tk.NowNs(12345), -1);
}

TEST(TimekeeperTest, TheSentrysOwnRunsItsThread) {
  Timekeeper& tk = Timekeeper::Get();
  EXPECT_EQ(&tk, &Timekeeper::Get());
  if (!InvariantTsc()) GTEST_SKIP() << "no invariant TSC";
  // Its first rounds come within milliseconds.
  for (int i = 0; i < 2000 && !tk.UsesTsc(); ++i) usleep(1000);
  EXPECT_TRUE(tk.UsesTsc());
}

}  // namespace
}  // namespace sentry::time
