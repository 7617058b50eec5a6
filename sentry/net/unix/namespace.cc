#include "sentry/net/unix/namespace.h"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstdio>

namespace sentry::net::afunix {

namespace {
constexpr uint32_t kAutoNames = 0x100000;  // five hex digits
}  // namespace

Namespace::Namespace() {
  // Linux starts the search at a random name; any start will do as long as
  // it differs between runs a little (the clock, not a random source: the
  // Sentry may be running under its seccomp filter by now).
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  next_auto_ = static_cast<uint32_t>(ts.tv_nsec) % kAutoNames;
}

bool Namespace::BindAbstract(int type, const std::string& addr, std::weak_ptr<NamedEndpoint> ep) {
  absl::MutexLock l(&mu_);
  auto [it, inserted] = abstract_.try_emplace({type, addr}, ep);
  if (inserted) return true;
  if (!it->second.expired()) return false;
  it->second = std::move(ep);
  return true;
}

ErrnoOr<std::string> Namespace::BindAutomatic(int type, std::weak_ptr<NamedEndpoint> ep) {
  absl::MutexLock l(&mu_);
  for (uint32_t tries = 0; tries < kAutoNames; ++tries) {
    const uint32_t n = next_auto_;
    next_auto_ = (next_auto_ + 1) % kAutoNames;
    // sa_family, then "\0%05x": Linux's address is 8 bytes long (the
    // sprintf's terminating NUL is not part of it).
    std::string addr(8, '\0');
    const sa_family_t family = AF_UNIX;
    addr[0] = static_cast<char>(family & 0xff);
    addr[1] = static_cast<char>(family >> 8);
    char hex[6];
    std::snprintf(hex, sizeof(hex), "%05x", n);
    addr.replace(3, 5, hex, 5);
    auto [it, inserted] = abstract_.try_emplace({type, addr}, ep);
    if (inserted) return addr;
    if (it->second.expired()) {
      it->second = ep;
      return addr;
    }
  }
  return Errno(ENOSPC);
}

std::shared_ptr<NamedEndpoint> Namespace::FindAbstract(int type, const std::string& addr) const {
  absl::MutexLock l(&mu_);
  auto it = abstract_.find({type, addr});
  return it == abstract_.end() ? nullptr : it->second.lock();
}

void Namespace::UnbindAbstract(int type, const std::string& addr, const NamedEndpoint* ep) {
  absl::MutexLock l(&mu_);
  auto it = abstract_.find({type, addr});
  if (it == abstract_.end()) return;
  auto held = it->second.lock();
  if (held == nullptr || held.get() == ep) abstract_.erase(it);
}

void Namespace::BindInode(const vfs::Inode* inode, std::weak_ptr<NamedEndpoint> ep) {
  absl::MutexLock l(&mu_);
  inodes_[inode] = std::move(ep);
}

std::shared_ptr<NamedEndpoint> Namespace::FindInode(const vfs::Inode* inode) const {
  absl::MutexLock l(&mu_);
  auto it = inodes_.find(inode);
  return it == inodes_.end() ? nullptr : it->second.lock();
}

void Namespace::UnbindInode(const vfs::Inode* inode, const NamedEndpoint* ep) {
  absl::MutexLock l(&mu_);
  auto it = inodes_.find(inode);
  if (it == inodes_.end()) return;
  auto held = it->second.lock();
  if (held == nullptr || held.get() == ep) inodes_.erase(it);
}

uint64_t Namespace::Inflight(uint32_t uid) const {
  absl::MutexLock l(&mu_);
  auto it = inflight_.find(uid);
  return it == inflight_.end() ? 0 : it->second;
}

void Namespace::AddInflight(uint32_t uid, uint64_t n) {
  absl::MutexLock l(&mu_);
  inflight_[uid] += n;
}

void Namespace::RemoveInflight(uint32_t uid, uint64_t n) {
  absl::MutexLock l(&mu_);
  auto it = inflight_.find(uid);
  if (it == inflight_.end()) return;
  it->second -= std::min(it->second, n);
  if (it->second == 0) inflight_.erase(it);
}

}  // namespace sentry::net::afunix
