// /proc/cpuinfo from CPUID, executed by the Sentry once at boot (the guest
// runs on the same CPU model; no host path is read).
#ifndef SENTRY_FSIMPL_PROC_CPUINFO_H_
#define SENTRY_FSIMPL_PROC_CPUINFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sentry::fsimpl::proc {

struct CpuInfo {
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", ...
  std::string model_name;  // the brand string, leading spaces dropped
  uint32_t family = 0, model = 0, stepping = 0;
  uint32_t cpuid_level = 0;  // the highest basic leaf
  uint64_t khz = 0;          // the TSC's frequency per CPUID, 0 if it does not say
  uint32_t cache_kb = 0;     // Intel: the last-level cache; AMD: L2 (as Linux)
  uint32_t clflush_size = 64;
  uint32_t phys_bits = 36, virt_bits = 48;
  uint32_t tlb_size = 0;           // AMD: L1+L2 4K TLB entries, as Linux counts them
  std::vector<std::string> flags;  // Linux's names for the CPUID feature bits
  std::vector<std::string> power;  // "power management:" (leaf 0x80000007)
};

// Executes CPUID.
CpuInfo ReadCpuInfo();

// The file, one block per CPU 0..num_cpus-1 (one socket, one thread per
// core). When CPUID gave no TSC frequency, the first call measures it (2 ms).
std::string FormatCpuinfo(const CpuInfo& c, int num_cpus);

}  // namespace sentry::fsimpl::proc

#endif  // SENTRY_FSIMPL_PROC_CPUINFO_H_
