// The vvar page: the clock parameters the Sentry publishes and its vDSO reads
// to tell the time without a syscall. This header is the contract between the
// two, and C (the vDSO is built from C with no libc): the same inline
// functions compute the time in the vDSO and in the Sentry's own
// clock_gettime, so the two agree to the nanosecond for the same TSC reading.
//
// The clocks are linear in the TSC between updates:
//   MONOTONIC     = mono_base_ns + (tsc - base_tsc) * mono_mult >> 32
//   MONOTONIC_RAW = raw_base_ns  + (tsc - base_tsc) * raw_mult  >> 32
//   REALTIME      = MONOTONIC + realtime_offset_ns
//   BOOTTIME      = MONOTONIC + boottime_offset_ns
//   TAI           = REALTIME + tai_offset_ns
// The _COARSE clocks read the same as their fine ones (a clock may be better
// than its resolution says). The Sentry refreshes the parameters about once a
// second (sentry/time/timekeeper.h) so that each clock tracks the host's, and
// never so that a clock goes backwards.
//
// Concurrency: a sequence count. The writer makes `seq` odd, fences, reads the
// TSC, writes the fields and makes `seq` even again; a reader retries while
// `seq` is odd or changed. A reader that used the old parameters read its TSC
// before the writer read the new base (the fences order both TSC reads with
// the `seq` accesses), and the new parameters continue the old ones at that
// base: so no reader can see time go backwards across an update.
#ifndef SENTRY_ARCH_VDSO_VVAR_H_
#define SENTRY_ARCH_VDSO_VVAR_H_

#include <stdint.h>

// What the vDSO may do.
#define SANDBOX_VVAR_MODE_SYSCALL 0u  // nothing yet: every call is a syscall
#define SANDBOX_VVAR_MODE_TSC 1u      // the TSC and the parameters below

// Bytes of the [vvar] mapping (Linux 6.1's [vvar] is 4 pages too); the
// parameters are in its first page, and [vdso] follows it directly.
#define SANDBOX_VVAR_SIZE (4 * 4096)

#define SANDBOX_VVAR_MULT_SHIFT 32

// Clock ids (linux/time.h), spelled out: the vDSO has no libc headers.
#define SANDBOX_CLOCK_REALTIME 0
#define SANDBOX_CLOCK_MONOTONIC 1
#define SANDBOX_CLOCK_MONOTONIC_RAW 4
#define SANDBOX_CLOCK_REALTIME_COARSE 5
#define SANDBOX_CLOCK_MONOTONIC_COARSE 6
#define SANDBOX_CLOCK_BOOTTIME 7
#define SANDBOX_CLOCK_TAI 11

struct sandbox_vvar {
  uint32_t seq;   // odd while the Sentry writes
  uint32_t mode;  // SANDBOX_VVAR_MODE_*
  uint64_t base_tsc;
  int64_t mono_base_ns;
  uint64_t mono_mult;  // ns per TSC cycle, << SANDBOX_VVAR_MULT_SHIFT
  int64_t raw_base_ns;
  uint64_t raw_mult;
  int64_t realtime_offset_ns;  // REALTIME - MONOTONIC
  int64_t boottime_offset_ns;  // BOOTTIME - MONOTONIC
  int64_t tai_offset_ns;       // TAI - REALTIME
  // Set once, before the first task runs.
  int64_t coarse_res_ns;  // clock_getres of the _COARSE clocks
  uint32_t num_cpus;      // getcpu reports a CPU below this
  uint32_t reserved;
};

#ifdef __cplusplus
static_assert(sizeof(struct sandbox_vvar) == 88, "the vvar layout is an ABI with the vDSO");
#endif

// The TSC, not read before the instructions above it (the loads of `seq` and
// the parameters) nor after those below it (the reader's second load of `seq`).
static inline uint64_t sandbox_rdtsc_ordered(void) {
  uint32_t lo, hi;
  __asm__ __volatile__("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

// base_ns + (tsc - base_tsc) * mult >> 32, with no overflow however stale the
// base (a TSC behind the base, as another CPU's may be by a few cycles,
// counts as the base).
static inline int64_t sandbox_vvar_scale(uint64_t tsc, uint64_t base_tsc, int64_t base_ns,
                                         uint64_t mult) {
  const uint64_t delta = tsc > base_tsc ? tsc - base_tsc : 0;
  return base_ns + (int64_t)(((unsigned __int128)delta * mult) >> SANDBOX_VVAR_MULT_SHIFT);
}

#define SANDBOX_VVAR_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

// The time on `clock` in ns, computed from `v`: 0 on success, -1 when the
// caller must ask the kernel (a clock the page does not cover, or no
// parameters yet).
static inline int sandbox_vvar_clock_ns(const struct sandbox_vvar* v, int clock, int64_t* ns) {
  uint32_t seq;
  int64_t t;
  switch (clock) {
    case SANDBOX_CLOCK_REALTIME:
    case SANDBOX_CLOCK_MONOTONIC:
    case SANDBOX_CLOCK_MONOTONIC_RAW:
    case SANDBOX_CLOCK_REALTIME_COARSE:
    case SANDBOX_CLOCK_MONOTONIC_COARSE:
    case SANDBOX_CLOCK_BOOTTIME:
    case SANDBOX_CLOCK_TAI:
      break;
    default:
      return -1;
  }
  for (;;) {
    seq = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
    if (seq & 1) {
      __asm__ __volatile__("pause" ::: "memory");
      continue;
    }
    if (SANDBOX_VVAR_LOAD(v->mode) != SANDBOX_VVAR_MODE_TSC) return -1;
    const uint64_t base_tsc = SANDBOX_VVAR_LOAD(v->base_tsc);
    int64_t base_ns, offset = 0;
    uint64_t mult;
    if (clock == SANDBOX_CLOCK_MONOTONIC_RAW) {
      base_ns = SANDBOX_VVAR_LOAD(v->raw_base_ns);
      mult = SANDBOX_VVAR_LOAD(v->raw_mult);
    } else {
      base_ns = SANDBOX_VVAR_LOAD(v->mono_base_ns);
      mult = SANDBOX_VVAR_LOAD(v->mono_mult);
      if (clock == SANDBOX_CLOCK_REALTIME || clock == SANDBOX_CLOCK_REALTIME_COARSE) {
        offset = SANDBOX_VVAR_LOAD(v->realtime_offset_ns);
      } else if (clock == SANDBOX_CLOCK_TAI) {
        offset = SANDBOX_VVAR_LOAD(v->realtime_offset_ns) + SANDBOX_VVAR_LOAD(v->tai_offset_ns);
      } else if (clock == SANDBOX_CLOCK_BOOTTIME) {
        offset = SANDBOX_VVAR_LOAD(v->boottime_offset_ns);
      }
    }
    t = sandbox_vvar_scale(sandbox_rdtsc_ordered(), base_tsc, base_ns, mult) + offset;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&v->seq, __ATOMIC_RELAXED) == seq) break;
  }
  *ns = t;
  return 0;
}

#undef SANDBOX_VVAR_LOAD

#endif  // SENTRY_ARCH_VDSO_VVAR_H_
