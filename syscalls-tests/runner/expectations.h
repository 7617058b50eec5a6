// expectations.txt: the cases known to fail inside the sandbox, each tied to
// an entry of the syscall table and a reason.
//
//   # comment
//   <case>[@<platform>]  <syscall>  <reason...>
//
// <case> is family/Suite.Name (family = the binary's name without _test), with
// `*` matching any run of characters. <syscall> must be an entry of `runsc
// syscalls`. <reason> says what Linux does and what the sandbox does.
#ifndef SYSCALLS_TESTS_RUNNER_EXPECTATIONS_H_
#define SYSCALLS_TESTS_RUNNER_EXPECTATIONS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace syscalls_runner {

struct Expectation {
  std::string pattern;   // family/Suite.Name glob
  std::string platform;  // empty: every platform
  std::string syscall;   // the syscall-table entry
  std::string reason;
  int line = 0;  // in the file, for messages
};

// Parses the file's text; an error names the line.
absl::StatusOr<std::vector<Expectation>> ParseExpectations(std::string_view text);

// Shell-style match of `text` against `pattern`, where only `*` is special.
bool GlobMatch(std::string_view pattern, std::string_view text);

// The first expectation that covers case `id` (family/Suite.Name) on
// `platform`, if any.
const Expectation* FindExpectation(const std::vector<Expectation>& list, std::string_view id,
                                   std::string_view platform);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_EXPECTATIONS_H_
