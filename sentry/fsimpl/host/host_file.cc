#include "sentry/fsimpl/host/host_file.h"

#include "sentry/base/status_macros.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "absl/strings/str_format.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/tty.h"

namespace sentry::fsimpl::host {
namespace {

// The kernel's struct termios (asm-generic/termbits.h), which is what TCGETS
// copies; glibc's struct termios has extra fields.
struct KernelTermios {
  uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};
static_assert(sizeof(KernelTermios) == 36);

size_t IovLength(std::span<const iovec> iov) {
  size_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

ssize_t HostIo(int fd, std::span<const iovec> iov, int64_t offset, bool write) {
  int cnt = static_cast<int>(std::min<size_t>(iov.size(), IOV_MAX));
  if (write) {
    return offset < 0 ? ::writev(fd, iov.data(), cnt) : ::pwritev(fd, iov.data(), cnt, offset);
  }
  return offset < 0 ? ::readv(fd, iov.data(), cnt) : ::preadv(fd, iov.data(), cnt, offset);
}

}  // namespace

ErrnoOr<std::shared_ptr<HostFile>> HostFile::Create(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return Errno(EBADF);
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno(EBADF);
  bool seekable = lseek(fd, 0, SEEK_CUR) >= 0;
  bool tty = isatty(fd) == 1;
  // The host description's O_NONBLOCK is never changed (it may be shared with
  // the user's shell); the Sentry waits with poll instead.
  return std::shared_ptr<HostFile>(new HostFile(fd, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK),
                                                seekable, tty, st.st_ino, st.st_rdev));
}

HostFile::HostFile(int fd, int flags, bool seekable, bool is_tty, ino_t ino, dev_t rdev)
    : FileDescription(flags),
      fd_(fd),
      rdev_(rdev),
      seekable_(seekable),
      is_tty_(is_tty),
      ino_(ino) {}

HostFile::~HostFile() { close(fd_); }

ErrnoOr<size_t> HostFile::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) {
  // A background job reading its terminal stops (SIGTTIN).
  if (t != nullptr && job_control_ != nullptr) {
    RETURN_IF_ERROR(kernel::TtyCheckChange(*t, *job_control_, SIGTTIN));
  }
  // Nothing asked: 0 at once, as Linux's pipes and ttys (no waiting for data).
  if (IovLength(dst) == 0) return size_t{0};
  for (;;) {
    // Regular files are always ready; for ttys and pipes wait interruptibly.
    if (!seekable_) {
      if (t == nullptr || (status_flags() & O_NONBLOCK)) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 0) == 0) return Errno(EAGAIN);
      } else {
        auto ready = t->WaitHostFd(fd_, POLLIN);
        if (!ready.ok()) return Errno(kERESTARTSYS);
      }
    }
    ssize_t n = HostIo(fd_, dst, offset, /*write=*/false);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN && t != nullptr && !(status_flags() & O_NONBLOCK)) continue;
    return Errno(errno);
  }
}

uint32_t HostFile::Readiness(uint32_t mask) {
  if (seekable_) return FileDescription::Readiness(mask);
  pollfd p{fd_, static_cast<short>(mask & 0xffff), 0};
  if (poll(&p, 1, 0) <= 0) return 0;
  return static_cast<uint16_t>(p.revents) & (mask | POLLERR | POLLHUP | POLLNVAL);
}

ErrnoOr<size_t> HostFile::Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) {
  // With TOSTOP, a background job writing to its terminal stops (SIGTTOU).
  if (t != nullptr && job_control_ != nullptr) {
    termios tio;
    if (tcgetattr(fd_, &tio) == 0 && (tio.c_lflag & TOSTOP)) {
      RETURN_IF_ERROR(kernel::TtyCheckChange(*t, *job_control_, SIGTTOU));
    }
  }
  if (IovLength(src) == 0) return size_t{0};
  for (;;) {
    if (!seekable_) {
      if (t == nullptr || (status_flags() & O_NONBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (poll(&p, 1, 0) == 0) return Errno(EAGAIN);
      } else {
        auto ready = t->WaitHostFd(fd_, POLLOUT);
        if (!ready.ok()) return Errno(kERESTARTSYS);
      }
    }
    ssize_t n = HostIo(fd_, src, offset, /*write=*/true);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN && t != nullptr && !(status_flags() & O_NONBLOCK)) continue;
    // TODO(processes issue): EPIPE also sends SIGPIPE to the writer.
    return Errno(errno);
  }
}

ErrnoOr<int64_t> HostFile::Seek(int64_t offset, int whence) {
  if (!seekable_) return Errno(ESPIPE);
  const off_t r = lseek(fd_, offset, whence);
  if (r < 0) return Errno(errno);
  return static_cast<int64_t>(r);
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> HostFile::Reopen(int flags) {
  // The new description may not do more than the host fd allows.
  const int have = status_flags() & O_ACCMODE;
  const int want = flags & O_ACCMODE;
  const bool read = want == O_RDONLY || want == O_RDWR;
  const bool write = want == O_WRONLY || want == O_RDWR;
  if ((read && have == O_WRONLY) || (write && have == O_RDONLY)) return Errno(EACCES);
  const int d = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return Errno(errno == EMFILE ? EMFILE : ENOMEM);
  ASSIGN_OR_RETURN(std::shared_ptr<HostFile> f, Create(d));
  f->job_control_ = job_control_;  // the same terminal
  return std::shared_ptr<vfs::FileDescription>(std::move(f));
}

ErrnoOrOk HostFile::SetSize(uint64_t size) {
  if (!seekable_) return Ok();  // O_TRUNC means nothing for a tty or a pipe
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno(errno);
  return Ok();
}

ErrnoOrOk HostFile::Sync() {
  if (fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) return Errno(errno);
  return Ok();
}

ErrnoOr<struct stat> HostFile::Stat() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Errno(errno);
  return st;
}

ErrnoOr<uint64_t> HostFile::Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) {
  switch (cmd) {
    case TCGETS: {
      if (!is_tty_) return Errno(ENOTTY);
      KernelTermios kt;
      if (ioctl(fd_, TCGETS, &kt) != 0) return Errno(errno);
      auto r = t.mm().CopyOutObj(UserPtr<KernelTermios>(arg), kt);
      if (!r.ok()) return r.error();
      return 0;
    }
    case TIOCGWINSZ: {
      if (!is_tty_) return Errno(ENOTTY);
      winsize ws;
      if (ioctl(fd_, TIOCGWINSZ, &ws) != 0) return Errno(errno);
      auto r = t.mm().CopyOutObj(UserPtr<winsize>(arg), ws);
      if (!r.ok()) return r.error();
      return 0;
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      if (!is_tty_) return Errno(ENOTTY);
      // A background job may not change the terminal (SIGTTOU).
      if (job_control_ != nullptr) {
        RETURN_IF_ERROR(kernel::TtyCheckChange(t, *job_control_, SIGTTOU));
      }
      KernelTermios kt;
      auto r = t.mm().CopyInObj(UserPtr<KernelTermios>(arg), &kt);
      if (!r.ok()) return r.error();
      if (ioctl(fd_, cmd, &kt) != 0) return Errno(errno);
      return 0;
    }
    case TIOCSWINSZ: {
      if (!is_tty_) return Errno(ENOTTY);
      winsize ws;
      auto r = t.mm().CopyInObj(UserPtr<winsize>(arg), &ws);
      if (!r.ok()) return r.error();
      if (ioctl(fd_, TIOCSWINSZ, &ws) != 0) return Errno(errno);
      return 0;
    }
    case TCFLSH: {
      if (!is_tty_) return Errno(ENOTTY);
      if (arg > TCIOFLUSH) return Errno(EINVAL);
      if (job_control_ != nullptr) {
        RETURN_IF_ERROR(kernel::TtyCheckChange(t, *job_control_, SIGTTOU));
      }
      if (ioctl(fd_, TCFLSH, static_cast<int>(arg)) != 0) return Errno(errno);
      return 0;
    }
    case TIOCOUTQ:
    case TIOCINQ: {
      if (!is_tty_) return Errno(ENOTTY);
      int n = 0;
      if (ioctl(fd_, cmd, &n) != 0) return Errno(errno);
      auto r = t.mm().CopyOutObj(UserPtr<int>(arg), n);
      if (!r.ok()) return r.error();
      return 0;
    }
    default:
      return Errno(ENOTTY);
  }
}

std::string HostFile::Describe() const { return absl::StrFormat("host:[%d]", ino_); }

}  // namespace sentry::fsimpl::host
