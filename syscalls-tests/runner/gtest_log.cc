#include "syscalls-tests/runner/gtest_log.h"

#include <algorithm>

#include "syscalls-tests/runner/text.h"

namespace syscalls_runner {
namespace {

constexpr size_t kMaxOutput = 4096;

constexpr std::string_view kRun = "[ RUN      ] ";
constexpr std::string_view kOk = "[       OK ] ";
constexpr std::string_view kFailed = "[  FAILED  ] ";
constexpr std::string_view kSkipped = "[  SKIPPED ] ";

// "Suite.Name (3 ms)" or "P/Suite.Name/0, where GetParam() = 4 (0 ms)" ->
// the name alone.
std::string_view CaseName(std::string_view rest) {
  size_t end = rest.find(", where ");
  if (end == std::string_view::npos) end = rest.find(" (");
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  return Trim(rest);
}

void Append(std::string& out, std::string_view line) {
  if (out.size() >= kMaxOutput) return;
  out.append(line.substr(0, kMaxOutput - out.size()));
  out.push_back('\n');
  if (out.size() >= kMaxOutput) out.append("[... truncated]\n");
}

}  // namespace

std::string_view ResultName(Result r) {
  switch (r) {
    case Result::kPass:
      return "pass";
    case Result::kFail:
      return "fail";
    case Result::kSkip:
      return "skip";
    case Result::kCrash:
      return "crash";
    case Result::kTimeout:
      return "timeout";
    case Result::kNotRun:
      return "not run";
  }
  return "?";
}

ParsedLog ParseGtestLog(std::string_view text) {
  ParsedLog log;
  std::optional<CaseOutcome> current;
  for (std::string_view line : Lines(text)) {
    if (line.starts_with(kRun)) {
      // A [ RUN ] while another case is open cannot come from gtest; treat the
      // open one as unfinished output and start over.
      current = CaseOutcome{std::string(CaseName(line.substr(kRun.size()))), Result::kNotRun, ""};
      continue;
    }
    if (!current) continue;
    std::optional<Result> closes;
    std::string_view rest;
    if (line.starts_with(kOk)) {
      closes = Result::kPass;
      rest = line.substr(kOk.size());
    } else if (line.starts_with(kFailed)) {
      closes = Result::kFail;
      rest = line.substr(kFailed.size());
    } else if (line.starts_with(kSkipped)) {
      closes = Result::kSkip;
      rest = line.substr(kSkipped.size());
    }
    if (closes && CaseName(rest) == current->name) {
      current->result = *closes;
      log.finished.push_back(std::move(*current));
      current.reset();
      continue;
    }
    Append(current->output, line);
  }
  log.unfinished = std::move(current);
  return log;
}

std::vector<std::string> ParseTestList(std::string_view text) {
  std::vector<std::string> cases;
  std::string suite;
  for (std::string_view line : Lines(text)) {
    // Drop "  # GetParam() = ..." comments.
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (Trim(line).empty()) continue;
    if (line[0] != ' ') {
      std::string_view s = Trim(line);
      // Other chatter (e.g. our main()'s first line) has no trailing dot.
      suite = s.ends_with('.') ? std::string(s) : "";
      continue;
    }
    if (suite.empty()) continue;
    cases.push_back(suite + std::string(Trim(line)));
  }
  return cases;
}

std::optional<std::string> SandboxSkipEntry(std::string_view output) {
  constexpr std::string_view kPrefix = "sandbox lacks ";
  for (std::string_view line : Lines(output)) {
    if (!line.starts_with(kPrefix)) continue;
    line.remove_prefix(kPrefix.size());
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    return std::string(line.substr(0, colon));
  }
  return std::nullopt;
}

std::string SkipReason(std::string_view output) {
  std::string reason;
  for (std::string_view line : Lines(output)) {
    line = Trim(line);
    if (line.empty() || line.ends_with(": Skipped")) continue;
    reason = std::string(line);
  }
  return reason;
}

}  // namespace syscalls_runner
