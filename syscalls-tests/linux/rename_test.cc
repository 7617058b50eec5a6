// rename(2), renameat(2) and renameat2(2): files over files, directories over
// empty directories, RENAME_NOREPLACE and RENAME_EXCHANGE, and the errors
// (EISDIR, ENOTDIR, ENOTEMPTY, EINVAL for a directory into itself, EEXIST,
// ENOENT, EBUSY, EACCES and EPERM with the sticky bit, EFAULT, EBADF).
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
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

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif

long Renameat2(int od, const std::string& o, int nd, const std::string& n, unsigned flags) {
  return syscall(SYS_renameat2, od, o.c_str(), nd, n.c_str(), flags);
}

std::string Contents(const std::string& path) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY));
  if (!fd.valid()) return "<error>";
  char buf[256];
  const ssize_t n = read(fd.get(), buf, sizeof(buf));
  return n < 0 ? "<error>" : std::string(buf, n);
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class RenameTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(d_.ok()); }
  std::string P(const std::string& n) const { return d_.Path(n); }
  void Mkdir(const std::string& n) { ASSERT_THAT(mkdir(P(n).c_str(), 0755), SyscallSucceeds()); }
  TempDir d_{"rename-test"};
};

TEST_F(RenameTest, MovesAFileAndKeepsItsInode) {
  d_.File("a", "data");
  struct stat before, after;
  ASSERT_THAT(stat(P("a").c_str(), &before), SyscallSucceeds());
  ASSERT_THAT(rename(P("a").c_str(), P("b").c_str()), SyscallSucceeds());
  EXPECT_FALSE(Exists(P("a")));
  ASSERT_THAT(stat(P("b").c_str(), &after), SyscallSucceeds());
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(Contents(P("b")), "data");
}

TEST_F(RenameTest, ReplacesAnExistingFile) {
  d_.File("a", "new");
  d_.File("b", "old");
  ASSERT_THAT(rename(P("a").c_str(), P("b").c_str()), SyscallSucceeds());
  EXPECT_EQ(Contents(P("b")), "new");
  EXPECT_FALSE(Exists(P("a")));
}

TEST_F(RenameTest, OpenFdOfTheReplacedFileStillReads) {
  d_.File("a", "new");
  d_.File("b", "old");
  FileDescriptor fd(open(P("b").c_str(), O_RDONLY));
  ASSERT_THAT(rename(P("a").c_str(), P("b").c_str()), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 3), "old");
}

TEST_F(RenameTest, SameFileIsANoOp) {
  d_.File("a", "x");
  ASSERT_THAT(link(P("a").c_str(), P("b").c_str()), SyscallSucceeds());
  // Two links to the same inode: rename does nothing, both stay.
  ASSERT_THAT(rename(P("a").c_str(), P("b").c_str()), SyscallSucceeds());
  EXPECT_TRUE(Exists(P("a")));
  EXPECT_TRUE(Exists(P("b")));
  ASSERT_THAT(rename(P("a").c_str(), P("a").c_str()), SyscallSucceeds());
}

TEST_F(RenameTest, DirectoryOverEmptyDirectory) {
  Mkdir("d1");
  Mkdir("d2");
  d_.File("d1/f", "in d1");
  ASSERT_THAT(rename(P("d1").c_str(), P("d2").c_str()), SyscallSucceeds());
  EXPECT_EQ(Contents(P("d2/f")), "in d1");
  EXPECT_FALSE(Exists(P("d1")));
}

TEST_F(RenameTest, DirectoryOverNonEmptyDirectoryIsEnotempty) {
  Mkdir("d1");
  Mkdir("d2");
  d_.File("d2/f");
  EXPECT_THAT(rename(P("d1").c_str(), P("d2").c_str()),
              SyscallFailsWithErrno(::testing::AnyOf(ENOTEMPTY, EEXIST)));
}

TEST_F(RenameTest, FileOverDirectoryIsEisdir) {
  d_.File("f");
  Mkdir("d");
  EXPECT_THAT(rename(P("f").c_str(), P("d").c_str()), SyscallFailsWithErrno(EISDIR));
}

TEST_F(RenameTest, DirectoryOverFileIsEnotdir) {
  d_.File("f");
  Mkdir("d");
  EXPECT_THAT(rename(P("d").c_str(), P("f").c_str()), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(RenameTest, DirectoryIntoItsOwnSubtreeIsEinval) {
  Mkdir("d");
  Mkdir("d/sub");
  EXPECT_THAT(rename(P("d").c_str(), P("d/sub/x").c_str()), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(rename(P("d").c_str(), P("d/x").c_str()), SyscallFailsWithErrno(EINVAL));
}

TEST_F(RenameTest, DotAndDotDotAreRefused) {
  Mkdir("d");
  EXPECT_THAT(rename(P("d/.").c_str(), P("x").c_str()),
              SyscallFailsWithErrno(::testing::AnyOf(EBUSY, EINVAL)));
  EXPECT_THAT(rename(P("d/..").c_str(), P("x").c_str()),
              SyscallFailsWithErrno(::testing::AnyOf(EBUSY, EINVAL, ENOTEMPTY)));
}

TEST_F(RenameTest, MissingSourceIsEnoent) {
  EXPECT_THAT(rename(P("none").c_str(), P("x").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(rename(P("a").c_str(), P("nodir/x").c_str()), SyscallFailsWithErrno(ENOENT));
  d_.File("a");
  EXPECT_THAT(rename(P("a").c_str(), P("nodir/x").c_str()), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(rename("", P("x").c_str()), SyscallFailsWithErrno(ENOENT));
}

TEST_F(RenameTest, TrailingSlashOnAFileIsEnotdir) {
  d_.File("a");
  EXPECT_THAT(rename((P("a") + "/").c_str(), P("b").c_str()), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(rename(P("a").c_str(), (P("b") + "/").c_str()), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(RenameTest, RenamesASymlinkNotItsTarget) {
  d_.File("t", "T");
  ASSERT_THAT(symlink("t", P("l").c_str()), SyscallSucceeds());
  ASSERT_THAT(rename(P("l").c_str(), P("m").c_str()), SyscallSucceeds());
  EXPECT_TRUE(Exists(P("t")));
  char buf[8];
  EXPECT_THAT(readlink(P("m").c_str(), buf, sizeof(buf)), SyscallSucceedsWithValue(1));
}

TEST_F(RenameTest, NameTooLongIsEnametoolong) {
  d_.File("a");
  EXPECT_THAT(rename(P("a").c_str(), P(std::string(NAME_MAX + 1, 'n')).c_str()),
              SyscallFailsWithErrno(ENAMETOOLONG));
}

TEST_F(RenameTest, BadPointersAreEfault) {
  d_.File("a");
  EXPECT_THAT(syscall(SYS_rename, 8L, P("b").c_str()), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_rename, P("a").c_str(), 8L), SyscallFailsWithErrno(EFAULT));
}

TEST_F(RenameTest, RenameatUsesTheDirFds) {
  Mkdir("x");
  Mkdir("y");
  d_.File("x/f", "F");
  FileDescriptor x(open(P("x").c_str(), O_RDONLY | O_DIRECTORY));
  FileDescriptor y(open(P("y").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(renameat(x.get(), "f", y.get(), "g"), SyscallSucceeds());
  EXPECT_EQ(Contents(P("y/g")), "F");
  EXPECT_THAT(renameat(100000, "g", y.get(), "h"), SyscallFailsWithErrno(EBADF));
  FileDescriptor file(open(P("y/g").c_str(), O_RDONLY));
  EXPECT_THAT(renameat(file.get(), "g", y.get(), "h"), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(RenameTest, NoreplaceRefusesAnExistingTarget) {
  d_.File("a", "A");
  d_.File("b", "B");
  EXPECT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(Contents(P("b")), "B");
  ASSERT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("c"), RENAME_NOREPLACE), SyscallSucceeds());
  EXPECT_EQ(Contents(P("c")), "A");
}

TEST_F(RenameTest, NoreplaceWithADanglingSymlinkTargetIsEexist) {
  d_.File("a");
  ASSERT_THAT(symlink("nowhere", P("l").c_str()), SyscallSucceeds());
  EXPECT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("l"), RENAME_NOREPLACE),
              SyscallFailsWithErrno(EEXIST));
}

TEST_F(RenameTest, ExchangeSwapsTwoFiles) {
  d_.File("a", "A");
  d_.File("b", "B");
  ASSERT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_EXCHANGE), SyscallSucceeds());
  EXPECT_EQ(Contents(P("a")), "B");
  EXPECT_EQ(Contents(P("b")), "A");
}

TEST_F(RenameTest, ExchangeSwapsAFileAndADirectory) {
  d_.File("f", "F");
  Mkdir("d");
  d_.File("d/inner", "I");
  ASSERT_THAT(Renameat2(AT_FDCWD, P("f"), AT_FDCWD, P("d"), RENAME_EXCHANGE), SyscallSucceeds());
  EXPECT_EQ(Contents(P("d")), "F");
  EXPECT_EQ(Contents(P("f/inner")), "I");
}

TEST_F(RenameTest, ExchangeNeedsBothToExist) {
  d_.File("a");
  EXPECT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("none"), RENAME_EXCHANGE),
              SyscallFailsWithErrno(ENOENT));
  EXPECT_TRUE(Exists(P("a")));
}

TEST_F(RenameTest, ExchangeWithNoreplaceIsEinval) {
  d_.File("a");
  d_.File("b");
  EXPECT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_EXCHANGE | RENAME_NOREPLACE),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(RenameTest, UnknownFlagIsEinval) {
  d_.File("a");
  EXPECT_THAT(Renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), 1u << 7),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_TRUE(Exists(P("a")));
}

TEST_F(RenameTest, ExchangeDirectoryIntoItsSubtreeIsEinval) {
  Mkdir("d");
  Mkdir("d/sub");
  EXPECT_THAT(Renameat2(AT_FDCWD, P("d"), AT_FDCWD, P("d/sub"), RENAME_EXCHANGE),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(RenameTest, UnwritableParentIsEacces) {
  Mkdir("ro");
  d_.File("ro/f");
  ASSERT_THAT(chmod(P("ro").c_str(), 0555), SyscallSucceeds());
  chmod(d_.path().c_str(), 0777);
  const std::string from = P("ro/f"), to = P("moved");
  EXPECT_TRUE(InForkedChild([from, to] {
    DropPrivilegesInChild();
    CHILD_CHECK(rename(from.c_str(), to.c_str()) == -1 && errno == EACCES);
  }));
  chmod(d_.path().c_str(), 0755);
}

TEST_F(RenameTest, StickyDirectoryProtectsOtherUsersFiles) {
  SKIP_IF(geteuid() != 0);
  Mkdir("sticky");
  ASSERT_THAT(chmod(P("sticky").c_str(), 01777), SyscallSucceeds());
  d_.File("sticky/roots");
  const std::string from = P("sticky/roots"), to = P("sticky/mine");
  EXPECT_TRUE(InForkedChild([from, to] {
    DropPrivilegesInChild();
    CHILD_CHECK(rename(from.c_str(), to.c_str()) == -1 && errno == EPERM);
  }));
}

}  // namespace
}  // namespace syscalls_test
