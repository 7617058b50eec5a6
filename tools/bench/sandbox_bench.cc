// sandbox_bench: whole-process timings of small static workloads, natively,
// under our runsc and under Debian's gVisor runsc, side by side with ratios.
//
//   getppid      ns per getppid(2) round trip, measured inside the guest
//   clock        ns per clock_gettime(CLOCK_MONOTONIC) through libc: the vDSO,
//                where the kernel (or sandbox) maps one, else a syscall
//   touch        ns to fault in N MiB of fresh anonymous memory, inside the guest
//   hello        wall time of a whole static hello world, start to reap (median)
//   files        stat, open+close and 4 KiB pread, ns each, inside the guest: on a
//                file in /tmp (tmpfs in the sandboxes) and on a host file (the
//                workload binary itself, reached through the gofer)
//   fork_exit    fork + _exit + wait4, µs per iteration, inside the guest
//   fork_exec    fork + execve of a static program that exits at once + wait4
//   pipe         one byte bounced between two processes over two pipes, µs per
//                round trip
//   futex        a futex word bounced between two threads, µs per round trip
//
// One run per cell, or the median of --repeats runs (the hello cell takes the
// median of --runs within each). A runner that is
// missing or fails shows "n/a" and a note says why; the tool still exits 0, as
// numbers are reported, never asserted (DESIGN.md §10).
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/e2e/runsc_under_test.h"
#include "tests/e2e/subprocess.h"

#ifndef BENCH_WORKLOADS_DIR
#error "BENCH_WORKLOADS_DIR must name the directory of the built workloads"
#endif

ABSL_FLAG(int, runs, 10, "hello world runs per runner; the median wall time is reported");
ABSL_FLAG(int64_t, getppid_calls, 0,
          "getppid calls per run; 0 calibrates each runner so that a run takes about "
          "--target_ms");
ABSL_FLAG(int, target_ms, 1000, "target duration of a calibrated getppid run");
ABSL_FLAG(int, clock_ms, 200, "how long the clock_gettime workload calls the clock");
ABSL_FLAG(int, touch_mib, 64, "MiB of fresh anonymous memory the touch workload faults in");
ABSL_FLAG(std::string, ours, "", "our runsc (default: $SANDBOX_RUNSC, else the build tree's)");
ABSL_FLAG(std::string, platform, "",
          "--platform for our runsc (default: $SANDBOX_PLATFORM, else ptrace)");
ABSL_FLAG(std::string, debian_runsc, "/usr/bin/runsc",
          "Debian's gVisor runsc; empty leaves it out");
ABSL_FLAG(std::string, debian_flags, "--platform=ptrace --network=none",
          "global flags for Debian's runsc (it runs `runsc FLAGS do -- PROGRAM`)");
ABSL_FLAG(int64_t, file_ops, 20000, "operations per file benchmark run");
ABSL_FLAG(int, fork_iterations, 200, "fork_exit iterations per run (fork_exec does half as many)");
ABSL_FLAG(int, pingpong_rounds, 5000, "round trips per pipe/futex ping-pong run");
ABSL_FLAG(int, repeats, 1, "runs per cell; the median is reported");
ABSL_FLAG(std::string, only, "",
          "comma-separated substrings of benchmark names (e.g. \"fork,ping-pong\"): "
          "run only the rows whose name contains one of them (default: all)");
ABSL_FLAG(int, timeout_s, 120, "per-run timeout; the process group is killed after it");

namespace bench {
namespace {

using e2e::RunOptions;
using e2e::RunProcess;
using e2e::RunResult;

std::string Workload(const std::string& name) {
  return std::string(BENCH_WORKLOADS_DIR "/") + name;
}

// How one runner starts a guest: native, ours or Debian's.
struct Runner {
  std::string name;
  std::string how;       // the command prefix, for the header
  std::string unusable;  // non-empty: every cell is n/a for this reason
  std::function<std::vector<std::string>(const std::vector<std::string>&)> wrap;
};

std::vector<Runner> Runners() {
  std::vector<Runner> runners;
  runners.push_back({"native", "(direct execve)", "",
                     [](const std::vector<std::string>& guest) { return guest; }});

  std::string ours = absl::GetFlag(FLAGS_ours);
  if (ours.empty()) ours = e2e::RunscPath();
  std::string platform = absl::GetFlag(FLAGS_platform);
  if (platform.empty()) platform = e2e::RunscPlatform();
  runners.push_back({"ours", absl::StrFormat("%s do --platform=%s --", ours, platform),
                     e2e::RunscUnusableReason(ours),
                     [ours, platform](const std::vector<std::string>& guest) {
                       std::vector<std::string> argv = e2e::RunscDoArgv(guest, platform);
                       argv[0] = ours;
                       return argv;
                     }});

  std::string debian = absl::GetFlag(FLAGS_debian_runsc);
  std::vector<std::string> flags =
      absl::StrSplit(absl::GetFlag(FLAGS_debian_flags), ' ', absl::SkipEmpty());
  std::string unusable;
  if (debian.empty()) {
    unusable = "left out (--debian_runsc is empty)";
  } else if (access(debian.c_str(), X_OK) != 0) {
    unusable = absl::StrFormat("%s not found (apt install runsc)", debian);
  }
  runners.push_back({"debian", absl::StrFormat("%s %s do --", debian, absl::StrJoin(flags, " ")),
                     unusable, [debian, flags](const std::vector<std::string>& guest) {
                       std::vector<std::string> argv = {debian};
                       argv.insert(argv.end(), flags.begin(), flags.end());
                       argv.push_back("do");
                       argv.push_back("--");
                       argv.insert(argv.end(), guest.begin(), guest.end());
                       return argv;
                     }});
  return runners;
}

// Why a run failed, in one line: its status and the last line of its stderr.
std::string Failure(const RunResult& r) {
  std::string why = r.Describe();
  std::vector<absl::string_view> lines = absl::StrSplit(r.err, '\n', absl::SkipWhitespace());
  if (!lines.empty()) {
    std::string last(absl::StripAsciiWhitespace(lines.back()));
    if (last.size() > 200) last = last.substr(0, 200) + "...";
    why += absl::StrFormat(": %s", last);
  }
  if (geteuid() != 0) why += " (not root: Debian's runsc needs root)";
  return why;
}

RunResult Run(const Runner& runner, const std::vector<std::string>& guest) {
  RunOptions options;
  options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  return RunProcess(runner.wrap(guest), options);
}

// The number on the line "KEY VALUE" of a workload's stdout.
absl::StatusOr<double> Field(const RunResult& r, absl::string_view key) {
  if (!r.started || r.timed_out || r.status != 0) return absl::UnavailableError(Failure(r));
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ');
    double v;
    if (kv.size() == 2 && kv[0] == key && absl::SimpleAtod(kv[1], &v)) return v;
  }
  return absl::DataLossError(absl::StrFormat("no \"%s\" line in its stdout: \"%s\"", key,
                                             absl::CEscape(r.out.substr(0, 200))));
}

// getppid round trip, ns per call. `calls` reports the N used.
absl::StatusOr<double> Getppid(const Runner& runner, int64_t* calls) {
  const std::string prog = Workload("getppid_loop");
  int64_t n = absl::GetFlag(FLAGS_getppid_calls);
  if (n <= 0) {
    // Calibrate: a short run gives the per-call cost on this runner, which sets
    // N so that the measured run takes about --target_ms.
    const int64_t kProbe = 2000;
    absl::StatusOr<double> probe =
        Field(Run(runner, {prog, std::to_string(kProbe)}), "getppid_ns_per_call");
    if (!probe.ok()) return probe.status();
    double target_ns = absl::GetFlag(FLAGS_target_ms) * 1e6;
    n = static_cast<int64_t>(target_ns / std::max(*probe, 1.0));
    n = std::clamp<int64_t>(n, kProbe, 50'000'000);
  }
  *calls = n;
  return Field(Run(runner, {prog, std::to_string(n)}), "getppid_ns_per_call");
}

// clock_gettime through libc, ns per call, over about --clock_ms.
absl::StatusOr<double> Clock(const Runner& runner) {
  return Field(Run(runner, {Workload("clock_loop"), std::to_string(absl::GetFlag(FLAGS_clock_ms))}),
               "clock_ns_per_call");
}

// Faulting in --touch_mib of fresh memory, ms total.
absl::StatusOr<double> Touch(const Runner& runner) {
  absl::StatusOr<double> ns =
      Field(Run(runner, {Workload("touch_memory"), std::to_string(absl::GetFlag(FLAGS_touch_mib))}),
            "touch_ns_total");
  if (!ns.ok()) return ns.status();
  return *ns / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Static hello world, whole process, median wall ms of --runs.
absl::StatusOr<double> Hello(const Runner& runner) {
  std::vector<double> ms;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_runs)); i++) {
    RunResult r = Run(runner, {Workload("hello")});
    if (!r.started || r.timed_out || r.status != 0) return absl::UnavailableError(Failure(r));
    if (r.out != "hello, world\n") {
      return absl::DataLossError(
          absl::StrFormat("wrong stdout: \"%s\"", absl::CEscape(r.out.substr(0, 200))));
    }
    ms.push_back(absl::ToDoubleMilliseconds(r.wall));
  }
  return Median(ms);
}

// Which of --repeats runs is being measured, so that rows sharing one run
// (FileOp) share it within a repeat only.
int g_repeat = 0;

// One file_ops run per (runner, mode, repeat), shared by its three rows.
absl::StatusOr<double> FileOp(const Runner& runner, const std::string& mode,
                              absl::string_view key) {
  using Key = std::tuple<std::string, std::string, int>;
  static std::map<Key, RunResult>* runs = new std::map<Key, RunResult>();
  Key k{runner.name, mode, g_repeat};
  auto it = runs->find(k);
  if (it == runs->end()) {
    const std::string prog = Workload("file_ops");
    const std::string target = mode == "tmp" ? "/tmp" : prog;
    it = runs->emplace(k, Run(runner,
                              {prog, mode, target, std::to_string(absl::GetFlag(FLAGS_file_ops))}))
             .first;
  }
  return Field(it->second, key);
}

// A workload that takes a count and prints "KEY VALUE" with VALUE in µs.
absl::StatusOr<double> Counted(const Runner& runner, const std::string& workload, int64_t n,
                               absl::string_view key) {
  return Field(Run(runner, {Workload(workload), std::to_string(n)}), key);
}

struct Row {
  std::string name;
  std::string unit;
  std::function<absl::StatusOr<double>(const Runner&, std::string* detail)> measure;
};

std::string Cell(const absl::StatusOr<double>& v) {
  return v.ok() ? absl::StrFormat("%.1f", *v) : "n/a";
}

std::string Ratio(const absl::StatusOr<double>& a, const absl::StatusOr<double>& b) {
  if (!a.ok() || !b.ok() || *b <= 0) return "n/a";
  return absl::StrFormat("%.2fx", *a / *b);
}

int Main() {
  std::vector<Runner> runners = Runners();
  const int mib = absl::GetFlag(FLAGS_touch_mib);
  std::vector<Row> rows = {
      {"getppid round trip", "ns/call",
       [](const Runner& r, std::string* detail) {
         int64_t n = 0;
         absl::StatusOr<double> v = Getppid(r, &n);
         if (v.ok()) *detail = absl::StrFormat("N=%d", n);
         return v;
       }},
      {"clock_gettime, via libc", "ns/call",
       [](const Runner& r, std::string*) { return Clock(r); }},
      {absl::StrFormat("touch %d MiB fresh anon", mib), "ms",
       [](const Runner& r, std::string*) { return Touch(r); }},
      {absl::StrFormat("static hello, median of %d", std::max(1, absl::GetFlag(FLAGS_runs))),
       "ms wall", [](const Runner& r, std::string*) { return Hello(r); }},
  };
  for (const char* mode : {"tmp", "host"}) {
    const std::string where = std::string(mode) == "tmp" ? "/tmp file" : "host file";
    for (auto [label, key] : {std::pair<const char*, const char*>{"stat", "stat_ns"},
                              {"open+close", "open_close_ns"},
                              {"pread 4 KiB", "read4k_ns"}}) {
      rows.push_back({absl::StrFormat("%s, %s", label, where), "ns",
                      [mode = std::string(mode), key = std::string(key)](
                          const Runner& r, std::string*) { return FileOp(r, mode, key); }});
    }
  }
  const int forks = std::max(1, absl::GetFlag(FLAGS_fork_iterations));
  const int rounds = std::max(1, absl::GetFlag(FLAGS_pingpong_rounds));
  rows.push_back({"fork+exit+wait", "us", [forks](const Runner& r, std::string*) {
                    return Counted(r, "fork_exit", forks, "fork_exit_us");
                  }});
  rows.push_back({"fork+exec+wait", "us", [forks](const Runner& r, std::string*) {
                    return Counted(r, "fork_exec", std::max(1, forks / 2), "fork_exec_us");
                  }});
  rows.push_back({"pipe ping-pong, round trip", "us", [rounds](const Runner& r, std::string*) {
                    return Counted(r, "pipe_pingpong", rounds, "pipe_round_trip_us");
                  }});
  rows.push_back({"futex ping-pong, round trip", "us", [rounds](const Runner& r, std::string*) {
                    return Counted(r, "futex_pingpong", rounds, "futex_round_trip_us");
                  }});
  if (const std::string only = absl::GetFlag(FLAGS_only); !only.empty()) {
    const std::vector<std::string> wanted = absl::StrSplit(only, ',', absl::SkipEmpty());
    std::erase_if(rows, [&](const Row& row) {
      return std::none_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
        return row.name.find(w) != std::string::npos;
      });
    });
    if (rows.empty()) {
      absl::FPrintF(stderr, "sandbox_bench: --only=%s matches no benchmark\n", only);
      return 2;
    }
  }
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));

  struct utsname u;
  uname(&u);
  absl::PrintF("sandbox_bench on %s %s, %d CPUs, euid %d\n", u.sysname, u.release,
               static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)), static_cast<int>(geteuid()));
  for (const Runner& r : runners) {
    absl::PrintF("  %-7s %s\n", r.name, r.how);
    if (!r.unusable.empty()) absl::PrintF("          n/a: %s\n", r.unusable);
  }
  absl::PrintF("\n");

  std::vector<std::string> notes;
  // [row][runner]
  std::vector<std::vector<absl::StatusOr<double>>> values(rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    for (const Runner& r : runners) {
      if (!r.unusable.empty()) {
        values[i].push_back(absl::UnavailableError(r.unusable));
        continue;
      }
      std::string detail;
      std::vector<double> got;
      absl::StatusOr<double> v;
      for (g_repeat = 0; g_repeat < repeats; g_repeat++) {
        v = rows[i].measure(r, &detail);
        if (!v.ok()) break;
        got.push_back(*v);
      }
      if (v.ok()) v = Median(got);
      if (v.ok() && repeats > 1) {
        std::sort(got.begin(), got.end());
        detail = absl::StrCat(
            detail, detail.empty() ? "" : ", ",
            absl::StrFormat("median of %d, range %.1f..%.1f", repeats, got.front(), got.back()));
      }
      if (!v.ok()) {
        notes.push_back(
            absl::StrFormat("%s, %s: n/a: %s", rows[i].name, r.name, v.status().message()));
      } else if (!detail.empty()) {
        notes.push_back(absl::StrFormat("%s, %s: %s", rows[i].name, r.name, detail));
      }
      values[i].push_back(std::move(v));
    }
  }
  // runners are native, ours, debian in that order.
  constexpr absl::string_view kFormat = "%-32s %-8s %10s %10s %10s %12s %14s %12s\n";
  absl::PrintF(kFormat, "benchmark", "unit", "native", "ours", "debian", "ours/native",
               "debian/native", "ours/debian");
  for (size_t i = 0; i < rows.size(); i++) {
    const auto& v = values[i];
    absl::PrintF(kFormat, rows[i].name, rows[i].unit, Cell(v[0]), Cell(v[1]), Cell(v[2]),
                 Ratio(v[1], v[0]), Ratio(v[2], v[0]), Ratio(v[1], v[2]));
  }
  if (!notes.empty()) {
    absl::PrintF("\nnotes:\n");
    for (const std::string& n : notes) absl::PrintF("  %s\n", n);
  }
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Whole-process timings, native vs our runsc vs Debian's runsc.\n"
      "Usage: sandbox_bench [--runs=10] [--repeats=1] [--ours=PATH] [--platform=ptrace] ...");
  absl::ParseCommandLine(argc, argv);
  return bench::Main();
}
