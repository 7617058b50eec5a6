// x86-64 register and floating-point state of a guest thread.
#ifndef SENTRY_ARCH_REGISTERS_H_
#define SENTRY_ARCH_REGISTERS_H_

#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sentry::arch {

// General registers, in the layout ptrace uses (struct user_regs_struct), which
// includes fs_base and gs_base. `orig_rax` holds the syscall number at a syscall stop.
struct Registers {
  user_regs_struct r{};

  uint64_t SyscallNumber() const { return r.orig_rax; }
  uint64_t Arg(int i) const;  // i in [0, 6): rdi, rsi, rdx, r10, r8, r9
  void SetReturn(uint64_t v) { r.rax = v; }
  uint64_t Ip() const { return r.rip; }
  uint64_t Sp() const { return r.rsp; }
};

// The full xsave state of a thread. The live copy may sit in the platform's
// context between switches: `stale` says the Sentry's copy must be pulled
// (Context::SyncFpState) before it is read; `dirty` says the Sentry changed it and
// the platform must push it before the guest runs again.
class FpState {
 public:
  FpState();
  FpState(const FpState& other);
  FpState& operator=(const FpState& other);

  // Size of the xsave area for the features this CPU has enabled (CPUID 0xD).
  static size_t XsaveSize();
  // The XSAVE feature components guests may use (XCR0 as the host enabled it,
  // less AMX tile data, which needs a per-process permission we do not grant).
  static uint64_t UserFeatures();

  std::span<uint8_t> bytes() { return {data_.get(), size_}; }
  std::span<const uint8_t> bytes() const { return {data_.get(), size_}; }

  // Reset to the state a new process starts with (FCW 0x37f, MXCSR 0x1f80, all
  // other components in their init state). Marks the state dirty.
  void Reset();

  bool dirty() const { return dirty_; }
  void set_dirty(bool d) { dirty_ = d; }
  bool stale() const { return stale_; }
  void set_stale(bool s) { stale_ = s; }

  // Legacy-area accessors (valid only when !stale()).
  uint32_t mxcsr() const;
  uint16_t fcw() const;

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  size_t size_;
  std::unique_ptr<uint8_t, Free> data_;  // 64-byte aligned, as xsave requires.
  bool dirty_ = true;
  bool stale_ = false;
};

}  // namespace sentry::arch

#endif  // SENTRY_ARCH_REGISTERS_H_
