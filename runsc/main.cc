// runsc: the OCI front-end of the sandbox. A command table over the library.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "runsc/cmd/commands.h"
#include "runsc/flags.h"
#include "sentry/base/log.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const runsc::CommandLine&);
  const char* help;
};

constexpr Command kCommands[] = {
    {"do", runsc::DoCommand, "run a program in a new sandbox: runsc do [flags] -- PROGRAM ARGS..."},
    {"syscalls", runsc::SyscallsCommand,
     "print the syscall table and each syscall's support (--format=text|markdown|json)"},
    {"gofer", runsc::GoferCommand,
     "(internal) serve host files: -- --root=P --socket-fd=N [--read-only]"},
};

void Usage(FILE* out) {
  fprintf(out, "usage: runsc [flags] COMMAND [flags] [--] ARGS...\n\ncommands:\n");
  for (const Command& c : kCommands) fprintf(out, "  %-10s %s\n", c.name, c.help);
  fprintf(out, "\nflags:\n%s", runsc::FlagsHelp().c_str());
}

sentry::LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return sentry::LogLevel::kDebug;
  if (s == "info") return sentry::LogLevel::kInfo;
  if (s == "error") return sentry::LogLevel::kError;
  return sentry::LogLevel::kWarning;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds libabseil without NDEBUG, so absl::Mutex's deadlock
  // detection is on by default: every lock and unlock updates a global lock
  // graph (GraphCycles) under a global spinlock — a third of the Sentry's own
  // time per file syscall. The unit tests keep it (they link gtest, not this
  // main); the product turns it off before any lock is taken, unless
  // SANDBOX_MUTEX_DEADLOCK_DETECTION=1 asks for it while debugging.
  const char* detect = getenv("SANDBOX_MUTEX_DEADLOCK_DETECTION");
  if (detect == nullptr || strcmp(detect, "1") != 0) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cl = runsc::ParseCommandLine(args);
  if (!cl.ok()) {
    fprintf(stderr, "runsc: %s\n", std::string(cl.status().message()).c_str());
    Usage(stderr);
    return 2;
  }
  if (cl->flags.help || cl->command.empty()) {
    Usage(cl->flags.help ? stdout : stderr);
    return cl->flags.help ? 0 : 2;
  }
  sentry::SetLogLevel(ParseLevel(cl->flags.log_level));
  SLOG(kDebug, "boot: runsc %s", cl->command);
  for (const Command& c : kCommands) {
    if (cl->command == c.name) return c.run(*cl);
  }
  fprintf(stderr, "runsc: unknown command \"%s\"\n", cl->command.c_str());
  Usage(stderr);
  return 2;
}
