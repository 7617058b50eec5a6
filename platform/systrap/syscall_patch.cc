#include "platform/systrap/syscall_patch.h"

#include <capstone/capstone.h>

#include <cstring>

namespace platform::systrap {
namespace {

extern "C" {
extern const char platform_systrap_patch_common_start[];
extern const char platform_systrap_patch_common_end[];
}

void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

bool MaybePrefix(uint8_t b) {
  return (b >= 0x40 && b <= 0x4f) || b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 ||
         b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || b == 0xf0;
}

// Capstone's view of [start, start + n): exactly `mov $imm32, %eax|%rax` of
// `mov_len` bytes and `syscall`.
std::optional<uint32_t> Confirm(uint64_t start, const uint8_t* code, size_t n, size_t mov_len) {
  thread_local csh handle = [] {
    csh h = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return csh{0};
    cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
    return h;
  }();
  if (handle == 0) return std::nullopt;
  cs_insn* insn = nullptr;
  const size_t count = cs_disasm(handle, code, n, start, 0, &insn);
  std::optional<uint32_t> nr;
  if (count == 2 && insn[0].id == X86_INS_MOV && insn[0].size == mov_len &&
      insn[1].id == X86_INS_SYSCALL && insn[1].size == 2 && insn[0].detail != nullptr) {
    const cs_x86& x = insn[0].detail->x86;
    if (x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        (x.operands[0].reg == X86_REG_EAX || x.operands[0].reg == X86_REG_RAX) &&
        x.operands[1].type == X86_OP_IMM && x.operands[1].imm >= 0 && x.operands[1].imm < 0x10000) {
      nr = static_cast<uint32_t>(x.operands[1].imm);
    }
  }
  if (count > 0) cs_free(insn, count);
  return nr;
}

}  // namespace

std::optional<SyscallSite> DecodeSyscallSite(uint64_t end, std::span<const uint8_t> before) {
  const size_t n = before.size();
  if (n < 7 || n > 9) return std::nullopt;
  const uint8_t* b = before.data();
  if (b[n - 2] != 0x0f || b[n - 1] != 0x05) return std::nullopt;
  if (n == 9 && b[0] == 0x48 && b[1] == 0xc7 && b[2] == 0xc0) {
    if (auto nr = Confirm(end - 9, b, 9, 7)) return SyscallSite{end - 9, 9, *nr};
  }
  const uint8_t* s = b + n - 7;
  if (s[0] != 0xb8) return std::nullopt;
  if (n > 7 && MaybePrefix(s[-1])) return std::nullopt;
  if (auto nr = Confirm(end - 7, s, 7, 5)) return SyscallSite{end - 7, 7, *nr};
  return std::nullopt;
}

std::vector<uint8_t> BuildPatchHeader(const SyscallPatchTarget& target) {
  std::vector<uint8_t> h(kPatchHeaderSize, 0xcc);  // int3 everywhere else
  const size_t code = platform_systrap_patch_common_end - platform_systrap_patch_common_start;
  std::memcpy(h.data(), platform_systrap_patch_common_start, code);
  Put64(&h[SYSCALL_PATCH_LO - SYSCALL_PATCH_HEADER], target.slot_lo);
  Put64(&h[SYSCALL_PATCH_HI - SYSCALL_PATCH_HEADER], target.slot_hi);
  Put64(&h[SYSCALL_PATCH_MASK - SYSCALL_PATCH_HEADER], target.slot_align - 1);
  Put64(&h[SYSCALL_PATCH_FAST_ENTRY - SYSCALL_PATCH_HEADER], target.fast_entry);
  return h;
}

uint64_t PatchStubAddr(uint32_t index) {
  return SYSCALL_PATCH_STUBS + uint64_t{index} * kPatchStubSize;
}
uint64_t PatchTableAddr(uint32_t index) { return SYSCALL_PATCH_TABLE + uint64_t{index} * 8; }

// The trampoline (all offsets from its start):
//    0: b8 <nr>            mov $nr, %eax
//    5: eb 06              jmp 13            <- the "syscall": a restart rewinds here
//    7: ff 25 <19>         jmp *32(%rip)     <- the resume address (the frame's rip)
//   13: 4c 8d 1d <-13>     lea 7(stub), %r11
//   20: e9 <rel32>         jmp common
//   25: 0f 05              syscall           <- the slow path (not our %gs base)
//   27: eb de              jmp 7
//   32: <site end>         the guest's return address (also its %rcx)
std::array<uint8_t, kPatchStubSize> BuildPatchStub(uint32_t index, const SyscallSite& site) {
  std::array<uint8_t, kPatchStubSize> s;
  s.fill(0xcc);
  const uint64_t at = PatchStubAddr(index);
  uint8_t* p = s.data();
  p[0] = 0xb8;
  Put32(p + 1, site.nr);
  p[5] = 0xeb, p[6] = 0x06;
  p[7] = 0xff, p[8] = 0x25;
  Put32(p + 9, kPatchStubReturnSlot - 13);
  p[13] = 0x4c, p[14] = 0x8d, p[15] = 0x1d;
  Put32(p + 16, static_cast<uint32_t>(static_cast<int32_t>(kPatchStubResume) - 20));
  p[20] = 0xe9;
  Put32(p + 21, static_cast<uint32_t>(static_cast<int64_t>(SYSCALL_PATCH_HEADER) -
                                      static_cast<int64_t>(at + 25)));
  p[25] = 0x0f, p[26] = 0x05;
  p[27] = 0xeb, p[28] = static_cast<uint8_t>(static_cast<int8_t>(7 - 29));
  Put64(p + kPatchStubReturnSlot, site.start + site.length);
  return s;
}

std::array<uint8_t, kPatchJumpSize> BuildPatchJump(uint32_t index) {
  std::array<uint8_t, kPatchJumpSize> j{0xff, 0x24, 0x25};
  Put32(j.data() + 3, static_cast<uint32_t>(PatchTableAddr(index)));
  return j;
}

}  // namespace platform::systrap
