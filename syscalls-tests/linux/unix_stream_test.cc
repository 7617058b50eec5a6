// SOCK_STREAM unix sockets: a byte stream (read, write, readv, writev, send,
// recv, sendmsg, recvmsg and their flags), end of file and shutdown, a peer
// that goes away, SIGPIPE, send buffers and what waits for them, timeouts.
// Most cases use both ends of a socketpair in one process, non-blocking
// where blocking would hang; the few that need another party fork.
#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/linux/unix_socket_util.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using ::testing::AnyOf;

void SetNonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writes until the socket would block; the bytes written.
size_t Fill(int fd) {
  std::vector<char> buf(65536, 'f');
  size_t total = 0;
  for (;;) {
    ssize_t n = send(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

// Reads until nothing is left (non-blocking); the bytes read.
size_t Drain(int fd) {
  std::vector<char> buf(65536);
  size_t total = 0;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

using UnixStreamTest = SocketPairTest<SOCK_STREAM>;

TEST_F(UnixStreamTest, WritesMergeIntoOneStream) {
  ASSERT_THAT(write(a(), "abc", 3), SyscallSucceedsWithValue(3));
  ASSERT_THAT(write(a(), "defg", 4), SyscallSucceedsWithValue(4));
  char buf[16];
  ASSERT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(7));
  EXPECT_EQ(std::string(buf, 7), "abcdefg");
}

TEST_F(UnixStreamTest, PartialReadsKeepTheRest) {
  ASSERT_THAT(write(a(), "0123456789", 10), SyscallSucceeds());
  char buf[4];
  ASSERT_THAT(read(b(), buf, 4), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "0123");
  ASSERT_THAT(read(b(), buf, 4), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "4567");
  ASSERT_THAT(read(b(), buf, 4), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "89");
}

TEST_F(UnixStreamTest, VectoredIo) {
  char x[] = "he", y[] = "llo ", z[] = "world";
  iovec out[3] = {{x, 2}, {y, 4}, {z, 5}};
  ASSERT_THAT(writev(a(), out, 3), SyscallSucceedsWithValue(11));
  char p[3], q[8];
  iovec in[2] = {{p, 3}, {q, 8}};
  ASSERT_THAT(readv(b(), in, 2), SyscallSucceedsWithValue(11));
  EXPECT_EQ(std::string(p, 3) + std::string(q, 8), "hello world");
}

TEST_F(UnixStreamTest, SendmsgRecvmsg) {
  char x[] = "abc", y[] = "de";
  iovec out[2] = {{x, 3}, {y, 2}};
  msghdr mh{};
  mh.msg_iov = out;
  mh.msg_iovlen = 2;
  ASSERT_THAT(sendmsg(a(), &mh, 0), SyscallSucceedsWithValue(5));
  char buf[8];
  iovec in{buf, sizeof(buf)};
  sockaddr_un from{};
  msghdr rm{};
  rm.msg_name = &from;
  rm.msg_namelen = sizeof(from);
  rm.msg_iov = &in;
  rm.msg_iovlen = 1;
  rm.msg_flags = -1;
  ASSERT_THAT(recvmsg(b(), &rm, 0), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf, 5), "abcde");
  EXPECT_EQ(rm.msg_flags, 0);
  // The writer has no name: no address comes with the data.
  EXPECT_EQ(rm.msg_namelen, 0u);
  EXPECT_EQ(rm.msg_controllen, 0u);
}

TEST_F(UnixStreamTest, Peek) {
  ASSERT_THAT(write(a(), "abc", 3), SyscallSucceeds());
  ASSERT_THAT(write(a(), "def", 3), SyscallSucceeds());
  char buf[8];
  ASSERT_THAT(recv(b(), buf, 4, MSG_PEEK), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "abcd");
  ASSERT_THAT(recv(b(), buf, sizeof(buf), MSG_PEEK), SyscallSucceedsWithValue(6));
  ASSERT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(6));
  EXPECT_EQ(std::string(buf, 6), "abcdef");
}

TEST_F(UnixStreamTest, DontwaitAndNonblock) {
  char buf[4];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
  SetNonblock(b());
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixStreamTest, WaitallReturnsWhatThereIsAtEof) {
  ASSERT_THAT(write(a(), "abc", 3), SyscallSucceeds());
  ASSERT_THAT(shutdown(a(), SHUT_WR), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_WAITALL), SyscallSucceedsWithValue(3));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_WAITALL), SyscallSucceedsWithValue(0));
}

TEST_F(UnixStreamTest, WaitallWaitsForEverything) {
  // The child writes in pieces; one MSG_WAITALL read takes them all.
  Child child([&] {
    for (const char* piece : {"ab", "cd", "ef"}) {
      usleep(20000);
      CHILD_CHECK(write(a(), piece, 2) == 2);
    }
  });
  ASSERT_TRUE(child.started());
  char buf[6];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_WAITALL), SyscallSucceedsWithValue(6));
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_TRUE(child.Wait());
}

TEST_F(UnixStreamTest, TruncFlagIsIgnored) {
  ASSERT_THAT(write(a(), "abcdef", 6), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(recv(b(), buf, 3, MSG_TRUNC), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 3), "abc");
}

TEST_F(UnixStreamTest, ZeroLengthWriteSendsNothing) {
  ASSERT_THAT(write(a(), "", 0), SyscallSucceedsWithValue(0));
  char buf[4];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixStreamTest, ShutdownWriteIsEofForThePeer) {
  ASSERT_THAT(write(a(), "x", 1), SyscallSucceeds());
  ASSERT_THAT(shutdown(a(), SHUT_WR), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(1));
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  // The other direction still works.
  ASSERT_THAT(write(b(), "y", 1), SyscallSucceeds());
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(1));
}

TEST_F(UnixStreamTest, WriteAfterShutdownIsEpipeAndSigpipe) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(shutdown(a(), SHUT_WR), SyscallSucceeds());
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(sigpipe.Take());
  EXPECT_THAT(send(a(), "x", 1, 0), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(sigpipe.Take());
  EXPECT_THAT(send(a(), "x", 1, MSG_NOSIGNAL), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(sigpipe.Take());
  // Even nothing at all.
  EXPECT_THAT(write(a(), "x", 0), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(sigpipe.Take());
}

TEST_F(UnixStreamTest, ShutdownReadStopsThePeersWrites) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(shutdown(b(), SHUT_RD), SyscallSucceeds());
  char buf[4];
  // Our own reads see end of file.
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(sigpipe.Take());
}

TEST_F(UnixStreamTest, ShutdownBadHowAndUnconnected) {
  EXPECT_THAT(shutdown(a(), 3), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(shutdown(a(), -1), SyscallFailsWithErrno(EINVAL));
  // Linux's unix sockets do not say ENOTCONN.
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(shutdown(s.get(), SHUT_RDWR), SyscallSucceeds());
}

TEST_F(UnixStreamTest, PeerClosedIsEofAndEpipe) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(write(b(), "left", 4), SyscallSucceeds());
  p_.b.reset();
  char buf[8];
  // What the peer wrote stays readable, then end of file.
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_TRUE(sigpipe.Take());
}

TEST_F(UnixStreamTest, PeerClosedWithUnreadDataResets) {
  ASSERT_THAT(write(a(), "unread", 6), SyscallSucceeds());
  p_.b.reset();
  char buf[8];
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  int err = -1;
  socklen_t len = sizeof(err);
  ASSERT_THAT(getsockopt(a(), SOL_SOCKET, SO_ERROR, &err, &len), SyscallSucceeds());
  EXPECT_EQ(err, 0);
}

TEST_F(UnixStreamTest, ResetIsReportedOnceBySoError) {
  ASSERT_THAT(write(a(), "unread", 6), SyscallSucceeds());
  p_.b.reset();
  int err = -1;
  socklen_t len = sizeof(err);
  ASSERT_THAT(getsockopt(a(), SOL_SOCKET, SO_ERROR, &err, &len), SyscallSucceeds());
  EXPECT_EQ(err, ECONNRESET);
  char buf[8];
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
}

TEST(UnixStreamStateTest, UnconnectedSocket) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  char buf[4];
  EXPECT_THAT(recv(s.get(), buf, sizeof(buf), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(read(s.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(send(s.get(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(write(s.get(), "x", 1), SyscallFailsWithErrno(ENOTCONN));
  UnixAddr a = Abstract(UniqueName("nowhere"));
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, a.get(), a.len), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST_F(UnixStreamTest, SendtoWithAnAddressIsEisconn) {
  UnixAddr addr = Abstract(UniqueName("anywhere"));
  EXPECT_THAT(sendto(a(), "x", 1, 0, addr.get(), addr.len), SyscallFailsWithErrno(EISCONN));
  // A null address (or a zero length) is no address.
  EXPECT_THAT(sendto(a(), "x", 1, 0, nullptr, 1234), SyscallSucceedsWithValue(1));
  EXPECT_THAT(sendto(a(), "x", 1, 0, addr.get(), 0), SyscallSucceedsWithValue(1));
}

TEST_F(UnixStreamTest, OobIsNotSupportedWithoutData) {
  char buf[4];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_OOB),
              SyscallFailsWithErrno(AnyOf(EINVAL, EOPNOTSUPP)));
}

TEST_F(UnixStreamTest, Faults) {
  EXPECT_THAT(syscall(SYS_sendto, a(), kKernelAddress, size_t{4}, 0, nullptr, 0),
              SyscallFailsWithErrno(EFAULT));
  ASSERT_THAT(write(a(), "abcd", 4), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_recvfrom, b(), kKernelAddress, size_t{4}, 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  // Nothing was consumed.
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  msghdr mh{};
  EXPECT_THAT(syscall(SYS_sendmsg, a(), kKernelAddress, 0), SyscallFailsWithErrno(EFAULT));
  iovec iov{kKernelAddress, 4};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EFAULT));
  mh.msg_iovlen = 1025;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(recvmsg(b(), &mh, 0), SyscallFailsWithErrno(EMSGSIZE));
  iovec neg{buf, static_cast<size_t>(-1)};
  mh.msg_iov = &neg;
  mh.msg_iovlen = 1;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(sendmsg(a(), &mh, 0x80000000 /* MSG_CMSG_COMPAT */), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(recvmsg(a(), &mh, 0x80000000), SyscallFailsWithErrno(EINVAL));
}

TEST_F(UnixStreamTest, SendBufferFillsAndDrains) {
  const size_t n = Fill(a());
  EXPECT_GT(n, 0u);
  EXPECT_THAT(send(a(), "x", 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
  int outq = 0;
  ASSERT_THAT(ioctl(a(), SIOCOUTQ, &outq), SyscallSucceeds());
  EXPECT_GE(static_cast<size_t>(outq), n);
  EXPECT_EQ(Drain(b()), n);
  EXPECT_THAT(send(a(), "x", 1, MSG_DONTWAIT), SyscallSucceedsWithValue(1));
}

TEST_F(UnixStreamTest, SmallerSendBufferHoldsLess) {
  const size_t full = Fill(a());
  EXPECT_EQ(Drain(b()), full);
  int v = 8192;
  ASSERT_THAT(setsockopt(a(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), SyscallSucceeds());
  const size_t small = Fill(a());
  EXPECT_GT(small, 0u);
  EXPECT_LT(small, full);
  EXPECT_EQ(Drain(b()), small);
}

TEST_F(UnixStreamTest, BlockedWriterGoesOnWhenTheReaderReads) {
  // A megabyte is more than the send buffer holds: the writer blocks until
  // the child reads, and everything arrives in order.
  constexpr size_t kTotal = 1 << 20;
  Child child([&] {
    p_.a.reset();
    std::vector<unsigned char> buf(4096);
    size_t got = 0;
    while (got < kTotal) {
      ssize_t n = read(b(), buf.data(), buf.size());
      CHILD_CHECK(n > 0);
      for (ssize_t i = 0; i < n; ++i) {
        CHILD_CHECK(buf[i] == static_cast<unsigned char>((got + i) % 251));
      }
      got += static_cast<size_t>(n);
    }
    CHILD_CHECK(write(b(), "k", 1) == 1);
  });
  ASSERT_TRUE(child.started());
  std::vector<unsigned char> data(kTotal);
  for (size_t i = 0; i < kTotal; ++i) data[i] = static_cast<unsigned char>(i % 251);
  EXPECT_THAT(write(a(), data.data(), data.size()), SyscallSucceedsWithValue(kTotal));
  char ack;
  EXPECT_THAT(read(a(), &ack, 1), SyscallSucceedsWithValue(1));
  EXPECT_TRUE(child.Wait());
}

TEST_F(UnixStreamTest, SendfileIntoASocket) {
  char tmpl[] = "/tmp/unix-stream-sendfile-XXXXXX";
  FileDescriptor f(mkstemp(tmpl));
  ASSERT_THAT(f.get(), SyscallSucceeds());
  unlink(tmpl);
  ASSERT_THAT(write(f.get(), "file data", 9), SyscallSucceedsWithValue(9));
  off_t off = 0;
  ASSERT_THAT(sendfile(a(), f.get(), &off, 9), SyscallSucceedsWithValue(9));
  char buf[16];
  ASSERT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(9));
  EXPECT_EQ(std::string(buf, 9), "file data");
}

TEST_F(UnixStreamTest, ReceiveTimeout) {
  timeval tv{0, 100000};
  ASSERT_THAT(setsockopt(b(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallFailsWithErrno(EAGAIN));
  // A negative time means do not wait at all.
  tv = {-1, 0};
  ASSERT_THAT(setsockopt(b(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixStreamTest, SendTimeout) {
  Fill(a());
  timeval tv{0, 100000};
  ASSERT_THAT(setsockopt(a(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EAGAIN));
}

class UnixStreamSignalTest : public UnixStreamTest {
 protected:
  // A counting handler for SIGUSR1 for the rest of the test.
  void Handle(int flags) { catcher_.emplace(SIGUSR1, flags); }
  int signals() const { return catcher_->count(); }
  // A child that signals us after a while, then maybe writes.
  pid_t SignalLater(bool then_write) {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      usleep(100000);
      kill(parent, SIGUSR1);
      if (then_write) {
        usleep(100000);
        if (write(a(), "late", 4) != 4) _exit(1);
      }
      _exit(0);
    }
    return pid;
  }
  std::optional<SignalCatcher> catcher_;
};

TEST_F(UnixStreamSignalTest, InterruptedReadIsEintr) {
  Handle(0);
  const pid_t pid = SignalLater(false);
  ASSERT_GT(pid, 0);
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallFailsWithErrno(EINTR));
  EXPECT_EQ(signals(), 1);
  int status;
  waitpid(pid, &status, 0);
}

TEST_F(UnixStreamSignalTest, SaRestartRestartsTheRead) {
  Handle(SA_RESTART);
  const pid_t pid = SignalLater(true);
  ASSERT_GT(pid, 0);
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(signals(), 1);
  int status;
  waitpid(pid, &status, 0);
}

TEST_F(UnixStreamSignalTest, WithATimeoutItIsEintrEvenWithSaRestart) {
  Handle(SA_RESTART);
  timeval tv{5, 0};
  ASSERT_THAT(setsockopt(b(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  const pid_t pid = SignalLater(false);
  ASSERT_GT(pid, 0);
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallFailsWithErrno(EINTR));
  int status;
  waitpid(pid, &status, 0);
}

// --- Threads: the two ends waited on from two threads at once. ---

TEST(UnixStreamThreadTest, PingPong) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  constexpr int kRounds = 500;
  std::thread echo([&] {
    char c;
    for (int i = 0; i < kRounds; ++i) {
      if (read(p.b.get(), &c, 1) != 1) return;
      if (write(p.b.get(), &c, 1) != 1) return;
    }
  });
  int ok = 0;
  for (int i = 0; i < kRounds; ++i) {
    char c = static_cast<char>(i);
    if (write(p.a.get(), &c, 1) != 1) break;
    char back;
    if (read(p.a.get(), &back, 1) != 1 || back != c) break;
    ++ok;
  }
  echo.join();
  EXPECT_EQ(ok, kRounds);
}

TEST(UnixStreamThreadTest, AcceptInAThreadAndConcurrentWriters) {
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("thread-accept"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  constexpr int kWriters = 4;
  constexpr size_t kEach = 100000;
  size_t total = 0;
  std::thread server([&] {
    int s = accept(l.get(), nullptr, nullptr);
    if (s < 0) return;
    std::vector<char> buf(8192);
    ssize_t n;
    while ((n = read(s, buf.data(), buf.size())) > 0) total += static_cast<size_t>(n);
    close(s);
  });
  usleep(20000);
  FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&] {
      std::vector<char> data(kEach, 'w');
      size_t done = 0;
      while (done < kEach) {
        ssize_t n = write(c.get(), data.data() + done, kEach - done);
        if (n <= 0) return;
        done += static_cast<size_t>(n);
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_THAT(shutdown(c.get(), SHUT_WR), SyscallSucceeds());
  server.join();
  EXPECT_EQ(total, kWriters * kEach);
}

TEST(UnixStreamAcceptTest, BlockingAcceptAndConnectedAddresses) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("server");
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = PathAddr(path);
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  const pid_t pid = fork();
  if (pid == 0) {
    usleep(50000);
    FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
    if (connect(c.get(), a.get(), a.len) != 0) _exit(1);
    char buf[8];
    // The server's data comes from the server's name.
    sockaddr_un from{};
    socklen_t len = sizeof(from);
    if (recvfrom(c.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len) != 5) {
      _exit(2);
    }
    if (len != offsetof(sockaddr_un, sun_path) + path.size() + 1) _exit(3);
    if (path != from.sun_path) _exit(4);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  FileDescriptor s(accept(l.get(), nullptr, nullptr));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  ASSERT_THAT(write(s.get(), "hello", 5), SyscallSucceedsWithValue(5));
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(UnixStreamAcceptTest, BlockingConnectWaitsForBacklog) {
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("backlog-wait"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 0), SyscallSucceeds());
  FileDescriptor c1(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(connect(c1.get(), a.get(), a.len), SyscallSucceeds());
  // The child accepts after a while; our second connect waits for it.
  const pid_t pid = fork();
  if (pid == 0) {
    usleep(100000);
    int s = accept(l.get(), nullptr, nullptr);
    _exit(s >= 0 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  FileDescriptor c2(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(connect(c2.get(), a.get(), a.len), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace syscalls_test
