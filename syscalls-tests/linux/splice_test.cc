// splice(2), tee(2), vmsplice(2), sendfile(2) and copy_file_range(2): data
// between pipes, files and unix sockets, offsets, and the error cases in
// Linux's order.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

std::string ReadAll(int fd, size_t max) {
  std::string s(max, '\0');
  const ssize_t n = read(fd, s.data(), max);
  s.resize(n < 0 ? 0 : n);
  return s;
}

std::string FileContents(const std::string& path) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string s(4096, '\0');
  const ssize_t n = read(fd.get(), s.data(), s.size());
  s.resize(n < 0 ? 0 : n);
  return s;
}

int InQueue(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

ssize_t Splice(int in, loff_t* off_in, int out, loff_t* off_out, size_t len, unsigned flags) {
  return syscall(SYS_splice, in, off_in, out, off_out, len, flags);
}

ssize_t Vmsplice(int fd, const iovec* iov, size_t n, unsigned flags) {
  return syscall(SYS_vmsplice, fd, iov, n, flags);
}

class SpliceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }
  TempDir dir_;
};

// --- splice: pipe and file ---

TEST_F(SpliceTest, FileToPipeAtTheFilePosition) {
  const std::string f = dir_.File("f", "hello world");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_THAT(lseek(fd.get(), 6, SEEK_SET), SyscallSucceeds());
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(fd.get(), nullptr, p.w.get(), nullptr, 100, 0), SyscallSucceedsWithValue(5));
  EXPECT_EQ(ReadAll(p.r.get(), 100), "world");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 11);
}

TEST_F(SpliceTest, FileToPipeWithAnOffsetLeavesThePosition) {
  const std::string f = dir_.File("f", "abcdefgh");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  loff_t off = 2;
  EXPECT_THAT(Splice(fd.get(), &off, p.w.get(), nullptr, 3, 0), SyscallSucceedsWithValue(3));
  EXPECT_EQ(off, 5);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(ReadAll(p.r.get(), 100), "cde");
}

TEST_F(SpliceTest, FileAtItsEndGivesZero) {
  const std::string f = dir_.File("f", "ab");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  loff_t off = 2;
  EXPECT_THAT(Splice(fd.get(), &off, p.w.get(), nullptr, 10, 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(InQueue(p.r.get()), 0);
}

TEST_F(SpliceTest, PipeToFileAtTheFilePosition) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "payload", 7), SyscallSucceedsWithValue(7));
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 4, 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 4);
  EXPECT_EQ(FileContents(f), "payl");
  // The rest stays in the pipe.
  EXPECT_EQ(InQueue(p.r.get()), 3);
}

TEST_F(SpliceTest, PipeToFileWithAnOffset) {
  const std::string f = dir_.File("f", "xxxxxxxx");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "AB", 2), SyscallSucceedsWithValue(2));
  loff_t off = 3;
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), &off, 2, 0), SyscallSucceedsWithValue(2));
  EXPECT_EQ(off, 5);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(FileContents(f), "xxxABxxx");
}

TEST_F(SpliceTest, PipeWithoutWriterToFileIsEndOfFile) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  p.w.reset();
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 10, 0), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, EmptyPipeNonblockFlagIsEagain) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 10, SPLICE_F_NONBLOCK),
              SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, EmptyNonblockingPipeIsEagain) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 10, 0), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, BlockedSpliceWakesOnData) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  std::thread writer([&] {
    usleep(50 * 1000);
    (void)!write(p.w.get(), "late", 4);
  });
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 10, 0), SyscallSucceedsWithValue(4));
  writer.join();
  EXPECT_EQ(FileContents(f), "late");
}

TEST_F(SpliceTest, FullPipeNonblockFlagIsEagain) {
  const std::string f = dir_.File("f", std::string(4096, 'a'));
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  const std::string block(4096, 'b');
  const int fl = fcntl(p.w.get(), F_GETFL);
  ASSERT_THAT(fcntl(p.w.get(), F_SETFL, fl | O_NONBLOCK), SyscallSucceeds());
  while (write(p.w.get(), block.data(), block.size()) > 0) {
  }
  ASSERT_THAT(fcntl(p.w.get(), F_SETFL, fl), SyscallSucceeds());
  EXPECT_THAT(Splice(fd.get(), nullptr, p.w.get(), nullptr, 10, SPLICE_F_NONBLOCK),
              SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, LengthZeroIsZero) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(fd.get(), nullptr, p.w.get(), nullptr, 0, 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST_F(SpliceTest, LengthZeroWinsOverBadFds) {
  EXPECT_THAT(Splice(-1, nullptr, -1, nullptr, 0, 0), SyscallSucceedsWithValue(0));
}

// --- splice: errors ---

TEST_F(SpliceTest, NeitherEndAPipeIsEinval) {
  const std::string f = dir_.File("f", "abc");
  const std::string g = dir_.File("g", "");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(Splice(in.get(), nullptr, out.get(), nullptr, 3, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, OffsetOnThePipeSideIsEspipe) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  loff_t off = 0;
  EXPECT_THAT(Splice(in.get(), nullptr, p.w.get(), &off, 3, 0), SyscallFailsWithErrno(ESPIPE));
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  FileDescriptor out(open(dir_.File("g").c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(Splice(p.r.get(), &off, out.get(), nullptr, 1, 0), SyscallFailsWithErrno(ESPIPE));
}

TEST_F(SpliceTest, PipeToPipeWithOffsetIsEspipe) {
  Pipe a = MakePipe(), b = MakePipe();
  loff_t off = 0;
  EXPECT_THAT(Splice(a.r.get(), &off, b.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(ESPIPE));
}

TEST_F(SpliceTest, BadFdIsEbadf) {
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(-1, nullptr, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Splice(p.r.get(), nullptr, 999, nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(SpliceTest, WrongAccessModeIsEbadf) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor wo(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(wo.get(), nullptr, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
  // The read end is not writable.
  EXPECT_THAT(Splice(wo.get(), nullptr, p.r.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(SpliceTest, UnknownFlagsAreEinval) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(Splice(fd.get(), nullptr, p.w.get(), nullptr, 1, 0x100),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, AppendDestinationIsEinval) {
  const std::string f = dir_.File("f", "");
  FileDescriptor fd(open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(Splice(p.r.get(), nullptr, fd.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, NegativeOffsetIsEinval) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  loff_t off = -1;
  EXPECT_THAT(Splice(fd.get(), &off, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, SamePipeBothEndsIsEinval) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(Splice(p.r.get(), nullptr, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, ToPipeWithoutReadersIsEpipe) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  p.r.reset();
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_THAT(sigaction(SIGPIPE, &ign, &old), SyscallSucceeds());
  Cleanup restore([&] { sigaction(SIGPIPE, &old, nullptr); });
  EXPECT_THAT(Splice(fd.get(), nullptr, p.w.get(), nullptr, 3, 0), SyscallFailsWithErrno(EPIPE));
}

// --- splice: pipe and pipe ---

TEST_F(SpliceTest, PipeToPipeMovesTheData) {
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(write(a.w.get(), "0123456789", 10), SyscallSucceedsWithValue(10));
  EXPECT_THAT(Splice(a.r.get(), nullptr, b.w.get(), nullptr, 4, 0), SyscallSucceedsWithValue(4));
  EXPECT_EQ(InQueue(a.r.get()), 6);
  EXPECT_EQ(ReadAll(b.r.get(), 100), "0123");
  EXPECT_EQ(ReadAll(a.r.get(), 100), "456789");
}

TEST_F(SpliceTest, PipeToPipeEmptyWithoutWriterIsZero) {
  Pipe a = MakePipe(), b = MakePipe();
  a.w.reset();
  EXPECT_THAT(Splice(a.r.get(), nullptr, b.w.get(), nullptr, 4, 0), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, PipeToPipeEmptyNonblockIsEagain) {
  Pipe a = MakePipe(), b = MakePipe();
  EXPECT_THAT(Splice(a.r.get(), nullptr, b.w.get(), nullptr, 4, SPLICE_F_NONBLOCK),
              SyscallFailsWithErrno(EAGAIN));
}

// --- splice: pipe and unix socket ---

TEST_F(SpliceTest, PipeToUnixSocket) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  FileDescriptor s0(sv[0]), s1(sv[1]);
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "socketdata", 10), SyscallSucceedsWithValue(10));
  EXPECT_THAT(Splice(p.r.get(), nullptr, s0.get(), nullptr, 10, 0), SyscallSucceedsWithValue(10));
  EXPECT_EQ(ReadAll(s1.get(), 100), "socketdata");
}

TEST_F(SpliceTest, UnixSocketToPipe) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  FileDescriptor s0(sv[0]), s1(sv[1]);
  Pipe p = MakePipe();
  ASSERT_THAT(write(s1.get(), "fromsock", 8), SyscallSucceedsWithValue(8));
  EXPECT_THAT(Splice(s0.get(), nullptr, p.w.get(), nullptr, 100, 0), SyscallSucceedsWithValue(8));
  EXPECT_EQ(ReadAll(p.r.get(), 100), "fromsock");
}

// An offset for a side that is neither a pipe nor seekable.
TEST_F(SpliceTest, UnixSocketWithOffsetIsEinval) {
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  FileDescriptor s0(sv[0]), s1(sv[1]);
  Pipe p = MakePipe();
  ASSERT_THAT(write(s1.get(), "x", 1), SyscallSucceeds());
  loff_t off = 0;
  EXPECT_THAT(Splice(s0.get(), &off, p.w.get(), nullptr, 1, 0), SyscallFailsWithErrno(EINVAL));
}

// --- tee ---

TEST_F(SpliceTest, TeeCopiesWithoutConsuming) {
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(write(a.w.get(), "teedata", 7), SyscallSucceedsWithValue(7));
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 100, 0), SyscallSucceedsWithValue(7));
  EXPECT_EQ(InQueue(a.r.get()), 7);
  EXPECT_EQ(ReadAll(b.r.get(), 100), "teedata");
  EXPECT_EQ(ReadAll(a.r.get(), 100), "teedata");
}

TEST_F(SpliceTest, TeeHonoursTheLength) {
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(write(a.w.get(), "abcdef", 6), SyscallSucceedsWithValue(6));
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 2, 0), SyscallSucceedsWithValue(2));
  EXPECT_EQ(ReadAll(b.r.get(), 100), "ab");
}

TEST_F(SpliceTest, TeeOfAFileIsEinval) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe b = MakePipe();
  EXPECT_THAT(tee(fd.get(), b.w.get(), 3, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, TeeSamePipeIsEinval) {
  Pipe a = MakePipe();
  ASSERT_THAT(write(a.w.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(tee(a.r.get(), a.w.get(), 1, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, TeeEmptyNonblockIsEagain) {
  Pipe a = MakePipe(), b = MakePipe();
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 1, SPLICE_F_NONBLOCK), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, TeeEmptyWithoutWriterIsZero) {
  Pipe a = MakePipe(), b = MakePipe();
  a.w.reset();
  EXPECT_THAT(tee(a.r.get(), b.w.get(), 1, 0), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, TeeBadFdIsEbadf) {
  Pipe a = MakePipe();
  EXPECT_THAT(tee(a.r.get(), -1, 1, 0), SyscallFailsWithErrno(EBADF));
}

// --- vmsplice ---

TEST_F(SpliceTest, VmspliceIntoAPipe) {
  Pipe p = MakePipe();
  char a[] = "vm", b[] = "splice";
  iovec iov[2] = {{a, 2}, {b, 6}};
  EXPECT_THAT(Vmsplice(p.w.get(), iov, 2, 0), SyscallSucceedsWithValue(8));
  EXPECT_EQ(ReadAll(p.r.get(), 100), "vmsplice");
}

TEST_F(SpliceTest, VmspliceCopiesTheBytesAtCallTime) {
  Pipe p = MakePipe();
  char buf[4] = {'o', 'l', 'd', '!'};
  iovec iov = {buf, 4};
  // Without SPLICE_F_GIFT the caller may reuse its buffer once the call
  // returns only if the pages are not referenced; reading back shows which
  // bytes the pipe holds.
  ASSERT_THAT(Vmsplice(p.w.get(), &iov, 1, 0), SyscallSucceedsWithValue(4));
  std::string got = ReadAll(p.r.get(), 4);
  EXPECT_EQ(got, "old!");
}

TEST_F(SpliceTest, VmspliceFromAPipeReadEnd) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "outward", 7), SyscallSucceedsWithValue(7));
  char a[3] = {}, b[10] = {};
  iovec iov[2] = {{a, 3}, {b, sizeof(b)}};
  EXPECT_THAT(Vmsplice(p.r.get(), iov, 2, 0), SyscallSucceedsWithValue(7));
  EXPECT_EQ(std::string(a, 3), "out");
  EXPECT_EQ(std::string(b, 4), "ward");
  EXPECT_EQ(InQueue(p.r.get()), 0);
}

TEST_F(SpliceTest, VmspliceReadEmptyNonblockIsEagain) {
  Pipe p = MakePipe();
  char a[3];
  iovec iov = {a, 3};
  EXPECT_THAT(Vmsplice(p.r.get(), &iov, 1, SPLICE_F_NONBLOCK), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, VmspliceReadWithoutWriterIsZero) {
  Pipe p = MakePipe();
  p.w.reset();
  char a[3];
  iovec iov = {a, 3};
  EXPECT_THAT(Vmsplice(p.r.get(), &iov, 1, 0), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, VmspliceIntoAFullPipeNonblockIsEagain) {
  Pipe p = MakePipe(O_NONBLOCK);
  const std::string block(4096, 'b');
  while (write(p.w.get(), block.data(), block.size()) > 0) {
  }
  char a[3] = {'x', 'y', 'z'};
  iovec iov = {a, 3};
  EXPECT_THAT(Vmsplice(p.w.get(), &iov, 1, SPLICE_F_NONBLOCK), SyscallFailsWithErrno(EAGAIN));
}

TEST_F(SpliceTest, VmspliceFillsWhatIsFree) {
  Pipe p = MakePipe();
  ASSERT_THAT(fcntl(p.w.get(), F_SETPIPE_SZ, 4096), SyscallSucceeds());
  // Page-aligned: Linux takes one page per free pipe buffer.
  alignas(4096) static char big[3 * 4096];
  memset(big, 'q', sizeof(big));
  iovec iov = {big, sizeof(big)};
  EXPECT_THAT(Vmsplice(p.w.get(), &iov, 1, SPLICE_F_NONBLOCK), SyscallSucceedsWithValue(4096));
}

TEST_F(SpliceTest, VmspliceWithoutReadersIsEpipe) {
  Pipe p = MakePipe();
  p.r.reset();
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_THAT(sigaction(SIGPIPE, &ign, &old), SyscallSucceeds());
  Cleanup restore([&] { sigaction(SIGPIPE, &old, nullptr); });
  char a[1] = {'x'};
  iovec iov = {a, 1};
  EXPECT_THAT(Vmsplice(p.w.get(), &iov, 1, 0), SyscallFailsWithErrno(EPIPE));
}

TEST_F(SpliceTest, VmspliceOfAFileIsEbadf) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor fd(open(f.c_str(), O_RDWR | O_CLOEXEC));
  char a[1] = {'x'};
  iovec iov = {a, 1};
  EXPECT_THAT(Vmsplice(fd.get(), &iov, 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(Vmsplice(-1, &iov, 1, 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(SpliceTest, VmspliceBadFlagsAreEinval) {
  Pipe p = MakePipe();
  char a[1] = {'x'};
  iovec iov = {a, 1};
  EXPECT_THAT(Vmsplice(p.w.get(), &iov, 1, 0x100), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, VmspliceEmptyVectorIsZero) {
  Pipe p = MakePipe();
  EXPECT_THAT(Vmsplice(p.w.get(), nullptr, 0, 0), SyscallSucceedsWithValue(0));
  char a[1];
  iovec iov = {a, 0};
  EXPECT_THAT(Vmsplice(p.r.get(), &iov, 1, SPLICE_F_NONBLOCK), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, VmspliceTooManySegmentsIsEinval) {
  Pipe p = MakePipe();
  EXPECT_THAT(Vmsplice(p.w.get(), nullptr, 1025, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, VmspliceBadVectorIsEfault) {
  Pipe p = MakePipe();
  EXPECT_THAT(Vmsplice(p.w.get(), reinterpret_cast<const iovec*>(8), 1, 0),
              SyscallFailsWithErrno(EFAULT));
}

// --- sendfile ---

TEST_F(SpliceTest, SendfileFileToFile) {
  const std::string f = dir_.File("f", "sendfile data");
  const std::string g = dir_.File("g", "");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(sendfile(out.get(), in.get(), nullptr, 100), SyscallSucceedsWithValue(13));
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 13);
  EXPECT_EQ(FileContents(g), "sendfile data");
}

TEST_F(SpliceTest, SendfileWithOffsetLeavesThePosition) {
  const std::string f = dir_.File("f", "0123456789");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  off_t off = 4;
  EXPECT_THAT(sendfile(p.w.get(), in.get(), &off, 3), SyscallSucceedsWithValue(3));
  EXPECT_EQ(off, 7);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(ReadAll(p.r.get(), 100), "456");
}

TEST_F(SpliceTest, SendfileToAUnixSocket) {
  const std::string f = dir_.File("f", "to socket");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  FileDescriptor s0(sv[0]), s1(sv[1]);
  EXPECT_THAT(sendfile(s0.get(), in.get(), nullptr, 100), SyscallSucceedsWithValue(9));
  EXPECT_EQ(ReadAll(s1.get(), 100), "to socket");
}

// The source must be a file that can be read at an offset: a pipe or a
// socket is EINVAL.
TEST_F(SpliceTest, SendfileFromAPipeIsEinval) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.w.get(), "piped", 5), SyscallSucceedsWithValue(5));
  const std::string g = dir_.File("g", "");
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(sendfile(out.get(), p.r.get(), nullptr, 5), SyscallFailsWithErrno(EINVAL));
  int sv[2];
  ASSERT_THAT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), SyscallSucceeds());
  FileDescriptor s0(sv[0]), s1(sv[1]);
  ASSERT_THAT(write(s1.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(sendfile(out.get(), s0.get(), nullptr, 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, SendfileToAPipeWithoutOffset) {
  const std::string f = dir_.File("f", "abc");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(sendfile(p.w.get(), in.get(), nullptr, 10), SyscallSucceedsWithValue(3));
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 3);
  EXPECT_EQ(ReadAll(p.r.get(), 10), "abc");
}

TEST_F(SpliceTest, SendfileAtEndOfFileIsZero) {
  const std::string f = dir_.File("f", "ab");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  off_t off = 10;
  EXPECT_THAT(sendfile(p.w.get(), in.get(), &off, 5), SyscallSucceedsWithValue(0));
  EXPECT_EQ(off, 10);
}

TEST_F(SpliceTest, SendfileErrors) {
  const std::string f = dir_.File("f", "ab");
  FileDescriptor ro(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor wo(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  FileDescriptor app(open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(sendfile(p.w.get(), -1, nullptr, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(sendfile(p.w.get(), wo.get(), nullptr, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(sendfile(ro.get(), ro.get(), nullptr, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(sendfile(app.get(), ro.get(), nullptr, 1), SyscallFailsWithErrno(EINVAL));
  off_t neg = -1;
  EXPECT_THAT(sendfile(p.w.get(), ro.get(), &neg, 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, SendfileLengthZeroIsZero) {
  const std::string f = dir_.File("f", "ab");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(sendfile(p.w.get(), in.get(), nullptr, 0), SyscallSucceedsWithValue(0));
}

// --- copy_file_range ---

ssize_t CopyFileRange(int in, loff_t* off_in, int out, loff_t* off_out, size_t len,
                      unsigned flags) {
  return syscall(SYS_copy_file_range, in, off_in, out, off_out, len, flags);
}

TEST_F(SpliceTest, CopyFileRangeAcrossFiles) {
  const std::string f = dir_.File("f", "copy me please");
  const std::string g = dir_.File("g", "");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(CopyFileRange(in.get(), nullptr, out.get(), nullptr, 7, 0),
              SyscallSucceedsWithValue(7));
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 7);
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), 7);
  EXPECT_EQ(FileContents(g), "copy me");
}

TEST_F(SpliceTest, CopyFileRangeWithOffsets) {
  const std::string f = dir_.File("f", "0123456789");
  const std::string g = dir_.File("g", "abcdefghij");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  loff_t oi = 2, oo = 5;
  EXPECT_THAT(CopyFileRange(in.get(), &oi, out.get(), &oo, 3, 0), SyscallSucceedsWithValue(3));
  EXPECT_EQ(oi, 5);
  EXPECT_EQ(oo, 8);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(FileContents(g), "abcde234ij");
}

TEST_F(SpliceTest, CopyFileRangeSameFileNonOverlapping) {
  const std::string f = dir_.File("f", "abcdef");
  FileDescriptor fd(open(f.c_str(), O_RDWR | O_CLOEXEC));
  loff_t oi = 0, oo = 3;
  EXPECT_THAT(CopyFileRange(fd.get(), &oi, fd.get(), &oo, 3, 0), SyscallSucceedsWithValue(3));
  EXPECT_EQ(FileContents(f), "abcabc");
}

TEST_F(SpliceTest, CopyFileRangeSameFileOverlappingIsEinval) {
  const std::string f = dir_.File("f", "abcdef");
  FileDescriptor fd(open(f.c_str(), O_RDWR | O_CLOEXEC));
  loff_t oi = 0, oo = 2;
  EXPECT_THAT(CopyFileRange(fd.get(), &oi, fd.get(), &oo, 3, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(SpliceTest, CopyFileRangePastTheEndIsZero) {
  const std::string f = dir_.File("f", "abc");
  const std::string g = dir_.File("g", "");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  loff_t oi = 10;
  EXPECT_THAT(CopyFileRange(in.get(), &oi, out.get(), nullptr, 3, 0), SyscallSucceedsWithValue(0));
}

TEST_F(SpliceTest, CopyFileRangeErrors) {
  const std::string f = dir_.File("f", "abc");
  const std::string g = dir_.File("g", "");
  FileDescriptor in(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor out(open(g.c_str(), O_WRONLY | O_CLOEXEC));
  FileDescriptor app(open(g.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  FileDescriptor d(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Pipe p = MakePipe();
  EXPECT_THAT(CopyFileRange(in.get(), nullptr, out.get(), nullptr, 1, 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(CopyFileRange(-1, nullptr, out.get(), nullptr, 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(CopyFileRange(out.get(), nullptr, in.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(CopyFileRange(in.get(), nullptr, app.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(CopyFileRange(d.get(), nullptr, out.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(CopyFileRange(p.r.get(), nullptr, out.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EINVAL));
  // A negative offset: EOVERFLOW when offset + length wraps (checked first),
  // EINVAL otherwise.
  loff_t neg = -1;
  EXPECT_THAT(CopyFileRange(in.get(), &neg, out.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EOVERFLOW));
  neg = -100;
  EXPECT_THAT(CopyFileRange(in.get(), &neg, out.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(CopyFileRange(in.get(), nullptr, out.get(), &neg, 1, 0),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(CopyFileRange(in.get(), nullptr, out.get(), &neg, 1000, 0),
              SyscallFailsWithErrno(EOVERFLOW));
}

}  // namespace
}  // namespace syscalls_test
