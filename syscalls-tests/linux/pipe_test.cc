// pipe(2), pipe2(2) and FIFOs: the flags, capacity and F_SETPIPE_SZ, PIPE_BUF
// atomicity, packet mode, end of file and EPIPE, FIONREAD, fstat, the
// /proc/self/fd links, and opening a named FIFO. Most cases write and read
// the same pipe in one process, without blocking; the few that need a second
// thread are listed in expectations.txt until clone exists in the sandbox.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// Writes `n` bytes of `c`; the result of write(2).
ssize_t WriteN(int fd, size_t n, char c = 'x') {
  std::string s(n, c);
  return write(fd, s.data(), s.size());
}

// The lowest free fd number (what the next open would get).
int LowestFreeFd() {
  const int fd = dup(0);
  close(fd);
  return fd;
}

// Ignores SIGPIPE for the scope, so that EPIPE can be seen.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction sa = {};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_;
};

TEST(PipeTest, EndsHaveTheirAccessModes) {
  int fds[2];
  ASSERT_THAT(pipe(fds), SyscallSucceeds());
  FileDescriptor r(fds[0]), w(fds[1]);
  EXPECT_THAT(fcntl(r.get(), F_GETFL), SyscallSucceedsWithValue(O_RDONLY));
  EXPECT_THAT(fcntl(w.get(), F_GETFL), SyscallSucceedsWithValue(O_WRONLY));
  EXPECT_THAT(fcntl(r.get(), F_GETFD), SyscallSucceedsWithValue(0));
  EXPECT_THAT(fcntl(w.get(), F_GETFD), SyscallSucceedsWithValue(0));
}

TEST(PipeTest, Pipe2Flags) {
  Pipe p = MakePipe(O_CLOEXEC | O_NONBLOCK | O_DIRECT);
  EXPECT_THAT(fcntl(p.r.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  EXPECT_THAT(fcntl(p.w.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  // O_DIRECT (packet mode) is the writing end's alone.
  EXPECT_THAT(fcntl(p.r.get(), F_GETFL), SyscallSucceedsWithValue(O_RDONLY | O_NONBLOCK));
  EXPECT_THAT(fcntl(p.w.get(), F_GETFL),
              SyscallSucceedsWithValue(O_WRONLY | O_NONBLOCK | O_DIRECT));
}

TEST(PipeTest, Pipe2RejectsOtherFlags) {
  int fds[2];
  EXPECT_THAT(syscall(SYS_pipe2, fds, O_APPEND), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_pipe2, fds, O_WRONLY), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_pipe2, fds, O_NOATIME), SyscallFailsWithErrno(EINVAL));
}

TEST(PipeTest, ABadArrayIsEfaultAndLeaksNoFd) {
  const int before = LowestFreeFd();
  EXPECT_THAT(syscall(SYS_pipe, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_pipe2, kKernelAddress, O_CLOEXEC), SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(LowestFreeFd(), before);
}

TEST(PipeTest, BytesComeOutInOrder) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(p.w.get(), "hello, ", 7), SyscallSucceedsWithValue(7));
  ASSERT_THAT(write(p.w.get(), "world", 5), SyscallSucceedsWithValue(5));
  char buf[64] = {};
  ASSERT_THAT(read(p.r.get(), buf, 5), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf, 5), "hello");
  ASSERT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(7));
  EXPECT_EQ(std::string(buf, 7), ", world");
}

TEST(PipeTest, EmptyNonblockingReadIsEagain) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c;
  EXPECT_THAT(read(p.r.get(), &c, 1), SyscallFailsWithErrno(EAGAIN));
}

TEST(PipeTest, NullReadAndWriteSucceed) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c;
  EXPECT_THAT(read(p.r.get(), &c, 0), SyscallSucceedsWithValue(0));
  p.r.reset();
  // A write of nothing succeeds even with no reader (and no SIGPIPE).
  EXPECT_THAT(write(p.w.get(), &c, 0), SyscallSucceedsWithValue(0));
}

TEST(PipeTest, DefaultCapacityIs64KiB) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(fcntl(p.w.get(), F_GETPIPE_SZ), SyscallSucceedsWithValue(65536));
  EXPECT_THAT(fcntl(p.r.get(), F_GETPIPE_SZ), SyscallSucceedsWithValue(65536));
  size_t total = 0;
  for (int i = 0; i < 16; ++i) {
    ASSERT_THAT(WriteN(p.w.get(), 4096), SyscallSucceedsWithValue(4096));
    total += 4096;
  }
  EXPECT_THAT(WriteN(p.w.get(), 1), SyscallFailsWithErrno(EAGAIN));
  int n = 0;
  ASSERT_THAT(ioctl(p.r.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(static_cast<size_t>(n), total);
}

// Linux keeps a pipe's data in page-sized buffers and merges a small write
// into the last one only when it fits whole: 1000-byte writes fill four to a
// page.
TEST(PipeTest, SmallWritesShareAPageWhenTheyFit) {
  Pipe p = MakePipe(O_NONBLOCK);
  int writes = 0;
  while (WriteN(p.w.get(), 1000) == 1000) ++writes;
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(writes, 16 * 4);
}

TEST(PipeTest, WritesUpToPipeBufAreAtomic) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 4096), SyscallSucceedsWithValue(4096));
  ASSERT_THAT(WriteN(p.w.get(), 4000), SyscallSucceedsWithValue(4000));
  // 200 bytes do not fit in the 96 left: nothing is written.
  EXPECT_THAT(WriteN(p.w.get(), 200), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(WriteN(p.w.get(), 96), SyscallSucceedsWithValue(96));
  EXPECT_THAT(WriteN(p.w.get(), 1), SyscallFailsWithErrno(EAGAIN));
}

TEST(PipeTest, ALargeNonblockingWriteIsPartial) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(WriteN(p.w.get(), 100000), SyscallSucceedsWithValue(65536));
  EXPECT_THAT(WriteN(p.w.get(), 100000), SyscallFailsWithErrno(EAGAIN));
}

TEST(PipeTest, PacketModeKeepsWriteBoundaries) {
  Pipe p = MakePipe(O_NONBLOCK | O_DIRECT);
  ASSERT_THAT(write(p.w.get(), "abc", 3), SyscallSucceedsWithValue(3));
  ASSERT_THAT(write(p.w.get(), "defgh", 5), SyscallSucceedsWithValue(5));
  char buf[16];
  ASSERT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(buf, 3), "abc");
  // A packet read short loses its rest.
  ASSERT_THAT(read(p.r.get(), buf, 2), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "de");
  EXPECT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EAGAIN));
}

TEST(PipeTest, SetflODirectTurnsPacketModeOn) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(fcntl(p.w.get(), F_SETFL, O_NONBLOCK | O_DIRECT), SyscallSucceeds());
  ASSERT_THAT(write(p.w.get(), "ab", 2), SyscallSucceedsWithValue(2));
  ASSERT_THAT(write(p.w.get(), "cd", 2), SyscallSucceedsWithValue(2));
  char buf[8];
  EXPECT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
}

TEST(PipeTest, EndOfFileOnceTheWritersAreGone) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "z", 1), SyscallSucceedsWithValue(1));
  FileDescriptor w2(dup(p.w.get()));
  p.w.reset();
  char c;
  ASSERT_THAT(read(p.r.get(), &c, 1), SyscallSucceedsWithValue(1));
  w2.reset();  // the last writer
  EXPECT_THAT(read(p.r.get(), &c, 1), SyscallSucceedsWithValue(0));
}

TEST(PipeTest, WritingWithoutReadersIsEpipe) {
  IgnoreSigpipe ignore;
  Pipe p = MakePipe();
  p.r.reset();
  EXPECT_THAT(WriteN(p.w.get(), 1), SyscallFailsWithErrno(EPIPE));
  EXPECT_THAT(WriteN(p.w.get(), 100000), SyscallFailsWithErrno(EPIPE));
}

TEST(PipeTest, EpipeRaisesSigpipe) {
  // Blocked, SIGPIPE stays pending where sigpending(2) shows it.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  ASSERT_THAT(sigprocmask(SIG_BLOCK, &block, &old), SyscallSucceeds());
  Cleanup restore([&] {
    // Discard the pending signal before unblocking it: ignoring drops it.
    struct sigaction ign = {}, prev;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &prev);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    sigaction(SIGPIPE, &prev, nullptr);
  });
  Pipe p = MakePipe();
  p.r.reset();
  EXPECT_THAT(WriteN(p.w.get(), 1), SyscallFailsWithErrno(EPIPE));
  sigset_t pending;
  ASSERT_THAT(sigpending(&pending), SyscallSucceeds());
  EXPECT_TRUE(sigismember(&pending, SIGPIPE));
}

TEST(PipeTest, FionreadCountsTheBytes) {
  Pipe p = MakePipe(O_NONBLOCK);
  int n = -1;
  ASSERT_THAT(ioctl(p.r.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 0);
  ASSERT_THAT(WriteN(p.w.get(), 10), SyscallSucceeds());
  ASSERT_THAT(WriteN(p.w.get(), 5000), SyscallSucceeds());
  ASSERT_THAT(ioctl(p.w.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 5010);
  EXPECT_THAT(syscall(SYS_ioctl, p.r.get(), FIONREAD, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ioctl(p.r.get(), TCGETS, &n), SyscallFailsWithErrno(ENOTTY));
}

TEST(PipeTest, FstatShowsAFifo) {
  Pipe p = MakePipe();
  struct stat r, w;
  ASSERT_THAT(fstat(p.r.get(), &r), SyscallSucceeds());
  ASSERT_THAT(fstat(p.w.get(), &w), SyscallSucceeds());
  EXPECT_TRUE(S_ISFIFO(r.st_mode));
  EXPECT_EQ(r.st_mode & 07777, 0600u);
  EXPECT_EQ(r.st_ino, w.st_ino);
  EXPECT_EQ(r.st_dev, w.st_dev);
  EXPECT_EQ(r.st_nlink, 1u);
  EXPECT_EQ(r.st_blksize, 4096);
  EXPECT_EQ(r.st_uid, geteuid());
  EXPECT_EQ(r.st_gid, getegid());
  Pipe q = MakePipe();
  struct stat other;
  ASSERT_THAT(fstat(q.r.get(), &other), SyscallSucceeds());
  EXPECT_NE(other.st_ino, r.st_ino);
  EXPECT_EQ(other.st_dev, r.st_dev);
}

TEST(PipeTest, ProcSelfFdNamesThePipe) {
  Pipe p = MakePipe();
  struct stat st;
  ASSERT_THAT(fstat(p.r.get(), &st), SyscallSucceeds());
  char buf[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(p.r.get());
  ASSERT_THAT(readlink(link.c_str(), buf, sizeof(buf) - 1), SyscallSucceeds());
  EXPECT_EQ(std::string(buf), "pipe:[" + std::to_string(st.st_ino) + "]");
}

TEST(PipeTest, ReopeningThroughProcGivesAnotherEnd) {
  Pipe p = MakePipe(O_NONBLOCK);
  const std::string link = "/proc/self/fd/" + std::to_string(p.r.get());
  // Opening the link for writing makes a writer of the same pipe; it never
  // waits, unlike a FIFO's open.
  FileDescriptor w2(open(link.c_str(), O_WRONLY));
  ASSERT_TRUE(w2.valid()) << strerror(errno);
  ASSERT_THAT(write(w2.get(), "q", 1), SyscallSucceedsWithValue(1));
  char c;
  ASSERT_THAT(read(p.r.get(), &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_EQ(c, 'q');
}

TEST(PipeTest, SetPipeSizeRoundsToAPowerOfTwoOfPages) {
  Pipe p = MakePipe();
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 1), SyscallSucceedsWithValue(4096));
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 5000), SyscallSucceedsWithValue(8192));
  EXPECT_THAT(fcntl(p.r.get(), F_SETPIPE_SZ, 3 * 4096), SyscallSucceedsWithValue(16384));
  EXPECT_THAT(fcntl(p.w.get(), F_GETPIPE_SZ), SyscallSucceedsWithValue(16384));
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 0), SyscallSucceedsWithValue(4096));
}

TEST(PipeTest, SetPipeSizeErrors) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, (1u << 31) + 1), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(WriteN(p.w.get(), 3 * 4096), SyscallSucceeds());
  // Never below what the pipe holds.
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 8192), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(fcntl(p.w.get(), F_GETPIPE_SZ), SyscallSucceedsWithValue(65536));
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 16384), SyscallSucceedsWithValue(16384));
}

TEST(PipeTest, PrivilegedMayExceedPipeMaxSize) {
  SKIP_IF(!HaveCapability(CAP_SYS_RESOURCE));
  Pipe p = MakePipe();
  EXPECT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 2 << 20), SyscallSucceedsWithValue(2 << 20));
}

TEST(PipeTest, PipeSizeFcntlsOnOtherFilesAreEbadf) {
  FileDescriptor null(open("/dev/null", O_RDWR));
  ASSERT_TRUE(null.valid());
  EXPECT_THAT(fcntl(null.get(), F_GETPIPE_SZ), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fcntl(null.get(), F_SETPIPE_SZ, 4096), SyscallFailsWithErrno(EBADF));
}

TEST(PipeTest, NoPositionalIo) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c = 0;
  EXPECT_THAT(lseek(p.r.get(), 0, SEEK_CUR), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pwrite(p.w.get(), &c, 1, 0), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(pread(p.r.get(), &c, 1, 0), SyscallFailsWithErrno(ESPIPE));
}

TEST(PipeTest, WrongEndIsEbadf) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c = 0;
  EXPECT_THAT(write(p.r.get(), &c, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(read(p.w.get(), &c, 1), SyscallFailsWithErrno(EBADF));
}

TEST(PipeTest, BadBuffersAreEfaultAndLoseNothing) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(syscall(SYS_write, p.w.get(), kKernelAddress, size_t{4}),
              SyscallFailsWithErrno(EFAULT));
  ASSERT_THAT(write(p.w.get(), "data", 4), SyscallSucceedsWithValue(4));
  EXPECT_THAT(syscall(SYS_read, p.r.get(), kKernelAddress, size_t{4}),
              SyscallFailsWithErrno(EFAULT));
  char buf[4];
  ASSERT_THAT(read(p.r.get(), buf, 4), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "data");
}

TEST(PipeTest, PollReportsEachEndsState) {
  Pipe p = MakePipe(O_NONBLOCK);
  struct pollfd fds[2] = {{p.r.get(), POLLIN | POLLOUT, 0}, {p.w.get(), POLLIN | POLLOUT, 0}};
  ASSERT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLOUT);
  ASSERT_THAT(WriteN(p.w.get(), 65536), SyscallSucceeds());
  ASSERT_THAT(poll(fds, 2, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(fds[0].revents, POLLIN);
  EXPECT_EQ(fds[1].revents, 0);  // full
  p.w.reset();
  struct pollfd r = {p.r.get(), POLLIN, 0};
  ASSERT_THAT(poll(&r, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(r.revents, POLLIN | POLLHUP);
}

TEST(PipeTest, PollOnTheWriterWithoutReadersIsPollerr) {
  Pipe p = MakePipe(O_NONBLOCK);
  p.r.reset();
  struct pollfd w = {p.w.get(), POLLOUT, 0};
  ASSERT_THAT(poll(&w, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(w.revents, POLLOUT | POLLERR);
}

// --- splice and tee. ---

class TempFile {
 public:
  TempFile() {
    char path[] = "/tmp/pipe_test.XXXXXX";
    fd_ = FileDescriptor(mkstemp(path));
    if (fd_.valid()) unlink(path);
  }
  int get() const { return fd_.get(); }

 private:
  FileDescriptor fd_;
};

TEST(SpliceTest, PipeToPipeMovesTheData) {
  Pipe a = MakePipe(O_NONBLOCK), b = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(a.w.get(), "hello", 5), SyscallSucceedsWithValue(5));
  EXPECT_THAT(splice(a.r.get(), nullptr, b.w.get(), nullptr, 100, 0), SyscallSucceedsWithValue(5));
  char buf[8];
  EXPECT_THAT(read(a.r.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(read(b.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf, 5), "hello");
}

TEST(SpliceTest, PartOfABuffer) {
  Pipe a = MakePipe(O_NONBLOCK), b = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(a.w.get(), "abcdef", 6), SyscallSucceeds());
  EXPECT_THAT(splice(a.r.get(), nullptr, b.w.get(), nullptr, 2, 0), SyscallSucceedsWithValue(2));
  char buf[8];
  ASSERT_THAT(read(a.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "cdef");
}

TEST(SpliceTest, PipeToFileAtAnOffset) {
  Pipe p = MakePipe(O_NONBLOCK);
  TempFile f;
  ASSERT_GE(f.get(), 0);
  ASSERT_THAT(write(p.w.get(), "abcdef", 6), SyscallSucceeds());
  loff_t off = 2;
  EXPECT_THAT(splice(p.r.get(), nullptr, f.get(), &off, 3, 0), SyscallSucceedsWithValue(3));
  EXPECT_EQ(off, 5);
  char buf[8] = {};
  ASSERT_THAT(pread(f.get(), buf, sizeof(buf), 0), SyscallSucceedsWithValue(5));
  EXPECT_EQ(std::string(buf + 2, 3), "abc");
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
  // Without an offset, at (and advancing) the file's position.
  EXPECT_THAT(splice(p.r.get(), nullptr, f.get(), nullptr, 10, 0), SyscallSucceedsWithValue(3));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(3));
}

TEST(SpliceTest, FileToPipe) {
  TempFile f;
  ASSERT_GE(f.get(), 0);
  ASSERT_THAT(write(f.get(), "0123456789", 10), SyscallSucceeds());
  Pipe p = MakePipe(O_NONBLOCK);
  loff_t off = 3;
  EXPECT_THAT(splice(f.get(), &off, p.w.get(), nullptr, 4, 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(off, 7);
  char buf[8];
  ASSERT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "3456");
  ASSERT_THAT(lseek(f.get(), 8, SEEK_SET), SyscallSucceeds());
  EXPECT_THAT(splice(f.get(), nullptr, p.w.get(), nullptr, 100, 0), SyscallSucceedsWithValue(2));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(10));
  // At the end of the file: 0.
  EXPECT_THAT(splice(f.get(), nullptr, p.w.get(), nullptr, 100, 0), SyscallSucceedsWithValue(0));
}

TEST(SpliceTest, Errors) {
  Pipe p = MakePipe(O_NONBLOCK), q = MakePipe(O_NONBLOCK);
  TempFile f;
  const int closed = LowestFreeFd();
  loff_t off = 0;
  // Nothing asked: 0 before anything is looked at.
  EXPECT_THAT(splice(closed, nullptr, closed, nullptr, 0, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(splice(p.r.get(), nullptr, q.w.get(), nullptr, 1, 0x10),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(splice(closed, nullptr, q.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(splice(p.r.get(), &off, q.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(ESPIPE));
  EXPECT_THAT(splice(f.get(), nullptr, f.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(splice(p.r.get(), nullptr, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(splice(p.w.get(), nullptr, q.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
}

TEST(SpliceTest, EmptyInputWaitsOrEnds) {
  Pipe p = MakePipe(O_NONBLOCK), q = MakePipe(O_NONBLOCK);
  EXPECT_THAT(splice(p.r.get(), nullptr, q.w.get(), nullptr, 10, 0), SyscallFailsWithErrno(EAGAIN));
  p.w.reset();
  EXPECT_THAT(splice(p.r.get(), nullptr, q.w.get(), nullptr, 10, 0), SyscallSucceedsWithValue(0));
  Pipe r = MakePipe();  // blocking ends, but SPLICE_F_NONBLOCK
  EXPECT_THAT(splice(r.r.get(), nullptr, q.w.get(), nullptr, 10, SPLICE_F_NONBLOCK),
              SyscallFailsWithErrno(EAGAIN));
}

TEST(SpliceTest, NoReaderIsEpipe) {
  IgnoreSigpipe ignore;
  Pipe p = MakePipe(O_NONBLOCK), q = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  q.r.reset();
  EXPECT_THAT(splice(p.r.get(), nullptr, q.w.get(), nullptr, 10, 0), SyscallFailsWithErrno(EPIPE));
}

TEST(TeeTest, CopiesWithoutConsuming) {
  Pipe a = MakePipe(O_NONBLOCK), b = MakePipe(O_NONBLOCK);
  ASSERT_THAT(write(a.w.get(), "data", 4), SyscallSucceeds());
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 100, 0), SyscallSucceedsWithValue(4));
  char buf[8];
  ASSERT_THAT(read(a.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  ASSERT_THAT(read(b.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "data");
}

TEST(TeeTest, Errors) {
  Pipe a = MakePipe(O_NONBLOCK), b = MakePipe(O_NONBLOCK);
  TempFile f;
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 1, 0x10), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 0, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(tee(a.r.get(), a.w.get(), 1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(tee(f.get(), b.w.get(), 1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(tee(a.w.get(), b.w.get(), 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 1, 0), SyscallFailsWithErrno(EAGAIN));
  a.w.reset();
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 1, 0), SyscallSucceedsWithValue(0));
}

// --- A second thread (needs clone in the sandbox). ---

TEST(PipeTest, ABlockedReaderWakesForAWrite) {
  Pipe p = MakePipe();
  std::thread writer([&] {
    usleep(20000);
    ASSERT_EQ(write(p.w.get(), "late", 4), 4);
  });
  char buf[8];
  EXPECT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  writer.join();
}

TEST(PipeTest, ABlockedWriterFinishesAsTheReaderDrains) {
  Pipe p = MakePipe();
  const size_t kTotal = 1 << 20;
  std::thread reader([&] {
    std::vector<char> buf(7000);
    size_t got = 0;
    while (got < kTotal) {
      const ssize_t n = read(p.r.get(), buf.data(), buf.size());
      ASSERT_GT(n, 0);
      got += n;
    }
  });
  EXPECT_THAT(WriteN(p.w.get(), kTotal), SyscallSucceedsWithValue(kTotal));
  reader.join();
}

// --- Another process (fork). ---

// Runs `fn` in a forked child that then exits 0; returns its pid.
template <typename F>
pid_t Spawn(F fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  return pid;
}

int WaitStatus(pid_t pid) {
  int status = -1;
  EXPECT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  return status;
}

TEST(PipeForkTest, AChildWritesWhatTheParentWaitsFor) {
  Pipe p = MakePipe();
  const pid_t child = Spawn([&] {
    p.r.reset();
    usleep(20000);
    if (write(p.w.get(), "from child", 10) != 10) _exit(1);
  });
  ASSERT_GT(child, 0);
  p.w.reset();
  char buf[16];
  ASSERT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(10));
  EXPECT_EQ(std::string(buf, 10), "from child");
  // The child's exit closes the last writer: end of file.
  EXPECT_THAT(read(p.r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(WaitStatus(child), 0);
}

TEST(PipeForkTest, SigpipeKillsAWriterByDefault) {
  Pipe p = MakePipe();
  p.r.reset();
  const pid_t child = Spawn([&] {
    signal(SIGPIPE, SIG_DFL);
    (void)WriteN(p.w.get(), 1);
    _exit(1);  // not reached: SIGPIPE's default action ends the process
  });
  ASSERT_GT(child, 0);
  const int status = WaitStatus(child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) << status;
}

// A read waiting on a pipe is interrupted by a handled signal: with
// SA_RESTART it goes on waiting (ERESTARTSYS), without it is EINTR.
TEST(PipeForkTest, AHandledSignalRestartsOrInterruptsAWaitingRead) {
  for (const bool restart : {true, false}) {
    SignalCatcher catcher(SIGUSR1, restart ? SA_RESTART : 0);
    ASSERT_TRUE(catcher.ok());
    Pipe p = MakePipe();
    const pid_t parent = getpid();
    const pid_t child = Spawn([&] {
      usleep(30000);
      kill(parent, SIGUSR1);
      usleep(30000);
      if (write(p.w.get(), "z", 1) != 1) _exit(1);
    });
    ASSERT_GT(child, 0);
    char c;
    if (restart) {
      EXPECT_THAT(read(p.r.get(), &c, 1), SyscallSucceedsWithValue(1));
    } else {
      EXPECT_THAT(read(p.r.get(), &c, 1), SyscallFailsWithErrno(EINTR));
    }
    EXPECT_EQ(catcher.count(), 1);
    EXPECT_EQ(WaitStatus(child), 0);
  }
}

// --- Named FIFOs. ---

class FifoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/fifo_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr) << strerror(errno);
    dir_ = dir;
    path_ = dir_ + "/fifo";
    ASSERT_THAT(mkfifo(path_.c_str(), 0600), SyscallSucceeds());
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(FifoTest, NonblockingOpenRules) {
  // A writer without a reader: ENXIO.
  EXPECT_THAT(open(path_.c_str(), O_WRONLY | O_NONBLOCK), SyscallFailsWithErrno(ENXIO));
  // A reader never waits with O_NONBLOCK.
  FileDescriptor r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_TRUE(r.valid()) << strerror(errno);
  FileDescriptor w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
  ASSERT_TRUE(w.valid()) << strerror(errno);
  ASSERT_THAT(write(w.get(), "fifo", 4), SyscallSucceedsWithValue(4));
  char buf[8];
  ASSERT_THAT(read(r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "fifo");
  EXPECT_THAT(fcntl(w.get(), F_GETPIPE_SZ), SyscallSucceedsWithValue(65536));
}

TEST_F(FifoTest, ReadWriteOpenNeverWaits) {
  FileDescriptor rw(open(path_.c_str(), O_RDWR));
  ASSERT_TRUE(rw.valid()) << strerror(errno);
  // With that end open, a blocking reader and writer find their partner.
  FileDescriptor r(open(path_.c_str(), O_RDONLY));
  ASSERT_TRUE(r.valid()) << strerror(errno);
  FileDescriptor w(open(path_.c_str(), O_WRONLY));
  ASSERT_TRUE(w.valid()) << strerror(errno);
  ASSERT_THAT(write(w.get(), "xy", 2), SyscallSucceedsWithValue(2));
  char buf[4];
  EXPECT_THAT(read(r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
}

TEST_F(FifoTest, EveryOpenSharesOnePipe) {
  FileDescriptor rw(open(path_.c_str(), O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(rw.valid());
  FileDescriptor w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
  ASSERT_TRUE(w.valid());
  ASSERT_THAT(write(w.get(), "abc", 3), SyscallSucceedsWithValue(3));
  int n = 0;
  ASSERT_THAT(ioctl(rw.get(), FIONREAD, &n), SyscallSucceeds());
  EXPECT_EQ(n, 3);
}

TEST_F(FifoTest, TheDataGoesWithTheLastEnd) {
  {
    FileDescriptor rw(open(path_.c_str(), O_RDWR | O_NONBLOCK));
    ASSERT_TRUE(rw.valid());
    ASSERT_THAT(write(rw.get(), "lost", 4), SyscallSucceedsWithValue(4));
  }
  FileDescriptor rw(open(path_.c_str(), O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(rw.valid());
  char c;
  EXPECT_THAT(read(rw.get(), &c, 1), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(FifoTest, FstatAndProcShowTheFifo) {
  struct stat by_path;
  ASSERT_THAT(stat(path_.c_str(), &by_path), SyscallSucceeds());
  EXPECT_TRUE(S_ISFIFO(by_path.st_mode));
  FileDescriptor r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_TRUE(r.valid());
  struct stat by_fd;
  ASSERT_THAT(fstat(r.get(), &by_fd), SyscallSucceeds());
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
  EXPECT_EQ(by_fd.st_dev, by_path.st_dev);
  EXPECT_EQ(by_fd.st_mode, by_path.st_mode);
  char buf[PATH_MAX] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(r.get());
  ASSERT_THAT(readlink(link.c_str(), buf, sizeof(buf) - 1), SyscallSucceeds());
  EXPECT_EQ(std::string(buf), path_);
}

TEST_F(FifoTest, NoHangupBeforeAWriterCame) {
  FileDescriptor r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_TRUE(r.valid());
  struct pollfd pfd = {r.get(), POLLIN, 0};
  // No writer yet: nothing (a pipe would say POLLHUP).
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(0));
  char c;
  EXPECT_THAT(read(r.get(), &c, 1), SyscallSucceedsWithValue(0));  // end of file all the same
  {
    FileDescriptor w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
    ASSERT_TRUE(w.valid());
    ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(0));
  }
  // A writer came and went.
  ASSERT_THAT(poll(&pfd, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLHUP);
}

TEST_F(FifoTest, AccessModeThreeIsEinval) {
  EXPECT_THAT(open(path_.c_str(), O_ACCMODE | O_NONBLOCK), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FifoTest, ABlockingOpenWaitsForAnotherProcess) {
  const pid_t child = Spawn([&] {
    usleep(20000);
    FileDescriptor w(open(path_.c_str(), O_WRONLY));
    if (!w.valid() || write(w.get(), "hey", 3) != 3) _exit(1);
  });
  ASSERT_GT(child, 0);
  FileDescriptor r(open(path_.c_str(), O_RDONLY));
  ASSERT_TRUE(r.valid()) << strerror(errno);
  char buf[4];
  EXPECT_THAT(read(r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(WaitStatus(child), 0);
}

TEST_F(FifoTest, ABlockingReaderWaitsForAWriter) {
  std::thread writer([&] {
    usleep(20000);
    FileDescriptor w(open(path_.c_str(), O_WRONLY));
    ASSERT_TRUE(w.valid());
    ASSERT_EQ(write(w.get(), "hi", 2), 2);
  });
  FileDescriptor r(open(path_.c_str(), O_RDONLY));
  ASSERT_TRUE(r.valid()) << strerror(errno);
  char buf[4];
  EXPECT_THAT(read(r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  writer.join();
}

}  // namespace
}  // namespace syscalls_test
