// The Sentry's own confinement on the host (DESIGN.md §2, §11.4): its own
// mount, IPC, UTS and network namespaces, and an empty read-only root, so that
// it holds no host path at all; host files come only from the gofer and the
// donated fds (which keep working: they are open files, not names).
#ifndef RUNSC_SANDBOX_ISOLATE_H_
#define RUNSC_SANDBOX_ISOLATE_H_

#include "absl/status/status.h"

namespace runsc {

// New mount, IPC, UTS and network namespaces for the calling process, its
// mounts made private. Must run while the process has one thread (the
// namespaces are per thread; threads started later inherit them): runsc do
// calls it in the sandbox child, right after fork.
absl::Status EnterSentryNamespaces();

// In the Sentry's own mount namespace (EnterSentryNamespaces; before
// EnterEmptyRoot): a small tmpfs over /sys/devices/system/cpu/cpu0 holding
// tsc_freq_khz, a rough TSC rate measured here in ~0.2 ms. absl's
// NominalCPUFrequency (which WarmUpHostReads must call before the seccomp
// filter) reads that file where a kernel exports it and otherwise measures the
// rate itself, sleeping 3 ms or more; its only user in runsc paces how often
// a waiting absl::Mutex re-reads its thread's priority (once per second's
// worth of cycles), which any rough figure serves. Nothing else in the Sentry
// reads cpu0's directory, and the pivot leaves it behind.
absl::Status ProvideTscFrequencyFile();

// Pivots into an empty read-only tmpfs and detaches the host's tree. Run once
// the Sentry has read what it needs from host paths (Boot, just before the
// seccomp filter); every thread moves with it (they share the fs context).
absl::Status EnterEmptyRoot();

}  // namespace runsc

#endif  // RUNSC_SANDBOX_ISOLATE_H_
