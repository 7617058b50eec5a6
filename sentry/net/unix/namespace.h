// The names unix-domain sockets are found by (Linux's per-netns unix socket
// table and bsd_socket_buckets): abstract names, the socket files bound
// sockets made, and the count of files in flight per user. One per Kernel
// (Kernel::unix_namespace()); apart from the socket library so that the
// kernel can own it without depending on sockets.
//
// Locking: mu_ is a leaf (nothing is called under it).
#ifndef SENTRY_NET_UNIX_NAMESPACE_H_
#define SENTRY_NET_UNIX_NAMESPACE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"

namespace sentry::vfs {
class Inode;
}

namespace sentry::net::afunix {

// What a name leads to (an afunix::Endpoint), held weakly: a name never keeps
// a socket alive, and a socket's release takes its names away.
class NamedEndpoint {
 public:
  virtual ~NamedEndpoint() = default;
};

class Namespace {
 public:
  Namespace();
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  // --- Abstract names: the whole sockaddr_un as bound (family, the leading
  // NUL, the name), per socket type, as Linux hashes them (a stream and a
  // datagram socket may hold the same name). ---
  // False when the name is taken by a live socket.
  bool BindAbstract(int type, const std::string& addr, std::weak_ptr<NamedEndpoint> ep);
  // unix_autobind: a free name "\0" + five hex digits, bound to `ep`; ENOSPC
  // when all 2^20 are taken.
  ErrnoOr<std::string> BindAutomatic(int type, std::weak_ptr<NamedEndpoint> ep);
  std::shared_ptr<NamedEndpoint> FindAbstract(int type, const std::string& addr) const;
  // Takes the name away if `ep` holds it.
  void UnbindAbstract(int type, const std::string& addr, const NamedEndpoint* ep);

  // --- Socket files: the inode a pathname bind created (kept alive by the
  // bound socket, which holds its dentry) leads to the socket. ---
  void BindInode(const vfs::Inode* inode, std::weak_ptr<NamedEndpoint> ep);
  std::shared_ptr<NamedEndpoint> FindInode(const vfs::Inode* inode) const;
  void UnbindInode(const vfs::Inode* inode, const NamedEndpoint* ep);

  // --- Files in flight in SCM_RIGHTS messages, per sending user (Linux's
  // user->unix_inflight, which too_many_unix_fds compares with
  // RLIMIT_NOFILE). ---
  uint64_t Inflight(uint32_t uid) const;
  void AddInflight(uint32_t uid, uint64_t n);
  void RemoveInflight(uint32_t uid, uint64_t n);

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<int, std::string>, std::weak_ptr<NamedEndpoint>> abstract_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const vfs::Inode*, std::weak_ptr<NamedEndpoint>> inodes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, uint64_t> inflight_ ABSL_GUARDED_BY(mu_);
  uint32_t next_auto_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::net::afunix

#endif  // SENTRY_NET_UNIX_NAMESPACE_H_
