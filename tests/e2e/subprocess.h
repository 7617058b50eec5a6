// Runs a program to completion with captured stdio and a deadline: the one way
// the e2e tests and tools/bench start both native and sandboxed runs, so the two
// are started, timed and judged the same way.
#ifndef TESTS_E2E_SUBPROCESS_H_
#define TESTS_E2E_SUBPROCESS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace e2e {

struct RunOptions {
  // The environment; nullopt inherits ours.
  std::optional<std::vector<std::string>> env;
  // Written to the child's stdin, which is then closed (so the child sees EOF).
  std::string stdin_data;
  // After this long the child's process group is killed with SIGKILL.
  absl::Duration timeout = absl::Seconds(30);
};

struct RunResult {
  // False when the program could not be started (pipe, fork or execve failed);
  // `error` then says which call failed and why.
  bool started = false;
  std::string error;
  bool timed_out = false;
  // The shell's convention: the exit code, or 128+N when signal N killed it.
  int status = -1;
  std::string out;
  std::string err;
  // From just before fork to the reaping of the child.
  absl::Duration wall;

  // "exit status 0", "killed by signal 11 (SIGSEGV), status 139", "timed out
  // after 30s", or the start error.
  std::string Describe() const;
};

// Runs argv[0] (a path; PATH is not searched) with `argv`, in a new process
// group, with RLIMIT_CORE = 0 (an expected crash must not leave a core file
// behind) and no inherited fds but stdio. Never throws; never hangs longer than
// the timeout plus a short grace for the pipes to drain.
RunResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace e2e

#endif  // TESTS_E2E_SUBPROCESS_H_
