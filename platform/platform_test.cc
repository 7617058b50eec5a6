// What every platform must do, run on each (ptrace and systrap): Platform::Create,
// syscalls, faults, traps, host signals, interrupts and FP state through the
// Platform interface, with the guest snippets of ptrace/ptrace_test_guest_amd64.S.
// What only one platform has (stub processes, the seccomp filter, the systrap
// slot) is tested beside it: ptrace/ptrace_test.cc, systrap/systrap_test.cc.
#include "platform/platform.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/platform_test_util.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/ptrace_test_guest.h"
#include "platform/systrap/systrap_platform.h"

namespace platform {
namespace {

namespace guest = ::platform::ptrace::guest;
using ::testing::HasSubstr;
using Kind = SwitchResult::Kind;
using ptrace::kInterruptSignal;
using namespace ::platform::test;  // NOLINT: the shared layout, fixture and readers

// --- Platform::Create ---

TEST(PlatformCreateTest, UnknownNameNamesTheValidOnes) {
  auto p = Platform::Create("bogus", Options{.memory_fd = 0});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("\"bogus\""));
  EXPECT_THAT(p.status().message(), HasSubstr("ptrace"));
}

TEST(PlatformCreateTest, PtraceNeedsAMemoryFile) {
  auto p = Platform::Create("ptrace", Options{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
}

// The parameter is the platform's name.
class PlatformTest : public GuestFixture, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override { CreatePlatform(GetParam(), "platform_test"); }
  void TearDown() override {
    DestroyPlatform();
    for (const std::string& p : paths_) unlink(p.c_str());
  }

  bool systrap() const { return std::string(GetParam()) == "systrap"; }
  ptrace::PtraceAddressSpace& ptrace_as() {
    return systrap() ? static_cast<systrap::SystrapAddressSpace&>(*as_).inner()
                     : static_cast<ptrace::PtraceAddressSpace&>(*as_);
  }

  // The stub's first process.
  pid_t StubPid() { return ptrace_as().pid(); }
  // The calling host thread's stub thread in as_ (created if needed), where its
  // guest runs.
  pid_t GuestTid() {
    if (systrap()) {
      auto t = static_cast<systrap::SystrapAddressSpace&>(*as_).ThreadForCurrentThread();
      EXPECT_TRUE(t.ok()) << t.status();
      return t.ok() ? (*t)->st->tid : 0;
    }
    auto st = ptrace_as().StubThreadForCurrentThread(/*create=*/true);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? (*st)->tid : 0;
  }
  ptrace::PtracePlatform& ptrace_platform() {
    return systrap() ? static_cast<systrap::SystrapPlatform&>(*platform_).ptrace()
                     : static_cast<ptrace::PtracePlatform&>(*platform_);
  }

  // A host file of `pages` pages written by the test, page i holding
  // HostFileValue(i) at offset 8 * (i + 1) and zeros elsewhere, opened with
  // `flags`; removed at the end of the test.
  std::shared_ptr<const HostFile> NewHostFile(int pages, int flags = O_RDONLY) {
    char path[] = "/tmp/platform_test_host_file.XXXXXX";
    const int w = mkstemp(path);
    EXPECT_GE(w, 0);
    if (w < 0) return nullptr;
    paths_.push_back(path);
    std::vector<uint8_t> contents(pages * kPage);
    for (int i = 0; i < pages; ++i) {
      const uint64_t v = HostFileValue(i);
      std::memcpy(contents.data() + i * kPage + 8 * (i + 1), &v, sizeof(v));
    }
    EXPECT_EQ(write(w, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(w);
    const int fd = open(path, flags | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return std::make_shared<const HostFile>(fd);
  }
  static uint64_t HostFileValue(int page) { return 0x5a5a000000000000 + 0x1111 * (page + 1); }
  // Runs guest::load (at kCode) in `as` on the word at `addr`, and returns what it
  // read.
  uint64_t GuestLoad(AddressSpace& as, uint64_t addr) {
    regs_.r.rip = kCode;
    regs_.r.rsp = kStack + kPage - 64;
    regs_.r.rdi = addr;
    EXPECT_OK(ctx_->SyncFpState(fp_));  // It may move to another address space.
    absl::StatusOr<SwitchResult> r = ctx_->Switch(as, regs_, fp_);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    EXPECT_EQ(r->kind, Kind::kSyscall) << "fault at " << std::hex << r->fault_addr;
    return regs_.Arg(0);
  }
  // The targets of the links in /proc/<pid>/fd.
  static std::vector<std::string> FdTargets(pid_t pid) {
    std::vector<std::string> targets;
    for (const std::string& fd : Fds(pid)) {
      char target[256] = {};
      if (readlink(absl::StrFormat("/proc/%d/fd/%s", pid, fd).c_str(), target, sizeof(target) - 1) >
          0) {
        targets.push_back(target);
      }
    }
    return targets;
  }
  std::vector<std::string> paths_;

  // The access a page fault reports: only where the platform tells it.
  uint32_t Access(uint32_t access) const {
    return platform_->ReportsAccessType() ? access : kAccessNone;
  }
};

INSTANTIATE_TEST_SUITE_P(Platforms, PlatformTest, ::testing::Values("ptrace", "systrap"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// --- Syscalls ---

TEST_P(PlatformTest, SyscallReportsNumberArgsAndTheSentrysReturnValue) {
  LoadGuest(guest::syscall_args());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
  EXPECT_EQ(regs_.r.rax, static_cast<uint64_t>(-ENOSYS));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(regs_.Arg(i), uint64_t(i + 1)) << "arg " << i;
  // rip is right after the `syscall` (0f 05).
  ASSERT_GT(regs_.Ip(), kCode + 2);
  EXPECT_EQ(std::memcmp(mem_ + kCodeFile + (regs_.Ip() - kCode) - 2, "\x0f\x05", 2), 0);
  EXPECT_EQ(regs_.r.cs, 0x33u);

  regs_.SetReturn(1234);
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_exit});
  EXPECT_EQ(regs_.Arg(0), 1234u);
}

TEST_P(PlatformTest, ManySyscallRoundTrips) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getppid;
  for (int i = 0; i < 2000; ++i) {
    SwitchResult r = Run();
    ASSERT_EQ(r.kind, Kind::kSyscall);
    ASSERT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
    regs_.r.rax = SYS_getppid;  // The loop calls whatever rax holds.
  }
}

TEST_P(PlatformTest, GuestSyscallNeverRunsOnTheHost) {
  // exit_group would end the stub thread if it ran.
  LoadGuest(guest::exit_group());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_exit_group});
  EXPECT_TRUE(ProcessExists(StubPid()));
  // The Sentry chose not to exit: the guest goes on to its next syscall.
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
}

TEST_P(PlatformTest, Int0x80IsASyscall) {
  // int $0x80 with eax = 20 (getpid in the i386 table), then ud2.
  static const char code[] = {'\xb8', '\x14', '\x00', '\x00', '\x00',
                              '\xcd', '\x80', '\x0f', '\x0b'};
  LoadGuest(code);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), 20u);
  EXPECT_EQ(regs_.Ip(), kCode + 7);
  EXPECT_FALSE(ptrace_as().lost());
}

TEST_P(PlatformTest, FsAndGsBasesRoundTrip) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getpid;
  regs_.r.fs_base = 0x12345000;
  regs_.r.gs_base = 0x7654321000;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.r.fs_base, 0x12345000u);
  EXPECT_EQ(regs_.r.gs_base, 0x7654321000u);
}

// --- Faults ---

TEST_P(PlatformTest, MappedFileContentsAreVisibleToTheGuest) {
  const uint64_t value = 0x0123456789abcdef;
  std::memcpy(mem_ + kDataFile + 8, &value, sizeof(value));
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  regs_.r.rdi = kData + 8;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), value);
}

TEST_P(PlatformTest, WriteToUnmappedAddressIsAFault) {
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 0x10;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 0x10);
  EXPECT_EQ(r.access, Access(kAccessWrite));
  EXPECT_EQ(r.info.si_signo, SIGSEGV);
  EXPECT_EQ(r.info.si_code, SEGV_MAPERR);
  EXPECT_EQ(regs_.Ip(), kCode);  // The faulting instruction, to be restarted.
}

TEST_P(PlatformTest, WriteToReadOnlyMappingIsAFault) {
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 0x20;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 0x20);
  EXPECT_EQ(r.info.si_code, SEGV_ACCERR);
}

TEST_P(PlatformTest, FaultThenMapThenRetrySucceeds) {
  LoadGuest(guest::store());
  regs_.r.rdi = kData;
  ASSERT_EQ(Run().kind, Kind::kFault);
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(mem_[kDataFile], 1);
}

TEST_P(PlatformTest, UnmapThenAccessFaults) {
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  LoadGuest(guest::store());
  regs_.r.rdi = kData;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(mem_[kDataFile], 1);

  ASSERT_OK(as_->Unmap(kData, kPage));
  regs_.r.rip = kCode;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData);
  EXPECT_EQ(r.info.si_code, SEGV_MAPERR);
}

TEST_P(PlatformTest, ProtectReadOnlyThenWriteFaults) {
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  LoadGuest(guest::store());
  regs_.r.rdi = kData;
  ASSERT_EQ(Run().kind, Kind::kSyscall);

  ASSERT_OK(as_->Protect(kData, kPage, PROT_READ));
  regs_.r.rip = kCode;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData);
  EXPECT_EQ(r.info.si_code, SEGV_ACCERR);
}

// --- Traps ---

TEST_P(PlatformTest, Int3IsSigtrap) {
  LoadGuest(guest::int3());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTRAP);
  EXPECT_EQ(r.info.si_code, SI_KERNEL);
  EXPECT_EQ(regs_.Ip(), kCode + 1);
}

TEST_P(PlatformTest, Ud2IsSigill) {
  LoadGuest(guest::ud2());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGILL);
  EXPECT_EQ(r.info.si_code, ILL_ILLOPN);
  EXPECT_EQ(regs_.Ip(), kCode);
}

TEST_P(PlatformTest, DivideByZeroIsSigfpe) {
  LoadGuest(guest::divide_by_zero());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGFPE);
  EXPECT_EQ(r.info.si_code, FPE_INTDIV);
}

TEST_P(PlatformTest, GeneralProtectionFaultIsASignalNotAPageFault) {
  LoadGuest(guest::non_canonical());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGSEGV);
  EXPECT_EQ(r.info.si_code, SI_KERNEL);
  EXPECT_EQ(r.access, kAccessNone);
}

// --- Host signals and interrupts ---

TEST_P(PlatformTest, HostSignalIsReportedAndNotDelivered) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(kill(GuestTid(), SIGTERM), 0);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTERM);
  EXPECT_EQ(r.info.si_code, SI_USER);
  // Not delivered: the guest goes on.
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

// Any host signal sent to a guest stub thread (a terminal's SIGINT to the stub's
// process group, SIGTERM, SIGHUP, SIGWINCH, ...) is reported as kSignal (on
// ptrace a signal-delivery stop, on systrap the stub's handler) instead of
// killing the stub thread with its default action.
TEST_P(PlatformTest, EveryCatchableHostSignalIsReportedAndNotDelivered) {
  LoadGuest(guest::syscall_loop());
  regs_.r.rax = SYS_getppid;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  const pid_t tid = GuestTid();
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == kInterruptSignal) continue;
    SCOPED_TRACE(
        absl::StrFormat("signal %d (%s)", sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT"));
    ASSERT_EQ(kill(tid, sig), 0);
    SwitchResult r = Run();
    ASSERT_EQ(r.kind, Kind::kSignal);
    EXPECT_EQ(r.info.si_signo, sig);
    EXPECT_EQ(r.info.si_code, SI_USER);
    EXPECT_EQ(r.info.si_pid, getpid());
    // Not delivered: the guest goes on, in the same stub thread.
    regs_.r.rax = SYS_getppid;
    r = Run();
    ASSERT_EQ(r.kind, Kind::kSyscall);
    EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getppid});
    ASSERT_EQ(GuestTid(), tid);
  }
}

// The same while guest code runs (not in the stub's wait loop).
TEST_P(PlatformTest, HostSignalsToARunningGuestAreReported) {
  LoadGuest(guest::spin());
  const pid_t tid = GuestTid();
  ASSERT_GT(tid, 0);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    SCOPED_TRACE(sigabbrev_np(sig));
    std::thread sender([tid, sig] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      kill(tid, sig);
    });
    SwitchResult r = Run();
    sender.join();
    ASSERT_EQ(r.kind, Kind::kSignal);
    EXPECT_EQ(r.info.si_signo, sig);
    EXPECT_EQ(r.info.si_code, SI_USER);
    EXPECT_GE(regs_.Ip(), kCode);
    EXPECT_LT(regs_.Ip(), kCode + guest::spin().size());
  }
  // Still alive, the same stub thread: an interrupt stops it.
  std::thread interrupter([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ctx_->Interrupt();
  });
  SwitchResult r = Run();
  interrupter.join();
  EXPECT_EQ(r.kind, Kind::kInterrupted);
  EXPECT_EQ(GuestTid(), tid);
  EXPECT_TRUE(ProcessExists(tid));
}

TEST_P(PlatformTest, InterruptStopsASpinningGuest) {
  LoadGuest(guest::spin());
  for (int i = 0; i < 3; ++i) {
    std::thread interrupter([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ctx_->Interrupt();
    });
    SwitchResult r = Run();
    interrupter.join();
    ASSERT_EQ(r.kind, Kind::kInterrupted);
    EXPECT_EQ(regs_.Ip(), kCode);
  }
}

TEST_P(PlatformTest, InterruptBeforeSwitchReturnsAtOnce) {
  LoadGuest(guest::syscall_args());
  ctx_->Interrupt();
  SwitchResult r = Run();
  EXPECT_EQ(r.kind, Kind::kInterrupted);
  EXPECT_EQ(regs_.Ip(), kCode);  // The guest did not run.
  // Consumed: the next Switch runs the guest.
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

TEST_P(PlatformTest, StaleInterruptSignalIsIgnored) {
  LoadGuest(guest::syscall_args());
  // An interrupt signal whose flag is already consumed (e.g. it raced with a
  // syscall stop) is pending when the stub resumes.
  ASSERT_EQ(kill(GuestTid(), kInterruptSignal), 0);
  EXPECT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
}

// --- FP state ---

TEST_P(PlatformTest, FpStateRoundTrip) {
  LoadGuest(guest::xmm());
  const uint64_t in = 0xfeedfacecafebeef;
  std::memcpy(fp_.bytes().data() + XmmOffset(0), &in, sizeof(in));
  fp_.set_dirty(true);
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), in);
  EXPECT_FALSE(fp_.dirty());
  EXPECT_TRUE(fp_.stale());

  ASSERT_OK(ctx_->SyncFpState(fp_));
  EXPECT_FALSE(fp_.stale());
  uint64_t xmm0, xmm2;
  std::memcpy(&xmm0, fp_.bytes().data() + XmmOffset(0), sizeof(xmm0));
  std::memcpy(&xmm2, fp_.bytes().data() + XmmOffset(2), sizeof(xmm2));
  EXPECT_EQ(xmm0, in);
  EXPECT_EQ(xmm2, 0x1122334455667788u);
  EXPECT_EQ(fp_.mxcsr(), 0x1f80u);
}

TEST_P(PlatformTest, FpStateSurvivesSwitchesWithoutSync) {
  LoadGuest(guest::xmm());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0u);  // xmm2 before the guest set it.
  // Neither dirty nor synced: the guest's FP state stays live in the stub.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);
}

TEST_P(PlatformTest, FpStateMovesToAnotherAddressSpaceOnlyWhenSynced) {
  LoadGuest(guest::xmm());
  ASSERT_EQ(Run().kind, Kind::kSyscall);  // The guest set xmm2; it is live in as_.

  auto other = platform_->NewAddressSpace();
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_OK((*other)->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  ASSERT_OK((*other)->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  regs_.r.rip = kCode;
  absl::StatusOr<SwitchResult> r = ctx_->Switch(**other, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_OK(ctx_->SyncFpState(fp_));
  r = ctx_->Switch(**other, regs_, fp_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);  // xmm2 came along.
}

// --- Platform::Warm ---

TEST_P(PlatformTest, WarmMakesTheTemplateStubAheadAndOnce) {
  // A platform of its own, with no address space yet.
  auto p = Platform::Create(GetParam(), Options{.memory_fd = memfd_});
  ASSERT_TRUE(p.ok()) << p.status();
  const std::set<pid_t> before = Children();
  (*p)->Warm();
  const std::set<pid_t> warmed = Children();
  EXPECT_EQ(warmed.size(), before.size() + 1) << "the template";
  (*p)->Warm();
  EXPECT_EQ(Children(), warmed) << "a second Warm made another";
  auto as = (*p)->NewAddressSpace();
  ASSERT_TRUE(as.ok()) << as.status();
  EXPECT_EQ(Children().size(), warmed.size() + 1) << "the stub only: the template was made";
}

// --- Context::Prepare ---

TEST_P(PlatformTest, PrepareMakesTheStubThreadsTheFirstSwitchRunsIn) {
  LoadGuest(guest::syscall_args());
  const std::set<pid_t> before = Children();
  ASSERT_OK(ctx_->Prepare(*as_));
  const std::set<pid_t> prepared = Children();
  // This thread's injector (ptrace runs the guest in it), and systrap's guest
  // thread.
  EXPECT_EQ(prepared.size(), before.size() + (systrap() ? 2 : 1));
  ASSERT_OK(ctx_->Prepare(*as_));
  EXPECT_EQ(Children(), prepared) << "a second Prepare made more";
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(Children(), prepared) << "the first Switch made stub threads of its own";
  EXPECT_TRUE(prepared.contains(GuestTid()));
}

// --- Recycling (AddressSpace::Recycle) ---

TEST_P(PlatformTest, ARecycledAddressSpaceIsEmptyAndRunsAgainInTheSameStubThread) {
  LoadGuest(guest::xmm());
  ASSERT_EQ(Run().kind, Kind::kSyscall);  // The guest set xmm2; it is live in the stub.
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  const pid_t tid = GuestTid();
  const std::set<pid_t> before = Children();

  ASSERT_OK(as_->Recycle());
  // Nothing of the guest is mapped (the slots of systrap lie above the guest
  // range, the stub code page and [vsyscall] too).
  for (const std::string& l : Lines(ReadFile(absl::StrFormat("/proc/%d/maps", StubPid())))) {
    EXPECT_GE(std::stoull(l.substr(0, l.find('-')), nullptr, 16), platform_->MaxUserAddress()) << l;
  }
  // The next process: its own code and FP state, in the same stub thread.
  LoadGuest(guest::xmm());
  fp_.Reset();
  const uint64_t in = 0x0badc0de0badc0de;
  std::memcpy(fp_.bytes().data() + XmmOffset(0), &in, sizeof(in));
  fp_.set_dirty(true);
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), in);
  EXPECT_EQ(regs_.Arg(1), 0u);  // xmm2 as the new state has it, not the last process's
  EXPECT_EQ(GuestTid(), tid);
  EXPECT_EQ(Children(), before);
  // The old data page is gone: a fault.
  LoadGuest(guest::load());
  regs_.r.rdi = kData;
  EXPECT_EQ(Run().kind, Kind::kFault);
}

// --- Host files (MapHostFile) ---

TEST_P(PlatformTest, MappedHostFileContentsAreVisibleToTheGuest) {
  std::shared_ptr<const HostFile> file = NewHostFile(3);
  ASSERT_NE(file, nullptr);
  ASSERT_OK(as_->MapHostFile(kData, file, kPage, 2 * kPage, PROT_READ));
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 16), HostFileValue(1));
  EXPECT_EQ(GuestLoad(*as_, kData + kPage + 24), HostFileValue(2));
  // A private read-only mapping of the file itself, in the stub.
  const std::vector<std::string> maps =
      Lines(ReadFile(absl::StrFormat("/proc/%d/maps", StubPid())));
  bool found = false;
  for (const std::string& l : maps) {
    if (l.rfind("00600000-00602000 r--p 00001000", 0) == 0 &&
        l.find(paths_[0]) != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << ReadFile(absl::StrFormat("/proc/%d/maps", StubPid()));
  // A write is a fault (the memory manager copies the page first).
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 8;
  SwitchResult r = Run();
  EXPECT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 8);
  // MapFile over it replaces it.
  const uint64_t value = 0x0123456789abcdef;
  std::memcpy(mem_ + kDataFile + 16, &value, sizeof(value));
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 16), value);
}

TEST_P(PlatformTest, OneHostFileInTwoAddressSpacesIsReceivedOnce) {
  std::shared_ptr<const HostFile> file = NewHostFile(1);
  ASSERT_NE(file, nullptr);
  auto other = platform_->NewAddressSpace();
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_OK(as_->MapHostFile(kData, file, 0, kPage, PROT_READ));
  const int fd = ptrace_platform().InstalledHostFileFd(*file);
  EXPECT_GE(fd, 2);
  ASSERT_OK((*other)->MapHostFile(kData + kPage, file, 0, kPage, PROT_READ | PROT_EXEC));
  EXPECT_EQ(ptrace_platform().InstalledHostFileFd(*file), fd);
  LoadGuest(guest::load());
  ASSERT_OK((*other)->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  ASSERT_OK((*other)->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  EXPECT_EQ(GuestLoad(*as_, kData + 8), HostFileValue(0));
  EXPECT_EQ(GuestLoad(**other, kData + kPage + 8), HostFileValue(0));
  // Every stub shares the template's fd table: the file is in it once.
  const std::vector<std::string> targets = FdTargets(StubPid());
  EXPECT_EQ(std::count(targets.begin(), targets.end(), paths_[0]), 1)
      << ::testing::PrintToString(targets);
  EXPECT_EQ(FdTargets(ptrace_platform().TemplatePid()), targets);
}

TEST_P(PlatformTest, MapHostFileChecksItsArguments) {
  std::shared_ptr<const HostFile> file = NewHostFile(1);
  ASSERT_NE(file, nullptr);
  for (int prot : {PROT_READ | PROT_WRITE, PROT_WRITE, PROT_READ | PROT_WRITE | PROT_EXEC}) {
    EXPECT_EQ(as_->MapHostFile(kData, file, 0, kPage, prot).code(),
              absl::StatusCode::kInvalidArgument)
        << prot;
  }
  EXPECT_EQ(as_->MapHostFile(kData + 1, file, 0, kPage, PROT_READ).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->MapHostFile(kData, file, 1, kPage, PROT_READ).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->MapHostFile(platform_->MaxUserAddress(), file, 0, kPage, PROT_READ).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as_->MapHostFile(kData, nullptr, 0, kPage, PROT_READ).code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing was received for them.
  EXPECT_EQ(ptrace_platform().InstalledHostFileFd(*file), -1);
  EXPECT_EQ(Fds(StubPid()), (std::vector<std::string>{"0", "1"}));
}

TEST_P(PlatformTest, HostFileTheHostWontMapIsAFailedPrecondition) {
  // mmap needs read access: a write-only fd is EACCES, which the caller tells
  // apart (it copies instead).
  std::shared_ptr<const HostFile> file = NewHostFile(1, O_WRONLY);
  ASSERT_NE(file, nullptr);
  absl::Status s = as_->MapHostFile(kData, file, 0, kPage, PROT_READ);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("mmap of host file"));
  EXPECT_FALSE(ptrace_as().lost());
  // The address space goes on working.
  std::shared_ptr<const HostFile> good = NewHostFile(1);
  ASSERT_OK(as_->MapHostFile(kData, good, 0, kPage, PROT_READ));
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 8), HostFileValue(0));
}

TEST_P(PlatformTest, ReleasedHostFileIsClosedAtTheNextInstall) {
  std::shared_ptr<const HostFile> a = NewHostFile(1);
  std::shared_ptr<const HostFile> b = NewHostFile(1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_OK(as_->MapHostFile(kData, a, 0, kPage, PROT_READ));
  auto has = [&](pid_t pid, const std::string& path) {
    const std::vector<std::string> t = FdTargets(pid);
    return std::find(t.begin(), t.end(), path) != t.end();
  };
  const pid_t tmpl = ptrace_platform().TemplatePid();
  EXPECT_TRUE(has(StubPid(), paths_[0]));
  EXPECT_TRUE(has(tmpl, paths_[0]));
  a.reset();  // The only reference: the platform's copy may go.
  ASSERT_OK(as_->MapHostFile(kData + kPage, b, 0, kPage, PROT_READ));
  EXPECT_FALSE(has(StubPid(), paths_[0]));
  EXPECT_FALSE(has(tmpl, paths_[0]));
  EXPECT_TRUE(has(StubPid(), paths_[1]));
  EXPECT_EQ(Fds(StubPid()), (std::vector<std::string>{"0", "1", "2"}));
  // The mapping made from it stays.
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 8), HostFileValue(0));
}

TEST_P(PlatformTest, AfterTheTemplateIsMadeAgainOnlyNewAddressSpacesMapHostFiles) {
  std::shared_ptr<const HostFile> file = NewHostFile(1);
  std::shared_ptr<const HostFile> later = NewHostFile(1);
  ASSERT_NE(file, nullptr);
  ASSERT_NE(later, nullptr);
  ASSERT_OK(as_->MapHostFile(kData, file, 0, kPage, PROT_READ));
  const pid_t tmpl = ptrace_platform().TemplatePid();
  ASSERT_GT(tmpl, 0);
  ASSERT_EQ(kill(tmpl, SIGKILL), 0);
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_NE(ptrace_platform().TemplatePid(), tmpl);
  // The old stubs keep the old table, which takes nothing more.
  for (const auto& f : {file, later}) {
    EXPECT_EQ(as_->MapHostFile(kData + kPage, f, 0, kPage, PROT_READ).code(),
              absl::StatusCode::kUnimplemented);
  }
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 8), HostFileValue(0));  // What it mapped stays.
  // A new stub has the new template's table.
  ASSERT_OK((*fresh)->MapHostFile(kData, later, 0, kPage, PROT_READ));
  ASSERT_OK((*fresh)->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  ASSERT_OK((*fresh)->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  EXPECT_EQ(GuestLoad(**fresh, kData + 8), HostFileValue(0));
}

TEST_P(PlatformTest, TheTemplatesScratchPageNeverReachesAStub) {
  std::shared_ptr<const HostFile> file = NewHostFile(1);
  ASSERT_NE(file, nullptr);
  ASSERT_OK(as_->MapHostFile(kData, file, 0, kPage, PROT_READ));
  const pid_t tmpl = ptrace_platform().TemplatePid();
  const uint64_t region = ptrace_platform().region_start();
  // The template keeps it from one install to the next...
  EXPECT_EQ(MapsBesidesTheStubRegion(tmpl, region).size(), 1u);
  // ...and unmaps it before it forks a stub.
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_THAT(MapsBesidesTheStubRegion(tmpl, region), ::testing::IsEmpty());
  const pid_t pid = systrap() ? static_cast<systrap::SystrapAddressSpace&>(**fresh).inner().pid()
                              : static_cast<ptrace::PtraceAddressSpace&>(**fresh).pid();
  for (const std::string& l : MapsBesidesTheStubRegion(pid, region)) {
    EXPECT_EQ(l.find("00100000-"), std::string::npos) << l;
  }
  // The stub's one table has the file; the next install maps the page again.
  std::shared_ptr<const HostFile> other = NewHostFile(1);
  ASSERT_OK((*fresh)->MapHostFile(kData, other, 0, kPage, PROT_READ));
  EXPECT_EQ(MapsBesidesTheStubRegion(tmpl, region).size(), 1u);
  for (const std::string& l : MapsBesidesTheStubRegion(pid, region)) {
    EXPECT_EQ(l.find("00100000-"), std::string::npos) << l;
  }
}

TEST_P(PlatformTest, ATemplateLostDuringAnInstallIsUnimplemented) {
  std::shared_ptr<const HostFile> file = NewHostFile(1);
  ASSERT_NE(file, nullptr);
  const pid_t tmpl = ptrace_platform().TemplatePid();
  ASSERT_GT(tmpl, 0);
  ASSERT_EQ(kill(tmpl, SIGKILL), 0);
  absl::Status s = as_->MapHostFile(kData, file, 0, kPage, PROT_READ);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
  EXPECT_FALSE(ProcessExists(tmpl));  // Reaped.
  EXPECT_FALSE(ptrace_as().lost());   // The address space is fine; the caller copies.
  // The next address space has a new template, and maps host files.
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_OK((*fresh)->MapHostFile(kData, file, 0, kPage, PROT_READ));
}

TEST_P(PlatformTest, AFullTableIsAFailedPreconditionAndFreesUpAgain) {
  // The template receives the files, under its own RLIMIT_NOFILE: 4 holds fds
  // 0 and 1 and two host files.
  const pid_t tmpl = ptrace_platform().TemplatePid();
  ASSERT_GT(tmpl, 0);
  const rlimit limit{4, 4};
  ASSERT_EQ(prlimit(tmpl, RLIMIT_NOFILE, &limit, nullptr), 0) << strerror(errno);
  std::shared_ptr<const HostFile> a = NewHostFile(1), b = NewHostFile(1), c = NewHostFile(1);
  ASSERT_OK(as_->MapHostFile(kData, a, 0, kPage, PROT_READ));
  ASSERT_OK(as_->MapHostFile(kData, b, 0, kPage, PROT_READ));
  absl::Status s = as_->MapHostFile(kData, c, 0, kPage, PROT_READ);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(ptrace_as().lost());
  EXPECT_EQ(ptrace_platform().TemplatePid(), tmpl);  // Not lost either.
  EXPECT_EQ(Fds(tmpl), (std::vector<std::string>{"0", "1", "2", "3"}));
  // Once a file is released, the next install closes it and takes its place
  // (nothing of the failed one was left on the socket).
  a.reset();
  ASSERT_OK(as_->MapHostFile(kData, c, 0, kPage, PROT_READ));
  LoadGuest(guest::load());
  EXPECT_EQ(GuestLoad(*as_, kData + 8), HostFileValue(0));
  const std::vector<std::string> targets = FdTargets(tmpl);
  EXPECT_EQ(targets.size(), 4u);
  EXPECT_EQ(std::count(targets.begin(), targets.end(), paths_[0]), 0);
  EXPECT_EQ(std::count(targets.begin(), targets.end(), paths_[2]), 1);
}

}  // namespace
}  // namespace platform
