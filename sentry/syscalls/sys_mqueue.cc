// POSIX message queues (Linux's ipc/mqueue.c): mq_open, mq_unlink,
// mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr. The queues are
// the calling task's IPC namespace's (sentry/fsimpl/mqueue); descriptors are
// fds.
#include <fcntl.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

using fsimpl::mqueue::QueueFile;
using kernel::ThreadGroup;

constexpr size_t kPathMax = 4096;
constexpr size_t kNotifyCookieLen = 32;  // NOTIFY_COOKIE_LEN

uint64_t FdLimit(Task& t) { return t.rlimit_of(RLIMIT_NOFILE).rlim_cur; }

// The queue behind `fd`: EBADF when it is none.
ErrnoOr<std::shared_ptr<QueueFile>> GetQueue(Task& t, int fd) {
  ASSIGN_OR_RETURN(auto f, t.fds().Get(fd));
  auto q = std::dynamic_pointer_cast<QueueFile>(f);
  if (q == nullptr) return Errno(EBADF);
  return q;
}

// prepare_timeout: null when no timeout; EINVAL for an invalid one.
ErrnoOrOk CopyInTimeout(Task& t, UserAddr addr, timespec* ts, const timespec** out) {
  *out = nullptr;
  if (addr.IsNull()) return Ok();
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<timespec>(addr), ts));
  if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) return Errno(EINVAL);
  *out = ts;
  return Ok();
}

// __do_notify: the signal to the registered process (none for SIGEV_NONE or
// signal 0), as from the sender.
void Deliver(Task& t, const fsimpl::mqueue::Notification& n) {
  if (n.notify != SIGEV_SIGNAL || n.signo == 0) return;
  siginfo_t info{};
  info.si_signo = n.signo;
  info.si_code = SI_MESGQ;
  info.si_value = n.value;
  info.si_pid = t.tgid();
  info.si_uid = t.creds().ruid;
  absl::MutexLock l(&kernel::tree_mu);
  ThreadGroup* g = t.kernel().FindThreadGroupLocked(n.owner);
  if (g == nullptr || g->zombie || g->tasks.empty()) return;
  [[maybe_unused]] ErrnoOrOk r = g->tasks.front()->SendSignalLockedPublic(info, /*to_group=*/true);
}

// getname: EFAULT, ENAMETOOLONG past PATH_MAX, ENOENT for "".
ErrnoOr<std::string> CopyInName(Task& t, UserAddr addr) {
  ASSIGN_OR_RETURN(std::string name, t.mm().CopyInString(addr, kPathMax));
  if (name.empty()) return Errno(ENOENT);
  return name;
}

}  // namespace

SyscallResult MqOpen(Task& t, const SyscallArgs& a) {
  const int oflag = a.Int(1);
  const uint32_t mode = a.Uint(2) & 07777;
  std::optional<std::pair<long, long>> attr;
  if (!a.Addr(3).IsNull()) {
    mq_attr ma;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<mq_attr>(3), &ma));
    // Read only when a queue is created.
    if (oflag & O_CREAT) attr.emplace(ma.mq_maxmsg, ma.mq_msgsize);
  }
  ASSIGN_OR_RETURN(std::string name, CopyInName(t, a.Addr(0)));
  // do_mq_open takes the fd before it looks the name up: a full table is
  // EMFILE whatever the name, and creates nothing.
  RETURN_IF_ERROR(t.fds().CheckRoom(FdLimit(t)));
  fsimpl::mqueue::MqueueNamespace::OpenRequest r;
  r.name = name;
  r.oflag = oflag;
  r.mode = mode & ~t.umask();
  r.attr = attr;
  r.creds = t.access_creds();
  r.creator = kernel::MqueueCreator(t);
  bool created;
  ASSIGN_OR_RETURN(auto q, t.ipc().mqueue().Open(r, &created));
  auto f = std::make_shared<QueueFile>(q, name, oflag);
  // Always close-on-exec, as do_mq_open's get_unused_fd_flags(O_CLOEXEC).
  ErrnoOr<int> fd = t.fds().Install(std::move(f), /*cloexec=*/true, 0, FdLimit(t));
  if (!fd.ok()) {
    // Another thread of the table took the last fd meanwhile: undo.
    if (created) (void)t.ipc().mqueue().Remove(name, q.get());
    return fd.error();
  }
  return *fd;
}

SyscallResult MqUnlink(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(std::string name, CopyInName(t, a.Addr(0)));
  RETURN_IF_ERROR(t.ipc().mqueue().Unlink(name, t.access_creds()));
  return 0;
}

SyscallResult MqTimedsend(Task& t, const SyscallArgs& a) {
  const size_t len = a.Uint(2);
  const unsigned prio = static_cast<unsigned>(a.Uint(3));
  if (prio >= fsimpl::mqueue::kPrioMax) return Errno(EINVAL);
  timespec ts;
  const timespec* deadline;
  RETURN_IF_ERROR(CopyInTimeout(t, a.Addr(4), &ts, &deadline));
  ASSIGN_OR_RETURN(auto f, GetQueue(t, a.Int(0)));
  if (!f->writable()) return Errno(EBADF);
  if (len > static_cast<size_t>(f->queue().msgsize())) return Errno(EMSGSIZE);
  std::string msg(len, '\0');
  mm::CopyResult c = t.mm().CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(msg.data()), len});
  if (!c.ok()) return c.err;
  ASSIGN_OR_RETURN(auto n, f->queue().Send(&t.waker(), f->status_flags() & O_NONBLOCK, deadline,
                                           std::move(msg), prio));
  if (n) Deliver(t, *n);
  return 0;
}

SyscallResult MqTimedreceive(Task& t, const SyscallArgs& a) {
  const size_t len = a.Uint(2);
  timespec ts;
  const timespec* deadline;
  RETURN_IF_ERROR(CopyInTimeout(t, a.Addr(4), &ts, &deadline));
  ASSIGN_OR_RETURN(auto f, GetQueue(t, a.Int(0)));
  if (!f->readable()) return Errno(EBADF);
  if (len < static_cast<size_t>(f->queue().msgsize())) return Errno(EMSGSIZE);
  ASSIGN_OR_RETURN(auto m,
                   f->queue().Receive(&t.waker(), f->status_flags() & O_NONBLOCK, deadline));
  // Linux has taken the message off the queue whatever the copy-out says.
  mm::CopyResult c =
      t.mm().CopyOut(a.Addr(1), {reinterpret_cast<const uint8_t*>(m.first.data()), m.first.size()});
  if (!c.ok()) return c.err;
  if (!a.Addr(3).IsNull()) {
    RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(3), static_cast<uint32_t>(m.second)));
  }
  return static_cast<int64_t>(m.first.size());
}

SyscallResult MqNotify(Task& t, const SyscallArgs& a) {
  std::optional<sigevent> ev;
  if (!a.Addr(1).IsNull()) {
    sigevent e;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<sigevent>(1), &e));
    switch (e.sigev_notify) {
      case SIGEV_NONE:
        break;
      case SIGEV_SIGNAL:
        if (e.sigev_signo < 0 || e.sigev_signo > kernel::kNumSignals) return Errno(EINVAL);
        break;
      case SIGEV_THREAD: {
        // Linux copies the cookie, then wants sigev_signo to be a netlink
        // socket to send it to (glibc's helper thread listens on one). There
        // are no netlink sockets yet, so this ends in one of the errors
        // Linux gives for anything else: EBADF, ENOTSOCK or EINVAL.
        t.kernel().RecordGap("mq_notify(SIGEV_THREAD): no netlink sockets");
        uint8_t cookie[kNotifyCookieLen];
        mm::CopyResult c =
            t.mm().CopyIn(UserAddr(reinterpret_cast<uintptr_t>(e.sigev_value.sival_ptr)),
                          {cookie, sizeof(cookie)});
        if (!c.ok()) return Errno(EFAULT);
        ASSIGN_OR_RETURN(auto sock, t.fds().Get(e.sigev_signo));
        ASSIGN_OR_RETURN(struct stat st, sock->Stat());
        if (!S_ISSOCK(st.st_mode)) return Errno(ENOTSOCK);
        return Errno(EINVAL);  // netlink_getsockbyfilp: not AF_NETLINK
      }
      default:
        return Errno(EINVAL);
    }
    ev = e;
  }
  ASSIGN_OR_RETURN(auto f, GetQueue(t, a.Int(0)));
  if (!ev) {
    f->queue().Unregister(t.tgid());
    return 0;
  }
  fsimpl::mqueue::Registration r;
  r.owner = t.tgid();
  r.notify = ev->sigev_notify;
  r.signo = ev->sigev_signo;
  r.value = ev->sigev_value;
  RETURN_IF_ERROR(f->queue().Register(r));
  return 0;
}

SyscallResult MqGetsetattr(Task& t, const SyscallArgs& a) {
  std::optional<mq_attr> set;
  if (!a.Addr(1).IsNull()) {
    mq_attr m;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<mq_attr>(1), &m));
    if (m.mq_flags & ~static_cast<long>(O_NONBLOCK)) return Errno(EINVAL);
    set = m;
  }
  ASSIGN_OR_RETURN(auto f, GetQueue(t, a.Int(0)));
  mq_attr old{};
  old.mq_flags = f->status_flags() & O_NONBLOCK;
  old.mq_maxmsg = f->queue().maxmsg();
  old.mq_msgsize = f->queue().msgsize();
  old.mq_curmsgs = f->queue().curmsgs();
  if (set) {
    f->set_status_flags((f->status_flags() & ~O_NONBLOCK) | (set->mq_flags & O_NONBLOCK));
  }
  if (!a.Addr(2).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<mq_attr>(2), old));
  return 0;
}

}  // namespace sentry::syscalls
