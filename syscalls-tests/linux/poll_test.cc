// poll(2), ppoll(2), select(2), pselect6(2) over pipes, eventfds and regular
// files: readiness, POLLNVAL and EBADF, timeouts and the time-left
// write-back, the signal-mask argument, and the argument checks.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

int64_t NowNs() {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A closed fd number.
int ClosedFd() {
  const int fd = dup(0);
  close(fd);
  return fd;
}

// The kernel's sigset_t: 8 bytes.
uint64_t SigBit(int sig) { return uint64_t{1} << (sig - 1); }

// --- poll ---

TEST(PollTest, NothingToWatchSleepsForTheTimeout) {
  const int64_t start = NowNs();
  EXPECT_THAT(poll(nullptr, 0, 20), SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 20000000);
}

TEST(PollTest, APipeEndsReadiness) {
  Pipe p = MakePipe(O_NONBLOCK);
  struct pollfd fds[2] = {{p.r.get(), POLLIN, 0}, {p.w.get(), POLLOUT, 0}};
  ASSERT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLOUT);
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  ASSERT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(2));
  EXPECT_EQ(fds[0].revents, POLLIN);
}

TEST(PollTest, OnlyTheAskedEventsAndErrorsComeBack) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  struct pollfd fds[2] = {{p.r.get(), POLLOUT, 0}, {p.w.get(), POLLIN, 0}};
  EXPECT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, 0);
  p.r.reset();
  // POLLERR and POLLHUP come whether asked or not.
  EXPECT_THAT(poll(&fds[1], 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(fds[1].revents, POLLERR);
}

TEST(PollTest, NegativeFdsAreIgnoredAndClosedOnesArePollnval) {
  const int closed = ClosedFd();
  struct pollfd fds[3] = {{-1, POLLIN, 77}, {closed, POLLIN, 0}, {-5, POLLOUT, 0}};
  ASSERT_THAT(poll(fds, 3, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLNVAL);
  EXPECT_EQ(fds[2].revents, 0);
}

TEST(PollTest, TheSameFdTwiceCountsTwice) {
  Pipe p = MakePipe(O_NONBLOCK);
  struct pollfd fds[2] = {{p.w.get(), POLLOUT, 0}, {p.w.get(), POLLOUT, 0}};
  EXPECT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(2));
}

TEST(PollTest, RegularFilesAreAlwaysReady) {
  char path[] = "/tmp/poll_test.XXXXXX";
  FileDescriptor f(mkstemp(path));
  ASSERT_TRUE(f.valid());
  unlink(path);
  struct pollfd pfd = {f.get(), POLLIN | POLLOUT | POLLPRI, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN | POLLOUT);
}

TEST(PollTest, AnEmptyPipeTimesOut) {
  Pipe p = MakePipe(O_NONBLOCK);
  struct pollfd pfd = {p.r.get(), POLLIN, 0};
  const int64_t start = NowNs();
  EXPECT_THAT(poll(&pfd, 1, 30), SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 30000000);
  EXPECT_EQ(pfd.revents, 0);
}

TEST(PollTest, ReadyBeforeTheTimeoutReturnsAtOnce) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  struct pollfd pfd = {p.r.get(), POLLIN, 0};
  EXPECT_THAT(poll(&pfd, 1, -1), SyscallSucceedsWithValue(1));
}

TEST(PollTest, MoreFdsThanTheLimitIsEinval) {
  struct rlimit rl;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &rl), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_poll, nullptr, rl.rlim_cur + 1, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(PollTest, ABadArrayIsEfault) {
  EXPECT_THAT(syscall(SYS_poll, kKernelAddress, 1, 0), SyscallFailsWithErrno(EFAULT));
}

TEST(PollTest, AnEventfdBecomesReadable) {
  FileDescriptor e(eventfd(0, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  struct pollfd pfd = {e.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLOUT);
  uint64_t one = 1;
  ASSERT_THAT(write(e.get(), &one, 8), SyscallSucceeds());
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN | POLLOUT);
}

TEST(PollTest, AWriteFromAnotherThreadWakesIt) {
  Pipe p = MakePipe(O_NONBLOCK);
  std::thread writer([&] {
    usleep(20000);
    ASSERT_EQ(write(p.w.get(), "x", 1), 1);
  });
  struct pollfd pfd = {p.r.get(), POLLIN, 0};
  EXPECT_THAT(poll(&pfd, 1, 5000), SyscallSucceedsWithValue(1));
  writer.join();
}

// Sends SIGUSR1 to this process after `us` microseconds, from a child.
pid_t SignalLater(useconds_t us) {
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child == 0) {
    // Only once the parent waits (state S): a signal that came before its
    // wait would be handled before it, and the wait would run out (a busy
    // machine can hold the parent back longer than `us`).
    const std::string stat = "/proc/" + std::to_string(parent) + "/stat";
    for (int i = 0; i < 5000; ++i) {
      const std::string s = ReadWholeFile(stat);
      const size_t paren = s.rfind(')');
      if (paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'S') break;
      usleep(1000);
    }
    usleep(us);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  return child;
}

// poll is never restarted around a handler, SA_RESTART or not: EINTR.
TEST(PollTest, AHandledSignalIsEintr) {
  SignalCatcher c(SIGUSR1, SA_RESTART);
  ASSERT_TRUE(c.ok());
  Pipe p = MakePipe(O_NONBLOCK);
  const pid_t child = SignalLater(20000);
  ASSERT_GT(child, 0);
  struct pollfd pfd = {p.r.get(), POLLIN, 0};
  EXPECT_THAT(poll(&pfd, 1, 5000), SyscallFailsWithErrno(EINTR));
  EXPECT_EQ(c.count(), 1);
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
}

// The signal ppoll's mask lets in ends the wait, and its handler runs with
// that mask; the old mask is back afterwards.
TEST(PpollTest, TheMaskLetsASignalIn) {
  SignalCatcher c(SIGUSR1, 0);
  ASSERT_TRUE(c.ok());
  sigset_t block, saved;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_THAT(sigprocmask(SIG_BLOCK, &block, &saved), SyscallSucceeds());
  Cleanup restore_mask([&] { sigprocmask(SIG_SETMASK, &saved, nullptr); });
  const pid_t child = SignalLater(20000);
  ASSERT_GT(child, 0);
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
  EXPECT_EQ(c.count(), 0);  // blocked: pending
  const uint64_t none = 0;
  const struct timespec ts = {5, 0};
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &ts, &none, size_t{8}), SyscallFailsWithErrno(EINTR));
  EXPECT_EQ(c.count(), 1);
  sigset_t now;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &now), SyscallSucceeds());
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
}

// --- ppoll ---

TEST(PpollTest, TheTimeLeftIsWrittenBack) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  struct pollfd pfd = {p.r.get(), POLLIN, 0};
  struct timespec ts = {10, 0};
  ASSERT_THAT(syscall(SYS_ppoll, &pfd, 1, &ts, nullptr, size_t{8}), SyscallSucceedsWithValue(1));
  EXPECT_EQ(ts.tv_sec, 9);  // just under ten seconds left
  EXPECT_GT(ts.tv_nsec, 0);
  // On timing out, nothing is left.
  ASSERT_THAT(read(p.r.get(), &ts, 1), SyscallSucceeds());
  ts = {0, 10000000};
  ASSERT_THAT(syscall(SYS_ppoll, &pfd, 1, &ts, nullptr, size_t{8}), SyscallSucceedsWithValue(0));
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_EQ(ts.tv_nsec, 0);
}

TEST(PpollTest, BadTimeoutsAreEinval) {
  struct timespec ts = {0, 1000000000};
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &ts, nullptr, size_t{8}),
              SyscallFailsWithErrno(EINVAL));
  ts = {-1, 0};
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &ts, nullptr, size_t{8}),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, kKernelAddress, nullptr, size_t{8}),
              SyscallFailsWithErrno(EFAULT));
}

TEST(PpollTest, TheSigsetSizeMustBe8WhenThereIsAMask) {
  const uint64_t mask = SigBit(SIGUSR1);
  const struct timespec zero = {0, 0};
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &zero, &mask, size_t{4}),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &zero, nullptr, size_t{4}),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &zero, kKernelAddress, size_t{8}),
              SyscallFailsWithErrno(EFAULT));
}

TEST(PpollTest, TheMaskIsOnlyForTheWait) {
  sigset_t before;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &before), SyscallSucceeds());
  const uint64_t mask = SigBit(SIGUSR2);
  const struct timespec ts = {0, 1000000};
  EXPECT_THAT(syscall(SYS_ppoll, nullptr, 0, &ts, &mask, size_t{8}), SyscallSucceedsWithValue(0));
  sigset_t after;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &after), SyscallSucceeds());
  EXPECT_EQ(sigismember(&after, SIGUSR2), sigismember(&before, SIGUSR2));
}

TEST(PpollTest, TooManyFdsBeforeTheArrayIsRead) {
  struct rlimit rl;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &rl), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_ppoll, kKernelAddress, rl.rlim_cur + 1, nullptr, nullptr, size_t{8}),
              SyscallFailsWithErrno(EINVAL));
}

// --- select ---

TEST(SelectTest, ReportsReadableAndWritableFds) {
  Pipe p = MakePipe(O_NONBLOCK);
  const int n = std::max(p.r.get(), p.w.get()) + 1;
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(p.r.get(), &rd);
  FD_SET(p.w.get(), &wr);
  struct timeval tv = {0, 0};
  ASSERT_THAT(select(n, &rd, &wr, nullptr, &tv), SyscallSucceedsWithValue(1));
  EXPECT_FALSE(FD_ISSET(p.r.get(), &rd));
  EXPECT_TRUE(FD_ISSET(p.w.get(), &wr));
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  FD_SET(p.r.get(), &rd);
  FD_SET(p.w.get(), &wr);
  // Both ends in both sets: each ready condition counts.
  FD_SET(p.r.get(), &wr);
  FD_SET(p.w.get(), &rd);
  ASSERT_THAT(select(n, &rd, &wr, nullptr, &tv), SyscallSucceedsWithValue(2));
  EXPECT_TRUE(FD_ISSET(p.r.get(), &rd));
  EXPECT_TRUE(FD_ISSET(p.w.get(), &wr));
  EXPECT_FALSE(FD_ISSET(p.w.get(), &rd));
  EXPECT_FALSE(FD_ISSET(p.r.get(), &wr));
}

TEST(SelectTest, TimeoutClearsTheSetsAndTheTimeLeft) {
  Pipe p = MakePipe(O_NONBLOCK);
  fd_set rd, ex;
  FD_ZERO(&rd);
  FD_ZERO(&ex);
  FD_SET(p.r.get(), &rd);
  FD_SET(p.r.get(), &ex);
  struct timeval tv = {0, 20000};
  const int64_t start = NowNs();
  ASSERT_THAT(select(p.r.get() + 1, &rd, nullptr, &ex, &tv), SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 20000000);
  EXPECT_FALSE(FD_ISSET(p.r.get(), &rd));
  EXPECT_FALSE(FD_ISSET(p.r.get(), &ex));
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
}

TEST(SelectTest, TheTimeLeftIsWrittenBack) {
  Pipe p = MakePipe(O_NONBLOCK);
  fd_set wr;
  FD_ZERO(&wr);
  FD_SET(p.w.get(), &wr);
  // Microseconds past a second carry into the seconds (no EINVAL).
  struct timeval tv = {1, 2500000};
  ASSERT_THAT(select(p.w.get() + 1, nullptr, &wr, nullptr, &tv), SyscallSucceedsWithValue(1));
  EXPECT_EQ(tv.tv_sec, 3);
  EXPECT_GT(tv.tv_usec, 400000);
}

TEST(SelectTest, BadArguments) {
  struct timeval tv = {-1, 0};
  EXPECT_THAT(select(0, nullptr, nullptr, nullptr, &tv), SyscallFailsWithErrno(EINVAL));
  tv = {0, -1};
  EXPECT_THAT(select(0, nullptr, nullptr, nullptr, &tv), SyscallFailsWithErrno(EINVAL));
  tv = {0, 0};
  EXPECT_THAT(syscall(SYS_select, -1, nullptr, nullptr, nullptr, &tv),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_select, 1, nullptr, nullptr, nullptr, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_select, 1, kKernelAddress, nullptr, nullptr, &tv),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SelectTest, AClosedFdInASetIsEbadf) {
  const int closed = ClosedFd();
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(closed, &rd);
  struct timeval tv = {0, 0};
  EXPECT_THAT(select(closed + 1, &rd, nullptr, nullptr, &tv), SyscallFailsWithErrno(EBADF));
  // Beyond nfds, the bit is not looked at.
  EXPECT_THAT(select(closed, &rd, nullptr, nullptr, &tv), SyscallSucceedsWithValue(0));
}

TEST(SelectTest, NullSetsJustSleep) {
  struct timeval tv = {0, 10000};
  const int64_t start = NowNs();
  EXPECT_THAT(select(0, nullptr, nullptr, nullptr, &tv), SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 10000000);
}

// --- pselect6 ---

// pselect6's sixth argument: {const sigset_t *ss; size_t ss_len}.
struct SigsetArg {
  const uint64_t* ss;
  size_t len;
};

TEST(Pselect6Test, TimespecTimeoutAndWriteBack) {
  Pipe p = MakePipe(O_NONBLOCK);
  fd_set wr;
  FD_ZERO(&wr);
  FD_SET(p.w.get(), &wr);
  struct timespec ts = {5, 0};
  ASSERT_THAT(syscall(SYS_pselect6, p.w.get() + 1, nullptr, &wr, nullptr, &ts, nullptr),
              SyscallSucceedsWithValue(1));
  EXPECT_EQ(ts.tv_sec, 4);
  ts = {0, 1000000000};
  EXPECT_THAT(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, nullptr),
              SyscallFailsWithErrno(EINVAL));
}

TEST(Pselect6Test, TheSigmaskArgument) {
  const uint64_t mask = SigBit(SIGUSR1);
  struct timespec ts = {0, 0};
  SigsetArg bad_len = {&mask, 4};
  EXPECT_THAT(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &bad_len),
              SyscallFailsWithErrno(EINVAL));
  SigsetArg no_mask = {nullptr, 4};
  EXPECT_THAT(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &no_mask),
              SyscallSucceedsWithValue(0));
  SigsetArg good = {&mask, 8};
  EXPECT_THAT(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &good),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  sigset_t now;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &now), SyscallSucceeds());
  EXPECT_FALSE(sigismember(&now, SIGUSR1));
}

}  // namespace
}  // namespace syscalls_test
