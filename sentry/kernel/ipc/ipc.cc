// What System V shared memory, semaphores and message queues share (Linux's
// ipc/util.c): permission checks, the namespace and its limits.
#include <linux/capability.h>

#include "sentry/kernel/ipc/ipc.h"

#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/time/timekeeper.h"

namespace sentry::kernel::ipc {

// The Sentry's CLOCK_REALTIME, the clock the guest's vDSO time() reads: the
// host's time() is the coarse clock, up to a tick behind it, so a guest could
// read a second that a semop made just after it does not reach yet.
int64_t NowSeconds() { return time::Timekeeper::Get().NowNs(CLOCK_REALTIME) / time::kNsPerSec; }

bool MayAccess(const Credentials& c, const Perm& p, int flag) {
  const int requested = ((flag >> 6) | (flag >> 3) | flag) & 07;
  int granted = static_cast<int>(p.mode);
  if (c.euid == p.cuid || c.euid == p.uid) {
    granted >>= 6;
  } else if (c.InGroup(p.cgid) || c.InGroup(p.gid)) {
    granted >>= 3;
  }
  return (requested & ~granted & 07) == 0 || c.HasCapability(CAP_IPC_OWNER);
}

bool MayControl(const Credentials& c, const Perm& p) {
  return c.euid == p.cuid || c.euid == p.uid || c.HasCapability(CAP_SYS_ADMIN);
}

ErrnoOrOk UpdatePerm(IpcObject& o, uint32_t uid, uint32_t gid, uint32_t mode) {
  if (uid == ~uint32_t{0} || gid == ~uint32_t{0}) return Errno(EINVAL);
  o.perm.uid = uid;
  o.perm.gid = gid;
  o.perm.mode = (o.perm.mode & ~0777u) | (mode & 0777);
  o.ctime = NowSeconds();
  return Ok();
}

IpcNamespace::IpcNamespace(memory::MemoryFile& mf) : mf_(mf) {}
IpcNamespace::~IpcNamespace() = default;

IpcNamespace::ShmLimits IpcNamespace::shm_limits() const {
  absl::MutexLock l(&mu_);
  return shm_limits_;
}

void IpcNamespace::set_shm_limits(const ShmLimits& lim) {
  absl::MutexLock l(&mu_);
  shm_limits_ = lim;
  if (lim.rmid_forced) ShmDestroyOrphansLocked();
}

IpcNamespace::SemLimits IpcNamespace::sem_limits() const {
  absl::MutexLock l(&mu_);
  return sem_limits_;
}

void IpcNamespace::set_sem_limits(const SemLimits& lim) {
  absl::MutexLock l(&mu_);
  sem_limits_ = lim;
}

IpcNamespace::MsgLimits IpcNamespace::msg_limits() const {
  absl::MutexLock l(&mu_);
  return msg_limits_;
}

void IpcNamespace::set_msg_limits(const MsgLimits& lim) {
  absl::MutexLock l(&mu_);
  msg_limits_ = lim;
}

}  // namespace sentry::kernel::ipc
