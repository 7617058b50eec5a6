#include "sentry/memory/memory_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/log.h"
#include "sentry/base/user_addr.h"
#include "sentry/memory/range_map.h"

namespace sentry::memory {
namespace {

struct Empty {
  bool operator==(const Empty&) const = default;
};

bool ValidRange(FileRange r, uint64_t capacity) {
  return r.start < r.end && IsPageAligned(r.start) && IsPageAligned(r.end) && r.end <= capacity;
}

}  // namespace

struct MemoryFile::Impl {
  int fd = -1;
  uint8_t* base = nullptr;
  uint64_t capacity = 0;

  mutable absl::Mutex mu;
  // Free extents, always coalesced (adjacent extents are merged by hand so
  // that `free_by_size` stays in step).
  RangeMap<Empty> free ABSL_GUARDED_BY(mu);
  // The same extents as (length, start), for best-fit allocation in O(log n).
  std::set<std::pair<uint64_t, uint64_t>> free_by_size ABSL_GUARDED_BY(mu);
  // Allocated pages and their reference counts (> 0), merged when equal.
  RangeMap<uint64_t> refs ABSL_GUARDED_BY(mu);
  uint64_t used ABSL_GUARDED_BY(mu) = 0;

  void AddFree(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto next = free.LowerBound(start);
    if (next != free.begin()) {
      auto prev = std::prev(next);
      if (prev->second.end == start) {
        start = prev->first;
        free_by_size.erase({prev->second.end - prev->first, prev->first});
        free.Erase(prev);
      }
    }
    if (next != free.end() && next->first == end) {
      end = next->second.end;
      free_by_size.erase({next->second.end - next->first, next->first});
      free.Erase(next);
    }
    free.Insert(start, end, Empty{});
    free_by_size.insert({end - start, start});
  }

  // Returns [start, end) to the host: it reads back as zeros afterwards.
  void Punch(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(start),
                  static_cast<off_t>(end - start)) != 0) {
      // NOTE: the pages must read back as zeros whatever happens; zeroing
      // them by hand keeps that promise (at the cost of keeping the memory).
      SLOG(kWarning, "memory file: fallocate(PUNCH_HOLE, %#x, %#x): %s", start, end - start,
           strerror(errno));
      memset(base + start, 0, end - start);
    }
  }

  // Adds `delta` (+1 or -1) to the count of every page of `r`, which must be
  // allocated. Ranges whose count reaches zero are appended to `*freed`.
  void AddRef(FileRange r, int delta, std::vector<FileRange>* freed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t cur = r.start;
    auto it = refs.IsolateRange(r.start, r.end);
    while (cur < r.end) {
      SCHECK_MSG(it != refs.end() && it->first == cur,
                 "memory file: reference change on free pages at %#x (range [%#x, %#x))", cur,
                 r.start, r.end);
      cur = it->second.end;
      if (delta > 0) {
        ++it->second.value;
        ++it;
      } else if (--it->second.value == 0) {
        freed->push_back(FileRange{it->first, it->second.end});
        it = refs.Erase(it);
      } else {
        ++it;
      }
    }
    refs.MergeRange(r.start, r.end);
  }
};

absl::StatusOr<std::unique_ptr<MemoryFile>> MemoryFile::Create(uint64_t capacity) {
  if (capacity == 0 || !IsPageAligned(capacity) || capacity > (uint64_t{1} << 62)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("memory file: bad capacity %#x (a non-zero page multiple)", capacity));
  }
  auto impl = std::make_unique<Impl>();
  impl->capacity = capacity;
  impl->fd = memfd_create("sentry-memory", MFD_CLOEXEC);
  if (impl->fd < 0) return HostError("memfd_create(\"sentry-memory\")", errno);
  if (ftruncate(impl->fd, static_cast<off_t>(capacity)) != 0) {
    int e = errno;
    close(impl->fd);
    return HostError(absl::StrFormat("ftruncate(memory file, %#x)", capacity), e);
  }
  void* base =
      mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, impl->fd, 0);
  if (base == MAP_FAILED) {
    int e = errno;
    close(impl->fd);
    return HostError(absl::StrFormat("mmap(memory file, %#x)", capacity), e);
  }
  impl->base = static_cast<uint8_t*>(base);
  {
    absl::MutexLock lock(&impl->mu);
    impl->AddFree(0, capacity);
  }
  return std::unique_ptr<MemoryFile>(new MemoryFile(std::move(impl)));
}

MemoryFile::MemoryFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MemoryFile::~MemoryFile() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->used != 0) {
      SLOG(kWarning, "memory file: destroyed with %#x bytes still referenced", impl_->used);
    }
  }
  munmap(impl_->base, impl_->capacity);
  close(impl_->fd);
}

int MemoryFile::fd() const { return impl_->fd; }
uint64_t MemoryFile::capacity() const { return impl_->capacity; }

ErrnoOr<FileRange> MemoryFile::Allocate(uint64_t length) {
  if (length == 0 || !IsPageAligned(length)) return Errno(EINVAL);
  absl::MutexLock lock(&impl_->mu);
  // Best fit: the smallest extent that is large enough, lowest first.
  auto fit = impl_->free_by_size.lower_bound({length, 0});
  if (fit == impl_->free_by_size.end()) return Errno(ENOMEM);
  const auto [extent_len, start] = *fit;
  impl_->free_by_size.erase(fit);
  impl_->free.Erase(impl_->free.Find(start));
  if (extent_len > length) {
    impl_->free.Insert(start + length, start + extent_len, Empty{});
    impl_->free_by_size.insert({extent_len - length, start + length});
  }
  impl_->refs.InsertAndMerge(start, start + length, 1);
  impl_->used += length;
  return FileRange{start, start + length};
}

ErrnoOr<FileRange> MemoryFile::AllocateUpTo(uint64_t length) {
  while (true) {
    auto r = Allocate(length);
    if (r.ok() || length <= kPageSize) return r;
    length = std::max(kPageSize, PageRoundDown(length / 2));
  }
}

void MemoryFile::IncRef(FileRange r) {
  SCHECK_MSG(ValidRange(r, impl_->capacity), "memory file: IncRef([%#x, %#x))", r.start, r.end);
  absl::MutexLock lock(&impl_->mu);
  impl_->AddRef(r, +1, nullptr);
}

void MemoryFile::DecRef(FileRange r) {
  SCHECK_MSG(ValidRange(r, impl_->capacity), "memory file: DecRef([%#x, %#x))", r.start, r.end);
  absl::MutexLock lock(&impl_->mu);
  std::vector<FileRange> freed;
  impl_->AddRef(r, -1, &freed);
  for (const FileRange& f : freed) {
    // NOTE: punching under the lock keeps a range from being handed out
    // again before it reads as zeros.
    impl_->Punch(f.start, f.end);
    impl_->AddFree(f.start, f.end);
    impl_->used -= f.Length();
  }
}

uint64_t MemoryFile::RefCount(uint64_t offset) const {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->refs.Find(offset);
  return it == impl_->refs.end() ? 0 : it->second.value;
}

void MemoryFile::Decommit(FileRange r) {
  SCHECK_MSG(ValidRange(r, impl_->capacity), "memory file: Decommit([%#x, %#x))", r.start, r.end);
  absl::MutexLock lock(&impl_->mu);
  SCHECK_MSG(impl_->refs.Covers(r.start, r.end), "memory file: Decommit of free pages [%#x, %#x)",
             r.start, r.end);
  impl_->Punch(r.start, r.end);
}

uint8_t* MemoryFile::Internal(uint64_t offset) const {
  SCHECK_MSG(offset < impl_->capacity, "memory file: offset %#x beyond capacity", offset);
  return impl_->base + offset;
}

ErrnoOrOk MemoryFile::Write(uint64_t offset, const uint8_t* src, uint64_t len) {
  SCHECK_MSG(offset <= impl_->capacity && len <= impl_->capacity - offset,
             "memory file: write of [%#x, +%#x) beyond capacity", offset, len);
  uint64_t done = 0;
  while (done < len) {
    const ssize_t n =
        ::pwrite(impl_->fd, src + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno(n < 0 ? errno : EIO);
    done += static_cast<uint64_t>(n);
  }
  return Ok();
}

uint64_t MemoryFile::UsedBytes() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->used;
}

}  // namespace sentry::memory
