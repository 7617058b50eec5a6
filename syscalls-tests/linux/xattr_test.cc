// The xattr family: setxattr/getxattr/listxattr/removexattr and their l* and
// f* forms, on files under /tmp and /dev/shm (a tmpfs on Linux; in the sandbox
// /tmp is the overlay's upper layer and /dev/shm a tmpfs): XATTR_CREATE and
// XATTR_REPLACE, size-0 queries, ERANGE and E2BIG, the namespaces (user.*,
// trusted.* with CAP_SYS_ADMIN, security.*, unknown prefixes), user.* on
// symlinks and special files, O_PATH descriptors, the permission checks for
// an unprivileged caller, and reading the attributes of a host file.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The names listxattr returns for `path` (sorted), or {"<errno>"} on failure.
std::vector<std::string> ListNames(const std::string& path, bool follow = true) {
  char buf[4096];
  const ssize_t n = follow ? listxattr(path.c_str(), buf, sizeof(buf))
                           : llistxattr(path.c_str(), buf, sizeof(buf));
  if (n < 0) return {"<" + std::string(strerrorname_np(errno)) + ">"};
  std::vector<std::string> names;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(buf + i)) + 1) {
    names.emplace_back(buf + i);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Names listed, without the security.* ones an LSM may add on its own.
std::vector<std::string> UserVisibleNames(const std::string& path) {
  std::vector<std::string> names = ListNames(path);
  std::erase_if(names, [](const std::string& n) { return n.rfind("security.", 0) == 0; });
  return names;
}

std::string GetValue(const std::string& path, const char* name) {
  char buf[256];
  const ssize_t n = getxattr(path.c_str(), name, buf, sizeof(buf));
  if (n < 0) return "<" + std::string(strerrorname_np(errno)) + ">";
  return std::string(buf, static_cast<size_t>(n));
}

// Every case runs on a file in a fresh directory under the parameter.
class XattrTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok()) << GetParam() << ": " << strerror(errno);
    f_ = d_.File("f", "data", 0644);
    ASSERT_FALSE(f_.empty());
    ASSERT_THAT(mkdir(d_.Path("dir").c_str(), 0755), SyscallSucceeds());
    ASSERT_THAT(symlink("f", d_.Path("link").c_str()), SyscallSucceeds());
  }
  TempDir d_{"xattr-test", GetParam()};
  std::string f_;
};

INSTANTIATE_TEST_SUITE_P(Dirs, XattrTest, ::testing::Values("/tmp", "/dev/shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "/tmp" ? "Tmp" : "DevShm";
                         });

// --- set, get, list, remove ---

TEST_P(XattrTest, SetThenGet) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "value", 5, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "value");
}

TEST_P(XattrTest, SetReplacesTheValue) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "long value", 10, 0), SyscallSucceeds());
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "s", 1, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "s");
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "longer again", 12, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "longer again");
}

TEST_P(XattrTest, ValuesAreBinary) {
  const char v[] = {'a', '\0', 'b', '\xff'};
  ASSERT_THAT(setxattr(f_.c_str(), "user.bin", v, sizeof(v), 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.bin"), std::string(v, sizeof(v)));
}

TEST_P(XattrTest, EmptyValue) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.e", "", 0, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), "user.e", buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(getxattr(f_.c_str(), "user.e", nullptr, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(UserVisibleNames(f_), ElementsAre("user.e"));
}

TEST_P(XattrTest, GetMissingIsEnodata) {
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), "user.none", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(getxattr(f_.c_str(), "user.none", nullptr, 0), SyscallFailsWithErrno(ENODATA));
}

TEST_P(XattrTest, CreateFlagOnExistingIsEexist) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, XATTR_CREATE), SyscallSucceeds());
  EXPECT_THAT(setxattr(f_.c_str(), "user.a", "2", 1, XATTR_CREATE), SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(GetValue(f_, "user.a"), "1");
}

TEST_P(XattrTest, ReplaceFlagOnMissingIsEnodata) {
  EXPECT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, XATTR_REPLACE),
              SyscallFailsWithErrno(ENODATA));
  EXPECT_EQ(GetValue(f_, "user.a"), "<ENODATA>");
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  EXPECT_THAT(setxattr(f_.c_str(), "user.a", "2", 1, XATTR_REPLACE), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "2");
}

TEST_P(XattrTest, UnknownSetFlagsAreEinval) {
  EXPECT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 4), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, -1), SyscallFailsWithErrno(EINVAL));
}

TEST_P(XattrTest, SizeZeroGetReturnsTheLength) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "12345", 5, 0), SyscallSucceeds());
  EXPECT_THAT(getxattr(f_.c_str(), "user.a", nullptr, 0), SyscallSucceedsWithValue(5));
}

TEST_P(XattrTest, SmallBufferIsErange) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "12345", 5, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), "user.a", buf, 4), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(getxattr(f_.c_str(), "user.a", buf, 5), SyscallSucceedsWithValue(5));
}

TEST_P(XattrTest, ValueOverTheLimitIsE2big) {
  std::vector<char> big(XATTR_SIZE_MAX + 1, 'x');
  EXPECT_THAT(setxattr(f_.c_str(), "user.big", big.data(), big.size(), 0),
              SyscallFailsWithErrno(E2BIG));
  EXPECT_EQ(GetValue(f_, "user.big"), "<ENODATA>");
}

TEST_P(XattrTest, NameLengthLimits) {
  EXPECT_THAT(setxattr(f_.c_str(), "", "1", 1, 0), SyscallFailsWithErrno(ERANGE));
  const std::string max = "user." + std::string(250, 'n');  // 255 bytes
  EXPECT_THAT(setxattr(f_.c_str(), max.c_str(), "1", 1, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, max.c_str()), "1");
  const std::string over = max + "n";
  EXPECT_THAT(setxattr(f_.c_str(), over.c_str(), "1", 1, 0), SyscallFailsWithErrno(ERANGE));
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), over.c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(removexattr(f_.c_str(), over.c_str()), SyscallFailsWithErrno(ERANGE));
}

TEST_P(XattrTest, ListReturnsEveryName) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.one", "1", 1, 0), SyscallSucceeds());
  ASSERT_THAT(setxattr(f_.c_str(), "user.two", "22", 2, 0), SyscallSucceeds());
  ASSERT_THAT(setxattr(f_.c_str(), "user.three", "", 0, 0), SyscallSucceeds());
  EXPECT_THAT(UserVisibleNames(f_), ElementsAre("user.one", "user.three", "user.two"));
}

TEST_P(XattrTest, ListOfAFreshFileHasNoUserNames) { EXPECT_THAT(UserVisibleNames(f_), IsEmpty()); }

TEST_P(XattrTest, ListSizeZeroReturnsTheLength) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.one", "1", 1, 0), SyscallSucceeds());
  ASSERT_THAT(setxattr(f_.c_str(), "user.two", "22", 2, 0), SyscallSucceeds());
  const ssize_t n = listxattr(f_.c_str(), nullptr, 0);
  ASSERT_GE(n, 18);  // "user.one\0user.two\0", plus any security.* an LSM keeps
  char buf[4096];
  EXPECT_THAT(listxattr(f_.c_str(), buf, sizeof(buf)), SyscallSucceedsWithValue(n));
}

TEST_P(XattrTest, ListSmallBufferIsErange) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.one", "1", 1, 0), SyscallSucceeds());
  char buf[4];
  EXPECT_THAT(listxattr(f_.c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ERANGE));
}

TEST_P(XattrTest, RemoveThenGetIsEnodata) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  ASSERT_THAT(removexattr(f_.c_str(), "user.a"), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "<ENODATA>");
  EXPECT_THAT(UserVisibleNames(f_), IsEmpty());
  EXPECT_THAT(removexattr(f_.c_str(), "user.a"), SyscallFailsWithErrno(ENODATA));
}

TEST_P(XattrTest, DirectoriesHaveUserXattrs) {
  const std::string dir = d_.Path("dir");
  ASSERT_THAT(setxattr(dir.c_str(), "user.d", "dv", 2, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(dir, "user.d"), "dv");
  EXPECT_THAT(UserVisibleNames(dir), ElementsAre("user.d"));
}

TEST_P(XattrTest, AttributesFollowTheInodeAcrossLinksAndRenames) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  const std::string hard = d_.Path("hard");
  ASSERT_THAT(link(f_.c_str(), hard.c_str()), SyscallSucceeds());
  EXPECT_EQ(GetValue(hard, "user.a"), "1");
  const std::string moved = d_.Path("moved");
  ASSERT_THAT(rename(f_.c_str(), moved.c_str()), SyscallSucceeds());
  EXPECT_EQ(GetValue(moved, "user.a"), "1");
}

TEST_P(XattrTest, MissingPathIsEnoent) {
  const std::string p = d_.Path("missing");
  EXPECT_THAT(setxattr(p.c_str(), "user.a", "1", 1, 0), SyscallFailsWithErrno(ENOENT));
  char buf[8];
  EXPECT_THAT(getxattr(p.c_str(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(listxattr(p.c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(removexattr(p.c_str(), "user.a"), SyscallFailsWithErrno(ENOENT));
}

TEST_P(XattrTest, BadPointersAreEfault) {
  EXPECT_THAT(syscall(SYS_setxattr, f_.c_str(), nullptr, "1", size_t{1}, 0),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_setxattr, f_.c_str(), "user.a", nullptr, size_t{1}, 0),
              SyscallFailsWithErrno(EFAULT));
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_getxattr, f_.c_str(), "user.a", nullptr, size_t{8}),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_listxattr, f_.c_str(), nullptr, size_t{64}),
              SyscallFailsWithErrno(EFAULT));
}

// --- namespaces ---

TEST_P(XattrTest, UnknownPrefixIsEopnotsupp) {
  EXPECT_THAT(setxattr(f_.c_str(), "foo.bar", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(setxattr(f_.c_str(), "nodot", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), "foo.bar", buf, sizeof(buf)), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(removexattr(f_.c_str(), "foo.bar"), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST_P(XattrTest, PrefixAloneIsEinval) {
  EXPECT_THAT(setxattr(f_.c_str(), "user.", "1", 1, 0), SyscallFailsWithErrno(EINVAL));
  char buf[8];
  EXPECT_THAT(getxattr(f_.c_str(), "user.", buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(removexattr(f_.c_str(), "user."), SyscallFailsWithErrno(EINVAL));
  // The permission checks come first: user.* is refused on a symlink itself.
  EXPECT_THAT(lsetxattr(d_.Path("link").c_str(), "user.", "1", 1, 0), SyscallFailsWithErrno(EPERM));
}

TEST_P(XattrTest, SystemPrefixAloneIsEopnotsupp) {
  EXPECT_THAT(setxattr(f_.c_str(), "system.", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(setxattr(f_.c_str(), "system.bogus", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST_P(XattrTest, TrustedNeedsCapSysAdmin) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  ASSERT_THAT(setxattr(f_.c_str(), "trusted.t", "tv", 2, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "trusted.t"), "tv");
  EXPECT_THAT(ListNames(f_), ::testing::Contains("trusted.t"));
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    char buf[8];
    CHILD_CHECK(setxattr(f.c_str(), "trusted.u", "1", 1, 0) == -1 && errno == EPERM);
    CHILD_CHECK(getxattr(f.c_str(), "trusted.t", buf, sizeof(buf)) == -1 && errno == ENODATA);
    CHILD_CHECK(removexattr(f.c_str(), "trusted.t") == -1 && errno == EPERM);
    // Listing hides them.
    char list[256];
    const ssize_t n = listxattr(f.c_str(), list, sizeof(list));
    CHILD_CHECK(n >= 0);
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(list + i)) + 1) {
      CHILD_CHECK(strncmp(list + i, "trusted.", 8) != 0);
    }
  }));
  EXPECT_THAT(removexattr(f_.c_str(), "trusted.t"), SyscallSucceeds());
}

TEST_P(XattrTest, TrustedOnASymlinkItself) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const std::string l = d_.Path("link");
  ASSERT_THAT(lsetxattr(l.c_str(), "trusted.t", "lv", 2, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(lgetxattr(l.c_str(), "trusted.t", buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_THAT(getxattr(l.c_str(), "trusted.t", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(ListNames(l, false), ::testing::Contains("trusted.t"));
}

TEST_P(XattrTest, SecurityNamespaceAsRoot) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  ASSERT_THAT(setxattr(f_.c_str(), "security.test", "sv", 2, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "security.test"), "sv");
  EXPECT_THAT(ListNames(f_), ::testing::Contains("security.test"));
  ASSERT_THAT(removexattr(f_.c_str(), "security.test"), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "security.test"), "<ENODATA>");
}

// --- symlinks and special files ---

TEST_P(XattrTest, UserOnASymlinkItselfIsEperm) {
  const std::string l = d_.Path("link");
  EXPECT_THAT(lsetxattr(l.c_str(), "user.a", "1", 1, 0), SyscallFailsWithErrno(EPERM));
  char buf[8];
  EXPECT_THAT(lgetxattr(l.c_str(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(lremovexattr(l.c_str(), "user.a"), SyscallFailsWithErrno(EPERM));
}

TEST_P(XattrTest, PlainCallsFollowTheSymlink) {
  const std::string l = d_.Path("link");
  ASSERT_THAT(setxattr(l.c_str(), "user.a", "via", 3, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "via");
  EXPECT_THAT(ListNames(l), ::testing::Contains("user.a"));
  EXPECT_THAT(ListNames(l, false), ::testing::Not(::testing::Contains("user.a")));
  ASSERT_THAT(removexattr(l.c_str(), "user.a"), SyscallSucceeds());
  EXPECT_EQ(GetValue(f_, "user.a"), "<ENODATA>");
}

TEST_P(XattrTest, LcallsOnARegularFileActOnIt) {
  ASSERT_THAT(lsetxattr(f_.c_str(), "user.a", "l", 1, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(lgetxattr(f_.c_str(), "user.a", buf, sizeof(buf)), SyscallSucceedsWithValue(1));
  EXPECT_THAT(lremovexattr(f_.c_str(), "user.a"), SyscallSucceeds());
}

TEST_P(XattrTest, UserOnAFifoIsEperm) {
  const std::string p = d_.Path("fifo");
  ASSERT_THAT(mkfifo(p.c_str(), 0644), SyscallSucceeds());
  EXPECT_THAT(setxattr(p.c_str(), "user.a", "1", 1, 0), SyscallFailsWithErrno(EPERM));
  char buf[8];
  EXPECT_THAT(getxattr(p.c_str(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
}

TEST_P(XattrTest, UserOnADanglingSymlinkTargetIsEnoent) {
  const std::string l = d_.Path("dangling");
  ASSERT_THAT(symlink("nowhere", l.c_str()), SyscallSucceeds());
  EXPECT_THAT(setxattr(l.c_str(), "user.a", "1", 1, 0), SyscallFailsWithErrno(ENOENT));
  char buf[8];
  EXPECT_THAT(lgetxattr(l.c_str(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
}

// --- the f* forms ---

TEST_P(XattrTest, FdFormsWork) {
  FileDescriptor fd(open(f_.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.valid());
  // Write access to the inode is what counts, not the descriptor's mode.
  ASSERT_THAT(fsetxattr(fd.get(), "user.a", "fv", 2, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(fgetxattr(fd.get(), "user.a", buf, sizeof(buf)), SyscallSucceedsWithValue(2));
  EXPECT_THAT(flistxattr(fd.get(), nullptr, 0), SyscallSucceeds());
  EXPECT_THAT(fremovexattr(fd.get(), "user.a"), SyscallSucceeds());
  EXPECT_THAT(fremovexattr(fd.get(), "user.a"), SyscallFailsWithErrno(ENODATA));
}

TEST_P(XattrTest, FdFormsOnADirectoryFd) {
  FileDescriptor fd(open(d_.Path("dir").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(fsetxattr(fd.get(), "user.a", "dv", 2, 0), SyscallSucceeds());
  EXPECT_EQ(GetValue(d_.Path("dir"), "user.a"), "dv");
}

TEST_P(XattrTest, FdFormsOnAnUnlinkedFile) {
  FileDescriptor fd(open(f_.c_str(), O_RDWR));
  ASSERT_TRUE(fd.valid());
  ASSERT_THAT(unlink(f_.c_str()), SyscallSucceeds());
  ASSERT_THAT(fsetxattr(fd.get(), "user.a", "u", 1, 0), SyscallSucceeds());
  char buf[8];
  EXPECT_THAT(fgetxattr(fd.get(), "user.a", buf, sizeof(buf)), SyscallSucceedsWithValue(1));
}

TEST_P(XattrTest, FdFormsOnOPathAreEbadf) {
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  FileDescriptor fd(open(f_.c_str(), O_PATH));
  ASSERT_TRUE(fd.valid());
  char buf[8];
  EXPECT_THAT(fsetxattr(fd.get(), "user.b", "1", 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fgetxattr(fd.get(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(flistxattr(fd.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fremovexattr(fd.get(), "user.a"), SyscallFailsWithErrno(EBADF));
}

TEST_P(XattrTest, BadFdIsEbadf) {
  char buf[8];
  EXPECT_THAT(fsetxattr(-1, "user.a", "1", 1, 0), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fgetxattr(-1, "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(flistxattr(-1, buf, sizeof(buf)), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(fremovexattr(-1, "user.a"), SyscallFailsWithErrno(EBADF));
}

TEST(XattrPipeTest, UserIsRefusedOnAPipe) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  // user.* is refused on a FIFO before the filesystem is asked.
  EXPECT_THAT(fsetxattr(r.get(), "user.a", "1", 1, 0), SyscallFailsWithErrno(EPERM));
  char buf[8];
  EXPECT_THAT(fgetxattr(r.get(), "user.a", buf, sizeof(buf)), SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(fremovexattr(r.get(), "user.a"), SyscallFailsWithErrno(EPERM));
}

TEST(XattrPipeTest, PipefsHasNoAttributes) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  EXPECT_THAT(fsetxattr(r.get(), "trusted.a", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  char buf[8];
  EXPECT_THAT(fgetxattr(r.get(), "trusted.a", buf, sizeof(buf)), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(fsetxattr(r.get(), "bogus", "1", 1, 0), SyscallFailsWithErrno(EOPNOTSUPP));
}

TEST(XattrPipeTest, ListOfAPipeIsEmpty) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  FileDescriptor r(p[0]), w(p[1]);
  char buf[64];
  EXPECT_THAT(flistxattr(r.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(flistxattr(w.get(), nullptr, 0), SyscallSucceedsWithValue(0));
}

// --- permissions ---

TEST_P(XattrTest, UnprivilegedNeedsWriteAccessToSet) {
  SKIP_IF(geteuid() != 0);  // needs root to drop to another user
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    // 0644, owned by root: readable, not writable.
    char buf[8];
    CHILD_CHECK(getxattr(f.c_str(), "user.a", buf, sizeof(buf)) == 1);
    CHILD_CHECK(setxattr(f.c_str(), "user.b", "1", 1, 0) == -1 && errno == EACCES);
    CHILD_CHECK(removexattr(f.c_str(), "user.a") == -1 && errno == EACCES);
    CHILD_CHECK(listxattr(f.c_str(), buf, sizeof(buf)) >= 0);
  }));
}

TEST_P(XattrTest, UnprivilegedNeedsReadAccessToGet) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(setxattr(f_.c_str(), "user.a", "1", 1, 0), SyscallSucceeds());
  ASSERT_THAT(chmod(f_.c_str(), 0600), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    char buf[8];
    CHILD_CHECK(getxattr(f.c_str(), "user.a", buf, sizeof(buf)) == -1 && errno == EACCES);
    // Listing needs no access to the file.
    CHILD_CHECK(listxattr(f.c_str(), buf, sizeof(buf)) >= 0);
  }));
}

TEST_P(XattrTest, UnprivilegedOwnerMaySet) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(chown(f_.c_str(), 65534, 65534), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(setxattr(f.c_str(), "user.mine", "1", 1, 0) == 0);
  }));
  EXPECT_EQ(GetValue(f_, "user.mine"), "1");
}

TEST_P(XattrTest, UnprivilegedOwnerMayNotSetSecurity) {
  SKIP_IF(geteuid() != 0);
  ASSERT_THAT(chown(f_.c_str(), 65534, 65534), SyscallSucceeds());
  ASSERT_THAT(setxattr(f_.c_str(), "security.rootset", "1", 1, 0), SyscallSucceeds());
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    CHILD_CHECK(setxattr(f.c_str(), "security.mine", "1", 1, 0) == -1 && errno == EPERM);
    CHILD_CHECK(removexattr(f.c_str(), "security.rootset") == -1 && errno == EPERM);
    // Reading needs only read access.
    char buf[8];
    CHILD_CHECK(getxattr(f.c_str(), "security.rootset", buf, sizeof(buf)) == 1);
  }));
}

TEST_P(XattrTest, UnprivilegedNonOwnerSecurityIsEpermFirst) {
  SKIP_IF(geteuid() != 0);
  const std::string f = f_;
  EXPECT_TRUE(InForkedChild([f] {
    DropPrivilegesInChild();
    // Root's 0644 file: the capability check refuses before the permission bits.
    CHILD_CHECK(setxattr(f.c_str(), "security.x", "1", 1, 0) == -1 && errno == EPERM);
  }));
}

TEST_P(XattrTest, StickyDirectoryNeedsOwnership) {
  SKIP_IF(geteuid() != 0);
  const std::string dir = d_.Path("sticky");
  ASSERT_THAT(mkdir(dir.c_str(), 01777), SyscallSucceeds());
  ASSERT_THAT(chmod(dir.c_str(), 01777), SyscallSucceeds());
  EXPECT_TRUE(InForkedChild([dir] {
    DropPrivilegesInChild();
    // World-writable, but sticky and someone else's.
    CHILD_CHECK(setxattr(dir.c_str(), "user.a", "1", 1, 0) == -1 && errno == EPERM);
  }));
}

// --- a host file (the gofer's lower layer in the sandbox) ---

TEST(XattrHostFileTest, GetOfAMissingNameIsEnodata) {
  char buf[8];
  EXPECT_THAT(getxattr("/etc/passwd", "user.syscalls-test-none", buf, sizeof(buf)),
              SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(lgetxattr("/etc", "user.syscalls-test-none", buf, sizeof(buf)),
              SyscallFailsWithErrno(ENODATA));
}

TEST(XattrHostFileTest, ListWorks) {
  EXPECT_THAT(listxattr("/etc/passwd", nullptr, 0), SyscallSucceeds());
  FileDescriptor fd(open("/etc/passwd", O_RDONLY));
  ASSERT_TRUE(fd.valid());
  EXPECT_THAT(flistxattr(fd.get(), nullptr, 0), SyscallSucceeds());
}

// A host symlink's own attributes (lgetxattr, llistxattr) are the link's,
// not its target's: user.* cannot exist on it.
TEST(XattrHostFileTest, LcallsOnAHostSymlinkActOnTheLink) {
  struct stat st;
  const char* link = nullptr;
  for (const char* c : {"/bin", "/lib64", "/sbin", "/lib"}) {
    if (lstat(c, &st) == 0 && S_ISLNK(st.st_mode)) {
      link = c;
      break;
    }
  }
  if (link == nullptr) GTEST_SKIP() << "no symlink among /bin, /lib64, /sbin, /lib";
  char buf[8];
  EXPECT_THAT(lgetxattr(link, "user.syscalls-test-none", buf, sizeof(buf)),
              SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(getxattr(link, "user.syscalls-test-none", buf, sizeof(buf)),
              SyscallFailsWithErrno(ENODATA));
  EXPECT_THAT(llistxattr(link, nullptr, 0), SyscallSucceeds());
  EXPECT_THAT(ListNames(link, /*follow=*/false),
              ::testing::Each(::testing::Not(::testing::StartsWith("user."))));
}

// The size probe and ERANGE on a host file's list.
TEST(XattrHostFileTest, ListSizeProbeAndErange) {
  const ssize_t n = listxattr("/etc", nullptr, 0);
  ASSERT_THAT(n, SyscallSucceeds());
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  EXPECT_THAT(listxattr("/etc", buf.data(), buf.size()), SyscallSucceedsWithValue(n));
  if (n > 0) {
    EXPECT_THAT(listxattr("/etc", buf.data(), static_cast<size_t>(n) - 1),
                SyscallFailsWithErrno(ERANGE));
  }
}

TEST(XattrHostFileTest, UnprivilegedSetIsRefused) {
  SKIP_IF(geteuid() != 0);
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CHILD_CHECK(setxattr("/etc/passwd", "user.a", "1", 1, 0) == -1 && errno == EACCES);
  }));
}

}  // namespace
}  // namespace syscalls_test
