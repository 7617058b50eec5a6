#include "sentry/fsimpl/mqueue/mqueue.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/kernfs/kernfs.h"

namespace sentry::fsimpl::mqueue {
namespace {

// The mqueue filesystem's root: root's, 01777 (mqueue_fill_super).
vfs::Attr RootAttr() {
  vfs::Attr a;
  a.mode = S_IFDIR | S_ISVTX | 0777;
  return a;
}

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// An interrupted wait restarts or ends in EINTR, as the signal decides.
Errno Restart(Errno e) { return e.value() == EINTR ? Errno(kERESTARTSYS) : e; }

}  // namespace

uint64_t QueueBytes(long maxmsg, long msgsize) {
  const uint64_t m = static_cast<uint64_t>(maxmsg);
  return m * kMsgMsgSize + std::min<uint64_t>(m, kPrioMax) * kMsgTreeNodeSize +
         m * static_cast<uint64_t>(msgsize);
}

bool UserBytes::Charge(uint32_t uid, uint64_t bytes, uint64_t limit) {
  absl::MutexLock l(&mu_);
  uint64_t& total = bytes_[uid];
  if (total + bytes < total || total + bytes > limit) {
    if (total == 0) bytes_.erase(uid);
    return false;
  }
  total += bytes;
  return true;
}

void UserBytes::Uncharge(uint32_t uid, uint64_t bytes) {
  absl::MutexLock l(&mu_);
  auto it = bytes_.find(uid);
  if (it == bytes_.end()) return;
  it->second -= std::min(it->second, bytes);
  if (it->second == 0) bytes_.erase(it);
}

uint64_t UserBytes::Of(uint32_t uid) const {
  absl::MutexLock l(&mu_);
  auto it = bytes_.find(uid);
  return it == bytes_.end() ? 0 : it->second;
}

Queue::Queue(long maxmsg, long msgsize, uint32_t mode, uint32_t uid, uint32_t gid,
             QueueCharge charge)
    : maxmsg_(maxmsg), msgsize_(msgsize), charge_(std::move(charge)) {
  static std::atomic<uint64_t> next_ino{1};
  attr_.ino = next_ino.fetch_add(1, std::memory_order_relaxed);
  attr_.mode = S_IFREG | (mode & 07777);
  attr_.uid = uid;
  attr_.gid = gid;
  attr_.atime = attr_.mtime = attr_.ctime = attr_.btime = Now();
}

Queue::~Queue() {
  if (charge_.users != nullptr) charge_.users->Uncharge(charge_.uid, charge_.bytes);
  if (charge_.ns_queues != nullptr) charge_.ns_queues->fetch_sub(1);
}

vfs::Attr Queue::attr() const {
  absl::MutexLock l(&mu_);
  vfs::Attr a = attr_;
  a.size = 80;  // FILENT_SIZE: what read(2) shows
  return a;
}

void Queue::SetAttr(const vfs::SetAttrRequest& req) {
  absl::MutexLock l(&mu_);
  if (req.mode) attr_.mode = S_IFREG | (*req.mode & 07777);
  if (req.uid) attr_.uid = *req.uid;
  if (req.gid) attr_.gid = *req.gid;
  if (req.atime) attr_.atime = *req.atime;
  if (req.mtime) attr_.mtime = *req.mtime;
  attr_.ctime = Now();
}

long Queue::curmsgs() const {
  absl::MutexLock l(&mu_);
  return count_;
}

ErrnoOr<std::optional<Notification>> Queue::TrySend(std::string&& msg, unsigned prio) {
  std::optional<Notification> n;
  {
    absl::MutexLock l(&mu_);
    if (count_ >= maxmsg_) return Errno(EAGAIN);
    bytes_ += msg.size();
    msgs_[prio].push_back(std::move(msg));
    ++count_;
    attr_.mtime = attr_.ctime = Now();
    // __do_notify: only when the queue went from empty to non-empty and no
    // receiver waits (Linux hands the message to a waiting receiver).
    if (count_ == 1 && reg_ && receivers_waiting_ == 0) {
      n = Notification{reg_->owner, reg_->notify, reg_->signo, reg_->value};
      reg_.reset();
    }
  }
  queue_.Notify(POLLIN | POLLRDNORM);
  return n;
}

ErrnoOr<std::pair<std::string, unsigned>> Queue::TryReceive() {
  std::pair<std::string, unsigned> out;
  {
    absl::MutexLock l(&mu_);
    if (count_ == 0) return Errno(EAGAIN);
    auto it = msgs_.begin();
    out.first = std::move(it->second.front());
    out.second = it->first;
    it->second.pop_front();
    if (it->second.empty()) msgs_.erase(it);
    --count_;
    bytes_ -= out.first.size();
    attr_.atime = attr_.ctime = Now();
  }
  queue_.Notify(POLLOUT | POLLWRNORM);
  return out;
}

ErrnoOr<std::optional<Notification>> Queue::Send(waiter::Waker* w, bool nonblock,
                                                 const timespec* deadline, std::string msg,
                                                 unsigned prio) {
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    auto r = TrySend(std::move(msg), prio);  // moves only on success
    if (r.ok() || w == nullptr || nonblock) return r;
    if (!reg) {
      reg.emplace(queue_, w, POLLOUT | POLLWRNORM);
      continue;
    }
    ErrnoOrOk b = w->Block(CLOCK_REALTIME, deadline);
    if (!b.ok()) return Restart(b.error());
  }
}

ErrnoOr<std::pair<std::string, unsigned>> Queue::Receive(waiter::Waker* w, bool nonblock,
                                                         const timespec* deadline) {
  std::optional<waiter::ScopedRegistration> reg;
  bool counted = false;
  auto uncount = [&] {
    if (!counted) return;
    absl::MutexLock l(&mu_);
    --receivers_waiting_;
    counted = false;
  };
  for (;;) {
    auto r = TryReceive();
    if (r.ok() || w == nullptr || nonblock) {
      uncount();
      return r;
    }
    if (!reg) {
      reg.emplace(queue_, w, POLLIN | POLLRDNORM);
      absl::MutexLock l(&mu_);
      ++receivers_waiting_;
      counted = true;
      continue;
    }
    ErrnoOrOk b = w->Block(CLOCK_REALTIME, deadline);
    if (!b.ok()) {
      uncount();
      return Restart(b.error());
    }
  }
}

ErrnoOrOk Queue::Register(const Registration& r) {
  absl::MutexLock l(&mu_);
  if (reg_) return Errno(EBUSY);
  reg_ = r;
  return Ok();
}

void Queue::Unregister(pid_t owner) {
  absl::MutexLock l(&mu_);
  if (reg_ && reg_->owner == owner) reg_.reset();
}

std::string Queue::InfoLine() const {
  absl::MutexLock l(&mu_);
  const int notify = reg_ ? reg_->notify : 0;
  const int signo = reg_ && reg_->notify == SIGEV_SIGNAL ? reg_->signo : 0;
  return absl::StrFormat("QSIZE:%-10u NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", bytes_, notify,
                         signo, reg_ ? reg_->owner : 0);
}

uint32_t Queue::Readiness(uint32_t mask) const {
  absl::MutexLock l(&mu_);
  uint32_t ev = 0;
  if (count_ > 0) ev |= POLLIN | POLLRDNORM;
  if (count_ < maxmsg_) ev |= POLLOUT | POLLWRNORM;
  return ev & mask;
}

MqueueNamespace::MqueueNamespace(std::shared_ptr<UserBytes> users) : users_(std::move(users)) {}

ErrnoOrOk MqueueNamespace::CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return Errno(EACCES);
  if (name.find('/') != std::string_view::npos) return Errno(EACCES);
  if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
  return Ok();
}

ErrnoOr<std::shared_ptr<Queue>> MqueueNamespace::Open(const OpenRequest& r, bool* created) {
  *created = false;
  RETURN_IF_ERROR(CheckName(r.name));
  absl::MutexLock l(&mu_);
  auto it = queues_.find(r.name);
  if (it == queues_.end()) {
    if (!(r.oflag & O_CREAT)) return Errno(ENOENT);
    // Creating needs write and search permission on the root (always given
    // by its 01777).
    RETURN_IF_ERROR(vfs::CheckPermission(r.creds, RootAttr(), vfs::kMayWrite | vfs::kMayExec));
    long maxmsg = std::min(limits_.msg_max.load(), limits_.msg_default.load());
    long msgsize = std::min(limits_.msgsize_max.load(), limits_.msgsize_default.load());
    if (r.attr) {
      // mq_attr_ok.
      auto [m, s] = *r.attr;
      if (m <= 0 || s <= 0) return Errno(EINVAL);
      if (r.creator.cap_sys_resource) {
        if (m > kHardMsgMax || s > kHardMsgSizeMax) return Errno(EINVAL);
      } else if (m > limits_.msg_max.load() || s > limits_.msgsize_max.load()) {
        return Errno(EINVAL);
      }
      maxmsg = m;
      msgsize = s;
    }
    ASSIGN_OR_RETURN(
        auto q, NewQueueLocked(maxmsg, msgsize, r.mode, r.creds.fsuid, r.creds.fsgid, r.creator));
    queues_.emplace(r.name, q);
    *created = true;
    return q;
  }
  if ((r.oflag & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return Errno(EEXIST);
  if ((r.oflag & O_ACCMODE) == O_ACCMODE) return Errno(EINVAL);
  static constexpr int kAcc[] = {vfs::kMayRead, vfs::kMayWrite, vfs::kMayRead | vfs::kMayWrite};
  RETURN_IF_ERROR(vfs::CheckPermission(r.creds, it->second->attr(), kAcc[r.oflag & O_ACCMODE]));
  return it->second;
}

ErrnoOrOk MqueueNamespace::Unlink(const std::string& name, const vfs::AccessCreds& creds) {
  RETURN_IF_ERROR(CheckName(name));
  absl::MutexLock l(&mu_);
  auto it = queues_.find(name);
  if (it == queues_.end()) return Errno(ENOENT);
  // may_delete on the root: write and search permission, then the sticky bit.
  RETURN_IF_ERROR(vfs::CheckPermission(creds, RootAttr(), vfs::kMayWrite | vfs::kMayExec));
  RETURN_IF_ERROR(vfs::CheckSticky(creds, RootAttr(), it->second->attr()));
  queues_.erase(it);
  return Ok();
}

std::shared_ptr<Queue> MqueueNamespace::Find(std::string_view name) const {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(std::string(name));
  return it == queues_.end() ? nullptr : it->second;
}

std::vector<std::pair<std::string, std::shared_ptr<Queue>>> MqueueNamespace::List() const {
  absl::MutexLock l(&mu_);
  return {queues_.begin(), queues_.end()};
}

ErrnoOr<std::shared_ptr<Queue>> MqueueNamespace::CreateDefault(std::string_view name, uint32_t mode,
                                                               uint32_t uid, uint32_t gid,
                                                               const Creator& creator) {
  RETURN_IF_ERROR(CheckName(name));
  absl::MutexLock l(&mu_);
  if (queues_.count(std::string(name))) return Errno(EEXIST);
  ASSIGN_OR_RETURN(
      auto q, NewQueueLocked(std::min(limits_.msg_max.load(), limits_.msg_default.load()),
                             std::min(limits_.msgsize_max.load(), limits_.msgsize_default.load()),
                             mode, uid, gid, creator));
  queues_.emplace(std::string(name), q);
  return q;
}

ErrnoOr<std::shared_ptr<Queue>> MqueueNamespace::NewQueueLocked(long maxmsg, long msgsize,
                                                                uint32_t mode, uint32_t uid,
                                                                uint32_t gid, const Creator& c) {
  // mqueue_create_attr: every live queue counts, unlinked ones still open too.
  if (queues_count_->load() >= limits_.queues_max.load() && !c.cap_sys_resource) {
    return Errno(ENOSPC);
  }
  // mqueue_get_inode: the creator's real user is charged, whoever it is.
  QueueCharge charge{queues_count_, users_, c.ruid, QueueBytes(maxmsg, msgsize)};
  if (!users_->Charge(charge.uid, charge.bytes, c.msgqueue_limit)) return Errno(EMFILE);
  queues_count_->fetch_add(1);
  return std::make_shared<Queue>(maxmsg, msgsize, mode, uid, gid, std::move(charge));
}

ErrnoOrOk MqueueNamespace::Remove(std::string_view name, const Queue* q) {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(std::string(name));
  if (it == queues_.end() || it->second.get() != q) return Errno(ENOENT);
  queues_.erase(it);
  return Ok();
}

size_t MqueueNamespace::size() const {
  absl::MutexLock l(&mu_);
  return queues_.size();
}

QueueFile::QueueFile(std::shared_ptr<Queue> q, std::string name, int flags)
    : FileDescription(flags & (O_ACCMODE | O_NONBLOCK)),
      queue_(std::move(q)),
      name_(std::move(name)),
      readable_((flags & O_ACCMODE) == O_RDONLY || (flags & O_ACCMODE) == O_RDWR),
      writable_((flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR) {}

ErrnoOr<size_t> QueueFile::Readv(kernel::Task*, std::span<const iovec> dst, int64_t offset) {
  // mqueue_read_file: the info line from the position (simple_read_from_buffer).
  const std::string line = queue_->InfoLine();
  absl::MutexLock l(&pos_mu_);
  int64_t pos = offset < 0 ? pos_ : offset;
  size_t done = 0;
  for (const iovec& v : dst) {
    if (pos >= static_cast<int64_t>(line.size())) break;
    const size_t k = std::min(v.iov_len, line.size() - static_cast<size_t>(pos));
    memcpy(v.iov_base, line.data() + pos, k);
    pos += static_cast<int64_t>(k);
    done += k;
  }
  if (offset < 0) pos_ = pos;
  return done;
}

ErrnoOr<size_t> QueueFile::Writev(kernel::Task*, std::span<const iovec>, int64_t) {
  return Errno(EINVAL);  // no write operation
}

ErrnoOr<int64_t> QueueFile::Seek(int64_t offset, int whence) {
  // default_llseek; the size is FILENT_SIZE.
  absl::MutexLock l(&pos_mu_);
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = pos_;
      break;
    case SEEK_END:
      base = 80;
      break;
    default:
      return Errno(EINVAL);
  }
  if (offset > INT64_MAX - base) return Errno(EINVAL);
  if (base + offset < 0) return Errno(EINVAL);
  pos_ = base + offset;
  return pos_;
}

ErrnoOr<struct stat> QueueFile::Stat() {
  const vfs::Attr a = queue_->attr();
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = 1;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 4096;
  st.st_atim = a.atime;
  st.st_mtim = a.mtime;
  st.st_ctim = a.ctime;
  return st;
}

ErrnoOr<uint64_t> QueueFile::Ioctl(kernel::Task&, uint64_t, uint64_t) { return Errno(ENOTTY); }

// --- The filesystem ---

namespace {

constexpr int64_t kMqueueMagic = 0x19800202;
// Queue inode numbers start past the root's.
constexpr uint64_t kQueueInoBase = 16;

class QueueInode : public vfs::Inode {
 public:
  QueueInode(vfs::Filesystem& fs, std::shared_ptr<MqueueNamespace> ns, std::string name,
             std::shared_ptr<Queue> q)
      : Inode(fs), ns_(std::move(ns)), name_(std::move(name)), queue_(std::move(q)) {}

  ErrnoOr<vfs::Attr> GetAttr() override {
    vfs::Attr a = queue_->attr();
    a.ino += kQueueInoBase;
    return a;
  }
  ErrnoOrOk SetAttr(const vfs::SetAttrRequest& req) override {
    if (req.size) return Errno(EINVAL);  // O_TRUNC has nothing to cut: Linux ignores it
    queue_->SetAttr(req);
    return Ok();
  }
  // Still under this name (mq_unlink may have removed it).
  bool Valid() override { return ns_->Find(name_) == queue_; }
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&,
                                                      int flags) override {
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<QueueFile>(queue_, name_, flags));
  }
  const Queue* queue() const { return queue_.get(); }

 private:
  std::shared_ptr<MqueueNamespace> ns_;
  const std::string name_;
  const std::shared_ptr<Queue> queue_;
};

class MqueueRoot : public kernfs::Directory {
 public:
  MqueueRoot(kernfs::SyntheticFilesystem& fs, std::shared_ptr<MqueueNamespace> ns,
             std::function<Creator()> creator, uint64_t ino)
      : Directory(fs, ino, 01777, ino), ns_(std::move(ns)), creator_(std::move(creator)) {}

  ErrnoOr<std::vector<Entry>> List() override {
    std::vector<Entry> out;
    for (const auto& [name, q] : ns_->List()) {
      const uint64_t ino = q->attr().ino + kQueueInoBase;
      out.push_back({name, ino, DT_REG, static_cast<int64_t>(ino)});
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.pos < b.pos; });
    return out;
  }
  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
    std::shared_ptr<Queue> q = ns_->Find(name);
    if (q == nullptr) return Errno(ENOENT);
    return std::shared_ptr<vfs::Inode>(
        std::make_shared<QueueInode>(sfs(), ns_, std::string(name), std::move(q)));
  }
  ErrnoOr<std::shared_ptr<vfs::Inode>> Create(std::string_view name, uint32_t mode,
                                              const vfs::Owner& owner) override {
    ASSIGN_OR_RETURN(auto q,
                     ns_->CreateDefault(name, mode & 07777, owner.uid, owner.gid, creator_()));
    return std::shared_ptr<vfs::Inode>(
        std::make_shared<QueueInode>(sfs(), ns_, std::string(name), std::move(q)));
  }
  ErrnoOrOk Unlink(std::string_view name, vfs::Inode& child) override {
    auto* qi = dynamic_cast<QueueInode*>(&child);
    if (qi == nullptr) return Errno(ENOENT);
    return ns_->Remove(name, qi->queue());
  }

 private:
  std::shared_ptr<MqueueNamespace> ns_;
  const std::function<Creator()> creator_;
};

class MqueueFilesystem : public kernfs::SyntheticFilesystem {
 public:
  explicit MqueueFilesystem(std::shared_ptr<MqueueNamespace> ns)
      : SyntheticFilesystem("mqueue", kMqueueMagic, 4096), ns_(std::move(ns)) {}
  void Build(std::function<Creator()> creator) {
    set_root(std::make_shared<MqueueRoot>(*this, ns_, std::move(creator), NextIno()));
  }

 private:
  std::shared_ptr<MqueueNamespace> ns_;
};

}  // namespace

std::shared_ptr<vfs::Filesystem> NewMqueueFilesystem(std::shared_ptr<MqueueNamespace> ns,
                                                     std::function<Creator()> creator) {
  auto fs = std::make_shared<MqueueFilesystem>(std::move(ns));
  fs->Build(std::move(creator));
  return fs;
}

}  // namespace sentry::fsimpl::mqueue
