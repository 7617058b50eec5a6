// runsc's flags: one schema for every subcommand (like runsc's global flags,
// they may come before or after the subcommand name).
#ifndef RUNSC_FLAGS_H_
#define RUNSC_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace runsc {

struct Flags {
  std::string platform = "auto";  // systrap where the host allows it, else ptrace
  bool strace = false;
  bool aslr = true;                // --aslr=false fixes the guest's layout
  bool vdso = true;                // --vdso=false: no vDSO, every clock call traps
  bool systrap_patching = true;    // --systrap-patching=false: systrap traps every syscall
  std::string overlay = "memory";  // the root: a tmpfs over the host's ("memory") or not ("none")
  std::string log_level = "warning";  // debug, info, warning, error
  std::string report;                 // runsc do --report=FILE: the compatibility report
  std::string format = "text";        // output of `runsc syscalls`: text, markdown, json
  bool help = false;
};

struct CommandLine {
  Flags flags;
  std::string command;            // "do", "syscalls", ...
  std::vector<std::string> args;  // what follows the command (after "--" if given)
};

// Parses argv (without argv[0]). Unknown flags and bad values are errors naming
// the flag.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& argv);

// The flag reference, for --help.
std::string FlagsHelp();

}  // namespace runsc

#endif  // RUNSC_FLAGS_H_
