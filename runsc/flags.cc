#include "runsc/flags.h"

#include <functional>
#include <map>

#include "absl/strings/str_format.h"

namespace runsc {
namespace {

absl::StatusOr<bool> ParseBool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrFormat("flag --%s: \"%s\" is not a boolean (true or false)", name, v));
}

struct FlagDef {
  bool is_bool;
  const char* help;
  std::function<absl::Status(Flags&, const std::string&)> set;
};

const std::map<std::string, FlagDef>& Defs() {
  static const auto* defs = new std::map<std::string, FlagDef>{
      {"platform",
       {false,
        "the platform that runs guest code: systrap, ptrace, or auto (the default: systrap "
        "where the host allows it, else ptrace)",
        [](Flags& f, const std::string& v) -> absl::Status {
          if (v != "ptrace" && v != "systrap" && v != "auto") {
            return absl::InvalidArgumentError(absl::StrFormat(
                "flag --platform: unknown platform \"%s\" (known: auto, ptrace, systrap)", v));
          }
          f.platform = v;
          return absl::OkStatus();
        }}},
      {"systrap-patching",
       {true,
        "with --platform=systrap, rewrite `mov $nr, %eax; syscall` sites in the guest's "
        "read-only code to enter the Sentry without a signal (default true)",
        [](Flags& f, const std::string& v) -> absl::Status {
          auto b = ParseBool("systrap-patching", v);
          if (!b.ok()) return b.status();
          f.systrap_patching = *b;
          return absl::OkStatus();
        }}},
      {"strace",
       {true, "print every guest syscall with its arguments and result to stderr",
        [](Flags& f, const std::string& v) -> absl::Status {
          auto b = ParseBool("strace", v);
          if (!b.ok()) return b.status();
          f.strace = *b;
          return absl::OkStatus();
        }}},
      {"aslr",
       {true, "randomize the guest's address-space layout (default true)",
        [](Flags& f, const std::string& v) -> absl::Status {
          auto b = ParseBool("aslr", v);
          if (!b.ok()) return b.status();
          f.aslr = *b;
          return absl::OkStatus();
        }}},
      {"vdso",
       {true,
        "map the Sentry's vDSO into the guest, so that clock_gettime, gettimeofday, time "
        "and getcpu need no syscall (default true; false for debugging: every call traps)",
        [](Flags& f, const std::string& v) -> absl::Status {
          auto b = ParseBool("vdso", v);
          if (!b.ok()) return b.status();
          f.vdso = *b;
          return absl::OkStatus();
        }}},
      {"overlay",
       {false,
        "the root filesystem: \"memory\" (default) keeps the guest's changes in a tmpfs "
        "over the host's files; \"none\" uses the gofer's view directly (read-only "
        "under runsc do)",
        [](Flags& f, const std::string& v) -> absl::Status {
          if (v != "memory" && v != "none") {
            return absl::InvalidArgumentError(
                absl::StrFormat("flag --overlay: \"%s\" is not one of memory, none", v));
          }
          f.overlay = v;
          return absl::OkStatus();
        }}},
      {"report",
       {false,
        "runsc do: write to FILE, when the program ends, every unimplemented or partly "
        "supported syscall, flag, ioctl and option it used, with counts (JSON)",
        [](Flags& f, const std::string& v) -> absl::Status {
          if (v.empty()) return absl::InvalidArgumentError("flag --report: needs a file name");
          f.report = v;
          return absl::OkStatus();
        }}},
      {"log-level",
       {false, "the Sentry's log level: debug, info, warning, error",
        [](Flags& f, const std::string& v) -> absl::Status {
          if (v != "debug" && v != "info" && v != "warning" && v != "error") {
            return absl::InvalidArgumentError(absl::StrFormat(
                "flag --log-level: \"%s\" is not one of debug, info, warning, error", v));
          }
          f.log_level = v;
          return absl::OkStatus();
        }}},
      {"format",
       {false, "output format of `runsc syscalls`: text, markdown, json",
        [](Flags& f, const std::string& v) -> absl::Status {
          if (v != "text" && v != "markdown" && v != "json") {
            return absl::InvalidArgumentError(
                absl::StrFormat("flag --format: \"%s\" is not one of text, markdown, json", v));
          }
          f.format = v;
          return absl::OkStatus();
        }}},
      {"help",
       {true, "print this help",
        [](Flags& f, const std::string& v) -> absl::Status {
          auto b = ParseBool("help", v);
          if (!b.ok()) return b.status();
          f.help = *b;
          return absl::OkStatus();
        }}},
  };
  return *defs;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& argv) {
  CommandLine cl;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      cl.args.insert(cl.args.end(), argv.begin() + i + 1, argv.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string body = a.substr(a[1] == '-' ? 2 : 1);
      std::string name = body, value;
      bool has_value = false;
      if (auto eq = body.find('='); eq != std::string::npos) {
        name = body.substr(0, eq);
        value = body.substr(eq + 1);
        has_value = true;
      }
      if (name == "h") name = "help";
      auto it = Defs().find(name);
      if (it == Defs().end()) {
        return absl::InvalidArgumentError(absl::StrFormat("unknown flag \"%s\"", a));
      }
      if (!has_value) {
        if (it->second.is_bool) {
          value = "true";
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return absl::InvalidArgumentError(absl::StrFormat("flag --%s needs a value", name));
        }
      }
      if (absl::Status s = it->second.set(cl.flags, value); !s.ok()) return s;
      continue;
    }
    if (cl.command.empty()) {
      cl.command = a;
    } else {
      // Positional arguments: the rest belongs to the command (no more flags).
      cl.args.insert(cl.args.end(), argv.begin() + i, argv.end());
      break;
    }
  }
  return cl;
}

std::string FlagsHelp() {
  std::string out;
  for (const auto& [name, def] : Defs()) {
    out += absl::StrFormat("  --%-12s %s\n", name + (def.is_bool ? "" : "=..."), def.help);
  }
  return out;
}

}  // namespace runsc
