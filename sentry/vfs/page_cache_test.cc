// The page cache under real mappings: a MemoryManager over a FakeAddressSpace,
// with a backing in Sentry memory that counts what reaches it.
#include "sentry/vfs/page_cache.h"

#include <sys/mman.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/mm/mm.h"

namespace sentry::vfs {
namespace {

constexpr uint64_t kPage = 4096;

class StringBacking : public CacheBacking {
 public:
  explicit StringBacking(std::string data) : data(std::move(data)) {}
  ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) override {
    ++reads;
    if (fail) return Errno(EIO);
    if (offset >= data.size()) return size_t{0};
    size_t n = std::min<size_t>(dst.size(), data.size() - offset);
    std::memcpy(dst.data(), data.data() + offset, n);
    return n;
  }
  ErrnoOr<size_t> WriteAt(std::span<const uint8_t> src, uint64_t offset) override {
    ++writes;
    if (offset + src.size() > data.size()) data.resize(offset + src.size());
    std::memcpy(data.data() + offset, src.data(), src.size());
    return src.size();
  }
  ErrnoOr<uint64_t> Size() override { return data.size(); }

  std::string data;
  int reads = 0, writes = 0;
  bool fail = false;
};

class PageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = *memory::MemoryFile::Create(uint64_t{1} << 30);
    mm::Layout layout;
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, &as_, layout);
    std::string data(2 * kPage + 100, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    backing_ = std::make_shared<StringBacking>(data);
    cache_ = std::make_shared<PageCache>(*mf_, backing_);
  }
  uint64_t Map(int prot, int flags, uint64_t offset = 0, uint64_t len = 3 * kPage) {
    mm::MmapOpts o;
    o.length = len;
    o.prot = prot;
    o.flags = flags;
    o.file = cache_;
    o.offset = offset;
    o.file_writable = true;
    auto a = mm_->Mmap(o);
    EXPECT_TRUE(a.ok());
    return a.ok() ? *a : 0;
  }

  std::unique_ptr<memory::MemoryFile> mf_;
  mm::testing::FakeAddressSpace as_;
  std::unique_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<StringBacking> backing_;
  std::shared_ptr<PageCache> cache_;
};

TEST_F(PageCacheTest, PagesAreReadOnceAndShared) {
  uint64_t a = Map(PROT_READ, MAP_PRIVATE);
  uint64_t b = Map(PROT_READ, MAP_SHARED);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  EXPECT_EQ(g.ReadByte(a), 'a');
  EXPECT_EQ(g.ReadByte(b + kPage), 'a' + kPage % 26);
  EXPECT_EQ(g.ReadByte(a + 2 * kPage + 99), 'a' + (2 * kPage + 99) % 26);
  EXPECT_EQ(g.ReadByte(a + 2 * kPage + 100), 0);  // past EOF in the last page: zero
  EXPECT_EQ(cache_->CachedPages(), 3u);
  const int reads = backing_->reads;
  EXPECT_EQ(g.ReadByte(b), 'a');
  EXPECT_EQ(backing_->reads, reads);  // from the cache
}

TEST_F(PageCacheTest, MissingPagesAreReadInOneGoAndFreedWithTheCache) {
  const uint64_t used = mf_->UsedBytes();
  std::vector<std::pair<uint64_t, memory::FileRange>> out;
  ASSERT_TRUE(cache_->Get(0, 3 * kPage, false, &out).ok());
  // One allocation, one read (which stops short at EOF), one contiguous piece.
  EXPECT_EQ(backing_->reads, 2);  // the run, then the 0 that says EOF
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second.Length(), 3 * kPage);
  EXPECT_EQ(cache_->CachedPages(), 3u);
  EXPECT_EQ(mf_->Internal(out[0].second.start)[kPage], 'a' + kPage % 26);
  // A hole in the middle is read on its own, between cached neighbours.
  cache_->TruncateCache(kPage);
  out.clear();
  ASSERT_TRUE(cache_->Get(0, 3 * kPage, false, &out).ok());
  EXPECT_EQ(cache_->CachedPages(), 3u);
  EXPECT_EQ(mf_->Internal(out.back().second.end - kPage)[99], 'a' + (2 * kPage + 99) % 26);
  // The references Get handed out, then the cache's own, are all that hold pages.
  for (const auto& [off, r] : out) mf_->DecRef(r);
  cache_.reset();
  EXPECT_EQ(mf_->UsedBytes(), used + 3 * kPage);  // the first Get's pieces are still held
}

TEST_F(PageCacheTest, PastTheLastPageIsSigbus) {
  uint64_t a = Map(PROT_READ, MAP_PRIVATE, 0, 4 * kPage);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  uint8_t v;
  EXPECT_EQ(g.Read(a + 3 * kPage, &v), mm::FaultResult::kBusError);
}

TEST_F(PageCacheTest, PrivateWritesStayPrivate) {
  uint64_t a = Map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  ASSERT_EQ(g.Write(a, 'Z'), mm::FaultResult::kHandled);
  EXPECT_EQ(g.ReadByte(a), 'Z');
  EXPECT_EQ(backing_->data[0], 'a');
  ASSERT_TRUE(cache_->WriteBack(0, ~uint64_t{0}).ok());
  EXPECT_EQ(backing_->writes, 0);
  uint64_t s = Map(PROT_READ, MAP_SHARED);
  EXPECT_EQ(g.ReadByte(s), 'a');
}

TEST_F(PageCacheTest, SharedWritesAreWrittenBack) {
  uint64_t a = Map(PROT_READ | PROT_WRITE, MAP_SHARED);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  ASSERT_EQ(g.Write(a + kPage + 1, 'Q'), mm::FaultResult::kHandled);
  EXPECT_NE(backing_->data[kPage + 1], 'Q');
  ASSERT_TRUE(cache_->FlushForRead(kPage, 10).ok());
  EXPECT_EQ(backing_->data[kPage + 1], 'Q');
  EXPECT_EQ(backing_->data.size(), 2 * kPage + 100);  // never past the end of the file
  ASSERT_TRUE(mm_->Msync(a, kPage, MS_SYNC).ok());
}

TEST_F(PageCacheTest, WritesThroughTheFdShowInMappings) {
  uint64_t a = Map(PROT_READ, MAP_SHARED);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  EXPECT_EQ(g.ReadByte(a + 5), 'f');
  char data[] = "XY";
  iovec v{data, 2};
  backing_->WriteAt({reinterpret_cast<uint8_t*>(data), 2}, 5).value();
  cache_->NoteWrite({&v, 1}, 5, 2);
  EXPECT_EQ(g.ReadByte(a + 5), 'X');
  EXPECT_EQ(g.ReadByte(a + 6), 'Y');
}

TEST_F(PageCacheTest, TruncateDropsPagesAndZeroesTheTail) {
  uint64_t a = Map(PROT_READ, MAP_SHARED);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  EXPECT_EQ(g.ReadByte(a + 2 * kPage), 'a' + (2 * kPage) % 26);
  backing_->data.resize(10);
  cache_->Truncate(10);
  EXPECT_EQ(cache_->CachedPages(), 1u);
  uint64_t b = Map(PROT_READ, MAP_SHARED);
  EXPECT_EQ(g.ReadByte(b + 10), 0);
  uint8_t v;
  EXPECT_EQ(g.Read(b + kPage, &v), mm::FaultResult::kBusError);
}

TEST_F(PageCacheTest, ReadErrorsAreReportedNotCached) {
  backing_->fail = true;
  uint64_t a = Map(PROT_READ, MAP_PRIVATE);
  mm::testing::FakeGuest g(*mm_, *mf_, as_);
  uint8_t v;
  EXPECT_NE(g.Read(a, &v), mm::FaultResult::kHandled);
  EXPECT_EQ(cache_->CachedPages(), 0u);
  backing_->fail = false;
  EXPECT_EQ(g.ReadByte(a), 'a');
}

}  // namespace
}  // namespace sentry::vfs
