// The file descriptor table: dup(2), dup2(2), dup3(2), fcntl F_DUPFD and
// F_DUPFD_CLOEXEC, F_GETFD/F_SETFD, close(2), close_range(2) with its flags,
// and RLIMIT_NOFILE (EMFILE, EBADF past the limit).
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

int CloseRange(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

FileDescriptor OpenNull() { return FileDescriptor(open("/dev/null", O_RDONLY)); }

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }

TEST(DupTest, ReturnsTheLowestFreeNumber) {
  FileDescriptor a = OpenNull();
  ASSERT_TRUE(a.valid());
  FileDescriptor b(dup(a.get()));
  ASSERT_TRUE(b.valid());
  const int hole = b.get();
  b.reset();
  FileDescriptor c(dup(a.get()));
  EXPECT_EQ(c.get(), hole);
}

TEST(DupTest, SharesTheOffsetAndStatusFlags) {
  FileDescriptor a(open("/proc/self/exe", O_RDONLY));
  ASSERT_TRUE(a.valid());
  FileDescriptor b(dup(a.get()));
  ASSERT_TRUE(b.valid());
  ASSERT_THAT(lseek(a.get(), 100, SEEK_SET), SyscallSucceedsWithValue(100));
  EXPECT_THAT(lseek(b.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(100));
  ASSERT_THAT(fcntl(b.get(), F_SETFL, O_NONBLOCK), SyscallSucceeds());
  EXPECT_TRUE(fcntl(a.get(), F_GETFL) & O_NONBLOCK);
}

TEST(DupTest, DoesNotCopyCloexec) {
  FileDescriptor a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(a.valid());
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  FileDescriptor b(dup(a.get()));
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(DupTest, BadFdIsEbadf) {
  EXPECT_THAT(dup(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(dup(100000), SyscallFailsWithErrno(EBADF));
}

TEST(Dup2Test, ReplacesTheTargetAtomically) {
  FileDescriptor a = OpenNull();
  FileDescriptor b(open("/proc/self/exe", O_RDONLY));
  ASSERT_TRUE(a.valid() && b.valid());
  ASSERT_THAT(dup2(a.get(), b.get()), SyscallSucceedsWithValue(b.get()));
  struct stat sa, sb;
  ASSERT_THAT(fstat(a.get(), &sa), SyscallSucceeds());
  ASSERT_THAT(fstat(b.get(), &sb), SyscallSucceeds());
  EXPECT_EQ(sa.st_rdev, sb.st_rdev);
  EXPECT_EQ(sa.st_ino, sb.st_ino);
}

TEST(Dup2Test, SameFdReturnsItWhenValidEbadfOtherwise) {
  FileDescriptor a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(a.valid());
  EXPECT_THAT(dup2(a.get(), a.get()), SyscallSucceedsWithValue(a.get()));
  // dup2 to itself leaves FD_CLOEXEC alone.
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  EXPECT_THAT(syscall(SYS_dup2, 5000, 5000), SyscallFailsWithErrno(EBADF));
}

TEST(Dup2Test, ClearsCloexecOnTheNewFd) {
  FileDescriptor a = OpenNull();
  FileDescriptor b(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_THAT(dup2(a.get(), b.get()), SyscallSucceeds());
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(Dup2Test, TargetPastTheLimitIsEbadf) {
  FileDescriptor a = OpenNull();
  struct rlimit rl;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &rl), SyscallSucceeds());
  EXPECT_THAT(dup2(a.get(), static_cast<int>(rl.rlim_cur)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(dup2(a.get(), -1), SyscallFailsWithErrno(EBADF));
}

TEST(Dup2Test, HighTargetBelowTheLimitWorks) {
  FileDescriptor a = OpenNull();
  struct rlimit rl;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &rl), SyscallSucceeds());
  const int high = static_cast<int>(rl.rlim_cur) - 1;
  ASSERT_THAT(dup2(a.get(), high), SyscallSucceedsWithValue(high));
  EXPECT_TRUE(IsOpen(high));
  EXPECT_THAT(close(high), SyscallSucceeds());
}

TEST(Dup3Test, SetsCloexecOnRequest) {
  FileDescriptor a = OpenNull();
  FileDescriptor b = OpenNull();
  ASSERT_THAT(dup3(a.get(), b.get(), O_CLOEXEC), SyscallSucceedsWithValue(b.get()));
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(dup3(a.get(), b.get(), 0), SyscallSucceeds());
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(Dup3Test, SameFdIsEinval) {
  FileDescriptor a = OpenNull();
  EXPECT_THAT(dup3(a.get(), a.get(), 0), SyscallFailsWithErrno(EINVAL));
}

TEST(Dup3Test, UnknownFlagIsEinval) {
  FileDescriptor a = OpenNull();
  FileDescriptor b = OpenNull();
  EXPECT_THAT(dup3(a.get(), b.get(), O_NONBLOCK), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(dup3(a.get(), b.get(), 1), SyscallFailsWithErrno(EINVAL));
}

TEST(Dup3Test, BadOldFdIsEbadf) {
  FileDescriptor b = OpenNull();
  EXPECT_THAT(dup3(100000, b.get(), 0), SyscallFailsWithErrno(EBADF));
  // b is untouched.
  EXPECT_TRUE(IsOpen(b.get()));
}

TEST(FcntlDupfdTest, ReturnsTheLowestFreeAtOrAboveTheArgument) {
  FileDescriptor a = OpenNull();
  FileDescriptor b(fcntl(a.get(), F_DUPFD, 300));
  EXPECT_EQ(b.get(), 300);
  FileDescriptor c(fcntl(a.get(), F_DUPFD, 300));
  EXPECT_EQ(c.get(), 301);
  EXPECT_THAT(fcntl(c.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(FcntlDupfdTest, CloexecVariantSetsTheFlag) {
  FileDescriptor a = OpenNull();
  FileDescriptor b(fcntl(a.get(), F_DUPFD_CLOEXEC, 10));
  ASSERT_GE(b.get(), 10);
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

TEST(FcntlDupfdTest, ArgumentAtOrPastTheLimitIsEinval) {
  FileDescriptor a = OpenNull();
  struct rlimit rl;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &rl), SyscallSucceeds());
  EXPECT_THAT(fcntl(a.get(), F_DUPFD, static_cast<int>(rl.rlim_cur)),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(fcntl(a.get(), F_DUPFD, -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(fcntl(a.get(), F_DUPFD_CLOEXEC, -5), SyscallFailsWithErrno(EINVAL));
}

TEST(FcntlDupfdTest, BadFdIsEbadf) {
  EXPECT_THAT(fcntl(100000, F_DUPFD, 0), SyscallFailsWithErrno(EBADF));
}

TEST(FcntlFdFlagsTest, SetfdKeepsOnlyCloexec) {
  FileDescriptor a = OpenNull();
  ASSERT_THAT(fcntl(a.get(), F_SETFD, ~0), SyscallSucceeds());
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(fcntl(a.get(), F_SETFD, 0), SyscallSucceeds());
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(FcntlFdFlagsTest, BadFdIsEbadf) {
  EXPECT_THAT(fcntl(100000, F_GETFD), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fcntl(100000, F_SETFD, FD_CLOEXEC), SyscallFailsWithErrno(EBADF));
}

TEST(FcntlTest, UnknownCommandIsEinval) {
  FileDescriptor a = OpenNull();
  EXPECT_THAT(fcntl(a.get(), 0x7fff), SyscallFailsWithErrno(EINVAL));
}

TEST(CloseTest, BadFdIsEbadf) {
  EXPECT_THAT(close(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(close(100000), SyscallFailsWithErrno(EBADF));
  FileDescriptor a = OpenNull();
  const int fd = a.release();
  ASSERT_THAT(close(fd), SyscallSucceeds());
  EXPECT_THAT(close(fd), SyscallFailsWithErrno(EBADF));
}

TEST(CloseRangeTest, ClosesEveryFdInTheRange) {
  FileDescriptor a = OpenNull();
  const int base = 400;
  for (int i = 0; i < 5; ++i) ASSERT_THAT(dup2(a.get(), base + i), SyscallSucceeds());
  ASSERT_THAT(CloseRange(base + 1, base + 3, 0), SyscallSucceeds());
  EXPECT_TRUE(IsOpen(base));
  EXPECT_FALSE(IsOpen(base + 1));
  EXPECT_FALSE(IsOpen(base + 2));
  EXPECT_FALSE(IsOpen(base + 3));
  EXPECT_TRUE(IsOpen(base + 4));
  close(base);
  close(base + 4);
}

TEST(CloseRangeTest, EmptyAndOpenEndedRangesSucceed) {
  FileDescriptor a = OpenNull();
  ASSERT_THAT(dup2(a.get(), 500), SyscallSucceeds());
  // Nothing open there: still success.
  EXPECT_THAT(CloseRange(600, 700, 0), SyscallSucceeds());
  EXPECT_THAT(CloseRange(500, ~0u, 0), SyscallSucceeds());
  EXPECT_FALSE(IsOpen(500));
}

TEST(CloseRangeTest, CloexecFlagMarksInsteadOfClosing) {
  FileDescriptor a = OpenNull();
  ASSERT_THAT(dup2(a.get(), 510), SyscallSucceeds());
  ASSERT_THAT(dup2(a.get(), 511), SyscallSucceeds());
  ASSERT_THAT(CloseRange(510, 511, CLOSE_RANGE_CLOEXEC), SyscallSucceeds());
  EXPECT_THAT(fcntl(510, F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  EXPECT_THAT(fcntl(511, F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  close(510);
  close(511);
}

TEST(CloseRangeTest, FirstAboveLastIsEinval) {
  EXPECT_THAT(CloseRange(10, 5, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(CloseRangeTest, UnknownFlagIsEinval) {
  EXPECT_THAT(CloseRange(600, 700, 1u << 10), SyscallFailsWithErrno(EINVAL));
}

TEST(CloseRangeTest, UnshareCopiesTheTableFirst) {
  // With CLOSE_RANGE_UNSHARE in a process that shares nothing, the effect is
  // the same as without it.
  FileDescriptor a = OpenNull();
  ASSERT_THAT(dup2(a.get(), 520), SyscallSucceeds());
  ASSERT_THAT(CloseRange(520, 520, CLOSE_RANGE_UNSHARE), SyscallSucceeds());
  EXPECT_FALSE(IsOpen(520));
}

TEST(NofileLimitTest, OpenPastTheLimitIsEmfile) {
  EXPECT_TRUE(InForkedChild([] {
    struct rlimit rl = {16, 16};
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    for (int i = 0; i < 16; ++i) {
      if (fcntl(i, F_GETFD) < 0) CHILD_CHECK(open("/dev/null", O_RDONLY) == i);
    }
    CHILD_CHECK(open("/dev/null", O_RDONLY) == -1 && errno == EMFILE);
    CHILD_CHECK(dup(0) == -1 && errno == EMFILE);
    CHILD_CHECK(fcntl(0, F_DUPFD, 0) == -1 && errno == EMFILE);
    int p[2];
    CHILD_CHECK(pipe(p) == -1 && errno == EMFILE);
    // dup2 onto an open fd below the limit still works.
    CHILD_CHECK(dup2(0, 15) == 15);
    CHILD_CHECK(dup2(0, 16) == -1 && errno == EBADF);
  }));
}

TEST(NofileLimitTest, PipeNeedsTwoFreeSlots) {
  EXPECT_TRUE(InForkedChild([] {
    struct rlimit rl = {16, 16};
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    for (int i = 0; i < 15; ++i) {
      if (fcntl(i, F_GETFD) < 0) CHILD_CHECK(open("/dev/null", O_RDONLY) == i);
    }
    if (fcntl(15, F_GETFD) >= 0) close(15);
    int p[2] = {-1, -1};
    CHILD_CHECK(pipe(p) == -1 && errno == EMFILE);
    // Nothing was left behind.
    CHILD_CHECK(fcntl(15, F_GETFD) == -1 && errno == EBADF);
  }));
}

TEST(NofileLimitTest, LoweringTheLimitKeepsHigherFdsOpen) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(dup2(0, 100) == 100);
    struct rlimit rl = {50, 50};
    CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHILD_CHECK(fcntl(100, F_GETFD) == 0);
    char c;
    CHILD_CHECK(read(100, &c, 0) == 0);
    CHILD_CHECK(close(100) == 0);
  }));
}

}  // namespace
}  // namespace syscalls_test
