// signalfd(2): a file that reads the signals pending for the reading thread
// (and its process) in its mask, as struct signalfd_siginfo records, and
// polls readable while one is pending (fs/signalfd.c).
#ifndef SENTRY_KERNEL_SIGNALFD_H_
#define SENTRY_KERNEL_SIGNALFD_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class SignalFd : public vfs::FileDescription {
 public:
  SignalFd(uint64_t mask, int flags);
  // Leaves the epolls watching it while EventUnregister still works (it
  // registers on its process's queue, which outlives it).
  ~SignalFd() override { ReleaseEpollLinks(); }
  static bool Is(const vfs::FileDescription& f);
  void set_mask(uint64_t mask);
  uint64_t mask() const { return mask_.load(std::memory_order_relaxed); }

  ErrnoOr<size_t> Readv(Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override { return "anon_inode:[signalfd]"; }
  // signalfd_show_fdinfo: the mask the file keeps.
  std::string FdInfo() const override {
    char buf[40];
    snprintf(buf, sizeof(buf), "sigmask:\t%016llx\n", static_cast<unsigned long long>(mask()));
    return buf;
  }
  bool CanPoll() const override { return true; }
  // Readable while the polling thread has a signal of the mask pending.
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override;
  void EventUnregister(waiter::Waiter* w) override;

 private:
  std::atomic<uint64_t> mask_;
  // The process whose signal queue a registration went to.
  std::shared_ptr<class ThreadGroup> registered_on_;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SIGNALFD_H_
