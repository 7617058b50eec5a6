// The memory devices (/dev/null, zero, full, random, urandom), /dev/tty and
// device nodes made by mknod: open, read, write, pread/pwrite, lseek, stat,
// ioctl, as Linux's drivers/char/mem.c, random.c and tty_io.c answer. Nothing
// here writes to stdout (the runner parses it).
#include <fcntl.h>
#include <limits.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

FileDescriptor Open(const char* path, int flags) { return FileDescriptor(open(path, flags)); }

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

struct Node {
  const char* path;
  unsigned major, minor;
};

class DevNodeTest : public ::testing::TestWithParam<Node> {};

TEST_P(DevNodeTest, IsAWorldWritableCharDevice) {
  struct stat st;
  ASSERT_THAT(stat(GetParam().path, &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  EXPECT_EQ(major(st.st_rdev), GetParam().major);
  EXPECT_EQ(minor(st.st_rdev), GetParam().minor);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_size, 0);
}

TEST_P(DevNodeTest, FstatOfAnOpenDeviceIsTheNode) {
  if (GetParam().major == 5) GTEST_SKIP() << "/dev/tty needs a controlling terminal";
  FileDescriptor fd = Open(GetParam().path, O_RDONLY);
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat by_fd, by_path;
  ASSERT_THAT(fstat(fd.get(), &by_fd), SyscallSucceeds());
  ASSERT_THAT(stat(GetParam().path, &by_path), SyscallSucceeds());
  EXPECT_EQ(by_fd.st_rdev, by_path.st_rdev);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
  EXPECT_EQ(by_fd.st_dev, by_path.st_dev);
  EXPECT_EQ(by_fd.st_mode, by_path.st_mode);
}

INSTANTIATE_TEST_SUITE_P(Dev, DevNodeTest,
                         ::testing::Values(Node{"/dev/null", 1, 3}, Node{"/dev/zero", 1, 5},
                                           Node{"/dev/full", 1, 7}, Node{"/dev/random", 1, 8},
                                           Node{"/dev/urandom", 1, 9}, Node{"/dev/tty", 5, 0}),
                         [](const ::testing::TestParamInfo<Node>& info) {
                           return std::string(info.param.path + 5);
                         });

// --- /dev/null ---

TEST(DevNullTest, ReadIsEndOfFile) {
  FileDescriptor fd = Open("/dev/null", O_RDWR);
  char buf[16];
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(pread(fd.get(), buf, sizeof(buf), 12345), SyscallSucceedsWithValue(0));
  EXPECT_THAT(read(fd.get(), buf, 0), SyscallSucceedsWithValue(0));
}

TEST(DevNullTest, WritesSucceedWhole) {
  FileDescriptor fd = Open("/dev/null", O_WRONLY);
  std::vector<char> big(1 << 20, 'x');
  EXPECT_THAT(write(fd.get(), big.data(), big.size()), SyscallSucceedsWithValue(big.size()));
  EXPECT_THAT(pwrite(fd.get(), "abc", 3, 1 << 30), SyscallSucceedsWithValue(3));
  iovec v[2] = {{big.data(), 10}, {big.data(), 20}};
  EXPECT_THAT(writev(fd.get(), v, 2), SyscallSucceedsWithValue(30));
}

TEST(DevNullTest, LseekIsAlwaysZero) {
  FileDescriptor fd = Open("/dev/null", O_RDWR);
  EXPECT_THAT(lseek(fd.get(), 100, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), -100, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), 5, SEEK_CUR), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), -5, SEEK_END), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), 1, SEEK_DATA), SyscallSucceedsWithValue(0));
  // An unknown whence is refused before the driver is asked.
  EXPECT_THAT(lseek(fd.get(), 0, 42), SyscallFailsWithErrno(EINVAL));
}

TEST(DevNullTest, AccessModeIsChecked) {
  FileDescriptor ro = Open("/dev/null", O_RDONLY);
  EXPECT_THAT(write(ro.get(), "x", 1), SyscallFailsWithErrno(EBADF));
  FileDescriptor wo = Open("/dev/null", O_WRONLY);
  char c;
  EXPECT_THAT(read(wo.get(), &c, 1), SyscallFailsWithErrno(EBADF));
}

TEST(DevNullTest, HasNoIoctls) {
  FileDescriptor fd = Open("/dev/null", O_RDWR);
  int n;
  EXPECT_THAT(ioctl(fd.get(), FIONREAD, &n), SyscallFailsWithErrno(ENOTTY));
  EXPECT_THAT(ioctl(fd.get(), TCGETS, &n), SyscallFailsWithErrno(ENOTTY));
}

// Nothing is copied, so the buffer is never touched (only access_ok).
TEST(DevNullTest, WriteFromAnUnmappedBufferSucceeds) {
  ASSERT_OK_AND_ASSIGN(uintptr_t hole, FindUnmappedRange(kPageSize));
  FileDescriptor fd = Open("/dev/null", O_WRONLY);
  EXPECT_THAT(syscall(SYS_write, fd.get(), hole, size_t{100}), SyscallSucceedsWithValue(100));
}

// --- /dev/zero ---

TEST(DevZeroTest, ReadFillsWithZeros) {
  FileDescriptor fd = Open("/dev/zero", O_RDONLY);
  std::vector<uint8_t> buf(3 * kPageSize + 17, 0xaa);
  EXPECT_THAT(read(fd.get(), buf.data(), buf.size()), SyscallSucceedsWithValue(buf.size()));
  EXPECT_TRUE(AllZero(buf.data(), buf.size()));
  std::fill(buf.begin(), buf.end(), 0xaa);
  EXPECT_THAT(pread(fd.get(), buf.data(), 100, 1 << 20), SyscallSucceedsWithValue(100));
  EXPECT_TRUE(AllZero(buf.data(), 100));
  EXPECT_EQ(buf[100], 0xaa);
}

TEST(DevZeroTest, ReadvFillsEveryBuffer) {
  FileDescriptor fd = Open("/dev/zero", O_RDONLY);
  uint8_t a[5], b[9];
  memset(a, 1, sizeof(a));
  memset(b, 1, sizeof(b));
  iovec v[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  EXPECT_THAT(readv(fd.get(), v, 2), SyscallSucceedsWithValue(14));
  EXPECT_TRUE(AllZero(a, sizeof(a)));
  EXPECT_TRUE(AllZero(b, sizeof(b)));
}

TEST(DevZeroTest, WritesSucceedAndLseekIsZero) {
  FileDescriptor fd = Open("/dev/zero", O_RDWR);
  EXPECT_THAT(write(fd.get(), "hello", 5), SyscallSucceedsWithValue(5));
  EXPECT_THAT(lseek(fd.get(), 4096, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
}

TEST(DevZeroTest, ReadIntoAnUnmappedBufferIsEfault) {
  ASSERT_OK_AND_ASSIGN(uintptr_t hole, FindUnmappedRange(kPageSize));
  FileDescriptor fd = Open("/dev/zero", O_RDONLY);
  EXPECT_THAT(syscall(SYS_read, fd.get(), hole, size_t{100}), SyscallFailsWithErrno(EFAULT));
}

TEST(DevZeroTest, ReadStopsAtTheFirstUnmappedPage) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  FileDescriptor fd = Open("/dev/zero", O_RDONLY);
  memset(m.page(0), 1, kPageSize);
  EXPECT_THAT(syscall(SYS_read, fd.get(), m.page(0) + 100, 2 * kPageSize),
              SyscallSucceedsWithValue(kPageSize - 100));
  EXPECT_TRUE(AllZero(m.page(0) + 100, kPageSize - 100));
  EXPECT_EQ(m.page(0)[99], 1);
}

// --- /dev/full ---

TEST(DevFullTest, WritesAreEnospc) {
  FileDescriptor fd = Open("/dev/full", O_WRONLY);
  EXPECT_THAT(write(fd.get(), "x", 1), SyscallFailsWithErrno(ENOSPC));
  EXPECT_THAT(pwrite(fd.get(), "xyz", 3, 100), SyscallFailsWithErrno(ENOSPC));
  iovec v = {const_cast<char*>("ab"), 2};
  EXPECT_THAT(writev(fd.get(), &v, 1), SyscallFailsWithErrno(ENOSPC));
}

// write(2) calls the driver even for 0 bytes (vfs_write has no shortcut)...
TEST(DevFullTest, WriteOfNothingIsEnospcToo) {
  FileDescriptor fd = Open("/dev/full", O_WRONLY);
  EXPECT_THAT(write(fd.get(), "x", 0), SyscallFailsWithErrno(ENOSPC));
}

// ...but writev of nothing never reaches it.
TEST(DevFullTest, WritevOfNothingIsZero) {
  FileDescriptor fd = Open("/dev/full", O_WRONLY);
  iovec v = {const_cast<char*>("ab"), 0};
  EXPECT_THAT(writev(fd.get(), &v, 1), SyscallSucceedsWithValue(0));
}

TEST(DevFullTest, ReadsZerosAndLseekIsZero) {
  FileDescriptor fd = Open("/dev/full", O_RDWR);
  uint8_t buf[64];
  memset(buf, 7, sizeof(buf));
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(sizeof(buf)));
  EXPECT_TRUE(AllZero(buf, sizeof(buf)));
  EXPECT_THAT(lseek(fd.get(), 10, SEEK_SET), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), 10, SEEK_END), SyscallSucceedsWithValue(0));
}

// --- /dev/random, /dev/urandom ---

class RandomDevTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RandomDevTest, ReadsFreshBytes) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY);
  uint8_t a[64] = {}, b[64] = {};
  ASSERT_THAT(read(fd.get(), a, sizeof(a)), SyscallSucceedsWithValue(sizeof(a)));
  ASSERT_THAT(read(fd.get(), b, sizeof(b)), SyscallSucceedsWithValue(sizeof(b)));
  EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
  EXPECT_FALSE(AllZero(a, sizeof(a)));
  std::vector<uint8_t> big(1 << 20);
  EXPECT_THAT(read(fd.get(), big.data(), big.size()), SyscallSucceedsWithValue(big.size()));
  EXPECT_THAT(pread(fd.get(), a, sizeof(a), 1 << 20), SyscallSucceedsWithValue(sizeof(a)));
}

TEST_P(RandomDevTest, NonblockingReadOfAnInitializedPool) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY | O_NONBLOCK);
  uint8_t a[16];
  EXPECT_THAT(read(fd.get(), a, sizeof(a)), SyscallSucceedsWithValue(sizeof(a)));
}

TEST_P(RandomDevTest, WritesAreAccepted) {
  FileDescriptor fd = Open(GetParam(), O_WRONLY);
  EXPECT_THAT(write(fd.get(), "entropy?", 8), SyscallSucceedsWithValue(8));
}

TEST_P(RandomDevTest, LseekStaysAtZero) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY);
  uint8_t a[16];
  ASSERT_THAT(read(fd.get(), a, sizeof(a)), SyscallSucceeds());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
  EXPECT_THAT(lseek(fd.get(), 100, SEEK_SET), SyscallSucceedsWithValue(0));
}

TEST_P(RandomDevTest, EntropyCountOfAnInitializedPool) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY);
  int count = -1;
  ASSERT_THAT(ioctl(fd.get(), RNDGETENTCNT, &count), SyscallSucceeds());
  EXPECT_EQ(count, 256);
  EXPECT_THAT(syscall(SYS_ioctl, fd.get(), RNDGETENTCNT, nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST_P(RandomDevTest, UnknownIoctlsAreEinval) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY);
  int n;
  EXPECT_THAT(ioctl(fd.get(), FIONREAD, &n), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ioctl(fd.get(), TCGETS, &n), SyscallFailsWithErrno(EINVAL));
}

TEST_P(RandomDevTest, PrivilegedIoctls) {
  FileDescriptor fd = Open(GetParam(), O_RDONLY);
  int count = 8;
  if (!HaveCapability(CAP_SYS_ADMIN)) {
    EXPECT_THAT(ioctl(fd.get(), RNDADDTOENTCNT, &count), SyscallFailsWithErrno(EPERM));
    EXPECT_THAT(ioctl(fd.get(), RNDZAPENTCNT), SyscallFailsWithErrno(EPERM));
    EXPECT_THAT(ioctl(fd.get(), RNDCLEARPOOL), SyscallFailsWithErrno(EPERM));
    return;
  }
  // Crediting an initialized pool and the zap/clear no-ops succeed.
  EXPECT_THAT(ioctl(fd.get(), RNDADDTOENTCNT, &count), SyscallSucceeds());
  count = -1;
  EXPECT_THAT(ioctl(fd.get(), RNDADDTOENTCNT, &count), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ioctl(fd.get(), RNDZAPENTCNT), SyscallSucceeds());
  EXPECT_THAT(ioctl(fd.get(), RNDCLEARPOOL), SyscallSucceeds());
  struct {
    int entropy_count;
    int buf_size;
    uint8_t buf[8];
  } add = {0, 8, {1, 2, 3, 4, 5, 6, 7, 8}};
  EXPECT_THAT(ioctl(fd.get(), RNDADDENTROPY, &add), SyscallSucceeds());
  add.entropy_count = -1;
  EXPECT_THAT(ioctl(fd.get(), RNDADDENTROPY, &add), SyscallFailsWithErrno(EINVAL));
  count = 0;
  EXPECT_THAT(ioctl(fd.get(), RNDGETENTCNT, &count), SyscallSucceeds());
  EXPECT_EQ(count, 256);
}

INSTANTIATE_TEST_SUITE_P(Dev, RandomDevTest, ::testing::Values("/dev/random", "/dev/urandom"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param + 5);
                         });

// --- /dev/tty ---

// Without a controlling terminal, /dev/tty cannot be opened. The runner gives
// the tests none; by hand from a terminal, this skips natively.
TEST(DevTtyTest, WithoutAControllingTerminalIsEnxio) {
  FileDescriptor fd = Open("/dev/tty", O_RDWR | O_NOCTTY);
  if (fd.valid()) GTEST_SKIP() << "this process has a controlling terminal";
  EXPECT_EQ(errno, ENXIO);
}

// --- The standard links. ---

TEST(DevLinksTest, PointIntoProcSelf) {
  char buf[64];
  struct Want {
    const char* link;
    const char* target;
  };
  for (const Want& w :
       {Want{"/dev/fd", "/proc/self/fd"}, Want{"/dev/stdin", "/proc/self/fd/0"},
        Want{"/dev/stdout", "/proc/self/fd/1"}, Want{"/dev/stderr", "/proc/self/fd/2"}}) {
    ssize_t n = readlink(w.link, buf, sizeof(buf));
    ASSERT_THAT(n, SyscallSucceeds()) << w.link;
    EXPECT_EQ(std::string(buf, n), w.target);
  }
}

// /dev/fd/N opens the file fd N refers to.
TEST(DevLinksTest, DevFdReopensAFile) {
  char path[] = "/tmp/devtest-XXXXXX";
  FileDescriptor fd(mkstemp(path));
  ASSERT_TRUE(fd.valid());
  Cleanup rm([&] { unlink(path); });
  ASSERT_THAT(write(fd.get(), "hello", 5), SyscallSucceeds());
  FileDescriptor again = Open(("/dev/fd/" + std::to_string(fd.get())).c_str(), O_RDONLY);
  ASSERT_TRUE(again.valid()) << strerror(errno);
  char buf[8] = {};
  EXPECT_THAT(read(again.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(5));
  EXPECT_STREQ(buf, "hello");
}

// The runner's stdin is /dev/null: /dev/stdin reopens it.
TEST(DevLinksTest, DevStdinReopensStdin) {
  struct stat st;
  SKIP_IF(fstat(0, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3));
  FileDescriptor fd = Open("/dev/stdin", O_RDONLY);
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat again;
  ASSERT_THAT(fstat(fd.get(), &again), SyscallSucceeds());
  EXPECT_EQ(again.st_rdev, makedev(1, 3));
}

// --- Device nodes made by mknod reach the same drivers. ---

class MknodDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF(!HaveCapability(CAP_MKNOD));
    ASSERT_NE(mkdtemp(dir_), nullptr);
    struct statvfs sv;
    ASSERT_THAT(statvfs(dir_, &sv), SyscallSucceeds());
    SKIP_IF(sv.f_flag & ST_NODEV);
  }
  void TearDown() override {
    for (const std::string& p : made_) unlink(p.c_str());
    rmdir(dir_);
  }
  std::string Make(const char* name, mode_t mode, dev_t dev) {
    std::string p = std::string(dir_) + "/" + name;
    EXPECT_THAT(mknod(p.c_str(), mode, dev), SyscallSucceeds());
    made_.push_back(p);
    return p;
  }

  char dir_[32] = "/tmp/mknodtest-XXXXXX";
  std::vector<std::string> made_;
};

TEST_F(MknodDeviceTest, NullAndFull) {
  std::string null = Make("null", S_IFCHR | 0666, makedev(1, 3));
  FileDescriptor fd = Open(null.c_str(), O_RDWR);
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_THAT(write(fd.get(), "abc", 3), SyscallSucceedsWithValue(3));
  char c;
  EXPECT_THAT(read(fd.get(), &c, 1), SyscallSucceedsWithValue(0));
  std::string full = Make("full", S_IFCHR | 0600, makedev(1, 7));
  FileDescriptor f = Open(full.c_str(), O_WRONLY);
  ASSERT_TRUE(f.valid()) << strerror(errno);
  EXPECT_THAT(write(f.get(), "abc", 3), SyscallFailsWithErrno(ENOSPC));
  struct stat st;
  ASSERT_THAT(fstat(f.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_rdev, makedev(1, 7));
  EXPECT_EQ(st.st_mode, S_IFCHR | 0600u);
}

TEST_F(MknodDeviceTest, UnknownCharDeviceIsEnxio) {
  std::string p = Make("nodriver", S_IFCHR | 0666, makedev(1, 250));
  EXPECT_THAT(open(p.c_str(), O_RDWR), SyscallFailsWithErrno(ENXIO));
  // O_PATH does not open the device.
  FileDescriptor path = Open(p.c_str(), O_PATH);
  EXPECT_TRUE(path.valid());
}

}  // namespace
}  // namespace syscalls_test
