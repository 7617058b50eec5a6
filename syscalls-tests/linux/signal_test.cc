// rt_sigaction(2), rt_sigprocmask(2), and kill/tkill/tgkill as far as they go
// without delivery (the sandbox records actions and masks but delivers no
// signal yet, so nothing here lets a signal reach a handler). Everything goes
// through the raw syscalls: glibc hides signals 32 and 33 and rewrites actions.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// The kernel's struct sigaction on x86-64.
struct KernelSigaction {
  uintptr_t handler;
  uint64_t flags;
  uintptr_t restorer;
  uint64_t mask;
};

constexpr size_t kSigsetSize = 8;
constexpr uint64_t kSaRestorer = 0x04000000;
// SA_UNSUPPORTED: a bit Linux promises never to accept, so that a program
// can see that unknown flag bits are cleared.
constexpr uint64_t kSaUnsupported = 0x00000400;

uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

long Sigaction(int sig, const KernelSigaction* act, KernelSigaction* old,
               size_t size = kSigsetSize) {
  return syscall(SYS_rt_sigaction, sig, act, old, size);
}

long Sigprocmask(int how, const uint64_t* set, uint64_t* old, size_t size = kSigsetSize) {
  return syscall(SYS_rt_sigprocmask, how, set, old, size);
}

void Handler(int) {}
void Restorer() {}

KernelSigaction HandlerAction(uint64_t mask = 0) {
  return {reinterpret_cast<uintptr_t>(&Handler), SA_RESTART | SA_SIGINFO | kSaRestorer,
          reinterpret_cast<uintptr_t>(&Restorer), mask};
}

// Puts the action of `sig` back however the test ends.
Cleanup RestoreAction(int sig) {
  KernelSigaction old;
  Sigaction(sig, nullptr, &old);
  return Cleanup([sig, old] { Sigaction(sig, &old, nullptr); });
}

Cleanup RestoreMask() {
  uint64_t old = 0;
  Sigprocmask(SIG_BLOCK, nullptr, &old);
  return Cleanup([old] { Sigprocmask(SIG_SETMASK, &old, nullptr); });
}

uint64_t CurrentMask() {
  uint64_t m = 0;
  Sigprocmask(SIG_BLOCK, nullptr, &m);
  return m;
}

// --- rt_sigaction ---

TEST(SigactionTest, InstallAndReadBack) {
  Cleanup restore = RestoreAction(SIGUSR1);
  const KernelSigaction act = HandlerAction(Bit(SIGUSR2) | Bit(SIGHUP));
  ASSERT_THAT(Sigaction(SIGUSR1, &act, nullptr), SyscallSucceeds());
  KernelSigaction got;
  ASSERT_THAT(Sigaction(SIGUSR1, nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.handler, act.handler);
  EXPECT_EQ(got.flags, act.flags);
  EXPECT_EQ(got.restorer, act.restorer);
  EXPECT_EQ(got.mask, act.mask);
}

TEST(SigactionTest, ReplacingReturnsTheOldAction) {
  Cleanup restore = RestoreAction(SIGUSR2);
  const KernelSigaction first = HandlerAction(Bit(SIGINT));
  ASSERT_THAT(Sigaction(SIGUSR2, &first, nullptr), SyscallSucceeds());
  const KernelSigaction ignore = {reinterpret_cast<uintptr_t>(SIG_IGN), kSaRestorer,
                                  reinterpret_cast<uintptr_t>(&Restorer), 0};
  KernelSigaction old;
  ASSERT_THAT(Sigaction(SIGUSR2, &ignore, &old), SyscallSucceeds());
  EXPECT_EQ(old.handler, first.handler);
  EXPECT_EQ(old.mask, first.mask);
  KernelSigaction now;
  ASSERT_THAT(Sigaction(SIGUSR2, nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.handler, reinterpret_cast<uintptr_t>(SIG_IGN));
}

TEST(SigactionTest, NeitherPointerIsANoOp) {
  EXPECT_THAT(Sigaction(SIGUSR1, nullptr, nullptr), SyscallSucceeds());
}

TEST(SigactionTest, EveryCatchableSignalCanBeSet) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    Cleanup restore = RestoreAction(sig);
    const KernelSigaction act = HandlerAction();
    EXPECT_THAT(Sigaction(sig, &act, nullptr), SyscallSucceeds()) << "signal " << sig;
  }
}

TEST(SigactionTest, WrongSigsetSizeIsEinval) {
  KernelSigaction old;
  for (size_t size : {size_t{0}, size_t{4}, size_t{7}, size_t{16}, size_t{128}}) {
    EXPECT_THAT(Sigaction(SIGUSR1, nullptr, &old, size), SyscallFailsWithErrno(EINVAL))
        << "size " << size;
  }
}

TEST(SigactionTest, SignalOutOfRangeIsEinval) {
  KernelSigaction old;
  for (int sig : {0, -1, 65, 1000}) {
    EXPECT_THAT(Sigaction(sig, nullptr, &old), SyscallFailsWithErrno(EINVAL)) << "signal " << sig;
  }
}

TEST(SigactionTest, KillAndStopCannotBeChanged) {
  const KernelSigaction act = HandlerAction();
  const KernelSigaction ignore = {reinterpret_cast<uintptr_t>(SIG_IGN), 0, 0, 0};
  const KernelSigaction dfl = {reinterpret_cast<uintptr_t>(SIG_DFL), 0, 0, 0};
  for (int sig : {SIGKILL, SIGSTOP}) {
    EXPECT_THAT(Sigaction(sig, &act, nullptr), SyscallFailsWithErrno(EINVAL)) << sig;
    EXPECT_THAT(Sigaction(sig, &ignore, nullptr), SyscallFailsWithErrno(EINVAL)) << sig;
    EXPECT_THAT(Sigaction(sig, &dfl, nullptr), SyscallFailsWithErrno(EINVAL)) << sig;
  }
}

TEST(SigactionTest, KillAndStopCanBeQueried) {
  for (int sig : {SIGKILL, SIGSTOP}) {
    KernelSigaction old;
    memset(&old, 0xff, sizeof(old));
    ASSERT_THAT(Sigaction(sig, nullptr, &old), SyscallSucceeds()) << sig;
    EXPECT_EQ(old.handler, reinterpret_cast<uintptr_t>(SIG_DFL)) << sig;
  }
}

TEST(SigactionTest, BadActPointerIsEfault) {
  EXPECT_THAT(Sigaction(SIGUSR1, static_cast<KernelSigaction*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SigactionTest, ActIsCopiedInBeforeTheSignalIsChecked) {
  // Linux reads `act` before it looks at the signal number.
  EXPECT_THAT(Sigaction(SIGKILL, static_cast<KernelSigaction*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Sigaction(0, static_cast<KernelSigaction*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SigactionTest, SigsetSizeIsCheckedFirst) {
  EXPECT_THAT(Sigaction(0, static_cast<KernelSigaction*>(kKernelAddress), nullptr, 4),
              SyscallFailsWithErrno(EINVAL));
}

TEST(SigactionTest, BadOldPointerIsEfaultAfterTheActionIsSet) {
  Cleanup restore = RestoreAction(SIGUSR1);
  const KernelSigaction act = HandlerAction(Bit(SIGTERM));
  EXPECT_THAT(Sigaction(SIGUSR1, &act, static_cast<KernelSigaction*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
  KernelSigaction now;
  ASSERT_THAT(Sigaction(SIGUSR1, nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.handler, act.handler);
}

TEST(SigactionTest, KillAndStopAreDroppedFromTheHandlerMask) {
  Cleanup restore = RestoreAction(SIGUSR1);
  const KernelSigaction act = HandlerAction(~uint64_t{0});
  ASSERT_THAT(Sigaction(SIGUSR1, &act, nullptr), SyscallSucceeds());
  KernelSigaction got;
  ASSERT_THAT(Sigaction(SIGUSR1, nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.mask, ~(Bit(SIGKILL) | Bit(SIGSTOP)));
}

TEST(SigactionTest, UnknownFlagBitsAreCleared) {
  Cleanup restore = RestoreAction(SIGUSR1);
  KernelSigaction act = HandlerAction();
  act.flags |= kSaUnsupported;
  ASSERT_THAT(Sigaction(SIGUSR1, &act, nullptr), SyscallSucceeds());
  KernelSigaction got;
  ASSERT_THAT(Sigaction(SIGUSR1, nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.flags & kSaUnsupported, 0u);
  EXPECT_EQ(got.flags, act.flags & ~kSaUnsupported);
}

TEST(SigactionTest, KnownFlagsAreKept) {
  Cleanup restore = RestoreAction(SIGUSR2);
  KernelSigaction act = HandlerAction();
  act.flags = SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND | SA_SIGINFO | kSaRestorer;
  ASSERT_THAT(Sigaction(SIGUSR2, &act, nullptr), SyscallSucceeds());
  KernelSigaction got;
  ASSERT_THAT(Sigaction(SIGUSR2, nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.flags, act.flags);
}

TEST(SigactionTest, NoCldStopAndNoCldWaitOnSigchld) {
  Cleanup restore = RestoreAction(SIGCHLD);
  const KernelSigaction act = {reinterpret_cast<uintptr_t>(SIG_DFL),
                               SA_NOCLDSTOP | SA_NOCLDWAIT | kSaRestorer,
                               reinterpret_cast<uintptr_t>(&Restorer), 0};
  ASSERT_THAT(Sigaction(SIGCHLD, &act, nullptr), SyscallSucceeds());
  KernelSigaction got;
  ASSERT_THAT(Sigaction(SIGCHLD, nullptr, &got), SyscallSucceeds());
  EXPECT_EQ(got.flags, act.flags);
}

// --- rt_sigprocmask ---

TEST(SigprocmaskTest, BlockUnblockAndSetmask) {
  Cleanup restore = RestoreMask();
  const uint64_t base = CurrentMask();
  const uint64_t a = Bit(SIGUSR1), b = Bit(SIGUSR2);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &a, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), base | a);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &b, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), base | a | b);
  ASSERT_THAT(Sigprocmask(SIG_UNBLOCK, &a, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), (base | b) & ~a);
  const uint64_t only = Bit(SIGHUP);
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &only, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), only);
}

TEST(SigprocmaskTest, OldMaskIsTheMaskBeforeTheChange) {
  Cleanup restore = RestoreMask();
  const uint64_t first = Bit(SIGUSR1);
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &first, nullptr), SyscallSucceeds());
  const uint64_t second = Bit(SIGUSR2);
  uint64_t old = 0;
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &second, &old), SyscallSucceeds());
  EXPECT_EQ(old, first);
}

TEST(SigprocmaskTest, KillAndStopCannotBeBlocked) {
  Cleanup restore = RestoreMask();
  const uint64_t all = ~uint64_t{0};
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &all, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), ~(Bit(SIGKILL) | Bit(SIGSTOP)));
  const uint64_t kill_stop = Bit(SIGKILL) | Bit(SIGSTOP);
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &kill_stop, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), 0u);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &kill_stop, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), 0u);
}

TEST(SigprocmaskTest, RealtimeSignalsCanBeBlocked) {
  Cleanup restore = RestoreMask();
  const uint64_t rt = Bit(32) | Bit(33) | Bit(SIGRTMAX) | Bit(50);
  ASSERT_THAT(Sigprocmask(SIG_SETMASK, &rt, nullptr), SyscallSucceeds());
  EXPECT_EQ(CurrentMask(), rt);
}

TEST(SigprocmaskTest, WrongSigsetSizeIsEinval) {
  uint64_t old;
  for (size_t size : {size_t{0}, size_t{4}, size_t{16}}) {
    EXPECT_THAT(Sigprocmask(SIG_BLOCK, nullptr, &old, size), SyscallFailsWithErrno(EINVAL)) << size;
  }
}

TEST(SigprocmaskTest, BadHowIsEinval) {
  Cleanup restore = RestoreMask();
  const uint64_t before = CurrentMask();
  const uint64_t set = Bit(SIGUSR1);
  for (int how : {3, -1, 100}) {
    EXPECT_THAT(Sigprocmask(how, &set, nullptr), SyscallFailsWithErrno(EINVAL)) << how;
  }
  EXPECT_EQ(CurrentMask(), before);
}

TEST(SigprocmaskTest, HowIsIgnoredWithoutANewSet) {
  uint64_t old;
  EXPECT_THAT(Sigprocmask(12345, nullptr, &old), SyscallSucceeds());
}

TEST(SigprocmaskTest, BadSetPointerIsEfault) {
  EXPECT_THAT(Sigprocmask(SIG_BLOCK, static_cast<uint64_t*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SigprocmaskTest, SetIsCopiedInBeforeHowIsChecked) {
  EXPECT_THAT(Sigprocmask(12345, static_cast<uint64_t*>(kKernelAddress), nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SigprocmaskTest, BadOldPointerIsEfaultAfterTheMaskIsSet) {
  Cleanup restore = RestoreMask();
  const uint64_t set = Bit(SIGWINCH);
  EXPECT_THAT(Sigprocmask(SIG_SETMASK, &set, static_cast<uint64_t*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(CurrentMask(), set);
}

TEST(SigprocmaskTest, NeitherPointerIsANoOp) {
  EXPECT_THAT(Sigprocmask(SIG_BLOCK, nullptr, nullptr), SyscallSucceeds());
}

// --- kill / tkill / tgkill, without delivery ---

TEST(KillTest, SignalZeroChecksThatTheProcessExists) {
  EXPECT_THAT(kill(getpid(), 0), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_tkill, gettid(), 0), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), gettid(), 0), SyscallSucceeds());
}

TEST(KillTest, NonexistentProcessIsEsrch) {
  constexpr pid_t kNoSuchPid = 1 << 22;  // PID_MAX_LIMIT
  EXPECT_THAT(kill(kNoSuchPid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_tkill, kNoSuchPid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_tgkill, kNoSuchPid, kNoSuchPid, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, ThreadOfAnotherGroupIsEsrch) {
  EXPECT_THAT(syscall(SYS_tgkill, getpid() + 1000000, gettid(), 0), SyscallFailsWithErrno(ESRCH));
}

TEST(KillTest, InvalidSignalIsEinval) {
  EXPECT_THAT(kill(getpid(), 65), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(kill(getpid(), -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tkill, gettid(), 65), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), gettid(), 65), SyscallFailsWithErrno(EINVAL));
}

TEST(KillTest, NonPositiveThreadIdsAreEinval) {
  EXPECT_THAT(syscall(SYS_tkill, 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tkill, -1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, 0, gettid(), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), 0, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(KillTest, IgnoredByDefaultSignalToSelfIsDiscarded) {
  // SIGWINCH's default action is to ignore it: sending it changes nothing.
  EXPECT_THAT(kill(getpid(), SIGWINCH), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_tgkill, getpid(), gettid(), SIGURG), SyscallSucceeds());
}

TEST(KillTest, ExplicitlyIgnoredSignalToSelfIsDiscarded) {
  Cleanup restore = RestoreAction(SIGUSR1);
  const KernelSigaction ignore = {reinterpret_cast<uintptr_t>(SIG_IGN), kSaRestorer,
                                  reinterpret_cast<uintptr_t>(&Restorer), 0};
  ASSERT_THAT(Sigaction(SIGUSR1, &ignore, nullptr), SyscallSucceeds());
  EXPECT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_tkill, gettid(), SIGUSR1), SyscallSucceeds());
}

TEST(RtSigpendingTest, BlockedSignalIsPendingUntilIgnored) {
  Cleanup restore = RestoreMask();
  const uint64_t block = Bit(SIGWINCH);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGWINCH), SyscallSucceeds());
  // A blocked signal stays pending even when its default action is to
  // ignore it.
  uint64_t pending = 0;
  ASSERT_THAT(syscall(SYS_rt_sigpending, &pending, kSigsetSize), SyscallSucceeds());
  EXPECT_EQ(pending & Bit(SIGWINCH), Bit(SIGWINCH));
  // Ignoring it explicitly discards it.
  Cleanup restore_action = RestoreAction(SIGWINCH);
  const KernelSigaction ignore = {reinterpret_cast<uintptr_t>(SIG_IGN), kSaRestorer,
                                  reinterpret_cast<uintptr_t>(&Restorer), 0};
  ASSERT_THAT(Sigaction(SIGWINCH, &ignore, nullptr), SyscallSucceeds());
  ASSERT_THAT(syscall(SYS_rt_sigpending, &pending, kSigsetSize), SyscallSucceeds());
  EXPECT_EQ(pending & Bit(SIGWINCH), 0u);
}

long Sigpending(uint64_t* set, size_t size = kSigsetSize) {
  return syscall(SYS_rt_sigpending, set, size);
}

TEST(RtSigpendingTest, SizeUpToASigsetIsAccepted) {
  // Linux copies `size` bytes, and refuses only more than its sigset_t.
  uint64_t pending = ~uint64_t{0};
  EXPECT_THAT(Sigpending(&pending, 16), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Sigpending(&pending, ~size_t{0}), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(pending, ~uint64_t{0});
  EXPECT_THAT(Sigpending(&pending, 0), SyscallSucceeds());
  EXPECT_EQ(pending, ~uint64_t{0});
  EXPECT_THAT(Sigpending(&pending, 4), SyscallSucceeds());
  EXPECT_EQ(pending >> 32, 0xffffffffu) << "only 4 bytes are written";
  EXPECT_THAT(Sigpending(&pending, kSigsetSize), SyscallSucceeds());
}

TEST(RtSigpendingTest, BadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_rt_sigpending, kKernelAddress, kSigsetSize),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_rt_sigpending, nullptr, kSigsetSize), SyscallFailsWithErrno(EFAULT));
  // The size is checked first.
  EXPECT_THAT(syscall(SYS_rt_sigpending, kKernelAddress, size_t{16}),
              SyscallFailsWithErrno(EINVAL));
}

TEST(RtSigpendingTest, UnblockingTakesTheSignalOffThePendingSet) {
  Cleanup restore = RestoreMask();
  const uint64_t block = Bit(SIGURG);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGURG), SyscallSucceeds());
  uint64_t pending = 0;
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & Bit(SIGURG), Bit(SIGURG));
  // Unblocked, it is delivered: its default action is to do nothing.
  ASSERT_THAT(Sigprocmask(SIG_UNBLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & Bit(SIGURG), 0u);
}

TEST(RtSigpendingTest, OnlyBlockedSignalsArePending) {
  // An unblocked signal whose action is to ignore it never waits.
  Cleanup restore = RestoreMask();
  const uint64_t unblock = Bit(SIGURG);
  ASSERT_THAT(Sigprocmask(SIG_UNBLOCK, &unblock, nullptr), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGURG), SyscallSucceeds());
  uint64_t pending = 0;
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & Bit(SIGURG), 0u);
}

TEST(RtSigpendingTest, SigcontAndStopSignalsCancelEachOther) {
  // A stop signal discards a pending SIGCONT, and SIGCONT discards pending
  // stop signals, even while blocked.
  Cleanup restore = RestoreMask();
  Cleanup restore_tstp = RestoreAction(SIGTSTP);
  Cleanup restore_cont = RestoreAction(SIGCONT);
  const uint64_t block = Bit(SIGTSTP) | Bit(SIGTTIN) | Bit(SIGCONT);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGTSTP), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGTTIN), SyscallSucceeds());
  uint64_t pending = 0;
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, Bit(SIGTSTP) | Bit(SIGTTIN));
  ASSERT_THAT(kill(getpid(), SIGCONT), SyscallSucceeds());
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, Bit(SIGCONT));
  ASSERT_THAT(kill(getpid(), SIGTSTP), SyscallSucceeds());
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, Bit(SIGTSTP));
  // Never let a stop signal through: ignoring it discards it.
  const KernelSigaction ignore = {reinterpret_cast<uintptr_t>(SIG_IGN), kSaRestorer,
                                  reinterpret_cast<uintptr_t>(&Restorer), 0};
  ASSERT_THAT(Sigaction(SIGTSTP, &ignore, nullptr), SyscallSucceeds());
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, 0u);
}

TEST(RtSigpendingTest, DefaultActionThatIgnoresDiscardsAPendingSignal) {
  // Setting SIG_DFL where the default is to ignore (SIGCHLD) discards it too.
  Cleanup restore = RestoreMask();
  Cleanup restore_action = RestoreAction(SIGCHLD);
  const uint64_t block = Bit(SIGCHLD);
  ASSERT_THAT(Sigprocmask(SIG_BLOCK, &block, nullptr), SyscallSucceeds());
  ASSERT_THAT(kill(getpid(), SIGCHLD), SyscallSucceeds());
  uint64_t pending = 0;
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, block);
  const KernelSigaction dfl = {reinterpret_cast<uintptr_t>(SIG_DFL), kSaRestorer,
                               reinterpret_cast<uintptr_t>(&Restorer), 0};
  ASSERT_THAT(Sigaction(SIGCHLD, &dfl, nullptr), SyscallSucceeds());
  ASSERT_THAT(Sigpending(&pending), SyscallSucceeds());
  EXPECT_EQ(pending & block, 0u);
}

}  // namespace
}  // namespace syscalls_test
