// System V IPC syscalls: argument decoding and the UAPI structs here,
// semantics in sentry/kernel/ipc.
#include <linux/capability.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "absl/strings/str_format.h"
#include "sentry/kernel/ktime.h"
#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

// struct ipc64_perm (x86-64).
struct Ipc64Perm {
  int32_t key;
  uint32_t uid, gid, cuid, cgid;
  uint16_t mode, pad1;
  uint16_t seq, pad2;
  uint64_t unused1, unused2;
};
static_assert(sizeof(Ipc64Perm) == 48);

struct Shmid64Ds {
  Ipc64Perm perm;
  uint64_t segsz;
  int64_t atime, dtime, ctime;
  int32_t cpid, lpid;
  uint64_t nattch, unused4, unused5;
};
static_assert(sizeof(Shmid64Ds) == 112);

struct Shminfo64 {
  uint64_t shmmax, shmmin, shmmni, shmseg, shmall, unused[4];
};
static_assert(sizeof(Shminfo64) == 72);

struct ShmInfo {
  int32_t used_ids;
  uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};
static_assert(sizeof(ShmInfo) == 48);

// struct semid64_ds (x86-64).
struct Semid64Ds {
  Ipc64Perm perm;
  int64_t otime;
  uint64_t unused1;
  int64_t ctime;
  uint64_t unused2;
  uint64_t nsems, unused3, unused4;
};
static_assert(sizeof(Semid64Ds) == 104);

struct SemInfo {
  int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};
static_assert(sizeof(SemInfo) == 40);

// struct msqid64_ds (x86-64).
struct Msqid64Ds {
  Ipc64Perm perm;
  int64_t stime, rtime, ctime;
  uint64_t cbytes, qnum, qbytes;
  int32_t lspid, lrpid;
  uint64_t unused4, unused5;
};
static_assert(sizeof(Msqid64Ds) == 120);

struct MsgInfo {
  int32_t msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  uint16_t msgseg;
};
static_assert(sizeof(MsgInfo) == 32);

static_assert(sizeof(kernel::ipc::SemBuf) == 6);  // struct sembuf

constexpr int kShmStatAny = 15;  // SHM_STAT_ANY
constexpr int kSemStat = 18, kSemInfo = 19, kSemStatAny = 20;
constexpr int kMsgStat = 11, kMsgInfo = 12, kMsgStatAny = 13;
constexpr int kMsgCopy = 040000;  // MSG_COPY
constexpr int kShmExec = 0100000;

Ipc64Perm ToUser(const kernel::ipc::Perm& p) {
  Ipc64Perm u{};
  u.key = p.key;
  u.uid = p.uid;
  u.gid = p.gid;
  u.cuid = p.cuid;
  u.cgid = p.cgid;
  u.mode = static_cast<uint16_t>(p.mode);
  u.seq = static_cast<uint16_t>(p.seq);
  return u;
}

template <typename T>
ErrnoOrOk CopyOutStruct(Task& t, UserAddr to, const T& v) {
  if (!t.mm().CopyOut(to, {reinterpret_cast<const uint8_t*>(&v), sizeof(v)}).ok()) {
    return Errno(EFAULT);
  }
  return Ok();
}

template <typename T>
ErrnoOrOk CopyInStruct(Task& t, UserAddr from, T* v) {
  if (!t.mm().CopyIn(from, {reinterpret_cast<uint8_t*>(v), sizeof(*v)}).ok()) {
    return Errno(EFAULT);
  }
  return Ok();
}

// semop and semtimedop (do_semtimedop); `timeout` null: none.
SyscallResult DoSemop(Task& t, const SyscallArgs& a, UserAddr timeout) {
  const int id = a.Int(0);
  const uint32_t nsops = a.Uint(2);
  std::optional<timespec> deadline;
  if (!timeout.IsNull()) {
    timespec ts;
    if (!t.mm().CopyInObj(UserPtr<timespec>(timeout.value()), &ts).ok()) return Errno(EFAULT);
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kernel::kNsPerSec) {
      // Checked after the operations are read, as Linux does.
      deadline = timespec{-1, -1};
    } else {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      deadline = kernel::TimespecAdd(now, ts);
    }
  }
  if (nsops < 1 || id < 0) return Errno(EINVAL);
  if (nsops > static_cast<uint32_t>(std::max(t.ipc().sem_limits().semopm, 0))) return Errno(E2BIG);
  std::vector<kernel::ipc::SemBuf> sops(nsops);
  if (!t.mm()
           .CopyIn(a.Addr(1), {reinterpret_cast<uint8_t*>(sops.data()),
                               sops.size() * sizeof(kernel::ipc::SemBuf)})
           .ok()) {
    return Errno(EFAULT);
  }
  if (deadline && deadline->tv_sec < 0) return Errno(EINVAL);
  bool undo = false;
  for (const auto& op : sops) undo |= (op.flg & SEM_UNDO) != 0;
  RETURN_IF_ERROR(t.ipc().SemOp(t.creds(), id, sops, undo ? t.sem_undo() : nullptr, t.tgid(),
                                t.waker(), deadline ? &*deadline : nullptr));
  return 0;
}

}  // namespace

SyscallResult Shmget(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(2);
  if (flags & SHM_HUGETLB) {
    // Linux needs reserved huge pages (vm.nr_hugepages, 0 by default: ENOMEM).
    t.kernel().RecordGap("shmget(SHM_HUGETLB)");
    return Errno(ENOMEM);
  }
  ASSIGN_OR_RETURN(int id, t.ipc().ShmGet(t.creds(), a.Int(0), a[1], flags, t.tgid(), t.tid()));
  return id;
}

SyscallResult Shmat(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0);
  uint64_t addr = a[1];
  const int flags = a.Int(2);
  if (id < 0) return Errno(EINVAL);
  int map_flags = MAP_SHARED;
  if (addr != 0) {
    if (addr & (kPageSize - 1)) {
      if (!(flags & SHM_RND)) return Errno(EINVAL);
      addr &= ~(kPageSize - 1);  // SHMLBA is the page size on x86-64
      if (addr == 0 && (flags & SHM_REMAP)) return Errno(EINVAL);
    }
    map_flags |= MAP_FIXED;
  } else if (flags & SHM_REMAP) {
    return Errno(EINVAL);
  }
  int prot = PROT_READ, acc = 0444;
  if (!(flags & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    acc |= 0222;
  }
  if (flags & kShmExec) {
    prot |= PROT_EXEC;
    acc |= 0111;
  }
  ASSIGN_OR_RETURN(auto at, t.ipc().ShmAttach(t.creds(), id, acc));
  if (addr != 0 && !(flags & SHM_REMAP)) {
    // Without SHM_REMAP the range must be free.
    if (addr + at.size < addr) return Errno(EINVAL);
    for (const auto& v : t.mm().Vmas()) {
      if (v.start < addr + at.size && v.end > addr) return Errno(EINVAL);
    }
  }
  mm::MmapOpts o;
  o.addr = addr;
  o.length = at.size;
  o.prot = prot;
  o.flags = map_flags;
  o.file = at.mapping;
  o.file_readable = true;
  o.file_writable = !(flags & SHM_RDONLY);
  o.name = absl::StrFormat("/SYSV%08x (deleted)", static_cast<uint32_t>(at.key));
  o.dev = 1;  // 00:01, as Linux's shm mount shows
  o.ino = static_cast<uint32_t>(id);
  ASSIGN_OR_RETURN(uint64_t mapped, t.mm().Mmap(o));
  t.ipc().ShmAttached(at.mapping.get(), t.tgid(), true);
  return mapped;
}

SyscallResult Shmdt(Task& t, const SyscallArgs& a) {
  const uint64_t addr = a[0];
  if (addr & (kPageSize - 1)) return Errno(EINVAL);
  // Linux's shmdt: the first segment mapping at or after `addr` whose offset
  // 0 would be at `addr`, then every piece of it within the segment's size.
  auto vmas = t.mm().Vmas();
  const memory::Mappable* obj = nullptr;
  uint64_t end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& v : vmas) {
    if (v.end <= addr) continue;
    if (obj == nullptr) {
      if (v.object == nullptr || v.start - addr != v.offset) continue;
      auto size = t.ipc().ShmSizeOf(v.object);
      if (!size) continue;
      obj = v.object;
      end = addr + *size;
      ranges.emplace_back(v.start, v.end);
      continue;
    }
    if (v.start >= end) break;
    if (v.object == obj && v.start - addr == v.offset) ranges.emplace_back(v.start, v.end);
  }
  if (obj == nullptr) return Errno(EINVAL);
  t.ipc().ShmAttached(obj, t.tgid(), false);
  for (auto [s, e] : ranges) (void)t.mm().Munmap(s, e - s);
  return 0;
}

SyscallResult Shmctl(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0), cmd = a.Int(1);
  const UserAddr buf = a.Addr(2);
  if (cmd < 0 || id < 0) return Errno(EINVAL);
  kernel::ipc::IpcNamespace& ns = t.ipc();
  switch (cmd) {
    case IPC_INFO: {
      auto lim = ns.shm_limits();
      Shminfo64 i{};
      i.shmmax = lim.shmmax;
      i.shmmin = 1;
      i.shmmni = lim.shmmni;
      i.shmseg = 4096;  // SHMSEG
      i.shmall = lim.shmall;
      if (!t.mm().CopyOut(buf, {reinterpret_cast<const uint8_t*>(&i), sizeof(i)}).ok()) {
        return Errno(EFAULT);
      }
      return std::max(ns.ShmMaxIndex(), 0);
    }
    case SHM_INFO: {
      auto tot = ns.ShmInfo();
      ShmInfo i{};
      i.used_ids = tot.used_ids;
      i.shm_tot = tot.shm_tot;
      i.shm_rss = tot.shm_rss;
      if (!t.mm().CopyOut(buf, {reinterpret_cast<const uint8_t*>(&i), sizeof(i)}).ok()) {
        return Errno(EFAULT);
      }
      return std::max(ns.ShmMaxIndex(), 0);
    }
    case IPC_STAT:
    case SHM_STAT:
    case kShmStatAny: {
      ASSIGN_OR_RETURN(auto st, ns.ShmStatOf(t.creds(), id, cmd != IPC_STAT, cmd != kShmStatAny));
      Shmid64Ds d{};
      d.perm = ToUser(st.perm);
      d.segsz = st.size;
      d.atime = st.atime;
      d.dtime = st.dtime;
      d.ctime = st.ctime;
      d.cpid = st.cpid;
      d.lpid = st.lpid;
      d.nattch = st.nattch;
      if (!t.mm().CopyOut(buf, {reinterpret_cast<const uint8_t*>(&d), sizeof(d)}).ok()) {
        return Errno(EFAULT);
      }
      return cmd == IPC_STAT ? 0 : st.id;
    }
    case IPC_SET: {
      Shmid64Ds d;
      if (!t.mm().CopyIn(buf, {reinterpret_cast<uint8_t*>(&d), sizeof(d)}).ok()) {
        return Errno(EFAULT);
      }
      RETURN_IF_ERROR(ns.ShmSet(t.creds(), id, d.perm.uid, d.perm.gid, d.perm.mode));
      return 0;
    }
    case IPC_RMID:
      RETURN_IF_ERROR(ns.ShmRemove(t.creds(), id));
      return 0;
    case SHM_LOCK:
    case SHM_UNLOCK:
      RETURN_IF_ERROR(
          ns.ShmLock(t.creds(), id, cmd == SHM_LOCK, t.rlimit_of(RLIMIT_MEMLOCK).rlim_cur != 0));
      return 0;
    default:
      return Errno(EINVAL);
  }
}

// --- Semaphores ---

SyscallResult Semget(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(int id, t.ipc().SemGet(t.creds(), a.Int(0), a.Int(1), a.Int(2)));
  return id;
}

SyscallResult Semop(Task& t, const SyscallArgs& a) { return DoSemop(t, a, UserAddr(0)); }

SyscallResult Semtimedop(Task& t, const SyscallArgs& a) { return DoSemop(t, a, a.Addr(3)); }

SyscallResult Semctl(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0), semnum = a.Int(1), cmd = a.Int(2);
  const UserAddr arg = a.Addr(3);  // union semun: a pointer, or SETVAL's int
  if (id < 0) return Errno(EINVAL);
  kernel::ipc::IpcNamespace& ns = t.ipc();
  using Field = kernel::ipc::IpcNamespace::SemField;
  switch (cmd) {
    case IPC_INFO:
    case kSemInfo: {
      const auto lim = ns.sem_limits();
      SemInfo i{};
      i.semmni = lim.semmni;
      i.semmns = lim.semmns;
      i.semmsl = lim.semmsl;
      i.semopm = lim.semopm;
      i.semvmx = kernel::ipc::kSemVmx;
      i.semmnu = 1024000000;  // SEMMNU
      i.semmap = 1024000000;  // SEMMAP
      i.semume = 500;         // SEMUME
      if (cmd == kSemInfo) {
        const auto tot = ns.SemInfo();
        i.semusz = tot.sets;
        i.semaem = static_cast<int32_t>(tot.sems);
      } else {
        i.semusz = 20;  // SEMUSZ
        i.semaem = kernel::ipc::kSemVmx;
      }
      const int max = ns.SemMaxIndex();
      RETURN_IF_ERROR(CopyOutStruct(t, arg, i));
      return std::max(max, 0);
    }
    case IPC_STAT:
    case kSemStat:
    case kSemStatAny: {
      ASSIGN_OR_RETURN(auto st, ns.SemStatOf(t.creds(), id, cmd != IPC_STAT, cmd != kSemStatAny));
      Semid64Ds d{};
      d.perm = ToUser(st.perm);
      d.otime = st.otime;
      d.ctime = st.ctime;
      d.nsems = st.nsems;
      RETURN_IF_ERROR(CopyOutStruct(t, arg, d));
      return cmd == IPC_STAT ? 0 : st.id;
    }
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT: {
      const Field f = cmd == GETVAL    ? Field::kVal
                      : cmd == GETPID  ? Field::kPid
                      : cmd == GETNCNT ? Field::kNcnt
                                       : Field::kZcnt;
      ASSIGN_OR_RETURN(int v, ns.SemGetOne(t.creds(), id, semnum, f));
      return v;
    }
    case GETALL: {
      ASSIGN_OR_RETURN(auto vals, ns.SemGetAll(t.creds(), id));
      if (!t.mm()
               .CopyOut(arg, {reinterpret_cast<const uint8_t*>(vals.data()), vals.size() * 2})
               .ok()) {
        return Errno(EFAULT);
      }
      return 0;
    }
    case SETALL: {
      ASSIGN_OR_RETURN(int n, ns.SemNsemsForSetAll(t.creds(), id));
      std::vector<uint16_t> vals(n);
      if (!t.mm().CopyIn(arg, {reinterpret_cast<uint8_t*>(vals.data()), vals.size() * 2}).ok()) {
        return Errno(EFAULT);
      }
      RETURN_IF_ERROR(ns.SemSetAll(t.creds(), id, vals, t.tgid()));
      return 0;
    }
    case SETVAL: {
      const int val = static_cast<int>(a[3]);
      if (val < 0 || val > kernel::ipc::kSemVmx) return Errno(ERANGE);
      RETURN_IF_ERROR(ns.SemSetVal(t.creds(), id, semnum, val, t.tgid()));
      return 0;
    }
    case IPC_SET: {
      Semid64Ds d;
      RETURN_IF_ERROR(CopyInStruct(t, arg, &d));
      RETURN_IF_ERROR(ns.SemSet(t.creds(), id, d.perm.uid, d.perm.gid, d.perm.mode));
      return 0;
    }
    case IPC_RMID:
      RETURN_IF_ERROR(ns.SemRemove(t.creds(), id));
      return 0;
    default:
      return Errno(EINVAL);
  }
}

// --- Message queues ---

SyscallResult Msgget(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(int id, t.ipc().MsgGet(t.creds(), a.Int(0), a.Int(1)));
  return id;
}

SyscallResult Msgsnd(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0);
  const UserAddr buf = a.Addr(1);
  const uint64_t size = a[2];
  const int flags = a.Int(3);
  kernel::ipc::IpcNamespace::Message m;
  RETURN_IF_ERROR(CopyInStruct(t, buf, &m.type));
  if (size > static_cast<uint64_t>(std::max(t.ipc().msg_limits().msgmax, 0)) || id < 0) {
    return Errno(EINVAL);
  }
  if (m.type < 1) return Errno(EINVAL);
  m.text.resize(size);
  if (!t.mm()
           .CopyIn(UserAddr(buf.value() + 8), {reinterpret_cast<uint8_t*>(m.text.data()), size})
           .ok()) {
    return Errno(EFAULT);
  }
  RETURN_IF_ERROR(t.ipc().MsgSend(t.creds(), id, std::move(m), flags, t.tgid(), t.waker()));
  return 0;
}

SyscallResult Msgrcv(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0);
  const UserAddr buf = a.Addr(1);
  const uint64_t bufsz = a[2];
  const int64_t msgtyp = a.Int64(3);
  const int flags = a.Int(4);
  if (id < 0 || static_cast<int64_t>(bufsz) < 0) return Errno(EINVAL);
  if ((flags & kMsgCopy) && ((flags & MSG_EXCEPT) || !(flags & IPC_NOWAIT))) return Errno(EINVAL);
  ASSIGN_OR_RETURN(auto m,
                   t.ipc().MsgReceive(t.creds(), id, bufsz, msgtyp, flags, t.tgid(), t.waker()));
  // do_msg_fill: the type, then at most bufsz bytes of the text.
  const uint64_t n = std::min<uint64_t>(bufsz, m.text.size());
  RETURN_IF_ERROR(CopyOutStruct(t, buf, m.type));
  if (!t.mm()
           .CopyOut(UserAddr(buf.value() + 8), {reinterpret_cast<const uint8_t*>(m.text.data()), n})
           .ok()) {
    return Errno(EFAULT);
  }
  return n;
}

SyscallResult Msgctl(Task& t, const SyscallArgs& a) {
  const int id = a.Int(0), cmd = a.Int(1);
  const UserAddr buf = a.Addr(2);
  if (id < 0 || cmd < 0) return Errno(EINVAL);
  kernel::ipc::IpcNamespace& ns = t.ipc();
  switch (cmd) {
    case IPC_INFO:
    case kMsgInfo: {
      const auto lim = ns.msg_limits();
      MsgInfo i{};
      i.msgmni = lim.msgmni;
      i.msgmax = lim.msgmax;
      i.msgmnb = lim.msgmnb;
      i.msgssz = 16;      // MSGSSZ
      i.msgseg = 0xffff;  // MSGSEG
      if (cmd == kMsgInfo) {
        const auto tot = ns.MsgInfo();
        i.msgpool = tot.queues;
        i.msgmap = static_cast<int32_t>(tot.messages);
        i.msgtql = static_cast<int32_t>(tot.bytes);
      } else {
        i.msgmap = 16384;    // MSGMAP
        i.msgpool = 512000;  // MSGPOOL
        i.msgtql = 16384;    // MSGTQL
      }
      const int max = ns.MsgMaxIndex();
      RETURN_IF_ERROR(CopyOutStruct(t, buf, i));
      return std::max(max, 0);
    }
    case IPC_STAT:
    case kMsgStat:
    case kMsgStatAny: {
      ASSIGN_OR_RETURN(auto st, ns.MsgStatOf(t.creds(), id, cmd != IPC_STAT, cmd != kMsgStatAny));
      Msqid64Ds d{};
      d.perm = ToUser(st.perm);
      d.stime = st.stime;
      d.rtime = st.rtime;
      d.ctime = st.ctime;
      d.cbytes = st.cbytes;
      d.qnum = st.qnum;
      d.qbytes = st.qbytes;
      d.lspid = st.lspid;
      d.lrpid = st.lrpid;
      RETURN_IF_ERROR(CopyOutStruct(t, buf, d));
      return cmd == IPC_STAT ? 0 : st.id;
    }
    case IPC_SET: {
      Msqid64Ds d;
      RETURN_IF_ERROR(CopyInStruct(t, buf, &d));
      RETURN_IF_ERROR(ns.MsgSet(t.creds(), id, d.perm.uid, d.perm.gid, d.perm.mode, d.qbytes));
      return 0;
    }
    case IPC_RMID:
      RETURN_IF_ERROR(ns.MsgRemove(t.creds(), id));
      return 0;
    default:
      return Errno(EINVAL);
  }
}

}  // namespace sentry::syscalls
