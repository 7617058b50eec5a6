// getrusage(2), times(2) and the rusage wait4(2) returns: RUSAGE_SELF,
// RUSAGE_CHILDREN (only reaped children), RUSAGE_THREAD, CPU time that grows
// with work, and the errors (EINVAL, EFAULT).
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

long Micros(const struct timeval& tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

// Spins on the CPU for about `ms` milliseconds of process CPU time.
void Burn(int ms) {
  struct timespec start, now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; ++i) x = x + i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

TEST(RusageTest, SelfHasSaneFields) {
  struct rusage ru;
  ASSERT_THAT(getrusage(RUSAGE_SELF, &ru), SyscallSucceeds());
  EXPECT_GE(ru.ru_utime.tv_sec, 0);
  EXPECT_GE(ru.ru_utime.tv_usec, 0);
  EXPECT_LT(ru.ru_utime.tv_usec, 1000000);
  EXPECT_LT(ru.ru_stime.tv_usec, 1000000);
  EXPECT_GT(ru.ru_maxrss, 0);
}

TEST(RusageTest, UserTimeGrowsWithWork) {
  struct rusage before, after;
  ASSERT_THAT(getrusage(RUSAGE_SELF, &before), SyscallSucceeds());
  Burn(100);
  ASSERT_THAT(getrusage(RUSAGE_SELF, &after), SyscallSucceeds());
  const long spent = Micros(after.ru_utime) + Micros(after.ru_stime) - Micros(before.ru_utime) -
                     Micros(before.ru_stime);
  EXPECT_GE(spent, 50000);
}

TEST(RusageTest, ThreadIsAtMostSelf) {
  struct rusage self, thread;
  ASSERT_THAT(getrusage(RUSAGE_THREAD, &thread), SyscallSucceeds());
  ASSERT_THAT(getrusage(RUSAGE_SELF, &self), SyscallSucceeds());
  EXPECT_LE(Micros(thread.ru_utime), Micros(self.ru_utime) + 10000);
}

TEST(RusageTest, ChildrenCountsOnlyReapedChildren) {
  struct rusage before;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &before), SyscallSucceeds());
  const pid_t pid = fork();
  if (pid == 0) {
    Burn(150);
    _exit(0);
  }
  usleep(50000);
  siginfo_t info;
  // Wait without reaping: nothing counted yet.
  ASSERT_THAT(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), SyscallSucceeds());
  struct rusage mid;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &mid), SyscallSucceeds());
  EXPECT_LT(Micros(mid.ru_utime) + Micros(mid.ru_stime),
            Micros(before.ru_utime) + Micros(before.ru_stime) + 50000);
  ASSERT_THAT(waitpid(pid, nullptr, 0), SyscallSucceedsWithValue(pid));
  struct rusage after;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &after), SyscallSucceeds());
  EXPECT_GE(Micros(after.ru_utime) + Micros(after.ru_stime) - Micros(before.ru_utime) -
                Micros(before.ru_stime),
            100000);
}

TEST(RusageTest, Wait4ReportsTheChildsUsage) {
  const pid_t pid = fork();
  if (pid == 0) {
    // Memory of its own too: Linux sums a process's resident pages from
    // per-CPU counters that fold in batches (32 pages or more), so a child
    // that touched almost nothing may report a peak of 0 natively.
    static char touched[1 << 20];
    memset(touched, 1, sizeof(touched));
    Burn(120);
    _exit(touched[4096] == 1 ? 0 : 1);
  }
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  int status;
  ASSERT_THAT(wait4(pid, &status, 0, &ru), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(Micros(ru.ru_utime) + Micros(ru.ru_stime), 80000);
  EXPECT_GT(ru.ru_maxrss, 0);
}

TEST(RusageTest, ChildrenHaveMaxrssAndMinorFaults) {
  // A child that touches 1 MiB of fresh memory: its peak resident set is at
  // least that, and it faulted.
  const size_t len = 1 << 20;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(1);
    memset(p, 1, len);
    _exit(0);
  }
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  int status;
  ASSERT_THAT(wait4(pid, &status, 0, &ru), SyscallSucceedsWithValue(pid));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(ru.ru_maxrss, static_cast<long>(len / 1024));
  EXPECT_GT(ru.ru_minflt, 0);
  struct rusage children;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &children), SyscallSucceeds());
  EXPECT_GE(children.ru_maxrss, ru.ru_maxrss);
  EXPECT_GE(children.ru_minflt, ru.ru_minflt);
}

TEST(RusageTest, MaxrssIsAPeakNotTheCurrentSet) {
  // 32 MiB touched and unmapped again: the resident set's peak stays.
  const size_t len = 32 << 20;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  memset(p, 1, len);
  ASSERT_THAT(munmap(p, len), SyscallSucceeds());
  struct rusage ru;
  ASSERT_THAT(getrusage(RUSAGE_SELF, &ru), SyscallSucceeds());
  EXPECT_GE(ru.ru_maxrss, static_cast<long>(len / 1024));
  ASSERT_THAT(getrusage(RUSAGE_THREAD, &ru), SyscallSucceeds());
  EXPECT_GE(ru.ru_maxrss, static_cast<long>(len / 1024));
}

TEST(RusageTest, ChildrenMaxrssIsTheLargestChildsPeak) {
  // Two children, each touching memory and letting it go before exiting:
  // RUSAGE_CHILDREN's maxrss is the larger peak (a max, not a sum).
  auto run_child = [](size_t len) {
    const pid_t pid = fork();
    if (pid == 0) {
      void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(1);
      memset(p, 1, len);
      munmap(p, len);
      _exit(0);
    }
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    int status = 0;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status)) return -1L;
    return ru.ru_maxrss;
  };
  struct rusage before;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &before), SyscallSucceeds());
  const long big = run_child(24 << 20);
  const long small = run_child(4 << 20);
  EXPECT_GE(big, 24L << 10);
  EXPECT_GE(small, 4L << 10);
  struct rusage after;
  ASSERT_THAT(getrusage(RUSAGE_CHILDREN, &after), SyscallSucceeds());
  EXPECT_GE(after.ru_maxrss, big);
  if (before.ru_maxrss < big) {
    EXPECT_LT(after.ru_maxrss, big + small);
  }
}

TEST(RusageTest, GuestWorkIsUserTime) {
  // Spinning in user code is user time, not system time.
  struct rusage before, after;
  ASSERT_THAT(getrusage(RUSAGE_SELF, &before), SyscallSucceeds());
  struct timespec start, now;
  ASSERT_THAT(clock_gettime(CLOCK_MONOTONIC, &start), SyscallSucceeds());
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 1000000; ++i) x = x + i;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 300);
  ASSERT_THAT(getrusage(RUSAGE_SELF, &after), SyscallSucceeds());
  const long user = Micros(after.ru_utime) - Micros(before.ru_utime);
  const long sys = Micros(after.ru_stime) - Micros(before.ru_stime);
  // On a busy machine the loop may get little CPU: compare, do not bound.
  EXPECT_GT(user, sys);
  EXPECT_GT(user, 0);
}

TEST(RusageTest, BadWhoIsEinval) {
  struct rusage ru;
  EXPECT_THAT(getrusage(static_cast<__rusage_who_t>(5), &ru), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(getrusage(static_cast<__rusage_who_t>(-3), &ru), SyscallFailsWithErrno(EINVAL));
}

TEST(RusageTest, BadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_getrusage, RUSAGE_SELF, 8L), SyscallFailsWithErrno(EFAULT));
}

TEST(TimesTest, ReturnsClockTicksAndGrows) {
  struct tms a, b;
  const clock_t t0 = times(&a);
  ASSERT_NE(t0, static_cast<clock_t>(-1));
  Burn(100);
  const clock_t t1 = times(&b);
  EXPECT_GE(t1, t0);
  EXPECT_GE(b.tms_utime + b.tms_stime, a.tms_utime + a.tms_stime + 5);
}

TEST(TimesTest, ChildrenFieldsAfterReaping) {
  struct tms a, b;
  times(&a);
  const pid_t pid = fork();
  if (pid == 0) {
    Burn(150);
    _exit(0);
  }
  waitpid(pid, nullptr, 0);
  times(&b);
  EXPECT_GE(b.tms_cutime + b.tms_cstime, a.tms_cutime + a.tms_cstime + 8);
}

TEST(TimesTest, NullBufferIsAllowed) {
  EXPECT_THAT(syscall(SYS_times, nullptr), SyscallSucceeds());
}

TEST(TimesTest, BadBufferIsEfault) {
  EXPECT_THAT(syscall(SYS_times, 8L), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
