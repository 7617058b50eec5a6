// The initial stack of a new program, laid out exactly as Linux's exec does it
// (fs/exec.c: copy_strings, setup_arg_pages; fs/binfmt_elf.c: create_elf_tables).
//
// From the top of the stack VMA down:
//
//   stack_top - 8   8 zero bytes (the end marker)
//                   the file name (AT_EXECFN), NUL-terminated
//                   envp strings, then argv strings below them (each in order:
//                   argv[0] is the lowest; arg_start is its address)
//                   (arch_align_stack: 16-byte alignment, minus < 8 KiB at random)
//                   "x86_64\0" (AT_PLATFORM)
//                   16 random bytes (AT_RANDOM)
//                   padding so that sp is 16-byte aligned
//                   auxv: (type, value) pairs ending with AT_NULL
//                   NULL, envp pointers, NULL, argv pointers
//   sp ->           argc
//
// The stack is built in a host buffer and written to guest memory in one copy.
#ifndef SENTRY_LOADER_STACK_H_
#define SENTRY_LOADER_STACK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/loader/layout.h"
#include "sentry/loader/loader.h"

namespace sentry::loader {

// MAX_ARG_STRLEN: the longest single argument or environment string, NUL included.
inline constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;
// MAX_ARG_STRINGS.
inline constexpr uint64_t kMaxArgStrings = 0x7fffffff;
// ARG_MAX: the room for strings even with a small RLIMIT_STACK.
inline constexpr uint64_t kArgMax = 32 * kPageSize;
// _STK_LIM: the default RLIMIT_STACK; strings get at most 3/4 of it.
inline constexpr uint64_t kStkLim = 8ull << 20;
// setup_arg_pages: the initial stack VMA extends this far below the strings.
inline constexpr uint64_t kStackExpand = 128 * 1024;
// AT_PLATFORM.
inline constexpr std::string_view kPlatform = "x86_64";

// The strings exec copies onto the stack. Views into the LoadArgs they came
// from, each cut at its first NUL (the guest passed C strings).
struct ExecStrings {
  std::vector<std::string_view> argv;  // never empty: Linux adds "" when argc is 0
  std::vector<std::string_view> envp;
  std::string_view execfn;
};

// Linux's bprm_stack_limits: the bytes that argv and envp strings (plus the file
// name) may take, before subtracting the pointers. max(min(RLIMIT_STACK/4,
// _STK_LIM/4*3), ARG_MAX).
uint64_t ArgStringsLimit(uint64_t stack_limit);

// Collects and checks the strings: E2BIG (with `*error` saying which limit) when a
// string is longer than MAX_ARG_STRLEN, there are too many, or together with
// their pointers they exceed ArgStringsLimit.
ErrnoOr<ExecStrings> CheckExecStrings(const std::vector<std::string>& argv,
                                      const std::vector<std::string>& envp,
                                      std::string_view filename, uint64_t stack_limit,
                                      std::string* error);

// What the auxiliary vector says about the image (addresses already biased).
struct AuxvImage {
  uint64_t phdr = 0;   // AT_PHDR
  uint64_t phnum = 0;  // AT_PHNUM
  uint64_t base = 0;   // AT_BASE: the interpreter's load address, 0 without one
  uint64_t entry = 0;  // AT_ENTRY: the program's own entry
  Credentials creds;
  // Whether the auxv has AT_SYSINFO_EHDR (its value, the vDSO's address, is
  // known only once the vDSO is mapped: PatchAuxv).
  bool vdso = false;
};

struct InitialStack {
  uint64_t sp = 0;             // rsp at entry: 16-byte aligned, points at argc
  uint64_t vma_start = 0;      // the initial [stack] VMA is [vma_start, stack_top)
  std::vector<uint8_t> bytes;  // the contents of [sp, stack_top)
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // as written, AT_NULL included
  uint64_t auxv_addr = 0;                           // where auxv starts
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  uint64_t execfn = 0, platform = 0, random = 0;  // where those strings/bytes are
};

// Lays out the stack below `stack_top`. ENOMEM if it would reach below
// mmap_min_addr.
ErrnoOr<InitialStack> BuildInitialStack(const ExecStrings& strings, const AuxvImage& image,
                                        uint64_t stack_top, uint64_t stack_limit, bool randomize,
                                        RandomSource& rng);

// Sets the value of auxv entry `type` (in `auxv` and in `bytes`); false if
// the stack has no such entry.
bool PatchAuxv(InitialStack& stack, uint64_t type, uint64_t value);

// --- Values the auxiliary vector takes from the CPU and host kernel. ---

// AT_HWCAP: the host kernel's own AT_HWCAP (CPUID leaf 1 EDX, as the kernel
// masks it), or CPUID itself if the host gives none.
uint64_t Hwcap();
// AT_HWCAP2: HWCAP2_FSGSBASE when the host kernel reports it (it then enabled
// CR4.FSGSBASE, so the guest's wrfsbase works in the stub); other bits (ring-3
// MWAIT) are never reported.
uint64_t Hwcap2();
// AT_MINSIGSTKSZ: Linux's get_sigframe_size() for this CPU's xsave size (see
// stack.cc for the formula), and never less than the host kernel's own value.
uint64_t MinSigStackSize();

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_STACK_H_
