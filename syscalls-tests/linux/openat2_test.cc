// openat2(2): the extensible struct open_how (sizes, a nonzero tail), the
// stricter flag checks than openat's (unknown flags, mode without O_CREAT,
// O_PATH with other flags), and the RESOLVE_* scoping flags: RESOLVE_BENEATH
// and RESOLVE_IN_ROOT (`..`, absolute paths and absolute symlinks),
// RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS (/proc/self/fd), RESOLVE_NO_XDEV
// (crossing into /proc), and O_TMPFILE through openat2.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
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

long Openat2How(int dirfd, const char* path, const void* how, size_t size) {
  return syscall(SYS_openat2, dirfd, path, how, size);
}

long Openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve, uint64_t mode = 0) {
  open_how how = {};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return Openat2How(dirfd, path, &how, sizeof(how));
}

// Inode number of an fd, or 0.
ino_t InoOf(int fd) {
  struct stat st = {};
  if (fstat(fd, &st) != 0) return 0;
  return st.st_ino;
}

ino_t InoOf(const std::string& path) {
  struct stat st = {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

// A jail directory with a file, a subdirectory and symlinks of every kind:
//   jail/in, jail/sub/deep, jail/rel -> in, jail/up -> ../outside,
//   jail/abs -> /in (absolute), jail/subup -> sub/.., jail/dot -> .
// and `outside` next to the jail.
class Openat2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    ASSERT_FALSE(d_.File("outside", "out").empty());
    ASSERT_THAT(mkdir(d_.Path("jail").c_str(), 0755), SyscallSucceeds());
    ASSERT_FALSE(d_.File("jail/in", "in").empty());
    ASSERT_THAT(mkdir(d_.Path("jail/sub").c_str(), 0755), SyscallSucceeds());
    ASSERT_FALSE(d_.File("jail/sub/deep", "deep").empty());
    ASSERT_THAT(symlink("in", d_.Path("jail/rel").c_str()), SyscallSucceeds());
    ASSERT_THAT(symlink("../outside", d_.Path("jail/up").c_str()), SyscallSucceeds());
    ASSERT_THAT(symlink("/in", d_.Path("jail/abs").c_str()), SyscallSucceeds());
    ASSERT_THAT(symlink("sub/..", d_.Path("jail/subup").c_str()), SyscallSucceeds());
    ASSERT_THAT(symlink("/sub/deep", d_.Path("jail/absdeep").c_str()), SyscallSucceeds());
    jail_ = FileDescriptor(open(d_.Path("jail").c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(jail_.valid());
  }
  TempDir d_{"openat2-test"};
  FileDescriptor jail_;
};

// --- struct open_how: sizes ---

TEST_F(Openat2Test, SmallerThanVersion0IsEinval) {
  open_how how = {};
  how.flags = O_RDONLY;
  EXPECT_THAT(Openat2How(jail_.get(), "in", &how, size_t{0}), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2How(jail_.get(), "in", &how, size_t{8}), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2How(jail_.get(), "in", &how, size_t{23}), SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, LargerWithZeroTailIsAccepted) {
  struct {
    open_how how;
    char tail[40];
  } big = {};
  big.how.flags = O_RDONLY;
  FileDescriptor fd(Openat2How(jail_.get(), "in", &big, sizeof(big)));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(fd.get()), InoOf(d_.Path("jail/in")));
}

TEST_F(Openat2Test, LargerWithNonzeroTailIsE2big) {
  struct {
    open_how how;
    char tail[40];
  } big = {};
  big.how.flags = O_RDONLY;
  big.tail[39] = 1;
  EXPECT_THAT(Openat2How(jail_.get(), "in", &big, sizeof(big)), SyscallFailsWithErrno(E2BIG));
  big.tail[39] = 0;
  big.tail[0] = 1;
  EXPECT_THAT(Openat2How(jail_.get(), "in", &big, size_t{25}), SyscallFailsWithErrno(E2BIG));
}

TEST_F(Openat2Test, LargerThanAPageIsE2big) {
  std::vector<char> buf(2 * kPageSize, 0);
  EXPECT_THAT(Openat2How(jail_.get(), "in", buf.data(), kPageSize + 1),
              SyscallFailsWithErrno(E2BIG));
}

TEST_F(Openat2Test, ExactlyAPageWithZeroTailIsAccepted) {
  std::vector<char> buf(kPageSize, 0);
  FileDescriptor fd(Openat2How(jail_.get(), "in", buf.data(), kPageSize));
  EXPECT_TRUE(fd.valid()) << strerror(errno);
}

TEST_F(Openat2Test, BadPointerIsEfault) {
  EXPECT_THAT(Openat2How(jail_.get(), "in", nullptr, sizeof(open_how)),
              SyscallFailsWithErrno(EFAULT));
  open_how how = {};
  EXPECT_THAT(syscall(SYS_openat2, jail_.get(), nullptr, &how, sizeof(how)),
              SyscallFailsWithErrno(EFAULT));
}

// --- flags and mode ---

TEST_F(Openat2Test, UnknownFlagsAreEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "in", uint64_t{1} << 40, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2(jail_.get(), "in", uint64_t{1} << 32, 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, UnknownResolveFlagsAreEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "in", O_RDONLY, 0x80), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2(jail_.get(), "in", O_RDONLY, uint64_t{1} << 40),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, BeneathAndInRootTogetherAreEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "in", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, ModeWithoutCreateIsEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "in", O_RDONLY, 0, 0644), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2(jail_.get(), "in", O_RDWR, 0, 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, ModeBeyondPermissionBitsIsEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "new", O_CREAT | O_WRONLY, 0, 010644),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2(jail_.get(), "new", O_CREAT | O_WRONLY, 0, uint64_t{1} << 33),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(access(d_.Path("jail/new").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
}

TEST_F(Openat2Test, ModeWithCreateSetsPermissions) {
  const mode_t old = umask(022);
  FileDescriptor fd(Openat2(jail_.get(), "new", O_CREAT | O_EXCL | O_WRONLY, 0, 04777));
  umask(old);
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFREG | 04755);
}

TEST_F(Openat2Test, ZeroModeWithCreateMakesAnInaccessibleFile) {
  FileDescriptor fd(Openat2(jail_.get(), "zero", O_CREAT | O_EXCL | O_WRONLY, 0, 0));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode, S_IFREG | 0u);
}

TEST_F(Openat2Test, PathWithOtherFlagsIsEinval) {
  // openat silently drops them; openat2 refuses.
  EXPECT_THAT(Openat2(jail_.get(), "in", O_PATH | O_RDWR, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Openat2(jail_.get(), "in", O_PATH | O_APPEND, 0), SyscallFailsWithErrno(EINVAL));
  FileDescriptor ok(Openat2(jail_.get(), "in", O_PATH | O_CLOEXEC | O_NOFOLLOW, 0));
  EXPECT_TRUE(ok.valid()) << strerror(errno);
  FileDescriptor legacy(openat(jail_.get(), "in", O_PATH | O_RDWR));
  EXPECT_TRUE(legacy.valid()) << strerror(errno);
}

TEST_F(Openat2Test, CreateWithDirectoryIsEinval) {
  EXPECT_THAT(Openat2(jail_.get(), "newdir", O_CREAT | O_DIRECTORY | O_RDONLY, 0, 0755),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, OpenatCreateWithDirectoryIsEinvalToo) {
  EXPECT_THAT(openat(jail_.get(), "newdir", O_CREAT | O_DIRECTORY | O_RDONLY, 0755),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(openat(jail_.get(), "in", O_CREAT | O_DIRECTORY | O_RDONLY, 0755),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(access(d_.Path("jail/newdir").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
}

TEST_F(Openat2Test, TmpfileNeedsWriteAccess) {
  EXPECT_THAT(Openat2(jail_.get(), "sub", O_TMPFILE | O_RDONLY, 0, 0600),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(Openat2Test, TmpfileCreatesAnUnnamedFile) {
  FileDescriptor fd(Openat2(jail_.get(), "sub", O_TMPFILE | O_RDWR, 0, 0600));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
}

TEST_F(Openat2Test, TmpfileBeneathRefusesAnEscape) {
  EXPECT_THAT(Openat2(jail_.get(), "..", O_TMPFILE | O_RDWR, RESOLVE_BENEATH, 0600),
              SyscallFailsWithErrno(EXDEV));
}

// Linux does not even try a create, truncate or tmpfile open without blocking.
TEST_F(Openat2Test, CachedWithCreateOrTruncateIsEagain) {
  EXPECT_THAT(Openat2(jail_.get(), "c", O_CREAT | O_WRONLY, RESOLVE_CACHED, 0600),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Openat2(jail_.get(), "in", O_TRUNC | O_WRONLY, RESOLVE_CACHED),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Openat2(jail_.get(), "sub", O_TMPFILE | O_RDWR, RESOLVE_CACHED, 0600),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(access(d_.Path("jail/c").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
}

TEST_F(Openat2Test, PlainOpenWorksLikeOpenat) {
  FileDescriptor fd(Openat2(jail_.get(), "sub/deep", O_RDONLY, 0));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  char buf[8] = {};
  EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "deep");
  EXPECT_THAT(Openat2(jail_.get(), "missing", O_RDONLY, 0), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(Openat2(-1, "in", O_RDONLY, 0), SyscallFailsWithErrno(EBADF));
}

TEST_F(Openat2Test, CloexecIsApplied) {
  FileDescriptor fd(Openat2(jail_.get(), "in", O_RDONLY | O_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(fcntl(fd.get(), F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

// --- RESOLVE_BENEATH ---

TEST_F(Openat2Test, BeneathAllowsPathsThatStayInside) {
  FileDescriptor a(Openat2(jail_.get(), "sub/../in", O_RDONLY, RESOLVE_BENEATH));
  EXPECT_TRUE(a.valid()) << strerror(errno);
  FileDescriptor b(Openat2(jail_.get(), "rel", O_RDONLY, RESOLVE_BENEATH));
  EXPECT_TRUE(b.valid()) << strerror(errno);
  FileDescriptor c(Openat2(jail_.get(), "subup/in", O_RDONLY, RESOLVE_BENEATH));
  EXPECT_TRUE(c.valid()) << strerror(errno);
  FileDescriptor d(Openat2(jail_.get(), ".", O_RDONLY, RESOLVE_BENEATH));
  EXPECT_TRUE(d.valid()) << strerror(errno);
}

TEST_F(Openat2Test, BeneathRefusesDotDotEscape) {
  EXPECT_THAT(Openat2(jail_.get(), "..", O_RDONLY, RESOLVE_BENEATH), SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(Openat2(jail_.get(), "../outside", O_RDONLY, RESOLVE_BENEATH),
              SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(Openat2(jail_.get(), "sub/../../jail/in", O_RDONLY, RESOLVE_BENEATH),
              SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, BeneathRefusesAbsolutePaths) {
  EXPECT_THAT(Openat2(jail_.get(), d_.Path("jail/in").c_str(), O_RDONLY, RESOLVE_BENEATH),
              SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(Openat2(jail_.get(), "/", O_RDONLY, RESOLVE_BENEATH), SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, BeneathRefusesEscapingSymlinks) {
  EXPECT_THAT(Openat2(jail_.get(), "up", O_RDONLY, RESOLVE_BENEATH), SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(Openat2(jail_.get(), "abs", O_RDONLY, RESOLVE_BENEATH), SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, BeneathRefusesMagicLinks) {
  const std::string link = "fd/" + std::to_string(jail_.get());
  FileDescriptor self(open("/proc/self", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(self.valid());
  EXPECT_THAT(Openat2(self.get(), link.c_str(), O_RDONLY, RESOLVE_BENEATH),
              SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, BeneathWithCwd) {
  const std::string old = get_current_dir_name();
  ASSERT_THAT(chdir(d_.Path("jail").c_str()), SyscallSucceeds());
  FileDescriptor in(Openat2(AT_FDCWD, "in", O_RDONLY, RESOLVE_BENEATH));
  EXPECT_TRUE(in.valid()) << strerror(errno);
  EXPECT_THAT(Openat2(AT_FDCWD, "../outside", O_RDONLY, RESOLVE_BENEATH),
              SyscallFailsWithErrno(EXDEV));
  ASSERT_THAT(chdir(old.c_str()), SyscallSucceeds());
}

TEST_F(Openat2Test, BeneathCreatesInside) {
  FileDescriptor fd(Openat2(jail_.get(), "sub/made", O_CREAT | O_WRONLY, RESOLVE_BENEATH, 0600));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_THAT(access(d_.Path("jail/sub/made").c_str(), F_OK), SyscallSucceeds());
  EXPECT_THAT(Openat2(jail_.get(), "../made", O_CREAT | O_WRONLY, RESOLVE_BENEATH, 0600),
              SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(access(d_.Path("made").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
}

// --- RESOLVE_IN_ROOT ---

TEST_F(Openat2Test, InRootTreatsAbsoluteSymlinksAsInsideTheRoot) {
  FileDescriptor fd(Openat2(jail_.get(), "abs", O_RDONLY, RESOLVE_IN_ROOT));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(fd.get()), InoOf(d_.Path("jail/in")));
  FileDescriptor deep(Openat2(jail_.get(), "absdeep", O_RDONLY, RESOLVE_IN_ROOT));
  ASSERT_TRUE(deep.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(deep.get()), InoOf(d_.Path("jail/sub/deep")));
}

TEST_F(Openat2Test, InRootTreatsAbsolutePathsAsInsideTheRoot) {
  FileDescriptor fd(Openat2(jail_.get(), "/sub/deep", O_RDONLY, RESOLVE_IN_ROOT));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(fd.get()), InoOf(d_.Path("jail/sub/deep")));
}

TEST_F(Openat2Test, InRootClampsDotDotAtTheRoot) {
  FileDescriptor fd(Openat2(jail_.get(), "../../../in", O_RDONLY, RESOLVE_IN_ROOT));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(fd.get()), InoOf(d_.Path("jail/in")));
  FileDescriptor root(Openat2(jail_.get(), "..", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT));
  ASSERT_TRUE(root.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(root.get()), InoOf(d_.Path("jail")));
}

TEST_F(Openat2Test, InRootSymlinkUpStaysInside) {
  // jail/up -> ../outside: `..` stops at the jail, and the jail has no `outside`.
  EXPECT_THAT(Openat2(jail_.get(), "up", O_RDONLY, RESOLVE_IN_ROOT), SyscallFailsWithErrno(ENOENT));
}

TEST_F(Openat2Test, InRootRefusesMagicLinks) {
  FileDescriptor self(open("/proc/self", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(self.valid());
  const std::string link = "fd/" + std::to_string(jail_.get());
  EXPECT_THAT(Openat2(self.get(), link.c_str(), O_RDONLY, RESOLVE_IN_ROOT),
              SyscallFailsWithErrno(EXDEV));
}

// --- RESOLVE_NO_SYMLINKS ---

TEST_F(Openat2Test, NoSymlinksRefusesAnySymlink) {
  EXPECT_THAT(Openat2(jail_.get(), "rel", O_RDONLY, RESOLVE_NO_SYMLINKS),
              SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(Openat2(jail_.get(), "subup/in", O_RDONLY, RESOLVE_NO_SYMLINKS),
              SyscallFailsWithErrno(ELOOP));
  FileDescriptor plain(Openat2(jail_.get(), "sub/deep", O_RDONLY, RESOLVE_NO_SYMLINKS));
  EXPECT_TRUE(plain.valid()) << strerror(errno);
}

TEST_F(Openat2Test, NoSymlinksAllowsATrailingSymlinkWithPathNofollow) {
  FileDescriptor fd(Openat2(jail_.get(), "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(Openat2Test, NoSymlinksRefusesMagicLinks) {
  const std::string link = "/proc/self/fd/" + std::to_string(jail_.get());
  EXPECT_THAT(Openat2(AT_FDCWD, link.c_str(), O_RDONLY, RESOLVE_NO_SYMLINKS),
              SyscallFailsWithErrno(ELOOP));
}

TEST_F(Openat2Test, NofollowOnASymlinkIsEloop) {
  EXPECT_THAT(Openat2(jail_.get(), "rel", O_RDONLY | O_NOFOLLOW, 0), SyscallFailsWithErrno(ELOOP));
}

// --- RESOLVE_NO_MAGICLINKS ---

TEST_F(Openat2Test, NoMagicLinksRefusesProcFdLinks) {
  const std::string link = "/proc/self/fd/" + std::to_string(jail_.get());
  EXPECT_THAT(Openat2(AT_FDCWD, link.c_str(), O_RDONLY, RESOLVE_NO_MAGICLINKS),
              SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(Openat2(AT_FDCWD, (link + "/in").c_str(), O_RDONLY, RESOLVE_NO_MAGICLINKS),
              SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(Openat2(AT_FDCWD, "/proc/self/cwd", O_RDONLY, RESOLVE_NO_MAGICLINKS),
              SyscallFailsWithErrno(ELOOP));
}

TEST_F(Openat2Test, NoMagicLinksFollowsOrdinarySymlinks) {
  FileDescriptor a(Openat2(jail_.get(), "rel", O_RDONLY, RESOLVE_NO_MAGICLINKS));
  EXPECT_TRUE(a.valid()) << strerror(errno);
  // /proc/self is an ordinary symlink, not a magic one.
  FileDescriptor b(Openat2(AT_FDCWD, "/proc/self/status", O_RDONLY, RESOLVE_NO_MAGICLINKS));
  EXPECT_TRUE(b.valid()) << strerror(errno);
}

TEST_F(Openat2Test, WithoutNoMagicLinksProcFdLinksWork) {
  const std::string link = "/proc/self/fd/" + std::to_string(jail_.get());
  FileDescriptor fd(Openat2(AT_FDCWD, (link + "/in").c_str(), O_RDONLY, 0));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  EXPECT_EQ(InoOf(fd.get()), InoOf(d_.Path("jail/in")));
}

TEST_F(Openat2Test, NoMagicLinksAllowsATrailingMagicLinkWithPathNofollow) {
  const std::string link = "/proc/self/fd/" + std::to_string(jail_.get());
  FileDescriptor fd(Openat2(AT_FDCWD, link.c_str(), O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS));
  ASSERT_TRUE(fd.valid()) << strerror(errno);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// --- RESOLVE_NO_XDEV ---

TEST_F(Openat2Test, NoXdevRefusesCrossingIntoAMount) {
  FileDescriptor root(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(root.valid());
  EXPECT_THAT(Openat2(root.get(), "proc/self/status", O_RDONLY, RESOLVE_NO_XDEV),
              SyscallFailsWithErrno(EXDEV));
  EXPECT_THAT(Openat2(AT_FDCWD, "/proc/self/status", O_RDONLY, RESOLVE_NO_XDEV),
              SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, NoXdevRefusesDotDotOutOfAMount) {
  FileDescriptor proc(open("/proc", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(proc.valid());
  EXPECT_THAT(Openat2(proc.get(), "..", O_RDONLY, RESOLVE_NO_XDEV), SyscallFailsWithErrno(EXDEV));
  FileDescriptor inside(Openat2(proc.get(), "self/status", O_RDONLY, RESOLVE_NO_XDEV));
  EXPECT_TRUE(inside.valid()) << strerror(errno);
}

TEST_F(Openat2Test, NoXdevWithinOneFilesystem) {
  FileDescriptor fd(Openat2(jail_.get(), "sub/../rel", O_RDONLY, RESOLVE_NO_XDEV));
  EXPECT_TRUE(fd.valid()) << strerror(errno);
}

TEST_F(Openat2Test, NoXdevRefusesAMagicLinkToAnotherMount) {
  // /proc/self/fd/N is on /proc and points into the temporary directory.
  const std::string link = "/proc/self/fd/" + std::to_string(jail_.get());
  FileDescriptor proc(open("/proc", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(proc.valid());
  const std::string rel = "self/fd/" + std::to_string(jail_.get());
  EXPECT_THAT(Openat2(proc.get(), rel.c_str(), O_RDONLY, RESOLVE_NO_XDEV),
              SyscallFailsWithErrno(EXDEV));
}

TEST_F(Openat2Test, NoXdevAllowsAMagicLinkWithinTheMount) {
  FileDescriptor status(open("/proc/self/status", O_RDONLY));
  ASSERT_TRUE(status.valid());
  FileDescriptor proc(open("/proc", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(proc.valid());
  const std::string rel = "self/fd/" + std::to_string(status.get());
  FileDescriptor fd(Openat2(proc.get(), rel.c_str(), O_RDONLY, RESOLVE_NO_XDEV));
  EXPECT_TRUE(fd.valid()) << strerror(errno);
}

}  // namespace
}  // namespace syscalls_test
