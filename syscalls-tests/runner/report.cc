#include "syscalls-tests/runner/report.h"

#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace syscalls_runner {
namespace {

struct Counts {
  int cases = 0;
  int native_pass = 0, native_skip = 0, native_fail = 0;
  std::map<std::string, std::map<Verdict, int>> sandbox;  // platform -> verdict -> n
};

// Per family, in the order the families first appear; "" is the total.
std::vector<std::pair<std::string, Counts>> Count(const SuiteReport& r) {
  std::vector<std::pair<std::string, Counts>> out;
  std::map<std::string, size_t> index;
  Counts total;
  auto add = [&](Counts& k, const CaseReport& c) {
    k.cases++;
    if (c.native.result == Result::kPass) {
      k.native_pass++;
    } else if (c.native.result == Result::kSkip) {
      k.native_skip++;
    } else {
      k.native_fail++;
    }
    for (const auto& [p, v] : c.verdict) k.sandbox[p][v]++;
  };
  for (const CaseReport& c : r.cases) {
    auto [it, inserted] = index.emplace(c.family, out.size());
    if (inserted) out.push_back({c.family, Counts{}});
    add(out[it->second].second, c);
    add(total, c);
  }
  out.push_back({"", total});
  return out;
}

int N(const Counts& k, const std::string& p, Verdict v) {
  auto it = k.sandbox.find(p);
  if (it == k.sandbox.end()) return 0;
  auto jt = it->second.find(v);
  return jt == it->second.end() ? 0 : jt->second;
}

std::string SandboxCell(const Counts& k, const std::string& p) {
  // "49 pass, 3 skip, 2 expected failures" (passes include listed passes).
  std::vector<std::string> parts;
  const int pass = N(k, p, Verdict::kPass) + N(k, p, Verdict::kUnexpectedPass);
  parts.push_back(absl::StrFormat("%d pass", pass));
  if (int n = N(k, p, Verdict::kSkip)) parts.push_back(absl::StrFormat("%d skip", n));
  if (int n = N(k, p, Verdict::kExpectedFailure)) {
    parts.push_back(absl::StrFormat("%d expected fail", n));
  }
  if (int n = N(k, p, Verdict::kUnexpectedFailure)) {
    parts.push_back(absl::StrFormat("%d UNEXPECTED FAIL", n));
  }
  return absl::StrJoin(parts, ", ");
}

std::string NativeCell(const Counts& k) {
  std::string s = absl::StrFormat("%d pass", k.native_pass);
  if (k.native_skip) s += absl::StrFormat(", %d skip", k.native_skip);
  if (k.native_fail) s += absl::StrFormat(", %d FAIL", k.native_fail);
  return s;
}

// Markdown table cells: no pipes or newlines.
std::string Cell(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '\n') {
      out += ' ';
    } else if (ch == '`') {
      out += '\'';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string OutcomeCell(const CaseOutcome& o) {
  if (o.result == Result::kSkip) {
    std::string reason = SkipReason(o.output);
    return reason.empty() ? "skip" : absl::StrFormat("skip: %s", Cell(reason));
  }
  return std::string(ResultName(o.result));
}

}  // namespace

std::string ReportJson(const SuiteReport& r) {
  using nlohmann::json;
  json j;
  j["runsc"] = r.options.runsc;
  j["platforms"] = r.options.native_only ? json::array() : json(r.options.platforms);
  j["wall_seconds"] = absl::ToDoubleSeconds(r.wall);
  j["ok"] = r.ok();
  j["problems"] = r.problems;
  j["notes"] = r.notes;
  j["runs"] = r.runs;
  json families = json::array();
  for (const auto& [family, k] : Count(r)) {
    json f;
    f["family"] = family.empty() ? "(total)" : family;
    f["cases"] = k.cases;
    f["native"] = {{"pass", k.native_pass}, {"skip", k.native_skip}, {"fail", k.native_fail}};
    for (const std::string& p : r.options.platforms) {
      if (r.options.native_only) break;
      f["sandbox"][p] = {
          {"pass", N(k, p, Verdict::kPass) + N(k, p, Verdict::kUnexpectedPass)},
          {"skip", N(k, p, Verdict::kSkip)},
          {"expected_fail", N(k, p, Verdict::kExpectedFailure)},
          {"unexpected_fail", N(k, p, Verdict::kUnexpectedFailure)},
          {"listed_but_passing", N(k, p, Verdict::kUnexpectedPass)},
      };
    }
    families.push_back(f);
  }
  j["families"] = families;
  json cases = json::array();
  for (const CaseReport& c : r.cases) {
    json jc;
    jc["family"] = c.family;
    jc["case"] = c.name;
    jc["native"] = {{"result", ResultName(c.native.result)}};
    if (c.native.result != Result::kPass) jc["native"]["output"] = c.native.output;
    for (const auto& [p, o] : c.sandbox) {
      json s = {{"result", ResultName(o.result)}};
      if (auto v = c.verdict.find(p); v != c.verdict.end()) s["verdict"] = VerdictName(v->second);
      if (o.result != Result::kPass) s["output"] = o.output;
      if (auto e = c.expectation.find(p); e != c.expectation.end()) {
        s["expectation"] = {{"syscall", e->second->syscall}, {"reason", e->second->reason}};
      }
      jc["sandbox"][p] = s;
    }
    cases.push_back(jc);
  }
  j["cases"] = cases;
  json exp = json::array();
  for (const ExpectationStatus& s : r.expectation_status) {
    exp.push_back({{"case", s.expectation->pattern},
                   {"platform", s.expectation->platform.empty() ? "*" : s.expectation->platform},
                   {"syscall", s.expectation->syscall},
                   {"reason", s.expectation->reason},
                   {"line", s.expectation->line},
                   {"still_failing", s.failing},
                   {"now_passing", s.passing}});
  }
  j["expectations"] = exp;
  return j.dump(2) + "\n";
}

std::string ReportMarkdown(const SuiteReport& r) {
  std::string md = "# Syscall conformance: Linux vs the sandbox\n\n";
  const std::vector<std::string> platforms =
      r.options.native_only ? std::vector<std::string>{} : r.options.platforms;
  md += absl::StrFormat(
      "Every case is a gtest test written against Linux (`syscalls-tests/linux/`), run natively "
      "and "
      "inside the sandbox (`runsc do --platform=P`). %s in %.1f s.\n\n",
      r.ok() ? "**OK**" : "**FAILED**", absl::ToDoubleSeconds(r.wall));
  md += "| family | cases | native |";
  for (const std::string& p : platforms) md += absl::StrFormat(" sandbox (%s) |", p);
  md += "\n|---|---:|---|";
  for (size_t i = 0; i < platforms.size(); i++) md += "---|";
  md += "\n";
  for (const auto& [family, k] : Count(r)) {
    md += absl::StrFormat("| %s | %d | %s |", family.empty() ? "**total**" : family, k.cases,
                          NativeCell(k));
    for (const std::string& p : platforms) md += absl::StrFormat(" %s |", SandboxCell(k, p));
    md += "\n";
  }
  if (!r.problems.empty()) {
    md += "\n## Problems (these fail the run)\n\n";
    for (const std::string& p : r.problems) md += absl::StrFormat("- %s\n", Cell(p));
  }
  if (!r.notes.empty()) {
    md += "\n## Notes\n\n";
    for (const std::string& n : r.notes) md += absl::StrFormat("- %s\n", Cell(n));
  }
  md += "\n## Known sandbox failures (expectations.txt)\n\n";
  md += "| case | syscall | reason | this run |\n|---|---|---|---|\n";
  for (const ExpectationStatus& s : r.expectation_status) {
    std::string now = r.options.native_only ? "not run"
                      : !s.passing.empty()  ? absl::StrFormat("**%d now pass**", s.passing.size())
                      : s.failing.empty()   ? "**matches nothing**"
                                            : absl::StrFormat("%d failing", s.failing.size());
    md += absl::StrFormat("| `%s`%s | %s | %s | %s |\n", s.expectation->pattern,
                          s.expectation->platform.empty() ? "" : "@" + s.expectation->platform,
                          s.expectation->syscall, Cell(s.expectation->reason), now);
  }
  // The sandbox-only skips and why, grouped by reason.
  std::map<std::string, std::vector<std::string>> skips;
  for (const CaseReport& c : r.cases) {
    for (const auto& [p, o] : c.sandbox) {
      if (o.result == Result::kSkip && c.native.result != Result::kSkip) {
        skips[SkipReason(o.output)].push_back(c.id());
      }
    }
  }
  if (!skips.empty()) {
    md += "\n## Skipped only in the sandbox\n\n";
    for (const auto& [reason, ids] : skips) {
      md += absl::StrFormat("- %s: %s\n", Cell(reason), absl::StrJoin(ids, ", "));
    }
  }
  md += "\n## Every case\n\n| family | case | native |";
  for (const std::string& p : platforms) md += absl::StrFormat(" %s |", p);
  md += "\n|---|---|---|";
  for (size_t i = 0; i < platforms.size(); i++) md += "---|";
  md += "\n";
  for (const CaseReport& c : r.cases) {
    md += absl::StrFormat("| %s | %s | %s |", c.family, Cell(c.name), OutcomeCell(c.native));
    for (const std::string& p : platforms) {
      auto o = c.sandbox.find(p);
      auto v = c.verdict.find(p);
      std::string cell = o == c.sandbox.end() ? "" : OutcomeCell(o->second);
      if (v != c.verdict.end() && v->second != Verdict::kPass && v->second != Verdict::kSkip) {
        cell = absl::StrFormat("%s (%s)", cell, VerdictName(v->second));
      }
      md += absl::StrFormat(" %s |", cell);
    }
    md += "\n";
  }
  md += "\n## Runs\n\n";
  for (const std::string& run : r.runs) md += absl::StrFormat("- %s\n", run);
  return md;
}

std::string Summary(const SuiteReport& r) {
  std::string s;
  for (const auto& [family, k] : Count(r)) {
    s += absl::StrFormat("%-12s %4d cases  native: %s", family.empty() ? "total" : family, k.cases,
                         NativeCell(k));
    if (!r.options.native_only) {
      for (const std::string& p : r.options.platforms) {
        s += absl::StrFormat("  %s: %s", p, SandboxCell(k, p));
      }
    }
    s += "\n";
  }
  for (const std::string& n : r.notes) s += absl::StrFormat("note: %s\n", n);
  for (const std::string& p : r.problems) s += absl::StrFormat("PROBLEM: %s\n", p);
  // The output of whatever failed unexpectedly, so a CI log shows why.
  for (const CaseReport& c : r.cases) {
    if (c.native.result != Result::kPass && c.native.result != Result::kSkip) {
      s += absl::StrFormat("\n--- %s natively (%s):\n%s", c.id(), ResultName(c.native.result),
                           c.native.output);
    }
    for (const auto& [p, v] : c.verdict) {
      if (v != Verdict::kUnexpectedFailure) continue;
      const CaseOutcome& o = c.sandbox.at(p);
      s += absl::StrFormat("\n--- %s in the sandbox (%s, %s):\n%s", c.id(), p, ResultName(o.result),
                           o.output);
    }
  }
  s += absl::StrFormat("%s in %.1f s\n", r.ok() ? "OK" : "FAILED", absl::ToDoubleSeconds(r.wall));
  return s;
}

}  // namespace syscalls_runner
