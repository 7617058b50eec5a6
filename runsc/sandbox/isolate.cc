#include "runsc/sandbox/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cstdint>
#include <cstdio>

#include "sentry/base/errno.h"

namespace runsc {

using sentry::HostError;

absl::Status EnterSentryNamespaces() {
  if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0) {
    return HostError("sentry: unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNET)", errno);
  }
  // Nothing mounted here reaches the host, and nothing the host mounts later
  // reaches the Sentry.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return HostError("sentry: making mounts private", errno);
  }
  return absl::OkStatus();
}

absl::Status ProvideTscFrequencyFile() {
  // TSC ticks against CLOCK_MONOTONIC over ~0.2 ms of spinning.
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const uint64_t c0 = __rdtsc();
  int64_t ns = 0;
  uint64_t c1 = c0;
  do {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c1 = __rdtsc();
    ns = (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
  } while (ns < 200000);
  const uint64_t khz = (c1 - c0) * 1000000 / static_cast<uint64_t>(ns);
  constexpr char kDir[] = "/sys/devices/system/cpu/cpu0";
  if (mount("sentry-tsc", kDir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=2,mode=0555") != 0) {
    return HostError("sentry: mounting a tmpfs on /sys/devices/system/cpu/cpu0", errno);
  }
  const int fd = open("/sys/devices/system/cpu/cpu0/tsc_freq_khz",
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return HostError("sentry: creating tsc_freq_khz", errno);
  char text[32];
  const int len = snprintf(text, sizeof(text), "%llu\n", static_cast<unsigned long long>(khz));
  const ssize_t n = write(fd, text, static_cast<size_t>(len));
  const int e = errno;
  close(fd);
  if (n != len) return HostError("sentry: writing tsc_freq_khz", n < 0 ? e : EIO);
  return absl::OkStatus();
}

absl::Status EnterEmptyRoot() {
  // Staged on /proc, which every Linux host has: in our own (private) mount
  // namespace the tmpfs only shadows it here, and it is gone after the pivot.
  // One inode (the root directory itself), read-only from the start, so no
  // moment exists in which anything can be created in it.
  constexpr char kStaging[] = "/proc";
  if (mount("sentry-root", kStaging, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=0555") != 0) {
    return HostError("sentry: mounting an empty tmpfs for the root", errno);
  }
  if (chdir(kStaging) != 0) return HostError("sentry: chdir to the empty root", errno);
  // pivot_root(".", "."): the old root ends up stacked on "/", then detached.
  if (syscall(SYS_pivot_root, ".", ".") != 0) return HostError("sentry: pivot_root", errno);
  if (umount2(".", MNT_DETACH) != 0) return HostError("sentry: detaching the host's root", errno);
  if (chdir("/") != 0) return HostError("sentry: chdir(\"/\")", errno);
  return absl::OkStatus();
}

}  // namespace runsc
