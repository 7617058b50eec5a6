// read(2), write(2), pread64(2), pwrite64(2), readv(2), writev(2), close(2),
// fstat(2) and ioctl(2) on the standard descriptors, which is all the sandbox
// has yet. The runner starts every test binary with stdin = /dev/null (open
// O_RDONLY) and stdout/stderr = pipes it reads; each test checks the part of
// that it relies on and skips when run some other way. Nothing here writes a
// byte to stdout (the runner parses it); writes that must move data go to
// stderr.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// The calls that misuse a buffer on purpose go through syscall(): glibc's
// declarations carry access attributes that the compiler would check.

bool StdinIsDevNull() {
  struct stat st;
  return fstat(0, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) &&
         (fcntl(0, F_GETFL) & O_ACCMODE) == O_RDONLY;
}

bool IsWriteOnlyPipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
         (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY;
}

// NOTE: the sandbox has no fcntl yet; there the runner's arrangement is taken
// on trust for the access mode, and fstat alone is checked.
bool StdinIsReadOnlyDevNull() {
  if (IsRunningInSandbox()) {
    struct stat st;
    return fstat(0, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
  }
  return StdinIsDevNull();
}

bool IsWriteOnlyPipeFd(int fd) {
  if (IsRunningInSandbox()) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
  }
  return IsWriteOnlyPipe(fd);
}

#define SKIP_UNLESS_STDIN_IS_DEV_NULL() SKIP_IF(!StdinIsReadOnlyDevNull())
#define SKIP_UNLESS_STDERR_IS_A_PIPE() SKIP_IF(!IsWriteOnlyPipeFd(2))
#define SKIP_UNLESS_STDOUT_IS_A_PIPE() SKIP_IF(!IsWriteOnlyPipeFd(1))

// --- read / write ---

TEST(ReadTest, BadFdIsEbadf) {
  char buf[8];
  for (int fd : {-1, 1000, INT_MAX, INT_MIN}) {
    EXPECT_THAT(read(fd, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF)) << "fd " << fd;
  }
}

TEST(ReadTest, WriteOnlyFdIsEbadf) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  char buf[8];
  EXPECT_THAT(read(1, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
}

TEST(ReadTest, DevNullIsAtEndOfFile) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char buf[64];
  EXPECT_THAT(read(0, buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(read(0, buf, sizeof(buf)), SyscallSucceedsWithValue(0));
}

TEST(ReadTest, ZeroLengthReturnsZero) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char buf[1];
  EXPECT_THAT(read(0, buf, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(read(0, nullptr, 0), SyscallSucceedsWithValue(0));
}

TEST(ReadTest, KernelAddressIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(read(0, kKernelAddress, 16), SyscallFailsWithErrno(EFAULT));
}

TEST(ReadTest, LengthPastTheAddressSpaceIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  // access_ok() covers the whole length before anything is read.
  char buf[16];
  EXPECT_THAT(syscall(SYS_read, 0, buf, SIZE_MAX), SyscallFailsWithErrno(EFAULT));
}

TEST(ReadTest, ReadThatTransfersNothingNeverTouchesTheBuffer) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  // /dev/null has nothing to copy out, so an unmapped (but user) buffer is
  // never faulted on.
  EXPECT_THAT(read(0, reinterpret_cast<void*>(free_addr), 16), SyscallSucceedsWithValue(0));
}

TEST(ReadTest, BadFdIsCheckedBeforeTheBuffer) {
  EXPECT_THAT(read(-1, kKernelAddress, 16), SyscallFailsWithErrno(EBADF));
}

TEST(WriteTest, BadFdIsEbadf) {
  const char buf[4] = {};
  for (int fd : {-1, 1000, INT_MAX}) {
    EXPECT_THAT(write(fd, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF)) << "fd " << fd;
  }
}

TEST(WriteTest, ReadOnlyFdIsEbadf) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  const char buf[4] = {};
  EXPECT_THAT(write(0, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
}

TEST(WriteTest, ZeroLengthReturnsZero) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  EXPECT_THAT(write(1, "", 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(write(1, nullptr, 0), SyscallSucceedsWithValue(0));
}

TEST(WriteTest, WritesToAPipe) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  constexpr char kMsg[] = "[read_write_test] write to stderr\n";
  EXPECT_THAT(write(2, kMsg, sizeof(kMsg) - 1), SyscallSucceedsWithValue(sizeof(kMsg) - 1));
}

TEST(WriteTest, UnmappedBufferIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(write(2, reinterpret_cast<void*>(free_addr), 16), SyscallFailsWithErrno(EFAULT));
}

TEST(WriteTest, ProtNoneBufferIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  EXPECT_THAT(write(2, m.ptr(), 16), SyscallFailsWithErrno(EFAULT));
}

TEST(WriteTest, KernelAddressIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  EXPECT_THAT(write(2, kKernelAddress, 16), SyscallFailsWithErrno(EFAULT));
}

TEST(WriteTest, PipeWriteFromAPartlyUnmappedBufferIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  uint8_t* tail = m.page(1) - 8;
  memcpy(tail, "[rw]...\n", 8);
  // A pipe takes a page of data at a time and drops a page it could not fill:
  // nothing is written.
  EXPECT_THAT(write(2, tail, 64), SyscallFailsWithErrno(EFAULT));
}

// --- pread64 / pwrite64 ---

// RLIMIT_FSIZE: a write is cut at the limit; one that starts there is EFBIG
// with SIGXFSZ (generic_write_check_limits).
TEST(WriteTest, RlimitFsizeCutsAndRefusesWrites) {
  TempDir d("rw-fsize");
  ASSERT_TRUE(d.ok());
  const std::string f = d.File("f", "", 0644);
  ASSERT_FALSE(f.empty());
  EXPECT_TRUE(InForkedChild([f] {
    static volatile sig_atomic_t got = 0;
    signal(
        SIGXFSZ, +[](int) { got = got + 1; });
    int fd = open(f.c_str(), O_WRONLY);
    CHILD_CHECK(fd >= 0);
    struct rlimit rl = {100, 100};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    char buf[150] = {};
    CHILD_CHECK(write(fd, buf, 150) == 100);
    CHILD_CHECK(got == 0);
    CHILD_CHECK(write(fd, buf, 0) == 0);  // nothing to write: no check
    CHILD_CHECK(got == 0);
    CHILD_CHECK(write(fd, buf, 1) == -1 && errno == EFBIG);
    CHILD_CHECK(got == 1);
    CHILD_CHECK(pwrite(fd, buf, 10, 95) == 5);
    CHILD_CHECK(pwrite(fd, buf, 10, 100) == -1 && errno == EFBIG);
    CHILD_CHECK(got == 2);
    iovec iov[2] = {{buf, 50}, {buf, 50}};
    CHILD_CHECK(pwritev(fd, iov, 2, 70) == 30);
    CHILD_CHECK(pwritev(fd, iov, 2, 100) == -1 && errno == EFBIG);
    // O_APPEND: from the end, which is at the limit.
    int afd = open(f.c_str(), O_WRONLY | O_APPEND);
    CHILD_CHECK(afd >= 0);
    CHILD_CHECK(write(afd, buf, 1) == -1 && errno == EFBIG);
    // A pipe has no size: not limited.
    int p[2];
    CHILD_CHECK(pipe(p) == 0);
    CHILD_CHECK(write(p[1], buf, 150) == 150);
  }));
}

TEST(WriteTest, SigxfszKillsByDefault) {
  TempDir d("rw-fsize");
  ASSERT_TRUE(d.ok());
  const std::string f = d.File("f", "", 0644);
  ASSERT_FALSE(f.empty());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // no core file left behind
    int fd = open(f.c_str(), O_WRONLY);
    struct rlimit rl = {10, 10};
    setrlimit(RLIMIT_FSIZE, &rl);
    char buf[20] = {};
    (void)!write(fd, buf, 10);
    (void)!write(fd, buf, 10);  // SIGXFSZ
    _exit(0);
  }
  int status = 0;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
}

TEST(PreadTest, DevNullReadsNothingAtAnyOffset) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char buf[8];
  EXPECT_THAT(pread(0, buf, sizeof(buf), 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(pread(0, buf, sizeof(buf), 1 << 20), SyscallSucceedsWithValue(0));
}

TEST(PreadTest, NegativeOffsetIsInvalid) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char buf[8];
  EXPECT_THAT(pread(0, buf, sizeof(buf), -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_pread64, 0, buf, sizeof(buf), INT64_MIN), SyscallFailsWithErrno(EINVAL));
}

TEST(PreadTest, NegativeOffsetIsCheckedBeforeTheFd) {
  char buf[8];
  EXPECT_THAT(pread(-1, buf, sizeof(buf), -1), SyscallFailsWithErrno(EINVAL));
}

TEST(PreadTest, BadFdIsEbadf) {
  char buf[8];
  EXPECT_THAT(pread(-1, buf, sizeof(buf), 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(pread(1000, buf, sizeof(buf), 0), SyscallFailsWithErrno(EBADF));
}

TEST(PreadTest, PipeIsNotSeekable) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  char buf[8];
  // fd 1 is the write end: Linux says ESPIPE before it looks at the access
  // mode.
  EXPECT_THAT(pread(1, buf, sizeof(buf), 0), SyscallFailsWithErrno(ESPIPE));
}

TEST(PreadTest, ZeroLengthReturnsZero) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(pread(0, nullptr, 0, 0), SyscallSucceedsWithValue(0));
}

TEST(PwriteTest, PipeIsNotSeekable) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  EXPECT_THAT(pwrite(2, "x", 1, 0), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pwrite(2, "x", 0, 0), SyscallFailsWithErrno(ESPIPE));
}

TEST(PwriteTest, NegativeOffsetIsInvalid) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  EXPECT_THAT(pwrite(2, "x", 1, -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(pwrite(-1, "x", 1, -1), SyscallFailsWithErrno(EINVAL));
}

TEST(PwriteTest, ReadOnlyFdIsEbadf) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(pwrite(0, "x", 1, 0), SyscallFailsWithErrno(EBADF));
}

TEST(PwriteTest, BadFdIsEbadf) { EXPECT_THAT(pwrite(-1, "x", 1, 0), SyscallFailsWithErrno(EBADF)); }

// --- readv / writev ---

TEST(ReadvTest, BadFdIsEbadf) {
  char buf[8];
  struct iovec iov = {buf, sizeof(buf)};
  EXPECT_THAT(readv(-1, &iov, 1), SyscallFailsWithErrno(EBADF));
}

TEST(ReadvTest, BadFdIsCheckedBeforeTheCount) {
  char buf[8];
  struct iovec iov = {buf, sizeof(buf)};
  EXPECT_THAT(syscall(SYS_readv, -1, &iov, IOV_MAX + 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(syscall(SYS_readv, -1, &iov, -1), SyscallFailsWithErrno(EBADF));
}

TEST(ReadvTest, AccessModeIsCheckedBeforeTheCount) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  char buf[8];
  struct iovec iov = {buf, sizeof(buf)};
  EXPECT_THAT(syscall(SYS_readv, 1, &iov, IOV_MAX + 1), SyscallFailsWithErrno(EBADF));
}

TEST(ReadvTest, CountAboveIovMaxIsInvalid) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  std::vector<struct iovec> iov(IOV_MAX + 1);
  char buf[1];
  for (auto& v : iov) v = {buf, 1};
  EXPECT_THAT(readv(0, iov.data(), IOV_MAX + 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_readv, 0, iov.data(), -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(readv(0, iov.data(), IOV_MAX), SyscallSucceedsWithValue(0));
}

TEST(ReadvTest, ZeroCountReturnsZero) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(readv(0, nullptr, 0), SyscallSucceedsWithValue(0));
}

TEST(ReadvTest, BadIovecArrayIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(readv(0, reinterpret_cast<struct iovec*>(free_addr), 1),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(readv(0, static_cast<struct iovec*>(kKernelAddress), 1),
              SyscallFailsWithErrno(EFAULT));
}

TEST(ReadvTest, NegativeIovLengthIsInvalid) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char buf[8];
  struct iovec iov[2] = {{buf, 1}, {buf, static_cast<size_t>(SSIZE_MAX) + 1}};
  EXPECT_THAT(readv(0, iov, 2), SyscallFailsWithErrno(EINVAL));
}

TEST(ReadvTest, LengthPastTheAddressSpaceIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  // Each iovec must pass access_ok() for its whole length, even though
  // Linux then caps the transfer at MAX_RW_COUNT.
  char buf[8];
  struct iovec iov[2] = {{buf, 1}, {buf, static_cast<size_t>(SSIZE_MAX)}};
  EXPECT_THAT(readv(0, iov, 2), SyscallFailsWithErrno(EFAULT));
}

TEST(ReadvTest, AllZeroLengthsReturnZero) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  struct iovec iov[3] = {{nullptr, 0}, {reinterpret_cast<void*>(free_addr), 0}, {nullptr, 0}};
  EXPECT_THAT(readv(0, iov, 3), SyscallSucceedsWithValue(0));
}

TEST(ReadvTest, ZeroLengthKernelAddressIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  // access_ok() of a kernel address fails even for zero bytes.
  char buf[8];
  struct iovec iov[2] = {{buf, sizeof(buf)}, {kKernelAddress, 0}};
  EXPECT_THAT(readv(0, iov, 2), SyscallFailsWithErrno(EFAULT));
}

TEST(WritevTest, WritesEveryBufferInOrder) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  char a[] = "[read_write_test] ", b[] = "writev ", c[] = "to stderr\n";
  struct iovec iov[3] = {{a, strlen(a)}, {b, strlen(b)}, {c, strlen(c)}};
  EXPECT_THAT(writev(2, iov, 3), SyscallSucceedsWithValue(strlen(a) + strlen(b) + strlen(c)));
}

TEST(WritevTest, ZeroLengthEntriesAreSkipped) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  char a[] = "[read_write_test] zero-length iovecs\n";
  struct iovec iov[3] = {{nullptr, 0}, {a, strlen(a)}, {reinterpret_cast<void*>(free_addr), 0}};
  EXPECT_THAT(writev(2, iov, 3), SyscallSucceedsWithValue(strlen(a)));
}

TEST(WritevTest, BadSecondBufferOnAPipeIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  char a[] = "[read_write_test] never written\n";
  struct iovec iov[2] = {{a, strlen(a)}, {reinterpret_cast<void*>(free_addr), 8}};
  // As with write: the pipe page could not be filled, so nothing is written.
  EXPECT_THAT(writev(2, iov, 2), SyscallFailsWithErrno(EFAULT));
}

TEST(WritevTest, BadFirstBufferIsEfault) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  char a[] = "never written\n";
  struct iovec iov[2] = {{reinterpret_cast<void*>(free_addr), 8}, {a, strlen(a)}};
  EXPECT_THAT(writev(2, iov, 2), SyscallFailsWithErrno(EFAULT));
}

TEST(WritevTest, CountAboveIovMaxIsInvalid) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  std::vector<struct iovec> iov(IOV_MAX + 1, {nullptr, 0});
  EXPECT_THAT(writev(2, iov.data(), IOV_MAX + 1), SyscallFailsWithErrno(EINVAL));
}

TEST(WritevTest, ReadOnlyFdIsEbadf) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  char a[] = "x";
  struct iovec iov = {a, 1};
  EXPECT_THAT(writev(0, &iov, 1), SyscallFailsWithErrno(EBADF));
}

TEST(WritevTest, ZeroCountReturnsZero) {
  SKIP_UNLESS_STDERR_IS_A_PIPE();
  EXPECT_THAT(writev(2, nullptr, 0), SyscallSucceedsWithValue(0));
}

// --- close ---

TEST(CloseTest, BadFdIsEbadf) {
  for (int fd : {-1, 1000, INT_MAX, INT_MIN}) {
    EXPECT_THAT(close(fd), SyscallFailsWithErrno(EBADF)) << "fd " << fd;
  }
}

// --- fstat / newfstatat(AT_EMPTY_PATH) ---

TEST(FstatTest, DevNullIsACharacterDevice) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  struct stat st;
  ASSERT_THAT(fstat(0, &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  EXPECT_EQ(st.st_size, 0);
}

TEST(FstatTest, PipeIsAFifo) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  struct stat st;
  ASSERT_THAT(fstat(1, &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_nlink, 1u);
}

TEST(FstatTest, BadFdIsEbadf) {
  struct stat st;
  EXPECT_THAT(fstat(-1, &st), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fstat(1000, &st), SyscallFailsWithErrno(EBADF));
}

TEST(FstatTest, BadBufferIsEfault) {
  EXPECT_THAT(syscall(SYS_fstat, 0, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_fstat, 0, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(FstatTest, EmptyPathWithAtEmptyPathIsTheFd) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  struct stat a, b;
  ASSERT_THAT(fstat(0, &a), SyscallSucceeds());
  ASSERT_THAT(syscall(SYS_newfstatat, 0, "", &b, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_EQ(a.st_dev, b.st_dev);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_rdev, b.st_rdev);
}

TEST(FstatTest, EmptyPathWithoutAtEmptyPathIsEnoent) {
  struct stat st;
  EXPECT_THAT(syscall(SYS_newfstatat, 0, "", &st, 0), SyscallFailsWithErrno(ENOENT));
}

TEST(FstatTest, AtEmptyPathWithABadFdIsEbadf) {
  struct stat st;
  EXPECT_THAT(syscall(SYS_newfstatat, -1, "", &st, AT_EMPTY_PATH), SyscallFailsWithErrno(EBADF));
}

TEST(FstatTest, UnknownAtFlagIsInvalidBeforeThePathIsLookedUp) {
  struct stat st;
  EXPECT_THAT(syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0x40000000),
              SyscallFailsWithErrno(EINVAL));
}

TEST(FstatTest, BadPathPointerIsEfault) {
  struct stat st;
  EXPECT_THAT(syscall(SYS_newfstatat, AT_FDCWD, kKernelAddress, &st, 0),
              SyscallFailsWithErrno(EFAULT));
}

// --- ioctl ---

TEST(IoctlTest, BadFdIsEbadf) {
  int n = 0;
  EXPECT_THAT(ioctl(-1, FIONBIO, &n), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(ioctl(1000, FIOCLEX), SyscallFailsWithErrno(EBADF));
}

TEST(IoctlTest, TerminalRequestsOnDevNullAreEnotty) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  struct termios t;
  struct winsize ws;
  EXPECT_THAT(ioctl(0, TCGETS, &t), SyscallFailsWithErrno(ENOTTY));
  EXPECT_THAT(ioctl(0, TIOCGWINSZ, &ws), SyscallFailsWithErrno(ENOTTY));
}

TEST(IoctlTest, TerminalRequestsOnAPipeAreEnotty) {
  SKIP_UNLESS_STDOUT_IS_A_PIPE();
  struct termios t;
  EXPECT_THAT(ioctl(1, TCGETS, &t), SyscallFailsWithErrno(ENOTTY));
}

TEST(IoctlTest, CloseOnExecCanBeSetAndCleared) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(ioctl(0, FIOCLEX), SyscallSucceeds());
  EXPECT_THAT(ioctl(0, FIONCLEX), SyscallSucceeds());
}

TEST(IoctlTest, NonBlockingCanBeSetAndCleared) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  int on = 1, off = 0;
  EXPECT_THAT(ioctl(0, FIONBIO, &on), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(read(0, buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(ioctl(0, FIONBIO, &off), SyscallSucceeds());
}

TEST(IoctlTest, FionbioWithABadPointerIsEfault) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(ioctl(0, FIONBIO, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(IoctlTest, UnknownRequestOnDevNullIsEnotty) {
  SKIP_UNLESS_STDIN_IS_DEV_NULL();
  EXPECT_THAT(ioctl(0, 0x12345678, 0), SyscallFailsWithErrno(ENOTTY));
}

}  // namespace
}  // namespace syscalls_test
