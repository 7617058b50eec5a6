// The path and file syscalls: open and its flags, the *at family, links,
// renames, directories, attributes, the fd table. Each test works in a fresh
// directory under /tmp (tmpfs in the sandbox, the host's /tmp natively).
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using ::testing::ElementsAre;

// The kernel's O_LARGEFILE, which F_GETFL shows (glibc defines it as 0 here).
constexpr int kOLargefile = 0100000;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_THAT(chdir(dir_.c_str()), SyscallSucceeds());
    old_umask_ = umask(022);
  }
  void TearDown() override {
    umask(old_umask_);
    chdir("/");
    // Remove what a test left (one level of directories is enough here).
    RemoveTree(dir_);
  }
  static void RemoveTree(const std::string& path) {
    DIR* d = opendir(path.c_str());
    if (d != nullptr) {
      while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string p = path + "/" + n;
        struct stat st;
        if (lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          chmod(p.c_str(), 0700);
          RemoveTree(p);
        } else {
          unlink(p.c_str());
        }
      }
      closedir(d);
    }
    rmdir(path.c_str());
  }
  static void Touch(const char* path, const std::string& data = "") {
    FileDescriptor fd(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_GE(fd.get(), 0) << path;
    ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  static std::string Contents(const char* path) {
    FileDescriptor fd(open(path, O_RDONLY));
    if (fd.get() < 0) return "<error>";
    std::string s(4096, '\0');
    ssize_t n = read(fd.get(), s.data(), s.size());
    s.resize(n < 0 ? 0 : n);
    return s;
  }
  static std::vector<std::string> Names(const char* path) {
    std::vector<std::string> out;
    DIR* d = opendir(path);
    if (d == nullptr) return {"<error>"};
    while (struct dirent* e = readdir(d)) out.emplace_back(e->d_name);
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
  mode_t old_umask_ = 022;
};

// --- open ---

TEST_F(FileTest, CreateExclusiveAndTruncate) {
  FileDescriptor fd(open("f", O_RDWR | O_CREAT | O_EXCL, 0666));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(write(fd.get(), "abc", 3), SyscallSucceedsWithValue(3));
  EXPECT_THAT(open("f", O_RDWR | O_CREAT | O_EXCL, 0666), SyscallFailsWithErrno(EEXIST));
  struct stat st;
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);  // umask 022
  EXPECT_EQ(st.st_size, 3);
  FileDescriptor t(open("f", O_RDONLY | O_TRUNC));
  ASSERT_GE(t.get(), 0);
  ASSERT_THAT(fstat(t.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(FileTest, OpenErrors) {
  Touch("f");
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  EXPECT_THAT(open("missing", O_RDONLY), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(open("", O_RDONLY), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(open("f/", O_RDONLY), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(open("f/x", O_RDONLY), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(open("f", O_RDONLY | O_DIRECTORY), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(open("d", O_WRONLY), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(open("d", O_RDONLY | O_CREAT, 0644), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(open("new/", O_RDWR | O_CREAT, 0644), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(open("missing/x", O_RDWR | O_CREAT, 0644), SyscallFailsWithErrno(ENOENT));
  std::string long_name(NAME_MAX + 1, 'n');
  EXPECT_THAT(open(long_name.c_str(), O_RDONLY), SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_THAT(open(reinterpret_cast<const char*>(8), O_RDONLY), SyscallFailsWithErrno(EFAULT));
}

TEST_F(FileTest, AppendWritesAtTheEnd) {
  Touch("f", "12345");
  FileDescriptor fd(open("f", O_WRONLY | O_APPEND));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(lseek(fd.get(), 0, SEEK_SET), SyscallSucceeds());
  ASSERT_THAT(write(fd.get(), "6", 1), SyscallSucceeds());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(6));
  EXPECT_EQ(Contents("f"), "123456");
  // F_SETFL can take O_APPEND away.
  ASSERT_THAT(fcntl(fd.get(), F_SETFL, 0), SyscallSucceeds());
  ASSERT_THAT(pwrite(fd.get(), "X", 1, 0), SyscallSucceeds());
  EXPECT_EQ(Contents("f"), "X23456");
}

TEST_F(FileTest, OpenPathFds) {
  Touch("f", "data");
  FileDescriptor p(open("f", O_PATH));
  ASSERT_GE(p.get(), 0);
  char c;
  EXPECT_THAT(read(p.get(), &c, 1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(write(p.get(), "x", 1), SyscallFailsWithErrno(EBADF));
  struct stat st;
  EXPECT_THAT(fstat(p.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 4);
  EXPECT_THAT(fcntl(p.get(), F_GETFL), SyscallSucceedsWithValue(O_PATH));
  ASSERT_THAT(symlink("f", "l"), SyscallSucceeds());
  FileDescriptor pl(open("l", O_PATH | O_NOFOLLOW));
  ASSERT_GE(pl.get(), 0);
  ASSERT_THAT(fstat(pl.get(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char buf[16] = {};
  EXPECT_THAT(readlinkat(pl.get(), "", buf, sizeof(buf)), SyscallSucceedsWithValue(1));
  EXPECT_STREQ(buf, "f");
}

TEST_F(FileTest, AtCallsAndDirfds) {
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  Touch("f");
  FileDescriptor d(open("d", O_RDONLY | O_DIRECTORY));
  FileDescriptor f(open("f", O_RDONLY));
  FileDescriptor fd(openat(d.get(), "inner", O_WRONLY | O_CREAT, 0600));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  EXPECT_THAT(fstatat(d.get(), "inner", &st, 0), SyscallSucceeds());
  EXPECT_THAT(fstatat(f.get(), "x", &st, 0), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(fstatat(-1, "x", &st, 0), SyscallFailsWithErrno(EBADF));
  // An absolute path ignores dirfd, even a bad one.
  EXPECT_THAT(fstatat(-1, (dir_ + "/f").c_str(), &st, 0), SyscallSucceeds());
  // An empty path is ENOENT before dirfd is looked at, unless AT_EMPTY_PATH.
  EXPECT_THAT(fstatat(-1, "", &st, 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(fstatat(f.get(), "", &st, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_THAT(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_THAT(fstatat(AT_FDCWD, "f", &st, 0x40000000), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FileTest, Openat2Resolve) {
  ASSERT_THAT(mkdir("jail", 0755), SyscallSucceeds());
  Touch("jail/in");
  ASSERT_THAT(symlink("/etc", "jail/abs"), SyscallSucceeds());
  FileDescriptor j(open("jail", O_RDONLY | O_DIRECTORY));
  open_how how = {};
  how.flags = O_RDONLY;
  how.resolve = RESOLVE_BENEATH;
  FileDescriptor in(syscall(SYS_openat2, j.get(), "in", &how, sizeof(how)));
  EXPECT_GE(in.get(), 0);
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "../f", &how, sizeof(how)),
              SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "abs", &how, sizeof(how)),
              SyscallFailsWithErrno(EXDEV));
  how.resolve = RESOLVE_NO_SYMLINKS;
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "abs", &how, sizeof(how)),
              SyscallFailsWithErrno(ELOOP));
  how.resolve = 0;
  how.mode = 0644;  // without O_CREAT
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "in", &how, sizeof(how)),
              SyscallFailsWithErrno(EINVAL));
  how.mode = 0;
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "in", &how, sizeof(how) - 1),
              SyscallFailsWithErrno(EINVAL));
  how.flags = uint64_t{1} << 40;
  EXPECT_THAT(syscall(SYS_openat2, j.get(), "in", &how, sizeof(how)),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(FileTest, SymlinkChainsAndLoops) {
  Touch("target", "t");
  ASSERT_THAT(symlink("target", "l0"), SyscallSucceeds());
  for (int i = 1; i <= 40; ++i) {
    ASSERT_THAT(symlink(("l" + std::to_string(i - 1)).c_str(), ("l" + std::to_string(i)).c_str()),
                SyscallSucceeds());
  }
  EXPECT_EQ(Contents("l39"), "t");  // 40 links followed
  EXPECT_THAT(open("l40", O_RDONLY), SyscallFailsWithErrno(ELOOP));
  ASSERT_THAT(symlink("self", "self"), SyscallSucceeds());
  EXPECT_THAT(open("self", O_RDONLY), SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(open("l0", O_RDONLY | O_NOFOLLOW), SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(symlink("", "empty"), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(symlink("x", "l0"), SyscallFailsWithErrno(EEXIST));
  char buf[8];
  EXPECT_THAT(readlink("target", buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(readlink("l0", buf, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(readlink("l0", buf, 3), SyscallSucceedsWithValue(3));  // truncated, no NUL
  EXPECT_EQ(std::string(buf, 3), "tar");
  // O_CREAT through a dangling link creates the target.
  ASSERT_THAT(symlink("made", "dangling"), SyscallSucceeds());
  FileDescriptor fd(open("dangling", O_WRONLY | O_CREAT, 0644));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  EXPECT_THAT(stat("made", &st), SyscallSucceeds());
}

// --- directories ---

TEST_F(FileTest, MkdirRmdirUnlink) {
  ASSERT_THAT(mkdir("d", 0777), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat("d", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_THAT(mkdir("d", 0777), SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(mkdir("d/.", 0777), SyscallFailsWithErrno(EEXIST));
  ASSERT_THAT(mkdir("d/sub/", 0777), SyscallSucceeds());
  ASSERT_THAT(stat("d", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 3u);
  Touch("d/f");
  EXPECT_THAT(rmdir("d"), SyscallFailsWithErrno(ENOTEMPTY));
  EXPECT_THAT(rmdir("d/f"), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(rmdir("d/sub/."), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(rmdir("d/sub/.."), SyscallFailsWithErrno(ENOTEMPTY));
  EXPECT_THAT(unlink("d/sub"), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(unlink("d/f/"), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(unlinkat(AT_FDCWD, "d/sub", 0x1), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(unlinkat(AT_FDCWD, "d/sub", AT_REMOVEDIR), SyscallSucceeds());
  ASSERT_THAT(unlink("d/f"), SyscallSucceeds());
  ASSERT_THAT(rmdir("d"), SyscallSucceeds());
  EXPECT_THAT(rmdir("d"), SyscallFailsWithErrno(ENOENT));
}

TEST_F(FileTest, GetdentsListsAndNeedsRoom) {
  Touch("a");
  Touch("b");
  ASSERT_THAT(mkdir("c", 0755), SyscallSucceeds());
  EXPECT_THAT(Names("."), ElementsAre(".", "..", "a", "b", "c"));
  FileDescriptor d(open(".", O_RDONLY | O_DIRECTORY));
  char buf[8];
  EXPECT_THAT(syscall(SYS_getdents64, d.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  FileDescriptor f(open("a", O_RDONLY));
  char big[256];
  EXPECT_THAT(syscall(SYS_getdents64, f.get(), big, sizeof(big)), SyscallFailsWithErrno(ENOTDIR));
  // d_type is filled in.
  alignas(8) char ents[4096];
  long n = syscall(SYS_getdents64, d.get(), ents, sizeof(ents));
  ASSERT_GT(n, 0);
  int dirs = 0, regs = 0;
  for (long off = 0; off < n;) {
    auto* e = reinterpret_cast<struct dirent64*>(ents + off);
    dirs += e->d_type == DT_DIR;
    regs += e->d_type == DT_REG;
    off += e->d_reclen;
  }
  EXPECT_EQ(dirs, 3);
  EXPECT_EQ(regs, 2);
  EXPECT_THAT(syscall(SYS_getdents64, d.get(), ents, sizeof(ents)), SyscallSucceedsWithValue(0));
}

TEST_F(FileTest, WorkingDirectory) {
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  ASSERT_THAT(chdir("d"), SyscallSucceeds());
  char buf[PATH_MAX];
  ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
  EXPECT_EQ(std::string(buf), dir_ + "/d");
  EXPECT_THAT(syscall(SYS_getcwd, buf, size_t{2}), SyscallFailsWithErrno(ERANGE));
  ASSERT_THAT(chdir(".."), SyscallSucceeds());
  Touch("f");
  EXPECT_THAT(chdir("f"), SyscallFailsWithErrno(ENOTDIR));
  FileDescriptor f(open("f", O_RDONLY));
  EXPECT_THAT(fchdir(f.get()), SyscallFailsWithErrno(ENOTDIR));
  // A removed cwd: getcwd is ENOENT.
  ASSERT_THAT(chdir("d"), SyscallSucceeds());
  ASSERT_THAT(rmdir((dir_ + "/d").c_str()), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_getcwd, buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(open("x", O_RDWR | O_CREAT, 0644), SyscallFailsWithErrno(ENOENT));
}

TEST_F(FileTest, ChrootErrors) {
  // (A successful chroot would change this process's root for the tests that
  // follow: only the refusals here.)
  Touch("f");
  EXPECT_THAT(chroot("f"), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(chroot("missing"), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(chroot(""), SyscallFailsWithErrno(ENOENT));
}

// --- links and renames ---

TEST_F(FileTest, HardLinks) {
  Touch("a", "data");
  ASSERT_THAT(link("a", "b"), SyscallSucceeds());
  struct stat sa, sb;
  ASSERT_THAT(stat("a", &sa), SyscallSucceeds());
  ASSERT_THAT(stat("b", &sb), SyscallSucceeds());
  EXPECT_EQ(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sa.st_nlink, 2u);
  EXPECT_THAT(link("a", "b"), SyscallFailsWithErrno(EEXIST));
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  EXPECT_THAT(link("d", "d2"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(linkat(AT_FDCWD, "a", AT_FDCWD, "c", 0x1), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(unlink("a"), SyscallSucceeds());
  EXPECT_EQ(Contents("b"), "data");
}

TEST_F(FileTest, Renames) {
  Touch("a", "A");
  Touch("b", "B");
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  ASSERT_THAT(mkdir("d/sub", 0755), SyscallSucceeds());
  ASSERT_THAT(mkdir("e", 0755), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE),
              SyscallFailsWithErrno(EEXIST));
  ASSERT_THAT(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE),
              SyscallSucceeds());
  EXPECT_EQ(Contents("a"), "B");
  EXPECT_THAT(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "zz", RENAME_EXCHANGE),
              SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(
      syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_NOREPLACE),
      SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(rename("a", "b"), SyscallSucceeds());
  EXPECT_EQ(Contents("b"), "B");
  EXPECT_THAT(rename("d", "d/sub/x"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(rename("b", "d"), SyscallFailsWithErrno(EISDIR));
  EXPECT_THAT(rename("d", "b"), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(rename("b/", "c"), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(FileTest, RenameDirectoryOverEmptyDirectory) {
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  Touch("d/f");
  ASSERT_THAT(mkdir("e", 0755), SyscallSucceeds());
  ASSERT_THAT(rename("d", "e"), SyscallSucceeds());
  EXPECT_THAT(Names("e"), ElementsAre(".", "..", "f"));
  ASSERT_THAT(mkdir("g", 0755), SyscallSucceeds());
  EXPECT_THAT(rename("g", "e"), SyscallFailsWithErrno(ENOTEMPTY));
}

// --- attributes ---

TEST_F(FileTest, ChmodChownAndTimes) {
  Touch("f");
  ASSERT_THAT(chmod("f", 04755), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  // chown (even to the same owner) clears set-user-ID.
  ASSERT_THAT(chown("f", st.st_uid, st.st_gid), SyscallSucceeds());
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  timespec ts[2] = {{1000, 5}, {2000, 6}};
  ASSERT_THAT(utimensat(AT_FDCWD, "f", ts, 0), SyscallSucceeds());
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 6);
  timespec omit[2] = {{0, UTIME_OMIT}, {3000, 0}};
  ASSERT_THAT(utimensat(AT_FDCWD, "f", omit, 0), SyscallSucceeds());
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_mtim.tv_sec, 3000);
  timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_THAT(utimensat(AT_FDCWD, "f", bad, 0), SyscallFailsWithErrno(EINVAL));
  timeval tv[2] = {{10, 0}, {20, 0}};
  ASSERT_THAT(utimes("f", tv), SyscallSucceeds());
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mtim.tv_sec, 20);
  timeval badtv[2] = {{10, 1000000}, {20, 0}};
  EXPECT_THAT(utimes("f", badtv), SyscallFailsWithErrno(EINVAL));
  utimbuf ub = {30, 40};
  ASSERT_THAT(utime("f", &ub), SyscallSucceeds());
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_atim.tv_sec, 30);
  EXPECT_EQ(st.st_mtim.tv_sec, 40);
}

TEST_F(FileTest, Truncate) {
  Touch("f", "0123456789");
  ASSERT_THAT(truncate("f", 4), SyscallSucceeds());
  EXPECT_EQ(Contents("f"), "0123");
  ASSERT_THAT(truncate("f", 6), SyscallSucceeds());
  EXPECT_EQ(Contents("f"), std::string("0123\0\0", 6));
  EXPECT_THAT(truncate("f", -1), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  EXPECT_THAT(truncate("d", 0), SyscallFailsWithErrno(EISDIR));
  FileDescriptor ro(open("f", O_RDONLY));
  EXPECT_THAT(ftruncate(ro.get(), 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FileTest, AccessAndUmask) {
  Touch("f");
  EXPECT_THAT(access("f", R_OK | W_OK), SyscallSucceeds());
  EXPECT_THAT(access("missing", F_OK), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(access("f", 8), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_faccessat2, AT_FDCWD, "f", F_OK, 0x1), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(umask(077), 022u);
  FileDescriptor fd(open("g", O_RDWR | O_CREAT, 0666));
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(umask(022), 077u);
}

TEST_F(FileTest, StatxAgreesWithStat) {
  Touch("f", "12345");
  struct statx sx;
  ASSERT_THAT(statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(stat("f", &st), SyscallSucceeds());
  EXPECT_EQ(sx.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
  EXPECT_EQ(sx.stx_size, 5u);
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(sx.stx_mode, st.st_mode);
  EXPECT_THAT(statx(AT_FDCWD, "f", 0, STATX__RESERVED, &sx), SyscallFailsWithErrno(EINVAL));
}

// --- the fd table ---

TEST_F(FileTest, DupAndFcntl) {
  Touch("f");
  FileDescriptor fd(open("f", O_RDWR));
  EXPECT_THAT(dup2(fd.get(), fd.get()), SyscallSucceedsWithValue(fd.get()));
  EXPECT_THAT(dup3(fd.get(), fd.get(), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(dup3(fd.get(), 100, 0x1), SyscallFailsWithErrno(EINVAL));
  FileDescriptor d(fcntl(fd.get(), F_DUPFD_CLOEXEC, 50));
  EXPECT_GE(d.get(), 50);
  EXPECT_THAT(fcntl(d.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(fcntl(d.get(), F_SETFD, 0), SyscallSucceeds());
  EXPECT_THAT(fcntl(d.get(), F_GETFD), SyscallSucceedsWithValue(0));
  // A dup shares the offset.
  ASSERT_THAT(write(fd.get(), "abc", 3), SyscallSucceeds());
  EXPECT_THAT(lseek(d.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(3));
  EXPECT_THAT(fcntl(fd.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | kOLargefile));
  EXPECT_THAT(fcntl(-1, F_GETFL), SyscallFailsWithErrno(EBADF));
}

TEST_F(FileTest, CloseRange) {
  Touch("f");
  int fds[4];
  for (int& f : fds) f = open("f", O_RDONLY);
  const int lo = *std::min_element(fds, fds + 4), hi = *std::max_element(fds, fds + 4);
  EXPECT_THAT(syscall(SYS_close_range, hi, lo, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_close_range, lo, hi, 0x8), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(syscall(SYS_close_range, lo, lo, CLOSE_RANGE_CLOEXEC), SyscallSucceeds());
  EXPECT_THAT(fcntl(lo, F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  ASSERT_THAT(syscall(SYS_close_range, lo, hi, 0), SyscallSucceeds());
  for (int f : fds) EXPECT_THAT(fcntl(f, F_GETFD), SyscallFailsWithErrno(EBADF));
}

TEST_F(FileTest, VectoredPositionalIo) {
  Touch("f", "0123456789");
  FileDescriptor fd(open("f", O_RDWR));
  char a[3], b[4];
  iovec iov[2] = {{a, 3}, {b, 4}};
  EXPECT_THAT(preadv(fd.get(), iov, 2, 2), SyscallSucceedsWithValue(7));
  EXPECT_EQ(std::string(a, 3) + std::string(b, 4), "2345678");
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
  EXPECT_THAT(preadv(fd.get(), iov, 2, -1), SyscallFailsWithErrno(EINVAL));
  // preadv2 with offset -1 reads at (and moves) the file position.
  EXPECT_THAT(syscall(SYS_preadv2, fd.get(), iov, 1, -1L, 0L, 0L), SyscallSucceedsWithValue(3));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(3));
  EXPECT_THAT(syscall(SYS_preadv2, fd.get(), iov, 1, 0L, 0L, 0x1000L),
              SyscallFailsWithErrno(EOPNOTSUPP));
  iovec w = {const_cast<char*>("XY"), 2};
  EXPECT_THAT(pwritev(fd.get(), &w, 1, 8), SyscallSucceedsWithValue(2));
  EXPECT_THAT(syscall(SYS_pwritev2, fd.get(), &w, 1, 0L, 0L, long{RWF_DSYNC}),
              SyscallSucceedsWithValue(2));
  EXPECT_EQ(Contents("f"), "XY234567XY");
  int avail = 0;
  ASSERT_THAT(ioctl(fd.get(), FIONREAD, &avail), SyscallSucceeds());
  EXPECT_EQ(avail, 7);
}

TEST_F(FileTest, SeekDataAndHoles) {
  FileDescriptor fd(open("sparse", O_RDWR | O_CREAT, 0644));
  ASSERT_THAT(pwrite(fd.get(), "x", 1, 1 << 20), SyscallSucceeds());
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_END), SyscallSucceedsWithValue((1 << 20) + 1));
  EXPECT_THAT(lseek(fd.get(), (1 << 20) + 1, SEEK_DATA), SyscallFailsWithErrno(ENXIO));
  EXPECT_THAT(lseek(fd.get(), -1, SEEK_SET), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(lseek(fd.get(), 0, 7), SyscallFailsWithErrno(EINVAL));
  const off_t data = lseek(fd.get(), 0, SEEK_DATA);
  EXPECT_LE(data, 1 << 20);
  EXPECT_THAT(lseek(fd.get(), data, SEEK_HOLE), SyscallSucceedsWithValue((1 << 20) + 1));
}

TEST_F(FileTest, Fadvise) {
  Touch("f", "x");
  FileDescriptor fd(open("f", O_RDONLY));
  EXPECT_THAT(syscall(SYS_fadvise64, fd.get(), 0L, 0L, long{POSIX_FADV_SEQUENTIAL}),
              SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_fadvise64, fd.get(), 0L, 0L, 99L), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_fadvise64, fd.get(), 0L, -1L, 0L), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_fadvise64, -1, 0L, 0L, 0L), SyscallFailsWithErrno(EBADF));
}

TEST_F(FileTest, SyncCalls) {
  Touch("f", "x");
  FileDescriptor fd(open("f", O_RDWR));
  EXPECT_THAT(fsync(fd.get()), SyscallSucceeds());
  EXPECT_THAT(fdatasync(fd.get()), SyscallSucceeds());
  EXPECT_THAT(syncfs(fd.get()), SyscallSucceeds());
  EXPECT_THAT(sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE), SyscallSucceeds());
  EXPECT_THAT(sync_file_range(fd.get(), 0, 0, 0x10), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(sync_file_range(fd.get(), -1, 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syncfs(-1), SyscallFailsWithErrno(EBADF));
}

TEST_F(FileTest, TmpfileHasNoNameUntilLinked) {
  ASSERT_THAT(mkdir("d", 0755), SyscallSucceeds());
  FileDescriptor fd(open("d", O_TMPFILE | O_RDWR, 0640));
  ASSERT_GE(fd.get(), 0) << strerror(errno);
  ASSERT_THAT(write(fd.get(), "tmp", 3), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640);
  EXPECT_THAT(Names("d"), ElementsAre(".", ".."));
  // Root may give it a name.
  ASSERT_THAT(linkat(fd.get(), "", AT_FDCWD, "d/named", AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_EQ(Contents("d/named"), "tmp");
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 1u);
  // O_EXCL: never linkable.
  FileDescriptor ex(open("d", O_TMPFILE | O_RDWR | O_EXCL, 0600));
  ASSERT_GE(ex.get(), 0);
  EXPECT_THAT(linkat(ex.get(), "", AT_FDCWD, "d/other", AT_EMPTY_PATH),
              SyscallFailsWithErrno(ENOENT));
  // A deleted file is not linkable either.
  Touch("gone");
  FileDescriptor g(open("gone", O_RDONLY));
  ASSERT_THAT(unlink("gone"), SyscallSucceeds());
  EXPECT_THAT(linkat(g.get(), "", AT_FDCWD, "back", AT_EMPTY_PATH), SyscallFailsWithErrno(ENOENT));
  // Errors.
  EXPECT_THAT(open("d", O_TMPFILE | O_RDONLY, 0600), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(open("d/named", O_TMPFILE | O_RDWR, 0600), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(open("missing", O_TMPFILE | O_RDWR, 0600), SyscallFailsWithErrno(ENOENT));
}

TEST_F(FileTest, ProcMagicLinksReachTheFileItself) {
  Touch("f", "data");
  FileDescriptor fd(open("f", O_RDONLY));
  ASSERT_THAT(unlink("f"), SyscallSucceeds());
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  // Only a magic link can reopen a file that has no name left.
  FileDescriptor again(open(link.c_str(), O_RDONLY));
  ASSERT_GE(again.get(), 0) << strerror(errno);
  char buf[8] = {};
  EXPECT_THAT(read(again.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "data");
  // cwd is one too.
  struct stat a, b;
  ASSERT_THAT(stat("/proc/self/cwd/.", &a), SyscallSucceeds());
  ASSERT_THAT(stat(".", &b), SyscallSucceeds());
  EXPECT_EQ(a.st_ino, b.st_ino);
  open_how how = {};
  how.flags = O_RDONLY;
  how.resolve = RESOLVE_NO_MAGICLINKS;
  EXPECT_THAT(syscall(SYS_openat2, AT_FDCWD, link.c_str(), &how, sizeof(how)),
              SyscallFailsWithErrno(ELOOP));
}

// --- copies inside the kernel ---

TEST_F(FileTest, Sendfile) {
  Touch("src", "0123456789");
  FileDescriptor in(open("src", O_RDONLY));
  FileDescriptor out(open("dst", O_WRONLY | O_CREAT, 0644));
  off_t off = 2;
  EXPECT_THAT(sendfile(out.get(), in.get(), &off, 5), SyscallSucceedsWithValue(5));
  EXPECT_EQ(off, 7);
  EXPECT_THAT(lseek(in.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(0));
  EXPECT_THAT(sendfile(out.get(), in.get(), nullptr, 100), SyscallSucceedsWithValue(10));
  EXPECT_THAT(lseek(in.get(), 0, SEEK_CUR), SyscallSucceedsWithValue(10));
  EXPECT_THAT(sendfile(out.get(), in.get(), nullptr, 100), SyscallSucceedsWithValue(0));
  EXPECT_EQ(Contents("dst"), "234560123456789");
  EXPECT_THAT(sendfile(in.get(), out.get(), nullptr, 1), SyscallFailsWithErrno(EBADF));
  FileDescriptor app(open("dst", O_WRONLY | O_APPEND));
  EXPECT_THAT(sendfile(app.get(), in.get(), &off, 1), SyscallFailsWithErrno(EINVAL));
  off = -1;
  EXPECT_THAT(sendfile(out.get(), in.get(), &off, 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(FileTest, CopyFileRange) {
  Touch("src", "abcdefgh");
  FileDescriptor in(open("src", O_RDONLY));
  FileDescriptor out(open("dst", O_RDWR | O_CREAT, 0644));
  loff_t ioff = 2, ooff = 1;
  EXPECT_THAT(copy_file_range(in.get(), &ioff, out.get(), &ooff, 3, 0),
              SyscallSucceedsWithValue(3));
  EXPECT_EQ(ioff, 5);
  EXPECT_EQ(ooff, 4);
  EXPECT_EQ(Contents("dst"), std::string("\0cde", 4));
  // Stops at the end of the source.
  EXPECT_THAT(copy_file_range(in.get(), nullptr, out.get(), nullptr, 100, 0),
              SyscallSucceedsWithValue(8));
  EXPECT_THAT(copy_file_range(in.get(), nullptr, out.get(), nullptr, 100, 0),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(copy_file_range(in.get(), nullptr, out.get(), nullptr, 1, 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(copy_file_range(out.get(), nullptr, in.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EBADF));
  // Overlapping ranges of one file.
  loff_t a = 0, b = 2;
  EXPECT_THAT(copy_file_range(out.get(), &a, out.get(), &b, 4, 0), SyscallFailsWithErrno(EINVAL));
  FileDescriptor d(open(".", O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(copy_file_range(d.get(), nullptr, out.get(), nullptr, 1, 0),
              SyscallFailsWithErrno(EISDIR));
}

// --- locks ---

TEST_F(FileTest, FlockConflictsBetweenDescriptions) {
  Touch("f");
  FileDescriptor a(open("f", O_RDONLY)), b(open("f", O_RDONLY));
  ASSERT_THAT(flock(a.get(), LOCK_SH), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_SH | LOCK_NB), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
  ASSERT_THAT(flock(a.get(), LOCK_UN), SyscallSucceeds());
  EXPECT_THAT(flock(b.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
  EXPECT_THAT(flock(a.get(), LOCK_SH | LOCK_NB), SyscallFailsWithErrno(EWOULDBLOCK));
  // A dup shares the description, and so the lock.
  FileDescriptor c(dup(b.get()));
  EXPECT_THAT(flock(c.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
  // The lock goes when the description does.
  b.reset();
  c.reset();
  EXPECT_THAT(flock(a.get(), LOCK_EX | LOCK_NB), SyscallSucceeds());
  EXPECT_THAT(flock(a.get(), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(flock(-1, LOCK_SH), SyscallFailsWithErrno(EBADF));
}

struct flock Lock(short type, off_t start, off_t len, short whence = SEEK_SET) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = whence;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

TEST_F(FileTest, RecordLocks) {
  Touch("f", "0123456789");
  FileDescriptor a(open("f", O_RDWR)), b(open("f", O_RDWR));
  struct flock fl = Lock(F_WRLCK, 0, 5);
  ASSERT_THAT(fcntl(a.get(), F_SETLK, &fl), SyscallSucceeds());
  // The same process's POSIX locks never conflict with each other.
  fl = Lock(F_WRLCK, 2, 5);
  EXPECT_THAT(fcntl(b.get(), F_SETLK, &fl), SyscallSucceeds());
  fl = Lock(F_RDLCK, 0, 0);
  ASSERT_THAT(fcntl(b.get(), F_GETLK, &fl), SyscallSucceeds());
  EXPECT_EQ(fl.l_type, F_UNLCK);
  // An OFD lock is another owner: it conflicts with them.
  fl = Lock(F_RDLCK, 3, 1);
  EXPECT_THAT(fcntl(b.get(), F_OFD_SETLK, &fl), SyscallFailsWithErrno(EAGAIN));
  fl = Lock(F_WRLCK, 8, 2);
  ASSERT_THAT(fcntl(b.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
  fl = Lock(F_RDLCK, 0, 0);
  ASSERT_THAT(fcntl(a.get(), F_GETLK, &fl), SyscallSucceeds());
  EXPECT_EQ(fl.l_type, F_WRLCK);
  EXPECT_EQ(fl.l_start, 8);
  EXPECT_EQ(fl.l_len, 2);
  EXPECT_EQ(fl.l_pid, -1);
  fl = Lock(F_RDLCK, 0, 0);
  ASSERT_THAT(fcntl(b.get(), F_OFD_GETLK, &fl), SyscallSucceeds());
  EXPECT_EQ(fl.l_type, F_WRLCK);
  EXPECT_EQ(fl.l_start, 0);
  EXPECT_EQ(fl.l_len, 7);  // the POSIX locks [0,5) and [2,7) merged
  EXPECT_EQ(fl.l_pid, getpid());
  // Closing any fd of the file drops the process's POSIX locks.
  FileDescriptor c(open("f", O_RDONLY));
  c.reset();
  fl = Lock(F_WRLCK, 0, 7);
  EXPECT_THAT(fcntl(b.get(), F_OFD_SETLK, &fl), SyscallSucceeds());
}

TEST_F(FileTest, RecordLockArguments) {
  Touch("f", "x");
  FileDescriptor ro(open("f", O_RDONLY)), wo(open("f", O_WRONLY));
  struct flock fl = Lock(F_WRLCK, 0, 1);
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, &fl), SyscallFailsWithErrno(EBADF));
  fl = Lock(F_RDLCK, 0, 1);
  EXPECT_THAT(fcntl(wo.get(), F_SETLK, &fl), SyscallFailsWithErrno(EBADF));
  fl = Lock(7, 0, 1);
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lock(F_RDLCK, -1, 1);
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lock(F_RDLCK, 0, 1, 9);
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lock(F_UNLCK, 0, 1);
  EXPECT_THAT(fcntl(ro.get(), F_GETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lock(F_RDLCK, 0, 1);
  fl.l_pid = 1;
  EXPECT_THAT(fcntl(ro.get(), F_OFD_SETLK, &fl), SyscallFailsWithErrno(EINVAL));
  fl = Lock(F_RDLCK, 5, -3);  // [2, 5)
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, &fl), SyscallSucceeds());
  EXPECT_THAT(fcntl(ro.get(), F_SETLK, nullptr), SyscallFailsWithErrno(EFAULT));
}

// --- memfd ---

TEST(MemfdTest, AnUnnamedFileInMemory) {
  FileDescriptor fd(memfd_create("test", MFD_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(fcntl(fd.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
  EXPECT_THAT(fcntl(fd.get(), F_GETFL), SyscallSucceedsWithValue(O_RDWR | kOLargefile));
  ASSERT_THAT(write(fd.get(), "hello", 5), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  char path[64], target[128] = {};
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd.get());
  if (readlink(path, target, sizeof(target)) > 0) {  // once /proc exists
    EXPECT_STREQ(target, "/memfd:test (deleted)");
  }
  // Without MFD_ALLOW_SEALING it is sealed against sealing.
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), SyscallSucceedsWithValue(F_SEAL_SEAL));
  EXPECT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE), SyscallFailsWithErrno(EPERM));
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(std::string(static_cast<const char*>(p), 5), "hello");
  munmap(p, 4096);
}

TEST(MemfdTest, Seals) {
  FileDescriptor fd(memfd_create("sealed", MFD_ALLOW_SEALING));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), SyscallSucceedsWithValue(0));
  ASSERT_THAT(write(fd.get(), "12345678", 8), SyscallSucceeds());
  ASSERT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), SyscallSucceeds());
  EXPECT_THAT(ftruncate(fd.get(), 4), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(ftruncate(fd.get(), 16), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(ftruncate(fd.get(), 8), SyscallSucceeds());
  EXPECT_THAT(pwrite(fd.get(), "x", 1, 8), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(pwrite(fd.get(), "ab", 2, 0), SyscallSucceedsWithValue(2));
  ASSERT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL), SyscallSucceeds());
  EXPECT_THAT(pwrite(fd.get(), "ab", 2, 0), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_GROW), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS),
              SyscallSucceedsWithValue(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL));
}

// F_SEAL_WRITE is EBUSY while a shared writable mapping exists
// (mapping_deny_writable); private mappings do not count.
TEST(MemfdTest, WriteSealIsBusyWhileMappedSharedWritable) {
  FileDescriptor fd(memfd_create("sealed", MFD_ALLOW_SEALING));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(ftruncate(fd.get(), 4096), SyscallSucceeds());
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(shared, MAP_FAILED);
  EXPECT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE), SyscallFailsWithErrno(EBUSY));
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), SyscallSucceedsWithValue(0));
  // Other seals are not held up by the mapping.
  EXPECT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK), SyscallSucceeds());
  ASSERT_THAT(munmap(shared, 4096), SyscallSucceeds());
  void* priv = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(priv, MAP_FAILED);
  EXPECT_THAT(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE), SyscallSucceeds());
  munmap(priv, 4096);
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), SyscallSucceedsWithValue(F_SEAL_SHRINK | F_SEAL_WRITE));
}

TEST(MemfdTest, BadArguments) {
  EXPECT_THAT(memfd_create("x", 0x1000), SyscallFailsWithErrno(EINVAL));
  std::string long_name(250, 'n');
  EXPECT_THAT(memfd_create(long_name.c_str(), 0), SyscallFailsWithErrno(EINVAL));
  FileDescriptor ok(memfd_create(std::string(249, 'n').c_str(), 0));
  EXPECT_GE(ok.get(), 0);
  EXPECT_THAT(syscall(SYS_memfd_create, reinterpret_cast<const char*>(8), 0),
              SyscallFailsWithErrno(EFAULT));
  // Regular files elsewhere cannot be sealed... except on tmpfs, which is
  // where /tmp lives in the sandbox; so only check a pipe-free case: fd -1.
  EXPECT_THAT(fcntl(-1, F_GET_SEALS), SyscallFailsWithErrno(EBADF));
}

// --- extended attributes ---

TEST_F(FileTest, UserXattrs) {
  Touch("f");
  EXPECT_THAT(setxattr("f", "user.k", "v1", 2, 0), SyscallSucceeds());
  EXPECT_THAT(setxattr("f", "user.k", "v2", 2, XATTR_CREATE), SyscallFailsWithErrno(EEXIST));
  EXPECT_THAT(setxattr("f", "user.new", "v", 1, XATTR_REPLACE), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(setxattr("f", "user.k", "v", 1, 4), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(setxattr("f", "", "v", 1, 0), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(setxattr("f", "nonamespace", "v", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  std::vector<char> big(65537, 'b');
  EXPECT_THAT(setxattr("f", "user.big", big.data(), big.size(), 0), SyscallFailsWithErrno(E2BIG));
  EXPECT_THAT(getxattr("f", "user.k", nullptr, 0), SyscallSucceedsWithValue(2));
  char buf[16] = {};
  EXPECT_THAT(getxattr("f", "user.k", buf, 1), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(getxattr("f", "user.k", buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(std::string(buf, 2), "v1");
  EXPECT_THAT(getxattr("f", "user.missing", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  ASSERT_THAT(setxattr("f", "user.empty", "", 0, 0), SyscallSucceeds());
  EXPECT_THAT(getxattr("f", "user.empty", buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  char list[64];
  ssize_t n = listxattr("f", list, sizeof(list));
  ASSERT_GT(n, 0);
  std::vector<std::string> names;
  for (ssize_t i = 0; i < n; i += strlen(list + i) + 1) names.emplace_back(list + i);
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ElementsAre("user.empty", "user.k"));
  EXPECT_THAT(listxattr("f", list, 3), SyscallFailsWithErrno(ERANGE));
  FileDescriptor fd(open("f", O_RDONLY));
  EXPECT_THAT(fgetxattr(fd.get(), "user.k", buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_THAT(fremovexattr(fd.get(), "user.k"), SyscallSucceeds());
  EXPECT_THAT(removexattr("f", "user.k"), SyscallFailsWithErrno(ENODATA));
  // user.* is for regular files and directories: not on a symlink itself.
  ASSERT_THAT(symlink("f", "l"), SyscallSucceeds());
  EXPECT_THAT(lsetxattr("l", "user.k", "v", 1, 0), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(lgetxattr("l", "user.k", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(getxattr("l", "user.empty", buf, sizeof(buf)), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
