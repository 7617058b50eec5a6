// CPU-time clocks and the timers on them: clock_gettime/clock_getres/
// clock_nanosleep on process and thread CPU clocks (our own, another thread's,
// another process's), setitimer(ITIMER_VIRTUAL / ITIMER_PROF), timer_create
// on CPU clocks, RLIMIT_CPU (SIGXCPU then SIGKILL) and ru_maxrss as a peak.
//
// Timing is generous: a CPU timer must fire once its process has used the
// CPU time (never before), and not while the process only waits; no test
// asserts an upper bound tighter than seconds on elapsed time.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr int64_t kMs = 1000000;
constexpr int64_t kSec = 1000000000;
// PID_MAX_LIMIT (2^22) is one more than the largest pid Linux hands out.
constexpr pid_t kNoSuchPid = 1 << 22;

clockid_t ProcessCpuClock(pid_t pid, int type = 2) { return (~pid << 3) | type; }
clockid_t ThreadCpuClock(pid_t tid, int type = 2) { return (~tid << 3) | 4 | type; }

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

int64_t Ns(const timespec& ts) { return int64_t{ts.tv_sec} * kSec + ts.tv_nsec; }
int64_t Ns(const timeval& tv) { return int64_t{tv.tv_sec} * kSec + int64_t{tv.tv_usec} * 1000; }

int64_t ReadClock(clockid_t c) {
  timespec ts{};
  if (syscall(SYS_clock_gettime, c, &ts) != 0) return -1;
  return Ns(ts);
}

int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Ns(ts);
}

long ClockNanosleep(clockid_t c, int flags, const timespec* req, timespec* rem) {
  return syscall(SYS_clock_nanosleep, c, flags, req, rem);
}

// Spins until `done` says so or `max_wall_ns` of wall time passed (a bound
// only against hanging: never reached on a working kernel).
template <typename Done>
void SpinUntil(Done done, int64_t max_wall_ns = 60 * kSec) {
  const int64_t start = WallNs();
  volatile uint64_t x = 0;
  while (!done() && WallNs() - start < max_wall_ns) {
    for (int i = 0; i < 20000; ++i) x = x + i;
  }
}

// Spins until `c` caught its signal; `clock` read right after (-1: never caught).
int64_t SpinUntilCaught(const SignalCatcher& c, clockid_t clock) {
  int64_t at = -1;
  SpinUntil([&] {
    if (c.count() == 0) return false;  // read once: the signal may come any time
    at = ReadClock(clock);
    return true;
  });
  return at;
}

// Spins for `ns` of the calling thread's CPU time.
void BurnThread(int64_t ns) {
  const int64_t start = ReadClock(CLOCK_THREAD_CPUTIME_ID);
  SpinUntil([&] { return ReadClock(CLOCK_THREAD_CPUTIME_ID) - start >= ns; });
}

// A thread that burns CPU until told to stop.
class Spinner {
 public:
  Spinner() { pthread_create(&thread_, nullptr, &Spinner::Run, this); }
  ~Spinner() {
    stop_.store(true);
    pthread_join(thread_, nullptr);
  }
  pid_t tid() {
    while (tid_.load() == 0) sched_yield();
    return tid_.load();
  }
  pthread_t thread() const { return thread_; }

 private:
  static void* Run(void* arg) {
    auto* self = static_cast<Spinner*>(arg);
    self->tid_.store(Gettid());
    SpinUntil([self] { return self->stop_.load(); });
    return nullptr;
  }
  pthread_t thread_;
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> stop_{false};
};

// --- Clocks ---

TEST(CpuClockTest, ProcessClockCountsExitedThreads) {
  const int64_t before = ReadClock(CLOCK_PROCESS_CPUTIME_ID);
  int64_t thread_ns = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void* arg) -> void* {
                  BurnThread(200 * kMs);
                  *static_cast<int64_t*>(arg) = ReadClock(CLOCK_THREAD_CPUTIME_ID);
                  return nullptr;
                },
                &thread_ns),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_GE(thread_ns, 200 * kMs);
  // The thread is gone; its time stays in the process's.
  EXPECT_GE(ReadClock(CLOCK_PROCESS_CPUTIME_ID) - before, 200 * kMs);
  EXPECT_GE(ReadClock(ProcessCpuClock(getpid())) - before, 200 * kMs);
}

TEST(CpuClockTest, ProcessClockCountsLiveThreads) {
  Spinner s;
  const clockid_t other = ThreadCpuClock(s.tid());
  SpinUntil([&] { return ReadClock(other) >= 200 * kMs; });
  const int64_t thread_ns = ReadClock(other);
  EXPECT_GE(thread_ns, 200 * kMs);
  EXPECT_GE(ReadClock(CLOCK_PROCESS_CPUTIME_ID), thread_ns);
  // Our own thread's clock does not include it.
  EXPECT_LT(ReadClock(CLOCK_THREAD_CPUTIME_ID), ReadClock(CLOCK_PROCESS_CPUTIME_ID));
}

TEST(CpuClockTest, PthreadGetcpuclockidOfAnotherThread) {
  Spinner s;
  s.tid();
  clockid_t c;
  ASSERT_EQ(pthread_getcpuclockid(s.thread(), &c), 0);
  SpinUntil([&] { return ReadClock(c) >= 50 * kMs; });
  EXPECT_GE(ReadClock(c), 50 * kMs);
  timespec res;
  ASSERT_THAT(syscall(SYS_clock_getres, c, &res), SyscallSucceeds());
  EXPECT_EQ(Ns(res), 1);  // CPUCLOCK_SCHED
}

TEST(CpuClockTest, VirtIsAtMostProf) {
  BurnThread(20 * kMs);
  const int64_t virt = ReadClock(ProcessCpuClock(0, 1));
  const int64_t prof = ReadClock(ProcessCpuClock(0, 0));
  ASSERT_GE(virt, 0);
  EXPECT_LE(virt, prof);
  EXPECT_GT(prof, 0);
  const int64_t tvirt = ReadClock(ThreadCpuClock(0, 1));
  const int64_t tprof = ReadClock(ThreadCpuClock(0, 0));
  EXPECT_LE(tvirt, tprof);
}

TEST(CpuClockTest, TickClocksHaveATickResolution) {
  for (clockid_t c :
       {ProcessCpuClock(0, 0), ProcessCpuClock(0, 1), ThreadCpuClock(0, 0), ThreadCpuClock(0, 1)}) {
    timespec res;
    ASSERT_THAT(syscall(SYS_clock_getres, c, &res), SyscallSucceeds());
    EXPECT_GT(Ns(res), 1) << c;
    EXPECT_LE(Ns(res), 10 * kMs) << c;
  }
  for (clockid_t c : {ProcessCpuClock(0), ThreadCpuClock(0), clockid_t{CLOCK_PROCESS_CPUTIME_ID},
                      clockid_t{CLOCK_THREAD_CPUTIME_ID}}) {
    timespec res;
    ASSERT_THAT(syscall(SYS_clock_getres, c, &res), SyscallSucceeds());
    EXPECT_EQ(Ns(res), 1) << c;
  }
}

TEST(CpuClockTest, ProcessClockByAThreadsTid) {
  // clock_gettime finds the process by any of its tids... only the caller's
  // own: pid_for_clock(gettime) accepts the caller's tid; getres does not.
  pid_t tid = 0;
  int64_t got = -2;
  long getres_errno = 0;
  pthread_t th;
  struct Out {
    pid_t* tid;
    int64_t* got;
    long* getres_errno;
  } out{&tid, &got, &getres_errno};
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void* arg) -> void* {
                  auto* o = static_cast<Out*>(arg);
                  *o->tid = Gettid();
                  *o->got = ReadClock(ProcessCpuClock(*o->tid));
                  timespec res;
                  *o->getres_errno =
                      syscall(SYS_clock_getres, ProcessCpuClock(*o->tid), &res) == 0 ? 0 : errno;
                  return nullptr;
                },
                &out),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  EXPECT_GT(got, 0);
  EXPECT_EQ(getres_errno, EINVAL);
}

TEST(CpuClockTest, AnotherProcessesClock) {
  int ready[2], go[2];
  ASSERT_THAT(pipe(ready), SyscallSucceeds());
  ASSERT_THAT(pipe(go), SyscallSucceeds());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    BurnThread(200 * kMs);
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(1);
    // Blocked: no CPU time accrues.
    if (read(go[0], &c, 1) != 1) _exit(2);
    _exit(0);
  }
  char c;
  ASSERT_THAT(read(ready[0], &c, 1), SyscallSucceedsWithValue(1));
  clockid_t clock;
  ASSERT_EQ(clock_getcpuclockid(pid, &clock), 0);
  const int64_t a = ReadClock(clock);
  EXPECT_GE(a, 200 * kMs);
  usleep(300000);
  const int64_t b = ReadClock(clock);
  EXPECT_GE(b, a);
  EXPECT_LT(b - a, 100 * kMs) << "a blocked process used CPU time";
  // Its thread clock is not ours to read.
  timespec ts;
  EXPECT_THAT(syscall(SYS_clock_gettime, ThreadCpuClock(pid), &ts), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_getres, ThreadCpuClock(pid), &ts), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_getres, clock, &ts), SyscallSucceeds());
  ASSERT_THAT(write(go[1], &c, 1), SyscallSucceedsWithValue(1));
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Reaped: no such process.
  EXPECT_THAT(syscall(SYS_clock_gettime, clock, &ts), SyscallFailsWithErrno(EINVAL));
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
}

TEST(CpuClockTest, BadIdsAreEinval) {
  timespec ts;
  EXPECT_THAT(syscall(SYS_clock_gettime, ProcessCpuClock(kNoSuchPid), &ts),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_getres, ProcessCpuClock(kNoSuchPid), &ts),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_gettime, ThreadCpuClock(kNoSuchPid), &ts),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_getres, ProcessCpuClock(0, 3), &ts), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clock_gettime, ThreadCpuClock(0, 3), &ts), SyscallFailsWithErrno(EINVAL));
}

// --- clock_nanosleep on a CPU clock ---

TEST(CpuClockSleepTest, OnAnotherThreadsClock) {
  Spinner s;
  const clockid_t c = ThreadCpuClock(s.tid());
  const int64_t start = ReadClock(c);
  const timespec req = {0, 200 * kMs};
  ASSERT_THAT(ClockNanosleep(c, 0, &req, nullptr), SyscallSucceedsWithValue(0));
  EXPECT_GE(ReadClock(c) - start, 200 * kMs);
}

TEST(CpuClockSleepTest, OnOurProcessClockWhileAThreadWorks) {
  Spinner s;
  s.tid();
  const int64_t start = ReadClock(CLOCK_PROCESS_CPUTIME_ID);
  timespec deadline;
  syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &deadline);
  deadline.tv_sec += 1;
  ASSERT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &deadline, nullptr),
              SyscallSucceedsWithValue(0));
  EXPECT_GE(ReadClock(CLOCK_PROCESS_CPUTIME_ID), Ns(deadline));
  EXPECT_GE(ReadClock(CLOCK_PROCESS_CPUTIME_ID) - start, 1 * kSec);
}

void Nothing(int) {}

TEST(CpuClockSleepTest, InterruptedSleepReportsTheTimeLeft) {
  // Alone, our process clock hardly moves while we sleep on it: a signal
  // ends the sleep, with (about) the whole request left.
  struct sigaction sa = {}, old;
  sa.sa_handler = Nothing;
  ASSERT_THAT(sigaction(SIGALRM, &sa, &old), SyscallSucceeds());
  const itimerval it = {{0, 0}, {0, 200000}};
  ASSERT_THAT(setitimer(ITIMER_REAL, &it, nullptr), SyscallSucceeds());
  const timespec req = {10, 0};
  timespec rem = {};
  const int64_t wall = WallNs();
  EXPECT_THAT(ClockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, &rem),
              SyscallFailsWithErrno(EINTR));
  EXPECT_GE(WallNs() - wall, 150 * kMs);
  EXPECT_GT(Ns(rem), 9 * kSec);
  EXPECT_LE(Ns(rem), 10 * kSec);
  sigaction(SIGALRM, &old, nullptr);
}

TEST(CpuClockSleepTest, OwnThreadClockIsEinvalOthersAreNot) {
  const timespec req = {0, 1};
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(Gettid()), 0, &req, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(0), 0, &req, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ClockNanosleep(ThreadCpuClock(kNoSuchPid), 0, &req, nullptr),
              SyscallFailsWithErrno(EINVAL));
}

// --- setitimer(ITIMER_VIRTUAL / ITIMER_PROF) ---

void ItimerFiresOnABusyLoop(int which, int sig, clockid_t clock) {
  SignalCatcher c(sig);
  const int64_t start = ReadClock(clock);
  const itimerval it = {{0, 0}, {0, 100000}};  // 100 ms
  ASSERT_THAT(setitimer(which, &it, nullptr), SyscallSucceeds());
  const int64_t at = SpinUntilCaught(c, clock);
  ASSERT_EQ(c.count(), 1);
  EXPECT_EQ(c.code(), SI_KERNEL);
  EXPECT_GE(at - start, 100 * kMs);
  // One-shot: disarmed now.
  itimerval now;
  ASSERT_THAT(getitimer(which, &now), SyscallSucceeds());
  EXPECT_EQ(Ns(now.it_value), 0);
}

TEST(CpuItimerTest, VirtualFiresOnABusyLoop) {
  ItimerFiresOnABusyLoop(ITIMER_VIRTUAL, SIGVTALRM, ProcessCpuClock(0, 1));
}

TEST(CpuItimerTest, ProfFiresOnABusyLoop) {
  ItimerFiresOnABusyLoop(ITIMER_PROF, SIGPROF, ProcessCpuClock(0, 0));
}

TEST(CpuItimerTest, IntervalReloads) {
  SignalCatcher c(SIGPROF);
  const itimerval it = {{0, 20000}, {0, 20000}};  // every 20 ms
  ASSERT_THAT(setitimer(ITIMER_PROF, &it, nullptr), SyscallSucceeds());
  SpinUntil([&] { return c.count() >= 5; });
  const itimerval zero = {};
  itimerval old;
  ASSERT_THAT(setitimer(ITIMER_PROF, &zero, &old), SyscallSucceeds());
  EXPECT_GE(c.count(), 5);
  EXPECT_EQ(Ns(old.it_interval), 20 * kMs);
  EXPECT_GT(Ns(old.it_value), 0);
  EXPECT_LE(Ns(old.it_value), 1 * kSec);
}

TEST(CpuItimerTest, GetitimerCountsDownOnlyWithCpuTime) {
  SignalCatcher c(SIGVTALRM);
  const itimerval it = {{1, 0}, {5, 0}};
  ASSERT_THAT(setitimer(ITIMER_VIRTUAL, &it, nullptr), SyscallSucceeds());
  Cleanup off([] {
    const itimerval zero = {};
    setitimer(ITIMER_VIRTUAL, &zero, nullptr);
  });
  itimerval a;
  ASSERT_THAT(getitimer(ITIMER_VIRTUAL, &a), SyscallSucceeds());
  EXPECT_EQ(Ns(a.it_interval), 1 * kSec);
  EXPECT_GT(Ns(a.it_value), 4 * kSec);
  EXPECT_LE(Ns(a.it_value), 6 * kSec);
  // Waiting uses no user time: the timer hardly moves, and never fires.
  usleep(500000);
  itimerval b;
  ASSERT_THAT(getitimer(ITIMER_VIRTUAL, &b), SyscallSucceeds());
  EXPECT_GT(Ns(b.it_value), Ns(a.it_value) - 100 * kMs);
  EXPECT_EQ(c.count(), 0);
  // Work (user time) moves it.
  const int64_t user = ReadClock(ProcessCpuClock(0, 1));
  SpinUntil([&] { return ReadClock(ProcessCpuClock(0, 1)) - user >= 300 * kMs; });
  itimerval d;
  ASSERT_THAT(getitimer(ITIMER_VIRTUAL, &d), SyscallSucceeds());
  EXPECT_LT(Ns(d.it_value), Ns(b.it_value) - 200 * kMs);
}

TEST(CpuItimerTest, DoesNotFireWhileBlocked) {
  SignalCatcher c(SIGPROF);
  const itimerval it = {{0, 0}, {0, 50000}};  // 50 ms of CPU
  ASSERT_THAT(setitimer(ITIMER_PROF, &it, nullptr), SyscallSucceeds());
  usleep(500000);  // 500 ms of wall time, hardly any CPU
  EXPECT_EQ(c.count(), 0);
  const itimerval zero = {};
  ASSERT_THAT(setitimer(ITIMER_PROF, &zero, nullptr), SyscallSucceeds());
}

TEST(CpuItimerTest, AnotherThreadsWorkCounts) {
  SignalCatcher c(SIGVTALRM);
  const itimerval it = {{0, 0}, {0, 100000}};
  ASSERT_THAT(setitimer(ITIMER_VIRTUAL, &it, nullptr), SyscallSucceeds());
  {
    Spinner s;
    s.tid();
    // We only wait; the spinner's user time fires the process's timer.
    c.WaitFor(1, 30000);
  }
  EXPECT_EQ(c.count(), 1);
}

TEST(CpuItimerTest, ForkDoesNotInheritThem) {
  const itimerval it = {{0, 0}, {100, 0}};
  ASSERT_THAT(setitimer(ITIMER_PROF, &it, nullptr), SyscallSucceeds());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    itimerval v;
    if (getitimer(ITIMER_PROF, &v) != 0) _exit(1);
    _exit(v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0 ? 0 : 2);
  }
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const itimerval zero = {};
  setitimer(ITIMER_PROF, &zero, nullptr);
}

TEST(CpuItimerTest, BadWhichIsEinval) {
  itimerval v = {};
  EXPECT_THAT(setitimer(static_cast<__itimer_which>(3), &v, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(getitimer(static_cast<__itimer_which>(3), &v), SyscallFailsWithErrno(EINVAL));
}

// --- POSIX timers on CPU clocks ---

int TimerCreate(clockid_t c, sigevent* ev, int* id) {
  return static_cast<int>(syscall(SYS_timer_create, c, ev, id));
}

TEST(CpuPosixTimerTest, ProcessClockFiresAfterItsCpuTime) {
  SignalCatcher c(SIGUSR1);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 77;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const int64_t start = ReadClock(CLOCK_PROCESS_CPUTIME_ID);
  const itimerspec its = {{0, 0}, {0, 100 * kMs}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  // Blocked, it does not fire.
  usleep(400000);
  EXPECT_EQ(c.count(), 0);
  itimerspec left;
  ASSERT_THAT(syscall(SYS_timer_gettime, id, &left), SyscallSucceeds());
  EXPECT_GT(Ns(left.it_value), 50 * kMs);
  // Working, it does.
  const int64_t at = SpinUntilCaught(c, CLOCK_PROCESS_CPUTIME_ID);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.code(), SI_TIMER);
  EXPECT_GE(at - start, 100 * kMs);
  ASSERT_THAT(syscall(SYS_timer_gettime, id, &left), SyscallSucceeds());
  EXPECT_EQ(Ns(left.it_value), 0);
}

TEST(CpuPosixTimerTest, ThreadClockWithThreadIdAbsolute) {
  SignalCatcher c(SIGUSR2);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGUSR2;
  ev._sigev_un._tid = Gettid();
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_THREAD_CPUTIME_ID, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  timespec now;
  ASSERT_THAT(syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &now), SyscallSucceeds());
  const int64_t deadline = Ns(now) + 100 * kMs;
  const itimerspec its = {{0, 0}, {deadline / kSec, deadline % kSec}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, TIMER_ABSTIME, &its, nullptr), SyscallSucceeds());
  const int64_t at = SpinUntilCaught(c, CLOCK_THREAD_CPUTIME_ID);
  EXPECT_EQ(c.count(), 1);
  EXPECT_GE(at, deadline);
}

TEST(CpuPosixTimerTest, SigevNoneCountsDownWithWork) {
  sigevent ev = {};
  ev.sigev_notify = SIGEV_NONE;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 0}, {10, 0}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  BurnThread(200 * kMs);
  itimerspec left;
  ASSERT_THAT(syscall(SYS_timer_gettime, id, &left), SyscallSucceeds());
  EXPECT_LE(Ns(left.it_value), 10 * kSec - 150 * kMs);
  EXPECT_GT(Ns(left.it_value), 0);
}

TEST(CpuPosixTimerTest, IntervalOverruns) {
  SignalCatcher c(SIGUSR1);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  int id;
  ASSERT_THAT(TimerCreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 1 * kMs}, {0, 1 * kMs}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  BurnThread(200 * kMs);
  siginfo_t info;
  const timespec wait = {30, 0};
  ASSERT_THAT(sigtimedwait(&block, &info, &wait), SyscallSucceedsWithValue(SIGUSR1));
  EXPECT_EQ(info.si_code, SI_TIMER);
  EXPECT_GE(info.si_overrun, 1);
  const itimerspec zero = {};
  syscall(SYS_timer_settime, id, 0, &zero, nullptr);
  const timespec no_wait = {0, 0};
  sigtimedwait(&block, &info, &no_wait);
  sigprocmask(SIG_UNBLOCK, &block, nullptr);
}

TEST(CpuPosixTimerTest, OnAnotherProcessesClock) {
  SignalCatcher c(SIGUSR1);
  int go[2];
  ASSERT_THAT(pipe(go), SyscallSucceeds());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char ch;
    if (read(go[0], &ch, 1) != 1) _exit(1);
    BurnThread(60 * kSec);  // until killed
    _exit(0);
  }
  Cleanup reap([pid] {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  });
  sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  int id;
  // Its thread clocks are not ours; its process clock is.
  EXPECT_THAT(TimerCreate(ThreadCpuClock(pid), &ev, &id), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(TimerCreate(ProcessCpuClock(pid), &ev, &id), SyscallSucceeds());
  Cleanup del([id] { syscall(SYS_timer_delete, id); });
  const itimerspec its = {{0, 0}, {0, 100 * kMs}};
  ASSERT_THAT(syscall(SYS_timer_settime, id, 0, &its, nullptr), SyscallSucceeds());
  char ch = 1;
  ASSERT_THAT(write(go[1], &ch, 1), SyscallSucceedsWithValue(1));
  c.WaitFor(1, 60000);
  EXPECT_EQ(c.count(), 1);
  clockid_t clock;
  ASSERT_EQ(clock_getcpuclockid(pid, &clock), 0);
  EXPECT_GE(ReadClock(clock), 100 * kMs);
  close(go[0]);
  close(go[1]);
}

TEST(CpuPosixTimerTest, Errors) {
  int id;
  EXPECT_THAT(TimerCreate(ProcessCpuClock(kNoSuchPid), nullptr, &id),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(TimerCreate(ThreadCpuClock(kNoSuchPid), nullptr, &id), SyscallFailsWithErrno(EINVAL));
}

// --- RLIMIT_CPU ---

int g_xcpu_fd = -1;
void OnXcpu(int) {
  char c = 1;
  if (write(g_xcpu_fd, &c, 1) != 1) _exit(3);
}

TEST(RlimitCpuTest, SigxcpuAtTheSoftLimitThenSigkillAtTheHard) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[0]);
    g_xcpu_fd = p[1];
    struct sigaction sa = {};
    sa.sa_handler = OnXcpu;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGXCPU, &sa, nullptr) != 0) _exit(1);
    const rlimit lim = {1, 3};
    if (setrlimit(RLIMIT_CPU, &lim) != 0) _exit(2);
    BurnThread(120 * kSec);  // until killed
    _exit(0);
  }
  close(p[1]);
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  // SIGXCPU at 1 s and then every second: at 1 and 2 s, before SIGKILL at 3.
  char buf[16];
  const ssize_t n = read(p[0], buf, sizeof(buf));
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 3);
  close(p[0]);
}

TEST(RlimitCpuTest, SigxcpuKillsByDefault) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const rlimit lim = {1, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CPU, &lim) != 0) _exit(2);
    BurnThread(120 * kSec);
    _exit(0);
  }
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) << status;
}

TEST(RlimitCpuTest, TheSoftLimitMovesUpASecondAtEachSigxcpu) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXCPU, SIG_IGN);
    const rlimit lim = {1, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CPU, &lim) != 0) _exit(2);
    rlimit now = lim;
    SpinUntil([&] {
      getrlimit(RLIMIT_CPU, &now);
      return now.rlim_cur != 1;
    });
    _exit(now.rlim_cur == 2 ? 0 : 3);
  }
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(RlimitCpuTest, InheritedByForkWithTheChildsOwnTime) {
  // A limit set before fork applies to the child's own CPU time from 0.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const rlimit soft = {1, 1};
    if (setrlimit(RLIMIT_CPU, &soft) != 0) _exit(2);
    signal(SIGXCPU, SIG_IGN);
    const pid_t grandchild = fork();
    if (grandchild < 0) _exit(4);
    if (grandchild == 0) {
      BurnThread(120 * kSec);
      _exit(0);
    }
    int st;
    if (waitpid(grandchild, &st, 0) != grandchild) _exit(5);
    _exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 6);
  }
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace syscalls_test
