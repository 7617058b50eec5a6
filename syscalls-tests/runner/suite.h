// The suite run: every test binary natively and inside the sandbox (once per
// platform), several at once, and the judgement of the sandbox's results
// against expectations.txt.
#ifndef SYSCALLS_TESTS_RUNNER_SUITE_H_
#define SYSCALLS_TESTS_RUNNER_SUITE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "syscalls-tests/runner/expectations.h"
#include "syscalls-tests/runner/gtest_log.h"

namespace syscalls_runner {

struct SuiteOptions {
  std::string runsc;
  std::vector<std::string> platforms = {"ptrace"};
  int jobs = 2;
  absl::Duration timeout = absl::Seconds(60);  // per run of one binary
  std::vector<std::string> binaries;
  bool native_only = false;
  // Listed cases that pass in the sandbox fail the run too.
  bool strict = false;
};

// How one case fared inside the sandbox on one platform, judged.
enum class Verdict {
  kPass,               // passed (or skipped), and not listed
  kSkip,               // skipped in the sandbox
  kExpectedFailure,    // failed, and listed
  kUnexpectedFailure,  // failed, not listed: fails the run
  kUnexpectedPass,     // listed, but passed: the list should shrink
};

std::string_view VerdictName(Verdict v);

struct CaseReport {
  std::string family;
  std::string name;  // Suite.Name
  std::string id() const { return family + "/" + name; }
  CaseOutcome native;
  std::map<std::string, CaseOutcome> sandbox;             // by platform
  std::map<std::string, Verdict> verdict;                 // by platform
  std::map<std::string, const Expectation*> expectation;  // by platform, when listed
};

struct ExpectationStatus {
  const Expectation* expectation;
  std::vector<std::string> failing;  // case ids it covers that failed
  std::vector<std::string> passing;  // case ids it covers that passed
};

struct SuiteReport {
  SuiteOptions options;
  std::vector<CaseReport> cases;
  std::vector<Expectation> expectations;
  std::vector<ExpectationStatus> expectation_status;
  // Why the run fails (native failures, unexpected sandbox failures, bad
  // expectations), and what merely deserves attention.
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  // One line per process run: what ran, how it ended, how long it took.
  std::vector<std::string> runs;
  std::set<std::string> syscall_table;  // entry names, from `runsc syscalls`
  absl::Duration wall;

  bool ok() const { return problems.empty(); }
};

// Runs everything and judges it. `expectations` is already parsed.
SuiteReport RunSuite(const SuiteOptions& options, std::vector<Expectation> expectations);

// "mmap" for ".../mmap_test".
std::string FamilyOf(const std::string& binary);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_SUITE_H_
