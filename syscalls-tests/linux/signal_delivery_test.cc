// Signal delivery: handlers and their siginfo and ucontext, the mask while a
// handler runs, SA_RESETHAND/SA_NODEFER/SA_ONSTACK, sigaltstack, rt_sigreturn
// restoring (and taking changes to) the interrupted context, faults,
// rt_sigsuspend, rt_sigtimedwait, rt_sigqueueinfo, SIGCHLD, and syscall
// restart (SA_RESTART, EINTR).
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
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

// Installs `handler` (SA_SIGINFO) for `sig` with `flags` until the scope ends.
class ScopedHandler {
 public:
  ScopedHandler(int sig, void (*handler)(int, siginfo_t*, void*), int flags = 0,
                const sigset_t* mask = nullptr)
      : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    if (mask != nullptr) sa.sa_mask = *mask;
    EXPECT_EQ(sigaction(sig, &sa, &old_), 0);
  }
  ~ScopedHandler() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_;
};

// Blocks nothing for the scope (the test runner may have left a mask).
class ScopedMask {
 public:
  explicit ScopedMask(const sigset_t& m) { sigprocmask(SIG_SETMASK, &m, &old_); }
  ~ScopedMask() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

sigset_t Empty() {
  sigset_t s;
  sigemptyset(&s);
  return s;
}

sigset_t Only(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  return s;
}

volatile sig_atomic_t g_count;
volatile int g_signo;
volatile int g_code;
volatile pid_t g_pid;
volatile uid_t g_uid;
volatile int g_value;
sigset_t g_mask_in_handler;

void Record(int sig, siginfo_t* info, void*) {
  g_count = g_count + 1;
  g_signo = sig;
  g_code = info->si_code;
  g_pid = info->si_pid;
  g_uid = info->si_uid;
  g_value = info->si_value.sival_int;
  sigprocmask(SIG_SETMASK, nullptr, &g_mask_in_handler);
}

void Reset() {
  g_count = 0;
  g_signo = 0;
  g_code = 0;
  g_pid = 0;
  g_uid = 0;
  g_value = 0;
}

TEST(SignalDeliveryTest, KillRunsTheHandlerWithSiginfo) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR1, Record);
  Reset();
  ASSERT_THAT(kill(getpid(), SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_signo, SIGUSR1);
  EXPECT_EQ(g_code, SI_USER);
  EXPECT_EQ(g_pid, getpid());
  EXPECT_EQ(g_uid, getuid());
}

TEST(SignalDeliveryTest, TgkillIsSiTkill) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR2, Record);
  Reset();
  ASSERT_THAT(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2), SyscallSucceeds());
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_code, SI_TKILL);
}

TEST(SignalDeliveryTest, SigqueueCarriesAValue) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGRTMIN + 1, Record);
  Reset();
  union sigval v;
  v.sival_int = 1234;
  ASSERT_THAT(sigqueue(getpid(), SIGRTMIN + 1, v), SyscallSucceeds());
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_code, SI_QUEUE);
  EXPECT_EQ(g_value, 1234);
}

TEST(SignalDeliveryTest, SigqueueinfoMayNotPoseAsTheKernelToOthers) {
  siginfo_t info = {};
  info.si_code = SI_KERNEL;  // > 0: the kernel
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    for (;;) pause();
  }
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &info), SyscallFailsWithErrno(EPERM));
  info.si_code = SI_TKILL;
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &info), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, nullptr), SyscallFailsWithErrno(EFAULT));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(SignalDeliveryTest, HandlerRunsWithTheSignalAndSaMaskBlocked) {
  ScopedMask m(Empty());
  const sigset_t extra = Only(SIGUSR2);
  ScopedHandler h(SIGUSR1, Record, 0, &extra);
  Reset();
  kill(getpid(), SIGUSR1);
  ASSERT_EQ(g_count, 1);
  EXPECT_TRUE(sigismember(&g_mask_in_handler, SIGUSR1));
  EXPECT_TRUE(sigismember(&g_mask_in_handler, SIGUSR2));
  // And the mask is back after the handler returns.
  sigset_t now;
  sigprocmask(SIG_SETMASK, nullptr, &now);
  EXPECT_FALSE(sigismember(&now, SIGUSR1));
  EXPECT_FALSE(sigismember(&now, SIGUSR2));
}

TEST(SignalDeliveryTest, SaNodeferLeavesTheSignalUnblocked) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR1, Record, SA_NODEFER);
  Reset();
  kill(getpid(), SIGUSR1);
  ASSERT_EQ(g_count, 1);
  EXPECT_FALSE(sigismember(&g_mask_in_handler, SIGUSR1));
}

TEST(SignalDeliveryTest, SaResethandRestoresTheDefault) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR1, Record, SA_RESETHAND);
  Reset();
  kill(getpid(), SIGUSR1);
  EXPECT_EQ(g_count, 1);
  struct sigaction now;
  sigaction(SIGUSR1, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(SignalDeliveryTest, BlockedSignalWaitsUntilUnblocked) {
  ScopedMask m(Only(SIGUSR1));
  ScopedHandler h(SIGUSR1, Record);
  Reset();
  kill(getpid(), SIGUSR1);
  EXPECT_EQ(g_count, 0);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_TRUE(sigismember(&pending, SIGUSR1));
  // Standard signals do not queue: a second one merges.
  kill(getpid(), SIGUSR1);
  const sigset_t none = Empty();
  sigprocmask(SIG_SETMASK, &none, nullptr);
  EXPECT_EQ(g_count, 1);
}

TEST(SignalDeliveryTest, RealTimeSignalsQueueInOrder) {
  static int order[8];
  static int n;
  n = 0;
  struct Local {
    static void H(int sig, siginfo_t* info, void*) {
      if (n < 8) order[n++] = sig * 100 + info->si_value.sival_int;
    }
  };
  ScopedMask m(Empty());
  ScopedHandler h1(SIGRTMIN + 2, Local::H);
  ScopedHandler h2(SIGRTMIN + 3, Local::H);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGRTMIN + 2);
  sigaddset(&block, SIGRTMIN + 3);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  union sigval v;
  v.sival_int = 1;
  sigqueue(getpid(), SIGRTMIN + 3, v);
  v.sival_int = 2;
  sigqueue(getpid(), SIGRTMIN + 2, v);
  v.sival_int = 3;
  sigqueue(getpid(), SIGRTMIN + 2, v);
  sigprocmask(SIG_UNBLOCK, &block, nullptr);
  ASSERT_EQ(n, 3);
  // Linux sets up a frame for every signal it can deliver before going back
  // to user space: the lowest signal's first (SIGRTMIN+2, value 2), which
  // blocks it, then SIGRTMIN+3's on top, which therefore runs first; the
  // second SIGRTMIN+2 comes when the first handler's sigreturn unblocks it.
  EXPECT_EQ(order[0], (SIGRTMIN + 3) * 100 + 1);
  EXPECT_EQ(order[1], (SIGRTMIN + 2) * 100 + 2);
  EXPECT_EQ(order[2], (SIGRTMIN + 2) * 100 + 3);
}

TEST(SignalDeliveryTest, IgnoredSignalsAreDiscarded) {
  ScopedMask m(Only(SIGUSR1));
  struct sigaction ign = {}, old;
  ign.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ign, &old);
  Cleanup restore([&] { sigaction(SIGUSR1, &old, nullptr); });
  // Blocked: it stays pending even though ignored...
  kill(getpid(), SIGUSR1);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_TRUE(sigismember(&pending, SIGUSR1));
  // ...until the action is set again to ignore it.
  sigaction(SIGUSR1, &ign, nullptr);
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
}

// --- the frame ---

volatile uint64_t g_rip_seen;
void BumpRip(int, siginfo_t*, void* uc) {
  auto* ctx = static_cast<ucontext_t*>(uc);
  g_rip_seen = ctx->uc_mcontext.gregs[REG_RIP];
  // Change a register the interrupted code will see.
  ctx->uc_mcontext.gregs[REG_RBX] = 0x1234567;
}

TEST(SignalDeliveryTest, SigreturnRestoresTheChangedContext) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR1, BumpRip);
  uint64_t rbx;
  // kill() from inline asm so that rbx is live across the syscall.
  asm volatile(
      "mov $0, %%rbx\n\t"
      "syscall\n\t"
      "mov %%rbx, %0\n\t"
      : "=r"(rbx)
      : "a"(SYS_kill), "D"(getpid()), "S"(SIGUSR1)
      : "rbx", "rcx", "r11", "memory");
  EXPECT_EQ(rbx, 0x1234567u);
  EXPECT_NE(g_rip_seen, 0u);
}

volatile double g_fp_in_handler;
void ClobberFp(int, siginfo_t*, void*) {
  volatile double x = 3.25;
  g_fp_in_handler = x * 2;
  asm volatile("xorps %%xmm0, %%xmm0\n\txorps %%xmm7, %%xmm7" ::: "xmm0", "xmm7");
}

const double kOneAndAHalf = 1.5;

TEST(SignalDeliveryTest, FpStateSurvivesAHandler) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGUSR1, ClobberFp);
  double out;
  asm volatile(
      "movsd %1, %%xmm7\n\t"
      "syscall\n\t"
      "movsd %%xmm7, %0\n\t"
      : "=m"(out)
      : "m"(kOneAndAHalf), "a"(SYS_kill), "D"(getpid()), "S"(SIGUSR1)
      : "xmm7", "rcx", "r11", "memory");
  EXPECT_EQ(out, 1.5);
  EXPECT_EQ(g_fp_in_handler, 6.5);
}

sigjmp_buf g_jmp;
volatile void* g_fault_addr;
volatile int g_fault_code;
void OnSegv(int, siginfo_t* info, void*) {
  g_fault_addr = info->si_addr;
  g_fault_code = info->si_code;
  siglongjmp(g_jmp, 1);
}

TEST(SignalDeliveryTest, SegvHandlerGetsTheAddress) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGSEGV, OnSegv);
  volatile int* bad = reinterpret_cast<volatile int*>(0x1000);
  if (sigsetjmp(g_jmp, 1) == 0) {
    *bad = 1;
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_fault_addr, reinterpret_cast<void*>(0x1000));
  EXPECT_EQ(g_fault_code, SEGV_MAPERR);
  // A protection fault.
  void* p = mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  if (sigsetjmp(g_jmp, 1) == 0) {
    *static_cast<volatile int*>(p) = 1;
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_fault_addr, p);
  EXPECT_EQ(g_fault_code, SEGV_ACCERR);
  munmap(p, kPageSize);
}

volatile uintptr_t g_sp_in_handler;
void RecordSp(int, siginfo_t*, void*) {
  int local;
  g_sp_in_handler = reinterpret_cast<uintptr_t>(&local);
}

TEST(SignalDeliveryTest, SaOnstackUsesTheAlternateStack) {
  ScopedMask m(Empty());
  std::vector<char> stack(64 * 1024);
  stack_t ss = {}, old;
  ss.ss_sp = stack.data();
  ss.ss_size = stack.size();
  ASSERT_THAT(sigaltstack(&ss, &old), SyscallSucceeds());
  Cleanup restore([&] { sigaltstack(&old, nullptr); });
  ScopedHandler h(SIGUSR1, RecordSp, SA_ONSTACK);
  kill(getpid(), SIGUSR1);
  const uintptr_t base = reinterpret_cast<uintptr_t>(stack.data());
  EXPECT_GT(g_sp_in_handler, base);
  EXPECT_LT(g_sp_in_handler, base + stack.size());
  // Without SA_ONSTACK the normal stack.
  ScopedHandler h2(SIGUSR2, RecordSp);
  kill(getpid(), SIGUSR2);
  EXPECT_FALSE(g_sp_in_handler > base && g_sp_in_handler < base + stack.size());
}

TEST(SigaltstackTest, Errors) {
  stack_t ss = {};
  ss.ss_size = 1024;  // below MINSIGSTKSZ
  ss.ss_sp = malloc(1024);
  EXPECT_THAT(sigaltstack(&ss, nullptr), SyscallFailsWithErrno(ENOMEM));
  ss.ss_flags = 0x1234;
  ss.ss_size = 64 * 1024;
  EXPECT_THAT(sigaltstack(&ss, nullptr), SyscallFailsWithErrno(EINVAL));
  free(ss.ss_sp);
  EXPECT_THAT(syscall(SYS_sigaltstack, reinterpret_cast<void*>(8), nullptr),
              SyscallFailsWithErrno(EFAULT));
  stack_t now;
  ASSERT_THAT(sigaltstack(nullptr, &now), SyscallSucceeds());
}

TEST(SigaltstackTest, DisableAndQuery) {
  std::vector<char> stack(64 * 1024);
  stack_t ss = {}, old, now;
  ss.ss_sp = stack.data();
  ss.ss_size = stack.size();
  ASSERT_THAT(sigaltstack(&ss, &old), SyscallSucceeds());
  ASSERT_THAT(sigaltstack(nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.ss_sp, stack.data());
  EXPECT_EQ(now.ss_size, stack.size());
  EXPECT_EQ(now.ss_flags, 0);
  ss.ss_flags = SS_DISABLE;
  ASSERT_THAT(sigaltstack(&ss, nullptr), SyscallSucceeds());
  ASSERT_THAT(sigaltstack(nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.ss_flags, SS_DISABLE);
  sigaltstack(&old, nullptr);
}

TEST(SignalDeliveryTest, NoRestorerIsFatal) {
  // x86-64 requires SA_RESTORER: without it the frame cannot be set up and
  // the process dies of SIGSEGV.
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    struct {
      uintptr_t handler;
      uint64_t flags;
      uintptr_t restorer;
      uint64_t mask;
    } act = {reinterpret_cast<uintptr_t>(+[](int) {}), 0, 0, 0};
    syscall(SYS_rt_sigaction, SIGUSR1, &act, nullptr, size_t{8});
    kill(getpid(), SIGUSR1);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
}

// --- waiting for signals ---

TEST(SigsuspendTest, ReturnsEintrAfterTheHandlerAndRestoresTheMask) {
  ScopedMask m(Only(SIGUSR1));
  ScopedHandler h(SIGUSR1, Record);
  Reset();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    usleep(50000);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  const sigset_t none = Empty();
  EXPECT_THAT(sigsuspend(&none), SyscallFailsWithErrno(EINTR));
  EXPECT_EQ(g_count, 1);
  sigset_t now;
  sigprocmask(SIG_SETMASK, nullptr, &now);
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
  waitpid(pid, nullptr, 0);
}

TEST(SigtimedwaitTest, TakesAPendingSignalWithoutAHandler) {
  ScopedMask m(Only(SIGUSR1));
  ScopedHandler h(SIGUSR1, Record);
  Reset();
  kill(getpid(), SIGUSR1);
  const sigset_t set = Only(SIGUSR1);
  siginfo_t info;
  timespec zero = {0, 0};
  EXPECT_THAT(sigtimedwait(&set, &info, &zero), SyscallSucceedsWithValue(SIGUSR1));
  EXPECT_EQ(info.si_signo, SIGUSR1);
  EXPECT_EQ(info.si_pid, getpid());
  EXPECT_EQ(g_count, 0);
  // Nothing pending: EAGAIN at the timeout.
  timespec short_wait = {0, 10000000};
  EXPECT_THAT(sigtimedwait(&set, &info, &short_wait), SyscallFailsWithErrno(EAGAIN));
  timespec bad = {0, 1000000000};
  EXPECT_THAT(sigtimedwait(&set, &info, &bad), SyscallFailsWithErrno(EINVAL));
}

TEST(SigtimedwaitTest, WakesWhenASignalArrives) {
  ScopedMask m(Only(SIGUSR2));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    usleep(50000);
    kill(parent, SIGUSR2);
    _exit(0);
  }
  const sigset_t set = Only(SIGUSR2);
  EXPECT_THAT(sigwaitinfo(&set, nullptr), SyscallSucceedsWithValue(SIGUSR2));
  waitpid(pid, nullptr, 0);
}

// --- SIGCHLD and restarts ---

TEST(SigchldTest, ParentGetsSigchldWithTheStatus) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGCHLD, Record);
  Reset();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(6);
  // The child may be reaped first or the signal may come first: wait for
  // both, then look.
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  for (int i = 0; i < 100 && g_count == 0; ++i) usleep(1000);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_code, CLD_EXITED);
  EXPECT_EQ(g_pid, pid);
}

void Nothing(int, siginfo_t*, void*) {}

TEST(RestartTest, InterruptedWaitIsEintrWithoutSaRestart) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGALRM, Nothing);
  const pid_t child = fork();
  ASSERT_THAT(child, SyscallSucceeds());
  if (child == 0) {
    usleep(300000);
    _exit(0);
  }
  const pid_t parent = getpid();
  const pid_t killer = fork();
  ASSERT_THAT(killer, SyscallSucceeds());
  if (killer == 0) {
    usleep(50000);
    kill(parent, SIGALRM);
    _exit(0);
  }
  EXPECT_THAT(waitpid(child, nullptr, 0), SyscallFailsWithErrno(EINTR));
  waitpid(killer, nullptr, 0);
  waitpid(child, nullptr, 0);
}

TEST(RestartTest, InterruptedWaitRestartsWithSaRestart) {
  ScopedMask m(Empty());
  ScopedHandler h(SIGALRM, Record, SA_RESTART);
  Reset();
  const pid_t child = fork();
  ASSERT_THAT(child, SyscallSucceeds());
  if (child == 0) {
    usleep(300000);
    _exit(3);
  }
  const pid_t parent = getpid();
  const pid_t killer = fork();
  ASSERT_THAT(killer, SyscallSucceeds());
  if (killer == 0) {
    usleep(50000);
    kill(parent, SIGALRM);
    _exit(0);
  }
  int status;
  EXPECT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(g_count, 1);
  waitpid(killer, nullptr, 0);
}

TEST(RestartTest, StopAndContinueRestartTheSyscall) {
  // A stopped and continued process's interrupted syscall restarts: no
  // handler ran, so nobody sees EINTR.
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    timespec t = {0, 200000000};
    const int r = nanosleep(&t, nullptr);
    _exit(r == 0 ? 0 : 1);
  }
  usleep(50000);
  kill(pid, SIGSTOP);
  int status;
  ASSERT_THAT(waitpid(pid, &status, WUNTRACED), SyscallSucceedsWithValue(pid));
  ASSERT_TRUE(WIFSTOPPED(status));
  kill(pid, SIGCONT);
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(KillPermissionTest, UnprivilegedCannotSignalOthers) {
  SKIP_IF(getuid() != 0);
  const pid_t victim = fork();
  ASSERT_THAT(victim, SyscallSucceeds());
  if (victim == 0) {
    for (;;) pause();
  }
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    if (syscall(SYS_setresuid, 65534, 65534, 65534) != 0) _exit(2);
    _exit(kill(victim, SIGTERM) == -1 && errno == EPERM ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  kill(victim, SIGKILL);
  waitpid(victim, nullptr, 0);
}

// --- signalfd ---

TEST(SignalfdTest, ReadsPendingSignals) {
  ScopedMask m(Only(SIGUSR1));
  const sigset_t set = Only(SIGUSR1);
  const int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  ASSERT_THAT(fd, SyscallSucceeds());
  Cleanup close_fd([fd] { close(fd); });
  signalfd_siginfo si;
  EXPECT_THAT(read(fd, &si, sizeof(si)), SyscallFailsWithErrno(EAGAIN));
  union sigval v;
  v.sival_int = 77;
  ASSERT_THAT(sigqueue(getpid(), SIGUSR1, v), SyscallSucceeds());
  ASSERT_THAT(read(fd, &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(si.ssi_code, SI_QUEUE);
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(si.ssi_int, 77);
  // Taken: no longer pending.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGUSR1));
  EXPECT_THAT(fcntl(fd, F_GETFD), SyscallSucceedsWithValue(FD_CLOEXEC));
}

TEST(SignalfdTest, ReadsSeveralAtOnceAndOnlyItsMask) {
  sigset_t both = Only(SIGUSR1);
  sigaddset(&both, SIGUSR2);
  ScopedMask m(both);
  const sigset_t set = Only(SIGUSR1);
  const int fd = signalfd(-1, &set, SFD_NONBLOCK);
  ASSERT_THAT(fd, SyscallSucceeds());
  Cleanup close_fd([fd] { close(fd); });
  kill(getpid(), SIGUSR2);
  signalfd_siginfo si[4];
  // SIGUSR2 is not in the mask.
  EXPECT_THAT(read(fd, si, sizeof(si)), SyscallFailsWithErrno(EAGAIN));
  // The mask can be changed through signalfd on the same fd.
  sigset_t more = Only(SIGUSR2);
  ASSERT_THAT(signalfd(fd, &more, 0), SyscallSucceedsWithValue(fd));
  ASSERT_THAT(read(fd, si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si[0])));
  EXPECT_EQ(si[0].ssi_signo, static_cast<uint32_t>(SIGUSR2));
}

TEST(SignalfdTest, Errors) {
  const sigset_t set = Only(SIGUSR1);
  EXPECT_THAT(signalfd(-1, &set, 0x1234), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_signalfd4, -1, &set, 4, size_t{0}), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_signalfd4, -1, reinterpret_cast<void*>(8), 8, size_t{0}),
              SyscallFailsWithErrno(EFAULT));
  // An fd that is not a signalfd.
  EXPECT_THAT(signalfd(0, &set, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(signalfd(12345, &set, 0), SyscallFailsWithErrno(EBADF));
  const int fd = signalfd(-1, &set, SFD_NONBLOCK);
  ASSERT_THAT(fd, SyscallSucceeds());
  char small[16];
  EXPECT_THAT(read(fd, small, sizeof(small)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(write(fd, small, sizeof(small)), SyscallFailsWithErrno(EINVAL));
  close(fd);
}

TEST(SignalfdTest, BlockingReadWakesWhenASignalArrives) {
  ScopedMask m(Only(SIGUSR1));
  const sigset_t set = Only(SIGUSR1);
  const int fd = signalfd(-1, &set, 0);
  ASSERT_THAT(fd, SyscallSucceeds());
  Cleanup close_fd([fd] { close(fd); });
  const pid_t parent = getpid();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    usleep(50000);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  signalfd_siginfo si;
  EXPECT_THAT(read(fd, &si, sizeof(si)), SyscallSucceedsWithValue(sizeof(si)));
  EXPECT_EQ(si.ssi_pid, static_cast<uint32_t>(pid));
  waitpid(pid, nullptr, 0);
}

// --- getrusage, times ---

TEST(RusageTest, SelfChildrenAndErrors) {
  struct rusage ru;
  EXPECT_THAT(getrusage(RUSAGE_SELF, &ru), SyscallSucceeds());
  EXPECT_GT(ru.ru_maxrss, 0);
  EXPECT_THAT(getrusage(RUSAGE_CHILDREN, &ru), SyscallSucceeds());
  EXPECT_THAT(getrusage(RUSAGE_THREAD, &ru), SyscallSucceeds());
  EXPECT_THAT(getrusage(5, &ru), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_getrusage, RUSAGE_SELF, reinterpret_cast<void*>(8)),
              SyscallFailsWithErrno(EFAULT));
}

TEST(RusageTest, Times) {
  struct tms t;
  const clock_t a = times(&t);
  EXPECT_NE(a, static_cast<clock_t>(-1));
  usleep(30000);
  const clock_t b = syscall(SYS_times, nullptr);
  EXPECT_GE(b - a, 2);  // ticks of 10 ms
  EXPECT_THAT(syscall(SYS_times, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
