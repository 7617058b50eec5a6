// Tests of the ptrace platform's own machinery: stubs, stub threads, the
// template, injection, the seccomp filter. What every platform does (syscalls,
// faults, traps, host signals, interrupts, FP state) is in ../platform_test.cc.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "platform/platform_test_util.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/ptrace_test_guest.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_seccomp.h"

namespace platform::ptrace {
namespace {

using ::testing::HasSubstr;
using Kind = SwitchResult::Kind;
using namespace ::platform::test;  // NOLINT: the shared layout, fixture and readers

// Interrupts the given contexts if the test takes longer than `limit`, so that a
// bug makes it fail rather than hang.
class Watchdog {
 public:
  Watchdog(std::vector<Context*> contexts, std::chrono::seconds limit)
      : thread_([this, contexts, limit] {
          if (done_.WaitForNotificationWithTimeout(absl::Seconds(limit.count()))) return;
          fired_ = true;
          while (!done_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
            for (Context* c : contexts) c->Interrupt();
          }
        }) {}
  ~Watchdog() {
    done_.Notify();
    thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  absl::Notification done_;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// A host thread of its own that runs what it is given, one thing at a time (so a
// test can say which host thread does what, and keep it alive meanwhile).
class HostThread {
 public:
  HostThread() : thread_([this] { Loop(); }) {}
  ~HostThread() {
    {
      absl::MutexLock l(&mu_);
      quit_ = true;
    }
    thread_.join();
  }
  // Runs `fn` there and waits for it.
  void Do(std::function<void()> fn) {
    Start(std::move(fn));
    Wait();
  }
  // Starts `fn` there; Wait() waits for it.
  void Start(std::function<void()> fn) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &HostThread::Idle));
    fn_ = std::move(fn);
  }
  void Wait() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &HostThread::Idle));
  }

 private:
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fn_ == nullptr; }
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fn_ != nullptr || quit_; }
  void Loop() {
    absl::MutexLock l(&mu_);
    for (;;) {
      mu_.Await(absl::Condition(this, &HostThread::HasWork));
      if (fn_ == nullptr) return;
      std::function<void()> fn = fn_;
      mu_.Unlock();
      fn();
      mu_.Lock();
      fn_ = nullptr;
    }
  }

  absl::Mutex mu_;
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class PtraceTest : public GuestFixture {
 protected:
  void SetUp() override { CreatePlatform("ptrace", "ptrace_test"); }
  void TearDown() override { DestroyPlatform(); }

  PtracePlatform& ptrace_platform() { return static_cast<PtracePlatform&>(*platform_); }
  PtraceAddressSpace& ptrace_as() { return static_cast<PtraceAddressSpace&>(*as_); }

  // The calling thread's stub thread in as_ (created if needed).
  pid_t StubThreadTid() {
    absl::StatusOr<std::shared_ptr<StubThread>> st =
        ptrace_as().StubThreadForCurrentThread(/*create=*/true);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? (*st)->tid : 0;
  }
};

// --- Platform ---

TEST_F(PtraceTest, Properties) {
  EXPECT_EQ(platform_->Name(), "ptrace");
  EXPECT_FALSE(platform_->ReportsAccessType());
  const uint64_t max = platform_->MaxUserAddress();
  EXPECT_EQ(max % kPage, 0u);
  EXPECT_LE(max + kStubRegionSize, 0x7ffffffff000u);
  EXPECT_GE(max, 0x7f0000000000u);
  EXPECT_EQ(max, ptrace_platform().region_start());
}

TEST_F(PtraceTest, MapFileOutsideTheGuestAddressSpaceIsRejected) {
  const uint64_t max = platform_->MaxUserAddress();
  EXPECT_EQ(as_->MapFile(max, 0, kPage, PROT_READ).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->MapFile(max - kPage, 0, 2 * kPage, PROT_READ).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->Unmap(max, kPage).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->Protect(kCode + 1, kPage, PROT_READ).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->MapFile(kCode, 1, kPage, PROT_READ).code(), absl::StatusCode::kInvalidArgument);
}

// --- Switch ---

TEST_F(PtraceTest, InjectionIgnoresAStaleInterruptSignal) {
  // Both in the stub's first process and in this thread's stub thread.
  ASSERT_EQ(kill(ptrace_as().pid(), kInterruptSignal), 0);
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  ASSERT_EQ(kill(StubThreadTid(), kInterruptSignal), 0);
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  regs_.r.rdi = kData;
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

// A SIGCONT (a shell's `fg` or `bg` to the process group) to a stub thread, which
// the host thread attached with PTRACE_SEIZE: the kernel reports a
// PTRACE_EVENT_STOP before the signal. Neither an injection nor a Switch fails.
TEST_F(PtraceTest, SigcontToASeizedStubThreadIsHarmless) {
  ASSERT_EQ(kill(ptrace_as().pid(), SIGCONT), 0);
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  ASSERT_EQ(kill(StubThreadTid(), SIGCONT), 0);
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  regs_.r.rdi = kData;
  ASSERT_EQ(kill(StubThreadTid(), SIGCONT), 0);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGCONT);
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

// A SIGTRAP from the host to the stopped injector stops it before it ran the
// injected syscall: an injection tells that from its own int3 by where %rip
// is, not by the signal, and goes on.
TEST_F(PtraceTest, AHostSigtrapToTheInjectorIsNotTakenForItsInt3) {
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));  // the injector exists
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(kill(StubThreadTid(), SIGTRAP), 0);
    EXPECT_OK(as_->MapFile(kData + kPage * (i + 1), kDataFile, kPage, PROT_READ | PROT_WRITE));
  }
  LoadGuest(guest::load());
  regs_.r.rdi = kData + 3 * kPage;  // mapped by the last injection
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(PtraceTest, TwoContextsInOneStubKeepTheirOwnFpState) {
  LoadGuest(guest::xmm());
  ASSERT_EQ(Run().kind, Kind::kSyscall);  // ctx_'s guest set xmm2.
  ASSERT_OK(ctx_->SyncFpState(fp_));

  // Another context runs in the same stub with its own (initial) FP state.
  auto other = platform_->NewContext();
  ASSERT_TRUE(other.ok());
  sentry::arch::Registers regs = regs_;
  sentry::arch::FpState fp;
  regs.r.rip = kCode;
  absl::StatusOr<SwitchResult> r = (*other)->Switch(*as_, regs, fp);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(regs.Arg(1), 0u);  // Not ctx_'s xmm2.

  // ctx_'s FP state is pushed again.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);
}

TEST_F(PtraceTest, StubDeathIsAnError) {
  LoadGuest(guest::spin());
  const pid_t tid = StubThreadTid();
  ASSERT_EQ(kill(tid, SIGKILL), 0);
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 9", tid)));
  EXPECT_TRUE(ptrace_as().lost());
  EXPECT_FALSE(ProcessExists(tid));
  EXPECT_FALSE(as_->MapFile(kData, kDataFile, kPage, PROT_READ).ok());
  const pid_t pid = ptrace_as().pid();
  as_.reset();
  EXPECT_FALSE(ProcessExists(pid));
}

TEST_F(PtraceTest, DeathOfTheFirstProcessIsAnError) {
  const pid_t pid = ptrace_as().pid();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  absl::Status s = as_->MapFile(kData, kDataFile, kPage, PROT_READ);  // Through it.
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 9", pid)));
  EXPECT_TRUE(ptrace_as().lost());
  EXPECT_FALSE(ctx_->Switch(*as_, regs_, fp_).ok());
}

// --- Security (DESIGN.md §11.1, §11.2, §11.6) ---

TEST_F(PtraceTest, FreshStubMapsOnlyTheStubRegion) {
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto& as = static_cast<PtraceAddressSpace&>(**fresh);
  const std::string maps_path = absl::StrFormat("/proc/%d/maps", as.pid());
  const std::string region = absl::StrFormat("%x-%x r-xp ", ptrace_platform().region_start(),
                                             ptrace_platform().region_end());
  bool found = false;
  for (const std::string& l : Lines(ReadFile(maps_path))) found |= l.rfind(region, 0) == 0;
  EXPECT_TRUE(found) << ReadFile(maps_path);
  EXPECT_THAT(MapsBesidesTheStubRegion(as.pid(), ptrace_platform().region_start()),
              ::testing::IsEmpty());

  ASSERT_OK(as.MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  const std::vector<std::string> others =
      MapsBesidesTheStubRegion(as.pid(), ptrace_platform().region_start());
  ASSERT_EQ(others.size(), 1u) << ReadFile(maps_path);
  EXPECT_THAT(others[0], HasSubstr("00400000-00401000 r-xs 00000000"));
  EXPECT_THAT(others[0], HasSubstr("/memfd:ptrace_test"));
}

TEST_F(PtraceTest, StubHoldsOnlyTheMemoryFileAndTheSocket) {
  const std::string dir = absl::StrFormat("/proc/%d/fd", ptrace_as().pid());
  ASSERT_EQ(Fds(ptrace_as().pid()), (std::vector<std::string>{"0", "1"}));
  char target[256] = {};
  ASSERT_GT(readlink((dir + "/0").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_THAT(std::string(target), HasSubstr("/memfd:ptrace_test"));
  std::memset(target, 0, sizeof(target));
  ASSERT_GT(readlink((dir + "/1").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_THAT(std::string(target), HasSubstr("socket:["));
}

TEST_F(PtraceTest, StubRunsUnderItsSeccompFilter) {
  const pid_t pid = ptrace_as().pid();
  EXPECT_EQ(StatusField(pid, "Seccomp"), "2");
  EXPECT_EQ(StatusField(pid, "NoNewPrivs"), "1");
  // The first process is traced by the factory thread, a thread of ours.
  EXPECT_EQ(StatusField(pid, "TracerPid"), std::to_string(ptrace_platform().factory_tid()));
  EXPECT_EQ(StatusField(pid, "PPid"), std::to_string(getpid()));
}

TEST_F(PtraceTest, StubsAreForksOfACleanTemplate) {
  const pid_t tmpl = ptrace_platform().TemplatePid();
  ASSERT_GT(tmpl, 0);
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto& as = static_cast<PtraceAddressSpace&>(**fresh);
  const pid_t pid = as.pid();
  // One template for all.
  EXPECT_EQ(ptrace_platform().TemplatePid(), tmpl);
  ASSERT_NE(tmpl, pid);
  ASSERT_NE(tmpl, ptrace_as().pid());
  const uint64_t region = ptrace_platform().region_start();
  for (pid_t p : {tmpl, pid}) {
    SCOPED_TRACE(absl::StrFormat("pid %d (template %d)", p, tmpl));
    // Both children of ours (the stub through CLONE_PARENT), traced by the factory.
    EXPECT_EQ(StatusField(p, "PPid"), std::to_string(getpid()));
    EXPECT_EQ(StatusField(p, "TracerPid"), std::to_string(ptrace_platform().factory_tid()));
    EXPECT_EQ(StatusField(p, "Threads"), "1");
    EXPECT_EQ(StatusField(p, "Seccomp"), "2");
    EXPECT_EQ(StatusField(p, "NoNewPrivs"), "1");
    EXPECT_EQ(StatusField(p, "SigBlk"), "0000000000000000");
    EXPECT_EQ(StatusField(p, "SigIgn"), "0000000000000000");
    EXPECT_EQ(StatusField(p, "SigCgt"), "0000000000000000");
    EXPECT_THAT(MapsBesidesTheStubRegion(p, region), ::testing::IsEmpty());
    EXPECT_EQ(Fds(p), (std::vector<std::string>{"0", "1"}));
  }
  // A stub's mappings are its own (a fork, not CLONE_VM): neither the template nor
  // another stub sees them.
  ASSERT_OK(as.MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  EXPECT_EQ(MapsBesidesTheStubRegion(pid, region).size(), 1u);
  EXPECT_THAT(MapsBesidesTheStubRegion(tmpl, region), ::testing::IsEmpty());
  // as_ has its stack page only.
  EXPECT_EQ(MapsBesidesTheStubRegion(ptrace_as().pid(), region).size(), 1u);
}

TEST_F(PtraceTest, ALostTemplateIsMadeAgain) {
  const std::set<pid_t> before = Children();
  const pid_t tmpl = ptrace_platform().TemplatePid();
  ASSERT_GT(tmpl, 0);
  ASSERT_EQ(kill(tmpl, SIGKILL), 0);
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const pid_t now = ptrace_platform().TemplatePid();
  EXPECT_GT(now, 0);
  EXPECT_NE(now, tmpl);
  EXPECT_FALSE(ProcessExists(tmpl));  // Reaped, not a zombie.
  // The new stub works.
  auto& as = static_cast<PtraceAddressSpace&>(**fresh);
  std::memcpy(mem_ + kCodeFile, guest::syscall_args().data(), guest::syscall_args().size());
  ASSERT_OK(as.MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  ASSERT_OK(as.MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  std::memset(&regs_.r, 0, sizeof(regs_.r));
  regs_.r.rip = kCode;
  regs_.r.rsp = kStack + kPage - 64;
  regs_.r.eflags = 0x202;
  absl::StatusOr<SwitchResult> r = ctx_->Switch(as, regs_, fp_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
  const pid_t pid = as.pid();
  fresh->reset();
  EXPECT_FALSE(ProcessExists(pid));
  std::set<pid_t> after = Children();
  after.erase(now);
  for (pid_t p : after) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST(PtracePlatformTest, DestroyedPlatformLeavesNoProcess) {
  const std::set<pid_t> before = Children();
  const int memfd = memfd_create("ptrace_test", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(ftruncate(memfd, kFileSize), 0);
  pid_t tmpl = 0, pid = 0;
  {
    auto p = Platform::Create("ptrace", Options{.memory_fd = memfd});
    ASSERT_TRUE(p.ok()) << p.status();
    auto as = (*p)->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << as.status();
    tmpl = static_cast<PtracePlatform&>(**p).TemplatePid();
    pid = static_cast<PtraceAddressSpace&>(**as).pid();
    EXPECT_TRUE(ProcessExists(tmpl));
  }
  close(memfd);
  EXPECT_FALSE(ProcessExists(tmpl));
  EXPECT_FALSE(ProcessExists(pid));
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

// A backend's template set-up (PtracePlatform::SetTemplateSetup) runs once per
// template, in it, before any stub is forked; when it fails, the template is
// killed and reaped and NewAddressSpace fails with its error.
TEST(PtracePlatformTest, TemplateSetUpRunsInTheTemplateAndItsFailureIsAnError) {
  const std::set<pid_t> before = Children();
  const int memfd = memfd_create("ptrace_test", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(ftruncate(memfd, kFileSize), 0);
  {
    auto p = PtracePlatform::New(Options{.memory_fd = memfd});
    ASSERT_TRUE(p.ok()) << p.status();
    PtracePlatform& platform = **p;
    int runs = 0;
    int64_t seen_pid = 0;
    bool fail = true;
    platform.SetTemplateSetup([&](PtracePlatform::Injector inject) -> absl::Status {
      ++runs;
      absl::StatusOr<int64_t> r = inject(SYS_getpid, {0, 0, 0, 0, 0, 0});
      if (!r.ok()) return r.status();
      seen_pid = *r;
      if (fail) return absl::UnavailableError("set-up refused");
      return absl::OkStatus();
    });
    auto as = platform.NewAddressSpace();
    ASSERT_FALSE(as.ok());
    EXPECT_EQ(as.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(as.status().message(), HasSubstr("setting up the template stub: set-up refused"));
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(platform.TemplatePid(), 0);
    ASSERT_GT(seen_pid, 0);
    EXPECT_FALSE(ProcessExists(static_cast<pid_t>(seen_pid)));  // Killed and reaped.
    // Next time it succeeds, in the template (its getpid is the template's pid),
    // and only once for any number of stubs.
    fail = false;
    auto a1 = platform.NewAddressSpace();
    ASSERT_TRUE(a1.ok()) << a1.status();
    auto a2 = platform.NewAddressSpace();
    ASSERT_TRUE(a2.ok()) << a2.status();
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(seen_pid, platform.TemplatePid());
  }
  close(memfd);
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST_F(PtraceTest, StubThreadIsAsCleanAsTheStub) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  const pid_t pid = ptrace_as().pid();
  const pid_t tid = ptrace_as().CurrentStubThreadTid();
  ASSERT_GT(tid, 0);
  ASSERT_NE(tid, pid);
  // A process of its own, a child of ours, traced by this thread, under the filter.
  EXPECT_EQ(StatusField(tid, "Tgid"), std::to_string(tid));
  EXPECT_EQ(StatusField(tid, "Threads"), "1");
  EXPECT_EQ(StatusField(tid, "PPid"), std::to_string(getpid()));
  EXPECT_EQ(StatusField(tid, "TracerPid"), std::to_string(gettid()));
  EXPECT_EQ(StatusField(tid, "Seccomp"), "2");
  EXPECT_EQ(StatusField(tid, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(tid, "SigBlk"), "0000000000000000");
  EXPECT_EQ(StatusField(tid, "SigIgn"), "0000000000000000");
  EXPECT_EQ(StatusField(tid, "SigCgt"), "0000000000000000");
  // The same memory map (shared) and fd table (shared: the memory file only).
  const std::string maps = ReadFile(absl::StrFormat("/proc/%d/maps", tid));
  EXPECT_EQ(maps, ReadFile(absl::StrFormat("/proc/%d/maps", pid)));
  for (const std::string& l : Lines(maps)) {
    EXPECT_TRUE(l.find("[vsyscall]") != std::string::npos ||
                l.find("/memfd:ptrace_test") != std::string::npos ||
                l.rfind(absl::StrFormat("%x-", ptrace_platform().region_start()), 0) == 0)
        << l;
  }
  EXPECT_EQ(Fds(tid), (std::vector<std::string>{"0", "1"}));
}

TEST_F(PtraceTest, GuestJumpIntoTheStubsSyscallIsStillTrapped) {
  LoadGuest(guest::jump_to_stub());
  regs_.r.rsi = ptrace_platform().stub_syscall_addr();
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_exit_group});
  EXPECT_EQ(regs_.Ip(), ptrace_platform().stub_int3_addr());
  EXPECT_TRUE(ProcessExists(ptrace_as().pid()));
  // And on to the stub's int3.
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTRAP);
}

TEST_F(PtraceTest, GuestVsyscallTrapsToTheSentry) {
  bool vsyscall = false;
  for (const std::string& l : Lines(ReadFile("/proc/self/maps"))) {
    if (l.find("[vsyscall]") != std::string::npos && l.find("x") != std::string::npos) {
      vsyscall = true;
    }
  }
  if (!vsyscall) GTEST_SKIP() << "no emulated vsyscall page on this host";
  LoadGuest(guest::vsyscall());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGSYS);
  EXPECT_EQ(r.info.si_syscall, SYS_time);
  EXPECT_TRUE(ProcessExists(ptrace_as().pid()));
}

TEST_F(PtraceTest, SeccompKillsAStubSyscallOutsideTheAllowList) {
  const pid_t pid = ptrace_as().pid();
  absl::StatusOr<int64_t> r = ptrace_as().InjectSyscall(SYS_getppid, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 31 (SIGSYS)", pid)));
  EXPECT_FALSE(ProcessExists(pid));
}

TEST_F(PtraceTest, SeccompKillsAnMmapOfAnythingButTheMemoryFile) {
  const pid_t pid = ptrace_as().pid();
  absl::StatusOr<int64_t> r = ptrace_as().InjectSyscall(
      SYS_mmap, {kData, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 static_cast<uint64_t>(-1), 0});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("killed by signal 31"));
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(StubSeccompTest, SyscallOutsideTheCodePageKills) {
  // The filter for a code page where no code is: every syscall of the child below
  // comes from elsewhere.
  std::vector<sock_filter> filter = BuildStubFilter(0x10000);
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(1);
    if (syscall(SYS_seccomp, 1, 0, &prog) != 0) _exit(2);
    syscall(SYS_getpid);
    _exit(3);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(PtraceTest, DestroyedAddressSpaceLeavesNoProcess) {
  const std::set<pid_t> before = Children();
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  HostThread other;  // A second stub thread, whose tracer stays alive but idle.
  std::unique_ptr<Context> other_ctx;
  other.Do([&] {
    other_ctx = std::move(*platform_->NewContext());
    sentry::arch::Registers regs = regs_;
    sentry::arch::FpState fp;
    regs.r.rip = kCode;
    ASSERT_TRUE(other_ctx->Switch(*as_, regs, fp).ok());
  });
  const pid_t pid = ptrace_as().pid();
  const std::vector<pid_t> tids = ptrace_as().StubThreadTids();
  ASSERT_EQ(tids.size(), 2u);
  as_.reset();
  EXPECT_FALSE(ProcessExists(pid));
  for (pid_t tid : tids) EXPECT_FALSE(ProcessExists(tid)) << tid;
  int status;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG | __WALL), -1);
  EXPECT_EQ(errno, ECHILD);
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
  other.Do([&] { other_ctx.reset(); });
}

// --- Stub threads: several host threads in one address space ---

// One guest thread: a context with its registers and FP state.
struct GuestThread {
  std::unique_ptr<Context> ctx;
  sentry::arch::Registers regs;
  sentry::arch::FpState fp;
};

class PtraceThreadsTest : public PtraceTest {
 protected:
  GuestThread NewGuestThread() {
    GuestThread t;
    auto ctx = platform_->NewContext();
    EXPECT_TRUE(ctx.ok());
    if (ctx.ok()) t.ctx = std::move(*ctx);
    std::memset(&t.regs.r, 0, sizeof(t.regs.r));
    t.regs.r.rip = kCode;
    t.regs.r.rsp = kStack + kPage - 64;
    t.regs.r.eflags = 0x202;
    return t;
  }

  SwitchResult RunIn(GuestThread& t, AddressSpace& as) {
    absl::StatusOr<SwitchResult> r = t.ctx->Switch(as, t.regs, t.fp);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SwitchResult{.kind = Kind::kInterrupted};
  }

  // Runs `n` host threads at once in as_, each with its own registers (%rbx, %rbp
  // and the slot it writes), meeting in shared memory: each sees the others' stores.
  void Rendezvous(int n) {
    std::memset(mem_ + kDataFile, 0, kPage);
    ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
    LoadGuest(guest::rendezvous());
    std::vector<GuestThread> threads;
    std::vector<Context*> contexts;
    for (int i = 0; i < n; ++i) {
      threads.push_back(NewGuestThread());
      contexts.push_back(threads.back().ctx.get());
    }
    uint64_t sum = 0;
    for (int i = 0; i < n; ++i) sum += 0x100 + i;
    std::vector<pid_t> tids(n);
    {
      Watchdog watchdog(contexts, std::chrono::seconds(60));
      std::vector<std::thread> hosts;
      for (int i = 0; i < n; ++i) {
        hosts.emplace_back([&, i] {
          GuestThread& t = threads[i];
          t.regs.r.rdi = kData;
          t.regs.r.rsi = i;
          t.regs.r.rdx = n;
          t.regs.r.rcx = 0x100 + i;
          t.regs.r.rbx = 0xb0b0 + i;
          t.regs.r.rbp = 0xbeef0000 + i;
          SwitchResult r = RunIn(t, *as_);
          ASSERT_EQ(r.kind, Kind::kSyscall) << "thread " << i;
          EXPECT_EQ(t.regs.SyscallNumber(), uint64_t{SYS_getpid});
          EXPECT_EQ(t.regs.Arg(0), sum) << "thread " << i;
          EXPECT_EQ(t.regs.r.rbx, 0xb0b0u + i);
          EXPECT_EQ(t.regs.r.rbp, 0xbeef0000u + i);
          EXPECT_EQ(t.regs.r.rsi, uint64_t(i));
          tids[i] = ptrace_as().CurrentStubThreadTid();
        });
      }
      for (std::thread& h : hosts) h.join();
      EXPECT_FALSE(watchdog.fired());
    }
    // One stub thread each, none the first process; all retired with their threads.
    std::set<pid_t> distinct(tids.begin(), tids.end());
    EXPECT_EQ(distinct.size(), size_t(n));
    EXPECT_FALSE(distinct.contains(ptrace_as().pid()));
    EXPECT_FALSE(distinct.contains(0));
    for (pid_t tid : tids) EXPECT_FALSE(ProcessExists(tid)) << tid;
    EXPECT_THAT(ptrace_as().StubThreadTids(), ::testing::IsEmpty());
    for (int i = 0; i < n; ++i) {
      uint64_t slot;
      std::memcpy(&slot, mem_ + kDataFile + 8 * i, sizeof(slot));
      EXPECT_EQ(slot, 0x100u + i);
    }
  }
};

TEST_F(PtraceThreadsTest, TwoHostThreadsRunConcurrentlyInOneAddressSpace) { Rendezvous(2); }

TEST_F(PtraceThreadsTest, FourHostThreadsRunConcurrentlyInOneAddressSpace) { Rendezvous(4); }

TEST_F(PtraceThreadsTest, MappingChangesAreVisibleToTheOtherThreadsNextAccess) {
  const uint64_t value = 0x5555aaaa5555aaaa;
  std::memcpy(mem_ + kDataFile, &value, sizeof(value));
  LoadGuest(guest::load());
  ASSERT_EQ(Run().kind, Kind::kFault);  // This thread has a stub thread now.
  HostThread other;
  GuestThread t = NewGuestThread();
  auto other_load = [&] {
    SwitchResult r;
    other.Do([&] {
      t.regs.r.rip = kCode;
      t.regs.r.rdi = kData;
      r = RunIn(t, *as_);
    });
    return r;
  };
  SwitchResult r = other_load();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData);

  // Mapped by this thread (through its own stub thread): the other one sees it.
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  ASSERT_EQ(other_load().kind, Kind::kSyscall);
  EXPECT_EQ(t.regs.Arg(0), value);

  // Unmapped by the other thread: this one faults.
  other.Do([&] { EXPECT_OK(as_->Unmap(kData, kPage)); });
  regs_.r.rip = kCode;
  regs_.r.rdi = kData;
  r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.info.si_code, SEGV_MAPERR);

  // Write-protected by this thread: the other one's store faults.
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  ASSERT_OK(as_->Protect(kData, kPage, PROT_READ));
  LoadGuest(guest::store());
  r = other_load();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.info.si_code, SEGV_ACCERR);
  other.Do([&] { t.ctx.reset(); });
}

TEST_F(PtraceThreadsTest, CreatedOnOneThreadPopulatedOnAnotherRunOnAThird) {
  HostThread a, b, c;
  std::unique_ptr<AddressSpace> as;
  a.Do([&] {
    auto r = platform_->NewAddressSpace();
    ASSERT_TRUE(r.ok()) << r.status();
    as = std::move(*r);
  });
  ASSERT_NE(as, nullptr);
  LoadGuest(guest::syscall_args());  // Into the memory file (and as_).
  b.Do([&] {                         // No stub thread of b's: through the factory thread.
    EXPECT_OK(as->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
    EXPECT_OK(as->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
    EXPECT_EQ(static_cast<PtraceAddressSpace&>(*as).CurrentStubThreadTid(), 0);
  });
  c.Do([&] {
    GuestThread t = NewGuestThread();
    ASSERT_EQ(RunIn(t, *as).kind, Kind::kSyscall);
    EXPECT_EQ(t.regs.SyscallNumber(), uint64_t{SYS_getpid});
    t.regs.SetReturn(77);
    ASSERT_EQ(RunIn(t, *as).kind, Kind::kSyscall);
    EXPECT_EQ(t.regs.Arg(0), 77u);
  });
  // Destroyed on yet another thread.
  as.reset();
}

TEST_F(PtraceThreadsTest, NewAddressSpaceFromManyThreadsAtOnce) {
  const std::set<pid_t> before = Children();
  constexpr int kThreads = 8, kEach = 3;
  std::vector<std::unique_ptr<AddressSpace>> spaces(kThreads * kEach);
  std::vector<std::thread> hosts;
  LoadGuest(guest::syscall_args());
  for (int i = 0; i < kThreads; ++i) {
    hosts.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto r = platform_->NewAddressSpace();
        ASSERT_TRUE(r.ok()) << r.status();
        AddressSpace& as = **r;
        spaces[i * kEach + j] = std::move(*r);
        EXPECT_OK(as.MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
        GuestThread t = NewGuestThread();
        EXPECT_EQ(RunIn(t, as).kind, Kind::kSyscall);
      }
    });
  }
  for (std::thread& h : hosts) h.join();
  std::set<pid_t> pids;
  for (const auto& as : spaces) {
    ASSERT_NE(as, nullptr);
    pids.insert(static_cast<PtraceAddressSpace&>(*as).pid());
  }
  EXPECT_EQ(pids.size(), size_t(kThreads * kEach));
  spaces.clear();
  for (pid_t pid : pids) EXPECT_FALSE(ProcessExists(pid)) << pid;
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST_F(PtraceThreadsTest, DestroyingTheAddressSpaceEndsASwitchInAnotherThread) {
  const std::set<pid_t> before = Children();
  LoadGuest(guest::spin());
  HostThread other;
  GuestThread t = NewGuestThread();
  absl::StatusOr<SwitchResult> r;
  std::atomic<pid_t> tid{0};
  other.Start([&] {
    tid = StubThreadTid();
    r = t.ctx->Switch(*as_, t.regs, t.fp);
  });
  // Wait until the guest spins in the other thread's stub thread.
  for (int i = 0; i < 2000; ++i) {
    if (tid != 0 &&
        ReadFile(absl::StrFormat("/proc/%d/stat", tid.load())).find(") R ") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(tid, 0);
  Watchdog watchdog({t.ctx.get()}, std::chrono::seconds(20));
  const pid_t pid = ptrace_as().pid();
  const auto start = std::chrono::steady_clock::now();
  as_.reset();
  other.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(watchdog.fired());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("destroyed"));
  EXPECT_FALSE(ProcessExists(pid));
  EXPECT_FALSE(ProcessExists(tid));
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST_F(PtraceThreadsTest, AHostThreadsExitRetiresItsStubThreads) {
  const std::set<pid_t> before = Children();
  LoadGuest(guest::syscall_args());
  auto second = platform_->NewAddressSpace();
  ASSERT_TRUE(second.ok());
  ASSERT_OK((*second)->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  std::vector<pid_t> tids;
  GuestThread t = NewGuestThread();  // Outlives its host thread.
  std::thread host([&] {
    // Stub threads in two address spaces; the context is not destroyed.
    ASSERT_EQ(RunIn(t, *as_).kind, Kind::kSyscall);
    tids.push_back(ptrace_as().CurrentStubThreadTid());
    ASSERT_OK(t.ctx->SyncFpState(t.fp));
    t.regs.r.rip = kCode;
    ASSERT_EQ(RunIn(t, **second).kind, Kind::kSyscall);
    tids.push_back(static_cast<PtraceAddressSpace&>(**second).CurrentStubThreadTid());
    // The live FP state would go with the stub thread.
    ASSERT_OK(t.ctx->SyncFpState(t.fp));
  });
  host.join();
  ASSERT_EQ(tids.size(), 2u);
  for (pid_t tid : tids) {
    EXPECT_GT(tid, 0);
    EXPECT_FALSE(ProcessExists(tid)) << tid << " (a zombie?)";
  }
  EXPECT_THAT(ptrace_as().StubThreadTids(), ::testing::IsEmpty());
  // The context goes on in another host thread, in a new stub thread.
  std::thread host2([&] {
    t.regs.r.rip = kCode;
    ASSERT_EQ(RunIn(t, **second).kind, Kind::kSyscall);
    EXPECT_NE(static_cast<PtraceAddressSpace&>(**second).CurrentStubThreadTid(), tids[1]);
  });
  host2.join();
  second->reset();
  t.ctx.reset();
  std::set<pid_t> now = Children();
  now.erase(ptrace_as().pid());
  for (pid_t p : now) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST_F(PtraceThreadsTest, DestroyedContextRetiresItsStubThread) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  const pid_t tid = ptrace_as().CurrentStubThreadTid();
  ASSERT_GT(tid, 0);
  ctx_.reset();
  EXPECT_FALSE(ProcessExists(tid));
  EXPECT_EQ(ptrace_as().CurrentStubThreadTid(), 0);
  ctx_ = std::move(*platform_->NewContext());
  fp_ = sentry::arch::FpState();  // The old context's live state went with it.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_NE(ptrace_as().CurrentStubThreadTid(), tid);
}

TEST_F(PtraceThreadsTest, InterruptReachesAContextInAnotherStubThread) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);  // This thread's stub thread is the first.
  LoadGuest(guest::spin());
  HostThread other;
  GuestThread t = NewGuestThread();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SwitchResult> r;
    other.Start([&] { r = t.ctx->Switch(*as_, t.regs, t.fp); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    t.ctx->Interrupt();
    other.Wait();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->kind, Kind::kInterrupted);
    EXPECT_EQ(t.regs.Ip(), kCode);
  }
  // This thread's context is untouched by it.
  LoadGuest(guest::syscall_args());
  EXPECT_EQ(Run().kind, Kind::kSyscall);
  other.Do([&] { t.ctx.reset(); });
}

TEST_F(PtraceThreadsTest, FpStateIsPerStubThread) {
  LoadGuest(guest::xmm());
  const uint64_t in = 0x0102030405060708;
  std::memcpy(fp_.bytes().data() + XmmOffset(0), &in, sizeof(in));
  fp_.set_dirty(true);
  ASSERT_EQ(Run().kind, Kind::kSyscall);  // Here, xmm2 := 0x1122334455667788.

  // Another context in another host thread: its own stub thread, its own state.
  HostThread other;
  GuestThread t = NewGuestThread();
  other.Do([&] {
    ASSERT_EQ(RunIn(t, *as_).kind, Kind::kSyscall);
    EXPECT_EQ(t.regs.Arg(0), 0u);  // Not ctx_'s xmm0.
    EXPECT_EQ(t.regs.Arg(1), 0u);
  });
  // ctx_'s state is still live in this thread's stub thread: no push needed.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), in);
  EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);

  // A stale state cannot move to another host thread's stub thread...
  absl::Status moved;
  other.Do([&] {
    regs_.r.rip = kCode;
    moved = ctx_->Switch(*as_, regs_, fp_).status();
    EXPECT_FALSE(ctx_->SyncFpState(fp_).ok());  // Not the tracer.
  });
  EXPECT_EQ(moved.code(), absl::StatusCode::kFailedPrecondition);
  // ...until synced.
  ASSERT_OK(ctx_->SyncFpState(fp_));
  other.Do([&] {
    regs_.r.rip = kCode;
    absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(regs_.Arg(0), in);
    EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);
    ASSERT_OK(ctx_->SyncFpState(fp_));
    t.ctx.reset();
  });
}

// --- The stub's seccomp filter and stub threads ---

TEST_F(PtraceThreadsTest, GuestCloneThroughTheStubsSyscallIsTrapped) {
  StubThreadTid();
  const std::set<pid_t> before = Children();
  LoadGuest(guest::jump_rsi());
  regs_.r.rsi = ptrace_platform().stub_syscall_addr();
  regs_.r.rax = SYS_clone;
  regs_.r.rdi = kStubThreadCloneFlags;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_clone});
  EXPECT_EQ(Children(), before);  // Nothing was cloned.
  EXPECT_FALSE(ptrace_as().lost());
}

TEST_F(PtraceThreadsTest, GuestForkCloneThroughTheStubsSyscallIsTrapped) {
  StubThreadTid();
  const std::set<pid_t> before = Children();
  LoadGuest(guest::jump_rsi());
  regs_.r.rsi = ptrace_platform().stub_syscall_addr();
  regs_.r.rax = SYS_clone;
  regs_.r.rdi = kStubForkCloneFlags;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_clone});
  EXPECT_EQ(regs_.Arg(0), kStubForkCloneFlags);
  EXPECT_EQ(Children(), before);  // Nothing was forked.
  EXPECT_FALSE(ptrace_as().lost());
}

TEST_F(PtraceThreadsTest, SeccompKillsACloneWithOtherFlags) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  const pid_t tid = ptrace_as().CurrentStubThreadTid();
  // A thread of the stub thread (CLONE_THREAD), as gVisor once did.
  absl::StatusOr<int64_t> r =
      ptrace_as().InjectSyscall(SYS_clone, {kStubThreadCloneFlags | CLONE_THREAD, 0, 0, 0, 0, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 31 (SIGSYS)", tid)));
  EXPECT_FALSE(ProcessExists(tid));
}

TEST_F(PtraceTest, SeccompKillsTheFirstProcessOnACloneWithOtherFlags) {
  const pid_t pid = ptrace_as().pid();
  absl::StatusOr<int64_t> r = ptrace_as().InjectSyscall(SYS_clone, {SIGCHLD, 0, 0, 0, 0, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 31 (SIGSYS)", pid)));
  EXPECT_FALSE(ProcessExists(pid));
}

// Runs syscall `nr` with `a0`, `a1` through the instruction at `syscall_addr` in a
// forked child under the stub filter for the code page `code_page`, and returns
// how the child ended (its wait status).
int RunUnderStubFilter(uint64_t code_page, uint64_t syscall_addr, uint64_t nr, uint64_t a0,
                       uint64_t a1, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                       uint64_t a5 = 0) {
  std::vector<sock_filter> filter = BuildStubFilter(code_page);
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(1);
    if (syscall(SYS_seccomp, 1, 0, &prog) != 0) _exit(2);
    // An allowed call returns to the int3 after the stub's syscall: SIGTRAP.
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    asm volatile("jmp *%[target]"
                 :
                 : [target] "r"(syscall_addr), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10),
                   "r"(r8), "r"(r9)
                 : "memory");
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST_F(PtraceTest, StubFilterAllowsOnlyTheStubClonesAndPrctl) {
  const uint64_t page = ptrace_platform().region_start();
  const uint64_t sys = ptrace_platform().stub_syscall_addr();
  struct Case {
    const char* what;
    uint64_t nr, a0, a1;
  };
  const Case killed[] = {
      {"clone with CLONE_THREAD", SYS_clone, kStubThreadCloneFlags | CLONE_THREAD, 0},
      {"clone without CLONE_PTRACE", SYS_clone, kStubThreadCloneFlags & ~uint64_t{CLONE_PTRACE}, 0},
      {"clone with an exit signal", SYS_clone, kStubThreadCloneFlags | SIGCHLD, 0},
      {"clone with a new user namespace", SYS_clone, kStubThreadCloneFlags | CLONE_NEWUSER, 0},
      {"clone with a stack", SYS_clone, kStubThreadCloneFlags, 0x10000},
      {"stub fork with an exit signal", SYS_clone, kStubForkCloneFlags | SIGCHLD, 0},
      {"stub fork with CLONE_VM", SYS_clone, kStubForkCloneFlags | CLONE_VM, 0},
      {"stub fork without CLONE_FILES", SYS_clone, CLONE_PARENT | CLONE_PTRACE, 0},
      {"stub fork with CLONE_THREAD", SYS_clone,
       kStubForkCloneFlags | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0},
      {"stub fork with a new pid namespace", SYS_clone, kStubForkCloneFlags | CLONE_NEWPID, 0},
      {"stub fork without CLONE_PTRACE", SYS_clone, CLONE_FILES | CLONE_PARENT, 0},
      {"stub fork without CLONE_PARENT", SYS_clone, CLONE_FILES | CLONE_PTRACE, 0},
      {"stub fork with a stack", SYS_clone, kStubForkCloneFlags, 0x10000},
      {"stub fork with flags in the high word", SYS_clone,
       kStubForkCloneFlags | (uint64_t{1} << 32), 0},
      {"fork-like clone", SYS_clone, SIGCHLD, 0},
      {"clone3", SYS_clone3, 0, 0},
      {"fork", SYS_fork, 0, 0},
      {"vfork", SYS_vfork, 0, 0},
      {"prctl(PR_SET_PDEATHSIG, SIGTERM)", SYS_prctl, PR_SET_PDEATHSIG, SIGTERM},
      {"prctl(PR_SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE, 1},
      {"getppid", SYS_getppid, 0, 0},
  };
  for (const Case& c : killed) {
    const int status = RunUnderStubFilter(page, sys, c.nr, c.a0, c.a1);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << c.what << ": " << status;
  }
  // Allowed (and then the child traps on the stub's int3).
  int status = RunUnderStubFilter(page, sys, SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTRAP) << status;
  // The right clone, but from outside the code page.
  status = RunUnderStubFilter(page + kPage, sys, SYS_clone, kStubThreadCloneFlags, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << status;
}

// The calls that receive, close and map host files (MapHostFile), argument by
// argument: only recvmsg(PTRACE_STUB_SOCKET_FD, msg, 0), close of fd >= 2 and a
// private, fixed, non-writable mmap of fd >= 2 pass.
TEST_F(PtraceTest, StubFilterAllowsOnlyTheHostFileCalls) {
  const uint64_t page = ptrace_platform().region_start();
  const uint64_t sys = ptrace_platform().stub_syscall_addr();
  constexpr uint64_t kAddr = 0x10000000;
  constexpr uint64_t kFixedPrivate = MAP_PRIVATE | MAP_FIXED;
  struct Case {
    const char* what;
    uint64_t nr, a0, a1, a2, a3, a4, a5;
  };
  const Case killed[] = {
      {"recvmsg on the memory file", SYS_recvmsg, 0, 0, 0, 0, 0, 0},
      {"recvmsg on a host file", SYS_recvmsg, 2, 0, 0, 0, 0, 0},
      {"recvmsg with MSG_DONTWAIT", SYS_recvmsg, 1, 0, MSG_DONTWAIT, 0, 0, 0},
      {"recvmsg with MSG_CMSG_CLOEXEC", SYS_recvmsg, 1, 0, MSG_CMSG_CLOEXEC, 0, 0, 0},
      {"recvmmsg", SYS_recvmmsg, 1, 0, 1, 0, 0, 0},
      {"recvfrom", SYS_recvfrom, 1, 0, 0, 0, 0, 0},
      {"sendmsg", SYS_sendmsg, 1, 0, 0, 0, 0, 0},
      {"close of the memory file", SYS_close, 0, 0, 0, 0, 0, 0},
      {"close of the socket", SYS_close, 1, 0, 0, 0, 0, 0},
      {"close_range", SYS_close_range, 2, ~0u, 0, 0, 0, 0},
      {"dup", SYS_dup, 2, 0, 0, 0, 0, 0},
      {"dup2 onto the socket", SYS_dup2, 2, 1, 0, 0, 0, 0},
      {"writable private mmap of a host file", SYS_mmap, kAddr, kPage, PROT_READ | PROT_WRITE,
       kFixedPrivate, 1000, 0},
      {"write-only private mmap of a host file", SYS_mmap, kAddr, kPage, PROT_WRITE, kFixedPrivate,
       1000, 0},
      {"private mmap of the memory file", SYS_mmap, kAddr, kPage, PROT_READ, kFixedPrivate, 0, 0},
      {"private mmap of the socket", SYS_mmap, kAddr, kPage, PROT_READ, kFixedPrivate, 1, 0},
      {"shared mmap of a host file", SYS_mmap, kAddr, kPage, PROT_READ, MAP_SHARED | MAP_FIXED,
       1000, 0},
      {"private mmap of a host file without MAP_FIXED", SYS_mmap, kAddr, kPage, PROT_READ,
       MAP_PRIVATE, 1000, 0},
      {"anonymous private mmap", SYS_mmap, kAddr, kPage, PROT_READ, kFixedPrivate | MAP_ANONYMOUS,
       1000, 0},
      {"private mmap with flags in the high word", SYS_mmap, kAddr, kPage, PROT_READ,
       kFixedPrivate | (uint64_t{1} << 32), 1000, 0},
  };
  for (const Case& c : killed) {
    const int status = RunUnderStubFilter(page, sys, c.nr, c.a0, c.a1, c.a2, c.a3, c.a4, c.a5);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << c.what << ": " << status;
  }
  // Allowed: they fail in the child (no such fd, or fd 1 is not a socket there)
  // and return to the stub's int3.
  const Case allowed[] = {
      {"recvmsg(1, msg, 0)", SYS_recvmsg, 1, 0, 0, 0, 0, 0},
      {"close of a host file", SYS_close, 1000, 0, 0, 0, 0, 0},
      {"read-only private mmap of a host file", SYS_mmap, kAddr, kPage, PROT_READ, kFixedPrivate,
       1000, 0},
      {"r-x private mmap of a host file", SYS_mmap, kAddr, kPage, PROT_READ | PROT_EXEC,
       kFixedPrivate, 1000, 0},
  };
  for (const Case& c : allowed) {
    const int status = RunUnderStubFilter(page, sys, c.nr, c.a0, c.a1, c.a2, c.a3, c.a4, c.a5);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTRAP) << c.what << ": " << status;
  }
  // The right calls, but from outside the code page.
  for (const Case& c : allowed) {
    const int status =
        RunUnderStubFilter(page + kPage, sys, c.nr, c.a0, c.a1, c.a2, c.a3, c.a4, c.a5);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << c.what << ": " << status;
  }
}

// A guest that jumps to the stub's `syscall` with the host-file calls gains
// nothing: each is a SYSEMU stop, and the shared fd table is untouched.
TEST_F(PtraceThreadsTest, GuestHostFileCallsThroughTheStubsSyscallAreTrapped) {
  StubThreadTid();
  const pid_t pid = ptrace_as().pid();
  const std::vector<std::string> fds = Fds(pid);
  struct Case {
    const char* what;
    uint64_t nr, a0, a2, a3, a4;
  };
  const Case cases[] = {
      {"recvmsg", SYS_recvmsg, PTRACE_STUB_SOCKET_FD, 0, 0, 0},
      {"close of the socket", SYS_close, PTRACE_STUB_SOCKET_FD, 0, 0, 0},
      {"close of the memory file", SYS_close, PTRACE_STUB_MEMORY_FD, 0, 0, 0},
      {"close of a host file", SYS_close, PTRACE_STUB_FIRST_HOST_FD, 0, 0, 0},
      {"mmap of a host file", SYS_mmap, kData, PROT_READ, MAP_PRIVATE | MAP_FIXED,
       PTRACE_STUB_FIRST_HOST_FD},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    LoadGuest(guest::jump_rsi());
    regs_.r.rsi = ptrace_platform().stub_syscall_addr();
    regs_.r.rax = c.nr;
    regs_.r.rdi = c.a0;
    regs_.r.rdx = c.a2;
    regs_.r.r10 = c.a3;
    regs_.r.r8 = c.a4;
    SwitchResult r = Run();
    ASSERT_EQ(r.kind, Kind::kSyscall);
    EXPECT_EQ(regs_.SyscallNumber(), c.nr);
    EXPECT_FALSE(ptrace_as().lost());
    EXPECT_EQ(Fds(pid), fds);
  }
  EXPECT_THAT(MapsBesidesTheStubRegion(pid, ptrace_platform().region_start()),
              ::testing::Not(::testing::Contains(HasSubstr("00600000-"))));
}

}  // namespace
}  // namespace platform::ptrace
