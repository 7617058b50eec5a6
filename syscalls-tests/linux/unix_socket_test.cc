// Unix-domain sockets, what every type shares (man 7 unix, man 2 socket,
// socketpair, bind, listen, accept, connect, getsockname, getpeername,
// getsockopt/setsockopt): creation and its flags, the errors every socket
// call gives a bad fd, addresses (pathname, abstract, automatic) and their
// lengths, connecting and accepting, options, ioctls, fstat and /proc.
// Data semantics are in unix_stream, unix_dgram and unix_seqpacket; passed
// files and credentials in unix_scm.
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

using ::testing::AnyOf;

int IntOpt(int fd, int name) {
  int v = -12345;
  socklen_t len = sizeof(v);
  if (getsockopt(fd, SOL_SOCKET, name, &v, &len) != 0) return -12345;
  return v;
}

// --- socket(2) and socketpair(2). ---

TEST(UnixSocketCreateTest, EachTypeWithItsOptions) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}) {
    FileDescriptor fd(socket(AF_UNIX, type, 0));
    ASSERT_THAT(fd.get(), SyscallSucceeds());
    EXPECT_EQ(IntOpt(fd.get(), SO_TYPE), type);
    EXPECT_EQ(IntOpt(fd.get(), SO_DOMAIN), AF_UNIX);
    EXPECT_EQ(IntOpt(fd.get(), SO_PROTOCOL), 0);
    EXPECT_EQ(IntOpt(fd.get(), SO_ACCEPTCONN), 0);
    EXPECT_EQ(IntOpt(fd.get(), SO_ERROR), 0);
    EXPECT_EQ(IntOpt(fd.get(), SO_PASSCRED), 0);
    EXPECT_EQ(fcntl(fd.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
    EXPECT_EQ(fcntl(fd.get(), F_GETFD), 0);
  }
}

TEST(UnixSocketCreateTest, NonblockAndCloexecFlags) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
  EXPECT_EQ(fcntl(fd.get(), F_GETFD), FD_CLOEXEC);
}

TEST(UnixSocketCreateTest, ProtocolPfUnixIsAcceptedAndReadsAsZero) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, PF_UNIX));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_EQ(IntOpt(fd.get(), SO_PROTOCOL), 0);
}

TEST(UnixSocketCreateTest, RawIsDatagram) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_RAW, 0));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  EXPECT_EQ(IntOpt(fd.get(), SO_TYPE), SOCK_DGRAM);
}

TEST(UnixSocketCreateTest, Errors) {
  EXPECT_THAT(socket(AF_UNIX, SOCK_STREAM | 0x100, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(socket(AF_UNIX, SOCK_STREAM, 2), SyscallFailsWithErrno(EPROTONOSUPPORT));
  // The protocol is looked at before the type.
  EXPECT_THAT(socket(AF_UNIX, SOCK_RDM, 2), SyscallFailsWithErrno(EPROTONOSUPPORT));
  EXPECT_THAT(socket(AF_UNIX, SOCK_RDM, 0), SyscallFailsWithErrno(ESOCKTNOSUPPORT));
  EXPECT_THAT(socket(AF_UNIX, SOCK_PACKET, 0), SyscallFailsWithErrno(ESOCKTNOSUPPORT));
  EXPECT_THAT(socket(AF_UNIX, 11, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(socket(-1, SOCK_STREAM, 0), SyscallFailsWithErrno(EAFNOSUPPORT));
  EXPECT_THAT(socket(46, SOCK_STREAM, 0), SyscallFailsWithErrno(EAFNOSUPPORT));
  EXPECT_THAT(socket(1000, SOCK_STREAM, 0), SyscallFailsWithErrno(EAFNOSUPPORT));
  // The family comes before the type's range.
  EXPECT_THAT(socket(1000, 11, 0), SyscallFailsWithErrno(EAFNOSUPPORT));
}

TEST(UnixSocketpairTest, EachTypeConnectedBothWays) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}) {
    Pair p;
    ASSERT_TRUE(MakePair(type, &p));
    ASSERT_THAT(write(p.a.get(), "ab", 2), SyscallSucceedsWithValue(2));
    ASSERT_THAT(write(p.b.get(), "cd", 2), SyscallSucceedsWithValue(2));
    char buf[4];
    ASSERT_THAT(read(p.b.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
    EXPECT_EQ(std::string(buf, 2), "ab");
    ASSERT_THAT(read(p.a.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
    EXPECT_EQ(std::string(buf, 2), "cd");
  }
}

TEST(UnixSocketpairTest, Flags) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
              SyscallSucceeds());
  FileDescriptor a(sv[0]), b(sv[1]);
  for (int fd : sv) {
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  }
  EXPECT_THAT(socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, sv), SyscallFailsWithErrno(EINVAL));
}

TEST(UnixSocketpairTest, Errors) {
  int sv[2];
  EXPECT_THAT(socketpair(AF_UNIX, SOCK_STREAM, 2, sv), SyscallFailsWithErrno(EPROTONOSUPPORT));
  EXPECT_THAT(socketpair(AF_UNIX, SOCK_RDM, 0, sv), SyscallFailsWithErrno(ESOCKTNOSUPPORT));
  EXPECT_THAT(socketpair(1000, SOCK_STREAM, 0, sv), SyscallFailsWithErrno(EAFNOSUPPORT));
  EXPECT_THAT(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  // The fds are written before the sockets are made.
  EXPECT_THAT(syscall(SYS_socketpair, 1000, SOCK_STREAM, 0, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
}

TEST(UnixSocketpairTest, NeedsTwoFds) {
  struct rlimit old;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &old), SyscallSucceeds());
  Cleanup restore([&] { setrlimit(RLIMIT_NOFILE, &old); });
  // The lowest free fd is the only one below the limit.
  FileDescriptor probe(dup(0));
  ASSERT_THAT(probe.get(), SyscallSucceeds());
  struct rlimit lim = old;
  lim.rlim_cur = static_cast<rlim_t>(probe.get()) + 1;
  probe.reset();
  ASSERT_THAT(setrlimit(RLIMIT_NOFILE, &lim), SyscallSucceeds());
  int sv[2] = {-1, -1};
  EXPECT_THAT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), SyscallFailsWithErrno(EMFILE));
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(s.get(), SyscallSucceeds());
  EXPECT_THAT(socket(AF_UNIX, SOCK_STREAM, 0), SyscallFailsWithErrno(EMFILE));
}

// --- Every socket call on what is not a socket. ---

TEST(UnixSocketBadFdTest, EbadfAndEnotsock) {
  FileDescriptor file(open("/dev/null", O_RDWR));
  ASSERT_THAT(file.get(), SyscallSucceeds());
  const int nf = file.get();
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  socklen_t len = sizeof(sa);
  int v = 1;
  char buf[4];
  msghdr mh{};
  for (int fd : {-1, 1000000}) {
    EXPECT_THAT(bind(fd, reinterpret_cast<sockaddr*>(&sa), 2), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(listen(fd, 1), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(accept(fd, nullptr, nullptr), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(connect(fd, reinterpret_cast<sockaddr*>(&sa), 2), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len),
                SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len),
                SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(shutdown(fd, SHUT_RDWR), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(send(fd, buf, 1, 0), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(recv(fd, buf, 1, 0), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(sendmsg(fd, &mh, 0), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(recvmsg(fd, &mh, 0), SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)),
                SyscallFailsWithErrno(EBADF));
    EXPECT_THAT(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), SyscallFailsWithErrno(EBADF));
  }
  EXPECT_THAT(bind(nf, reinterpret_cast<sockaddr*>(&sa), 2), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(listen(nf, 1), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(accept(nf, nullptr, nullptr), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(connect(nf, reinterpret_cast<sockaddr*>(&sa), 2), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(getsockname(nf, reinterpret_cast<sockaddr*>(&sa), &len),
              SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(getpeername(nf, reinterpret_cast<sockaddr*>(&sa), &len),
              SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(shutdown(nf, SHUT_RDWR), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(send(nf, buf, 1, 0), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(recv(nf, buf, 1, 0), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(sendmsg(nf, &mh, 0), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(recvmsg(nf, &mh, 0), SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(setsockopt(nf, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)),
              SyscallFailsWithErrno(ENOTSOCK));
  EXPECT_THAT(getsockopt(nf, SOL_SOCKET, SO_TYPE, &v, &len), SyscallFailsWithErrno(ENOTSOCK));
}

TEST(UnixSocketBadFdTest, CheckOrder) {
  FileDescriptor file(open("/dev/null", O_RDWR));
  ASSERT_THAT(file.get(), SyscallSucceeds());
  // connect copies the address in before it asks whether the fd is a socket;
  // bind asks first.
  EXPECT_THAT(syscall(SYS_connect, file.get(), kKernelAddress, 4), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_connect, file.get(), nullptr, 1000), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_bind, file.get(), kKernelAddress, 4), SyscallFailsWithErrno(ENOTSOCK));
  // accept4 checks its flags before the fd's kind.
  EXPECT_THAT(accept4(file.get(), nullptr, nullptr, 0x1), SyscallFailsWithErrno(EINVAL));
  // send and recv check their buffer's range before the fd.
  EXPECT_THAT(syscall(SYS_sendto, -1, kKernelAddress, size_t{4}, 0, nullptr, 0),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_recvfrom, -1, kKernelAddress, size_t{4}, 0, nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
}

// --- The file side of a socket. ---

TEST(UnixSocketFileTest, FstatShowsASocket) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFSOCK | 0777u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_blksize, 4096);
  FileDescriptor other(socket(AF_UNIX, SOCK_STREAM, 0));
  struct stat st2;
  ASSERT_THAT(fstat(other.get(), &st2), SyscallSucceeds());
  EXPECT_EQ(st.st_dev, st2.st_dev);
  EXPECT_NE(st.st_ino, st2.st_ino);
}

TEST(UnixSocketFileTest, ProcFdLinkNamesTheInode) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(fd.get(), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  char link[64];
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t n = readlink(path.c_str(), link, sizeof(link));
  ASSERT_THAT(n, SyscallSucceeds());
  EXPECT_EQ(std::string(link, static_cast<size_t>(n)),
            "socket:[" + std::to_string(st.st_ino) + "]");
  // A socket cannot be opened again through its link.
  EXPECT_THAT(open(path.c_str(), O_RDWR), SyscallFailsWithErrno(ENXIO));
}

TEST(UnixSocketFileTest, NoPositions) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  char c = 'x';
  EXPECT_THAT(lseek(p.a.get(), 0, SEEK_CUR), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pwrite(p.a.get(), &c, 1, 0), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pread(p.b.get(), &c, 1, 0), SyscallFailsWithErrno(ESPIPE));
}

TEST(UnixSocketFileTest, ReadOfNothingIsNothing) {
  // Even an unconnected stream socket reads 0 bytes without complaint.
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  char c;
  EXPECT_THAT(read(fd.get(), &c, 0), SyscallSucceedsWithValue(0));
}

// --- Addresses. ---

TEST(UnixSocketBindTest, AbstractNameAndItsLength) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("abs"));
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  sockaddr_un got{};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, a.len);
  EXPECT_EQ(std::memcmp(&got, &a.addr, a.len), 0);
}

TEST(UnixSocketBindTest, AbstractNameInUse) {
  const UnixAddr a = Abstract(UniqueName("inuse"));
  FileDescriptor s1(socket(AF_UNIX, SOCK_STREAM, 0)), s2(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(bind(s1.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_THAT(bind(s2.get(), a.get(), a.len), SyscallFailsWithErrno(EADDRINUSE));
  // Names are per socket type.
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0));
  EXPECT_THAT(bind(d.get(), a.get(), a.len), SyscallSucceeds());
  // A closed socket's name is free again.
  s1.reset();
  EXPECT_THAT(bind(s2.get(), a.get(), a.len), SyscallSucceeds());
}

TEST(UnixSocketBindTest, AbstractNamesDifferByLength) {
  // "\0x" and "\0x\0" are two names.
  UnixAddr a = Abstract(UniqueName("len"));
  UnixAddr b = a;
  b.len += 1;
  FileDescriptor s1(socket(AF_UNIX, SOCK_DGRAM, 0)), s2(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(bind(s1.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_THAT(bind(s2.get(), b.get(), b.len), SyscallSucceeds());
}

TEST(UnixSocketBindTest, Autobind) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_DGRAM, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  ASSERT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa_family_t)),
              SyscallSucceeds());
  sockaddr_un got{};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  // "\0" and five hex digits.
  ASSERT_EQ(len, offsetof(sockaddr_un, sun_path) + 6);
  EXPECT_EQ(got.sun_path[0], '\0');
  for (int i = 1; i < 6; ++i) EXPECT_TRUE(isxdigit(got.sun_path[i])) << got.sun_path[i];
  // Asking again keeps the name; a real name is refused.
  ASSERT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa_family_t)),
              SyscallSucceeds());
  sockaddr_un again{};
  len = sizeof(again);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&again), &len), SyscallSucceeds());
  EXPECT_EQ(std::memcmp(&got, &again, len), 0);
  UnixAddr a = Abstract(UniqueName("after-auto"));
  EXPECT_THAT(bind(fd.get(), a.get(), a.len), SyscallFailsWithErrno(EINVAL));
}

TEST(UnixSocketBindTest, BoundTwiceIsEinval) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("twice1")), b = Abstract(UniqueName("twice2"));
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_THAT(bind(fd.get(), b.get(), b.len), SyscallFailsWithErrno(EINVAL));
}

TEST(UnixSocketBindTest, BadAddresses) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, "\0x", 2);
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), 1), SyscallFailsWithErrno(EINVAL));
  // More than a sockaddr_un, and more than a sockaddr_storage.
  char big[200] = {};
  std::memcpy(big, &sa, sizeof(sa));
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(big), sizeof(sockaddr_un) + 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(big), 129), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), -1), SyscallFailsWithErrno(EINVAL));
  sa.sun_family = AF_INET;
  EXPECT_THAT(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), 4), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_bind, fd.get(), kKernelAddress, 4), SyscallFailsWithErrno(EFAULT));
}

TEST(UnixSocketBindTest, PathMakesASocketFile) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("sock");
  const mode_t old_umask = umask(022);
  Cleanup restore([&] { umask(old_umask); });
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = PathAddr(path);
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat(path.c_str(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFSOCK | 0755u);
  // The file stays after the socket is gone, and its name is taken.
  fd.reset();
  EXPECT_THAT(stat(path.c_str(), &st), SyscallSucceeds());
  FileDescriptor fd2(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(bind(fd2.get(), a.get(), a.len), SyscallFailsWithErrno(EADDRINUSE));
  // Opening a socket file is ENXIO.
  EXPECT_THAT(open(path.c_str(), O_RDWR), SyscallFailsWithErrno(ENXIO));
  ASSERT_THAT(unlink(path.c_str()), SyscallSucceeds());
  EXPECT_THAT(bind(fd2.get(), a.get(), a.len), SyscallSucceeds());
}

TEST(UnixSocketBindTest, PathErrors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = PathAddr(dir.File("missing") + "/sock");
  EXPECT_THAT(bind(fd.get(), a.get(), a.len), SyscallFailsWithErrno(ENOENT));
  // Any existing file makes the name in use.
  const std::string file = dir.File("file");
  FileDescriptor f(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  ASSERT_THAT(f.get(), SyscallSucceeds());
  UnixAddr b = PathAddr(file);
  EXPECT_THAT(bind(fd.get(), b.get(), b.len), SyscallFailsWithErrno(EADDRINUSE));
}

TEST(UnixSocketBindTest, PathLengthsAsLinuxReportsThem) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("s");
  FileDescriptor fd(socket(AF_UNIX, SOCK_DGRAM, 0));
  // Passed without its NUL: the name ends at the length, and comes back
  // with a NUL counted.
  UnixAddr a = PathAddr(path);
  a.len -= 1;
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  sockaddr_un got{};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, offsetof(sockaddr_un, sun_path) + path.size() + 1);
  EXPECT_EQ(std::string(got.sun_path), path);
  // Passed with trailing bytes after the NUL: they are not part of it.
  const std::string path2 = dir.File("t");
  FileDescriptor fd2(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr b = PathAddr(path2);
  b.len = sizeof(sockaddr_un);
  ASSERT_THAT(bind(fd2.get(), b.get(), b.len), SyscallSucceeds());
  len = sizeof(got);
  ASSERT_THAT(getsockname(fd2.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, offsetof(sockaddr_un, sun_path) + path2.size() + 1);
}

TEST(UnixSocketBindTest, FullLengthPathReportsOneByteMore) {
  // A 108-byte path fills sun_path; getsockname says 111 bytes (the NUL
  // Linux counts lies beyond the structure).
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string path = dir.File("");
  path.resize(sizeof(sockaddr_un::sun_path), 'x');
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a;
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  a.len = sizeof(sockaddr_un);
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  Cleanup rm([&] { unlink(path.c_str()); });
  char got[128] = {};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(got), &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(sockaddr_un) + 1);
  EXPECT_EQ(std::string(got + 2, path.size()), path);
}

TEST(UnixSocketNameTest, UnboundAndTruncated) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un got{};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(sa_family_t));
  EXPECT_EQ(got.sun_family, AF_UNIX);
  // A short buffer gets part of the address and the whole length.
  UnixAddr a = Abstract(UniqueName("trunc"));
  ASSERT_THAT(bind(fd.get(), a.get(), a.len), SyscallSucceeds());
  char buf[sizeof(sockaddr_un)];
  std::memset(buf, 0x55, sizeof(buf));
  len = 4;
  ASSERT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(buf), &len), SyscallSucceeds());
  EXPECT_EQ(len, a.len);
  EXPECT_EQ(buf[4], 0x55);
  len = -1;
  EXPECT_THAT(getsockname(fd.get(), reinterpret_cast<sockaddr*>(buf), &len),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_getsockname, fd.get(), buf, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
}

TEST(UnixSocketNameTest, PeerOfUnconnectedIsEnotconn) {
  FileDescriptor fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un got{};
  socklen_t len = sizeof(got);
  EXPECT_THAT(getpeername(fd.get(), reinterpret_cast<sockaddr*>(&got), &len),
              SyscallFailsWithErrno(ENOTCONN));
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  len = sizeof(got);
  ASSERT_THAT(getpeername(p.a.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(sa_family_t));
}

// --- listen, connect, accept. ---

class UnixConnectTest : public ::testing::TestWithParam<int> {
 protected:
  int type() const { return GetParam(); }
};

TEST_P(UnixConnectTest, PathConnectAndAccept) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("listener");
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = PathAddr(path);
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  EXPECT_EQ(IntOpt(l.get(), SO_ACCEPTCONN), 1);
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  sockaddr_un peer{};
  socklen_t len = sizeof(peer);
  FileDescriptor s(accept(l.get(), reinterpret_cast<sockaddr*>(&peer), &len));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  // The connector is unbound: its address is the family alone.
  EXPECT_EQ(len, sizeof(sa_family_t));
  EXPECT_EQ(peer.sun_family, AF_UNIX);
  // Both ends name the listener's file.
  sockaddr_un got{};
  len = sizeof(got);
  ASSERT_THAT(getpeername(c.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(len, offsetof(sockaddr_un, sun_path) + path.size() + 1);
  EXPECT_EQ(std::string(got.sun_path), path);
  len = sizeof(got);
  ASSERT_THAT(getsockname(s.get(), reinterpret_cast<sockaddr*>(&got), &len), SyscallSucceeds());
  EXPECT_EQ(std::string(got.sun_path), path);
  EXPECT_EQ(IntOpt(s.get(), SO_ACCEPTCONN), 0);
  // Data flows both ways.
  ASSERT_THAT(write(c.get(), "hi", 2), SyscallSucceedsWithValue(2));
  char buf[4];
  ASSERT_THAT(read(s.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  ASSERT_THAT(write(s.get(), "yo", 2), SyscallSucceedsWithValue(2));
  ASSERT_THAT(read(c.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "yo");
}

TEST_P(UnixConnectTest, AbstractConnectWithBoundClient) {
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = Abstract(UniqueName("listen"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  UnixAddr ca = Abstract(UniqueName("client"));
  ASSERT_THAT(bind(c.get(), ca.get(), ca.len), SyscallSucceeds());
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  sockaddr_un peer{};
  socklen_t len = sizeof(peer);
  FileDescriptor s(accept4(l.get(), reinterpret_cast<sockaddr*>(&peer), &len, 0));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  EXPECT_EQ(len, ca.len);
  EXPECT_EQ(std::memcmp(&peer, &ca.addr, ca.len), 0);
  len = sizeof(peer);
  ASSERT_THAT(getpeername(s.get(), reinterpret_cast<sockaddr*>(&peer), &len), SyscallSucceeds());
  EXPECT_EQ(len, ca.len);
}

TEST_P(UnixConnectTest, Accept4Flags) {
  FileDescriptor l(socket(AF_UNIX, type() | SOCK_NONBLOCK, 0));
  UnixAddr a = Abstract(UniqueName("a4"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  EXPECT_THAT(accept(l.get(), nullptr, nullptr), SyscallFailsWithErrno(EAGAIN));
  FileDescriptor c1(socket(AF_UNIX, type(), 0)), c2(socket(AF_UNIX, type(), 0));
  ASSERT_THAT(connect(c1.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(connect(c2.get(), a.get(), a.len), SyscallSucceeds());
  // The listener's flags are not inherited.
  FileDescriptor s1(accept(l.get(), nullptr, nullptr));
  ASSERT_THAT(s1.get(), SyscallSucceeds());
  EXPECT_EQ(fcntl(s1.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(s1.get(), F_GETFD), 0);
  FileDescriptor s2(accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_THAT(s2.get(), SyscallSucceeds());
  EXPECT_EQ(fcntl(s2.get(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(fcntl(s2.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_THAT(accept4(l.get(), nullptr, nullptr, 0x10), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixConnectTest, ConnectErrors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  UnixAddr missing = PathAddr(dir.File("missing"));
  EXPECT_THAT(connect(c.get(), missing.get(), missing.len), SyscallFailsWithErrno(ENOENT));
  UnixAddr nobody = Abstract(UniqueName("nobody"));
  EXPECT_THAT(connect(c.get(), nobody.get(), nobody.len), SyscallFailsWithErrno(ECONNREFUSED));
  // A file that is not a socket.
  const std::string file = dir.File("file");
  FileDescriptor f(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  UnixAddr fa = PathAddr(file);
  EXPECT_THAT(connect(c.get(), fa.get(), fa.len), SyscallFailsWithErrno(ECONNREFUSED));
  // A socket file whose socket is gone.
  const std::string stale = dir.File("stale");
  {
    FileDescriptor s(socket(AF_UNIX, type(), 0));
    UnixAddr sa = PathAddr(stale);
    ASSERT_THAT(bind(s.get(), sa.get(), sa.len), SyscallSucceeds());
  }
  UnixAddr sa = PathAddr(stale);
  EXPECT_THAT(connect(c.get(), sa.get(), sa.len), SyscallFailsWithErrno(ECONNREFUSED));
  // Bound but not listening.
  FileDescriptor quiet(socket(AF_UNIX, type(), 0));
  UnixAddr qa = Abstract(UniqueName("quiet"));
  ASSERT_THAT(bind(quiet.get(), qa.get(), qa.len), SyscallSucceeds());
  EXPECT_THAT(connect(c.get(), qa.get(), qa.len), SyscallFailsWithErrno(ECONNREFUSED));
  // Bad addresses.
  sockaddr_un bad{};
  bad.sun_family = AF_INET;
  EXPECT_THAT(connect(c.get(), reinterpret_cast<sockaddr*>(&bad), 4),
              SyscallFailsWithErrno(EINVAL));
  bad.sun_family = AF_UNIX;
  EXPECT_THAT(connect(c.get(), reinterpret_cast<sockaddr*>(&bad), 2),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixConnectTest, TypeMismatch) {
  const int other = type() == SOCK_STREAM ? SOCK_SEQPACKET : SOCK_STREAM;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FileDescriptor l(socket(AF_UNIX, other, 0));
  UnixAddr a = PathAddr(dir.File("l"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  EXPECT_THAT(connect(c.get(), a.get(), a.len), SyscallFailsWithErrno(EPROTOTYPE));
  // An abstract name of another type is no name at all.
  FileDescriptor l2(socket(AF_UNIX, other, 0));
  UnixAddr b = Abstract(UniqueName("other-type"));
  ASSERT_THAT(bind(l2.get(), b.get(), b.len), SyscallSucceeds());
  ASSERT_THAT(listen(l2.get(), 5), SyscallSucceeds());
  EXPECT_THAT(connect(c.get(), b.get(), b.len), SyscallFailsWithErrno(ECONNREFUSED));
}

TEST_P(UnixConnectTest, ConnectedAndListeningSockets) {
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = Abstract(UniqueName("state"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_THAT(connect(c.get(), a.get(), a.len), SyscallFailsWithErrno(EISCONN));
  // The target is looked up first: a missing one says so, not EISCONN.
  UnixAddr nobody = Abstract(UniqueName("nobody"));
  EXPECT_THAT(connect(c.get(), nobody.get(), nobody.len), SyscallFailsWithErrno(ECONNREFUSED));
  // A listener does not connect, and a connected socket does not listen.
  EXPECT_THAT(connect(l.get(), a.get(), a.len), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(listen(c.get(), 5), SyscallFailsWithErrno(EINVAL));
  // Listening again changes the backlog.
  EXPECT_THAT(listen(l.get(), 10), SyscallSucceeds());
  Pair p;
  ASSERT_TRUE(MakePair(type(), &p));
  EXPECT_THAT(listen(p.a.get(), 5), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixConnectTest, ListenNeedsAName) {
  FileDescriptor s(socket(AF_UNIX, type(), 0));
  EXPECT_THAT(listen(s.get(), 5), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixConnectTest, AcceptErrors) {
  FileDescriptor s(socket(AF_UNIX, type(), 0));
  EXPECT_THAT(accept(s.get(), nullptr, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST_P(UnixConnectTest, BacklogFullNonblocking) {
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = Abstract(UniqueName("backlog"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  // A backlog of 0 still takes one connection.
  ASSERT_THAT(listen(l.get(), 0), SyscallSucceeds());
  FileDescriptor c1(socket(AF_UNIX, type() | SOCK_NONBLOCK, 0));
  ASSERT_THAT(connect(c1.get(), a.get(), a.len), SyscallSucceeds());
  FileDescriptor c2(socket(AF_UNIX, type() | SOCK_NONBLOCK, 0));
  EXPECT_THAT(connect(c2.get(), a.get(), a.len), SyscallFailsWithErrno(EAGAIN));
  // Accepting makes room.
  FileDescriptor s(accept(l.get(), nullptr, nullptr));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  EXPECT_THAT(connect(c2.get(), a.get(), a.len), SyscallSucceeds());
}

TEST_P(UnixConnectTest, ListenerClosedResetsPendingConnections) {
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = Abstract(UniqueName("closed"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  l.reset();
  char buf[4];
  EXPECT_THAT(read(c.get(), buf, sizeof(buf)), SyscallFailsWithErrno(ECONNRESET));
  EXPECT_THAT(read(c.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  // The name went with the listener.
  FileDescriptor c2(socket(AF_UNIX, type(), 0));
  EXPECT_THAT(connect(c2.get(), a.get(), a.len), SyscallFailsWithErrno(ECONNREFUSED));
}

TEST_P(UnixConnectTest, AcceptAddressTruncated) {
  FileDescriptor l(socket(AF_UNIX, type(), 0));
  UnixAddr a = Abstract(UniqueName("acc-trunc"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, type(), 0));
  UnixAddr ca = Abstract(UniqueName("named-client"));
  ASSERT_THAT(bind(c.get(), ca.get(), ca.len), SyscallSucceeds());
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  char buf[sizeof(sockaddr_un)];
  std::memset(buf, 0x55, sizeof(buf));
  socklen_t len = 3;
  FileDescriptor s(accept(l.get(), reinterpret_cast<sockaddr*>(buf), &len));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  EXPECT_EQ(len, ca.len);
  EXPECT_EQ(buf[3], 0x55);
}

INSTANTIATE_TEST_SUITE_P(StreamAndSeqpacket, UnixConnectTest,
                         ::testing::Values(SOCK_STREAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return i.param == SOCK_STREAM ? "Stream" : "Seqpacket";
                         });

TEST(UnixConnectPermissionTest, NeedsWriteOnTheSocketFile) {
  SKIP_IF(geteuid() != 0);  // needs root to become somebody else
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("perm");
  ASSERT_THAT(chmod(path.substr(0, path.rfind('/')).c_str(), 0755), SyscallSucceeds());
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = PathAddr(path);
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  ASSERT_THAT(chmod(path.c_str(), 0755), SyscallSucceeds());
  EXPECT_TRUE(InChild([&] {
    DropPrivilegesInChild();
    FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
    CHILD_CHECK(connect(c.get(), a.get(), a.len) == -1 && errno == EACCES);
  }));
  ASSERT_THAT(chmod(path.c_str(), 0777), SyscallSucceeds());
  EXPECT_TRUE(InChild([&] {
    DropPrivilegesInChild();
    FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
    CHILD_CHECK(connect(c.get(), a.get(), a.len) == 0);
  }));
}

TEST(UnixDgramConnectTest, ListenAndAcceptAreEopnotsupp) {
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr a = Abstract(UniqueName("dgram-listen"));
  ASSERT_THAT(bind(d.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_THAT(listen(d.get(), 5), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(accept(d.get(), nullptr, nullptr), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(UnixDgramConnectTest, ToAStreamSocketFileIsEprototype) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = PathAddr(dir.File("l"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0));
  EXPECT_THAT(connect(d.get(), a.get(), a.len), SyscallFailsWithErrno(EPROTOTYPE));
}

// --- Credentials of the other end. ---

struct ucred PeerCred(int fd) {
  struct ucred c {
    - 2, 12345, 12345
  };
  socklen_t len = sizeof(c);
  getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len);
  return c;
}

TEST(UnixPeerCredTest, Socketpair) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  const struct ucred c = PeerCred(p.a.get());
  EXPECT_EQ(c.pid, getpid());
  EXPECT_EQ(c.uid, geteuid());
  EXPECT_EQ(c.gid, getegid());
}

TEST(UnixPeerCredTest, NoPeer) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  const struct ucred c = PeerCred(s.get());
  EXPECT_EQ(c.pid, 0);
  EXPECT_EQ(c.uid, static_cast<uid_t>(-1));
  EXPECT_EQ(c.gid, static_cast<gid_t>(-1));
  // A datagram socket never has them.
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_DGRAM, &p));
  EXPECT_EQ(PeerCred(p.a.get()).pid, getpid());
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0)), e(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr a = Abstract(UniqueName("dgram-peercred"));
  ASSERT_THAT(bind(e.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(connect(d.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_EQ(PeerCred(d.get()).pid, 0);
}

TEST(UnixPeerCredTest, ConnectorAndListenerOfAnotherProcess) {
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("peercred"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  const pid_t parent = getpid();
  FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
  // The child connects: the accepted socket names the child, and the
  // child's socket names the listener's process (us).
  pid_t child_pid = 0;
  EXPECT_TRUE(InChild([&] {
    CHILD_CHECK(connect(c.get(), a.get(), a.len) == 0);
    struct ucred pc = PeerCred(c.get());
    CHILD_CHECK(pc.pid == parent);
    pid_t me = getpid();
    CHILD_CHECK(write(c.get(), &me, sizeof(me)) == sizeof(me));
  }));
  FileDescriptor s(accept(l.get(), nullptr, nullptr));
  ASSERT_THAT(s.get(), SyscallSucceeds());
  ASSERT_THAT(read(s.get(), &child_pid, sizeof(child_pid)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(PeerCred(s.get()).pid, child_pid);
  EXPECT_EQ(PeerCred(s.get()).uid, geteuid());
}

TEST(UnixPeerCredTest, ShortLength) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  struct ucred c {
    0, 0, 0
  };
  socklen_t len = 4;
  ASSERT_THAT(getsockopt(p.a.get(), SOL_SOCKET, SO_PEERCRED, &c, &len), SyscallSucceeds());
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(c.pid, getpid());
  EXPECT_EQ(c.uid, 0u);
  len = 100;
  char big[100];
  ASSERT_THAT(getsockopt(p.a.get(), SOL_SOCKET, SO_PEERCRED, big, &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(struct ucred));
}

// --- Options. ---

TEST(UnixSockoptTest, BufferSizesDoubleWithAFloor) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  const int def = IntOpt(s.get(), SO_SNDBUF);
  EXPECT_GT(def, 0);
  EXPECT_GT(IntOpt(s.get(), SO_RCVBUF), 0);
  int v = 10000;
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_EQ(IntOpt(s.get(), SO_SNDBUF), 20000);
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_EQ(IntOpt(s.get(), SO_RCVBUF), 20000);
  v = 1;
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_EQ(IntOpt(s.get(), SO_SNDBUF), 4608);
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_EQ(IntOpt(s.get(), SO_RCVBUF), 2304);
  // Large values are capped (at twice net.core.wmem_max), never refused.
  v = INT_MAX;
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_GE(IntOpt(s.get(), SO_SNDBUF), def);
  v = -1;
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), SyscallSucceeds());
  EXPECT_GE(IntOpt(s.get(), SO_SNDBUF), def);
}

TEST(UnixSockoptTest, ReadOnlyAndUnknownOptions) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  int v = 1;
  for (int name : {SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ERROR}) {
    EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, name, &v, sizeof(v)),
                SyscallFailsWithErrno(ENOPROTOOPT));
  }
  socklen_t len = sizeof(v);
  EXPECT_THAT(getsockopt(s.get(), SOL_SOCKET, 9999, &v, &len), SyscallFailsWithErrno(ENOPROTOOPT));
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, 9999, &v, sizeof(v)),
              SyscallFailsWithErrno(ENOPROTOOPT));
  // Other levels are not a unix socket's.
  EXPECT_THAT(setsockopt(s.get(), 6 /* IPPROTO_TCP */, 1, &v, sizeof(v)),
              SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(getsockopt(s.get(), 6, 1, &v, &len), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(UnixSockoptTest, LengthChecks) {
  FileDescriptor s(socket(AF_UNIX, SOCK_DGRAM, 0));
  int v = 1;
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_PASSCRED, &v, 3), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_PASSCRED, &v, -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_setsockopt, s.get(), SOL_SOCKET, SO_PASSCRED, kKernelAddress, 4),
              SyscallFailsWithErrno(EFAULT));
  socklen_t len = static_cast<socklen_t>(-1);
  EXPECT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_TYPE, &v, &len), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_getsockopt, s.get(), SOL_SOCKET, SO_TYPE, &v, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  len = sizeof(v);
  EXPECT_THAT(syscall(SYS_getsockopt, s.get(), SOL_SOCKET, SO_TYPE, kKernelAddress, &len),
              SyscallFailsWithErrno(EFAULT));
  // A short buffer gets the first bytes.
  v = 0x7f7f7f7f;
  len = 1;
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_TYPE, &v, &len), SyscallSucceeds());
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(v, 0x7f7f7f00 | SOCK_DGRAM);
  // A long one gets an int.
  char big[64];
  len = sizeof(big);
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_TYPE, big, &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(int));
}

TEST(UnixSockoptTest, Timeouts) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  timeval tv{};
  socklen_t len = sizeof(tv);
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, &len), SyscallSucceeds());
  EXPECT_EQ(len, sizeof(tv));
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0);
  tv = {1, 500000};
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  tv = {2, 0};
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  timeval got{};
  len = sizeof(got);
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &got, &len), SyscallSucceeds());
  EXPECT_EQ(got.tv_sec, 1);
  EXPECT_EQ(got.tv_usec, 500000);
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &got, &len), SyscallSucceeds());
  EXPECT_EQ(got.tv_sec, 2);
  EXPECT_EQ(got.tv_usec, 0);
  tv = {1, 1000000};
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
              SyscallFailsWithErrno(EDOM));
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(int)),
              SyscallFailsWithErrno(EINVAL));
  // Zero is no limit again.
  tv = {0, 0};
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), SyscallSucceeds());
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &got, &len), SyscallSucceeds());
  EXPECT_EQ(got.tv_sec, 0);
  EXPECT_EQ(got.tv_usec, 0);
}

TEST(UnixSockoptTest, FlagsReadBack) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  for (int name : {SO_PASSCRED, SO_KEEPALIVE, SO_REUSEADDR, SO_BROADCAST, SO_OOBINLINE}) {
    EXPECT_EQ(IntOpt(s.get(), name), 0) << name;
    int v = 42;
    ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, name, &v, sizeof(v)), SyscallSucceeds());
    EXPECT_EQ(IntOpt(s.get(), name), 1) << name;
    v = 0;
    ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, name, &v, sizeof(v)), SyscallSucceeds());
    EXPECT_EQ(IntOpt(s.get(), name), 0) << name;
  }
  EXPECT_EQ(IntOpt(s.get(), SO_SNDLOWAT), 1);
  EXPECT_EQ(IntOpt(s.get(), SO_RCVLOWAT), 1);
  struct linger lg {
    1, 5
  };
  ASSERT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), SyscallSucceeds());
  struct linger got {};
  socklen_t len = sizeof(got);
  ASSERT_THAT(getsockopt(s.get(), SOL_SOCKET, SO_LINGER, &got, &len), SyscallSucceeds());
  EXPECT_EQ(got.l_onoff, 1);
  EXPECT_EQ(got.l_linger, 5);
  EXPECT_THAT(setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(int)),
              SyscallFailsWithErrno(EINVAL));
}

// --- Readiness (unix_poll for streams, unix_dgram_poll for the others). ---

constexpr short kAll = POLLIN | POLLOUT | POLLRDHUP | POLLPRI;

short Revents(int fd, short events = kAll) {
  pollfd p{fd, events, 0};
  if (poll(&p, 1, 0) < 0) return -1;
  return p.revents;
}

TEST(UnixPollTest, FreshSockets) {
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  FileDescriptor d(socket(AF_UNIX, SOCK_DGRAM, 0));
  FileDescriptor q(socket(AF_UNIX, SOCK_SEQPACKET, 0));
  // An unconnected stream or seqpacket socket is hung up (and writable).
  EXPECT_EQ(Revents(s.get()), POLLOUT | POLLHUP);
  EXPECT_EQ(Revents(d.get()), POLLOUT);
  EXPECT_EQ(Revents(q.get()), POLLOUT | POLLHUP);
}

TEST(UnixPollTest, Listener) {
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("poll-listen"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 5), SyscallSucceeds());
  EXPECT_EQ(Revents(l.get()), 0);
  FileDescriptor c(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_EQ(Revents(l.get()), POLLIN);
  EXPECT_EQ(Revents(c.get()), POLLOUT);
}

TEST(UnixPollTest, StreamDataShutdownAndClose) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  EXPECT_EQ(Revents(p.a.get()), POLLOUT);
  ASSERT_THAT(write(p.a.get(), "x", 1), SyscallSucceeds());
  EXPECT_EQ(Revents(p.b.get()), POLLIN | POLLOUT);
  ASSERT_THAT(shutdown(p.a.get(), SHUT_WR), SyscallSucceeds());
  EXPECT_EQ(Revents(p.b.get()), POLLIN | POLLOUT | POLLRDHUP);
  EXPECT_EQ(Revents(p.a.get()), POLLOUT);
  // POLLRDHUP only when asked for.
  EXPECT_EQ(Revents(p.b.get(), POLLIN), POLLIN);
  // Unread data at close: the other end is reset (POLLERR until read).
  p.b.reset();
  EXPECT_EQ(Revents(p.a.get()), POLLIN | POLLOUT | POLLHUP | POLLRDHUP | POLLERR);
}

TEST(UnixPollTest, FullSendBufferIsNotWritable) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  std::vector<char> buf(65536);
  while (send(p.a.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
  }
  EXPECT_EQ(Revents(p.a.get()) & POLLOUT, 0);
  while (recv(p.b.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
  }
  EXPECT_EQ(Revents(p.a.get()) & POLLOUT, POLLOUT);
}

TEST(UnixPollTest, SeqpacketPeerClosed) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_SEQPACKET, &p));
  p.b.reset();
  EXPECT_EQ(Revents(p.a.get()), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

TEST(UnixPollTest, DatagramReceiverQueueFull) {
  FileDescriptor server(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr a = Abstract(UniqueName("poll-dgram"));
  ASSERT_THAT(bind(server.get(), a.get(), a.len), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  EXPECT_EQ(Revents(c.get()), POLLOUT);
  while (send(c.get(), "x", 1, MSG_DONTWAIT) == 1) {
  }
  EXPECT_EQ(Revents(c.get()), 0);
  EXPECT_EQ(Revents(server.get()), POLLIN | POLLOUT);
  char ch;
  ASSERT_THAT(recv(server.get(), &ch, 1, 0), SyscallSucceeds());
  EXPECT_EQ(Revents(c.get()), POLLOUT);
}

TEST(UnixPollTest, BlockingPollWakesForData) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  Child writer([&] {
    usleep(50000);
    CHILD_CHECK(write(p.a.get(), "x", 1) == 1);
  });
  ASSERT_TRUE(writer.started());
  pollfd pf{p.b.get(), POLLIN, 0};
  EXPECT_THAT(poll(&pf, 1, 10000), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pf.revents, POLLIN);
  EXPECT_TRUE(writer.Wait());
}

TEST(UnixEpollTest, ReadableAndWritableAgain) {
  FileDescriptor server(socket(AF_UNIX, SOCK_DGRAM, 0));
  UnixAddr a = Abstract(UniqueName("epoll-dgram"));
  ASSERT_THAT(bind(server.get(), a.get(), a.len), SyscallSucceeds());
  FileDescriptor c(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(connect(c.get(), a.get(), a.len), SyscallSucceeds());
  while (send(c.get(), "x", 1, MSG_DONTWAIT) == 1) {
  }
  FileDescriptor ep(epoll_create1(0));
  ASSERT_THAT(ep.get(), SyscallSucceeds());
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLET;
  ev.data.fd = c.get();
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, c.get(), &ev), SyscallSucceeds());
  ev.events = EPOLLIN;
  ev.data.fd = server.get();
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, server.get(), &ev), SyscallSucceeds());
  epoll_event got[2];
  ASSERT_THAT(epoll_wait(ep.get(), got, 2, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(got[0].data.fd, server.get());
  // The server reads: the client hears its receiver has room (edge).
  char ch;
  ASSERT_THAT(recv(server.get(), &ch, 1, 0), SyscallSucceeds());
  ASSERT_THAT(epoll_wait(ep.get(), got, 2, 0), SyscallSucceedsWithValue(2));
}

// --- ioctls. ---

TEST(UnixIoctlTest, InqAndOutq) {
  Pair p;
  ASSERT_TRUE(MakePair(SOCK_STREAM, &p));
  int n = -1;
  ASSERT_THAT(ioctl(p.b.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 0);
  ASSERT_THAT(write(p.a.get(), "0123456789", 10), SyscallSucceedsWithValue(10));
  ASSERT_THAT(ioctl(p.b.get(), SIOCINQ, &n), SyscallSucceeds());
  EXPECT_EQ(n, 10);
  ASSERT_THAT(ioctl(p.a.get(), SIOCOUTQ, &n), SyscallSucceeds());
  EXPECT_GE(n, 10);
  char buf[3];
  ASSERT_THAT(read(p.b.get(), buf, 3), SyscallSucceedsWithValue(3));
  ASSERT_THAT(ioctl(p.b.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 7);
  char rest[16];
  ASSERT_THAT(read(p.b.get(), rest, sizeof(rest)), SyscallSucceedsWithValue(7));
  ASSERT_THAT(ioctl(p.a.get(), SIOCOUTQ, &n), SyscallSucceeds());
  EXPECT_EQ(n, 0);
}

TEST(UnixIoctlTest, InqOfMessages) {
  Pair d, q;
  ASSERT_TRUE(MakePair(SOCK_DGRAM, &d));
  ASSERT_TRUE(MakePair(SOCK_SEQPACKET, &q));
  for (Pair* p : {&d, &q}) {
    ASSERT_THAT(write(p->a.get(), "abc", 3), SyscallSucceeds());
    ASSERT_THAT(write(p->a.get(), "defgh", 5), SyscallSucceeds());
  }
  int n = -1;
  // A datagram socket counts its first message, a seqpacket one all.
  ASSERT_THAT(ioctl(d.b.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 3);
  ASSERT_THAT(ioctl(q.b.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 8);
}

TEST(UnixIoctlTest, ListenerAndUnknown) {
  FileDescriptor l(socket(AF_UNIX, SOCK_STREAM, 0));
  UnixAddr a = Abstract(UniqueName("ioctl-listen"));
  ASSERT_THAT(bind(l.get(), a.get(), a.len), SyscallSucceeds());
  ASSERT_THAT(listen(l.get(), 1), SyscallSucceeds());
  int n;
  EXPECT_THAT(ioctl(l.get(), FIONREAD, &n), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ioctl(l.get(), TCGETS, &n), SyscallFailsWithErrno(ENOTTY));
  EXPECT_THAT(syscall(SYS_ioctl, l.get(), SIOCOUTQ, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
