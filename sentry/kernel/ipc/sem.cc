// System V semaphores (Linux's ipc/sem.c).
#include <sys/ipc.h>
#include <sys/sem.h>

#include <list>

#include "sentry/base/status_macros.h"
#include "sentry/kernel/ipc/ipc.h"

namespace sentry::kernel::ipc {

namespace {

// A semop waiting for its operations to become possible (Linux's
// sem_queue). Lives on the sleeping thread's stack; while queued, the
// namespace's lock guards it. Whoever completes it (or removes the set)
// takes it off the set's queue and sets `status`.
struct SemWaiter {
  const std::vector<SemBuf>* sops = nullptr;
  const SemUndoList* undo = nullptr;
  int32_t pid = 0;
  bool alter = false;
  waiter::Waker* waker = nullptr;
  // The operation that blocked it last (GETNCNT / GETZCNT count by it).
  int blocking = 0;
  std::optional<int> status;  // 0, or an errno
};

struct Sem {
  int val = 0;
  int32_t pid = 0;
};

constexpr int kWouldBlock = -1;

}  // namespace

struct SemArray : IpcObject {
  int64_t otime = 0;
  std::vector<Sem> sems;
  std::list<SemWaiter*> pending;  // in arrival order
  // Each undo list's adjustments (semadj) for this set.
  std::map<const SemUndoList*, std::vector<int>> undo;
};

namespace {

// perform_atomic_semop(_slow): applies every operation in order or none.
// Returns 0, kWouldBlock (setting w.blocking), or an errno (ERANGE, EAGAIN
// for an IPC_NOWAIT operation that would block).
int TryOps(SemArray& s, SemWaiter& w) {
  std::vector<Sem> vals = s.sems;
  std::vector<int>* adj = nullptr;
  std::vector<int> new_adj;
  if (w.undo != nullptr) {
    auto it = s.undo.find(w.undo);
    new_adj = it != s.undo.end() ? it->second : std::vector<int>(s.sems.size(), 0);
  }
  const std::vector<SemBuf>& sops = *w.sops;
  for (size_t i = 0; i < sops.size(); ++i) {
    const SemBuf& op = sops[i];
    int& val = vals[op.num].val;
    if ((op.op == 0 && val != 0) || val + op.op < 0) {
      w.blocking = static_cast<int>(i);
      return (op.flg & IPC_NOWAIT) ? EAGAIN : kWouldBlock;
    }
    if (val + op.op > kSemVmx) return ERANGE;
    if (op.flg & SEM_UNDO) {
      const int undo = new_adj[op.num] - op.op;
      if (undo < -kSemVmx - 1 || undo > kSemVmx) return ERANGE;
      new_adj[op.num] = undo;
      adj = &new_adj;
    }
    val += op.op;
    vals[op.num].pid = w.pid;
  }
  s.sems = std::move(vals);
  if (adj != nullptr) s.undo[w.undo] = std::move(new_adj);
  s.otime = NowSeconds();
  return 0;
}

bool Alters(const std::vector<SemBuf>& sops) {
  for (const SemBuf& op : sops) {
    if (op.op != 0) return true;
  }
  return false;
}

}  // namespace

SemUndoList::~SemUndoList() {
  if (auto ns = ns_.lock()) ns->SemUndoExit(this, exit_pid_.load(std::memory_order_relaxed));
}

ErrnoOr<int> IpcNamespace::SemGet(const Credentials& c, int32_t key, int nsems, int flags) {
  absl::MutexLock l(&mu_);
  if (nsems < 0 || nsems > sem_limits_.semmsl) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto found, IpcLookup(sem_, c, key, flags, [&](const SemArray& s) {
                     return static_cast<size_t>(nsems) > s.sems.size() ? ErrnoOrOk(Errno(EINVAL))
                                                                       : Ok();
                   }));
  if (found) return *found;
  // newary.
  if (nsems == 0) return Errno(EINVAL);
  if (sem_used_ + nsems > static_cast<uint64_t>(std::max(sem_limits_.semmns, 0))) {
    return Errno(ENOSPC);
  }
  ASSIGN_OR_RETURN(auto s, sem_.Add(c, key, flags, std::max(sem_limits_.semmni, 0)));
  s->sems.resize(nsems);
  sem_used_ += nsems;
  return s->id();
}

// update_queue / do_smart_update: the waiters whose operations now succeed
// (or fail) are completed, wait-for-zero ones first, then the others in
// arrival order, starting over after each one that changed a value.
void IpcNamespace::SemUpdateLocked(SemArray& s) {
  for (bool again = true; again;) {
    again = false;
    for (bool alter : {false, true}) {
      for (auto it = s.pending.begin(); it != s.pending.end();) {
        SemWaiter* w = *it;
        if (w->alter != alter) {
          ++it;
          continue;
        }
        const int r = TryOps(s, *w);
        if (r == kWouldBlock) {
          ++it;
          continue;
        }
        it = s.pending.erase(it);
        w->status = r;
        w->waker->Wake();
        if (r == 0 && alter) {
          again = true;
          break;
        }
      }
      if (again) break;
    }
  }
}

ErrnoOrOk IpcNamespace::SemOp(const Credentials& c, int id, const std::vector<SemBuf>& sops,
                              const SemUndoList* undo, int32_t pid, waiter::Waker& waker,
                              const timespec* deadline) {
  SemWaiter w;
  w.sops = &sops;
  w.pid = pid;
  w.alter = Alters(sops);
  w.waker = &waker;
  int max = 0;
  bool undos = false;
  for (const SemBuf& op : sops) {
    max = std::max<int>(max, op.num);
    undos |= (op.flg & SEM_UNDO) != 0;
  }
  if (undos) w.undo = undo;
  std::shared_ptr<SemArray> s;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(s, sem_.Find(id));
    if (static_cast<size_t>(max) >= s->sems.size()) return Errno(EFBIG);
    if (!MayAccess(c, s->perm, w.alter ? kWriteAccess : kReadAccess)) return Errno(EACCES);
    const int r = TryOps(*s, w);
    if (r == 0) {
      if (w.alter) SemUpdateLocked(*s);
      return Ok();
    }
    if (r != kWouldBlock) return Errno(r);
    s->pending.push_back(&w);
  }
  for (;;) {
    ErrnoOrOk b = waker.Block(CLOCK_MONOTONIC, deadline);
    absl::MutexLock l(&mu_);
    if (w.status) {
      if (*w.status != 0) return Errno(*w.status);
      return Ok();
    }
    if (!b.ok()) {
      s->pending.remove(&w);
      return Errno(b.error().value() == ETIMEDOUT ? EAGAIN : EINTR);
    }
  }
}

ErrnoOr<std::shared_ptr<SemArray>> IpcNamespace::SemForCtl(const Credentials& c, int id,
                                                           int acc) const {
  ASSIGN_OR_RETURN(auto s, sem_.Find(id));
  if (!MayAccess(c, s->perm, acc)) return Errno(EACCES);
  return s;
}

SemStat IpcNamespace::SemStatLocked(const SemArray& s) const {
  SemStat st;
  st.id = s.id();
  st.perm = s.perm;
  st.otime = s.otime;
  st.ctime = s.ctime;
  st.nsems = s.sems.size();
  return st;
}

ErrnoOr<SemStat> IpcNamespace::SemStatOf(const Credentials& c, int id, bool by_index,
                                         bool check_read) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, StatLookup(sem_, c, id, by_index, check_read));
  return SemStatLocked(*s);
}

ErrnoOrOk IpcNamespace::SemSet(const Credentials& c, int id, uint32_t uid, uint32_t gid,
                               uint32_t mode) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, sem_.Find(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  return UpdatePerm(*s, uid, gid, mode);
}

ErrnoOrOk IpcNamespace::SemRemove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, sem_.Find(id));
  if (!MayControl(c, s->perm)) return Errno(EPERM);
  // freeary: every waiter wakes with EIDRM; the adjustments are forgotten.
  for (SemWaiter* w : s->pending) {
    w->status = EIDRM;
    w->waker->Wake();
  }
  s->pending.clear();
  s->undo.clear();
  sem_used_ -= s->sems.size();
  sem_.Remove(*s);
  return Ok();
}

ErrnoOr<int> IpcNamespace::SemGetOne(const Credentials& c, int id, int semnum, SemField f) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, SemForCtl(c, id, kReadAccess));
  if (semnum < 0 || static_cast<size_t>(semnum) >= s->sems.size()) return Errno(EINVAL);
  switch (f) {
    case SemField::kVal:
      return s->sems[semnum].val;
    case SemField::kPid:
      return s->sems[semnum].pid;
    case SemField::kNcnt:
    case SemField::kZcnt: {
      // count_semcnt: the waiters blocked by an operation on `semnum` that
      // decrements it (GETNCNT) or waits for zero (GETZCNT).
      int n = 0;
      for (const SemWaiter* w : s->pending) {
        const SemBuf& op = (*w->sops)[w->blocking];
        if (op.num != semnum) continue;
        if (f == SemField::kZcnt ? op.op == 0 : op.op < 0) ++n;
      }
      return n;
    }
  }
  return Errno(EINVAL);
}

ErrnoOr<std::vector<uint16_t>> IpcNamespace::SemGetAll(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, SemForCtl(c, id, kReadAccess));
  std::vector<uint16_t> out;
  out.reserve(s->sems.size());
  for (const Sem& sem : s->sems) out.push_back(static_cast<uint16_t>(sem.val));
  return out;
}

ErrnoOr<int> IpcNamespace::SemNsemsForSetAll(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, SemForCtl(c, id, kWriteAccess));
  return static_cast<int>(s->sems.size());
}

ErrnoOrOk IpcNamespace::SemSetAll(const Credentials& c, int id, const std::vector<uint16_t>& vals,
                                  int32_t pid) {
  for (uint16_t v : vals) {
    if (v > kSemVmx) return Errno(ERANGE);
  }
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, SemForCtl(c, id, kWriteAccess));
  if (vals.size() != s->sems.size()) return Errno(EIDRM);  // not the set we measured
  for (auto& [u, adj] : s->undo) std::fill(adj.begin(), adj.end(), 0);
  for (size_t i = 0; i < vals.size(); ++i) s->sems[i] = Sem{vals[i], pid};
  s->ctime = NowSeconds();
  SemUpdateLocked(*s);
  return Ok();
}

ErrnoOrOk IpcNamespace::SemSetVal(const Credentials& c, int id, int semnum, int val, int32_t pid) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto s, sem_.Find(id));
  if (semnum < 0 || static_cast<size_t>(semnum) >= s->sems.size()) return Errno(EINVAL);
  if (!MayAccess(c, s->perm, kWriteAccess)) return Errno(EACCES);
  for (auto& [u, adj] : s->undo) adj[semnum] = 0;
  s->sems[semnum] = Sem{val, pid};
  s->ctime = NowSeconds();
  SemUpdateLocked(*s);
  return Ok();
}

int IpcNamespace::SemMaxIndex() const {
  absl::MutexLock l(&mu_);
  return sem_.MaxIndex();
}

IpcNamespace::SemTotals IpcNamespace::SemInfo() const {
  absl::MutexLock l(&mu_);
  return SemTotals{sem_.size(), sem_used_};
}

std::vector<SemStat> IpcNamespace::SemAll() const {
  absl::MutexLock l(&mu_);
  std::vector<SemStat> out;
  for (auto& [i, s] : sem_.items()) out.push_back(SemStatLocked(*s));
  return out;
}

void IpcNamespace::SemUndoExit(const SemUndoList* u, int32_t pid) {
  absl::MutexLock l(&mu_);
  for (auto& [i, s] : sem_.items()) {
    auto it = s->undo.find(u);
    if (it == s->undo.end()) continue;
    for (size_t n = 0; n < s->sems.size(); ++n) {
      if (it->second[n] == 0) continue;
      Sem& sem = s->sems[n];
      sem.val = std::clamp(sem.val + it->second[n], 0, kSemVmx);
      sem.pid = pid;
    }
    s->undo.erase(it);
    SemUpdateLocked(*s);
  }
}

}  // namespace sentry::kernel::ipc
