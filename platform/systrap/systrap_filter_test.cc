// The systrap stub's seccomp filters (platform/systrap/README.md): a guest syscall
// traps instead of running, and a guest that jumps into stub code or rt_sigreturns
// there with a forged frame can run nothing but futex(FUTEX_WAIT/FUTEX_WAKE) and
// rt_sigreturn. Each case runs in a forked child, on a code page of the test's own
// (the filters only look at the instruction pointer).
#include <errno.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "platform/ptrace/stub_seccomp.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kCodePage = 0x70000000;
// Offsets in the code page.
constexpr uint64_t kSyscallInt3 = 0;  // syscall; int3
constexpr uint64_t kSigreturn = 16;   // mov $SYS_rt_sigreturn, %eax; syscall; int3
constexpr uint64_t kSyscallRet = 32;  // syscall; ret

constexpr int kSysSeccomp = 1;                     // si_code of a seccomp SIGSYS.
constexpr unsigned long kSaRestorer = 0x04000000;  // The kernel's SA_RESTORER.

// What a child reports through shared memory.
struct Shared {
  int sigsys_count;
  int code;
  int sys_nr;
  uint64_t call_addr;
  int reached;
};
Shared* shared;

// Maps the code page (before any filter) in the child.
bool MapCodePage() {
  void* p = mmap(reinterpret_cast<void*>(kCodePage), kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != reinterpret_cast<void*>(kCodePage)) return false;
  auto* c = static_cast<uint8_t*>(p);
  const uint8_t syscall_int3[] = {0x0f, 0x05, 0xcc};
  const uint8_t sigreturn[] = {0xb8, SYS_rt_sigreturn, 0, 0, 0, 0x0f, 0x05, 0xcc};
  const uint8_t syscall_ret[] = {0x0f, 0x05, 0xc3};
  memcpy(c + kSyscallInt3, syscall_int3, sizeof(syscall_int3));
  memcpy(c + kSigreturn, sigreturn, sizeof(sigreturn));
  memcpy(c + kSyscallRet, syscall_ret, sizeof(syscall_ret));
  return mprotect(p, kPage, PROT_READ | PROT_EXEC) == 0;
}

// A syscall through the code page's `syscall; ret`.
uint64_t StubSyscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2) {
  uint64_t ret;
  asm volatile("call *%[target]"
               : "=a"(ret)
               : [target] "r"(kCodePage + kSyscallRet), "a"(nr), "D"(a0), "S"(a1), "d"(a2)
               : "rcx", "r11", "memory");
  return ret;
}

// Installs the systrap stub filter and then, through the code page as a stub
// thread does, the guest-thread filter.
bool InstallFilters() {
  static std::vector<sock_filter> base = BuildStubFilter(kCodePage, StubMode::kSystrap);
  static std::vector<sock_filter> guest = BuildSystrapGuestThreadFilter(kCodePage);
  static sock_fprog base_prog{static_cast<unsigned short>(base.size()), base.data()};
  static sock_fprog guest_prog{static_cast<unsigned short>(guest.size()), guest.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &base_prog) != 0) return false;
  return StubSyscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
                     reinterpret_cast<uint64_t>(&guest_prog)) == 0;
}

void OnSigsys(int, siginfo_t* info, void*) {
  shared->sigsys_count++;
  shared->code = info->si_code;
  shared->sys_nr = info->si_syscall;
  shared->call_addr = reinterpret_cast<uint64_t>(info->si_call_addr);
}

// The kernel's struct sigaction (a restorer of our own, in the code page: glibc's
// is outside it, and its rt_sigreturn would trap again).
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  uint64_t restorer;
  uint64_t mask;
};

// Runs `body` in a forked child with the code page and both filters; returns its
// wait status. Nothing after the filters can exit normally (exit_group traps):
// a child ends by a kill (SIGSYS) or by the int3 after an allowed call (SIGTRAP).
template <typename F>
int RunChild(F body) {
  memset(shared, 0, sizeof(*shared));
  pid_t pid = fork();
  if (pid == 0) {
    if (!MapCodePage()) _exit(1);
    KernelSigaction act{OnSigsys, SA_SIGINFO | kSaRestorer, kCodePage + kSigreturn, 0};
    if (syscall(SYS_rt_sigaction, SIGSYS, &act, nullptr, size_t{8}) != 0) _exit(2);
    if (!InstallFilters()) _exit(3);
    body();
    _exit(4);  // Traps (SIGSYS handled), then falls through.
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Jumps to `target` with a syscall's registers.
[[noreturn]] void JumpWithSyscall(uint64_t target, uint64_t nr, uint64_t a0, uint64_t a1,
                                  uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0) {
  register uint64_t r10 asm("r10") = a3;
  register uint64_t r8 asm("r8") = a4;
  asm volatile("jmp *%[target]"
               :
               : [target] "r"(target), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
               : "memory");
  __builtin_unreachable();
}

bool KilledBy(int status, int sig) { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }

class SystrapFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef SANDBOX_SANITIZER_RUNTIME
    // The children trap every syscall from outside the code page, the sanitizer
    // runtime's own included (its fork and signal interceptors), and hang there
    // instead of ending by SIGSYS/SIGTRAP. The filters are the same code in the
    // plain build, where these cases run.
    GTEST_SKIP() << "not under the sanitizer runtime (its own syscalls trap in the children)";
#endif
  }
  static void SetUpTestSuite() {
    shared = static_cast<Shared*>(
        mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
  }
};

TEST_F(SystrapFilterTest, GuestSyscallTrapsWithoutRunning) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int status = RunChild([&] {
    syscall(SYS_write, fds[1], "x", size_t{1});
    shared->reached = 1;
    // Ends the child: an mmap from the code page is not a guest thread's call.
    JumpWithSyscall(kCodePage + kSyscallInt3, SYS_mmap, 0, kPage);
  });
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  // The write trapped into the handler (once: its rt_sigreturn from the code page
  // is allowed), did not run, and the guest went on after it.
  EXPECT_GE(shared->sigsys_count, 1);
  EXPECT_EQ(shared->code, kSysSeccomp);
  EXPECT_EQ(shared->sys_nr, SYS_write);
  EXPECT_EQ(shared->reached, 1);
  close(fds[1]);
  char c;
  EXPECT_EQ(read(fds[0], &c, 1), 0) << "the guest's write ran on the host";
  close(fds[0]);
}

TEST_F(SystrapFilterTest, JumpIntoStubCodeRunsOnlyFutexSchedYieldAndSigreturn) {
  struct Case {
    const char* what;
    uint64_t nr, a0, a1, a2 = 0, a3 = 0, a4 = 0;
  };
  // Everything the first process may be injected with, and more: all kill.
  const Case killed[] = {
      {"mmap", SYS_mmap, 0, kPage},
      // The host-file calls (MapHostFile), exactly as the template and the stubs
      // are allowed them: a guest thread shares their fd table.
      {"recvmsg(1, msg, 0)", SYS_recvmsg, 1, 0},
      {"close of a host file", SYS_close, 1000, 0},
      {"close of the socket", SYS_close, 1, 0},
      {"mmap of a host file", SYS_mmap, kCodePage + 16 * kPage, kPage, PROT_READ,
       MAP_PRIVATE | MAP_FIXED, 2},
      {"munmap", SYS_munmap, kCodePage, kPage},
      {"mprotect", SYS_mprotect, kCodePage, kPage},
      {"getpid", SYS_getpid, 0, 0},
      {"kill(SIGSTOP)", SYS_kill, 0x3fffffff,
       SIGSTOP},  // No such pid: a leak would not stop the test.
      {"clone of a stub thread", SYS_clone, kStubThreadCloneFlags, 0},
      {"prctl(PR_SET_PDEATHSIG, SIGKILL)", SYS_prctl, PR_SET_PDEATHSIG, SIGKILL},
      {"seccomp", SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0},
      {"rt_sigaction", SYS_rt_sigaction, SIGSYS, 0},
      {"sigaltstack", SYS_sigaltstack, 0, 0},
      {"write", SYS_write, 2, 0},
      {"exit_group", SYS_exit_group, 0, 0},
      {"futex(FUTEX_REQUEUE)", SYS_futex, kCodePage, FUTEX_REQUEUE},
      {"futex(FUTEX_WAKE|FUTEX_PRIVATE_FLAG)", SYS_futex, kCodePage,
       FUTEX_WAKE | FUTEX_PRIVATE_FLAG},
      {"futex(FUTEX_WAIT_BITSET)", SYS_futex, kCodePage, FUTEX_WAIT_BITSET},
  };
  for (const Case& c : killed) {
    const int status = RunChild(
        [&] { JumpWithSyscall(kCodePage + kSyscallInt3, c.nr, c.a0, c.a1, c.a2, c.a3, c.a4); });
    EXPECT_TRUE(KilledBy(status, SIGSYS)) << c.what << ": " << status;
    EXPECT_EQ(shared->sigsys_count, 0) << c.what;
  }
  // Allowed: the call returns to the int3.
  int status = RunChild(
      [&] { JumpWithSyscall(kCodePage + kSyscallInt3, SYS_futex, kCodePage, FUTEX_WAKE); });
  EXPECT_TRUE(KilledBy(status, SIGTRAP)) << status;
  // sched_yield too (the wait loop's spin): harmless, it only gives up the CPU.
  status = RunChild([&] { JumpWithSyscall(kCodePage + kSyscallInt3, SYS_sched_yield, 0, 0); });
  EXPECT_TRUE(KilledBy(status, SIGTRAP)) << status;
}

// rt_sigreturn through the code page with a frame the guest forged: it may set every
// register, here the instruction pointer to the code page's syscall, and still
// runs only what the guest-thread filter allows.
void SigreturnWithForgedFrame(uint64_t nr, uint64_t a0, uint64_t a1) {
  // The kernel reads the frame at the stack pointer after the `syscall` (the
  // rt_sigframe's return address slot is just below it).
  alignas(64) static uint8_t stack[16384];
  auto* uc = reinterpret_cast<ucontext_t*>(stack + sizeof(stack) / 2);
  memset(uc, 0, sizeof(*uc));
  greg_t* g = uc->uc_mcontext.gregs;
  g[REG_RIP] = static_cast<greg_t>(kCodePage + kSyscallInt3);
  g[REG_RAX] = static_cast<greg_t>(nr);
  g[REG_RDI] = static_cast<greg_t>(a0);
  g[REG_RSI] = static_cast<greg_t>(a1);
  g[REG_RSP] = reinterpret_cast<greg_t>(stack + 1024);
  g[REG_EFL] = 0x202;
  g[REG_CSGSFS] = 0x33 | (greg_t{0x2b} << 48);  // cs, gs, fs, ss.
  asm volatile("mov %[frame], %%rsp\n\tjmp *%[target]"
               :
               : [frame] "r"(uc), [target] "r"(kCodePage + kSigreturn)
               : "memory");
  __builtin_unreachable();
}

TEST_F(SystrapFilterTest, ForgedSigreturnFrameRunsOnlyFutexAndSigreturn) {
  int status = RunChild([] { SigreturnWithForgedFrame(SYS_mmap, 0, kPage); });
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  status = RunChild([] { SigreturnWithForgedFrame(SYS_recvmsg, 1, 0); });
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  status = RunChild([] { SigreturnWithForgedFrame(SYS_close, 1000, 0); });
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  status = RunChild([] { SigreturnWithForgedFrame(SYS_clone, kStubThreadCloneFlags, 0); });
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  EXPECT_EQ(shared->sigsys_count, 0);
  // The same frame with an allowed call reaches the int3: the kills above are the
  // filter's, not a broken frame's.
  status = RunChild([] { SigreturnWithForgedFrame(SYS_futex, kCodePage, FUTEX_WAKE); });
  EXPECT_TRUE(KilledBy(status, SIGTRAP)) << status;
}

TEST_F(SystrapFilterTest, FirstProcessKeepsTheInjectedCalls) {
  // The systrap stub's first process (no guest-thread filter) is injected with the
  // same calls as a ptrace stub, and a guest syscall there traps rather than kills.
  std::vector<sock_filter> base = BuildStubFilter(kCodePage, StubMode::kSystrap);
  sock_fprog prog{static_cast<unsigned short>(base.size()), base.data()};
  memset(shared, 0, sizeof(*shared));
  pid_t pid = fork();
  if (pid == 0) {
    if (!MapCodePage()) _exit(1);
    KernelSigaction act{OnSigsys, SA_SIGINFO | kSaRestorer, kCodePage + kSigreturn, 0};
    if (syscall(SYS_rt_sigaction, SIGSYS, &act, nullptr, size_t{8}) != 0) _exit(2);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(3);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(4);
    syscall(SYS_getppid);  // Traps.
    if (StubSyscall(SYS_mprotect, kCodePage, kPage, PROT_READ | PROT_EXEC) != 0) {
      JumpWithSyscall(kCodePage + kSyscallInt3, SYS_exit_group, 0, 0);  // Killed.
    }
    // The host-file calls of the template: they run (and fail: no such fd, and
    // fd 1 is no socket here, or msg is null).
    if (StubSyscall(SYS_close, 1000, 0, 0) != static_cast<uint64_t>(-EBADF) ||
        static_cast<int64_t>(StubSyscall(SYS_recvmsg, 1, 0, 0)) >= 0) {
      JumpWithSyscall(kCodePage + kSyscallInt3, SYS_exit_group, 0, 0);  // Killed.
    }
    shared->reached = 1;
    // prctl(PR_SET_DUMPABLE) is not one of them: killed.
    JumpWithSyscall(kCodePage + kSyscallInt3, SYS_prctl, PR_SET_DUMPABLE, 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(KilledBy(status, SIGSYS)) << status;
  EXPECT_EQ(shared->sigsys_count, 1);
  EXPECT_EQ(shared->sys_nr, SYS_getppid);
  EXPECT_EQ(shared->reached, 1);
}

}  // namespace
}  // namespace platform::ptrace
