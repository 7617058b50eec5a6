// runsc gofer [--log-level=...] -- --root=PATH --socket-fd=N [--read-only]
// (internal): serves the tree at PATH to one Sentry over the SOCK_SEQPACKET
// socket N, confined as gofer/confine.h describes. Exits 0 when the Sentry
// hangs up. Its flags follow "--" because they belong to this command alone.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "gofer/confine.h"
#include "runsc/cmd/commands.h"

namespace runsc {
namespace {

absl::StatusOr<gofer::GoferConfig> ParseGoferArgs(const std::vector<std::string>& args) {
  gofer::GoferConfig config;
  for (const std::string& a : args) {
    if (a.rfind("--root=", 0) == 0) {
      config.root = a.substr(7);
    } else if (a == "--read-only" || a == "--read-only=true") {
      config.read_only = true;
    } else if (a == "--read-only=false") {
      config.read_only = false;
    } else if (a.rfind("--socket-fd=", 0) == 0) {
      if (!absl::SimpleAtoi(a.substr(12), &config.socket_fd) || config.socket_fd < 0) {
        return absl::InvalidArgumentError(absl::StrFormat("bad --socket-fd \"%s\"", a.substr(12)));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrFormat("unknown argument \"%s\"", a));
    }
  }
  if (config.root.empty() || config.root[0] != '/') {
    return absl::InvalidArgumentError("--root=PATH (absolute) is required");
  }
  if (config.socket_fd < 0) return absl::InvalidArgumentError("--socket-fd=N is required");
  return config;
}

}  // namespace

int GoferCommand(const CommandLine& cl) {
  auto config = ParseGoferArgs(cl.args);
  if (!config.ok()) {
    fprintf(stderr,
            "runsc gofer: %s (usage: runsc gofer -- --root=PATH --socket-fd=N [--read-only])\n",
            std::string(config.status().message()).c_str());
    return 2;
  }
  absl::Status s = gofer::RunGofer(*config);
  if (!s.ok()) {
    std::string msg = absl::StrFormat("runsc gofer: %s\n", s.message());
    [[maybe_unused]] ssize_t n = write(2, msg.data(), msg.size());
    _exit(1);
  }
  // _exit: nothing at exit may make a syscall the seccomp filter refuses.
  _exit(0);
}

}  // namespace runsc
