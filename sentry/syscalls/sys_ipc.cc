// System V IPC syscalls: argument decoding and the UAPI structs here,
// semantics in sentry/kernel/ipc.
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "absl/strings/str_format.h"
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

constexpr int kShmStatAny = 15;  // SHM_STAT_ANY
constexpr int kShmExec = 0100000;
constexpr uint32_t kInvalidId = ~uint32_t{0};

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

}  // namespace

SyscallResult Shmget(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(2);
  if (flags & SHM_HUGETLB) {
    // Linux needs reserved huge pages (vm.nr_hugepages, 0 by default: ENOMEM).
    t.kernel().RecordGap("shmget(SHM_HUGETLB)");
    return Errno(ENOMEM);
  }
  ASSIGN_OR_RETURN(int id, t.ipc().ShmGet(t.creds(), a.Int(0), a[1], flags, t.tgid()));
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
      if (d.perm.uid == kInvalidId || d.perm.gid == kInvalidId) return Errno(EINVAL);
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

}  // namespace sentry::syscalls
