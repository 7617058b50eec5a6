#include "sentry/kernel/pidfd.h"

#include <fcntl.h>
#include <poll.h>

#include <utility>

#include "absl/strings/str_format.h"
#include "sentry/fsimpl/anon/anon_inode.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// Whether `tg` is still in the pid table (a live process or an unreaped
// zombie), not only kept alive by pidfds.
bool InTable(ThreadGroup& tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
  return tg.kernel().FindThreadGroupLocked(tg.tgid()) == &tg;
}

}  // namespace

PidFd::PidFd(std::shared_ptr<ThreadGroup> tg, int flags)
    : FileDescription(O_RDWR | (flags & O_NONBLOCK)), tg_(std::move(tg)) {}

// pidfd_fops has neither read nor write.
ErrnoOr<size_t> PidFd::Readv(Task*, std::span<const iovec>, int64_t) { return Errno(EINVAL); }
ErrnoOr<size_t> PidFd::Writev(Task*, std::span<const iovec>, int64_t) { return Errno(EINVAL); }

ErrnoOr<struct stat> PidFd::Stat() { return fsimpl::anon::AnonInodeStat(); }

ErrnoOr<uint64_t> PidFd::Ioctl(Task&, uint64_t, uint64_t) { return Errno(ENOTTY); }

std::string PidFd::Describe() const { return fsimpl::anon::AnonInodeName("pidfd"); }

std::string PidFd::FdInfo() const {
  absl::MutexLock l(&tree_mu);
  return absl::StrFormat("Pid:\t%d\n", InTable(*tg_) ? tg_->tgid() : -1);
}

uint32_t PidFd::Readiness(uint32_t mask) {
  absl::MutexLock l(&tree_mu);
  uint32_t ready = 0;
  if (tg_->zombie) ready |= POLLIN | POLLRDNORM;
  if (!InTable(*tg_)) ready |= POLLIN | POLLRDNORM | POLLHUP;
  return ready & (mask | POLLHUP);
}

void PidFd::EventRegister(waiter::Waiter* w, uint32_t mask) {
  tg_->exit_events.EventRegister(w, mask);
}

void PidFd::EventUnregister(waiter::Waiter* w) { tg_->exit_events.EventUnregister(w); }

}  // namespace sentry::kernel
