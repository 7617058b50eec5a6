#include "tests/e2e/subprocess.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSh[] = "/bin/sh";

TEST(RunProcessTest, CapturesStdoutStderrAndStatus) {
  RunResult r = RunProcess({kSh, "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.started) << r.Describe();
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.Describe(), "exit status 3");
}

TEST(RunProcessTest, DeathBySignalIs128PlusSignal) {
  RunResult r = RunProcess({kSh, "-c", "kill -SEGV $$"});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.status, 139);
  EXPECT_EQ(r.Describe(), "killed by signal 11 (SIGSEGV), status 139");
}

TEST(RunProcessTest, FeedsStdinThenEof) {
  RunOptions o;
  o.stdin_data = std::string(1 << 20, 'x') + "end";  // More than a pipe holds.
  RunResult r = RunProcess({kSh, "-c", "wc -c"}, o);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr(std::to_string((1 << 20) + 3)));
}

TEST(RunProcessTest, ChildThatIgnoresStdinDoesNotHurtUs) {
  RunOptions o;
  o.stdin_data = std::string(1 << 20, 'x');
  RunResult r = RunProcess({kSh, "-c", "exit 0"}, o);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.status, 0);
}

TEST(RunProcessTest, UsesTheGivenEnvironment) {
  RunOptions o;
  o.env = std::vector<std::string>{"ONLY=this"};
  RunResult r = RunProcess({kSh, "-c", "echo \"$ONLY:${HOME:-unset}\""}, o);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.out, "this:unset\n");
}

TEST(RunProcessTest, TimeoutKillsTheWholeProcessGroup) {
  RunOptions o;
  o.timeout = absl::Milliseconds(300);
  RunResult r = RunProcess({kSh, "-c", "sleep 100 & sleep 100; echo not reached"}, o);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.status, 128 + 9);
  EXPECT_EQ(r.out, "");
  EXPECT_LT(r.wall, absl::Seconds(10));
  EXPECT_THAT(r.Describe(), StartsWith("timed out after"));
}

TEST(RunProcessTest, LeftoverGrandchildHoldingStdoutDoesNotHang) {
  RunResult r = RunProcess({kSh, "-c", "sleep 100 & echo started; exit 4"});
  ASSERT_TRUE(r.started);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 4);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_LT(r.wall, absl::Seconds(10));
}

TEST(RunProcessTest, ReportsExecFailure) {
  RunResult r = RunProcess({"/nonexistent/program"});
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error, "execve /nonexistent/program: No such file or directory");
  EXPECT_THAT(r.Describe(), StartsWith("not started: "));
}

TEST(RunProcessTest, NoCoreFileLimit) {
  RunResult r = RunProcess({kSh, "-c", "ulimit -c"});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.out, "0\n");
}

}  // namespace
}  // namespace e2e
