#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "syscalls-tests/runner/expectations.h"
#include "syscalls-tests/runner/gtest_log.h"
#include "syscalls-tests/runner/process.h"
#include "syscalls-tests/runner/suite.h"

namespace syscalls_runner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kLog[] = R"(syscalls-tests: running natively
[==========] Running 5 tests from 2 test suites.
[----------] 3 tests from A
[ RUN      ] A.Passes
[       OK ] A.Passes (0 ms)
[ RUN      ] A.Fails
x.cc:10: Failure
Expected: 1
[  FAILED  ] A.Fails (1 ms)
[ RUN      ] A.Skips
x.cc:20: Skipped
sandbox lacks fork: no child process
[  SKIPPED ] A.Skips (0 ms)
[ RUN      ] P/B.Param/Shared
[  FAILED  ] P/B.Param/Shared, where GetParam() = 0 (0 ms)
[ RUN      ] P/B.Dies
partial output
)";

TEST(ParseGtestLogTest, ClassifiesEachCase) {
  ParsedLog log = ParseGtestLog(kLog);
  ASSERT_EQ(log.finished.size(), 4u);
  EXPECT_EQ(log.finished[0].name, "A.Passes");
  EXPECT_EQ(log.finished[0].result, Result::kPass);
  EXPECT_EQ(log.finished[1].result, Result::kFail);
  EXPECT_THAT(log.finished[1].output, HasSubstr("x.cc:10: Failure"));
  EXPECT_EQ(log.finished[2].result, Result::kSkip);
  EXPECT_EQ(log.finished[3].name, "P/B.Param/Shared");
  EXPECT_EQ(log.finished[3].result, Result::kFail);
  ASSERT_TRUE(log.unfinished.has_value());
  EXPECT_EQ(log.unfinished->name, "P/B.Dies");
  EXPECT_THAT(log.unfinished->output, HasSubstr("partial output"));
}

TEST(ParseGtestLogTest, SummaryLinesAreNotResults) {
  ParsedLog log = ParseGtestLog(
      "[ RUN      ] A.X\n[       OK ] A.X (0 ms)\n[  FAILED  ] 1 test, listed below:\n"
      "[  FAILED  ] A.X\n[  SKIPPED ] A.X\n");
  ASSERT_EQ(log.finished.size(), 1u);
  EXPECT_EQ(log.finished[0].result, Result::kPass);
  EXPECT_FALSE(log.unfinished.has_value());
}

TEST(ParseGtestLogTest, ResultForAnotherNameDoesNotCloseTheCase) {
  ParsedLog log = ParseGtestLog("[ RUN      ] A.X\n[       OK ] A.Y (0 ms)\n");
  EXPECT_TRUE(log.finished.empty());
  ASSERT_TRUE(log.unfinished.has_value());
  EXPECT_EQ(log.unfinished->name, "A.X");
}

TEST(ParseGtestLogTest, LongOutputIsTruncated) {
  std::string text = "[ RUN      ] A.X\n";
  for (int i = 0; i < 1000; i++) text += "0123456789012345678901234567890123456789\n";
  text += "[  FAILED  ] A.X (0 ms)\n";
  ParsedLog log = ParseGtestLog(text);
  ASSERT_EQ(log.finished.size(), 1u);
  EXPECT_LT(log.finished[0].output.size(), 5000u);
  EXPECT_THAT(log.finished[0].output, HasSubstr("[... truncated]"));
}

TEST(ParseTestListTest, SuitesCasesAndParameters) {
  EXPECT_THAT(ParseTestList("syscalls-tests: running natively\nA.\n  X\n  Y\nP/B.  # TypeParam\n"
                            "  Z/Private  # GetParam() = 128\n  Z/Shared  # GetParam() = 0\n"),
              ElementsAre("A.X", "A.Y", "P/B.Z/Private", "P/B.Z/Shared"));
}

TEST(SkipTest, SandboxSkipEntryAndReason) {
  const std::string out = "x.cc:20: Skipped\nsandbox lacks fork: no child process\n";
  EXPECT_EQ(SandboxSkipEntry(out), "fork");
  EXPECT_EQ(SkipReason(out), "sandbox lacks fork: no child process");
  EXPECT_EQ(SandboxSkipEntry("x.cc:1: Skipped\nskipped: !HaveCapability(CAP_IPC_LOCK)\n"),
            std::nullopt);
}

TEST(ExpectationsTest, ParsesEntries) {
  auto list = ParseExpectations(
      "# comment\n\nmmap/MmapTest.A  mmap  Linux: EINVAL; we: ENODEV\n"
      "futex/*Requeue*@ptrace futex   the rest of the reason  \n");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].pattern, "mmap/MmapTest.A");
  EXPECT_EQ((*list)[0].platform, "");
  EXPECT_EQ((*list)[0].syscall, "mmap");
  EXPECT_EQ((*list)[0].reason, "Linux: EINVAL; we: ENODEV");
  EXPECT_EQ((*list)[0].line, 3);
  EXPECT_EQ((*list)[1].platform, "ptrace");
  EXPECT_EQ((*list)[1].reason, "the rest of the reason");
}

TEST(ExpectationsTest, ReasonIsRequired) {
  auto list = ParseExpectations("mmap/MmapTest.A mmap\n");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()), HasSubstr("line 1"));
}

TEST(ExpectationsTest, CaseMustNameAFamily) {
  EXPECT_FALSE(ParseExpectations("MmapTest.A mmap reason\n").ok());
}

TEST(ExpectationsTest, Glob) {
  EXPECT_TRUE(GlobMatch("a/B.C", "a/B.C"));
  EXPECT_FALSE(GlobMatch("a/B.C", "a/B.CD"));
  EXPECT_TRUE(GlobMatch("a/*", "a/B.C"));
  EXPECT_TRUE(GlobMatch("futex/*Requeue*", "futex/P/FutexTest.RequeueX/Shared"));
  EXPECT_FALSE(GlobMatch("futex/*Requeue*", "futex/P/FutexTest.Wake"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbc"));
}

TEST(ExpectationsTest, FindHonoursThePlatform) {
  auto list = ParseExpectations("a/B.*@systrap x r1\na/B.C x r2\n");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(FindExpectation(*list, "a/B.C", "ptrace")->reason, "r2");
  EXPECT_EQ(FindExpectation(*list, "a/B.C", "systrap")->reason, "r1");
  EXPECT_EQ(FindExpectation(*list, "a/B.D", "ptrace"), nullptr);
}

TEST(SuiteTest, FamilyOfABinary) {
  EXPECT_EQ(FamilyOf("/x/y/read_write_test"), "read_write");
  EXPECT_EQ(FamilyOf("mmap_test"), "mmap");
}

TEST(ProcessTest, StdinIsDevNullAndOutputIsCaptured) {
  ProcessResult r = RunProcess({"/bin/sh", "-c", "readlink /proc/self/fd/0; echo err >&2; exit 3"},
                               {"PATH=/usr/bin:/bin"}, absl::Seconds(10));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "/dev/null\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(ProcessTest, TimeoutKillsTheGroup) {
  ProcessResult r = RunProcess({"/bin/sh", "-c", "sleep 30 & sleep 30"}, {"PATH=/usr/bin:/bin"},
                               absl::Seconds(1));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(absl::ToDoubleSeconds(r.wall), 10);
  EXPECT_THAT(r.Describe(), HasSubstr("timed out"));
}

TEST(ProcessTest, MissingProgram) {
  ProcessResult r = RunProcess({"/nonexistent/x"}, {}, absl::Seconds(1));
  EXPECT_FALSE(r.started);
  EXPECT_THAT(r.error, HasSubstr("execve /nonexistent/x"));
}

}  // namespace
}  // namespace syscalls_runner
