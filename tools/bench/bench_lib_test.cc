#include "tools/bench/bench_lib.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/subprocess.h"

namespace bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseConfigs, TheThreeColumnsOfIssue6) {
  absl::StatusOr<std::vector<Config>> c = ParseConfigs("ptrace,systrap,systrap+patch");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].name, "ptrace");
  EXPECT_THAT((*c)[0].flags, ElementsAre("--platform=ptrace"));
  EXPECT_EQ((*c)[0].patching, Patching::kUnspecified);
  EXPECT_EQ((*c)[1].name, "systrap");
  EXPECT_THAT((*c)[1].flags, ElementsAre("--platform=systrap", "--systrap-patching=false"));
  EXPECT_EQ((*c)[1].patching, Patching::kOff);
  EXPECT_EQ((*c)[2].name, "systrap+patch");
  EXPECT_THAT((*c)[2].flags, ElementsAre("--platform=systrap", "--systrap-patching=true"));
  EXPECT_EQ((*c)[2].patching, Patching::kOn);
}

TEST(ParseConfigs, AliasesAndCustomFlags) {
  absl::StatusOr<std::vector<Config>> c =
      ParseConfigs(" systrap-nopatch , systrap-patch,novdso=--platform=ptrace  --vdso=false");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].name, "systrap");
  EXPECT_EQ((*c)[1].name, "systrap+patch");
  EXPECT_EQ((*c)[2].name, "novdso");
  EXPECT_THAT((*c)[2].flags, ElementsAre("--platform=ptrace", "--vdso=false"));
  EXPECT_EQ((*c)[2].patching, Patching::kUnspecified);
}

TEST(ParseConfigs, Errors) {
  EXPECT_THAT(std::string(ParseConfigs("kvm").status().message()),
              HasSubstr("unknown configuration \"kvm\""));
  EXPECT_THAT(std::string(ParseConfigs("ptrace,ptrace").status().message()),
              HasSubstr("named twice"));
  EXPECT_THAT(std::string(ParseConfigs("systrap,systrap-nopatch").status().message()),
              HasSubstr("named twice"));
  EXPECT_THAT(std::string(ParseConfigs(" , ").status().message()), HasSubstr("no configuration"));
  EXPECT_THAT(std::string(ParseConfigs("x=--platform=ptrace vdso").status().message()),
              HasSubstr("\"vdso\" is not a flag"));
  EXPECT_FALSE(ParseConfigs("=--platform=ptrace").ok());
}

TEST(GenerateCProgram, HasTheLinesAskedFor) {
  for (int lines : {20, 100, 200, 201, 207}) {
    CProgram p = GenerateCProgram(lines);
    EXPECT_EQ(std::count(p.source.begin(), p.source.end(), '\n'), lines) << lines;
    EXPECT_EQ(p.source.back(), '\n');
  }
  EXPECT_NE(GenerateCProgram(200).expected_stdout, GenerateCProgram(100).expected_stdout);
}

// The generated file compiles cleanly (-Wall -Wextra -Werror) and prints what
// GenerateCProgram says it does: the gcc row judges the sandboxes by it.
TEST(GenerateCProgram, CompilesAndPrintsTheExpectedNumber) {
  if (access("/usr/bin/gcc", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/gcc";
  char tmpl[] = "/tmp/bench_lib_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  CProgram p = GenerateCProgram(200);
  std::ofstream(dir + "/p.c") << p.source;
  e2e::RunOptions options;
  options.timeout = absl::Seconds(120);
  e2e::RunResult cc = e2e::RunProcess(
      {"/usr/bin/gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", dir + "/p", dir + "/p.c"},
      options);
  EXPECT_EQ(cc.status, 0) << cc.Describe() << "\n" << cc.err;
  e2e::RunResult run = e2e::RunProcess({dir + "/p"});
  EXPECT_EQ(run.status, 0) << run.Describe();
  EXPECT_EQ(run.out, p.expected_stdout);
  std::filesystem::remove_all(dir);
}

TEST(Median, OddAndEven) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({7}), 7);
}

TEST(ThreeDigits, Formats) {
  EXPECT_EQ(ThreeDigits(0.1364), "0.136");
  EXPECT_EQ(ThreeDigits(5.523), "5.52");
  EXPECT_EQ(ThreeDigits(20.24), "20.2");
  EXPECT_EQ(ThreeDigits(148.4), "148");
  EXPECT_EQ(ThreeDigits(10194.2), "10194");
}

}  // namespace
}  // namespace bench
