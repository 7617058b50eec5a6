// The memory manager of one guest address space (DESIGN.md §5).
//
// It keeps VMAs (what the guest asked for: range, protection, private/shared,
// growsdown, name, ...) and backing ranges (which memory-file pages back which
// guest pages, whether they are shared copy-on-write, and what the platform has
// mapped). Faults are resolved here and then made visible in the platform's
// AddressSpace with fault-around. See README.md for the fault and COW rules.
//
// Lock order: MemoryManager's mutex, then (shared anonymous mappings) the
// shared-memory object's mutex, then MemoryFile's internal mutex. Platform
// AddressSpace calls are made with the MemoryManager's mutex held.
#ifndef SENTRY_MM_MM_H_
#define SENTRY_MM_MM_H_

#include <sys/mman.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "platform/platform.h"
#include "sentry/base/errno.h"
#include "sentry/base/user_addr.h"
#include "sentry/memory/mappable.h"
#include "sentry/memory/memory_file.h"

namespace sentry::mm {

// Where things go, decided at exec (see sentry/loader/layout.h).
struct Layout {
  uint64_t min_addr = 0x10000;         // vm.mmap_min_addr
  uint64_t max_addr = 0x7ffffffff000;  // TASK_SIZE (or the platform's lower limit)
  uint64_t mmap_base = 0;              // top-down allocation starts below this
  uint64_t stack_top = 0;              // the initial stack's highest address
};

// Resource limits the memory manager enforces (RLIMIT_* soft values; ~0 = none).
struct Limits {
  uint64_t as = ~0ull;        // RLIMIT_AS
  uint64_t data = ~0ull;      // RLIMIT_DATA (brk and private writable mappings)
  uint64_t data_max = ~0ull;  // RLIMIT_DATA's hard limit (used when `data` is 0)
  uint64_t stack = 8 << 20;   // RLIMIT_STACK (growsdown stack growth)
  uint64_t memlock = 8 << 20;
  bool can_ipc_lock = false;       // CAP_IPC_LOCK: mlock beyond RLIMIT_MEMLOCK
  uint64_t max_map_count = 65530;  // vm.max_map_count: the most VMAs an mm may have
};

struct MmapOpts {
  uint64_t addr = 0;  // hint, or the address for MAP_FIXED*
  uint64_t length = 0;
  int prot = 0;      // PROT_*
  int flags = 0;     // MAP_* as passed by the guest (MAP_PRIVATE/SHARED, FIXED, ANONYMOUS, ...)
  std::string name;  // for /proc/pid/maps: "[heap]", "[stack]", a path, or empty
  // The most protection mprotect may ever give the mapping (Linux's VM_MAY*):
  // all but for the Sentry's special mappings ([vvar] is PROT_READ for good).
  int max_prot = PROT_READ | PROT_WRITE | PROT_EXEC;
  // File mappings (no MAP_ANONYMOUS): the object (null: the file cannot be
  // mapped, ENODEV), the byte offset (page-aligned), how the file was opened,
  // whether its mount is noexec, and its identity for /proc/pid/maps.
  std::shared_ptr<memory::Mappable> file;
  uint64_t offset = 0;
  bool file_readable = true;
  bool file_writable = false;
  bool noexec = false;
  uint64_t dev = 0, ino = 0;
};

// Why a fault could not be resolved; the caller delivers the signal.
enum class FaultResult {
  kHandled,     // mapped; resume the guest
  kSegvMapErr,  // SIGSEGV, SEGV_MAPERR: no VMA at the address
  kSegvAccErr,  // SIGSEGV, SEGV_ACCERR: the VMA does not allow the access
  kBusError,    // SIGBUS (e.g. beyond the end of a file mapping)
  kOom,         // no memory to back the page
};

// The result of a copy: `done` bytes were copied; `err` is 0 (all done) or EFAULT.
struct CopyResult {
  size_t done = 0;
  Errno err{0};
  bool ok() const { return err.value() == 0; }
};

// What identifies a futex word (Linux's union futex_key; see
// sentry/kernel/futex.h). Two operations meet on a futex when their keys are
// equal: same kind, same object, same offset.
struct FutexKey {
  enum class Kind : uint8_t {
    kPrivate,   // FUTEX_PRIVATE_FLAG: (mm, address)
    kSharedMm,  // a shared futex in private memory: (mm, address), apart from kPrivate
    kObject,    // a shared futex in an object's page: (object, offset), in any mm
  };
  Kind kind = Kind::kPrivate;
  const void* object = nullptr;  // the MemoryManager, or the memory::Mappable
  uint64_t offset = 0;           // the address, or the byte offset in the object
  // Keeps the object alive (and its address unique) while a waiter holds the
  // key; null for the mm kinds (the waiting task keeps its mm).
  std::shared_ptr<const void> pin;

  bool operator==(const FutexKey& o) const {
    return kind == o.kind && object == o.object && offset == o.offset;
  }
  template <typename H>
  friend H AbslHashValue(H h, const FutexKey& k) {
    return H::combine(std::move(h), k.kind, k.object, k.offset);
  }
};

// A new object of shared anonymous memory of `size` bytes (Linux's shmem
// file): what MAP_SHARED|MAP_ANONYMOUS maps, and what a System V shared
// memory segment holds (sentry/kernel/ipc).
std::shared_ptr<memory::Mappable> NewSharedMemory(memory::MemoryFile& mf, uint64_t size);

class MemoryManager {
 public:
  // `as` may be null (tests, or before the platform address space exists).
  // NOTE: `as` must outlive this manager (or be detached with
  // SetAddressSpace(nullptr) first): the destructor unmaps what it mapped.
  MemoryManager(memory::MemoryFile& mf, platform::AddressSpace* as, const Layout& layout);
  ~MemoryManager();

  const Layout& layout() const;
  void SetLayout(const Layout& layout);
  void SetLimits(const Limits& limits);
  // Switches to another address space, which is taken to have nothing mapped
  // (nothing is unmapped from the previous one).
  void SetAddressSpace(platform::AddressSpace* as);

  // --- The memory syscalls, with Linux's argument checks and errnos. ---
  ErrnoOr<uint64_t> Mmap(const MmapOpts& opts);
  ErrnoOrOk Munmap(uint64_t addr, uint64_t length);
  ErrnoOrOk Mprotect(uint64_t addr, uint64_t length, int prot);
  ErrnoOr<uint64_t> Mremap(uint64_t old_addr, uint64_t old_length, uint64_t new_length, int flags,
                           uint64_t new_addr);
  // brk(2): returns the new break, or the old one if the request cannot be met.
  uint64_t Brk(uint64_t addr);
  // Sets the initial break (exec): [start, start) is empty.
  void SetBrkStart(uint64_t start);
  ErrnoOrOk Madvise(uint64_t addr, uint64_t length, int advice);
  // mincore(2): one byte per page, bit 0 = resident.
  // NOTE: allocates a byte per page of `length` and fails with ENOMEM beyond
  // 2^24 pages; a syscall handler with a guest-chosen length should use the
  // span form below, a chunk at a time, as Linux does.
  ErrnoOr<std::vector<uint8_t>> Mincore(uint64_t addr, uint64_t length);
  // mincore(2) a chunk at a time: checks [addr, addr+length) the way Linux does
  // (EINVAL unaligned, ENOMEM beyond the address space), then fills `vec` for
  // at most vec.size() pages from `addr`, stopping at the first unmapped page.
  // Returns the number of bytes filled; ENOMEM if `addr` itself is unmapped.
  ErrnoOr<size_t> Mincore(uint64_t addr, uint64_t length, std::span<uint8_t> vec);
  ErrnoOrOk Msync(uint64_t addr, uint64_t length, int flags);
  ErrnoOrOk Mlock(uint64_t addr, uint64_t length, int flags);  // mlock/mlock2
  ErrnoOrOk Munlock(uint64_t addr, uint64_t length);
  ErrnoOrOk Mlockall(int flags);
  ErrnoOrOk Munlockall();

  // --- Faults. `access` may be kAccessNone when the platform cannot tell. ---
  FaultResult HandleFault(uint64_t addr, uint32_t access);

  // --- Copying in and out of guest memory, with Linux's EFAULT rules. ---
  CopyResult CopyIn(UserAddr src, std::span<uint8_t> dst);
  CopyResult CopyOut(UserAddr dst, std::span<const uint8_t> src);
  CopyResult ZeroOut(UserAddr dst, size_t length);
  // Reads a NUL-terminated string of at most `max_length` bytes (NUL included):
  // EFAULT on a bad address, ENAMETOOLONG if no NUL within max_length.
  ErrnoOr<std::string> CopyInString(UserAddr src, size_t max_length);
  // Writes ignoring page protections, as the loader does (FOLL_FORCE).
  CopyResult CopyOutForce(UserAddr dst, std::span<const uint8_t> src);

  template <typename T>
  ErrnoOrOk CopyInObj(UserPtr<T> p, T* out) {
    CopyResult r = CopyIn(p.addr(), {reinterpret_cast<uint8_t*>(out), sizeof(T)});
    return r.ok() ? Ok() : ErrnoOrOk(r.err);
  }
  template <typename T>
  ErrnoOrOk CopyOutObj(UserPtr<T> p, const T& v) {
    CopyResult r = CopyOut(p.addr(), {reinterpret_cast<const uint8_t*>(&v), sizeof(T)});
    return r.ok() ? Ok() : ErrnoOrOk(r.err);
  }

  // The Sentry's internal iovecs for guest [addr, addr+length) (faulting pages in,
  // breaking COW if `write`), for I/O straight into guest memory. Covers the
  // longest valid prefix; `done` says how long, `err` is EFAULT if it is short.
  // `*out` is cleared first; adjacent pieces are merged.
  // NOTE: valid until the next change to this address space.
  CopyResult InternalIovecs(UserAddr addr, size_t length, bool write, std::vector<iovec>* out);

  // --- Futex support (sentry/kernel/futex.h). ---
  // The key of the futex word at `addr` (4-aligned), as Linux's get_futex_key:
  // - private: (this mm, addr); only access_ok is checked (EFAULT).
  // - shared: the page is faulted in as get_user_pages would (a write fault,
  //   breaking copy-on-write, when the mapping is writable). A shared mapping,
  //   or a read-only private mapping of a file, gives (object, offset), the
  //   same in every mm that maps it; writable private memory gives (this mm,
  //   addr) of kind kSharedMm. EFAULT with no mapping, no read permission, past
  //   the object's end, for read-only private anonymous memory (Linux: a page
  //   that never changes), and when `write` is asked of a read-only mapping.
  // NOTE: a private file mapping's page that was never written is keyed by
  // mm here; Linux keys it by the file until the first write copies it.
  ErrnoOr<FutexKey> FutexKeyAt(UserAddr addr, bool is_private, bool write);
  // Runs `fn` on the guest's 32-bit word at `addr` (4-aligned) under the
  // manager's lock, through the Sentry's mapping of the memory file, after
  // making the page accessible as a copy would (read; or write, breaking
  // copy-on-write). `fn` may use atomic operations on it (std::atomic_ref):
  // the memory file is shared with the guest, so they are atomic with respect
  // to the guest's own. EFAULT where CopyIn/CopyOut would fail.
  ErrnoOrOk WithWord(UserAddr addr, bool write, absl::FunctionRef<void(uint32_t*)> fn);

  // --- fork: a copy sharing private pages copy-on-write (MADV_DONTFORK ranges
  // are left out, MADV_WIPEONFORK ranges come back zeroed). ---
  std::unique_ptr<MemoryManager> Fork(platform::AddressSpace* as);

  // --- Introspection, for /proc and tests. ---
  struct VmaInfo {
    uint64_t start, end;
    int prot;
    bool shared;
    bool growsdown;
    std::string name;
    uint64_t offset = 0;  // file mappings: the offset, device and inode
    uint64_t dev = 0, ino = 0;
    // The object mapped (shared memory or a file), for identity only (shmdt).
    const memory::Mappable* object = nullptr;
    uint64_t resident = 0;  // bytes backed by the memory file (smaps' Rss)
    bool locked = false;    // mlock'ed (VM_LOCKED)
  };
  std::vector<VmaInfo> Vmas() const;
  // The VMA holding `addr` (without `resident`), if any.
  std::optional<VmaInfo> VmaAt(uint64_t addr) const;
  // Whether any VMA meets [start, end).
  bool AnyVmaIn(uint64_t start, uint64_t end) const;
  uint64_t VirtualSize() const;    // sum of VMA sizes
  uint64_t ResidentBytes() const;  // pages backed by the memory file
  // The most ResidentBytes has been (Linux's hiwater_rss, ru_maxrss); a
  // fork's child starts from what it shares.
  uint64_t PeakResidentBytes() const;
  // ResidentBytes counted from the backing ranges themselves (tests check
  // that the running count agrees).
  uint64_t CountResidentBytesForTest() const;
  uint64_t LockedBytes() const;
  uint64_t brk() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_MM_H_
