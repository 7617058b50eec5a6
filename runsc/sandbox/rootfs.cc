#include "runsc/sandbox/rootfs.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_format.h"
#include "gofer/client.h"
#include "sentry/base/errno.h"
#include "sentry/base/log.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"

namespace runsc {

absl::StatusOr<std::shared_ptr<sentry::fsimpl::gofer::GoferFilesystem>> AttachGoferRoot(
    int gofer_fd, sentry::memory::MemoryFile& mf) {
  auto client = std::make_shared<gofer::Client>(gofer::UniqueFd(gofer_fd));
  sentry::fsimpl::gofer::GoferOptions options;
  options.memory_file = &mf;
  auto fs = sentry::fsimpl::gofer::GoferFilesystem::Create(std::move(client), options);
  if (!fs.ok()) {
    return sentry::ErrnoToStatus(
        fs.error(), "attaching to the gofer for the root filesystem (did the gofer start?)");
  }
  return *std::move(fs);
}

absl::Status MountSandboxDirs(sentry::kernel::Kernel& kernel, bool overlay) {
  struct Dir {
    const char* path;
    uint32_t mode;
    bool read_only;
  };
  constexpr Dir kDirs[] = {
      {"/tmp", 01777, false},
  };
  for (const Dir& d : kDirs) {
    // Under the overlay /tmp is the host's, with changes kept above.
    if (overlay && std::string_view(d.path) == "/tmp") continue;
    sentry::fsimpl::tmpfs::TmpfsOptions opts;
    opts.root_mode = d.mode;
    auto fs = sentry::fsimpl::tmpfs::TmpfsFilesystem::Create(kernel.memory_file(), opts);
    auto m = kernel.vfs().MountAtPath(d.path, std::move(fs), d.read_only);
    if (m.ok()) continue;
    if (m.error().value() == ENOENT || m.error().value() == ENOTDIR) {
      SLOG(kWarning, "the root has no directory %s; nothing mounted there", d.path);
      continue;
    }
    return sentry::ErrnoToStatus(m.error(), absl::StrFormat("mounting a tmpfs on %s", d.path));
  }
  return absl::OkStatus();
}

}  // namespace runsc
