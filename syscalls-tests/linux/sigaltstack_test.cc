// sigaltstack(2): setting, querying and disabling the alternate signal
// stack, SS_ONSTACK handlers running on it, and the errors (EINVAL, ENOMEM,
// EFAULT, EPERM while on it).
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

namespace syscalls_test {
namespace {

long Sigaltstack(const stack_t* ss, stack_t* old) { return syscall(SYS_sigaltstack, ss, old); }

// Restores the stack that was in place.
Cleanup KeepAltStack() {
  stack_t old = {};
  Sigaltstack(nullptr, &old);
  return Cleanup([old] {
    stack_t o = old;
    if (o.ss_flags & SS_DISABLE) {
      o.ss_flags = SS_DISABLE;
    }
    Sigaltstack(&o, nullptr);
  });
}

TEST(SigaltstackTest, DisabledByDefault) {
  stack_t got = {};
  ASSERT_THAT(Sigaltstack(nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.ss_flags, SS_DISABLE);
}

TEST(SigaltstackTest, SetThenQuery) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(SIGSTKSZ * 4);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = mem.size();
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  stack_t got = {};
  ASSERT_THAT(Sigaltstack(nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.ss_sp, mem.data());
  EXPECT_EQ(got.ss_size, mem.size());
  EXPECT_EQ(got.ss_flags, 0);
}

TEST(SigaltstackTest, OldIsReturnedWithTheNewSet) {
  Cleanup restore = KeepAltStack();
  std::vector<char> a(SIGSTKSZ * 2), b(SIGSTKSZ * 3);
  stack_t ss = {};
  ss.ss_sp = a.data();
  ss.ss_size = a.size();
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  ss.ss_sp = b.data();
  ss.ss_size = b.size();
  stack_t old = {};
  ASSERT_THAT(Sigaltstack(&ss, &old), SyscallSucceeds());
  EXPECT_EQ(old.ss_sp, a.data());
  EXPECT_EQ(old.ss_size, a.size());
}

TEST(SigaltstackTest, DisableReportsSsDisable) {
  Cleanup restore = KeepAltStack();
  stack_t ss = {};
  ss.ss_flags = SS_DISABLE;
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  stack_t got = {};
  ASSERT_THAT(Sigaltstack(nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.ss_flags, SS_DISABLE);
}

TEST(SigaltstackTest, TooSmallIsEnomem) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(MINSIGSTKSZ);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = 64;
  EXPECT_THAT(Sigaltstack(&ss, nullptr), SyscallFailsWithErrno(ENOMEM));
}

TEST(SigaltstackTest, BadFlagsAreEinval) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(SIGSTKSZ);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = mem.size();
  ss.ss_flags = 0x1234;
  EXPECT_THAT(Sigaltstack(&ss, nullptr), SyscallFailsWithErrno(EINVAL));
  ss.ss_flags = SS_ONSTACK;  // accepted as 0 for compatibility
  EXPECT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
}

TEST(SigaltstackTest, AutodisarmIsAccepted) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(SIGSTKSZ * 2);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = mem.size();
  ss.ss_flags = static_cast<int>(SS_AUTODISARM);
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  stack_t got = {};
  ASSERT_THAT(Sigaltstack(nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(static_cast<unsigned>(got.ss_flags), SS_AUTODISARM);
}

TEST(SigaltstackTest, BadPointersAreEfault) {
  EXPECT_THAT(syscall(SYS_sigaltstack, 8L, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_sigaltstack, nullptr, 8L), SyscallFailsWithErrno(EFAULT));
}

TEST(SigaltstackTest, NullBothIsANoOp) {
  EXPECT_THAT(Sigaltstack(nullptr, nullptr), SyscallSucceeds());
}

volatile uintptr_t g_handler_sp;
volatile int g_onstack_flags;
volatile long g_change_result;
volatile int g_change_errno;

void OnAltStack(int) {
  int local;
  g_handler_sp = reinterpret_cast<uintptr_t>(&local);
  stack_t cur = {};
  Sigaltstack(nullptr, &cur);
  g_onstack_flags = cur.ss_flags;
  stack_t ss = {};
  ss.ss_flags = SS_DISABLE;
  g_change_result = Sigaltstack(&ss, nullptr);
  g_change_errno = errno;
}

TEST(SigaltstackTest, SaOnstackHandlerRunsOnTheStack) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(SIGSTKSZ * 4);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = mem.size();
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  struct sigaction sa = {}, old;
  sa.sa_handler = OnAltStack;
  sa.sa_flags = SA_ONSTACK;
  ASSERT_THAT(sigaction(SIGUSR1, &sa, &old), SyscallSucceeds());
  Cleanup restore_action([old] { sigaction(SIGUSR1, &old, nullptr); });
  g_handler_sp = 0;
  ASSERT_THAT(raise(SIGUSR1), SyscallSucceeds());
  const uintptr_t lo = reinterpret_cast<uintptr_t>(mem.data());
  EXPECT_GE(g_handler_sp, lo);
  EXPECT_LT(g_handler_sp, lo + mem.size());
  EXPECT_EQ(g_onstack_flags, SS_ONSTACK);
  // Changing the stack while on it: EPERM.
  EXPECT_EQ(g_change_result, -1);
  EXPECT_EQ(g_change_errno, EPERM);
}

TEST(SigaltstackTest, HandlerWithoutSaOnstackStaysOnTheMainStack) {
  Cleanup restore = KeepAltStack();
  std::vector<char> mem(SIGSTKSZ * 4);
  stack_t ss = {};
  ss.ss_sp = mem.data();
  ss.ss_size = mem.size();
  ASSERT_THAT(Sigaltstack(&ss, nullptr), SyscallSucceeds());
  struct sigaction sa = {}, old;
  sa.sa_handler = OnAltStack;
  ASSERT_THAT(sigaction(SIGUSR2, &sa, &old), SyscallSucceeds());
  Cleanup restore_action([old] { sigaction(SIGUSR2, &old, nullptr); });
  g_handler_sp = 0;
  ASSERT_THAT(raise(SIGUSR2), SyscallSucceeds());
  const uintptr_t lo = reinterpret_cast<uintptr_t>(mem.data());
  EXPECT_TRUE(g_handler_sp < lo || g_handler_sp >= lo + mem.size());
  EXPECT_EQ(g_onstack_flags, 0);
  EXPECT_EQ(g_change_result, 0);
}

}  // namespace
}  // namespace syscalls_test
