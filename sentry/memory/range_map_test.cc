#include "sentry/memory/range_map.h"

#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sentry::memory {
namespace {

using ::testing::ElementsAre;

// (start, end, value) for each segment, in order.
template <typename M>
std::vector<std::tuple<uint64_t, uint64_t, int>> Dump(const M& m) {
  std::vector<std::tuple<uint64_t, uint64_t, int>> out;
  for (auto it = m.begin(); it != m.end(); ++it) {
    out.emplace_back(it->first, it->second.end, static_cast<int>(it->second.value));
  }
  return out;
}

using Seg = std::tuple<uint64_t, uint64_t, int>;

TEST(RangeMapTest, InsertFindLowerBound) {
  RangeMap<int> m;
  m.Insert(10, 20, 1);
  m.Insert(30, 40, 2);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.Find(9), m.end());
  EXPECT_EQ(m.Find(10)->second.value, 1);
  EXPECT_EQ(m.Find(19)->second.value, 1);
  EXPECT_EQ(m.Find(20), m.end());
  EXPECT_EQ(m.Find(35)->second.value, 2);
  EXPECT_EQ(m.LowerBound(0)->first, 10u);
  EXPECT_EQ(m.LowerBound(15)->first, 10u);
  EXPECT_EQ(m.LowerBound(20)->first, 30u);
  EXPECT_EQ(m.LowerBound(40), m.end());
  EXPECT_TRUE(m.Intersects(19, 31));
  EXPECT_FALSE(m.Intersects(20, 30));
  EXPECT_TRUE(m.Covers(12, 18));
  EXPECT_FALSE(m.Covers(12, 31));
}

TEST(RangeMapTest, InsertAndMergeJoinsEqualNeighbours) {
  RangeMap<int> m;
  m.InsertAndMerge(0, 10, 1);
  m.InsertAndMerge(20, 30, 1);
  m.InsertAndMerge(10, 20, 1);
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 30, 1}));
  m.InsertAndMerge(30, 40, 2);
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 30, 1}, Seg{30, 40, 2}));
}

TEST(RangeMapTest, SplitIsolateAndMergeBack) {
  RangeMap<int> m;
  m.Insert(0, 100, 7);
  auto it = m.Isolate(m.Find(50), 40, 60);
  EXPECT_EQ(it->first, 40u);
  EXPECT_EQ(it->second.end, 60u);
  it->second.value = 8;
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 40, 7}, Seg{40, 60, 8}, Seg{60, 100, 7}));
  it->second.value = 7;
  m.Merge(it);
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 100, 7}));

  m.SplitAt(30);
  m.SplitAt(30);  // no-op on a boundary
  m.SplitAt(0);   // no-op at a start
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 30, 7}, Seg{30, 100, 7}));
  m.MergeRange(30, 30);
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 100, 7}));
}

TEST(RangeMapTest, RemoveRangeSplitsEdges) {
  RangeMap<int> m;
  m.Insert(0, 10, 1);
  m.Insert(10, 20, 2);
  m.Insert(30, 40, 3);
  std::vector<Seg> removed;
  m.RemoveRange(5, 35, [&](uint64_t s, uint64_t e, int& v) { removed.emplace_back(s, e, v); });
  EXPECT_THAT(removed, ElementsAre(Seg{5, 10, 1}, Seg{10, 20, 2}, Seg{30, 35, 3}));
  EXPECT_THAT(Dump(m), ElementsAre(Seg{0, 5, 1}, Seg{35, 40, 3}));
  m.RemoveRange(100, 200);  // nothing there
  EXPECT_EQ(m.size(), 2u);
}

TEST(RangeMapTest, Gaps) {
  RangeMap<int> m;
  m.Insert(10, 20, 1);
  m.Insert(30, 40, 1);
  EXPECT_EQ(m.FirstGap(0, 100), (Gap{0, 10}));
  EXPECT_EQ(m.FirstGap(10, 100), (Gap{20, 30}));
  EXPECT_EQ(m.FirstGap(10, 20), (Gap{20, 20}));  // none
  EXPECT_EQ(m.FirstGap(35, 100), (Gap{40, 100}));
  EXPECT_EQ(m.GapAround(25, 0, 100), (Gap{20, 30}));
  EXPECT_EQ(m.GapAround(25, 22, 28), (Gap{22, 28}));
  EXPECT_EQ(m.GapAround(50, 0, 100), (Gap{40, 100}));
  EXPECT_EQ(m.GapAround(5, 0, 100), (Gap{0, 10}));
}

// A value that moves on with its position, like a file offset.
struct Offset {
  uint64_t off;
};
struct OffsetTraits {
  static Offset Split(const Offset& v, uint64_t start, uint64_t at) {
    return Offset{v.off + (at - start)};
  }
  static bool CanMerge(uint64_t start, uint64_t end, const Offset& l, const Offset& r) {
    return r.off == l.off + (end - start);
  }
};

TEST(RangeMapTest, TraitsAdjustValuesOnSplitAndMerge) {
  RangeMap<Offset, OffsetTraits> m;
  m.Insert(100, 200, Offset{1000});
  auto it = m.SplitAt(150);
  EXPECT_EQ(it->first, 150u);
  EXPECT_EQ(it->second.value.off, 1050u);
  m.MergeRange(100, 200);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.begin()->second.value.off, 1000u);
  // Contiguous in address but not in offset: no merge.
  m.InsertAndMerge(200, 210, Offset{5000});
  EXPECT_EQ(m.size(), 2u);
  m.InsertAndMerge(210, 220, Offset{5010});
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.Find(215)->first, 200u);
}

// Random operations against a page-by-page model.
TEST(RangeMapTest, RandomAgainstModel) {
  constexpr int kN = 64;
  std::mt19937 rng(1234);
  RangeMap<int> m;
  std::vector<int> model(kN, 0);  // 0 = uncovered
  for (int step = 0; step < 5000; ++step) {
    int a = rng() % kN, b = rng() % kN;
    if (a > b) std::swap(a, b);
    if (a == b) continue;
    int v = 1 + rng() % 3;
    switch (rng() % 3) {
      case 0:  // remove then insert with merging
        m.RemoveRange(a, b);
        m.InsertAndMerge(a, b, v);
        for (int i = a; i < b; ++i) model[i] = v;
        break;
      case 1:
        m.RemoveRange(a, b);
        for (int i = a; i < b; ++i) model[i] = 0;
        break;
      case 2: {  // overwrite covered parts in place
        for (auto it = m.IsolateRange(a, b); it != m.end() && it->first < static_cast<uint64_t>(b);
             ++it) {
          it->second.value = v;
        }
        m.MergeRange(a, b);
        for (int i = a; i < b; ++i) {
          if (model[i]) model[i] = v;
        }
        break;
      }
    }
    // Compare, and check that no two adjacent equal segments are left unmerged
    // by InsertAndMerge/MergeRange near the last operation.
    std::vector<int> seen(kN, 0);
    uint64_t prev_end = 0;
    for (auto it = m.begin(); it != m.end(); ++it) {
      ASSERT_LT(it->first, it->second.end);
      ASSERT_GE(it->first, prev_end);
      prev_end = it->second.end;
      for (uint64_t i = it->first; i < it->second.end; ++i) seen[i] = it->second.value;
    }
    ASSERT_EQ(seen, model) << "step " << step;
  }
}

}  // namespace
}  // namespace sentry::memory
