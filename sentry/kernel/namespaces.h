// Namespaces (Linux's kernel/nsproxy.c, kernel/utsname.c, fs/nsfs.c): the UTS
// namespace, the identities (/proc/<pid>/ns inode numbers) of every kind, and
// the nsfs file that opening a /proc/<pid>/ns link gives (setns(2) takes it).
//
// The sandbox has its own UTS and IPC namespaces (clone, unshare and setns
// make and join them); of the other kinds (mnt, pid, net, user, cgroup,
// time) there is exactly one, the initial one, which every process is in.
#ifndef SENTRY_KERNEL_NAMESPACES_H_
#define SENTRY_KERNEL_NAMESPACES_H_

#include <fcntl.h>
#include <sched.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

namespace ipc {
class IpcNamespace;
}

// Linux's fixed inode numbers of the initial namespaces (include/linux/
// proc_ns.h), and where dynamically allocated ones start (PROC_DYNAMIC_FIRST).
// Linux allocates the initial mnt and net namespaces' numbers dynamically;
// the sandbox fixes them at the first two dynamic numbers, as a booted Linux
// usually shows them.
inline constexpr uint32_t kInitIpcNsIno = 0xEFFFFFFFu;
inline constexpr uint32_t kInitUtsNsIno = 0xEFFFFFFEu;
inline constexpr uint32_t kInitUserNsIno = 0xEFFFFFFDu;
inline constexpr uint32_t kInitPidNsIno = 0xEFFFFFFCu;
inline constexpr uint32_t kInitCgroupNsIno = 0xEFFFFFFBu;
inline constexpr uint32_t kInitTimeNsIno = 0xEFFFFFFAu;
inline constexpr uint32_t kInitMntNsIno = 0xF0000000u;
inline constexpr uint32_t kInitNetNsIno = 0xF0000001u;
inline constexpr uint32_t kFirstDynamicNsIno = 0xF0000002u;

// __NEW_UTS_LEN: the longest host or domain name.
inline constexpr size_t kUtsLen = 64;

// A UTS namespace: the host and domain names uname(2) reports. Shared by the
// tasks in it; sethostname/setdomainname change it for all of them.
class UtsNamespace {
 public:
  UtsNamespace(uint32_t inode, std::string hostname, std::string domainname)
      : inode_(inode), hostname_(std::move(hostname)), domainname_(std::move(domainname)) {}
  // copy_utsname: a new namespace with this one's names.
  std::shared_ptr<UtsNamespace> Clone(uint32_t inode) const;
  uint32_t inode() const { return inode_; }
  // The names as set: at most kUtsLen bytes, which may hold NULs.
  std::string hostname() const;
  std::string domainname() const;
  void set_hostname(std::string name);
  void set_domainname(std::string name);

 private:
  const uint32_t inode_;
  mutable absl::Mutex mu_;
  std::string hostname_ ABSL_GUARDED_BY(mu_);
  std::string domainname_ ABSL_GUARDED_BY(mu_);
};

// The kinds /proc/<pid>/ns shows, in Linux's order, with their CLONE_NEW* flag.
struct NsKind {
  const char* name;  // the link's name and the prefix of its target
  int type;          // CLONE_NEW*
};
inline constexpr NsKind kNsKinds[] = {
    {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"mnt", CLONE_NEWNS},        {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID},       {"pid_for_children", CLONE_NEWPID},
    {"time", CLONE_NEWTIME},     {"time_for_children", CLONE_NEWTIME},
    {"user", CLONE_NEWUSER},     {"uts", CLONE_NEWUTS},
};

// The inode number of a singleton namespace (one of the kinds the sandbox
// has only one of), by CLONE_NEW* type; 0 for IPC and UTS.
uint32_t SingletonNsInode(int type);

// What opening /proc/<pid>/ns/<kind> gives: a reference to the namespace (an
// nsfs file). `uts`/`ipc` are set for those kinds; the singletons have none.
class NsFile : public vfs::FileDescription {
 public:
  NsFile(int type, uint32_t inode, std::shared_ptr<UtsNamespace> uts,
         std::shared_ptr<ipc::IpcNamespace> ipc, int flags = O_RDONLY);
  ~NsFile() override;
  // Null when `f` is not an nsfs file.
  static NsFile* From(vfs::FileDescription& f) { return dynamic_cast<NsFile*>(&f); }
  int type() const { return type_; }
  uint32_t inode() const { return inode_; }
  const std::shared_ptr<UtsNamespace>& uts() const { return uts_; }
  const std::shared_ptr<ipc::IpcNamespace>& ipc() const { return ipc_; }

  ErrnoOr<size_t> Readv(Task* t, std::span<const iovec> dst, int64_t offset) override;
  ErrnoOr<size_t> Writev(Task* t, std::span<const iovec> src, int64_t offset) override;
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override;
  ErrnoOr<uint64_t> Ioctl(Task& t, uint64_t cmd, uint64_t arg) override;
  std::string Describe() const override;  // "uts:[4026531838]"
  // Opened again (/proc/self/fd/N): another reference to the namespace.
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Reopen(int flags) override;

 private:
  const int type_;
  const uint32_t inode_;
  const std::shared_ptr<UtsNamespace> uts_;
  const std::shared_ptr<ipc::IpcNamespace> ipc_;
};

// "uts:[4026531838]": a namespace link's target.
std::string NsLinkTarget(const char* kind, uint32_t inode);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_NAMESPACES_H_
