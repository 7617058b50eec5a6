#include "gofer/confine.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/str_format.h"
#include "gofer/protocol.h"
#include "gofer/server.h"
#include "sentry/base/errno.h"
#include "sentry/base/log.h"

namespace gofer {
namespace {

using sentry::HostError;

// The staging directory the gofer's tmpfs root is mounted on before
// pivot_root. Mounting there only shadows it in the gofer's own namespace.
constexpr char kStaging[] = "/tmp";

}  // namespace

absl::Status CloseInheritedFds(int keep) {
  auto close_from_to = [](unsigned lo, unsigned hi) -> absl::Status {
    if (lo <= hi && syscall(SYS_close_range, lo, hi, 0) != 0) {
      return HostError("gofer: close_range", errno);
    }
    return absl::OkStatus();
  };
  if (keep < 3) return close_from_to(3, ~0u);
  if (absl::Status s = close_from_to(3, static_cast<unsigned>(keep) - 1); !s.ok()) return s;
  return close_from_to(static_cast<unsigned>(keep) + 1, ~0u);
}

absl::Status EnterGoferRoot(const std::string& root, bool read_only) {
  if (unshare(CLONE_NEWNS) != 0) return HostError("gofer: unshare(CLONE_NEWNS)", errno);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return HostError("gofer: making mounts private", errno);
  }
  // The tree to serve, copied (with its submounts) before anything else is
  // mounted, so the copy shows the host's tree and not our staging. (Opened in
  // the new namespace: open_tree clones only mounts of the caller's namespace.)
  UniqueFd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return HostError(absl::StrFormat("gofer: open(\"%s\")", root), errno);
  UniqueFd tree(open_tree(root_fd.get(), "",
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
  if (!tree.valid()) return HostError(absl::StrFormat("gofer: open_tree(\"%s\")", root), errno);
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    return HostError("gofer: mount_setattr on the root's copy", errno);
  }
  // The gofer's own root: a tiny tmpfs with two mount points.
  if (mount("gofer-root", kStaging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=16k,nr_inodes=16,mode=0755") != 0) {
    return HostError(absl::StrFormat("gofer: mounting a tmpfs on %s", kStaging), errno);
  }
  const std::string new_root_dir = absl::StrFormat("%s%s", kStaging, kGoferRootInNamespace);
  const std::string new_proc_dir = absl::StrFormat("%s/proc", kStaging);
  if (mkdir(new_root_dir.c_str(), 0755) != 0 || mkdir(new_proc_dir.c_str(), 0555) != 0) {
    return HostError("gofer: mkdir in the staging tmpfs", errno);
  }
  if (move_mount(tree.get(), "", AT_FDCWD, new_root_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return HostError("gofer: move_mount of the root", errno);
  }
  // A fresh procfs for /proc/self/fd; where the host forbids a new one (a
  // partly masked /proc, as in some containers), a bind of the existing one.
  if (mount("proc", new_proc_dir.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    SLOG(kWarning, "gofer: cannot mount a new procfs (%s); binding /proc", strerror(errno));
    if (mount("/proc", new_proc_dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return HostError("gofer: binding /proc", errno);
    }
  }
  if (chdir(kStaging) != 0) return HostError("gofer: chdir to the staging tmpfs", errno);
  // pivot_root(".", "."): the old root ends up stacked on "/", then detached.
  if (syscall(SYS_pivot_root, ".", ".") != 0) return HostError("gofer: pivot_root", errno);
  if (umount2(".", MNT_DETACH) != 0) return HostError("gofer: detaching the old root", errno);
  if (chdir("/") != 0) return HostError("gofer: chdir(\"/\")", errno);
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr) != 0) {
    return HostError("gofer: making the gofer's root read-only", errno);
  }
  return absl::OkStatus();
}

absl::Status DropCapabilities(uint64_t keep) {
  for (int cap = 0; cap < 64; ++cap) {
    if (keep & (1ull << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return HostError(absl::StrFormat("gofer: dropping capability %d from the bounding set", cap),
                       errno);
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return HostError("gofer: clearing ambient capabilities", errno);
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const uint32_t word = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) return HostError("gofer: capset", errno);
  return absl::OkStatus();
}

absl::Status InstallGoferSeccomp() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return HostError("gofer: PR_SET_NO_NEW_PRIVS", errno);
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return absl::InternalError("gofer: seccomp_init failed");
  // Every syscall the server (and glibc, malloc, protobuf, logging) makes.
  static constexpr int kAllowed[] = {
      // The connection.
      SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close),
      // File operations on handles.
      SCMP_SYS(openat), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fstatfs),
      SCMP_SYS(fcntl), SCMP_SYS(lseek), SCMP_SYS(getdents64), SCMP_SYS(readlinkat),
      SCMP_SYS(mkdirat), SCMP_SYS(mknodat), SCMP_SYS(symlinkat), SCMP_SYS(linkat),
      SCMP_SYS(unlinkat), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(fchown),
      SCMP_SYS(fchownat), SCMP_SYS(fchmodat), SCMP_SYS(utimensat), SCMP_SYS(ftruncate),
      SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
      // Xattrs by the magic link "N" relative to the cwd (/proc/self/fd).
      SCMP_SYS(getxattr), SCMP_SYS(setxattr), SCMP_SYS(listxattr), SCMP_SYS(removexattr),
      SCMP_SYS(connect), SCMP_SYS(fchdir),
      // Memory, threads, time, signals, logging, exit.
      SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
      SCMP_SYS(mprotect), SCMP_SYS(futex), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
      SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(rt_sigprocmask),
      SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield), SCMP_SYS(write),
      SCMP_SYS(exit), SCMP_SYS(exit_group)};
  int rc = 0;
  for (int nr : kAllowed) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0) break;
  }
#ifdef SANDBOX_SANITIZER_RUNTIME
  // What the ASan+UBSan runtimes call on their own: UBSan's vptr check probes
  // memory through a pipe, ASan sets and clears each thread's signal stack.
  static constexpr int kSanitizerRuntime[] = {SCMP_SYS(pipe2), SCMP_SYS(sigaltstack)};
  for (int nr : kSanitizerRuntime) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  }
#endif
  // Only unix sockets (Connect), and only a private fs context (Serve).
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                          scmp_arg_cmp{0, SCMP_CMP_EQ, AF_UNIX, 0});
  }
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
                          scmp_arg_cmp{0, SCMP_CMP_EQ, CLONE_FS, 0});
  }
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return HostError("gofer: installing the seccomp filter", -rc);
  return absl::OkStatus();
}

absl::Status RunGofer(const GoferConfig& config) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(config.socket_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      type != SOCK_SEQPACKET) {
    return absl::InvalidArgumentError(
        absl::StrFormat("gofer: fd %d is not a SOCK_SEQPACKET socket", config.socket_fd));
  }
  if (absl::Status s = CloseInheritedFds(config.socket_fd); !s.ok()) return s;
  // The Sentry has applied the guest's umask to every mode it sends; ours
  // must not take bits away again.
  umask(0);
  if (absl::Status s = EnterGoferRoot(config.root, config.read_only); !s.ok()) return s;

  // Room for every handle plus the directory fd each may cache.
  ServerOptions options;
  options.read_only = config.read_only;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY) {
      const size_t room = rl.rlim_cur > 64 ? (rl.rlim_cur - 64) / 2 : 1;
      options.max_handles = std::min(options.max_handles, room);
    }
  }
  auto server = Server::CreateFromPath(kGoferRootInNamespace, options);
  if (!server.ok()) return server.status();
  if (absl::Status s = DropCapabilities(kGoferCapabilities); !s.ok()) return s;
  if (absl::Status s = InstallGoferSeccomp(); !s.ok()) return s;
  SLOG(kDebug, "boot: gofer confined; serving");
  return (*server)->Serve(config.socket_fd);
}

}  // namespace gofer
