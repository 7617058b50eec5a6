// The Sentry's vDSO: the time calls a guest makes most, answered in the
// guest from the parameters the Sentry publishes in [vvar] (vvar.h), and the
// real syscall for anything else. It is built with no libc (-nostdlib
// -ffreestanding) as a shared object linked at 0 (vdso.lds), embedded in the
// Sentry and mapped into every process; see README.md.
//
// The fallback `syscall` instruction traps to the Sentry like any other.
// Like Linux's vDSO, a bad pointer faults in the guest instead of EFAULT.
#include <stddef.h>
#include <stdint.h>

#include "sentry/arch/vdso/vvar.h"

// The syscalls it falls back to (x86-64 numbers).
#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_getcpu 309

struct kernel_timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};
struct kernel_timeval {
  int64_t tv_sec;
  int64_t tv_usec;
};
struct kernel_timezone {
  int tz_minuteswest;
  int tz_dsttime;
};

#define NS_PER_SEC 1000000000ull

// The parameters: the first page of [vvar], which the linker script puts
// SANDBOX_VVAR_SIZE bytes before the image. Reached RIP-relative, with no
// relocation.
static inline const struct sandbox_vvar* vvar(void) {
  const struct sandbox_vvar* p;
  __asm__("leaq sandbox_vvar_page(%%rip), %0" : "=r"(p));
  return p;
}

static inline long sys2(long nr, long a, long b) {
  long ret;
  __asm__ __volatile__("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}

static inline long sys3(long nr, long a, long b, long c) {
  long ret;
  __asm__ __volatile__("syscall"
                       : "=a"(ret)
                       : "a"(nr), "D"(a), "S"(b), "d"(c)
                       : "rcx", "r11", "memory");
  return ret;
}

// Time is never before the epoch or boot here: plain unsigned division.
static inline void split_ns(int64_t ns, int64_t* sec, int64_t* nsec) {
  const uint64_t u = (uint64_t)ns;
  *sec = (int64_t)(u / NS_PER_SEC);
  *nsec = (int64_t)(u % NS_PER_SEC);
}

long __vdso_clock_gettime(int clock, struct kernel_timespec* ts) {
  int64_t ns;
  if (sandbox_vvar_clock_ns(vvar(), clock, &ns) != 0 || ns < 0) {
    return sys2(SYS_clock_gettime, clock, (long)ts);
  }
  split_ns(ns, &ts->tv_sec, &ts->tv_nsec);
  return 0;
}

long __vdso_gettimeofday(struct kernel_timeval* tv, struct kernel_timezone* tz) {
  if (tv != NULL) {
    int64_t ns;
    if (sandbox_vvar_clock_ns(vvar(), SANDBOX_CLOCK_REALTIME, &ns) != 0 || ns < 0) {
      return sys2(SYS_gettimeofday, (long)tv, (long)tz);
    }
    int64_t nsec;
    split_ns(ns, &tv->tv_sec, &nsec);
    tv->tv_usec = nsec / 1000;
  }
  if (tz != NULL) {
    // The sandbox's (as its gettimeofday says): UTC.
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

int64_t __vdso_time(int64_t* t) {
  int64_t ns;
  if (sandbox_vvar_clock_ns(vvar(), SANDBOX_CLOCK_REALTIME, &ns) != 0 || ns < 0) {
    return sys2(SYS_time, (long)t, 0);
  }
  const int64_t sec = (int64_t)((uint64_t)ns / NS_PER_SEC);
  if (t != NULL) *t = sec;
  return sec;
}

long __vdso_clock_getres(int clock, struct kernel_timespec* res) {
  int64_t ns;
  switch (clock) {
    case SANDBOX_CLOCK_REALTIME:
    case SANDBOX_CLOCK_MONOTONIC:
    case SANDBOX_CLOCK_MONOTONIC_RAW:
    case SANDBOX_CLOCK_BOOTTIME:
    case SANDBOX_CLOCK_TAI:
      ns = 1;
      break;
    case SANDBOX_CLOCK_REALTIME_COARSE:
    case SANDBOX_CLOCK_MONOTONIC_COARSE:
      ns = __atomic_load_n(&vvar()->coarse_res_ns, __ATOMIC_RELAXED);
      if (ns > 0) break;
      __attribute__((fallthrough));
    default:
      return sys2(SYS_clock_getres, clock, (long)res);
  }
  if (res != NULL) {
    res->tv_sec = 0;
    res->tv_nsec = ns;
  }
  return 0;
}

// The CPU the thread runs on now (which may have changed by the time the
// caller looks), within the sandbox's CPUs; node 0, the sandbox's only one.
// The host's kernel keeps (node << 12 | cpu) in the limit of a GDT segment
// for this; without the sandbox's CPU count, the syscall.
long __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
  (void)unused;
  const uint32_t ncpus = __atomic_load_n(&vvar()->num_cpus, __ATOMIC_RELAXED);
  if (ncpus == 0) return sys3(SYS_getcpu, (long)cpu, (long)node, 0);
  unsigned p = 0;  // lsl leaves it alone if the segment is not there
  __asm__ __volatile__("lsl %1, %0" : "+r"(p) : "r"(15 * 8 + 3));  // __CPUNODE_SEG
  if (cpu != NULL) *cpu = (p & 0xfff) % ncpus;
  if (node != NULL) *node = 0;
  return 0;
}

// The names glibc, musl and Go look up (LINUX_2.6, vdso.lds), and the plain
// ones Linux's vDSO also exports.
long clock_gettime(int, struct kernel_timespec*)
    __attribute__((weak, alias("__vdso_clock_gettime")));
long gettimeofday(struct kernel_timeval*, struct kernel_timezone*)
    __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t*) __attribute__((weak, alias("__vdso_time")));
long clock_getres(int, struct kernel_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
