// A process's file descriptor table.
#ifndef SENTRY_KERNEL_FD_TABLE_H_
#define SENTRY_KERNEL_FD_TABLE_H_

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class FdTable {
 public:
  struct Entry {
    std::shared_ptr<vfs::FileDescription> file;
    bool cloexec = false;
  };

  // The lowest free fd >= min_fd below `limit` (RLIMIT_NOFILE), or EMFILE.
  ErrnoOr<int> Install(std::shared_ptr<vfs::FileDescription> file, bool cloexec, int min_fd,
                       uint64_t limit);
  // EMFILE when Install(…, 0, limit) would be: for a call that must fail
  // before it makes anything, as Linux's get_unused_fd_flags comes first.
  ErrnoOrOk CheckRoom(uint64_t limit) const;
  // Installs at exactly `fd`, replacing what was there (dup2 semantics).
  // Returns what was there (to release its POSIX locks), or null.
  std::shared_ptr<vfs::FileDescription> InstallAt(int fd,
                                                  std::shared_ptr<vfs::FileDescription> file,
                                                  bool cloexec);
  // EBADF if not open.
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Get(int fd) const;
  ErrnoOr<Entry> GetEntry(int fd) const;
  ErrnoOrOk SetCloexec(int fd, bool cloexec);
  // EBADF if not open. The description is released outside the lock.
  ErrnoOrOk Close(int fd);
  size_t Count() const;
  // close_range: closes (or, with `cloexec_only`, marks close-on-exec) every
  // open fd in [first, last]. The descriptions are released outside the lock.
  // Returns the descriptions closed (to release their POSIX locks).
  std::vector<std::shared_ptr<vfs::FileDescription>> CloseRange(unsigned first, unsigned last,
                                                                bool cloexec_only);
  // A copy for fork (the same descriptions, the same close-on-exec flags).
  std::shared_ptr<FdTable> Fork() const;
  // execve: closes every close-on-exec fd; returns the descriptions (to
  // release their POSIX locks).
  std::vector<std::shared_ptr<vfs::FileDescription>> CloseOnExec();
  // Every open fd with its entry, ascending: a snapshot (for /proc).
  std::vector<std::pair<int, Entry>> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  std::map<int, Entry> fds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FD_TABLE_H_
