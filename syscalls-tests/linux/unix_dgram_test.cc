// SOCK_DGRAM unix sockets: message boundaries and truncation, addressing
// (sendto and recvfrom, connect as a default peer, disconnecting), who may
// send to whom, the receive queue limit and send buffers, a peer that goes
// away, shutdown (EPIPE without SIGPIPE), timeouts.
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/linux/unix_socket_util.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using UnixDgramPairTest = SocketPairTest<SOCK_DGRAM>;

TEST_F(UnixDgramPairTest, MessagesKeepTheirBoundaries) {
  ASSERT_THAT(send(a(), "abc", 3, 0), SyscallSucceedsWithValue(3));
  ASSERT_THAT(send(a(), "defgh", 5, 0), SyscallSucceedsWithValue(5));
  char buf[16];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(3));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf, 5), "defgh");
}

TEST_F(UnixDgramPairTest, Truncation) {
  ASSERT_THAT(send(a(), "abcdef", 6, 0), SyscallSucceeds());
  char buf[4];
  iovec iov{buf, 4};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  ASSERT_THAT(recvmsg(b(), &mh, 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(mh.msg_flags, MSG_TRUNC);
  EXPECT_EQ(std::string(buf, 4), "abcd");
  // The rest of the message is gone.
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
  // MSG_TRUNC asks for the real length.
  ASSERT_THAT(send(a(), "abcdef", 6, 0), SyscallSucceeds());
  EXPECT_THAT(recv(b(), buf, 2, MSG_TRUNC), SyscallSucceedsWithValue(6));
}

TEST_F(UnixDgramPairTest, PeekKeepsTheMessage) {
  ASSERT_THAT(send(a(), "abc", 3, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(recv(b(), buf, 2, MSG_PEEK), SyscallSucceedsWithValue(2));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_PEEK), SyscallSucceedsWithValue(3));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(3));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixDgramPairTest, ZeroLengthMessages) {
  ASSERT_THAT(send(a(), "", 0, 0), SyscallSucceedsWithValue(0));
  ASSERT_THAT(write(a(), "", 0), SyscallSucceedsWithValue(0));
  int n = -1;
  ASSERT_THAT(ioctl(b(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 0);
  char buf[4];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallSucceedsWithValue(0));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallSucceedsWithValue(0));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixDgramPairTest, AZeroLengthReadTakesAMessage) {
  ASSERT_THAT(send(a(), "abc", 3, 0), SyscallSucceeds());
  char c;
  EXPECT_THAT(recv(b(), &c, 0, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(recv(b(), &c, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixDgramPairTest, TooBigForTheSendBuffer) {
  int sndbuf = 0;
  socklen_t len = sizeof(sndbuf);
  ASSERT_THAT(getsockopt(a(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len), SyscallSucceeds());
  std::vector<char> big(static_cast<size_t>(sndbuf));
  EXPECT_THAT(send(a(), big.data(), big.size(), 0), SyscallFailsWithErrno(EMSGSIZE));
  EXPECT_THAT(send(a(), big.data(), big.size() - 32, 0), SyscallSucceedsWithValue(big.size() - 32));
  std::vector<char> in(big.size());
  EXPECT_THAT(recv(b(), in.data(), in.size(), 0), SyscallSucceedsWithValue(big.size() - 32));
}

TEST_F(UnixDgramPairTest, SendBufferFills) {
  // A pair is connected both ways: only the send buffer holds a writer back.
  int n = 0;
  while (send(a(), "x", 1, MSG_DONTWAIT) == 1) ++n;
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_GT(n, 10);
  char c;
  ASSERT_THAT(recv(b(), &c, 1, 0), SyscallSucceeds());
  EXPECT_THAT(send(a(), "x", 1, MSG_DONTWAIT), SyscallSucceedsWithValue(1));
}

TEST_F(UnixDgramPairTest, SendmsgWithNoPeerAddress) {
  // A pair's datagrams come from an unbound socket: no address.
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  sockaddr_un from{};
  socklen_t len = sizeof(from);
  char c;
  ASSERT_THAT(recvfrom(b(), &c, 1, 0, reinterpret_cast<sockaddr*>(&from), &len),
              SyscallSucceedsWithValue(1));
  EXPECT_EQ(len, 0u);
}

TEST_F(UnixDgramPairTest, ShutdownWriteIsEpipeWithoutSigpipe) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(shutdown(a(), SHUT_WR), SyscallSucceeds());
  EXPECT_THAT(send(a(), "x", 1, 0), SyscallFailsWithErrno(EPIPE));
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(sigpipe.Take());
  // A datagram socket's shutdown is its own: the peer still sends.
  EXPECT_THAT(send(b(), "y", 1, 0), SyscallSucceedsWithValue(1));
}

TEST_F(UnixDgramPairTest, PeerShutdownReadIsEpipe) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(shutdown(b(), SHUT_RD), SyscallSucceeds());
  EXPECT_THAT(send(a(), "x", 1, 0), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(sigpipe.Take());
  char c;
  // A blocking read of a shut socket returns at once; a non-blocking one
  // still says EAGAIN.
  EXPECT_THAT(recv(b(), &c, 1, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(recv(b(), &c, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixDgramPairTest, PeerClosed) {
  ASSERT_THAT(send(b(), "queued", 6, 0), SyscallSucceeds());
  p_.b.reset();
  char buf[8];
  // What was sent before stays readable.
  EXPECT_THAT(recv(a(), buf, sizeof(buf), MSG_DONTWAIT), SyscallSucceedsWithValue(6));
  // The first send finds the peer gone and disconnects; then there is none.
  EXPECT_THAT(send(a(), "x", 1, 0), SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_THAT(send(a(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
}

TEST_F(UnixDgramPairTest, ReceiveTimeout) {
  timeval tv{0, 50000};
  ASSERT_THAT(setsockopt(b(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  char c;
  EXPECT_THAT(recv(b(), &c, 1, 0), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixDgramPairTest, Faults) {
  EXPECT_THAT(syscall(SYS_sendto, a(), kKernelAddress, size_t{4}, 0, nullptr, 0),
              SyscallFailsWithErrno(EFAULT));
  ASSERT_THAT(send(a(), "abcd", 4, 0), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_recvfrom, b(), kKernelAddress, size_t{4}, 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST_F(UnixDgramPairTest, SendmmsgAndRecvmmsg) {
  char d0[] = "one", d1[] = "two!", d2[] = "three";
  iovec iov[3] = {{d0, 3}, {d1, 4}, {d2, 5}};
  mmsghdr out[3] = {};
  for (int i = 0; i < 3; ++i) {
    out[i].msg_hdr.msg_iov = &iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  ASSERT_THAT(sendmmsg(a(), out, 3, 0), SyscallSucceedsWithValue(3));
  EXPECT_EQ(out[0].msg_len, 3u);
  EXPECT_EQ(out[2].msg_len, 5u);
  char bufs[4][8];
  iovec in_iov[4];
  mmsghdr in[4] = {};
  for (int i = 0; i < 4; ++i) {
    in_iov[i] = {bufs[i], sizeof(bufs[i])};
    in[i].msg_hdr.msg_iov = &in_iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  // Fewer than asked for: what there is (the EAGAIN is not reported).
  ASSERT_THAT(recvmmsg(b(), in, 4, MSG_DONTWAIT, nullptr), SyscallSucceedsWithValue(3));
  EXPECT_EQ(in[1].msg_len, 4u);
  EXPECT_EQ(std::string(bufs[2], 5), "three");
  EXPECT_THAT(recvmmsg(b(), in, 4, MSG_DONTWAIT, nullptr), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(sendmmsg(a(), out, 0, 0), SyscallSucceedsWithValue(0));
}

TEST_F(UnixDgramPairTest, RecvmmsgWaitForOne) {
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  char buf[2][4];
  iovec iov[2] = {{buf[0], 4}, {buf[1], 4}};
  mmsghdr in[2] = {};
  for (int i = 0; i < 2; ++i) {
    in[i].msg_hdr.msg_iov = &iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  EXPECT_THAT(recvmmsg(b(), in, 2, MSG_WAITFORONE, nullptr), SyscallSucceedsWithValue(1));
  timespec bad{0, 1000000000};
  EXPECT_THAT(recvmmsg(b(), in, 2, 0, &bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(recvmmsg(b(), in, 2, 0x80000000, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(sendmmsg(a(), in, 2, 0x80000000), SyscallFailsWithErrno(EINVAL));
}

// --- Addressed sockets. ---

struct Named {
  FileDescriptor fd;
  UnixAddr addr;
};

::testing::AssertionResult BindAbstract(const char* what, Named* n) {
  n->fd.reset(socket(AF_UNIX, SOCK_DGRAM, 0));
  n->addr = Abstract(UniqueName(what));
  if (bind(n->fd.get(), n->addr.get(), n->addr.len) != 0) {
    return ::testing::AssertionFailure() << "bind: " << ErrnoName(errno);
  }
  return ::testing::AssertionSuccess();
}

TEST(UnixDgramAddressTest, SendtoAndRecvfrom) {
  Named server, client;
  ASSERT_TRUE(BindAbstract("server", &server));
  ASSERT_TRUE(BindAbstract("client", &client));
  ASSERT_THAT(sendto(client.fd.get(), "ping", 4, 0, server.addr.get(), server.addr.len),
              SyscallSucceedsWithValue(4));
  char buf[8];
  sockaddr_un from{};
  socklen_t len = sizeof(from);
  ASSERT_THAT(
      recvfrom(server.fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len),
      SyscallSucceedsWithValue(4));
  ASSERT_EQ(len, client.addr.len);
  EXPECT_EQ(std::memcmp(&from, &client.addr.addr, len), 0);
  // Reply to where it came from.
  ASSERT_THAT(sendto(server.fd.get(), "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), len),
              SyscallSucceedsWithValue(4));
  ASSERT_THAT(recv(client.fd.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "pong");
}

TEST(UnixDgramAddressTest, PathSockets) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("dgram");
  FileDescriptor server(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr a = PathAddr(path);
  ASSERT_THAT(bind(server.get(), a.get(), a.len), SyscallSucceeds());
  FileDescriptor client(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(sendto(client.get(), "x", 1, 0, a.get(), a.len), SyscallSucceedsWithValue(1));
  char c;
  EXPECT_THAT(recv(server.get(), &c, 1, 0), SyscallSucceedsWithValue(1));
  // Once the socket is closed its file leads nowhere.
  server.reset();
  EXPECT_THAT(sendto(client.get(), "x", 1, 0, a.get(), a.len), SyscallFailsWithErrno(ECONNREFUSED));
}

TEST(UnixDgramAddressTest, SendtoErrors) {
  FileDescriptor s(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr nobody = Abstract(UniqueName("nobody"));
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, nobody.get(), nobody.len),
              SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_THAT(send(s.get(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
  sockaddr_un bad{};
  bad.sun_family = AF_INET;
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&bad), 4),
              SyscallFailsWithErrno(EINVAL));
  bad.sun_family = AF_UNIX;
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&bad), 2),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&bad), 200),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_sendto, s.get(), "x", size_t{1}, 0, kKernelAddress, 4),
              SyscallFailsWithErrno(EFAULT));
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  UnixAddr missing = PathAddr(dir.File("missing"));
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, missing.get(), missing.len),
              SyscallFailsWithErrno(ENOENT));
}

TEST(UnixDgramAddressTest, ConnectSetsTheDefaultPeer) {
  Named server;
  ASSERT_TRUE(BindAbstract("default-peer", &server));
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), server.addr.get(), server.addr.len), SyscallSucceeds());
  ASSERT_THAT(send(c.get(), "x", 1, 0), SyscallSucceedsWithValue(1));
  sockaddr_un peer{};
  socklen_t len = sizeof(peer);
  ASSERT_THAT(getpeername(c.get(), reinterpret_cast<sockaddr*>(&peer), &len), SyscallSucceeds());
  EXPECT_EQ(len, server.addr.len);
  // An explicit address still works on a connected datagram socket.
  Named other;
  ASSERT_TRUE(BindAbstract("other", &other));
  EXPECT_THAT(sendto(c.get(), "y", 1, 0, other.addr.get(), other.addr.len),
              SyscallSucceedsWithValue(1));
  // AF_UNSPEC dissolves the association.
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_THAT(connect(c.get(), &unspec, sizeof(unspec)), SyscallSucceeds());
  EXPECT_THAT(send(c.get(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
  len = sizeof(peer);
  EXPECT_THAT(getpeername(c.get(), reinterpret_cast<sockaddr*>(&peer), &len),
              SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(connect(c.get(), &unspec, 1), SyscallFailsWithErrno(EINVAL));
}

TEST(UnixDgramAddressTest, ConnectedSocketTakesOnlyItsPeer) {
  Named server, peer, stranger;
  ASSERT_TRUE(BindAbstract("only-server", &server));
  ASSERT_TRUE(BindAbstract("only-peer", &peer));
  ASSERT_TRUE(BindAbstract("only-stranger", &stranger));
  ASSERT_THAT(connect(server.fd.get(), peer.addr.get(), peer.addr.len), SyscallSucceeds());
  EXPECT_THAT(sendto(stranger.fd.get(), "x", 1, 0, server.addr.get(), server.addr.len),
              SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(connect(stranger.fd.get(), server.addr.get(), server.addr.len),
              SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(sendto(peer.fd.get(), "x", 1, 0, server.addr.get(), server.addr.len),
              SyscallSucceedsWithValue(1));
}

TEST(UnixDgramAddressTest, ReconnectingDropsQueuedMessages) {
  Named a, b, c;
  ASSERT_TRUE(BindAbstract("re-a", &a));
  ASSERT_TRUE(BindAbstract("re-b", &b));
  ASSERT_TRUE(BindAbstract("re-c", &c));
  ASSERT_THAT(connect(a.fd.get(), b.addr.get(), b.addr.len), SyscallSucceeds());
  ASSERT_THAT(sendto(b.fd.get(), "x", 1, 0, a.addr.get(), a.addr.len), SyscallSucceeds());
  // a now takes only c's: what b sent goes.
  ASSERT_THAT(connect(a.fd.get(), c.addr.get(), c.addr.len), SyscallSucceeds());
  char ch;
  EXPECT_THAT(recv(a.fd.get(), &ch, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST(UnixDgramAddressTest, ReceiveQueueLimitForOthers) {
  // A receiver not connected back to its senders holds at most
  // net.unix.max_dgram_qlen (10) + 1 messages from them.
  Named server;
  ASSERT_TRUE(BindAbstract("qlen", &server));
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), server.addr.get(), server.addr.len), SyscallSucceeds());
  int sent = 0;
  while (send(c.get(), "x", 1, MSG_DONTWAIT) == 1) ++sent;
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(sent, 11);
  // Another sender is held back as well.
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0));
  EXPECT_THAT(sendto(d.get(), "x", 1, MSG_DONTWAIT, server.addr.get(), server.addr.len),
              SyscallFailsWithErrno(EAGAIN));
  char ch;
  ASSERT_THAT(recv(server.fd.get(), &ch, 1, 0), SyscallSucceeds());
  EXPECT_THAT(send(c.get(), "x", 1, MSG_DONTWAIT), SyscallSucceedsWithValue(1));
}

TEST(UnixDgramAddressTest, BlockedSenderGoesOnWhenTheReceiverReads) {
  Named server;
  ASSERT_TRUE(BindAbstract("blocked", &server));
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), server.addr.get(), server.addr.len), SyscallSucceeds());
  while (send(c.get(), "x", 1, MSG_DONTWAIT) == 1) {
  }
  Child reader([&] {
    usleep(100000);
    char ch;
    CHILD_CHECK(recv(server.fd.get(), &ch, 1, 0) == 1);
  });
  ASSERT_TRUE(reader.started());
  EXPECT_THAT(send(c.get(), "y", 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_TRUE(reader.Wait());
}

TEST(UnixDgramThreadTest, ManySendersOneFullReceiver) {
  // Senders not connected back wait on the receiver's queue limit; a
  // reader thread drains it.
  Named server;
  ASSERT_TRUE(BindAbstract("threads", &server));
  constexpr int kSenders = 3;
  constexpr int kEach = 200;
  int got = 0;
  std::thread reader([&] {
    char c;
    while (got < kSenders * kEach && recv(server.fd.get(), &c, 1, 0) == 1) ++got;
  });
  std::vector<std::thread> senders;
  for (int i = 0; i < kSenders; ++i) {
    senders.emplace_back([&] {
      FileDescriptor s(socket(AF_UNIX, SOCK_DGRAM, 0));
      for (int j = 0; j < kEach; ++j) {
        if (sendto(s.get(), "x", 1, 0, server.addr.get(), server.addr.len) != 1) return;
      }
    });
  }
  for (auto& t : senders) t.join();
  reader.join();
  EXPECT_EQ(got, kSenders * kEach);
}

TEST(UnixDgramAddressTest, ConnectedPeerClosedAfterwards) {
  Named server;
  ASSERT_TRUE(BindAbstract("closing", &server));
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), server.addr.get(), server.addr.len), SyscallSucceeds());
  server.fd.reset();
  EXPECT_THAT(send(c.get(), "x", 1, 0), SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_THAT(send(c.get(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
}

TEST(UnixDgramAddressTest, PasscredAutobindsTheSender) {
  Named server;
  ASSERT_TRUE(BindAbstract("autobind-server", &server));
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  int on = 1;
  ASSERT_THAT(setsockopt(c.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), SyscallSucceeds());
  ASSERT_THAT(sendto(c.get(), "x", 1, 0, server.addr.get(), server.addr.len), SyscallSucceeds());
  sockaddr_un name{};
  socklen_t len = sizeof(name);
  ASSERT_THAT(getsockname(c.get(), reinterpret_cast<sockaddr*>(&name), &len), SyscallSucceeds());
  EXPECT_EQ(len, offsetof(sockaddr_un, sun_path) + 6);
  sockaddr_un from{};
  socklen_t flen = sizeof(from);
  char ch;
  ASSERT_THAT(recvfrom(server.fd.get(), &ch, 1, 0, reinterpret_cast<sockaddr*>(&from), &flen),
              SyscallSucceeds());
  EXPECT_EQ(flen, len);
}

TEST(UnixDgramAddressTest, RecvfromAddressTruncated) {
  Named server, client;
  ASSERT_TRUE(BindAbstract("trunc-server", &server));
  ASSERT_TRUE(BindAbstract("trunc-client", &client));
  ASSERT_THAT(sendto(client.fd.get(), "x", 1, 0, server.addr.get(), server.addr.len),
              SyscallSucceeds());
  char from[sizeof(sockaddr_un)];
  std::memset(from, 0x55, sizeof(from));
  socklen_t len = 5;
  char ch;
  ASSERT_THAT(recvfrom(server.fd.get(), &ch, 1, 0, reinterpret_cast<sockaddr*>(from), &len),
              SyscallSucceeds());
  EXPECT_EQ(len, client.addr.len);
  EXPECT_EQ(from[5], 0x55);
}

}  // namespace
}  // namespace syscalls_test
