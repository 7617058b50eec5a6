// utimensat(2), futimesat(2), utimes(2) and utime(2): explicit times,
// UTIME_NOW and UTIME_OMIT, AT_SYMLINK_NOFOLLOW, the fd form (a null path),
// the permission rules (owner or write access for "now", owner for explicit
// times), and the errors (EINVAL, EFAULT, EBADF, ENOENT).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

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

long Utimensat(int dirfd, const char* path, const struct timespec* ts, int flags) {
  return syscall(SYS_utimensat, dirfd, path, ts, flags);
}

class UtimensatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    f_ = d_.File("f", "x", 0644);
    ASSERT_FALSE(f_.empty());
  }
  struct stat St(const std::string& p, bool follow = true) {
    struct stat st = {};
    if (follow) {
      stat(p.c_str(), &st);
    } else {
      lstat(p.c_str(), &st);
    }
    return st;
  }
  TempDir d_{"utimensat-test"};
  std::string f_;
};

TEST_F(UtimensatTest, SetsExplicitTimes) {
  struct timespec ts[2] = {{1000, 111}, {2000, 222}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallSucceeds());
  const struct stat st = St(f_);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 111);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 222);
}

TEST_F(UtimensatTest, NullTimesMeansNow) {
  struct timespec old[2] = {{10, 0}, {10, 0}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), old, 0), SyscallSucceeds());
  const time_t now = time(nullptr);
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), nullptr, 0), SyscallSucceeds());
  const struct stat st = St(f_);
  EXPECT_GE(st.st_mtim.tv_sec, now - 1);
  EXPECT_GE(st.st_atim.tv_sec, now - 1);
}

TEST_F(UtimensatTest, UtimeOmitLeavesThatTime) {
  struct timespec ts[2] = {{500, 0}, {600, 0}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallSucceeds());
  struct timespec omit_a[2] = {{0, UTIME_OMIT}, {700, 0}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), omit_a, 0), SyscallSucceeds());
  struct stat st = St(f_);
  EXPECT_EQ(st.st_atim.tv_sec, 500);
  EXPECT_EQ(st.st_mtim.tv_sec, 700);
  struct timespec omit_m[2] = {{800, 0}, {0, UTIME_OMIT}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), omit_m, 0), SyscallSucceeds());
  st = St(f_);
  EXPECT_EQ(st.st_atim.tv_sec, 800);
  EXPECT_EQ(st.st_mtim.tv_sec, 700);
}

TEST_F(UtimensatTest, UtimeNowForOne) {
  struct timespec ts[2] = {{0, UTIME_NOW}, {5, 0}};
  const time_t now = time(nullptr);
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallSucceeds());
  const struct stat st = St(f_);
  EXPECT_GE(st.st_atim.tv_sec, now - 1);
  EXPECT_EQ(st.st_mtim.tv_sec, 5);
}

TEST_F(UtimensatTest, BothOmitChangesNothingNotEvenCtime) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  EXPECT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallSucceeds());
}

TEST_F(UtimensatTest, ChangesCtime) {
  const struct stat before = St(f_);
  usleep(20000);
  struct timespec ts[2] = {{1, 0}, {1, 0}};
  ASSERT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallSucceeds());
  const struct stat after = St(f_);
  EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
              (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
               after.st_ctim.tv_nsec > before.st_ctim.tv_nsec));
}

TEST_F(UtimensatTest, SymlinkNofollowSetsTheLinksTimes) {
  ASSERT_THAT(symlink("f", d_.Path("l").c_str()), SyscallSucceeds());
  struct timespec ts[2] = {{3000, 0}, {4000, 0}};
  ASSERT_THAT(Utimensat(AT_FDCWD, d_.Path("l").c_str(), ts, AT_SYMLINK_NOFOLLOW),
              SyscallSucceeds());
  EXPECT_EQ(St(d_.Path("l"), false).st_mtim.tv_sec, 4000);
  EXPECT_NE(St(f_).st_mtim.tv_sec, 4000);
}

TEST_F(UtimensatTest, NullPathUsesTheFd) {
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  struct timespec ts[2] = {{7, 0}, {8, 0}};
  ASSERT_THAT(Utimensat(fd.get(), nullptr, ts, 0), SyscallSucceeds());
  EXPECT_EQ(St(f_).st_mtim.tv_sec, 8);
  EXPECT_THAT(Utimensat(100000, nullptr, ts, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Utimensat(AT_FDCWD, nullptr, ts, 0), SyscallFailsWithErrno(EFAULT));
}

TEST_F(UtimensatTest, BadNsecIsEinval) {
  struct timespec ts[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallFailsWithErrno(EINVAL));
  ts[0].tv_nsec = -1;
  EXPECT_THAT(Utimensat(AT_FDCWD, f_.c_str(), ts, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(UtimensatTest, BadFlagsAreEinval) {
  EXPECT_THAT(Utimensat(AT_FDCWD, f_.c_str(), nullptr, 0x1000000), SyscallFailsWithErrno(EINVAL));
}

TEST_F(UtimensatTest, BadPointersAreEfault) {
  EXPECT_THAT(syscall(SYS_utimensat, AT_FDCWD, f_.c_str(), 8L, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_utimensat, AT_FDCWD, 8L, nullptr, 0), SyscallFailsWithErrno(EFAULT));
}

TEST_F(UtimensatTest, MissingFileIsEnoent) {
  EXPECT_THAT(Utimensat(AT_FDCWD, d_.Path("none").c_str(), nullptr, 0),
              SyscallFailsWithErrno(ENOENT));
}

TEST_F(UtimensatTest, NowNeedsWriteAccessOrOwnership) {
  chmod(f_.c_str(), 0644);
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    if (geteuid() == 0) return;
    CHILD_CHECK(syscall(SYS_utimensat, AT_FDCWD, f.c_str(), nullptr, 0) == -1 && errno == EACCES);
  }));
  chmod(f_.c_str(), 0666);
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(syscall(SYS_utimensat, AT_FDCWD, f.c_str(), nullptr, 0) == 0);
  }));
}

TEST_F(UtimensatTest, ExplicitTimesNeedOwnership) {
  chmod(f_.c_str(), 0666);
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    if (geteuid() == 0) return;
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    CHILD_CHECK(syscall(SYS_utimensat, AT_FDCWD, f.c_str(), ts, 0) == -1 && errno == EPERM);
    // UTIME_NOW for both is the "now" case: write access is enough.
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    CHILD_CHECK(syscall(SYS_utimensat, AT_FDCWD, f.c_str(), now, 0) == 0);
  }));
}

TEST_F(UtimensatTest, UtimesTakesMicroseconds) {
  struct timeval tv[2] = {{100, 5}, {200, 7}};
  ASSERT_THAT(utimes(f_.c_str(), tv), SyscallSucceeds());
  const struct stat st = St(f_);
  EXPECT_EQ(st.st_atim.tv_nsec, 5000);
  EXPECT_EQ(st.st_mtim.tv_sec, 200);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7000);
  struct timeval bad[2] = {{0, 1000000}, {0, 0}};
  EXPECT_THAT(utimes(f_.c_str(), bad), SyscallFailsWithErrno(EINVAL));
}

TEST_F(UtimensatTest, FutimesatRelativeToADirFd) {
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  struct timeval tv[2] = {{11, 0}, {12, 0}};
  ASSERT_THAT(syscall(SYS_futimesat, d.get(), "f", tv), SyscallSucceeds());
  EXPECT_EQ(St(f_).st_mtim.tv_sec, 12);
  EXPECT_THAT(syscall(SYS_futimesat, 100000, "f", tv), SyscallFailsWithErrno(EBADF));
}

TEST_F(UtimensatTest, UtimeTakesSeconds) {
  struct utimbuf b = {30, 40};
  ASSERT_THAT(utime(f_.c_str(), &b), SyscallSucceeds());
  const struct stat st = St(f_);
  EXPECT_EQ(st.st_atime, 30);
  EXPECT_EQ(st.st_mtime, 40);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
}

}  // namespace
}  // namespace syscalls_test
