// The memory file: one memfd holding every byte of guest memory (DESIGN.md §5).
//
// It is mapped once into the Sentry, so the Sentry reaches any page as
// base + offset. Ranges are allocated page-aligned with a reference count per
// page; when a page's count drops to zero its memory is returned to the host
// (fallocate PUNCH_HOLE) and the range is free again. Copy-on-write after fork
// is built on these counts.
//
// Thread-safe: one internal mutex (a leaf in every lock order).
#ifndef SENTRY_MEMORY_MEMORY_FILE_H_
#define SENTRY_MEMORY_MEMORY_FILE_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "sentry/base/errno.h"

namespace sentry::memory {

// A page-aligned range of offsets in the memory file, [start, end).
struct FileRange {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t Length() const { return end - start; }
  bool operator==(const FileRange&) const = default;
};

class MemoryFile {
 public:
  // Creates a memfd of `capacity` bytes (sparse) and maps it into the Sentry.
  static absl::StatusOr<std::unique_ptr<MemoryFile>> Create(uint64_t capacity);
  ~MemoryFile();

  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  int fd() const;
  uint64_t capacity() const;

  // Allocates `length` bytes (a page multiple), zero-filled, each page with
  // reference count 1. ENOMEM when the file is full.
  ErrnoOr<FileRange> Allocate(uint64_t length);
  // Allocates `length` bytes if it can, else the largest piece it finds by
  // halving (at least one page): callers loop until they have all they need.
  ErrnoOr<FileRange> AllocateUpTo(uint64_t length);
  void IncRef(FileRange r);
  // Pages whose count reaches zero are released to the host and freed.
  void DecRef(FileRange r);
  // The reference count of the page containing `offset` (0 if free). For tests
  // and for copy-on-write decisions.
  uint64_t RefCount(uint64_t offset) const;

  // Zeroes the allocated range `r` in place and returns its memory to the host;
  // the pages stay allocated with their counts, so every mapping of them now
  // reads zeros (MADV_REMOVE on shared memory, hole punching in tmpfs).
  void Decommit(FileRange r);

  // The Sentry's view of `offset`: base + offset. Valid while a reference is held.
  uint8_t* Internal(uint64_t offset) const;

  // Copies `len` bytes from `src` (any Sentry memory, this file's own mapping
  // included, not overlapping the target) into the file at `offset` with
  // pwrite: the host fills the target pages without faulting them into the
  // Sentry's mapping, which is what a copy into fresh pages mostly costs
  // (~60 -> ~37 µs per 64 KiB on this 2-vCPU VM). EFAULT, ENOSPC... from the
  // host.
  ErrnoOrOk Write(uint64_t offset, const uint8_t* src, uint64_t len);

  // Bytes currently allocated (referenced) in the file.
  uint64_t UsedBytes() const;

 private:
  struct Impl;
  explicit MemoryFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentry::memory

#endif  // SENTRY_MEMORY_MEMORY_FILE_H_
