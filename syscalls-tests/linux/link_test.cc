// link(2)/linkat(2), symlink(2)/symlinkat(2) and readlink(2)/readlinkat(2):
// hard links share the inode, AT_SYMLINK_FOLLOW and AT_EMPTY_PATH,
// readlink's truncation without a NUL, and the errors (EEXIST, EPERM for a
// directory, ENOENT, EINVAL, EFAULT, ENAMETOOLONG).
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
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

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "data");
  }
  std::string P(const std::string& n) { return d_.Path(n); }
  TempDir d_{"link-test"};
  std::string f_;
};

TEST_F(LinkTest, HardLinkSharesTheInode) {
  ASSERT_THAT(link(f_.c_str(), P("g").c_str()), SyscallSucceeds());
  struct stat a, b;
  ASSERT_THAT(stat(f_.c_str(), &a), SyscallSucceeds());
  ASSERT_THAT(stat(P("g").c_str(), &b), SyscallSucceeds());
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_nlink, 2u);
  ASSERT_THAT(unlink(f_.c_str()), SyscallSucceeds());
  ASSERT_THAT(stat(P("g").c_str(), &b), SyscallSucceeds());
  EXPECT_EQ(b.st_nlink, 1u);
}

TEST_F(LinkTest, ExistingTargetIsEexist) {
  d_.File("g");
  EXPECT_THAT(link(f_.c_str(), P("g").c_str()), SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(symlink("x", P("g").c_str()), SyscallFailsWithErrno(EEXIST));
}

TEST_F(LinkTest, DirectoryIsEperm) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  EXPECT_THAT(link(P("d").c_str(), P("e").c_str()), SyscallFailsWithErrno(EPERM));
}

TEST_F(LinkTest, MissingSourceIsEnoent) {
  EXPECT_THAT(link(P("none").c_str(), P("g").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(link(f_.c_str(), P("nodir/g").c_str()), SyscallFailsWithErrno(ENOENT));
}

TEST_F(LinkTest, LinkatDoesNotFollowBySymlinkByDefault) {
  ASSERT_THAT(symlink("f", P("s").c_str()), SyscallSucceeds());
  ASSERT_THAT(linkat(AT_FDCWD, P("s").c_str(), AT_FDCWD, P("hs").c_str(), 0), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(lstat(P("hs").c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_THAT(linkat(AT_FDCWD, P("s").c_str(), AT_FDCWD, P("hf").c_str(), AT_SYMLINK_FOLLOW),
              SyscallSucceeds());
  ASSERT_THAT(lstat(P("hf").c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(LinkTest, LinkatBadFlagsAreEinval) {
  EXPECT_THAT(linkat(AT_FDCWD, f_.c_str(), AT_FDCWD, P("g").c_str(), 0x1),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(LinkTest, LinkatEmptyPathNeedsPrivilege) {
  SKIP_IF(!HaveCapability(CAP_DAC_READ_SEARCH));
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  ASSERT_THAT(linkat(fd.get(), "", AT_FDCWD, P("g").c_str(), AT_EMPTY_PATH), SyscallSucceeds());
  struct stat st;
  EXPECT_THAT(stat(P("g").c_str(), &st), SyscallSucceeds());
}

TEST_F(LinkTest, SymlinkStoresAnyText) {
  ASSERT_THAT(symlink("../no/such/thing", P("s").c_str()), SyscallSucceeds());
  char buf[64];
  EXPECT_THAT(readlink(P("s").c_str(), buf, sizeof(buf)), SyscallSucceedsWithValue(16));
  EXPECT_EQ(std::string(buf, 16), "../no/such/thing");
}

TEST_F(LinkTest, SymlinkEmptyTargetIsEnoent) {
  EXPECT_THAT(symlink("", P("s").c_str()), SyscallFailsWithErrno(ENOENT));
}

TEST_F(LinkTest, SymlinkTargetTooLongIsEnametoolong) {
  const std::string target(PATH_MAX + 1, 'x');
  EXPECT_THAT(symlink(target.c_str(), P("s").c_str()), SyscallFailsWithErrno(ENAMETOOLONG));
}

TEST_F(LinkTest, SymlinkatRelativeToADirFd) {
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(symlinkat("f", d.get(), "s"), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(readlinkat(d.get(), "s", buf, sizeof(buf)), SyscallSucceedsWithValue(1));
  EXPECT_THAT(symlinkat("f", 100000, "t"), SyscallFailsWithErrno(EBADF));
}

TEST_F(LinkTest, ReadlinkTruncatesWithoutANul) {
  ASSERT_THAT(symlink("abcdefgh", P("s").c_str()), SyscallSucceeds());
  char buf[8] = {'-', '-', '-', '-', '-', '-', '-', '-'};
  EXPECT_THAT(readlink(P("s").c_str(), buf, 3), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 4), "abc-");
}

TEST_F(LinkTest, ReadlinkErrors) {
  char buf[16];
  EXPECT_THAT(readlink(f_.c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(readlink(P("none").c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  ASSERT_THAT(symlink("f", P("s").c_str()), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_readlink, P("s").c_str(), buf, size_t{0}), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_readlink, P("s").c_str(), 8L, size_t{16}), SyscallFailsWithErrno(EFAULT));
}

TEST_F(LinkTest, ReadlinkatEmptyPathReadsTheOPathLink) {
  ASSERT_THAT(symlink("target", P("s").c_str()), SyscallSucceeds());
  FileDescriptor fd(open(P("s").c_str(), O_PATH | O_NOFOLLOW));
  ASSERT_TRUE(fd.valid());
  char buf[16];
  EXPECT_THAT(readlinkat(fd.get(), "", buf, sizeof(buf)), SyscallSucceedsWithValue(6));
}

TEST_F(LinkTest, SymlinkMode) {
  ASSERT_THAT(symlink("f", P("s").c_str()), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(lstat(P("s").c_str(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 0777, 0777u);
  EXPECT_EQ(st.st_size, 1);
}

}  // namespace
}  // namespace syscalls_test
