// An ordered map of disjoint half-open ranges [start, end) to values.
//
// The core data structure of guest memory: the memory file keeps its free
// extents and its per-page reference counts in one, and the memory manager its
// VMAs and backing ranges. Segments split when an operation covers part of
// one, and adjacent segments merge again when their values say they may.
//
// How a value splits and merges is a policy (`Traits`):
//   static V Split(const V& v, uint64_t start, uint64_t at);
//       The value of the right piece [at, end) of a segment [start, end)
//       holding `v`; the left piece keeps `v`. (E.g. a file offset moves on
//       by at - start.)
//   static bool CanMerge(uint64_t start, uint64_t end, const V& left, const V& right);
//       Whether [start, end) holding `left` and the segment that begins at
//       `end` holding `right` may become one segment holding `left`.
// The default copies on split and merges equal values.
//
// Every operation is O(log n) plus the number of segments it touches. Not
// thread-safe: the owner locks.
#ifndef SENTRY_MEMORY_RANGE_MAP_H_
#define SENTRY_MEMORY_RANGE_MAP_H_

#include <cstdint>
#include <iterator>
#include <map>
#include <utility>

#include "sentry/base/log.h"

namespace sentry::memory {

template <typename V>
struct DefaultRangeTraits {
  static V Split(const V& v, uint64_t /*start*/, uint64_t /*at*/) { return v; }
  static bool CanMerge(uint64_t /*start*/, uint64_t /*end*/, const V& left, const V& right) {
    return left == right;
  }
};

// A range [start, end) that is not covered.
struct Gap {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t Length() const { return end - start; }
  bool operator==(const Gap&) const = default;
};

template <typename V, typename Traits = DefaultRangeTraits<V>>
class RangeMap {
 public:
  struct Entry {
    uint64_t end;
    V value;
  };
  using Map = std::map<uint64_t, Entry>;  // keyed by start
  // it->first is the start, it->second.end the end, it->second.value the value.
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  static uint64_t Start(const_iterator it) { return it->first; }
  static uint64_t End(const_iterator it) { return it->second.end; }

  bool empty() const { return map_.empty(); }
  // The number of segments.
  size_t size() const { return map_.size(); }
  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  void clear() { map_.clear(); }

  // The segment containing `addr`, or end().
  iterator Find(uint64_t addr) {
    iterator it = LowerBound(addr);
    return (it != map_.end() && it->first <= addr) ? it : map_.end();
  }
  const_iterator Find(uint64_t addr) const {
    const_iterator it = LowerBound(addr);
    return (it != map_.end() && it->first <= addr) ? it : map_.end();
  }

  // The first segment that ends after `addr`: the one containing it, or the
  // next one above it, or end().
  iterator LowerBound(uint64_t addr) {
    iterator it = map_.upper_bound(addr);
    if (it != map_.begin()) {
      iterator prev = std::prev(it);
      if (prev->second.end > addr) return prev;
    }
    return it;
  }
  const_iterator LowerBound(uint64_t addr) const {
    const_iterator it = map_.upper_bound(addr);
    if (it != map_.begin()) {
      const_iterator prev = std::prev(it);
      if (prev->second.end > addr) return prev;
    }
    return it;
  }

  // Whether any segment intersects [start, end).
  bool Intersects(uint64_t start, uint64_t end) const {
    const_iterator it = LowerBound(start);
    return it != map_.end() && it->first < end;
  }

  // Whether [start, end) is entirely covered (with no holes).
  bool Covers(uint64_t start, uint64_t end) const {
    uint64_t cur = start;
    for (const_iterator it = LowerBound(start); cur < end; ++it) {
      if (it == map_.end() || it->first > cur) return false;
      cur = it->second.end;
    }
    return true;
  }

  // The first uncovered range inside [start, end), or an empty Gap{end, end}.
  Gap FirstGap(uint64_t start, uint64_t end) const {
    uint64_t cur = start;
    for (const_iterator it = LowerBound(start); cur < end; ++it) {
      if (it == map_.end() || it->first >= end) return Gap{cur, end};
      if (it->first > cur) return Gap{cur, it->first};
      cur = it->second.end;
    }
    return Gap{end, end};
  }

  // The largest uncovered range containing `addr` (which must be uncovered),
  // clipped to [lo, hi).
  Gap GapAround(uint64_t addr, uint64_t lo, uint64_t hi) const {
    const_iterator next = LowerBound(addr);
    SCHECK(next == map_.end() || next->first > addr);
    Gap g{lo, hi};
    if (next != map_.end() && next->first < g.end) g.end = next->first;
    if (next != map_.begin()) {
      const_iterator prev = std::prev(next);
      if (prev->second.end > g.start) g.start = prev->second.end;
    }
    return g;
  }

  // Inserts [start, end) -> value. The range must be non-empty and uncovered.
  // Does not merge.
  iterator Insert(uint64_t start, uint64_t end, V value) {
    SCHECK_MSG(start < end, "empty range [%#x, %#x)", start, end);
    SCHECK_MSG(!Intersects(start, end), "overlapping insert [%#x, %#x)", start, end);
    return map_.emplace_hint(map_.lower_bound(start), start, Entry{end, std::move(value)});
  }

  // Inserts and merges with the neighbours; returns the (merged) segment.
  iterator InsertAndMerge(uint64_t start, uint64_t end, V value) {
    return Merge(Insert(start, end, std::move(value)));
  }

  // If `addr` lies strictly inside a segment, splits it there. Returns the
  // first segment that ends after `addr` (which now starts at or after it).
  iterator SplitAt(uint64_t addr) {
    iterator it = LowerBound(addr);
    if (it == map_.end() || it->first >= addr) return it;
    return SplitSegment(it, addr);
  }

  // Splits `it` so that what remains of it lies within [start, end) (which
  // must intersect it); returns the piece inside.
  iterator Isolate(iterator it, uint64_t start, uint64_t end) {
    SCHECK(it->first < end && it->second.end > start);
    if (it->first < start) it = SplitSegment(it, start);
    if (it->second.end > end) SplitSegment(it, end);
    return it;
  }

  // Splits at `start` and `end` so that segments lie entirely inside or
  // outside [start, end); returns the first segment inside (or the first
  // segment at or after `end`, or end(), if none).
  iterator IsolateRange(uint64_t start, uint64_t end) {
    SplitAt(end);
    return SplitAt(start);
  }

  iterator Erase(iterator it) { return map_.erase(it); }

  // Removes everything inside [start, end), splitting segments at the edges.
  // `on_remove(start, end, value&)` sees each removed piece first.
  template <typename F>
  void RemoveRange(uint64_t start, uint64_t end, F&& on_remove) {
    iterator it = IsolateRange(start, end);
    while (it != map_.end() && it->first < end) {
      on_remove(it->first, it->second.end, it->second.value);
      it = map_.erase(it);
    }
  }
  void RemoveRange(uint64_t start, uint64_t end) {
    RemoveRange(start, end, [](uint64_t, uint64_t, V&) {});
  }

  // Merges `it` with its neighbours where Traits allow; returns the segment
  // now holding it.
  iterator Merge(iterator it) {
    if (it != map_.begin()) {
      iterator prev = std::prev(it);
      if (TryMergeWithNext(prev)) it = prev;
    }
    TryMergeWithNext(it);
    return it;
  }

  // Merges what can be merged among the segments touching [start, end],
  // including the neighbours just outside it.
  void MergeRange(uint64_t start, uint64_t end) {
    iterator it = LowerBound(start);
    if (it != map_.begin()) it = std::prev(it);
    while (it != map_.end() && it->first < end) {
      if (!TryMergeWithNext(it)) ++it;
    }
  }

 private:
  // Splits `it` at `at` (strictly inside); returns the right piece.
  iterator SplitSegment(iterator it, uint64_t at) {
    SCHECK(it->first < at && at < it->second.end);
    V right = Traits::Split(it->second.value, it->first, at);
    uint64_t end = it->second.end;
    it->second.end = at;
    return map_.emplace_hint(std::next(it), at, Entry{end, std::move(right)});
  }

  bool TryMergeWithNext(iterator it) {
    iterator next = std::next(it);
    if (next == map_.end() || next->first != it->second.end) return false;
    if (!Traits::CanMerge(it->first, it->second.end, it->second.value, next->second.value)) {
      return false;
    }
    it->second.end = next->second.end;
    map_.erase(next);
    return true;
  }

  Map map_;
};

}  // namespace sentry::memory

#endif  // SENTRY_MEMORY_RANGE_MAP_H_
