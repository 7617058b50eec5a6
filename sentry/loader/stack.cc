#include "sentry/loader/stack.h"

#include <cpuid.h>
#include <elf.h>
#include <sys/auxv.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/arch/registers.h"

namespace sentry::loader {
namespace {

// HWCAP2_FSGSBASE (arch/x86/include/uapi/asm/hwcap2.h).
constexpr uint64_t kHwcap2Fsgsbase = uint64_t{1} << 1;

std::string_view UpToNul(std::string_view s) { return s.substr(0, s.find('\0')); }

void Put64(std::vector<uint8_t>& bytes, uint64_t offset, uint64_t v) {
  std::memcpy(bytes.data() + offset, &v, sizeof(v));
}

void PutBytes(std::vector<uint8_t>& bytes, uint64_t offset, std::string_view s) {
  if (!s.empty()) std::memcpy(bytes.data() + offset, s.data(), s.size());
  bytes[offset + s.size()] = 0;
}

}  // namespace

uint64_t ArgStringsLimit(uint64_t stack_limit) {
  return std::max(std::min(kStkLim / 4 * 3, stack_limit / 4), kArgMax);
}

ErrnoOr<ExecStrings> CheckExecStrings(const std::vector<std::string>& argv,
                                      const std::vector<std::string>& envp,
                                      std::string_view filename, uint64_t stack_limit,
                                      std::string* error) {
  if (argv.size() > kMaxArgStrings || envp.size() > kMaxArgStrings) {
    *error = absl::StrFormat("too many arguments (%d) or environment strings (%d)", argv.size(),
                             envp.size());
    return Errno(E2BIG);
  }
  uint64_t limit = ArgStringsLimit(stack_limit);
  // The pointers to the strings take stack too; argc 0 becomes 1 (see below).
  uint64_t pointers = (std::max<uint64_t>(argv.size(), 1) + envp.size()) * sizeof(uint64_t);
  if (limit <= pointers) {
    *error = absl::StrFormat(
        "%d arguments and %d environment strings need %d bytes of pointers; the limit is %d",
        argv.size(), envp.size(), pointers, limit);
    return Errno(E2BIG);
  }
  limit -= pointers;

  ExecStrings out;
  uint64_t used = 0;
  auto add = [&](std::string_view s, std::string_view what, size_t index) -> bool {
    uint64_t len = s.size() + 1;
    if (len > kMaxArgStrlen) {
      *error = absl::StrFormat("%s %d is %d bytes long, more than MAX_ARG_STRLEN (%d)", what, index,
                               len, kMaxArgStrlen);
      return false;
    }
    used += len;
    if (used > limit) {
      *error = absl::StrFormat(
          "the argument and environment strings take more than %d bytes (RLIMIT_STACK %d)", limit,
          stack_limit);
      return false;
    }
    return true;
  };
  // Linux's order: the file name, the environment, the arguments.
  out.execfn = UpToNul(filename);
  if (!add(out.execfn, "the file name", 0)) return Errno(E2BIG);
  out.envp.reserve(envp.size());
  for (size_t i = 0; i < envp.size(); ++i) {
    out.envp.push_back(UpToNul(envp[i]));
    if (!add(out.envp.back(), "environment string", i)) return Errno(E2BIG);
  }
  out.argv.reserve(std::max<size_t>(argv.size(), 1));
  for (size_t i = 0; i < argv.size(); ++i) {
    out.argv.push_back(UpToNul(argv[i]));
    if (!add(out.argv.back(), "argument", i)) return Errno(E2BIG);
  }
  // Since Linux 5.18 an empty argv gets one empty argument, so that programs
  // that start at argv[1] do not walk into envp.
  if (argv.empty()) {
    out.argv.push_back(std::string_view());
    if (!add(out.argv.back(), "argument", 0)) return Errno(E2BIG);
  }
  return out;
}

ErrnoOr<InitialStack> BuildInitialStack(const ExecStrings& strings, const AuxvImage& image,
                                        uint64_t stack_top, uint64_t stack_limit, bool randomize,
                                        RandomSource& rng) {
  const uint64_t argc = strings.argv.size();
  const uint64_t envc = strings.envp.size();
  uint64_t string_bytes = strings.execfn.size() + 1;
  for (std::string_view s : strings.argv) string_bytes += s.size() + 1;
  for (std::string_view s : strings.envp) string_bytes += s.size() + 1;

  // The most all of it can take (auxv is at most 32 entries), to rule out any
  // wrap-around below before computing addresses.
  const uint64_t pointer_items = (argc + 1) + (envc + 1) + 1;
  const uint64_t bound = 8 + string_bytes + kStackAlignRandomRange + kPlatform.size() + 1 + 16 +
                         32 * 16 + pointer_items * 8 + 16;
  if (stack_top < kMmapMinAddr || stack_top - kMmapMinAddr < bound + kPageSize) {
    return Errno(ENOMEM);
  }

  InitialStack st;
  // copy_strings: below the 8-byte end marker, the file name, then each
  // environment and argument string, last first.
  uint64_t p = stack_top - sizeof(uint64_t);
  p -= strings.execfn.size() + 1;
  st.execfn = p;
  std::vector<uint64_t> env_addr(envc), arg_addr(argc);
  for (uint64_t i = envc; i-- > 0;) {
    p -= strings.envp[i].size() + 1;
    env_addr[i] = p;
  }
  st.env_start = p;
  st.env_end = st.execfn;
  for (uint64_t i = argc; i-- > 0;) {
    p -= strings.argv[i].size() + 1;
    arg_addr[i] = p;
  }
  st.arg_start = p;
  st.arg_end = st.env_start;
  const uint64_t strings_low = p;

  // create_elf_tables.
  p = ArchAlignStack(p, randomize, rng);
  p -= kPlatform.size() + 1;
  st.platform = p;
  p -= 16;
  st.random = p;
  uint8_t random_bytes[16];
  rng.Fill(random_bytes);

  // Linux's order (ARCH_DLINFO first: AT_SYSINFO_EHDR if there is a vDSO,
  // then AT_MINSIGSTKSZ).
  st.auxv.clear();
  if (image.vdso) st.auxv.push_back({AT_SYSINFO_EHDR, 0});
  const std::pair<uint64_t, uint64_t> rest[] = {
      {AT_MINSIGSTKSZ, MinSigStackSize()},
      {AT_HWCAP, Hwcap()},
      {AT_PAGESZ, kPageSize},
      {AT_CLKTCK, 100},
      {AT_PHDR, image.phdr},
      {AT_PHENT, sizeof(Elf64_Phdr)},
      {AT_PHNUM, image.phnum},
      {AT_BASE, image.base},
      {AT_FLAGS, 0},
      {AT_ENTRY, image.entry},
      {AT_UID, image.creds.uid},
      {AT_EUID, image.creds.euid},
      {AT_GID, image.creds.gid},
      {AT_EGID, image.creds.egid},
      {AT_SECURE, image.creds.secure ? 1u : 0u},
      {AT_RANDOM, st.random},
      {AT_HWCAP2, Hwcap2()},
      {AT_EXECFN, st.execfn},
      {AT_PLATFORM, st.platform},
      {AT_NULL, 0},
  };
  st.auxv.insert(st.auxv.end(), std::begin(rest), std::end(rest));

  // STACK_ROUND: argc, the pointers and auxv sit right above sp, which is
  // 16-byte aligned; the padding goes between auxv and AT_RANDOM's bytes.
  st.sp = (p - st.auxv.size() * 16 - pointer_items * 8) & ~uint64_t{15};

  // setup_arg_pages: the VMA covers the strings plus 128 KiB (at most
  // RLIMIT_STACK), and create_elf_tables extends it down to sp if need be.
  uint64_t strings_vma = stack_top - PageRoundDown(strings_low);
  uint64_t expand = std::min(PageRoundDown(stack_limit), strings_vma + kStackExpand);
  expand = std::min(expand, stack_top - kMmapMinAddr);
  st.vma_start = std::min({PageRoundDown(strings_low), stack_top - expand, PageRoundDown(st.sp)});

  // The bytes of [sp, stack_top).
  st.bytes.assign(stack_top - st.sp, 0);
  auto at = [&](uint64_t addr) { return addr - st.sp; };
  uint64_t w = st.sp;
  Put64(st.bytes, at(w), argc);
  w += 8;
  for (uint64_t a : arg_addr) {
    Put64(st.bytes, at(w), a);
    w += 8;
  }
  w += 8;  // NULL
  for (uint64_t a : env_addr) {
    Put64(st.bytes, at(w), a);
    w += 8;
  }
  w += 8;  // NULL
  st.auxv_addr = w;
  for (const auto& [type, value] : st.auxv) {
    Put64(st.bytes, at(w), type);
    Put64(st.bytes, at(w + 8), value);
    w += 16;
  }
  std::memcpy(st.bytes.data() + at(st.random), random_bytes, sizeof(random_bytes));
  PutBytes(st.bytes, at(st.platform), kPlatform);
  for (uint64_t i = 0; i < argc; ++i) PutBytes(st.bytes, at(arg_addr[i]), strings.argv[i]);
  for (uint64_t i = 0; i < envc; ++i) PutBytes(st.bytes, at(env_addr[i]), strings.envp[i]);
  PutBytes(st.bytes, at(st.execfn), strings.execfn);
  return st;
}

bool PatchAuxv(InitialStack& stack, uint64_t type, uint64_t value) {
  for (size_t i = 0; i < stack.auxv.size(); ++i) {
    if (stack.auxv[i].first != type) continue;
    stack.auxv[i].second = value;
    Put64(stack.bytes, stack.auxv_addr + i * 16 + 8 - stack.sp, value);
    return true;
  }
  return false;
}

uint64_t Hwcap() {
  // What the host kernel tells its own processes (it may mask CPUID bits, such as
  // MTRR under a hypervisor); CPUID itself if it says nothing.
  if (uint64_t host = getauxval(AT_HWCAP); host != 0) return host;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  return edx;
}

uint64_t Hwcap2() { return getauxval(AT_HWCAP2) & kHwcap2Fsgsbase; }

uint64_t MinSigStackSize() {
  // Linux's init_sigframe_size() for a kernel with CONFIG_IA32_EMULATION (every
  // distribution's), rounded up to 16:
  //   sizeof(struct sigframe_ia32)  732  (the largest of the frame kinds)
  //   + MAX_FRAME_PADDING            15
  //   + fpu__get_fpstate_size():    the user xstate size + FP_XSTATE_MAGIC2 (4)
  //                                 + struct fregs_state (112)
  //   + MAX_XSAVE_PADDING            63
  // NOTE: Linux takes the xstate size from its own view of the enabled user
  // features, which can be a little larger than CPUID 0xD's (16 bytes more on
  // the AMD EPYC host this was written on: 3376 against our 3360), and a kernel
  // without IA32 emulation reports less; so this is Linux's value approximately.
  constexpr uint64_t kIa32SigframeSize = 732;
  constexpr uint64_t kFrameAlignment = 16;
  uint64_t size =
      kIa32SigframeSize + (kFrameAlignment - 1) + arch::FpState::XsaveSize() + 4 + 112 + 63;
  size = (size + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
  // Never less than the host kernel's figure, so that a guest sizing its signal
  // stacks from it is safe on both.
  return std::max<uint64_t>(size, getauxval(AT_MINSIGSTKSZ));
}

}  // namespace sentry::loader
