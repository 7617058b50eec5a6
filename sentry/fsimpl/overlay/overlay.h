// overlay: a writable view of a read-only filesystem (the gofer's host root)
// with the changes kept in an upper filesystem (a tmpfs in Sentry memory), so
// that nothing the guest writes reaches the host (DESIGN.md §8).
//
// As Linux's overlayfs: lookups see the upper entry first, then the lower
// one; directories present in both are merged; writing to a lower file (or
// changing its attributes) first copies it up, its parent directories first;
// removing a name that exists below leaves a whiteout (a 0:0 character device)
// in the upper directory; a directory made where a whiteout was is opaque
// (hides everything below it). See README.md for what differs from Linux.
#ifndef SENTRY_FSIMPL_OVERLAY_OVERLAY_H_
#define SENTRY_FSIMPL_OVERLAY_OVERLAY_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::overlay {

class OverlayFilesystem : public vfs::Filesystem {
 public:
  static std::shared_ptr<OverlayFilesystem> Create(std::shared_ptr<vfs::Filesystem> lower,
                                                   std::shared_ptr<vfs::Filesystem> upper);

  std::shared_ptr<vfs::Inode> Root() override { return root_; }
  std::string_view Name() const override { return "overlay"; }
  ErrnoOr<struct statfs> StatFS() override;
  uint64_t Dev() const override { return dev_; }

  // Copy-ups are serialized (one lock for the filesystem: they are rare and
  // the VFS lock already orders directory changes).
  absl::Mutex& copy_up_mu() { return copy_up_mu_; }

 private:
  OverlayFilesystem(std::shared_ptr<vfs::Filesystem> lower, std::shared_ptr<vfs::Filesystem> upper);
  std::shared_ptr<vfs::Filesystem> lower_, upper_;
  const uint64_t dev_;
  absl::Mutex copy_up_mu_;
  std::shared_ptr<vfs::Inode> root_;
};

}  // namespace sentry::fsimpl::overlay

#endif  // SENTRY_FSIMPL_OVERLAY_OVERLAY_H_
