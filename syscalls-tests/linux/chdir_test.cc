// chdir(2), fchdir(2), getcwd(2) and chroot(2): the working directory moves,
// getcwd's buffer rules (ERANGE, EFAULT), permission (EACCES for an
// unprivileged user), and chroot's privilege (EPERM).
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

std::string Cwd() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof(buf)) == nullptr ? "<error>" : buf;
}

class ChdirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    old_ = Cwd();
  }
  void TearDown() override { chdir(old_.c_str()); }
  TempDir d_{"chdir-test"};
  std::string old_;
};

TEST_F(ChdirTest, ChdirMovesGetcwd) {
  ASSERT_THAT(chdir(d_.path().c_str()), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.path());
  ASSERT_THAT(mkdir("sub", 0755), SyscallSucceeds());
  ASSERT_THAT(chdir("sub"), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.Path("sub"));
  ASSERT_THAT(chdir(".."), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.path());
}

TEST_F(ChdirTest, FollowsSymlinks) {
  ASSERT_THAT(mkdir(d_.Path("real").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(symlink("real", d_.Path("link").c_str()), SyscallSucceeds());
  ASSERT_THAT(chdir(d_.Path("link").c_str()), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.Path("real"));
}

TEST_F(ChdirTest, Errors) {
  const std::string f = d_.File("f");
  EXPECT_THAT(chdir(f.c_str()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(chdir(d_.Path("none").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(chdir(""), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(syscall(SYS_chdir, 8L), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(chdir(d_.Path(std::string(NAME_MAX + 1, 'n')).c_str()),
              SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_EQ(Cwd(), old_);
}

TEST_F(ChdirTest, UnsearchableDirectoryIsEacces) {
  ASSERT_THAT(mkdir(d_.Path("closed").c_str(), 0600), SyscallSucceeds());
  const std::string p = d_.Path("closed");
  EXPECT_TRUE(InForkedChild([p] {
    DropPrivilegesInChild();
    CHILD_CHECK(chdir(p.c_str()) == -1 && errno == EACCES);
  }));
}

TEST_F(ChdirTest, FchdirMovesToTheDirectory) {
  FileDescriptor fd(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(fchdir(fd.get()), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.path());
}

TEST_F(ChdirTest, FchdirOnOPathWorks) {
  FileDescriptor fd(open(d_.path().c_str(), O_PATH));
  ASSERT_THAT(fchdir(fd.get()), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.path());
}

TEST_F(ChdirTest, FchdirErrors) {
  const std::string f = d_.File("f");
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  EXPECT_THAT(fchdir(fd.get()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(fchdir(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fchdir(100000), SyscallFailsWithErrno(EBADF));
}

TEST_F(ChdirTest, FchdirNeedsSearchPermission) {
  ASSERT_THAT(mkdir(d_.Path("closed").c_str(), 0644), SyscallSucceeds());
  const std::string p = d_.Path("closed");
  EXPECT_TRUE(InForkedChild([p] {
    DropPrivilegesInChild();
    const int fd = open(p.c_str(), O_RDONLY | O_DIRECTORY);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(fchdir(fd) == -1 && errno == EACCES);
  }));
}

TEST_F(ChdirTest, GetcwdReturnsTheLengthWithTheNul) {
  ASSERT_THAT(chdir(d_.path().c_str()), SyscallSucceeds());
  char buf[PATH_MAX];
  EXPECT_THAT(syscall(SYS_getcwd, buf, size_t{PATH_MAX}),
              SyscallSucceedsWithValue(static_cast<long>(d_.path().size() + 1)));
}

TEST_F(ChdirTest, GetcwdSmallBufferIsErange) {
  ASSERT_THAT(chdir(d_.path().c_str()), SyscallSucceeds());
  char buf[PATH_MAX];
  EXPECT_THAT(syscall(SYS_getcwd, buf, d_.path().size()), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(syscall(SYS_getcwd, buf, size_t{0}), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(syscall(SYS_getcwd, buf, d_.path().size() + 1), SyscallSucceeds());
}

TEST_F(ChdirTest, GetcwdBadBufferIsEfault) {
  EXPECT_THAT(syscall(SYS_getcwd, 8L, size_t{PATH_MAX}), SyscallFailsWithErrno(EFAULT));
}

TEST_F(ChdirTest, GetcwdOfARemovedDirectoryIsEnoent) {
  ASSERT_THAT(mkdir(d_.Path("gone").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(chdir(d_.Path("gone").c_str()), SyscallSucceeds());
  ASSERT_THAT(rmdir(d_.Path("gone").c_str()), SyscallSucceeds());
  char buf[PATH_MAX];
  EXPECT_THAT(syscall(SYS_getcwd, buf, size_t{PATH_MAX}), SyscallFailsWithErrno(ENOENT));
  // The directory is still usable as a base for "..".
  EXPECT_THAT(chdir(".."), SyscallSucceeds());
  EXPECT_EQ(Cwd(), d_.path());
}

TEST_F(ChdirTest, ChrootNeedsPrivilege) {
  const std::string p = d_.path();
  EXPECT_TRUE(InForkedChild([p] {
    DropPrivilegesInChild();
    CHILD_CHECK(chroot(p.c_str()) == -1 && errno == EPERM);
  }));
}

TEST_F(ChdirTest, ChrootChangesTheRoot) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(mkdir(d_.Path("inner").c_str(), 0755), SyscallSucceeds());
  d_.File("marker", "m");
  const std::string p = d_.path();
  EXPECT_TRUE(InForkedChild([p] {
    CHILD_CHECK(chroot(p.c_str()) == 0);
    CHILD_CHECK(chdir("/") == 0);
    CHILD_CHECK(access("/marker", F_OK) == 0);
    CHILD_CHECK(access("/inner", F_OK) == 0);
    // .. at the new root stays there.
    CHILD_CHECK(chdir("/..") == 0 && access("marker", F_OK) == 0);
    char buf[PATH_MAX];
    CHILD_CHECK(getcwd(buf, sizeof(buf)) != nullptr && std::string(buf) == "/");
  }));
}

TEST_F(ChdirTest, ChrootErrors) {
  SKIP_IF(geteuid() != 0);
  const std::string f = d_.File("f");
  EXPECT_THAT(chroot(f.c_str()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(chroot(d_.Path("none").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(syscall(SYS_chroot, 8L), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
