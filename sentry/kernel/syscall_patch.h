// Syscall-site patching (systrap; platform/systrap/README.md): when a guest's
// `mov $nr, %eax; syscall` traps, the Sentry rewrites the site to jump through
// the patch region ([systrap], a private r-x mapping at a fixed address) into
// the platform's fast entry, so that later calls reach the Sentry without a
// signal. The per-address-space state lives in GuestMemory (task.h): copied on
// fork with the memory, dropped by exec.
//
// Lock order: SyscallPatchState::mu, then the memory manager's.
#ifndef SENTRY_KERNEL_SYSCALL_PATCH_H_
#define SENTRY_KERNEL_SYSCALL_PATCH_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/mm/mm.h"

namespace sentry::kernel {

// Counts, kernel-wide (the --report's "syscall_patching").
struct SyscallPatchStats {
  std::atomic<uint64_t> patched{0};
  // Trapped syscalls not patched because another thread shares the memory.
  std::atomic<uint64_t> skipped_threads{0};
  // Sites refused (not the pattern, a writable or shared mapping, ...): each once.
  std::atomic<uint64_t> refused_sites{0};
  // Address spaces where the region could not be placed (the guest maps there).
  std::atomic<uint64_t> region_unavailable{0};
};

class SyscallPatchState {
 public:
  SyscallPatchState() = default;
  SyscallPatchState(const SyscallPatchState&) = delete;
  SyscallPatchState& operator=(const SyscallPatchState&) = delete;

  // fork: the child's memory is a copy (the region and the patched pages too).
  void CopyFrom(SyscallPatchState& parent);

  // A syscall that trapped (the platform said it was patchable) with `rip` after
  // the instruction and `nr` its number: patches the site if it is one, the
  // mapping is private and not writable, and `single_thread` (no other task
  // shares the memory: none can be between the site's mov and its syscall while
  // the bytes change).
  void MaybePatch(const platform::SyscallPatchTarget& target, mm::MemoryManager& mm,
                  SyscallPatchStats& stats, bool single_thread, uint64_t rip, uint64_t nr);

  uint32_t patched() const;

 private:
  bool EnsureRegion(const platform::SyscallPatchTarget& target, mm::MemoryManager& mm,
                    SyscallPatchStats& stats) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  bool region_ ABSL_GUARDED_BY(mu_) = false;
  bool disabled_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, uint32_t> sites_ ABSL_GUARDED_BY(mu_);  // site → trampoline
  absl::flat_hash_set<uint64_t> refused_ ABSL_GUARDED_BY(mu_);          // rips not to decode again
  absl::flat_hash_map<uint64_t, uint32_t> traps_ ABSL_GUARDED_BY(mu_);  // rip → traps so far
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SYSCALL_PATCH_H_
