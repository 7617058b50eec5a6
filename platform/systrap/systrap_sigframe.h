// The x86-64 kernel signal frame as the systrap stub's handler receives it on its
// altstack (arch/x86/include/uapi/asm/sigcontext.h and ucontext.h): our own
// definitions, since glibc's ucontext_t differs from the kernel's past the mask.
#ifndef PLATFORM_SYSTRAP_SYSTRAP_SIGFRAME_H_
#define PLATFORM_SYSTRAP_SYSTRAP_SIGFRAME_H_

#include <signal.h>

#include <cstddef>
#include <cstdint>

namespace platform::systrap {

struct KernelSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // Address of the xsave area (64-byte aligned).
  uint64_t reserved[8];
};
static_assert(sizeof(KernelSigcontext) == 256);
static_assert(offsetof(KernelSigcontext, rip) == 128);
static_assert(offsetof(KernelSigcontext, cs) == 144);
static_assert(offsetof(KernelSigcontext, err) == 152);
static_assert(offsetof(KernelSigcontext, fpstate) == 184);

struct KernelStack {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};
static_assert(sizeof(KernelStack) == 24);

struct KernelUcontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KernelStack uc_stack;
  KernelSigcontext uc_mcontext;
  uint64_t uc_sigmask;  // The kernel's sigset_t: 64 bits.
};
static_assert(sizeof(KernelUcontext) == 304);

// struct rt_sigframe: the return address (pretcode) at the handler's %rsp, then
// the ucontext, then the siginfo. rt_sigreturn reads the ucontext at %rsp.
struct KernelRtSigframe {
  uint64_t pretcode;
  KernelUcontext uc;
  siginfo_t info;
};
static_assert(offsetof(KernelRtSigframe, info) == 312);
static_assert(sizeof(siginfo_t) == 128);

// uc_flags.
inline constexpr uint64_t kUcFpXstate = 0x1;
inline constexpr uint64_t kUcSigcontextSs = 0x2;
inline constexpr uint64_t kUcStrictRestoreSs = 0x4;

// The software-reserved bytes of the xsave area in a signal frame (struct
// _fpx_sw_bytes at offset 464 of the legacy area) and the magic after the area.
inline constexpr size_t kFpxSwBytesOffset = 464;
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;  // xstate_size + 4 (magic2)
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);

// The xsave header: xstate_bv at 512, xcomp_bv at 520, then 48 reserved bytes.
inline constexpr size_t kXstateBvOffset = 512;
inline constexpr size_t kXcompBvOffset = 520;

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_SYSTRAP_SIGFRAME_H_
