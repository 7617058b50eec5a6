// The vDSO: what the kernel maps into every process so that clock_gettime,
// gettimeofday, time, clock_getres and getcpu need no syscall. Its functions
// are called here directly (found in its ELF image through AT_SYSINFO_EHDR)
// and compared with the real syscalls.
#include <elf.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr int64_t kNanos = 1000000000;

int64_t ToNanos(const timespec& ts) { return ts.tv_sec * kNanos + ts.tv_nsec; }

uintptr_t VdsoBase() { return getauxval(AT_SYSINFO_EHDR); }

// The vDSO's dynamic symbols, "name@version" -> address, read from the
// image in memory (its program headers give the load bias; DT_HASH the count).
std::map<std::string, uintptr_t> VdsoSymbols() {
  std::map<std::string, uintptr_t> out;
  const uintptr_t base = VdsoBase();
  if (base == 0) return out;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  uintptr_t bias = 0;
  const Elf64_Dyn* dyn = nullptr;
  bool have_load = false;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD && !have_load) {
      bias = base + ph[i].p_offset - ph[i].p_vaddr;
      have_load = true;
    }
  }
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_DYNAMIC) dyn = reinterpret_cast<const Elf64_Dyn*>(bias + ph[i].p_vaddr);
  }
  if (dyn == nullptr) return out;
  const Elf64_Sym* symtab = nullptr;
  const char* strtab = nullptr;
  const Elf64_Word* hash = nullptr;
  const Elf64_Half* versym = nullptr;
  const Elf64_Verdef* verdef = nullptr;
  for (const Elf64_Dyn* d = dyn; d->d_tag != DT_NULL; ++d) {
    const uintptr_t p = bias + d->d_un.d_ptr;
    if (d->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const Elf64_Sym*>(p);
    if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(p);
    if (d->d_tag == DT_HASH) hash = reinterpret_cast<const Elf64_Word*>(p);
    if (d->d_tag == DT_VERSYM) versym = reinterpret_cast<const Elf64_Half*>(p);
    if (d->d_tag == DT_VERDEF) verdef = reinterpret_cast<const Elf64_Verdef*>(p);
  }
  if (symtab == nullptr || strtab == nullptr || hash == nullptr) return out;
  std::map<int, std::string> versions;
  for (const Elf64_Verdef* v = verdef; v != nullptr;) {
    const auto* aux =
        reinterpret_cast<const Elf64_Verdaux*>(reinterpret_cast<uintptr_t>(v) + v->vd_aux);
    versions[v->vd_ndx] = strtab + aux->vda_name;
    v = v->vd_next == 0
            ? nullptr
            : reinterpret_cast<const Elf64_Verdef*>(reinterpret_cast<uintptr_t>(v) + v->vd_next);
  }
  for (Elf64_Word i = 1; i < hash[1]; ++i) {
    if (symtab[i].st_shndx == SHN_UNDEF || ELF64_ST_TYPE(symtab[i].st_info) != STT_FUNC) continue;
    const std::string version = versym != nullptr ? versions[versym[i] & 0x7fff] : "";
    out[std::string(strtab + symtab[i].st_name) + "@" + version] = bias + symtab[i].st_value;
  }
  return out;
}

template <typename F>
F* VdsoFunction(const char* name) {
  static const std::map<std::string, uintptr_t> syms = VdsoSymbols();
  auto it = syms.find(std::string(name) + "@LINUX_2.6");
  return it == syms.end() ? nullptr : reinterpret_cast<F*>(it->second);
}

using ClockGettimeFn = int(clockid_t, timespec*);
using GettimeofdayFn = int(timeval*, struct timezone*);
using TimeFn = time_t(time_t*);
using ClockGetresFn = int(clockid_t, timespec*);
using GetcpuFn = int(unsigned*, unsigned*, void*);

// A line of /proc/self/maps.
struct MapsEntry {
  uintptr_t start = 0, end = 0;
  std::string perms, name;
};

std::vector<MapsEntry> Maps() {
  std::vector<MapsEntry> out;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    MapsEntry e;
    std::istringstream s(line);
    std::string range, offset, dev, inode;
    s >> range >> e.perms >> offset >> dev >> inode;
    std::getline(s >> std::ws, e.name);
    e.start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    e.end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    out.push_back(e);
  }
  return out;
}

std::optional<MapsEntry> Named(const std::string& name) {
  for (const MapsEntry& e : Maps()) {
    if (e.name == name) return e;
  }
  return std::nullopt;
}

// The clocks the vDSO answers itself.
constexpr clockid_t kClocks[] = {
    CLOCK_REALTIME,        CLOCK_MONOTONIC,        CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_TAI};

TEST(VdsoTest, AuxvNamesAnElfImage) {
  const uintptr_t base = VdsoBase();
  ASSERT_NE(base, 0u) << "no AT_SYSINFO_EHDR";
  EXPECT_EQ(base % kPageSize, 0u);
  EXPECT_EQ(std::memcmp(reinterpret_cast<const void*>(base), ELFMAG, SELFMAG), 0);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  EXPECT_EQ(eh->e_type, ET_DYN);
  EXPECT_EQ(eh->e_machine, EM_X86_64);
}

TEST(VdsoTest, ItAndItsDataAreInTheMaps) {
  std::optional<MapsEntry> vdso = Named("[vdso]");
  ASSERT_TRUE(vdso.has_value());
  EXPECT_EQ(vdso->start, VdsoBase());
  EXPECT_EQ(vdso->perms, "r-xp");
  std::optional<MapsEntry> vvar = Named("[vvar]");
  ASSERT_TRUE(vvar.has_value());
  EXPECT_EQ(vvar->perms, "r--p");
  // Below the image (Linux 6.1 puts it right below; later kernels add a
  // [vvar_vclock] between).
  EXPECT_LE(vvar->end, vdso->start);
  EXPECT_GE(vvar->end + 4 * kPageSize, vdso->start);
}

TEST(VdsoTest, ExportsTheTimeFunctionsUnderLinux26) {
  for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                           "__vdso_getcpu", "__vdso_clock_getres"}) {
    EXPECT_NE(VdsoFunction<void>(name), nullptr) << name;
  }
}

TEST(VdsoTest, ClockGettimeAgreesWithTheSyscall) {
  auto* fn = VdsoFunction<ClockGettimeFn>("__vdso_clock_gettime");
  ASSERT_NE(fn, nullptr);
  for (clockid_t c : kClocks) {
    for (int i = 0; i < 20; ++i) {
      timespec before, vdso, after;
      ASSERT_THAT(syscall(SYS_clock_gettime, c, &before), SyscallSucceeds());
      ASSERT_EQ(fn(c, &vdso), 0) << "clock " << c;
      ASSERT_THAT(syscall(SYS_clock_gettime, c, &after), SyscallSucceeds());
      EXPECT_GE(vdso.tv_nsec, 0);
      EXPECT_LT(vdso.tv_nsec, kNanos);
      EXPECT_LE(ToNanos(before), ToNanos(vdso)) << "clock " << c;
      EXPECT_LE(ToNanos(vdso), ToNanos(after)) << "clock " << c;
    }
  }
  // Clocks it does not compute itself go to the kernel, errors included.
  timespec ts;
  EXPECT_EQ(fn(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
  EXPECT_EQ(fn(12345, &ts), -EINVAL);
}

TEST(VdsoTest, MonotonicNeverGoesBackwardsAcrossTheVdsoAndTheSyscall) {
  // For over a second (so that the kernel updates the vDSO's parameters at
  // least once), interleave vDSO reads, glibc's and the syscall's.
  auto* fn = VdsoFunction<ClockGettimeFn>("__vdso_clock_gettime");
  ASSERT_NE(fn, nullptr);
  for (clockid_t c : {CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW}) {
    timespec ts;
    ASSERT_THAT(syscall(SYS_clock_gettime, c, &ts), SyscallSucceeds());
    int64_t last = ToNanos(ts);
    const int64_t end = last + (c == CLOCK_MONOTONIC ? 1200000000 : 200000000);
    int64_t reads = 0;
    while (last < end) {
      for (int i = 0; i < 50; ++i, ++reads) {
        ASSERT_EQ(fn(c, &ts), 0);
        ASSERT_LE(last, ToNanos(ts)) << "vDSO read " << reads << ", clock " << c;
        last = ToNanos(ts);
        ASSERT_THAT(clock_gettime(c, &ts), SyscallSucceeds());
        ASSERT_LE(last, ToNanos(ts)) << "glibc read " << reads << ", clock " << c;
        last = ToNanos(ts);
      }
      ASSERT_THAT(syscall(SYS_clock_gettime, c, &ts), SyscallSucceeds());
      ASSERT_LE(last, ToNanos(ts)) << "syscall after read " << reads << ", clock " << c;
      last = ToNanos(ts);
    }
  }
}

TEST(VdsoTest, AForkedChildHasItToo) {
  auto* fn = VdsoFunction<ClockGettimeFn>("__vdso_clock_gettime");
  ASSERT_NE(fn, nullptr);
  const pid_t child = fork();
  ASSERT_THAT(child, SyscallSucceeds());
  if (child == 0) {
    timespec before, vdso, after;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before);
    const int r = fn(CLOCK_MONOTONIC, &vdso);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &after);
    _exit(getauxval(AT_SYSINFO_EHDR) == VdsoBase() && r == 0 && ToNanos(before) <= ToNanos(vdso) &&
                  ToNanos(vdso) <= ToNanos(after)
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_THAT(waitpid(child, &status, 0), SyscallSucceedsWithValue(child));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(VdsoTest, GettimeofdayAgreesWithTheSyscall) {
  auto* fn = VdsoFunction<GettimeofdayFn>("__vdso_gettimeofday");
  ASSERT_NE(fn, nullptr);
  timeval before, vdso, after;
  struct timezone tz = {-1, -1}, sys_tz = {-2, -2};
  ASSERT_THAT(syscall(SYS_gettimeofday, &before, &sys_tz), SyscallSucceeds());
  ASSERT_EQ(fn(&vdso, &tz), 0);
  ASSERT_THAT(syscall(SYS_gettimeofday, &after, nullptr), SyscallSucceeds());
  auto us = [](const timeval& tv) { return tv.tv_sec * 1000000 + tv.tv_usec; };
  EXPECT_LE(us(before), us(vdso));
  EXPECT_LE(us(vdso), us(after));
  EXPECT_LT(vdso.tv_usec, 1000000);
  EXPECT_EQ(tz.tz_minuteswest, sys_tz.tz_minuteswest);
  EXPECT_EQ(tz.tz_dsttime, sys_tz.tz_dsttime);
  EXPECT_EQ(fn(nullptr, nullptr), 0);
}

TEST(VdsoTest, TimeAgreesWithGettimeofday) {
  auto* fn = VdsoFunction<TimeFn>("__vdso_time");
  ASSERT_NE(fn, nullptr);
  for (int i = 0; i < 100; ++i) {
    timeval before, after;
    ASSERT_THAT(gettimeofday(&before, nullptr), SyscallSucceeds());
    time_t stored = 0;
    const time_t t = fn(&stored);
    const time_t via_glibc = time(nullptr);
    ASSERT_THAT(gettimeofday(&after, nullptr), SyscallSucceeds());
    EXPECT_EQ(t, stored);
    // Linux's time() is the seconds of the last tick: at a second's turn it
    // may still say the one before.
    EXPECT_GE(t, before.tv_sec - 1);
    EXPECT_LE(t, after.tv_sec);
    EXPECT_LE(t, via_glibc);
    EXPECT_LE(via_glibc, after.tv_sec);
    const long sys = syscall(SYS_time, nullptr);
    EXPECT_GE(sys, t);
  }
}

TEST(VdsoTest, ClockGetresAgreesWithTheSyscall) {
  auto* fn = VdsoFunction<ClockGetresFn>("__vdso_clock_getres");
  ASSERT_NE(fn, nullptr);
  for (clockid_t c : kClocks) {
    timespec vdso = {-1, -1}, sys = {-2, -2};
    ASSERT_EQ(fn(c, &vdso), 0) << "clock " << c;
    ASSERT_THAT(syscall(SYS_clock_getres, c, &sys), SyscallSucceeds());
    EXPECT_EQ(vdso.tv_sec, sys.tv_sec) << "clock " << c;
    EXPECT_EQ(vdso.tv_nsec, sys.tv_nsec) << "clock " << c;
  }
  EXPECT_EQ(fn(CLOCK_MONOTONIC, nullptr), 0);
  timespec ts;
  EXPECT_EQ(fn(12345, &ts), -EINVAL);
}

TEST(VdsoTest, GetcpuIsACpuTheThreadMayRunOn) {
  auto* fn = VdsoFunction<GetcpuFn>("__vdso_getcpu");
  ASSERT_NE(fn, nullptr);
  cpu_set_t allowed;
  ASSERT_THAT(sched_getaffinity(0, sizeof(allowed), &allowed), SyscallSucceeds());
  unsigned cpu = ~0u, node = ~0u, sys_cpu = ~0u, sys_node = ~0u;
  ASSERT_EQ(fn(&cpu, &node, nullptr), 0);
  EXPECT_TRUE(CPU_ISSET(cpu, &allowed)) << cpu;
  ASSERT_THAT(syscall(SYS_getcpu, &sys_cpu, &sys_node, nullptr), SyscallSucceeds());
  EXPECT_TRUE(CPU_ISSET(sys_cpu, &allowed)) << sys_cpu;
  EXPECT_EQ(node, sys_node);
  EXPECT_EQ(fn(nullptr, nullptr, nullptr), 0);
  EXPECT_GE(sched_getcpu(), 0);
}

TEST(VdsoTest, ItsDataCannotBeWritten) {
  std::optional<MapsEntry> vvar = Named("[vvar]");
  ASSERT_TRUE(vvar.has_value());
  // Not even made writable (no VM_MAYWRITE), nor executable.
  EXPECT_THAT(mprotect(reinterpret_cast<void*>(vvar->start), kPageSize, PROT_READ | PROT_WRITE),
              SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(mprotect(reinterpret_cast<void*>(vvar->start), kPageSize, PROT_READ | PROT_EXEC),
              SyscallFailsWithErrno(EACCES));
  // The kernel cannot write there on our behalf either.
  EXPECT_FALSE(ProbeWritable(vvar->start));
  // Reading is fine.
  EXPECT_TRUE(ProbeReadable(vvar->start));
}

}  // namespace
}  // namespace syscalls_test
