// The gofer server: serves one host directory tree to one Sentry over one
// SOCK_SEQPACKET connection, by handles naming O_PATH fds (see README.md).
//
// Lock order: none. A Server serves one connection from one thread; nothing in
// it is shared with another thread.
#ifndef GOFER_SERVER_H_
#define GOFER_SERVER_H_

#include <sys/stat.h>
#include <atomic>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gofer/attr.h"
#include "gofer/proto/gofer.pb.h"
#include "gofer/protocol.h"
#include "sentry/base/errno.h"

namespace gofer {

struct ServerOptions {
  // Refuse every mutation with EROFS (the mount is also read-only when
  // `runsc gofer --read-only` set it up, so the host kernel refuses too).
  bool read_only = false;
  // Handles the connection may hold at once; more is EMFILE.
  size_t max_handles = kDefaultMaxHandles;
};

// Modes in Create/Mkdir/Mknod requests are applied as given (the client has
// applied the guest's umask): run the server with umask 0, as RunGofer does.
class Server {
 public:
  // Takes ownership of `root` (an O_PATH directory fd: what Attach returns) and
  // `proc_self_fd` (an O_PATH fd of the directory /proc/self/fd of this process,
  // through which the server re-opens the inode a handle names; see README.md).
  static absl::StatusOr<std::unique_ptr<Server>> Create(UniqueFd root, UniqueFd proc_self_fd,
                                                        const ServerOptions& options);
  // Opens `root_path` and "/proc/self/fd" (setup time: the only host paths the
  // server ever opens) and calls Create.
  static absl::StatusOr<std::unique_ptr<Server>> CreateFromPath(const std::string& root_path,
                                                                const ServerOptions& options);

  // Serves requests on `sock` (not owned) until the peer hangs up (OK) or the
  // socket fails. Must run on a thread that may unshare(CLONE_FS): the serving
  // thread sets its own working directory to /proc/self/fd for Connect.
  absl::Status Serve(int sock);

  // Handles one parsed request; fills `resp` and maybe `donated` (for tests and
  // for Serve).
  void Handle(const proto::Request& req, proto::Response& resp, UniqueFd& donated);

  size_t handle_count() const { return handles_.size(); }
  // Requests handled so far (tests count round trips with it; any thread).
  uint64_t requests_handled() const { return requests_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> requests_{0};
  struct Entry {
    UniqueFd fd;      // O_PATH, O_NOFOLLOW
    mode_t type = 0;  // S_IFMT bits: an inode's type never changes
    UniqueFd dir_fd;  // an O_RDONLY fd of a directory, cached for Getdents
  };
  using OpFn = sentry::Errno (Server::*)(const proto::Request&, proto::Response&, UniqueFd&);
  struct Op {
    OpFn fn;
    bool mutates;  // refused with EROFS on a read-only server
  };
  static const Op* FindOp(proto::Request::OpCase op);

  Server(UniqueFd root, UniqueFd proc_self_fd, const ServerOptions& options);

  sentry::ErrnoOr<Entry*> Lookup(uint64_t handle);
  sentry::ErrnoOr<Entry*> LookupDir(uint64_t handle);
  // Adds an O_PATH fd as a new handle; fills `out`. EMFILE at the limit.
  sentry::Errno AddHandle(UniqueFd fd, proto::HandleAttr* out);
  sentry::Errno CheckRoom(size_t n) const;
  // Re-opens the inode `e` names with `flags` through /proc/self/fd.
  sentry::ErrnoOr<UniqueFd> Reopen(const Entry& e, int flags);
  // After creating `name` in `dir`: opens it O_PATH, applies `owner`, adds it.
  sentry::Errno FinishCreate(int dir_fd, const std::string& name, const proto::Owner* owner,
                             proto::HandleAttr* out);

  sentry::Errno Attach(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Walk(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Stat(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno StatFS(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Open(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Create(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Mkdir(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Mknod(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Symlink(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Link(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Unlink(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Rename(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Readlink(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Getdents(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno SetAttr(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Fsync(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Fallocate(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno GetXattr(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno SetXattr(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno ListXattr(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno RemoveXattr(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Connect(const proto::Request&, proto::Response&, UniqueFd&);
  sentry::Errno Close(const proto::Request&, proto::Response&, UniqueFd&);

  UniqueFd root_;
  UniqueFd proc_self_fd_;
  ServerOptions options_;
  std::unordered_map<uint64_t, Entry> handles_;
  uint64_t next_handle_ = 1;  // never reused; 0 is never a handle
  bool cwd_is_proc_fd_ = false;
};

}  // namespace gofer

#endif  // GOFER_SERVER_H_
