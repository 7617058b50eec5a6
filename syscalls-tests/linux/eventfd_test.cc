// eventfd(2), eventfd2(2): the counter, EFD_SEMAPHORE, EFD_NONBLOCK,
// EFD_CLOEXEC, the 8-byte rule, overflow, readiness, and what fstat and /proc
// show.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

ssize_t Write64(int fd, uint64_t v) { return write(fd, &v, sizeof(v)); }

TEST(EventfdTest, ReadTakesTheWholeCount) {
  FileDescriptor e(eventfd(5, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  ASSERT_THAT(Write64(e.get(), 3), SyscallSucceedsWithValue(8));
  uint64_t v = 0;
  ASSERT_THAT(read(e.get(), &v, sizeof(v)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(v, 8u);
  EXPECT_THAT(read(e.get(), &v, sizeof(v)), SyscallFailsWithErrno(EAGAIN));
}

TEST(EventfdTest, SemaphoreReadsOneAtATime) {
  FileDescriptor e(eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE));
  ASSERT_TRUE(e.valid());
  uint64_t v = 0;
  ASSERT_THAT(read(e.get(), &v, sizeof(v)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(v, 1u);
  ASSERT_THAT(read(e.get(), &v, sizeof(v)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(v, 1u);
  EXPECT_THAT(read(e.get(), &v, sizeof(v)), SyscallFailsWithErrno(EAGAIN));
}

TEST(EventfdTest, BuffersShorterThan8BytesAreEinval) {
  FileDescriptor e(eventfd(1, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  uint32_t small = 1;
  EXPECT_THAT(read(e.get(), &small, sizeof(small)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(write(e.get(), &small, sizeof(small)), SyscallFailsWithErrno(EINVAL));
  // A write is exactly 8 bytes; a read of more moves 8.
  uint64_t big[2] = {7, 7};
  EXPECT_THAT(write(e.get(), big, sizeof(big)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(read(e.get(), big, sizeof(big)), SyscallSucceedsWithValue(8));
  EXPECT_EQ(big[0], 1u);
  EXPECT_EQ(big[1], 7u);
}

TEST(EventfdTest, AllOnesIsEinvalAndOverflowWaits) {
  FileDescriptor e(eventfd(0, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  EXPECT_THAT(Write64(e.get(), UINT64_MAX), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(Write64(e.get(), UINT64_MAX - 1), SyscallSucceedsWithValue(8));
  EXPECT_THAT(Write64(e.get(), 1), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Write64(e.get(), 0), SyscallSucceedsWithValue(8));
}

TEST(EventfdTest, Flags) {
  EXPECT_THAT(syscall(SYS_eventfd2, 0, O_APPEND), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_eventfd2, 0, O_RDWR), SyscallFailsWithErrno(EINVAL));
  FileDescriptor a(eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(a.valid());
  EXPECT_THAT(fcntl(a.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  EXPECT_THAT(fcntl(a.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR));
  FileDescriptor b(syscall(SYS_eventfd, 3));
  ASSERT_TRUE(b.valid());
  EXPECT_THAT(fcntl(b.get(), F_GETFD), SyscallSucceedsWithValue(0));
  FileDescriptor c(eventfd(0, EFD_NONBLOCK));
  EXPECT_THAT(fcntl(c.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | O_NONBLOCK));
}

TEST(EventfdTest, Readiness) {
  FileDescriptor e(eventfd(0, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  struct pollfd pfd = {e.get(), POLLIN | POLLOUT, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLOUT);
  ASSERT_THAT(Write64(e.get(), UINT64_MAX - 1), SyscallSucceeds());
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN);
}

TEST(EventfdTest, BadBuffersAreEfault) {
  FileDescriptor e(eventfd(1, EFD_NONBLOCK));
  ASSERT_TRUE(e.valid());
  EXPECT_THAT(syscall(SYS_read, e.get(), kKernelAddress, size_t{8}), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_write, e.get(), kKernelAddress, size_t{8}),
              SyscallFailsWithErrno(EFAULT));
  uint64_t v;
  ASSERT_THAT(read(e.get(), &v, 8), SyscallSucceedsWithValue(8));
  EXPECT_EQ(v, 1u);
}

TEST(EventfdTest, NoPositionalIoAndASeekThatDoesNothing) {
  FileDescriptor e(eventfd(1, EFD_NONBLOCK));
  uint64_t v;
  EXPECT_THAT(pread(e.get(), &v, 8, 0), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pwrite(e.get(), &v, 8, 0), SyscallFailsWithErrno(ESPIPE));
  // noop_llseek: the position stays 0, whatever is asked.
  EXPECT_THAT(lseek(e.get(), 100, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(e.get(), -5, SEEK_END), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(e.get(), 5, 77), SyscallFailsWithErrno(EINVAL));
}

TEST(EventfdTest, FstatAndProcShowAnAnonymousInode) {
  FileDescriptor e(eventfd(0, 0));
  ASSERT_TRUE(e.valid());
  struct stat st;
  ASSERT_THAT(fstat(e.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & S_IFMT, 0u);  // no file type, as Linux's anon inodes
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  FileDescriptor f(eventfd(0, 0));
  struct stat st2;
  ASSERT_THAT(fstat(f.get(), &st2), SyscallSucceeds());
  EXPECT_EQ(st.st_ino, st2.st_ino);  // one inode for all
  char buf[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(e.get());
  ASSERT_THAT(readlink(link.c_str(), buf, sizeof(buf) - 1), SyscallSucceeds());
  EXPECT_EQ(std::string(buf), "anon_inode:[eventfd]");
}

TEST(EventfdTest, FdinfoShowsTheCount) {
  FileDescriptor e(eventfd(0x2a, 0));
  ASSERT_TRUE(e.valid());
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(e.get()));
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_THAT(ss.str(), ::testing::HasSubstr("eventfd-count:               2a\n"));
}

TEST(EventfdTest, ABlockedReaderWakesForAWrite) {
  FileDescriptor e(eventfd(0, 0));
  ASSERT_TRUE(e.valid());
  std::thread t([&] {
    usleep(20000);
    ASSERT_EQ(Write64(e.get(), 5), 8);
  });
  uint64_t v = 0;
  EXPECT_THAT(read(e.get(), &v, 8), SyscallSucceedsWithValue(8));
  EXPECT_EQ(v, 5u);
  t.join();
}

}  // namespace
}  // namespace syscalls_test
