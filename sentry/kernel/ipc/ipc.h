// System V IPC (Linux's ipc/): the IPC namespace with its shared memory
// segments, semaphore sets and message queues. See README.md for the design and the lock order.
#ifndef SENTRY_KERNEL_IPC_IPC_H_
#define SENTRY_KERNEL_IPC_IPC_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/errno.h"
#include "sentry/kernel/credentials.h"
#include "sentry/memory/mappable.h"
#include "sentry/memory/memory_file.h"
#include "sentry/waiter/waiter.h"

namespace sentry::fsimpl::mqueue {
class MqueueNamespace;
}

namespace sentry::kernel::ipc {

// Linux's struct kern_ipc_perm.
struct Perm {
  int32_t key = 0;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // low 9 bits, plus SHM_DEST / SHM_LOCKED for segments
  uint32_t seq = 0;
};

// Linux's ipcperms(): whether `c` may access an object of `p` for
// `flag`'s rwx bits (in any of the three classes). CAP_IPC_OWNER overrides.
bool MayAccess(const Credentials& c, const Perm& p, int flag);
// ipcctl_obtain_check(): IPC_SET and IPC_RMID need the owner or creator,
// or CAP_SYS_ADMIN.
bool MayControl(const Credentials& c, const Perm& p);

inline constexpr int kIpcMni = 32768;      // IPCMNI: ids are seq * IPCMNI + index
inline constexpr int kReadAccess = 0444;   // S_IRUGO
inline constexpr int kWriteAccess = 0222;  // S_IWUGO

int64_t NowSeconds();

// What every segment, semaphore set and message queue has (the parts of
// Linux's kern_ipc_perm and its users that the shared code touches).
struct IpcObject {
  int index = 0;
  Perm perm;
  int64_t ctime = 0;
  bool deleted = false;  // gone from the registry (ipc_valid_object)
  int id() const { return static_cast<int>(perm.seq) * kIpcMni + index; }
};

// One kind of object's ids (Linux's struct ipc_ids): shm, sem and msg each
// keep one, under the namespace's lock. Ids are `seq * IPCMNI + index`: the
// index is the next free one after the last given (idr_alloc_cyclic), the
// sequence number goes up when the indices wrap.
template <typename T>
class Registry {
 public:
  // ipc_obtain_object_check: EINVAL for an id that names nothing.
  ErrnoOr<std::shared_ptr<T>> Find(int id) const {
    if (id < 0) return Errno(EINVAL);
    auto it = items_.find(id % kIpcMni);
    if (it == items_.end() || it->second->id() != id) return Errno(EINVAL);
    return it->second;
  }
  // By index (the *_STAT commands).
  ErrnoOr<std::shared_ptr<T>> FindIndex(int index) const {
    auto it = items_.find(index);
    if (index < 0 || it == items_.end()) return Errno(EINVAL);
    return it->second;
  }
  std::shared_ptr<T> FindKey(int32_t key) const {
    for (auto& [i, o] : items_) {
      if (o->perm.key == key) return o;
    }
    return nullptr;
  }
  // ipc_addid: a new object with `c`'s ids and `flags`' mode, at an index
  // below `mni`; ENOSPC when there is none.
  ErrnoOr<std::shared_ptr<T>> Add(const Credentials& c, int32_t key, int flags, uint64_t mni) {
    const int limit = static_cast<int>(std::min<uint64_t>(mni, kIpcMni));
    if (static_cast<int>(items_.size()) >= limit) return Errno(ENOSPC);
    int index = -1;
    for (int i = 0; i < limit; ++i) {
      const int cand = (next_ + i) % limit;
      if (!items_.contains(cand)) {
        index = cand;
        break;
      }
    }
    if (index < 0) return Errno(ENOSPC);
    if (index < next_) ++seq_;
    next_ = index + 1;
    auto o = std::make_shared<T>();
    o->index = index;
    o->perm.key = key;
    o->perm.uid = o->perm.cuid = c.euid;
    o->perm.gid = o->perm.cgid = c.egid;
    o->perm.mode = flags & 0777;
    o->perm.seq = seq_ & 0xffff;
    o->ctime = NowSeconds();
    items_[index] = o;
    return o;
  }
  void Remove(T& o) {
    o.deleted = true;
    items_.erase(o.index);
  }
  // The highest index in use, or -1 (what IPC_INFO and *_INFO return).
  int MaxIndex() const { return items_.empty() ? -1 : items_.rbegin()->first; }
  int size() const { return static_cast<int>(items_.size()); }
  const std::map<int, std::shared_ptr<T>>& items() const { return items_; }

 private:
  std::map<int, std::shared_ptr<T>> items_;  // by index
  int next_ = 0;
  uint32_t seq_ = 0;
};

// ipcget()'s lookup: the id of the object for `key`, or nullopt when the
// caller is to create one (IPC_PRIVATE, or IPC_CREAT and none yet). An
// existing one is EEXIST with IPC_CREAT | IPC_EXCL, then `more_checks` (its
// size), then EACCES for `flags`' mode; ENOENT without IPC_CREAT.
template <typename T, typename Check>
ErrnoOr<std::optional<int>> IpcLookup(const Registry<T>& r, const Credentials& c, int32_t key,
                                      int flags, Check more_checks) {
  constexpr int kCreat = 01000, kExcl = 02000;  // IPC_CREAT, IPC_EXCL
  if (key == 0) return std::optional<int>();
  std::shared_ptr<T> found = r.FindKey(key);
  if (!found) {
    if (!(flags & kCreat)) return Errno(ENOENT);
    return std::optional<int>();
  }
  if ((flags & kCreat) && (flags & kExcl)) return Errno(EEXIST);
  ErrnoOrOk checked = more_checks(*found);
  if (!checked.ok()) return checked.error();
  if (!MayAccess(c, found->perm, flags)) return Errno(EACCES);
  return std::optional<int>(found->id());
}

// The object for a *_STAT / IPC_STAT command: by index for SHM_STAT,
// SEM_STAT, MSG_STAT (and their _ANY forms, which skip the read check).
template <typename T>
ErrnoOr<std::shared_ptr<T>> StatLookup(const Registry<T>& r, const Credentials& c, int id,
                                       bool by_index, bool check_read) {
  ErrnoOr<std::shared_ptr<T>> o = by_index ? r.FindIndex(id) : r.Find(id);
  if (!o.ok()) return o;
  if (check_read && !MayAccess(c, (*o)->perm, kReadAccess)) return Errno(EACCES);
  return o;
}

// IPC_SET's common part (ipc_update_perm), after MayControl: EINVAL for an
// invalid uid or gid.
ErrnoOrOk UpdatePerm(IpcObject& o, uint32_t uid, uint32_t gid, uint32_t mode);

// What shmctl and /proc/sysvipc/shm show of a segment.
struct ShmStat {
  int id = 0;
  Perm perm;
  uint64_t size = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  int32_t cpid = 0, lpid = 0;
  uint64_t nattch = 0;
  uint64_t rss_pages = 0;
};

// What semctl and /proc/sysvipc/sem show of a set.
struct SemStat {
  int id = 0;
  Perm perm;
  int64_t otime = 0, ctime = 0;
  uint64_t nsems = 0;
};

// What msgctl and /proc/sysvipc/msg show of a queue.
struct MsgStat {
  int id = 0;
  Perm perm;
  int64_t stime = 0, rtime = 0, ctime = 0;
  uint64_t cbytes = 0, qnum = 0, qbytes = 0;
  int32_t lspid = 0, lrpid = 0;
};

// One operation of semop(2) (struct sembuf).
struct SemBuf {
  uint16_t num = 0;
  int16_t op = 0;
  int16_t flg = 0;
};

inline constexpr int kSemVmx = 32767;  // SEMVMX (and SEMAEM)

struct ShmSegment;
struct SemArray;
struct MsgQueue;
class IpcNamespace;

// One attachment object per segment, shared by every VMA that maps it
// (Linux counts shm_nattch by VMA): its use count is the attach count.
class ShmMapping;

// A process's semaphore undo list (Linux's sem_undo_list), shared by the
// tasks cloned with CLONE_SYSVSEM. The adjustments themselves live in the
// sets (keyed by this list's address); when the last holder lets go, the
// destructor applies them (exit_sem).
class SemUndoList {
 public:
  explicit SemUndoList(std::weak_ptr<IpcNamespace> ns) : ns_(std::move(ns)) {}
  ~SemUndoList();
  SemUndoList(const SemUndoList&) = delete;
  SemUndoList& operator=(const SemUndoList&) = delete;
  // The tgid of the task that lets go of it last (the semaphores' sempid).
  void set_exit_pid(int32_t pid) { exit_pid_.store(pid, std::memory_order_relaxed); }

 private:
  const std::weak_ptr<IpcNamespace> ns_;
  std::atomic<int32_t> exit_pid_{0};
};

class IpcNamespace : public std::enable_shared_from_this<IpcNamespace> {
 public:
  explicit IpcNamespace(memory::MemoryFile& mf);
  ~IpcNamespace();
  // Its identity (/proc/<pid>/ns/ipc, setns): set once, before it is shared
  // (Kernel::NewIpcNamespace); the initial namespace's is Linux's.
  uint32_t inode() const { return inode_; }
  void set_inode(uint32_t ino) { inode_ = ino; }
  // Its POSIX message queues and their fs.mqueue sysctls
  // (sentry/fsimpl/mqueue): set once, before it is shared, as the inode.
  fsimpl::mqueue::MqueueNamespace& mqueue() const { return *mqueue_; }
  const std::shared_ptr<fsimpl::mqueue::MqueueNamespace>& mqueue_ptr() const { return mqueue_; }
  void set_mqueue(std::shared_ptr<fsimpl::mqueue::MqueueNamespace> mq) { mqueue_ = std::move(mq); }

  // --- Limits (the kernel.shm*, kernel.sem and kernel.msg* sysctls) ---
  struct ShmLimits {
    uint64_t shmmax = ~uint64_t{0} - (uint64_t{1} << 24);  // SHMMAX
    uint64_t shmall = ~uint64_t{0} - (uint64_t{1} << 24);  // SHMALL (pages)
    uint64_t shmmni = 4096;                                // SHMMNI
    bool rmid_forced = false;                              // shm_rmid_forced
  };
  ShmLimits shm_limits() const;
  // Setting rmid_forced destroys the orphaned segments at once
  // (shm_destroy_orphaned), as Linux does.
  void set_shm_limits(const ShmLimits& l);
  struct SemLimits {
    int semmsl = 32000;       // SEMMSL: semaphores per set
    int semmns = 1024000000;  // SEMMNS: semaphores in all sets
    int semopm = 500;         // SEMOPM: operations per semop
    int semmni = 32000;       // SEMMNI: sets
  };
  SemLimits sem_limits() const;
  void set_sem_limits(const SemLimits& l);
  struct MsgLimits {
    int msgmax = 8192;   // MSGMAX: bytes in a message
    int msgmnb = 16384;  // MSGMNB: a new queue's msg_qbytes
    int msgmni = 32000;  // MSGMNI: queues
  };
  MsgLimits msg_limits() const;
  void set_msg_limits(const MsgLimits& l);

  // --- Shared memory ---

  // shmget(2) by thread `tid` of process `pid`.
  ErrnoOr<int> ShmGet(const Credentials& c, int32_t key, uint64_t size, int flags, int32_t pid,
                      int32_t tid);
  // The object to map for shmat(2) after its checks (`acc` = S_IRUGO...),
  // with the segment's size and key; EINVAL for a bad id, EACCES, EIDRM.
  struct Attach {
    std::shared_ptr<memory::Mappable> mapping;
    uint64_t size;
    int32_t key;
  };
  ErrnoOr<Attach> ShmAttach(const Credentials& c, int id, int acc);
  // Records the attach or detach of `mapping` by `pid` (atime / dtime, lpid).
  // `mapping` is compared, never dereferenced: it may be gone.
  void ShmAttached(const memory::Mappable* mapping, int32_t pid, bool attach);
  // The size of the segment `m` maps, if it is one of this namespace's.
  std::optional<uint64_t> ShmSizeOf(const memory::Mappable* m) const;
  // The thread `tid` is gone (exit_shm): the segments it made are orphans,
  // and with shm_rmid_forced the unattached ones are destroyed.
  void ShmTaskExit(int32_t tid);

  // shmctl(2) pieces. `by_index`: SHM_STAT(_ANY) passes an index.
  ErrnoOr<ShmStat> ShmStatOf(const Credentials& c, int id, bool by_index, bool check_read);
  ErrnoOrOk ShmSet(const Credentials& c, int id, uint32_t uid, uint32_t gid, uint32_t mode);
  ErrnoOrOk ShmRemove(const Credentials& c, int id);
  ErrnoOrOk ShmLock(const Credentials& c, int id, bool lock, bool memlock_nonzero);
  int ShmMaxIndex() const;  // the highest index in use, or -1 (IPC_INFO/SHM_INFO)
  struct ShmTotals {
    int used_ids = 0;
    uint64_t shm_tot = 0;  // pages
    uint64_t shm_rss = 0;  // pages
  };
  ShmTotals ShmInfo() const;
  std::vector<ShmStat> ShmAll() const;  // /proc/sysvipc/shm

  // --- Semaphores (sem.cc) ---

  // semget(2).
  ErrnoOr<int> SemGet(const Credentials& c, int32_t key, int nsems, int flags);
  // semop(2) / semtimedop(2): applies `sops` atomically, or sleeps on
  // `waker` until it can (until `deadline`, absolute on CLOCK_MONOTONIC,
  // then EAGAIN). `undo`: the caller's undo list, needed when a SEM_UNDO
  // operation is in `sops`. EINTR when interrupted (semop is never
  // restarted), EIDRM when the set goes meanwhile.
  ErrnoOrOk SemOp(const Credentials& c, int id, const std::vector<SemBuf>& sops,
                  const SemUndoList* undo, int32_t pid, waiter::Waker& waker,
                  const timespec* deadline);
  ErrnoOr<SemStat> SemStatOf(const Credentials& c, int id, bool by_index, bool check_read);
  ErrnoOrOk SemSet(const Credentials& c, int id, uint32_t uid, uint32_t gid, uint32_t mode);
  ErrnoOrOk SemRemove(const Credentials& c, int id);
  // GETVAL, GETPID, GETNCNT, GETZCNT.
  enum class SemField { kVal, kPid, kNcnt, kZcnt };
  ErrnoOr<int> SemGetOne(const Credentials& c, int id, int semnum, SemField f);
  // GETALL.
  ErrnoOr<std::vector<uint16_t>> SemGetAll(const Credentials& c, int id);
  // SETALL in two steps, as Linux checks: the set's size after the write
  // permission check, then (the values copied in) the update. ERANGE.
  ErrnoOr<int> SemNsemsForSetAll(const Credentials& c, int id);
  ErrnoOrOk SemSetAll(const Credentials& c, int id, const std::vector<uint16_t>& vals, int32_t pid);
  // SETVAL (ERANGE is the caller's check, made first).
  ErrnoOrOk SemSetVal(const Credentials& c, int id, int semnum, int val, int32_t pid);
  int SemMaxIndex() const;
  struct SemTotals {
    int sets = 0;
    uint64_t sems = 0;
  };
  SemTotals SemInfo() const;
  std::vector<SemStat> SemAll() const;  // /proc/sysvipc/sem
  // exit_sem: applies and forgets `u`'s adjustments.
  void SemUndoExit(const SemUndoList* u, int32_t pid) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Message queues (msg.cc) ---

  struct Message {
    int64_t type = 0;
    std::string text;
  };
  // msgget(2).
  ErrnoOr<int> MsgGet(const Credentials& c, int32_t key, int flags);
  // msgsnd(2): queues `m`, sleeping on `waker` while the queue is full
  // (unless IPC_NOWAIT: EAGAIN). kERESTARTNOHAND when interrupted, EIDRM.
  ErrnoOrOk MsgSend(const Credentials& c, int id, Message m, int flags, int32_t pid,
                    waiter::Waker& waker);
  // msgrcv(2) after the caller's argument checks: the message (whole: the
  // caller truncates it to `bufsz` under MSG_NOERROR), E2BIG, ENOMSG,
  // kERESTARTNOHAND, EIDRM. MSG_COPY: `msgtyp` is the message's position.
  ErrnoOr<Message> MsgReceive(const Credentials& c, int id, uint64_t bufsz, int64_t msgtyp,
                              int flags, int32_t pid, waiter::Waker& waker);
  ErrnoOr<MsgStat> MsgStatOf(const Credentials& c, int id, bool by_index, bool check_read);
  ErrnoOrOk MsgSet(const Credentials& c, int id, uint32_t uid, uint32_t gid, uint32_t mode,
                   uint64_t qbytes);
  ErrnoOrOk MsgRemove(const Credentials& c, int id);
  int MsgMaxIndex() const;
  struct MsgTotals {
    int queues = 0;
    uint64_t messages = 0;
    uint64_t bytes = 0;
  };
  MsgTotals MsgInfo() const;
  std::vector<MsgStat> MsgAll() const;  // /proc/sysvipc/msg

 private:
  friend class ShmMapping;
  ErrnoOr<std::shared_ptr<ShmSegment>> NewSegment(const Credentials& c, int32_t key, uint64_t size,
                                                  int flags, int32_t pid, int32_t tid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DestroyShmLocked(ShmSegment& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ShmDestroyOrphansLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ShmStat StatLocked(const ShmSegment& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MappingGone(ShmSegment* s) ABSL_LOCKS_EXCLUDED(mu_);
  ShmSegment* SegmentOfLocked(const memory::Mappable* m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void SemUpdateLocked(SemArray& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SemStat SemStatLocked(const SemArray& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrnoOr<std::shared_ptr<SemArray>> SemForCtl(const Credentials& c, int id, int acc) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  MsgStat MsgStatLocked(const MsgQueue& q) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MsgWakeSendersLocked(MsgQueue& q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  memory::MemoryFile& mf_;
  uint32_t inode_ = 0xEFFFFFFFu;  // PROC_IPC_INIT_INO
  std::shared_ptr<fsimpl::mqueue::MqueueNamespace> mqueue_;
  mutable absl::Mutex mu_;
  ShmLimits shm_limits_ ABSL_GUARDED_BY(mu_);
  SemLimits sem_limits_ ABSL_GUARDED_BY(mu_);
  MsgLimits msg_limits_ ABSL_GUARDED_BY(mu_);
  Registry<ShmSegment> shm_ ABSL_GUARDED_BY(mu_);
  uint64_t shm_tot_ ABSL_GUARDED_BY(mu_) = 0;  // pages
  Registry<SemArray> sem_ ABSL_GUARDED_BY(mu_);
  uint64_t sem_used_ ABSL_GUARDED_BY(mu_) = 0;  // semaphores in all sets
  Registry<MsgQueue> msg_ ABSL_GUARDED_BY(mu_);
  uint64_t msg_hdrs_ ABSL_GUARDED_BY(mu_) = 0;   // messages in all queues
  uint64_t msg_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // their bytes
};

}  // namespace sentry::kernel::ipc

#endif  // SENTRY_KERNEL_IPC_IPC_H_
