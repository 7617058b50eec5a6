#include "runsc/flags.h"

#include "gtest/gtest.h"

namespace runsc {
namespace {

TEST(FlagsTest, FlagsBeforeAndAfterTheCommand) {
  auto cl = ParseCommandLine({"--strace", "do", "--platform=ptrace", "--", "/bin/true", "-x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_TRUE(cl->flags.strace);
  EXPECT_EQ(cl->flags.platform, "ptrace");
  EXPECT_EQ(cl->command, "do");
  EXPECT_EQ(cl->args, (std::vector<std::string>{"/bin/true", "-x"}));
}

TEST(FlagsTest, PlatformSystrapIsAccepted) {
  auto cl = ParseCommandLine({"do", "--platform=systrap", "--", "/bin/true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->flags.platform, "systrap");
  cl = ParseCommandLine({"do", "/bin/true"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flags.platform, "auto");  // systrap where the host allows it
  cl = ParseCommandLine({"do", "--platform=auto", "--", "/bin/true"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->flags.platform, "auto");
}

TEST(FlagsTest, ArgumentsAfterTheProgramAreNotFlags) {
  auto cl = ParseCommandLine({"do", "/bin/echo", "--strace"});
  ASSERT_TRUE(cl.ok());
  EXPECT_FALSE(cl->flags.strace);
  EXPECT_EQ(cl->args, (std::vector<std::string>{"/bin/echo", "--strace"}));
}

TEST(FlagsTest, BadFlagsNameTheFlag) {
  auto cl = ParseCommandLine({"--platform=kvm2", "do"});
  ASSERT_FALSE(cl.ok());
  EXPECT_NE(cl.status().message().find("--platform"), absl::string_view::npos);
  cl = ParseCommandLine({"--bogus", "do"});
  ASSERT_FALSE(cl.ok());
  EXPECT_NE(cl.status().message().find("--bogus"), absl::string_view::npos);
  cl = ParseCommandLine({"--aslr=maybe", "do"});
  ASSERT_FALSE(cl.ok());
  cl = ParseCommandLine({"--aslr=false", "--platform", "ptrace", "do"});
  ASSERT_TRUE(cl.ok());
  EXPECT_FALSE(cl->flags.aslr);
  EXPECT_TRUE(cl->flags.vdso);
  cl = ParseCommandLine({"--vdso=false", "do"});
  ASSERT_TRUE(cl.ok());
  EXPECT_FALSE(cl->flags.vdso);
}

}  // namespace
TEST(FlagsTest, SystrapPatching) {
  auto cl = ParseCommandLine({"do", "--", "/bin/true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_TRUE(cl->flags.systrap_patching);
  cl = ParseCommandLine({"--systrap-patching=true", "do", "--platform=systrap", "--", "/bin/true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_TRUE(cl->flags.systrap_patching);
  cl = ParseCommandLine({"do", "--systrap-patching=false", "--", "/bin/true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->flags.systrap_patching);
  EXPECT_FALSE(ParseCommandLine({"--systrap-patching=maybe", "do"}).ok());
}

}  // namespace runsc
