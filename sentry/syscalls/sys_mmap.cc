// The memory syscalls: argument decoding here, semantics in sentry/mm.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/personality.h>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {

SyscallResult Mmap(Task& t, const SyscallArgs& a) {
  mm::MmapOpts o;
  o.addr = a[0];
  o.length = a[1];
  o.prot = a.Int(2);
  o.flags = a.Int(3);
  const uint64_t offset = a[5];
  if (offset & (kPageSize - 1)) return Errno(EINVAL);
  if (!(o.flags & MAP_ANONYMOUS)) {
    ASSIGN_OR_RETURN(auto file, t.fds().Get(a.Int(4)));
    const int fl = file->status_flags();
    if (fl & O_PATH) return Errno(EBADF);
    const int acc = fl & O_ACCMODE;
    o.file = file->Mappable();  // null: the file cannot be mapped (ENODEV)
    o.offset = offset;
    o.file_readable = acc == O_RDONLY || acc == O_RDWR;
    o.file_writable = acc == O_WRONLY || acc == O_RDWR;
    const vfs::VirtualDentry& vd = file->location();
    if (vd.ok()) {
      o.noexec = vd.mount->noexec;
      o.name = t.kernel().vfs().PathOf(t.fs_root(), vd);
      if (auto st = file->Stat(); st.ok()) {
        o.dev = st->st_dev;
        o.ino = st->st_ino;
      }
    } else {
      o.name = file->Describe();
    }
  }
  // READ_IMPLIES_EXEC: readable means executable, but not from a noexec mount.
  if ((o.prot & PROT_READ) && (t.personality.load() & READ_IMPLIES_EXEC) && !o.noexec) {
    o.prot |= PROT_EXEC;
  }
  return t.mm().Mmap(o);
}

SyscallResult Munmap(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Munmap(a[0], a[1]));
  return 0;
}

SyscallResult Mprotect(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Mprotect(a[0], a[1], a.Int(2)));
  return 0;
}

SyscallResult Mremap(Task& t, const SyscallArgs& a) {
  return t.mm().Mremap(a[0], a[1], a[2], a.Int(3), a[4]);
}

SyscallResult Brk(Task& t, const SyscallArgs& a) { return t.mm().Brk(a[0]); }

SyscallResult Madvise(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Madvise(a[0], a[1], a.Int(2)));
  return 0;
}

SyscallResult Mincore(Task& t, const SyscallArgs& a) {
  // A chunk at a time, as Linux does, so a guest-chosen length costs no memory.
  uint8_t buf[4096];
  uint64_t addr = a[0];
  UserAddr out = a.Addr(2);
  if (addr & (kPageSize - 1)) return Errno(EINVAL);
  // access_ok(): the range must lie in the user address space.
  constexpr uint64_t kUserLimit = uint64_t{1} << 47;
  if (addr > kUserLimit || a[1] > kUserLimit - addr) return Errno(ENOMEM);
  uint64_t pages = a[1] / kPageSize + (a[1] % kPageSize != 0);
  do {
    const size_t chunk = std::min<uint64_t>(pages, sizeof(buf));
    ASSIGN_OR_RETURN(size_t n, t.mm().Mincore(addr, pages * kPageSize, {buf, chunk}));
    if (!t.mm().CopyOut(out, {buf, n}).ok()) return Errno(EFAULT);
    if (n < chunk) return Errno(ENOMEM);  // stopped at an unmapped page
    addr += n * kPageSize;
    out = out + n;
    pages -= n;
  } while (pages > 0);
  return 0;
}

SyscallResult Msync(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Msync(a[0], a[1], a.Int(2)));
  return 0;
}

SyscallResult Mlock(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Mlock(a[0], a[1], 0));
  return 0;
}

SyscallResult Mlock2(Task& t, const SyscallArgs& a) {
  if (a.Int(2) & ~MLOCK_ONFAULT) return Errno(EINVAL);
  RETURN_IF_ERROR(t.mm().Mlock(a[0], a[1], a.Int(2)));
  return 0;
}

SyscallResult Munlock(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Munlock(a[0], a[1]));
  return 0;
}

SyscallResult Mlockall(Task& t, const SyscallArgs& a) {
  RETURN_IF_ERROR(t.mm().Mlockall(a.Int(0)));
  return 0;
}

SyscallResult Munlockall(Task& t, const SyscallArgs&) {
  RETURN_IF_ERROR(t.mm().Munlockall());
  return 0;
}

}  // namespace sentry::syscalls
