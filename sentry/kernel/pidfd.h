// pidfds (kernel/pid.c, kernel/fork.c): a file that refers to one process,
// from pidfd_open(2) or clone's CLONE_PIDFD. It polls readable once the
// process has exited (and hung up once it is reaped); pidfd_send_signal(2)
// signals it and waitid(P_PIDFD) waits for it, without the races of a pid
// that may be reused.
#ifndef SENTRY_KERNEL_PIDFD_H_
#define SENTRY_KERNEL_PIDFD_H_

#include <memory>
#include <string>

#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class ThreadGroup;

class PidFd : public vfs::FileDescription {
 public:
  // `flags`: O_NONBLOCK (PIDFD_NONBLOCK) or 0.
  PidFd(std::shared_ptr<ThreadGroup> tg, int flags);
  // Null when `f` is not a pidfd.
  static PidFd* From(vfs::FileDescription& f) { return dynamic_cast<PidFd*>(&f); }
  ThreadGroup& thread_group() const { return *tg_; }

  ErrnoOr<size_t> Readv(Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;  // anon_inode:[pidfd]
  std::string FdInfo() const override;    // Pid: the pid, or -1 once reaped
  bool CanPoll() const override { return true; }
  // POLLIN|POLLRDNORM once the process is a zombie, with POLLHUP once reaped.
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override;
  void EventUnregister(waiter::Waiter* w) override;

 private:
  const std::shared_ptr<ThreadGroup> tg_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_PIDFD_H_
