#include "runsc/sandbox/boot.h"

#include <cerrno>
#include <cstring>

#include "nlohmann/json.hpp"
#include "sentry/base/log.h"

#include "runsc/sandbox/isolate.h"
#include "runsc/sandbox/sentry_seccomp.h"
#include "sentry/fsimpl/overlay/overlay.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "platform/platform.h"
#include "runsc/sandbox/rootfs.h"
#include "sentry/base/errno.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/host/host_file.h"
#include "sentry/kernel/cpu_timers.h"
#include "sentry/loader/loader.h"
#include "sentry/memory/memory_file.h"
#include "sentry/syscalls/handlers.h"

namespace runsc {

void WriteCompatibilityReport(const sentry::kernel::Kernel& kernel,
                              const std::vector<std::string>& argv,
                              const absl::StatusOr<sentry::kernel::ExitStatus>& status, int fd) {
  const sentry::kernel::SyscallTable& table = kernel.syscall_table();
  auto syscalls = [&](const std::vector<std::pair<uint64_t, uint64_t>>& counts) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [nr, count] : counts) {
      const sentry::kernel::SyscallInfo* info = table.Lookup(nr);
      out.push_back({{"nr", nr},
                     {"name", info != nullptr && info->name ? info->name : "unknown"},
                     {"count", count},
                     {"note", info != nullptr ? info->note : ""}});
    }
    return out;
  };
  nlohmann::json report;
  report["program"] = argv;
  if (status.ok()) {
    report["exit"] = {{"code", status->code}, {"signal", status->signal}};
  } else {
    report["exit"] = {{"sandbox_error", std::string(status.status().message())}};
  }
  report["unimplemented_syscalls"] = syscalls(kernel.UnimplementedCounts());
  report["partial_syscalls"] = syscalls(kernel.PartialCounts());
  nlohmann::json gaps = nlohmann::json::array();
  for (const auto& [what, count] : kernel.GapCounts()) {
    gaps.push_back({{"what", what}, {"count", count}});
  }
  report["unimplemented_features"] = gaps;
  if (kernel.platform().syscall_patch_target() != nullptr) {
    const sentry::kernel::SyscallPatchStats& ps = kernel.patch_stats();
    report["syscall_patching"] = {{"patched_sites", ps.patched.load()},
                                  {"skipped_multithreaded", ps.skipped_threads.load()},
                                  {"refused_sites", ps.refused_sites.load()},
                                  {"region_unavailable", ps.region_unavailable.load()}};
  }
  const std::string text = report.dump(2) + "\n";
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      SLOG(kWarning, "writing the --report file: %s", strerror(errno));
      return;
    }
    done += static_cast<size_t>(n);
  }
}
namespace {

// Address space reserved for the memory file. The memfd is sparse and the
// mapping reserves only virtual addresses, so this costs nothing until used.
constexpr uint64_t kMemoryFileCapacity = uint64_t{256} << 30;

}  // namespace

absl::StatusOr<sentry::kernel::ExitStatus> Boot(const BootConfig& config) {
  // The Sentry writes to host pipes and files on the guest's behalf: EPIPE and
  // EFBIG, not death.
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);

  SLOG(kDebug, "boot: sentry boot");
  // What the runtime reads from host files once and caches, read on a thread
  // of its own while the boot goes on, and joined before the Sentry leaves
  // the host's tree (DESIGN §11.3). In its own mount namespace the Sentry
  // first gives absl the TSC rate it would otherwise measure, sleeping 3 ms
  // or more (best effort: without it, absl measures), on the same thread
  // (its own measurement spins 0.2 ms; mounts are per process).
  std::thread warm_up([empty_root = config.empty_root] {
    if (empty_root) {
      if (absl::Status s = ProvideTscFrequencyFile(); !s.ok()) {
        SLOG(kDebug, "no tsc_freq_khz for absl: %s", s.ToString());
      }
    }
    WarmUpHostReads();
    (void)sentry::kernel::HostCpus();
  });
  absl::Cleanup join_warm_up = [&warm_up] {
    if (warm_up.joinable()) warm_up.join();
  };
  ASSIGN_OR_RETURN(auto mf, sentry::memory::MemoryFile::Create(kMemoryFileCapacity));
  platform::Options popts;
  popts.memory_fd = mf->fd();
  popts.syscall_patching = config.systrap_patching;
  ASSIGN_OR_RETURN(auto plat, platform::Platform::Create(config.platform, popts));
  SLOG(kDebug, "boot: platform created");

  sentry::kernel::KernelConfig kc;
  kc.strace = config.strace;
  kc.randomize = config.aslr;
  kc.vdso = config.vdso;
  kc.hostname = config.hostname.empty() ? "sandbox" : config.hostname;
  kc.num_cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit l;
    getrlimit(r, &l);
    kc.rlimits.push_back(l);
  }
  // Every guest file on the gofer holds a host fd here: room beyond the
  // guest's own limit where the hard limit allows.
  if (rlimit l; getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
  }
  // From here the Sentry opens no host path (DESIGN §11.3). What the
  // runtime reads from host files once is read first (WarmUpHostReads, on
  // its thread since the start);
  // under runsc do the Sentry then leaves the host's tree for an empty root
  // (its namespaces were made right after the fork: EnterSentryNamespaces).
  // The gofer's root is attached and the kernel built confined: neither
  // needs a host path.
  warm_up.join();
  SLOG(kDebug, "boot: host reads warmed up");
  if (config.empty_root) RETURN_IF_ERROR(EnterEmptyRoot());
  SLOG(kDebug, "boot: sentry root emptied");
  RETURN_IF_ERROR(InstallSentryFilter());
  SLOG(kDebug, "boot: sentry confined");
  // The template stub (a fork of the confined Sentry: its root and filter)
  // is made on the platform's factory thread while the Sentry waits for the
  // gofer and builds the kernel.
  platform::Platform* const platform = plat.get();
  std::thread template_stub([platform] { platform->Warm(); });
  const auto join_template_stub = [&template_stub] {
    if (template_stub.joinable()) template_stub.join();
  };
  absl::Cleanup join_template_stub_on_return = join_template_stub;
  std::shared_ptr<sentry::fsimpl::gofer::GoferFilesystem> gofer_root;
  if (config.gofer_fd >= 0) {
    ASSIGN_OR_RETURN(gofer_root, AttachGoferRoot(config.gofer_fd, *mf));
    SLOG(kDebug, "boot: gofer root attached");
    if (config.overlay) {
      // DESIGN §8: the gofer's view below, a tmpfs in Sentry memory above.
      sentry::fsimpl::tmpfs::TmpfsOptions upper;
      kc.root_fs = sentry::fsimpl::overlay::OverlayFilesystem::Create(
          gofer_root, sentry::fsimpl::tmpfs::TmpfsFilesystem::Create(*mf, upper));
    } else {
      kc.root_fs = gofer_root;
      kc.root_read_only = gofer_root->read_only();
    }
  }
  const bool have_gofer = gofer_root != nullptr;
  // A writable gofer root may hold pages of shared writable mappings that
  // only the page caches' destruction writes back to the host.
  const bool may_skip_teardown = !have_gofer || gofer_root->read_only();
  // Only the kernel may hold filesystems from here (they hold memory-file
  // pages, and the memory file goes with the kernel).
  gofer_root.reset();
  // With a gofer root the program loads through the sandbox's VFS, as the
  // guest's own execve will; runsc's fd only served its early checks.
  // With a gofer root runsc's fd of the program is closed at once: the Sentry
  // holds no host file but what it needs (the memory file, the gofer socket,
  // stdio and what runsc donated).
  int executable_fd = config.executable_fd;
  if (have_gofer && executable_fd >= 0) {
    close(executable_fd);
    executable_fd = -1;
  }
  sentry::kernel::Kernel kernel(std::move(kc), sentry::syscalls::Linux64Table(), std::move(mf),
                                std::move(plat));
  // The kernel owns the platform the thread works on: on a return from here
  // the thread is joined before the kernel goes.
  absl::Cleanup join_template_stub_before_the_kernel = join_template_stub;
  if (have_gofer) RETURN_IF_ERROR(MountSandboxDirs(kernel, config.overlay));
  SLOG(kDebug, "boot: kernel created");

  sentry::kernel::InitArgs init;
  sentry::loader::HostFdExecutable exe(executable_fd);
  init.executable = have_gofer ? nullptr : &exe;
  init.filename = config.filename;
  init.argv = config.argv;
  init.envp = config.envp;
  init.uid = config.uid;
  init.gid = config.gid;
  init.groups = config.groups;
  init.cwd = config.cwd;
  for (int fd : config.stdio_fds) {
    auto f = sentry::fsimpl::host::HostFile::Create(fd);
    if (!f.ok()) {
      return sentry::ErrnoToStatus(f.error(), absl::StrFormat("donated host fd %d", fd));
    }
    // A terminal gets its job-control state (one per terminal device).
    if ((*f)->is_tty()) (*f)->set_job_control(kernel.TerminalFor((*f)->host_rdev()));
    init.stdio.push_back(*std::move(f));
  }
  join_template_stub();
  SLOG(kDebug, "boot: starting init");
  auto status = kernel.RunInit(init);
  if (executable_fd >= 0) close(executable_fd);
  if (config.report_fd >= 0) {
    WriteCompatibilityReport(kernel, config.argv, status, config.report_fd);
    close(config.report_fd);
  }
  if (config.exit_without_teardown && may_skip_teardown) {
    config.exit_without_teardown(status);
    SCHECK_MSG(false, "BootConfig::exit_without_teardown returned");
  }
  return status;
}

}  // namespace runsc
