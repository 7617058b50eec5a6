// Host files donated to the Sentry (stdio today): the Sentry does I/O on the fd
// itself. Only a few ioctls reach the host (terminal attributes and size).
#ifndef SENTRY_FSIMPL_HOST_HOST_FILE_H_
#define SENTRY_FSIMPL_HOST_HOST_FILE_H_

#include <memory>

#include "sentry/vfs/file_description.h"

namespace sentry::fsimpl::host {

class HostFile : public vfs::FileDescription {
 public:
  // Takes ownership of `fd`. `guest_flags` are the status flags the guest sees.
  static ErrnoOr<std::shared_ptr<HostFile>> Create(int fd);
  ~HostFile() override;

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool HostCopies() const override { return true; }
  bool Seekable() const override { return seekable_; }
  // The donated fd's own position (shared with whoever else holds it, as an
  // inherited fd is).
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override;
  ErrnoOrOk Sync() override;
  // A reopen through /proc/self/fd: a dup of the host fd (sharing its
  // position, unlike a Linux reopen of a regular file).
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Reopen(int flags) override;
  ErrnoOrOk SetSize(uint64_t size) override;
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;
  // What the host fd polls as now (regular files: always ready).
  uint32_t Readiness(uint32_t mask) override;
  int HostPollFd() const override { return seekable_ ? -1 : fd_; }
  // Pipes, ttys and sockets poll; regular files do not (epoll_ctl: EPERM).
  bool CanPoll() const override { return !seekable_; }

  // Host terminals: the job-control state the kernel gives the terminal
  // (shared by every description of it).
  std::shared_ptr<vfs::TtyJobControl> JobControl() override { return job_control_; }
  void set_job_control(std::shared_ptr<vfs::TtyJobControl> jc) { job_control_ = std::move(jc); }
  dev_t host_rdev() const { return rdev_; }

  int host_fd() const { return fd_; }
  bool is_tty() const { return is_tty_; }

 private:
  HostFile(int fd, int flags, bool seekable, bool is_tty, ino_t ino, dev_t rdev);
  int fd_;
  dev_t rdev_;
  std::shared_ptr<vfs::TtyJobControl> job_control_;
  bool seekable_;
  bool is_tty_;
  ino_t ino_;
};

}  // namespace sentry::fsimpl::host

#endif  // SENTRY_FSIMPL_HOST_HOST_FILE_H_
