// SOCK_SEQPACKET unix sockets: connected like a stream, records like
// datagrams. Boundaries and truncation, end of file (also for a
// non-blocking reader), a peer that goes away (EPIPE without SIGPIPE), the
// unconnected socket's errors.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/linux/unix_socket_util.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using UnixSeqpacketTest = SocketPairTest<SOCK_SEQPACKET>;

TEST_F(UnixSeqpacketTest, RecordsKeepTheirBoundaries) {
  ASSERT_THAT(write(a(), "abc", 3), SyscallSucceedsWithValue(3));
  ASSERT_THAT(write(a(), "defgh", 5), SyscallSucceedsWithValue(5));
  char buf[16];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(3));
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf, 5), "defgh");
}

TEST_F(UnixSeqpacketTest, Truncation) {
  ASSERT_THAT(write(a(), "abcdef", 6), SyscallSucceeds());
  char buf[4];
  iovec iov{buf, 4};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  ASSERT_THAT(recvmsg(b(), &mh, 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(mh.msg_flags, MSG_TRUNC);
  ASSERT_THAT(write(a(), "abcdef", 6), SyscallSucceeds());
  EXPECT_THAT(recv(b(), buf, 2, MSG_TRUNC), SyscallSucceedsWithValue(6));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(UnixSeqpacketTest, ZeroLengthRecords) {
  ASSERT_THAT(write(a(), "", 0), SyscallSucceedsWithValue(0));
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceedsWithValue(1));
  char buf[4];
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(1));
}

TEST_F(UnixSeqpacketTest, PeerClosedIsEofAndEpipeWithoutSigpipe) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(write(b(), "last", 4), SyscallSucceeds());
  p_.b.reset();
  char buf[8];
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_THAT(read(a(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  // A non-blocking reader sees end of file too (not EAGAIN).
  EXPECT_THAT(recv(a(), buf, sizeof(buf), MSG_DONTWAIT), SyscallSucceedsWithValue(0));
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(sigpipe.Take());
}

TEST_F(UnixSeqpacketTest, PeerClosedWithUnreadDataResetsOnce) {
  ASSERT_THAT(write(a(), "unread", 6), SyscallSucceeds());
  p_.b.reset();
  // The send reports the reset first, then the pipe.
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
}

TEST_F(UnixSeqpacketTest, ShutdownWrite) {
  SigpipeCatcher sigpipe;
  ASSERT_THAT(shutdown(a(), SHUT_WR), SyscallSucceeds());
  EXPECT_THAT(write(a(), "x", 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_FALSE(sigpipe.Take());
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
}

TEST_F(UnixSeqpacketTest, AddressIsIgnoredWhenConnected) {
  UnixAddr nowhere = Abstract(UniqueName("ignored"));
  EXPECT_THAT(sendto(a(), "x", 1, 0, nowhere.get(), nowhere.len), SyscallSucceedsWithValue(1));
  char c;
  EXPECT_THAT(recv(b(), &c, 1, 0), SyscallSucceedsWithValue(1));
}

TEST(UnixSeqpacketStateTest, Unconnected) {
  FileDescriptor s(socket(AF_UNIX, SOCK_SEQPACKET, 0));
  char buf[4];
  EXPECT_THAT(recv(s.get(), buf, sizeof(buf), 0), SyscallFailsWithErrno(ENOTCONN));
  EXPECT_THAT(send(s.get(), "x", 1, 0), SyscallFailsWithErrno(ENOTCONN));
  UnixAddr a = Abstract(UniqueName("seq-nowhere"));
  EXPECT_THAT(sendto(s.get(), "x", 1, 0, a.get(), a.len), SyscallFailsWithErrno(ENOTCONN));
}

TEST(UnixSeqpacketStateTest, AcceptedConnection) {
  FileDescriptor l(socket(AF_UNIX, SOCK_SEQPACKET, 0));
  UnixAddr a = Abstract(UniqueName("seq-listen"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, SOCK_SEQPACKET, 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  // Records sent before the connection is accepted wait in it.
  ASSERT_THAT(send(c.get(), "early", 5, 0), SyscallSucceedsWithValue(5));
  FileDescriptor s(accept(l.get(), nullptr, nullptr));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(recv(s.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(5));
  ASSERT_THAT(send(s.get(), "ab", 2, 0), SyscallSucceeds());
  ASSERT_THAT(send(s.get(), "cde", 3, 0), SyscallSucceeds());
  EXPECT_THAT(recv(c.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(2));
  EXPECT_THAT(recv(c.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(3));
}

TEST(UnixSeqpacketStateTest, BlockingReadWakesAtEof) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_SEQPACKET, &p));
  Child closer([&] {
    usleep(100000);
    p.b.reset();
    p.a.reset();
  });
  ASSERT_TRUE(closer.started());
  p.b.reset();
  // The child held the other end too; when it closes it, we see end of file.
  char buf[4];
  EXPECT_THAT(read(p.a.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_TRUE(closer.Wait());
}

}  // namespace
}  // namespace syscalls_test
