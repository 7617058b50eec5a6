// uname(2), and the way the suite tells the sandbox from Linux (which rests on
// the version string uname reports; see util/test_util.h).
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

bool Terminated(const char* field) { return memchr(field, '\0', _UTSNAME_LENGTH) != nullptr; }

TEST(UnameTest, DescribesLinuxOnX86_64) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.machine, "x86_64");
}

TEST(UnameTest, EveryFieldIsTerminated) {
  struct utsname u;
  memset(&u, 'x', sizeof(u));
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  for (const char* f : {u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname}) {
    EXPECT_TRUE(Terminated(f));
  }
}

TEST(UnameTest, ReleaseIsAVersionNumber) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  int major = 0, minor = -1;
  ASSERT_EQ(sscanf(u.release, "%d.%d", &major, &minor), 2) << u.release;
  EXPECT_GE(major, 3);
  EXPECT_GE(minor, 0);
}

TEST(UnameTest, VersionStartsWithABuildNumber) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  EXPECT_EQ(u.version[0], '#') << u.version;
}

TEST(UnameTest, NodenameIsNotEmpty) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  EXPECT_GT(strlen(u.nodename), 0u);
}

TEST(UnameTest, IsStable) {
  struct utsname a, b;
  ASSERT_THAT(uname(&a), SyscallSucceeds());
  ASSERT_THAT(uname(&b), SyscallSucceeds());
  EXPECT_EQ(memcmp(&a, &b, sizeof(a)), 0);
}

TEST(UnameTest, BadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_uname, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_uname, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(UnameTest, RawSyscallReturnsZero) {
  struct utsname u;
  EXPECT_THAT(syscall(SYS_uname, &u), SyscallSucceedsWithValue(0));
}

// The runner says which side it started us on; IsRunningInSandbox() must
// agree, or every sandbox-only skip in the suite is wrong.
TEST(SandboxDetectionTest, AgreesWithTheRunner) {
  const char* expect = getenv("SYSCALLS_TESTS_EXPECT_SANDBOX");
  SKIP_IF(expect == nullptr);
  EXPECT_EQ(IsRunningInSandbox(), std::string(expect) == "1")
      << "IsRunningInSandbox() reads uname's version string; see util/test_util.h";
}

}  // namespace
}  // namespace syscalls_test
