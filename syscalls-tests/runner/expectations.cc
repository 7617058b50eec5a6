#include "syscalls-tests/runner/expectations.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "syscalls-tests/runner/text.h"

namespace syscalls_runner {

absl::StatusOr<std::vector<Expectation>> ParseExpectations(std::string_view text) {
  std::vector<Expectation> list;
  int line_no = 0;
  for (std::string_view line : Lines(text)) {
    line_no++;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields = Fields(line, 3);
    if (fields.size() < 3 || fields[2].empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "line %d: want \"<family>/<Suite.Name>[@platform] <syscall> <reason>\", got \"%s\"",
          line_no, line));
    }
    Expectation e;
    e.line = line_no;
    std::string_view pattern = fields[0];
    if (size_t at = pattern.find('@'); at != std::string_view::npos) {
      e.platform = std::string(pattern.substr(at + 1));
      pattern = pattern.substr(0, at);
    }
    if (pattern.find('/') == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d: \"%s\" is not <family>/<Suite.Name>", line_no, fields[0]));
    }
    e.pattern = std::string(pattern);
    e.syscall = std::string(fields[1]);
    e.reason = std::string(fields[2]);
    list.push_back(std::move(e));
  }
  return list;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*'.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      p++;
      t++;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

const Expectation* FindExpectation(const std::vector<Expectation>& list, std::string_view id,
                                   std::string_view platform) {
  for (const Expectation& e : list) {
    if (!e.platform.empty() && e.platform != platform) continue;
    if (GlobMatch(e.pattern, id)) return &e;
  }
  return nullptr;
}

}  // namespace syscalls_runner
