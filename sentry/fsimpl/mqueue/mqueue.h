// POSIX message queues (Linux's ipc/mqueue.c): the queues of one IPC
// namespace, by name, and the descriptions mq_open returns.
//
// A Queue holds messages in priority order (FIFO within a priority), its
// attributes and owner, and at most one notification registration. The
// syscalls (sentry/syscalls/sys_mqueue.cc) block on the queue's waiter::Queue
// with the task's waker; a send that makes an empty queue non-empty while no
// receiver waits hands the caller the notification to deliver (the queue
// knows no processes).
//
// Each IPC namespace has its own MqueueNamespace (ipc::IpcNamespace::mqueue);
// a queue lives while its namespace names it or a descriptor holds it, and
// gives back what it was charged (RLIMIT_MSGQUEUE bytes of its creator's real
// user, one of its namespace's queues_max) when it goes.
//
// Lock order: MqueueNamespace::mu_ > Queue::mu_ > the Queue's waiter::Queue;
// UserBytes::mu_ is a leaf.
#ifndef SENTRY_FSIMPL_MQUEUE_MQUEUE_H_
#define SENTRY_FSIMPL_MQUEUE_MQUEUE_H_

#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/permissions.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::mqueue {

// Linux's bounds (include/linux/ipc_namespace.h).
inline constexpr int kHardMsgMax = 65536;
inline constexpr int kHardMsgSizeMax = 16 * 1024 * 1024;
inline constexpr int kMinMsgMax = 1;
inline constexpr int kMinMsgSizeMax = 128;
inline constexpr unsigned kPrioMax = 32768;  // MQ_PRIO_MAX
inline constexpr size_t kNameMax = 255;

// The /proc/sys/fs/mqueue tunables of one IPC namespace.
struct Limits {
  std::atomic<int> msg_max{10};
  std::atomic<int> msgsize_max{8192};
  std::atomic<int> msg_default{10};
  std::atomic<int> msgsize_default{8192};
  std::atomic<int> queues_max{256};
};

// What RLIMIT_MSGQUEUE counts for a queue (mqueue_get_inode, Linux >= 3.5 as
// getrlimit(2) gives it): a struct msg_msg per message, a priority tree node
// per possible priority in use, and the message bytes. The struct sizes are
// x86-64's.
inline constexpr uint64_t kMsgMsgSize = 48;       // sizeof(struct msg_msg)
inline constexpr uint64_t kMsgTreeNodeSize = 48;  // sizeof(struct posix_msg_tree_node)
uint64_t QueueBytes(long maxmsg, long msgsize);

// RLIMIT_MSGQUEUE accounting (Linux's per-user mq_bytes, the ucounts'
// UCOUNT_RLIMIT_MSGQUEUE since 5.14): the bytes of every live queue by the
// real uid of its creator, across IPC namespaces (one per Kernel).
class UserBytes {
 public:
  // Adds `bytes` to `uid`'s total unless that would exceed `limit` (the
  // creator's RLIMIT_MSGQUEUE): false then (mq_open's EMFILE).
  bool Charge(uint32_t uid, uint64_t bytes, uint64_t limit);
  void Uncharge(uint32_t uid, uint64_t bytes);
  uint64_t Of(uint32_t uid) const;

 private:
  mutable absl::Mutex mu_;
  std::map<uint32_t, uint64_t> bytes_ ABSL_GUARDED_BY(mu_);
};

// What a queue holds while it exists, given back by its destructor
// (mqueue_evict_inode): one of its namespace's queues (the count queues_max
// bounds, which outlives the namespace) and its creator's bytes.
struct QueueCharge {
  std::shared_ptr<std::atomic<int>> ns_queues;
  std::shared_ptr<UserBytes> users;
  uint32_t uid = 0;
  uint64_t bytes = 0;
};

// What mq_notify registered (Linux's notify_owner and sigevent).
struct Registration {
  pid_t owner = 0;  // the registering process (tgid)
  int notify = SIGEV_NONE;
  int signo = 0;
  sigval value{};
};

// A notification to deliver: the signal to send to `owner` (none for
// SIGEV_NONE, which only ends the registration).
struct Notification {
  pid_t owner = 0;
  int notify = SIGEV_NONE;
  int signo = 0;
  sigval value{};
};

class Queue {
 public:
  Queue(long maxmsg, long msgsize, uint32_t mode, uint32_t uid, uint32_t gid, QueueCharge charge);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  long maxmsg() const { return maxmsg_; }
  long msgsize() const { return msgsize_; }
  vfs::Attr attr() const;
  // chmod, chown, utimes through the mount.
  void SetAttr(const vfs::SetAttrRequest& req);

  // Without waiting: EAGAIN when full. On success, the notification to
  // deliver, if this send made the queue non-empty while no receiver waited.
  ErrnoOr<std::optional<Notification>> TrySend(std::string&& msg, unsigned prio);
  // Without waiting: EAGAIN when empty. The message and its priority.
  ErrnoOr<std::pair<std::string, unsigned>> TryReceive();

  // Blocking versions: `w` null or `nonblock` never waits; `deadline` is an
  // absolute CLOCK_REALTIME time (null: forever). ETIMEDOUT, EINTR.
  ErrnoOr<std::optional<Notification>> Send(waiter::Waker* w, bool nonblock,
                                            const timespec* deadline, std::string msg,
                                            unsigned prio);
  ErrnoOr<std::pair<std::string, unsigned>> Receive(waiter::Waker* w, bool nonblock,
                                                    const timespec* deadline);

  // mq_notify: EBUSY when another process is registered.
  ErrnoOrOk Register(const Registration& r);
  // mq_notify(NULL), and any close by `owner` of a descriptor of the queue
  // (mqueue_flush_file): removes the registration if `owner` made it.
  void Unregister(pid_t owner);

  long curmsgs() const;
  // The line read(2) gives (mqueue_read_file).
  std::string InfoLine() const;
  uint32_t Readiness(uint32_t mask) const;

  waiter::Queue& waiters() { return queue_; }

 private:
  const long maxmsg_;
  const long msgsize_;
  const QueueCharge charge_;
  mutable absl::Mutex mu_;
  vfs::Attr attr_ ABSL_GUARDED_BY(mu_);
  // By priority, highest first; FIFO within one.
  std::map<unsigned, std::deque<std::string>, std::greater<unsigned>> msgs_ ABSL_GUARDED_BY(mu_);
  long count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int receivers_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<Registration> reg_ ABSL_GUARDED_BY(mu_);
  waiter::Queue queue_;
};

// Who creates a queue: what mq_open and the mqueue filesystem charge.
struct Creator {
  uint32_t ruid = 0;              // charged RLIMIT_MSGQUEUE bytes
  uint64_t msgqueue_limit = 0;    // its RLIMIT_MSGQUEUE (soft)
  bool cap_sys_resource = false;  // lifts queues_max and msg(size)_max
};

// The queues of one IPC namespace, by name (without the leading '/').
class MqueueNamespace {
 public:
  explicit MqueueNamespace(std::shared_ptr<UserBytes> users);

  struct OpenRequest {
    std::string name;
    int oflag = 0;
    uint32_t mode = 0;                          // umask already applied
    std::optional<std::pair<long, long>> attr;  // (maxmsg, msgsize) when given
    vfs::AccessCreds creds;
    Creator creator;
  };

  Limits& limits() { return limits_; }
  // Live queues (named, or unlinked and still open): what queues_max bounds.
  int queue_count() const { return queues_count_->load(); }

  // mq_open's lookup/create (prepare_open): the queue; `*created` says
  // whether this call made it.
  ErrnoOr<std::shared_ptr<Queue>> Open(const OpenRequest& r, bool* created);
  // mq_unlink: ENOENT, or EPERM/EACCES as may_delete on the 01777 root.
  ErrnoOrOk Unlink(const std::string& name, const vfs::AccessCreds& creds);
  size_t size() const;

  // For the mqueue filesystem (the VFS has checked permission).
  std::shared_ptr<Queue> Find(std::string_view name) const;
  std::vector<std::pair<std::string, std::shared_ptr<Queue>>> List() const;
  // open(O_CREAT) in the mount: a queue with the default attributes.
  ErrnoOr<std::shared_ptr<Queue>> CreateDefault(std::string_view name, uint32_t mode, uint32_t uid,
                                                uint32_t gid, const Creator& creator);
  // Removes `name` if it still names `q`.
  ErrnoOrOk Remove(std::string_view name, const Queue* q);

  // Linux's name rules: EACCES for "", ".", ".." and a name with '/',
  // ENAMETOOLONG beyond NAME_MAX.
  static ErrnoOrOk CheckName(std::string_view name);

 private:
  // mqueue_create_attr and mqueue_get_inode: ENOSPC at queues_max, EMFILE
  // beyond RLIMIT_MSGQUEUE; the new queue, charged.
  ErrnoOr<std::shared_ptr<Queue>> NewQueueLocked(long maxmsg, long msgsize, uint32_t mode,
                                                 uint32_t uid, uint32_t gid, const Creator& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Limits limits_;
  const std::shared_ptr<UserBytes> users_;
  const std::shared_ptr<std::atomic<int>> queues_count_ = std::make_shared<std::atomic<int>>(0);
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
};

// The description of an open queue: read gives the info line (at a position,
// as a seekable file), poll says readable when there are messages and
// writable when there is room.
class QueueFile : public vfs::FileDescription {
 public:
  QueueFile(std::shared_ptr<Queue> q, std::string name, int flags);

  Queue& queue() { return *queue_; }
  bool readable() const { return readable_; }
  bool writable() const { return writable_; }

  ErrnoOr<size_t> Readv(kernel::Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(kernel::Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return true; }
  ErrnoOr<int64_t> Seek(int64_t offset, int whence) override;
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override { return "/" + name_; }
  uint32_t Readiness(uint32_t mask) override { return queue_->Readiness(mask); }
  void EventRegister(waiter::Waiter* w, uint32_t mask) override {
    queue_->waiters().EventRegister(w, mask);
  }
  void EventUnregister(waiter::Waiter* w) override { queue_->waiters().EventUnregister(w); }
  bool CanPoll() const override { return true; }
  // mqueue_flush_file: a close by the registered process ends its
  // registration.
  void Flush(int32_t tgid) override { queue_->Unregister(tgid); }

 private:
  const std::shared_ptr<Queue> queue_;
  const std::string name_;
  const bool readable_;
  const bool writable_;
  absl::Mutex pos_mu_;
  int64_t pos_ ABSL_GUARDED_BY(pos_mu_) = 0;
};

// The mqueue filesystem (mounted at /dev/mqueue): its root lists the
// namespace's queues; open gives a QueueFile, unlink removes a queue, and
// open(O_CREAT) makes one with the default attributes, as Linux's, charged to
// what `creator` says of the calling task. The filesystem holds `ns`.
std::shared_ptr<vfs::Filesystem> NewMqueueFilesystem(std::shared_ptr<MqueueNamespace> ns,
                                                     std::function<Creator()> creator);

}  // namespace sentry::fsimpl::mqueue

#endif  // SENTRY_FSIMPL_MQUEUE_MQUEUE_H_
