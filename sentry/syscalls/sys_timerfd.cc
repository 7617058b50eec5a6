// timerfd_create(2), timerfd_settime(2), timerfd_gettime(2): files over the
// Kernel's timers (sentry/fsimpl/timerfd). The checks come in Linux's order
// (fs/timerfd.c).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/timerfd.h>

#include "sentry/fsimpl/timerfd/timerfd.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

using fsimpl::timerfd::TimerFd;

constexpr int kCreateFlags = TFD_CLOEXEC | TFD_NONBLOCK;
constexpr int kSettimeFlags = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET;

bool IsAlarm(clockid_t c) { return c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM; }

// itimerspec64_valid.
bool Valid(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

// The timerfd behind `fd`: EBADF, or EINVAL for another kind of file.
ErrnoOr<std::shared_ptr<vfs::FileDescription>> TimerFdOf(Task& t, int fd) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(fd));
  if (dynamic_cast<TimerFd*>(file.get()) == nullptr) return Errno(EINVAL);
  return file;
}

// The alarm clocks need CAP_WAKE_ALARM. TODO(processes issue): capability
// sets; today it is euid 0. The sandbox never suspends, so an alarm timer is
// its base clock's timer.
ErrnoOrOk CheckAlarm(Task& t, clockid_t c) {
  if (IsAlarm(c) && !t.creds().HasCapability(CAP_WAKE_ALARM)) return Errno(EPERM);
  return Ok();
}

}  // namespace

SyscallResult TimerfdCreate(Task& t, const SyscallArgs& a) {
  const clockid_t clock = a.Int(0);
  const int flags = a.Int(1);
  if ((flags & ~kCreateFlags) || (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME &&
                                  clock != CLOCK_BOOTTIME && !IsAlarm(clock))) {
    return Errno(EINVAL);
  }
  RETURN_IF_ERROR(CheckAlarm(t, clock));
  auto file = TimerFd::Create(t.kernel().timers(), t.kernel().timekeeper(), clock,
                              O_RDWR | (flags & TFD_NONBLOCK));
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(file), flags & TFD_CLOEXEC, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

SyscallResult TimerfdSettime(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  itimerspec value;
  RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<itimerspec>(2), &value));
  if ((flags & ~kSettimeFlags) || !Valid(value.it_value) || !Valid(value.it_interval)) {
    return Errno(EINVAL);
  }
  ASSIGN_OR_RETURN(auto file, TimerFdOf(t, a.Int(0)));
  auto* tfd = static_cast<TimerFd*>(file.get());
  RETURN_IF_ERROR(CheckAlarm(t, tfd->clock()));
  ASSIGN_OR_RETURN(itimerspec old, tfd->SetTime(flags, value));
  // Linux writes the old value after the new one took effect.
  if (!a.Addr(3).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerspec>(3), old));
  return 0;
}

SyscallResult TimerfdGettime(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(auto file, TimerFdOf(t, a.Int(0)));
  const itimerspec cur = static_cast<TimerFd*>(file.get())->GetTime();
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<itimerspec>(1), cur));
  return 0;
}

}  // namespace sentry::syscalls
