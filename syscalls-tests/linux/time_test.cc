// clock_gettime(2), clock_getres(2), nanosleep(2), clock_nanosleep(2),
// gettimeofday(2) and time(2), always through the real syscall: glibc answers
// the first ones from the vDSO, which would also fault on a bad pointer
// instead of returning EFAULT.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr long kNanos = 1000000000L;
// PID_MAX_LIMIT (2^22) is one more than the largest pid Linux hands out.
constexpr pid_t kNoSuchPid = 1 << 22;

long ClockGettime(clockid_t c, struct timespec* ts) { return syscall(SYS_clock_gettime, c, ts); }
long ClockGetres(clockid_t c, struct timespec* ts) { return syscall(SYS_clock_getres, c, ts); }
long ClockNanosleep(clockid_t c, int flags, const struct timespec* req, struct timespec* rem) {
  return syscall(SYS_clock_nanosleep, c, flags, req, rem);
}
long Nanosleep(const struct timespec* req, struct timespec* rem) {
  return syscall(SYS_nanosleep, req, rem);
}

int64_t ToNanos(const struct timespec& ts) { return ts.tv_sec * kNanos + ts.tv_nsec; }

// Linux's dynamic CPU clock ids (include/linux/posix-timers.h).
clockid_t ProcessCpuClock(pid_t pid) { return (~pid << 3) | 2; }  // CPUCLOCK_SCHED
clockid_t ThreadCpuClock(pid_t tid) { return (~tid << 3) | 2 | 4; }

struct NamedClock {
  clockid_t id;
  const char* name;
};

std::string ClockName(const ::testing::TestParamInfo<NamedClock>& info) { return info.param.name; }

class EveryClockTest : public ::testing::TestWithParam<NamedClock> {};

TEST_P(EveryClockTest, GettimeGivesAValidTimespec) {
  struct timespec ts = {-1, -1};
  ASSERT_THAT(ClockGettime(GetParam().id, &ts), SyscallSucceeds());
  EXPECT_GE(ts.tv_sec, 0);
  EXPECT_GE(ts.tv_nsec, 0);
  EXPECT_LT(ts.tv_nsec, kNanos);
}

TEST_P(EveryClockTest, GettimeNeverGoesBackwards) {
  struct timespec a, b;
  ASSERT_THAT(ClockGettime(GetParam().id, &a), SyscallSucceeds());
  for (int i = 0; i < 100; i++) {
    ASSERT_THAT(ClockGettime(GetParam().id, &b), SyscallSucceeds());
    if (GetParam().id == CLOCK_REALTIME || GetParam().id == CLOCK_REALTIME_COARSE ||
        GetParam().id == CLOCK_TAI) {
      continue;  // may be stepped by the administrator
    }
    ASSERT_LE(ToNanos(a), ToNanos(b));
    a = b;
  }
}

TEST_P(EveryClockTest, GetresIsPositiveAndAtMostASecond) {
  struct timespec res = {-1, -1};
  ASSERT_THAT(ClockGetres(GetParam().id, &res), SyscallSucceeds());
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_GT(res.tv_nsec, 0);
}

TEST_P(EveryClockTest, GetresWithANullPointer) {
  EXPECT_THAT(ClockGetres(GetParam().id, nullptr), SyscallSucceeds());
}

TEST_P(EveryClockTest, GettimeWithABadPointerIsEfault) {
  EXPECT_THAT(ClockGettime(GetParam().id, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ClockGettime(GetParam().id, static_cast<struct timespec*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
}

TEST_P(EveryClockTest, GetresWithABadPointerIsEfault) {
  EXPECT_THAT(ClockGetres(GetParam().id, static_cast<struct timespec*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
}

INSTANTIATE_TEST_SUITE_P(Clocks, EveryClockTest,
                         ::testing::Values(NamedClock{CLOCK_REALTIME, "Realtime"},
                                           NamedClock{CLOCK_MONOTONIC, "Monotonic"},
                                           NamedClock{CLOCK_PROCESS_CPUTIME_ID, "ProcessCputime"},
                                           NamedClock{CLOCK_THREAD_CPUTIME_ID, "ThreadCputime"},
                                           NamedClock{CLOCK_MONOTONIC_RAW, "MonotonicRaw"},
                                           NamedClock{CLOCK_REALTIME_COARSE, "RealtimeCoarse"},
                                           NamedClock{CLOCK_MONOTONIC_COARSE, "MonotonicCoarse"},
                                           NamedClock{CLOCK_BOOTTIME, "Boottime"},
                                           NamedClock{CLOCK_TAI, "Tai"}),
                         ClockName);

TEST(ClockGettimeTest, HighResolutionClocksHaveNanosecondResolution) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW}) {
    struct timespec res;
    ASSERT_THAT(ClockGetres(c, &res), SyscallSucceeds());
    EXPECT_EQ(res.tv_nsec, 1) << "clock " << c;
  }
}

TEST(ClockGettimeTest, CoarseClocksAreCoarserThanANanosecond) {
  for (clockid_t c : {CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE}) {
    struct timespec res;
    ASSERT_THAT(ClockGetres(c, &res), SyscallSucceeds());
    EXPECT_GT(res.tv_nsec, 1) << "clock " << c;
  }
}

TEST(ClockGettimeTest, BoottimeIsNeverBehindMonotonic) {
  // CLOCK_BOOTTIME is CLOCK_MONOTONIC plus the time spent suspended.
  struct timespec mono, boot;
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &mono), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_BOOTTIME, &boot), SyscallSucceeds());
  EXPECT_GE(ToNanos(boot), ToNanos(mono));
}

TEST(ClockGettimeTest, InvalidClockIsEinval) {
  struct timespec ts;
  for (clockid_t c : {12, 16, 100, 12345, INT32_MAX}) {
    EXPECT_THAT(ClockGettime(c, &ts), SyscallFailsWithErrno(EINVAL)) << "clock " << c;
    EXPECT_THAT(ClockGetres(c, &ts), SyscallFailsWithErrno(EINVAL)) << "clock " << c;
  }
}

TEST(ClockGettimeTest, InvalidClockIsCheckedBeforeThePointer) {
  EXPECT_THAT(ClockGettime(12345, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(ClockGettimeTest, BoottimeIsNotBehindMonotonic) {
  struct timespec mono, boot;
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &mono), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_BOOTTIME, &boot), SyscallSucceeds());
  EXPECT_LE(ToNanos(mono), ToNanos(boot));
}

TEST(ClockGettimeTest, AlarmClocksAreReadableWhenSupported) {
  // Linux reads the *_ALARM clocks only on machines with an RTC wakeup device
  // (else EINVAL); when readable they show the same time as their base clock.
  struct timespec alarm, base;
  long r = ClockGettime(CLOCK_BOOTTIME_ALARM, &alarm);
  if (r != 0) {
    EXPECT_THAT(r, SyscallFailsWithErrno(EINVAL));
    return;
  }
  ASSERT_THAT(ClockGettime(CLOCK_BOOTTIME, &base), SyscallSucceeds());
  EXPECT_LE(ToNanos(alarm), ToNanos(base));
}

TEST(ClockGettimeTest, ProcessCpuClockOfSelf) {
  struct timespec a, b;
  ASSERT_THAT(ClockGettime(ProcessCpuClock(getpid()), &a), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(ProcessCpuClock(0), &b), SyscallSucceeds());
  EXPECT_GT(ToNanos(a), 0);
}

TEST(ClockGettimeTest, ThreadCpuClockOfSelf) {
  struct timespec ts;
  ASSERT_THAT(ClockGettime(ThreadCpuClock(gettid()), &ts), SyscallSucceeds());
  EXPECT_GT(ToNanos(ts), 0);
}

TEST(ClockGettimeTest, CpuClockOfANonexistentProcessIsEinval) {
  struct timespec ts;
  EXPECT_THAT(ClockGettime(ProcessCpuClock(kNoSuchPid), &ts), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockGettime(ThreadCpuClock(kNoSuchPid), &ts), SyscallFailsWithErrno(EINVAL));
}

TEST(ClockGettimeTest, CpuClockWithAnInvalidTypeIsEinval) {
  struct timespec ts;
  // Type 3 is past CPUCLOCK_MAX.
  EXPECT_THAT(ClockGettime((~getpid() << 3) | 3, &ts), SyscallFailsWithErrno(EINVAL));
}

TEST(ClockGettimeTest, ProcessCpuTimeAdvancesWithWork) {
  struct timespec a, b;
  ASSERT_THAT(ClockGettime(CLOCK_PROCESS_CPUTIME_ID, &a), SyscallSucceeds());
  volatile uint64_t x = 0;
  do {
    for (int i = 0; i < 1000000; i++) x = x + i;
    ASSERT_THAT(ClockGettime(CLOCK_PROCESS_CPUTIME_ID, &b), SyscallSucceeds());
  } while (ToNanos(b) == ToNanos(a));
  EXPECT_GT(ToNanos(b), ToNanos(a));
}

TEST(ClockGettimeTest, RealtimeAgreesWithTheVdso) {
  struct timespec sys, vdso;
  ASSERT_THAT(ClockGettime(CLOCK_REALTIME, &sys), SyscallSucceeds());
  ASSERT_THAT(clock_gettime(CLOCK_REALTIME, &vdso), SyscallSucceeds());
  EXPECT_LE(ToNanos(sys), ToNanos(vdso));
  EXPECT_LT(ToNanos(vdso) - ToNanos(sys), 10 * kNanos);
}

TEST(ClockGettimeTest, MonotonicAgreesWithTheVdso) {
  struct timespec a, vdso, b;
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &a), SyscallSucceeds());
  ASSERT_THAT(clock_gettime(CLOCK_MONOTONIC, &vdso), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &b), SyscallSucceeds());
  EXPECT_LE(ToNanos(a), ToNanos(vdso));
  EXPECT_LE(ToNanos(vdso), ToNanos(b));
}

// --- nanosleep ---

TEST(NanosleepTest, ZeroReturnsAtOnce) {
  struct timespec zero = {0, 0};
  EXPECT_THAT(Nanosleep(&zero, nullptr), SyscallSucceedsWithValue(0));
}

TEST(NanosleepTest, SleepsAtLeastTheRequestedTime) {
  struct timespec before, after, req = {0, 2000000};
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &before), SyscallSucceeds());
  ASSERT_THAT(Nanosleep(&req, nullptr), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &after), SyscallSucceeds());
  EXPECT_GE(ToNanos(after) - ToNanos(before), ToNanos(req));
}

TEST(NanosleepTest, NanosecondsOfASecondOrMoreAreInvalid) {
  struct timespec req = {0, kNanos};
  EXPECT_THAT(Nanosleep(&req, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(NanosleepTest, NegativeNanosecondsAreInvalid) {
  struct timespec req = {0, -1};
  EXPECT_THAT(Nanosleep(&req, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(NanosleepTest, NegativeSecondsAreInvalid) {
  struct timespec req = {-1, 0};
  EXPECT_THAT(Nanosleep(&req, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(NanosleepTest, BadRequestPointerIsEfault) {
  EXPECT_THAT(Nanosleep(nullptr, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Nanosleep(static_cast<struct timespec*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(NanosleepTest, RemainderIsNotWrittenWhenTheSleepCompletes) {
  struct timespec req = {0, 1000}, rem = {123, 456};
  ASSERT_THAT(Nanosleep(&req, &rem), SyscallSucceeds());
  EXPECT_EQ(rem.tv_sec, 123);
  EXPECT_EQ(rem.tv_nsec, 456);
  // Nor even looked at.
  EXPECT_THAT(Nanosleep(&req, static_cast<struct timespec*>(kKernelAddress)), SyscallSucceeds());
}

// --- clock_nanosleep ---

TEST(ClockNanosleepTest, RelativeZeroReturnsAtOnce) {
  struct timespec zero = {0, 0};
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI}) {
    EXPECT_THAT(ClockNanosleep(c, 0, &zero, nullptr), SyscallSucceedsWithValue(0)) << c;
  }
}

TEST(ClockNanosleepTest, AbsoluteTimeInThePastReturnsAtOnce) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI}) {
    struct timespec now;
    ASSERT_THAT(ClockGettime(c, &now), SyscallSucceeds());
    struct timespec past = {now.tv_sec - 1, now.tv_nsec};
    EXPECT_THAT(ClockNanosleep(c, TIMER_ABSTIME, &past, nullptr), SyscallSucceedsWithValue(0)) << c;
    struct timespec epoch = {0, 0};
    EXPECT_THAT(ClockNanosleep(c, TIMER_ABSTIME, &epoch, nullptr), SyscallSucceedsWithValue(0))
        << c;
  }
}

TEST(ClockNanosleepTest, AbsoluteSleepWakesAtTheDeadline) {
  struct timespec now, after;
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &now), SyscallSucceeds());
  struct timespec deadline = now;
  deadline.tv_nsec += 2000000;
  if (deadline.tv_nsec >= kNanos) {
    deadline.tv_sec++;
    deadline.tv_nsec -= kNanos;
  }
  ASSERT_THAT(ClockNanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr),
              SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &after), SyscallSucceeds());
  EXPECT_GE(ToNanos(after), ToNanos(deadline));
}

TEST(ClockNanosleepTest, RelativeSleepLastsAtLeastTheRequest) {
  struct timespec before, after, req = {0, 1000000};
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &before), SyscallSucceeds());
  ASSERT_THAT(ClockNanosleep(CLOCK_MONOTONIC, 0, &req, nullptr), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_MONOTONIC, &after), SyscallSucceeds());
  EXPECT_GE(ToNanos(after) - ToNanos(before), ToNanos(req));
}

TEST(ClockNanosleepTest, InvalidClockIsEinval) {
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(12345, 0, &zero, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep(16, TIMER_ABSTIME, &zero, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(ClockNanosleepTest, ThreadCpuClockIsNotSupported) {
  // A thread cannot sleep on its own CPU clock: the thread clock has no
  // nsleep in Linux (the man page's EINVAL is from before 2.6.x).
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &zero, nullptr),
              SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(ClockNanosleepTest, DynamicThreadCpuClockIsInvalid) {
  // The dynamic id of a thread's CPU clock goes through the generic CPU
  // clock, whose nsleep refuses per-thread clocks with EINVAL.
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(gettid()), TIMER_ABSTIME, &zero, nullptr),
              SyscallFailsWithErrno(EINVAL));
}

TEST(ClockNanosleepTest, DynamicProcessCpuClockAbsoluteInThePastReturnsAtOnce) {
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(ProcessCpuClock(getpid()), TIMER_ABSTIME, &zero, nullptr),
              SyscallSucceedsWithValue(0));
}

TEST(ClockNanosleepTest, ClocksWithoutSleepAreNotSupported) {
  struct timespec zero = {0, 0};
  for (clockid_t c : {CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE}) {
    EXPECT_THAT(ClockNanosleep(c, 0, &zero, nullptr), SyscallFailsWithErrno(EOPNOTSUPP)) << c;
  }
}

TEST(ClockNanosleepTest, ProcessCpuClockAbsoluteInThePastReturnsAtOnce) {
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &zero, nullptr),
              SyscallSucceedsWithValue(0));
}

TEST(ClockNanosleepTest, ProcessCpuClockRelativeSleep) {
  // Sleeping on our own CPU clock ends only as we use CPU, which a sleeping
  // single-threaded process does not; so just a zero-length sleep.
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &zero, nullptr),
              SyscallSucceedsWithValue(0));
}

TEST(ClockNanosleepTest, ProcessCpuClockDeadlineJustReachedReturnsAtOnce) {
  // A nonzero absolute deadline our CPU time has already reached.
  struct timespec now;
  ASSERT_THAT(ClockGettime(CLOCK_PROCESS_CPUTIME_ID, &now), SyscallSucceeds());
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &now, nullptr),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(ClockNanosleep(ProcessCpuClock(0), TIMER_ABSTIME, &now, nullptr),
              SyscallSucceedsWithValue(0));
}

TEST(ClockNanosleepTest, ClockWithoutSleepIsCheckedBeforeTheRequest) {
  // A clock that cannot sleep fails before the request is read.
  for (clockid_t c : {CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE}) {
    EXPECT_THAT(ClockNanosleep(c, 0, nullptr, nullptr), SyscallFailsWithErrno(EOPNOTSUPP)) << c;
  }
  EXPECT_THAT(ClockNanosleep(12345, 0, nullptr, nullptr), SyscallFailsWithErrno(EINVAL));
  // A posix clock fd's id (low bits 3) has no sleep either.
  EXPECT_THAT(ClockNanosleep((~0 << 3) | 3, 0, nullptr, nullptr),
              SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(ClockNanosleepTest, CpuClockRequestIsReadBeforeTheClockIsChecked) {
  // The generic CPU clock reads the request, then refuses thread clocks.
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(0), 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ClockNanosleep(ProcessCpuClock(kNoSuchPid), 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  struct timespec bad = {0, kNanos};
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &bad, nullptr),
              SyscallFailsWithErrno(EINVAL));
}

TEST(ClockNanosleepTest, CpuClocksThatCannotSleepAreInvalid) {
  struct timespec zero = {0, 0};
  // Our own thread clock, by tid or 0; another process's that does not exist;
  // a clock type past CPUCLOCK_SCHED.
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(0), 0, &zero, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(kNoSuchPid), 0, &zero, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep(ProcessCpuClock(kNoSuchPid), 0, &zero, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep((~0 << 3) | 4 | 3, 0, &zero, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(ClockNanosleepTest, InvalidTimespecIsEinval) {
  struct timespec bad_nsec = {0, kNanos}, neg_nsec = {0, -1}, neg_sec = {-1, 0};
  for (int flags : {0, TIMER_ABSTIME}) {
    EXPECT_THAT(ClockNanosleep(CLOCK_MONOTONIC, flags, &bad_nsec, nullptr),
                SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(ClockNanosleep(CLOCK_MONOTONIC, flags, &neg_nsec, nullptr),
                SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(ClockNanosleep(CLOCK_MONOTONIC, flags, &neg_sec, nullptr),
                SyscallFailsWithErrno(EINVAL));
  }
}

TEST(ClockNanosleepTest, BadRequestPointerIsEfault) {
  EXPECT_THAT(ClockNanosleep(CLOCK_MONOTONIC, 0, nullptr, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ClockNanosleep(CLOCK_REALTIME, TIMER_ABSTIME,
                             static_cast<struct timespec*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(ClockNanosleepTest, UnknownFlagBitsAreIgnored) {
  struct timespec zero = {0, 0};
  EXPECT_THAT(ClockNanosleep(CLOCK_MONOTONIC, 0x100, &zero, nullptr), SyscallSucceedsWithValue(0));
}

// --- gettimeofday / time ---

TEST(GettimeofdayTest, AgreesWithClockRealtime) {
  struct timeval tv;
  struct timespec before, after;
  ASSERT_THAT(ClockGettime(CLOCK_REALTIME, &before), SyscallSucceeds());
  ASSERT_THAT(syscall(SYS_gettimeofday, &tv, nullptr), SyscallSucceeds());
  ASSERT_THAT(ClockGettime(CLOCK_REALTIME, &after), SyscallSucceeds());
  EXPECT_GE(tv.tv_usec, 0);
  EXPECT_LT(tv.tv_usec, 1000000);
  const int64_t us = tv.tv_sec * 1000000 + tv.tv_usec;
  EXPECT_GE(us, ToNanos(before) / 1000);
  EXPECT_LE(us, ToNanos(after) / 1000);
}

TEST(GettimeofdayTest, BothPointersMayBeNull) {
  EXPECT_THAT(syscall(SYS_gettimeofday, nullptr, nullptr), SyscallSucceedsWithValue(0));
}

TEST(GettimeofdayTest, TimezoneIsFilledIn) {
  struct timezone tz = {-1, -1};
  ASSERT_THAT(syscall(SYS_gettimeofday, nullptr, &tz), SyscallSucceeds());
  EXPECT_NE(tz.tz_minuteswest, -1);
  EXPECT_NE(tz.tz_dsttime, -1);
}

TEST(GettimeofdayTest, BadPointersAreEfault) {
  struct timeval tv;
  EXPECT_THAT(syscall(SYS_gettimeofday, kKernelAddress, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_gettimeofday, &tv, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

// time(2) reads the seconds of the timekeeper's last tick
// (ktime_get_real_seconds), which can be a second behind CLOCK_REALTIME for up
// to a tick after a second begins: it is bounded below by the coarse clock.
TEST(TimeTest, ReturnsTheSecondsOfClockRealtime) {
  struct timespec before, after;
  ASSERT_THAT(ClockGettime(CLOCK_REALTIME_COARSE, &before), SyscallSucceeds());
  const long t = syscall(SYS_time, nullptr);
  ASSERT_THAT(ClockGettime(CLOCK_REALTIME, &after), SyscallSucceeds());
  EXPECT_GE(t, before.tv_sec);
  EXPECT_LE(t, after.tv_sec);
}

TEST(TimeTest, AlsoStoresTheValue) {
  time_t stored = 0;
  const long t = syscall(SYS_time, &stored);
  EXPECT_GT(t, 0);
  EXPECT_EQ(stored, t);
}

TEST(TimeTest, BadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_time, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
