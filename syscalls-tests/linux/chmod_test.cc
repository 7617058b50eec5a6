// chmod(2), fchmod(2), fchmodat(2) and fchmodat2(2): permission bits, the
// setgid bit dropped for a group the caller is not in, AT_SYMLINK_NOFOLLOW
// (a symlink's own mode cannot change: EOPNOTSUPP), AT_EMPTY_PATH, the
// ownership rule (EPERM), O_PATH descriptors, and the errors.
#include <fcntl.h>
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

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

namespace syscalls_test {
namespace {

long Fchmodat2(int dirfd, const char* path, mode_t mode, int flags) {
  return syscall(SYS_fchmodat2, dirfd, path, mode, flags);
}

mode_t ModeOf(const std::string& p) {
  struct stat st = {};
  lstat(p.c_str(), &st);
  return st.st_mode;
}

class ChmodTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "x", 0644);
    ASSERT_FALSE(f_.empty());
    l_ = d_.Path("link");
    ASSERT_THAT(symlink("f", l_.c_str()), SyscallSucceeds());
  }
  TempDir d_{"chmod-test", GetParam()};
  std::string f_, l_;
};

INSTANTIATE_TEST_SUITE_P(Dirs, ChmodTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "/tmp" ? "Tmp" : "DevShm";
                         });

TEST_P(ChmodTest, ChmodSetsTheBits) {
  ASSERT_THAT(chmod(f_.c_str(), 0600), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0600u);
  ASSERT_THAT(chmod(f_.c_str(), 07777), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 07777u);
}

TEST_P(ChmodTest, FileTypeBitsInTheModeAreIgnored) {
  ASSERT_THAT(chmod(f_.c_str(), S_IFDIR | 0640), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0640u);
}

TEST_P(ChmodTest, ChmodFollowsSymlinks) {
  ASSERT_THAT(chmod(l_.c_str(), 0600), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0600u);
  EXPECT_TRUE(S_ISLNK(ModeOf(l_)));
}

TEST_P(ChmodTest, FchmodOnAnFd) {
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(fchmod(fd.get(), 0400), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0400u);
}

TEST_P(ChmodTest, FchmodOnOPathIsEbadf) {
  FileDescriptor fd(open(f_.c_str(), O_PATH));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(fchmod(fd.get(), 0600), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fchmod(-1, 0600), SyscallFailsWithErrno(EBADF));
}

TEST_P(ChmodTest, FchmodatRelativeToADirfd) {
  FileDescriptor dir(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir.valid());
  ASSERT_THAT(syscall(SYS_fchmodat, dir.get(), "f", 0611), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0611u);
  FileDescriptor file(open(f_.c_str(), O_RDONLY));
  EXPECT_THAT(syscall(SYS_fchmodat, file.get(), "f", 0600), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(syscall(SYS_fchmodat, dir.get(), "missing", 0600), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(syscall(SYS_fchmodat, dir.get(), "", 0600), SyscallFailsWithErrno(ENOENT));
}

TEST_P(ChmodTest, Fchmodat2WithoutFlagsFollows) {
  ASSERT_THAT(Fchmodat2(AT_FDCWD, l_.c_str(), 0604, 0), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0604u);
}

TEST_P(ChmodTest, Fchmodat2NofollowOnASymlinkIsEopnotsupp) {
  EXPECT_THAT(Fchmodat2(AT_FDCWD, l_.c_str(), 0600, AT_SYMLINK_NOFOLLOW),
              SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0644u);
}

TEST_P(ChmodTest, Fchmodat2NofollowOnARegularFile) {
  ASSERT_THAT(Fchmodat2(AT_FDCWD, f_.c_str(), 0600, AT_SYMLINK_NOFOLLOW), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0600u);
}

TEST_P(ChmodTest, Fchmodat2EmptyPath) {
  FileDescriptor fd(open(f_.c_str(), O_PATH));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(Fchmodat2(fd.get(), "", 0620, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0620u);
  EXPECT_THAT(Fchmodat2(fd.get(), "", 0620, 0), SyscallFailsWithErrno(ENOENT));
}

TEST_P(ChmodTest, Fchmodat2EmptyPathOnASymlinkIsEopnotsupp) {
  FileDescriptor fd(open(l_.c_str(), O_PATH | O_NOFOLLOW));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(Fchmodat2(fd.get(), "", 0600, AT_EMPTY_PATH), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST_P(ChmodTest, Fchmodat2UnknownFlagsAreEinval) {
  EXPECT_THAT(Fchmodat2(AT_FDCWD, f_.c_str(), 0600, 0x1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Fchmodat2(AT_FDCWD, f_.c_str(), 0600, AT_REMOVEDIR), SyscallFailsWithErrno(EINVAL));
}

TEST_P(ChmodTest, DirectoryModes) {
  const std::string dir = d_.Path("dir");
  ASSERT_THAT(mkdir(dir.c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(chmod(dir.c_str(), 01777), SyscallSucceeds());
  EXPECT_EQ(ModeOf(dir), S_IFDIR | 01777u);
}

TEST_P(ChmodTest, NonOwnerIsEperm) {
  SKIP_IF(geteuid() != 0);
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(chmod(f.c_str(), 0777) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_fchmodat2, AT_FDCWD, f.c_str(), 0777, 0) == -1 && errno == EPERM);
  }));
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0644u);
}

TEST_P(ChmodTest, NonOwnerSymlinkNofollowIsStillEopnotsupp) {
  SKIP_IF(geteuid() != 0);
  const std::string l = l_;
  EXPECT_TRUE(InForkedChild([l] {
    DropPrivilegesInChild();
    CHILD_CHECK(syscall(SYS_fchmodat2, AT_FDCWD, l.c_str(), 0777, AT_SYMLINK_NOFOLLOW) == -1 &&
                errno == EOPNOTSUPP);
  }));
}

TEST_P(ChmodTest, OwnerOutsideTheGroupLosesSetgid) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(chown(f_.c_str(), 65534, 0), SyscallSucceeds());  // group root
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(chmod(f.c_str(), 02755) == 0);
  }));
  EXPECT_EQ(ModeOf(f_), S_IFREG | 0755u);
}

TEST_P(ChmodTest, OwnerInTheGroupKeepsSetgid) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(chown(f_.c_str(), 65534, 65534), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(chmod(f.c_str(), 02755) == 0);
  }));
  EXPECT_EQ(ModeOf(f_), S_IFREG | 02755u);
}

TEST_P(ChmodTest, RootKeepsSetgidForAnyGroup) {
  ASSERT_THAT(chown(f_.c_str(), 65534, 65534), SyscallSucceeds());
  ASSERT_THAT(chmod(f_.c_str(), 02755), SyscallSucceeds());
  EXPECT_EQ(ModeOf(f_), S_IFREG | 02755u);
}

TEST(ChmodErrorsTest, BadPaths) {
  EXPECT_THAT(chmod("/nonexistent/x", 0600), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(chmod("", 0600), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(syscall(SYS_chmod, nullptr, 0600), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(chmod("/etc/passwd/x", 0600), SyscallFailsWithErrno(ENOTDIR));
}

}  // namespace
}  // namespace syscalls_test
