// Syscall-site patching for the systrap platform (README.md, "Syscall-site
// patching"): the patch region's layout and code, the per-site trampolines, and
// the decoding of a site. The Sentry (sentry/kernel/syscall_patch.cc) decides what
// to patch and writes it into guest memory; nothing here touches a guest.
//
// Included by C++ and by the assembly file: shared constants are macros.
#ifndef PLATFORM_SYSTRAP_SYSCALL_PATCH_H_
#define PLATFORM_SYSTRAP_SYSCALL_PATCH_H_

// The patch region, at a fixed guest address. A patched site is `jmp *abs32`
// (ff 24 25 <abs32>) through an 8-byte slot of the table; every table address is
// 0x050fXXXX, so the jump's last two bytes are 0f 05: a thread stopped between
// the original `mov` and `syscall` (site + 5) still finds a `syscall` there.
#define SYSCALL_PATCH_TABLE 0x050f0000
#define SYSCALL_PATCH_MAX_SITES 8192
// Common code (at HEADER), then its data: the %gs bounds and mask and the fast
// entry's address (SyscallPatchTarget).
#define SYSCALL_PATCH_HEADER 0x05100000
#define SYSCALL_PATCH_LO 0x05100800
#define SYSCALL_PATCH_HI 0x05100808
#define SYSCALL_PATCH_MASK 0x05100810
#define SYSCALL_PATCH_FAST_ENTRY 0x05100818
#define SYSCALL_PATCH_STUBS 0x05101000
#define SYSCALL_PATCH_STUB_SIZE 64
#define SYSCALL_PATCH_END (SYSCALL_PATCH_STUBS + SYSCALL_PATCH_MAX_SITES * SYSCALL_PATCH_STUB_SIZE)

#ifndef __ASSEMBLER__

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "platform/platform.h"

namespace platform::systrap {

inline constexpr uint64_t kPatchRegionStart = SYSCALL_PATCH_TABLE;
inline constexpr uint64_t kPatchRegionEnd = SYSCALL_PATCH_END;
inline constexpr uint64_t kPatchHeaderAddr = SYSCALL_PATCH_HEADER;
inline constexpr uint64_t kPatchHeaderSize = SYSCALL_PATCH_STUBS - SYSCALL_PATCH_HEADER;
inline constexpr uint32_t kMaxPatchSites = SYSCALL_PATCH_MAX_SITES;
inline constexpr uint64_t kPatchStubSize = SYSCALL_PATCH_STUB_SIZE;
inline constexpr uint64_t kPatchJumpSize = 7;
// In a trampoline: where the guest resumes after a patched syscall (the frame's
// rip), the 2-byte instruction 2 before it (what a syscall restart rewinds to),
// and the qword that holds the guest's return address.
inline constexpr uint64_t kPatchStubResume = 7;
inline constexpr uint64_t kPatchStubReturnSlot = 32;

// A site the Sentry may patch: `mov $nr, %eax; syscall` (b8 imm32 0f 05, 7 bytes)
// or `mov $nr, %rax; syscall` (48 c7 c0 imm32 0f 05, 9 bytes), ending at the
// address after the syscall.
struct SyscallSite {
  uint64_t start = 0;  // the mov
  uint32_t length = 0;
  uint32_t nr = 0;
};
// Decodes the bytes before `end` (the address after a syscall instruction that
// trapped): `before` holds the up to 9 bytes [end - before.size(), end). With
// Capstone, both instructions must decode whole and as expected; a byte before a
// 7-byte form that could be a prefix (REX, operand/address size, segment, rep) is
// refused, since the mov would then not start at the site.
std::optional<SyscallSite> DecodeSyscallSite(uint64_t end, std::span<const uint8_t> before);

// The patch region's header page (common code and data), kPatchHeaderSize bytes.
std::vector<uint8_t> BuildPatchHeader(const SyscallPatchTarget& target);
// Trampoline `index` for `site`, its table entry and the site's new first bytes.
uint64_t PatchStubAddr(uint32_t index);
uint64_t PatchTableAddr(uint32_t index);
std::array<uint8_t, kPatchStubSize> BuildPatchStub(uint32_t index, const SyscallSite& site);
std::array<uint8_t, kPatchJumpSize> BuildPatchJump(uint32_t index);

}  // namespace platform::systrap

#endif  // __ASSEMBLER__

#endif  // PLATFORM_SYSTRAP_SYSCALL_PATCH_H_
