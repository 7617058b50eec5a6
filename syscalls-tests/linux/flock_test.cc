// flock(2): shared and exclusive locks owned by the open file description,
// LOCK_NB, conversion, release on the last close, inheritance through dup and
// fork, independence from fcntl record locks, and the errors (EBADF, EINVAL,
// EWOULDBLOCK).
#include <fcntl.h>
#include <sys/file.h>
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

#ifndef LOCK_MAND
#define LOCK_MAND 32
#endif

class FlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    path_ = d_.File("f", "data", 0666);
    ASSERT_FALSE(path_.empty());
  }
  FileDescriptor Open(int flags = O_RDWR) { return FileDescriptor(open(path_.c_str(), flags)); }
  TempDir d_{"flock-test"};
  std::string path_;
};

TEST_F(FlockTest, ExclusiveExcludesAnotherDescription) {
  FileDescriptor a = Open(), b = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
  EXPECT_THAT(flock(b.get(), LOCK_SH | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
}

TEST_F(FlockTest, SharedLocksCoexist) {
  FileDescriptor a = Open(), b = Open(), c = Open();
  ASSERT_THAT(flock(a.get(), LOCK_SH), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_SH | LOCK_NB), SyscallSucceeds());
  EXPECT_THAT(flock(c.get(), LOCK_EX | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
}

TEST_F(FlockTest, UnlockLetsOthersIn) {
  FileDescriptor a = Open(), b = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  ASSERT_THAT(flock(a.get(), LOCK_UN), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
}

TEST_F(FlockTest, UnlockWithoutALockSucceeds) {
  FileDescriptor a = Open();
  EXPECT_THAT(flock(a.get(), LOCK_UN), SyscallSucceeds());
}

TEST_F(FlockTest, RelockingTheSameDescriptionConverts) {
  FileDescriptor a = Open(), b = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  ASSERT_THAT(flock(a.get(), LOCK_SH), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_SH | LOCK_NB), SyscallSucceeds());
  // a cannot go back to exclusive while b shares.
  EXPECT_THAT(flock(a.get(), LOCK_EX | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
}

TEST_F(FlockTest, DupSharesTheLock) {
  FileDescriptor a = Open();
  FileDescriptor dupped(dup(a.get()));
  FileDescriptor b = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  // The same description: no conflict.
  EXPECT_THAT(flock(dupped.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
  a.reset();
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
  dupped.reset();
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
}

TEST_F(FlockTest, ForkedChildSharesTheDescriptionsLock) {
  FileDescriptor a = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  const int fd = a.get();
  const std::string p = path_;
  EXPECT_TRUE(InForkedChild([fd, p] {
    CHILD_CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
    const int other = open(p.c_str(), O_RDONLY);
    CHILD_CHECK(flock(other, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK);
  }));
}

TEST_F(FlockTest, DoesNotInteractWithRecordLocks) {
  FileDescriptor a = Open(), b = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  EXPECT_THAT(fcntl(b.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
}

TEST_F(FlockTest, WorksOnReadOnlyAndWriteOnlyDescriptions) {
  FileDescriptor r = Open(O_RDONLY);
  FileDescriptor w = Open(O_WRONLY);
  EXPECT_THAT(flock(r.get(), LOCK_EX), SyscallSucceeds());
  EXPECT_THAT(flock(r.get(), LOCK_UN), SyscallSucceeds());
  EXPECT_THAT(flock(w.get(), LOCK_SH), SyscallSucceeds());
}

TEST_F(FlockTest, WorksOnDirectories) {
  FileDescriptor a(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  FileDescriptor b(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_SH | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
}

TEST_F(FlockTest, OPathIsEbadf) {
  FileDescriptor p(open(path_.c_str(), O_PATH));
  ASSERT_TRUE(p.valid());
  EXPECT_THAT(flock(p.get(), LOCK_SH), SyscallFailsWithErrno(EBADF));
}

TEST_F(FlockTest, BadFdIsEbadf) {
  EXPECT_THAT(flock(-1, LOCK_SH), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(flock(100000, LOCK_EX), SyscallFailsWithErrno(EBADF));
}

TEST_F(FlockTest, BadOperationIsEinval) {
  FileDescriptor a = Open();
  EXPECT_THAT(flock(a.get(), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(flock(a.get(), LOCK_NB), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(flock(a.get(), 3), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(flock(a.get(), 16), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FlockTest, BadOperationIsCheckedBeforeTheFd) {
  EXPECT_THAT(flock(100000, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(flock(-1, 3), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FlockTest, LockMandIsIgnored) {
  // Linux 5.15 removed mandatory flock: a LOCK_MAND request is ignored
  // (success, no lock taken).
  FileDescriptor a = Open(), b = Open();
  EXPECT_THAT(flock(a.get(), LOCK_MAND | LOCK_EX), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
}

TEST_F(FlockTest, BlockingLockWaitsForRelease) {
  FileDescriptor a = Open();
  ASSERT_THAT(flock(a.get(), LOCK_EX), SyscallSucceeds());
  const std::string p = path_;
  int pipefd[2];
  ASSERT_THAT(pipe(pipefd), SyscallSucceeds());
  const pid_t child = fork();
  if (child == 0) {
    close(pipefd[0]);
    const int fd = open(p.c_str(), O_RDWR);
    const char c = flock(fd, LOCK_EX) == 0 ? 'y' : 'n';
    write(pipefd[1], &c, 1);
    _exit(0);
  }
  close(pipefd[1]);
  usleep(100000);
  ASSERT_THAT(flock(a.get(), LOCK_UN), SyscallSucceeds());
  char c = 0;
  EXPECT_THAT(read(pipefd[0], &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, 'y');
  close(pipefd[0]);
  int status;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
}

TEST_F(FlockTest, ExitOfTheLastHolderReleases) {
  const std::string p = path_;
  ASSERT_TRUE(InForkedChild([p] {
    const int fd = open(p.c_str(), O_RDWR);
    CHILD_CHECK(flock(fd, LOCK_EX) == 0);
  }));
  FileDescriptor a = Open();
  EXPECT_THAT(flock(a.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
}

}  // namespace
}  // namespace syscalls_test
