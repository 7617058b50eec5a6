// Test helpers for code that drives a MemoryManager without a real platform:
//
// - FakeAddressSpace: a platform::AddressSpace that records MapFile/Unmap/
//   Protect calls and keeps a page-by-page model of what is mapped;
//   MapHostFile as `host_files` says (Unimplemented, as most platforms, by
//   default).
// - FakeGuest: performs guest loads and stores the way the hardware would,
//   through that model and the memory file, faulting into the MemoryManager
//   when a page is not mapped with the needed protection.
//
// Library: sentry::mm_testing (header only).
#ifndef SENTRY_MM_FAKE_ADDRESS_SPACE_H_
#define SENTRY_MM_FAKE_ADDRESS_SPACE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/base/user_addr.h"
#include "sentry/memory/mappable.h"
#include "sentry/memory/memory_file.h"
#include "sentry/mm/mm.h"

namespace sentry::mm::testing {

class FakeAddressSpace : public platform::AddressSpace {
 public:
  struct Page {
    uint64_t off;  // memory-file offset (a host file's, with `host`)
    int prot;
    std::shared_ptr<const platform::HostFile> host = nullptr;
  };
  struct Call {
    enum Kind { kMap, kUnmap, kProtect, kMapHost } kind;
    uint64_t addr, len, off;
    int prot;
  };

  // What MapHostFile does: refuse like a platform that cannot (the default),
  // map, or refuse this file (FailedPrecondition, as for a noexec mount).
  enum class HostFiles { kUnimplemented, kMap, kRefuse };
  HostFiles host_files = HostFiles::kUnimplemented;

  absl::Status MapHostFile(uint64_t addr, const std::shared_ptr<const platform::HostFile>& file,
                           uint64_t file_offset, uint64_t len, int prot) override {
    if (host_files == HostFiles::kUnimplemented) return absl::UnimplementedError("fake");
    if (!Aligned(addr, len) || !IsPageAligned(file_offset)) {
      return absl::InvalidArgumentError("MapHostFile: unaligned");
    }
    if (prot & ~(PROT_READ | PROT_EXEC) || prot == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("MapHostFile: bad prot %d", prot));
    }
    calls.push_back({Call::kMapHost, addr, len, file_offset, prot});
    ++map_host_calls;
    if (host_files == HostFiles::kRefuse) return absl::FailedPreconditionError("fake: refused");
    for (uint64_t a = 0; a < len; a += kPageSize) {
      pages[addr + a] = Page{file_offset + a, prot, file};
    }
    return absl::OkStatus();
  }

  absl::Status MapFile(uint64_t addr, uint64_t file_offset, uint64_t len, int prot) override {
    if (!Aligned(addr, len) || !IsPageAligned(file_offset)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("MapFile(%#x, %#x, %#x): unaligned", addr, file_offset, len));
    }
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC) || prot == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("MapFile: bad prot %d", prot));
    }
    calls.push_back({Call::kMap, addr, len, file_offset, prot});
    ++map_calls;
    if (fail_map) return absl::InternalError("injected MapFile failure");
    for (uint64_t a = 0; a < len; a += kPageSize) pages[addr + a] = Page{file_offset + a, prot, {}};
    return absl::OkStatus();
  }

  absl::Status Unmap(uint64_t addr, uint64_t len) override {
    if (!Aligned(addr, len)) return absl::InvalidArgumentError("Unmap: unaligned");
    calls.push_back({Call::kUnmap, addr, len, 0, 0});
    ++unmap_calls;
    pages.erase(pages.lower_bound(addr), pages.lower_bound(addr + len));
    return absl::OkStatus();
  }

  absl::Status Protect(uint64_t addr, uint64_t len, int prot) override {
    if (!Aligned(addr, len)) return absl::InvalidArgumentError("Protect: unaligned");
    calls.push_back({Call::kProtect, addr, len, 0, prot});
    ++protect_calls;
    for (uint64_t a = addr; a < addr + len; a += kPageSize) {
      auto it = pages.find(a);
      if (it == pages.end()) {
        // Like mprotect(2) on the stub: a hole is an error. The memory
        // manager must only protect what it mapped.
        ++protect_unmapped;
        continue;
      }
      it->second.prot = prot;
    }
    return absl::OkStatus();
  }

  std::optional<Page> Lookup(uint64_t addr) const {
    auto it = pages.find(PageRoundDown(addr));
    if (it == pages.end()) return std::nullopt;
    return it->second;
  }

  void ClearCalls() {
    calls.clear();
    map_calls = unmap_calls = protect_calls = map_host_calls = 0;
  }

  std::map<uint64_t, Page> pages;  // by guest page address
  std::vector<Call> calls;
  int map_calls = 0;
  int unmap_calls = 0;
  int protect_calls = 0;
  int map_host_calls = 0;
  int protect_unmapped = 0;
  bool fail_map = false;

 private:
  static bool Aligned(uint64_t addr, uint64_t len) {
    return IsPageAligned(addr) && IsPageAligned(len) && len != 0;
  }
};

class FakeGuest {
 public:
  // `reports_access`: whether faults carry the access type (ptrace: no).
  FakeGuest(MemoryManager& mm, memory::MemoryFile& mf, FakeAddressSpace& as,
            bool reports_access = false)
      : mm_(mm), mf_(mf), as_(as), reports_access_(reports_access) {}

  FaultResult Write(uint64_t addr, uint8_t value) {
    uint8_t* p = nullptr;
    FaultResult r = Access(addr, platform::kAccessWrite, PROT_WRITE, &p);
    if (r == FaultResult::kHandled) *p = value;
    return r;
  }
  FaultResult Read(uint64_t addr, uint8_t* value) {
    uint8_t* p = nullptr;
    FaultResult r = Access(addr, platform::kAccessRead, PROT_READ, &p);
    if (r == FaultResult::kHandled) *value = *p;
    return r;
  }
  // The byte at `addr`, or -1 if reading it faults.
  int ReadByte(uint64_t addr) {
    uint8_t v = 0;
    return Read(addr, &v) == FaultResult::kHandled ? v : -1;
  }

  int faults() const { return faults_; }
  void reset_faults() { faults_ = 0; }

 private:
  FaultResult Access(uint64_t addr, uint32_t access, int need, uint8_t** p) {
    // A fault that the memory manager reports handled must make progress:
    // give up (and say so) after a few rounds.
    for (int round = 0; round < 3; ++round) {
      auto page = as_.Lookup(addr);
      if (page && (page->prot & need) == need) {
        const uint64_t at = page->off + (addr & (kPageSize - 1));
        if (page->host != nullptr) {
          // The host file's own page (never writable): read it there.
          host_byte_ = 0;
          EXPECT_GE(::pread(page->host->fd(), &host_byte_, 1, static_cast<off_t>(at)), 0);
          *p = &host_byte_;
        } else {
          *p = mf_.Internal(at);
        }
        return FaultResult::kHandled;
      }
      ++faults_;
      FaultResult r = mm_.HandleFault(addr, reports_access_ ? access : platform::kAccessNone);
      if (r != FaultResult::kHandled) return r;
    }
    ADD_FAILURE() << absl::StrFormat("fault at %#x handled but the page never became accessible",
                                     addr);
    return FaultResult::kOom;
  }

  MemoryManager& mm_;
  memory::MemoryFile& mf_;
  FakeAddressSpace& as_;
  bool reports_access_;
  int faults_ = 0;
  uint8_t host_byte_ = 0;
};

// A file object like the page cache of a read-only host file of `content`
// (a memfd, which DirectFile offers for direct mappings): Get reads pages
// into the memory file (the object keeps a reference, the caller gets one).
// `gets` counts the calls.
class HostFileObject : public memory::Mappable {
 public:
  HostFileObject(memory::MemoryFile& mf, const std::string& content) : mf_(mf) {
    const int fd = memfd_create("host-file", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::pwrite(fd, content.data(), content.size(), 0),
              static_cast<ssize_t>(content.size()));
    size_ = content.size();
    file_ = std::make_shared<const platform::HostFile>(fd);
  }
  ~HostFileObject() override {
    for (const auto& [page, off] : pages_) mf_.DecRef(memory::FileRange{off, off + kPageSize});
  }
  uint64_t Size() const override { return size_; }
  sentry::ErrnoOrOk Get(uint64_t start, uint64_t end, bool,
                        std::vector<std::pair<uint64_t, memory::FileRange>>* out) override {
    ++gets;
    for (uint64_t p = start; p < end; p += kPageSize) {
      auto it = pages_.find(p);
      if (it == pages_.end()) {
        auto fr = mf_.Allocate(kPageSize);
        if (!fr.ok()) return sentry::Errno(ENOMEM);
        memset(mf_.Internal(fr->start), 0, kPageSize);
        EXPECT_GE(::pread(file_->fd(), mf_.Internal(fr->start), kPageSize, p), 0);
        it = pages_.emplace(p, fr->start).first;
      }
      mf_.IncRef(memory::FileRange{it->second, it->second + kPageSize});
      out->emplace_back(p, memory::FileRange{it->second, it->second + kPageSize});
    }
    return sentry::Ok();
  }
  bool Has(uint64_t offset) const override { return pages_.contains(offset); }
  sentry::ErrnoOrOk Zero(uint64_t, uint64_t) override { return sentry::Errno(EOPNOTSUPP); }
  std::shared_ptr<const platform::HostFile> DirectFile() const override { return file_; }

  int gets = 0;

 private:
  memory::MemoryFile& mf_;
  uint64_t size_ = 0;
  std::shared_ptr<const platform::HostFile> file_;
  std::map<uint64_t, uint64_t> pages_;
};

}  // namespace sentry::mm::testing

#endif  // SENTRY_MM_FAKE_ADDRESS_SPACE_H_
