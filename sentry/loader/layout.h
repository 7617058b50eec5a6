// The address-space layout decided at exec: where the stack, the mmap area, a
// position-independent image and the heap go. These are Linux x86-64's choices
// with 4-level paging (arch/x86/mm/mmap.c, fs/binfmt_elf.c, fs/exec.c, mm/util.c),
// written as small functions so that tests can check each formula.
//
// With randomization every choice draws from a RandomSource (getrandom(2) in the
// Sentry); without it the same formulas run with zero randomness, so the layout
// is the deterministic one `setarch -R` gives on Linux (stack top at TASK_SIZE,
// mmap base 128 MiB below it, a PIE at 0x555555554000).
#ifndef SENTRY_LOADER_LAYOUT_H_
#define SENTRY_LOADER_LAYOUT_H_

#include <cstdint>
#include <span>

#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/mm/mm.h"

namespace sentry::loader {

// vm.mmap_min_addr: nothing is mapped below it.
inline constexpr uint64_t kMmapMinAddr = 0x10000;
// STACK_RND_MASK: the stack top moves down by up to 0x3fffff pages (16 GiB).
inline constexpr uint64_t kStackRndMaskPages = 0x3fffff;
// mmap_rnd_bits (CONFIG_ARCH_MMAP_RND_BITS): 28 bits of pages (1 TiB), used for
// the mmap base and for the load bias of a position-independent executable.
inline constexpr int kMmapRndBits = 28;
// stack_guard_gap: 256 pages kept free below a growsdown stack.
inline constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// The smallest and largest gap between the stack top and the mmap base.
inline constexpr uint64_t kMinMmapGap = 128ull << 20;
// arch_randomize_brk: the heap start moves up by less than 32 MiB.
inline constexpr uint64_t kBrkRandomRange = 32ull << 20;
// arch_align_stack: sp moves down by less than 8 KiB before 16-byte alignment.
inline constexpr uint64_t kStackAlignRandomRange = 8192;

// Where random bits come from.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;
  uint64_t Next64();
};

// getrandom(2) on the host. Thread-safe.
RandomSource& HostRandom();

// The layout of a new address space.
struct ExecLayout {
  uint64_t task_size = 0;    // TASK_SIZE: the top of user memory
  uint64_t stack_top = 0;    // end of the initial stack VMA (page-aligned)
  uint64_t mmap_base = 0;    // top-down mmap allocations start below this
  uint64_t et_dyn_base = 0;  // ELF_ET_DYN_BASE plus its randomization (unaligned)

  mm::Layout ToMm() const { return mm::Layout{kMmapMinAddr, task_size, mmap_base, stack_top}; }
};

// The largest random offset of each kind for an address space of `task_size`:
// Linux's ranges, capped at task_size/64 so that a platform with a small address
// space still gets a valid layout (Linux's TASK_SIZE is never that small).
uint64_t StackRandomMax(uint64_t task_size);
uint64_t MmapRandomMax(uint64_t task_size);

// randomize_stack_top: the page-aligned stack top minus `random_pages` pages
// (already reduced to the allowed range).
uint64_t StackTop(uint64_t task_size, uint64_t random_pages);

// mmap_base(): TASK_SIZE minus the stack gap (RLIMIT_STACK plus the guard gap and
// the largest stack randomization, clamped to [128 MiB, TASK_SIZE/6*5]) minus
// `rnd` bytes, page-aligned. `stack_random_max` is 0 without randomization.
uint64_t MmapBase(uint64_t task_size, uint64_t stack_limit, uint64_t stack_random_max,
                  uint64_t rnd);

// ELF_ET_DYN_BASE: two thirds of TASK_SIZE (not page-aligned, as in Linux).
constexpr uint64_t EtDynBase(uint64_t task_size) { return task_size / 3 * 2; }

// The load bias of an ET_DYN image whose first PT_LOAD is at `first_vaddr` and
// whose largest power-of-two p_align (at least a page) is `max_align`.
uint64_t EtDynLoadBias(uint64_t et_dyn_base, uint64_t first_vaddr, uint64_t max_align);

// Computes the whole layout. ENOMEM if `task_size` is too small to hold one.
ErrnoOr<ExecLayout> ComputeLayout(uint64_t task_size, uint64_t stack_limit, bool randomize,
                                  RandomSource& rng);

// arch_randomize_brk: the heap start, `brk` rounded up to a page and moved up by a
// random number of pages below 32 MiB when randomizing.
uint64_t RandomizeBrk(uint64_t brk, bool randomize, RandomSource& rng);

// arch_align_stack: moves `sp` down by less than 8 KiB when randomizing, then
// aligns it down to 16 bytes.
uint64_t ArchAlignStack(uint64_t sp, bool randomize, RandomSource& rng);

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_LAYOUT_H_
