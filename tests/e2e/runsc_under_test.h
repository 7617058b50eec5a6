// Which runsc the e2e tests and tools/bench judge, and how they call it:
//   runsc do --platform=P [--strace] -- PROGRAM ARGS...
#ifndef TESTS_E2E_RUNSC_UNDER_TEST_H_
#define TESTS_E2E_RUNSC_UNDER_TEST_H_

#include <string>
#include <vector>

namespace e2e {

// $SANDBOX_RUNSC if set, else <build>/runsc/runsc of this build tree.
std::string RunscPath();

// $SANDBOX_PLATFORM if set, else "ptrace".
std::string RunscPlatform();

// The argv that runs `guest` (guest[0] is a host path) under runsc do.
std::vector<std::string> RunscDoArgv(const std::vector<std::string>& guest,
                                     const std::string& platform, bool strace = false);

// Empty when `path` is an executable file; else why not, and how to fix it.
std::string RunscUnusableReason(const std::string& path);

}  // namespace e2e

#endif  // TESTS_E2E_RUNSC_UNDER_TEST_H_
