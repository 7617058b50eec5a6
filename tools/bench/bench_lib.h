// The parts of sandbox_bench that need no runner, kept apart so that they are
// unit-tested (bench_lib_test.cc): the --configs syntax, the generated C file the
// gcc row compiles, medians and the number formats of the tables.
#ifndef TOOLS_BENCH_BENCH_LIB_H_
#define TOOLS_BENCH_BENCH_LIB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bench {

// Whether a configuration asks for systrap's syscall-site patching explicitly.
enum class Patching {
  kUnspecified,  // the configuration does not name --systrap-patching
  kOff,          // --systrap-patching=false; a runsc without the flag never patches,
                 // so the column falls back to plain --platform=systrap
  kOn,           // --systrap-patching=true; a runsc without the flag gives n/a
};

// One column of our runsc: `runsc do FLAGS -- PROGRAM`.
struct Config {
  std::string name;
  std::vector<std::string> flags;
  Patching patching = Patching::kUnspecified;
};

// The configuration a name stands for: "ptrace", "systrap" (patching off; alias
// "systrap-nopatch"), "systrap+patch" (patching on; alias "systrap-patch"), or
// "NAME=FLAGS" with space-separated runsc flags.
absl::StatusOr<Config> ParseConfig(absl::string_view spec);

// A comma-separated list of the above; at least one, names distinct.
absl::StatusOr<std::vector<Config>> ParseConfigs(absl::string_view specs);

// A C program of exactly `lines` lines (at least 20): <stdio.h>, functions with
// loops, and a main that prints one number; `expected_stdout` is what it prints.
struct CProgram {
  std::string source;
  std::string expected_stdout;
};
CProgram GenerateCProgram(int lines);

// The median of a non-empty vector.
double Median(std::vector<double> v);

// Three significant digits, no exponent: 0.136, 5.52, 20.2, 148, 10194.
std::string ThreeDigits(double v);

}  // namespace bench

#endif  // TOOLS_BENCH_BENCH_LIB_H_
