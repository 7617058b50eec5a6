// Something guest memory can map: an object whose pages live in the memory
// file, shared by every mapping of it (DESIGN.md §5). The anonymous shared
// memory of MAP_SHARED|MAP_ANONYMOUS, a tmpfs file and a host file's page
// cache are Mappables; the memory manager maps their pages directly (shared
// mappings) or copy-on-write (private ones).
#ifndef SENTRY_MEMORY_MAPPABLE_H_
#define SENTRY_MEMORY_MAPPABLE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/memory/memory_file.h"

namespace sentry::memory {

class Mappable {
 public:
  virtual ~Mappable() = default;

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
};

}  // namespace sentry::memory

#endif  // SENTRY_MEMORY_MAPPABLE_H_
