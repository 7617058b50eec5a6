// Syscall sites of the glibc-wrapper form (`mov $nr, %eax; syscall`) called
// repeatedly: results, errno, %rcx/%r11, restarts, signals, fork and exec must be
// Linux's, whether or not the platform rewrote the site (systrap's syscall-site
// patching, platform/systrap/README.md). Natively nothing is patched; in the
// sandbox a patched site reads as `jmp *abs32` and a "[systrap]" mapping exists.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/test_util.h"

extern "C" {
// Each: nop; mov $nr, %eax; syscall; ret. The site is the symbol + 1.
long site_getppid();
long site_close(long fd);
long site_read(long fd, void* buf, long n);
long site_nanosleep(const timespec* req, timespec* rem);
long site_getpid_threads();  // only ever called with a second thread
// getppid through a site with CF set; stores %rcx and %r11 as the syscall left them.
long site_getppid_regs(uint64_t* rcx, uint64_t* r11);
extern const char site_getppid_regs_site[];
extern const char site_getppid_regs_after[];
}

asm(R"(
  .text
  .macro SITE name, nr
  .globl \name
  .type \name,@function
  .p2align 4
\name:
  nop
  mov $\nr, %eax
  syscall
  ret
  .endm
  SITE site_getppid, 110
  SITE site_close, 3
  SITE site_read, 0
  SITE site_nanosleep, 35
  SITE site_getpid_threads, 39
  .globl site_getppid_regs, site_getppid_regs_site, site_getppid_regs_after
  .type site_getppid_regs,@function
  .p2align 4
site_getppid_regs:
  mov %rdi, %r8
  mov %rsi, %r9
  stc
site_getppid_regs_site:
  mov $110, %eax
  syscall
site_getppid_regs_after:
  mov %rcx, (%r8)
  mov %r11, (%r9)
  ret
)");

namespace syscalls_test {
namespace {

constexpr uint8_t kGetppidSite[] = {0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05};

// The 7 bytes at `addr` as /proc/self/mem reads them (as loads read them where
// there is no /proc/self/mem).
std::string MemBytes(const void* addr) {
  FileDescriptor fd(open("/proc/self/mem", O_RDONLY | O_CLOEXEC));
  std::string out(7, '\0');
  if (fd.get() < 0) {
    std::memcpy(out.data(), addr, 7);
    return out;
  }
  if (pread(fd.get(), out.data(), 7, reinterpret_cast<off_t>(addr)) != 7) return "";
  return out;
}

std::string Bytes(const uint8_t* b, size_t n) {
  return std::string(reinterpret_cast<const char*>(b), n);
}

bool Patched(const std::string& bytes) {
  return bytes.size() == 7 && static_cast<uint8_t>(bytes[0]) == 0xff &&
         static_cast<uint8_t>(bytes[1]) == 0x24 && static_cast<uint8_t>(bytes[2]) == 0x25 &&
         bytes[5] == 0x0f && bytes[6] == 0x05;
}

// More calls of a site than the sandbox lets it trap before patching it
// (kPatchAfterTraps, sentry/kernel/syscall_patch.cc).
constexpr int kEnoughToPatch = 40;

bool HasPatchRegion() {
  return ReadWholeFile("/proc/self/maps").find("[systrap]") != std::string::npos;
}

TEST(SyscallPatchTest, ResultsAndRegistersAreTheTraps) {
  for (int i = 0; i < kEnoughToPatch; ++i) {
    uint64_t rcx = 0, r11 = 0;
    EXPECT_EQ(site_getppid_regs(&rcx, &r11), getppid()) << i;
    EXPECT_EQ(rcx, reinterpret_cast<uint64_t>(site_getppid_regs_after)) << i;
    EXPECT_EQ(r11 & 0x1, 0x1u) << i;      // CF as it was at the syscall
    EXPECT_EQ(r11 & 0x200, 0x200u) << i;  // IF
    EXPECT_EQ(site_getppid(), getppid()) << i;
  }
  // Either untouched or our jump, and the code reads the same both ways.
  const std::string mem = MemBytes(site_getppid_regs_site);
  EXPECT_EQ(mem, Bytes(reinterpret_cast<const uint8_t*>(site_getppid_regs_site), 7));
  if (!Patched(mem)) {
    EXPECT_EQ(mem, Bytes(kGetppidSite, 7));
  } else {
    EXPECT_TRUE(HasPatchRegion());
  }
}

TEST(SyscallPatchTest, ErrnoIsReturned) {
  for (int i = 0; i < kEnoughToPatch; ++i) EXPECT_EQ(site_close(-1), -EBADF) << i;
}

void WriteToPipe(int) {}
int g_pipe_write = -1;
void OnAlarm(int) {
  const char c = 'x';
  (void)!write(g_pipe_write, &c, 1);
}

TEST(SyscallPatchTest, SignalDuringABlockingSiteRestartsIt) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  FileDescriptor r(fds[0]), w(fds[1]);
  g_pipe_write = w.get();
  char c = 0;
  // Warm up: until the site is patched.
  for (int i = 0; i < kEnoughToPatch; ++i) {
    ASSERT_EQ(write(w.get(), "a", 1), 1);
    ASSERT_EQ(site_read(r.get(), &c, 1), 1);
  }
  struct sigaction sa {
  }, old{};
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  itimerval t{};
  t.it_value.tv_usec = 100000;
  ASSERT_EQ(setitimer(ITIMER_REAL, &t, nullptr), 0);
  // Blocks; the handler writes; the read restarts and gets it.
  EXPECT_EQ(site_read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  sigaction(SIGALRM, &old, nullptr);
  (void)WriteToPipe;
}

TEST(SyscallPatchTest, StopAndContinueRestartsASleepingSite) {
  // nanosleep stopped and continued restarts through restart_syscall (rip back
  // onto the site's syscall, rax = restart_syscall), and sleeps the rest.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    timespec zero{0, 0};
    site_nanosleep(&zero, nullptr);
    timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    timespec req{0, 400'000'000};
    const long r = site_nanosleep(&req, nullptr);
    clock_gettime(CLOCK_MONOTONIC, &end);
    const int64_t ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    _exit(r == 0 && ms >= 390 && ms < 5000 ? 0 : 1);
  }
  usleep(100000);
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(kill(child, SIGCONT), 0);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(SyscallPatchTest, ForkAfterPatchingInheritsWorkingSites) {
  for (int i = 0; i < kEnoughToPatch; ++i) ASSERT_EQ(site_getppid(), getppid());
  const bool patched = Patched(MemBytes(reinterpret_cast<const char*>(&site_getppid) + 1));
  EXPECT_TRUE(InForkedChild([patched] {
    CHILD_CHECK(site_getppid() == getppid());
    CHILD_CHECK(site_close(-1) == -EBADF);
    uint64_t rcx = 0, r11 = 0;
    CHILD_CHECK(site_getppid_regs(&rcx, &r11) == getppid());
    CHILD_CHECK(rcx == reinterpret_cast<uint64_t>(site_getppid_regs_after));
    CHILD_CHECK(Patched(MemBytes(reinterpret_cast<const char*>(&site_getppid) + 1)) == patched);
    CHILD_CHECK(HasPatchRegion() == patched);
  }));
  EXPECT_EQ(site_getppid(), getppid());
}

TEST(SyscallPatchTest, ExecAfterPatchingStartsClean) {
  for (int i = 0; i < kEnoughToPatch; ++i) ASSERT_EQ(site_getppid(), getppid());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The new image's own syscalls work; the shell reports its status.
    execl("/bin/sh", "sh", "-c", "read x </dev/null; exit 7", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
}

void* BlockOnPipe(void* arg) {
  char c;
  (void)!read(*static_cast<int*>(arg), &c, 1);
  return nullptr;
}

TEST(SyscallPatchTest, AMultiThreadedProcessIsNotPatched) {
  EXPECT_TRUE(InForkedChild([] {
    int fds[2];
    CHILD_CHECK(pipe(fds) == 0);
    pthread_t t;
    CHILD_CHECK(pthread_create(&t, nullptr, BlockOnPipe, &fds[0]) == 0);
    for (int i = 0; i < kEnoughToPatch; ++i) CHILD_CHECK(site_getpid_threads() == getpid());
    const uint8_t want[] = {0xb8, 0x27, 0, 0, 0, 0x0f, 0x05};
    CHILD_CHECK(MemBytes(reinterpret_cast<const char*>(&site_getpid_threads) + 1) ==
                Bytes(want, 7));
    CHILD_CHECK(write(fds[1], "x", 1) == 1);
    CHILD_CHECK(pthread_join(t, nullptr) == 0);
  }));
}

TEST(SyscallPatchTest, TheRegionCannotBeWrittenOrAbused) {
  for (int i = 0; i < kEnoughToPatch; ++i) ASSERT_EQ(site_getppid(), getppid());
  if (!HasPatchRegion()) GTEST_SKIP() << "no patched site here (native, ptrace, or patching off)";
  // A store into it faults.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    *reinterpret_cast<volatile uint64_t*>(0x050f0000) = 1;
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
  // Jumping into its common code with a forged resume address dies cleanly.
  child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    asm volatile("xor %%r11d, %%r11d; mov $110, %%eax; jmp *%0" ::"r"(uint64_t{0x05100000})
                 : "rax", "r11");
    _exit(0);
  }
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
  EXPECT_EQ(site_getppid(), getppid());
}

}  // namespace
}  // namespace syscalls_test
