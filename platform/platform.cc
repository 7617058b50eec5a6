#include "platform/platform.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/systrap/systrap_platform.h"
#include "sentry/base/status_macros.h"

namespace platform {

absl::StatusOr<std::unique_ptr<Platform>> Platform::Create(std::string_view name,
                                                           const Options& options) {
  if (name == "auto") {
    // systrap where the host allows it (FSGSBASE for user mode, Linux 5.9+),
    // else ptrace.
    absl::StatusOr<std::unique_ptr<Platform>> p = Create("systrap", options);
    if (p.ok() || !absl::IsFailedPrecondition(p.status())) return p;
    return Create("ptrace", options);
  }
  if (name == "ptrace") {
    ASSIGN_OR_RETURN(std::unique_ptr<ptrace::PtracePlatform> p,
                     ptrace::PtracePlatform::New(options));
    return std::unique_ptr<Platform>(std::move(p));
  }
  if (name == "systrap") {
    ASSIGN_OR_RETURN(std::unique_ptr<systrap::SystrapPlatform> p,
                     systrap::SystrapPlatform::New(options));
    return std::unique_ptr<Platform>(std::move(p));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown platform \"%s\" (valid platforms: auto, ptrace, systrap)", name));
}

}  // namespace platform
