// access(2), faccessat(2) and faccessat2(2): the mode bits, the real versus
// effective ids (AT_EACCESS) for an unprivileged caller, root's rules for
// execute, AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH, and the errors.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

long Faccessat2(int dirfd, const char* path, int mode, int flags) {
  return syscall(SYS_faccessat2, dirfd, path, mode, flags);
}

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(d_.ok()); }
  std::string Make(const char* name, mode_t mode) {
    std::string p = d_.File(name, "x");
    chmod(p.c_str(), mode);
    return p;
  }
  TempDir d_{"access-test"};
};

TEST_F(AccessTest, ExistenceWithFOk) {
  const std::string f = Make("f", 0);
  EXPECT_THAT(access(f.c_str(), F_OK), SyscallSucceeds());
  EXPECT_THAT(access(d_.Path("none").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
}

TEST_F(AccessTest, UnprivilegedModeBits) {
  const std::string r = Make("r", 0444), w = Make("w", 0222), x = Make("x", 0111);
  EXPECT_TRUE(InForkedChild([r, w, x] {
    DropPrivilegesInChild();
    CHILD_CHECK(access(r.c_str(), R_OK) == 0);
    CHILD_CHECK(access(r.c_str(), W_OK) == -1 && errno == EACCES);
    CHILD_CHECK(access(w.c_str(), W_OK) == 0);
    CHILD_CHECK(access(w.c_str(), R_OK) == -1 && errno == EACCES);
    CHILD_CHECK(access(x.c_str(), X_OK) == 0);
    CHILD_CHECK(access(x.c_str(), R_OK | X_OK) == -1 && errno == EACCES);
  }));
}

TEST_F(AccessTest, RootReadsAndWritesAnything) {
  SKIP_IF(geteuid() != 0);
  const std::string f = Make("f", 0);
  EXPECT_THAT(access(f.c_str(), R_OK | W_OK), SyscallSucceeds());
}

TEST_F(AccessTest, RootNeedsOneExecuteBit) {
  SKIP_IF(geteuid() != 0);
  const std::string none = Make("none", 0666), one = Make("one", 0601);
  EXPECT_THAT(access(none.c_str(), X_OK), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(access(one.c_str(), X_OK), SyscallSucceeds());
  // Directories are always searchable by root.
  ASSERT_THAT(mkdir(d_.Path("d").c_str(), 0), SyscallSucceeds());
  EXPECT_THAT(access(d_.Path("d").c_str(), X_OK), SyscallSucceeds());
}

TEST_F(AccessTest, UsesTheRealIdsUnlessAtEaccess) {
  SKIP_IF(geteuid() != 0);
  const std::string f = Make("rootonly", 0600);
  EXPECT_TRUE(InForkedChild([f] {
    // Real uid nobody, effective root.
    CHILD_CHECK(setresuid(65534, 0, 0) == 0);
    CHILD_CHECK(access(f.c_str(), R_OK) == -1 && errno == EACCES);
    CHILD_CHECK(faccessat(AT_FDCWD, f.c_str(), R_OK, AT_EACCESS) == 0);
    CHILD_CHECK(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), R_OK, AT_EACCESS) == 0);
  }));
}

TEST_F(AccessTest, EffectiveUnprivilegedWithAtEaccess) {
  SKIP_IF(geteuid() != 0);
  const std::string f = Make("rootonly", 0600);
  EXPECT_TRUE(InForkedChild([f] {
    // Real root, effective nobody.
    CHILD_CHECK(setresuid(0, 65534, 0) == 0);
    CHILD_CHECK(access(f.c_str(), R_OK) == 0);
    CHILD_CHECK(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), R_OK, AT_EACCESS) == -1 &&
                errno == EACCES);
  }));
}

TEST_F(AccessTest, SearchPermissionOnTheWay) {
  ASSERT_THAT(mkdir(d_.Path("closed").c_str(), 0700), SyscallSucceeds());
  d_.File("closed/f");
  const std::string f = d_.Path("closed/f");
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(access(f.c_str(), F_OK) == -1 && errno == EACCES);
  }));
}

TEST_F(AccessTest, BadModeIsEinval) {
  EXPECT_THAT(access("/", 8), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(access("/", -1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(AccessTest, BadFlagsAreEinval) {
  EXPECT_THAT(Faccessat2(AT_FDCWD, "/", F_OK, 0x40000000), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Faccessat2(AT_FDCWD, "/", F_OK, AT_SYMLINK_FOLLOW), SyscallFailsWithErrno(EINVAL));
}

TEST_F(AccessTest, ProcVersionIsReadOnlyForOthers) {
  // /proc/self is not writable as a filesystem; a file there with a write bit
  // still answers by its mode. Use /proc/version (0444): EACCES for W_OK as
  // an unprivileged user.
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CHILD_CHECK(access("/proc/version", W_OK) == -1 && errno == EACCES);
    CHILD_CHECK(access("/proc/version", R_OK) == 0);
  }));
}

TEST_F(AccessTest, SymlinkNofollowChecksTheLink) {
  ASSERT_THAT(symlink("nowhere", d_.Path("l").c_str()), SyscallSucceeds());
  EXPECT_THAT(access(d_.Path("l").c_str(), F_OK), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(Faccessat2(AT_FDCWD, d_.Path("l").c_str(), F_OK, AT_SYMLINK_NOFOLLOW),
              SyscallSucceeds());
}

TEST_F(AccessTest, EmptyPath) {
  const std::string f = Make("f", 0644);
  FileDescriptor fd(open(f.c_str(), O_RDONLY));
  EXPECT_THAT(Faccessat2(fd.get(), "", R_OK, AT_EMPTY_PATH), SyscallSucceeds());
  EXPECT_THAT(Faccessat2(fd.get(), "", R_OK, 0), SyscallFailsWithErrno(ENOENT));
}

TEST_F(AccessTest, DirfdRelative) {
  Make("f", 0644);
  FileDescriptor d(open(d_.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(faccessat(d.get(), "f", R_OK, 0), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_faccessat, 100000, "f", R_OK), SyscallFailsWithErrno(EBADF));
  FileDescriptor file(open(d_.Path("f").c_str(), O_RDONLY));
  EXPECT_THAT(syscall(SYS_faccessat, file.get(), "f", R_OK), SyscallFailsWithErrno(ENOTDIR));
}

TEST_F(AccessTest, PathErrors) {
  const std::string f = Make("f", 0644);
  EXPECT_THAT(access((f + "/x").c_str(), F_OK), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(access(d_.Path(std::string(NAME_MAX + 1, 'a')).c_str(), F_OK),
              SyscallFailsWithErrno(ENAMETOOLONG));
  EXPECT_THAT(syscall(SYS_access, 8L, F_OK), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(access("", F_OK), SyscallFailsWithErrno(ENOENT));
}

}  // namespace
}  // namespace syscalls_test
