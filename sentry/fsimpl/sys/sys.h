// /sys: a small sysfs generated from the Sentry's configuration, never the
// host's. Today it holds what programs read to count CPUs:
// /sys/devices/system/cpu/{online,possible,present}. See README.md.
#ifndef SENTRY_FSIMPL_SYS_SYS_H_
#define SENTRY_FSIMPL_SYS_SYS_H_

#include <memory>

#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::sys {

// A sysfs for a sandbox of `num_cpus` CPUs.
std::shared_ptr<vfs::Filesystem> NewSysFilesystem(int num_cpus);

}  // namespace sentry::fsimpl::sys

#endif  // SENTRY_FSIMPL_SYS_SYS_H_
