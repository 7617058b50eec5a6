// poll, ppoll, select, pselect6 (Linux's fs/select.c): any mix of the
// Sentry's files (the task's waker registered on each) and donated host files
// (polled on the host together with the waker).
#include <poll.h>
#include <sys/select.h>
#include <sys/time.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <optional>
#include <vector>

#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/syscalls/wait.h"

namespace sentry::syscalls {
namespace {

using kernel::TimespecSubClamped;

// select's event sets (POLLIN_SET, POLLOUT_SET, POLLEX_SET).
constexpr uint32_t kInSet = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
constexpr uint32_t kOutSet = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
constexpr uint32_t kExSet = POLLPRI;

// One file to watch: what counts as ready (`mask`), what it is.
struct Watch {
  std::shared_ptr<vfs::FileDescription> file;  // null: a bad fd (POLLNVAL) or none
  uint32_t mask = 0;
  uint32_t revents = 0;
};

// Wakes the task's waker on behalf of one file (Linux's poll_table_entry):
// one per watched file, so a file watched twice registers twice.
class Forward : public waiter::Waiter {
 public:
  explicit Forward(waiter::Waker* w) : w_(w) {}
  void NotifyEvent(uint32_t) override { w_->Wake(); }

 private:
  waiter::Waker* w_;
};

// Polls every watch once: the number ready.
int Scan(std::vector<Watch>& watches) {
  int n = 0;
  for (Watch& w : watches) {
    if (w.file == nullptr) {
      if (w.revents != 0) ++n;  // POLLNVAL
      continue;
    }
    w.revents = w.file->Readiness(w.mask) & w.mask;
    if (w.revents != 0) ++n;
  }
  return n;
}

// do_poll / do_select: the number of ready watches, 0 at the deadline, or
// EINTR when interrupted.
ErrnoOr<int> Wait(Task& t, std::vector<Watch>& watches, const Timeout& timeout) {
  int n = Scan(watches);
  if (n > 0 || timeout.immediate) return n;
  std::vector<Forward> forwards;
  forwards.reserve(watches.size());  // no reallocation: the queues hold pointers
  std::vector<pollfd> host;
  std::vector<std::pair<vfs::FileDescription*, Forward*>> registered;
  for (Watch& w : watches) {
    if (w.file == nullptr) continue;
    const int hfd = w.file->HostPollFd();
    if (hfd >= 0) {
      host.push_back({hfd, static_cast<short>(w.mask & 0xffff), 0});
      continue;
    }
    forwards.emplace_back(&t.waker());
    w.file->EventRegister(&forwards.back(), w.mask);
    registered.push_back({w.file.get(), &forwards.back()});
  }
  ErrnoOr<int> result = 0;
  for (;;) {
    // Registered first, then polled: a change in between wakes the waker.
    n = Scan(watches);
    if (n > 0) {
      result = n;
      break;
    }
    ErrnoOrOk r = t.Block(CLOCK_MONOTONIC, timeout.deadline_ptr(), host);
    if (!r.ok()) {
      result = r.error().value() == ETIMEDOUT ? ErrnoOr<int>(Scan(watches)) : r.error();
      break;
    }
  }
  for (auto& [file, fwd] : registered) file->EventUnregister(fwd);
  return result;
}

// poll_select_finish: the time left written back to a nonzero timeout (errors
// ignored, as Linux does once the call is over).
void WriteBackTimespec(Task& t, UserAddr addr, const Timeout& timeout) {
  if (addr.value() == 0 || !timeout.deadline) return;
  (void)t.mm().CopyOutObj(UserPtr<timespec>(addr),
                          TimespecSubClamped(*timeout.deadline, MonotonicNow()));
}

// do_sys_poll: the pollfd array in, the wait, the revents out.
SyscallResult DoPoll(Task& t, UserAddr ufds, uint64_t nfds, const Timeout& timeout) {
  if (nfds > t.rlimit_of(RLIMIT_NOFILE).rlim_cur) return Errno(EINVAL);
  std::vector<pollfd> fds(nfds);
  if (nfds != 0) {
    auto r = t.mm().CopyIn(ufds, {reinterpret_cast<uint8_t*>(fds.data()), nfds * sizeof(pollfd)});
    if (!r.ok()) return Errno(EFAULT);
  }
  std::vector<Watch> watches(nfds);
  for (size_t i = 0; i < nfds; ++i) {
    if (fds[i].fd < 0) continue;  // ignored: revents 0
    auto f = t.fds().Get(fds[i].fd);
    if (!f.ok()) {
      watches[i].revents = POLLNVAL;
      continue;
    }
    watches[i].file = *f;
    watches[i].mask = static_cast<uint16_t>(fds[i].events) | POLLERR | POLLHUP;
  }
  ErrnoOr<int> n = Wait(t, watches, timeout);
  // The revents go back even when the wait was interrupted.
  for (size_t i = 0; i < nfds; ++i) {
    const short revents = static_cast<short>(watches[i].revents);
    auto r = t.mm().CopyOutObj(
        UserPtr<short>(ufds.value() + i * sizeof(pollfd) + offsetof(pollfd, revents)), revents);
    if (!r.ok()) return Errno(EFAULT);
  }
  if (!n.ok()) return Errno(kERESTARTNOHAND);
  return *n;
}

// The fd table's size as select sees it (max_fds): 64 until an fd beyond it
// is used, then grown as Linux's alloc_fdtable grows it.
int SelectMaxFds(Task& t) {
  int highest = -1;
  for (const auto& [fd, e] : t.fds().Snapshot()) highest = std::max(highest, fd);
  if (highest < 64) return 64;
  return 128 * static_cast<int>(std::bit_ceil(static_cast<unsigned>(highest / 128 + 1)));
}

// core_sys_select: EBADF for a set bit naming no open fd; the sets written
// back (for the clamped nfds) unless the wait was interrupted.
SyscallResult DoSelect(Task& t, int nfds, UserAddr in_addr, UserAddr out_addr, UserAddr ex_addr,
                       const Timeout& timeout) {
  if (nfds < 0) return Errno(EINVAL);
  nfds = std::min(nfds, SelectMaxFds(t));
  const size_t words = (static_cast<size_t>(nfds) + 63) / 64;
  const UserAddr addrs[3] = {in_addr, out_addr, ex_addr};
  std::vector<uint64_t> sets[3];
  for (int s = 0; s < 3; ++s) {
    sets[s].assign(words, 0);
    if (addrs[s].value() == 0 || words == 0) continue;
    auto r = t.mm().CopyIn(addrs[s], {reinterpret_cast<uint8_t*>(sets[s].data()), words * 8});
    if (!r.ok()) return Errno(EFAULT);
    if (nfds % 64 != 0) sets[s][words - 1] &= (uint64_t{1} << (nfds % 64)) - 1;
  }
  std::vector<Watch> watches;
  std::vector<int> fd_of;
  for (int fd = 0; fd < nfds; ++fd) {
    const uint64_t bit = uint64_t{1} << (fd % 64);
    const bool in = sets[0][fd / 64] & bit, out = sets[1][fd / 64] & bit,
               ex = sets[2][fd / 64] & bit;
    if (!in && !out && !ex) continue;
    ASSIGN_OR_RETURN(auto f, t.fds().Get(fd));  // EBADF
    Watch w;
    w.file = std::move(f);
    w.mask = (in ? kInSet : 0) | (out ? kOutSet : 0) | (ex ? kExSet : 0);
    watches.push_back(std::move(w));
    fd_of.push_back(fd);
  }
  ErrnoOr<int> n = Wait(t, watches, timeout);
  if (!n.ok()) return Errno(kERESTARTNOHAND);
  std::vector<uint64_t> res[3];
  for (auto& r : res) r.assign(words, 0);
  int count = 0;
  for (size_t i = 0; i < watches.size(); ++i) {
    const int fd = fd_of[i];
    const uint64_t bit = uint64_t{1} << (fd % 64);
    const uint32_t ev = watches[i].revents;
    const uint32_t want[3] = {kInSet, kOutSet, kExSet};
    for (int s = 0; s < 3; ++s) {
      if ((sets[s][fd / 64] & bit) && (ev & want[s])) {
        res[s][fd / 64] |= bit;
        ++count;
      }
    }
  }
  for (int s = 0; s < 3; ++s) {
    if (addrs[s].value() == 0 || words == 0) continue;
    auto r = t.mm().CopyOut(addrs[s], {reinterpret_cast<const uint8_t*>(res[s].data()), words * 8});
    if (!r.ok()) return Errno(EFAULT);
  }
  return count;
}

// sys_poll: an interrupted poll restarts through restart_syscall with the
// same deadline (do_restart_poll), unless a handler makes it EINTR.
SyscallResult RestartablePoll(Task& t, UserAddr ufds, uint64_t nfds, const Timeout& timeout) {
  SyscallResult r = DoPoll(t, ufds, nfds, timeout);
  if (!r.ok() && r.error().value() == kERESTARTNOHAND) {
    t.set_restart_block(
        [ufds, nfds, timeout](Task& t) { return RestartablePoll(t, ufds, nfds, timeout); });
    return Errno(kERESTART_RESTARTBLOCK);
  }
  return r;
}

}  // namespace

SyscallResult Poll(Task& t, const SyscallArgs& a) {
  return RestartablePoll(t, a.Addr(0), a[1], MillisecondTimeout(a.Int(2)));
}

SyscallResult Ppoll(Task& t, const SyscallArgs& a) {
  Timeout timeout;
  if (a[2] != 0) {
    timespec ts;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(2), &ts));
    ASSIGN_OR_RETURN(timeout, RelativeTimeout(ts.tv_sec, ts.tv_nsec));
  }
  WaitSigmask mask(t);
  RETURN_IF_ERROR(mask.Set(a.Addr(3), a.Size(4)));
  SyscallResult r = DoPoll(t, a.Addr(0), a[1], timeout);
  WriteBackTimespec(t, a.Addr(2), timeout);
  return mask.Finish(std::move(r));
}

SyscallResult Select(Task& t, const SyscallArgs& a) {
  Timeout timeout;
  if (a[4] != 0) {
    timeval tv;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timeval>(4), &tv));
    // Microseconds beyond a second carry into the seconds.
    ASSIGN_OR_RETURN(
        timeout, RelativeTimeout(tv.tv_sec + tv.tv_usec / 1000000, (tv.tv_usec % 1000000) * 1000));
  }
  SyscallResult r = DoSelect(t, a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), timeout);
  if (a[4] != 0 && timeout.deadline) {
    const timespec left = TimespecSubClamped(*timeout.deadline, MonotonicNow());
    const timeval tv{left.tv_sec, left.tv_nsec / 1000};
    (void)t.mm().CopyOutObj(a.Ptr<timeval>(4), tv);
  }
  return r;
}

SyscallResult Pselect6(Task& t, const SyscallArgs& a) {
  Timeout timeout;
  if (a[4] != 0) {
    timespec ts;
    RETURN_IF_ERROR(t.mm().CopyInObj(a.Ptr<timespec>(4), &ts));
    ASSIGN_OR_RETURN(timeout, RelativeTimeout(ts.tv_sec, ts.tv_nsec));
  }
  WaitSigmask mask(t);
  if (a[5] != 0) {
    // The sixth argument points at {const sigset_t *ss; size_t ss_len}.
    struct {
      uint64_t ss;
      uint64_t len;
    } pack;
    RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<decltype(pack)>(a[5]), &pack));
    RETURN_IF_ERROR(mask.Set(UserAddr(pack.ss), pack.len));
  }
  SyscallResult r = DoSelect(t, a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), timeout);
  WriteBackTimespec(t, a.Addr(4), timeout);
  return mask.Finish(std::move(r));
}

}  // namespace sentry::syscalls
