// Terminals and job control (Linux's drivers/tty/tty_jobctrl.c): the
// controlling terminal of a session, its foreground process group, and the
// checks that stop a background job touching the terminal (SIGTTIN, SIGTTOU).
// The terminal's own state is a vfs::TtyJobControl, guarded by tree_mu.
#ifndef SENTRY_KERNEL_TTY_H_
#define SENTRY_KERNEL_TTY_H_

#include <memory>
#include <optional>

#include "sentry/base/errno.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/syscall_table.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class Task;
class Kernel;

// tty_check_change: may `t` change the terminal (or read it: sig =
// SIGTTIN; write with TOSTOP, set attributes, set the foreground: SIGTTOU)?
// Ok for a foreground job or a terminal that is not its controlling one; a
// background job gets `sig` sent to its process group and kERESTARTSYS, or
// EIO when the signal is ignored or blocked (for SIGTTIN; SIGTTOU is then
// allowed) or the group is orphaned.
ErrnoOrOk TtyCheckChange(Task& t, vfs::TtyJobControl& jc, int sig);

// Whether no member of process group `pgid` has a parent in another group of
// the same session (an orphaned group: job-control stops do not apply).
bool IsOrphanedPgrpLocked(Kernel& k, pid_t pgid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);
// A session leader exits: its controlling terminal's foreground group gets
// SIGHUP and SIGCONT and the terminal belongs to no session.
void HangUpSessionLocked(Kernel& k, pid_t sid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu);

// The job-control ioctls (TIOCGPGRP, TIOCSPGRP, TIOCSCTTY, TIOCNOTTY,
// TIOCGSID) on a terminal file; nullopt for any other command.
std::optional<SyscallResult> TtyJobControlIoctl(Task& t, vfs::FileDescription& f, uint32_t cmd,
                                                uint64_t arg);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_TTY_H_
