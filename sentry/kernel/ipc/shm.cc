// System V shared memory (Linux's ipc/shm.c).
#include <linux/capability.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "sentry/base/status_macros.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/mm/mm.h"

namespace sentry::kernel::ipc {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint32_t kShmDest = 01000;    // SHM_DEST
constexpr uint32_t kShmLocked = 02000;  // SHM_LOCKED
}  // namespace

struct ShmSegment : IpcObject {
  uint64_t size = 0;
  int64_t atime = 0, dtime = 0;
  int32_t cpid = 0, lpid = 0;
  int32_t creator = 0;  // the creating thread until it exits (shm_creator)
  std::shared_ptr<memory::Mappable> memory;
  std::weak_ptr<ShmMapping> mapping;              // while attached anywhere
  const memory::Mappable* mapping_raw = nullptr;  // its address, for comparisons
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

ErrnoOr<std::shared_ptr<ShmSegment>> IpcNamespace::NewSegment(const Credentials& c, int32_t key,
                                                              uint64_t size, int flags, int32_t pid,
                                                              int32_t tid) {
  if (size < 1 || size > shm_limits_.shmmax) return Errno(EINVAL);
  const uint64_t pages = (size + kPage - 1) / kPage;
  if (pages < size / kPage) return Errno(ENOSPC);
  if (shm_tot_ + pages < shm_tot_ || shm_tot_ + pages > shm_limits_.shmall) return Errno(ENOSPC);
  ASSIGN_OR_RETURN(auto s, shm_.Add(c, key, flags, shm_limits_.shmmni));
  s->size = size;
  s->cpid = pid;
  s->creator = tid;
  s->memory = mm::NewSharedMemory(mf_, size);
  shm_tot_ += pages;
  return s;
}

ErrnoOr<int> IpcNamespace::ShmGet(const Credentials& c, int32_t key, uint64_t size, int flags,
                                  int32_t pid, int32_t tid) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto found, IpcLookup(shm_, c, key, flags, [&](const ShmSegment& s) {
                     return s.size < size ? ErrnoOrOk(Errno(EINVAL)) : Ok();
                   }));
  if (found) return *found;
  ASSIGN_OR_RETURN(auto s, NewSegment(c, key, size, flags, pid, tid));
  return s->id();
}

ErrnoOr<IpcNamespace::Attach> IpcNamespace::ShmAttach(const Credentials& c, int id, int acc) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, shm_.Find(id));
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
  for (auto& [i, s] : shm_.items()) {
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
  (attach ? s->atime : s->dtime) = NowSeconds();
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
  s->dtime = NowSeconds();
  // shm_may_destroy: the last detach destroys a segment marked SHM_DEST, or
  // any segment while shm_rmid_forced is set.
  if (!((s->perm.mode & kShmDest) || shm_limits_.rmid_forced) || s->deleted ||
      !s->mapping.expired()) {
    return;
  }
  DestroyShmLocked(*s);
}

void IpcNamespace::DestroyShmLocked(ShmSegment& s) {
  shm_tot_ -= (s.size + kPage - 1) / kPage;
  shm_.Remove(s);
}

void IpcNamespace::ShmTaskExit(int32_t tid) {
  absl::MutexLock l(&mu_);
  std::vector<ShmSegment*> doomed;
  for (auto& [i, s] : shm_.items()) {
    if (s->creator != tid) continue;
    s->creator = 0;
    if (shm_limits_.rmid_forced && s->mapping.expired()) doomed.push_back(s.get());
  }
  for (ShmSegment* s : doomed) DestroyShmLocked(*s);
}

void IpcNamespace::ShmDestroyOrphansLocked() {
  std::vector<ShmSegment*> doomed;
  for (auto& [i, s] : shm_.items()) {
    if (s->creator == 0 && s->mapping.expired()) doomed.push_back(s.get());
  }
  for (ShmSegment* s : doomed) DestroyShmLocked(*s);
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
  ASSIGN_OR_RETURN(auto s, StatLookup(shm_, c, id, by_index, check_read));
  return StatLocked(*s);
}

ErrnoOrOk IpcNamespace::ShmSet(const Credentials& c, int id, uint32_t uid, uint32_t gid,
                               uint32_t mode) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, shm_.Find(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  return UpdatePerm(*s, uid, gid, mode);
}

ErrnoOrOk IpcNamespace::ShmRemove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, shm_.Find(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  // do_shm_rmid: gone now if nobody has it attached, else at the last detach;
  // meanwhile its key is IPC_PRIVATE so shmget no longer finds it.
  if (s->mapping.expired()) {
    DestroyShmLocked(*s);
  } else {
    s->perm.mode |= kShmDest;
    s->perm.key = IPC_PRIVATE;
  }
  return Ok();
}

ErrnoOrOk IpcNamespace::ShmLock(const Credentials& c, int id, bool lock, bool memlock_nonzero) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, shm_.Find(id));
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
  return shm_.MaxIndex();
}

IpcNamespace::ShmTotals IpcNamespace::ShmInfo() const {
  absl::MutexLock l(&mu_);
  ShmTotals t;
  t.used_ids = shm_.size();
  t.shm_tot = shm_tot_;
  for (auto& [i, s] : shm_.items()) {
    for (uint64_t off = 0; off < s->size; off += kPage) t.shm_rss += s->memory->Has(off);
  }
  return t;
}

std::vector<ShmStat> IpcNamespace::ShmAll() const {
  absl::MutexLock l(&mu_);
  std::vector<ShmStat> out;
  for (auto& [i, s] : shm_.items()) out.push_back(StatLocked(*s));
  return out;
}

}  // namespace sentry::kernel::ipc
