// stat(2), lstat(2), fstat(2), newfstatat(2) and statx(2): the fields for
// regular files, directories, symlinks, pipes and devices; AT_EMPTY_PATH,
// AT_SYMLINK_NOFOLLOW; and the errors (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG,
// EFAULT, EBADF, EINVAL, EACCES).
#include <fcntl.h>
#include <limits.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
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

void* const kBad = reinterpret_cast<void*>(8);

long Statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* stx) {
  return syscall(SYS_statx, dirfd, path, flags, mask, stx);
}

class StatTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  TempDir dir_{"stat-test"};
};

TEST_F(StatTest, RegularFileFields) {
  const std::string f = dir_.File("f", "hello world", 0640);
  ASSERT_FALSE(f.empty());
  chmod(f.c_str(), 0640);
  struct stat st;
  ASSERT_THAT(stat(f.c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 11);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_gid, getegid());
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_NE(st.st_ino, 0u);
}

TEST_F(StatTest, FstatAgreesWithStat) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  struct stat a, b;
  ASSERT_THAT(stat(f.c_str(), &a), SyscallSucceeds());
  ASSERT_THAT(fstat(fd.get(), &b), SyscallSucceeds());
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_dev, b.st_dev);
  EXPECT_EQ(a.st_size, b.st_size);
  EXPECT_EQ(a.st_mode, b.st_mode);
}

TEST_F(StatTest, DirectoryFields) {
  ASSERT_THAT(mkdir(dir_.Path("d").c_str(), 0751), SyscallSucceeds());
  ASSERT_THAT(mkdir(dir_.Path("d/sub").c_str(), 0700), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat(dir_.Path("d").c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // 0751 minus whatever the umask takes away; 0700 always stays.
  EXPECT_EQ(st.st_mode & 0700, 0700u);
  EXPECT_GE(st.st_nlink, 2u);
}

TEST_F(StatTest, LstatSeesTheLinkStatFollowsIt) {
  const std::string f = dir_.File("target", "0123456789");
  const std::string l = dir_.Path("link");
  ASSERT_THAT(symlink("target", l.c_str()), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(lstat(l.c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 6);  // strlen("target")
  ASSERT_THAT(stat(l.c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 10);
}

TEST_F(StatTest, DanglingLinkStatIsEnoentLstatWorks) {
  const std::string l = dir_.Path("dangling");
  ASSERT_THAT(symlink("nowhere", l.c_str()), SyscallSucceeds());
  struct stat st;
  EXPECT_THAT(stat(l.c_str(), &st), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(lstat(l.c_str(), &st), SyscallSucceeds());
}

TEST_F(StatTest, PipeAndCharDevice) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  struct stat st;
  ASSERT_THAT(fstat(r.get(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_THAT(stat("/dev/null", &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
}

TEST_F(StatTest, HardLinkRaisesNlinkAndSharesTheInode) {
  const std::string f = dir_.File("f");
  ASSERT_THAT(link(f.c_str(), dir_.Path("g").c_str()), SyscallSucceeds());
  struct stat a, b;
  ASSERT_THAT(stat(f.c_str(), &a), SyscallSucceeds());
  ASSERT_THAT(stat(dir_.Path("g").c_str(), &b), SyscallSucceeds());
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
}

TEST_F(StatTest, WriteMovesMtimeAndSize) {
  const std::string f = dir_.File("f");
  struct stat before, after;
  ASSERT_THAT(stat(f.c_str(), &before), SyscallSucceeds());
  struct timespec ts = {0, 0};
  struct timespec times[2] = {ts, ts};
  ASSERT_THAT(utimensat(AT_FDCWD, f.c_str(), times, 0), SyscallSucceeds());
  FileDescriptor fd(open(f.c_str(), O_WRONLY));
  ASSERT_THAT(write(fd.get(), "xyz", 3), SyscallSucceedsWithValue(3));
  ASSERT_THAT(fstat(fd.get(), &after), SyscallSucceeds());
  EXPECT_EQ(after.st_size, 3);
  EXPECT_GT(after.st_mtime, 0);
}

TEST_F(StatTest, MissingIsEnoentEmptyPathIsEnoent) {
  struct stat st;
  EXPECT_THAT(stat(dir_.Path("missing").c_str(), &st), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(stat("", &st), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(lstat("", &st), SyscallFailsWithErrno(ENOENT));
}

TEST_F(StatTest, FileAsDirectoryIsEnotdir) {
  const std::string f = dir_.File("f");
  struct stat st;
  EXPECT_THAT(stat((f + "/x").c_str(), &st), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(stat((f + "/").c_str(), &st), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(StatTest, SymlinkLoopIsEloop) {
  ASSERT_THAT(symlink("b", dir_.Path("a").c_str()), SyscallSucceeds());
  ASSERT_THAT(symlink("a", dir_.Path("b").c_str()), SyscallSucceeds());
  struct stat st;
  EXPECT_THAT(stat(dir_.Path("a").c_str(), &st), SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(lstat(dir_.Path("a").c_str(), &st), SyscallSucceeds());
}

TEST_F(StatTest, LongNamesAreEnametoolong) {
  struct stat st;
  const std::string component(NAME_MAX + 1, 'x');
  EXPECT_THAT(stat(dir_.Path(component).c_str(), &st), SyscallFailsWithErrno(ENAMETOOLONG));
  std::string path;
  while (path.size() <= PATH_MAX) path += "/a";
  EXPECT_THAT(stat(path.c_str(), &st), SyscallFailsWithErrno(ENAMETOOLONG));
}

TEST_F(StatTest, BadPointersAreEfault) {
  const std::string f = dir_.File("f");
  EXPECT_THAT(syscall(SYS_stat, f.c_str(), kBad), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_stat, kBad, kBad), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_lstat, kBad, kBad), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_fstat, 0, kBad), SyscallFailsWithErrno(EFAULT));
}

TEST_F(StatTest, FstatBadFdIsEbadf) {
  struct stat st;
  EXPECT_THAT(syscall(SYS_fstat, -1, &st), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(syscall(SYS_fstat, 100000, &st), SyscallFailsWithErrno(EBADF));
}

TEST_F(StatTest, FstatOnOPathWorks) {
  const std::string f = dir_.File("f", "12345");
  FileDescriptor fd(open(f.c_str(), O_PATH));
  ASSERT_TRUE(fd.valid());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 5);
}

TEST_F(StatTest, SearchPermissionIsNeededOnTheWay) {
  ASSERT_THAT(mkdir(dir_.Path("closed").c_str(), 0700), SyscallSucceeds());
  dir_.File("closed/f");
  const std::string f = dir_.Path("closed/f");
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    struct stat st;
    CHILD_CHECK(stat(f.c_str(), &st) == -1 && errno == EACCES);
  }));
}

TEST_F(StatTest, NewfstatatRelativeToADirFd) {
  dir_.File("f", "abcd");
  FileDescriptor d(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY));
  struct stat st;
  ASSERT_THAT(fstatat(d.get(), "f", &st, 0), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 4);
}

TEST_F(StatTest, NewfstatatEmptyPath) {
  const std::string f = dir_.File("f", "abcdef");
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  struct stat st;
  ASSERT_THAT(fstatat(fd.get(), "", &st, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 6);
  EXPECT_THAT(fstatat(fd.get(), "", &st, 0), SyscallFailsWithErrno(ENOENT));
}

TEST_F(StatTest, NewfstatatNofollow) {
  dir_.File("t");
  ASSERT_THAT(symlink("t", dir_.Path("l").c_str()), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstatat(AT_FDCWD, dir_.Path("l").c_str(), &st, AT_SYMLINK_NOFOLLOW),
              SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(StatTest, NewfstatatBadFlagsIsEinval) {
  struct stat st;
  EXPECT_THAT(fstatat(AT_FDCWD, dir_.path().c_str(), &st, 0x40000000),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(StatTest, NewfstatatFileDirfdIsEnotdir) {
  const std::string f = dir_.File("f");
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  struct stat st;
  EXPECT_THAT(fstatat(fd.get(), "x", &st, 0), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(fstatat(100000, "x", &st, 0), SyscallFailsWithErrno(EBADF));
  // An absolute path ignores the dirfd, even a bad one.
  EXPECT_THAT(fstatat(100000, f.c_str(), &st, 0), SyscallSucceeds());
}

TEST_F(StatTest, StatxBasicFields) {
  const std::string f = dir_.File("f", "0123456789abcdef");
  struct statx stx = {};
  ASSERT_THAT(Statx(AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, &stx), SyscallSucceeds());
  EXPECT_EQ(stx.stx_mask & STATX_BASIC_STATS & ~STATX_BLOCKS & ~STATX_INO,
            STATX_BASIC_STATS & ~STATX_BLOCKS & ~STATX_INO);
  EXPECT_EQ(stx.stx_size, 16u);
  EXPECT_TRUE(S_ISREG(stx.stx_mode));
  struct stat st;
  ASSERT_THAT(stat(f.c_str(), &st), SyscallSucceeds());
  EXPECT_EQ(stx.stx_ino, st.st_ino);
  EXPECT_EQ(stx.stx_uid, st.st_uid);
  EXPECT_EQ(stx.stx_nlink, st.st_nlink);
  EXPECT_EQ(makedev(stx.stx_dev_major, stx.stx_dev_minor), st.st_dev);
  EXPECT_EQ(stx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(stx.stx_mtime.tv_nsec, static_cast<uint32_t>(st.st_mtim.tv_nsec));
}

TEST_F(StatTest, StatxEmptyPathAndNofollow) {
  const std::string f = dir_.File("f", "xy");
  ASSERT_THAT(symlink("f", dir_.Path("l").c_str()), SyscallSucceeds());
  struct statx stx = {};
  ASSERT_THAT(Statx(AT_FDCWD, dir_.Path("l").c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx),
              SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(stx.stx_mode));
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  ASSERT_THAT(Statx(fd.get(), "", AT_EMPTY_PATH, STATX_SIZE, &stx), SyscallSucceeds());
  EXPECT_EQ(stx.stx_size, 2u);
}

TEST_F(StatTest, StatxDeviceNumbers) {
  struct statx stx = {};
  ASSERT_THAT(Statx(AT_FDCWD, "/dev/null", 0, STATX_BASIC_STATS, &stx), SyscallSucceeds());
  EXPECT_EQ(stx.stx_rdev_major, 1u);
  EXPECT_EQ(stx.stx_rdev_minor, 3u);
}

TEST_F(StatTest, StatxReservedMaskBitIsEinval) {
  struct statx stx;
  EXPECT_THAT(Statx(AT_FDCWD, "/", 0, 0x80000000u, &stx), SyscallFailsWithErrno(EINVAL));
}

TEST_F(StatTest, StatxBadFlagsAreEinval) {
  struct statx stx;
  EXPECT_THAT(Statx(AT_FDCWD, "/", 0x40000000, STATX_BASIC_STATS, &stx),
              SyscallFailsWithErrno(EINVAL));
  // Both sync types at once.
  EXPECT_THAT(
      Statx(AT_FDCWD, "/", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx),
      SyscallFailsWithErrno(EINVAL));
}

TEST_F(StatTest, StatxBadPointersAreEfault) {
  struct statx stx;
  EXPECT_THAT(syscall(SYS_statx, AT_FDCWD, "/", 0, STATX_BASIC_STATS, kBad),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_statx, AT_FDCWD, kBad, 0, STATX_BASIC_STATS, &stx),
              SyscallFailsWithErrno(EFAULT));
}

TEST_F(StatTest, StatxBadDirfdIsEbadf) {
  struct statx stx;
  EXPECT_THAT(Statx(100000, "x", 0, STATX_BASIC_STATS, &stx), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Statx(100000, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx),
              SyscallFailsWithErrno(EBADF));
}

TEST_F(StatTest, StatxMissingIsEnoent) {
  struct statx stx;
  EXPECT_THAT(Statx(AT_FDCWD, dir_.Path("nope").c_str(), 0, STATX_BASIC_STATS, &stx),
              SyscallFailsWithErrno(ENOENT));
}

}  // namespace
}  // namespace syscalls_test
