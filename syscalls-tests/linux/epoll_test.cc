// epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2),
// epoll_pwait(2), epoll_pwait2(2) over pipes and eventfds: level, edge and
// one-shot triggering, entries that belong to the description, nesting and
// loops, the epoll fd's own readiness, and the argument checks.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// struct epoll_event is packed: its fields are read by value, never bound to
// a reference (gtest's EXPECT_EQ would).
uint64_t DataOf(const epoll_event& e) { return e.data.u64; }
uint32_t EventsOf(const epoll_event& e) { return e.events; }

FileDescriptor NewEpoll() {
  FileDescriptor ep(epoll_create1(0));
  EXPECT_TRUE(ep.valid()) << strerror(errno);
  return ep;
}

FileDescriptor NewEventfd(unsigned v = 0) {
  FileDescriptor e(eventfd(v, EFD_NONBLOCK));
  EXPECT_TRUE(e.valid()) << strerror(errno);
  return e;
}

int Add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int Mod(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

// The events epoll_wait reports without waiting.
std::vector<struct epoll_event> Ready(int ep, int max = 16) {
  std::vector<struct epoll_event> ev(max);
  const int n = epoll_wait(ep, ev.data(), max, 0);
  EXPECT_GE(n, 0) << strerror(errno);
  ev.resize(n < 0 ? 0 : n);
  return ev;
}

void Signal(int efd) {
  const uint64_t one = 1;
  ASSERT_THAT(write(efd, &one, 8), SyscallSucceedsWithValue(8));
}

int64_t NowNs() {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

TEST(EpollCreateTest, SizeAndFlags) {
  EXPECT_THAT(epoll_create(0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(epoll_create(-1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(epoll_create1(O_NONBLOCK), SyscallFailsWithErrno(EINVAL));
  FileDescriptor a(epoll_create(1));
  ASSERT_TRUE(a.valid());
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(0));
  FileDescriptor b(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(b.valid());
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

TEST(EpollCreateTest, TheFdIsAnAnonymousInode) {
  FileDescriptor ep = NewEpoll();
  char buf[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(ep.get());
  ASSERT_THAT(readlink(link.c_str(), buf, sizeof(buf) - 1), SyscallSucceeds());
  EXPECT_EQ(std::string(buf), "anon_inode:[eventpoll]");
  char c;
  EXPECT_THAT(read(ep.get(), &c, 1), SyscallFailsWithErrno(EINVAL));
}

TEST(EpollCtlTest, Errors) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  const int closed = dup(0);
  close(closed);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  EXPECT_THAT(epoll_ctl(closed, EPOLL_CTL_ADD, e.get(), &ev), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, closed, &ev), SyscallFailsWithErrno(EBADF));
  // The first fd must be an epoll, and not the second.
  EXPECT_THAT(epoll_ctl(e.get(), EPOLL_CTL_ADD, e.get(), &ev), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, ep.get(), &ev), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(epoll_ctl(ep.get(), 42, e.get(), &ev), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_epoll_ctl, ep.get(), EPOLL_CTL_ADD, e.get(), kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  // DEL reads no event.
  EXPECT_THAT(syscall(SYS_epoll_ctl, ep.get(), EPOLL_CTL_DEL, e.get(), kKernelAddress),
              SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_MOD, e.get(), &ev), SyscallFailsWithErrno(ENOENT));
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, e.get(), &ev), SyscallSucceeds());
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, e.get(), &ev), SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_DEL, e.get(), nullptr), SyscallSucceeds());
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_DEL, e.get(), nullptr), SyscallFailsWithErrno(ENOENT));
}

TEST(EpollCtlTest, RegularFilesCannotBeWatched) {
  FileDescriptor ep = NewEpoll();
  char path[] = "/tmp/epoll_test.XXXXXX";
  FileDescriptor f(mkstemp(path));
  ASSERT_TRUE(f.valid());
  unlink(path);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, f.get(), &ev), SyscallFailsWithErrno(EPERM));
  // EPERM comes before the epoll fd's own check.
  EXPECT_THAT(epoll_ctl(f.get(), EPOLL_CTL_ADD, f.get(), &ev), SyscallFailsWithErrno(EPERM));
}

TEST(EpollCtlTest, ExclusiveRules) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor inner = NewEpoll();
  FileDescriptor e = NewEventfd();
  EXPECT_THAT(Add(ep.get(), e.get(), EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Add(ep.get(), inner.get(), EPOLLIN | EPOLLEXCLUSIVE, 0),
              SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, 0), SyscallSucceeds());
  EXPECT_THAT(Mod(ep.get(), e.get(), EPOLLIN, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Mod(ep.get(), e.get(), EPOLLIN | EPOLLEXCLUSIVE, 0), SyscallFailsWithErrno(EINVAL));
  Signal(e.get());
  EXPECT_EQ(Ready(ep.get()).size(), 1u);
}

TEST(EpollWaitTest, ArgumentChecks) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  struct epoll_event ev[4];
  EXPECT_THAT(epoll_wait(ep.get(), ev, 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_epoll_wait, ep.get(), ev, -1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_epoll_wait, ep.get(), kKernelAddress, 4, 0),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(epoll_wait(e.get(), ev, 4, 0), SyscallFailsWithErrno(EINVAL));
  const int closed = dup(0);
  close(closed);
  EXPECT_THAT(epoll_wait(closed, ev, 4, 0), SyscallFailsWithErrno(EBADF));
  // (Whether a bad fd or a bad maxevents is reported first changed in Linux
  // 6.15: the fd now comes first.)
}

TEST(EpollWaitTest, LevelTriggeredReportsWhileReady) {
  FileDescriptor ep = NewEpoll();
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(Add(ep.get(), p.r.get(), EPOLLIN, 7), SyscallSucceeds());
  EXPECT_TRUE(Ready(ep.get()).empty());
  ASSERT_THAT(write(p.w.get(), "ab", 2), SyscallSucceeds());
  for (int i = 0; i < 3; ++i) {
    auto ev = Ready(ep.get());
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(EventsOf(ev[0]), static_cast<uint32_t>(EPOLLIN));
    EXPECT_EQ(DataOf(ev[0]), 7u);
  }
  char buf[2];
  ASSERT_THAT(read(p.r.get(), buf, 2), SyscallSucceeds());
  EXPECT_TRUE(Ready(ep.get()).empty());
}

TEST(EpollWaitTest, EdgeTriggeredReportsEachNewEventOnce) {
  FileDescriptor ep = NewEpoll();
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(Add(ep.get(), p.r.get(), EPOLLIN | EPOLLET, 1), SyscallSucceeds());
  ASSERT_THAT(write(p.w.get(), "a", 1), SyscallSucceeds());
  EXPECT_EQ(Ready(ep.get()).size(), 1u);
  EXPECT_TRUE(Ready(ep.get()).empty());
  ASSERT_THAT(write(p.w.get(), "b", 1), SyscallSucceeds());
  EXPECT_EQ(Ready(ep.get()).size(), 1u);
  EXPECT_TRUE(Ready(ep.get()).empty());
}

TEST(EpollWaitTest, OneShotWaitsForMod) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd(1);
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN | EPOLLONESHOT, 1), SyscallSucceeds());
  EXPECT_EQ(Ready(ep.get()).size(), 1u);
  Signal(e.get());
  EXPECT_TRUE(Ready(ep.get()).empty());
  ASSERT_THAT(Mod(ep.get(), e.get(), EPOLLIN | EPOLLONESHOT, 2), SyscallSucceeds());
  auto ev = Ready(ep.get());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(DataOf(ev[0]), 2u);
}

TEST(EpollWaitTest, HangupAndErrorComeUnasked) {
  FileDescriptor ep = NewEpoll();
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(Add(ep.get(), p.r.get(), 0, 1), SyscallSucceeds());
  ASSERT_THAT(Add(ep.get(), p.w.get(), 0, 2), SyscallSucceeds());
  EXPECT_TRUE(Ready(ep.get()).empty());
  p.w.reset();
  auto ev = Ready(ep.get());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(EventsOf(ev[0]), static_cast<uint32_t>(EPOLLHUP));
  EXPECT_EQ(DataOf(ev[0]), 1u);
}

TEST(EpollWaitTest, TheWriterSeesErrorWhenTheReaderGoes) {
  FileDescriptor ep = NewEpoll();
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(Add(ep.get(), p.w.get(), EPOLLOUT, 2), SyscallSucceeds());
  p.r.reset();
  auto ev = Ready(ep.get());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(EventsOf(ev[0]), static_cast<uint32_t>(EPOLLOUT | EPOLLERR));
}

TEST(EpollWaitTest, MaxEventsLeavesTheRestForLater) {
  FileDescriptor ep = NewEpoll();
  std::vector<FileDescriptor> fds;
  for (int i = 0; i < 3; ++i) {
    fds.push_back(NewEventfd(1));
    ASSERT_THAT(Add(ep.get(), fds.back().get(), EPOLLIN | EPOLLET, i), SyscallSucceeds());
  }
  EXPECT_EQ(Ready(ep.get(), 2).size(), 2u);
  EXPECT_EQ(Ready(ep.get(), 2).size(), 1u);
  EXPECT_TRUE(Ready(ep.get(), 2).empty());
}

TEST(EpollWaitTest, TimesOut) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 0), SyscallSucceeds());
  struct epoll_event ev;
  const int64_t start = NowNs();
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 20), SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 20000000);
}

TEST(EpollWaitTest, EntriesBelongToTheDescription) {
  FileDescriptor ep = NewEpoll();
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(Add(ep.get(), p.r.get(), EPOLLIN, 5), SyscallSucceeds());
  // Another fd still holds the description: the entry stays, under the old fd.
  FileDescriptor d(dup(p.r.get()));
  const int old = p.r.get();
  p.r.reset();
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  auto ev = Ready(ep.get());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(DataOf(ev[0]), 5u);
  EXPECT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_DEL, old, nullptr), SyscallFailsWithErrno(EBADF));
  // The last reference gone, the entry goes: nothing is reported, and the
  // (description, fd) pair can be added afresh.
  d.reset();
  EXPECT_TRUE(Ready(ep.get()).empty());
  Pipe q = MakePipe(O_NONBLOCK);
  ASSERT_EQ(q.r.get(), old);
  EXPECT_THAT(Add(ep.get(), q.r.get(), EPOLLIN, 6), SyscallSucceeds());
}

TEST(EpollWaitTest, OneDescriptionUnderTwoFdsIsTwoEntries) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd(1);
  FileDescriptor d(dup(e.get()));
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 1), SyscallSucceeds());
  ASSERT_THAT(Add(ep.get(), d.get(), EPOLLIN, 2), SyscallSucceeds());
  EXPECT_EQ(Ready(ep.get()).size(), 2u);
}

TEST(EpollWaitTest, TheEpollFdIsReadableWhenAnEntryIs) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 0), SyscallSucceeds());
  struct pollfd pfd = {ep.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(0));
  Signal(e.get());
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN);
}

TEST(EpollNestingTest, AnEpollInsideAnEpoll) {
  FileDescriptor outer = NewEpoll();
  FileDescriptor inner = NewEpoll();
  FileDescriptor e = NewEventfd();
  ASSERT_THAT(Add(inner.get(), e.get(), EPOLLIN, 1), SyscallSucceeds());
  ASSERT_THAT(Add(outer.get(), inner.get(), EPOLLIN, 2), SyscallSucceeds());
  EXPECT_TRUE(Ready(outer.get()).empty());
  Signal(e.get());
  auto ev = Ready(outer.get());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(DataOf(ev[0]), 2u);
  EXPECT_EQ(EventsOf(ev[0]), static_cast<uint32_t>(EPOLLIN));
}

TEST(EpollNestingTest, LoopsAreEloop) {
  FileDescriptor a = NewEpoll(), b = NewEpoll(), c = NewEpoll();
  ASSERT_THAT(Add(a.get(), b.get(), EPOLLIN, 0), SyscallSucceeds());
  ASSERT_THAT(Add(b.get(), c.get(), EPOLLIN, 0), SyscallSucceeds());
  EXPECT_THAT(Add(c.get(), a.get(), EPOLLIN, 0), SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(Add(b.get(), a.get(), EPOLLIN, 0), SyscallFailsWithErrno(ELOOP));
}

TEST(EpollNestingTest, ChainsAreLimited) {
  std::vector<FileDescriptor> chain;
  chain.push_back(NewEpoll());
  int added = 0;
  for (int i = 0; i < 8; ++i) {
    FileDescriptor next = NewEpoll();
    if (Add(chain.back().get(), next.get(), EPOLLIN, 0) != 0) {
      EXPECT_EQ(errno, ELOOP);
      break;
    }
    chain.push_back(std::move(next));
    ++added;
  }
  EXPECT_GE(added, 4);  // EP_MAX_NESTS
  EXPECT_LT(added, 8);
}

TEST(EpollPwaitTest, SigmaskArguments) {
  FileDescriptor ep = NewEpoll();
  struct epoll_event ev;
  const uint64_t mask = uint64_t{1} << (SIGUSR1 - 1);
  EXPECT_THAT(syscall(SYS_epoll_pwait, ep.get(), &ev, 1, 0, &mask, size_t{4}),
              SyscallFailsWithErrno(EINVAL));
  // The sigset size is checked before maxevents.
  EXPECT_THAT(syscall(SYS_epoll_pwait, ep.get(), &ev, 0, 0, &mask, size_t{4}),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_epoll_pwait, ep.get(), &ev, 1, 0, &mask, size_t{8}),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(syscall(SYS_epoll_pwait, ep.get(), &ev, 1, 0, nullptr, size_t{4}),
              SyscallSucceedsWithValue(0));
  sigset_t now;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &now), SyscallSucceeds());
  EXPECT_FALSE(sigismember(&now, SIGUSR1));
}

TEST(EpollPwaitTest, Pwait2TakesATimespec) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd(1);
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 3), SyscallSucceeds());
  struct epoll_event ev;
  EXPECT_THAT(syscall(SYS_epoll_pwait2, ep.get(), &ev, 1, nullptr, nullptr, size_t{8}),
              SyscallSucceedsWithValue(1));
  EXPECT_EQ(DataOf(ev), 3u);
  struct timespec bad = {0, 1000000000};
  EXPECT_THAT(syscall(SYS_epoll_pwait2, ep.get(), &ev, 1, &bad, nullptr, size_t{8}),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_epoll_pwait2, ep.get(), &ev, 1, kKernelAddress, nullptr, size_t{8}),
              SyscallFailsWithErrno(EFAULT));
  uint64_t v;
  ASSERT_THAT(read(e.get(), &v, 8), SyscallSucceeds());
  struct timespec ts = {0, 10000000};
  const int64_t start = NowNs();
  EXPECT_THAT(syscall(SYS_epoll_pwait2, ep.get(), &ev, 1, &ts, nullptr, size_t{8}),
              SyscallSucceedsWithValue(0));
  EXPECT_GE(NowNs() - start, 10000000);
}

TEST(EpollFdinfoTest, ListsTheEntries) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN | EPOLLET, 0xabc), SyscallSucceeds());
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(ep.get()));
  std::stringstream ss;
  ss << in.rdbuf();
  char want[64];
  snprintf(want, sizeof(want), "tfd: %8d events: %8x data: %16x", e.get(),
           EPOLLIN | EPOLLET | EPOLLERR | EPOLLHUP, 0xabc);
  EXPECT_THAT(ss.str(), ::testing::HasSubstr(want));
}

TEST(EpollWaitTest, AnEventFromAnotherThreadWakesIt) {
  FileDescriptor ep = NewEpoll();
  FileDescriptor e = NewEventfd();
  ASSERT_THAT(Add(ep.get(), e.get(), EPOLLIN, 9), SyscallSucceeds());
  std::thread t([&] {
    usleep(20000);
    Signal(e.get());
  });
  struct epoll_event ev;
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 5000), SyscallSucceedsWithValue(1));
  t.join();
}

}  // namespace
}  // namespace syscalls_test
