// Timers that send signals: alarm(2), setitimer/getitimer(ITIMER_REAL), and
// POSIX timers (timer_create, timer_settime, timer_gettime,
// timer_getoverrun, timer_delete).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

TEST(AlarmTest, FiresSigalrm) {
  SignalCatcher c(SIGALRM);
  EXPECT_EQ(alarm(0), 0u);
  const struct itimerval tiny = {{0, 0}, {0, 20000}};
  ASSERT_THAT(setitimer(ITIMER_REAL, &tiny, nullptr), SyscallSucceeds());
  c.WaitFor(1, 1000);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.code(), SI_KERNEL);
}

TEST(AlarmTest, ReturnsTheSecondsLeft) {
  SignalCatcher c(SIGALRM);
  EXPECT_EQ(alarm(100), 0u);
  const unsigned left = alarm(50);
  EXPECT_TRUE(left == 100 || left == 99) << left;
  EXPECT_EQ(alarm(0), 50u);
  EXPECT_EQ(alarm(0), 0u);
}

TEST(ItimerTest, GetShowsTheTimeLeftAndTheInterval) {
  SignalCatcher c(SIGALRM);
  const struct itimerval v = {{2, 0}, {10, 0}};
  struct itimerval old;
  ASSERT_THAT(setitimer(ITIMER_REAL, &v, &old), SyscallSucceeds());
  Cleanup disarm([] {
    const struct itimerval zero = {};
    setitimer(ITIMER_REAL, &zero, nullptr);
  });
  EXPECT_EQ(old.it_value.tv_sec, 0);
  struct itimerval now;
  ASSERT_THAT(getitimer(ITIMER_REAL, &now), SyscallSucceeds());
  EXPECT_EQ(now.it_interval.tv_sec, 2);
  EXPECT_LE(now.it_value.tv_sec, 10);
  EXPECT_GE(now.it_value.tv_sec, 9);
}

TEST(ItimerTest, IntervalRepeats) {
  SignalCatcher c(SIGALRM);
  const struct itimerval v = {{0, 10000}, {0, 10000}};
  ASSERT_THAT(setitimer(ITIMER_REAL, &v, nullptr), SyscallSucceeds());
  c.WaitFor(3, 2000);
  const struct itimerval zero = {};
  setitimer(ITIMER_REAL, &zero, nullptr);
  EXPECT_GE(c.count(), 3);
}

TEST(ItimerTest, Errors) {
  struct itimerval v = {{0, 0}, {0, 1000000}};  // usec out of range
  EXPECT_THAT(setitimer(ITIMER_REAL, &v, nullptr), SyscallFailsWithErrno(EINVAL));
  v.it_value.tv_usec = 0;
  EXPECT_THAT(syscall(SYS_setitimer, 42, &v, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_getitimer, 42, &v), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_getitimer, ITIMER_REAL, reinterpret_cast<void*>(8)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_setitimer, ITIMER_REAL, reinterpret_cast<void*>(8), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

// --- POSIX timers ---

// timer_create through the syscall (glibc wraps SIGEV_THREAD and ids).
long TimerCreate(clockid_t clock, sigevent* ev, int* id) {
  return syscall(SYS_timer_create, clock, ev, id);
}

TEST(PosixTimerTest, DefaultNotificationIsSigalrmWithTheId) {
  SignalCatcher c(SIGALRM);
  int id = -1;
  ASSERT_THAT(TimerCreate(CLOCK_MONOTONIC, nullptr, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 0}, {0, 10000000}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  c.WaitFor(1, 1000);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.code(), SI_TIMER);
  EXPECT_EQ(c.value(), id);
}

TEST(PosixTimerTest, SigevSignalCarriesTheValue) {
  SignalCatcher c(SIGUSR1);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 4242;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_REALTIME, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  // An absolute deadline just ahead on the timer's clock.
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  itimerspec its = {{0, 0}, now};
  its.it_value.tv_nsec += 10000000;
  if (its.it_value.tv_nsec >= 1000000000) {
    its.it_value.tv_sec++;
    its.it_value.tv_nsec -= 1000000000;
  }
  ASSERT_THAT(syscall(SYS_timer_settime, id, TIMER_ABSTIME, &its, nullptr), SyscallSucceeds());
  c.WaitFor(1, 1000);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.value(), 4242);
}

TEST(PosixTimerTest, SigevNoneCountsDownSilently) {
  sigevent ev = {};
  ev.sigev_notify = SIGEV_NONE;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{1, 0}, {5, 0}};
  itimerspec old;
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, &old), SyscallSucceeds());
  EXPECT_EQ(old.it_value.tv_sec, 0);
  EXPECT_EQ(old.it_value.tv_nsec, 0);
  itimerspec cur;
  ASSERT_THAT(syscall(SYS_timer_gettime, id, &cur), SyscallSucceeds());
  EXPECT_EQ(cur.it_interval.tv_sec, 1);
  EXPECT_LE(cur.it_value.tv_sec, 5);
  EXPECT_GE(cur.it_value.tv_sec, 4);
  // Disarming returns the setting it replaced.
  const itimerspec zero = {};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &zero, &old), SyscallSucceeds());
  EXPECT_GE(old.it_value.tv_sec, 4);
  EXPECT_EQ(old.it_interval.tv_sec, 1);
}

TEST(PosixTimerTest, ExpirationsWhileTheSignalIsQueuedAreOverruns) {
  SignalCatcher c(SIGUSR2);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 5000000}, {0, 5000000}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  usleep(100000);  // about 20 periods
  // One signal is queued, carrying the expirations since as its overrun.
  siginfo_t info;
  const timespec zero_wait = {0, 0};
  ASSERT_THAT(sigtimedwait(&block, &info, &zero_wait), SyscallSucceedsWithValue(SIGUSR2));
  EXPECT_EQ(info.si_code, SI_TIMER);
  EXPECT_GE(info.si_overrun, 5);
  EXPECT_THAT(syscall(SYS_timer_getoverrun, id), SyscallSucceedsWithValue(info.si_overrun));
  const itimerspec zero = {};
  syscall(SYS_timer_settime, id, 0, &zero, nullptr);
  sigtimedwait(&block, &info, &zero_wait);  // whatever came meanwhile
  sigprocmask(SIG_UNBLOCK, &block, nullptr);
}

TEST(PosixTimerTest, ThreadIdTargetsTheThread) {
  SignalCatcher c(SIGUSR1);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGUSR1;
  ev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 0}, {0, 5000000}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  c.WaitFor(1, 1000);
  EXPECT_EQ(c.count(), 1);
  // Not a thread of ours.
  ev._sigev_un._tid = 0x3fffffff;
  EXPECT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallFailsWithErrno(EINVAL));
}

TEST(PosixTimerTest, Errors) {
  int id;
  EXPECT_THAT(TimerCreate(12345, nullptr, &id), SyscallFailsWithErrno(EINVAL));
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = 0;
  EXPECT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallFailsWithErrno(EINVAL));
  ev.sigev_signo = 65;
  EXPECT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallFailsWithErrno(EINVAL));
  ev.sigev_notify = 12345;
  ev.sigev_signo = SIGUSR1;
  EXPECT_THAT(TimerCreate(CLOCK_MONOTONIC, &ev, &id), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(TimerCreate(CLOCK_MONOTONIC, reinterpret_cast<sigevent*>(8), &id),
              SyscallFailsWithErrno(EFAULT));
  // Ids that do not exist.
  itimerspec its = {};
  EXPECT_THAT(syscall(SYS_timer_settime, 777777, 0, &its, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_timer_gettime, 777777, &its), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_timer_getoverrun, 777777), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_timer_delete, 777777), SyscallFailsWithErrno(EINVAL));
  // A bad setting.
  ASSERT_THAT(TimerCreate(CLOCK_MONOTONIC, nullptr, &id), SyscallSucceeds());
  its.it_value.tv_nsec = 1000000000;
  EXPECT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_timer_delete, id), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_timer_delete, id), SyscallFailsWithErrno(EINVAL));
}

}  // namespace
}  // namespace syscalls_test
