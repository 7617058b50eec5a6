// getdents64(2) and the old getdents(2) (syscall 78): every entry once, "."
// and "..", d_type, d_reclen alignment, resuming across small buffers, seeking
// back with lseek, entries created and removed, and the errors (EINVAL for a
// buffer too small, ENOTDIR, EBADF, EFAULT).
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

struct LinuxDirent {
  unsigned long d_ino;
  unsigned long d_off;
  unsigned short d_reclen;
  char d_name[];
};

// name -> d_type, reading with getdents64 and a buffer of `bufsize`.
std::map<std::string, int> Read64(int fd, size_t bufsize = 4096) {
  std::map<std::string, int> out;
  std::vector<char> buf(bufsize);
  for (;;) {
    const long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf.data() + off);
      out[d->d_name] = d->d_type;
      off += d->d_reclen;
    }
  }
  return out;
}

class GetdentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    d_.File("file");
    ASSERT_THAT(mkdir(d_.Path("dir").c_str(), 0755), SyscallSucceeds());
    ASSERT_THAT(symlink("file", d_.Path("link").c_str()), SyscallSucceeds());
    ASSERT_THAT(mkfifo(d_.Path("fifo").c_str(), 0644), SyscallSucceeds());
    fd_ = FileDescriptor(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(fd_.valid());
  }
  TempDir d_{"getdents-test"};
  FileDescriptor fd_;
};

TEST_F(GetdentsTest, ListsEveryEntryWithItsType) {
  const auto m = Read64(fd_.get());
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m.at("."), DT_DIR);
  EXPECT_EQ(m.at(".."), DT_DIR);
  EXPECT_EQ(m.at("file"), DT_REG);
  EXPECT_EQ(m.at("dir"), DT_DIR);
  EXPECT_EQ(m.at("link"), DT_LNK);
  EXPECT_EQ(m.at("fifo"), DT_FIFO);
}

TEST_F(GetdentsTest, InodeNumbersMatchStat) {
  std::vector<char> buf(4096);
  const long n = syscall(SYS_getdents64, fd_.get(), buf.data(), buf.size());
  ASSERT_GT(n, 0);
  for (long off = 0; off < n;) {
    auto* d = reinterpret_cast<LinuxDirent64*>(buf.data() + off);
    const std::string name = d->d_name;
    if (name != "." && name != "..") {
      struct stat st;
      ASSERT_THAT(lstat(d_.Path(name).c_str(), &st), SyscallSucceeds());
      EXPECT_EQ(d->d_ino, st.st_ino) << name;
    }
    EXPECT_EQ(d->d_reclen % 8, 0) << name;
    off += d->d_reclen;
  }
}

TEST_F(GetdentsTest, SmallBufferResumesWhereItStopped) {
  for (int i = 0; i < 50; ++i) d_.File("many" + std::to_string(i));
  const auto m = Read64(fd_.get(), 64);
  EXPECT_EQ(m.size(), 56u);
}

TEST_F(GetdentsTest, EndOfDirectoryReturnsZero) {
  Read64(fd_.get());
  std::vector<char> buf(4096);
  EXPECT_THAT(syscall(SYS_getdents64, fd_.get(), buf.data(), buf.size()),
              SyscallSucceedsWithValue(0));
}

TEST_F(GetdentsTest, LseekToZeroRestarts) {
  const auto first = Read64(fd_.get());
  ASSERT_THAT(lseek(fd_.get(), 0, SEEK_SET), SyscallSucceeds());
  EXPECT_EQ(Read64(fd_.get()), first);
}

TEST_F(GetdentsTest, DOffResumesAtTheNextEntry) {
  std::vector<char> buf(4096);
  const long n = syscall(SYS_getdents64, fd_.get(), buf.data(), buf.size());
  ASSERT_GT(n, 0);
  auto* first = reinterpret_cast<LinuxDirent64*>(buf.data());
  ASSERT_LT(first->d_reclen, n);
  auto* second = reinterpret_cast<LinuxDirent64*>(buf.data() + first->d_reclen);
  const std::string second_name = second->d_name;
  ASSERT_THAT(lseek(fd_.get(), first->d_off, SEEK_SET), SyscallSucceeds());
  std::vector<char> again(4096);
  ASSERT_GT(syscall(SYS_getdents64, fd_.get(), again.data(), again.size()), 0);
  EXPECT_EQ(std::string(reinterpret_cast<LinuxDirent64*>(again.data())->d_name), second_name);
}

TEST_F(GetdentsTest, NewEntriesAppearAfterRewind) {
  Read64(fd_.get());
  d_.File("late");
  unlink(d_.Path("file").c_str());
  ASSERT_THAT(lseek(fd_.get(), 0, SEEK_SET), SyscallSucceeds());
  const auto m = Read64(fd_.get());
  EXPECT_EQ(m.count("late"), 1u);
  EXPECT_EQ(m.count("file"), 0u);
}

TEST_F(GetdentsTest, BufferTooSmallForOneEntryIsEinval) {
  char buf[8];
  EXPECT_THAT(syscall(SYS_getdents64, fd_.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
}

TEST_F(GetdentsTest, NotADirectoryIsEnotdir) {
  FileDescriptor f(open(d_.Path("file").c_str(), O_RDONLY));
  char buf[256];
  EXPECT_THAT(syscall(SYS_getdents64, f.get(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(GetdentsTest, BadFdIsEbadf) {
  char buf[256];
  EXPECT_THAT(syscall(SYS_getdents64, 100000, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
  FileDescriptor p(open(d_.path().c_str(), O_PATH));
  EXPECT_THAT(syscall(SYS_getdents64, p.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
}

TEST_F(GetdentsTest, BadBufferIsEfault) {
  EXPECT_THAT(syscall(SYS_getdents64, fd_.get(), 8L, size_t{4096}), SyscallFailsWithErrno(EFAULT));
}

TEST_F(GetdentsTest, RemovedDirectoryIsEnoent) {
  ASSERT_THAT(mkdir(d_.Path("gone").c_str(), 0755), SyscallSucceeds());
  FileDescriptor g(open(d_.Path("gone").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_THAT(rmdir(d_.Path("gone").c_str()), SyscallSucceeds());
  std::vector<char> buf(4096);
  // iterate_dir refuses a directory that is dead.
  EXPECT_THAT(syscall(SYS_getdents64, g.get(), buf.data(), buf.size()),
              SyscallFailsWithErrno(ENOENT));
}

TEST_F(GetdentsTest, OldGetdentsPutsTheTypeInTheLastByte) {
  std::vector<char> buf(4096);
  const long n = syscall(SYS_getdents, fd_.get(), buf.data(), buf.size());
  ASSERT_GT(n, 0);
  std::map<std::string, int> m;
  for (long off = 0; off < n;) {
    auto* d = reinterpret_cast<LinuxDirent*>(buf.data() + off);
    m[d->d_name] = buf[off + d->d_reclen - 1];
    EXPECT_EQ(d->d_reclen % sizeof(long), 0u);
    off += d->d_reclen;
  }
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m["file"], DT_REG);
  EXPECT_EQ(m["dir"], DT_DIR);
  EXPECT_EQ(m["link"], DT_LNK);
  EXPECT_EQ(m["fifo"], DT_FIFO);
}

TEST_F(GetdentsTest, OldGetdentsErrors) {
  char small[8];
  EXPECT_THAT(syscall(SYS_getdents, fd_.get(), small, sizeof(small)),
              SyscallFailsWithErrno(EINVAL));
  FileDescriptor f(open(d_.Path("file").c_str(), O_RDONLY));
  char buf[256];
  EXPECT_THAT(syscall(SYS_getdents, f.get(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(syscall(SYS_getdents, 100000, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
}

}  // namespace
}  // namespace syscalls_test
