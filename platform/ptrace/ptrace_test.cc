#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/ptrace_test_guest.h"
#include "platform/ptrace/stub_seccomp.h"

namespace platform::ptrace {
namespace {

using ::testing::HasSubstr;
using Kind = SwitchResult::Kind;

#define ASSERT_OK(expr)                          \
  do {                                           \
    const absl::Status _s = (expr);              \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)
#define EXPECT_OK(expr)                          \
  do {                                           \
    const absl::Status _s = (expr);              \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)

constexpr uint64_t kPage = 4096;
// Guest addresses, and the memory-file pages behind them.
constexpr uint64_t kCode = 0x400000;   // file page 0, r-x
constexpr uint64_t kStack = 0x500000;  // file page 1, rw-
constexpr uint64_t kData = 0x600000;   // file page 2
constexpr uint64_t kCodeFile = 0, kStackFile = kPage, kDataFile = 2 * kPage;
constexpr size_t kFileSize = 16 * kPage;

// XMM register i in the xsave legacy area.
constexpr size_t XmmOffset(int i) { return 160 + 16 * i; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

class PtraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memfd_ = memfd_create("ptrace_test", MFD_CLOEXEC);
    ASSERT_GE(memfd_, 0);
    ASSERT_EQ(ftruncate(memfd_, kFileSize), 0);
    void* m = mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
    ASSERT_NE(m, MAP_FAILED);
    mem_ = static_cast<uint8_t*>(m);

    auto p = Platform::Create("ptrace", Options{.memory_fd = memfd_});
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << as.status();
    as_ = std::move(*as);
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = std::move(*ctx);
    ASSERT_OK(as_->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  }

  void TearDown() override {
    ctx_.reset();
    as_.reset();
    platform_.reset();
    if (mem_ != nullptr) munmap(mem_, kFileSize);
    if (memfd_ >= 0) close(memfd_);
  }

  PtracePlatform& ptrace_platform() { return static_cast<PtracePlatform&>(*platform_); }
  PtraceAddressSpace& ptrace_as() { return static_cast<PtraceAddressSpace&>(*as_); }

  // Copies `code` to file page 0, maps it r-x at kCode and points rip at it.
  void LoadGuest(std::span<const char> code) {
    ASSERT_LE(code.size(), kPage);
    std::memcpy(mem_ + kCodeFile, code.data(), code.size());
    ASSERT_OK(as_->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
    std::memset(&regs_.r, 0, sizeof(regs_.r));
    regs_.r.rip = kCode;
    regs_.r.rsp = kStack + kPage - 64;
    regs_.r.eflags = 0x202;
  }

  SwitchResult Run() {
    absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SwitchResult{.kind = Kind::kInterrupted};
  }

  int memfd_ = -1;
  uint8_t* mem_ = nullptr;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<AddressSpace> as_;
  std::unique_ptr<Context> ctx_;
  sentry::arch::Registers regs_;
  sentry::arch::FpState fp_;
};

// --- Platform ---

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

TEST_F(PtraceTest, SyscallStopReportsNumberArgsAndTheSentrysReturnValue) {
  LoadGuest(guest::syscall_args());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(regs_.Arg(i), uint64_t(i + 1)) << "arg " << i;
  // rip is right after the `syscall` (0f 05).
  ASSERT_GT(regs_.Ip(), kCode + 2);
  EXPECT_EQ(std::memcmp(mem_ + kCodeFile + (regs_.Ip() - kCode) - 2, "\x0f\x05", 2), 0);

  regs_.SetReturn(1234);
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_exit});
  EXPECT_EQ(regs_.Arg(0), 1234u);
}

TEST_F(PtraceTest, MappedFileContentsAreVisibleToTheGuest) {
  const uint64_t value = 0x0123456789abcdef;
  std::memcpy(mem_ + kDataFile + 8, &value, sizeof(value));
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  regs_.r.rdi = kData + 8;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(0), value);
}

TEST_F(PtraceTest, WriteToUnmappedAddressIsAFault) {
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 0x10;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 0x10);
  EXPECT_EQ(r.access, kAccessNone);
  EXPECT_EQ(r.info.si_signo, SIGSEGV);
  EXPECT_EQ(r.info.si_code, SEGV_MAPERR);
  EXPECT_EQ(regs_.Ip(), kCode);  // The faulting instruction, to be restarted.
}

TEST_F(PtraceTest, WriteToReadOnlyMappingIsAFault) {
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::store());
  regs_.r.rdi = kData + 0x20;
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kFault);
  EXPECT_EQ(r.fault_addr, kData + 0x20);
  EXPECT_EQ(r.info.si_code, SEGV_ACCERR);
}

TEST_F(PtraceTest, FaultThenMapThenRetrySucceeds) {
  LoadGuest(guest::store());
  regs_.r.rdi = kData;
  ASSERT_EQ(Run().kind, Kind::kFault);
  ASSERT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ | PROT_WRITE));
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(mem_[kDataFile], 1);
}

TEST_F(PtraceTest, UnmapThenAccessFaults) {
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

TEST_F(PtraceTest, ProtectReadOnlyThenWriteFaults) {
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

TEST_F(PtraceTest, Int3IsSigtrap) {
  LoadGuest(guest::int3());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTRAP);
  EXPECT_EQ(regs_.Ip(), kCode + 1);
}

TEST_F(PtraceTest, Ud2IsSigill) {
  LoadGuest(guest::ud2());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGILL);
  EXPECT_EQ(r.info.si_code, ILL_ILLOPN);
  EXPECT_EQ(regs_.Ip(), kCode);
}

TEST_F(PtraceTest, DivideByZeroIsSigfpe) {
  LoadGuest(guest::divide_by_zero());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGFPE);
  EXPECT_EQ(r.info.si_code, FPE_INTDIV);
}

TEST_F(PtraceTest, GeneralProtectionFaultIsASignalNotAPageFault) {
  LoadGuest(guest::non_canonical());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGSEGV);
  EXPECT_EQ(r.info.si_code, SI_KERNEL);
}

TEST_F(PtraceTest, HostSignalIsReportedAndNotDelivered) {
  LoadGuest(guest::syscall_args());
  ASSERT_EQ(kill(ptrace_as().pid(), SIGTERM), 0);
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSignal);
  EXPECT_EQ(r.info.si_signo, SIGTERM);
  EXPECT_EQ(r.info.si_code, SI_USER);
  // Not delivered: the guest goes on.
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(PtraceTest, InterruptStopsASpinningGuest) {
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

TEST_F(PtraceTest, InterruptBeforeSwitchReturnsAtOnce) {
  LoadGuest(guest::syscall_args());
  ctx_->Interrupt();
  SwitchResult r = Run();
  EXPECT_EQ(r.kind, Kind::kInterrupted);
  EXPECT_EQ(regs_.Ip(), kCode);  // The guest did not run.
  // Consumed: the next Switch runs the guest.
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(PtraceTest, StaleInterruptSignalIsIgnored) {
  LoadGuest(guest::syscall_args());
  // An interrupt signal whose flag is already consumed (e.g. it raced with a
  // syscall stop) is pending when the stub resumes.
  ASSERT_EQ(kill(ptrace_as().pid(), kInterruptSignal), 0);
  EXPECT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
}

TEST_F(PtraceTest, InjectionIgnoresAStaleInterruptSignal) {
  ASSERT_EQ(kill(ptrace_as().pid(), kInterruptSignal), 0);
  EXPECT_OK(as_->MapFile(kData, kDataFile, kPage, PROT_READ));
  LoadGuest(guest::load());
  regs_.r.rdi = kData;
  EXPECT_EQ(Run().kind, Kind::kSyscall);
}

TEST_F(PtraceTest, FpStateRoundTrip) {
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

TEST_F(PtraceTest, FpStateSurvivesSwitchesWithoutSync) {
  LoadGuest(guest::xmm());
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0u);  // xmm2 before the guest set it.
  // Neither dirty nor synced: the guest's FP state stays live in the stub.
  regs_.r.rip = kCode;
  ASSERT_EQ(Run().kind, Kind::kSyscall);
  EXPECT_EQ(regs_.Arg(1), 0x1122334455667788u);
}

TEST_F(PtraceTest, FpStateMovesToAnotherAddressSpaceOnlyWhenSynced) {
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

TEST_F(PtraceTest, SwitchFromAnotherHostThreadFails) {
  LoadGuest(guest::syscall_args());
  absl::Status status;
  std::thread other([&] { status = ctx_->Switch(*as_, regs_, fp_).status(); });
  other.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("traced by host thread"));
  std::thread other2([&] { status = as_->MapFile(kData, kDataFile, kPage, PROT_READ); });
  other2.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PtraceTest, StubDeathIsAnError) {
  LoadGuest(guest::spin());
  const pid_t pid = ptrace_as().pid();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrFormat("stub process %d was killed by signal 9", pid)));
  EXPECT_TRUE(ptrace_as().lost());
  EXPECT_FALSE(as_->MapFile(kData, kDataFile, kPage, PROT_READ).ok());
  as_.reset();
  EXPECT_FALSE(ProcessExists(pid));
}

// --- Security (DESIGN.md §11.1, §11.2, §11.6) ---

TEST_F(PtraceTest, FreshStubMapsOnlyTheStubRegion) {
  auto fresh = platform_->NewAddressSpace();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  auto& as = static_cast<PtraceAddressSpace&>(**fresh);
  const std::string maps_path = absl::StrFormat("/proc/%d/maps", as.pid());
  const std::string region = absl::StrFormat("%x-%x r-xp ", ptrace_platform().region_start(),
                                             ptrace_platform().region_end());
  std::vector<std::string> lines = Lines(ReadFile(maps_path));
  std::vector<std::string> others;
  bool found = false;
  for (const std::string& l : lines) {
    if (l.rfind(region, 0) == 0) {
      found = true;
    } else if (l.find("[vsyscall]") == std::string::npos) {
      others.push_back(l);
    }
  }
  EXPECT_TRUE(found) << ReadFile(maps_path);
  EXPECT_THAT(others, ::testing::IsEmpty());

  ASSERT_OK(as.MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
  lines = Lines(ReadFile(maps_path));
  others.clear();
  for (const std::string& l : lines) {
    if (l.rfind(region, 0) != 0 && l.find("[vsyscall]") == std::string::npos) {
      others.push_back(l);
    }
  }
  ASSERT_EQ(others.size(), 1u) << ReadFile(maps_path);
  EXPECT_THAT(others[0], HasSubstr("00400000-00401000 r-xs 00000000"));
  EXPECT_THAT(others[0], HasSubstr("/memfd:ptrace_test"));
}

TEST_F(PtraceTest, StubHoldsOnlyTheMemoryFile) {
  const std::string dir = absl::StrFormat("/proc/%d/fd", ptrace_as().pid());
  std::vector<std::string> fds;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') fds.push_back(e->d_name);
  }
  closedir(d);
  ASSERT_EQ(fds, std::vector<std::string>{"0"});
  char target[256] = {};
  ASSERT_GT(readlink((dir + "/0").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_THAT(std::string(target), HasSubstr("/memfd:ptrace_test"));
}

TEST_F(PtraceTest, StubRunsUnderItsSeccompFilter) {
  const std::string status = ReadFile(absl::StrFormat("/proc/%d/status", ptrace_as().pid()));
  EXPECT_THAT(status, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(status, HasSubstr("TracerPid:\t" + std::to_string(getpid()) + "\n"));
}

TEST_F(PtraceTest, GuestSyscallNeverRunsOnTheHost) {
  LoadGuest(guest::exit_group());
  SwitchResult r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_exit_group});
  EXPECT_TRUE(ProcessExists(ptrace_as().pid()));
  // The Sentry chose not to exit: the guest goes on to its next syscall.
  r = Run();
  ASSERT_EQ(r.kind, Kind::kSyscall);
  EXPECT_EQ(regs_.SyscallNumber(), uint64_t{SYS_getpid});
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
  const pid_t pid = ptrace_as().pid();
  ASSERT_TRUE(ProcessExists(pid));
  as_.reset();
  EXPECT_FALSE(ProcessExists(pid));
  int status;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG | __WALL), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(PtraceTest, StubDiesWithItsTracerThread) {
  std::unique_ptr<AddressSpace> as;
  std::thread tracer([&] {
    auto r = platform_->NewAddressSpace();
    ASSERT_TRUE(r.ok()) << r.status();
    as = std::move(*r);
  });
  tracer.join();
  ASSERT_NE(as, nullptr);
  const pid_t pid = static_cast<PtraceAddressSpace&>(*as).pid();
  int status;
  ASSERT_EQ(waitpid(pid, &status, __WALL), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  as.reset();  // Already reaped: must not hang or hit another process.
}

}  // namespace
}  // namespace platform::ptrace
