// syscalls_tests_runner: runs the syscall test binaries natively and inside the
// sandbox, judges the sandbox against expectations.txt, writes the report.
//
//   syscalls_tests_runner --runsc=PATH [--platforms=ptrace[,systrap]] [--jobs=2]
//       [--timeout=60] [--expectations=FILE] [--report_dir=DIR] [--native_only]
//       [--strict] BINARY...
//
// Exit status: 0 when every case passes natively and every sandbox failure is
// listed in the expectations; 1 otherwise; 2 for a bad command line.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "syscalls-tests/runner/expectations.h"
#include "syscalls-tests/runner/report.h"
#include "syscalls-tests/runner/suite.h"

namespace syscalls_runner {
namespace {

constexpr char kUsage[] =
    "usage: syscalls_tests_runner --runsc=PATH [--platforms=ptrace,...] [--jobs=N]\n"
    "           [--timeout=SECONDS] [--expectations=FILE] [--report_dir=DIR]\n"
    "           [--native_only] [--strict] BINARY...\n";

bool Flag(std::string_view arg, std::string_view name, std::string* value) {
  const std::string prefix = absl::StrFormat("--%s=", name);
  if (!arg.starts_with(prefix)) return false;
  *value = std::string(arg.substr(prefix.size()));
  return true;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    fprintf(stderr, "syscalls_tests_runner: cannot write %s: %s\n", path.c_str(), strerror(errno));
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  SuiteOptions o;
  std::string expectations_path, report_dir, value;
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    if (Flag(arg, "runsc", &value)) {
      o.runsc = value;
    } else if (Flag(arg, "platforms", &value)) {
      o.platforms.clear();
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string p =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!p.empty()) o.platforms.push_back(p);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (Flag(arg, "jobs", &value)) {
      if (!absl::SimpleAtoi(value, &o.jobs) || o.jobs < 1) {
        fprintf(stderr, "--jobs wants a positive number\n%s", kUsage);
        return 2;
      }
    } else if (Flag(arg, "timeout", &value)) {
      int seconds;
      if (!absl::SimpleAtoi(value, &seconds) || seconds < 1) {
        fprintf(stderr, "--timeout wants seconds\n%s", kUsage);
        return 2;
      }
      o.timeout = absl::Seconds(seconds);
    } else if (Flag(arg, "expectations", &value)) {
      expectations_path = value;
    } else if (Flag(arg, "report_dir", &value)) {
      report_dir = value;
    } else if (arg == "--native_only") {
      o.native_only = true;
    } else if (arg == "--strict") {
      o.strict = true;
    } else if (arg == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else if (arg.starts_with("--")) {
      fprintf(stderr, "unknown flag %s\n%s", argv[i], kUsage);
      return 2;
    } else {
      o.binaries.emplace_back(arg);
    }
  }
  if (o.binaries.empty() || (o.runsc.empty() && !o.native_only) || o.platforms.empty()) {
    fputs(kUsage, stderr);
    return 2;
  }

  std::vector<Expectation> expectations;
  if (!expectations_path.empty()) {
    std::ifstream f(expectations_path);
    if (!f) {
      fprintf(stderr, "syscalls_tests_runner: cannot read %s: %s\n", expectations_path.c_str(),
              strerror(errno));
      return 2;
    }
    std::stringstream text;
    text << f.rdbuf();
    auto parsed = ParseExpectations(text.str());
    if (!parsed.ok()) {
      fprintf(stderr, "syscalls_tests_runner: %s: %s\n", expectations_path.c_str(),
              std::string(parsed.status().message()).c_str());
      return 2;
    }
    expectations = std::move(*parsed);
  }

  const SuiteReport report = RunSuite(o, std::move(expectations));
  fputs(Summary(report).c_str(), stdout);
  if (!report_dir.empty()) {
    mkdir(report_dir.c_str(), 0755);
    const std::string json = report_dir + "/report.json", md = report_dir + "/report.md";
    if (!WriteFile(json, ReportJson(report)) || !WriteFile(md, ReportMarkdown(report))) return 1;
    printf("report: %s, %s\n", md.c_str(), json.c_str());
  }
  return report.ok() ? 0 : 1;
}

}  // namespace
}  // namespace syscalls_runner

int main(int argc, char** argv) { return syscalls_runner::Main(argc, argv); }
