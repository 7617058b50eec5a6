// Booting the Sentry: the memory file, the platform, the kernel and the first
// process. This is what `runsc boot` (and, until it exists, `runsc do`'s
// sandbox process) runs.
#ifndef RUNSC_SANDBOX_BOOT_H_
#define RUNSC_SANDBOX_BOOT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/kernel/kernel.h"

namespace runsc {

struct BootConfig {
  std::string platform = "ptrace";
  bool strace = false;
  bool aslr = true;
  bool vdso = true;
  bool systrap_patching = true;  // systrap: patch syscall sites
  std::string hostname;
  int executable_fd = -1;  // the program, opened by runsc (owned by the Sentry)
  std::string filename;    // its path, as the guest sees it (AT_EXECFN)
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<int> stdio_fds;  // host fds for the guest's 0, 1, 2 (owned by the Sentry)
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
  // A connected SOCK_SEQPACKET socket to `runsc gofer` serving the root (owned
  // by the Sentry from then on). -1: the root is an empty tmpfs.
  int gofer_fd = -1;
  // Keep the guest's changes to the root in a tmpfs over the gofer's files.
  bool overlay = true;
  // `runsc do --report`: where to write, at exit, what the program used that
  // the sandbox lacks (owned by the Sentry; -1: no report).
  int report_fd = -1;
  // Pivot into an empty root before the seccomp filter (EnterEmptyRoot): the
  // caller put the process in namespaces of its own (EnterSentryNamespaces).
  bool empty_root = false;
  // The guest's working directory, if it resolves in the sandbox; else "/".
  std::string cwd;
  // If set, Boot hands the result to it once init has ended (and the report
  // is written) instead of destroying the kernel and returning, and it must
  // end the process (_exit); unless the gofer's root is writable (the page
  // caches write shared mappings' pages back to the host as they go). Tearing the kernel down
  // object by object (page caches, mounts, stubs) costs milliseconds that a process about to exit
  // need not spend: the host frees all it holds when it exits (the memory
  // file, every fd, the gofer socket), and the stubs die with it (each dies
  // with the Sentry thread that traces it or is its parent:
  // PTRACE_O_EXITKILL, PR_SET_PDEATHSIG). Whoever waits for the Sentry reaps
  // them as a subreaper (runsc do).
  std::function<void(const absl::StatusOr<sentry::kernel::ExitStatus>&)> exit_without_teardown;
};

// Writes the --report JSON: the program, how it ended, and every
// unimplemented syscall, partially supported syscall and unimplemented
// feature (flag, option, ioctl, path) it used, with counts.
void WriteCompatibilityReport(const sentry::kernel::Kernel& kernel,
                              const std::vector<std::string>& argv,
                              const absl::StatusOr<sentry::kernel::ExitStatus>& status, int fd);

// Runs the sandbox to completion and returns how its init process ended.
absl::StatusOr<sentry::kernel::ExitStatus> Boot(const BootConfig& config);

}  // namespace runsc

#endif  // RUNSC_SANDBOX_BOOT_H_
