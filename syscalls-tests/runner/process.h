// Running one test binary: stdin is /dev/null (opened read-only), stdout and
// stderr are pipes we read, the environment is the one given, and the whole
// process group is killed at the deadline.
#ifndef SYSCALLS_TESTS_RUNNER_PROCESS_H_
#define SYSCALLS_TESTS_RUNNER_PROCESS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace syscalls_runner {

struct ProcessResult {
  // False when the program could not be started; `error` says why.
  bool started = false;
  std::string error;
  bool timed_out = false;
  // The exit code, or 128+N when signal N killed it.
  int status = -1;
  std::string out;
  std::string err;
  absl::Duration wall;

  // "exit status 1", "killed by signal 11 (SIGSEGV)", "timed out after 60s".
  std::string Describe() const;
};

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         absl::Duration timeout);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_PROCESS_H_
