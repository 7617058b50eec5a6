#include "sentry/loader/script.h"

#include <cstdint>
#include <utility>

#include "sentry/base/status_macros.h"

namespace sentry::loader {
namespace {

constexpr size_t kBinprmBufSize = 256;  // BINPRM_BUF_SIZE: the "#!" line's limit
constexpr int kMaxInterpDepth = 5;      // nested interpreters (exec_binprm)

void Trim(std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t");
  s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

ErrnoOr<std::optional<Shebang>> ReadShebang(ExecutableFile& f) {
  char buf[kBinprmBufSize];
  ASSIGN_OR_RETURN(size_t n, f.ReadAt({reinterpret_cast<uint8_t*>(buf), sizeof(buf)}, 0));
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return std::optional<Shebang>();
  std::string line(buf + 2, n - 2);
  const size_t nl = line.find('\n');
  if (nl != std::string::npos) {
    line.resize(nl);
  } else if (n == sizeof(buf)) {
    // A line longer than the buffer: only an error if the interpreter's
    // name itself does not end within it (Linux 5.1+).
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.find_first_of(" \t", start) == std::string::npos) {
      return Errno(ENOEXEC);
    }
  }
  Trim(line);
  if (line.empty()) return Errno(ENOEXEC);
  Shebang sb;
  const size_t sp = line.find_first_of(" \t");
  sb.interp = line.substr(0, sp);
  if (sp != std::string::npos) {
    std::string arg = line.substr(sp);
    Trim(arg);
    if (!arg.empty()) sb.arg = arg;
  }
  return std::optional<Shebang>(sb);
}

ErrnoOr<std::unique_ptr<ExecutableFile>> FollowScripts(ExecutableFile& first,
                                                       const std::string& filename,
                                                       std::vector<std::string>* argv,
                                                       const OpenExecutableFn& open) {
  std::unique_ptr<ExecutableFile> interp;
  ExecutableFile* current = &first;
  // The name each interpreter is given for its script: the path exec was
  // given, then the previous interpreter's.
  std::string script = filename;
  for (int depth = 0;; ++depth) {
    ASSIGN_OR_RETURN(std::optional<Shebang> sb, ReadShebang(*current));
    if (!sb.has_value()) return interp;
    if (depth >= kMaxInterpDepth) return Errno(ELOOP);
    // argv[0] is replaced by the interpreter, its argument and the script.
    std::vector<std::string> next{sb->interp};
    if (sb->arg.has_value()) next.push_back(*sb->arg);
    next.push_back(script);
    if (!argv->empty()) next.insert(next.end(), argv->begin() + 1, argv->end());
    *argv = std::move(next);
    ASSIGN_OR_RETURN(interp, open(sb->interp));
    current = interp.get();
    script = sb->interp;
  }
}

}  // namespace sentry::loader
