// chown(2), fchown(2), lchown(2) and fchownat(2): -1 leaves an id, lchown
// and AT_SYMLINK_NOFOLLOW change the symlink itself, AT_EMPTY_PATH, the
// setuid/setgid bits cleared by a change, EPERM for an unprivileged caller
// (an owner may change the group to one of its own), and the errors.
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

namespace syscalls_test {
namespace {

struct stat LstatOf(const std::string& p) {
  struct stat st = {};
  lstat(p.c_str(), &st);
  return st;
}

class ChownTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    SKIP_IF(!HaveCapability(CAP_CHOWN));
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "x", 0644);
    ASSERT_FALSE(f_.empty());
    l_ = d_.Path("link");
    ASSERT_THAT(symlink("f", l_.c_str()), SyscallSucceeds());
  }
  TempDir d_{"chown-test", GetParam()};
  std::string f_, l_;
};

INSTANTIATE_TEST_SUITE_P(Dirs, ChownTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "/tmp" ? "Tmp" : "DevShm";
                         });

TEST_P(ChownTest, ChownSetsBothIds) {
  ASSERT_THAT(chown(f_.c_str(), 1234, 5678), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 1234u);
  EXPECT_EQ(LstatOf(f_).st_gid, 5678u);
}

TEST_P(ChownTest, MinusOneLeavesAnId) {
  ASSERT_THAT(chown(f_.c_str(), 1234, 5678), SyscallSucceeds());
  ASSERT_THAT(chown(f_.c_str(), static_cast<uid_t>(-1), 42), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 1234u);
  EXPECT_EQ(LstatOf(f_).st_gid, 42u);
  ASSERT_THAT(chown(f_.c_str(), 7, static_cast<gid_t>(-1)), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 7u);
  EXPECT_EQ(LstatOf(f_).st_gid, 42u);
  ASSERT_THAT(chown(f_.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1)), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 7u);
}

TEST_P(ChownTest, ChownFollowsLchownDoesNot) {
  ASSERT_THAT(chown(l_.c_str(), 11, 12), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 11u);
  EXPECT_EQ(LstatOf(l_).st_uid, 0u);
  ASSERT_THAT(lchown(l_.c_str(), 21, 22), SyscallSucceeds());
  EXPECT_EQ(LstatOf(l_).st_uid, 21u);
  EXPECT_EQ(LstatOf(l_).st_gid, 22u);
  EXPECT_EQ(LstatOf(f_).st_uid, 11u);
}

TEST_P(ChownTest, FchownatNofollowAndEmptyPath) {
  ASSERT_THAT(fchownat(AT_FDCWD, l_.c_str(), 31, 32, AT_SYMLINK_NOFOLLOW), SyscallSucceeds());
  EXPECT_EQ(LstatOf(l_).st_uid, 31u);
  FileDescriptor fd(open(f_.c_str(), O_PATH));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(fchownat(fd.get(), "", 41, 42, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 41u);
  EXPECT_THAT(fchownat(fd.get(), "", 41, 42, 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(fchownat(AT_FDCWD, f_.c_str(), 1, 1, 0x1), SyscallFailsWithErrno(EINVAL));
}

TEST_P(ChownTest, FchownOnAnFd) {
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(fchown(fd.get(), 51, 52), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_uid, 51u);
  FileDescriptor path(open(f_.c_str(), O_PATH));
  EXPECT_THAT(fchown(path.get(), 1, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fchown(-1, 1, 1), SyscallFailsWithErrno(EBADF));
}

TEST_P(ChownTest, ChangeClearsSetuidAndSetgid) {
  ASSERT_THAT(chmod(f_.c_str(), 06755), SyscallSucceeds());
  ASSERT_THAT(chown(f_.c_str(), 1, 1), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_mode, S_IFREG | 0755u);
}

TEST_P(ChownTest, SetgidWithoutGroupExecuteIsKept) {
  // Mandatory-locking marker (setgid without group execute): not cleared.
  ASSERT_THAT(chmod(f_.c_str(), 06745), SyscallSucceeds());
  ASSERT_THAT(chown(f_.c_str(), 1, 1), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_mode, S_IFREG | 02745u);
}

TEST_P(ChownTest, NoChangeStillClearsSetuid) {
  ASSERT_THAT(chmod(f_.c_str(), 04755), SyscallSucceeds());
  ASSERT_THAT(chown(f_.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1)), SyscallSucceeds());
  EXPECT_EQ(LstatOf(f_).st_mode, S_IFREG | 0755u);
}

TEST_P(ChownTest, UnprivilegedMayNotGiveAway) {
  ASSERT_THAT(chown(f_.c_str(), 65534, 65534), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(chown(f.c_str(), 0, static_cast<gid_t>(-1)) == -1 && errno == EPERM);
    CHILD_CHECK(chown(f.c_str(), static_cast<uid_t>(-1), 0) == -1 && errno == EPERM);
    // Its own ids, or -1: allowed.
    CHILD_CHECK(chown(f.c_str(), 65534, 65534) == 0);
    CHILD_CHECK(chown(f.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1)) == 0);
  }));
}

TEST_P(ChownTest, UnprivilegedNonOwnerIsEperm) {
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(chown(f.c_str(), 65534, 65534) == -1 && errno == EPERM);
  }));
}

TEST(ChownErrorsTest, BadPaths) {
  EXPECT_THAT(chown("/nonexistent/x", 0, 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(chown("", 0, 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(syscall(SYS_chown, nullptr, 0, 0), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
