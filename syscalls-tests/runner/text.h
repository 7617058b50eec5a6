// Small std::string_view helpers. NOTE: Debian's abseil has its own
// absl::string_view, which std::string_view does not convert to, so the
// runner keeps abseil to StrFormat/StrJoin and splits text itself.
#ifndef SYSCALLS_TESTS_RUNNER_TEXT_H_
#define SYSCALLS_TESTS_RUNNER_TEXT_H_

#include <string_view>
#include <vector>

namespace syscalls_runner {

// The lines of `text`, without their '\n' (or "\r\n").
std::vector<std::string_view> Lines(std::string_view text);

// `s` without leading and trailing spaces, tabs and line ends.
std::string_view Trim(std::string_view s);

// Splits `s` at runs of spaces or tabs into at most `max` fields; the last
// field keeps the rest of the line (trimmed).
std::vector<std::string_view> Fields(std::string_view s, size_t max);

}  // namespace syscalls_runner

#endif  // SYSCALLS_TESTS_RUNNER_TEXT_H_
