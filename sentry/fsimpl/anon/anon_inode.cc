#include "sentry/fsimpl/anon/anon_inode.h"

#include <time.h>

#include "absl/strings/str_format.h"
#include "sentry/vfs/inode.h"

namespace sentry::fsimpl::anon {
namespace {

struct AnonInode {
  uint64_t dev = vfs::NewAnonDev();
  timespec born{};
  AnonInode() { clock_gettime(CLOCK_REALTIME, &born); }
};

const AnonInode& Get() {
  static const AnonInode* const inode = new AnonInode();
  return *inode;
}

}  // namespace

struct stat AnonInodeStat() {
  const AnonInode& a = Get();
  struct stat st = {};
  st.st_dev = a.dev;
  st.st_ino = 1;  // the filesystem's only inode
  // Historically anonymous inodes have no type; userspace relies on it.
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = a.born;
  return st;
}

std::string AnonInodeName(std::string_view kind) {
  return absl::StrFormat("anon_inode:[%s]", kind);
}

}  // namespace sentry::fsimpl::anon
