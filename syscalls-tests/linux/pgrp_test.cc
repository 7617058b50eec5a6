// Process groups and sessions: setpgid(2), getpgid(2), getpgrp(2), setsid(2)
// and getsid(2), with Linux's rules (EPERM for a group leader's setsid or a
// move across sessions, EACCES after the child's exec, ESRCH, EINVAL).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

TEST(PgrpTest, GetpgidZeroIsTheCaller) {
  EXPECT_THAT(getpgid(0), SyscallSucceedsWithValue(getpgrp()));
  EXPECT_THAT(getpgid(getpid()), SyscallSucceedsWithValue(getpgrp()));
}

TEST(PgrpTest, GetpgidOfNoProcessIsEsrch) {
  EXPECT_THAT(getpgid(-1), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(getpgid(0x3ffffff), SyscallFailsWithErrno(ESRCH));
}

TEST(PgrpTest, ChildInheritsTheGroup) {
  const pid_t pgrp = getpgrp();
  EXPECT_TRUE(InForkedChild([pgrp] { CHILD_CHECK(getpgrp() == pgrp); }));
}

TEST(PgrpTest, SetpgidZeroZeroMakesANewGroup) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setpgid(0, 0) == 0);
    CHILD_CHECK(getpgrp() == getpid());
    // Again: already the leader, a no-op.
    CHILD_CHECK(setpgid(0, 0) == 0);
  }));
}

TEST(PgrpTest, ParentMovesAChildIntoANewGroup) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(setpgid(pid, pid), SyscallSucceeds());
  EXPECT_THAT(getpgid(pid), SyscallSucceedsWithValue(pid));
  // And back into ours.
  EXPECT_THAT(setpgid(pid, getpgrp()), SyscallSucceeds());
  EXPECT_THAT(getpgid(pid), SyscallSucceedsWithValue(getpgrp()));
  KillAndReap(pid);
}

TEST(PgrpTest, JoiningAGroupOfAnotherSessionIsEperm) {
  int p[2];
  ASSERT_THAT(pipe(p), SyscallSucceeds());
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    (void)!write(p[1], "s", 1);
    for (;;) pause();
  }
  close(p[1]);
  char c;
  ASSERT_THAT(read(p[0], &c, 1), SyscallSucceedsWithValue(1));  // After its setsid.
  close(p[0]);
  // The child is in its own session now: we cannot move it, nor join it.
  EXPECT_THAT(setpgid(pid, getpgrp()), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(setpgid(0, pid), SyscallFailsWithErrno(EPERM));
  KillAndReap(pid);
}

TEST(PgrpTest, NonexistentGroupIsEperm) {
  EXPECT_TRUE(InForkedChild([] { CHILD_CHECK(setpgid(0, 0x3fffff0) == -1 && errno == EPERM); }));
}

TEST(PgrpTest, NegativePgidIsEinval) { EXPECT_THAT(setpgid(0, -1), SyscallFailsWithErrno(EINVAL)); }

TEST(PgrpTest, NotOurChildIsEsrch) {
  EXPECT_THAT(setpgid(0x3ffffff, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_TRUE(InForkedChild([] {
    // The parent is not a child of ours.
    CHILD_CHECK(setpgid(getppid(), 0) == -1 && errno == ESRCH);
  }));
}

TEST(PgrpTest, ChildAfterExecIsEacces) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "10", nullptr);
    _exit(127);
  }
  // Give the child time to exec; then it refuses our setpgid.
  bool eacces = false;
  for (int i = 0; i < 100 && !eacces; ++i) {
    usleep(20000);
    eacces = setpgid(pid, pid) == -1 && errno == EACCES;
  }
  EXPECT_TRUE(eacces);
  KillAndReap(pid);
}

TEST(PgrpTest, SessionLeaderCannotChangeGroup) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setsid() == getpid());
    // A session leader may not change its group at all, not even to itself.
    CHILD_CHECK(setpgid(0, 0) == -1 && errno == EPERM);
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      setpgid(0, 0);
      for (;;) pause();
    }
    CHILD_CHECK(setpgid(grandchild, grandchild) == 0);
    // A session leader may not move into another group.
    CHILD_CHECK(setpgid(0, grandchild) == -1 && errno == EPERM);
    kill(grandchild, SIGKILL);
    waitpid(grandchild, nullptr, 0);
  }));
}

TEST(SessionTest, GetsidZeroIsTheCaller) {
  EXPECT_THAT(getsid(0), SyscallSucceedsWithValue(getsid(getpid())));
  EXPECT_THAT(getsid(0x3ffffff), SyscallFailsWithErrno(ESRCH));
}

TEST(SessionTest, SetsidMakesANewSessionAndGroup) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setsid() == getpid());
    CHILD_CHECK(getsid(0) == getpid());
    CHILD_CHECK(getpgrp() == getpid());
  }));
}

TEST(SessionTest, GroupLeaderSetsidIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setpgid(0, 0) == 0);
    CHILD_CHECK(setsid() == -1 && errno == EPERM);
  }));
}

TEST(SessionTest, SetsidTwiceIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setsid() == getpid());
    CHILD_CHECK(setsid() == -1 && errno == EPERM);
  }));
}

TEST(SessionTest, ChildInheritsTheSession) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(setsid() == getpid());
    const pid_t sid = getpid();
    const pid_t grandchild = fork();
    if (grandchild == 0) _exit(getsid(0) == sid ? 0 : 1);
    int status;
    CHILD_CHECK(waitpid(grandchild, &status, 0) == grandchild);
    CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }));
}

TEST(SessionTest, GetsidOfAnotherSessionsProcess) {
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    for (;;) pause();
  }
  usleep(50000);
  EXPECT_THAT(getsid(pid), SyscallSucceedsWithValue(pid));
  KillAndReap(pid);
}

}  // namespace
}  // namespace syscalls_test
