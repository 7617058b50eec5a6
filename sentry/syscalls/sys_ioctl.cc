// ioctl: the fd-table commands here, the rest by the file.
#include <fcntl.h>
#include <sys/ioctl.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

SyscallResult Ioctl(Task& t, const SyscallArgs& a) {
  const int fd = a.Int(0);
  const uint32_t cmd = a.Uint(1);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(fd));
  switch (cmd) {
    case FIOCLEX:
      RETURN_IF_ERROR(t.fds().SetCloexec(fd, true));
      return 0;
    case FIONCLEX:
      RETURN_IF_ERROR(t.fds().SetCloexec(fd, false));
      return 0;
    case FIONBIO: {
      int on;
      RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int>(2), &on));
      int f = file->status_flags();
      file->set_status_flags(on ? (f | O_NONBLOCK) : (f & ~O_NONBLOCK));
      return 0;
    }
    default:
      return file->Ioctl(t, cmd, a[2]);
  }
}

}  // namespace sentry::syscalls
