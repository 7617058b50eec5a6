// The platforms' floor (ptrace, and systrap built on its stubs): the round trip of one guest
// syscall through Context::Switch (guest `syscall` -> stop -> Sentry -> resume), and of one
// injected mmap (AddressSpace::MapFile, what a page fault costs on top; MapHostFile, with
// and without the install of the host file), from a host
// thread with a stub thread in the address space and from one without (handed to
// the factory thread); and what a new stub thread and a new address space cost.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "benchmark/benchmark.h"
#include "platform/platform.h"
#include "platform/ptrace/ptrace_test_guest.h"
#include "platform/systrap/syscall_patch.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kCode = 0x400000;

struct Guest {
  int memfd = -1;
  std::unique_ptr<Platform> platform;
  std::unique_ptr<AddressSpace> as;
  std::unique_ptr<Context> ctx;
  sentry::arch::Registers regs;
  sentry::arch::FpState fp;

  ~Guest() {
    ctx.reset();
    as.reset();
    platform.reset();
    if (memfd >= 0) close(memfd);
  }

  // Returns an error message, or nullptr. With `switch_in`, runs the guest once, so
  // that the calling thread has its stub thread.
  const char* Start(std::span<const char> code, bool switch_in = true,
                    const char* platform_name = "ptrace") {
    memfd = memfd_create("ptrace_benchmark", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 16 * kPage) != 0) return "memfd";
    if (pwrite(memfd, code.data(), code.size(), 0) != static_cast<ssize_t>(code.size())) {
      return "pwrite";
    }
    auto p = Platform::Create(platform_name, Options{.memory_fd = memfd});
    if (!p.ok()) return "Platform::Create";
    platform = std::move(*p);
    auto a = platform->NewAddressSpace();
    if (!a.ok()) return "NewAddressSpace";
    as = std::move(*a);
    auto c = platform->NewContext();
    if (!c.ok()) return "NewContext";
    ctx = std::move(*c);
    if (!as->MapFile(kCode, 0, kPage, PROT_READ | PROT_EXEC).ok()) return "MapFile";
    std::memset(&regs.r, 0, sizeof(regs.r));
    regs.r.rip = kCode;
    regs.r.eflags = 0x202;
    if (switch_in && !ctx->Switch(*as, regs, fp).ok()) return "Switch";
    return nullptr;
  }
};

void BM_SyscallRoundTrip(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), true, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<SwitchResult> r = g.ctx->Switch(*g.as, g.regs, g.fp);
    if (!r.ok() || r->kind != SwitchResult::Kind::kSyscall) {
      state.SkipWithError("Switch did not stop at a syscall");
      return;
    }
    g.regs.SetReturn(0);
  }
}
BENCHMARK_CAPTURE(BM_SyscallRoundTrip, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_SyscallRoundTrip, systrap, "systrap");

// systrap with a patched site (`mov $getppid, %eax; syscall` rewritten to jump
// through the patch region into the stub's fast entry: no signal).
void BM_SyscallRoundTripPatched(benchmark::State& state) {
  namespace st = ::platform::systrap;
  static const uint8_t loop[] = {0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7};
  Guest g;
  g.memfd = memfd_create("ptrace_benchmark", MFD_CLOEXEC);
  if (g.memfd < 0 || ftruncate(g.memfd, 16 * kPage) != 0) return state.SkipWithError("memfd");
  auto p = Platform::Create("systrap", Options{.memory_fd = g.memfd, .syscall_patching = true});
  if (!p.ok()) return state.SkipWithError("Platform::Create");
  g.platform = std::move(*p);
  const st::SyscallSite site{kCode, 7, SYS_getppid};
  const std::vector<uint8_t> header = st::BuildPatchHeader(*g.platform->syscall_patch_target());
  const auto stub = st::BuildPatchStub(0, site);
  const uint64_t table = st::PatchStubAddr(0);
  const auto jump = st::BuildPatchJump(0);
  if (pwrite(g.memfd, loop, sizeof(loop), 0) < 0 ||
      pwrite(g.memfd, jump.data(), jump.size(), 0) < 0 ||
      pwrite(g.memfd, &table, 8, 3 * kPage) < 0 ||
      pwrite(g.memfd, header.data(), header.size(), 4 * kPage) < 0 ||
      pwrite(g.memfd, stub.data(), stub.size(), 5 * kPage) < 0) {
    return state.SkipWithError("pwrite");
  }
  auto a = g.platform->NewAddressSpace();
  auto c = g.platform->NewContext();
  if (!a.ok() || !c.ok()) return state.SkipWithError("NewAddressSpace");
  g.as = std::move(*a);
  g.ctx = std::move(*c);
  if (!g.as->MapFile(kCode, 0, kPage, PROT_READ | PROT_EXEC).ok() ||
      !g.as->MapFile(st::kPatchRegionStart, 3 * kPage, kPage, PROT_READ | PROT_EXEC).ok() ||
      !g.as->MapFile(st::kPatchHeaderAddr, 4 * kPage, kPage, PROT_READ | PROT_EXEC).ok() ||
      !g.as->MapFile(st::PatchStubAddr(0), 5 * kPage, kPage, PROT_READ | PROT_EXEC).ok()) {
    return state.SkipWithError("MapFile");
  }
  std::memset(&g.regs.r, 0, sizeof(g.regs.r));
  g.regs.r.rip = kCode;
  g.regs.r.eflags = 0x202;
  for (auto _ : state) {
    absl::StatusOr<SwitchResult> r = g.ctx->Switch(*g.as, g.regs, g.fp);
    if (!r.ok() || r->kind != SwitchResult::Kind::kSyscall ||
        g.regs.Ip() != st::PatchStubAddr(0) + st::kPatchStubResume) {
      state.SkipWithError("Switch did not stop at the patched syscall");
      return;
    }
    g.regs.SetReturn(0);
  }
}
BENCHMARK(BM_SyscallRoundTripPatched);

// The same with the FP state pushed every time (as after a signal frame).
void BM_SyscallRoundTripDirtyFp(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), true, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    g.fp.set_stale(false);
    g.fp.set_dirty(true);
    absl::StatusOr<SwitchResult> r = g.ctx->Switch(*g.as, g.regs, g.fp);
    if (!r.ok() || r->kind != SwitchResult::Kind::kSyscall) {
      state.SkipWithError("Switch did not stop at a syscall");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_SyscallRoundTripDirtyFp, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_SyscallRoundTripDirtyFp, systrap, "systrap");

void BM_MapFile(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), true, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    if (!g.as->MapFile(kCode + kPage, kPage, kPage, PROT_READ | PROT_WRITE).ok()) {
      state.SkipWithError("MapFile failed");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_MapFile, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_MapFile, systrap, "systrap");

// MapHostFile of a host file the stubs' fd table holds already (the mmap alone),
// from a host thread with a stub thread in the address space.
void BM_MapHostFile(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), true, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  auto file = std::make_shared<const HostFile>(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  for (auto _ : state) {
    if (!g.as->MapHostFile(kCode + kPage, file, 0, kPage, PROT_READ).ok()) {
      state.SkipWithError("MapHostFile failed");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_MapHostFile, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_MapHostFile, systrap, "systrap");

// MapHostFile of a new host file each time: its install (the template receives
// it, and closes the previous one, whose HostFile is gone) and the mmap.
void BM_MapNewHostFile(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), true, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  for (auto _ : state) {
    auto file = std::make_shared<const HostFile>(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!g.as->MapHostFile(kCode + kPage, file, 0, kPage, PROT_READ).ok()) {
      state.SkipWithError("MapHostFile failed");
      break;
    }
  }
  close(fd);
}
BENCHMARK_CAPTURE(BM_MapNewHostFile, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_MapNewHostFile, systrap, "systrap");

// MapFile from a host thread that has no stub thread in the address space: the
// factory thread injects it into the stub's first process.
void BM_MapFileHandoff(benchmark::State& state) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), /*switch_in=*/false)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    if (!g.as->MapFile(kCode + kPage, kPage, kPage, PROT_READ | PROT_WRITE).ok()) {
      state.SkipWithError("MapFile failed");
      return;
    }
  }
}
BENCHMARK(BM_MapFileHandoff);

// A host thread's first Switch in an address space (a new stub thread: a clone
// injected on the factory thread, its hand-over, one round trip), and its
// retirement when the context goes.
void BM_NewStubThread(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), /*switch_in=*/false, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    auto c = g.platform->NewContext();
    sentry::arch::FpState fp;
    if (!c.ok() || !(*c)->Switch(*g.as, g.regs, fp).ok()) {
      state.SkipWithError("Switch failed");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_NewStubThread, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_NewStubThread, systrap, "systrap");

// NewAddressSpace and its destruction (a stub process forked by the factory thread).
void BM_NewAddressSpace(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), /*switch_in=*/false, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    if (!g.platform->NewAddressSpace().ok()) {
      state.SkipWithError("NewAddressSpace failed");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_NewAddressSpace, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_NewAddressSpace, systrap, "systrap");

// A new address space with the guest code mapped, its first Switch (its first stub
// thread, and under systrap its first guest stub thread) and its destruction: what
// a guest fork+exec costs the platform.
void BM_NewAddressSpaceFirstSwitch(benchmark::State& state, const char* platform_name) {
  Guest g;
  if (const char* error = g.Start(guest::syscall_loop(), /*switch_in=*/false, platform_name)) {
    state.SkipWithError(error);
    return;
  }
  for (auto _ : state) {
    auto as = g.platform->NewAddressSpace();
    auto c = g.platform->NewContext();
    sentry::arch::FpState fp;
    if (!as.ok() || !c.ok() || !(*as)->MapFile(kCode, 0, kPage, PROT_READ | PROT_EXEC).ok() ||
        !(*c)->Switch(**as, g.regs, fp).ok()) {
      state.SkipWithError("NewAddressSpace, MapFile or Switch failed");
      return;
    }
  }
}
BENCHMARK_CAPTURE(BM_NewAddressSpaceFirstSwitch, ptrace, "ptrace");
BENCHMARK_CAPTURE(BM_NewAddressSpaceFirstSwitch, systrap, "systrap");

// The native cost of a syscall in this process, for scale.
void BM_NativeGetpid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(syscall(SYS_getpid));
}
BENCHMARK(BM_NativeGetpid);

}  // namespace
}  // namespace platform::ptrace

BENCHMARK_MAIN();
