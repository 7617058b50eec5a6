// timerfd_create(2), timerfd_settime(2), timerfd_gettime(2), and reading,
// polling and ioctl on a timerfd.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr int64_t kNanos = 1000000000;
constexpr int64_t kMs = 1000000;
// TFD_IOC_SET_TICKS: _IOW('T', 0, __u64) (not in glibc's headers).
constexpr unsigned long kSetTicks = 0x40085400;
void* const kBadAddress = reinterpret_cast<void*>(8);

int64_t ToNanos(const timespec& ts) { return ts.tv_sec * kNanos + ts.tv_nsec; }
timespec FromNanos(int64_t ns) { return {static_cast<time_t>(ns / kNanos), ns % kNanos}; }

int64_t Now(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return ToNanos(ts);
}

itimerspec Spec(int64_t value_ns, int64_t interval_ns = 0) {
  return {FromNanos(interval_ns), FromNanos(value_ns)};
}

long TimerfdSettime(int fd, int flags, const itimerspec* value, itimerspec* old) {
  return syscall(SYS_timerfd_settime, fd, flags, value, old);
}
long TimerfdGettime(int fd, itimerspec* cur) { return syscall(SYS_timerfd_gettime, fd, cur); }

FileDescriptor NewTimerfd(clockid_t clock = CLOCK_MONOTONIC, int flags = 0) {
  FileDescriptor fd(timerfd_create(clock, flags));
  EXPECT_TRUE(fd.valid()) << "timerfd_create: " << strerror(errno);
  return fd;
}

// The expiration count, read (blocking unless the fd is non-blocking).
ssize_t ReadCount(int fd, uint64_t* count) { return read(fd, count, sizeof(*count)); }

// --- timerfd_create ---

TEST(TimerfdCreateTest, TheClocksItTakes) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    FileDescriptor fd(timerfd_create(c, 0));
    EXPECT_THAT(fd.get(), SyscallSucceeds()) << "clock " << c;
  }
  for (clockid_t c : {CLOCK_TAI, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                      CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, -1, 12, 100}) {
    EXPECT_THAT(timerfd_create(c, 0), SyscallFailsWithErrno(EINVAL)) << "clock " << c;
  }
}

TEST(TimerfdCreateTest, AlarmClocksNeedCapWakeAlarm) {
  for (clockid_t c : {CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM}) {
    FileDescriptor fd(timerfd_create(c, 0));
    if (HaveCapability(CAP_WAKE_ALARM)) {
      EXPECT_THAT(fd.get(), SyscallSucceeds()) << "clock " << c;
    } else {
      EXPECT_THAT(fd.get(), SyscallFailsWithErrno(EPERM)) << "clock " << c;
    }
  }
}

TEST(TimerfdCreateTest, UnknownFlagsAreInvalid) {
  EXPECT_THAT(timerfd_create(CLOCK_MONOTONIC, 4), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(timerfd_create(CLOCK_MONOTONIC, O_APPEND), SyscallFailsWithErrno(EINVAL));
  // The flags are checked with the clock.
  EXPECT_THAT(timerfd_create(12345, 4), SyscallFailsWithErrno(EINVAL));
}

TEST(TimerfdCreateTest, NonblockAndCloexec) {
  FileDescriptor plain = NewTimerfd();
  EXPECT_THAT(fcntl(plain.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR));
  EXPECT_THAT(fcntl(plain.get(), F_GETFD), SyscallSucceedsWithValue(0));
  FileDescriptor both = NewTimerfd(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  EXPECT_THAT(fcntl(both.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_NONBLOCK));
  EXPECT_THAT(fcntl(both.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

TEST(TimerfdCreateTest, WhatItLooksLike) {
  FileDescriptor fd = NewTimerfd();
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  // An anonymous inode: no file type, mode 0600.
  EXPECT_EQ(st.st_mode, static_cast<mode_t>(S_IRUSR | S_IWUSR));
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, 0);
  char link[64] = {};
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());
  ASSERT_THAT(readlink(path.c_str(), link, sizeof(link) - 1), SyscallSucceeds());
  EXPECT_STREQ(link, "anon_inode:[timerfd]");
}

// --- reading and writing ---

TEST(TimerfdReadTest, ANewTimerIsDisarmed) {
  FileDescriptor fd = NewTimerfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_EQ(ToNanos(cur.it_value), 0);
  EXPECT_EQ(ToNanos(cur.it_interval), 0);
  uint64_t n;
  EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EAGAIN));
}

TEST(TimerfdReadTest, LessThanEightBytesIsInvalid) {
  FileDescriptor fd = NewTimerfd();  // blocking, and never armed: checked first
  uint32_t small;
  EXPECT_THAT(read(fd.get(), &small, sizeof(small)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(read(fd.get(), &small, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(TimerfdReadTest, WritingIsInvalid) {
  FileDescriptor fd = NewTimerfd();
  uint64_t v = 1;
  EXPECT_THAT(write(fd.get(), &v, sizeof(v)), SyscallFailsWithErrno(EINVAL));
}

TEST(TimerfdReadTest, ItHasNoPositionButLseekSucceeds) {
  FileDescriptor fd = NewTimerfd();
  uint64_t v;
  EXPECT_THAT(pread(fd.get(), &v, sizeof(v), 0), SyscallFailsWithErrno(ESPIPE));
  // noop_llseek.
  EXPECT_THAT(lseek(fd.get(), 100, SEEK_SET), SyscallSucceedsWithValue(0));
}

TEST(TimerfdReadTest, ABlockingReadWaitsForTheExpiry) {
  FileDescriptor fd = NewTimerfd();
  const int64_t start = Now(CLOCK_MONOTONIC);
  const itimerspec value = Spec(10 * kMs);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  uint64_t n = 0;
  ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
  EXPECT_EQ(n, 1u);
  EXPECT_GE(Now(CLOCK_MONOTONIC) - start, 10 * kMs);
  // A one-shot timer is disarmed once it expired, and the count was taken.
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_EQ(ToNanos(cur.it_value), 0);
  ASSERT_THAT(fcntl(fd.get(), F_SETFL, O_NONBLOCK), SyscallSucceeds());
  EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EAGAIN));
}

TEST(TimerfdReadTest, AbsoluteTimersOnEveryClockNeverFireEarly) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    FileDescriptor fd = NewTimerfd(c);
    const int64_t deadline = Now(c) + 5 * kMs;
    const itimerspec value = Spec(deadline);
    ASSERT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_ABSTIME, &value, nullptr), SyscallSucceeds());
    uint64_t n = 0;
    ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8)) << "clock " << c;
    EXPECT_EQ(n, 1u);
    EXPECT_GE(Now(c), deadline) << "clock " << c;
  }
}

TEST(TimerfdReadTest, AnAbsoluteTimeInThePastExpiresAtOnce) {
  FileDescriptor fd = NewTimerfd(CLOCK_MONOTONIC);
  const itimerspec value = Spec(1);  // 1 ns after the clock's zero
  ASSERT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_ABSTIME, &value, nullptr), SyscallSucceeds());
  uint64_t n = 0;
  ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
  EXPECT_EQ(n, 1u);
}

TEST(TimerfdReadTest, APeriodicTimerCountsThePeriodsThatPassed) {
  FileDescriptor fd = NewTimerfd();
  const int64_t start = Now(CLOCK_MONOTONIC);
  const itimerspec value = Spec(1 * kMs, 1 * kMs);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  const timespec nap = FromNanos(20 * kMs);
  ASSERT_THAT(nanosleep(&nap, nullptr), SyscallSucceeds());
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    uint64_t n = 0;
    ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
    EXPECT_GE(n, 1u);
    total += n;
  }
  const int64_t elapsed = Now(CLOCK_MONOTONIC) - start;
  // Never more expirations than periods that passed, and every read got some.
  EXPECT_LE(total, static_cast<uint64_t>(elapsed / kMs));
  EXPECT_GE(total, 3u);
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_EQ(ToNanos(cur.it_interval), 1 * kMs);
  EXPECT_GT(ToNanos(cur.it_value), 0);
  EXPECT_LE(ToNanos(cur.it_value), 1 * kMs);
}

TEST(TimerfdReadTest, DupsShareTheTimer) {
  FileDescriptor fd = NewTimerfd();
  FileDescriptor other(dup(fd.get()));
  ASSERT_TRUE(other.valid());
  const itimerspec value = Spec(1 * kMs);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  uint64_t n = 0;
  ASSERT_THAT(ReadCount(other.get(), &n), SyscallSucceedsWithValue(8));
  EXPECT_EQ(n, 1u);
}

TEST(TimerfdReadTest, ManyTimersEachExpireOnce) {
  std::vector<FileDescriptor> fds;
  for (int i = 0; i < 64; ++i) {
    fds.push_back(NewTimerfd());
    const itimerspec value = Spec((64 - i) * 100000);  // the last expires first
    ASSERT_THAT(TimerfdSettime(fds.back().get(), 0, &value, nullptr), SyscallSucceeds());
  }
  for (FileDescriptor& fd : fds) {
    uint64_t n = 0;
    ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
    EXPECT_EQ(n, 1u);
  }
}

// A blocking read and a signal from another process: with SA_RESTART the read
// goes on until the timer expires; without, it ends with EINTR.
class TimerfdSignalTest : public ::testing::TestWithParam<bool> {};

TEST_P(TimerfdSignalTest, ABlockingReadAndAHandler) {
  const bool restart = GetParam();
  SignalCatcher c(SIGUSR1, restart ? SA_RESTART : 0);
  ASSERT_TRUE(c.ok());
  FileDescriptor fd = NewTimerfd();
  const itimerspec value = Spec(restart ? 300 * kMs : 30 * kNanos);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_THAT(child, SyscallSucceeds());
  if (child == 0) {
    const timespec nap = FromNanos(50 * kMs);
    nanosleep(&nap, nullptr);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  uint64_t n = 0;
  if (restart) {
    EXPECT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
    EXPECT_EQ(n, 1u);
  } else {
    EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EINTR));
  }
  EXPECT_EQ(c.count(), 1);
  int status = 0;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

INSTANTIATE_TEST_SUITE_P(Restart, TimerfdSignalTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SaRestart" : "NoRestart";
                         });

// --- timerfd_settime and timerfd_gettime ---

TEST(TimerfdSettimeTest, ReturnsTheOldSettingAndGettimeCountsDown) {
  FileDescriptor fd = NewTimerfd();
  const itimerspec first = Spec(100 * kNanos, 7 * kNanos);
  itimerspec old;
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &first, &old), SyscallSucceeds());
  EXPECT_EQ(ToNanos(old.it_value), 0);
  EXPECT_EQ(ToNanos(old.it_interval), 0);
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_GT(ToNanos(cur.it_value), 90 * kNanos);
  EXPECT_LE(ToNanos(cur.it_value), 100 * kNanos);
  EXPECT_EQ(ToNanos(cur.it_interval), 7 * kNanos);
  const itimerspec second = Spec(0);  // disarms
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &second, &old), SyscallSucceeds());
  EXPECT_GT(ToNanos(old.it_value), 90 * kNanos);
  EXPECT_LE(ToNanos(old.it_value), ToNanos(cur.it_value));
  EXPECT_EQ(ToNanos(old.it_interval), 7 * kNanos);
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_EQ(ToNanos(cur.it_value), 0);
  EXPECT_EQ(ToNanos(cur.it_interval), 0);
}

TEST(TimerfdSettimeTest, AnAbsoluteSettingReadsBackAsTimeLeft) {
  FileDescriptor fd = NewTimerfd(CLOCK_REALTIME);
  const itimerspec value = Spec(Now(CLOCK_REALTIME) + 50 * kNanos);
  ASSERT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_ABSTIME, &value, nullptr), SyscallSucceeds());
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_GT(ToNanos(cur.it_value), 40 * kNanos);
  EXPECT_LE(ToNanos(cur.it_value), 50 * kNanos);
}

TEST(TimerfdSettimeTest, SettingAgainDiscardsExpirationsNotRead) {
  FileDescriptor fd = NewTimerfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
  const itimerspec soon = Spec(1);
  ASSERT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_ABSTIME, &soon, nullptr), SyscallSucceeds());
  pollfd pfd = {fd.get(), POLLIN, 0};
  // Wait for the expiry without consuming it (poll, or a short sleep where
  // poll is missing).
  if (poll(&pfd, 1, 1000) != 1) {
    const timespec nap = FromNanos(20 * kMs);
    nanosleep(&nap, nullptr);
  }
  const itimerspec later = Spec(100 * kNanos);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &later, nullptr), SyscallSucceeds());
  uint64_t n;
  EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EAGAIN));
}

TEST(TimerfdSettimeTest, InvalidArguments) {
  FileDescriptor fd = NewTimerfd();
  itimerspec value = Spec(kNanos);
  EXPECT_THAT(TimerfdSettime(fd.get(), 4, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  value.it_value.tv_nsec = kNanos;
  EXPECT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  value = Spec(kNanos);
  value.it_value.tv_nsec = -1;
  EXPECT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  value = Spec(kNanos);
  value.it_value.tv_sec = -1;
  EXPECT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  value = Spec(kNanos);
  value.it_interval.tv_nsec = kNanos;
  EXPECT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  // Nothing was set.
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_EQ(ToNanos(cur.it_value), 0);
}

TEST(TimerfdSettimeTest, TheOrderOfTheChecks) {
  const itimerspec value = Spec(kNanos);
  // The new value is read first, then the flags and the value are checked,
  // then the fd, then its kind.
  EXPECT_THAT(TimerfdSettime(-1, 4, nullptr, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(TimerfdSettime(-1, 4, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(TimerfdSettime(-1, 0, &value, nullptr), SyscallFailsWithErrno(EBADF));
  FileDescriptor null(open("/dev/null", O_RDONLY));
  ASSERT_TRUE(null.valid());
  EXPECT_THAT(TimerfdSettime(null.get(), 0, &value, nullptr), SyscallFailsWithErrno(EINVAL));
  itimerspec cur;
  EXPECT_THAT(TimerfdGettime(-1, &cur), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(TimerfdGettime(null.get(), &cur), SyscallFailsWithErrno(EINVAL));
}

TEST(TimerfdSettimeTest, ABadOldValuePointerFailsAfterTheSetting) {
  FileDescriptor fd = NewTimerfd();
  const itimerspec value = Spec(100 * kNanos);
  EXPECT_THAT(TimerfdSettime(fd.get(), 0, &value, static_cast<itimerspec*>(kBadAddress)),
              SyscallFailsWithErrno(EFAULT));
  itimerspec cur;
  ASSERT_THAT(TimerfdGettime(fd.get(), &cur), SyscallSucceeds());
  EXPECT_GT(ToNanos(cur.it_value), 90 * kNanos);
  EXPECT_THAT(TimerfdGettime(fd.get(), static_cast<itimerspec*>(kBadAddress)),
              SyscallFailsWithErrno(EFAULT));
}

TEST(TimerfdSettimeTest, CancelOnSetIsAcceptedAndQuietWhileTheClockIsNotSet) {
  // Setting the wall clock to see ECANCELED would change the host's time (and
  // the sandbox cannot set it): only that the flag is accepted, alone or with
  // TFD_TIMER_ABSTIME, and cancels nothing by itself.
  FileDescriptor fd = NewTimerfd(CLOCK_REALTIME, TFD_NONBLOCK);
  const itimerspec abs = Spec(Now(CLOCK_REALTIME) + 100 * kNanos);
  ASSERT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, nullptr),
              SyscallSucceeds());
  uint64_t n;
  EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EAGAIN));
  const itimerspec rel = Spec(100 * kNanos);
  EXPECT_THAT(TimerfdSettime(fd.get(), TFD_TIMER_CANCEL_ON_SET, &rel, nullptr), SyscallSucceeds());
  FileDescriptor mono = NewTimerfd(CLOCK_MONOTONIC);
  EXPECT_THAT(
      TimerfdSettime(mono.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &rel, nullptr),
      SyscallSucceeds());
}

// --- ioctl ---

TEST(TimerfdIoctlTest, SetTicks) {
  FileDescriptor fd = NewTimerfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
  uint64_t ticks = 0;
  EXPECT_THAT(ioctl(fd.get(), kSetTicks, &ticks), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ioctl(fd.get(), kSetTicks, kBadAddress), SyscallFailsWithErrno(EFAULT));
  ticks = 5;
  ASSERT_THAT(ioctl(fd.get(), kSetTicks, &ticks), SyscallSucceeds());
  uint64_t n = 0;
  ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
  EXPECT_EQ(n, 5u);
  EXPECT_THAT(ReadCount(fd.get(), &n), SyscallFailsWithErrno(EAGAIN));
}

TEST(TimerfdIoctlTest, OtherCommandsAreNotForATimerfd) {
  FileDescriptor fd = NewTimerfd();
  int n;
  EXPECT_THAT(ioctl(fd.get(), FIONREAD, &n), SyscallFailsWithErrno(ENOTTY));
  EXPECT_THAT(ioctl(fd.get(), 0x1234, 0), SyscallFailsWithErrno(ENOTTY));
}

// --- readiness ---

TEST(TimerfdPollTest, ReadableOnceExpired) {
  FileDescriptor fd = NewTimerfd();
  pollfd pfd = {fd.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(0));
  const itimerspec value = Spec(5 * kMs);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  ASSERT_THAT(poll(&pfd, 1, 10000), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN);  // never writable
  uint64_t n;
  ASSERT_THAT(ReadCount(fd.get(), &n), SyscallSucceedsWithValue(8));
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(0));
}

TEST(TimerfdPollTest, EpollHearsTheExpiry) {
  FileDescriptor fd = NewTimerfd();
  FileDescriptor ep(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_THAT(ep.get(), SyscallSucceeds());
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), SyscallSucceeds());
  const itimerspec value = Spec(5 * kMs);
  ASSERT_THAT(TimerfdSettime(fd.get(), 0, &value, nullptr), SyscallSucceeds());
  epoll_event out = {};
  ASSERT_THAT(epoll_wait(ep.get(), &out, 1, 10000), SyscallSucceedsWithValue(1));
  EXPECT_EQ(out.events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(out.data.u64, 42u);
}

}  // namespace
}  // namespace syscalls_test
