// The gofer filesystem: host files served by the gofer (gofer/README.md), as a
// vfs::Filesystem. Every inode is one gofer handle (closed when the inode
// dies); opening a regular file gets a host fd donated by the gofer, and data
// I/O goes straight to that fd. Metadata operations are RPCs through
// gofer::Client. See README.md for the caching and revalidation policy.
#ifndef SENTRY_FSIMPL_GOFER_GOFER_FS_H_
#define SENTRY_FSIMPL_GOFER_GOFER_FS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "gofer/client.h"
#include "sentry/base/errno.h"
#include "sentry/memory/memory_file.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::gofer {

struct GoferOptions {
  // Unset (the default, "exclusive" mode): the Sentry is the only one changing
  // the served tree, so cached attributes and dentries are never revalidated
  // (what `runsc do` uses for its read-only host root). Set: an inode's
  // attributes older than this are fetched again by GetAttr, and Valid()
  // re-stats the file, dropping the dentry if the host unlinked it.
  std::optional<std::chrono::nanoseconds> revalidate_after;
  // Where mmap's page cache keeps file pages; null: files cannot be mapped
  // (ENODEV).
  memory::MemoryFile* memory_file = nullptr;
};

// What the filesystem and all of its inodes share (defined in gofer_fs.cc).
struct Session;

class GoferFilesystem : public vfs::Filesystem {
 public:
  // Attaches to the server behind `client`. The mount should be read-only
  // when read_only() says the server refuses every mutation.
  static ErrnoOr<std::shared_ptr<GoferFilesystem>> Create(std::shared_ptr<::gofer::Client> client,
                                                          const GoferOptions& options = {});
  ~GoferFilesystem() override;

  std::shared_ptr<vfs::Inode> Root() override { return root_; }
  std::string_view Name() const override { return "gofer"; }
  ErrnoOr<struct statfs> StatFS() override;
  uint64_t Dev() const override { return dev_; }

  // The server said it refuses every mutation (EROFS).
  bool read_only() const { return read_only_; }

 private:
  GoferFilesystem(std::shared_ptr<Session> session, bool read_only);

  const std::shared_ptr<Session> session_;
  const uint64_t dev_;
  const bool read_only_;
  std::shared_ptr<vfs::Inode> root_;
};

}  // namespace sentry::fsimpl::gofer

#endif  // SENTRY_FSIMPL_GOFER_GOFER_FS_H_
