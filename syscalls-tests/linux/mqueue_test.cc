// POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive,
// mq_notify, mq_getsetattr (the raw syscalls, whose names have no leading
// '/'), the descriptor as a file (read, poll, epoll, fstat) and the
// /proc/sys/fs/mqueue limits.
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using ::testing::HasSubstr;

int RawOpen(const char* name, int oflag, mode_t mode = 0, const mq_attr* attr = nullptr) {
  return static_cast<int>(syscall(SYS_mq_open, name, oflag, mode, attr));
}
int RawUnlink(const char* name) { return static_cast<int>(syscall(SYS_mq_unlink, name)); }
int Send(int fd, const std::string& m, unsigned prio, const timespec* ts = nullptr) {
  return static_cast<int>(syscall(SYS_mq_timedsend, fd, m.data(), m.size(), prio, ts));
}
ssize_t Receive(int fd, char* buf, size_t len, unsigned* prio, const timespec* ts = nullptr) {
  return syscall(SYS_mq_timedreceive, fd, buf, len, prio, ts);
}
int Notify(int fd, const sigevent* ev) { return static_cast<int>(syscall(SYS_mq_notify, fd, ev)); }
int GetSetAttr(int fd, const mq_attr* set, mq_attr* old) {
  return static_cast<int>(syscall(SYS_mq_getsetattr, fd, set, old));
}

// A queue name of this test process, unlinked when the test ends.
class QueueName {
 public:
  QueueName() {
    static std::atomic<int> n{0};
    name_ = "mqtest." + std::to_string(getpid()) + "." + std::to_string(n++);
  }
  ~QueueName() { RawUnlink(name_.c_str()); }
  const char* c_str() const { return name_.c_str(); }

 private:
  std::string name_;
};

mq_attr Attr(long maxmsg, long msgsize) {
  mq_attr a{};
  a.mq_maxmsg = maxmsg;
  a.mq_msgsize = msgsize;
  return a;
}

timespec RealtimeIn(long ms) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += ms * 1000000L;
  ts.tv_sec += ts.tv_nsec / 1000000000L;
  ts.tv_nsec %= 1000000000L;
  return ts;
}

long ElapsedMs(const timespec& start) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

std::string ReadSysctl(const char* name) {
  std::ifstream f(std::string("/proc/sys/fs/mqueue/") + name);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Writes a sysctl with write(2): the errno, or 0.
int WriteSysctl(const char* name, const std::string& v) {
  FileDescriptor fd(open((std::string("/proc/sys/fs/mqueue/") + name).c_str(), O_WRONLY));
  if (!fd.valid()) return errno;
  if (write(fd.get(), v.data(), v.size()) < 0) return errno;
  return 0;
}

// Runs `fn` in a forked child (InForkedChild) that first unshares its IPC
// namespace: its own queues and /proc/sys/fs/mqueue. Needs CAP_SYS_ADMIN.
::testing::AssertionResult InNewIpcNamespace(const std::function<void()>& fn) {
  return InForkedChild([&] {
    CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
    fn();
  });
}

// Restores a sysctl at scope exit.
Cleanup KeepSysctl(const char* name) {
  std::string old = ReadSysctl(name);
  return Cleanup([name, old] { WriteSysctl(name, old); });
}

// --- mq_open ---

TEST(MqueueTest, CreateThenOpenExisting) {
  QueueName n;
  FileDescriptor a(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(a.valid()) << strerror(errno);
  FileDescriptor b(RawOpen(n.c_str(), O_RDONLY));
  EXPECT_TRUE(b.valid()) << strerror(errno);
}

TEST(MqueueTest, GlibcWrapperWorks) {
  QueueName n;
  std::string slash = std::string("/") + n.c_str();
  mqd_t q = mq_open(slash.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
  ASSERT_NE(q, static_cast<mqd_t>(-1)) << strerror(errno);
  EXPECT_THAT(mq_send(q, "hi", 2, 1), SyscallSucceeds());
  char buf[8192];
  unsigned prio = 0;
  EXPECT_THAT(mq_receive(q, buf, sizeof(buf), &prio), SyscallSucceedsWithValue(2));
  EXPECT_EQ(prio, 1u);
  mq_close(q);
  EXPECT_THAT(mq_unlink(slash.c_str()), SyscallSucceeds());
}

TEST(MqueueTest, OpenMissingIsENOENT) {
  QueueName n;
  EXPECT_THAT(RawOpen(n.c_str(), O_RDWR), SyscallFailsWithErrno(ENOENT));
}

TEST(MqueueTest, CreateExclusiveOfExistingIsEEXIST) {
  QueueName n;
  FileDescriptor a(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(a.valid());
  EXPECT_THAT(RawOpen(n.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600), SyscallFailsWithErrno(EEXIST));
  // O_CREAT alone opens it.
  FileDescriptor b(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  EXPECT_TRUE(b.valid());
}

TEST(MqueueTest, FullFdTableIsEMFILEAndCreatesNothing) {
  QueueName n;
  EXPECT_TRUE(InForkedChild([&] {
    // Every fd below the limit in use.
    const int lowest = dup(0);
    CHILD_CHECK(lowest >= 0);
    CHILD_CHECK(close(lowest) == 0);
    rlimit old;
    CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit rl = old;
    rl.rlim_cur = static_cast<rlim_t>(lowest);
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600) == -1 && errno == EMFILE);
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) == -1 && errno == ENOENT);
  }));
}

TEST(MqueueTest, EmptyNameIsENOENT) {
  // getname refuses an empty string before the queue name rules.
  EXPECT_THAT(RawOpen("", O_CREAT | O_RDWR, 0600), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(RawUnlink(""), SyscallFailsWithErrno(ENOENT));
}

TEST(MqueueTest, BadNamesAreEACCES) {
  EXPECT_THAT(RawOpen(".", O_CREAT | O_RDWR, 0600), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(RawOpen("..", O_CREAT | O_RDWR, 0600), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(RawOpen("a/b", O_CREAT | O_RDWR, 0600), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(RawUnlink("a/b"), SyscallFailsWithErrno(EACCES));
}

TEST(MqueueTest, NameLengthLimit) {
  std::string longest(255, 'q');
  FileDescriptor a(RawOpen(longest.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(a.valid()) << strerror(errno);
  EXPECT_THAT(RawUnlink(longest.c_str()), SyscallSucceeds());
  std::string too_long(256, 'q');
  EXPECT_THAT(RawOpen(too_long.c_str(), O_CREAT | O_RDWR, 0600),
              SyscallFailsWithErrno(ENAMETOOLONG));
}

TEST(MqueueTest, BadNamePointerIsEFAULT) {
  EXPECT_THAT(RawOpen(reinterpret_cast<const char*>(8), O_CREAT | O_RDWR, 0600),
              SyscallFailsWithErrno(EFAULT));
}

TEST(MqueueTest, DefaultAttributes) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  mq_attr a{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &a), SyscallSucceeds());
  EXPECT_EQ(a.mq_maxmsg,
            std::min(std::stol(ReadSysctl("msg_max")), std::stol(ReadSysctl("msg_default"))));
  EXPECT_EQ(a.mq_msgsize, std::min(std::stol(ReadSysctl("msgsize_max")),
                                   std::stol(ReadSysctl("msgsize_default"))));
  EXPECT_EQ(a.mq_curmsgs, 0);
  EXPECT_EQ(a.mq_flags, 0);
}

TEST(MqueueTest, GivenAttributes) {
  QueueName n;
  mq_attr want = Attr(3, 64);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR | O_NONBLOCK, 0600, &want));
  ASSERT_TRUE(q.valid());
  mq_attr a{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &a), SyscallSucceeds());
  EXPECT_EQ(a.mq_maxmsg, 3);
  EXPECT_EQ(a.mq_msgsize, 64);
  EXPECT_EQ(a.mq_flags, O_NONBLOCK);
}

TEST(MqueueTest, NonPositiveAttributesAreEINVAL) {
  QueueName n;
  mq_attr a = Attr(0, 64);
  EXPECT_THAT(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a), SyscallFailsWithErrno(EINVAL));
  a = Attr(4, -1);
  EXPECT_THAT(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a), SyscallFailsWithErrno(EINVAL));
  // Nothing was created.
  EXPECT_THAT(RawOpen(n.c_str(), O_RDWR), SyscallFailsWithErrno(ENOENT));
}

TEST(MqueueTest, AttributesAboveTheHardLimitsAreEINVAL) {
  QueueName n;
  mq_attr a = Attr(65537, 64);
  EXPECT_THAT(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a), SyscallFailsWithErrno(EINVAL));
  a = Attr(4, 16 * 1024 * 1024 + 1);
  EXPECT_THAT(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a), SyscallFailsWithErrno(EINVAL));
}

TEST(MqueueTest, AboveMsgMaxNeedsCapSysResource) {
  SKIP_IF(!HaveCapability(CAP_SYS_RESOURCE));
  const long msg_max = std::stol(ReadSysctl("msg_max"));
  QueueName n;
  mq_attr a = Attr(msg_max + 1, 64);
  // Root may go past msg_max (up to the hard limit)...
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  EXPECT_TRUE(q.valid()) << strerror(errno);
  // ... an unprivileged process may not.
  std::string other = std::string(n.c_str()) + ".u";
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(RawOpen(other.c_str(), O_CREAT | O_RDWR, 0600, &a) == -1 && errno == EINVAL);
  }));
  RawUnlink(other.c_str());
}

TEST(MqueueTest, AttributesIgnoredWithoutOCreat) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  mq_attr bad = Attr(0, 0);
  FileDescriptor b(RawOpen(n.c_str(), O_RDWR, 0, &bad));
  EXPECT_TRUE(b.valid());
}

TEST(MqueueTest, BothAccessBitsOnExistingAreEINVAL) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_THAT(RawOpen(n.c_str(), O_WRONLY | O_RDWR), SyscallFailsWithErrno(EINVAL));
}

TEST(MqueueTest, ModeHonoursUmaskAndOwner) {
  QueueName n;
  mode_t old = umask(022);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0666));
  umask(old);
  ASSERT_TRUE(q.valid());
  struct stat st;
  ASSERT_THAT(fstat(q.get(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST(MqueueTest, PermissionIsChecked) {
  SKIP_IF(geteuid() != 0);
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0604));
  ASSERT_TRUE(q.valid());
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    // Others may read, not write.
    int fd = RawOpen(n.c_str(), O_RDONLY);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(RawOpen(n.c_str(), O_WRONLY) == -1 && errno == EACCES);
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) == -1 && errno == EACCES);
  }));
}

TEST(MqueueTest, AlwaysCloseOnExec) {
  // do_mq_open takes its fd with O_CLOEXEC, whatever the flags say.
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_THAT(fcntl(q.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  FileDescriptor b(RawOpen(n.c_str(), O_RDWR));
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

// --- mq_unlink ---

TEST(MqueueTest, UnlinkRemovesTheNameNotTheQueue) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(RawUnlink(n.c_str()), SyscallSucceeds());
  EXPECT_THAT(RawOpen(n.c_str(), O_RDWR), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(RawUnlink(n.c_str()), SyscallFailsWithErrno(ENOENT));
  // The open descriptor still works.
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  char buf[8192];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceedsWithValue(1));
  // And the name can be made again, as a new queue.
  FileDescriptor r(RawOpen(n.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));
  EXPECT_TRUE(r.valid());
}

TEST(MqueueTest, UnlinkOfAnotherUsersQueueIsEPERM) {
  SKIP_IF(geteuid() != 0);
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0666));
  ASSERT_TRUE(q.valid());
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(RawUnlink(n.c_str()) == -1 && errno == EPERM);
  }));
  EXPECT_THAT(RawUnlink(n.c_str()), SyscallSucceeds());
}

// --- mq_timedsend / mq_timedreceive ---

TEST(MqueueTest, RoundTripKeepsBytesAndPriority) {
  QueueName n;
  mq_attr a = Attr(4, 16);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  std::string msg("a\0b\xff", 4);
  ASSERT_THAT(Send(q.get(), msg, 7), SyscallSucceeds());
  char buf[16];
  unsigned prio = 0;
  ASSERT_THAT(Receive(q.get(), buf, sizeof(buf), &prio), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), msg);
  EXPECT_EQ(prio, 7u);
}

TEST(MqueueTest, HighestPriorityFirstFifoWithin) {
  QueueName n;
  mq_attr a = Attr(8, 16);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "low1", 1), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "high1", 9), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "low2", 1), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "high2", 9), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "mid", 5), SyscallSucceeds());
  const char* want[] = {"high1", "high2", "mid", "low1", "low2"};
  for (const char* w : want) {
    char buf[16];
    ssize_t r = Receive(q.get(), buf, sizeof(buf), nullptr);
    ASSERT_GE(r, 0);
    EXPECT_EQ(std::string(buf, r), w);
  }
}

TEST(MqueueTest, ZeroLengthMessage) {
  QueueName n;
  mq_attr a = Attr(2, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "", 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceedsWithValue(0));
}

TEST(MqueueTest, PriorityLimit) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_THAT(Send(q.get(), "x", 32768), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Send(q.get(), "x", 32767), SyscallSucceeds());
}

TEST(MqueueTest, MessageSizeLimits) {
  QueueName n;
  mq_attr a = Attr(2, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  EXPECT_THAT(Send(q.get(), "123456789", 0), SyscallFailsWithErrno(EMSGSIZE));
  ASSERT_THAT(Send(q.get(), "12345678", 0), SyscallSucceeds());
  char buf[8];
  // The buffer must hold mq_msgsize bytes, whatever the message's length.
  EXPECT_THAT(Receive(q.get(), buf, 7, nullptr), SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(Receive(q.get(), buf, 8, nullptr), SyscallSucceedsWithValue(8));
}

TEST(MqueueTest, WrongAccessModeIsEBADF) {
  QueueName n;
  FileDescriptor w(RawOpen(n.c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_TRUE(w.valid());
  FileDescriptor r(RawOpen(n.c_str(), O_RDONLY));
  ASSERT_TRUE(r.valid());
  char buf[8192];
  EXPECT_THAT(Send(r.get(), "x", 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Receive(w.get(), buf, sizeof(buf), nullptr), SyscallFailsWithErrno(EBADF));
}

TEST(MqueueTest, NotAQueueIsEBADF) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  char buf[8192];
  EXPECT_THAT(Send(w.get(), "x", 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Receive(r.get(), buf, sizeof(buf), nullptr), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Notify(r.get(), nullptr), SyscallFailsWithErrno(EBADF));
  mq_attr a;
  EXPECT_THAT(GetSetAttr(r.get(), nullptr, &a), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Send(-1, "x", 0), SyscallFailsWithErrno(EBADF));
}

TEST(MqueueTest, NonblockingFullAndEmptyAreEAGAIN) {
  QueueName n;
  mq_attr a = Attr(2, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR | O_NONBLOCK, 0600, &a));
  ASSERT_TRUE(q.valid());
  char buf[8];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Send(q.get(), "1", 0), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "2", 0), SyscallSucceeds());
  EXPECT_THAT(Send(q.get(), "3", 0), SyscallFailsWithErrno(EAGAIN));
}

TEST(MqueueTest, ReceiveTimesOut) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  char buf[8192];
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  timespec ts = RealtimeIn(50);
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr, &ts), SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_GE(ElapsedMs(start), 40);
}

TEST(MqueueTest, SendTimesOutWhenFull) {
  QueueName n;
  mq_attr a = Attr(1, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "1", 0), SyscallSucceeds());
  timespec ts = RealtimeIn(30);
  EXPECT_THAT(Send(q.get(), "2", 0, &ts), SyscallFailsWithErrno(ETIMEDOUT));
}

TEST(MqueueTest, InvalidTimeoutIsEINVALEvenWhenNotWaiting) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  timespec bad{0, 1000000000};
  EXPECT_THAT(Send(q.get(), "1", 0, &bad), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(Send(q.get(), "1", 0), SyscallSucceeds());
  char buf[8192];
  timespec neg{-1, 0};
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr, &neg), SyscallFailsWithErrno(EINVAL));
  // Checked before the descriptor.
  EXPECT_THAT(Receive(-1, buf, sizeof(buf), nullptr, &neg), SyscallFailsWithErrno(EINVAL));
}

TEST(MqueueTest, PastDeadlineStillTakesAWaitingMessage) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "abc", 0), SyscallSucceeds());
  timespec past{1, 0};
  char buf[8192];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr, &past), SyscallSucceedsWithValue(3));
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr, &past), SyscallFailsWithErrno(ETIMEDOUT));
}

TEST(MqueueTest, BlockedReceiverWokenByAnotherProcess) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  pid_t child = fork();
  if (child == 0) {
    usleep(50000);
    _exit(Send(q.get(), "wake", 3) == 0 ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  char buf[8192];
  unsigned prio = 0;
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), &prio), SyscallSucceedsWithValue(4));
  EXPECT_EQ(prio, 3u);
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(MqueueTest, BlockedSenderWokenByAnotherProcess) {
  QueueName n;
  mq_attr a = Attr(1, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "first", 0), SyscallSucceeds());
  pid_t child = fork();
  if (child == 0) {
    usleep(50000);
    char buf[8];
    _exit(Receive(q.get(), buf, sizeof(buf), nullptr) == 5 ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  EXPECT_THAT(Send(q.get(), "second", 0), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char buf[8];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceedsWithValue(6));
}

void NoopHandler(int) {}

TEST(MqueueTest, BlockedReceiveInterruptedBySignal) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  struct sigaction sa {
  }, old{};
  sa.sa_handler = NoopHandler;  // no SA_RESTART
  ASSERT_THAT(sigaction(SIGALRM, &sa, &old), SyscallSucceeds());
  Cleanup restore([&] { sigaction(SIGALRM, &old, nullptr); });
  ualarm(50000, 0);
  char buf[8192];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallFailsWithErrno(EINTR));
}

TEST(MqueueTest, BadBufferIsEFAULT) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_THAT(syscall(SYS_mq_timedsend, q.get(), 8, size_t{4}, 0, nullptr),
              SyscallFailsWithErrno(EFAULT));
}

// --- mq_notify ---

class MqueueNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    ASSERT_THAT(sigprocmask(SIG_BLOCK, &s, &old_), SyscallSucceeds());
  }
  void TearDown() override {
    // Drop a pending SIGUSR1 before unblocking it.
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    timespec zero{0, 0};
    while (sigtimedwait(&s, nullptr, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  // The pending SIGUSR1, if any: its siginfo's si_code or -1.
  bool TakeSignal(siginfo_t* info, long wait_ms = 0) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    timespec t{wait_ms / 1000, (wait_ms % 1000) * 1000000};
    return sigtimedwait(&s, info, &t) == SIGUSR1;
  }
  static sigevent SignalEvent(int value) {
    sigevent ev{};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = value;
    return ev;
  }
  sigset_t old_;
  QueueName n_;
};

TEST_F(MqueueNotifyTest, SignalWhenEmptyQueueGetsAMessage) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(42);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info{};
  ASSERT_TRUE(TakeSignal(&info, 1000));
  EXPECT_EQ(info.si_code, SI_MESGQ);
  EXPECT_EQ(info.si_value.sival_int, 42);
  EXPECT_EQ(info.si_pid, getpid());
  EXPECT_EQ(info.si_uid, getuid());
}

TEST_F(MqueueNotifyTest, RegistrationEndsWithDelivery) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info;
  ASSERT_TRUE(TakeSignal(&info, 1000));
  char buf[8192];
  ASSERT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "y", 0), SyscallSucceeds());
  EXPECT_FALSE(TakeSignal(&info, 50));
  // So another registration is allowed.
  EXPECT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
}

TEST_F(MqueueNotifyTest, NoSignalWhenQueueWasNotEmpty) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "y", 0), SyscallSucceeds());
  siginfo_t info;
  EXPECT_FALSE(TakeSignal(&info, 50));
  // Still registered.
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EBUSY));
}

TEST_F(MqueueNotifyTest, OneRegistrationPerQueue) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EBUSY));
  EXPECT_TRUE(InForkedChild([&] {
    sigevent e = SignalEvent(2);
    CHILD_CHECK(Notify(q.get(), &e) == -1 && errno == EBUSY);
    // Another process's NULL does not remove it.
    CHILD_CHECK(Notify(q.get(), nullptr) == 0);
  }));
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EBUSY));
}

TEST_F(MqueueNotifyTest, NullUnregisters) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  ASSERT_THAT(Notify(q.get(), nullptr), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info;
  EXPECT_FALSE(TakeSignal(&info, 50));
  EXPECT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
}

TEST_F(MqueueNotifyTest, SigevNoneRegistersWithoutSignal) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev{};
  ev.sigev_notify = SIGEV_NONE;
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  sigevent sig = SignalEvent(1);
  EXPECT_THAT(Notify(q.get(), &sig), SyscallFailsWithErrno(EBUSY));
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  // "Delivered": the registration is gone.
  EXPECT_THAT(Notify(q.get(), &sig), SyscallSucceeds());
}

TEST_F(MqueueNotifyTest, InvalidEventIsEINVAL) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(1);
  ev.sigev_notify = 12345;
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EINVAL));
  ev = SignalEvent(1);
  ev.sigev_signo = 65;
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EINVAL));
  // The event is checked before the descriptor.
  EXPECT_THAT(Notify(-1, &ev), SyscallFailsWithErrno(EINVAL));
}

TEST_F(MqueueNotifyTest, NoSignalWhileAReceiverWaits) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  pid_t child = fork();
  if (child == 0) {
    char buf[8192];
    _exit(Receive(q.get(), buf, sizeof(buf), nullptr) == 1 ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  usleep(200000);  // the child is blocked in mq_timedreceive
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  siginfo_t info;
  EXPECT_FALSE(TakeSignal(&info, 50));
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EBUSY));
}

TEST_F(MqueueNotifyTest, ReadShowsTheRegistration) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "hello", 0), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "abc", 0), SyscallSucceeds());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  char buf[256] = {};
  ssize_t r = read(q.get(), buf, sizeof(buf) - 1);
  ASSERT_GT(r, 0);
  char want[128];
  snprintf(want, sizeof(want), "QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 8,
           SIGEV_SIGNAL, SIGUSR1, getpid());
  EXPECT_EQ(std::string(buf, r), want);
  // A second read is at the end.
  EXPECT_THAT(read(q.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  // write(2) is refused.
  EXPECT_THAT(write(q.get(), "x", 1), SyscallFailsWithErrno(EINVAL));
}

TEST(MqueueTest, ReadOfAnIdleQueue) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDONLY, 0600));
  ASSERT_TRUE(q.valid());
  char buf[256] = {};
  ssize_t r = pread(q.get(), buf, sizeof(buf) - 1, 0);
  ASSERT_GT(r, 0);
  EXPECT_EQ(std::string(buf, r), "QSIZE:0          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n");
}

// --- mq_getsetattr ---

TEST(MqueueTest, GetattrCountsMessages) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(Send(q.get(), "1", 0), SyscallSucceeds());
  ASSERT_THAT(Send(q.get(), "2", 0), SyscallSucceeds());
  mq_attr a{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &a), SyscallSucceeds());
  EXPECT_EQ(a.mq_curmsgs, 2);
}

TEST(MqueueTest, SetattrChangesOnlyNonblock) {
  QueueName n;
  mq_attr a = Attr(2, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  mq_attr set = Attr(100, 100);
  set.mq_flags = O_NONBLOCK;
  set.mq_curmsgs = 5;
  mq_attr old{};
  ASSERT_THAT(GetSetAttr(q.get(), &set, &old), SyscallSucceeds());
  EXPECT_EQ(old.mq_flags, 0);  // the attributes before the change
  mq_attr now{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.mq_flags, O_NONBLOCK);
  EXPECT_EQ(now.mq_maxmsg, 2);
  EXPECT_EQ(now.mq_msgsize, 8);
  EXPECT_EQ(now.mq_curmsgs, 0);
  EXPECT_THAT(fcntl(q.get(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  char buf[8];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallFailsWithErrno(EAGAIN));
}

TEST(MqueueTest, SetattrWithOtherFlagsIsEINVAL) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  mq_attr set{};
  set.mq_flags = O_NONBLOCK | O_APPEND;
  EXPECT_THAT(GetSetAttr(q.get(), &set, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetSetAttr(-1, &set, nullptr), SyscallFailsWithErrno(EINVAL));
}

// --- the descriptor as a file ---

TEST(MqueueTest, PollReadiness) {
  QueueName n;
  mq_attr a = Attr(2, 8);
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &a));
  ASSERT_TRUE(q.valid());
  pollfd p{q.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(p.revents, POLLOUT);
  ASSERT_THAT(Send(q.get(), "1", 0), SyscallSucceeds());
  ASSERT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(p.revents, POLLIN | POLLOUT);
  ASSERT_THAT(Send(q.get(), "2", 0), SyscallSucceeds());
  ASSERT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(p.revents, POLLIN);
}

TEST(MqueueTest, EpollWakesOnSendFromAnotherProcess) {
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  FileDescriptor ep(epoll_create1(0));
  ASSERT_TRUE(ep.valid());
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u32 = 7;
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, q.get(), &e), SyscallSucceeds());
  EXPECT_THAT(epoll_wait(ep.get(), &e, 1, 0), SyscallSucceedsWithValue(0));
  pid_t child = fork();
  if (child == 0) {
    usleep(50000);
    _exit(Send(q.get(), "x", 0) == 0 ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  epoll_event out{};
  EXPECT_THAT(epoll_wait(ep.get(), &out, 1, 5000), SyscallSucceedsWithValue(1));
  EXPECT_EQ(out.data.u32, 7u);
  EXPECT_EQ(out.events, static_cast<uint32_t>(EPOLLIN));
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
}

// --- the mqueue filesystem at /dev/mqueue ---

constexpr long kMqueueMagic = 0x19800202;

bool HaveMqueueMount() {
  struct statfs sf;
  return statfs("/dev/mqueue", &sf) == 0 && sf.f_type == kMqueueMagic;
}

std::string InMount(const QueueName& n) { return std::string("/dev/mqueue/") + n.c_str(); }

TEST(MqueueFsTest, QueuesAreFilesOfTheMount) {
  SKIP_IF(!HaveMqueueMount());
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0640));
  ASSERT_TRUE(q.valid());
  struct stat st;
  ASSERT_THAT(stat(InMount(n).c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~0u & 0777);
  ASSERT_THAT(stat("/dev/mqueue", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  DIR* d = opendir("/dev/mqueue");
  ASSERT_NE(d, nullptr);
  bool found = false;
  while (dirent* e = readdir(d)) found |= std::string(e->d_name) == n.c_str();
  closedir(d);
  EXPECT_TRUE(found);
}

TEST(MqueueFsTest, UnlinkEitherWay) {
  SKIP_IF(!HaveMqueueMount());
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  ASSERT_THAT(unlink(InMount(n).c_str()), SyscallSucceeds());
  EXPECT_THAT(RawOpen(n.c_str(), O_RDWR), SyscallFailsWithErrno(ENOENT));
  FileDescriptor r(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(r.valid());
  struct stat st;
  ASSERT_THAT(stat(InMount(n).c_str(), &st), SyscallSucceeds());
  ASSERT_THAT(RawUnlink(n.c_str()), SyscallSucceeds());
  EXPECT_THAT(stat(InMount(n).c_str(), &st), SyscallFailsWithErrno(ENOENT));
}

TEST(MqueueFsTest, OpenAndCreateThroughTheMount) {
  SKIP_IF(!HaveMqueueMount());
  QueueName n;
  FileDescriptor f(open(InMount(n).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));
  ASSERT_TRUE(f.valid()) << strerror(errno);
  // It is a queue: the mq_* calls work on the fd, and mq_open finds it.
  ASSERT_THAT(Send(f.get(), "abc", 2), SyscallSucceeds());
  FileDescriptor q(RawOpen(n.c_str(), O_RDONLY));
  ASSERT_TRUE(q.valid());
  char buf[8192];
  EXPECT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceedsWithValue(3));
  char line[128] = {};
  ASSERT_GT(read(f.get(), line, sizeof(line) - 1), 0);
  EXPECT_THAT(std::string(line), HasSubstr("QSIZE:0 "));
  EXPECT_THAT(mkdir("/dev/mqueue/dir", 0755), SyscallFailsWithErrno(EPERM));
}

// --- /proc/sys/fs/mqueue ---

// The five files, with what a new IPC namespace starts from (mq_init_ns).
struct MqueueSysctl {
  const char* name;
  const char* fresh;
};
constexpr MqueueSysctl kMqueueSysctls[] = {
    {"msg_max", "10\n"},           {"msgsize_max", "8192\n"}, {"msg_default", "10\n"},
    {"msgsize_default", "8192\n"}, {"queues_max", "256\n"},
};

class MqueueSysctlTest : public ::testing::TestWithParam<MqueueSysctl> {};

TEST_P(MqueueSysctlTest, ReadsAsOneLine) {
  const std::string v = ReadSysctl(GetParam().name);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.back(), '\n');
}

TEST_P(MqueueSysctlTest, ANewIpcNamespaceStartsFromLinuxsDefault) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const MqueueSysctl& f = GetParam();
  EXPECT_TRUE(InNewIpcNamespace([&] { CHILD_CHECK(ReadSysctl(f.name) == f.fresh); }));
}

INSTANTIATE_TEST_SUITE_P(Files, MqueueSysctlTest, ::testing::ValuesIn(kMqueueSysctls),
                         [](const ::testing::TestParamInfo<MqueueSysctl>& info) {
                           return std::string(info.param.name);
                         });

// A write and what Linux answers (ipc/mq_sysctl.c): msg_max and msg_default
// take 1..65536, msgsize_max and msgsize_default 128..16 MiB, queues_max any
// int. An accepted value reads back.
struct SysctlWrite {
  const char* name;
  const char* value;
  int error;  // 0: accepted
  // Written in a new IPC namespace, where nothing needs restoring, rather
  // than in the test's own (restored afterwards): queues_max -1 would lift the
  // host's limit on queues for every user meanwhile.
  bool new_namespace;
};
constexpr SysctlWrite kSysctlWrites[] = {
    {"msg_max", "0\n", EINVAL, false},          {"msg_max", "65537\n", EINVAL, false},
    {"msg_max", "abc\n", EINVAL, false},        {"msg_max", "20\n", 0, false},
    {"msgsize_max", "127\n", EINVAL, false},    {"msgsize_max", "16777217\n", EINVAL, false},
    {"msgsize_max", "128\n", 0, false},         {"queues_max", "-1", 0, true},
    {"queues_max", "2147483648", EINVAL, true}, {"queues_max", "x", EINVAL, true},
    {"msg_default", "0", EINVAL, true},         {"msgsize_default", "16777217", EINVAL, true},
};

class MqueueSysctlWriteTest : public ::testing::TestWithParam<SysctlWrite> {};

TEST_P(MqueueSysctlWriteTest, IsAcceptedOrRefusedAsLinuxDoes) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const SysctlWrite& w = GetParam();
  std::string back = w.value;
  if (back.back() != '\n') back += '\n';
  if (w.new_namespace) {
    EXPECT_TRUE(InNewIpcNamespace([&] {
      CHILD_CHECK(WriteSysctl(w.name, w.value) == w.error);
      if (w.error == 0) CHILD_CHECK(ReadSysctl(w.name) == back);
    }));
    return;
  }
  Cleanup keep = KeepSysctl(w.name);
  EXPECT_EQ(WriteSysctl(w.name, w.value), w.error);
  if (w.error == 0) {
    EXPECT_EQ(ReadSysctl(w.name), back);
  }
}

INSTANTIATE_TEST_SUITE_P(Values, MqueueSysctlWriteTest, ::testing::ValuesIn(kSysctlWrites),
                         [](const ::testing::TestParamInfo<SysctlWrite>& info) {
                           // "msg_max_65537", "queues_max_minus1", "msg_max_abc".
                           std::string name = std::string(info.param.name) + "_";
                           for (const char* c = info.param.value; *c != '\0' && *c != '\n'; ++c) {
                             name += *c == '-' ? std::string("minus") : std::string(1, *c);
                           }
                           return name;
                         });

TEST(MqueueTest, SysctlNotWritableByOthers) {
  SKIP_IF(geteuid() != 0);
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CHILD_CHECK(open("/proc/sys/fs/mqueue/msg_max", O_WRONLY) == -1 && errno == EACCES);
  }));
}

TEST(MqueueTest, MsgDefaultSetsNewQueues) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  Cleanup a = KeepSysctl("msg_default");
  Cleanup b = KeepSysctl("msgsize_default");
  ASSERT_EQ(WriteSysctl("msg_default", "3"), 0);
  ASSERT_EQ(WriteSysctl("msgsize_default", "256"), 0);
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  mq_attr at{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &at), SyscallSucceeds());
  EXPECT_EQ(at.mq_maxmsg, std::min(3L, std::stol(ReadSysctl("msg_max"))));
  EXPECT_EQ(at.mq_msgsize, std::min(256L, std::stol(ReadSysctl("msgsize_max"))));
}

TEST(MqueueTest, UnprivilegedMsgMaxLimit) {
  SKIP_IF(geteuid() != 0);
  Cleanup a = KeepSysctl("msg_max");
  ASSERT_EQ(WriteSysctl("msg_max", "5"), 0);
  QueueName n;
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    mq_attr at = Attr(6, 64);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EINVAL);
    at = Attr(5, 64);
    int fd = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
  }));
}

TEST(MqueueTest, QueuesMaxLimitsUnprivilegedCreation) {
  SKIP_IF(geteuid() != 0);
  Cleanup a = KeepSysctl("queues_max");
  ASSERT_EQ(WriteSysctl("queues_max", "0"), 0);
  QueueName n, m;
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600) == -1 && errno == ENOSPC);
  }));
  // CAP_SYS_RESOURCE is exempt.
  SKIP_IF(!HaveCapability(CAP_SYS_RESOURCE));
  FileDescriptor q(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600));
  EXPECT_TRUE(q.valid()) << strerror(errno);
}

// --- IPC namespaces: each has its own queues and limits ---

TEST(MqueueNamespaceTest, UnshareGivesAnEmptySet) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_TRUE(InNewIpcNamespace([&] {
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) == -1 && errno == ENOENT);
    // The same name is free here, and so is one the parent never made.
    int a = RawOpen(n.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    CHILD_CHECK(a >= 0);
    CHILD_CHECK(Send(a, "child", 0) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600) >= 0);
    // Left behind: the namespace goes with this process.
  }));
  // The parent's queue is untouched; the child's never showed here.
  mq_attr at{};
  ASSERT_THAT(GetSetAttr(q.get(), nullptr, &at), SyscallSucceeds());
  EXPECT_EQ(at.mq_curmsgs, 0);
  EXPECT_THAT(RawOpen(m.c_str(), O_RDWR), SyscallFailsWithErrno(ENOENT));
}

TEST(MqueueNamespaceTest, CloneNewipcGivesAnEmptySet) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  QueueName n;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  const pid_t pid = static_cast<pid_t>(
      syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid == 0) {
    const bool gone = RawOpen(n.c_str(), O_RDWR) == -1 && errno == ENOENT;
    _exit(gone ? 0 : 1);
  }
  ASSERT_THAT(pid, SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // A plain fork shares the namespace.
  EXPECT_TRUE(InForkedChild([&] { CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) >= 0); }));
}

TEST(MqueueNamespaceTest, SetnsSwitchesSetsAndOpenQueuesOutliveTheirNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  FileDescriptor q(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  EXPECT_TRUE(InForkedChild([&] {
    const int home = open("/proc/self/ns/ipc", O_RDONLY);
    CHILD_CHECK(home >= 0);
    CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
    mq_attr at = Attr(2, 16);
    const int mine = RawOpen(m.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &at);
    CHILD_CHECK(mine >= 0);
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) == -1 && errno == ENOENT);
    // Back home: the parent's set again, and the new namespace has no task
    // left; its queue still works through the descriptor.
    CHILD_CHECK(setns(home, CLONE_NEWIPC) == 0);
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) >= 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_RDWR) == -1 && errno == ENOENT);
    CHILD_CHECK(Send(mine, "kept", 1) == 0);
    char buf[16];
    unsigned prio = 0;
    CHILD_CHECK(Receive(mine, buf, sizeof(buf), &prio) == 4 && prio == 1);
  }));
}

TEST(MqueueNamespaceTest, SysctlsArePerNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  Cleanup a = KeepSysctl("msg_max");
  ASSERT_EQ(WriteSysctl("msg_max", "20"), 0);
  EXPECT_TRUE(InNewIpcNamespace([] {
    // Not the parent's 20: Linux's default (ANewIpcNamespaceStartsFromLinuxsDefault).
    CHILD_CHECK(ReadSysctl("msg_max") == "10\n");
    CHILD_CHECK(WriteSysctl("msg_max", "7") == 0);
    CHILD_CHECK(ReadSysctl("msg_max") == "7\n");
  }));
  EXPECT_EQ(ReadSysctl("msg_max"), "20\n");
}

TEST(MqueueNamespaceTest, LimitsOfTheNamespaceBindItsQueues) {
  SKIP_IF(geteuid() != 0 || !HaveCapability(CAP_SYS_ADMIN));
  QueueName n;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    CHILD_CHECK(WriteSysctl("msg_max", "4") == 0);
    CHILD_CHECK(WriteSysctl("msgsize_max", "200") == 0);
    CHILD_CHECK(WriteSysctl("msg_default", "9") == 0);
    DropPrivilegesInChild();
    mq_attr at = Attr(5, 64);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EINVAL);
    at = Attr(4, 201);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EINVAL);
    // The defaults are capped by the maxima.
    const int q = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600);
    CHILD_CHECK(q >= 0);
    mq_attr got{};
    CHILD_CHECK(GetSetAttr(q, nullptr, &got) == 0);
    CHILD_CHECK(got.mq_maxmsg == 4 && got.mq_msgsize == 200);
    // Linux frees a namespace's queues after its last task is gone, some
    // time later: the RLIMIT_MSGQUEUE tests below must not see these.
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
  }));
}

TEST(MqueueNamespaceTest, QueuesMaxCountsUnlinkedQueuesStillOpen) {
  SKIP_IF(geteuid() != 0 || !HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    CHILD_CHECK(WriteSysctl("queues_max", "1") == 0);
    DropPrivilegesInChild();
    const int a = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600);
    CHILD_CHECK(a >= 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600) == -1 && errno == ENOSPC);
    // Unlinked, the queue still exists while the descriptor holds it.
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600) == -1 && errno == ENOSPC);
    CHILD_CHECK(close(a) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600) >= 0);
    CHILD_CHECK(RawUnlink(m.c_str()) == 0);
  }));
}

// --- RLIMIT_MSGQUEUE: bytes per real user ---

// What Linux (>= 3.5) charges for a queue on x86-64: a msg_msg (48 bytes) and
// a priority tree node (48) per message, and the message bytes.
uint64_t Charge(long maxmsg, long msgsize) {
  return static_cast<uint64_t>(maxmsg) * 48 + static_cast<uint64_t>(std::min(maxmsg, 32768L)) * 48 +
         static_cast<uint64_t>(maxmsg) * static_cast<uint64_t>(msgsize);
}

void SetMsgqueueLimitInChild(uint64_t soft) {
  rlimit rl;
  CHILD_CHECK(getrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
  rl.rlim_cur = soft;
  CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
}

TEST(MqueueRlimitTest, ChargedAsLinuxComputesIt) {
  SKIP_IF(geteuid() != 0 || !HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    DropPrivilegesInChild();
    mq_attr at = Attr(3, 100);
    SetMsgqueueLimitInChild(Charge(3, 100) - 1);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EMFILE);
    SetMsgqueueLimitInChild(Charge(3, 100));
    const int a = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at);
    CHILD_CHECK(a >= 0);
    // Full: even the smallest queue does not fit.
    mq_attr one = Attr(1, 1);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &one) == -1 && errno == EMFILE);
    // Opening an existing queue costs nothing.
    CHILD_CHECK(RawOpen(n.c_str(), O_RDWR) >= 0);
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
  }));
}

TEST(MqueueRlimitTest, UnchargedWhenTheQueueIsFreed) {
  SKIP_IF(geteuid() != 0 || !HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    DropPrivilegesInChild();
    SetMsgqueueLimitInChild(Charge(2, 64));
    mq_attr at = Attr(2, 64);
    const int a = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at);
    CHILD_CHECK(a >= 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EMFILE);
    // Unlinked but open: still charged. Closed too: freed.
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EMFILE);
    CHILD_CHECK(close(a) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &at) >= 0);
    CHILD_CHECK(RawUnlink(m.c_str()) == 0);
  }));
}

TEST(MqueueRlimitTest, ChargeIsTheUsersNotTheProcesss) {
  SKIP_IF(geteuid() != 0 || !HaveCapability(CAP_SYS_ADMIN));
  QueueName n, m;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    DropPrivilegesInChild();
    SetMsgqueueLimitInChild(Charge(2, 64));
    mq_attr at = Attr(2, 64);
    // A process of the same user makes a queue and leaves it named.
    const pid_t pid = fork();
    if (pid == 0) {
      const int a = RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600, &at);
      _exit(a >= 0 ? 0 : 1);
    }
    CHILD_CHECK(pid > 0);
    int status;
    CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &at) == -1 && errno == EMFILE);
    CHILD_CHECK(RawUnlink(n.c_str()) == 0);
    CHILD_CHECK(RawOpen(m.c_str(), O_CREAT | O_RDWR, 0600, &at) >= 0);
    CHILD_CHECK(RawUnlink(m.c_str()) == 0);
  }));
}

TEST(MqueueRlimitTest, RootIsChargedToo) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  QueueName n;
  EXPECT_TRUE(InNewIpcNamespace([&] {
    SetMsgqueueLimitInChild(0);
    CHILD_CHECK(RawOpen(n.c_str(), O_CREAT | O_RDWR, 0600) == -1 && errno == EMFILE);
  }));
}

TEST(MqueueRlimitTest, CreatingThroughTheMountIsCharged) {
  SKIP_IF(!HaveMqueueMount());
  QueueName n;
  EXPECT_TRUE(InForkedChild([&] {
    SetMsgqueueLimitInChild(0);
    CHILD_CHECK(open(InMount(n).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600) == -1 && errno == EMFILE);
  }));
}

// --- mq_notify and close (mqueue_flush_file) ---

TEST_F(MqueueNotifyTest, CloseOfAnyDescriptorOfTheQueueEndsTheRegistration) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  const int other = RawOpen(n_.c_str(), O_RDONLY);
  ASSERT_THAT(other, SyscallSucceeds());
  sigevent ev = SignalEvent(1);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  ASSERT_THAT(close(other), SyscallSucceeds());
  char line[128] = {};
  ASSERT_THAT(pread(q.get(), line, sizeof(line) - 1, 0), SyscallSucceeds());
  EXPECT_THAT(std::string(line), HasSubstr("NOTIFY_PID:0 "));
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info;
  EXPECT_FALSE(TakeSignal(&info, 50));
  // Another process may register now.
  char buf[8192];
  ASSERT_THAT(Receive(q.get(), buf, sizeof(buf), nullptr), SyscallSucceeds());
  EXPECT_TRUE(InForkedChild([&] {
    sigevent none{};
    none.sigev_notify = SIGEV_NONE;
    CHILD_CHECK(Notify(q.get(), &none) == 0);
  }));
}

TEST_F(MqueueNotifyTest, DupOverTheDescriptorEndsTheRegistration) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  const int d = dup(q.get());
  ASSERT_THAT(d, SyscallSucceeds());
  sigevent ev = SignalEvent(2);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  FileDescriptor null(open("/dev/null", O_RDONLY));
  ASSERT_THAT(dup2(null.get(), d), SyscallSucceedsWithValue(d));
  close(d);
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info;
  EXPECT_FALSE(TakeSignal(&info, 50));
}

TEST_F(MqueueNotifyTest, CloseByAnotherProcessKeepsTheRegistration) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  sigevent ev = SignalEvent(3);
  ASSERT_THAT(Notify(q.get(), &ev), SyscallSucceeds());
  // The child's copy closes (and its whole table at exit): not the owner.
  EXPECT_TRUE(InForkedChild([&] { CHILD_CHECK(close(q.get()) == 0); }));
  char line[128] = {};
  ASSERT_THAT(pread(q.get(), line, sizeof(line) - 1, 0), SyscallSucceeds());
  EXPECT_THAT(std::string(line), HasSubstr("NOTIFY_PID:" + std::to_string(getpid())));
  ASSERT_THAT(Send(q.get(), "x", 0), SyscallSucceeds());
  siginfo_t info;
  ASSERT_TRUE(TakeSignal(&info, 5000));
  EXPECT_EQ(info.si_value.sival_int, 3);
}

TEST_F(MqueueNotifyTest, SigevThreadWantsANetlinkSocket) {
  FileDescriptor q(RawOpen(n_.c_str(), O_CREAT | O_RDWR, 0600));
  ASSERT_TRUE(q.valid());
  char cookie[32] = {};
  sigevent ev{};
  ev.sigev_notify = SIGEV_THREAD;
  ev.sigev_value.sival_ptr = cookie;
  ev.sigev_signo = -1;  // the netlink socket's fd
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EBADF));
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  ev.sigev_signo = p[0];
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(ENOTSOCK));
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), SyscallSucceeds());
  ev.sigev_signo = sv[0];
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EINVAL));
  // The cookie is read first.
  ev.sigev_value.sival_ptr = reinterpret_cast<void*>(8);
  EXPECT_THAT(Notify(q.get(), &ev), SyscallFailsWithErrno(EFAULT));
  for (int fd : {p[0], p[1], sv[0], sv[1]}) close(fd);
}

}  // namespace
}  // namespace syscalls_test
