// System V shared memory (Linux's ipc/shm.c) and the namespace's registry.
#include <linux/capability.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <ctime>

#include "sentry/base/status_macros.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/mm/mm.h"

namespace sentry::kernel::ipc {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint32_t kShmDest = 01000;    // SHM_DEST
constexpr uint32_t kShmLocked = 02000;  // SHM_LOCKED
int64_t Now() { return ::time(nullptr); }
}  // namespace

struct ShmSegment {
  int index = 0;
  Perm perm;
  uint64_t size = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  int32_t cpid = 0, lpid = 0;
  bool deleted = false;  // gone from the registry (ipc_valid_object)
  std::shared_ptr<memory::Mappable> memory;
  std::weak_ptr<ShmMapping> mapping;              // while attached anywhere
  const memory::Mappable* mapping_raw = nullptr;  // its address, for comparisons
  int id() const { return static_cast<int>(perm.seq) * kIpcMni + index; }
};

class ShmMapping : public memory::Mappable {
 public:
  ShmMapping(std::weak_ptr<IpcNamespace> ns, std::shared_ptr<ShmSegment> seg)
      : ns_(std::move(ns)), seg_(std::move(seg)) {}
  ~ShmMapping() override {
    // The last VMA mapping the segment is gone (shm_close).
    if (auto ns = ns_.lock()) ns->MappingGone(seg_.get());
  }
  uint64_t Size() const override { return seg_->memory->Size(); }
  ErrnoOrOk Get(uint64_t start, uint64_t end, bool writable,
                std::vector<std::pair<uint64_t, memory::FileRange>>* out) override {
    return seg_->memory->Get(start, end, writable, out);
  }
  bool Has(uint64_t offset) const override { return seg_->memory->Has(offset); }
  ErrnoOrOk Zero(uint64_t start, uint64_t end) override { return seg_->memory->Zero(start, end); }
  ShmSegment* segment() const { return seg_.get(); }

 private:
  const std::weak_ptr<IpcNamespace> ns_;
  const std::shared_ptr<ShmSegment> seg_;
};

bool MayAccess(const Credentials& c, const Perm& p, int flag) {
  const int requested = ((flag >> 6) | (flag >> 3) | flag) & 07;
  int granted = static_cast<int>(p.mode);
  if (c.euid == p.cuid || c.euid == p.uid) {
    granted >>= 6;
  } else if (c.InGroup(p.cgid) || c.InGroup(p.gid)) {
    granted >>= 3;
  }
  return (requested & ~granted & 07) == 0 || c.HasCapability(CAP_IPC_OWNER);
}

bool MayControl(const Credentials& c, const Perm& p) {
  return c.euid == p.cuid || c.euid == p.uid || c.HasCapability(CAP_SYS_ADMIN);
}

IpcNamespace::IpcNamespace(memory::MemoryFile& mf) : mf_(mf) {}
IpcNamespace::~IpcNamespace() = default;

IpcNamespace::ShmLimits IpcNamespace::shm_limits() const {
  absl::MutexLock l(&mu_);
  return shm_limits_;
}

void IpcNamespace::set_shm_limits(const ShmLimits& lim) {
  absl::MutexLock l(&mu_);
  shm_limits_ = lim;
}

ErrnoOr<int> IpcNamespace::NewSegment(const Credentials& c, int32_t key, uint64_t size, int flags,
                                      int32_t pid) {
  if (size < 1 || size > shm_limits_.shmmax) return Errno(EINVAL);
  const uint64_t pages = (size + kPage - 1) / kPage;
  if (pages < size / kPage) return Errno(ENOSPC);
  if (shm_tot_ + pages < shm_tot_ || shm_tot_ + pages > shm_limits_.shmall) return Errno(ENOSPC);
  if (shm_.size() >= std::min<uint64_t>(shm_limits_.shmmni, kIpcMni)) return Errno(ENOSPC);
  // The next free index after the last one given (idr_alloc_cyclic).
  const int mni = static_cast<int>(std::min<uint64_t>(shm_limits_.shmmni, kIpcMni));
  int index = -1;
  for (int i = 0; i < mni; ++i) {
    const int cand = (shm_next_ + i) % mni;
    if (!shm_.contains(cand)) {
      index = cand;
      break;
    }
  }
  if (index < 0) return Errno(ENOSPC);
  if (index < shm_next_) ++shm_seq_;
  shm_next_ = index + 1;
  auto s = std::make_shared<ShmSegment>();
  s->index = index;
  s->perm.key = key;
  s->perm.uid = s->perm.cuid = c.euid;
  s->perm.gid = s->perm.cgid = c.egid;
  s->perm.mode = flags & 0777;
  s->perm.seq = shm_seq_ & 0xffff;
  s->size = size;
  s->ctime = Now();
  s->cpid = pid;
  s->memory = mm::NewSharedMemory(mf_, size);
  shm_[index] = s;
  shm_tot_ += pages;
  return s->id();
}

ErrnoOr<int> IpcNamespace::ShmGet(const Credentials& c, int32_t key, uint64_t size, int flags,
                                  int32_t pid) {
  absl::MutexLock l(&mu_);
  if (key == IPC_PRIVATE) return NewSegment(c, key, size, flags, pid);
  std::shared_ptr<ShmSegment> found;
  for (auto& [i, s] : shm_) {
    if (s->perm.key == key) {
      found = s;
      break;
    }
  }
  if (!found) {
    if (!(flags & IPC_CREAT)) return Errno(ENOENT);
    return NewSegment(c, key, size, flags, pid);
  }
  if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) return Errno(EEXIST);
  if (found->size < size) return Errno(EINVAL);
  if (!MayAccess(c, found->perm, flags)) return Errno(EACCES);
  return found->id();
}

ErrnoOr<std::shared_ptr<ShmSegment>> IpcNamespace::FindShmLocked(int id) const {
  if (id < 0) return Errno(EINVAL);
  auto it = shm_.find(id % kIpcMni);
  if (it == shm_.end() || it->second->id() != id) return Errno(EINVAL);
  return it->second;
}

ErrnoOr<IpcNamespace::Attach> IpcNamespace::ShmAttach(const Credentials& c, int id, int acc) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, FindShmLocked(id));
  if (!MayAccess(c, s->perm, acc)) return Errno(EACCES);
  if (s->deleted) return Errno(EIDRM);
  std::shared_ptr<ShmMapping> m = s->mapping.lock();
  if (!m) {
    m = std::make_shared<ShmMapping>(weak_from_this(), s);
    s->mapping = m;
    s->mapping_raw = m.get();
  }
  return Attach{m, s->size, s->perm.key};
}

ShmSegment* IpcNamespace::SegmentOfLocked(const memory::Mappable* m) const {
  for (auto& [i, s] : shm_) {
    // Compared by address: locking the weak pointer here could make us the
    // last holder, and its destructor takes mu_.
    if (s->mapping_raw == m && !s->mapping.expired()) return s.get();
  }
  return nullptr;
}

void IpcNamespace::ShmAttached(const memory::Mappable* mapping, int32_t pid, bool attach) {
  absl::MutexLock l(&mu_);
  ShmSegment* s = SegmentOfLocked(mapping);
  if (s == nullptr) return;
  (attach ? s->atime : s->dtime) = Now();
  s->lpid = pid;
}

std::optional<uint64_t> IpcNamespace::ShmSizeOf(const memory::Mappable* m) const {
  absl::MutexLock l(&mu_);
  ShmSegment* s = SegmentOfLocked(m);
  if (s == nullptr) return std::nullopt;
  return s->size;
}

void IpcNamespace::MappingGone(ShmSegment* s) {
  absl::MutexLock l(&mu_);
  s->dtime = Now();
  if (!(s->perm.mode & kShmDest) || s->deleted || !s->mapping.expired()) return;
  auto it = shm_.find(s->index);
  if (it != shm_.end() && it->second.get() == s) DestroyShmLocked(it->second);
}

void IpcNamespace::DestroyShmLocked(const std::shared_ptr<ShmSegment>& s) {
  s->deleted = true;
  shm_tot_ -= (s->size + kPage - 1) / kPage;
  shm_.erase(s->index);
}

ShmStat IpcNamespace::StatLocked(const ShmSegment& s) const {
  ShmStat st;
  st.id = s.id();
  st.perm = s.perm;
  st.size = s.size;
  st.atime = s.atime;
  st.dtime = s.dtime;
  st.ctime = s.ctime;
  st.cpid = s.cpid;
  st.lpid = s.lpid;
  st.nattch = static_cast<uint64_t>(s.mapping.use_count());
  for (uint64_t off = 0; off < s.size; off += kPage) st.rss_pages += s.memory->Has(off);
  return st;
}

ErrnoOr<ShmStat> IpcNamespace::ShmStatOf(const Credentials& c, int id, bool by_index,
                                         bool check_read) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<ShmSegment> s;
  if (by_index) {
    auto it = shm_.find(id);
    if (id < 0 || it == shm_.end()) return Errno(EINVAL);
    s = it->second;
  } else {
    ASSIGN_OR_RETURN(s, FindShmLocked(id));
  }
  if (check_read && !MayAccess(c, s->perm, (S_IRUSR | S_IRGRP | S_IROTH))) return Errno(EACCES);
  return StatLocked(*s);
}

ErrnoOrOk IpcNamespace::ShmSet(const Credentials& c, int id, uint32_t uid, uint32_t gid,
                               uint32_t mode) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, FindShmLocked(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  s->perm.uid = uid;
  s->perm.gid = gid;
  s->perm.mode = (s->perm.mode & ~0777u) | (mode & 0777);
  s->ctime = Now();
  return Ok();
}

ErrnoOrOk IpcNamespace::ShmRemove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, FindShmLocked(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  // do_shm_rmid: gone now if nobody has it attached, else at the last detach;
  // meanwhile its key is IPC_PRIVATE so shmget no longer finds it.
  if (s->mapping.expired()) {
    DestroyShmLocked(s);
  } else {
    s->perm.mode |= kShmDest;
    s->perm.key = IPC_PRIVATE;
  }
  return Ok();
}

ErrnoOrOk IpcNamespace::ShmLock(const Credentials& c, int id, bool lock, bool memlock_nonzero) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, FindShmLocked(id));
  if (!c.HasCapability(CAP_IPC_LOCK)) {
    if (c.euid != s->perm.uid && c.euid != s->perm.cuid) return Errno(EPERM);
    if (lock && !memlock_nonzero) return Errno(EPERM);
  }
  if (lock) {
    s->perm.mode |= kShmLocked;
  } else {
    s->perm.mode &= ~kShmLocked;
  }
  return Ok();
}

int IpcNamespace::ShmMaxIndex() const {
  absl::MutexLock l(&mu_);
  return shm_.empty() ? -1 : shm_.rbegin()->first;
}

IpcNamespace::ShmTotals IpcNamespace::ShmInfo() const {
  absl::MutexLock l(&mu_);
  ShmTotals t;
  t.used_ids = static_cast<int>(shm_.size());
  t.shm_tot = shm_tot_;
  for (auto& [i, s] : shm_) {
    for (uint64_t off = 0; off < s->size; off += kPage) t.shm_rss += s->memory->Has(off);
  }
  return t;
}

std::vector<ShmStat> IpcNamespace::ShmAll() const {
  absl::MutexLock l(&mu_);
  std::vector<ShmStat> out;
  for (auto& [i, s] : shm_) out.push_back(StatLocked(*s));
  return out;
}

}  // namespace sentry::kernel::ipc
