// A page cache for a file whose data lives outside the Sentry (a host file the
// gofer donated): pages are read into the memory file on first use and shared
// by every mapping of the file, so that mmap maps memory-file pages as it does
// for tmpfs (DESIGN.md §5, §8).
//
// Coherence with read(2)/write(2), which go to the host fd directly:
//  - a write updates the pages already cached (NoteWrite), so mappings see it;
//  - pages handed to a shared writable mapping are "writable"; they are written
//    back on msync(MS_SYNC), before a read of the file (FlushForRead), and when
//    the cache goes away. Between those, the host file may lag the mapping, as
//    with Linux's own write-back (but reads inside the sandbox never do).
// Lock order: PageCache::mu_ is taken after the MemoryManager's lock (faults
// call Get) and before the MemoryFile's.
#ifndef SENTRY_VFS_PAGE_CACHE_H_
#define SENTRY_VFS_PAGE_CACHE_H_

#include <sys/uio.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/memory/mappable.h"
#include "sentry/memory/memory_file.h"

namespace sentry::vfs {

// Where the cached data lives.
class CacheBacking {
 public:
  virtual ~CacheBacking() = default;
  // Short reads mean end of file.
  virtual ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) = 0;
  virtual ErrnoOr<size_t> WriteAt(std::span<const uint8_t> src, uint64_t offset) = 0;
  virtual ErrnoOr<uint64_t> Size() = 0;
};

class PageCache : public memory::Mappable {
 public:
  // `direct`: the backing's host file, when nothing in the sandbox can change
  // it (a read-only mount): private mappings then map it directly.
  PageCache(memory::MemoryFile& mf, std::shared_ptr<CacheBacking> backing,
            std::shared_ptr<const platform::HostFile> direct = nullptr);
  // Writes back what shared mappings may have changed, then frees the pages
  // (mappings keep their own references).
  ~PageCache() override;

  // --- memory::Mappable ---
  uint64_t Size() const override;
  ErrnoOrOk Get(uint64_t start, uint64_t end, bool writable,
                std::vector<std::pair<uint64_t, memory::FileRange>>* out) override;
  bool Has(uint64_t offset) const override;
  std::shared_ptr<const platform::HostFile> DirectFile() const override { return direct_; }
  ErrnoOrOk Zero(uint64_t start, uint64_t end) override;
  ErrnoOrOk WriteBack(uint64_t start, uint64_t end) override;

  // --- Keeping read/write through the host fd coherent. ---
  // `src` (Sentry addresses) was just written to the backing at `offset`.
  void NoteWrite(std::span<const iovec> src, uint64_t offset, size_t written);
  // Writes back writable pages in [offset, offset + length) before a read.
  ErrnoOrOk FlushForRead(uint64_t offset, uint64_t length);
  // The file was truncated to `size`: pages past it leave the cache, the tail
  // of the last one is zeroed.
  void Truncate(uint64_t size);
  void TruncateCache(uint64_t size);

  size_t CachedPages() const;

 private:
  ErrnoOrOk WriteBackLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads file bytes [start, end) (page-aligned, none cached) into new pages;
  // the first is returned. Fewer pages than asked when the memory file is
  // fragmented.
  ErrnoOr<std::map<uint64_t, uint64_t>::iterator> FillLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the cache's reference on pages [first, last) and forgets them.
  void ReleaseLocked(std::map<uint64_t, uint64_t>::iterator first,
                     std::map<uint64_t, uint64_t>::iterator last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  memory::MemoryFile& mf_;
  const std::shared_ptr<CacheBacking> backing_;
  const std::shared_ptr<const platform::HostFile> direct_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);  // file page -> memory-file offset
  std::set<uint64_t> writable_ ABSL_GUARDED_BY(mu_);         // pages shared writable mappings hold
};

}  // namespace sentry::vfs

#endif  // SENTRY_VFS_PAGE_CACHE_H_
