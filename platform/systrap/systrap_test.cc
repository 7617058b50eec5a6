// Tests of the systrap platform's own machinery (the stub's handlers, its spin,
// access types, the slot a guest could forge), with the ptrace platform's guest
// snippets (platform/ptrace/ptrace_test_guest_amd64.S). What every platform does
// is in ../platform_test.cc.
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "platform/platform_test_util.h"
#include "platform/ptrace/ptrace_test_guest.h"
#include "platform/systrap/systrap_platform.h"
#include "platform/systrap/systrap_sigframe.h"

namespace platform::systrap {
namespace {

namespace guest = ::platform::ptrace::guest;
using ::testing::HasSubstr;
using Kind = SwitchResult::Kind;
using namespace ::platform::test;  // NOLINT: the shared layout, fixture and readers

class SystrapTest : public GuestFixture {
 protected:
  void SetUp() override { CreatePlatform("systrap", "systrap_test"); }
  void TearDown() override { DestroyPlatform(); }

  SystrapPlatform& sp() { return static_cast<SystrapPlatform&>(*platform_); }
  SystrapAddressSpace& sas() { return static_cast<SystrapAddressSpace&>(*as_); }

  // The calling thread's guest stub thread.
  std::shared_ptr<SystrapThread> Thread() {
    auto t = sas().ThreadForCurrentThread();
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : nullptr;
  }

  // For the spin tests: a getppid round trip of guest::syscall_loop.
  void RunGetppid() {
    regs_.r.rax = SYS_getppid;
    ASSERT_EQ(Run().kind, Kind::kSyscall);
  }
  // The stub's spin budget the Sentry publishes in `t`'s control page.
  static uint32_t PublishedSpin(const SystrapThread& t) {
    uint32_t v;
    std::memcpy(&v, t.mem + SYSTRAP_CTL_STUB_SPIN, sizeof(v));
    return v;
  }
  // Round trips until the published spin is full again (up to 200: a busy host
  // may preempt us); whether it got there.
  bool RunUntilFullSpin(const SystrapThread& t) {
    for (int i = 0; i < 200; ++i) {
      RunGetppid();
      if (PublishedSpin(t) == SYSTRAP_STUB_SPIN) return true;
    }
    return false;
  }
};

TEST_F(SystrapTest, Properties) {
  EXPECT_EQ(platform_->Name(), "systrap");
  EXPECT_TRUE(platform_->ReportsAccessType());
  const uint64_t max = platform_->MaxUserAddress();
  EXPECT_EQ(max % kSlotSize, 0u);
  EXPECT_LE(max + kSlotAreaSize, sp().ptrace().region_start());
  EXPECT_GE(max, 0x7e0000000000u);
  EXPECT_EQ(as_->MapFile(max, 0, kPage, PROT_READ).code(), absl::StatusCode::kInvalidArgument);
}

// The handlers are installed once, in the template stub, before it is forked: a
// new stub has them from birth (no injection per address space), and the page the
// template read them from is gone again.
TEST_F(SystrapTest, StubsInheritTheHandlersFromTheTemplate) {
  const pid_t tmpl = sp().ptrace().TemplatePid();
  ASSERT_GT(tmpl, 0);
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const pid_t pid = static_cast<SystrapAddressSpace&>(**fresh).inner().pid();
  // Every signal but SIGKILL and SIGSTOP.
  const std::string want = "fffffffffffbfeff";
  const uint64_t region = sp().ptrace().region_start();
  for (pid_t p : {tmpl, pid}) {
    SCOPED_TRACE(absl::StrFormat("pid %d (template %d)", p, tmpl));
    EXPECT_EQ(StatusField(p, "SigCgt"), want);
    EXPECT_EQ(StatusField(p, "SigIgn"), "0000000000000000");
    EXPECT_THAT(MapsBesidesTheStubRegion(p, region), ::testing::IsEmpty());
  }
  // The guest stub thread shares them (CLONE_SIGHAND).
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(StatusField(t->st->tid, "SigCgt"), want);
}

// A lost template is made again (PtraceTest.ALostTemplateIsMadeAgain), and set up
// again: the new one has the handlers too, and a guest runs in a fork of it.
TEST_F(SystrapTest, ALostTemplateIsMadeAndSetUpAgain) {
  const pid_t tmpl = sp().ptrace().TemplatePid();
  ASSERT_GT(tmpl, 0);
  ASSERT_EQ(kill(tmpl, SIGKILL), 0);
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  const pid_t now = sp().ptrace().TemplatePid();
  ASSERT_GT(now, 0);
  EXPECT_NE(now, tmpl);
  EXPECT_FALSE(ProcessExists(tmpl));
  EXPECT_EQ(StatusField(now, "SigCgt"), "fffffffffffbfeff");
  EXPECT_THAT(MapsBesidesTheStubRegion(now, sp().ptrace().region_start()), ::testing::IsEmpty());
  // A guest in the new stub: its syscall and a host signal both reach the Sentry.
  as_ = std::move(*fresh);
  ASSERT_OK(as_->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  ASSERT_EQ(kill(Thread()->st->tid, SIGTERM), 0);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTERM);
}

// The stub's spin after a trap, which the Sentry publishes in the control page:
// full while the Sentry answers before the stub gives up, short once it answered
// late a few times in a row (a task that blocks in the Sentry), full again once a
// probe finds fast answers.
TEST_F(SystrapTest, RecycleScrubsTheLastProcesssFramesFromTheSlots) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getppid;
  regs_.r.rbx = 0x5ec7e75ec7e75ec7;  // in the frame the stub hands over
  regs_.r.fs_base = 0x12345000;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  auto holds = [&](uint64_t v) {
    for (size_t off = 0; off + 8 <= kSlotSize; off += 8) {
      if (std::memcmp(t->mem + off, &v, 8) == 0) return true;
    }
    return false;
  };
  ASSERT_TRUE(holds(0x5ec7e75ec7e75ec7));
  ASSERT_TRUE(holds(0x12345000));

  ASSERT_OK(as_->Recycle());
  EXPECT_FALSE(holds(0x5ec7e75ec7e75ec7));
  EXPECT_FALSE(holds(0x12345000));
  // The hand-over words stay: the same stub thread runs the next process.
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getppid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(Thread(), t);
}

TEST_F(SystrapTest, TheStubSpinsOnlyWhileItPaysOff) {
  LoadGuest(guest::syscall_loop());
  RunGetppid();
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  if (!MultiCpu()) {
    RunGetppid();
    EXPECT_EQ(PublishedSpin(*t), 0u);
    return;
  }
  // Fast answers: full.
  EXPECT_TRUE(RunUntilFullSpin(*t));
  // Late answers (the stub's ~100 us spin is long over): short.
  bool shortened = false;
  for (int i = 0; i < 8 && !shortened; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    RunGetppid();
    shortened = PublishedSpin(*t) < SYSTRAP_STUB_SPIN;
  }
  EXPECT_TRUE(shortened);
  // Fast again: a probe finds out.
  EXPECT_TRUE(RunUntilFullSpin(*t));
}

// Context::WillBlock (the task is about to block in the Sentry) sends the stub to
// sleep at once (its budget 0, which the spinning stub checks), and that sleep is
// not held against the stub's spin.
TEST_F(SystrapTest, WillBlockSendsTheStubToSleep) {
  if (!MultiCpu()) GTEST_SKIP() << "one CPU: the stub never spins";
  LoadGuest(guest::syscall_loop());
  RunGetppid();
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  auto sleeping = [&] {
    return reinterpret_cast<std::atomic<uint32_t>*>(t->mem + SYSTRAP_CTL_STUB_SLEEPING)->load();
  };
  ASSERT_TRUE(RunUntilFullSpin(*t));
  for (int i = 0; i < 8; ++i) {
    ctx_->WillBlock();
    EXPECT_EQ(PublishedSpin(*t), 0u);
    for (int j = 0; j < 5000 && sleeping() == 0; ++j) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    EXPECT_NE(sleeping(), 0u);
    RunGetppid();
    EXPECT_EQ(PublishedSpin(*t), SYSTRAP_STUB_SPIN) << "round " << i;
  }
}

TEST_F(SystrapTest, FaultsReportTheAddress) {
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 0x10;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 0x10);
  EXPECT_EQ(r.info.si_signo, SIGSEGV);
  EXPECT_EQ(r.info.si_code, SEGV_MAPERR);
  EXPECT_EQ(regs_.Ip(), kCode);
  // Map it and retry: the store goes through.
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.info.si_code, SEGV_ACCERR);
  ASSERT_OK(as_->Protect(kData, kPage, PROT_READ | PROT_WRITE));
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(mem_[kDataFile + 0x10], 1);
}

TEST_F(SystrapTest, FaultsReportTheirAccess) {
  struct Case {
    const char* what;
    std::span<const char> code;
    int prot;  // of kData; -1: unmapped
    int si_code;
    uint32_t access;
  };
  const Case cases[] = {
      {"read of unmapped", guest::load(), -1, SEGV_MAPERR, kAccessRead},
      {"read of PROT_NONE", guest::load(), PROT_NONE, SEGV_ACCERR, kAccessRead},
      {"write to unmapped", guest::store(), -1, SEGV_MAPERR, kAccessWrite},
      {"write to read-only", guest::store(), PROT_READ, SEGV_ACCERR, kAccessWrite},
      {"write to PROT_NONE", guest::store(), PROT_NONE, SEGV_ACCERR, kAccessWrite},
      {"exec of unmapped", guest::jump_rsi(), -1, SEGV_MAPERR, kAccessExec},
      {"exec of read-only", guest::jump_rsi(), PROT_READ, SEGV_ACCERR, kAccessExec},
      {"exec of read-write", guest::jump_rsi(), PROT_READ | PROT_WRITE, SEGV_ACCERR, kAccessExec},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    if (c.prot < 0) {
      ASSERT_OK(as_->Unmap(kData, kPage));
    } else {
      ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, c.prot));
    }
    LoadGuest(c.code);
    regs_.r.rdi = kData + 0x18;
    regs_.r.rsi = kData + 0x18;
    SwitchResult r = Run();
    ASSERT_EQ(r.kind, Kind::kFault);
    EXPECT_EQ(r.fault_addr, kData + 0x18);
    EXPECT_EQ(r.info.si_code, c.si_code);
    EXPECT_EQ(r.access, c.access);
  }
  // A fault that is not a page fault has no access: a general protection fault is
  // a signal (SI_KERNEL), as on ptrace.
  LoadGuest(guest::non_canonical());
  SwitchResult r = Run();
  EXPECT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.access, kAccessNone);
}

// --- Attacks: the guest can write its slot and jump into the stub code. ---

TEST_F(SystrapTest, GuestJumpIntoTheStubsSyscallIsKilled) {
  LoadGuest(guest::jump_to_stub());
  regs_.r.rsi = sp().ptrace().stub_syscall_addr();
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("SIGSYS"));
  EXPECT_TRUE(sas().lost());
}

// getpid from the code page is allowed by the stub's own filter (injections use
// it), so only the guest-thread filter (read-only in the code page) kills this.
TEST_F(SystrapTest, GuestThreadFilterIsInPlace) {
  // mov $SYS_getpid, %eax; jmp *%rsi
  static const char code[] = {'\xb8', '\x27', '\x00', '\x00', '\x00', '\xff', '\xe6'};
  static_assert(SYS_getpid == 0x27);
  LoadGuest(code);
  regs_.r.rsi = sp().ptrace().stub_syscall_addr();
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("SIGSYS"));
  EXPECT_TRUE(sas().lost());
}

TEST_F(SystrapTest, GuestJumpIntoTheHandlerGainsNothing) {
  // The handler, entered with the guest's own stack: it writes to and waits on
  // guest memory, which the Sentry never reads; the Sentry sees no trap until
  // it interrupts (and then only a bad frame, or a clean interrupt).
  LoadGuest(guest::jump_rsi());
  regs_.r.rsi = sp().StubCodeAddr(platform_systrap_stub_handler);
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  regs_.r.rsp = kData + 0x800;
  std::thread interrupter([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctx_->Interrupt();
  });
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  interrupter.join();
  // Whatever happened, the Sentry is fine and the guest was either interrupted
  // or lost.
  if (r.ok()) {
    EXPECT_EQ(r->kind, Kind::kInterrupted);
  }
}

TEST_F(SystrapTest, ForgedStateWordLosesTheAddressSpace) {
  LoadGuest(guest::spin());
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  // Another guest thread of the address space could write this word while the
  // guest runs: the Sentry notices at its next look and gives up the guest.
  std::thread forger([t] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    reinterpret_cast<std::atomic<uint32_t>*>(t->mem + SYSTRAP_CTL_STATE)->store(7);
  });
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  forger.join();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("bad frame: state word 0x7"));
  EXPECT_TRUE(sas().lost());
  EXPECT_FALSE(ProcessExists(t->st->tid));
}

TEST_F(SystrapTest, ForgedFramePointerRacingTheSentryIsCaught) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getpid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  // Points the frame out of the slot over and over, as a guest thread could
  // between a trap and the Sentry's read. Whether or not it hits the window, the
  // Sentry never follows it: a hit loses the address space (or kills the stub).
  std::atomic<bool> stop{false};
  std::thread forger([t, &stop] {
    while (!stop) {
      const uint64_t bad = 0x1000;
      std::memcpy(t->mem + SYSTRAP_CTL_UC, &bad, 8);
    }
  });
  bool lost = false;
  for (int i = 0; i < 2000 && !lost; ++i) {
    regs_.r.rax = SYS_getpid;
    absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
    if (!r.ok()) {
      // Caught by the Sentry's checks, or the stub's rt_sigreturn from the forged
      // address faulted (with every signal blocked: the kernel kills it).
      EXPECT_THAT(r.status().message(),
                  ::testing::AnyOf(HasSubstr("bad frame"), HasSubstr("killed by signal 11")))
          << r.status();
      lost = true;
    }
  }
  stop = true;
  forger.join();
  EXPECT_EQ(lost, sas().lost());
}

TEST_F(SystrapTest, StubDeathIsAnErrorAndNothingIsLeft) {
  const std::set<pid_t> before = Children();
  LoadGuest(guest::spin());
  std::shared_ptr<SystrapThread> t = Thread();
  ASSERT_NE(t, nullptr);
  const pid_t tid = t->st->tid;
  t.reset();
  ASSERT_EQ(kill(tid, SIGKILL), 0);
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("killed by signal 9"));
  EXPECT_TRUE(sas().lost());
  ctx_.reset();
  as_.reset();
  EXPECT_FALSE(ProcessExists(tid));
  for (pid_t p : Children()) EXPECT_TRUE(before.contains(p)) << "leftover child " << p;
}

TEST_F(SystrapTest, DestroyingTheAddressSpaceEndsASwitchInAnotherThread) {
  LoadGuest(guest::spin());
  absl::StatusOr<SwitchResult> r;
  std::atomic<bool> started{false};
  std::thread other([&] {
    auto ctx = platform_->NewContext();
    sentry::arch::Registers regs = regs_;
    sentry::arch::FpState fp;
    started = true;
    r = (*ctx)->Switch(*as_, regs, fp);
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  as_.reset();
  other.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("destroyed"));
}

TEST_F(SystrapTest, TwoHostThreadsEachGetTheirOwnStubThread) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getpid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  pid_t other_tid = 0;
  std::thread other([&] {
    auto ctx = platform_->NewContext();
    sentry::arch::Registers regs = regs_;
    sentry::arch::FpState fp;
    regs.r.rax = SYS_gettid;
    absl::StatusOr<SwitchResult> r = (*ctx)->Switch(*as_, regs, fp);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(regs.SyscallNumber(), uint64_t{SYS_gettid});
    other_tid = Thread()->st->tid;
  });
  other.join();
  EXPECT_NE(other_tid, 0);
  EXPECT_NE(other_tid, Thread()->st->tid);
  regs_.r.rax = SYS_getpid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(SystrapTest, AHostThreadsExitRetiresItsStubThreads) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getpid;
  pid_t tid = 0;
  // The context outlives the thread (destroyed here, on another thread): the
  // thread's exit alone must retire its stub thread.
  std::unique_ptr<Context> ctx;
  std::thread other([&] {
    auto c = platform_->NewContext();
    ASSERT_TRUE(c.ok());
    ctx = std::move(*c);
    sentry::arch::Registers regs = regs_;
    sentry::arch::FpState fp;
    absl::StatusOr<SwitchResult> r = ctx->Switch(*as_, regs, fp);
    ASSERT_TRUE(r.ok()) << r.status();
    tid = Thread()->st->tid;
  });
  other.join();
  ASSERT_NE(tid, 0);
  EXPECT_FALSE(ProcessExists(tid));
  // This thread still runs the guest.
  ASSERT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(SystrapTest, DestroyedContextRetiresItsStubThread) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getpid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  const pid_t tid = Thread()->st->tid;
  ctx_.reset();
  EXPECT_FALSE(ProcessExists(tid));
  auto ctx = platform_->NewContext();
  ASSERT_TRUE(ctx.ok());
  ctx_ = std::move(*ctx);
  fp_.set_stale(false);
  regs_.r.rax = SYS_getpid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_NE(Thread()->st->tid, tid);
}

TEST_F(SystrapTest, TwoContextsOnOneHostThreadKeepTheirOwnFpState) {
  LoadGuest(guest::xmm());
  auto other = platform_->NewContext();
  ASSERT_TRUE(other.ok());
  sentry::arch::Registers regs2 = regs_;
  sentry::arch::FpState fp2;
  const uint64_t a = 0x1111111111111111, b = 0x2222222222222222;
  std::memcpy(fp_.bytes().data() + XmmOffset(0), &a, 8);
  std::memcpy(fp2.bytes().data() + XmmOffset(0), &b, 8);
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), a);
  ASSERT_TRUE(ctx_->SyncFpState(fp_).ok());
  absl::StatusOr<SwitchResult> r = (*other)->Switch(*as_, regs2, fp2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(regs2.Arg(0), b);
  // The first context's state was synced: the guest's write to xmm2 is in it.
  uint64_t out;
  std::memcpy(&out, fp_.bytes().data() + XmmOffset(2), 8);
  EXPECT_EQ(out, 0x1122334455667788u);
  // A stale state whose frame another context overwrote is refused.
  // Back to the first context: its synced state is pushed again.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), a);
}

}  // namespace
}  // namespace platform::systrap
