#include "tests/e2e/runsc_under_test.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_format.h"

#ifndef SANDBOX_DEFAULT_RUNSC
#error "SANDBOX_DEFAULT_RUNSC must name the build tree's runsc"
#endif

namespace e2e {
namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v != nullptr && v[0] != '\0' ? v : fallback;
}

}  // namespace

std::string RunscPath() { return EnvOr("SANDBOX_RUNSC", SANDBOX_DEFAULT_RUNSC); }

std::string RunscPlatform() { return EnvOr("SANDBOX_PLATFORM", "ptrace"); }

std::vector<std::string> RunscDoArgv(const std::vector<std::string>& guest,
                                     const std::string& platform, bool strace) {
  std::vector<std::string> argv = {RunscPath(), "do", "--platform=" + platform};
  if (strace) argv.push_back("--strace");
  argv.push_back("--");
  argv.insert(argv.end(), guest.begin(), guest.end());
  return argv;
}

std::string RunscUnusableReason(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::StrFormat(
        "runsc not found at %s (%s): build the `runsc` target, or point SANDBOX_RUNSC at a "
        "runsc binary",
        path, strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    return absl::StrFormat("%s is not an executable file", path);
  }
  return "";
}

}  // namespace e2e
