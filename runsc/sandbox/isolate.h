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

// Pivots into an empty read-only tmpfs and detaches the host's tree. Run once
// the Sentry has read what it needs from host paths (Boot, just before the
// seccomp filter); every thread moves with it (they share the fs context).
absl::Status EnterEmptyRoot();

}  // namespace runsc

#endif  // RUNSC_SANDBOX_ISOLATE_H_
