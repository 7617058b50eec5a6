// Tests of syscall-site patching at the platform level: the trampoline, the
// common code and the stub's fast entry, with the region written by hand (the
// Sentry's patcher is tested in sentry/kernel and by the syscall tests).
#include "platform/systrap/syscall_patch.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"
#include "platform/platform.h"
#include "platform/platform_test_util.h"
#include "platform/systrap/systrap_platform.h"
#include "platform/systrap/systrap_stub.h"

namespace platform::systrap {
namespace {

using Kind = SwitchResult::Kind;
using namespace ::platform::test;  // NOLINT: the shared layout, fixture and readers

constexpr uint64_t kTableFile = 3 * kPage, kHeaderFile = 4 * kPage, kStubFile = 5 * kPage;
constexpr uint64_t kArithFlags = 0x8d5;

TEST(SyscallSiteDecode, Forms) {
  const uint8_t seven[] = {0x90, 0x90, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05};
  auto s = DecodeSyscallSite(0x1009, seven);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->start, 0x1002u);
  EXPECT_EQ(s->length, 7u);
  EXPECT_EQ(s->nr, 39u);
  const uint8_t nine[] = {0x48, 0xc7, 0xc0, 0x6e, 0, 0, 0, 0x0f, 0x05};
  s = DecodeSyscallSite(0x1009, nine);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->start, 0x1000u);
  EXPECT_EQ(s->length, 9u);
  EXPECT_EQ(s->nr, 110u);
  // Exactly seven bytes (the page before was not readable).
  s = DecodeSyscallSite(0x1007, std::span(seven).subspan(2));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->nr, 39u);
  // mov $39, %r8d (41 b8): the mov does not start at the site.
  const uint8_t r8[] = {0x90, 0x41, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05};
  EXPECT_FALSE(DecodeSyscallSite(0x1009, r8).has_value());
  // Not a syscall, or another instruction.
  const uint8_t sysenter[] = {0x90, 0x90, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x34};
  EXPECT_FALSE(DecodeSyscallSite(0x1009, sysenter).has_value());
  const uint8_t other[] = {0x90, 0x90, 0xb9, 0x27, 0, 0, 0, 0x0f, 0x05};
  EXPECT_FALSE(DecodeSyscallSite(0x1009, other).has_value());
}

TEST(SyscallSiteDecode, TheJumpEndsWithASyscall) {
  for (uint32_t i : {0u, 1u, kMaxPatchSites - 1}) {
    auto j = BuildPatchJump(i);
    EXPECT_EQ(j[5], 0x0f);
    EXPECT_EQ(j[6], 0x05);
    EXPECT_LT(PatchStubAddr(i) + kPatchStubSize, kPatchRegionEnd + 1);
  }
}

class SyscallPatchTest : public GuestFixture {
 protected:
  void SetUp() override {
    CreatePlatform("systrap", "syscall_patch_test", Options{.syscall_patching = true});
    if (HasFatalFailure()) return;
    ASSERT_NE(platform_->syscall_patch_target(), nullptr);
    // The region: table page, header page, first stub page.
    const std::vector<uint8_t> header = BuildPatchHeader(*platform_->syscall_patch_target());
    std::memcpy(mem_ + kHeaderFile, header.data(), header.size());
    ASSERT_OK(as_->MapFile(kPatchRegionStart, kTableFile, kPage, PROT_READ | PROT_EXEC));
    ASSERT_OK(as_->MapFile(kPatchHeaderAddr, kHeaderFile, kPage, PROT_READ | PROT_EXEC));
    ASSERT_OK(as_->MapFile(PatchStubAddr(0), kStubFile, kPage, PROT_READ | PROT_EXEC));
  }

  void TearDown() override { DestroyPlatform(); }

  // Patches site `index` at kCode + offset (a 7-byte mov+syscall of `nr`).
  void Patch(uint32_t index, uint64_t offset, uint32_t nr) {
    SyscallSite site{kCode + offset, 7, nr};
    auto stub = BuildPatchStub(index, site);
    std::memcpy(mem_ + kStubFile + (PatchStubAddr(index) - PatchStubAddr(0)), stub.data(),
                stub.size());
    const uint64_t target = PatchStubAddr(index);
    std::memcpy(mem_ + kTableFile + (PatchTableAddr(index) - kPatchRegionStart), &target, 8);
    auto jump = BuildPatchJump(index);
    std::memcpy(mem_ + kCodeFile + offset, jump.data(), jump.size());
  }
};

// mov $39, %eax; syscall (patched); mov %rcx, %rbx; mov %r11, %rbp; ud2.
const std::vector<uint8_t> kSiteThenUd2 = {0xb8, 0x27, 0,    0,    0,    0x0f, 0x05, 0x48,
                                           0x89, 0xcb, 0x4c, 0x89, 0xdd, 0x0f, 0x0b};

TEST_F(SyscallPatchTest, FastEntryReportsTheSyscallAsATrapWould) {
  LoadGuest(kSiteThenUd2);
  Patch(0, 0, SYS_getppid);
  regs_.r.rdi = 1, regs_.r.rsi = 2, regs_.r.rdx = 3, regs_.r.r10 = 4, regs_.r.r8 = 5;
  regs_.r.r9 = 6, regs_.r.rbx = 7, regs_.r.rbp = 8, regs_.r.r12 = 12, regs_.r.r15 = 15;
  regs_.r.eflags = 0x202 | 0x1 | 0x40 | 0x800;  // CF ZF OF
  const uint64_t xmm = 0xfeedfacecafebeef;
  std::memcpy(fp_.bytes().data() + XmmOffset(3), &xmm, sizeof(xmm));
  fp_.set_dirty(true);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_TRUE(r.patchable);  // The Sentry finds no site before a trampoline's rip.
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
  EXPECT_EQ(regs_.r.rax, static_cast<uint64_t>(-ENOSYS));
  EXPECT_EQ(regs_.Ip(), PatchStubAddr(0) + kPatchStubResume);
  EXPECT_EQ(regs_.r.rcx, kCode + 7);
  EXPECT_EQ(regs_.r.eflags & kArithFlags, 0x1u | 0x40 | 0x800);
  EXPECT_EQ(regs_.r.r11, regs_.r.eflags);
  EXPECT_EQ(regs_.r.rsp, kStack + kPage - 64);
  EXPECT_EQ(regs_.r.gs_base, 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(regs_.Arg(i), uint64_t(i + 1)) << "arg " << i;
  EXPECT_EQ(regs_.r.rbx, 7u);
  EXPECT_EQ(regs_.r.r12, 12u);
  EXPECT_EQ(regs_.r.r15, 15u);
  ASSERT_OK(ctx_->SyncFpState(fp_));
  uint64_t out;
  std::memcpy(&out, fp_.bytes().data() + XmmOffset(3), sizeof(out));
  EXPECT_EQ(out, xmm);
  // The Sentry's answer; the guest goes on after the site.
  const uint64_t flags = regs_.r.eflags;
  regs_.SetReturn(4321);
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGILL);
  EXPECT_EQ(regs_.Ip(), kCode + 13);
  EXPECT_EQ(regs_.r.rax, 4321u);
  EXPECT_EQ(regs_.r.rbx, kCode + 7);  // rcx as the syscall left it
  EXPECT_EQ(regs_.r.rbp, flags);      // r11
  EXPECT_EQ(regs_.r.eflags & kArithFlags, 0x1u | 0x40 | 0x800);
}

TEST_F(SyscallPatchTest, ARestartRewindsOntoTheTrampolinesSyscall) {
  LoadGuest(kSiteThenUd2);
  Patch(0, 0, SYS_getppid);
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  // What the Sentry does for ERESTART_RESTARTBLOCK: rax = restart_syscall, rip -= 2.
  regs_.r.rax = SYS_restart_syscall;
  regs_.r.rip -= 2;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_restart_syscall});
  EXPECT_EQ(regs_.Ip(), PatchStubAddr(0) + kPatchStubResume);
  EXPECT_EQ(regs_.r.rcx, kCode + 7);
  regs_.SetReturn(5);
  ASSERT_EQ(Run().kind, Kind::kSignal);
  EXPECT_EQ(regs_.Ip(), kCode + 13);
  EXPECT_EQ(regs_.r.rax, 5u);
}

TEST_F(SyscallPatchTest, AThreadStoppedBeforeTheSyscallStillFindsOne) {
  // Patched while the guest sat between the mov and the syscall: site + 5.
  LoadGuest(kSiteThenUd2);
  Patch(0, 0, SYS_getppid);
  regs_.r.rip = kCode + 5;
  regs_.r.rax = SYS_getppid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
  EXPECT_EQ(regs_.Ip(), kCode + 7);
}

TEST_F(SyscallPatchTest, AGuestGsBaseTakesTheTrapPath) {
  LoadGuest(kSiteThenUd2);
  Patch(0, 0, SYS_getppid);
  for (uint64_t gs : {uint64_t{0x700000}, platform_->syscall_patch_target()->slot_lo + 8}) {
    regs_.r.rip = kCode;
    regs_.r.gs_base = gs;
    regs_.r.eflags = 0x202 | 0x4 | 0x80;  // PF SF
    SwitchResult r = Run();
    ASSERT_EQ(r.kind, Kind::kSyscall);
    EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
    EXPECT_EQ(regs_.Ip(), PatchStubAddr(0) + 27);  // the trampoline's own syscall
    EXPECT_EQ(regs_.r.eflags & kArithFlags, 0x4u | 0x80);
    EXPECT_EQ(regs_.r.gs_base, gs);
    regs_.SetReturn(77);
    ASSERT_EQ(Run().kind, Kind::kSignal);
    EXPECT_EQ(regs_.Ip(), kCode + 13);
    EXPECT_EQ(regs_.r.rax, 77u);
    EXPECT_EQ(regs_.r.gs_base, gs);
  }
}

TEST_F(SyscallPatchTest, InterruptsDuringFastEntriesAreNeverLost) {
  // loop: patched getppid; jmp loop.
  LoadGuest({0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7});
  Patch(0, 0, SYS_getppid);
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    while (!done.load()) {
      ctx_->Interrupt();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  const uint64_t code_lo = static_cast<SystrapPlatform&>(*platform_).ptrace().region_start();
  int syscalls = 0, interrupts = 0;
  while (syscalls < 20000) {
    SwitchResult r = Run();
    if (r.kind == Kind::kSyscall) {
      ++syscalls;
      ASSERT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
      ASSERT_EQ(regs_.Ip(), PatchStubAddr(0) + kPatchStubResume);
      regs_.SetReturn(1);
    } else {
      ASSERT_EQ(r.kind, Kind::kInterrupted);
      ++interrupts;
      // Never inside the stub code: the guest is resumable anywhere else.
      ASSERT_FALSE(regs_.Ip() >= code_lo && regs_.Ip() < code_lo + kPage) << std::hex << regs_.Ip();
    }
  }
  done = true;
  interrupter.join();
  EXPECT_GT(interrupts, 0);
}

TEST_F(SyscallPatchTest, AGuestJumpingIntoTheFastEntryGainsNothing) {
  // jmp *%rsi with rsi = the fast entry and rcx = an unmapped "control page".
  LoadGuest({0xff, 0xe6});
  regs_.r.rsi = platform_->syscall_patch_target()->fast_entry;
  regs_.r.rcx = 0x10000;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, 0x10000u + SYSTRAP_CTL_FAST_RSP);
  // The platform is fine: a patched site still works.
  LoadGuest(kSiteThenUd2);
  Patch(0, 0, SYS_getppid);
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
}

}  // namespace
}  // namespace platform::systrap
