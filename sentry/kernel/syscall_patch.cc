#include "sentry/kernel/syscall_patch.h"

#include <sys/mman.h>

#include <array>
#include <optional>
#include <vector>

#include "platform/systrap/syscall_patch.h"
#include "sentry/base/log.h"

namespace sentry::kernel {
namespace {

namespace ps = ::platform::systrap;

// The lambdas below run with mu_ held (clang does not follow a lock into a
// lambda).

constexpr char kRegionName[] = "[systrap]";
// Don't let a guest that traps from many odd places grow the refused set forever.
constexpr size_t kMaxRefused = 4096;
// A site is patched on its kPatchAfterTraps-th trap, not its first: patching
// costs (the region, a copy-on-write code page, several writes through the
// stub) more than a few traps, and most sites of a short-lived process (a shell's
// fork+exec of /bin/true) trap once or twice. fork+exec+wait with patching on the
// first trap: 10.4 ms against 8.0 ms without patching (2026-11-29, idle VM).
// Patched code pages also split a file's direct mapping into several (more
// injected mmaps in every forked child), and a patch costs 10-160 us: on the
// 32nd trap, after ~64 us of traps it would have saved, startup-only sites
// are left alone (python3 -c, 3 runs of 9: 51/65/58 ms patching on the 3rd
// trap, 45/57/51 ms on the 32nd; fork+exec+wait 5.4/5.5/5.3 ms against
// 4.4/5.9/4.7 ms).
constexpr uint32_t kPatchAfterTraps = 32;
// The per-site trap counts are forgotten when they grow past this many sites.
constexpr size_t kMaxCounted = 16384;

bool Write(mm::MemoryManager& mm, uint64_t addr, std::span<const uint8_t> bytes) {
  return mm.CopyOutForce(UserAddr(addr), bytes).ok();
}

}  // namespace

void SyscallPatchState::CopyFrom(SyscallPatchState& parent) {
  absl::MutexLock lp(&parent.mu_);
  absl::MutexLock l(&mu_);
  region_ = parent.region_;
  disabled_ = parent.disabled_;
  next_ = parent.next_;
  sites_ = parent.sites_;
  refused_ = parent.refused_;
  traps_ = parent.traps_;
}

uint32_t SyscallPatchState::patched() const {
  absl::MutexLock l(&mu_);
  return static_cast<uint32_t>(sites_.size());
}

bool SyscallPatchState::EnsureRegion(const platform::SyscallPatchTarget& target,
                                     mm::MemoryManager& mm, SyscallPatchStats& stats) {
  if (region_) {
    // Still ours? The guest may have unmapped or replaced it: then stop (and
    // write nothing into what is there now).
    std::optional<mm::MemoryManager::VmaInfo> v = mm.VmaAt(ps::kPatchRegionStart);
    if (v && v->name == kRegionName && v->start == ps::kPatchRegionStart) {
      std::optional<mm::MemoryManager::VmaInfo> last = mm.VmaAt(ps::kPatchRegionEnd - 1);
      if (last && last->name == kRegionName && last->end == ps::kPatchRegionEnd) return true;
    }
    disabled_ = true;
    return false;
  }
  auto fail = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    disabled_ = true;
    stats.region_unavailable.fetch_add(1, std::memory_order_relaxed);
    return false;
  };
  if (mm.AnyVmaIn(ps::kPatchRegionStart, ps::kPatchRegionEnd)) return fail();
  mm::MmapOpts o;
  o.addr = ps::kPatchRegionStart;
  o.length = ps::kPatchRegionEnd - ps::kPatchRegionStart;
  o.prot = PROT_READ | PROT_EXEC;
  o.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  o.name = kRegionName;
  ErrnoOr<uint64_t> r = mm.Mmap(o);
  if (!r.ok() || *r != ps::kPatchRegionStart) return fail();
  const std::vector<uint8_t> header = ps::BuildPatchHeader(target);
  if (!Write(mm, ps::kPatchHeaderAddr, header)) {
    (void)mm.Munmap(ps::kPatchRegionStart, o.length);
    return fail();
  }
  region_ = true;
  return true;
}

void SyscallPatchState::MaybePatch(const platform::SyscallPatchTarget& target,
                                   mm::MemoryManager& mm, SyscallPatchStats& stats,
                                   bool single_thread, uint64_t rip, uint64_t nr) {
  absl::MutexLock l(&mu_);
  if (disabled_ || refused_.contains(rip)) return;
  if (!single_thread) {
    stats.skipped_threads.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (traps_.size() >= kMaxCounted) traps_.clear();
  if (++traps_[rip] < kPatchAfterTraps) return;
  traps_.erase(rip);
  auto refuse = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (refused_.size() < kMaxRefused) {
      refused_.insert(rip);
      stats.refused_sites.fetch_add(1, std::memory_order_relaxed);
    }
  };
  if (rip < 9 || next_ >= ps::kMaxPatchSites) return refuse();
  // The bytes before the syscall: 9 if they are readable, else 7.
  std::array<uint8_t, 9> bytes;
  std::span<const uint8_t> before;
  if (mm.CopyIn(UserAddr(rip - 9), bytes).ok()) {
    before = bytes;
  } else if (mm.CopyIn(UserAddr(rip - 7), std::span(bytes).first(7)).ok()) {
    before = std::span(bytes).first(7);
  } else {
    return refuse();
  }
  std::optional<ps::SyscallSite> site = ps::DecodeSyscallSite(rip, before);
  if (!site || site->nr != nr || sites_.contains(site->start)) return refuse();
  // A private mapping the guest cannot write (now): its code, not its data.
  std::optional<mm::MemoryManager::VmaInfo> v = mm.VmaAt(site->start);
  if (!v || v->end < rip || v->shared || !(v->prot & PROT_EXEC) || (v->prot & PROT_WRITE) ||
      v->name == kRegionName) {
    return refuse();
  }
  if (!EnsureRegion(target, mm, stats)) return;
  const uint32_t index = next_;
  const auto stub = ps::BuildPatchStub(index, *site);
  const uint64_t stub_addr = ps::PatchStubAddr(index);
  const auto jump = ps::BuildPatchJump(index);
  if (!Write(mm, stub_addr, stub) ||
      !Write(mm, ps::PatchTableAddr(index),
             std::span(reinterpret_cast<const uint8_t*>(&stub_addr), sizeof(stub_addr))) ||
      !Write(mm, site->start, jump)) {
    return refuse();
  }
  ++next_;
  sites_.emplace(site->start, index);
  stats.patched.fetch_add(1, std::memory_order_relaxed);
  SLOG(kDebug, "patched syscall %d at %#x (trampoline %#x)", site->nr, site->start, stub_addr);
}

}  // namespace sentry::kernel
