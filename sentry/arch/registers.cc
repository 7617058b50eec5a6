#include "sentry/arch/registers.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>

namespace sentry::arch {

uint64_t Registers::Arg(int i) const {
  switch (i) {
    case 0:
      return r.rdi;
    case 1:
      return r.rsi;
    case 2:
      return r.rdx;
    case 3:
      return r.r10;
    case 4:
      return r.r8;
    case 5:
      return r.r9;
    default:
      return 0;
  }
}

size_t FpState::XsaveSize() {
  static const size_t size = [] {
    unsigned eax, ebx, ecx, edx;
    if (__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) && ebx >= 576) return size_t{ebx};
    return size_t{512 + 64};  // legacy area + xsave header
  }();
  return size;
}

uint64_t FpState::UserFeatures() {
  static const uint64_t features = [] {
    unsigned eax, ebx, ecx, edx;
    // CPUID.1:ECX.OSXSAVE says XGETBV is usable.
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & (1u << 27)) == 0) {
      return uint64_t{3};  // x87 and SSE: what FXSAVE covers
    }
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    constexpr uint64_t kXtileData = uint64_t{1} << 18;
    return ((uint64_t{hi} << 32) | lo) & ~kXtileData;
  }();
  return features;
}

void FpState::Free::operator()(uint8_t* p) const { std::free(p); }

FpState::FpState() : size_(XsaveSize()) {
  size_t alloc = (size_ + 63) / 64 * 64;
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, alloc)));
  Reset();
}

FpState::FpState(const FpState& other) : FpState() { *this = other; }

FpState& FpState::operator=(const FpState& other) {
  if (this != &other) {
    std::memcpy(data_.get(), other.data_.get(), size_);
    dirty_ = true;
    stale_ = other.stale_;
  }
  return *this;
}

void FpState::Reset() {
  std::memset(data_.get(), 0, size_);
  uint8_t* p = data_.get();
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80, mxcsr_mask = 0xffff;
  std::memcpy(p + 0, &fcw, sizeof(fcw));
  std::memcpy(p + 24, &mxcsr, sizeof(mxcsr));
  std::memcpy(p + 28, &mxcsr_mask, sizeof(mxcsr_mask));
  // xstate_bv (offset 512) = x87|SSE: the legacy area above is live, the rest init.
  uint64_t xstate_bv = 0x3;
  std::memcpy(p + 512, &xstate_bv, sizeof(xstate_bv));
  dirty_ = true;
  stale_ = false;
}

uint32_t FpState::mxcsr() const {
  uint32_t v;
  std::memcpy(&v, data_.get() + 24, sizeof(v));
  return v;
}

uint16_t FpState::fcw() const {
  uint16_t v;
  std::memcpy(&v, data_.get(), sizeof(v));
  return v;
}

}  // namespace sentry::arch
