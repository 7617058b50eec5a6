// lseek(2): SEEK_SET/SEEK_CUR/SEEK_END, negative results (EINVAL), bad
// whence, pipes and sockets (ESPIPE), SEEK_DATA/SEEK_HOLE on sparse files
// under /tmp and /dev/shm and past the end (ENXIO), directories, overflow,
// and the offset shared between dup'ed descriptors.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

class LseekTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "0123456789", 0644);
    ASSERT_FALSE(f_.empty());
    fd_ = FileDescriptor(open(f_.c_str(), O_RDWR));
    ASSERT_TRUE(fd_.valid());
  }
  TempDir d_{"lseek-test", GetParam()};
  std::string f_;
  FileDescriptor fd_;
};

INSTANTIATE_TEST_SUITE_P(Dirs, LseekTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "/tmp" ? "Tmp" : "DevShm";
                         });

TEST_P(LseekTest, SeekSet) {
  EXPECT_THAT(lseek(fd_.get(), 3, SEEK_SET), SyscallSucceedsWithValue(3));
  char c;
  ASSERT_THAT(read(fd_.get(), &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, '3');
}

TEST_P(LseekTest, SeekCur) {
  ASSERT_THAT(lseek(fd_.get(), 4, SEEK_SET), SyscallSucceeds());
  EXPECT_THAT(lseek(fd_.get(), 2, SEEK_CUR), SyscallSucceedsWithValue(6));
  EXPECT_THAT(lseek(fd_.get(), -5, SEEK_CUR), SyscallSucceedsWithValue(1));
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(1));
}

TEST_P(LseekTest, SeekEnd) {
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_END), SyscallSucceedsWithValue(10));
  EXPECT_THAT(lseek(fd_.get(), -3, SEEK_END), SyscallSucceedsWithValue(7));
  EXPECT_THAT(lseek(fd_.get(), 5, SEEK_END), SyscallSucceedsWithValue(15));
}

TEST_P(LseekTest, PastTheEndThenWriteLeavesAHoleOfZeros) {
  ASSERT_THAT(lseek(fd_.get(), 20, SEEK_SET), SyscallSucceedsWithValue(20));
  ASSERT_THAT(write(fd_.get(), "x", 1), SyscallSucceedsWithValue(1));
  struct stat st;
  ASSERT_THAT(fstat(fd_.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 21);
  char buf[10];
  ASSERT_THAT(pread(fd_.get(), buf, sizeof(buf), 10), SyscallSucceedsWithValue(10));
  EXPECT_EQ(std::string(buf, 10), std::string(10, '\0'));
}

TEST_P(LseekTest, NegativeResultIsEinval) {
  ASSERT_THAT(lseek(fd_.get(), 4, SEEK_SET), SyscallSucceeds());
  EXPECT_THAT(lseek(fd_.get(), -1, SEEK_SET), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd_.get(), -5, SEEK_CUR), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd_.get(), -11, SEEK_END), SyscallFailsWithErrno(EINVAL));
  // The offset is unchanged.
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(4));
}

TEST_P(LseekTest, BadWhenceIsEinval) {
  EXPECT_THAT(lseek(fd_.get(), 0, 5), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd_.get(), 0, -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_lseek, fd_.get(), 0L, 100L), SyscallFailsWithErrno(EINVAL));
}

// On tmpfs the largest offset is LLONG_MAX (ext4's s_maxbytes is smaller:
// EINVAL already there).
TEST(LseekTmpfsTest, OverflowIsEinval) {
  TempDir d("lseek-test", "/dev/shm");
  ASSERT_TRUE(d.ok());
  const std::string f = d.File("f", "0123456789");
  FileDescriptor fd(open(f.c_str(), O_RDWR));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(lseek(fd.get(), LLONG_MAX, SEEK_SET), SyscallSucceedsWithValue(LLONG_MAX));
  EXPECT_THAT(lseek(fd.get(), 1, SEEK_CUR), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd.get(), LLONG_MAX, SEEK_END), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(LLONG_MAX));
}

TEST_P(LseekTest, DupSharesTheOffset) {
  FileDescriptor dup_fd(dup(fd_.get()));
  ASSERT_TRUE(dup_fd.valid());
  ASSERT_THAT(lseek(fd_.get(), 6, SEEK_SET), SyscallSucceeds());
  EXPECT_THAT(lseek(dup_fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(6));
  FileDescriptor other(open(f_.c_str(), O_RDONLY));
  EXPECT_THAT(lseek(other.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
}

TEST_P(LseekTest, SeekDataAndHoleOnADenseFile) {
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_DATA), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd_.get(), 3, SEEK_DATA), SyscallSucceedsWithValue(3));
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_HOLE), SyscallSucceedsWithValue(10));
  EXPECT_THAT(lseek(fd_.get(), 9, SEEK_HOLE), SyscallSucceedsWithValue(10));
}

TEST_P(LseekTest, SeekDataAndHoleAtOrPastTheEndIsEnxio) {
  EXPECT_THAT(lseek(fd_.get(), 10, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
  EXPECT_THAT(lseek(fd_.get(), 10, SEEK_HOLE), SyscallFailsWithErrno(ENXIO));
  EXPECT_THAT(lseek(fd_.get(), 100, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
  EXPECT_THAT(lseek(fd_.get(), -1, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
}

TEST_P(LseekTest, SeekHoleOnASparseFile) {
  constexpr off_t kMiB = 1 << 20;
  ASSERT_THAT(ftruncate(fd_.get(), 0), SyscallSucceeds());
  ASSERT_THAT(pwrite(fd_.get(), "x", 1, 4 * kMiB), SyscallSucceedsWithValue(1));
  // The data starts at or before the byte written, and the hole after it is
  // the end of the file.
  const off_t data = lseek(fd_.get(), 0, SEEK_DATA);
  ASSERT_GE(data, 0);
  EXPECT_LE(data, 4 * kMiB);
  EXPECT_THAT(lseek(fd_.get(), 4 * kMiB, SEEK_HOLE), SyscallSucceedsWithValue(4 * kMiB + 1));
  // A hole begins at or before the written page, at 0 on a filesystem that
  // keeps holes (both of these do).
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_HOLE), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_DATA), SyscallSucceedsWithValue(4 * kMiB));
}

TEST_P(LseekTest, SeekDataOnAnEmptyFileIsEnxio) {
  ASSERT_THAT(ftruncate(fd_.get(), 0), SyscallSucceeds());
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
  EXPECT_THAT(lseek(fd_.get(), 0, SEEK_HOLE), SyscallFailsWithErrno(ENXIO));
}

TEST_P(LseekTest, DirectoryOffsets) {
  FileDescriptor dir(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir.valid());
  EXPECT_THAT(lseek(dir.get(), 0, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(dir.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(dir.get(), -1, SEEK_SET), SyscallFailsWithErrno(EINVAL));
}

TEST(LseekSpecialTest, PipeIsEspipe) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  EXPECT_THAT(lseek(r.get(), 0, SEEK_SET), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(lseek(w.get(), 0, SEEK_CUR), SyscallFailsWithErrno(ESPIPE));
  // The whence is checked first.
  EXPECT_THAT(lseek(r.get(), 0, 99), SyscallFailsWithErrno(EINVAL));
}

TEST(LseekSpecialTest, SocketIsEspipe) {
  int s[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM, 0, s), SyscallSucceeds());
  FileDescriptor a(s[0]), b(s[1]);
  EXPECT_THAT(lseek(a.get(), 0, SEEK_SET), SyscallFailsWithErrno(ESPIPE));
}

TEST(LseekSpecialTest, BadFdIsEbadf) {
  EXPECT_THAT(lseek(-1, 0, SEEK_SET), SyscallFailsWithErrno(EBADF));
  FileDescriptor fd(open("/dev/null", O_RDONLY));
  ASSERT_TRUE(fd.valid());
  const int n = fd.get();
  fd.reset();
  EXPECT_THAT(lseek(n, 0, SEEK_SET), SyscallFailsWithErrno(EBADF));
}

TEST(LseekSpecialTest, OPathIsEbadf) {
  FileDescriptor fd(open("/etc/passwd", O_PATH));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_SET), SyscallFailsWithErrno(EBADF));
}

TEST(LseekSpecialTest, DevNullAlwaysZero) {
  FileDescriptor fd(open("/dev/null", O_RDWR));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(lseek(fd.get(), 100, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), -100, SEEK_CUR), SyscallSucceedsWithValue(0));
}

TEST(LseekSpecialTest, HostFile) {
  FileDescriptor fd(open("/etc/passwd", O_RDONLY));
  ASSERT_TRUE(fd.valid());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_END), SyscallSucceedsWithValue(st.st_size));
  EXPECT_THAT(lseek(fd.get(), 1, SEEK_SET), SyscallSucceedsWithValue(1));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_DATA), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), st.st_size, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
}

}  // namespace
}  // namespace syscalls_test
