// The memory manager: VMAs, backing ranges (pmas), faults, copy-on-write.
// See README.md for the rules; the comments here say how they are kept.
#include "sentry/mm/mm.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/memory/range_map.h"

namespace sentry::mm {
namespace {

using memory::FileRange;
using memory::Gap;
using memory::MemoryFile;
using memory::RangeMap;

// Linux x86-64 ABI values (include/uapi/asm-generic/mman*.h), spelled out so
// that the host's headers do not decide what the guest may ask for.
constexpr int kProtRWX = PROT_READ | PROT_WRITE | PROT_EXEC;
constexpr int kProtSem = 0x8;
constexpr int kProtGrowsDown = 0x01000000;
constexpr int kProtGrowsUp = 0x02000000;

constexpr int kMapShared = 0x01;
constexpr int kMapPrivate = 0x02;
constexpr int kMapDroppable = 0x08;
constexpr int kMapType = 0x0f;
constexpr int kMapFixed = 0x10;
constexpr int kMapAnonymous = 0x20;
constexpr int kMap32Bit = 0x40;
constexpr int kMapGrowsDown = 0x0100;
constexpr int kMapLocked = 0x2000;
constexpr int kMapPopulate = 0x8000;
constexpr int kMapNonBlock = 0x10000;
constexpr int kMapHugeTlb = 0x40000;
constexpr int kMapFixedNoReplace = 0x100000;
constexpr int kMapSharedValidate = 0x03;
// Linux's LEGACY_MAP_MASK: what MAP_SHARED keeps and MAP_SHARED_VALIDATE
// accepts (MAP_SYNC needs DAX, which no file here has).
constexpr int kLegacyMapMask = kMapShared | kMapPrivate | kMapFixed | kMapAnonymous | 0x0800 |
                               0x1000 | 0x4000000 | kMapGrowsDown | kMapLocked | 0x4000 |
                               kMapPopulate | kMapNonBlock | 0x20000 | kMapHugeTlb | kMap32Bit |
                               static_cast<int>(0xfc000000u);
constexpr int kSharedValidateMask = kLegacyMapMask;

constexpr int kMremapMayMove = 1;
constexpr int kMremapFixed = 2;
constexpr int kMremapDontUnmap = 4;

constexpr int kMadvNormal = 0;
constexpr int kMadvRandom = 1;
constexpr int kMadvSequential = 2;
constexpr int kMadvWillNeed = 3;
constexpr int kMadvDontNeed = 4;
constexpr int kMadvFree = 8;
constexpr int kMadvRemove = 9;
constexpr int kMadvDontFork = 10;
constexpr int kMadvDoFork = 11;
constexpr int kMadvMergeable = 12;
constexpr int kMadvUnmergeable = 13;
constexpr int kMadvHugePage = 14;
constexpr int kMadvNoHugePage = 15;
constexpr int kMadvDontDump = 16;
constexpr int kMadvDoDump = 17;
constexpr int kMadvWipeOnFork = 18;
constexpr int kMadvKeepOnFork = 19;
constexpr int kMadvCold = 20;
constexpr int kMadvPageOut = 21;
constexpr int kMadvPopulateRead = 22;
constexpr int kMadvPopulateWrite = 23;
constexpr int kMadvDontNeedLocked = 24;
constexpr int kMadvCollapse = 25;
constexpr int kMadvHwPoison = 100;
constexpr int kMadvSoftOffline = 101;

constexpr int kMsAsync = 1;
constexpr int kMsInvalidate = 2;
constexpr int kMsSync = 4;

constexpr int kMlockOnFault = 1;
constexpr int kMclCurrent = 1;
constexpr int kMclFuture = 2;
constexpr int kMclOnFault = 4;

// Not mapped in the platform (as opposed to mapped PROT_NONE, which we never do).
constexpr int kNotMapped = -1;

// Private anonymous faults allocate and map up to this much around the fault.
constexpr uint64_t kFaultAroundSize = uint64_t{2} << 20;
// A fault that breaks copy-on-write copies up to this much around the fault.
constexpr uint64_t kCowBreakSize = uint64_t{64} << 10;
// Linux's stack_guard_gap: 256 pages kept free below a growsdown VMA.
constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// The vector form of Mincore refuses more pages than this (ENOMEM).
constexpr uint64_t kMaxMincorePages = uint64_t{1} << 24;

uint64_t AlignDown(uint64_t v, uint64_t align) { return v & ~(align - 1); }

// What the hardware allows for `prot` on x86-64: write and exec imply read.
int EffectiveProt(int prot) {
  prot &= kProtRWX;
  if (prot & (PROT_WRITE | PROT_EXEC)) prot |= PROT_READ;
  return prot;
}

int AccessProt(uint32_t access) {
  int p = 0;
  if (access & platform::kAccessRead) p |= PROT_READ;
  if (access & platform::kAccessWrite) p |= PROT_WRITE;
  if (access & platform::kAccessExec) p |= PROT_EXEC;
  return p;
}

// A backing range: guest pages -> memory-file pages (or a host file's).
struct Pma {
  uint64_t off = 0;  // file offset of the segment's first page
  // Private pages that may be shared with another mm (or the page cache): a
  // write must copy them unless the file's count says we are the only owner.
  bool cow = false;
  // What the platform maps the pages with, or kNotMapped. Always within the
  // VMA's effective protection, and without PROT_WRITE while `cow`.
  int mapped = kNotMapped;
  // The pages are the VMA's object's host file's own (Mappable::DirectFile,
  // mapped with AddressSpace::MapHostFile), not memory-file pages: `off` is
  // the object offset, no reference is held, and `cow` is always set (a write
  // first copies the pages into the memory file, BreakCow). The Sentry reads
  // them through the object's Get (Walk).
  bool direct = false;
};

struct PmaTraits {
  static Pma Split(const Pma& v, uint64_t start, uint64_t at) {
    Pma r = v;
    r.off += at - start;
    return r;
  }
  static bool CanMerge(uint64_t start, uint64_t end, const Pma& l, const Pma& r) {
    return r.off == l.off + (end - start) && l.cow == r.cow && l.mapped == r.mapped &&
           l.direct == r.direct;
  }
};

using PmaMap = RangeMap<Pma, PmaTraits>;

// The memory object behind a shared anonymous mapping (Linux's shmem file):
// pages by object offset, shared by every VMA (in any mm) that maps it.
// It holds one reference on each of its pages; each pma that maps one holds
// another. Lock order: after MemoryManager's mutex, before MemoryFile's.
class SharedMemory : public memory::Mappable {
 public:
  SharedMemory(MemoryFile& mf, uint64_t size) : mf_(mf), size_(size) {}
  ~SharedMemory() override {
    absl::MutexLock lock(&mu_);
    for (auto it = pages_.begin(); it != pages_.end(); ++it) {
      mf_.DecRef(
          FileRange{it->second.value.off, it->second.value.off + (it->second.end - it->first)});
    }
  }

  uint64_t Size() const override { return size_; }

  ErrnoOrOk Get(uint64_t start, uint64_t end, bool /*writable*/,
                std::vector<std::pair<uint64_t, FileRange>>* out) override {
    absl::MutexLock lock(&mu_);
    bool short_of_memory = false;
    for (Gap g = pages_.FirstGap(start, end); g.start < g.end; g = pages_.FirstGap(g.start, end)) {
      auto r = mf_.AllocateUpTo(g.Length());
      if (!r.ok()) {
        short_of_memory = true;
        break;
      }
      pages_.InsertAndMerge(g.start, g.start + r->Length(), Pma{r->start, false, kNotMapped});
      g.start += r->Length();
    }
    for (auto it = pages_.LowerBound(start); it != pages_.end() && it->first < end; ++it) {
      uint64_t s = std::max(start, it->first), e = std::min(end, it->second.end);
      FileRange fr{it->second.value.off + (s - it->first), it->second.value.off + (e - it->first)};
      mf_.IncRef(fr);
      out->emplace_back(s, fr);
    }
    return short_of_memory ? ErrnoOrOk(Errno(ENOMEM)) : Ok();
  }

  bool Has(uint64_t offset) const override {
    absl::MutexLock lock(&mu_);
    return pages_.Find(offset) != pages_.end();
  }

  ErrnoOrOk Zero(uint64_t start, uint64_t end) override {
    absl::MutexLock lock(&mu_);
    for (auto it = pages_.LowerBound(start); it != pages_.end() && it->first < end; ++it) {
      uint64_t s = std::max(start, it->first), e = std::min(end, it->second.end);
      mf_.Decommit(FileRange{it->second.value.off + (s - it->first),
                             it->second.value.off + (e - it->first)});
    }
    return Ok();
  }

 private:
  MemoryFile& mf_;
  const uint64_t size_;
  mutable absl::Mutex mu_;
  // Object offset -> file offset (`cow` and `mapped` unused).
  PmaMap pages_ ABSL_GUARDED_BY(mu_);
};

struct Vma {
  int prot = 0;  // PROT_READ|WRITE|EXEC as the guest asked
  int max_prot = kProtRWX;
  bool shared = false;
  bool growsdown = false;
  bool locked = false;
  bool lock_onfault = false;
  bool dontfork = false;
  bool wipeonfork = false;
  std::string name;
  // The object mapped (shared anonymous memory or a file), and the offset of
  // this segment's start in it. Private mappings of a file hold its pages
  // copy-on-write.
  std::shared_ptr<memory::Mappable> shm;
  uint64_t shm_off = 0;
  // For /proc/pid/maps: the file's device and inode.
  uint64_t dev = 0, ino = 0;
};

struct VmaTraits {
  static Vma Split(const Vma& v, uint64_t start, uint64_t at) {
    Vma r = v;
    if (r.shm) r.shm_off += at - start;
    return r;
  }
  static bool CanMerge(uint64_t start, uint64_t end, const Vma& l, const Vma& r) {
    return l.prot == r.prot && l.max_prot == r.max_prot && l.shared == r.shared &&
           l.growsdown == r.growsdown && l.locked == r.locked && l.lock_onfault == r.lock_onfault &&
           l.dontfork == r.dontfork && l.wipeonfork == r.wipeonfork && l.name == r.name &&
           l.shm == r.shm && (!l.shm || r.shm_off == l.shm_off + (end - start));
  }
};

using VmaMap = RangeMap<Vma, VmaTraits>;
using VmaIter = VmaMap::iterator;

// Linux's "data" mappings, which RLIMIT_DATA bounds: private, writable, not stack.
bool IsData(const Vma& v) { return !v.shared && (v.prot & PROT_WRITE) && !v.growsdown; }

enum class Access { kRead, kWrite, kForceWrite };

// For lambdas that run synchronously while their caller holds the mm's mutex:
// clang's analysis does not follow a lock into a lambda.
#define MM_LOCKED_LAMBDA ABSL_NO_THREAD_SAFETY_ANALYSIS

}  // namespace

struct MemoryManager::Impl {
  Impl(MemoryFile& mf, platform::AddressSpace* as, const Layout& layout)
      : mf(mf), as(as), layout(layout) {}

  MemoryFile& mf;
  mutable absl::Mutex mu;
  platform::AddressSpace* as ABSL_GUARDED_BY(mu);
  // NOTE: read without the lock by layout(); set at exec, before other threads.
  Layout layout;
  Limits limits ABSL_GUARDED_BY(mu);
  VmaMap vmas ABSL_GUARDED_BY(mu);
  PmaMap pmas ABSL_GUARDED_BY(mu);
  // Accounting, in bytes, kept in step with `vmas` by InsertVma/RemoveVmas/
  // ChangeVmas: all VMAs, data VMAs (IsData), and locked VMAs.
  uint64_t total_vm ABSL_GUARDED_BY(mu) = 0;
  uint64_t data_vm ABSL_GUARDED_BY(mu) = 0;
  uint64_t locked_vm ABSL_GUARDED_BY(mu) = 0;
  // The bytes `pmas` back (ResidentBytes) and their peak (Linux's
  // hiwater_rss: ru_maxrss), kept in step wherever pmas come and go.
  uint64_t rss ABSL_GUARDED_BY(mu) = 0;
  uint64_t hiwater_rss ABSL_GUARDED_BY(mu) = 0;
  void AddRss(uint64_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    rss += n;
    hiwater_rss = std::max(hiwater_rss, rss);
  }
  // This manager as the Mapper of the objects it maps (registered by
  // InsertVma): how a file that shrinks reaches its pages here. The
  // destructor detaches it first. Lock order: Link::mu -> mu.
  struct Link : memory::Mapper {
    explicit Link(Impl* i) : impl(i) {}
    void Unmap(const memory::Mappable* object, uint64_t from) override;
    bool MapsWritableShared(const memory::Mappable* object) override;
    absl::Mutex mu;
    Impl* impl ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Link> link = std::make_shared<Link>(this);
  uint64_t brk_start ABSL_GUARDED_BY(mu) = 0;
  uint64_t brk ABSL_GUARDED_BY(mu) = 0;
  // Direct host-file mappings (Pma::direct): off once the platform said it
  // cannot make them, and the files it could not map (noexec mounts...).
  bool direct_unsupported ABSL_GUARDED_BY(mu) = false;
  std::set<uint64_t> direct_failed ABSL_GUARDED_BY(mu);
  // mlockall(MCL_FUTURE [| MCL_ONFAULT]): new mappings are locked.
  bool def_locked ABSL_GUARDED_BY(mu) = false;
  bool def_onfault ABSL_GUARDED_BY(mu) = false;

  // ---- Limits and accounting ----

  void Account(const Vma& v, uint64_t len, bool add) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto apply = [&](uint64_t& counter) { counter = add ? counter + len : counter - len; };
    apply(total_vm);
    if (IsData(v)) apply(data_vm);
    if (v.locked) apply(locked_vm);
  }

  // Linux's may_expand_vm: room for `len` more bytes of `v`-like mappings, given
  // that `freed` bytes (of which `freed_data` are data) go away at the same time.
  bool MayExpand(const Vma& v, uint64_t len, uint64_t freed = 0, uint64_t freed_data = 0) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (total_vm - freed + len > limits.as || total_vm - freed + len < total_vm - freed) {
      return false;
    }
    if (IsData(v) && !DataOk(data_vm - freed_data + len)) return false;
    return true;
  }

  // may_expand_vm's RLIMIT_DATA check: `new_data_vm` bytes of data mappings
  // fit. Linux's workaround for Valgrind (which sets the soft limit to 0):
  // then the hard limit applies instead.
  bool DataOk(uint64_t new_data_vm) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (new_data_vm <= limits.data) return true;
    return limits.data == 0 && new_data_vm <= limits.data_max;
  }

  bool CanDoMlock() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return limits.memlock != 0 || limits.can_ipc_lock;
  }

  // Linux's mlock_future_ok: `len` more locked bytes would fit.
  bool MlockFutureOk(bool locked, uint64_t len) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!locked || limits.can_ipc_lock) return true;
    return locked_vm + len <= limits.memlock && locked_vm + len >= locked_vm;
  }

  // How many VMAs would exist after carving [start, end) out (before adding
  // anything): pieces that survive on either side stay.
  uint64_t CountAfterRemoval(uint64_t start, uint64_t end) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t count = vmas.size();
    auto it = vmas.LowerBound(start);
    for (; it != vmas.end() && it->first < end; ++it) {
      --count;
      if (it->first < start) ++count;
      if (it->second.end > end) ++count;
    }
    return count;
  }

  // The number of splits needed so that VMA boundaries fall on start and end.
  uint64_t SplitsNeeded(uint64_t start, uint64_t end) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t n = 0;
    for (uint64_t a : {start, end}) {
      auto it = vmas.Find(a);
      if (it != vmas.end() && it->first < a) ++n;
    }
    return n;
  }

  bool MapCountOk(uint64_t count) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return count <= limits.max_map_count;
  }

  // The end of the run of VMAs that covers [start, ...) without a hole, up to
  // `end`; `start` itself if start is not mapped.
  uint64_t CoveredUpTo(uint64_t start, uint64_t end) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t cur = start;
    for (auto it = vmas.LowerBound(start); it != vmas.end() && it->first <= cur && cur < end;
         ++it) {
      cur = it->second.end;
    }
    return std::min(cur, end);
  }

  // ---- The platform ----

  // Maps and reports success; failures are logged (the caller decides).
  bool PlatformMap(uint64_t addr, uint64_t off, uint64_t len, int prot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    absl::Status s = as->MapFile(addr, off, len, prot);
    if (!s.ok()) {
      SLOG(kError, "mm: MapFile(%#x, off %#x, len %#x, prot %d): %s", addr, off, len, prot,
           s.ToString());
    }
    return s.ok();
  }

  // The host file a private VMA may map directly (Pma::direct), or null.
  std::shared_ptr<const platform::HostFile> DirectFileOf(const Vma& v) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (v.shared || !v.shm || as == nullptr || direct_unsupported) return nullptr;
    std::shared_ptr<const platform::HostFile> f = v.shm->DirectFile();
    if (f == nullptr || direct_failed.contains(f->id())) return nullptr;
    return f;
  }

  enum class DirectMap { kMapped, kFailed, kCopy };
  // Maps direct pages [addr, addr+len) of VMA `vit` (object offset `off`):
  // kCopy when the platform cannot map host files or this file (then never
  // again), kFailed (logged) when the mapping failed otherwise.
  DirectMap PlatformMapDirect(VmaIter vit, uint64_t addr, uint64_t off, uint64_t len, int prot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::shared_ptr<const platform::HostFile> f = DirectFileOf(vit->second.value);
    if (f == nullptr) return DirectMap::kCopy;
    absl::Status s = as->MapHostFile(addr, f, off, len, prot);
    if (s.ok()) return DirectMap::kMapped;
    if (absl::IsUnimplemented(s)) {
      direct_unsupported = true;
      return DirectMap::kCopy;
    }
    if (absl::IsFailedPrecondition(s)) {
      SLOG(kInfo, "mm: host file %d cannot be mapped directly (%s); copying its pages", f->fd(),
           s.ToString());
      direct_failed.insert(f->id());
      return DirectMap::kCopy;
    }
    SLOG(kError, "mm: MapHostFile(%#x, off %#x, len %#x, prot %d): %s", addr, off, len, prot,
         s.ToString());
    return DirectMap::kFailed;
  }

  // NOTE: a stale platform mapping would let the guest reach pages that are
  // freed or belong to someone else; if the platform cannot remove one, the
  // sandbox must stop (DESIGN.md §11.6).
  void PlatformUnmap(uint64_t addr, uint64_t len) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    absl::Status s = as->Unmap(addr, len);
    if (!s.ok()) {
      FatalLine(
          __FILE__, __LINE__,
          absl::StrFormat("mm: platform Unmap(%#x, %#x) failed: %s", addr, len, s.ToString()));
    }
  }

  // Returns false if it had to unmap instead (the pages are then not mapped).
  bool PlatformProtect(uint64_t addr, uint64_t len, int prot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    absl::Status s = as->Protect(addr, len, prot);
    if (s.ok()) return true;
    SLOG(kError, "mm: Protect(%#x, %#x, %d): %s; unmapping instead", addr, len, prot, s.ToString());
    PlatformUnmap(addr, len);
    return false;
  }

  // Sets `mapped` on every pma segment in [start, end) (whole segments).
  void MarkMapped(uint64_t start, uint64_t end, int mapped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = pmas.IsolateRange(start, end); it != pmas.end() && it->first < end; ++it) {
      it->second.value.mapped = mapped;
    }
  }

  // Unmaps from the platform whatever is mapped in [start, end), in one call.
  void UnmapMapped(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t lo = end, hi = start;
    for (auto it = pmas.LowerBound(start); it != pmas.end() && it->first < end; ++it) {
      if (it->second.value.mapped == kNotMapped) continue;
      lo = std::min(lo, std::max(start, it->first));
      hi = std::max(hi, std::min(end, it->second.end));
    }
    if (lo >= hi) return;
    if (as != nullptr) PlatformUnmap(lo, hi - lo);
    MarkMapped(lo, hi, kNotMapped);
    pmas.MergeRange(lo, hi);
  }

  // Lowers platform protections in [start, end) to what `eff` (an effective
  // protection) allows, also taking PROT_WRITE away from copy-on-write pages.
  void Downgrade(uint64_t start, uint64_t end, int eff) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    struct Run {
      uint64_t start, end;
      int prot;  // 0: unmap
    };
    std::vector<Run> runs;
    for (auto it = pmas.LowerBound(start); it != pmas.end() && it->first < end; ++it) {
      const Pma& p = it->second.value;
      if (p.mapped == kNotMapped) continue;
      int np = p.mapped & eff & (p.cow ? ~PROT_WRITE : kProtRWX);
      if (np == p.mapped) continue;
      uint64_t s = std::max(start, it->first), e = std::min(end, it->second.end);
      if (!runs.empty() && runs.back().end == s && runs.back().prot == np) {
        runs.back().end = e;
      } else {
        runs.push_back(Run{s, e, np});
      }
    }
    for (const Run& r : runs) {
      int mapped = kNotMapped;
      if (as != nullptr) {
        if (r.prot == 0) {
          PlatformUnmap(r.start, r.end - r.start);
        } else if (PlatformProtect(r.start, r.end - r.start, r.prot)) {
          mapped = r.prot;
        }
      }
      MarkMapped(r.start, r.end, mapped);
    }
    if (!runs.empty()) pmas.MergeRange(start, end);
  }

  // Maps the backed pages of [start, end) (inside VMA `vit`) with the VMA's
  // protection (read-only while copy-on-write), one MapFile per run of pages
  // contiguous in both the guest and the file. Pages already mapped so are
  // skipped, except `force_page` (a spurious fault: map it again).
  bool MapRange(VmaIter vit, uint64_t start, uint64_t end, uint64_t force_page = ~uint64_t{0})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (as == nullptr) return true;
    const int eff = EffectiveProt(vit->second.value.prot);
    if (eff == 0) return true;
    struct Run {
      uint64_t start, end, off;
      int prot;
      bool direct;
    };
    std::vector<Run> runs;
    for (auto it = pmas.IsolateRange(start, end); it != pmas.end() && it->first < end; ++it) {
      const Pma& p = it->second.value;
      int target = eff & (p.cow ? ~PROT_WRITE : kProtRWX);
      bool forced = it->first <= force_page && force_page < it->second.end;
      if (p.mapped == target && !forced) continue;
      if (!runs.empty() && runs.back().end == it->first && runs.back().prot == target &&
          runs.back().direct == p.direct &&
          runs.back().off + (runs.back().end - runs.back().start) == p.off) {
        runs.back().end = it->second.end;
      } else {
        runs.push_back(Run{it->first, it->second.end, p.off, target, p.direct});
      }
    }
    bool ok = true;
    for (const Run& r : runs) {
      if (r.direct) {
        switch (PlatformMapDirect(vit, r.start, r.off, r.end - r.start, r.prot)) {
          case DirectMap::kMapped:
            MarkMapped(r.start, r.end, r.prot);
            continue;
          case DirectMap::kFailed:
            PlatformUnmap(r.start, r.end - r.start);
            MarkMapped(r.start, r.end, kNotMapped);
            ok = false;
            continue;
          case DirectMap::kCopy:
            // The object's own pages instead, mapped as any others.
            if (!Materialize(vit, r.start, r.end).ok() || !MapRange(vit, r.start, r.end)) {
              ok = false;
            }
            continue;
        }
      }
      if (PlatformMap(r.start, r.off, r.end - r.start, r.prot)) {
        MarkMapped(r.start, r.end, r.prot);
      } else {
        // The platform's state is unknown after a failed map: make it "nothing".
        PlatformUnmap(r.start, r.end - r.start);
        MarkMapped(r.start, r.end, kNotMapped);
        ok = false;
      }
    }
    pmas.MergeRange(start, end);
    return ok;
  }

  // ---- Backing ----

  // The guest address where a shared VMA's object ends (pages at or above it
  // are beyond the object: SIGBUS / EFAULT).
  static uint64_t ObjectEnd(VmaIter vit) {
    const Vma& v = vit->second.value;
    if (!v.shm) return vit->second.end;
    const uint64_t size = PageRoundUp(v.shm->Size());
    if (size <= v.shm_off) return vit->first;
    return std::min(vit->second.end, vit->first + (size - v.shm_off));
  }

  // Backs every page of [start, end) (page-aligned, inside VMA `vit`, below
  // ObjectEnd) with memory-file pages, or, with `direct` and a VMA that may,
  // with its host file's pages (Pma::direct). ENOMEM if the file ran out
  // (some pages may then be backed).
  ErrnoOrOk EnsureBacked(VmaIter vit, uint64_t start, uint64_t end, bool direct = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const Vma& v = vit->second.value;
    direct = direct && DirectFileOf(v) != nullptr;
    for (Gap g = pmas.FirstGap(start, end); g.start < g.end; g = pmas.FirstGap(g.start, end)) {
      if (direct) {
        const uint64_t obj = v.shm_off + (g.start - vit->first);
        pmas.InsertAndMerge(g.start, g.end, Pma{obj, true, kNotMapped, true});
        AddRss(g.Length());
        g.start = g.end;
      } else if (v.shm) {
        std::vector<std::pair<uint64_t, FileRange>> pieces;
        uint64_t obj = v.shm_off + (g.start - vit->first);
        ErrnoOrOk r =
            v.shm->Get(obj, obj + g.Length(), v.shared && (v.max_prot & PROT_WRITE), &pieces);
        for (const auto& [piece_obj, fr] : pieces) {
          uint64_t addr = vit->first + (piece_obj - v.shm_off);
          // A private mapping shares the object's pages until it writes.
          pmas.InsertAndMerge(addr, addr + fr.Length(), Pma{fr.start, !v.shared, kNotMapped});
          AddRss(fr.Length());
        }
        RETURN_IF_ERROR(r);
        g.start = g.end;
      } else {
        ASSIGN_OR_RETURN(FileRange fr, mf.AllocateUpTo(g.Length()));
        pmas.InsertAndMerge(g.start, g.start + fr.Length(), Pma{fr.start, false, kNotMapped});
        AddRss(fr.Length());
      }
    }
    return Ok();
  }

  // Replaces the direct pmas in [start, end) (inside VMA `vit`) by the
  // object's own pages, copy-on-write, unmapping them first. ENOMEM if that
  // fell short (the rest stays direct).
  ErrnoOrOk Materialize(VmaIter vit, uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::pair<uint64_t, uint64_t>> segs;
    for (auto it = pmas.LowerBound(start); it != pmas.end() && it->first < end; ++it) {
      if (it->second.value.direct) {
        segs.emplace_back(std::max(start, it->first), std::min(end, it->second.end));
      }
    }
    if (segs.empty()) return Ok();
    const Vma& v = vit->second.value;
    ErrnoOrOk result = Ok();
    for (const auto& [s, e] : segs) {
      UnmapMapped(s, e);
      auto it = pmas.IsolateRange(s, e);
      const Pma p = it->second.value;
      SCHECK(it->first == s && it->second.end == e && p.direct);
      pmas.Erase(it);
      std::vector<std::pair<uint64_t, FileRange>> pieces;
      ErrnoOrOk r = v.shm->Get(p.off, p.off + (e - s), /*writable=*/false, &pieces);
      uint64_t cur = s;
      for (const auto& [obj, fr] : pieces) {
        const uint64_t a = s + (obj - p.off);
        if (a > cur) pmas.Insert(cur, a, PmaTraits::Split(p, s, cur));  // still direct
        pmas.Insert(a, a + fr.Length(), Pma{fr.start, true, kNotMapped});
        cur = a + fr.Length();
      }
      if (cur < e) pmas.Insert(cur, e, PmaTraits::Split(p, s, cur));
      if (!r.ok()) {
        result = r;
        break;
      }
      if (cur < e) {
        result = Errno(ENOMEM);
        break;
      }
    }
    pmas.MergeRange(start, end);
    return result;
  }

  // Gives every copy-on-write page in [start, end) (inside private VMA `vit`)
  // a page of its own: pages nobody else holds are simply taken over, others
  // are copied. A copied page that the platform mapped is mapped again at its
  // new place (never left pointing at the shared one).
  ErrnoOrOk BreakCow(VmaIter vit, uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    // Most writes (every CopyOut) find nothing copy-on-write: say so without
    // splitting and merging the pmas.
    bool any_cow = false;
    for (auto it = pmas.LowerBound(start); it != pmas.end() && it->first < end; ++it) {
      if (it->second.value.cow) {
        any_cow = true;
        break;
      }
    }
    if (!any_cow) return Ok();
    const int eff = EffectiveProt(vit->second.value.prot);
    std::vector<std::pair<uint64_t, uint64_t>> segs;
    for (auto it = pmas.IsolateRange(start, end); it != pmas.end() && it->first < end; ++it) {
      if (it->second.value.cow) segs.emplace_back(it->first, it->second.end);
    }
    ErrnoOrOk result = Ok();
    for (const auto& [s, e] : segs) {
      auto it = pmas.Find(s);
      const Pma p = it->second.value;
      pmas.Erase(it);
      uint64_t cur = s;
      while (cur < e) {
        // Direct pages are the host file's: always copied, from the file.
        const bool exclusive = !p.direct && mf.RefCount(p.off + (cur - s)) == 1;
        uint64_t run_end = p.direct ? e : cur + kPageSize;
        while (run_end < e && (mf.RefCount(p.off + (run_end - s)) == 1) == exclusive) {
          run_end += kPageSize;
        }
        if (exclusive) {
          pmas.Insert(cur, run_end, Pma{p.off + (cur - s), false, p.mapped});
          cur = run_end;
          continue;
        }
        auto fr = mf.AllocateUpTo(run_end - cur);
        if (!fr.ok()) {
          result = fr.error();
          break;
        }
        const uint64_t len = fr->Length();
        ErrnoOrOk r = p.direct ? CopyHostFile(vit->second.value, p.off + (cur - s), fr->start, len)
                               : mf.Write(fr->start, mf.Internal(p.off + (cur - s)), len);
        if (!r.ok()) {
          mf.DecRef(*fr);
          result = r;
          break;
        }
        if (!p.direct) mf.DecRef(FileRange{p.off + (cur - s), p.off + (cur - s) + len});
        int mapped = kNotMapped;
        if (p.mapped != kNotMapped && as != nullptr) {
          if (PlatformMap(cur, fr->start, len, eff)) {
            mapped = eff;
          } else {
            PlatformUnmap(cur, len);
          }
        }
        pmas.Insert(cur, cur + len, Pma{fr->start, false, mapped});
        cur += len;
      }
      if (cur < e) {  // out of memory: the rest stays copy-on-write
        pmas.Insert(cur, e, PmaTraits::Split(p, s, cur));
        break;
      }
    }
    pmas.MergeRange(start, end);
    return result;
  }

  // Copies `len` bytes of a direct pma's host file at object offset `off`
  // into freshly allocated (zero) memory-file pages at `dst`: what lies past
  // the end of the file stays zero (the tail of its last page). Through a
  // buffer of the thread's and MemoryFile::Write, so that the new pages are
  // not faulted into the Sentry one by one.
  ErrnoOrOk CopyHostFile(const Vma& v, uint64_t off, uint64_t dst, uint64_t len) {
    const std::shared_ptr<const platform::HostFile> f = v.shm->DirectFile();
    SCHECK(f != nullptr);
    constexpr uint64_t kChunk = 64 << 10;
    thread_local std::unique_ptr<uint8_t[]> buf = std::make_unique<uint8_t[]>(kChunk);
    uint64_t done = 0;
    while (done < len) {
      const ssize_t n =
          ::pread(f->fd(), buf.get(), std::min(kChunk, len - done), static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno(errno);
      if (n == 0) break;
      RETURN_IF_ERROR(mf.Write(dst + done, buf.get(), static_cast<uint64_t>(n)));
      done += static_cast<uint64_t>(n);
    }
    return Ok();
  }

  // Releases the pmas in [start, end), unmapping them from the platform first.
  void DropPmas(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    UnmapMapped(start, end);
    uint64_t dropped = 0;  // (clang's analysis does not follow mu into the lambda)
    pmas.RemoveRange(start, end, [this, &dropped](uint64_t s, uint64_t e, Pma& p) {
      if (!p.direct) mf.DecRef(FileRange{p.off, p.off + (e - s)});
      dropped += e - s;
    });
    rss -= dropped;
  }

  // Backs and maps [start, end) as touching every page would (MAP_POPULATE,
  // mlock, MADV_POPULATE_*). Inaccessible VMAs are skipped.
  ErrnoOrOk Populate(uint64_t start, uint64_t end, bool write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t cur = start;
    while (cur < end) {
      auto vit = vmas.LowerBound(cur);
      if (vit == vmas.end() || vit->first >= end) break;
      cur = std::max(cur, vit->first);
      const uint64_t seg_end = std::min(end, ObjectEnd(vit));
      const Vma& v = vit->second.value;
      const int eff = EffectiveProt(v.prot);
      if (eff != 0 && cur < seg_end) {
        const bool break_cow = !v.shared && (write || (eff & PROT_WRITE));
        // Pages about to be copied come from a host file directly (one copy),
        // not through the object's page cache (two).
        RETURN_IF_ERROR(EnsureBacked(vit, cur, seg_end, /*direct=*/break_cow));
        if (break_cow) RETURN_IF_ERROR(BreakCow(vit, cur, seg_end));
        MapRange(vit, cur, seg_end);
      }
      cur = std::min(end, vit->second.end);
    }
    return Ok();
  }

  // ---- VMAs ----

  VmaIter InsertVma(uint64_t start, uint64_t end, Vma v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Account(v, end - start, true);
    if (v.shm) v.shm->AddMapper(link);
    return vmas.InsertAndMerge(start, end, std::move(v));
  }

  // Unmaps [start, end): drops backing, then VMAs (and their accounting).
  void RemoveVmas(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    DropPmas(start, end);
    vmas.RemoveRange(start, end, [this](uint64_t s, uint64_t e, Vma& v) MM_LOCKED_LAMBDA {
      Account(v, e - s, false);
    });
  }

  // Applies fn(start, end, Vma&) to the VMA segments inside [start, end),
  // splitting at the edges and merging afterwards; keeps accounting.
  template <typename F>
  void ChangeVmas(uint64_t start, uint64_t end, F&& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = vmas.IsolateRange(start, end); it != vmas.end() && it->first < end; ++it) {
      Account(it->second.value, it->second.end - it->first, false);
      fn(it->first, it->second.end, it->second.value);
      Account(it->second.value, it->second.end - it->first, true);
    }
    vmas.MergeRange(start, end);
  }

  // The VMA containing `addr`; or, if `addr` is just below a growsdown VMA, that
  // VMA grown down to cover it (Linux's expand_stack). vmas.end() if neither.
  VmaIter FindVmaOrGrow(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = vmas.LowerBound(addr);
    if (it == vmas.end() || it->first <= addr) return it;
    const Vma& v = it->second.value;
    if (!v.growsdown) return vmas.end();
    const uint64_t new_start = PageRoundDown(addr);
    if (new_start < layout.min_addr) return vmas.end();
    if (it != vmas.begin()) {
      const auto prev = std::prev(it);
      const Vma& pv = prev->second.value;
      // The guard gap applies to accessible non-stack neighbours only.
      if (!pv.growsdown && EffectiveProt(pv.prot) != 0 &&
          new_start - prev->second.end < kStackGuardGap) {
        return vmas.end();
      }
    }
    const uint64_t grow = it->first - new_start;
    if (!MayExpand(v, grow)) return vmas.end();
    if (it->second.end - new_start > limits.stack) return vmas.end();
    if (v.locked && !MlockFutureOk(true, grow)) return vmas.end();
    Vma nv = v;
    if (nv.shm) {  // (growsdown is never shared; kept for completeness)
      if (nv.shm_off < grow) return vmas.end();
      nv.shm_off -= grow;
    }
    return InsertVma(new_start, it->first, std::move(nv));
  }

  // Linux's vm_start_gap: where a VMA's start is, counting a stack's guard gap.
  static uint64_t StartGap(VmaMap::const_iterator it) {
    uint64_t s = it->first;
    if (it->second.value.growsdown) s = s > kStackGuardGap ? s - kStackGuardGap : 0;
    return s;
  }

  // Whether [addr, addr+len) is free for a new mapping (hint check).
  bool RangeFree(uint64_t addr, uint64_t len) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (addr < layout.min_addr || addr > layout.max_addr || len > layout.max_addr - addr) {
      return false;
    }
    auto next = vmas.LowerBound(addr);
    return next == vmas.end() || addr + len <= StartGap(next);
  }

  // The highest free [addr, addr+len) within [low, high).
  std::optional<uint64_t> FindTopDown(uint64_t len, uint64_t low, uint64_t high) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (high < low || high - low < len) return std::nullopt;
    // NOTE: a linear walk down from `high`; Linux keeps the largest gap in
    // its tree for O(log n). TODO: augment the VMA map with gap sizes.
    auto it = vmas.LowerBound(high);
    while (true) {
      uint64_t gap_hi = high;
      if (it != vmas.end()) gap_hi = std::min(gap_hi, StartGap(it));
      uint64_t gap_lo = low;
      if (it != vmas.begin()) gap_lo = std::max(gap_lo, std::prev(it)->second.end);
      if (gap_hi > gap_lo && gap_hi - gap_lo >= len) return gap_hi - len;
      if (it == vmas.begin()) return std::nullopt;
      --it;
      if (it->second.end <= low) return std::nullopt;
    }
  }

  // The lowest free [addr, addr+len) within [low, high).
  std::optional<uint64_t> FindBottomUp(uint64_t len, uint64_t low, uint64_t high) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (high < low || high - low < len) return std::nullopt;
    uint64_t cur = low;
    for (auto it = vmas.LowerBound(low);; ++it) {
      if (it != vmas.end() && it->first <= cur) {
        cur = it->second.end;
        continue;
      }
      uint64_t gap_hi = high;
      if (it != vmas.end()) gap_hi = std::min(gap_hi, StartGap(it));
      if (gap_hi > cur && gap_hi - cur >= len) return cur;
      if (it == vmas.end() || it->second.end >= high) return std::nullopt;
      cur = it->second.end;
    }
  }

  // Linux's get_unmapped_area for anonymous memory (x86-64 top-down layout).
  ErrnoOr<uint64_t> GetUnmappedArea(uint64_t addr, uint64_t len, bool fixed, bool low32) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t min_addr = std::max(layout.min_addr, kPageSize);
    if (len > layout.max_addr || len > layout.max_addr - min_addr) return Errno(ENOMEM);
    if (fixed) {
      if (!IsPageAligned(addr)) return Errno(EINVAL);
      if (addr > layout.max_addr - len) return Errno(ENOMEM);
      if (addr < layout.min_addr) return Errno(EPERM);
      return addr;
    }
    if (addr != 0) {
      addr = PageRoundUp(addr);
      if (addr != 0 && RangeFree(addr, len)) return addr;
    }
    std::optional<uint64_t> found;
    if (low32) {
      found = FindBottomUp(len, std::max(min_addr, uint64_t{0x40000000}), 0x80000000);
    } else {
      uint64_t base = layout.mmap_base != 0 ? layout.mmap_base : layout.max_addr;
      found = FindTopDown(len, min_addr, std::min(base, layout.max_addr));
      if (!found) {
        // Bottom-up from TASK_UNMAPPED_BASE, as Linux falls back.
        found = FindBottomUp(len, std::max(min_addr, PageRoundUp(layout.max_addr / 3)),
                             layout.max_addr);
      }
    }
    if (!found) return Errno(ENOMEM);
    return *found;
  }

  // ---- Copying ----

  // Walks guest [addr, addr+len), making pages accessible for `access` as a
  // fault would, and calls fn(internal pointer, length) for each piece until
  // fn returns false. Stops with EFAULT at the first page without a VMA or
  // without the permission.
  template <typename F>
  CopyResult Walk(uint64_t addr, uint64_t len, Access access, F&& fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    CopyResult res;
    while (res.done < len) {
      const uint64_t cur = addr + res.done;
      if (cur < addr || cur >= layout.max_addr) break;
      auto vit = FindVmaOrGrow(cur);
      if (vit == vmas.end()) break;
      const Vma& v = vit->second.value;
      const int eff = EffectiveProt(v.prot);
      if (access == Access::kRead && !(eff & PROT_READ)) break;
      if (access == Access::kWrite && !(eff & PROT_WRITE)) break;
      // FOLL_FORCE writes only to private (copy-on-write) mappings that
      // could be made writable (is_cow_mapping).
      if (access == Access::kForceWrite && !(eff & PROT_WRITE) &&
          (v.shared || !(v.max_prot & PROT_WRITE))) {
        break;
      }
      const uint64_t obj_end = ObjectEnd(vit);
      if (cur >= obj_end) break;
      const uint64_t seg_end = cur + std::min(len - res.done, obj_end - cur);
      const uint64_t pstart = PageRoundDown(cur), pend = PageRoundUp(seg_end);
      if (!EnsureBacked(vit, pstart, pend).ok()) {
        SLOG(kWarning, "mm: out of memory backing [%#x, %#x) for a copy", pstart, pend);
        break;
      }
      if (access != Access::kRead && !v.shared && !BreakCow(vit, pstart, pend).ok()) {
        SLOG(kWarning, "mm: out of memory breaking copy-on-write in [%#x, %#x)", pstart, pend);
        break;
      }
      for (auto it = pmas.LowerBound(cur); res.done < seg_end - addr; ++it) {
        SCHECK(it != pmas.end() && it->first <= addr + res.done);
        const uint64_t s = addr + res.done;
        const uint64_t e = std::min(seg_end, it->second.end);
        if (it->second.value.direct) {
          // A host file's pages (only ever read here: a write broke
          // copy-on-write above): through the object's own.
          bool more = true;
          if (!WalkObject(v, it->second.value.off + (s - it->first), e - s, fn, &res, &more)) {
            res.err = Errno(EFAULT);
            return res;
          }
          if (!more) return res;
          continue;
        }
        if (!fn(mf.Internal(it->second.value.off + (s - it->first)), e - s)) return res;
        res.done += e - s;
      }
    }
    if (res.done < len) res.err = Errno(EFAULT);
    return res;
  }

  // Walk's piece for [obj, obj+len) of a private VMA's object, read through
  // the object's pages (Get; the pointers stay valid while the object keeps
  // them, as the page cache does). Adds what fn took to res->done; *more is
  // false once fn said stop. False if the object could not supply the pages.
  template <typename F>
  bool WalkObject(const Vma& v, uint64_t obj, uint64_t len, F& fn, CopyResult* res, bool* more)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::pair<uint64_t, FileRange>> pieces;
    ErrnoOrOk r =
        v.shm->Get(PageRoundDown(obj), PageRoundUp(obj + len), /*writable=*/false, &pieces);
    uint64_t cur = obj;
    for (const auto& [po, fr] : pieces) {
      if (*more && po <= cur && cur < obj + len && cur < po + fr.Length()) {
        const uint64_t n = std::min(obj + len, po + fr.Length()) - cur;
        if (fn(mf.Internal(fr.start + (cur - po)), n)) {
          res->done += n;
          cur += n;
        } else {
          *more = false;
        }
      }
    }
    for (const auto& piece : pieces) mf.DecRef(piece.second);
    return !*more || (r.ok() && cur == obj + len);
  }

  // ---- Faults ----

  // A fault on a page without backing in a VMA that may map its host file
  // (DirectFileOf). A read maps the whole gap around the page from the file
  // in one MapHostFile: its pages cost nothing until the guest touches them,
  // and then the host faults them in without us. A write copies the
  // copy-on-write window around the page from the file. nullopt when the VMA
  // may not, or the platform cannot map the file (then never again): the
  // caller backs the page with the object's pages.
  std::optional<FaultResult> FaultDirect(VmaIter vit, uint64_t page, uint64_t obj_end,
                                         uint32_t access) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const Vma& v = vit->second.value;
    if (DirectFileOf(v) == nullptr) return std::nullopt;
    const int eff = EffectiveProt(v.prot);
    if ((eff & PROT_WRITE) &&
        (access == platform::kAccessNone || (access & platform::kAccessWrite))) {
      const uint64_t cow = AlignDown(page, kCowBreakSize);
      const Gap g =
          pmas.GapAround(page, std::max(vit->first, cow), std::min(obj_end, cow + kCowBreakSize));
      if (!EnsureBacked(vit, g.start, g.end, /*direct=*/true).ok()) return FaultResult::kOom;
      if (!BreakCow(vit, g.start, g.end).ok()) return FaultResult::kOom;
      return MapRange(vit, g.start, g.end) ? FaultResult::kHandled : FaultResult::kOom;
    }
    const Gap g = pmas.GapAround(page, vit->first, obj_end);
    const uint64_t off = v.shm_off + (g.start - vit->first);
    const int prot = eff & ~PROT_WRITE;
    switch (PlatformMapDirect(vit, g.start, off, g.Length(), prot)) {
      case DirectMap::kCopy:
        return std::nullopt;
      case DirectMap::kFailed:
        PlatformUnmap(g.start, g.Length());
        return FaultResult::kOom;
      case DirectMap::kMapped:
        break;
    }
    pmas.InsertAndMerge(g.start, g.end, Pma{off, true, prot, true});
    AddRss(g.Length());
    return FaultResult::kHandled;
  }

  FaultResult Fault(uint64_t addr, uint32_t access) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (addr >= layout.max_addr) return FaultResult::kSegvMapErr;
    const uint64_t page = PageRoundDown(addr);
    auto vit = FindVmaOrGrow(page);
    if (vit == vmas.end()) return FaultResult::kSegvMapErr;
    const Vma& v = vit->second.value;
    const int eff = EffectiveProt(v.prot);
    const int want = AccessProt(access);
    if (eff == 0 || (want & ~eff) != 0) return FaultResult::kSegvAccErr;
    const uint64_t obj_end = ObjectEnd(vit);
    if (page >= obj_end) return FaultResult::kBusError;

    auto pit = pmas.Find(page);
    const bool spurious = pit != pmas.end() && pit->second.value.mapped != kNotMapped &&
                          (eff & ~pit->second.value.mapped) == 0;
    if (spurious) {
      // Already mapped with everything the VMA allows: with no access type
      // this can only be a real violation. With a known (allowed) access the
      // fault is spurious: map the page again below.
      if (access == platform::kAccessNone) return FaultResult::kSegvAccErr;
      // A host file's page that faults although mapped: the file shrank
      // under us (SIGBUS from the host). The object's own page instead.
      if (pit->second.value.direct) {
        if (!Materialize(vit, page, page + kPageSize).ok()) return FaultResult::kOom;
        pit = pmas.Find(page);
      }
    }

    if (pit == pmas.end()) {
      if (std::optional<FaultResult> r = FaultDirect(vit, page, obj_end, access)) return *r;
    }

    // Fault-around window: the aligned chunk around the page, in the VMA; all
    // of a host file's pages around it that are not mapped (a forked child's,
    // say), which cost nothing until touched.
    const uint64_t chunk = AlignDown(page, kFaultAroundSize);
    uint64_t win_start = std::max(vit->first, chunk);
    uint64_t win_end = std::min(obj_end, chunk + kFaultAroundSize);
    if (pit != pmas.end() && pit->second.value.direct && pit->second.value.mapped == kNotMapped) {
      win_start = std::max(vit->first, std::min(win_start, pit->first));
      win_end = std::min(obj_end, std::max(win_end, pit->second.end));
    }

    if (pit == pmas.end()) {
      Gap g = pmas.GapAround(page, win_start, win_end);
      if (!EnsureBacked(vit, g.start, g.end).ok() && pmas.Find(page) == pmas.end() &&
          !EnsureBacked(vit, page, page + kPageSize).ok()) {
        return FaultResult::kOom;
      }
    }
    const bool break_cow = !v.shared && (eff & PROT_WRITE) &&
                           (access == platform::kAccessNone || (access & platform::kAccessWrite));
    if (break_cow) {
      const uint64_t cs = std::max(win_start, AlignDown(page, kCowBreakSize));
      const uint64_t ce = std::min(win_end, AlignDown(page, kCowBreakSize) + kCowBreakSize);
      if (!BreakCow(vit, cs, ce).ok() && !BreakCow(vit, page, page + kPageSize).ok()) {
        return FaultResult::kOom;
      }
    }
    // Only a spurious fault maps the page again as it is: otherwise the page is
    // mapped below unless BreakCow already mapped its new copy.
    if (!MapRange(vit, win_start, win_end, spurious ? page : ~uint64_t{0})) {
      return FaultResult::kOom;
    }
    return FaultResult::kHandled;
  }

  // ---- Objects that change under us ----

  // `object` shrank: drop its pages from object offset `from` on in every VMA
  // that maps it, private copies included (Linux's unmap_mapping_range with
  // even_cows), so the next touch faults and finds them past the end (SIGBUS).
  void UnmapObject(const memory::Mappable* object, uint64_t from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = vmas.begin(); it != vmas.end(); ++it) {
      const Vma& v = it->second.value;
      if (v.shm.get() != object) continue;
      uint64_t start = it->first;
      if (from > v.shm_off) {
        if (from - v.shm_off >= it->second.end - it->first) continue;
        start += from - v.shm_off;
      }
      DropPmas(start, it->second.end);
    }
  }

  bool MapsWritableShared(const memory::Mappable* object) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = vmas.begin(); it != vmas.end(); ++it) {
      const Vma& v = it->second.value;
      if (v.shm.get() == object && v.shared && (v.max_prot & PROT_WRITE)) return true;
    }
    return false;
  }

  // ---- Syscall pieces ----

  // Moves [old_addr, old_addr+old_len) of the VMA at old_addr to a free
  // [new_addr, new_addr+new_len), keeping its pages (mremap's move_vma).
  // old_len == 0 duplicates a shared mapping instead. Checks are done.
  uint64_t MoveVma(uint64_t old_addr, uint64_t old_len, uint64_t new_addr, uint64_t new_len,
                   bool dontunmap) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto vit = vmas.Find(old_addr);
    SCHECK(vit != vmas.end());
    const Vma nv = VmaTraits::Split(vit->second.value, vit->first, old_addr);
    const uint64_t moved = std::min(old_len, new_len);

    struct Moved {
      uint64_t start, end;
      Pma pma;
    };
    std::vector<Moved> moving;
    bool any_mapped = false;
    if (moved != 0) {
      UnmapMapped(old_addr, old_addr + old_len);
      uint64_t dropped = 0;
      pmas.RemoveRange(old_addr, old_addr + moved, [&](uint64_t s, uint64_t e, Pma& p) {
        moving.push_back(Moved{s, e, p});
        dropped += e - s;
      });
      rss -= dropped;
      for (const Moved& m : moving) any_mapped |= m.pma.mapped != kNotMapped;
      if (!dontunmap) {
        RemoveVmas(old_addr, old_addr + old_len);
      } else {
        // The old range stays mapped but empty; its lock goes with the pages.
        ChangeVmas(old_addr, old_addr + old_len, [](uint64_t, uint64_t, Vma& v) {
          v.locked = false;
          v.lock_onfault = false;
        });
      }
    }
    auto nit = InsertVma(new_addr, new_addr + new_len, nv);
    for (const Moved& m : moving) {
      Pma p = m.pma;
      p.mapped = kNotMapped;
      pmas.InsertAndMerge(new_addr + (m.start - old_addr), new_addr + (m.end - old_addr), p);
      AddRss(m.end - m.start);
    }
    if (any_mapped) MapRange(nit, new_addr, new_addr + moved);
    if (nv.locked && !nv.lock_onfault && new_len > moved) {
      (void)Populate(new_addr + moved, new_addr + new_len, false);
    }
    return new_addr;
  }

  // Linux's madvise_walk_vmas: visit(vit, start, end) for each mapped piece of
  // [start, end); ENOMEM at the end if part of it was unmapped. `visit` may
  // change the maps (iterators are looked up again).
  template <typename F>
  ErrnoOrOk WalkMapped(uint64_t start, uint64_t end, F&& visit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bool unmapped = false;
    uint64_t cur = start;
    while (true) {
      auto it = vmas.LowerBound(cur);
      if (it == vmas.end()) return Errno(ENOMEM);
      if (cur < it->first) {
        unmapped = true;
        cur = it->first;
        if (cur >= end) break;
      }
      const uint64_t seg_end = std::min(end, it->second.end);
      RETURN_IF_ERROR(visit(it, cur, seg_end));
      cur = seg_end;
      if (cur >= end) break;
    }
    return unmapped ? ErrnoOrOk(Errno(ENOMEM)) : Ok();
  }

  // Sets or clears VM_LOCKED on the VMAs covering [start, end) (Linux's
  // apply_vma_lock_flags): stops with ENOMEM at a hole, after the part before it.
  ErrnoOrOk ApplyLock(uint64_t start, uint64_t end, bool lock, bool onfault)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t covered = CoveredUpTo(start, end);
    if (covered > start) {
      if (!MapCountOk(vmas.size() + SplitsNeeded(start, covered))) return Errno(ENOMEM);
      ChangeVmas(start, covered, [&](uint64_t, uint64_t, Vma& v) {
        v.locked = lock;
        v.lock_onfault = lock && onfault;
      });
    }
    return covered < end ? ErrnoOrOk(Errno(ENOMEM)) : Ok();
  }

  uint64_t LockedIn(uint64_t start, uint64_t end) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t n = 0;
    for (auto it = vmas.LowerBound(start); it != vmas.end() && it->first < end; ++it) {
      if (it->second.value.locked) {
        n += std::min(end, it->second.end) - std::max(start, it->first);
      }
    }
    return n;
  }

  ErrnoOr<size_t> MincoreLocked(uint64_t addr, uint64_t length, std::span<uint8_t> vec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!IsPageAligned(addr)) return Errno(EINVAL);
    if (addr > layout.max_addr || length > layout.max_addr - addr) return Errno(ENOMEM);
    const uint64_t pages = length / kPageSize + (length % kPageSize != 0);
    const uint64_t n = std::min<uint64_t>(pages, vec.size());
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t a = addr + i * kPageSize;
      auto vit = vmas.Find(a);
      if (vit == vmas.end()) {
        if (i == 0) return Errno(ENOMEM);
        return i;
      }
      bool resident = pmas.Find(a) != pmas.end();
      const Vma& v = vit->second.value;
      if (!resident && v.shm) resident = v.shm->Has(v.shm_off + (a - vit->first));
      vec[i] = resident ? 1 : 0;
    }
    return n;
  }
};

void MemoryManager::Impl::Link::Unmap(const memory::Mappable* object, uint64_t from) {
  absl::MutexLock l(&mu);
  if (impl == nullptr) return;
  absl::MutexLock ml(&impl->mu);
  impl->UnmapObject(object, from);
}

bool MemoryManager::Impl::Link::MapsWritableShared(const memory::Mappable* object) {
  absl::MutexLock l(&mu);
  if (impl == nullptr) return false;
  absl::MutexLock ml(&impl->mu);
  return impl->MapsWritableShared(object);
}

// ---------------------------------------------------------------------------

MemoryManager::MemoryManager(memory::MemoryFile& mf, platform::AddressSpace* as,
                             const Layout& layout)
    : impl_(std::make_unique<Impl>(mf, as, layout)) {}

MemoryManager::~MemoryManager() {
  Impl& m = *impl_;
  {
    absl::MutexLock l(&m.link->mu);
    m.link->impl = nullptr;
  }
  absl::MutexLock lock(&m.mu);
  // Take every page back from the platform before its references go: the
  // address space may outlive us (exec). Failures here mean the stub is gone.
  uint64_t lo = ~uint64_t{0}, hi = 0;
  for (auto it = m.pmas.begin(); it != m.pmas.end(); ++it) {
    if (it->second.value.mapped == kNotMapped) continue;
    lo = std::min(lo, it->first);
    hi = std::max(hi, it->second.end);
  }
  if (m.as != nullptr && lo < hi) {
    absl::Status s = m.as->Unmap(lo, hi - lo);
    if (!s.ok()) SLOG(kWarning, "mm: Unmap(%#x, %#x) at teardown: %s", lo, hi - lo, s.ToString());
  }
  for (auto it = m.pmas.begin(); it != m.pmas.end(); ++it) {
    const Pma& p = it->second.value;
    if (!p.direct) m.mf.DecRef(FileRange{p.off, p.off + (it->second.end - it->first)});
  }
  m.pmas.clear();
  m.rss = 0;
  m.vmas.clear();  // drops shared-memory objects
}

const Layout& MemoryManager::layout() const { return impl_->layout; }

void MemoryManager::SetLayout(const Layout& layout) {
  absl::MutexLock lock(&impl_->mu);
  impl_->layout = layout;
}

void MemoryManager::SetLimits(const Limits& limits) {
  absl::MutexLock lock(&impl_->mu);
  impl_->limits = limits;
}

void MemoryManager::SetAddressSpace(platform::AddressSpace* as) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.as = as;
  // A new address space has nothing mapped yet.
  for (auto it = m.pmas.begin(); it != m.pmas.end(); ++it) it->second.value.mapped = kNotMapped;
  m.pmas.MergeRange(0, ~uint64_t{0});
}

// ---------------------------------------------------------------------------
// mmap / munmap / mprotect / mremap / brk

ErrnoOr<uint64_t> MemoryManager::Mmap(const MmapOpts& opts) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  int flags = opts.flags;
  const bool is_file = !(flags & kMapAnonymous);
  // NOTE: as a host without reserved huge pages answers.
  if ((flags & kMapHugeTlb) && !is_file) return Errno(ENOMEM);
  // The checks below come in do_mmap's order, so that the errno matches when
  // several are wrong at once.
  if (opts.length == 0) return Errno(EINVAL);
  const bool noreplace = flags & kMapFixedNoReplace;
  const bool fixed = (flags & kMapFixed) || noreplace;
  uint64_t addr = opts.addr;
  if (!fixed) {
    addr = PageRoundDown(addr);
    if (addr != 0 && addr < m.layout.min_addr) addr = PageRoundUp(m.layout.min_addr);
  }
  if (opts.length > ~uint64_t{0} - kPageSize) return Errno(ENOMEM);
  const uint64_t len = PageRoundUp(opts.length);
  if (is_file) {
    const uint64_t pgoff = opts.offset / kPageSize;
    if (pgoff + len / kPageSize < pgoff) return Errno(EOVERFLOW);
  }
  if (m.vmas.size() > m.limits.max_map_count) return Errno(ENOMEM);

  ASSIGN_OR_RETURN(addr, m.GetUnmappedArea(addr, len, fixed, flags & kMap32Bit));
  if (noreplace && m.vmas.Intersects(addr, addr + len)) return Errno(EEXIST);

  Vma v;
  v.prot = opts.prot & kProtRWX;
  // The Sentry's own special mappings ([vvar]) may forbid some protections
  // for good (Linux's VM_MAY* flags).
  if (v.prot & ~opts.max_prot) return Errno(EACCES);
  v.max_prot &= opts.max_prot;
  if (is_file) {
    // do_mmap's file checks, in its order.
    switch (flags & kMapType) {
      case kMapShared:
        flags &= kLegacyMapMask;  // MAP_SHARED ignores flags it does not know
        [[fallthrough]];
      case kMapSharedValidate:
        if (flags & ~kSharedValidateMask) return Errno(EOPNOTSUPP);
        if ((opts.prot & PROT_WRITE) && !opts.file_writable) return Errno(EACCES);
        if (!opts.file_writable) v.max_prot &= ~PROT_WRITE;
        [[fallthrough]];
      case kMapPrivate:
        if (!opts.file_readable) return Errno(EACCES);
        if (opts.noexec) {
          if (opts.prot & PROT_EXEC) return Errno(EPERM);
          v.max_prot &= ~PROT_EXEC;
        }
        if (opts.file == nullptr) return Errno(ENODEV);
        break;
      default:
        return Errno(EINVAL);
    }
    if ((flags & kMapType) == kMapSharedValidate) flags = (flags & ~kMapType) | kMapShared;
    if (flags & kMapHugeTlb) return Errno(EINVAL);
  }
  v.growsdown = flags & kMapGrowsDown;
  v.locked = (flags & kMapLocked) || m.def_locked;
  v.lock_onfault = v.locked && !(flags & kMapLocked) && m.def_onfault;
  v.name = opts.name;
  if ((flags & kMapLocked) && !m.CanDoMlock()) return Errno(EPERM);
  if (!m.MlockFutureOk(v.locked, len)) return Errno(EAGAIN);
  switch (flags & kMapType) {
    case kMapShared:
      if (v.growsdown) return Errno(EINVAL);
      v.shared = true;
      break;
    case kMapDroppable:
      // Pages that may vanish: never locked, never a stack, never inherited.
      if (flags & (kMapLocked | kMapHugeTlb) || v.growsdown) return Errno(EINVAL);
      v.wipeonfork = true;
      break;
    case kMapPrivate:
      break;
    default:
      // Includes MAP_SHARED_VALIDATE: Linux accepts it for files only.
      return Errno(EINVAL);
  }

  // What a MAP_FIXED mapping replaces no longer counts against the limits.
  uint64_t freed = 0, freed_data = 0;
  for (auto it = m.vmas.LowerBound(addr); it != m.vmas.end() && it->first < addr + len; ++it) {
    uint64_t n = std::min(addr + len, it->second.end) - std::max(addr, it->first);
    freed += n;
    if (IsData(it->second.value)) freed_data += n;
  }
  if (!m.MayExpand(v, len, freed, freed_data)) return Errno(ENOMEM);
  if (!m.MapCountOk(m.CountAfterRemoval(addr, addr + len) + 1)) return Errno(ENOMEM);

  if (is_file) {
    v.shm = opts.file;
    v.shm_off = opts.offset;
    v.dev = opts.dev;
    v.ino = opts.ino;
  } else if (v.shared) {
    v.shm = std::make_shared<SharedMemory>(m.mf, len);
  }
  const bool populate =
      (v.locked && !v.lock_onfault) || (flags & (kMapPopulate | kMapNonBlock)) == kMapPopulate;
  if (freed != 0) m.RemoveVmas(addr, addr + len);
  m.InsertVma(addr, addr + len, std::move(v));
  if (populate) (void)m.Populate(addr, addr + len, false);  // best effort, as in Linux
  return addr;
}

ErrnoOrOk MemoryManager::Munmap(uint64_t addr, uint64_t length) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (!IsPageAligned(addr) || addr > m.layout.max_addr || length > m.layout.max_addr - addr) {
    return Errno(EINVAL);
  }
  const uint64_t len = PageRoundUp(length);
  if (len == 0) return Errno(EINVAL);
  if (!m.MapCountOk(m.CountAfterRemoval(addr, addr + len))) return Errno(ENOMEM);
  m.RemoveVmas(addr, addr + len);
  return Ok();
}

ErrnoOrOk MemoryManager::Mprotect(uint64_t addr, uint64_t length, int prot) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  const int grows = prot & (kProtGrowsDown | kProtGrowsUp);
  prot &= ~(kProtGrowsDown | kProtGrowsUp);
  if (grows == (kProtGrowsDown | kProtGrowsUp)) return Errno(EINVAL);
  if (!IsPageAligned(addr)) return Errno(EINVAL);
  if (length == 0) return Ok();
  const uint64_t len = PageRoundUp(length);
  uint64_t start = addr, end = addr + len;
  if (len == 0 || end <= start) return Errno(ENOMEM);
  if (prot & ~(kProtRWX | kProtSem)) return Errno(EINVAL);
  prot &= kProtRWX;

  auto vit = m.vmas.LowerBound(start);
  if (vit == m.vmas.end() || vit->first >= end) return Errno(ENOMEM);
  if (grows & kProtGrowsDown) {
    start = vit->first;
    if (!vit->second.value.growsdown) return Errno(EINVAL);
  } else {
    if (vit->first > start) return Errno(ENOMEM);
    if (grows & kProtGrowsUp) return Errno(EINVAL);  // x86 has no growsup VMAs
  }

  // Linux changes the VMAs up to the first hole, then fails with ENOMEM.
  const uint64_t covered = m.CoveredUpTo(start, end);
  uint64_t new_data = 0;
  for (auto it = m.vmas.LowerBound(start); it != m.vmas.end() && it->first < covered; ++it) {
    const Vma& v = it->second.value;
    if ((prot & ~v.max_prot) != 0) return Errno(EACCES);
    Vma nv = v;
    nv.prot = prot;
    if (IsData(nv) && !IsData(v)) {
      new_data += std::min(covered, it->second.end) - std::max(start, it->first);
    }
  }
  if (new_data != 0 && !m.DataOk(m.data_vm + new_data)) return Errno(ENOMEM);
  if (!m.MapCountOk(m.vmas.size() + m.SplitsNeeded(start, covered))) return Errno(ENOMEM);

  m.ChangeVmas(start, covered, [prot](uint64_t, uint64_t, Vma& v) { v.prot = prot; });
  // Taking rights away must reach the platform now; granting them can wait
  // for the fault path.
  m.Downgrade(start, covered, EffectiveProt(prot));
  return covered < end ? ErrnoOrOk(Errno(ENOMEM)) : Ok();
}

ErrnoOr<uint64_t> MemoryManager::Mremap(uint64_t old_addr, uint64_t old_length, uint64_t new_length,
                                        int flags, uint64_t new_addr) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (flags & ~(kMremapMayMove | kMremapFixed | kMremapDontUnmap)) return Errno(EINVAL);
  if ((flags & kMremapFixed) && !(flags & kMremapMayMove)) return Errno(EINVAL);
  if ((flags & kMremapDontUnmap) && (!(flags & kMremapMayMove) || old_length != new_length)) {
    return Errno(EINVAL);
  }
  if (!IsPageAligned(old_addr)) return Errno(EINVAL);
  if (old_length > m.layout.max_addr || new_length > m.layout.max_addr) return Errno(EINVAL);
  uint64_t old_len = PageRoundUp(old_length);
  const uint64_t new_len = PageRoundUp(new_length);
  if (new_len == 0) return Errno(EINVAL);

  auto vit = m.vmas.Find(old_addr);
  if (vit == m.vmas.end()) return Errno(EFAULT);
  if (old_len == 0 && !vit->second.value.shared) return Errno(EINVAL);

  // Linux's vma_to_resize: the old range must sit in one VMA, and growth must
  // fit the limits. Returns the VMA's attributes.
  auto resize_checks = [&](uint64_t olen, uint64_t nlen) MM_LOCKED_LAMBDA -> ErrnoOr<Vma> {
    auto it = m.vmas.Find(old_addr);
    if (it == m.vmas.end()) return Errno(EFAULT);
    if (olen > it->second.end - old_addr) return Errno(EFAULT);
    const Vma& v = it->second.value;
    if (nlen > olen) {
      if (!m.MlockFutureOk(v.locked, nlen - olen)) return Errno(EAGAIN);
      if (!m.MayExpand(v, nlen - olen)) return Errno(ENOMEM);
    }
    return v;
  };

  if (flags & (kMremapFixed | kMremapDontUnmap)) {
    // mremap_to.
    const bool fixed = flags & kMremapFixed;
    if (!IsPageAligned(new_addr)) return Errno(EINVAL);
    if (new_len > m.layout.max_addr || new_addr > m.layout.max_addr - new_len) {
      return Errno(EINVAL);
    }
    if (old_addr + old_len > new_addr && new_addr + new_len > old_addr) return Errno(EINVAL);
    // Linux keeps headroom for the splits a move may need.
    if (m.vmas.size() + 5 >= m.limits.max_map_count) return Errno(ENOMEM);
    if (fixed) {
      if (new_addr < m.layout.min_addr) return Errno(EPERM);
      m.RemoveVmas(new_addr, new_addr + new_len);
    }
    if (old_len > new_len) {
      m.RemoveVmas(old_addr + new_len, old_addr + old_len);
      old_len = new_len;
    }
    ASSIGN_OR_RETURN(Vma v, resize_checks(old_len, new_len));
    if ((flags & kMremapDontUnmap) && !m.MayExpand(v, old_len)) return Errno(ENOMEM);
    uint64_t dest = new_addr;
    if (!fixed) {
      ASSIGN_OR_RETURN(dest, m.GetUnmappedArea(new_addr, new_len, false, false));
    }
    return m.MoveVma(old_addr, old_len, dest, new_len, flags & kMremapDontUnmap);
  }

  if (old_len != 0 && old_len >= new_len) {
    // Shrinking always works: unmap the tail.
    if (old_len > new_len) {
      if (!m.MapCountOk(m.CountAfterRemoval(old_addr + new_len, old_addr + old_len))) {
        return Errno(ENOMEM);
      }
      m.RemoveVmas(old_addr + new_len, old_addr + old_len);
    }
    return old_addr;
  }

  ASSIGN_OR_RETURN(Vma v, resize_checks(old_len, new_len));
  auto it = m.vmas.Find(old_addr);
  if (old_len != 0 && old_addr + old_len == it->second.end) {
    // Grow in place if the space after the VMA is free.
    const uint64_t grow_end = old_addr + new_len;
    if (grow_end <= m.layout.max_addr && !m.vmas.Intersects(it->second.end, grow_end)) {
      Vma ext = VmaTraits::Split(it->second.value, it->first, it->second.end);
      const uint64_t from = it->second.end;
      m.InsertVma(from, grow_end, ext);
      if (v.locked && !v.lock_onfault) (void)m.Populate(from, grow_end, false);
      return old_addr;
    }
  }
  if (!(flags & kMremapMayMove)) return Errno(ENOMEM);
  if (!m.MapCountOk(m.CountAfterRemoval(old_addr, old_addr + old_len) + 1)) return Errno(ENOMEM);
  ASSIGN_OR_RETURN(uint64_t dest, m.GetUnmappedArea(0, new_len, false, false));
  return m.MoveVma(old_addr, old_len, dest, new_len, false);
}

void MemoryManager::SetBrkStart(uint64_t start) {
  absl::MutexLock lock(&impl_->mu);
  impl_->brk_start = impl_->brk = start;
}

uint64_t MemoryManager::Brk(uint64_t addr) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  const uint64_t old = m.brk;
  if (addr < m.brk_start || addr > m.layout.max_addr) return old;
  if (addr - m.brk_start > m.limits.data) return old;
  const uint64_t newbrk = PageRoundUp(addr), oldbrk = PageRoundUp(old);
  if (newbrk == oldbrk) {
    m.brk = addr;
    return addr;
  }
  if (addr <= old) {
    // Shrinking always works (it unmaps whatever is there, as Linux does).
    if (!m.MapCountOk(m.CountAfterRemoval(newbrk, oldbrk))) return old;
    m.RemoveVmas(newbrk, oldbrk);
    m.brk = addr;
    return addr;
  }
  // Growing: the heap must not run into the next mapping (keeping one page,
  // and a stack's guard gap, free above it).
  if (oldbrk < m.layout.min_addr) return old;
  auto next = m.vmas.LowerBound(oldbrk);
  if (next != m.vmas.end() && newbrk + kPageSize > Impl::StartGap(next)) return old;
  Vma v;
  v.prot = PROT_READ | PROT_WRITE;
  v.name = "[heap]";
  v.locked = m.def_locked;
  v.lock_onfault = m.def_locked && m.def_onfault;
  if (!m.MayExpand(v, newbrk - oldbrk)) return old;
  if (!m.MlockFutureOk(v.locked, newbrk - oldbrk)) return old;
  if (!m.MapCountOk(m.vmas.size() + 1)) return old;
  m.InsertVma(oldbrk, newbrk, v);
  m.brk = addr;
  if (v.locked && !v.lock_onfault) (void)m.Populate(oldbrk, newbrk, false);
  return addr;
}

// ---------------------------------------------------------------------------
// madvise / mincore / msync / mlock

ErrnoOrOk MemoryManager::Madvise(uint64_t addr, uint64_t length, int advice) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  switch (advice) {
    case kMadvNormal:
    case kMadvRandom:
    case kMadvSequential:
    case kMadvWillNeed:
    case kMadvDontNeed:
    case kMadvFree:
    case kMadvRemove:
    case kMadvDontFork:
    case kMadvDoFork:
    case kMadvMergeable:
    case kMadvUnmergeable:
    case kMadvHugePage:
    case kMadvNoHugePage:
    case kMadvDontDump:
    case kMadvDoDump:
    case kMadvWipeOnFork:
    case kMadvKeepOnFork:
    case kMadvCold:
    case kMadvPageOut:
    case kMadvPopulateRead:
    case kMadvPopulateWrite:
    case kMadvDontNeedLocked:
    case kMadvCollapse:
    case kMadvHwPoison:
    case kMadvSoftOffline:
      break;
    default:
      // TODO(mm): MADV_GUARD_INSTALL/REMOVE (Linux 6.13); EINVAL makes callers
      // fall back to PROT_NONE guard pages, as on older kernels.
      return Errno(EINVAL);
  }
  if (!IsPageAligned(addr)) return Errno(EINVAL);
  const uint64_t len = PageRoundUp(length);
  if (length != 0 && len == 0) return Errno(EINVAL);
  const uint64_t end = addr + len;
  if (end < addr) return Errno(EINVAL);
  if (advice == kMadvHwPoison || advice == kMadvSoftOffline) return Errno(EPERM);
  if (end == addr) return Ok();

  auto set_flags = [&](auto&& fn) MM_LOCKED_LAMBDA {
    return m.WalkMapped(addr, end,
                        [&](VmaIter, uint64_t s, uint64_t e) MM_LOCKED_LAMBDA -> ErrnoOrOk {
                          if (!m.MapCountOk(m.vmas.size() + m.SplitsNeeded(s, e)))
                            return Errno(ENOMEM);
                          m.ChangeVmas(s, e, [&](uint64_t, uint64_t, Vma& v) { fn(v); });
                          return Ok();
                        });
  };

  switch (advice) {
    case kMadvDontNeed:
    case kMadvDontNeedLocked:
    case kMadvFree:
      // Private pages are dropped (the next touch reads zeros); shared ones stay
      // in their object and are only unmapped here. MADV_FREE may drop at once.
      return m.WalkMapped(addr, end,
                          [&](VmaIter it, uint64_t s, uint64_t e) MM_LOCKED_LAMBDA -> ErrnoOrOk {
                            const Vma& v = it->second.value;
                            if (v.locked && advice != kMadvDontNeedLocked) return Errno(EINVAL);
                            if (advice == kMadvFree && v.shared) return Errno(EINVAL);
                            m.DropPmas(s, e);
                            return Ok();
                          });
    case kMadvRemove:
      return m.WalkMapped(
          addr, end, [&](VmaIter it, uint64_t s, uint64_t e) MM_LOCKED_LAMBDA -> ErrnoOrOk {
            const Vma& v = it->second.value;
            if (v.locked || !v.shm) return Errno(EINVAL);
            if (!v.shared || !(v.prot & PROT_WRITE)) return Errno(EACCES);
            const uint64_t oe = std::min(e, Impl::ObjectEnd(it));
            if (s < oe) {
              RETURN_IF_ERROR(
                  v.shm->Zero(v.shm_off + (s - it->first), v.shm_off + (oe - it->first)));
            }
            return Ok();
          });
    case kMadvDontFork:
      return set_flags([](Vma& v) { v.dontfork = true; });
    case kMadvDoFork:
      return set_flags([](Vma& v) { v.dontfork = false; });
    case kMadvWipeOnFork:
      return m.WalkMapped(
          addr, end, [&](VmaIter it, uint64_t s, uint64_t e) MM_LOCKED_LAMBDA -> ErrnoOrOk {
            if (it->second.value.shared) return Errno(EINVAL);
            if (!m.MapCountOk(m.vmas.size() + m.SplitsNeeded(s, e))) return Errno(ENOMEM);
            m.ChangeVmas(s, e, [](uint64_t, uint64_t, Vma& v) { v.wipeonfork = true; });
            return Ok();
          });
    case kMadvKeepOnFork:
      return set_flags([](Vma& v) { v.wipeonfork = false; });
    case kMadvCold:
    case kMadvPageOut:
      return m.WalkMapped(addr, end,
                          [&](VmaIter it, uint64_t, uint64_t) MM_LOCKED_LAMBDA -> ErrnoOrOk {
                            return it->second.value.locked ? ErrnoOrOk(Errno(EINVAL)) : Ok();
                          });
    case kMadvPopulateRead:
    case kMadvPopulateWrite:
      return m.WalkMapped(addr, end,
                          [&](VmaIter it, uint64_t s, uint64_t e) MM_LOCKED_LAMBDA -> ErrnoOrOk {
                            const int eff = EffectiveProt(it->second.value.prot);
                            const int need = advice == kMadvPopulateWrite ? PROT_WRITE : PROT_READ;
                            if (!(eff & need)) return Errno(EINVAL);
                            if (s >= Impl::ObjectEnd(it)) return Errno(EFAULT);
                            if (!m.Populate(s, e, advice == kMadvPopulateWrite).ok())
                              return Errno(ENOMEM);
                            return Ok();
                          });
    default:
      // NORMAL, RANDOM, SEQUENTIAL, WILLNEED, (UN)MERGEABLE, (NO)HUGEPAGE,
      // COLLAPSE, DONTDUMP, DODUMP: hints with no effect on anonymous memory
      // here, but the range must be mapped.
      return m.WalkMapped(addr, end, [](VmaIter, uint64_t, uint64_t) { return Ok(); });
  }
}

ErrnoOr<size_t> MemoryManager::Mincore(uint64_t addr, uint64_t length, std::span<uint8_t> vec) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->MincoreLocked(addr, length, vec);
}

ErrnoOr<std::vector<uint8_t>> MemoryManager::Mincore(uint64_t addr, uint64_t length) {
  absl::MutexLock lock(&impl_->mu);
  if (!IsPageAligned(addr)) return Errno(EINVAL);
  const uint64_t pages = length / kPageSize + (length % kPageSize != 0);
  if (pages > kMaxMincorePages) return Errno(ENOMEM);
  std::vector<uint8_t> vec(pages);
  ASSIGN_OR_RETURN(size_t n, impl_->MincoreLocked(addr, length, vec));
  if (n < pages) return Errno(ENOMEM);
  return vec;
}

ErrnoOrOk MemoryManager::Msync(uint64_t addr, uint64_t length, int flags) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (flags & ~(kMsAsync | kMsInvalidate | kMsSync)) return Errno(EINVAL);
  if (!IsPageAligned(addr)) return Errno(EINVAL);
  if ((flags & kMsAsync) && (flags & kMsSync)) return Errno(EINVAL);
  // Linux rounds first: a length that wraps to 0 is a no-op.
  const uint64_t len = PageRoundUp(length);
  const uint64_t end = addr + len;
  if (end < addr) return Errno(ENOMEM);
  if (end == addr) return Ok();
  bool unmapped = false;
  uint64_t cur = addr;
  while (true) {
    auto it = m.vmas.LowerBound(cur);
    if (it == m.vmas.end()) return Errno(ENOMEM);
    if (cur < it->first) {
      if (flags == kMsAsync) return Errno(ENOMEM);
      cur = it->first;
      if (cur >= end) return Errno(ENOMEM);
      unmapped = true;
    }
    const Vma& v = it->second.value;
    if ((flags & kMsInvalidate) && v.locked) return Errno(EBUSY);
    if ((flags & kMsSync) && v.shared && v.shm) {
      const uint64_t s = std::max(cur, it->first), e = std::min(end, it->second.end);
      RETURN_IF_ERROR(v.shm->WriteBack(v.shm_off + (s - it->first), v.shm_off + (e - it->first)));
    }
    cur = it->second.end;
    if (cur >= end) break;
  }
  return unmapped ? ErrnoOrOk(Errno(ENOMEM)) : Ok();
}

ErrnoOrOk MemoryManager::Mlock(uint64_t addr, uint64_t length, int flags) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (flags & ~kMlockOnFault) return Errno(EINVAL);
  if (!m.CanDoMlock()) return Errno(EPERM);
  const uint64_t len = (length + (addr & (kPageSize - 1)) + kPageSize - 1) & ~(kPageSize - 1);
  const uint64_t start = PageRoundDown(addr);
  const uint64_t end = start + len;
  if (end < start) return Errno(EINVAL);
  if (end == start) return Ok();
  if (!m.limits.can_ipc_lock) {
    uint64_t locked = m.locked_vm + len;
    if (locked > m.limits.memlock) locked -= m.LockedIn(start, end);
    if (locked > m.limits.memlock) return Errno(ENOMEM);
  }
  RETURN_IF_ERROR(m.ApplyLock(start, end, true, flags & kMlockOnFault));
  if (!(flags & kMlockOnFault)) {
    if (!m.Populate(start, end, false).ok()) return Errno(EAGAIN);
    // Linux marks PROT_NONE memory locked but cannot fault it in: ENOMEM.
    for (auto it = m.vmas.LowerBound(start); it != m.vmas.end() && it->first < end; ++it) {
      if (it->second.value.prot == PROT_NONE) return Errno(ENOMEM);
    }
  }
  return Ok();
}

ErrnoOrOk MemoryManager::Munlock(uint64_t addr, uint64_t length) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  const uint64_t len = (length + (addr & (kPageSize - 1)) + kPageSize - 1) & ~(kPageSize - 1);
  const uint64_t start = PageRoundDown(addr);
  const uint64_t end = start + len;
  if (end < start) return Errno(EINVAL);
  if (end == start) return Ok();
  return m.ApplyLock(start, end, false, false);
}

ErrnoOrOk MemoryManager::Mlockall(int flags) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (flags == 0 || (flags & ~(kMclCurrent | kMclFuture | kMclOnFault)) || flags == kMclOnFault) {
    return Errno(EINVAL);
  }
  if (!m.CanDoMlock()) return Errno(EPERM);
  if ((flags & kMclCurrent) && !m.limits.can_ipc_lock && m.total_vm > m.limits.memlock) {
    return Errno(ENOMEM);
  }
  m.def_locked = flags & kMclFuture;
  m.def_onfault = (flags & kMclFuture) && (flags & kMclOnFault);
  if (flags & kMclCurrent) {
    const bool onfault = flags & kMclOnFault;
    m.ChangeVmas(0, ~uint64_t{0}, [onfault](uint64_t, uint64_t, Vma& v) {
      v.locked = true;
      v.lock_onfault = onfault;
    });
    if (!onfault) (void)m.Populate(0, m.layout.max_addr, false);  // best effort, as Linux
  }
  return Ok();
}

ErrnoOrOk MemoryManager::Munlockall() {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.def_locked = m.def_onfault = false;
  m.ChangeVmas(0, ~uint64_t{0}, [](uint64_t, uint64_t, Vma& v) {
    v.locked = false;
    v.lock_onfault = false;
  });
  return Ok();
}

// ---------------------------------------------------------------------------
// Faults and copies

FaultResult MemoryManager::HandleFault(uint64_t addr, uint32_t access) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->Fault(addr, access);
}

CopyResult MemoryManager::CopyIn(UserAddr src, std::span<uint8_t> dst) {
  absl::MutexLock lock(&impl_->mu);
  uint8_t* out = dst.data();
  return impl_->Walk(src.value(), dst.size(), Access::kRead, [&out](uint8_t* p, uint64_t n) {
    memcpy(out, p, n);
    out += n;
    return true;
  });
}

CopyResult MemoryManager::CopyOut(UserAddr dst, std::span<const uint8_t> src) {
  absl::MutexLock lock(&impl_->mu);
  const uint8_t* in = src.data();
  return impl_->Walk(dst.value(), src.size(), Access::kWrite, [&in](uint8_t* p, uint64_t n) {
    memcpy(p, in, n);
    in += n;
    return true;
  });
}

CopyResult MemoryManager::CopyOutForce(UserAddr dst, std::span<const uint8_t> src) {
  absl::MutexLock lock(&impl_->mu);
  const uint8_t* in = src.data();
  return impl_->Walk(dst.value(), src.size(), Access::kForceWrite, [&in](uint8_t* p, uint64_t n) {
    memcpy(p, in, n);
    in += n;
    return true;
  });
}

CopyResult MemoryManager::ZeroOut(UserAddr dst, size_t length) {
  absl::MutexLock lock(&impl_->mu);
  return impl_->Walk(dst.value(), length, Access::kWrite, [](uint8_t* p, uint64_t n) {
    memset(p, 0, n);
    return true;
  });
}

ErrnoOr<std::string> MemoryManager::CopyInString(UserAddr src, size_t max_length) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  std::string out;
  uint64_t cur = src.value();
  // A page at a time, so that nothing past the terminator is touched.
  while (out.size() < max_length) {
    const uint64_t n =
        std::min<uint64_t>(PageRoundDown(cur) + kPageSize - cur, max_length - out.size());
    bool found = false;
    CopyResult r = m.Walk(cur, n, Access::kRead, [&](uint8_t* p, uint64_t k) {
      const void* nul = memchr(p, 0, k);
      const uint64_t take = nul ? static_cast<const uint8_t*>(nul) - p : k;
      out.append(reinterpret_cast<const char*>(p), take);
      found = nul != nullptr;
      return !found;
    });
    if (found) return out;
    if (!r.ok()) return Errno(EFAULT);
    cur += n;
  }
  return Errno(ENAMETOOLONG);
}

CopyResult MemoryManager::InternalIovecs(UserAddr addr, size_t length, bool write,
                                         std::vector<iovec>* out) {
  absl::MutexLock lock(&impl_->mu);
  out->clear();
  return impl_->Walk(addr.value(), length, write ? Access::kWrite : Access::kRead,
                     [out](uint8_t* p, uint64_t n) {
                       if (!out->empty() &&
                           static_cast<uint8_t*>(out->back().iov_base) + out->back().iov_len == p) {
                         out->back().iov_len += n;
                       } else {
                         out->push_back(iovec{p, n});
                       }
                       return true;
                     });
}

// ---------------------------------------------------------------------------
// Futexes

ErrnoOr<FutexKey> MemoryManager::FutexKeyAt(UserAddr addr, bool is_private, bool write) {
  const uint64_t a = addr.value();
  if (!AccessOk(a, sizeof(uint32_t))) return Errno(EFAULT);
  if (is_private) return FutexKey{FutexKey::Kind::kPrivate, this, a, nullptr};
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  const uint64_t page = PageRoundDown(a);
  auto vit = m.vmas.Find(page);
  if (vit == m.vmas.end()) return Errno(EFAULT);
  const Vma& v = vit->second.value;
  const int eff = EffectiveProt(v.prot);
  // get_user_pages: FOLL_WRITE first, then (for a read) a read-only lookup.
  const bool writable = (eff & PROT_WRITE) != 0;
  if (!(eff & PROT_READ) || (write && !writable)) return Errno(EFAULT);
  if (page >= Impl::ObjectEnd(vit)) return Errno(EFAULT);
  if (!v.shared && !writable && !v.shm) return Errno(EFAULT);  // read-only anonymous
  RETURN_IF_ERROR(m.EnsureBacked(vit, page, page + kPageSize));
  if (v.shm && (v.shared || !writable)) {
    const uint64_t off = v.shm_off + (a - vit->first);
    return FutexKey{FutexKey::Kind::kObject, v.shm.get(), off, v.shm};
  }
  if (!v.shared) RETURN_IF_ERROR(m.BreakCow(vit, page, page + kPageSize));
  return FutexKey{FutexKey::Kind::kSharedMm, this, a, nullptr};
}

ErrnoOrOk MemoryManager::WithWord(UserAddr addr, bool write,
                                  absl::FunctionRef<void(uint32_t*)> fn) {
  if (addr.value() % sizeof(uint32_t) != 0) return Errno(EINVAL);
  absl::MutexLock lock(&impl_->mu);
  CopyResult r = impl_->Walk(addr.value(), sizeof(uint32_t), write ? Access::kWrite : Access::kRead,
                             [&fn](uint8_t* p, uint64_t) {
                               fn(reinterpret_cast<uint32_t*>(p));
                               return true;
                             });
  return r.ok() ? Ok() : ErrnoOrOk(r.err);
}

// ---------------------------------------------------------------------------
// fork

std::unique_ptr<MemoryManager> MemoryManager::Fork(platform::AddressSpace* as) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  auto child = std::make_unique<MemoryManager>(m.mf, as, m.layout);
  Impl& c = *child->impl_;
  absl::MutexLock child_lock(&c.mu);
  c.limits = m.limits;
  c.brk_start = m.brk_start;
  c.brk = m.brk;
  // NOTE: mlock and mlockall(MCL_FUTURE) are not inherited (fork(2)).
  for (auto vit = m.vmas.begin(); vit != m.vmas.end(); ++vit) {
    const uint64_t start = vit->first, end = vit->second.end;
    Vma v = vit->second.value;
    if (v.dontfork) continue;
    v.locked = v.lock_onfault = false;
    c.InsertVma(start, end, v);
    if (v.wipeonfork) continue;
    for (auto pit = m.pmas.IsolateRange(start, end); pit != m.pmas.end() && pit->first < end;
         ++pit) {
      Pma& p = pit->second.value;
      if (!p.direct) m.mf.IncRef(FileRange{p.off, p.off + (pit->second.end - pit->first)});
      if (!v.shared) p.cow = true;
      c.pmas.InsertAndMerge(pit->first, pit->second.end, Pma{p.off, p.cow, kNotMapped, p.direct});
      c.AddRss(pit->second.end - pit->first);
    }
  }
  // Writable private pages the parent has mapped lose PROT_WRITE, so that the
  // next write faults and copies.
  m.Downgrade(0, ~uint64_t{0}, kProtRWX);
  m.pmas.MergeRange(0, ~uint64_t{0});
  return child;
}

// ---------------------------------------------------------------------------
// Introspection

std::shared_ptr<memory::Mappable> NewSharedMemory(memory::MemoryFile& mf, uint64_t size) {
  return std::make_shared<SharedMemory>(mf, size);
}

std::vector<MemoryManager::VmaInfo> MemoryManager::Vmas() const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<VmaInfo> out;
  out.reserve(impl_->vmas.size());
  for (auto it = impl_->vmas.begin(); it != impl_->vmas.end(); ++it) {
    const Vma& v = it->second.value;
    VmaInfo info{it->first, it->second.end, v.prot, v.shared, v.growsdown, v.name};
    if (v.shm && (v.dev || v.ino)) {
      info.offset = v.shm_off;
      info.dev = v.dev;
      info.ino = v.ino;
    }
    info.object = v.shm.get();
    info.locked = v.locked;
    for (auto p = impl_->pmas.LowerBound(it->first);
         p != impl_->pmas.end() && p->first < it->second.end; ++p) {
      info.resident += std::min(p->second.end, it->second.end) - std::max(p->first, it->first);
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<MemoryManager::VmaInfo> MemoryManager::VmaAt(uint64_t addr) const {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->vmas.Find(addr);
  if (it == impl_->vmas.end()) return std::nullopt;
  const Vma& v = it->second.value;
  VmaInfo info{it->first, it->second.end, v.prot, v.shared, v.growsdown, v.name};
  info.object = v.shm.get();
  info.locked = v.locked;
  return info;
}

bool MemoryManager::AnyVmaIn(uint64_t start, uint64_t end) const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->vmas.Intersects(start, end);
}

uint64_t MemoryManager::VirtualSize() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->total_vm;
}

uint64_t MemoryManager::ResidentBytes() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->rss;
}

uint64_t MemoryManager::PeakResidentBytes() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->hiwater_rss;
}

uint64_t MemoryManager::CountResidentBytesForTest() const {
  absl::MutexLock lock(&impl_->mu);
  uint64_t n = 0;
  for (auto it = impl_->pmas.begin(); it != impl_->pmas.end(); ++it) {
    n += it->second.end - it->first;
  }
  return n;
}

uint64_t MemoryManager::LockedBytes() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->locked_vm;
}

uint64_t MemoryManager::brk() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->brk;
}

}  // namespace sentry::mm
