#include "sentry/kernel/namespaces.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/stat.h>
#include <time.h>

#include "absl/strings/str_format.h"
#include "sentry/kernel/ipc/ipc.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
namespace {

// nsfs: one anonymous device for every namespace file.
struct Nsfs {
  uint64_t dev = vfs::NewAnonDev();
  timespec born{};
  Nsfs() { clock_gettime(CLOCK_REALTIME, &born); }
};

const Nsfs& GetNsfs() {
  static const Nsfs* const fs = new Nsfs();
  return *fs;
}

const char* KindName(int type) {
  for (const NsKind& k : kNsKinds) {
    if (k.type == type) return k.name;
  }
  return "?";
}

}  // namespace

std::shared_ptr<UtsNamespace> UtsNamespace::Clone(uint32_t inode) const {
  absl::MutexLock l(&mu_);
  return std::make_shared<UtsNamespace>(inode, hostname_, domainname_);
}

std::string UtsNamespace::hostname() const {
  absl::MutexLock l(&mu_);
  return hostname_;
}

std::string UtsNamespace::domainname() const {
  absl::MutexLock l(&mu_);
  return domainname_;
}

void UtsNamespace::set_hostname(std::string name) {
  absl::MutexLock l(&mu_);
  hostname_ = std::move(name);
}

void UtsNamespace::set_domainname(std::string name) {
  absl::MutexLock l(&mu_);
  domainname_ = std::move(name);
}

uint32_t SingletonNsInode(int type) {
  switch (type) {
    case CLONE_NEWCGROUP:
      return kInitCgroupNsIno;
    case CLONE_NEWNS:
      return kInitMntNsIno;
    case CLONE_NEWNET:
      return kInitNetNsIno;
    case CLONE_NEWPID:
      return kInitPidNsIno;
    case CLONE_NEWTIME:
      return kInitTimeNsIno;
    case CLONE_NEWUSER:
      return kInitUserNsIno;
    default:
      return 0;
  }
}

std::string NsLinkTarget(const char* kind, uint32_t inode) {
  return absl::StrFormat("%s:[%u]", kind, inode);
}

NsFile::NsFile(int type, uint32_t inode, std::shared_ptr<UtsNamespace> uts,
               std::shared_ptr<ipc::IpcNamespace> ipc, int flags)
    : FileDescription(flags),
      type_(type),
      inode_(inode),
      uts_(std::move(uts)),
      ipc_(std::move(ipc)) {}

NsFile::~NsFile() = default;

// ns_file_operations has neither read nor write.
ErrnoOr<size_t> NsFile::Readv(Task*, std::span<const iovec>, int64_t) { return Errno(EINVAL); }
ErrnoOr<size_t> NsFile::Writev(Task*, std::span<const iovec>, int64_t) { return Errno(EINVAL); }

ErrnoOr<struct stat> NsFile::Stat() {
  const Nsfs& fs = GetNsfs();
  struct stat st = {};
  st.st_dev = fs.dev;
  st.st_ino = inode_;
  st.st_mode = S_IFREG | 0444;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = fs.born;
  return st;
}

ErrnoOr<uint64_t> NsFile::Ioctl(Task& t, uint64_t cmd, uint64_t) {
  switch (cmd) {
    case NS_GET_NSTYPE:
      return static_cast<uint64_t>(type_);
    case NS_GET_USERNS:
    case NS_GET_PARENT:
    case NS_GET_OWNER_UID:
      // TODO(processes issue): user namespaces (the owner of every namespace
      // is the initial user namespace).
      t.kernel().RecordGap("nsfs ioctl NS_GET_USERNS/NS_GET_PARENT/NS_GET_OWNER_UID");
      return Errno(ENOTTY);
    default:
      return Errno(ENOTTY);
  }
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> NsFile::Reopen(int flags) {
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<NsFile>(type_, inode_, uts_, ipc_, flags & (O_ACCMODE | O_NONBLOCK)));
}

std::string NsFile::Describe() const { return NsLinkTarget(KindName(type_), inode_); }

}  // namespace sentry::kernel
