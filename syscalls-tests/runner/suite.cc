#include "syscalls-tests/runner/suite.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "syscalls-tests/runner/process.h"

namespace syscalls_runner {
namespace {

// Where a binary runs: natively (platform "") or under runsc on a platform.
struct Side {
  std::string platform;
  bool sandbox() const { return !platform.empty(); }
  std::string name() const { return sandbox() ? platform : "native"; }
};

absl::Time Monotonic() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "[...]" + s.substr(s.size() - n);
}

std::vector<std::string> Environment(const Side& side) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "LANG=C",
          absl::StrFormat("SYSCALLS_TESTS_EXPECT_SANDBOX=%d", side.sandbox() ? 1 : 0)};
}

std::vector<std::string> Command(const SuiteOptions& o, const Side& side, const std::string& bin,
                                 const std::vector<std::string>& extra) {
  std::vector<std::string> argv;
  if (side.sandbox()) argv = {o.runsc, "do", "--platform=" + side.platform, "--"};
  argv.push_back(bin);
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Runs `bin` on `side` until every case in `cases` has an outcome: when the
// binary dies in the middle, the case it was running is marked and the rest
// run again in a fresh process.
std::map<std::string, CaseOutcome> RunBinary(const SuiteOptions& o, const Side& side,
                                             const std::string& bin,
                                             const std::vector<std::string>& cases,
                                             std::vector<std::string>& runs) {
  std::map<std::string, CaseOutcome> done;
  std::vector<std::string> remaining = cases;
  bool everything = true;
  while (!remaining.empty()) {
    std::vector<std::string> extra = {"--gtest_color=no"};
    if (!everything) extra.push_back("--gtest_filter=" + absl::StrJoin(remaining, ":"));
    const ProcessResult pr = RunProcess(Command(o, side, bin, extra), Environment(side), o.timeout);
    runs.push_back(absl::StrFormat(
        "%s on %s%s: %s in %s", FamilyOf(bin), side.name(),
        everything ? "" : absl::StrFormat(" (%d cases left)", remaining.size()), pr.Describe(),
        absl::FormatDuration(absl::Trunc(pr.wall, absl::Milliseconds(1)))));
    const std::set<std::string> wanted(remaining.begin(), remaining.end());
    ParsedLog log = ParseGtestLog(pr.out);
    size_t progress = 0;
    for (CaseOutcome& c : log.finished) {
      if (wanted.count(c.name) && !done.count(c.name)) {
        done[c.name] = std::move(c);
        progress++;
      }
    }
    if (log.unfinished && wanted.count(log.unfinished->name)) {
      CaseOutcome c = std::move(*log.unfinished);
      c.result = pr.timed_out ? Result::kTimeout : Result::kCrash;
      c.output += absl::StrFormat("[the %s run ended while this case ran: %s]\n%s", side.name(),
                                  pr.Describe(), Tail(pr.err, 1500));
      done[c.name] = std::move(c);
      progress++;
    }
    std::vector<std::string> left;
    for (const std::string& name : remaining) {
      if (!done.count(name)) left.push_back(name);
    }
    remaining = std::move(left);
    if (remaining.empty()) break;
    // No case finished, or the binary ended cleanly without running them:
    // running again would not help.
    if (progress == 0 || !log.unfinished) {
      for (const std::string& name : remaining) {
        done[name] = {name, Result::kNotRun,
                      absl::StrFormat("[never ran; the %s run: %s]\n%s", side.name(), pr.Describe(),
                                      Tail(pr.err, 1500))};
      }
      break;
    }
    everything = false;
  }
  return done;
}

bool Failed(Result r) { return r != Result::kPass && r != Result::kSkip; }

std::set<std::string> SyscallTable(const std::string& runsc, std::vector<std::string>& problems) {
  std::set<std::string> names;
  const ProcessResult pr =
      RunProcess({runsc, "syscalls", "--format=json"}, {"PATH=/usr/bin:/bin"}, absl::Seconds(30));
  if (!pr.started || pr.status != 0) {
    problems.push_back(absl::StrFormat("`%s syscalls --format=json`: %s %s", runsc, pr.Describe(),
                                       Tail(pr.err, 500)));
    return names;
  }
  nlohmann::json table = nlohmann::json::parse(pr.out, nullptr, /*allow_exceptions=*/false);
  if (!table.is_array()) {
    problems.push_back("`runsc syscalls --format=json` did not print a JSON array");
    return names;
  }
  for (const auto& entry : table) {
    if (entry.contains("name") && entry["name"].is_string()) names.insert(entry["name"]);
  }
  return names;
}

void Judge(SuiteReport& r) {
  const std::vector<std::string>& platforms = r.options.platforms;
  std::map<const Expectation*, ExpectationStatus> status;
  for (const Expectation& e : r.expectations) status[&e] = {&e, {}, {}};

  for (CaseReport& c : r.cases) {
    if (Failed(c.native.result)) {
      r.problems.push_back(absl::StrFormat("%s fails natively (%s): every test must pass on Linux",
                                           c.id(), ResultName(c.native.result)));
    }
    if (r.options.native_only) continue;
    for (const std::string& p : platforms) {
      const CaseOutcome& out = c.sandbox[p];
      const Expectation* e = FindExpectation(r.expectations, c.id(), p);
      if (e != nullptr) c.expectation[p] = e;
      Verdict v;
      if (Failed(out.result)) {
        v = e != nullptr ? Verdict::kExpectedFailure : Verdict::kUnexpectedFailure;
        if (e != nullptr) status[e].failing.push_back(c.id());
        if (e == nullptr) {
          r.problems.push_back(absl::StrFormat(
              "%s fails in the sandbox (%s, %s) and expectations.txt does not list it", c.id(), p,
              ResultName(out.result)));
        }
      } else if (e != nullptr) {
        v = Verdict::kUnexpectedPass;
        status[e].passing.push_back(c.id());
      } else {
        v = out.result == Result::kSkip ? Verdict::kSkip : Verdict::kPass;
      }
      c.verdict[p] = v;
      // A sandbox-only skip must name an entry of the syscall table.
      if (out.result == Result::kSkip) {
        std::optional<std::string> entry = SandboxSkipEntry(out.output);
        if (entry && !r.syscall_table.empty() && !r.syscall_table.count(*entry)) {
          r.problems.push_back(absl::StrFormat(
              "%s skips in the sandbox for \"%s\", which is not an entry of the syscall table",
              c.id(), *entry));
        }
      }
    }
  }

  for (const Expectation& e : r.expectations) {
    ExpectationStatus& s = status[&e];
    if (!r.syscall_table.empty() && !r.syscall_table.count(e.syscall)) {
      r.problems.push_back(absl::StrFormat(
          "expectations.txt:%d names \"%s\", which is not an entry of the syscall table", e.line,
          e.syscall));
    }
    if (r.options.native_only) {
      r.expectation_status.push_back(s);
      continue;
    }
    if (s.failing.empty() && s.passing.empty()) {
      r.problems.push_back(absl::StrFormat(
          "expectations.txt:%d (%s) matches no test case: remove it or fix the name", e.line,
          e.pattern));
    } else if (!s.passing.empty()) {
      const std::string msg = absl::StrFormat(
          "expectations.txt:%d (%s) lists %s, which now pass%s in the sandbox: shrink the list",
          e.line, e.pattern, absl::StrJoin(s.passing, ", "), s.passing.size() == 1 ? "es" : "");
      (r.options.strict ? r.problems : r.notes).push_back(msg);
    }
    r.expectation_status.push_back(s);
  }
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kSkip:
      return "skip";
    case Verdict::kExpectedFailure:
      return "expected failure";
    case Verdict::kUnexpectedFailure:
      return "UNEXPECTED FAILURE";
    case Verdict::kUnexpectedPass:
      return "passes (listed)";
  }
  return "?";
}

std::string FamilyOf(const std::string& binary) {
  std::string_view base = binary;
  if (size_t slash = base.rfind('/'); slash != std::string_view::npos)
    base.remove_prefix(slash + 1);
  if (base.ends_with("_test")) base.remove_suffix(5);
  return std::string(base);
}

SuiteReport RunSuite(const SuiteOptions& options, std::vector<Expectation> expectations) {
  const absl::Time start = Monotonic();
  SuiteReport r;
  r.options = options;
  r.expectations = std::move(expectations);
  if (!options.native_only) r.syscall_table = SyscallTable(options.runsc, r.problems);

  // The case list of each binary, from a native --gtest_list_tests.
  struct Binary {
    std::string path, family;
    std::vector<std::string> cases;
  };
  std::vector<Binary> binaries;
  for (const std::string& path : options.binaries) {
    Binary b{path, FamilyOf(path), {}};
    const ProcessResult pr =
        RunProcess({path, "--gtest_list_tests"}, Environment(Side{}), absl::Seconds(30));
    if (!pr.started || pr.status != 0) {
      r.problems.push_back(
          absl::StrFormat("%s --gtest_list_tests: %s %s", path, pr.Describe(), Tail(pr.err, 500)));
    }
    b.cases = ParseTestList(pr.out);
    binaries.push_back(std::move(b));
  }

  std::vector<Side> sides = {Side{}};
  if (!options.native_only) {
    for (const std::string& p : options.platforms) sides.push_back(Side{p});
  }

  // Jobs: (binary, side). The slow sandbox runs go first so that a native run
  // fills the gaps at the end.
  struct Job {
    size_t binary, side;
  };
  std::vector<Job> jobs;
  for (size_t s = sides.size(); s-- > 0;) {
    for (size_t b = 0; b < binaries.size(); b++) jobs.push_back({b, s});
  }
  std::vector<std::vector<std::map<std::string, CaseOutcome>>> results(
      binaries.size(), std::vector<std::map<std::string, CaseOutcome>>(sides.size()));
  std::vector<std::vector<std::string>> runs(jobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      const Job& job = jobs[j];
      results[job.binary][job.side] = RunBinary(options, sides[job.side], binaries[job.binary].path,
                                                binaries[job.binary].cases, runs[j]);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, options.jobs); i++) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  for (auto& lines : runs) r.runs.insert(r.runs.end(), lines.begin(), lines.end());

  for (size_t b = 0; b < binaries.size(); b++) {
    for (const std::string& name : binaries[b].cases) {
      CaseReport c;
      c.family = binaries[b].family;
      c.name = name;
      c.native = results[b][0][name];
      for (size_t s = 1; s < sides.size(); s++) c.sandbox[sides[s].platform] = results[b][s][name];
      r.cases.push_back(std::move(c));
    }
  }
  Judge(r);
  r.wall = Monotonic() - start;
  return r;
}

}  // namespace syscalls_runner
