// mkdir(2)/mkdirat(2), rmdir(2), unlink(2)/unlinkat(2): creation modes,
// nlink of the parent, and the errors (EEXIST, ENOENT, ENOTDIR, ENOTEMPTY,
// EISDIR, EINVAL for "." and bad flags, EBUSY or EINVAL for "..", EACCES,
// EPERM with the sticky bit, ENAMETOOLONG, EFAULT, EBADF).
#include <fcntl.h>
#include <limits.h>
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

class MkdirUnlinkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(d_.ok()); }
  std::string P(const std::string& n) { return d_.Path(n); }
  TempDir d_{"mkdir-test"};
};

TEST_F(MkdirUnlinkTest, MkdirRaisesTheParentsLinkCount) {
  struct stat before, after;
  ASSERT_THAT(stat(d_.path().c_str(), &before), SyscallSucceeds());
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(stat(d_.path().c_str(), &after), SyscallSucceeds());
  EXPECT_EQ(after.st_nlink, before.st_nlink + 1);
  ASSERT_THAT(rmdir(P("d").c_str()), SyscallSucceeds());
  ASSERT_THAT(stat(d_.path().c_str(), &after), SyscallSucceeds());
  EXPECT_EQ(after.st_nlink, before.st_nlink);
}

TEST_F(MkdirUnlinkTest, MkdirErrors) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  EXPECT_THAT(mkdir(P("d").c_str(), 0755), SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(mkdir(P("none/d").c_str(), 0755), SyscallFailsWithErrno(ENOENT));
  d_.File("f");
  EXPECT_THAT(mkdir(P("f/d").c_str(), 0755), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(mkdir(P(std::string(NAME_MAX + 1, 'n')).c_str(), 0755),
              SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_THAT(syscall(SYS_mkdir, 8L, 0755), SyscallFailsWithErrno(EFAULT));
}

TEST_F(MkdirUnlinkTest, MkdirOnADanglingSymlinkIsEexist) {
  ASSERT_THAT(symlink("nowhere", P("l").c_str()), SyscallSucceeds());
  EXPECT_THAT(mkdir(P("l").c_str(), 0755), SyscallFailsWithErrno(EEXIST));
}

TEST_F(MkdirUnlinkTest, MkdiratUsesTheDirFd) {
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(mkdirat(d.get(), "sub", 0700), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat(P("sub").c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_THAT(mkdirat(100000, "x", 0700), SyscallFailsWithErrno(EBADF));
}

TEST_F(MkdirUnlinkTest, UnwritableParentIsEacces) {
  ASSERT_THAT(mkdir(P("ro").c_str(), 0555), SyscallSucceeds());
  const std::string p = P("ro/x");
  EXPECT_TRUE(InForkedChild([p] {
    DropPrivilegesInChild();
    CHILD_CHECK(mkdir(p.c_str(), 0755) == -1 && errno == EACCES);
  }));
}

TEST_F(MkdirUnlinkTest, RmdirErrors) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  d_.File("d/f");
  EXPECT_THAT(rmdir(P("d").c_str()), SyscallFailsWithErrno(ENOTEMPTY));
  EXPECT_THAT(rmdir(P("d/f").c_str()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(rmdir(P("none").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(rmdir(P("d/.").c_str()), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(rmdir(P("d/..").c_str()), SyscallFailsWithErrno(ENOTEMPTY));
}

TEST_F(MkdirUnlinkTest, RmdirOfASymlinkIsEnotdir) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(symlink("d", P("l").c_str()), SyscallSucceeds());
  EXPECT_THAT(rmdir(P("l").c_str()), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(MkdirUnlinkTest, UnlinkRemovesTheNameNotTheOpenFile) {
  const std::string f = d_.File("f", "still here");
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  ASSERT_THAT(unlink(f.c_str()), SyscallSucceeds());
  struct stat st;
  EXPECT_THAT(stat(f.c_str(), &st), SyscallFailsWithErrno(ENOENT));
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 0u);
  char buf[16];
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(10));
}

TEST_F(MkdirUnlinkTest, UnlinkErrors) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  EXPECT_THAT(unlink(P("d").c_str()), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(unlink(P("none").c_str()), SyscallFailsWithErrno(ENOENT));
  d_.File("f");
  EXPECT_THAT(unlink(P("f/x").c_str()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(syscall(SYS_unlink, 8L), SyscallFailsWithErrno(EFAULT));
}

TEST_F(MkdirUnlinkTest, UnlinkOfASymlinkRemovesTheLink) {
  const std::string f = d_.File("f");
  ASSERT_THAT(symlink("f", P("l").c_str()), SyscallSucceeds());
  ASSERT_THAT(unlink(P("l").c_str()), SyscallSucceeds());
  EXPECT_THAT(access(f.c_str(), F_OK), SyscallSucceeds());
}

TEST_F(MkdirUnlinkTest, UnlinkatRemovedirFlag) {
  ASSERT_THAT(mkdir(P("d").c_str(), 0755), SyscallSucceeds());
  d_.File("f");
  FileDescriptor dir(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(unlinkat(dir.get(), "d", 0), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(unlinkat(dir.get(), "f", AT_REMOVEDIR), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(unlinkat(dir.get(), "d", AT_REMOVEDIR), SyscallSucceeds());
  EXPECT_THAT(unlinkat(dir.get(), "f", 0), SyscallSucceeds());
}

TEST_F(MkdirUnlinkTest, UnlinkatBadFlagsAreEinval) {
  d_.File("f");
  FileDescriptor dir(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(unlinkat(dir.get(), "f", AT_SYMLINK_NOFOLLOW), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(unlinkat(100000, "f", 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(MkdirUnlinkTest, StickyDirectoryProtectsOtherUsersFiles) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(mkdir(P("sticky").c_str(), 0777), SyscallSucceeds());
  ASSERT_THAT(chmod(P("sticky").c_str(), 01777), SyscallSucceeds());
  d_.File("sticky/roots");
  const std::string p = P("sticky/roots");
  EXPECT_TRUE(InForkedChild([p] {
    DropPrivilegesInChild();
    CHILD_CHECK(unlink(p.c_str()) == -1 && errno == EPERM);
  }));
}

}  // namespace
}  // namespace syscalls_test
