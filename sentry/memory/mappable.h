// Something guest memory can map: an object whose pages live in the memory
// file, shared by every mapping of it (DESIGN.md §5). The anonymous shared
// memory of MAP_SHARED|MAP_ANONYMOUS, a tmpfs file and a host file's page
// cache are Mappables; the memory manager maps their pages directly (shared
// mappings) or copy-on-write (private ones).
#ifndef SENTRY_MEMORY_MAPPABLE_H_
#define SENTRY_MEMORY_MAPPABLE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/memory/memory_file.h"

namespace sentry::memory {

class Mappable;

// Something that maps a Mappable's pages (a memory manager), as the object
// sees it: Linux's address_space->i_mmap walk. Calls may come from any thread
// and must not be made with the object's own lock held (the mapper's lock
// comes first: a fault asks the object for its pages).
class Mapper {
 public:
  virtual ~Mapper() = default;
  // The object shrank: drop every page of it from object offset `from`
  // (page-aligned) on, shared ones and private copies alike
  // (unmap_mapping_range with even_cows), so touching them is SIGBUS.
  virtual void Unmap(const Mappable* object, uint64_t from) = 0;
  // Whether a shared mapping of the object may write it (VM_SHARED with
  // VM_MAYWRITE): F_SEAL_WRITE is EBUSY then.
  virtual bool MapsWritableShared(const Mappable* object) = 0;
};

class Mappable {
 public:
  virtual ~Mappable() = default;

  // --- Who maps the object (kept by the memory managers). ---
  // Records `m` (idempotent); forgotten once it expires.
  void AddMapper(const std::shared_ptr<Mapper>& m) {
    absl::MutexLock l(&mappers_mu_);
    std::erase_if(mappers_, [&](const std::weak_ptr<Mapper>& w) {
      return w.expired() || (!w.owner_before(m) && !m.owner_before(w));
    });
    mappers_.push_back(m);
  }
  // Every live mapper (some may no longer map the object).
  std::vector<std::shared_ptr<Mapper>> Mappers() const {
    absl::MutexLock l(&mappers_mu_);
    std::vector<std::shared_ptr<Mapper>> out;
    for (const auto& w : mappers_) {
      if (auto s = w.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  // The object shrank to `size` bytes: every mapper drops the pages past it.
  // Call after the new size is visible to Size() and without the object's lock.
  void UnmapPastEnd(uint64_t size) {
    const uint64_t from = (size + kPageSize - 1) / kPageSize * kPageSize;
    for (const auto& m : Mappers()) m->Unmap(this, from);
  }
  // Whether any mapper has a shared writable mapping of the object.
  bool HasWritableSharedMapping() {
    for (const auto& m : Mappers()) {
      if (m->MapsWritableShared(this)) return true;
    }
    return false;
  }

  // Bytes the object holds now. Pages from PageRoundUp(Size()) on are beyond
  // it: touching them through a mapping is SIGBUS (EFAULT for a syscall).
  virtual uint64_t Size() const = 0;

  // Appends (object offset, memory-file range) pieces covering as much of the
  // page-aligned [start, end) (below the end of the object) as could be
  // backed, allocating or reading in missing pages; each piece carries one new
  // reference for the caller. An error (ENOMEM, ENOSPC, EIO) if it fell short.
  // `writable`: the pages go into a shared mapping that may write them (an
  // object kept elsewhere must then write them back).
  virtual ErrnoOrOk Get(uint64_t start, uint64_t end, bool writable,
                        std::vector<std::pair<uint64_t, FileRange>>* out) = 0;

  // A host file whose pages at the object's offsets a private mapping may map
  // directly instead of taking the object's (AddressSpace::MapHostFile): only
  // an object whose contents never change from inside the sandbox (a file of
  // a read-only gofer mount) has one. The memory manager still reads the
  // pages through Get where the Sentry touches them, and copies them into
  // the memory file before the guest writes them.
  virtual std::shared_ptr<const platform::HostFile> DirectFile() const { return nullptr; }

  // Whether the page at `offset` is in memory (mincore).
  virtual bool Has(uint64_t offset) const = 0;

  // MADV_REMOVE: zeroes [start, end) in place for every mapper at once
  // (EOPNOTSUPP where the object cannot punch holes).
  virtual ErrnoOrOk Zero(uint64_t start, uint64_t end) = 0;

  // A shared writable mapping may have changed [start, end): make it durable
  // (msync MS_SYNC). Objects that live only in memory have nothing to do.
  virtual ErrnoOrOk WriteBack(uint64_t start, uint64_t end) {
    (void)start, (void)end;
    return Ok();
  }

 private:
  mutable absl::Mutex mappers_mu_;  // a leaf lock
  std::vector<std::weak_ptr<Mapper>> mappers_ ABSL_GUARDED_BY(mappers_mu_);
};

}  // namespace sentry::memory

#endif  // SENTRY_MEMORY_MAPPABLE_H_
