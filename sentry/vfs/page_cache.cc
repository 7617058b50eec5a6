#include "sentry/vfs/page_cache.h"

#include <algorithm>
#include <cstring>

#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/base/user_addr.h"

namespace sentry::vfs {

PageCache::PageCache(memory::MemoryFile& mf, std::shared_ptr<CacheBacking> backing,
                     std::shared_ptr<const platform::HostFile> direct)
    : mf_(mf), backing_(std::move(backing)), direct_(std::move(direct)) {}

PageCache::~PageCache() {
  absl::MutexLock l(&mu_);
  if (!writable_.empty()) {
    ErrnoOrOk r = WriteBackLocked(0, ~uint64_t{0});
    if (!r.ok()) {
      SLOG(kWarning, "page cache: writing back a shared mapping's pages failed: %s",
           ErrnoName(r.error().value()));
    }
  }
  ReleaseLocked(pages_.begin(), pages_.end());
}

uint64_t PageCache::Size() const {
  auto s = backing_->Size();
  return s.ok() ? *s : 0;
}

ErrnoOrOk PageCache::Get(uint64_t start, uint64_t end, bool writable,
                         std::vector<std::pair<uint64_t, memory::FileRange>>* out) {
  absl::MutexLock l(&mu_);
  for (uint64_t off = start; off < end; off += kPageSize) {
    const uint64_t page = off / kPageSize;
    auto it = pages_.lower_bound(page);
    if (it == pages_.end() || it->first != page) {
      // The run of missing pages from here: one allocation, one read.
      const uint64_t run_end = it == pages_.end() ? end : std::min(end, it->first * kPageSize);
      ASSIGN_OR_RETURN(it, FillLocked(off, run_end));
    }
    if (writable) writable_.insert(page);
    memory::FileRange r{it->second, it->second + kPageSize};
    mf_.IncRef(r);
    if (!out->empty() && out->back().first + out->back().second.Length() == off &&
        out->back().second.end == r.start) {
      out->back().second.end = r.end;
    } else {
      out->emplace_back(off, r);
    }
  }
  return Ok();
}

ErrnoOr<std::map<uint64_t, uint64_t>::iterator> PageCache::FillLocked(uint64_t start,
                                                                      uint64_t end) {
  // As much of the run as the memory file gives in one piece (at least a page).
  ASSIGN_OR_RETURN(memory::FileRange r, mf_.AllocateUpTo(end - start));
  // Fill from the file; past its end the pages stay zero.
  uint8_t* p = mf_.Internal(r.start);
  size_t got = 0;
  while (got < r.Length()) {
    auto n = backing_->ReadAt({p + got, r.Length() - got}, start + got);
    if (!n.ok()) {
      mf_.DecRef(r);
      return Errno(EIO);
    }
    if (*n == 0) break;
    got += *n;
  }
  // Each page goes in just before the first cached page after the run.
  const auto next = pages_.lower_bound(start / kPageSize);
  for (uint64_t o = 0; o < r.Length(); o += kPageSize) {
    pages_.emplace_hint(next, (start + o) / kPageSize, r.start + o);
  }
  return pages_.find(start / kPageSize);
}

void PageCache::ReleaseLocked(std::map<uint64_t, uint64_t>::iterator first,
                              std::map<uint64_t, uint64_t>::iterator last) {
  // Pages filled together sit together in the memory file: one DecRef (and
  // one hole punched) per run, not per page.
  std::vector<uint64_t> offs;
  for (auto it = first; it != last; ++it) offs.push_back(it->second);
  std::sort(offs.begin(), offs.end());
  for (size_t i = 0; i < offs.size();) {
    size_t j = i + 1;
    while (j < offs.size() && offs[j] == offs[j - 1] + kPageSize) ++j;
    mf_.DecRef({offs[i], offs[j - 1] + kPageSize});
    i = j;
  }
  pages_.erase(first, last);
}

bool PageCache::Has(uint64_t offset) const {
  absl::MutexLock l(&mu_);
  return pages_.count(offset / kPageSize) != 0;
}

ErrnoOrOk PageCache::Zero(uint64_t, uint64_t) { return Errno(EOPNOTSUPP); }

ErrnoOrOk PageCache::WriteBack(uint64_t start, uint64_t end) {
  absl::MutexLock l(&mu_);
  return WriteBackLocked(start, end);
}

ErrnoOrOk PageCache::WriteBackLocked(uint64_t start, uint64_t end) {
  if (writable_.empty()) return Ok();
  ASSIGN_OR_RETURN(uint64_t size, backing_->Size());
  for (auto it = writable_.lower_bound(start / kPageSize);
       it != writable_.end() && *it * kPageSize < end; ++it) {
    const uint64_t off = *it * kPageSize;
    if (off >= size) break;
    const size_t n = std::min<uint64_t>(kPageSize, size - off);
    const uint8_t* p = mf_.Internal(pages_.at(*it));
    size_t done = 0;
    while (done < n) {
      ASSIGN_OR_RETURN(size_t w, backing_->WriteAt({p + done, n - done}, off + done));
      if (w == 0) return Errno(EIO);
      done += w;
    }
  }
  return Ok();
}

void PageCache::NoteWrite(std::span<const iovec> src, uint64_t offset, size_t written) {
  absl::MutexLock l(&mu_);
  if (pages_.empty()) return;
  uint64_t off = offset;
  for (const iovec& v : src) {
    const size_t len = std::min(v.iov_len, written - (off - offset));
    const uint8_t* in = static_cast<const uint8_t*>(v.iov_base);
    for (size_t pos = 0; pos < len;) {
      const uint64_t o = off + pos, page = o / kPageSize, in_page = o % kPageSize;
      const size_t n = std::min<uint64_t>(len - pos, kPageSize - in_page);
      auto it = pages_.find(page);
      if (it != pages_.end()) std::memcpy(mf_.Internal(it->second) + in_page, in + pos, n);
      pos += n;
    }
    off += len;
    if (off - offset >= written) break;
  }
}

ErrnoOrOk PageCache::FlushForRead(uint64_t offset, uint64_t length) {
  absl::MutexLock l(&mu_);
  if (writable_.empty()) return Ok();
  const uint64_t end = length > ~uint64_t{0} - offset ? ~uint64_t{0} : offset + length;
  return WriteBackLocked(offset, end);
}

void PageCache::Truncate(uint64_t size) {
  TruncateCache(size);
  // Mappings lose the pages past the end, private copies included (SIGBUS).
  UnmapPastEnd(size);
}

void PageCache::TruncateCache(uint64_t size) {
  absl::MutexLock l(&mu_);
  const uint64_t keep = (size + kPageSize - 1) / kPageSize;
  if (size % kPageSize != 0) {
    auto it = pages_.find(size / kPageSize);
    if (it != pages_.end()) {
      std::memset(mf_.Internal(it->second) + size % kPageSize, 0, kPageSize - size % kPageSize);
    }
  }
  writable_.erase(writable_.lower_bound(keep), writable_.end());
  ReleaseLocked(pages_.lower_bound(keep), pages_.end());
}

size_t PageCache::CachedPages() const {
  absl::MutexLock l(&mu_);
  return pages_.size();
}

}  // namespace sentry::vfs
