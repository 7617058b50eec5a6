#include "sentry/kernel/fd_table.h"

#include <cstdint>
#include <vector>

namespace sentry::kernel {

ErrnoOr<int> FdTable::Install(std::shared_ptr<vfs::FileDescription> file, bool cloexec, int min_fd,
                              uint64_t limit) {
  absl::MutexLock l(&mu_);
  int fd = min_fd;
  for (auto it = fds_.lower_bound(min_fd); it != fds_.end() && it->first == fd; ++it) ++fd;
  if (static_cast<uint64_t>(fd) >= limit) return Errno(EMFILE);
  fds_[fd] = Entry{std::move(file), cloexec};
  return fd;
}

ErrnoOrOk FdTable::CheckRoom(uint64_t limit) const {
  absl::MutexLock l(&mu_);
  int fd = 0;
  for (auto it = fds_.begin(); it != fds_.end() && it->first == fd; ++it) ++fd;
  if (static_cast<uint64_t>(fd) >= limit) return Errno(EMFILE);
  return Ok();
}

std::shared_ptr<vfs::FileDescription> FdTable::InstallAt(int fd,
                                                         std::shared_ptr<vfs::FileDescription> file,
                                                         bool cloexec) {
  std::shared_ptr<vfs::FileDescription> old;
  absl::MutexLock l(&mu_);
  Entry& e = fds_[fd];
  old = std::move(e.file);
  e = Entry{std::move(file), cloexec};
  return old;
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> FdTable::Get(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno(EBADF);
  return it->second.file;
}

ErrnoOr<FdTable::Entry> FdTable::GetEntry(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno(EBADF);
  return it->second;
}

ErrnoOrOk FdTable::SetCloexec(int fd, bool cloexec) {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno(EBADF);
  it->second.cloexec = cloexec;
  return Ok();
}

std::shared_ptr<FdTable> FdTable::Fork() const {
  auto t = std::make_shared<FdTable>();
  absl::MutexLock l(&mu_);
  absl::MutexLock l2(&t->mu_);
  t->fds_ = fds_;
  return t;
}

std::vector<std::shared_ptr<vfs::FileDescription>> FdTable::CloseOnExec() {
  std::vector<std::shared_ptr<vfs::FileDescription>> closed;
  absl::MutexLock l(&mu_);
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (it->second.cloexec) {
      closed.push_back(std::move(it->second.file));
      it = fds_.erase(it);
    } else {
      ++it;
    }
  }
  return closed;
}

ErrnoOrOk FdTable::Close(int fd) {
  std::shared_ptr<vfs::FileDescription> file;
  {
    absl::MutexLock l(&mu_);
    auto it = fds_.find(fd);
    if (it == fds_.end()) return Errno(EBADF);
    file = std::move(it->second.file);
    fds_.erase(it);
  }
  return Ok();
}

std::vector<std::shared_ptr<vfs::FileDescription>> FdTable::CloseRange(unsigned first,
                                                                       unsigned last,
                                                                       bool cloexec_only) {
  std::vector<std::shared_ptr<vfs::FileDescription>> closed;
  absl::MutexLock l(&mu_);
  auto it = fds_.lower_bound(static_cast<int>(std::min<unsigned>(first, INT32_MAX)));
  while (it != fds_.end() && static_cast<unsigned>(it->first) <= last) {
    if (cloexec_only) {
      it->second.cloexec = true;
      ++it;
    } else {
      closed.push_back(std::move(it->second.file));
      it = fds_.erase(it);
    }
  }
  return closed;
}

size_t FdTable::Count() const {
  absl::MutexLock l(&mu_);
  return fds_.size();
}

std::vector<std::pair<int, FdTable::Entry>> FdTable::Snapshot() const {
  absl::MutexLock l(&mu_);
  return {fds_.begin(), fds_.end()};
}

}  // namespace sentry::kernel
