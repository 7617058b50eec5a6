// epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
// epoll_pwait2: argument checks in Linux's order (fs/eventpoll.c), the rest
// in sentry/fsimpl/epoll.
#include <linux/capability.h>
#include <sys/epoll.h>

#include <climits>

#include "sentry/fsimpl/epoll/epoll.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/syscalls/wait.h"

namespace sentry::syscalls {
namespace {

using fsimpl::epoll::AsEpoll;
using fsimpl::epoll::EpollFile;

// struct epoll_event is packed on x86-64: 12 bytes.
static_assert(sizeof(epoll_event) == 12);
constexpr int kMaxEvents = INT_MAX / sizeof(epoll_event);  // EP_MAX_EVENTS
// What EPOLLEXCLUSIVE may come with (EPOLLEXCLUSIVE_OK_BITS).
constexpr uint32_t kExclusiveOk =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

SyscallResult Create(Task& t, int flags) {
  if (flags & ~EPOLL_CLOEXEC) return Errno(EINVAL);
  ASSIGN_OR_RETURN(int fd, t.fds().Install(EpollFile::Create(), flags & EPOLL_CLOEXEC, 0,
                                           t.rlimit_of(RLIMIT_NOFILE).rlim_cur));
  return fd;
}

// do_epoll_wait, after any signal mask is in place, in today's Linux order
// (6.15 moved the fd first): EBADF, maxevents, the buffer, not an epoll.
SyscallResult DoWait(Task& t, int epfd, UserAddr events, int max, const Timeout& timeout) {
  ASSIGN_OR_RETURN(auto file, t.fds().Get(epfd));
  if (max <= 0 || max > kMaxEvents) return Errno(EINVAL);
  if (!AccessOk(events.value(), static_cast<uint64_t>(max) * sizeof(epoll_event))) {
    return Errno(EFAULT);
  }
  EpollFile* ep = AsEpoll(*file);
  if (ep == nullptr) return Errno(EINVAL);
  ASSIGN_OR_RETURN(std::vector<epoll_event> ready,
                   ep->Wait(timeout.immediate ? nullptr : &t.waker(), max, timeout.deadline_ptr()));
  if (ready.empty()) return 0;
  auto r = t.mm().CopyOut(
      events, {reinterpret_cast<const uint8_t*>(ready.data()), ready.size() * sizeof(epoll_event)});
  // The events copied before a fault count; none is EFAULT.
  const size_t copied = r.done / sizeof(epoll_event);
  if (!r.ok() && copied == 0) return Errno(EFAULT);
  return copied;
}

}  // namespace

SyscallResult EpollCreate(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0) return Errno(EINVAL);
  return Create(t, 0);
}

SyscallResult EpollCreate1(Task& t, const SyscallArgs& a) { return Create(t, a.Int(0)); }

SyscallResult EpollCtl(Task& t, const SyscallArgs& a) {
  const int epfd = a.Int(0), op = a.Int(1), fd = a.Int(2);
  const bool has_event = op != EPOLL_CTL_DEL;
  epoll_event ev{};
  if (has_event) RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<epoll_event>(3), &ev));
  ASSIGN_OR_RETURN(auto epf, t.fds().Get(epfd));
  ASSIGN_OR_RETURN(auto target, t.fds().Get(fd));
  if (!target->CanPoll()) return Errno(EPERM);
  EpollFile* ep = AsEpoll(*epf);
  if (ep == nullptr || epf == target) return Errno(EINVAL);
  // EPOLLWAKEUP needs CAP_BLOCK_SUSPEND (else it is dropped); it changes
  // nothing here, as no wakeup source keeps the sandbox awake.
  if (has_event && !t.creds().HasCapability(CAP_BLOCK_SUSPEND)) ev.events &= ~EPOLLWAKEUP;
  if (has_event && (ev.events & EPOLLEXCLUSIVE)) {
    if (op == EPOLL_CTL_MOD) return Errno(EINVAL);
    if (op == EPOLL_CTL_ADD && (AsEpoll(*target) != nullptr || (ev.events & ~kExclusiveOk))) {
      return Errno(EINVAL);
    }
  }
  switch (op) {
    case EPOLL_CTL_ADD:
      RETURN_IF_ERROR(ep->Add(fd, target, ev.events | EPOLLERR | EPOLLHUP, ev.data.u64));
      return 0;
    case EPOLL_CTL_MOD:
      RETURN_IF_ERROR(ep->Modify(fd, target, ev.events | EPOLLERR | EPOLLHUP, ev.data.u64));
      return 0;
    case EPOLL_CTL_DEL:
      RETURN_IF_ERROR(ep->Delete(fd, target));
      return 0;
    default:
      return Errno(EINVAL);
  }
}

SyscallResult EpollWait(Task& t, const SyscallArgs& a) {
  return DoWait(t, a.Int(0), a.Addr(1), a.Int(2), MillisecondTimeout(a.Int(3)));
}

SyscallResult EpollPwait(Task& t, const SyscallArgs& a) {
  WaitSigmask mask(t);
  RETURN_IF_ERROR(mask.Set(a.Addr(4), a.Size(5)));
  return mask.Finish(DoWait(t, a.Int(0), a.Addr(1), a.Int(2), MillisecondTimeout(a.Int(3))));
}

SyscallResult EpollPwait2(Task& t, const SyscallArgs& a) {
  Timeout timeout;
  if (a[3] != 0) {
    timespec ts;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(3), &ts));
    ASSIGN_OR_RETURN(timeout, RelativeTimeout(ts.tv_sec, ts.tv_nsec));
  }
  WaitSigmask mask(t);
  RETURN_IF_ERROR(mask.Set(a.Addr(4), a.Size(5)));
  return mask.Finish(DoWait(t, a.Int(0), a.Addr(1), a.Int(2), timeout));
}

}  // namespace sentry::syscalls
