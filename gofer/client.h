// The gofer client: typed calls the Sentry's gofer filesystem makes to the gofer
// server over one SOCK_SEQPACKET connection (see README.md and proto/gofer.proto).
//
// Thread-safe: any number of Sentry threads may call at once; one request is in
// flight at a time (`mu_` is held from send to receive). If the gofer dies, the
// socket breaks or the gofer does not answer within the timeout, the connection
// is marked lost (logged once, "gofer connection lost: ...") and every call,
// then and after, returns EIO. No call blocks longer than the timeout. A
// donated fd that does not fit in this process's fd table fails that one call
// with EMFILE.
//
// Lock order: Client::mu_ is a leaf (nothing else is taken while it is held).
#ifndef GOFER_CLIENT_H_
#define GOFER_CLIENT_H_

#include <sys/stat.h>
#include <sys/statfs.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gofer/proto/gofer.pb.h"
#include "gofer/protocol.h"
#include "sentry/base/errno.h"

namespace gofer {

// A handle and the attributes of the file it names. The caller owns the handle
// and releases it with Close.
struct HandleStat {
  uint64_t handle = 0;
  struct stat stat = {};
};

struct AttachResult {
  HandleStat root;
  bool read_only = false;
};

struct WalkResult {
  // One per component walked, in order; the caller owns every handle, error or not.
  std::vector<HandleStat> entries;
  // The walk stopped at a symlink (the last entry) with names left to walk.
  bool stopped_at_symlink = false;
  // Why the walk stopped early: ENOENT (entries.size() names the missing
  // component), ENOTDIR, EACCES, EMFILE...; 0 when it did not.
  sentry::Errno error{0};
  // The last entry's target, when it is a symlink the server could read.
  std::optional<std::string> last_symlink_target;
  // The last entry opened O_RDONLY, when asked (open_last_read_only), the
  // walk completed and it is a regular file the server could open.
  UniqueFd fd;
};

struct CreateResult {
  HandleStat file;
  UniqueFd fd;  // opened with the flags asked for
};

struct Dirent {
  uint64_t ino = 0;
  uint8_t type = 0;    // DT_*
  int64_t offset = 0;  // pass to Getdents to continue after this entry
  std::string name;
};
struct DirentChunk {
  std::vector<Dirent> entries;
  bool eof = false;
};

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Fields to change; unset ones are left alone. Times may be UTIME_NOW/UTIME_OMIT
// in tv_nsec.
struct SetAttrArgs {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<int64_t> size;
  std::optional<struct timespec> atime;
  std::optional<struct timespec> mtime;
};

struct ClientOptions {
  // How long one call waits for its answer before the connection is declared
  // lost (an answer arriving later could not be matched to its request).
  int timeout_ms = 120 * 1000;
};

class Client {
 public:
  // Takes ownership of `sock`, a connected SOCK_SEQPACKET socket to the server.
  explicit Client(UniqueFd sock, const ClientOptions& options = {});
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  sentry::ErrnoOr<AttachResult> Attach();
  // ErrnoOr's error is for the request as a whole (EBADF, EINVAL, ENOTDIR for a
  // non-directory `dir`, EIO...); a walk that stopped part way returns a value
  // with WalkResult::error set.
  // `open_last_read_only`: also open the last name O_RDONLY if it is a
  // regular file (WalkResult::fd): a lookup for an open saves the Open.
  sentry::ErrnoOr<WalkResult> Walk(uint64_t dir, const std::vector<std::string>& names,
                                   bool open_last_read_only = false);
  sentry::ErrnoOr<struct stat> Stat(uint64_t handle);
  sentry::ErrnoOr<struct statfs> StatFS(uint64_t handle);
  sentry::ErrnoOr<UniqueFd> Open(uint64_t handle, int flags);
  sentry::ErrnoOr<CreateResult> Create(uint64_t dir, const std::string& name, int flags,
                                       mode_t mode, std::optional<Owner> owner = std::nullopt);
  sentry::ErrnoOr<HandleStat> Mkdir(uint64_t dir, const std::string& name, mode_t mode,
                                    std::optional<Owner> owner = std::nullopt);
  sentry::ErrnoOr<HandleStat> Mknod(uint64_t dir, const std::string& name, mode_t mode,
                                    std::optional<Owner> owner = std::nullopt);
  sentry::ErrnoOr<HandleStat> Symlink(uint64_t dir, const std::string& name,
                                      const std::string& target,
                                      std::optional<Owner> owner = std::nullopt);
  sentry::ErrnoOr<HandleStat> Link(uint64_t target, uint64_t dir, const std::string& name);
  sentry::ErrnoOrOk Unlink(uint64_t dir, const std::string& name, int flags);
  sentry::ErrnoOrOk Rename(uint64_t old_dir, const std::string& old_name, uint64_t new_dir,
                           const std::string& new_name, unsigned flags);
  sentry::ErrnoOr<std::string> Readlink(uint64_t handle);
  sentry::ErrnoOr<DirentChunk> Getdents(uint64_t dir, int64_t offset, size_t max_bytes);
  sentry::ErrnoOr<struct stat> SetAttr(uint64_t handle, const SetAttrArgs& args);
  sentry::ErrnoOrOk Fsync(uint64_t handle, bool data_only);
  sentry::ErrnoOrOk Fallocate(uint64_t handle, int mode, int64_t offset, int64_t length);
  sentry::ErrnoOr<std::string> GetXattr(uint64_t handle, const std::string& name);
  sentry::ErrnoOrOk SetXattr(uint64_t handle, const std::string& name, const std::string& value,
                             int flags);
  sentry::ErrnoOr<std::vector<std::string>> ListXattr(uint64_t handle);
  sentry::ErrnoOrOk RemoveXattr(uint64_t handle, const std::string& name);
  sentry::ErrnoOr<UniqueFd> Connect(uint64_t handle, int type);
  sentry::ErrnoOrOk Close(const std::vector<uint64_t>& handles);

  bool connection_lost() const;

 private:
  // One round trip. On success `resp` holds the server's answer (whose `error`
  // may be nonzero) and `fd` the donated fd, if any; an error here is EIO.
  sentry::ErrnoOrOk Call(const proto::Request& req, proto::Response& resp, UniqueFd* fd);
  // Call, then turn a nonzero Response.error into the result.
  sentry::ErrnoOrOk CallOk(const proto::Request& req, proto::Response& resp,
                           UniqueFd* fd = nullptr);
  sentry::Errno LoseLocked(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClientOptions options_;
  mutable absl::Mutex mu_;
  UniqueFd sock_ ABSL_GUARDED_BY(mu_);
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  // Where responses are received: kMaxMessageSize bytes, allocated at the
  // first call and reused (a fresh zeroed 128 KiB buffer per call cost an
  // mmap, 32 page faults and a munmap on every RPC).
  std::unique_ptr<char[]> recv_buf_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gofer

#endif  // GOFER_CLIENT_H_
