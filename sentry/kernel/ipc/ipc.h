// System V IPC (Linux's ipc/): the IPC namespace and its shared memory
// segments. See README.md for the design and the lock order.
#ifndef SENTRY_KERNEL_IPC_IPC_H_
#define SENTRY_KERNEL_IPC_IPC_H_

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

inline constexpr int kIpcMni = 32768;  // IPCMNI: ids are seq * IPCMNI + index

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

struct ShmSegment;
class IpcNamespace;

// One attachment object per segment, shared by every VMA that maps it
// (Linux counts shm_nattch by VMA): its use count is the attach count.
class ShmMapping;

class IpcNamespace : public std::enable_shared_from_this<IpcNamespace> {
 public:
  explicit IpcNamespace(memory::MemoryFile& mf);
  ~IpcNamespace();
  // Its identity (/proc/<pid>/ns/ipc, setns): set once, before it is shared
  // (Kernel::NewIpcNamespace); the initial namespace's is Linux's.
  uint32_t inode() const { return inode_; }
  void set_inode(uint32_t ino) { inode_ = ino; }

  // --- shm limits (the kernel.shm* sysctls) ---
  struct ShmLimits {
    uint64_t shmmax = ~uint64_t{0} - (uint64_t{1} << 24);  // SHMMAX
    uint64_t shmall = ~uint64_t{0} - (uint64_t{1} << 24);  // SHMALL (pages)
    uint64_t shmmni = 4096;                                // SHMMNI
  };
  ShmLimits shm_limits() const;
  void set_shm_limits(const ShmLimits& l);

  // shmget(2).
  ErrnoOr<int> ShmGet(const Credentials& c, int32_t key, uint64_t size, int flags, int32_t pid);
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

 private:
  friend class ShmMapping;
  ErrnoOr<int> NewSegment(const Credentials& c, int32_t key, uint64_t size, int flags, int32_t pid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrnoOr<std::shared_ptr<ShmSegment>> FindShmLocked(int id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DestroyShmLocked(const std::shared_ptr<ShmSegment>& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ShmStat StatLocked(const ShmSegment& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MappingGone(ShmSegment* s) ABSL_LOCKS_EXCLUDED(mu_);
  ShmSegment* SegmentOfLocked(const memory::Mappable* m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  memory::MemoryFile& mf_;
  uint32_t inode_ = 0xEFFFFFFFu;  // PROC_IPC_INIT_INO
  mutable absl::Mutex mu_;
  ShmLimits shm_limits_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<ShmSegment>> shm_ ABSL_GUARDED_BY(mu_);  // by index
  uint64_t shm_tot_ ABSL_GUARDED_BY(mu_) = 0;                            // pages
  int shm_next_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t shm_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::kernel::ipc

#endif  // SENTRY_KERNEL_IPC_IPC_H_
