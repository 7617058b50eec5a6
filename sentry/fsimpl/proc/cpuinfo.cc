#include "sentry/fsimpl/proc/cpuinfo.h"

#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include <cstring>

#include "absl/strings/str_format.h"

namespace sentry::fsimpl::proc {
namespace {

struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs Cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// Linux's names for the feature bits CPUID reports (arch/x86/include/asm/
// cpufeatures.h, 6.1); null where Linux shows nothing. The flags Linux
// synthesizes itself (constant_tsc, rep_good, pti, ...) are not CPUID bits
// and are not shown.
using Names = const char* const[32];

// Leaf 1, EDX (word 0).
constexpr Names kLeaf1Edx = {"fpu",  "vme",   "de",    "pse",     "tsc",   "msr", "pae",  "mce",
                             "cx8",  "apic",  nullptr, "sep",     "mtrr",  "pge", "mca",  "cmov",
                             "pat",  "pse36", "pn",    "clflush", nullptr, "dts", "acpi", "mmx",
                             "fxsr", "sse",   "sse2",  "ss",      "ht",    "tm",  "ia64", "pbe"};
// Leaf 0x80000001, EDX (word 1).
constexpr Names kExt1Edx = {nullptr, nullptr,  nullptr,    nullptr, nullptr,    nullptr,   nullptr,
                            nullptr, nullptr,  nullptr,    nullptr, "syscall",  nullptr,   nullptr,
                            nullptr, nullptr,  nullptr,    nullptr, nullptr,    "mp",      "nx",
                            nullptr, "mmxext", nullptr,    nullptr, "fxsr_opt", "pdpe1gb", "rdtscp",
                            nullptr, "lm",     "3dnowext", "3dnow"};
// Leaf 1, ECX (word 4).
constexpr Names kLeaf1Ecx = {"pni",    "pclmulqdq", "dtes64", "monitor", "ds_cpl",
                             "vmx",    "smx",       "est",    "tm2",     "ssse3",
                             "cid",    "sdbg",      "fma",    "cx16",    "xtpr",
                             "pdcm",   nullptr,     "pcid",   "dca",     "sse4_1",
                             "sse4_2", "x2apic",    "movbe",  "popcnt",  "tsc_deadline_timer",
                             "aes",    "xsave",     nullptr,  "avx",     "f16c",
                             "rdrand", "hypervisor"};
// Leaf 0x80000001, ECX (word 6).
constexpr Names kExt1Ecx = {"lahf_lm", "cmp_legacy", "svm",         "extapic",       "cr8_legacy",
                            "abm",     "sse4a",      "misalignsse", "3dnowprefetch", "osvw",
                            "ibs",     "xop",        "skinit",      "wdt",           nullptr,
                            "lwp",     "fma4",       "tce",         nullptr,         "nodeid_msr",
                            nullptr,   "tbm",        "topoext",     "perfctr_core",  "perfctr_nb",
                            nullptr,   "bpext",      "ptsc",        "perfctr_llc",   "mwaitx",
                            nullptr,   nullptr};
// Leaf 7.0, EBX (word 9).
constexpr Names kLeaf7Ebx = {
    "fsgsbase",   "tsc_adjust", "sgx",        "bmi1",     "hle",      "avx2",     nullptr,
    "smep",       "bmi2",       "erms",       "invpcid",  "rtm",      "cqm",      nullptr,
    "mpx",        "rdt_a",      "avx512f",    "avx512dq", "rdseed",   "adx",      "smap",
    "avx512ifma", nullptr,      "clflushopt", "clwb",     "intel_pt", "avx512pf", "avx512er",
    "avx512cd",   "sha_ni",     "avx512bw",   "avx512vl"};
// Leaf 7.0, ECX (word 16).
constexpr Names kLeaf7Ecx = {
    nullptr,      "avx512vbmi",   "umip",          "pku",       "ospke",
    "waitpkg",    "avx512_vbmi2", nullptr,         "gfni",      "vaes",
    "vpclmulqdq", "avx512_vnni",  "avx512_bitalg", "tme",       "avx512_vpopcntdq",
    nullptr,      "la57",         nullptr,         nullptr,     nullptr,
    nullptr,      nullptr,        "rdpid",         nullptr,     "bus_lock_detect",
    "cldemote",   nullptr,        "movdiri",       "movdir64b", "enqcmd",
    "sgx_lc",     nullptr};
// Leaf 7.0, EDX (word 18).
constexpr Names kLeaf7Edx = {nullptr,
                             nullptr,
                             "avx512_4vnniw",
                             "avx512_4fmaps",
                             "fsrm",
                             nullptr,
                             nullptr,
                             nullptr,
                             "avx512_vp2intersect",
                             "srbds_ctrl",
                             "md_clear",
                             "rtm_always_abort",
                             nullptr,
                             "tsx_force_abort",
                             "serialize",
                             nullptr,
                             "tsxldtrk",
                             nullptr,
                             "pconfig",
                             "arch_lbr",
                             "ibt",
                             nullptr,
                             "amx_bf16",
                             "avx512_fp16",
                             "amx_tile",
                             "amx_int8",
                             nullptr,
                             nullptr,
                             "flush_l1d",
                             "arch_capabilities",
                             nullptr,
                             nullptr};
// Leaf 0xd.1, EAX (word 10).
constexpr Names kLeafDEax = {"xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd"};
// Leaf 7.1, EAX (word 12).
constexpr Names kLeaf71Eax = {nullptr, nullptr, nullptr, nullptr, "avx_vnni", "avx512_bf16"};
// Leaf 0x80000008, EBX (word 13).
constexpr Names kExt8Ebx = {"clzero", "irperf", "xsaveerptr", nullptr, "rdpru",
                            nullptr,  nullptr,  nullptr,      nullptr, "wbnoinvd"};
// Leaf 6, EAX (word 14).
constexpr Names kLeaf6Eax = {"dtherm",  "ida",         "arat",  nullptr,      "pln",
                             nullptr,   "pts",         "hwp",   "hwp_notify", "hwp_act_window",
                             "hwp_epp", "hwp_pkg_req", nullptr, nullptr,      nullptr,
                             nullptr,   nullptr,       nullptr, nullptr,      "hfi"};
// Leaf 0x80000007, EDX: x86_power_flags.
constexpr Names kPowerFlags = {"ts",          "fid",           "vid",      "ttp", "tm",
                               "stc",         "100mhzsteps",   "hwpstate", "",    "cpb",
                               "eff_freq_ro", "proc_feedback", "acc_power"};

void AddFlags(std::vector<std::string>* out, const Names& names, uint32_t bits) {
  for (int i = 0; i < 32; ++i) {
    if ((bits >> i) & 1 && names[i] != nullptr) out->emplace_back(names[i]);
  }
}

// The TSC's frequency from CPUID leaf 0x15 or 0x16, or a hypervisor's timing
// leaf; 0 if none says.
uint64_t TscKhz(uint32_t max_leaf, bool hypervisor) {
  if (max_leaf >= 0x15) {
    Regs r = Cpuid(0x15);
    if (r.eax != 0 && r.ebx != 0 && r.ecx != 0) {
      return uint64_t{r.ecx} * r.ebx / r.eax / 1000;
    }
  }
  if (max_leaf >= 0x16) {
    Regs r = Cpuid(0x16);
    if ((r.eax & 0xffff) != 0) return uint64_t{r.eax & 0xffff} * 1000;
  }
  if (hypervisor && Cpuid(0x40000000).eax >= 0x40000010) {
    Regs r = Cpuid(0x40000010);
    if (r.eax != 0) return r.eax;
  }
  return 0;
}

// Measures the TSC against CLOCK_MONOTONIC for 2 ms, once (at the first
// /proc/cpuinfo read rather than at boot, which it would slow down).
uint64_t MeasuredTscKhz() {
  static const uint64_t khz = [] {
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const uint64_t c0 = __rdtsc();
    do {
      clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec) < 2000000);
    const uint64_t c1 = __rdtsc();
    const uint64_t ns = (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    return ns == 0 ? uint64_t{0} : (c1 - c0) * 1000000 / ns;
  }();
  return khz;
}

}  // namespace

CpuInfo ReadCpuInfo() {
  CpuInfo c;
  Regs r0 = Cpuid(0);
  c.cpuid_level = r0.eax;
  char vendor[13] = {};
  std::memcpy(vendor, &r0.ebx, 4);
  std::memcpy(vendor + 4, &r0.edx, 4);
  std::memcpy(vendor + 8, &r0.ecx, 4);
  c.vendor = vendor;
  const bool intel = c.vendor == "GenuineIntel";

  Regs r1 = Cpuid(1);
  const uint32_t base_family = (r1.eax >> 8) & 0xf;
  c.family = base_family == 0xf ? base_family + ((r1.eax >> 20) & 0xff) : base_family;
  c.model = (r1.eax >> 4) & 0xf;
  if (c.family >= 6) c.model += ((r1.eax >> 16) & 0xf) << 4;
  c.stepping = r1.eax & 0xf;
  if (r1.edx & (1u << 19)) c.clflush_size = ((r1.ebx >> 8) & 0xff) * 8;
  AddFlags(&c.flags, kLeaf1Edx, r1.edx);

  const uint32_t ext_max = Cpuid(0x80000000).eax;
  Regs e1;
  if (ext_max >= 0x80000001) e1 = Cpuid(0x80000001);
  AddFlags(&c.flags, kExt1Edx, e1.edx);
  AddFlags(&c.flags, kLeaf1Ecx, r1.ecx);
  AddFlags(&c.flags, kExt1Ecx, e1.ecx);
  if (c.cpuid_level >= 7) {
    Regs r7 = Cpuid(7, 0);
    AddFlags(&c.flags, kLeaf7Ebx, r7.ebx);
    if (c.cpuid_level >= 0xd) AddFlags(&c.flags, kLeafDEax, Cpuid(0xd, 1).eax);
    if (r7.eax >= 1) AddFlags(&c.flags, kLeaf71Eax, Cpuid(7, 1).eax);
    if (ext_max >= 0x80000008) AddFlags(&c.flags, kExt8Ebx, Cpuid(0x80000008).ebx);
    if (c.cpuid_level >= 6) AddFlags(&c.flags, kLeaf6Eax, Cpuid(6).eax);
    AddFlags(&c.flags, kLeaf7Ecx, r7.ecx);
    AddFlags(&c.flags, kLeaf7Edx, r7.edx);
  } else {
    if (c.cpuid_level >= 0xd) AddFlags(&c.flags, kLeafDEax, Cpuid(0xd, 1).eax);
    if (ext_max >= 0x80000008) AddFlags(&c.flags, kExt8Ebx, Cpuid(0x80000008).ebx);
    if (c.cpuid_level >= 6) AddFlags(&c.flags, kLeaf6Eax, Cpuid(6).eax);
  }

  if (ext_max >= 0x80000004) {
    char brand[49] = {};
    for (uint32_t i = 0; i < 3; ++i) {
      Regs b = Cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &b, 16);
    }
    const char* p = brand;
    while (*p == ' ') ++p;
    c.model_name = p;
  }
  if (c.model_name.empty()) c.model_name = "unknown";

  // Caches as Linux's cpu_detect_cache_sizes, then Intel's leaf 4.
  if (ext_max >= 0x80000005) {
    Regs r = Cpuid(0x80000005);
    c.cache_kb = (r.ecx >> 24) + (r.edx >> 24);
  }
  if (ext_max >= 0x80000006) {
    Regs r = Cpuid(0x80000006);
    c.tlb_size = ((r.ebx >> 16) & 0xfff) + (r.ebx & 0xfff);
    if ((r.ecx >> 16) != 0) c.cache_kb = r.ecx >> 16;
  }
  if (intel && c.cpuid_level >= 4) {
    // init_intel_cacheinfo: L3, else L2, else L1i + L1d.
    uint32_t l1i = 0, l1d = 0, l2 = 0, l3 = 0;
    for (uint32_t i = 0; i < 16; ++i) {
      Regs r = Cpuid(4, i);
      const uint32_t type = r.eax & 0x1f;  // 1 data, 2 instruction, 3 unified
      if (type == 0) break;
      const uint32_t level = (r.eax >> 5) & 0x7;
      const uint64_t kb = uint64_t{((r.ebx >> 22) & 0x3ff) + 1} * (((r.ebx >> 12) & 0x3ff) + 1) *
                          ((r.ebx & 0xfff) + 1) * (uint64_t{r.ecx} + 1) / 1024;
      if (level == 1 && type == 1) l1d = static_cast<uint32_t>(kb);
      if (level == 1 && type == 2) l1i = static_cast<uint32_t>(kb);
      if (level == 2) l2 = static_cast<uint32_t>(kb);
      if (level == 3) l3 = static_cast<uint32_t>(kb);
    }
    const uint32_t kb = l3 ? l3 : (l2 ? l2 : l1i + l1d);
    if (kb != 0) c.cache_kb = kb;
  }
  if (ext_max >= 0x80000008) {
    Regs r = Cpuid(0x80000008);
    c.phys_bits = r.eax & 0xff;
    c.virt_bits = (r.eax >> 8) & 0xff;
  }
  if (ext_max >= 0x80000007) {
    const uint32_t edx = Cpuid(0x80000007).edx;
    for (int i = 0; i < 32; ++i) {
      if (!((edx >> i) & 1)) continue;
      if (i < 13 && kPowerFlags[i] != nullptr) {
        if (kPowerFlags[i][0] != '\0') c.power.emplace_back(kPowerFlags[i]);
      } else {
        c.power.push_back(absl::StrFormat("[%d]", i));
      }
    }
  }
  c.khz = TscKhz(c.cpuid_level, (r1.ecx >> 31) & 1);
  return c;
}

std::string FormatCpuinfo(const CpuInfo& c, int num_cpus) {
  const uint64_t khz = c.khz != 0 ? c.khz : MeasuredTscKhz();
  std::string flags, power;
  for (const std::string& f : c.flags) flags += " " + f;
  for (const std::string& p : c.power) power += " " + p;
  // Linux (HZ=250): loops_per_jiffy = khz * 1000 / HZ, bogomips = 2 * MHz.
  const uint64_t lpj = khz * 4;
  std::string out;
  for (int cpu = 0; cpu < num_cpus; ++cpu) {
    out += absl::StrFormat(
        "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: %d\nmodel name\t: %s\n"
        "stepping\t: %d\n",
        cpu, c.vendor, c.family, c.model, c.model_name, c.stepping);
    if (khz != 0) out += absl::StrFormat("cpu MHz\t\t: %d.%03d\n", khz / 1000, khz % 1000);
    if (c.cache_kb != 0) out += absl::StrFormat("cache size\t: %d KB\n", c.cache_kb);
    out += absl::StrFormat(
        "physical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\ncpu cores\t: %d\napicid\t\t: %d\n"
        "initial apicid\t: %d\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: %d\nwp\t\t: yes\n"
        "flags\t\t:%s\nbugs\t\t:\nbogomips\t: %d.%02d\n",
        num_cpus, cpu, num_cpus, cpu, cpu, c.cpuid_level, flags, lpj / 2000, (lpj / 20) % 100);
    if (c.tlb_size != 0) out += absl::StrFormat("TLB size\t: %d 4K pages\n", c.tlb_size);
    out += absl::StrFormat(
        "clflush size\t: %d\ncache_alignment\t: %d\naddress sizes\t: %d bits physical, %d bits "
        "virtual\npower management:%s\n\n",
        c.clflush_size, c.clflush_size, c.phys_bits, c.virt_bits, power);
  }
  return out;
}

}  // namespace sentry::fsimpl::proc
