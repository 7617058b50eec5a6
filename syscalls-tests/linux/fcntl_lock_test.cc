// POSIX record locks (fcntl F_SETLK, F_SETLKW, F_GETLK) and open file
// description locks (F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK): conflicts between
// processes, splitting and merging ranges, release on close, the access mode a
// lock needs (EBADF), bad arguments (EINVAL, EFAULT), and deadlock detection
// (EDEADLK) between two processes.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

struct flock Lk(short type, off_t start, off_t len, short whence = SEEK_SET) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = whence;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

int SetLk(int fd, short type, off_t start, off_t len, int cmd = F_SETLK) {
  struct flock fl = Lk(type, start, len);
  return fcntl(fd, cmd, &fl);
}

// What F_GETLK says about a would-be lock of `type` on [start, start+len).
struct flock GetLk(int fd, short type, off_t start, off_t len, int cmd = F_GETLK) {
  struct flock fl = Lk(type, start, len);
  if (fcntl(fd, cmd, &fl) != 0) fl.l_type = -1;
  return fl;
}

class FcntlLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    path_ = d_.File("f", std::string(100, 'x'), 0666);
    ASSERT_FALSE(path_.empty());
    fd_ = FileDescriptor(open(path_.c_str(), O_RDWR));
    ASSERT_TRUE(fd_.valid());
  }
  // Runs `fn` in a forked child with its own descriptor `fd` on the file.
  ::testing::AssertionResult InChild(std::function<void(int)> fn, int mode = O_RDWR) {
    const std::string p = path_;
    return InForkedChild([p, fn, mode] {
      const int fd = open(p.c_str(), mode);
      CHILD_CHECK(fd >= 0);
      fn(fd);
    });
  }
  TempDir d_{"lock-test"};
  std::string path_;
  FileDescriptor fd_;
};

TEST_F(FcntlLockTest, WriteLockBlocksAnotherProcess) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 10), SyscallSucceeds());
  const pid_t me = getpid();
  EXPECT_TRUE(InChild([me](int fd) {
    struct flock fl = Lk(F_WRLCK, 5, 1);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES));
    fl = Lk(F_RDLCK, 0, 1);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES));
    // Past the range: free.
    fl = Lk(F_WRLCK, 10, 5);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
    fl = Lk(F_WRLCK, 0, 20);
    CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0);
    CHILD_CHECK(fl.l_type == F_WRLCK && fl.l_pid == me && fl.l_start == 0 && fl.l_len == 10);
  }));
}

TEST_F(FcntlLockTest, ReadLocksShare) {
  ASSERT_THAT(SetLk(fd_.get(), F_RDLCK, 0, 0), SyscallSucceeds());
  EXPECT_TRUE(InChild(
      [](int fd) {
        struct flock fl = Lk(F_RDLCK, 0, 50);
        CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
        fl = Lk(F_WRLCK, 0, 1);
        CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES));
      },
      O_RDWR));
}

TEST_F(FcntlLockTest, OwnLocksNeverConflict) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 10), SyscallSucceeds());
  ASSERT_THAT(SetLk(fd_.get(), F_RDLCK, 5, 10), SyscallSucceeds());
  struct flock fl = GetLk(fd_.get(), F_WRLCK, 0, 0);
  EXPECT_EQ(fl.l_type, F_UNLCK);
}

TEST_F(FcntlLockTest, UnlockingTheMiddleSplitsTheLock) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 30), SyscallSucceeds());
  ASSERT_THAT(SetLk(fd_.get(), F_UNLCK, 10, 10), SyscallSucceeds());
  EXPECT_TRUE(InChild([](int fd) {
    struct flock fl = Lk(F_WRLCK, 10, 10);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
    fl = Lk(F_WRLCK, 0, 0);
    fl.l_start = 20;
    CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_start == 20 &&
                fl.l_len == 10);
    fl = Lk(F_WRLCK, 0, 15);
    CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_start == 0 && fl.l_len == 10);
  }));
}

TEST_F(FcntlLockTest, ZeroLengthMeansToTheEndOfFileAndBeyond) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 50, 0), SyscallSucceeds());
  EXPECT_TRUE(InChild([](int fd) {
    struct flock fl = Lk(F_RDLCK, 1000000, 1);
    CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_start == 50 &&
                fl.l_len == 0);
  }));
}

TEST_F(FcntlLockTest, NegativeLengthLocksBeforeTheStart) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 20, -5), SyscallSucceeds());
  EXPECT_TRUE(InChild([](int fd) {
    struct flock fl = Lk(F_WRLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_start == 15 &&
                fl.l_len == 5);
  }));
}

TEST_F(FcntlLockTest, SeekCurAndSeekEndWhence) {
  ASSERT_THAT(lseek(fd_.get(), 40, SEEK_SET), SyscallSucceeds());
  struct flock fl = Lk(F_WRLCK, 2, 3, SEEK_CUR);
  ASSERT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallSucceeds());
  fl = Lk(F_WRLCK, -10, 5, SEEK_END);
  ASSERT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallSucceeds());
  EXPECT_TRUE(InChild([](int fd) {
    struct flock q = Lk(F_WRLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_GETLK, &q) == 0 && q.l_start == 42 && q.l_len == 3);
    q = Lk(F_WRLCK, 50, 0);
    CHILD_CHECK(fcntl(fd, F_GETLK, &q) == 0 && q.l_start == 90 && q.l_len == 5);
  }));
}

TEST_F(FcntlLockTest, ClosingAnyFdOfTheFileReleasesTheProcessLocks) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 0), SyscallSucceeds());
  {
    FileDescriptor other(open(path_.c_str(), O_RDONLY));
    ASSERT_TRUE(other.valid());
  }
  EXPECT_TRUE(InChild([](int fd) {
    struct flock fl = Lk(F_WRLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
  }));
}

TEST_F(FcntlLockTest, LocksAreNotInheritedAcrossFork) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 0), SyscallSucceeds());
  const int fd = fd_.get();
  EXPECT_TRUE(InForkedChild([fd] {
    struct flock fl = Lk(F_WRLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES));
  }));
}

TEST_F(FcntlLockTest, ReadLockNeedsReadAccessWriteLockWriteAccess) {
  FileDescriptor ro(open(path_.c_str(), O_RDONLY));
  FileDescriptor wo(open(path_.c_str(), O_WRONLY));
  EXPECT_THAT(SetLk(ro.get(), F_WRLCK, 0, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(SetLk(wo.get(), F_RDLCK, 0, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(SetLk(ro.get(), F_RDLCK, 0, 1), SyscallSucceeds());
  EXPECT_THAT(SetLk(wo.get(), F_WRLCK, 2, 1), SyscallSucceeds());
}

TEST_F(FcntlLockTest, BadArgumentsAreEinval) {
  struct flock fl = Lk(42, 0, 1);
  EXPECT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lk(F_WRLCK, 0, 1, 7);
  EXPECT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lk(F_WRLCK, -1, 1);
  EXPECT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lk(F_WRLCK, 5, -10);
  EXPECT_THAT(fcntl(fd_.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lk(F_UNLCK, 0, 1);
  EXPECT_THAT(fcntl(fd_.get(), F_GETLK, &fl), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FcntlLockTest, BadPointerIsEfaultBadFdIsEbadf) {
  EXPECT_THAT(syscall(SYS_fcntl, fd_.get(), F_SETLK, 8L), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_fcntl, fd_.get(), F_GETLK, 8L), SyscallFailsWithErrno(EFAULT));
  struct flock fl = Lk(F_RDLCK, 0, 1);
  EXPECT_THAT(fcntl(100000, F_SETLK, &fl), SyscallFailsWithErrno(EBADF));
}

TEST_F(FcntlLockTest, SetlkwWaitsForTheHolder) {
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 0), SyscallSucceeds());
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  const std::string path = path_;
  const pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    const int fd = open(path.c_str(), O_RDWR);
    struct flock fl = Lk(F_WRLCK, 0, 0);
    const int r = fcntl(fd, F_SETLKW, &fl);
    const char c = r == 0 ? 'y' : 'n';
    write(p[1], &c, 1);
    _exit(0);
  }
  close(p[1]);
  usleep(100000);
  ASSERT_THAT(SetLk(fd_.get(), F_UNLCK, 0, 0), SyscallSucceeds());
  char c = 0;
  EXPECT_THAT(read(p[0], &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, 'y');
  close(p[0]);
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
}

TEST_F(FcntlLockTest, SetlkwDeadlockBetweenTwoProcessesIsEdeadlk) {
  // We hold [0,1); the child holds [1,2) and waits for [0,1); our wait for
  // [1,2) would close the cycle.
  ASSERT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 1), SyscallSucceeds());
  int ready[2];
  ASSERT_THAT(pipe(ready), SyscallSucceeds());
  const std::string path = path_;
  const pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    const int fd = open(path.c_str(), O_RDWR);
    struct flock fl = Lk(F_WRLCK, 1, 1);
    if (fcntl(fd, F_SETLK, &fl) != 0) _exit(2);
    write(ready[1], "r", 1);
    fl = Lk(F_WRLCK, 0, 1);
    _exit(fcntl(fd, F_SETLKW, &fl) == 0 ? 0 : 3);
  }
  close(ready[1]);
  char c;
  ASSERT_THAT(read(ready[0], &c, 1), SyscallSucceedsWithValue(1));
  close(ready[0]);
  usleep(200000);  // Let the child block in F_SETLKW.
  struct flock fl = Lk(F_WRLCK, 1, 1);
  EXPECT_THAT(fcntl(fd_.get(), F_SETLKW, &fl), SyscallFailsWithErrno(EDEADLK));
  ASSERT_THAT(SetLk(fd_.get(), F_UNLCK, 0, 0), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(FcntlLockTest, OfdLocksConflictBetweenDescriptionsOfOneProcess) {
  struct flock fl = Lk(F_WRLCK, 0, 10);
  ASSERT_THAT(fcntl(fd_.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
  FileDescriptor other(open(path_.c_str(), O_RDWR));
  fl = Lk(F_WRLCK, 5, 1);
  EXPECT_THAT(fcntl(other.get(), F_OFD_SETLK, &fl), SyscallFailsWithErrno(EAGAIN));
  fl = Lk(F_RDLCK, 0, 0);
  ASSERT_THAT(fcntl(other.get(), F_OFD_GETLK, &fl), SyscallSucceeds());
  EXPECT_EQ(fl.l_type, F_WRLCK);
  EXPECT_EQ(fl.l_pid, -1);
  EXPECT_EQ(fl.l_len, 10);
}

TEST_F(FcntlLockTest, OfdLockIsSharedByDupAndReleasedOnLastClose) {
  FileDescriptor a(open(path_.c_str(), O_RDWR));
  FileDescriptor b(dup(a.get()));
  struct flock fl = Lk(F_WRLCK, 0, 0);
  ASSERT_THAT(fcntl(a.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
  a.reset();
  fl = Lk(F_WRLCK, 0, 0);
  EXPECT_THAT(fcntl(fd_.get(), F_OFD_SETLK, &fl), SyscallFailsWithErrno(EAGAIN));
  b.reset();
  fl = Lk(F_WRLCK, 0, 0);
  EXPECT_THAT(fcntl(fd_.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
}

TEST_F(FcntlLockTest, OfdLocksNeedZeroPid) {
  struct flock fl = Lk(F_WRLCK, 0, 1);
  fl.l_pid = 1;
  EXPECT_THAT(fcntl(fd_.get(), F_OFD_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl.l_pid = 1;
  EXPECT_THAT(fcntl(fd_.get(), F_OFD_GETLK, &fl), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FcntlLockTest, OfdAndPosixLocksConflict) {
  struct flock fl = Lk(F_WRLCK, 0, 5);
  ASSERT_THAT(fcntl(fd_.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
  FileDescriptor other(open(path_.c_str(), O_RDWR));
  EXPECT_THAT(SetLk(other.get(), F_WRLCK, 0, 1), SyscallFailsWithErrno(EAGAIN));
  // The POSIX lock of this process and the OFD lock: F_GETLK reports l_pid -1.
  struct flock q = GetLk(other.get(), F_WRLCK, 0, 1);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_pid, -1);
}

TEST_F(FcntlLockTest, UpgradingAReadLockWaitsForOtherReaders) {
  ASSERT_THAT(SetLk(fd_.get(), F_RDLCK, 0, 0), SyscallSucceeds());
  EXPECT_TRUE(InChild([](int fd) {
    struct flock fl = Lk(F_RDLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == 0);
    fl = Lk(F_WRLCK, 0, 0);
    CHILD_CHECK(fcntl(fd, F_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES));
  }));
  // The child is gone: our read lock upgrades.
  EXPECT_THAT(SetLk(fd_.get(), F_WRLCK, 0, 0), SyscallSucceeds());
}

}  // namespace
}  // namespace syscalls_test
