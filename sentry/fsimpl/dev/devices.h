// Character devices: a registry keyed by (major, minor), as Linux's chrdevs,
// and the devices the Sentry implements itself (the memory devices null, zero,
// full, random, urandom, and tty). Opening a character-device node on any
// filesystem (devtmpfs, or a node made by mknod on tmpfs) reaches the driver
// through OpenCharDevice; an unknown number is ENXIO, as in Linux.
#ifndef SENTRY_FSIMPL_DEV_DEVICES_H_
#define SENTRY_FSIMPL_DEV_DEVICES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::dev {

// Linux's numbers (Documentation/admin-guide/devices.txt).
inline constexpr uint32_t kMemMajor = 1;
inline constexpr uint32_t kNullMinor = 3;
inline constexpr uint32_t kZeroMinor = 5;
inline constexpr uint32_t kFullMinor = 7;
inline constexpr uint32_t kRandomMinor = 8;
inline constexpr uint32_t kUrandomMinor = 9;
inline constexpr uint32_t kTtyAuxMajor = 5;
inline constexpr uint32_t kTtyMinor = 0;

// A character-device driver.
class CharDevice {
 public:
  virtual ~CharDevice() = default;
  // Opens the device through the node at `vd` (the VFS sets the returned
  // description's location to it). `flags` are open(2)'s, as Inode::Open gets
  // them; permission has been checked.
  virtual ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry& vd,
                                                              int flags) = 0;
};

class DeviceRegistry {
 public:
  // The Sentry's registry, with the built-in devices registered.
  static DeviceRegistry& Get();

  DeviceRegistry() = default;
  DeviceRegistry(const DeviceRegistry&) = delete;
  DeviceRegistry& operator=(const DeviceRegistry&) = delete;

  // EBUSY if (major, minor) is taken.
  ErrnoOrOk Register(uint32_t major, uint32_t minor, std::shared_ptr<CharDevice> dev);
  // Null if nothing is registered there.
  std::shared_ptr<CharDevice> Find(uint32_t major, uint32_t minor) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<CharDevice>> devices_ ABSL_GUARDED_BY(mu_);
};

// Opens the character device `rdev` (an st_rdev value) through the node at
// `vd`: ENXIO when no driver has that number.
ErrnoOr<std::shared_ptr<vfs::FileDescription>> OpenCharDevice(uint64_t rdev,
                                                              const vfs::VirtualDentry& vd,
                                                              int flags);

// /dev/tty opens the opener's controlling terminal; the kernel, which knows
// sessions, supplies how (ENXIO until then, and for a process without one).
using ControllingTtyOpener =
    std::function<ErrnoOr<std::shared_ptr<vfs::FileDescription>>(int flags)>;
void SetControllingTtyOpener(ControllingTtyOpener opener);

// A built-in device node, for populating /dev.
struct StandardDevice {
  std::string_view name;
  uint32_t major, minor;
  uint32_t mode;  // permission bits
};
// null, zero, full, random, urandom, tty: crw-rw-rw- each.
const std::vector<StandardDevice>& StandardDevices();

}  // namespace sentry::fsimpl::dev

#endif  // SENTRY_FSIMPL_DEV_DEVICES_H_
