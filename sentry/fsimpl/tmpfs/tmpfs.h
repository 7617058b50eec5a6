// tmpfs: a filesystem in Sentry memory. File data lives in the memory file,
// a page at a time, so that a later file mmap can share the very pages; the
// size limit (size=, in pages) gives ENOSPC. Directories keep their entries in
// creation order with stable getdents cookies.
#ifndef SENTRY_FSIMPL_TMPFS_TMPFS_H_
#define SENTRY_FSIMPL_TMPFS_TMPFS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "sentry/memory/memory_file.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::tmpfs {

struct TmpfsOptions {
  uint64_t size_limit = 0;  // bytes; 0 means half of the memory file (Linux: half of RAM)
  uint32_t root_mode = 01777;
  vfs::Owner root_owner;
  // The filesystem type /proc/mounts shows ("devtmpfs" for /dev).
  std::string name = "tmpfs";
};

class TmpfsFilesystem : public vfs::Filesystem {
 public:
  static std::shared_ptr<TmpfsFilesystem> Create(memory::MemoryFile& mf,
                                                 const TmpfsOptions& options = {});
  ~TmpfsFilesystem() override;

  std::shared_ptr<vfs::Inode> Root() override { return root_; }
  std::string_view Name() const override { return name_; }
  ErrnoOr<struct statfs> StatFS() override;
  uint64_t Dev() const override { return dev_; }

  memory::MemoryFile& memory_file() { return mf_; }
  // A regular file with no name (memfd_create, O_TMPFILE): nlink 0, sealed
  // against sealing unless `allow_sealing`.
  std::shared_ptr<vfs::Inode> NewAnonymousFile(uint32_t mode, const vfs::Owner& owner,
                                               bool allow_sealing);
  uint64_t NextIno() { return next_ino_.fetch_add(1, std::memory_order_relaxed); }
  // Reserves `pages` of the size limit; ENOSPC when it would be exceeded.
  ErrnoOrOk ChargePages(uint64_t pages);
  void UnchargePages(uint64_t pages);
  uint64_t pages_used() const { return pages_used_.load(std::memory_order_relaxed); }

 private:
  TmpfsFilesystem(memory::MemoryFile& mf, uint64_t limit_pages, std::string name);
  memory::MemoryFile& mf_;
  const uint64_t limit_pages_;
  const uint64_t dev_;
  std::atomic<uint64_t> next_ino_{1};
  std::atomic<uint64_t> pages_used_{0};
  const std::string name_;
  std::shared_ptr<vfs::Inode> root_;
};

// A new anonymous device number (major 0): vfs::NewAnonDev.
inline uint64_t NewAnonDev() { return vfs::NewAnonDev(); }

}  // namespace sentry::fsimpl::tmpfs

#endif  // SENTRY_FSIMPL_TMPFS_TMPFS_H_
