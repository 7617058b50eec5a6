// ioctl: the fd-table commands here, the rest by the file.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>

#include "sentry/kernel/tty.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

SyscallResult Ioctl(Task& t, const SyscallArgs& a) {
  const int fd = a.Int(0);
  const uint32_t cmd = a.Uint(1);
  ASSIGN_OR_RETURN(auto file, t.fds().Get(fd));
  if (file->status_flags() & O_PATH) return Errno(EBADF);
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
    case FIOASYNC: {
      int on;
      RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<int>(2), &on));
      int f = file->status_flags();
      // Linux turns O_ASYNC on only through the file's fasync operation,
      // which regular files and directories lack: ENOTTY (fcntl F_SETFL
      // sets the flag regardless).
      if (on && !(f & O_ASYNC)) {
        auto st = file->Stat();
        if (st.ok() && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) return Errno(ENOTTY);
      }
      file->set_status_flags(on ? (f | O_ASYNC) : (f & ~O_ASYNC));
      return 0;
    }
    case FIONREAD:
    case FIOQSIZE:
    case FIGETBSZ: {
      // do_vfs_ioctl answers these for files of a filesystem (FIONREAD for
      // regular files, FIOQSIZE for regular files, directories and
      // symlinks); others go to the file.
      auto st = file->Stat();
      if (!st.ok() || !file->location().ok()) break;
      const mode_t m = st->st_mode;
      if (cmd == FIONREAD && S_ISREG(m)) {
        // i_size - f_pos as an int: negative past the end, as in Linux.
        ASSIGN_OR_RETURN(int64_t pos, file->Seek(0, SEEK_CUR));
        const int n = static_cast<int>(st->st_size - pos);
        RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int>(2), n));
        return 0;
      }
      if (cmd == FIOQSIZE) {
        // inode_get_bytes(): the bytes allocated, not the size.
        if (!S_ISREG(m) && !S_ISDIR(m) && !S_ISLNK(m)) return Errno(ENOTTY);
        RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int64_t>(2), int64_t{st->st_blocks} * 512));
        return 0;
      }
      if (cmd == FIGETBSZ) {
        // The filesystem's block size.
        RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int>(2), static_cast<int>(st->st_blksize)));
        return 0;
      }
      break;
    }
    default:
      break;
  }
  if (auto r = kernel::TtyJobControlIoctl(t, *file, cmd, a[2])) return *r;
  return file->Ioctl(t, cmd, a[2]);
}

}  // namespace sentry::syscalls
