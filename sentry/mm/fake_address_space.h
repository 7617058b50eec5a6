// Test helpers for code that drives a MemoryManager without a real platform:
//
// - FakeAddressSpace: a platform::AddressSpace that records MapFile/Unmap/
//   Protect calls and keeps a page-by-page model of what is mapped.
// - FakeGuest: performs guest loads and stores the way the hardware would,
//   through that model and the memory file, faulting into the MemoryManager
//   when a page is not mapped with the needed protection.
//
// Library: sentry::mm_testing (header only).
#ifndef SENTRY_MM_FAKE_ADDRESS_SPACE_H_
#define SENTRY_MM_FAKE_ADDRESS_SPACE_H_

#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/base/user_addr.h"
#include "sentry/memory/memory_file.h"
#include "sentry/mm/mm.h"

namespace sentry::mm::testing {

class FakeAddressSpace : public platform::AddressSpace {
 public:
  struct Page {
    uint64_t off;  // memory-file offset
    int prot;
  };
  struct Call {
    enum Kind { kMap, kUnmap, kProtect } kind;
    uint64_t addr, len, off;
    int prot;
  };

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
    for (uint64_t a = 0; a < len; a += kPageSize) pages[addr + a] = Page{file_offset + a, prot};
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
    map_calls = unmap_calls = protect_calls = 0;
  }

  std::map<uint64_t, Page> pages;  // by guest page address
  std::vector<Call> calls;
  int map_calls = 0;
  int unmap_calls = 0;
  int protect_calls = 0;
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
        *p = mf_.Internal(page->off + (addr & (kPageSize - 1)));
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
};

}  // namespace sentry::mm::testing

#endif  // SENTRY_MM_FAKE_ADDRESS_SPACE_H_
