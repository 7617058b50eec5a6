// runsc syscalls [--format=text|markdown|json]: the syscall table, as data.
#include <cstdio>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "runsc/cmd/commands.h"
#include "sentry/syscalls/handlers.h"

namespace runsc {
namespace {

const char* SupportName(sentry::kernel::Support s) {
  switch (s) {
    case sentry::kernel::Support::kFull:
      return "full";
    case sentry::kernel::Support::kPartial:
      return "partial";
    case sentry::kernel::Support::kUnimplemented:
      return "unimplemented";
  }
  return "?";
}

}  // namespace

int SyscallsCommand(const CommandLine& cl) {
  const auto& table = sentry::syscalls::Linux64Table();
  const std::string& format = cl.flags.format;
  nlohmann::json json = nlohmann::json::array();
  if (format == "markdown") {
    printf("| number | name | support | note |\n|---:|---|---|---|\n");
  }
  for (size_t nr = 0; nr < table.entries.size(); ++nr) {
    const auto& e = table.entries[nr];
    if (e.name == nullptr) continue;
    std::string note = e.note;
    if (e.support == sentry::kernel::Support::kUnimplemented) {
      std::string err(sentry::ErrnoName(e.error));
      note = note.empty() ? "returns " + err : note + " (returns " + err + ")";
    }
    if (format == "json") {
      json.push_back(
          {{"number", nr}, {"name", e.name}, {"support", SupportName(e.support)}, {"note", note}});
    } else if (format == "markdown") {
      printf("| %zu | `%s` | %s | %s |\n", nr, e.name, SupportName(e.support), note.c_str());
    } else {
      printf("%-4zu %-24s %-14s %s\n", nr, e.name, SupportName(e.support), note.c_str());
    }
  }
  if (format == "json") printf("%s\n", json.dump(2).c_str());
  return 0;
}

}  // namespace runsc
