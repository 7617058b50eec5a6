#include "sentry/memory/memory_file.h"

#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/base/user_addr.h"

namespace sentry::memory {
namespace {

constexpr uint64_t kPage = kPageSize;

std::unique_ptr<MemoryFile> NewFile(uint64_t capacity) {
  auto mf = MemoryFile::Create(capacity);
  EXPECT_TRUE(mf.ok()) << mf.status();
  return std::move(mf).value();
}

uint64_t HostBytes(const MemoryFile& mf) {
  struct stat st;
  EXPECT_EQ(fstat(mf.fd(), &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

TEST(MemoryFileTest, CreateRejectsBadCapacity) {
  EXPECT_FALSE(MemoryFile::Create(0).ok());
  EXPECT_FALSE(MemoryFile::Create(kPage + 1).ok());
}

TEST(MemoryFileTest, CreateIsSparse) {
  auto mf = NewFile(uint64_t{64} << 30);  // 64 GiB costs nothing until touched
  EXPECT_EQ(mf->capacity(), uint64_t{64} << 30);
  EXPECT_GE(mf->fd(), 0);
  EXPECT_EQ(mf->UsedBytes(), 0u);
  EXPECT_LT(HostBytes(*mf), 1u << 20);
}

TEST(MemoryFileTest, AllocateIsZeroedAndCounted) {
  auto mf = NewFile(64 * kPage);
  auto r = mf->Allocate(4 * kPage);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Length(), 4 * kPage);
  EXPECT_EQ(mf->UsedBytes(), 4 * kPage);
  for (uint64_t off = r->start; off < r->end; off += kPage) EXPECT_EQ(mf->RefCount(off), 1u);
  uint8_t* p = mf->Internal(r->start);
  for (uint64_t i = 0; i < r->Length(); ++i) ASSERT_EQ(p[i], 0);
  EXPECT_EQ(mf->RefCount(r->end), 0u);
  mf->DecRef(*r);
  EXPECT_EQ(mf->UsedBytes(), 0u);
}

TEST(MemoryFileTest, WriteFillsPagesFromAnyMemoryItsOwnIncluded) {
  auto mf = NewFile(64 * kPage);
  auto a = mf->Allocate(3 * kPage);
  auto b = mf->Allocate(3 * kPage);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<uint8_t> src(3 * kPage);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  ASSERT_TRUE(mf->Write(a->start, src.data(), src.size()).ok());
  EXPECT_EQ(std::memcmp(mf->Internal(a->start), src.data(), src.size()), 0);
  // From the file's own mapping (a copy-on-write break), part of a page.
  ASSERT_TRUE(mf->Write(b->start + 100, mf->Internal(a->start), 2 * kPage).ok());
  EXPECT_EQ(mf->Internal(b->start)[99], 0);
  EXPECT_EQ(std::memcmp(mf->Internal(b->start + 100), src.data(), 2 * kPage), 0);
  EXPECT_EQ(mf->Internal(b->start)[2 * kPage + 100], 0);
}

TEST(MemoryFileTest, AllocateRejectsBadLengths) {
  auto mf = NewFile(16 * kPage);
  EXPECT_EQ(mf->Allocate(0).error(), Errno(EINVAL));
  EXPECT_EQ(mf->Allocate(kPage + 1).error(), Errno(EINVAL));
}

TEST(MemoryFileTest, EnomemWhenFullAndReuseAfterFree) {
  auto mf = NewFile(8 * kPage);
  auto a = mf->Allocate(5 * kPage);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(mf->Allocate(4 * kPage).error(), Errno(ENOMEM));
  auto b = mf->Allocate(3 * kPage);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(mf->Allocate(kPage).error(), Errno(ENOMEM));
  mf->DecRef(*a);
  auto c = mf->Allocate(5 * kPage);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *a);
  mf->DecRef(*b);
  mf->DecRef(*c);
  EXPECT_EQ(mf->UsedBytes(), 0u);
}

TEST(MemoryFileTest, FreeExtentsCoalesce) {
  auto mf = NewFile(8 * kPage);
  std::vector<FileRange> pages;
  for (int i = 0; i < 8; ++i) {
    auto r = mf->Allocate(kPage);
    ASSERT_TRUE(r.ok());
    pages.push_back(*r);
  }
  EXPECT_EQ(mf->Allocate(kPage).error(), Errno(ENOMEM));
  // Free in an order that needs merging on both sides.
  for (int i : {1, 3, 2, 0, 6, 4, 7, 5}) mf->DecRef(pages[i]);
  auto all = mf->Allocate(8 * kPage);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->start, 0u);
  mf->DecRef(*all);
}

TEST(MemoryFileTest, SubrangeRefcountsSplitAndMerge) {
  auto mf = NewFile(16 * kPage);
  auto r = mf->Allocate(8 * kPage);
  ASSERT_TRUE(r.ok());
  FileRange mid{r->start + 2 * kPage, r->start + 5 * kPage};
  mf->IncRef(mid);
  EXPECT_EQ(mf->RefCount(r->start + kPage), 1u);
  EXPECT_EQ(mf->RefCount(r->start + 2 * kPage), 2u);
  EXPECT_EQ(mf->RefCount(r->start + 4 * kPage), 2u);
  EXPECT_EQ(mf->RefCount(r->start + 5 * kPage), 1u);
  // Drop the whole range once: only the middle survives.
  mf->DecRef(*r);
  EXPECT_EQ(mf->UsedBytes(), 3 * kPage);
  EXPECT_EQ(mf->RefCount(r->start), 0u);
  EXPECT_EQ(mf->RefCount(r->start + 3 * kPage), 1u);
  // The freed head can be reused while the middle is held.
  auto head = mf->Allocate(2 * kPage);
  ASSERT_TRUE(head.ok());
  mf->DecRef(*head);
  mf->DecRef(mid);
  EXPECT_EQ(mf->UsedBytes(), 0u);
}

TEST(MemoryFileTest, FreedPagesReadBackAsZerosAndReturnToHost) {
  auto mf = NewFile(1024 * kPage);
  auto r = mf->Allocate(256 * kPage);
  ASSERT_TRUE(r.ok());
  memset(mf->Internal(r->start), 0xab, r->Length());
  EXPECT_GE(HostBytes(*mf), r->Length());
  mf->DecRef(*r);
  EXPECT_LT(HostBytes(*mf), r->Length());
  auto again = mf->Allocate(256 * kPage);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->start, r->start);  // same pages, reused
  const uint8_t* p = mf->Internal(again->start);
  for (uint64_t i = 0; i < again->Length(); ++i) ASSERT_EQ(p[i], 0) << i;
  mf->DecRef(*again);
}

TEST(MemoryFileTest, DecommitZeroesInPlaceButKeepsAllocation) {
  auto mf = NewFile(16 * kPage);
  auto r = mf->Allocate(4 * kPage);
  ASSERT_TRUE(r.ok());
  memset(mf->Internal(r->start), 0x5a, r->Length());
  mf->Decommit(FileRange{r->start + kPage, r->start + 3 * kPage});
  EXPECT_EQ(mf->Internal(r->start)[0], 0x5a);
  EXPECT_EQ(mf->Internal(r->start + kPage)[0], 0);
  EXPECT_EQ(mf->Internal(r->start + 3 * kPage - 1)[0], 0);
  EXPECT_EQ(mf->Internal(r->start + 3 * kPage)[0], 0x5a);
  EXPECT_EQ(mf->UsedBytes(), 4 * kPage);
  EXPECT_EQ(mf->RefCount(r->start + kPage), 1u);
  mf->DecRef(*r);
}

TEST(MemoryFileTest, BestFitKeepsLargeExtents) {
  auto mf = NewFile(32 * kPage);
  auto a = mf->Allocate(4 * kPage);  // [0,4)
  auto hole = mf->Allocate(kPage);   // [4,5)
  auto b = mf->Allocate(4 * kPage);  // [5,9)
  ASSERT_TRUE(a.ok() && hole.ok() && b.ok());
  mf->DecRef(*hole);
  // A one-page request takes the one-page hole, not the big tail.
  auto c = mf->Allocate(kPage);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->start, hole->start);
  for (auto& r : {*a, *b, *c}) mf->DecRef(r);
  EXPECT_EQ(mf->UsedBytes(), 0u);
}

TEST(MemoryFileTest, RandomAllocFreeKeepsAccounting) {
  auto mf = NewFile(512 * kPage);
  std::mt19937 rng(42);
  std::vector<FileRange> live;
  uint64_t expect_used = 0;
  for (int i = 0; i < 3000; ++i) {
    if (live.empty() || rng() % 3 != 0) {
      uint64_t len = (1 + rng() % 8) * kPage;
      auto r = mf->Allocate(len);
      if (!r.ok()) {
        ASSERT_EQ(r.error(), Errno(ENOMEM));
        continue;
      }
      // No overlap with anything live; the pages read as zero.
      for (const auto& l : live) ASSERT_TRUE(r->end <= l.start || l.end <= r->start);
      ASSERT_EQ(mf->Internal(r->start)[0], 0);
      mf->Internal(r->start)[0] = 1;
      live.push_back(*r);
      expect_used += len;
    } else {
      size_t k = rng() % live.size();
      mf->DecRef(live[k]);
      expect_used -= live[k].Length();
      live.erase(live.begin() + k);
    }
    ASSERT_EQ(mf->UsedBytes(), expect_used);
  }
  for (const auto& l : live) mf->DecRef(l);
  EXPECT_EQ(mf->UsedBytes(), 0u);
  auto all = mf->Allocate(512 * kPage);  // everything coalesced again
  ASSERT_TRUE(all.ok());
  mf->DecRef(*all);
}

TEST(MemoryFileTest, ConcurrentUse) {
  auto mf = NewFile(4096 * kPage);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&mf, t] {
      for (int i = 0; i < 500; ++i) {
        auto r = mf->Allocate((1 + (i + t) % 4) * kPage);
        ASSERT_TRUE(r.ok());
        mf->IncRef(*r);
        mf->DecRef(*r);
        mf->DecRef(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mf->UsedBytes(), 0u);
}

TEST(MemoryFileDeathTest, RefChangeOnFreePagesIsFatal) {
  auto mf = NewFile(16 * kPage);
  EXPECT_DEATH(mf->IncRef(FileRange{0, kPage}), "free pages");
}

}  // namespace
}  // namespace sentry::memory
