// The Sentry's own seccomp filter (DESIGN.md §11.3): after boot the Sentry
// opens no host path and executes nothing; host files come only from the gofer
// or as donated fds. The filter makes any attempt fatal (SIGSYS kills the
// sandbox, which runsc reports), in every Sentry thread.
#ifndef RUNSC_SANDBOX_SENTRY_SECCOMP_H_
#define RUNSC_SANDBOX_SENTRY_SECCOMP_H_

#include "absl/status/status.h"

namespace runsc {

// Installs the filter on every thread of the calling process (and whatever it
// starts later: the stubs inherit it under their own, stricter, filter).
// In sanitizer builds the refused calls fail with EACCES instead, so that a
// sanitizer's own report (which may open files) is not cut short.
absl::Status InstallSentryFilter();

// What the runtime (abseil, glibc's malloc) reads from host files once and
// caches, read now; InstallSentryFilter does it too. Idempotent.
void WarmUpHostReads();

}  // namespace runsc

#endif  // RUNSC_SANDBOX_SENTRY_SECCOMP_H_
