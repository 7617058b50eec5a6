// Runs part of a test in a forked child process, for what must not touch the
// test process itself: dropping privileges, lowering a hard limit, dying.
//
//   EXPECT_TRUE(InForkedChild([] {
//     CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
//     CHILD_CHECK(mlock(p, n) == -1 && errno == EPERM);
//   }));
//
// gtest's assertions mean nothing in the child; CHILD_CHECK reports the failed
// condition (with errno) to the parent through a pipe and exits 1. The parent
// waits and turns anything but exit status 0 into a failure that carries the
// child's report. The child leaves with _exit: no gtest teardown, no atexit.
#ifndef SYSCALLS_TESTS_UTIL_FORKED_CHILD_H_
#define SYSCALLS_TESTS_UTIL_FORKED_CHILD_H_

#include <sys/types.h>

#include <functional>

#include "gtest/gtest.h"

namespace syscalls_test {

// Success when `fn` returns in the child and the child exits 0.
::testing::AssertionResult InForkedChild(const std::function<void()>& fn);

// In a forked child: when running as root, become user and group 65534
// (nobody) with no supplementary groups, which also empties the effective
// capability set; otherwise do nothing. CHILD_CHECKs each step.
void DropPrivilegesInChild();

// Forks a child that only waits for signals (pause() forever): a target for
// kill, setpgid, wait and the like. Returns the child's pid, or -1 with errno.
pid_t ForkPausingChild();

// waitpid(pid, &status, 0), retried on EINTR; returns the status (0 if the
// wait failed).
int WaitStatus(pid_t pid);

// waitpid(pid), retried on EINTR: the exit code, 128 + the signal number if a
// signal killed it, -1 if the wait failed.
int WaitExitCode(pid_t pid);

// SIGKILL to `pid`, then WaitStatus: ends a ForkPausingChild.
int KillAndReap(pid_t pid);

namespace internal {
[[noreturn]] void ChildCheckFailed(const char* file, int line, const char* cond, int err);
}  // namespace internal

#define CHILD_CHECK(cond)                                                                       \
  do {                                                                                          \
    if (!(cond)) ::syscalls_test::internal::ChildCheckFailed(__FILE__, __LINE__, #cond, errno); \
  } while (0)

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_FORKED_CHILD_H_
