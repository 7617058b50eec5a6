// truncate(2) and ftruncate(2): shrinking and growing (zero fill), the offset
// left alone, timestamps, RLIMIT_FSIZE (EFBIG), and the errors (EINVAL for a
// negative length or an unwritable fd, EISDIR, EACCES, EBADF, EFAULT, ENOENT).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

class TruncateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "0123456789", 0644);
    ASSERT_FALSE(f_.empty());
  }
  off_t Size() {
    struct stat st;
    return stat(f_.c_str(), &st) == 0 ? st.st_size : -1;
  }
  TempDir d_{"truncate-test"};
  std::string f_;
};

TEST_F(TruncateTest, Shrinks) {
  ASSERT_THAT(truncate(f_.c_str(), 4), SyscallSucceeds());
  EXPECT_EQ(Size(), 4);
}

TEST_F(TruncateTest, GrowsWithZeros) {
  ASSERT_THAT(truncate(f_.c_str(), 20), SyscallSucceeds());
  EXPECT_EQ(Size(), 20);
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  char buf[20];
  ASSERT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(20));
  for (int i = 10; i < 20; ++i) EXPECT_EQ(buf[i], 0) << i;
}

TEST_F(TruncateTest, ShrinkThenGrowZeroesTheCutPart) {
  FileDescriptor fd(open(f_.c_str(), O_RDWR));
  ASSERT_THAT(ftruncate(fd.get(), 2), SyscallSucceeds());
  ASSERT_THAT(ftruncate(fd.get(), 10), SyscallSucceeds());
  char buf[10];
  ASSERT_THAT(pread(fd.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(10));
  EXPECT_EQ(buf[0], '0');
  EXPECT_EQ(buf[1], '1');
  EXPECT_EQ(buf[2], 0);
  EXPECT_EQ(buf[9], 0);
}

TEST_F(TruncateTest, FtruncateLeavesTheOffset) {
  FileDescriptor fd(open(f_.c_str(), O_RDWR));
  ASSERT_THAT(lseek(fd.get(), 8, SEEK_SET), SyscallSucceeds());
  ASSERT_THAT(ftruncate(fd.get(), 3), SyscallSucceeds());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(8));
  // Writing there leaves a hole.
  ASSERT_THAT(write(fd.get(), "z", 1), SyscallSucceedsWithValue(1));
  EXPECT_EQ(Size(), 9);
}

TEST_F(TruncateTest, UpdatesMtime) {
  struct timespec old[2] = {{100, 0}, {100, 0}};
  ASSERT_THAT(utimensat(AT_FDCWD, f_.c_str(), old, 0), SyscallSucceeds());
  ASSERT_THAT(truncate(f_.c_str(), 5), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat(f_.c_str(), &st), SyscallSucceeds());
  EXPECT_GT(st.st_mtime, 100);
}

TEST_F(TruncateTest, NegativeLengthIsCheckedBeforeTheFd) {
  EXPECT_THAT(ftruncate(100000, -1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(TruncateTest, NegativeLengthIsEinval) {
  EXPECT_THAT(truncate(f_.c_str(), -1), SyscallFailsWithErrno(EINVAL));
  FileDescriptor fd(open(f_.c_str(), O_RDWR));
  EXPECT_THAT(ftruncate(fd.get(), -1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(TruncateTest, ReadOnlyFdIsEinval) {
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  EXPECT_THAT(ftruncate(fd.get(), 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(TruncateTest, NonFileFdsAreEinval) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  EXPECT_THAT(ftruncate(w.get(), 0), SyscallFailsWithErrno(EINVAL));
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(ftruncate(d.get(), 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(TruncateTest, DirectoryIsEisdir) {
  EXPECT_THAT(truncate(d_.path().c_str(), 0), SyscallFailsWithErrno(EISDIR));
}

TEST_F(TruncateTest, PathErrors) {
  EXPECT_THAT(truncate(d_.Path("none").c_str(), 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(truncate((f_ + "/x").c_str(), 0), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(syscall(SYS_truncate, 8L, 0L), SyscallFailsWithErrno(EFAULT));
}

TEST_F(TruncateTest, BadFdIsEbadf) {
  EXPECT_THAT(ftruncate(-1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(ftruncate(100000, 0), SyscallFailsWithErrno(EBADF));
  FileDescriptor p(open(f_.c_str(), O_PATH));
  EXPECT_THAT(ftruncate(p.get(), 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(TruncateTest, NoWritePermissionIsEacces) {
  chmod(f_.c_str(), 0444);
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    if (geteuid() == 0) return;
    CHILD_CHECK(truncate(f.c_str(), 0) == -1 && errno == EACCES);
  }));
}

TEST_F(TruncateTest, PastRlimitFsizeIsEfbig) {
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {100, 100};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHILD_CHECK(truncate(f.c_str(), 101) == -1 && errno == EFBIG);
    CHILD_CHECK(truncate(f.c_str(), 100) == 0);
  }));
}

TEST_F(TruncateTest, FtruncatePastRlimitFsizeIsEfbigAndSigxfsz) {
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    static volatile sig_atomic_t got = 0;
    signal(
        SIGXFSZ, +[](int) { got = got + 1; });
    int fd = open(f.c_str(), O_WRONLY);
    CHILD_CHECK(fd >= 0);
    struct rlimit rl = {100, 100};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHILD_CHECK(ftruncate(fd, 101) == -1 && errno == EFBIG);
    CHILD_CHECK(got == 1);
    CHILD_CHECK(ftruncate(fd, 100) == 0);
    CHILD_CHECK(got == 1);
  }));
}

TEST_F(TruncateTest, ShrinkingAboveRlimitFsizeIsAllowed) {
  // Only growing past the limit is refused (inode_newsize_ok).
  ASSERT_THAT(truncate(f_.c_str(), 300), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {100, 100};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHILD_CHECK(truncate(f.c_str(), 200) == 0);
    CHILD_CHECK(truncate(f.c_str(), 200) == 0);  // the same size: no growth
    CHILD_CHECK(truncate(f.c_str(), 201) == -1 && errno == EFBIG);
  }));
  EXPECT_EQ(Size(), 200);
}

TEST_F(TruncateTest, FallocatePastRlimitFsizeIsEfbigUnlessTheSizeIsKept) {
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    signal(SIGXFSZ, SIG_IGN);
    int fd = open(f.c_str(), O_RDWR);
    CHILD_CHECK(fd >= 0);
    struct rlimit rl = {4096, 4096};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHILD_CHECK(fallocate(fd, 0, 0, 4097) == -1 && errno == EFBIG);
    CHILD_CHECK(fallocate(fd, 0, 0, 4096) == 0);
    CHILD_CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 4096, 4096) == 0);
  }));
  EXPECT_EQ(Size(), 4096);
}

TEST_F(TruncateTest, AppendOnlyFdStillTruncates) {
  FileDescriptor fd(open(f_.c_str(), O_WRONLY | O_APPEND));
  EXPECT_THAT(ftruncate(fd.get(), 1), SyscallSucceeds());
  EXPECT_EQ(Size(), 1);
}

}  // namespace
}  // namespace syscalls_test
