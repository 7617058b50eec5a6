// /proc, generated from the Sentry's own state (DESIGN.md §8): the tasks of
// the Kernel it was made for, the mounts of its VFS, and what the Sentry knows
// of the machine (the CPU as CPUID said at boot, the memory file's use). It
// never reads the host's /proc. See README.md.
#ifndef SENTRY_FSIMPL_PROC_PROC_H_
#define SENTRY_FSIMPL_PROC_PROC_H_

#include <memory>

#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::fsimpl::proc {

// A new proc instance showing `k` (which must outlive it). Made at boot: it
// reads CPUID then.
std::shared_ptr<vfs::Filesystem> NewProcFilesystem(kernel::Kernel& k);

}  // namespace sentry::fsimpl::proc

#endif  // SENTRY_FSIMPL_PROC_PROC_H_
