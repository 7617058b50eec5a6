// prctl(2)'s per-process flags: PR_SET/GET_DUMPABLE, _PDEATHSIG, _KEEPCAPS,
// _CHILD_SUBREAPER and _NO_NEW_PRIVS. (PR_SET/GET_NAME are in id_test.)
//
// NOTE: PR_SET_NO_NEW_PRIVS cannot be undone: this binary keeps it set after
// NoNewPrivsTest.SetOnceAndForever, which is why these cases have their own
// family.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

long Prctl(long option, unsigned long a2 = 0, unsigned long a3 = 0, unsigned long a4 = 0,
           unsigned long a5 = 0) {
  return syscall(SYS_prctl, option, a2, a3, a4, a5);
}

TEST(DumpableTest, ANewProcessIsDumpable) {
  EXPECT_THAT(Prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(1));
}

TEST(DumpableTest, OnlyZeroAndOneCanBeSet) {
  const long old = Prctl(PR_GET_DUMPABLE);
  ASSERT_THAT(old, SyscallSucceeds());
  Cleanup restore([old] { Prctl(PR_SET_DUMPABLE, old); });
  ASSERT_THAT(Prctl(PR_SET_DUMPABLE, 0), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(0));
  // SUID_DUMP_ROOT (2) comes only from fs.suid_dumpable at execve.
  EXPECT_THAT(Prctl(PR_SET_DUMPABLE, 2), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_DUMPABLE, 3), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_DUMPABLE, ~0ul), SyscallFailsWithErrno(EINVAL));
  // A refused value changes nothing.
  EXPECT_THAT(Prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(0));
  ASSERT_THAT(Prctl(PR_SET_DUMPABLE, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(1));
}

TEST(PdeathsigTest, RoundTrip) {
  int old = -1;
  ASSERT_THAT(Prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&old)), SyscallSucceeds());
  Cleanup restore([old] { Prctl(PR_SET_PDEATHSIG, old); });
  ASSERT_THAT(Prctl(PR_SET_PDEATHSIG, SIGUSR1), SyscallSucceeds());
  int sig = 0;
  ASSERT_THAT(Prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&sig)), SyscallSucceeds());
  EXPECT_EQ(sig, SIGUSR1);
  // Any signal up to _NSIG (64), real-time ones included.
  ASSERT_THAT(Prctl(PR_SET_PDEATHSIG, 64), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&sig)), SyscallSucceeds());
  EXPECT_EQ(sig, 64);
  ASSERT_THAT(Prctl(PR_SET_PDEATHSIG, 0), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&sig)), SyscallSucceeds());
  EXPECT_EQ(sig, 0);
}

TEST(PdeathsigTest, InvalidSignalIsEinval) {
  EXPECT_THAT(Prctl(PR_SET_PDEATHSIG, 65), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_PDEATHSIG, ~0ul), SyscallFailsWithErrno(EINVAL));
}

TEST(PdeathsigTest, GetWithABadPointerIsEfault) {
  EXPECT_THAT(Prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Prctl(PR_GET_PDEATHSIG, 0), SyscallFailsWithErrno(EFAULT));
}

TEST(KeepcapsTest, RoundTrip) {
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(0));
  Cleanup restore([] { Prctl(PR_SET_KEEPCAPS, 0); });
  ASSERT_THAT(Prctl(PR_SET_KEEPCAPS, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(1));
  ASSERT_THAT(Prctl(PR_SET_KEEPCAPS, 0), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(0));
}

TEST(KeepcapsTest, BadArgumentsAreEinval) {
  EXPECT_THAT(Prctl(PR_SET_KEEPCAPS, 2), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_KEEPCAPS, ~0ul), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(0));
}

TEST(KeepcapsTest, OnlyTheSecondArgumentCounts) {
  // Unlike PR_SET_NO_NEW_PRIVS, arguments 3 to 5 are not checked.
  Cleanup restore([] { Prctl(PR_SET_KEEPCAPS, 0); });
  EXPECT_THAT(Prctl(PR_SET_KEEPCAPS, 1, 1, 1, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS, 1, 1, 1, 1), SyscallSucceedsWithValue(1));
}

TEST(ChildSubreaperTest, RoundTrip) {
  int flag = -1;
  ASSERT_THAT(Prctl(PR_GET_CHILD_SUBREAPER, reinterpret_cast<unsigned long>(&flag)),
              SyscallSucceeds());
  EXPECT_EQ(flag, 0);
  Cleanup restore([] { Prctl(PR_SET_CHILD_SUBREAPER, 0); });
  // Any nonzero value sets it, and reads back as 1.
  ASSERT_THAT(Prctl(PR_SET_CHILD_SUBREAPER, 7), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_GET_CHILD_SUBREAPER, reinterpret_cast<unsigned long>(&flag)),
              SyscallSucceeds());
  EXPECT_EQ(flag, 1);
  ASSERT_THAT(Prctl(PR_SET_CHILD_SUBREAPER, 0), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_GET_CHILD_SUBREAPER, reinterpret_cast<unsigned long>(&flag)),
              SyscallSucceeds());
  EXPECT_EQ(flag, 0);
}

TEST(ChildSubreaperTest, GetWithABadPointerIsEfault) {
  EXPECT_THAT(Prctl(PR_GET_CHILD_SUBREAPER, reinterpret_cast<unsigned long>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
}

TEST(NoNewPrivsTest, BadArgumentsAreEinval) {
  EXPECT_THAT(Prctl(PR_GET_NO_NEW_PRIVS, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 2), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 1, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 1), SyscallFailsWithErrno(EINVAL));
}

TEST(NoNewPrivsTest, SetOnceAndForever) {
  const long before = Prctl(PR_GET_NO_NEW_PRIVS);
  ASSERT_THAT(before, SyscallSucceeds());
  EXPECT_TRUE(before == 0 || before == 1);
  ASSERT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_NO_NEW_PRIVS), SyscallSucceedsWithValue(1));
  // Setting it again is fine; clearing it is not possible.
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_SET_NO_NEW_PRIVS, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_GET_NO_NEW_PRIVS), SyscallSucceedsWithValue(1));
}

}  // namespace
}  // namespace syscalls_test
