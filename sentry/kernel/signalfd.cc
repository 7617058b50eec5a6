#include "sentry/kernel/signalfd.h"

#include <fcntl.h>
#include <sys/signalfd.h>

#include <cstring>

#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

signalfd_siginfo ToSignalfdInfo(const siginfo_t& info) {
  // signalfd_copyinfo: the union's fields as the signal's code says.
  signalfd_siginfo s{};
  s.ssi_signo = static_cast<uint32_t>(info.si_signo);
  s.ssi_errno = info.si_errno;
  s.ssi_code = info.si_code;
  s.ssi_pid = static_cast<uint32_t>(info.si_pid);
  s.ssi_uid = info.si_uid;
  if (info.si_signo == SIGCHLD && info.si_code > 0) {
    s.ssi_status = info.si_status;
  } else if ((info.si_signo == SIGSEGV || info.si_signo == SIGBUS || info.si_signo == SIGILL ||
              info.si_signo == SIGFPE || info.si_signo == SIGTRAP) &&
             info.si_code > 0) {
    s.ssi_addr = reinterpret_cast<uint64_t>(info.si_addr);
  } else {
    s.ssi_int = info.si_value.sival_int;
    s.ssi_ptr = reinterpret_cast<uint64_t>(info.si_value.sival_ptr);
  }
  return s;
}

}  // namespace

SignalFd::SignalFd(uint64_t mask, int flags) : FileDescription(O_RDWR | flags), mask_(mask) {}

bool SignalFd::Is(const vfs::FileDescription& f) {
  return dynamic_cast<const SignalFd*>(&f) != nullptr;
}

void SignalFd::set_mask(uint64_t mask) { mask_.store(mask, std::memory_order_relaxed); }

ErrnoOr<size_t> SignalFd::Readv(Task* t, std::span<const iovec> dst, int64_t) {
  if (t == nullptr) return Errno(EAGAIN);
  size_t room = 0;
  for (const iovec& v : dst) room += v.iov_len;
  if (room < sizeof(signalfd_siginfo)) return Errno(EINVAL);
  // As many records as fit; blocking only for the first.
  std::vector<uint8_t> out;
  waiter::ScopedRegistration reg(t->thread_group().signal_events, &t->waker(), POLLIN);
  for (;;) {
    while (out.size() + sizeof(signalfd_siginfo) <= room) {
      std::optional<siginfo_t> info = t->TakeSignal(mask());
      if (!info.has_value()) break;
      const signalfd_siginfo s = ToSignalfdInfo(*info);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(&s);
      out.insert(out.end(), p, p + sizeof(s));
    }
    if (!out.empty()) break;
    if (status_flags() & O_NONBLOCK) return Errno(EAGAIN);
    if (!t->Block(CLOCK_MONOTONIC, nullptr).ok()) return Errno(kERESTARTSYS);
  }
  size_t done = 0;
  for (const iovec& v : dst) {
    const size_t n = std::min(v.iov_len, out.size() - done);
    std::memcpy(v.iov_base, out.data() + done, n);
    done += n;
    if (done == out.size()) break;
  }
  return done;
}

ErrnoOr<size_t> SignalFd::Writev(Task*, std::span<const iovec>, int64_t) { return Errno(EINVAL); }

ErrnoOr<struct stat> SignalFd::Stat() {
  // An anonymous inode: no file type, 0600.
  struct stat st {};
  st.st_mode = 0600;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}

ErrnoOr<uint64_t> SignalFd::Ioctl(Task&, uint64_t, uint64_t) { return Errno(ENOTTY); }

uint32_t SignalFd::Readiness(uint32_t mask) {
  Task* t = Task::Current();
  if (t == nullptr || !(mask & (POLLIN | POLLRDNORM))) return 0;
  const uint64_t pending = t->PendingIn(this->mask());
  return pending != 0 ? (mask & (POLLIN | POLLRDNORM)) : 0;
}

void SignalFd::EventRegister(waiter::Waiter* w, uint32_t mask) {
  Task* t = Task::Current();
  if (t == nullptr) return;
  registered_on_ = t->thread_group_ptr();
  registered_on_->signal_events.EventRegister(w, mask);
}

void SignalFd::EventUnregister(waiter::Waiter* w) {
  if (registered_on_ != nullptr) registered_on_->signal_events.EventUnregister(w);
}

}  // namespace sentry::kernel
