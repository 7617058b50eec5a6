// fork(2), vfork(2), clone(2) and clone3(2) for new processes, exit status,
// wait4(2) and waitid(2), zombies and reparenting, process groups and
// sessions (setpgid, getpgid, setsid, getsid). Children report through their
// exit status and shared anonymous memory (no pipes needed).
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cfenv>
#include <climits>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// A page shared with children, zeroed.
struct Shared {
  Shared() {
    p = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  }
  ~Shared() { munmap(p, kPageSize); }
  template <typename T>
  T* as() {
    return static_cast<T*>(p);
  }
  void* p;
};

// Waits for `pid` and returns its raw status (or -1).
int WaitStatus(pid_t pid, int options = 0) {
  int status = -1;
  if (waitpid(pid, &status, options) != pid) return -1;
  return status;
}

TEST(ForkTest, ChildGetsZeroAndItsOwnPid) {
  Shared s;
  auto* v = s.as<std::atomic<pid_t>>();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    v[0] = getpid();
    v[1] = getppid();
    _exit(getppid() == parent ? 0 : 1);
  }
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(v[0].load(), pid);
  EXPECT_EQ(v[1].load(), parent);
  EXPECT_NE(pid, parent);
}

TEST(ForkTest, MemoryIsCopiedNotShared) {
  static int value = 1;
  int* heap = new int(10);
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    const bool saw_parent = value == 1 && *heap == 10;
    value = 2;
    *heap = 20;
    _exit(saw_parent ? 0 : 1);
  }
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(value, 1);
  EXPECT_EQ(*heap, 10);
  delete heap;
}

TEST(ForkTest, SharedMappingsStayShared) {
  Shared s;
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    *s.as<int>() = 42;
    _exit(0);
  }
  WaitStatus(pid);
  EXPECT_EQ(*s.as<int>(), 42);
}

TEST(ForkTest, ExitCodesAndSignals) {
  for (int code : {0, 1, 42, 255}) {
    const pid_t pid = fork();
    ASSERT_THAT(pid, SyscallSucceeds());
    if (pid == 0) _exit(code);
    const int status = WaitStatus(pid);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), code);
  }
  // Only the low 8 bits of the code survive.
  pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) syscall(SYS_exit_group, 256 + 7);
  int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
  // A signal's default action.
  pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    kill(getpid(), SIGTERM);
    _exit(0);
  }
  status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_FALSE(WCOREDUMP(status));
}

TEST(ForkTest, CoreSignalsSetTheCoreBit) {
  // The core bit says the default action was "core", even with no dump.
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    kill(getpid(), SIGQUIT);
    _exit(0);
  }
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGQUIT) << status;
}

TEST(ForkTest, FaultKillsWithSigsegv) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    volatile uintptr_t addr = 16;
    *reinterpret_cast<volatile int*>(addr) = 1;
    _exit(0);
  }
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
}

TEST(ForkTest, FdsAreInheritedAndShareOffsets) {
  char path[] = "/tmp/fork_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_THAT(fd, SyscallSucceeds());
  unlink(path);
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(write(fd, "abc", 3) == 3 ? 0 : 1);
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The child's write moved the shared offset.
  EXPECT_THAT(lseek(fd, 0, SEEK_CUR), SyscallSucceedsWithValue(3));
  close(fd);
}

TEST(ForkTest, ChildHasItsOwnFdTable) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    close(0);
    _exit(0);
  }
  WaitStatus(pid);
  EXPECT_THAT(fcntl(0, F_GETFD), SyscallSucceeds());
}

TEST(ForkTest, CloneFilesSharesTheTable) {
  // clone(CLONE_FILES) without CLONE_VM: a new process that shares the fd
  // table, so the fd it opens is the parent's too.
  Shared s;
  const pid_t pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    const int fd = dup(1);
    *s.as<int>() = fd;
    syscall(SYS_exit, fd >= 0 ? 0 : 1);
  }
  WaitStatus(pid);
  const int fd = *s.as<int>();
  EXPECT_THAT(fcntl(fd, F_GETFD), SyscallSucceeds());
  close(fd);
}

TEST(ForkTest, VforkSuspendsTheParentUntilTheChildExits) {
  static volatile int order = 0;
  const pid_t pid = vfork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    // The parent's memory, and the parent not running meanwhile.
    usleep(20000);
    order = 1;
    _exit(0);
  }
  EXPECT_EQ(order, 1);
  WaitStatus(pid);
}

// Children forked one after another each start with their parent's FP
// control state and none of the CPU time of the one before, whatever that
// one left behind (the sandbox runs a child in the stub threads a finished
// child left: sentry/kernel/README.md, Runners).
TEST(ForkTest, EachChildStartsFreshWhateverTheOneBeforeLeft) {
  constexpr int kModes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST};
  constexpr int64_t kBurnUs = 100000;
  const int saved = fegetround();
  auto used_us = [] {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t{ru.ru_utime.tv_sec} + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
  };
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(fesetround(kModes[i]), 0);
    const pid_t pid = fork();
    ASSERT_THAT(pid, SyscallSucceeds());
    if (pid == 0) {
      int bad = 0;
      if (fegetround() != kModes[i]) bad |= 1;
      if (used_us() >= kBurnUs / 2) bad |= 2;
      // Leave another rounding mode than the next child's, and CPU time.
      fesetround(kModes[(i + 2) % 4]);
      while (used_us() < kBurnUs) {
      }
      _exit(bad);
    }
    const int status = WaitStatus(pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << i << ": status " << status << " (exit 1: FP state, 2: CPU time)";
  }
  fesetround(saved);
}

TEST(ForkTest, CloneFlagChecks) {
  // CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
  EXPECT_THAT(syscall(SYS_clone, CLONE_THREAD | SIGCHLD, nullptr, nullptr, nullptr, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, nullptr, nullptr, nullptr, nullptr),
              SyscallFailsWithErrno(EINVAL));
  // CLONE_NEWNS with CLONE_FS.
  EXPECT_THAT(
      syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, nullptr, nullptr, nullptr, nullptr),
      SyscallFailsWithErrno(EINVAL));
}

TEST(ForkTest, ParentSettidAndChildSettid) {
  static pid_t parent_slot = 0;
  Shared s;
  auto* child_slot = s.as<pid_t>();
  const pid_t pid = syscall(SYS_clone, CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD, nullptr,
                            &parent_slot, child_slot, nullptr);
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    // The child's copy: CHILD_SETTID wrote its tid there before it ran.
    syscall(SYS_exit, *child_slot == getpid() ? 0 : 1);
  }
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(parent_slot, pid);
}

TEST(ForkTest, Clone3MakesAProcess) {
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  const pid_t pid = syscall(SYS_clone3, &args, sizeof(args));
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) syscall(SYS_exit, 9);
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9) << status;
}

TEST(ForkTest, Clone3ArgumentChecks) {
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  EXPECT_THAT(syscall(SYS_clone3, &args, size_t{8}), SyscallFailsWithErrno(EINVAL));  // too small
  EXPECT_THAT(syscall(SYS_clone3, nullptr, sizeof(args)), SyscallFailsWithErrno(EFAULT));
  args.exit_signal = 0x100;  // more than a signal
  EXPECT_THAT(syscall(SYS_clone3, &args, sizeof(args)), SyscallFailsWithErrno(EINVAL));
  args.exit_signal = SIGCHLD;
  args.stack_size = 4096;  // a size without a stack
  EXPECT_THAT(syscall(SYS_clone3, &args, sizeof(args)), SyscallFailsWithErrno(EINVAL));
  // A bigger struct must be zero past what the kernel knows.
  struct {
    struct clone_args a;
    uint64_t extra[4];
  } big = {};
  big.a.exit_signal = SIGCHLD;
  big.extra[3] = 1;
  EXPECT_THAT(syscall(SYS_clone3, &big, sizeof(big)), SyscallFailsWithErrno(E2BIG));
}

// --- wait ---

TEST(WaitTest, NoChildrenIsEchild) {
  EXPECT_THAT(waitpid(-1, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
  EXPECT_THAT(waitpid(-1, nullptr, 0), SyscallFailsWithErrno(ECHILD));
  EXPECT_THAT(waitpid(getpid(), nullptr, 0), SyscallFailsWithErrno(ECHILD));
  siginfo_t info;
  EXPECT_THAT(waitid(P_ALL, 0, &info, WEXITED), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, BadOptionsAreEinval) {
  EXPECT_THAT(syscall(SYS_wait4, -1, nullptr, 0x10000000, nullptr), SyscallFailsWithErrno(EINVAL));
  siginfo_t info;
  // waitid needs at least one of WEXITED, WSTOPPED, WCONTINUED.
  EXPECT_THAT(waitid(P_ALL, 0, &info, WNOHANG), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(waitid(static_cast<idtype_t>(42), 0, &info, WEXITED), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(waitid(P_PID, 0, &info, WEXITED), SyscallFailsWithErrno(EINVAL));
}

TEST(WaitTest, WnohangBeforeTheChildExits) {
  Shared s;
  auto* go = s.as<std::atomic<int>>();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    while (go->load() == 0) usleep(1000);
    _exit(3);
  }
  EXPECT_THAT(waitpid(pid, nullptr, WNOHANG), SyscallSucceedsWithValue(0));
  siginfo_t info;
  memset(&info, 0xff, sizeof(info));
  EXPECT_THAT(waitid(P_PID, pid, &info, WEXITED | WNOHANG), SyscallSucceeds());
  EXPECT_EQ(info.si_pid, 0);
  EXPECT_EQ(info.si_signo, 0);
  go->store(1);
  const int status = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
}

TEST(WaitTest, ZombieStaysUntilReapedAndWnowaitLeavesIt) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(5);
  siginfo_t info = {};
  ASSERT_THAT(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), SyscallSucceeds());
  EXPECT_EQ(info.si_signo, SIGCHLD);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 5);
  EXPECT_EQ(info.si_uid, getuid());
  // Still there: a zombie is still a process as far as kill is concerned.
  EXPECT_THAT(kill(pid, 0), SyscallSucceeds());
  EXPECT_EQ(WaitStatus(pid), 5 << 8);
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(waitpid(pid, nullptr, 0), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, WaitidReportsKilledChildren) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    for (;;) pause();
  }
  ASSERT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  siginfo_t info = {};
  ASSERT_THAT(waitid(P_PID, pid, &info, WEXITED), SyscallSucceeds());
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGKILL);
}

TEST(WaitTest, WaitAnyTakesEachChildOnce) {
  pid_t pids[3];
  for (int i = 0; i < 3; ++i) {
    pids[i] = fork();
    ASSERT_THAT(pids[i], SyscallSucceeds());
    if (pids[i] == 0) _exit(10 + i);
  }
  int seen = 0;
  for (int i = 0; i < 3; ++i) {
    int status;
    const pid_t w = waitpid(-1, &status, 0);
    ASSERT_THAT(w, SyscallSucceeds());
    for (int j = 0; j < 3; ++j) {
      if (w == pids[j]) {
        EXPECT_EQ(WEXITSTATUS(status), 10 + j);
        seen |= 1 << j;
      }
    }
  }
  EXPECT_EQ(seen, 7);
  EXPECT_THAT(waitpid(-1, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, RusageIsWritten) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(0);
  struct rusage ru;
  memset(&ru, 0xff, sizeof(ru));
  int status;
  ASSERT_THAT(wait4(pid, &status, 0, &ru), SyscallSucceedsWithValue(pid));
  EXPECT_GE(ru.ru_utime.tv_sec, 0);
  EXPECT_LT(ru.ru_utime.tv_usec, 1000000);
}

TEST(WaitTest, BadStatusPointerIsEfaultAndTheChildIsGone) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(0);
  // Linux reaps first, then fails to write: the child is gone.
  EXPECT_THAT(syscall(SYS_wait4, pid, reinterpret_cast<int*>(8), 0, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(waitpid(pid, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, StoppedAndContinuedChildren) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    for (;;) pause();
  }
  ASSERT_THAT(kill(pid, SIGSTOP), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(pid, &status, WUNTRACED), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP) << status;
  // Reported once.
  EXPECT_THAT(waitpid(pid, &status, WUNTRACED | WNOHANG), SyscallSucceedsWithValue(0));
  ASSERT_THAT(kill(pid, SIGCONT), SyscallSucceeds());
  ASSERT_THAT(waitpid(pid, &status, WCONTINUED), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFCONTINUED(status)) << status;
  ASSERT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  EXPECT_EQ(WaitStatus(pid), SIGKILL);
}

TEST(WaitTest, IgnoringSigchldReapsChildrenAtOnce) {
  struct sigaction old;
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_THAT(sigaction(SIGCHLD, &ign, &old), SyscallSucceeds());
  Cleanup restore([&] { sigaction(SIGCHLD, &old, nullptr); });
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) _exit(0);
  // wait blocks until the last child is gone, then says there are none.
  EXPECT_THAT(waitpid(pid, nullptr, 0), SyscallFailsWithErrno(ECHILD));
}

TEST(WaitTest, CloneChildrenNeedWclone) {
  // A child whose exit signal is not SIGCHLD is a "clone" child: only
  // __WCLONE or __WALL see it.
  // Ignored before the clone: the child may exit (and signal) at once.
  struct sigaction old;
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ign, &old);
  Cleanup restore([&] { sigaction(SIGUSR1, &old, nullptr); });
  const pid_t pid = syscall(SYS_clone, SIGUSR1, nullptr, nullptr, nullptr, nullptr);
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) syscall(SYS_exit, 4);
  EXPECT_THAT(waitpid(pid, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
  int status;
  EXPECT_THAT(waitpid(pid, &status, __WCLONE), SyscallSucceedsWithValue(pid));
  EXPECT_EQ(WEXITSTATUS(status), 4);
}

TEST(WaitTest, OrphansAreAdoptedBySubreaper) {
  // The test process becomes a subreaper; its grandchild, orphaned, becomes
  // its child.
  ASSERT_THAT(prctl(PR_SET_CHILD_SUBREAPER, 1), SyscallSucceeds());
  Cleanup restore([] { prctl(PR_SET_CHILD_SUBREAPER, 0); });
  Shared s;
  auto* grandchild = s.as<std::atomic<pid_t>>();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    const pid_t g = fork();
    if (g == 0) {
      while (getppid() == getpid()) usleep(1000);  // never: just stay a bit
      usleep(50000);
      _exit(12);
    }
    grandchild->store(g);
    _exit(0);
  }
  EXPECT_EQ(WaitStatus(pid), 0);
  const pid_t g = grandchild->load();
  ASSERT_GT(g, 0);
  int status;
  EXPECT_THAT(waitpid(g, &status, 0), SyscallSucceedsWithValue(g));
  EXPECT_EQ(WEXITSTATUS(status), 12);
}

// --- process groups and sessions ---

TEST(PgidTest, ChildInheritsGroupAndSession) {
  Shared s;
  auto* v = s.as<pid_t>();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    v[0] = getpgrp();
    v[1] = getsid(0);
    _exit(0);
  }
  WaitStatus(pid);
  EXPECT_EQ(v[0], getpgrp());
  EXPECT_EQ(v[1], getsid(0));
}

TEST(PgidTest, SetpgidMovesAChildIntoItsOwnGroup) {
  Shared s;
  auto* go = s.as<std::atomic<int>>();
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    while (go->load() == 0) usleep(1000);
    _exit(getpgrp() == getpid() ? 0 : 1);
  }
  EXPECT_THAT(setpgid(pid, 0), SyscallSucceeds());
  EXPECT_THAT(getpgid(pid), SyscallSucceedsWithValue(pid));
  // And back into ours.
  EXPECT_THAT(setpgid(pid, getpgrp()), SyscallSucceeds());
  EXPECT_THAT(getpgid(pid), SyscallSucceedsWithValue(getpgrp()));
  EXPECT_THAT(setpgid(pid, pid), SyscallSucceeds());
  go->store(1);
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(PgidTest, SetpgidErrors) {
  EXPECT_THAT(setpgid(0, -1), SyscallFailsWithErrno(EINVAL));
  // Not our child.
  EXPECT_THAT(setpgid(1 == getpid() ? 2 : 1, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(getpgid(INT_MAX), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(getsid(INT_MAX), SyscallFailsWithErrno(ESRCH));
  // A group that does not exist in our session.
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    usleep(100000);
    _exit(0);
  }
  EXPECT_THAT(setpgid(pid, INT_MAX - 1), SyscallFailsWithErrno(EPERM));
  WaitStatus(pid);
}

TEST(PgidTest, SetsidMakesANewSessionAndGroup) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    if (setsid() != getpid()) _exit(1);
    if (getsid(0) != getpid() || getpgrp() != getpid()) _exit(2);
    // A session leader cannot make another, nor change its group.
    if (setsid() != -1 || errno != EPERM) _exit(3);
    if (setpgid(0, 0) != -1 || errno != EPERM) _exit(4);
    _exit(0);
  }
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(PgidTest, GroupLeaderCannotSetsid) {
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    if (setpgid(0, 0) != 0) _exit(1);
    _exit(setsid() == -1 && errno == EPERM ? 0 : 2);
  }
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(PgidTest, SetpgidAfterExecIsEacces) {
  SKIP_IF(access("/bin/busybox", X_OK) != 0);
  Shared s;
  // The exec closes the child's close-on-exec write end: the parent's read
  // then sees end-of-file, so it knows the exec happened (no guessed delay).
  int p[2];
  ASSERT_THAT(pipe2(p, O_CLOEXEC), SyscallSucceeds());
  const pid_t pid = fork();
  ASSERT_THAT(pid, SyscallSucceeds());
  if (pid == 0) {
    execl("/bin/busybox", "busybox", "sleep", "0.2", nullptr);
    _exit(127);
  }
  close(p[1]);
  char c;
  EXPECT_THAT(read(p[0], &c, 1), SyscallSucceedsWithValue(0));
  close(p[0]);
  EXPECT_THAT(setpgid(pid, pid), SyscallFailsWithErrno(EACCES));
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(KillTest, ProcessGroupKill) {
  const pid_t a = fork();
  ASSERT_THAT(a, SyscallSucceeds());
  if (a == 0) {
    setpgid(0, 0);
    for (;;) pause();
  }
  ASSERT_THAT(setpgid(a, a), SyscallSucceeds());
  const pid_t b = fork();
  ASSERT_THAT(b, SyscallSucceeds());
  if (b == 0) {
    for (;;) pause();
  }
  ASSERT_THAT(setpgid(b, a), SyscallSucceeds());
  EXPECT_THAT(kill(-a, SIGTERM), SyscallSucceeds());
  EXPECT_EQ(WaitStatus(a), SIGTERM);
  EXPECT_EQ(WaitStatus(b), SIGTERM);
  EXPECT_THAT(kill(-a, SIGTERM), SyscallFailsWithErrno(ESRCH));
}

}  // namespace
}  // namespace syscalls_test
