#include "sentry/mm/mm.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/memory/memory_file.h"
#include "sentry/mm/fake_address_space.h"

namespace sentry::mm {
namespace {

MmapOpts AnonOpts(uint64_t addr, uint64_t len, int prot, int flags, std::string name) {
  MmapOpts o;
  o.addr = addr;
  o.length = len;
  o.prot = prot;
  o.flags = flags;
  o.name = std::move(name);
  return o;
}

using ::testing::ElementsAre;
using testing::FakeAddressSpace;
using testing::FakeGuest;
using testing::HostFileObject;

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kMiB = 1 << 20;
constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr int kAnon = MAP_PRIVATE | MAP_ANONYMOUS;
constexpr uint64_t kMmapBase = 0x7f0000000000;
constexpr uint64_t kMaxAddr = 0x7ffffffff000;

// Values the host headers may not have.
constexpr int kMapFixedNoReplace = 0x100000;
constexpr int kMapSharedValidate = 0x03;
constexpr int kMremapDontUnmap = 4;
constexpr int kMadvPopulateRead = 22;
constexpr int kMadvPopulateWrite = 23;
constexpr int kMlockOnFault = 1;
constexpr int kMclOnFault = 4;

template <typename T>
int Err(const ErrnoOr<T>& r) {
  return r.ok() ? 0 : r.error().value();
}

class MmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = memory::MemoryFile::Create(uint64_t{4} << 30);
    ASSERT_TRUE(mf.ok()) << mf.status();
    mf_ = std::move(mf).value();
    layout_.min_addr = 0x10000;
    layout_.max_addr = kMaxAddr;
    layout_.mmap_base = kMmapBase;
    layout_.stack_top = 0x7ffffff00000;
    mm_ = std::make_unique<MemoryManager>(*mf_, &as_, layout_);
    guest_ = std::make_unique<FakeGuest>(*mm_, *mf_, as_);
  }

  void TearDown() override {
    guest_.reset();
    mm_.reset();
    EXPECT_EQ(mf_->UsedBytes(), 0u) << "memory leaked by the memory manager";
    EXPECT_EQ(as_.protect_unmapped, 0) << "Protect on pages that were not mapped";
  }

  ErrnoOr<uint64_t> TryMap(uint64_t len, int prot = kRW, int flags = kAnon, uint64_t addr = 0,
                           std::string name = "") {
    return mm_->Mmap(AnonOpts(addr, len, prot, flags, std::move(name)));
  }
  uint64_t Map(uint64_t len, int prot = kRW, int flags = kAnon, uint64_t addr = 0,
               std::string name = "") {
    auto r = TryMap(len, prot, flags, addr, std::move(name));
    EXPECT_TRUE(r.ok()) << "mmap failed: " << Err(r);
    return r.ok() ? *r : 0;
  }

  void Fill(uint64_t addr, uint64_t len, uint8_t byte) {
    std::vector<uint8_t> buf(len, byte);
    CopyResult r = mm_->CopyOut(UserAddr(addr), buf);
    ASSERT_TRUE(r.ok());
  }
  std::vector<uint8_t> ReadBytes(uint64_t addr, uint64_t len) {
    std::vector<uint8_t> buf(len);
    CopyResult r = mm_->CopyIn(UserAddr(addr), buf);
    EXPECT_TRUE(r.ok()) << "CopyIn failed at " << std::hex << addr + r.done;
    return buf;
  }
  // The memory-file offset backing guest `addr` (backs it if needed).
  uint64_t FileOffset(MemoryManager& mm, uint64_t addr) {
    std::vector<iovec> iov;
    CopyResult r = mm.InternalIovecs(UserAddr(addr), 1, false, &iov);
    EXPECT_TRUE(r.ok());
    if (iov.empty()) return ~uint64_t{0};
    return static_cast<uint8_t*>(iov[0].iov_base) - mf_->Internal(0);
  }
  uint64_t FileOffset(uint64_t addr) { return FileOffset(*mm_, addr); }

  std::vector<std::pair<uint64_t, uint64_t>> VmaRanges() {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const auto& v : mm_->Vmas()) out.emplace_back(v.start, v.end);
    return out;
  }
  std::optional<MemoryManager::VmaInfo> VmaAt(uint64_t addr) {
    for (const auto& v : mm_->Vmas()) {
      if (v.start <= addr && addr < v.end) return v;
    }
    return std::nullopt;
  }

  std::unique_ptr<memory::MemoryFile> mf_;
  FakeAddressSpace as_;
  Layout layout_;
  std::unique_ptr<MemoryManager> mm_;
  std::unique_ptr<FakeGuest> guest_;
};

// ---------------------------------------------------------------------------
// mmap placement and argument checks

TEST_F(MmTest, TopDownPlacementBelowMmapBase) {
  uint64_t a = Map(4 * kPage);
  EXPECT_EQ(a, kMmapBase - 4 * kPage);
  uint64_t b = Map(kPage, PROT_READ);
  EXPECT_EQ(b, a - kPage);
  EXPECT_EQ(mm_->VirtualSize(), 5 * kPage);
  // A hole too small for the next request is skipped; one that fits is used.
  ASSERT_TRUE(mm_->Munmap(a + kPage, kPage).ok());
  uint64_t c = Map(2 * kPage);
  EXPECT_EQ(c, b - 2 * kPage);
  uint64_t d = Map(kPage, PROT_READ | PROT_EXEC);
  EXPECT_EQ(d, a + kPage);
}

TEST_F(MmTest, LengthIsRoundedUpAndChecked) {
  uint64_t a = Map(1);
  auto v = VmaAt(a);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->end - v->start, kPage);
  EXPECT_EQ(Err(TryMap(0)), EINVAL);
  EXPECT_EQ(Err(TryMap(~uint64_t{0})), ENOMEM);
  EXPECT_EQ(Err(TryMap(uint64_t{1} << 47)), ENOMEM);
}

TEST_F(MmTest, FlagChecks) {
  EXPECT_EQ(Err(TryMap(kPage, kRW, MAP_ANONYMOUS)), EINVAL);  // neither private nor shared
  EXPECT_EQ(Err(TryMap(kPage, kRW, MAP_ANONYMOUS | kMapSharedValidate)), EINVAL);
  EXPECT_EQ(Err(TryMap(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN)), EINVAL);
  EXPECT_EQ(Err(TryMap(kPage, kRW, MAP_PRIVATE)), ENODEV);  // file mappings: not here
  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | MAP_HUGETLB)), ENOMEM);
  // Unknown flags are ignored with plain MAP_SHARED / MAP_PRIVATE, as in Linux.
  EXPECT_TRUE(TryMap(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS | 0x400).ok());
  // Unknown prot bits are ignored by mmap.
  EXPECT_TRUE(TryMap(kPage, 0x10 | PROT_READ, kAnon).ok());
}

TEST_F(MmTest, HintUsedIfFreeElseTopDown) {
  const uint64_t hint = 0x500000000;
  EXPECT_EQ(Map(kPage, kRW, kAnon, hint), hint);
  // Taken: placed top-down instead.
  EXPECT_EQ(Map(kPage, kRW, kAnon, hint), kMmapBase - kPage);
  // Unaligned hints are rounded down to the page.
  EXPECT_EQ(Map(kPage, kRW, kAnon, hint + 2 * kPage + 123), hint + 2 * kPage);
  // Below min_addr: rounded up to it.
  EXPECT_EQ(Map(kPage, kRW, kAnon, 0x1000), layout_.min_addr);
  // Beyond the top: ignored.
  EXPECT_EQ(Map(2 * kPage, kRW, kAnon, kMaxAddr - kPage), kMmapBase - 3 * kPage);
}

TEST_F(MmTest, FixedMappings) {
  const uint64_t at = 0x600000000;
  EXPECT_EQ(Map(4 * kPage, kRW, kAnon | MAP_FIXED, at), at);
  Fill(at, 4 * kPage, 0x11);
  const uint64_t used = mf_->UsedBytes();
  // MAP_FIXED over the middle replaces it: fresh zero pages, old ones freed.
  EXPECT_EQ(Map(2 * kPage, PROT_READ, kAnon | MAP_FIXED, at + kPage), at + kPage);
  EXPECT_EQ(ReadBytes(at + kPage, 1)[0], 0);
  EXPECT_EQ(ReadBytes(at, 1)[0], 0x11);
  EXPECT_EQ(ReadBytes(at + 3 * kPage, 1)[0], 0x11);
  EXPECT_LT(mf_->UsedBytes(), used);
  EXPECT_THAT(VmaRanges(),
              ElementsAre(std::pair{at, at + kPage}, std::pair{at + kPage, at + 3 * kPage},
                          std::pair{at + 3 * kPage, at + 4 * kPage}));

  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | MAP_FIXED, at + 1)), EINVAL);
  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | MAP_FIXED, 0x1000)), EPERM);  // below min_addr
  EXPECT_EQ(Err(TryMap(2 * kPage, kRW, kAnon | MAP_FIXED, kMaxAddr - kPage)), ENOMEM);
  EXPECT_EQ(Map(kPage, kRW, kAnon | MAP_FIXED, kMaxAddr - kPage), kMaxAddr - kPage);
}

TEST_F(MmTest, FixedNoReplace) {
  const uint64_t at = 0x600000000;
  EXPECT_EQ(Map(2 * kPage, kRW, kAnon | kMapFixedNoReplace, at), at);
  Fill(at, kPage, 0x22);
  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | kMapFixedNoReplace, at + kPage)), EEXIST);
  EXPECT_EQ(Err(TryMap(4 * kPage, kRW, kAnon | kMapFixedNoReplace, at - kPage)), EEXIST);
  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | kMapFixedNoReplace, at + 1)), EINVAL);
  EXPECT_EQ(ReadBytes(at, 1)[0], 0x22);
  EXPECT_EQ(Map(kPage, kRW, kAnon | kMapFixedNoReplace, at + 2 * kPage), at + 2 * kPage);
}

TEST_F(MmTest, BottomUpFallbackWhenNothingBelowMmapBase) {
  layout_.mmap_base = 0x100000000;  // 4 GiB
  mm_->SetLayout(layout_);
  // Fill everything below mmap_base (from min_addr) with one mapping.
  ASSERT_TRUE(TryMap(0x100000000 - layout_.min_addr, PROT_NONE, kAnon | MAP_FIXED | MAP_NORESERVE,
                     layout_.min_addr)
                  .ok());
  uint64_t a = Map(kPage);
  EXPECT_GE(a, PageRoundUp(kMaxAddr / 3));
  EXPECT_LT(a, kMaxAddr);
}

TEST_F(MmTest, Map32BitBelow2GiB) {
  uint64_t a = Map(kPage, kRW, kAnon | MAP_32BIT);
  EXPECT_GE(a, 0x40000000u);
  EXPECT_LT(a + kPage, 0x80000001u);
}

TEST_F(MmTest, PlacementKeepsStackGuardGap) {
  const uint64_t stack = 0x7ff000000000;
  ASSERT_EQ(Map(16 * kPage, kRW, kAnon | MAP_FIXED | MAP_GROWSDOWN, stack, "[stack]"), stack);
  // A hint that would end inside the guard gap below the stack is not used.
  uint64_t a = Map(kPage, kRW, kAnon, stack - 2 * kPage);
  EXPECT_NE(a, stack - 2 * kPage);
  // Far enough below it is fine.
  const uint64_t ok_hint = stack - 256 * kPage - kPage;
  EXPECT_EQ(Map(kPage, kRW, kAnon, ok_hint), ok_hint);
}

TEST_F(MmTest, MaxMapCount) {
  Limits limits;
  limits.max_map_count = 4;
  mm_->SetLimits(limits);
  const uint64_t at = 0x600000000;
  // Alternate protections so that nothing merges.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(TryMap(kPage, i % 2 ? PROT_READ : kRW, kAnon | MAP_FIXED, at + 2 * i * kPage).ok());
  }
  EXPECT_EQ(Err(TryMap(kPage)), ENOMEM);
  // Splitting would also go over.
  ASSERT_EQ(mm_->Munmap(at, kPage).ok(), true);
  // [at, at+3) replaces the read-only page at +2: 3 VMAs, then a 4th.
  ASSERT_TRUE(TryMap(3 * kPage, kRW, kAnon | MAP_FIXED, at).ok());
  ASSERT_TRUE(TryMap(kPage, kRW, kAnon | MAP_FIXED, at + 8 * kPage).ok());
  EXPECT_EQ(VmaRanges().size(), 4u);
  EXPECT_EQ(Err(mm_->Munmap(at + kPage, kPage)), ENOMEM);
  EXPECT_EQ(Err(mm_->Mprotect(at + kPage, kPage, PROT_READ)), ENOMEM);
  // Unmapping a whole VMA is fine.
  EXPECT_TRUE(mm_->Munmap(at, 3 * kPage).ok());
}

TEST_F(MmTest, RlimitAs) {
  Limits limits;
  limits.as = 8 * kPage;
  mm_->SetLimits(limits);
  const uint64_t at = 0x600000000;
  ASSERT_TRUE(TryMap(6 * kPage, kRW, kAnon | MAP_FIXED, at).ok());
  EXPECT_EQ(Err(TryMap(4 * kPage)), ENOMEM);
  // Replacing with MAP_FIXED does not count the replaced part twice.
  EXPECT_TRUE(TryMap(6 * kPage, PROT_READ, kAnon | MAP_FIXED, at).ok());
  EXPECT_TRUE(TryMap(2 * kPage).ok());
  EXPECT_EQ(Err(TryMap(kPage)), ENOMEM);
}

TEST_F(MmTest, RlimitData) {
  Limits limits;
  limits.data = 4 * kPage;
  mm_->SetLimits(limits);
  EXPECT_TRUE(TryMap(4 * kPage).ok());
  EXPECT_EQ(Err(TryMap(kPage)), ENOMEM);                                 // private writable
  EXPECT_TRUE(TryMap(8 * kPage, PROT_READ).ok());                        // read-only: not data
  EXPECT_TRUE(TryMap(8 * kPage, kRW, MAP_SHARED | MAP_ANONYMOUS).ok());  // shared: not data
  uint64_t ro = Map(kPage, PROT_READ);
  EXPECT_EQ(Err(mm_->Mprotect(ro, kPage, kRW)), ENOMEM);  // would become data
}

TEST_F(MmTest, ZeroRlimitDataFallsBackToTheHardLimit) {
  // may_expand_vm's Valgrind workaround: a soft limit of exactly 0 means the
  // hard limit applies; any other soft limit (one byte here) is the limit.
  Limits limits;
  limits.data = 1;
  limits.data_max = 2 * kPage;
  mm_->SetLimits(limits);
  EXPECT_EQ(Err(TryMap(kPage)), ENOMEM);

  limits.data = 0;
  mm_->SetLimits(limits);
  EXPECT_TRUE(TryMap(2 * kPage).ok());
  EXPECT_EQ(Err(TryMap(kPage)), ENOMEM);
  uint64_t ro = Map(kPage, PROT_READ);
  EXPECT_EQ(Err(mm_->Mprotect(ro, kPage, kRW)), ENOMEM);
}

// ---------------------------------------------------------------------------
// VMA splits and merges

TEST_F(MmTest, AdjacentMappingsMergeAndSplit) {
  const uint64_t at = 0x600000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at + 2 * kPage);
  EXPECT_THAT(VmaRanges(), ElementsAre(std::pair{at, at + 4 * kPage}));
  // A differently named or shared neighbour stays apart.
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 4 * kPage, "named");
  Map(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, at + 5 * kPage);
  EXPECT_EQ(VmaRanges().size(), 3u);

  ASSERT_TRUE(mm_->Munmap(at + kPage, kPage).ok());
  EXPECT_THAT(VmaRanges(),
              ElementsAre(std::pair{at, at + kPage}, std::pair{at + 2 * kPage, at + 4 * kPage},
                          std::pair{at + 4 * kPage, at + 5 * kPage},
                          std::pair{at + 5 * kPage, at + 6 * kPage}));
  EXPECT_EQ(mm_->VirtualSize(), 5 * kPage);

  ASSERT_TRUE(mm_->Mprotect(at + 2 * kPage, kPage, PROT_READ).ok());
  EXPECT_EQ(VmaRanges().size(), 5u);
  ASSERT_TRUE(mm_->Mprotect(at + 2 * kPage, kPage, kRW).ok());
  EXPECT_EQ(VmaRanges().size(), 4u);
}

TEST_F(MmTest, MunmapChecksAndRelease) {
  uint64_t a = Map(8 * kPage);
  EXPECT_EQ(Err(mm_->Munmap(a + 1, kPage)), EINVAL);
  EXPECT_EQ(Err(mm_->Munmap(a, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Munmap(kMaxAddr, 2 * kPage)), EINVAL);
  EXPECT_TRUE(mm_->Munmap(0x100000000, kPage).ok());  // nothing there: fine
  for (uint64_t p = a; p < a + 8 * kPage; p += kPage)
    ASSERT_EQ(guest_->Write(p, 1), FaultResult::kHandled);
  EXPECT_GT(mf_->UsedBytes(), 0u);
  as_.ClearCalls();
  ASSERT_TRUE(mm_->Munmap(a, 8 * kPage - 1).ok());  // length rounds up
  EXPECT_EQ(mf_->UsedBytes(), 0u);
  EXPECT_EQ(as_.unmap_calls, 1);
  EXPECT_TRUE(as_.pages.empty());
  EXPECT_EQ(guest_->Write(a, 1), FaultResult::kSegvMapErr);
}

// ---------------------------------------------------------------------------
// mprotect

TEST_F(MmTest, MprotectDowngradeReachesPlatform) {
  uint64_t a = Map(4 * kPage);
  for (uint64_t p = a; p < a + 4 * kPage; p += kPage)
    ASSERT_EQ(guest_->Write(p, 7), FaultResult::kHandled);
  as_.ClearCalls();
  ASSERT_TRUE(mm_->Mprotect(a + kPage, 2 * kPage, PROT_READ).ok());
  ASSERT_EQ(as_.calls.size(), 1u);
  EXPECT_EQ(as_.calls[0].kind, FakeAddressSpace::Call::kProtect);
  EXPECT_EQ(as_.calls[0].addr, a + kPage);
  EXPECT_EQ(as_.calls[0].len, 2 * kPage);
  EXPECT_EQ(as_.calls[0].prot, PROT_READ);
  EXPECT_EQ(as_.Lookup(a + kPage)->prot, PROT_READ);
  EXPECT_EQ(guest_->ReadByte(a + kPage), 7);
  EXPECT_EQ(guest_->Write(a + kPage, 1), FaultResult::kSegvAccErr);
  EXPECT_EQ(guest_->Write(a, 1), FaultResult::kHandled);

  // To PROT_NONE: the pages leave the platform; any access is ACCERR.
  as_.ClearCalls();
  ASSERT_TRUE(mm_->Mprotect(a, 4 * kPage, PROT_NONE).ok());
  EXPECT_EQ(as_.unmap_calls, 1);
  EXPECT_FALSE(as_.Lookup(a));
  EXPECT_EQ(guest_->ReadByte(a), -1);
  EXPECT_EQ(mm_->HandleFault(a, platform::kAccessNone), FaultResult::kSegvAccErr);

  // Raising is lazy: no platform call until the guest touches the page.
  as_.ClearCalls();
  ASSERT_TRUE(mm_->Mprotect(a, 4 * kPage, kRW).ok());
  EXPECT_TRUE(as_.calls.empty());
  EXPECT_EQ(guest_->ReadByte(a + 2 * kPage), 7);  // data survived
  EXPECT_EQ(guest_->Write(a + 2 * kPage, 8), FaultResult::kHandled);
}

TEST_F(MmTest, MprotectChecks) {
  uint64_t a = Map(4 * kPage);
  EXPECT_EQ(Err(mm_->Mprotect(a + 1, kPage, PROT_READ)), EINVAL);
  EXPECT_EQ(Err(mm_->Mprotect(a, kPage, 0x10)), EINVAL);
  EXPECT_TRUE(mm_->Mprotect(a, kPage, 0x8 /* PROT_SEM */).ok());
  EXPECT_TRUE(mm_->Mprotect(a, 0, 0x10).ok());  // zero length: nothing checked
  EXPECT_EQ(Err(mm_->Mprotect(a, kPage, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)), EINVAL);
  EXPECT_EQ(Err(mm_->Mprotect(a, kPage, PROT_READ | PROT_GROWSDOWN)), EINVAL);
  EXPECT_EQ(Err(mm_->Mprotect(0x100000000, kPage, PROT_READ)), ENOMEM);
  EXPECT_EQ(Err(mm_->Mprotect(a, ~uint64_t{0} - a, PROT_READ)), ENOMEM);
}

// A mapping the Sentry makes with a ceiling on its protection (the vDSO's
// [vvar]: Linux's special mapping without VM_MAYWRITE/VM_MAYEXEC).
TEST_F(MmTest, MaxProtIsACeilingForGood) {
  MmapOpts o = AnonOpts(0, 2 * kPage, PROT_READ, kAnon, "[vvar]");
  o.max_prot = PROT_READ;
  auto a = mm_->Mmap(o);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(Err(mm_->Mprotect(*a, kPage, PROT_READ | PROT_WRITE)), EACCES);
  EXPECT_EQ(Err(mm_->Mprotect(*a, kPage, PROT_READ | PROT_EXEC)), EACCES);
  EXPECT_TRUE(mm_->Mprotect(*a, kPage, PROT_NONE).ok());
  EXPECT_TRUE(mm_->Mprotect(*a, kPage, PROT_READ).ok());
  // Not even a forced write (ptrace, /proc/pid/mem) copies it.
  const uint8_t byte = 1;
  EXPECT_EQ(mm_->CopyOutForce(UserAddr(*a), {&byte, 1}).done, 0u);
  EXPECT_EQ(guest_->Write(*a, 1), FaultResult::kSegvAccErr);
  o.prot = PROT_READ | PROT_WRITE;
  EXPECT_EQ(Err(mm_->Mmap(o)), EACCES);
}

TEST_F(MmTest, MprotectAppliesUpToTheHole) {
  const uint64_t at = 0x600000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at + 3 * kPage);
  EXPECT_EQ(Err(mm_->Mprotect(at, 5 * kPage, PROT_READ)), ENOMEM);
  EXPECT_EQ(VmaAt(at)->prot, PROT_READ);        // changed before the hole
  EXPECT_EQ(VmaAt(at + 3 * kPage)->prot, kRW);  // not after it
}

TEST_F(MmTest, MprotectGrowsDownExtendsToVmaStart) {
  const uint64_t stack = 0x7ff000000000;
  Map(8 * kPage, kRW, kAnon | MAP_FIXED | MAP_GROWSDOWN, stack);
  ASSERT_TRUE(mm_->Mprotect(stack + 4 * kPage, kPage, PROT_READ | PROT_GROWSDOWN).ok());
  EXPECT_THAT(VmaRanges(), ElementsAre(std::pair{stack, stack + 5 * kPage},
                                       std::pair{stack + 5 * kPage, stack + 8 * kPage}));
  EXPECT_EQ(VmaAt(stack)->prot, PROT_READ);
}

// ---------------------------------------------------------------------------
// Faults

TEST_F(MmTest, FaultMapErrAndAccErr) {
  EXPECT_EQ(mm_->HandleFault(0x1234, platform::kAccessNone), FaultResult::kSegvMapErr);
  EXPECT_EQ(mm_->HandleFault(kMaxAddr + 5, platform::kAccessNone), FaultResult::kSegvMapErr);
  uint64_t none = Map(kPage, PROT_NONE);
  EXPECT_EQ(mm_->HandleFault(none, platform::kAccessNone), FaultResult::kSegvAccErr);
  EXPECT_EQ(mm_->HandleFault(none, platform::kAccessRead), FaultResult::kSegvAccErr);
  uint64_t ro = Map(kPage, PROT_READ);
  // Known write to a read-only VMA: ACCERR without touching anything.
  EXPECT_EQ(mm_->HandleFault(ro, platform::kAccessWrite), FaultResult::kSegvAccErr);
  EXPECT_EQ(mm_->HandleFault(ro, platform::kAccessExec), FaultResult::kSegvAccErr);
  // Unknown access: first fault maps it read-only...
  EXPECT_EQ(mm_->HandleFault(ro + 10, platform::kAccessNone), FaultResult::kHandled);
  EXPECT_EQ(as_.Lookup(ro)->prot, PROT_READ);
  // ...and a second one on a page mapped with all the VMA allows is a violation.
  EXPECT_EQ(mm_->HandleFault(ro + 10, platform::kAccessNone), FaultResult::kSegvAccErr);
  // A known, allowed access on a mapped page is spurious: mapped again.
  as_.ClearCalls();
  EXPECT_EQ(mm_->HandleFault(ro, platform::kAccessRead), FaultResult::kHandled);
  EXPECT_EQ(as_.map_calls, 1);
}

TEST_F(MmTest, FaultUpgradesReadOnlyMappingOfWritableVma) {
  FakeGuest guest(*mm_, *mf_, as_, /*reports_access=*/true);
  uint64_t a = Map(kPage, PROT_READ);
  EXPECT_EQ(guest.ReadByte(a), 0);
  EXPECT_EQ(as_.Lookup(a)->prot, PROT_READ);
  ASSERT_TRUE(mm_->Mprotect(a, kPage, kRW).ok());
  EXPECT_EQ(as_.Lookup(a)->prot, PROT_READ);  // lazily
  EXPECT_EQ(guest.Write(a, 3), FaultResult::kHandled);
  EXPECT_EQ(as_.Lookup(a)->prot, kRW);
  EXPECT_EQ(ReadBytes(a, 1)[0], 3);
}

TEST_F(MmTest, WriteOnlyAndExecImplyRead) {
  uint64_t w = Map(kPage, PROT_WRITE);
  EXPECT_EQ(mm_->HandleFault(w, platform::kAccessRead), FaultResult::kHandled);
  uint64_t x = Map(kPage, PROT_EXEC);
  EXPECT_EQ(mm_->HandleFault(x, platform::kAccessRead), FaultResult::kHandled);
  EXPECT_EQ(as_.Lookup(x)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(mm_->HandleFault(x, platform::kAccessWrite), FaultResult::kSegvAccErr);
}

TEST_F(MmTest, FaultAroundTouching64MiB) {
  const uint64_t len = 64 * kMiB;
  uint64_t a = Map(len);
  as_.ClearCalls();
  for (uint64_t p = a; p < a + len; p += kPage) {
    ASSERT_EQ(guest_->Write(p, static_cast<uint8_t>(p >> 12)), FaultResult::kHandled);
  }
  // 2 MiB chunks: 32 of them, plus one for a start that is not 2 MiB aligned.
  EXPECT_LE(guest_->faults(), 33);
  EXPECT_LE(as_.map_calls, guest_->faults());
  EXPECT_EQ(mm_->ResidentBytes(), len);
  EXPECT_EQ(mf_->UsedBytes(), len);
  EXPECT_EQ(ReadBytes(a + 12345 * kPage, 1)[0], static_cast<uint8_t>((a >> 12) + 12345));
}

TEST_F(MmTest, FaultAroundIsClippedToTheVmaAndExistingBacking) {
  const uint64_t at = 0x600000000;  // 2 MiB aligned
  Map(8 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(8 * kPage, PROT_READ, kAnon | MAP_FIXED, at + 8 * kPage);
  Fill(at + 4 * kPage, kPage, 9);  // backed, not mapped
  const uint64_t used = mf_->UsedBytes();
  as_.ClearCalls();
  ASSERT_EQ(mm_->HandleFault(at, platform::kAccessWrite), FaultResult::kHandled);
  // Backing is allocated for the gap around the fault, up to the existing
  // page; what is backed in the window (that page too) is mapped. Nothing in
  // the next VMA.
  EXPECT_EQ(mf_->UsedBytes(), used + 4 * kPage);
  EXPECT_EQ(mm_->ResidentBytes(), 5 * kPage);
  for (uint64_t p = at; p < at + 5 * kPage; p += kPage) EXPECT_TRUE(as_.Lookup(p)) << p;
  EXPECT_FALSE(as_.Lookup(at + 5 * kPage));
  EXPECT_FALSE(as_.Lookup(at + 8 * kPage));
  ASSERT_EQ(mm_->HandleFault(at + 7 * kPage, platform::kAccessWrite), FaultResult::kHandled);
  EXPECT_EQ(mm_->ResidentBytes(), 8 * kPage);
  EXPECT_EQ(guest_->ReadByte(at + 4 * kPage), 9);
  // Every MapFile maps a range contiguous in the file.
  for (const auto& c : as_.calls) {
    if (c.kind != FakeAddressSpace::Call::kMap) continue;
    for (uint64_t o = 0; o < c.len; o += kPage) EXPECT_EQ(FileOffset(c.addr + o), c.off + o);
  }
}

TEST_F(MmTest, ReadFaultWithKnownAccessKeepsCowSharing) {
  FakeGuest guest(*mm_, *mf_, as_, /*reports_access=*/true);
  uint64_t a = Map(kPage);
  Fill(a, kPage, 5);
  FakeAddressSpace child_as;
  auto child = mm_->Fork(&child_as);
  FakeGuest child_guest(*child, *mf_, child_as, /*reports_access=*/true);
  EXPECT_EQ(child_guest.ReadByte(a), 5);
  EXPECT_EQ(child_as.Lookup(a)->prot, PROT_READ);
  EXPECT_EQ(mf_->RefCount(FileOffset(a)), 2u);
  EXPECT_EQ(child_guest.Write(a, 6), FaultResult::kHandled);
  EXPECT_EQ(guest.ReadByte(a), 5);
  EXPECT_EQ(child_guest.ReadByte(a), 6);
}

// ---------------------------------------------------------------------------
// Stack growth

class StackTest : public MmTest {
 protected:
  void SetUp() override {
    MmTest::SetUp();
    Map(32 * kPage, kRW, kAnon | MAP_FIXED | MAP_GROWSDOWN, kStack, "[stack]");
  }
  static constexpr uint64_t kStack = 0x7ff000000000;
};

TEST_F(StackTest, GrowsDownOnFault) {
  EXPECT_EQ(guest_->Write(kStack - 1, 1), FaultResult::kHandled);
  EXPECT_EQ(VmaAt(kStack - 1)->start, kStack - kPage);
  // Far below (within RLIMIT_STACK) also grows: Linux no longer checks %rsp.
  EXPECT_EQ(guest_->Write(kStack - 100 * kPage, 1), FaultResult::kHandled);
  auto v = VmaAt(kStack);
  EXPECT_EQ(v->start, kStack - 100 * kPage);
  EXPECT_TRUE(v->growsdown);
  EXPECT_EQ(v->name, "[stack]");
  EXPECT_EQ(mm_->VirtualSize(), 132 * kPage);
}

TEST_F(StackTest, GrowthLimitedByRlimitStack) {
  Limits limits;
  limits.stack = 64 * kPage;
  mm_->SetLimits(limits);
  EXPECT_EQ(guest_->Write(kStack - 32 * kPage, 1), FaultResult::kHandled);  // 64 pages: fits
  EXPECT_EQ(guest_->Write(kStack - 33 * kPage, 1), FaultResult::kSegvMapErr);
}

TEST_F(StackTest, GrowthKeepsGuardGap) {
  const uint64_t below = kStack - 300 * kPage;
  Map(kPage, kRW, kAnon | MAP_FIXED, below);
  // The stack may come down to 256 pages above `below`'s end, no further.
  EXPECT_EQ(guest_->Write(below + kPage + 256 * kPage, 1), FaultResult::kHandled);
  EXPECT_EQ(guest_->Write(below + kPage + 255 * kPage, 1), FaultResult::kSegvMapErr);
  // An inaccessible neighbour does not count.
  ASSERT_TRUE(mm_->Mprotect(below, kPage, PROT_NONE).ok());
  EXPECT_EQ(guest_->Write(below + 2 * kPage, 1), FaultResult::kHandled);
}

TEST_F(StackTest, CopyOutBelowTheStackGrowsIt) {
  std::vector<uint8_t> frame(3 * kPage, 0x42);
  CopyResult r = mm_->CopyOut(UserAddr(kStack - frame.size()), frame);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(VmaAt(kStack)->start, kStack - 3 * kPage);
}

// ---------------------------------------------------------------------------
// brk

TEST_F(MmTest, BrkGrowShrinkAndLimits) {
  const uint64_t start = 0x555555560000;
  mm_->SetBrkStart(start);
  EXPECT_EQ(mm_->Brk(0), start);
  EXPECT_EQ(mm_->brk(), start);
  EXPECT_EQ(mm_->Brk(start + 10000), start + 10000);
  auto v = VmaAt(start);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->name, "[heap]");
  EXPECT_EQ(v->end, start + 3 * kPage);
  EXPECT_EQ(v->prot, kRW);
  EXPECT_EQ(guest_->Write(start + 9999, 1), FaultResult::kHandled);
  // Within the same page: only the break moves.
  EXPECT_EQ(mm_->Brk(start + 10001), start + 10001);
  EXPECT_EQ(VmaAt(start)->end, start + 3 * kPage);
  // Growing again merges with the heap.
  EXPECT_EQ(mm_->Brk(start + 5 * kPage), start + 5 * kPage);
  EXPECT_EQ(VmaRanges().size(), 1u);
  // Below the start: refused.
  EXPECT_EQ(mm_->Brk(start - 1), start + 5 * kPage);
  // Shrinking releases the pages.
  EXPECT_EQ(mm_->Brk(start + kPage), start + kPage);
  EXPECT_EQ(VmaAt(start)->end, start + kPage);
  EXPECT_EQ(guest_->Write(start + 2 * kPage, 1), FaultResult::kSegvMapErr);
  EXPECT_EQ(mm_->Brk(start), start);
  EXPECT_TRUE(VmaRanges().empty());
  EXPECT_EQ(mf_->UsedBytes(), 0u);
}

TEST_F(MmTest, BrkRefusesCollisionsAndRlimitData) {
  const uint64_t start = 0x555555560000;
  mm_->SetBrkStart(start);
  Map(kPage, PROT_READ, kAnon | MAP_FIXED, start + 8 * kPage);
  // One free page must stay between the heap and the next mapping.
  EXPECT_EQ(mm_->Brk(start + 7 * kPage), start + 7 * kPage);
  EXPECT_EQ(mm_->Brk(start + 8 * kPage), start + 7 * kPage);
  EXPECT_EQ(mm_->Brk(start + 100 * kPage), start + 7 * kPage);

  Limits limits;
  limits.data = 10 * kPage;
  mm_->SetLimits(limits);
  EXPECT_EQ(mm_->Brk(start), start);
  ASSERT_TRUE(mm_->Munmap(start + 8 * kPage, kPage).ok());
  EXPECT_EQ(mm_->Brk(start + 10 * kPage), start + 10 * kPage);
  EXPECT_EQ(mm_->Brk(start + 10 * kPage + 1), start + 10 * kPage);
}

// ---------------------------------------------------------------------------
// mremap

TEST_F(MmTest, MremapShrinkAndGrowInPlace) {
  const uint64_t at = 0x600000000;
  Map(4 * kPage, kRW, kAnon | MAP_FIXED, at);
  Fill(at, 4 * kPage, 0x33);
  EXPECT_EQ(*mm_->Mremap(at, 4 * kPage, 2 * kPage, 0, 0), at);
  EXPECT_THAT(VmaRanges(), ElementsAre(std::pair{at, at + 2 * kPage}));
  EXPECT_EQ(*mm_->Mremap(at, 2 * kPage, 6 * kPage, 0, 0), at);
  EXPECT_THAT(VmaRanges(), ElementsAre(std::pair{at, at + 6 * kPage}));
  EXPECT_EQ(ReadBytes(at + kPage, 1)[0], 0x33);
  EXPECT_EQ(ReadBytes(at + 2 * kPage, 1)[0], 0);  // the grown part is fresh
  // Blocked by a neighbour and not allowed to move: ENOMEM.
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 7 * kPage);
  EXPECT_EQ(Err(mm_->Mremap(at, 6 * kPage, 8 * kPage, 0, 0)), ENOMEM);
}

TEST_F(MmTest, MremapMayMoveKeepsTheSamePages) {
  const uint64_t at = 0x600000000;
  Map(4 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 4 * kPage, "blocker");
  for (uint64_t i = 0; i < 4; ++i)
    ASSERT_EQ(guest_->Write(at + i * kPage, i + 1), FaultResult::kHandled);
  std::vector<uint64_t> offs;
  for (uint64_t i = 0; i < 4; ++i) offs.push_back(FileOffset(at + i * kPage));
  const uint64_t used = mf_->UsedBytes();
  auto r = mm_->Mremap(at, 4 * kPage, 8 * kPage, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(r.ok());
  const uint64_t to = *r;
  EXPECT_NE(to, at);
  EXPECT_FALSE(as_.Lookup(at));  // the old place is gone from the platform
  EXPECT_FALSE(VmaAt(at));
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(FileOffset(to + i * kPage), offs[i]) << "no copying";
    EXPECT_EQ(guest_->ReadByte(to + i * kPage), static_cast<int>(i + 1));
  }
  EXPECT_EQ(mf_->UsedBytes(), used);
  EXPECT_EQ(guest_->ReadByte(to + 5 * kPage), 0);
  EXPECT_EQ(mm_->VirtualSize(), 9 * kPage);
}

TEST_F(MmTest, MremapFixedReplacesTarget) {
  const uint64_t at = 0x600000000, target = 0x700000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(4 * kPage, PROT_READ, kAnon | MAP_FIXED, target);
  Fill(at, 2 * kPage, 0x44);
  auto r = mm_->Mremap(at, 2 * kPage, 3 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, target);
  EXPECT_THAT(VmaRanges(), ElementsAre(std::pair{target, target + 3 * kPage},
                                       std::pair{target + 3 * kPage, target + 4 * kPage}));
  EXPECT_EQ(ReadBytes(target + kPage, 1)[0], 0x44);
  EXPECT_EQ(VmaAt(target)->prot, kRW);
  // Shrinking while moving.
  r = mm_->Mremap(target, 3 * kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED, at);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ReadBytes(at, 1)[0], 0x44);
  EXPECT_EQ(VmaAt(at)->end, at + kPage);
}

TEST_F(MmTest, MremapDontUnmap) {
  const uint64_t at = 0x600000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  Fill(at, 2 * kPage, 0x55);
  auto r = mm_->Mremap(at, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | kMremapDontUnmap, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(*r, at);
  EXPECT_EQ(ReadBytes(*r, 1)[0], 0x55);
  ASSERT_TRUE(VmaAt(at));             // the old range stays mapped...
  EXPECT_EQ(ReadBytes(at, 1)[0], 0);  // ...and empty
  EXPECT_EQ(mm_->VirtualSize(), 4 * kPage);
}

TEST_F(MmTest, MremapChecks) {
  const uint64_t at = 0x600000000;
  Map(4 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, PROT_READ, kAnon | MAP_FIXED, at + 4 * kPage);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, kPage, 8, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, kPage, MREMAP_FIXED, at + kPage)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, 2 * kPage, MREMAP_MAYMOVE | kMremapDontUnmap, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, kPage, kMremapDontUnmap, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at + 1, kPage, kPage, 0, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, 0, 0, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, 0, kPage, MREMAP_MAYMOVE, 0)), EINVAL);  // private dup
  EXPECT_EQ(Err(mm_->Mremap(0x100000000, kPage, 2 * kPage, MREMAP_MAYMOVE, 0)), EFAULT);
  // Across a VMA boundary.
  EXPECT_EQ(Err(mm_->Mremap(at + 3 * kPage, 2 * kPage, 3 * kPage, MREMAP_MAYMOVE, 0)), EFAULT);
  // Overlapping source and destination.
  EXPECT_EQ(Err(mm_->Mremap(at, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, at + kPage)),
            EINVAL);
  EXPECT_EQ(Err(mm_->Mremap(at, kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED, at + 1)), EINVAL);
}

TEST_F(MmTest, MremapSharedDuplicateAndGrowBeyondObject) {
  uint64_t s = Map(2 * kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  Fill(s, 2 * kPage, 0x66);
  auto dup = mm_->Mremap(s, 0, 2 * kPage, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(dup.ok());
  EXPECT_NE(*dup, s);
  EXPECT_EQ(ReadBytes(*dup, 1)[0], 0x66);
  EXPECT_EQ(guest_->Write(*dup, 0x67), FaultResult::kHandled);
  EXPECT_EQ(guest_->ReadByte(s), 0x67);  // same pages
  // Growing past the object's size: the new pages are beyond it (SIGBUS).
  auto grown = mm_->Mremap(s, 2 * kPage, 4 * kPage, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(guest_->ReadByte(*grown + kPage), 0x66);
  EXPECT_EQ(mm_->HandleFault(*grown + 3 * kPage, platform::kAccessNone), FaultResult::kBusError);
  std::vector<uint8_t> buf(3 * kPage);
  CopyResult r = mm_->CopyIn(UserAddr(*grown), buf);
  EXPECT_EQ(r.done, 2 * kPage);
  EXPECT_EQ(r.err, Errno(EFAULT));
}

// ---------------------------------------------------------------------------
// madvise

TEST_F(MmTest, MadviseDontNeedZeroesPrivateMemory) {
  uint64_t a = Map(4 * kPage);
  for (uint64_t i = 0; i < 4; ++i)
    ASSERT_EQ(guest_->Write(a + i * kPage, 0x77), FaultResult::kHandled);
  ASSERT_TRUE(mm_->Madvise(a + kPage, 2 * kPage, MADV_DONTNEED).ok());
  EXPECT_FALSE(as_.Lookup(a + kPage));
  EXPECT_EQ(mm_->ResidentBytes(), 2 * kPage);
  EXPECT_EQ(guest_->ReadByte(a), 0x77);
  EXPECT_EQ(guest_->ReadByte(a + kPage), 0);
  EXPECT_EQ(guest_->ReadByte(a + 2 * kPage), 0);
  EXPECT_EQ(guest_->ReadByte(a + 3 * kPage), 0x77);
  // MADV_FREE behaves the same here.
  ASSERT_TRUE(mm_->Madvise(a, kPage, MADV_FREE).ok());
  EXPECT_EQ(guest_->ReadByte(a), 0);
}

TEST_F(MmTest, MadviseDontNeedKeepsSharedData) {
  uint64_t s = Map(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  ASSERT_EQ(guest_->Write(s, 0x78), FaultResult::kHandled);
  ASSERT_TRUE(mm_->Madvise(s, kPage, MADV_DONTNEED).ok());
  EXPECT_FALSE(as_.Lookup(s));
  EXPECT_EQ(guest_->ReadByte(s), 0x78);
  EXPECT_EQ(Err(mm_->Madvise(s, kPage, MADV_FREE)), EINVAL);
}

TEST_F(MmTest, MadviseRemove) {
  uint64_t a = Map(kPage);
  EXPECT_EQ(Err(mm_->Madvise(a, kPage, MADV_REMOVE)), EINVAL);  // private
  uint64_t ro = Map(kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(Err(mm_->Madvise(ro, kPage, MADV_REMOVE)), EACCES);
  uint64_t s = Map(2 * kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  Fill(s, 2 * kPage, 0x79);
  FakeAddressSpace child_as;
  auto child = mm_->Fork(&child_as);
  ASSERT_TRUE(mm_->Madvise(s, kPage, MADV_REMOVE).ok());
  EXPECT_EQ(guest_->ReadByte(s), 0);
  EXPECT_EQ(guest_->ReadByte(s + kPage), 0x79);
  FakeGuest child_guest(*child, *mf_, child_as);
  EXPECT_EQ(child_guest.ReadByte(s), 0);  // gone for every mapper
}

TEST_F(MmTest, MadviseChecks) {
  uint64_t a = Map(4 * kPage);
  EXPECT_EQ(Err(mm_->Madvise(a, kPage, 999)), EINVAL);
  EXPECT_EQ(Err(mm_->Madvise(a, kPage, 102)), EINVAL);  // MADV_GUARD_INSTALL: not yet
  EXPECT_EQ(Err(mm_->Madvise(a + 1, kPage, MADV_NORMAL)), EINVAL);
  EXPECT_EQ(Err(mm_->Madvise(a, ~uint64_t{0} - 100, MADV_NORMAL)), EINVAL);
  EXPECT_TRUE(mm_->Madvise(a, 0, MADV_DONTNEED).ok());
  EXPECT_EQ(Err(mm_->Madvise(a, kPage, MADV_HWPOISON)), EPERM);
  for (int advice :
       {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_MERGEABLE, MADV_UNMERGEABLE,
        MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_COLD, MADV_PAGEOUT}) {
    EXPECT_TRUE(mm_->Madvise(a, kPage, advice).ok()) << advice;
  }
  EXPECT_EQ(VmaRanges().size(), 1u);
  EXPECT_EQ(Err(mm_->Madvise(0x100000000, kPage, MADV_NORMAL)), ENOMEM);
  EXPECT_EQ(Err(mm_->Madvise(a, kPage, kMadvPopulateWrite)), 0);
  uint64_t ro = Map(kPage, PROT_READ);
  EXPECT_EQ(Err(mm_->Madvise(ro, kPage, kMadvPopulateWrite)), EINVAL);
  EXPECT_EQ(Err(mm_->Madvise(ro, kPage, kMadvPopulateRead)), 0);
  EXPECT_TRUE(as_.Lookup(ro));
}

TEST_F(MmTest, MadviseDoesTheMappedPartThenENOMEM) {
  const uint64_t at = 0x600000000;
  Map(kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 2 * kPage);
  Fill(at, kPage, 1);
  Fill(at + 2 * kPage, kPage, 2);
  EXPECT_EQ(Err(mm_->Madvise(at, 3 * kPage, MADV_DONTNEED)), ENOMEM);
  EXPECT_EQ(ReadBytes(at, 1)[0], 0);
  EXPECT_EQ(ReadBytes(at + 2 * kPage, 1)[0], 0);  // after the hole, too
  EXPECT_EQ(Err(mm_->Madvise(at + 2 * kPage, 4 * kPage, MADV_NORMAL)), ENOMEM);  // trailing hole
}

TEST_F(MmTest, MadviseForkFlagsSplitVmas) {
  uint64_t a = Map(4 * kPage);
  ASSERT_TRUE(mm_->Madvise(a + kPage, kPage, MADV_DONTFORK).ok());
  EXPECT_EQ(VmaRanges().size(), 3u);
  ASSERT_TRUE(mm_->Madvise(a + kPage, kPage, MADV_DOFORK).ok());
  EXPECT_EQ(VmaRanges().size(), 1u);
  uint64_t s = Map(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(Err(mm_->Madvise(s, kPage, MADV_WIPEONFORK)), EINVAL);
  EXPECT_TRUE(mm_->Madvise(a, kPage, MADV_WIPEONFORK).ok());
  EXPECT_TRUE(mm_->Madvise(a, kPage, MADV_KEEPONFORK).ok());
}

// ---------------------------------------------------------------------------
// mincore, msync

TEST_F(MmTest, Mincore) {
  uint64_t a = Map(4 * kPage);
  ASSERT_EQ(guest_->Write(a + kPage, 1), FaultResult::kHandled);  // fault-around backs all 4
  ASSERT_TRUE(mm_->Madvise(a + 2 * kPage, kPage, MADV_DONTNEED).ok());
  auto v = mm_->Mincore(a, 4 * kPage - 1);
  ASSERT_TRUE(v.ok());
  EXPECT_THAT(*v, ElementsAre(1, 1, 0, 1));
  EXPECT_EQ(Err(mm_->Mincore(a + 1, kPage)), EINVAL);
  EXPECT_EQ(Err(mm_->Mincore(a, 5 * kPage)), ENOMEM);
  EXPECT_EQ(Err(mm_->Mincore(kMaxAddr, 2 * kPage)), ENOMEM);
  EXPECT_TRUE(mm_->Mincore(a, 0).ok());
  // The chunked form stops at the hole.
  std::vector<uint8_t> buf(2);
  auto n = mm_->Mincore(a + 2 * kPage, 8 * kPage, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_THAT(buf, ElementsAre(0, 1));
  n = mm_->Mincore(a + 3 * kPage, 8 * kPage, buf);
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(Err(mm_->Mincore(a + 4 * kPage, kPage, buf)), ENOMEM);
}

TEST_F(MmTest, Msync) {
  const uint64_t at = 0x600000000;
  Map(kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, kRW, kAnon | MAP_FIXED | MAP_LOCKED, at + 2 * kPage);
  EXPECT_TRUE(mm_->Msync(at, kPage, MS_SYNC).ok());
  EXPECT_EQ(Err(mm_->Msync(at, kPage, MS_SYNC | MS_ASYNC)), EINVAL);
  EXPECT_EQ(Err(mm_->Msync(at, kPage, 8)), EINVAL);
  EXPECT_EQ(Err(mm_->Msync(at + 1, kPage, MS_SYNC)), EINVAL);
  EXPECT_TRUE(mm_->Msync(at + 1 - 1, 0, MS_SYNC).ok());
  EXPECT_EQ(Err(mm_->Msync(at, 3 * kPage, MS_SYNC)), ENOMEM);
  EXPECT_EQ(Err(mm_->Msync(at, 3 * kPage, MS_ASYNC)), ENOMEM);
  EXPECT_EQ(Err(mm_->Msync(at + 2 * kPage, kPage, MS_INVALIDATE)), EBUSY);
  EXPECT_EQ(Err(mm_->Msync(0x100000000, kPage, MS_SYNC)), ENOMEM);
}

// ---------------------------------------------------------------------------
// mlock

TEST_F(MmTest, MlockAccountingAndPopulate) {
  Limits limits;
  limits.memlock = 4 * kPage;
  mm_->SetLimits(limits);
  uint64_t a = Map(8 * kPage);
  ASSERT_TRUE(mm_->Mlock(a + 100, 2 * kPage, 0).ok());  // rounds out to 3 pages
  EXPECT_EQ(mm_->LockedBytes(), 3 * kPage);
  EXPECT_EQ(mm_->ResidentBytes(), 3 * kPage);  // populated
  EXPECT_TRUE(as_.Lookup(a));
  // Re-locking what is locked does not count twice.
  EXPECT_TRUE(mm_->Mlock(a, 4 * kPage, 0).ok());
  EXPECT_EQ(mm_->LockedBytes(), 4 * kPage);
  EXPECT_EQ(Err(mm_->Mlock(a + 4 * kPage, kPage, 0)), ENOMEM);
  ASSERT_TRUE(mm_->Munlock(a, 2 * kPage).ok());
  EXPECT_EQ(mm_->LockedBytes(), 2 * kPage);
  // Locked memory refuses DONTNEED; unmapping unaccounts it.
  EXPECT_EQ(Err(mm_->Madvise(a + 2 * kPage, kPage, MADV_DONTNEED)), EINVAL);
  ASSERT_TRUE(mm_->Munmap(a + 3 * kPage, kPage).ok());
  EXPECT_EQ(mm_->LockedBytes(), kPage);
  // Holes: ENOMEM after locking what comes before.
  EXPECT_EQ(Err(mm_->Mlock(a + 2 * kPage, 3 * kPage, 0)), ENOMEM);
  EXPECT_EQ(Err(mm_->Munlock(a + 2 * kPage, 3 * kPage)), ENOMEM);
  EXPECT_EQ(Err(mm_->Mlock(a, kPage, 2)), EINVAL);
  // ONFAULT locks without populating.
  uint64_t b = Map(kPage);
  ASSERT_TRUE(mm_->Mlock(b, kPage, kMlockOnFault).ok());
  EXPECT_FALSE(as_.Lookup(b));
  EXPECT_TRUE(mm_->Mlock(b, 0, 0).ok());
}

TEST_F(MmTest, MlockPermissions) {
  Limits limits;
  limits.memlock = 0;
  mm_->SetLimits(limits);
  uint64_t a = Map(kPage);
  EXPECT_EQ(Err(mm_->Mlock(a, kPage, 0)), EPERM);
  EXPECT_EQ(Err(mm_->Mlockall(MCL_CURRENT)), EPERM);
  EXPECT_EQ(Err(TryMap(kPage, kRW, kAnon | MAP_LOCKED)), EPERM);
  EXPECT_TRUE(mm_->Munlock(a, kPage).ok());
  limits.can_ipc_lock = true;
  mm_->SetLimits(limits);
  EXPECT_TRUE(mm_->Mlock(a, kPage, 0).ok());
  EXPECT_TRUE(TryMap(64 * kPage, kRW, kAnon | MAP_LOCKED).ok());
}

TEST_F(MmTest, MapLockedAndMlockall) {
  Limits limits;
  limits.memlock = 4 * kPage;
  mm_->SetLimits(limits);
  EXPECT_EQ(Err(TryMap(8 * kPage, kRW, kAnon | MAP_LOCKED)), EAGAIN);
  uint64_t a = Map(2 * kPage, kRW, kAnon | MAP_LOCKED);
  EXPECT_EQ(mm_->LockedBytes(), 2 * kPage);
  EXPECT_TRUE(as_.Lookup(a + kPage));  // populated
  EXPECT_EQ(Err(mm_->Mlockall(0)), EINVAL);
  EXPECT_EQ(Err(mm_->Mlockall(kMclOnFault)), EINVAL);
  EXPECT_EQ(Err(mm_->Mlockall(16)), EINVAL);
  // MCL_FUTURE: new mappings are locked (and so count against the limit).
  ASSERT_TRUE(mm_->Mlockall(MCL_FUTURE).ok());
  uint64_t b = Map(2 * kPage);
  EXPECT_EQ(mm_->LockedBytes(), 4 * kPage);
  EXPECT_TRUE(as_.Lookup(b));
  EXPECT_EQ(Err(TryMap(kPage)), EAGAIN);
  ASSERT_TRUE(mm_->Munlockall().ok());
  EXPECT_EQ(mm_->LockedBytes(), 0u);
  Map(kPage);
  EXPECT_EQ(mm_->LockedBytes(), 0u);
  limits.memlock = 5 * kPage;
  mm_->SetLimits(limits);
  ASSERT_TRUE(mm_->Mlockall(MCL_CURRENT).ok());
  EXPECT_EQ(mm_->LockedBytes(), 5 * kPage);
  Map(kPage);  // MCL_CURRENT alone does not lock the future
  EXPECT_EQ(mm_->LockedBytes(), 5 * kPage);
  EXPECT_EQ(Err(mm_->Mlockall(MCL_CURRENT)), ENOMEM);  // 6 pages > limit
}

// ---------------------------------------------------------------------------
// Copying

TEST_F(MmTest, CopyInOutRoundTrip) {
  uint64_t a = Map(3 * kPage);
  std::vector<uint8_t> data(2 * kPage + 100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  as_.ClearCalls();
  CopyResult w = mm_->CopyOut(UserAddr(a + 50), data);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.done, data.size());
  EXPECT_TRUE(as_.calls.empty()) << "copies leave the platform alone";
  EXPECT_EQ(ReadBytes(a + 50, data.size()), data);
  EXPECT_EQ(guest_->ReadByte(a + 50 + kPage), data[kPage]);
  CopyResult z = mm_->ZeroOut(UserAddr(a + 60), 10);
  EXPECT_TRUE(z.ok());
  EXPECT_EQ(ReadBytes(a + 60, 1)[0], 0);
  EXPECT_EQ(ReadBytes(a + 70, 1)[0], data[20]);
  // Objects.
  struct Obj {
    uint64_t x;
    uint32_t y;
  } in{0x1122334455667788, 99}, out{};
  ASSERT_TRUE(mm_->CopyOutObj(UserPtr<Obj>(a + kPage - 4), in).ok());
  ASSERT_TRUE(mm_->CopyInObj(UserPtr<Obj>(a + kPage - 4), &out).ok());
  EXPECT_EQ(out.x, in.x);
  EXPECT_EQ(out.y, in.y);
  EXPECT_EQ(mm_->CopyInObj(UserPtr<Obj>(0x1000), &out).error(), Errno(EFAULT));
}

TEST_F(MmTest, PartialCopiesAcrossAHoleAndProtNone) {
  const uint64_t at = 0x600000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, PROT_NONE, kAnon | MAP_FIXED, at + 2 * kPage);
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 4 * kPage);  // hole at +3
  std::vector<uint8_t> buf(3 * kPage, 0xee);
  CopyResult r = mm_->CopyOut(UserAddr(at + 100), buf);
  EXPECT_EQ(r.done, 2 * kPage - 100);
  EXPECT_EQ(r.err, Errno(EFAULT));
  r = mm_->CopyIn(UserAddr(at + kPage), buf);
  EXPECT_EQ(r.done, kPage);
  EXPECT_EQ(r.err, Errno(EFAULT));
  // Across the hole.
  r = mm_->CopyIn(UserAddr(at + 4 * kPage - 10), buf);
  EXPECT_EQ(r.done, 0u);
  EXPECT_EQ(r.err, Errno(EFAULT));
  ASSERT_TRUE(mm_->Munmap(at + 2 * kPage, kPage).ok());
  Map(kPage, kRW, kAnon | MAP_FIXED, at + 3 * kPage);  // now the hole is at +2
  r = mm_->CopyIn(UserAddr(at + 2 * kPage - 10), buf);
  EXPECT_EQ(r.done, 10u);
  // Read-only: CopyOut fails at once, CopyOutForce writes anyway.
  uint64_t ro = Map(kPage, PROT_READ);
  r = mm_->CopyOut(UserAddr(ro), std::span<const uint8_t>(buf).first(10));
  EXPECT_EQ(r.done, 0u);
  EXPECT_FALSE(r.ok());
  r = mm_->CopyOutForce(UserAddr(ro), std::span<const uint8_t>(buf).first(10));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(ReadBytes(ro, 1)[0], 0xee);
  // ...but not into a read-only shared mapping.
  uint64_t sro = Map(kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_FALSE(mm_->CopyOutForce(UserAddr(sro), std::span<const uint8_t>(buf).first(1)).ok());
  // Zero-length copies succeed anywhere.
  EXPECT_TRUE(mm_->CopyIn(UserAddr(0), std::span<uint8_t>()).ok());
  // Addresses beyond the top fail.
  EXPECT_FALSE(mm_->CopyIn(UserAddr(~uint64_t{0} - 5), std::span<uint8_t>(buf).first(10)).ok());
}

TEST_F(MmTest, CopyInString) {
  const uint64_t at = 0x600000000;
  Map(2 * kPage, kRW, kAnon | MAP_FIXED, at);
  const std::string s = "hello, world";
  std::vector<uint8_t> bytes(s.begin(), s.end());
  bytes.push_back(0);
  // Straddling a page boundary.
  ASSERT_TRUE(mm_->CopyOut(UserAddr(at + kPage - 5), bytes).ok());
  auto r = mm_->CopyInString(UserAddr(at + kPage - 5), 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, s);
  // max_length counts the NUL.
  EXPECT_EQ(Err(mm_->CopyInString(UserAddr(at + kPage - 5), s.size())), ENAMETOOLONG);
  EXPECT_TRUE(mm_->CopyInString(UserAddr(at + kPage - 5), s.size() + 1).ok());
  // Running into unmapped memory before a NUL.
  std::vector<uint8_t> junk(16, 'x');
  ASSERT_TRUE(mm_->CopyOut(UserAddr(at + 2 * kPage - 16), junk).ok());
  EXPECT_EQ(Err(mm_->CopyInString(UserAddr(at + 2 * kPage - 16), 100)), EFAULT);
  // ...unless max_length is reached first.
  EXPECT_EQ(Err(mm_->CopyInString(UserAddr(at + 2 * kPage - 16), 16)), ENAMETOOLONG);
  EXPECT_EQ(Err(mm_->CopyInString(UserAddr(0x1000), 16)), EFAULT);
  EXPECT_EQ(*mm_->CopyInString(UserAddr(at), 1), "");  // a zero byte right away
}

TEST_F(MmTest, InternalIovecs) {
  const uint64_t at = 0x600000000;
  Map(4 * kPage, kRW, kAnon | MAP_FIXED, at);
  Map(kPage, PROT_READ, kAnon | MAP_FIXED, at + 4 * kPage);
  std::vector<iovec> iov;
  CopyResult r = mm_->InternalIovecs(UserAddr(at + 10), 4 * kPage - 10, true, &iov);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(iov.size(), 1u);  // backed contiguously: one piece
  EXPECT_EQ(iov[0].iov_len, 4 * kPage - 10);
  memset(iov[0].iov_base, 0x5c, iov[0].iov_len);
  EXPECT_EQ(ReadBytes(at + 3 * kPage, 1)[0], 0x5c);
  // Writing stops at the read-only page.
  r = mm_->InternalIovecs(UserAddr(at), 5 * kPage, true, &iov);
  EXPECT_EQ(r.done, 4 * kPage);
  EXPECT_EQ(r.err, Errno(EFAULT));
  r = mm_->InternalIovecs(UserAddr(at), 5 * kPage, false, &iov);
  EXPECT_TRUE(r.ok());
}

TEST_F(MmTest, CopyOutIntoCowPageRemapsThePlatform) {
  uint64_t a = Map(kPage);
  ASSERT_EQ(guest_->Write(a, 1), FaultResult::kHandled);
  FakeAddressSpace child_as;
  auto child = mm_->Fork(&child_as);
  EXPECT_EQ(as_.Lookup(a)->prot, PROT_READ);  // parent downgraded
  const uint64_t shared_off = as_.Lookup(a)->off;
  std::vector<uint8_t> two{2};
  ASSERT_TRUE(mm_->CopyOut(UserAddr(a), two).ok());
  // The parent's platform mapping must not still point at the shared page.
  ASSERT_TRUE(as_.Lookup(a));
  EXPECT_NE(as_.Lookup(a)->off, shared_off);
  EXPECT_EQ(as_.Lookup(a)->off, FileOffset(a));
  EXPECT_EQ(guest_->ReadByte(a), 2);
  FakeGuest child_guest(*child, *mf_, child_as);
  EXPECT_EQ(child_guest.ReadByte(a), 1);
}

// ---------------------------------------------------------------------------
// fork

TEST_F(MmTest, ForkSharesPrivatePagesCopyOnWrite) {
  const uint64_t len = 16 * kPage;
  uint64_t a = Map(len);
  for (uint64_t p = a; p < a + len; p += kPage)
    ASSERT_EQ(guest_->Write(p, 0xa0), FaultResult::kHandled);
  const uint64_t used = mf_->UsedBytes();
  as_.ClearCalls();
  FakeAddressSpace child_as;
  auto child = mm_->Fork(&child_as);
  ASSERT_TRUE(child);
  EXPECT_EQ(mf_->UsedBytes(), used);  // nothing copied
  const uint64_t off = FileOffset(a + 3 * kPage);
  EXPECT_EQ(FileOffset(*child, a + 3 * kPage), off);
  EXPECT_EQ(mf_->RefCount(off), 2u);
  // The parent lost write access on the platform, in one call.
  EXPECT_EQ(as_.protect_calls, 1);
  EXPECT_EQ(as_.Lookup(a)->prot, PROT_READ);
  EXPECT_TRUE(child_as.pages.empty());
  EXPECT_EQ(child->VirtualSize(), mm_->VirtualSize());

  FakeGuest child_guest(*child, *mf_, child_as);
  EXPECT_EQ(child_guest.Write(a + 3 * kPage, 0xc1), FaultResult::kHandled);
  EXPECT_EQ(child_guest.ReadByte(a + 3 * kPage), 0xc1);
  EXPECT_EQ(guest_->ReadByte(a + 3 * kPage), 0xa0);  // parent unchanged
  EXPECT_NE(FileOffset(*child, a + 3 * kPage), off);
  EXPECT_EQ(mf_->RefCount(off), 1u);
  // The parent's page is now its own: a write takes it over without copying.
  const uint64_t used_after_child_write = mf_->UsedBytes();
  EXPECT_EQ(guest_->Write(a + 3 * kPage, 0xa1), FaultResult::kHandled);
  EXPECT_EQ(FileOffset(a + 3 * kPage), off);
  EXPECT_EQ(mf_->UsedBytes(), used_after_child_write);
  EXPECT_EQ(child_guest.ReadByte(a + 3 * kPage), 0xc1);
  // No page mapped writable anywhere while another mm still holds it.
  for (FakeAddressSpace* as : {&as_, &child_as}) {
    for (const auto& [addr, page] : as->pages) {
      if (page.prot & PROT_WRITE) {
        EXPECT_EQ(mf_->RefCount(page.off), 1u) << std::hex << addr;
      }
    }
  }
  child.reset();
  for (uint64_t p = a; p < a + len; p += kPage) EXPECT_EQ(mf_->RefCount(FileOffset(p)), 1u);
}

TEST_F(MmTest, ForkDontForkWipeOnForkSharedAndLocked) {
  uint64_t keep = Map(kPage);
  uint64_t dontfork = Map(kPage, kRW, kAnon, 0, "dontfork");
  uint64_t wipe = Map(kPage, kRW | PROT_EXEC);
  uint64_t shared = Map(kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  for (uint64_t p : {keep, dontfork, wipe, shared}) Fill(p, kPage, 0x0f);
  ASSERT_TRUE(mm_->Madvise(dontfork, kPage, MADV_DONTFORK).ok());
  ASSERT_TRUE(mm_->Madvise(wipe, kPage, MADV_WIPEONFORK).ok());
  ASSERT_TRUE(mm_->Mlock(keep, kPage, 0).ok());
  FakeAddressSpace child_as;
  auto child = mm_->Fork(&child_as);
  FakeGuest cg(*child, *mf_, child_as);
  EXPECT_EQ(cg.ReadByte(keep), 0x0f);
  EXPECT_EQ(cg.Write(dontfork, 1), FaultResult::kSegvMapErr);
  EXPECT_EQ(cg.ReadByte(wipe), 0);
  EXPECT_EQ(child->LockedBytes(), 0u);
  EXPECT_EQ(mm_->LockedBytes(), kPage);
  // Shared memory stays shared both ways.
  EXPECT_EQ(cg.Write(shared, 0x10), FaultResult::kHandled);
  EXPECT_EQ(guest_->ReadByte(shared), 0x10);
  EXPECT_EQ(guest_->Write(shared + 1, 0x11), FaultResult::kHandled);
  EXPECT_EQ(cg.ReadByte(shared + 1), 0x11);
  EXPECT_EQ(child->brk(), mm_->brk());
}

TEST_F(MmTest, ForkChainsAndDestructionFreeEverything) {
  uint64_t a = Map(64 * kPage);
  uint64_t s = Map(8 * kPage, kRW, MAP_SHARED | MAP_ANONYMOUS);
  Fill(a, 64 * kPage, 1);
  Fill(s, 8 * kPage, 2);
  std::vector<std::unique_ptr<FakeAddressSpace>> spaces;
  std::vector<std::unique_ptr<MemoryManager>> mms;
  MemoryManager* cur = mm_.get();
  for (int i = 0; i < 5; ++i) {
    spaces.push_back(std::make_unique<FakeAddressSpace>());
    mms.push_back(cur->Fork(spaces.back().get()));
    cur = mms.back().get();
    std::vector<uint8_t> v{static_cast<uint8_t>(10 + i)};
    ASSERT_TRUE(cur->CopyOut(UserAddr(a + i * kPage), v).ok());
  }
  EXPECT_EQ(ReadBytes(a + 2 * kPage, 1)[0], 1);
  uint8_t b;
  ASSERT_TRUE(mms[4]->CopyIn(UserAddr(a + 2 * kPage), {&b, 1}).ok());
  EXPECT_EQ(b, 12);
  // Destroy in a scrambled order; TearDown checks that nothing is left.
  mms[2].reset();
  mm_.reset();
  mms[0].reset();
  guest_.reset();
  mms.clear();
}

TEST_F(MmTest, DestructionUnmapsFromThePlatform) {
  uint64_t a = Map(4 * kPage);
  ASSERT_EQ(guest_->Write(a, 1), FaultResult::kHandled);
  EXPECT_FALSE(as_.pages.empty());
  guest_.reset();
  mm_.reset();
  EXPECT_TRUE(as_.pages.empty());
}

// ---------------------------------------------------------------------------
// Direct host-file mappings (Mappable::DirectFile, AddressSpace::MapHostFile)

class DirectMapTest : public MmTest {
 protected:
  void SetUp() override {
    MmTest::SetUp();
    content_.resize(kLast * kPage + 100);
    for (size_t i = 0; i < content_.size(); ++i) content_[i] = static_cast<char>('a' + i % 23);
    file_ = std::make_shared<HostFileObject>(*mf_, content_);
    guest_ = std::make_unique<FakeGuest>(*mm_, *mf_, as_, /*reports_access=*/true);
  }
  void TearDown() override {
    file_.reset();
    MmTest::TearDown();
  }
  // The file: kLast pages and 100 bytes; mappings go one page past it.
  static constexpr uint64_t kLast = 20;
  uint64_t MapFile(int prot, int flags = MAP_PRIVATE, uint64_t len = (kLast + 2) * kPage) {
    MmapOpts o = AnonOpts(0, len, prot, flags, "file");
    o.file = file_;
    auto r = mm_->Mmap(o);
    EXPECT_TRUE(r.ok()) << Err(r);
    return r.ok() ? *r : 0;
  }
  uint8_t Want(uint64_t off) const { return off < content_.size() ? content_[off] : 0; }

  std::string content_;
  std::shared_ptr<HostFileObject> file_;
};

TEST_F(DirectMapTest, ReadFaultsMapTheHostFileWithoutCopying) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ | PROT_EXEC);
  for (uint64_t off : {uint64_t{0}, kPage + 7, kLast * kPage + 99, kLast * kPage + 200}) {
    EXPECT_EQ(guest_->ReadByte(a + off), Want(off)) << off;
  }
  EXPECT_EQ(guest_->faults(), 1);  // the whole file, at the first fault
  EXPECT_EQ(as_.map_host_calls, 1);
  EXPECT_EQ(as_.map_calls, 0);
  EXPECT_EQ(file_->gets, 0) << "nothing was copied";
  EXPECT_EQ(mf_->UsedBytes(), 0u);
}

TEST_F(DirectMapTest, OneFaultMapsTheWholeVmaOfAFile) {
  // Beyond the 2 MiB fault-around window of other pages: a host file's pages
  // cost nothing until touched.
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  std::string big(5 * kMiB + 3, 'q');
  big[4 * kMiB + 1] = 'r';
  file_ = std::make_shared<HostFileObject>(*mf_, big);
  const uint64_t a = MapFile(PROT_READ, MAP_PRIVATE, 6 * kMiB);
  EXPECT_EQ(guest_->ReadByte(a + 3 * kMiB), 'q');
  EXPECT_EQ(guest_->ReadByte(a + 4 * kMiB + 1), 'r');
  EXPECT_EQ(guest_->ReadByte(a), 'q');
  EXPECT_EQ(guest_->faults(), 1);
  EXPECT_EQ(as_.map_host_calls, 1);
  EXPECT_EQ(guest_->ReadByte(a + 5 * kMiB + 2), 'q');
  EXPECT_EQ(guest_->Read(a + 5 * kMiB + kPage, nullptr), FaultResult::kBusError);
}

TEST_F(DirectMapTest, TheSentryReadsThroughTheObjectAndLeavesTheMappingAlone) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ);
  ASSERT_EQ(guest_->ReadByte(a), Want(0));
  as_.ClearCalls();
  std::vector<uint8_t> got = ReadBytes(a + kPage - 10, 20);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], Want(kPage - 10 + i)) << i;
  EXPECT_TRUE(as_.calls.empty()) << "CopyIn changed the platform's mappings";
  ASSERT_TRUE(as_.Lookup(a + kPage).has_value());
  EXPECT_NE(as_.Lookup(a + kPage)->host, nullptr);
}

TEST_F(DirectMapTest, AWriteCopiesThePageFromTheFileIntoTheMemoryFile) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ | PROT_WRITE);
  ASSERT_EQ(guest_->ReadByte(a + kPage), Want(kPage));
  ASSERT_EQ(guest_->Write(a + kPage + 1, 'Z'), FaultResult::kHandled);
  EXPECT_EQ(guest_->ReadByte(a + kPage + 1), 'Z');
  EXPECT_EQ(guest_->ReadByte(a + kPage + 2), Want(kPage + 2));
  // The written page is the guest's own now; the others are still the file's.
  ASSERT_TRUE(as_.Lookup(a + kPage).has_value());
  EXPECT_EQ(as_.Lookup(a + kPage)->host, nullptr);
  ASSERT_TRUE(as_.Lookup(a + kLast * kPage).has_value());
  EXPECT_NE(as_.Lookup(a + kLast * kPage)->host, nullptr);
  EXPECT_EQ(file_->gets, 0) << "copied from the file, not through the object";
  // The tail of the file's last page reads as zeros in the copy too.
  ASSERT_EQ(guest_->Write(a + kLast * kPage, 'Y'), FaultResult::kHandled);
  EXPECT_EQ(as_.Lookup(a + kLast * kPage)->host, nullptr);
  EXPECT_EQ(guest_->ReadByte(a + kLast * kPage + 99), Want(kLast * kPage + 99));
  EXPECT_EQ(guest_->ReadByte(a + kLast * kPage + 100), 0);
  // Beyond the file's last page: SIGBUS, as for any file mapping.
  EXPECT_EQ(guest_->Write(a + (kLast + 1) * kPage, 'X'), FaultResult::kBusError);
  EXPECT_EQ(ReadBytes(a + kPage + 1, 1)[0], 'Z');
}

TEST_F(DirectMapTest, ForkedChildMapsTheFileToo) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ | PROT_WRITE);
  ASSERT_EQ(guest_->Write(a, 'P'), FaultResult::kHandled);
  const uint64_t far = a + kLast * kPage;  // outside the write's copy-on-write window
  ASSERT_EQ(guest_->ReadByte(far), Want(kLast * kPage));
  FakeAddressSpace child_as;
  child_as.host_files = FakeAddressSpace::HostFiles::kMap;
  std::unique_ptr<MemoryManager> child = mm_->Fork(&child_as);
  FakeGuest cg(*child, *mf_, child_as, true);
  EXPECT_EQ(cg.ReadByte(a), 'P');
  EXPECT_EQ(cg.ReadByte(far), Want(kLast * kPage));
  EXPECT_EQ(cg.ReadByte(a + 17 * kPage), Want(17 * kPage));
  EXPECT_EQ(child_as.map_host_calls, 1) << "one call for all the file's pages";
  ASSERT_EQ(cg.Write(far, 'C'), FaultResult::kHandled);
  EXPECT_EQ(guest_->ReadByte(far), Want(kLast * kPage));
  EXPECT_EQ(cg.ReadByte(far), 'C');
  child.reset();
}

TEST_F(DirectMapTest, PopulatingAWritableMappingCopiesFromTheFileOnce) {
  // MADV_POPULATE_WRITE (the loader's prefault of a program's data, mlock,
  // MAP_POPULATE): the pages are copied from the host file into the guest's
  // own pages, not read into the object's page cache first and copied again.
  for (auto mode : {FakeAddressSpace::HostFiles::kMap, FakeAddressSpace::HostFiles::kRefuse}) {
    as_.host_files = mode;
    const uint64_t a = MapFile(PROT_READ | PROT_WRITE);
    const uint64_t len = (kLast + 1) * kPage;  // the file's pages
    ASSERT_EQ(Err(mm_->Madvise(a, len, kMadvPopulateWrite)), 0);
    EXPECT_EQ(file_->gets, 0) << "copied through the object";
    EXPECT_EQ(mf_->UsedBytes(), len);
    const int faults = guest_->faults();
    for (uint64_t off : {uint64_t{0}, 7 * kPage + 3, kLast * kPage + 99, kLast * kPage + 100}) {
      EXPECT_EQ(guest_->ReadByte(a + off), Want(off)) << off;
      ASSERT_EQ(guest_->Write(a + off, 'W'), FaultResult::kHandled);
    }
    EXPECT_EQ(guest_->faults(), faults) << "populated pages faulted";
    ASSERT_TRUE(mm_->Munmap(a, (kLast + 2) * kPage).ok());
    EXPECT_EQ(mf_->UsedBytes(), 0u);
  }
}

TEST_F(DirectMapTest, APlatformThatCannotMapsTheObjectsPages) {
  for (auto mode :
       {FakeAddressSpace::HostFiles::kUnimplemented, FakeAddressSpace::HostFiles::kRefuse}) {
    as_.host_files = mode;
    as_.ClearCalls();
    const uint64_t a = MapFile(PROT_READ);
    EXPECT_EQ(guest_->ReadByte(a + kPage), Want(kPage));
    EXPECT_EQ(guest_->ReadByte(a + kLast * kPage + 5), Want(kLast * kPage + 5));
    EXPECT_GE(as_.map_calls, 1);
    ASSERT_TRUE(as_.Lookup(a).has_value());
    EXPECT_EQ(as_.Lookup(a)->host, nullptr);
    // Never asked again (per manager, and per file once refused).
    const int asked = as_.map_host_calls;
    const uint64_t b = MapFile(PROT_READ);
    EXPECT_EQ(guest_->ReadByte(b), Want(0));
    EXPECT_EQ(as_.map_host_calls, asked);
    ASSERT_TRUE(mm_->Munmap(a, (kLast + 2) * kPage).ok());
    ASSERT_TRUE(mm_->Munmap(b, (kLast + 2) * kPage).ok());
  }
}

TEST_F(DirectMapTest, AFaultOnAMappedFilePageTakesTheObjectsPageInstead) {
  // What the host does when the file shrank under the sandbox: SIGBUS on a
  // page the Sentry mapped. The page must not be mapped from the file again
  // (the guest would fault forever).
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ);
  ASSERT_EQ(guest_->ReadByte(a + kPage), Want(kPage));
  ASSERT_EQ(mm_->HandleFault(a + kPage, platform::kAccessRead), FaultResult::kHandled);
  ASSERT_TRUE(as_.Lookup(a + kPage).has_value());
  EXPECT_EQ(as_.Lookup(a + kPage)->host, nullptr);
  EXPECT_NE(as_.Lookup(a + 2 * kPage)->host, nullptr);
  EXPECT_EQ(guest_->ReadByte(a + kPage + 3), Want(kPage + 3));
}

TEST_F(DirectMapTest, SharedMappingsNeverMapTheFileDirectly) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ, MAP_SHARED);
  EXPECT_EQ(guest_->ReadByte(a + 5), Want(5));
  EXPECT_EQ(as_.map_host_calls, 0);
}

TEST_F(DirectMapTest, MunmapAndMprotectReachTheDirectPages) {
  as_.host_files = FakeAddressSpace::HostFiles::kMap;
  const uint64_t a = MapFile(PROT_READ | PROT_EXEC);
  ASSERT_EQ(guest_->ReadByte(a), Want(0));
  ASSERT_TRUE(mm_->Mprotect(a, kPage, PROT_READ).ok());
  EXPECT_EQ(as_.Lookup(a)->prot, PROT_READ);
  ASSERT_TRUE(mm_->Munmap(a, 2 * kPage).ok());
  EXPECT_FALSE(as_.Lookup(a + kPage).has_value());
  EXPECT_TRUE(as_.Lookup(a + 2 * kPage).has_value());
  EXPECT_EQ(guest_->ReadByte(a), -1);
}

TEST_F(MmTest, FailedMapFileReportsOomAndLeavesNothingMapped) {
  uint64_t a = Map(kPage);
  as_.fail_map = true;
  EXPECT_EQ(mm_->HandleFault(a, platform::kAccessWrite), FaultResult::kOom);
  EXPECT_FALSE(as_.Lookup(a));
  as_.fail_map = false;
  EXPECT_EQ(mm_->HandleFault(a, platform::kAccessWrite), FaultResult::kHandled);
}

TEST_F(MmTest, OutOfFileMemory) {
  auto small = memory::MemoryFile::Create(16 * kPage);
  ASSERT_TRUE(small.ok());
  FakeAddressSpace as;
  {
    MemoryManager mm(**small, &as, layout_);
    FakeGuest guest(mm, **small, as);
    auto a = mm.Mmap(AnonOpts(0, 64 * kPage, kRW, kAnon, ""));
    ASSERT_TRUE(a.ok());
    int handled = 0;
    FaultResult last = FaultResult::kHandled;
    for (uint64_t p = *a; p < *a + 64 * kPage && last == FaultResult::kHandled; p += kPage) {
      last = guest.Write(p, 1);
      handled += last == FaultResult::kHandled;
    }
    EXPECT_EQ(handled, 16);
    EXPECT_EQ(last, FaultResult::kOom);
    std::vector<uint8_t> buf(kPage);
    EXPECT_FALSE(mm.CopyOut(UserAddr(*a + 40 * kPage), buf).ok());
  }
  EXPECT_EQ((*small)->UsedBytes(), 0u);
}

// ---------------------------------------------------------------------------
// A randomized check of everything together against a byte model, across
// fork: what each guest reads is what it last wrote, and no page is ever
// writable in the platform while another mm can see it.

TEST_F(MmTest, RandomOperationsAgainstAModel) {
  constexpr uint64_t kPages = 48;
  const uint64_t base = 0x600000000;
  struct Side {
    MemoryManager* mm;
    FakeAddressSpace* as;
    std::unique_ptr<FakeGuest> guest;
    std::vector<int> prot;                   // -1: unmapped
    std::vector<std::vector<uint8_t>> data;  // first 8 bytes of each page
  };
  std::vector<std::unique_ptr<FakeAddressSpace>> spaces;
  std::vector<std::unique_ptr<MemoryManager>> owned;
  std::vector<Side> sides;
  sides.push_back(Side{mm_.get(), &as_, std::make_unique<FakeGuest>(*mm_, *mf_, as_),
                       std::vector<int>(kPages, -1),
                       std::vector<std::vector<uint8_t>>(kPages, std::vector<uint8_t>(8))});
  const char* seed_env = getenv("MM_RANDOM_SEED");
  std::mt19937 rng(seed_env ? atoi(seed_env) : 7);
  int forks = 0;
  for (int step = 0; step < 4000; ++step) {
    Side& s = sides[rng() % sides.size()];
    uint64_t p0 = rng() % kPages, n = 1 + rng() % 6;
    if (p0 + n > kPages) n = kPages - p0;
    const uint64_t addr = base + p0 * kPage;
    switch (rng() % 9) {
      case 0: {  // mmap fixed
        int prot = std::vector<int>{PROT_NONE, PROT_READ, kRW}[rng() % 3];
        ASSERT_TRUE(s.mm->Mmap(AnonOpts(addr, n * kPage, prot, kAnon | MAP_FIXED, "")).ok());
        for (uint64_t i = p0; i < p0 + n; ++i) {
          s.prot[i] = prot;
          s.data[i].assign(8, 0);
        }
        break;
      }
      case 1:  // munmap
        ASSERT_TRUE(s.mm->Munmap(addr, n * kPage).ok());
        for (uint64_t i = p0; i < p0 + n; ++i) s.prot[i] = -1;
        break;
      case 2: {  // mprotect
        int prot = std::vector<int>{PROT_NONE, PROT_READ, kRW}[rng() % 3];
        bool all = true;
        for (uint64_t i = p0; i < p0 + n; ++i) all &= s.prot[i] >= 0;
        ErrnoOrOk r = s.mm->Mprotect(addr, n * kPage, prot);
        ASSERT_EQ(r.ok(), all);
        for (uint64_t i = p0; i < p0 + n && s.prot[i] >= 0; ++i) s.prot[i] = prot;
        break;
      }
      case 3: {  // madvise(DONTNEED)
        ErrnoOrOk r = s.mm->Madvise(addr, n * kPage, MADV_DONTNEED);
        bool all = true;
        for (uint64_t i = p0; i < p0 + n; ++i) {
          all &= s.prot[i] >= 0;
          if (s.prot[i] >= 0) s.data[i].assign(8, 0);
        }
        ASSERT_EQ(r.ok(), all);
        break;
      }
      case 4:
      case 5: {  // guest store
        uint64_t off = rng() % 8;
        uint8_t v = rng();
        FaultResult r = s.guest->Write(addr + off, v);
        if (s.prot[p0] == kRW) {
          ASSERT_EQ(r, FaultResult::kHandled);
          s.data[p0][off] = v;
        } else {
          ASSERT_EQ(r, s.prot[p0] < 0 ? FaultResult::kSegvMapErr : FaultResult::kSegvAccErr);
        }
        break;
      }
      case 6: {  // CopyOut / CopyIn across pages
        std::vector<uint8_t> buf(n * kPage);
        for (auto& b : buf) b = rng();
        CopyResult w = s.mm->CopyOut(UserAddr(addr), buf);
        uint64_t ok_pages = 0;
        while (ok_pages < n && s.prot[p0 + ok_pages] == kRW) ++ok_pages;
        ASSERT_EQ(w.done, ok_pages * kPage);
        for (uint64_t i = 0; i < ok_pages; ++i) {
          std::copy(buf.begin() + i * kPage, buf.begin() + i * kPage + 8, s.data[p0 + i].begin());
        }
        break;
      }
      case 7: {  // guest loads
        for (uint64_t i = p0; i < p0 + n; ++i) {
          uint8_t v = 0;
          FaultResult r = s.guest->Read(base + i * kPage + 3, &v);
          if (s.prot[i] > 0) {
            ASSERT_EQ(r, FaultResult::kHandled);
            ASSERT_EQ(v, s.data[i][3]) << "step " << step << " page " << i;
          } else {
            ASSERT_NE(r, FaultResult::kHandled);
          }
        }
        break;
      }
      case 8:  // fork (a few times)
        if (sides.size() < 4 && rng() % 8 == 0) {
          spaces.push_back(std::make_unique<FakeAddressSpace>());
          owned.push_back(s.mm->Fork(spaces.back().get()));
          Side c{owned.back().get(), spaces.back().get(),
                 std::make_unique<FakeGuest>(*owned.back(), *mf_, *spaces.back()), s.prot, s.data};
          sides.push_back(std::move(c));
          ++forks;
        }
        break;
    }
    // Invariants: platform mappings agree with the memory manager, stay within
    // the VMA's protection, and are never writable on a page someone shares;
    // the running resident count agrees with the backing ranges, and its peak
    // is never below it.
    for (Side& t : sides) {
      ASSERT_EQ(t.mm->ResidentBytes(), t.mm->CountResidentBytesForTest()) << "step " << step;
      ASSERT_GE(t.mm->PeakResidentBytes(), t.mm->ResidentBytes()) << "step " << step;
      for (const auto& [a, page] : t.as->pages) {
        const uint64_t i = (a - base) / kPage;
        ASSERT_LT(i, kPages);
        ASSERT_GT(t.prot[i], 0) << "mapped page outside an accessible VMA, step " << step;
        ASSERT_EQ(page.prot & ~t.prot[i], 0);
        ASSERT_EQ(FileOffset(*t.mm, a), page.off) << "stale mapping, step " << step;
        if (page.prot & PROT_WRITE) {
          ASSERT_EQ(mf_->RefCount(page.off), 1u) << "step " << step;
        }
      }
    }
  }
  EXPECT_GT(forks, 0);
  for (auto& s : sides) s.guest.reset();
  guest_.reset();
  owned.clear();
}

}  // namespace
}  // namespace sentry::mm
