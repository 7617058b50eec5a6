// Reading gtest's console output. The runner parses stdout rather than
// --gtest_output=json: inside the sandbox there is no filesystem to write the
// JSON file to, and the console format is the same on both sides.
#ifndef SYSCALLS_TESTS_RUNNER_GTEST_LOG_H_
#define SYSCALLS_TESTS_RUNNER_GTEST_LOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syscalls_runner {

enum class Result {
  kPass,
  kFail,
  kSkip,
  kCrash,    // the binary died (or the sandbox did) while the case ran
  kTimeout,  // the binary ran out of time while the case ran
  kNotRun,   // the binary never got to the case
};

// "pass", "fail", "skip", "crash", "timeout", "not run".
std::string_view ResultName(Result r);

struct CaseOutcome {
  std::string name;  // Suite.Name, as --gtest_list_tests spells it
  Result result = Result::kNotRun;
  // What gtest printed between the case's [ RUN ] and its result line (the
  // failure messages, the skip reason), trimmed to a few KiB.
  std::string output;
};

struct ParsedLog {
  std::vector<CaseOutcome> finished;
  // The case whose [ RUN ] line was the last thing seen, if it never
  // finished, with what it printed so far.
  std::optional<CaseOutcome> unfinished;
};

// Parses gtest's console output: `[ RUN      ] X` opens a case, and the next
// `[       OK ] X`, `[  FAILED  ] X` or `[  SKIPPED ] X` closes it. The summary
// lines gtest prints at the end are outside any case and ignored.
ParsedLog ParseGtestLog(std::string_view text);

// Parses `--gtest_list_tests` into Suite.Name entries, in order.
std::vector<std::string> ParseTestList(std::string_view text);

// For a sandbox-only skip (SKIP_IF_SANDBOX in util/test_util.h), the syscall
// table entry its message names: "fork" for "sandbox lacks fork: ...".
std::optional<std::string> SandboxSkipEntry(std::string_view output);

// The last line of a skip's output that is not gtest's "file:line: Skipped".
std::string SkipReason(std::string_view output);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_GTEST_LOG_H_
