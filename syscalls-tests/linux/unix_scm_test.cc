// Control messages on unix sockets (man 7 unix, man 3 cmsg): SCM_RIGHTS
// (files passed into the receiver's fd table, kept alive in flight, their
// limits and MSG_CTRUNC), SCM_CREDENTIALS and SO_PASSCRED (what a receiver
// learns of the sender, what a sender may claim).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/linux/unix_socket_util.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// Sends `data` with the given fds (SCM_RIGHTS) on `fd`.
ssize_t SendFds(int fd, const std::vector<int>& fds, const char* data = "x", size_t len = 1) {
  iovec iov{const_cast<char*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::vector<char> ctl(CMSG_SPACE(fds.size() * sizeof(int)));
  if (!fds.empty()) {
    mh.msg_control = ctl.data();
    mh.msg_controllen = ctl.size();
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  return sendmsg(fd, &mh, 0);
}

// What recvmsg gave: the data, the fds, the credentials, the flags.
struct Received {
  ssize_t n = -1;
  std::string data;
  std::vector<int> fds;
  bool has_creds = false;
  struct ucred creds {};
  int flags = 0;
  size_t controllen = 0;
};

Received Recv(int fd, size_t ctl_room, int flags = 0, size_t data_room = 64) {
  Received r;
  std::vector<char> buf(data_room);
  iovec iov{buf.data(), buf.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::vector<char> ctl(ctl_room);
  if (ctl_room != 0) {
    mh.msg_control = ctl.data();
    mh.msg_controllen = ctl.size();
  }
  r.n = recvmsg(fd, &mh, flags);
  if (r.n < 0) return r;
  r.data.assign(buf.data(), static_cast<size_t>(r.n));
  r.flags = mh.msg_flags;
  r.controllen = mh.msg_controllen;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int f;
        std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
        r.fds.push_back(f);
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(r.creds))) {
      r.has_creds = true;
      std::memcpy(&r.creds, CMSG_DATA(c), sizeof(r.creds));
    }
  }
  return r;
}

// Two fds name the same open file description when they share its offset.
bool SameDescription(int x, int y) {
  struct stat a, b;
  if (fstat(x, &a) != 0 || fstat(y, &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// A regular file to pass around.
FileDescriptor TempFile() {
  char tmpl[] = "/tmp/unix-scm-XXXXXX";
  FileDescriptor fd(mkstemp(tmpl));
  if (fd.valid()) unlink(tmpl);
  return fd;
}

void CloseAll(const std::vector<int>& fds) {
  for (int f : fds) close(f);
}

constexpr size_t kRoom = CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred));

class UnixScmTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { ASSERT_TRUE(MakePair(GetParam(), &p_)); }
  int a() const { return p_.a.get(); }
  int b() const { return p_.b.get(); }
  Pair p_;
};

TEST_P(UnixScmTest, PassAFile) {
  FileDescriptor f = TempFile();
  ASSERT_TRUE(f.valid());
  ASSERT_THAT(write(f.get(), "content", 7), SyscallSucceeds());
  ASSERT_THAT(SendFds(a(), {f.get()}, "data", 4), SyscallSucceedsWithValue(4));
  Received r = Recv(b(), kRoom);
  ASSERT_EQ(r.n, 4);
  EXPECT_EQ(r.data, "data");
  ASSERT_EQ(r.fds.size(), 1u);
  EXPECT_EQ(r.flags, 0);
  EXPECT_EQ(r.controllen, CMSG_SPACE(sizeof(int)));
  FileDescriptor got(r.fds[0]);
  EXPECT_NE(got.get(), f.get());
  EXPECT_TRUE(SameDescription(got.get(), f.get()));
  // The same open file: one offset.
  EXPECT_EQ(lseek(got.get(), 0, SEEK_CUR), 7);
  ASSERT_THAT(lseek(got.get(), 2, SEEK_SET), SyscallSucceeds());
  EXPECT_EQ(lseek(f.get(), 0, SEEK_CUR), 2);
  EXPECT_EQ(fcntl(got.get(), F_GETFD), 0);
}

TEST_P(UnixScmTest, CmsgCloexec) {
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get()}), SyscallSucceeds());
  Received r = Recv(b(), kRoom, MSG_CMSG_CLOEXEC);
  ASSERT_EQ(r.fds.size(), 1u);
  FileDescriptor got(r.fds[0]);
  EXPECT_EQ(fcntl(got.get(), F_GETFD), FD_CLOEXEC);
  // The flag comes back in msg_flags, as Linux leaves it.
  EXPECT_EQ(r.flags, MSG_CMSG_CLOEXEC);
}

TEST_P(UnixScmTest, SeveralFilesAndSeveralMessages) {
  FileDescriptor f1 = TempFile(), f2 = TempFile(), f3 = TempFile();
  // Two SCM_RIGHTS messages in one sendmsg arrive as one.
  iovec iov{const_cast<char*>("x"), 1};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  char ctl[CMSG_SPACE(2 * sizeof(int)) + CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof(ctl);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int two[2] = {f1.get(), f2.get()};
  std::memcpy(CMSG_DATA(c), two, sizeof(two));
  c = CMSG_NXTHDR(&mh, c);
  ASSERT_NE(c, nullptr);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int three = f3.get();
  std::memcpy(CMSG_DATA(c), &three, sizeof(three));
  ASSERT_THAT(sendmsg(a(), &mh, 0), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  ASSERT_EQ(r.fds.size(), 3u);
  EXPECT_TRUE(SameDescription(r.fds[0], f1.get()));
  EXPECT_TRUE(SameDescription(r.fds[1], f2.get()));
  EXPECT_TRUE(SameDescription(r.fds[2], f3.get()));
  CloseAll(r.fds);
}

TEST_P(UnixScmTest, ShortControlBufferTruncates) {
  FileDescriptor f1 = TempFile(), f2 = TempFile(), f3 = TempFile();
  ASSERT_THAT(SendFds(a(), {f1.get(), f2.get(), f3.get()}), SyscallSucceeds());
  // Room for one fd: the others are closed and MSG_CTRUNC says so.
  Received r = Recv(b(), CMSG_LEN(sizeof(int)));
  ASSERT_EQ(r.n, 1);
  ASSERT_EQ(r.fds.size(), 1u);
  EXPECT_TRUE(SameDescription(r.fds[0], f1.get()));
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  EXPECT_EQ(r.controllen, CMSG_LEN(sizeof(int)));
  CloseAll(r.fds);
  // Whatever room there is counts, the alignment padding included.
  ASSERT_THAT(SendFds(a(), {f1.get(), f2.get(), f3.get()}), SyscallSucceeds());
  r = Recv(b(), CMSG_SPACE(sizeof(int)));
  EXPECT_EQ(r.fds.size(), 2u);
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  CloseAll(r.fds);
}

TEST_P(UnixScmTest, NoControlBufferTruncates) {
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get()}), SyscallSucceeds());
  Received r = Recv(b(), 0);
  ASSERT_EQ(r.n, 1);
  EXPECT_TRUE(r.fds.empty());
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  // Room for less than a header is no room.
  ASSERT_THAT(SendFds(a(), {f.get()}), SyscallSucceeds());
  r = Recv(b(), sizeof(cmsghdr) - 1);
  EXPECT_TRUE(r.fds.empty());
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  EXPECT_EQ(r.controllen, 0u);
}

TEST_P(UnixScmTest, ReadDropsTheFiles) {
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get()}, "ab", 2), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(read(b(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_THAT(recv(b(), buf, sizeof(buf), MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(UnixScmTest, FilesStayAliveInFlight) {
  // A socket end passed and closed by the sender still works on arrival.
  Pair inner;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &inner));
  ASSERT_THAT(SendFds(a(), {inner.a.get()}), SyscallSucceeds());
  inner.a.reset();
  Received r = Recv(b(), kRoom);
  ASSERT_EQ(r.fds.size(), 1u);
  FileDescriptor got(r.fds[0]);
  ASSERT_THAT(write(got.get(), "alive", 5), SyscallSucceedsWithValue(5));
  char buf[8];
  EXPECT_THAT(read(inner.b.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(5));
}

TEST_P(UnixScmTest, UnreadFilesAreClosedWithTheSocket) {
  Pair inner;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &inner));
  ASSERT_THAT(SendFds(a(), {inner.a.get()}), SyscallSucceeds());
  inner.a.reset();
  // The only reference left is in b's queue: closing b closes it.
  p_.b.reset();
  char c;
  EXPECT_THAT(read(inner.b.get(), &c, 1), SyscallSucceedsWithValue(0));
}

TEST_P(UnixScmTest, PeekDuplicatesTheFiles) {
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get()}), SyscallSucceeds());
  Received peek = Recv(b(), kRoom, MSG_PEEK);
  ASSERT_EQ(peek.fds.size(), 1u);
  Received r = Recv(b(), kRoom);
  ASSERT_EQ(r.fds.size(), 1u);
  EXPECT_NE(peek.fds[0], r.fds[0]);
  EXPECT_TRUE(SameDescription(peek.fds[0], r.fds[0]));
  CloseAll(peek.fds);
  CloseAll(r.fds);
}

TEST_P(UnixScmTest, AtMostScmMaxFd) {
  FileDescriptor f = TempFile();
  std::vector<int> fds(253, f.get());
  ASSERT_THAT(SendFds(a(), fds), SyscallSucceeds());
  Received r = Recv(b(), CMSG_SPACE(253 * sizeof(int)));
  EXPECT_EQ(r.fds.size(), 253u);
  CloseAll(r.fds);
  fds.push_back(f.get());
  EXPECT_THAT(SendFds(a(), fds), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixScmTest, BadFds) {
  EXPECT_THAT(SendFds(a(), {-1}), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(SendFds(a(), {1000000}), SyscallFailsWithErrno(EBADF));
  // Nothing was sent.
  char c;
  EXPECT_THAT(recv(b(), &c, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(UnixScmTest, ReceiverFdLimit) {
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get(), f.get(), f.get()}), SyscallSucceeds());
  struct rlimit old;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &old), SyscallSucceeds());
  Cleanup restore([&] { setrlimit(RLIMIT_NOFILE, &old); });
  // One free fd below the limit.
  FileDescriptor probe(dup(0));
  struct rlimit lim = old;
  lim.rlim_cur = static_cast<rlim_t>(probe.get()) + 1;
  probe.reset();
  ASSERT_THAT(setrlimit(RLIMIT_NOFILE, &lim), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  restore.Run();
  ASSERT_EQ(r.n, 1);
  EXPECT_EQ(r.fds.size(), 1u);
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  CloseAll(r.fds);
}

TEST_P(UnixScmTest, ControlMessageErrors) {
  iovec iov{const_cast<char*>("x"), 1};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof(ctl);
  cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  // Longer than the buffer.
  c->cmsg_len = sizeof(ctl) + 1;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EINVAL));
  // Shorter than a header.
  c->cmsg_len = sizeof(cmsghdr) - 1;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EINVAL));
  // Unknown at SOL_SOCKET.
  c->cmsg_len = CMSG_LEN(sizeof(int));
  c->cmsg_type = 77;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EINVAL));
  // Another level is skipped.
  c->cmsg_level = 6;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallSucceedsWithValue(1));
  // SCM_RIGHTS with no fds is nothing.
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(0);
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallSucceedsWithValue(1));
  // A control buffer too short for a header holds no message.
  mh.msg_controllen = sizeof(cmsghdr) - 1;
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallSucceedsWithValue(1));
  mh.msg_controllen = sizeof(ctl);
  mh.msg_control = reinterpret_cast<void*>(0xffff800000000000);
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EFAULT));
  // Far too much control data.
  std::vector<char> huge(1 << 20);
  mh.msg_control = huge.data();
  mh.msg_controllen = huge.size();
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(ENOBUFS));
}

// --- Credentials. ---

void PassCred(int fd) {
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
}

ssize_t SendCreds(int fd, const struct ucred& cr, const char* data = "x", size_t len = 1) {
  iovec iov{const_cast<char*>(data), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(struct ucred))] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof(ctl);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(cr));
  std::memcpy(CMSG_DATA(c), &cr, sizeof(cr));
  return sendmsg(fd, &mh, 0);
}

TEST_P(UnixScmTest, PasscredReceivesTheSendersIds) {
  PassCred(b());
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  ASSERT_TRUE(r.has_creds);
  EXPECT_EQ(r.creds.pid, getpid());
  EXPECT_EQ(r.creds.uid, getuid());
  EXPECT_EQ(r.creds.gid, getgid());
  EXPECT_EQ(r.controllen, CMSG_SPACE(sizeof(struct ucred)));
}

TEST_P(UnixScmTest, NoPasscredNoCredentials) {
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  EXPECT_FALSE(r.has_creds);
  EXPECT_EQ(r.controllen, 0u);
}

TEST_P(UnixScmTest, CredentialsAttachedAfterTheFactAreNobodys) {
  // Sent before the receiver asked: nothing was attached, so the receiver
  // reads pid 0 and the overflow ids.
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  PassCred(b());
  Received r = Recv(b(), kRoom);
  ASSERT_TRUE(r.has_creds);
  EXPECT_EQ(r.creds.pid, 0);
  EXPECT_EQ(r.creds.uid, 65534u);
  EXPECT_EQ(r.creds.gid, 65534u);
}

TEST_P(UnixScmTest, PasscredWithoutRoomTruncates) {
  PassCred(b());
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  Received r = Recv(b(), 0);
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  // A buffer shorter than the whole message gets a cut one.
  ASSERT_THAT(send(a(), "x", 1, 0), SyscallSucceeds());
  r = Recv(b(), CMSG_LEN(sizeof(struct ucred)) - 4);
  EXPECT_EQ(r.flags, MSG_CTRUNC);
  EXPECT_EQ(r.controllen, CMSG_LEN(sizeof(struct ucred)) - 4);
}

TEST_P(UnixScmTest, ExplicitCredentials) {
  PassCred(b());
  struct ucred mine {
    getpid(), getuid(), getgid()
  };
  ASSERT_THAT(SendCreds(a(), mine), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  ASSERT_TRUE(r.has_creds);
  EXPECT_EQ(r.creds.pid, mine.pid);
  // Credentials come before files.
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(a(), {f.get()}), SyscallSucceeds());
  r = Recv(b(), kRoom);
  ASSERT_TRUE(r.has_creds);
  ASSERT_EQ(r.fds.size(), 1u);
  CloseAll(r.fds);
}

TEST_P(UnixScmTest, CredentialErrors) {
  struct ucred bad {
    getpid(), static_cast<uid_t>(-1), getgid()
  };
  EXPECT_THAT(SendCreds(a(), bad), SyscallFailsWithErrno(EINVAL));
  bad = {getpid(), getuid(), static_cast<gid_t>(-1)};
  EXPECT_THAT(SendCreds(a(), bad), SyscallFailsWithErrno(EINVAL));
  // The wrong length.
  iovec iov{const_cast<char*>("x"), 1};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(struct ucred) + 4)] = {};
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof(ctl);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred) + 4);
  struct ucred mine {
    getpid(), getuid(), getgid()
  };
  std::memcpy(CMSG_DATA(c), &mine, sizeof(mine));
  EXPECT_THAT(sendmsg(a(), &mh, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixScmTest, PrivilegedMayClaimAnotherProcess) {
  SKIP_IF(geteuid() != 0);
  PassCred(b());
  // Another live process: a child that waits for us.
  Pair hold;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &hold));
  Child sleeper([&] {
    char c;
    (void)read(hold.b.get(), &c, 1);
  });
  ASSERT_TRUE(sleeper.started());
  Cleanup release([&] { (void)write(hold.a.get(), "x", 1); });
  struct ucred other {
    sleeper.pid(), 1234, 5678
  };
  ASSERT_THAT(SendCreds(a(), other), SyscallSucceeds());
  Received r = Recv(b(), kRoom);
  ASSERT_TRUE(r.has_creds);
  EXPECT_EQ(r.creds.pid, other.pid);
  EXPECT_EQ(r.creds.uid, 1234u);
  EXPECT_EQ(r.creds.gid, 5678u);
  // A process that does not exist.
  struct ucred gone {
    0x3ffffff, 0, 0
  };
  EXPECT_THAT(SendCreds(a(), gone), SyscallFailsWithErrno(ESRCH));
}

TEST_P(UnixScmTest, UnprivilegedMayClaimOnlyItself) {
  SKIP_IF(geteuid() != 0);  // needs root to become somebody else
  const pid_t parent = getpid();
  EXPECT_TRUE(InChild([&] {
    DropPrivilegesInChild();
    struct ucred me {
      getpid(), getuid(), getgid()
    };
    CHILD_CHECK(SendCreds(a(), me) == 1);
    struct ucred other_pid {
      parent, getuid(), getgid()
    };
    CHILD_CHECK(SendCreds(a(), other_pid) == -1 && errno == EPERM);
    struct ucred other_uid {
      getpid(), 0, getgid()
    };
    CHILD_CHECK(SendCreds(a(), other_uid) == -1 && errno == EPERM);
  }));
}

TEST(UnixScmStreamTest, CredentialsSeparateWriters) {
  SKIP_IF(geteuid() != 0);
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  PassCred(p.b.get());
  Pair hold;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &hold));
  Child sleeper([&] {
    char c;
    (void)read(hold.b.get(), &c, 1);
  });
  ASSERT_TRUE(sleeper.started());
  Cleanup release([&] { (void)write(hold.a.get(), "x", 1); });
  ASSERT_THAT(send(p.a.get(), "ab", 2, 0), SyscallSucceeds());
  struct ucred other {
    sleeper.pid(), getuid(), getgid()
  };
  ASSERT_THAT(SendCreds(p.a.get(), other, "cd", 2), SyscallSucceeds());
  ASSERT_THAT(send(p.a.get(), "ef", 2, 0), SyscallSucceeds());
  // Bytes of different senders never come in one read.
  Received r = Recv(p.b.get(), kRoom);
  EXPECT_EQ(r.data, "ab");
  EXPECT_EQ(r.creds.pid, getpid());
  r = Recv(p.b.get(), kRoom);
  EXPECT_EQ(r.data, "cd");
  EXPECT_EQ(r.creds.pid, sleeper.pid());
  r = Recv(p.b.get(), kRoom);
  EXPECT_EQ(r.data, "ef");
}

TEST(UnixScmStreamTest, FilesEndARead) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  FileDescriptor f = TempFile();
  ASSERT_THAT(send(p.a.get(), "ab", 2, 0), SyscallSucceeds());
  ASSERT_THAT(SendFds(p.a.get(), {f.get()}, "cd", 2), SyscallSucceeds());
  ASSERT_THAT(send(p.a.get(), "ef", 2, 0), SyscallSucceeds());
  // The read goes on into the message with files, and stops after it.
  Received r = Recv(p.b.get(), kRoom);
  EXPECT_EQ(r.data, "abcd");
  EXPECT_EQ(r.fds.size(), 1u);
  CloseAll(r.fds);
  r = Recv(p.b.get(), kRoom);
  EXPECT_EQ(r.data, "ef");
  EXPECT_TRUE(r.fds.empty());
}

TEST(UnixScmStreamTest, FilesComeWithTheFirstByte) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(p.a.get(), {f.get()}, "abcd", 4), SyscallSucceeds());
  Received r = Recv(p.b.get(), kRoom, 0, 2);
  EXPECT_EQ(r.data, "ab");
  EXPECT_EQ(r.fds.size(), 1u);
  CloseAll(r.fds);
  r = Recv(p.b.get(), kRoom, 0, 2);
  EXPECT_EQ(r.data, "cd");
  EXPECT_TRUE(r.fds.empty());
}

TEST(UnixScmStreamTest, ZeroBytesCarryNoFiles) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  FileDescriptor f = TempFile();
  EXPECT_THAT(SendFds(p.a.get(), {f.get()}, "", 0), SyscallSucceedsWithValue(0));
  char c;
  EXPECT_THAT(recv(p.b.get(), &c, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN));
}

TEST(UnixScmForkTest, PassAFileToAnotherProcess) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_DGRAM, &p));
  Child child([&] {
    p.a.reset();
    Received r = Recv(p.b.get(), kRoom);
    CHILD_CHECK(r.fds.size() == 1);
    CHILD_CHECK(write(r.fds[0], "from child", 10) == 10);
  });
  ASSERT_TRUE(child.started());
  FileDescriptor f = TempFile();
  ASSERT_THAT(SendFds(p.a.get(), {f.get()}), SyscallSucceeds());
  EXPECT_TRUE(child.Wait());
  char buf[16] = {};
  EXPECT_THAT(pread(f.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(10));
  EXPECT_EQ(std::string(buf), "from child");
}

INSTANTIATE_TEST_SUITE_P(AllTypes, UnixScmTest,
                         ::testing::Values(SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return i.param == SOCK_STREAM  ? "Stream"
                                  : i.param == SOCK_DGRAM ? "Dgram"
                                                          : "Seqpacket";
                         });

}  // namespace
}  // namespace syscalls_test
