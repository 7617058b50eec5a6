// eventfd(2): a 64-bit counter behind a description (Linux's fs/eventfd.c).
// A read takes the count (or 1 with EFD_SEMAPHORE) and waits while it is 0; a
// write adds to it and waits while the sum would reach 2^64-1.
//
// Lock order: EventFd::mu_ > its waiter::Queue > what waiters take.
#ifndef SENTRY_FSIMPL_EVENTFD_EVENTFD_H_
#define SENTRY_FSIMPL_EVENTFD_EVENTFD_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::eventfd {

class EventFd : public vfs::FileDescription {
 public:
  // `flags`: O_NONBLOCK from EFD_NONBLOCK; `semaphore`: EFD_SEMAPHORE.
  EventFd(uint64_t initial, bool semaphore, int flags);

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  // noop_llseek: the position stays 0.
  ErrnoOr<int64_t> Seek(int64_t, int) override { return int64_t{0}; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;  // anon_inode:[eventfd]
  std::string FdInfo() const override;    // eventfd-count, eventfd-id
  uint32_t Readiness(uint32_t mask) override;
  void EventRegister(waiter::Waiter* w, uint32_t mask) override { queue_.EventRegister(w, mask); }
  void EventUnregister(waiter::Waiter* w) override { queue_.EventUnregister(w); }
  bool CanPoll() const override { return true; }

  // The same with an explicit waker (null: never wait); EINTR when interrupted.
  ErrnoOr<uint64_t> Read(waiter::Waker* w);
  ErrnoOrOk Write(waiter::Waker* w, uint64_t v);
  uint64_t count() const;

 private:
  // Without waiting: the value read, or EAGAIN.
  ErrnoOr<uint64_t> TryRead();
  // Without waiting: EAGAIN when the sum would overflow.
  ErrnoOrOk TryWrite(uint64_t v);

  const bool semaphore_;
  const int id_;
  mutable absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_);
  waiter::Queue queue_;
};

}  // namespace sentry::fsimpl::eventfd

#endif  // SENTRY_FSIMPL_EVENTFD_EVENTFD_H_
