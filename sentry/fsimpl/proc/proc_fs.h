// The proc filesystem's internals, shared by proc.cc (the root and the
// system-wide files) and task.cc (/proc/<pid>).
#ifndef SENTRY_FSIMPL_PROC_PROC_FS_H_
#define SENTRY_FSIMPL_PROC_PROC_FS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "sentry/fsimpl/kernfs/kernfs.h"
#include "sentry/fsimpl/proc/cpuinfo.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::proc {

inline constexpr int64_t kProcSuperMagic = 0x9fa0;
inline constexpr uint64_t kClockTicks = 100;  // USER_HZ

class ProcFilesystem : public kernfs::SyntheticFilesystem {
 public:
  explicit ProcFilesystem(kernel::Kernel& k);
  // Builds the static tree; called once, right after construction.
  void Build();
  // /proc/sys/kernel/{msg*,sem,shm*}: the reader's IPC namespace's limits.
  void AddIpcSysctls(kernfs::StaticDirectory& kern);

  kernel::Kernel& kernel() const { return kernel_; }
  const CpuInfo& cpu() const { return cpu_; }
  const std::string& boot_id() const { return boot_id_; }

  // Where paths shown to the reader start: the current task's root (as
  // Linux's d_path from current->fs->root), or the VFS root for the Sentry.
  vfs::VirtualDentry ReaderRoot() const;

 private:
  kernel::Kernel& kernel_;
  const CpuInfo cpu_;
  const std::string boot_id_;
};

// Runs `fn` on task `pid` (an exited leader of an unreaped process too:
// Task::dead()) and returns its result; ESRCH when the task is gone.
// `fn` returns an ErrnoOr. It must not call back into something that takes the
// task set's lock (GetAttr of a /proc/<pid> inode, say): copy what is needed
// out and do the rest after.
template <typename F>
auto OnTask(kernel::Kernel& k, pid_t pid, F&& fn) -> decltype(fn(std::declval<kernel::Task&>())) {
  using R = decltype(fn(std::declval<kernel::Task&>()));
  std::optional<R> out;
  if (!k.WithProcTask(pid, [&](kernel::Task& t) { out.emplace(fn(t)); })) return Errno(ESRCH);
  return std::move(*out);
}

// /proc/<pid> (and /proc/<pid>/task/<tid> when `thread`).
std::shared_ptr<vfs::Inode> NewTaskDir(ProcFilesystem& fs, pid_t pid, bool thread,
                                       uint64_t parent_ino);
// The inode number of /proc/<pid>.
uint64_t TaskDirIno(pid_t pid, bool thread);

// A bitmap of `n` set bits as Linux's "%*pb" prints it (32-bit groups in hex,
// separated by commas), and its "%*pbl" list form ("0-3").
std::string CpuMask(int n);
std::string CpuList(int n);

// seq_file's mangling of paths in mounts files: space, tab, newline and
// backslash as octal escapes.
std::string MangleSpaces(std::string_view s);

}  // namespace sentry::fsimpl::proc

#endif  // SENTRY_FSIMPL_PROC_PROC_FS_H_
