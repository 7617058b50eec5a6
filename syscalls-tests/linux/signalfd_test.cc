// signalfd(2), signalfd4(2): flags, the mask (size, update, SIGKILL/SIGSTOP
// dropped), reads (blocking, non-blocking, several at once), the
// signalfd_siginfo fields for kill, sigqueue and SIGCHLD, readiness, fork.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

long RawSignalfd4(int fd, const sigset_t* mask, size_t size, int flags) {
  return syscall(SYS_signalfd4, fd, mask, size, flags);
}

// Blocks `sigs` for the test's duration (signalfd reads only pending,
// blocked signals) and drops whatever of them is left pending at the end.
class SignalfdTest : public ::testing::Test {
 protected:
  void Block(std::initializer_list<int> sigs) {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : sigs) sigaddset(&s, sig);
    ASSERT_THAT(sigprocmask(SIG_BLOCK, &s, &old_), SyscallSucceeds());
    blocked_ = s;
    saved_ = true;
  }
  void TearDown() override {
    if (!saved_) return;
    // Take what is still pending, then restore the mask.
    struct timespec zero = {0, 0};
    while (sigtimedwait(&blocked_, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  sigset_t Mask(std::initializer_list<int> sigs) {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : sigs) sigaddset(&s, sig);
    return s;
  }
  sigset_t old_, blocked_;
  bool saved_ = false;
};

TEST_F(SignalfdTest, FlagsSetNonblockAndCloexec) {
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor a(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_TRUE(a.valid());
  EXPECT_NE(fcntl(a.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  FileDescriptor b(signalfd(-1, &m, 0));
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(fcntl(b.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(b.get(), F_GETFD), 0);
  EXPECT_EQ(fcntl(b.get(), F_GETFL) & O_ACCMODE, O_RDWR);
}

TEST_F(SignalfdTest, BadFlagsAreEinval) {
  sigset_t m = Mask({SIGUSR1});
  EXPECT_THAT(RawSignalfd4(-1, &m, 8, 0x1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SignalfdTest, BadMaskSizeIsEinval) {
  sigset_t m = Mask({SIGUSR1});
  EXPECT_THAT(RawSignalfd4(-1, &m, 4, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawSignalfd4(-1, &m, 16, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_signalfd, -1, &m, size_t{4}), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SignalfdTest, BadMaskPointerIsEfault) {
  EXPECT_THAT(RawSignalfd4(-1, reinterpret_cast<const sigset_t*>(8), 8, 0),
              SyscallFailsWithErrno(EFAULT));
}

TEST_F(SignalfdTest, UpdatingANonSignalfdIsEinval) {
  sigset_t m = Mask({SIGUSR1});
  int p[2];
  ASSERT_THAT(pipe2(p, O_CLOEXEC), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  EXPECT_THAT(RawSignalfd4(r.get(), &m, 8, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawSignalfd4(12345, &m, 8, 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(SignalfdTest, EmptyNonblockingReadIsEagain) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  struct signalfd_siginfo si;
  EXPECT_THAT(read(fd.get(), &si, sizeof(si)), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SignalfdTest, ShortBufferIsEinval) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  char buf[sizeof(struct signalfd_siginfo) - 1];
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SignalfdTest, KillFields) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  struct signalfd_siginfo si = {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(si.ssi_code, SI_USER);
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(si.ssi_uid, getuid());
  // Taken: no longer pending.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
}

TEST_F(SignalfdTest, SigqueueFields) {
  Block({SIGRTMIN});
  sigset_t m = Mask({SIGRTMIN});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  union sigval v;
  v.sival_int = 4242;
  ASSERT_THAT(sigqueue(getpid(), SIGRTMIN, v), SyscallSucceeds());
  struct signalfd_siginfo si = {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGRTMIN));
  EXPECT_EQ(si.ssi_code, SI_QUEUE);
  EXPECT_EQ(si.ssi_int, 4242);
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(getpid()));
}

TEST_F(SignalfdTest, RealTimeSignalsQueueAndReadTogether) {
  Block({SIGRTMIN + 1});
  sigset_t m = Mask({SIGRTMIN + 1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  for (int i = 0; i < 3; ++i) {
    union sigval v;
    v.sival_int = i;
    ASSERT_THAT(sigqueue(getpid(), SIGRTMIN + 1, v), SyscallSucceeds());
  }
  struct signalfd_siginfo si[4] = {};
  ASSERT_THAT(read(fd.get(), si, sizeof(si)), SyscallSucceedsWithValue(3 * sizeof(si[0])));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(si[i].ssi_int, i);
}

TEST_F(SignalfdTest, StandardSignalsDoNotQueueTwice) {
  Block({SIGUSR2});
  sigset_t m = Mask({SIGUSR2});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_THAT(kill(getpid(), SIGUSR2), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGUSR2), SyscallSucceeds());
  struct signalfd_siginfo si[2];
  EXPECT_THAT(read(fd.get(), si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si[0])));
}

TEST_F(SignalfdTest, OnlySignalsInTheMaskAreRead) {
  Block({SIGUSR1, SIGUSR2});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_THAT(kill(getpid(), SIGUSR2), SyscallSucceeds());
  struct signalfd_siginfo si;
  EXPECT_THAT(read(fd.get(), &si, sizeof(si)), SyscallFailsWithErrno(EAGAIN));
  sigset_t pending;
  sigpending(&pending);
  EXPECT_TRUE(sigismember(&pending, SIGUSR2));
}

TEST_F(SignalfdTest, UpdatingTheMask) {
  Block({SIGUSR1, SIGUSR2});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_THAT(kill(getpid(), SIGUSR2), SyscallSucceeds());
  sigset_t m2 = Mask({SIGUSR2});
  EXPECT_THAT(signalfd(fd.get(), &m2, 0), SyscallSucceedsWithValue(fd.get()));
  struct signalfd_siginfo si = {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR2));
  // The flags argument of an update changes nothing.
  EXPECT_NE(fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(SignalfdTest, SigkillAndSigstopAreDroppedSilently) {
  sigset_t m = Mask({SIGKILL, SIGSTOP, SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  // /proc/self/fdinfo shows the mask the file keeps.
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd.get());
  FILE* f = fopen(path, "r");
  ASSERT_NE(f, nullptr);
  char line[256];
  bool found = false;
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long mask;
    if (sscanf(line, "sigmask: %llx", &mask) == 1) {
      found = true;
      EXPECT_EQ(mask, 1ull << (SIGUSR1 - 1));
    }
  }
  fclose(f);
  EXPECT_TRUE(found);
}

TEST_F(SignalfdTest, BlockingReadWakesOnASignal) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_CLOEXEC));
  const pid_t pid = getpid();
  std::thread sender([pid] {
    usleep(50 * 1000);
    kill(pid, SIGUSR1);
  });
  struct signalfd_siginfo si = {};
  EXPECT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  sender.join();
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
}

TEST_F(SignalfdTest, PollReadiness) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  struct pollfd p = {fd.get(), POLLIN, 0};
  EXPECT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(0));
  ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  EXPECT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(p.revents, POLLIN);
}

TEST_F(SignalfdTest, EpollWakesOnASignal) {
  Block({SIGUSR2});
  sigset_t m = Mask({SIGUSR2});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  FileDescriptor ep(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u32 = 7;
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev), SyscallSucceeds());
  const pid_t pid = getpid();
  std::thread sender([pid] {
    usleep(50 * 1000);
    kill(pid, SIGUSR2);
  });
  struct epoll_event out = {};
  EXPECT_THAT(epoll_wait(ep.get(), &out, 1, 5000), SyscallSucceedsWithValue(1));
  sender.join();
  EXPECT_EQ(out.data.u32, 7u);
}

TEST_F(SignalfdTest, SigchldFields) {
  Block({SIGCHLD});
  sigset_t m = Mask({SIGCHLD});
  FileDescriptor fd(signalfd(-1, &m, SFD_CLOEXEC));
  const pid_t child = fork();
  if (child == 0) _exit(7);
  ASSERT_THAT(child, SyscallSucceeds());
  struct signalfd_siginfo si = {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGCHLD));
  EXPECT_EQ(si.ssi_code, CLD_EXITED);
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(child));
  EXPECT_EQ(si.ssi_status, 7);
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
}

TEST_F(SignalfdTest, AfterForkTheChildReadsItsOwnSignals) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  const int sfd = fd.get();
  EXPECT_TRUE(InForkedChild([sfd] {
    struct signalfd_siginfo si = {};
    // Nothing of the parent's is visible, the child's own is.
    CHILD_CHECK(read(sfd, &si, sizeof(si)) == -1 && errno == EAGAIN);
    CHILD_CHECK(kill(getpid(), SIGUSR1) == 0);
    CHILD_CHECK(read(sfd, &si, sizeof(si)) == sizeof(si));
    CHILD_CHECK(si.ssi_signo == SIGUSR1);
    CHILD_CHECK(si.ssi_pid == static_cast<uint32_t>(getpid()));
  }));
  // The parent's stays unread.
  struct signalfd_siginfo si;
  EXPECT_THAT(read(sfd, &si, sizeof(si)), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SignalfdTest, ThreadDirectedSignalIsReadByThatThread) {
  Block({SIGUSR1});
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  ASSERT_THAT(syscall(SYS_tgkill, getpid(), tid, SIGUSR1), SyscallSucceeds());
  struct signalfd_siginfo si = {};
  ASSERT_THAT(read(fd.get(), &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_code, SI_TKILL);
}

TEST_F(SignalfdTest, WriteIsEinval) {
  sigset_t m = Mask({SIGUSR1});
  FileDescriptor fd(signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
  struct signalfd_siginfo si = {};
  EXPECT_THAT(write(fd.get(), &si, sizeof(si)), SyscallFailsWithErrno(EINVAL));
}

}  // namespace
}  // namespace syscalls_test
