#include "platform/platform.h"

#include "absl/strings/str_format.h"

namespace platform {

absl::StatusOr<std::unique_ptr<Platform>> Platform::Create(std::string_view name,
                                                           const Options& options) {
  (void)options;
  return absl::InvalidArgumentError(absl::StrFormat("unknown platform \"%s\"", name));
}

}  // namespace platform
