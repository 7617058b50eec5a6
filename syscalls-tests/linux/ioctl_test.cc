// ioctl(2)'s generic file requests: FIONREAD, FIOCLEX, FIONCLEX, FIONBIO,
// FIOASYNC, FIOQSIZE and FIGETBSZ on regular files, directories, pipes and
// sockets, and the errors (EBADF, ENOTTY, EFAULT, EINVAL).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

class IoctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    path_ = d_.File("f", std::string(1000, 'z'));
    fd_ = FileDescriptor(open(path_.c_str(), O_RDWR));
    ASSERT_TRUE(fd_.valid());
  }
  TempDir d_{"ioctl-test"};
  std::string path_;
  FileDescriptor fd_;
};

TEST_F(IoctlTest, FioclexAndFionclex) {
  ASSERT_THAT(ioctl(fd_.get(), FIOCLEX), SyscallSucceeds());
  EXPECT_THAT(fcntl(fd_.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(ioctl(fd_.get(), FIONCLEX), SyscallSucceeds());
  EXPECT_THAT(fcntl(fd_.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST_F(IoctlTest, FioclexOnOPathIsEbadf) {
  // ioctl looks the fd up without O_PATH descriptions, even for FIOCLEX.
  FileDescriptor p(open(path_.c_str(), O_PATH));
  EXPECT_THAT(ioctl(p.get(), FIOCLEX), SyscallFailsWithErrno(EBADF));
}

TEST_F(IoctlTest, FionbioSetsAndClearsONonblock) {
  int on = 1;
  ASSERT_THAT(ioctl(fd_.get(), FIONBIO, &on), SyscallSucceeds());
  EXPECT_TRUE(fcntl(fd_.get(), F_GETFL) & O_NONBLOCK);
  int off = 0;
  ASSERT_THAT(ioctl(fd_.get(), FIONBIO, &off), SyscallSucceeds());
  EXPECT_FALSE(fcntl(fd_.get(), F_GETFL) & O_NONBLOCK);
}

TEST_F(IoctlTest, FionbioBadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_ioctl, fd_.get(), FIONBIO, 8L), SyscallFailsWithErrno(EFAULT));
}

TEST_F(IoctlTest, FioasyncSetsOAsyncOnAPipe) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  int on = 1;
  ASSERT_THAT(ioctl(r.get(), FIOASYNC, &on), SyscallSucceeds());
  EXPECT_TRUE(fcntl(r.get(), F_GETFL) & O_ASYNC);
  int off = 0;
  ASSERT_THAT(ioctl(r.get(), FIOASYNC, &off), SyscallSucceeds());
  EXPECT_FALSE(fcntl(r.get(), F_GETFL) & O_ASYNC);
}

TEST_F(IoctlTest, FioasyncOnARegularFileIsEnotty) {
  // No fasync operation on a regular file: turning O_ASYNC on fails; asking
  // for what is already so (off) succeeds.
  int on = 1, off = 0;
  EXPECT_THAT(ioctl(fd_.get(), FIOASYNC, &on), SyscallFailsWithErrno(ENOTTY));
  EXPECT_THAT(ioctl(fd_.get(), FIOASYNC, &off), SyscallSucceeds());
}

TEST_F(IoctlTest, FionreadOnARegularFileIsTheBytesLeft) {
  int n = -1;
  ASSERT_THAT(ioctl(fd_.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 1000);
  ASSERT_THAT(lseek(fd_.get(), 300, SEEK_SET), SyscallSucceeds());
  ASSERT_THAT(ioctl(fd_.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 700);
  ASSERT_THAT(lseek(fd_.get(), 5000, SEEK_SET), SyscallSucceeds());
  // Past the end: size minus offset, negative (Linux does not clamp).
  ASSERT_THAT(ioctl(fd_.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 1000 - 5000);
}

TEST_F(IoctlTest, FionreadOnAPipe) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  ASSERT_THAT(write(w.get(), "hello", 5), SyscallSucceedsWithValue(5));
  int n = -1;
  ASSERT_THAT(ioctl(r.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 5);
}

TEST_F(IoctlTest, FionreadOnASocket) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), SyscallSucceeds());
  FileDescriptor a(sv[0]), b(sv[1]);
  ASSERT_THAT(write(a.get(), "abc", 3), SyscallSucceedsWithValue(3));
  int n = -1;
  ASSERT_THAT(ioctl(b.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 3);
}

TEST_F(IoctlTest, FionreadBadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_ioctl, fd_.get(), FIONREAD, 8L), SyscallFailsWithErrno(EFAULT));
}

TEST_F(IoctlTest, FioqsizeIsTheAllocatedBytes) {
  // inode_get_bytes(): the blocks allocated, in bytes (after fsync, so that
  // delayed allocation is done), not the file size.
  ASSERT_THAT(fsync(fd_.get()), SyscallSucceeds());
  loff_t size = -1;
  ASSERT_THAT(ioctl(fd_.get(), FIOQSIZE, &size), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd_.get(), &st), SyscallSucceeds());
  EXPECT_EQ(size, st.st_blocks * 512);
}

TEST_F(IoctlTest, FioqsizeOnADirectory) {
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  loff_t size = -1;
  ASSERT_THAT(ioctl(d.get(), FIOQSIZE, &size), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(d.get(), &st), SyscallSucceeds());
  EXPECT_EQ(size, st.st_blocks * 512);
}

TEST_F(IoctlTest, FioqsizeOnAPipeIsEnotty) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  loff_t size;
  EXPECT_THAT(ioctl(r.get(), FIOQSIZE, &size), SyscallFailsWithErrno(ENOTTY));
}

TEST_F(IoctlTest, FigetbszIsTheBlockSize) {
  int bsz = -1;
  ASSERT_THAT(ioctl(fd_.get(), FIGETBSZ, &bsz), SyscallSucceeds());
  EXPECT_GT(bsz, 0);
  EXPECT_EQ(bsz & (bsz - 1), 0);  // a power of two
}

TEST_F(IoctlTest, UnknownRequestOnAFileIsEnotty) {
  EXPECT_THAT(ioctl(fd_.get(), 0x5401 /* TCGETS */, nullptr), SyscallFailsWithErrno(ENOTTY));
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  EXPECT_THAT(ioctl(r.get(), 0x12345678, nullptr), SyscallFailsWithErrno(ENOTTY));
}

TEST_F(IoctlTest, BadFdIsEbadf) {
  int n;
  EXPECT_THAT(ioctl(-1, FIONREAD, &n), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(ioctl(100000, FIOCLEX), SyscallFailsWithErrno(EBADF));
}

TEST_F(IoctlTest, OPathIsEbadfForOrdinaryRequests) {
  FileDescriptor p(open(path_.c_str(), O_PATH));
  int n;
  EXPECT_THAT(ioctl(p.get(), FIONREAD, &n), SyscallFailsWithErrno(EBADF));
}

}  // namespace
}  // namespace syscalls_test
