// The suite's report, as JSON (for tools) and markdown (for people), and the
// short summary printed at the end of a run.
#ifndef SYSCALLS_TESTS_RUNNER_REPORT_H_
#define SYSCALLS_TESTS_RUNNER_REPORT_H_

#include <string>

#include "syscalls-tests/runner/suite.h"

namespace syscalls_runner {

std::string ReportJson(const SuiteReport& r);
std::string ReportMarkdown(const SuiteReport& r);
// Per family counts, the problems and notes: what a terminal or a CI log shows.
std::string Summary(const SuiteReport& r);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_REPORT_H_
