#include "sentry/loader/layout.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sentry/base/log.h"

namespace sentry::loader {
namespace {

// Below this the formulas stop making sense (the mmap gap alone is 128 MiB on
// Linux); platforms give 128 TiB.
constexpr uint64_t kMinTaskSize = 16ull << 20;

class GetrandomSource : public RandomSource {
 public:
  void Fill(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
      if (n < 0 && errno == EINTR) continue;
      // NOTE: getrandom cannot fail on a kernel that has it (>= 3.17) once the
      // pool is initialized; a failure is a broken host, not guest input.
      SCHECK_MSG(n > 0, "getrandom: %s", std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }
};

// `mask_pages` random pages (as Linux draws them), reduced below `max_bytes` when
// the address space is too small for Linux's range.
uint64_t RandomPages(RandomSource& rng, uint64_t mask_pages, uint64_t max_bytes) {
  uint64_t pages = rng.Next64() & mask_pages;
  uint64_t max_pages = max_bytes >> kPageShift;
  if (pages > max_pages) pages %= max_pages + 1;
  return pages;
}

uint64_t MmapRndMaskPages() { return (uint64_t{1} << kMmapRndBits) - 1; }

}  // namespace

uint64_t RandomSource::Next64() {
  uint64_t v;
  Fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
  return v;
}

RandomSource& HostRandom() {
  static GetrandomSource* source = new GetrandomSource();
  return *source;
}

uint64_t StackRandomMax(uint64_t task_size) {
  return std::min(kStackRndMaskPages << kPageShift, PageRoundDown(task_size / 64));
}

uint64_t MmapRandomMax(uint64_t task_size) {
  return std::min(MmapRndMaskPages() << kPageShift, PageRoundDown(task_size / 64));
}

uint64_t StackTop(uint64_t task_size, uint64_t random_pages) {
  return PageRoundUp(task_size) - (random_pages << kPageShift);
}

uint64_t MmapBase(uint64_t task_size, uint64_t stack_limit, uint64_t stack_random_max,
                  uint64_t rnd) {
  uint64_t gap = stack_limit;
  uint64_t pad = stack_random_max + kStackGuardGap;
  // Values close to RLIM_INFINITY would overflow: then the gap is clamped anyway.
  if (gap + pad > gap) gap += pad;
  // NOTE: Linux clamps with "if < min ... else if > max"; applying both keeps the
  // gap below TASK_SIZE for the small address spaces Linux never has, and gives
  // the same result for Linux's.
  gap = std::max(gap, kMinMmapGap);
  gap = std::min(gap, task_size / 6 * 5);
  return PageRoundUp(task_size - gap - rnd);
}

uint64_t EtDynLoadBias(uint64_t et_dyn_base, uint64_t first_vaddr, uint64_t max_align) {
  uint64_t base = et_dyn_base;
  if (max_align != 0) base &= ~(max_align - 1);
  // Lowered by the first vaddr so that vaddr + bias lands at the base; modular
  // arithmetic, as in Linux.
  return PageRoundDown(base - first_vaddr);
}

ErrnoOr<ExecLayout> ComputeLayout(uint64_t task_size, uint64_t stack_limit, bool randomize,
                                  RandomSource& rng) {
  if (!IsPageAligned(task_size) || task_size < kMinTaskSize) return Errno(ENOMEM);
  ExecLayout l;
  l.task_size = task_size;

  // randomize_stack_top, then setup_arg_pages' arch_align_stack + PAGE_ALIGN
  // (which moves the top down by at most one more page).
  uint64_t stack_random_max = randomize ? StackRandomMax(task_size) : 0;
  uint64_t stack_pages = randomize ? RandomPages(rng, kStackRndMaskPages, stack_random_max) : 0;
  l.stack_top = PageRoundUp(ArchAlignStack(StackTop(task_size, stack_pages), randomize, rng));

  uint64_t mmap_rnd =
      randomize ? RandomPages(rng, MmapRndMaskPages(), MmapRandomMax(task_size)) << kPageShift : 0;
  l.mmap_base = MmapBase(task_size, stack_limit, stack_random_max, mmap_rnd);

  uint64_t dyn_rnd =
      randomize ? RandomPages(rng, MmapRndMaskPages(), MmapRandomMax(task_size)) << kPageShift : 0;
  l.et_dyn_base = EtDynBase(task_size) + dyn_rnd;

  if (l.stack_top <= kMmapMinAddr || l.mmap_base <= kMmapMinAddr) return Errno(ENOMEM);
  return l;
}

uint64_t RandomizeBrk(uint64_t brk, bool randomize, RandomSource& rng) {
  uint64_t start = PageRoundUp(brk);
  if (!randomize) return start;
  // randomize_page(): the range shrinks by what the round-up used.
  uint64_t range_pages = (kBrkRandomRange - (start - brk)) >> kPageShift;
  if (range_pages == 0) return start;
  return start + ((rng.Next64() % range_pages) << kPageShift);
}

uint64_t ArchAlignStack(uint64_t sp, bool randomize, RandomSource& rng) {
  if (randomize) sp -= rng.Next64() % kStackAlignRandomRange;
  return sp & ~uint64_t{0xf};
}

}  // namespace sentry::loader
