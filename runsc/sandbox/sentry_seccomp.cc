#include "runsc/sandbox/sentry_seccomp.h"

#include <errno.h>
#include <malloc.h>
#include <seccomp.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/internal/sysinfo.h"
#include "sentry/base/errno.h"

namespace runsc {

namespace {

// glibc's malloc reads /proc/sys/vm/overcommit_memory the first time it
// shrinks a thread arena's heap (check_may_shrink_heap), and caches the
// answer. Make that happen now: a new thread (a new arena) allocates heap
// memory well past the trim threshold and frees it.
void WarmMallocHeapTrim() {
  std::thread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 4; ++i) blocks.push_back(malloc(100 * 1024));  // below the mmap threshold
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) free(*it);
  }).join();
}

}  // namespace

void WarmUpHostReads() {
  // Once per process: the second call (InstallSentryFilter's, after Boot's)
  // would only start another thread and churn another arena.
  static std::once_flag once;
  std::call_once(once, [] {
    // What the runtime reads from host files once and caches: read it now,
    // while it may (absl::Mutex asks for the CPU count on first contention,
    // and glibc answers from /sys/devices/system/cpu/online).
    (void)absl::base_internal::NumCPUs();
    (void)absl::base_internal::NominalCPUFrequency();
    WarmMallocHeapTrim();
    // glibc's malloc asks for the CPU count (/sys/devices/system/cpu/online)
    // when a thread needs an arena and 8 exist already (arena_get2), which a
    // guest with more than 8 live tasks reaches: fix the limit now, at glibc's
    // default of 8 per CPU.
    mallopt(M_ARENA_MAX, 8 * std::max(1, absl::base_internal::NumCPUs()));
  });
}

absl::Status InstallSentryFilter() {
  WarmUpHostReads();
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("sentry seccomp: seccomp_init failed");
#ifdef SANDBOX_SANITIZER_RUNTIME
  const uint32_t refuse = SCMP_ACT_ERRNO(EACCES);
#else
  // A trap, not SCMP_ACT_KILL_PROCESS: the Sentry never handles SIGSYS, so its
  // default action kills the whole Sentry all the same. But the filter is
  // inherited by the stubs, and under the systrap platform guest syscalls reach
  // seccomp (the stub's own filter traps them to its handler): a KILL here would
  // beat that trap and kill the stub on a guest's open or execve, while two
  // traps give the stub its SIGSYS (platform/systrap/README.md).
  const uint32_t refuse = SCMP_ACT_TRAP;
#endif
  // Every way to reach a host path by name, and to run a host program.
  static constexpr int kRefused[] = {
      SCMP_SYS(open),
      SCMP_SYS(openat),
      SCMP_SYS(openat2),
      SCMP_SYS(creat),
      SCMP_SYS(open_by_handle_at),
      SCMP_SYS(execve),
      SCMP_SYS(execveat),
      SCMP_SYS(uselib),
      SCMP_SYS(chdir),
      SCMP_SYS(chroot),
      SCMP_SYS(pivot_root),
      SCMP_SYS(mount),
  };
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  for (int nr : kRefused) {
    if (rc == 0 && nr >= 0) rc = seccomp_rule_add(ctx, refuse, nr, 0);
  }
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return sentry::HostError("sentry seccomp: installing the filter", -rc);
  return absl::OkStatus();
}

}  // namespace runsc
