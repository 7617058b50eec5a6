#include "sentry/loader/layout.h"

#include <cstring>

#include "gtest/gtest.h"

namespace sentry::loader {
namespace {

constexpr uint64_t kTaskSize = 0x7ffffffff000;  // x86-64, 4-level paging
constexpr uint64_t k8M = 8ull << 20;
constexpr uint64_t kStackRandomMax = 0x3fffffull << 12;        // 16 GiB - 4 KiB
constexpr uint64_t kMmapRandomMax = ((1ull << 28) - 1) << 12;  // 1 TiB - 4 KiB

// Every byte is `b`.
class ConstantRandom : public RandomSource {
 public:
  explicit ConstantRandom(uint8_t b) : b_(b) {}
  void Fill(std::span<uint8_t> out) override { std::memset(out.data(), b_, out.size()); }

 private:
  uint8_t b_;
};

TEST(LayoutTest, DeterministicWithoutRandomization) {
  ErrnoOr<ExecLayout> l = ComputeLayout(kTaskSize, k8M, false, HostRandom());
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->task_size, kTaskSize);
  EXPECT_EQ(l->stack_top, kTaskSize);
  // 128 MiB below the top: the minimum gap, since 8 MiB + the guard gap is less.
  EXPECT_EQ(l->mmap_base, 0x7ffff7fff000u);
  EXPECT_EQ(l->et_dyn_base, 0x555555554aaau);
  EXPECT_EQ(EtDynLoadBias(l->et_dyn_base, 0, 0x1000), 0x555555554000u);
  EXPECT_EQ(EtDynLoadBias(l->et_dyn_base, 0, 0x200000), 0x555555400000u);
  // Lowered by the first vaddr, so that the first segment lands at the base.
  EXPECT_EQ(EtDynLoadBias(l->et_dyn_base, 0x400000, 0x1000), 0x555555154000u);

  mm::Layout m = l->ToMm();
  EXPECT_EQ(m.min_addr, 0x10000u);
  EXPECT_EQ(m.max_addr, kTaskSize);
  EXPECT_EQ(m.mmap_base, l->mmap_base);
  EXPECT_EQ(m.stack_top, l->stack_top);
}

TEST(LayoutTest, MmapGap) {
  // Without randomization: RLIMIT_STACK + the guard gap, at least 128 MiB.
  EXPECT_EQ(MmapBase(kTaskSize, k8M, 0, 0), kTaskSize - (128ull << 20));
  EXPECT_EQ(MmapBase(kTaskSize, 1ull << 30, 0, 0), kTaskSize - (1ull << 30) - kStackGuardGap);
  // At most 5/6 of the address space, also for RLIM_INFINITY (no overflow).
  EXPECT_EQ(MmapBase(kTaskSize, ~0ull, 0, 0), PageRoundUp(kTaskSize - kTaskSize / 6 * 5));
  EXPECT_EQ(MmapBase(kTaskSize, ~0ull - 4096, kStackRandomMax, 0),
            PageRoundUp(kTaskSize - kTaskSize / 6 * 5));
  // With randomization the gap leaves room for the whole stack randomization,
  // and the base moves down by the random offset.
  EXPECT_EQ(MmapBase(kTaskSize, k8M, kStackRandomMax, 0x5000),
            kTaskSize - k8M - kStackGuardGap - kStackRandomMax - 0x5000);
}

TEST(LayoutTest, ZeroRandomnessGivesTheTopOfEachRange) {
  ConstantRandom zero(0);
  ErrnoOr<ExecLayout> l = ComputeLayout(kTaskSize, k8M, true, zero);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->stack_top, kTaskSize);
  EXPECT_EQ(l->mmap_base, kTaskSize - k8M - kStackGuardGap - kStackRandomMax);
  EXPECT_EQ(l->et_dyn_base, EtDynBase(kTaskSize));
}

TEST(LayoutTest, LargestRandomness) {
  ConstantRandom ones(0xff);
  ErrnoOr<ExecLayout> l = ComputeLayout(kTaskSize, k8M, true, ones);
  ASSERT_TRUE(l.ok());
  // 0x3fffff pages, then arch_align_stack's 8191 bytes and 16-byte alignment
  // land exactly on the page two below, which PAGE_ALIGN keeps.
  EXPECT_EQ(l->stack_top, kTaskSize - kStackRandomMax - 2 * kPageSize);
  EXPECT_EQ(l->mmap_base, kTaskSize - k8M - kStackGuardGap - kStackRandomMax - kMmapRandomMax);
  EXPECT_EQ(l->et_dyn_base, EtDynBase(kTaskSize) + kMmapRandomMax);
  // The stack and the mmap area stay apart by at least RLIMIT_STACK and the guard gap.
  EXPECT_GE(l->stack_top - l->mmap_base, k8M + kStackGuardGap);
}

TEST(LayoutTest, RealRandomness) {
  ErrnoOr<ExecLayout> a = ComputeLayout(kTaskSize, k8M, true, HostRandom());
  ErrnoOr<ExecLayout> b = ComputeLayout(kTaskSize, k8M, true, HostRandom());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  for (const ExecLayout& l : {*a, *b}) {
    EXPECT_TRUE(IsPageAligned(l.stack_top));
    EXPECT_TRUE(IsPageAligned(l.mmap_base));
    EXPECT_LE(l.stack_top, kTaskSize);
    EXPECT_GE(l.stack_top, kTaskSize - kStackRandomMax - 2 * kPageSize);
    EXPECT_LE(l.mmap_base, kTaskSize - k8M - kStackGuardGap - kStackRandomMax);
    EXPECT_GE(l.mmap_base, kTaskSize - k8M - kStackGuardGap - kStackRandomMax - kMmapRandomMax);
    EXPECT_GE(l.et_dyn_base, EtDynBase(kTaskSize));
    EXPECT_LE(l.et_dyn_base, EtDynBase(kTaskSize) + kMmapRandomMax);
  }
  // 28 random bits each: equal only once in 2^28 runs.
  EXPECT_NE(a->mmap_base, b->mmap_base);
  EXPECT_NE(a->et_dyn_base, b->et_dyn_base);
}

TEST(LayoutTest, SmallAddressSpace) {
  constexpr uint64_t kSmall = 64ull << 20;
  for (uint8_t b : {0x00, 0x5a, 0xff}) {
    ConstantRandom r(b);
    ErrnoOr<ExecLayout> l = ComputeLayout(kSmall, k8M, true, r);
    ASSERT_TRUE(l.ok());
    EXPECT_LE(l->stack_top, kSmall);
    EXPECT_GT(l->mmap_base, kMmapMinAddr);
    EXPECT_LT(l->mmap_base, l->stack_top);
    EXPECT_LT(l->et_dyn_base, kSmall);
  }
  EXPECT_EQ(ComputeLayout(1ull << 20, k8M, false, HostRandom()).error(), Errno(ENOMEM));
  EXPECT_EQ(ComputeLayout(kTaskSize + 1, k8M, false, HostRandom()).error(), Errno(ENOMEM));
}

TEST(LayoutTest, Brk) {
  ConstantRandom ones(0xff);
  EXPECT_EQ(RandomizeBrk(0x4ac3c8, false, ones), 0x4ad000u);
  EXPECT_EQ(RandomizeBrk(0x4ad000, false, ones), 0x4ad000u);
  // ~0 % 8192 pages.
  EXPECT_EQ(RandomizeBrk(0x4ad000, true, ones), 0x4ad000u + 8191 * kPageSize);
  uint64_t b = RandomizeBrk(0x4ac3c8, true, ones);
  EXPECT_TRUE(IsPageAligned(b));
  EXPECT_GE(b, 0x4ad000u);
  EXPECT_LT(b, 0x4ad000u + kBrkRandomRange);
  ConstantRandom zero(0);
  EXPECT_EQ(RandomizeBrk(0x4ac3c8, true, zero), 0x4ad000u);
}

TEST(LayoutTest, ArchAlignStack) {
  ConstantRandom ones(0xff);
  EXPECT_EQ(ArchAlignStack(0x7fffffffe123, false, ones), 0x7fffffffe120u);
  EXPECT_EQ(ArchAlignStack(0x7fffffffe123, true, ones), (0x7fffffffe123u - 8191) & ~0xfull);
  for (int i = 0; i < 100; ++i) {
    uint64_t sp = ArchAlignStack(0x7fffffffe123, true, HostRandom());
    EXPECT_EQ(sp % 16, 0u);
    EXPECT_LE(sp, 0x7fffffffe120u);
    EXPECT_GT(sp, 0x7fffffffe123u - 8192 - 16);
  }
}

}  // namespace
}  // namespace sentry::loader
