// Confinement of the `runsc gofer` process, one facet per function, run in this
// order by RunGofer (see README.md, "Confinement"):
//   1. CloseInheritedFds: only stdio and the socket survive.
//   2. EnterGoferRoot: a private mount namespace whose root is a small tmpfs
//      holding /root (a recursive bind of the served tree, read-only on request)
//      and /proc (for re-opening handles through /proc/self/fd).
//   3. the Server opens /root and /proc/self/fd (its last host paths).
//   4. DropCapabilities: all but kGoferCapabilities, in every set.
//   5. no_new_privs and InstallGoferSeccomp: only the syscalls the server makes.
//   6. Serve until the Sentry hangs up.
#ifndef GOFER_CONFINE_H_
#define GOFER_CONFINE_H_

#include <linux/capability.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace gofer {

// What the gofer keeps, to serve a tree owned by many users as root does:
// CHOWN (SetAttr uid/gid, Create's owner), DAC_OVERRIDE (read, write and search
// whatever the Sentry's own permission checks allowed), FOWNER (chmod, utimes,
// xattrs on files the gofer does not own), FSETID (keep set-id bits on chown).
inline constexpr uint64_t kGoferCapabilities =
    (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FOWNER) | (1ull << CAP_FSETID);

// Where the served tree is inside the gofer's mount namespace.
inline constexpr char kGoferRootInNamespace[] = "/root";

struct GoferConfig {
  std::string root;  // host path of the tree to serve
  bool read_only = false;
  int socket_fd = -1;  // a connected SOCK_SEQPACKET socket to the Sentry
};

absl::Status CloseInheritedFds(int keep);
absl::Status EnterGoferRoot(const std::string& root, bool read_only);
absl::Status DropCapabilities(uint64_t keep);
absl::Status InstallGoferSeccomp();

// Confines this process and serves `config.socket_fd` until the Sentry hangs up.
absl::Status RunGofer(const GoferConfig& config);

}  // namespace gofer

#endif  // GOFER_CONFINE_H_
