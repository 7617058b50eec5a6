// pipe, pipe2, the pipe fcntls (F_SETPIPE_SZ, F_GETPIPE_SZ), eventfd,
// eventfd2; SIGPIPE for a write that ends in EPIPE.
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/eventfd.h>

#include "sentry/fsimpl/eventfd/eventfd.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

uint64_t FdLimit(Task& t) { return t.rlimit_of(RLIMIT_NOFILE).rlim_cur; }

// Who makes or resizes a pipe: the inode is the fsuid's, and so is the charge
// for its buffers (Linux charges the real uid's user_struct: they differ only
// in a set-uid program).
fsimpl::pipe::PipeUser PipeUserOf(Task& t) {
  const kernel::Credentials& c = t.creds();
  return {c.fsuid, c.fsgid, c.HasCapability(CAP_SYS_RESOURCE), c.HasCapability(CAP_SYS_ADMIN)};
}

// O_NOTIFICATION_PIPE (watch queues) is O_EXCL.
constexpr int kONotificationPipe = O_EXCL;

}  // namespace

SyscallResult Pipe2(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | kONotificationPipe)) return Errno(EINVAL);
  if (flags & kONotificationPipe) {
    // As a kernel built without CONFIG_WATCH_QUEUE.
    t.kernel().RecordGap("pipe2(O_NOTIFICATION_PIPE)");
    return Errno(ENOPKG);
  }
  auto [r, w] = fsimpl::pipe::NewPipe(PipeUserOf(t), flags);
  const bool cloexec = flags & O_CLOEXEC;
  ASSIGN_OR_RETURN(int rfd, t.fds().Install(std::move(r), cloexec, 0, FdLimit(t)));
  auto wfd = t.fds().Install(std::move(w), cloexec, 0, FdLimit(t));
  if (!wfd.ok()) {
    (void)t.fds().Close(rfd);
    return wfd.error();
  }
  const int fds[2] = {rfd, *wfd};
  auto copied = t.mm().CopyOut(a.Addr(0), {reinterpret_cast<const uint8_t*>(fds), sizeof(fds)});
  if (!copied.ok()) {
    // Linux installs the fds only once the array is written: none leak.
    (void)t.fds().Close(rfd);
    (void)t.fds().Close(*wfd);
    return Errno(EFAULT);
  }
  return 0;
}

SyscallResult Pipe(Task& t, const SyscallArgs& a) { return Pipe2(t, SyscallArgs{{a[0], 0}}); }

SyscallResult PipeFcntl(Task& t, vfs::FileDescription& f, int cmd, uint64_t arg) {
  fsimpl::pipe::PipeFile* p = fsimpl::pipe::AsPipe(f);
  if (p == nullptr) return Errno(EBADF);  // pipe_fcntl on anything else
  if (cmd == F_GETPIPE_SZ) return p->pipe().Capacity();
  // pipe_fcntl takes the size as an unsigned int.
  ASSIGN_OR_RETURN(size_t size, p->pipe().SetCapacity(static_cast<uint32_t>(arg), PipeUserOf(t)));
  return size;
}

SyscallResult Eventfd2(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return Errno(EINVAL);
  auto f = std::make_shared<fsimpl::eventfd::EventFd>(a.Uint(0), flags & EFD_SEMAPHORE,
                                                      flags & EFD_NONBLOCK);
  ASSIGN_OR_RETURN(int fd, t.fds().Install(std::move(f), flags & EFD_CLOEXEC, 0, FdLimit(t)));
  return fd;
}

SyscallResult Eventfd(Task& t, const SyscallArgs& a) { return Eventfd2(t, SyscallArgs{{a[0], 0}}); }

}  // namespace sentry::syscalls
