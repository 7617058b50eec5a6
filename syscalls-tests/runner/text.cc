#include "syscalls-tests/runner/text.h"

namespace syscalls_runner {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> Fields(std::string_view s, size_t max) {
  std::vector<std::string_view> fields;
  s = Trim(s);
  while (!s.empty()) {
    if (fields.size() + 1 == max) {
      fields.push_back(Trim(s));
      break;
    }
    size_t end = s.find_first_of(" \t");
    fields.push_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s = Trim(s.substr(end));
  }
  return fields;
}

}  // namespace syscalls_runner
