#include "sentry/loader/stack.h"

#include <cpuid.h>
#include <elf.h>
#include <sys/auxv.h>

#include <cstring>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/arch/registers.h"

namespace sentry::loader {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kTop = 0x7ffffffff000;
constexpr uint64_t k8M = 8ull << 20;

class ConstantRandom : public RandomSource {
 public:
  explicit ConstantRandom(uint8_t b) : b_(b) {}
  void Fill(std::span<uint8_t> out) override { std::memset(out.data(), b_, out.size()); }

 private:
  uint8_t b_;
};

TEST(ExecStringsTest, Limits) {
  EXPECT_EQ(ArgStringsLimit(k8M), 2ull << 20);           // RLIMIT_STACK / 4
  EXPECT_EQ(ArgStringsLimit(64 << 10), 128ull << 10);    // at least ARG_MAX
  EXPECT_EQ(ArgStringsLimit(100ull << 20), 6ull << 20);  // at most 3/4 of _STK_LIM
  EXPECT_EQ(ArgStringsLimit(~0ull), 6ull << 20);         // RLIM_INFINITY
}

TEST(ExecStringsTest, CollectsInOrder) {
  std::string error;
  // NOTE: ExecStrings views the vectors' strings: they must outlive it.
  std::vector<std::string> argv = {"prog", std::string("a\0b", 3)}, envp = {"X=1"};
  ErrnoOr<ExecStrings> s = CheckExecStrings(argv, envp, "/bin/prog", k8M, &error);
  ASSERT_TRUE(s.ok()) << error;
  // C strings: cut at the first NUL.
  EXPECT_THAT(s->argv, ElementsAre("prog", "a"));
  EXPECT_THAT(s->envp, ElementsAre("X=1"));
  EXPECT_EQ(s->execfn, "/bin/prog");
}

TEST(ExecStringsTest, EmptyArgvGetsAnEmptyArgument) {
  std::string error;
  ErrnoOr<ExecStrings> s = CheckExecStrings({}, {}, "/bin/prog", k8M, &error);
  ASSERT_TRUE(s.ok()) << error;
  EXPECT_THAT(s->argv, ElementsAre(""));
}

TEST(ExecStringsTest, StringLength) {
  std::string error;
  std::string longest(kMaxArgStrlen - 1, 'a');  // with its NUL: MAX_ARG_STRLEN
  std::string too_long(kMaxArgStrlen, 'a');
  EXPECT_TRUE(CheckExecStrings({longest}, {longest}, "/p", k8M, &error).ok());
  EXPECT_EQ(CheckExecStrings({"p", too_long}, {}, "/p", k8M, &error).error(), Errno(E2BIG));
  EXPECT_THAT(error, HasSubstr("argument 1"));
  EXPECT_THAT(error, HasSubstr("MAX_ARG_STRLEN"));
  EXPECT_EQ(CheckExecStrings({"p"}, {"A=1", too_long}, "/p", k8M, &error).error(), Errno(E2BIG));
  EXPECT_THAT(error, HasSubstr("environment string 1"));
  EXPECT_EQ(CheckExecStrings({"p"}, {}, too_long, k8M, &error).error(), Errno(E2BIG));
  EXPECT_THAT(error, HasSubstr("file name"));
}

TEST(ExecStringsTest, TotalSize) {
  std::string error;
  std::string big(kMaxArgStrlen - 1, 'a');
  // 2 MiB for 8 MiB of stack: 15 strings of 128 KiB fit with the file name and
  // pointers, 16 do not.
  std::vector<std::string> argv(15, big);
  EXPECT_TRUE(CheckExecStrings(argv, {}, "/p", k8M, &error).ok()) << error;
  argv.push_back(big);
  EXPECT_EQ(CheckExecStrings(argv, {}, "/p", k8M, &error).error(), Errno(E2BIG));
  EXPECT_THAT(error, HasSubstr("more than"));
  // The same split between argv and envp.
  EXPECT_EQ(CheckExecStrings(std::vector<std::string>(8, big), std::vector<std::string>(8, big),
                             "/p", k8M, &error)
                .error(),
            Errno(E2BIG));
  // A larger RLIMIT_STACK allows more.
  EXPECT_TRUE(CheckExecStrings(argv, {}, "/p", 64ull << 20, &error).ok()) << error;
  // A tiny one still allows ARG_MAX.
  EXPECT_TRUE(CheckExecStrings({std::string(100000, 'a')}, {}, "/p", 4096, &error).ok());
}

TEST(ExecStringsTest, PointerCount) {
  std::string error;
  // 300000 empty strings are 300000 bytes, but 2.4 MB of pointers.
  std::vector<std::string> many(300000);
  EXPECT_EQ(CheckExecStrings(many, {}, "/p", k8M, &error).error(), Errno(E2BIG));
  EXPECT_THAT(error, HasSubstr("pointers"));
  EXPECT_EQ(CheckExecStrings({"p"}, many, "/p", k8M, &error).error(), Errno(E2BIG));
}

// Reads the built stack back as the program would.
class StackReader {
 public:
  explicit StackReader(const InitialStack& st) : st_(st) {}
  uint64_t U64(uint64_t addr) const {
    uint64_t v;
    std::memcpy(&v, st_.bytes.data() + (addr - st_.sp), 8);
    return v;
  }
  std::string Str(uint64_t addr) const {
    return std::string(reinterpret_cast<const char*>(st_.bytes.data() + (addr - st_.sp)));
  }
  std::string Bytes(uint64_t addr, size_t n) const {
    return std::string(reinterpret_cast<const char*>(st_.bytes.data() + (addr - st_.sp)), n);
  }

 private:
  const InitialStack& st_;
};

AuxvImage TestImage() {
  AuxvImage image;
  image.phdr = 0x400040;
  image.phnum = 9;
  image.entry = 0x401abc;
  image.creds = {1000, 1001, 2000, 2001, true};
  return image;
}

TEST(InitialStackTest, ExactLayoutWithoutRandomization) {
  std::string error;
  std::vector<std::string> argv = {"prog", "a1"}, envp = {"X=1"};
  ErrnoOr<ExecStrings> strings = CheckExecStrings(argv, envp, "/bin/prog", k8M, &error);
  ASSERT_TRUE(strings.ok());
  ConstantRandom r(0x42);
  ErrnoOr<InitialStack> st = BuildInitialStack(*strings, TestImage(), kTop, k8M, false, r);
  ASSERT_TRUE(st.ok());

  // From the top: 8 zero bytes at 0x7fffffffeff8, "/bin/prog" at ...efee,
  // "X=1" at ...efea, "a1" at ...efe7, "prog" at ...efe2; aligned to ...efe0;
  // "x86_64" at ...efd9; random bytes at ...efc9; then 20 auxv pairs and 6
  // words of argc and pointers, rounded down to 16.
  EXPECT_EQ(st->execfn, 0x7fffffffefeeu);
  EXPECT_EQ(st->env_start, 0x7fffffffefeau);
  EXPECT_EQ(st->env_end, 0x7fffffffefeeu);
  EXPECT_EQ(st->arg_start, 0x7fffffffefe2u);
  EXPECT_EQ(st->arg_end, 0x7fffffffefeau);
  EXPECT_EQ(st->platform, 0x7fffffffefd9u);
  EXPECT_EQ(st->random, 0x7fffffffefc9u);
  EXPECT_EQ(st->sp, (0x7fffffffefc9u - 20 * 16 - 6 * 8) & ~0xfull);
  EXPECT_EQ(st->sp, 0x7fffffffee50u);
  EXPECT_EQ(st->bytes.size(), kTop - st->sp);
  // The strings' page plus 128 KiB.
  EXPECT_EQ(st->vma_start, kTop - kPageSize - kStackExpand);

  StackReader rd(*st);
  EXPECT_EQ(rd.U64(kTop - 8), 0u);
  EXPECT_EQ(rd.U64(st->sp), 2u);  // argc
  EXPECT_EQ(rd.Str(rd.U64(st->sp + 8)), "prog");
  EXPECT_EQ(rd.Str(rd.U64(st->sp + 16)), "a1");
  EXPECT_EQ(rd.U64(st->sp + 24), 0u);
  EXPECT_EQ(rd.Str(rd.U64(st->sp + 32)), "X=1");
  EXPECT_EQ(rd.U64(st->sp + 40), 0u);
  std::vector<std::pair<uint64_t, uint64_t>> auxv;
  for (uint64_t a = st->sp + 48;; a += 16) {
    auxv.emplace_back(rd.U64(a), rd.U64(a + 8));
    if (auxv.back().first == AT_NULL) break;
  }
  EXPECT_EQ(auxv, st->auxv);
  std::vector<uint64_t> types;
  for (const auto& [type, value] : auxv) types.push_back(type);
  EXPECT_THAT(types,
              ElementsAre(AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
                          AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID,
                          AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_PLATFORM, AT_NULL));
  std::map<uint64_t, uint64_t> v(auxv.begin(), auxv.end());
  EXPECT_EQ(v[AT_PAGESZ], 4096u);
  EXPECT_EQ(v[AT_CLKTCK], 100u);
  EXPECT_EQ(v[AT_PHDR], 0x400040u);
  EXPECT_EQ(v[AT_PHENT], 56u);
  EXPECT_EQ(v[AT_PHNUM], 9u);
  EXPECT_EQ(v[AT_BASE], 0u);
  EXPECT_EQ(v[AT_FLAGS], 0u);
  EXPECT_EQ(v[AT_ENTRY], 0x401abcu);
  EXPECT_EQ(v[AT_UID], 1000u);
  EXPECT_EQ(v[AT_EUID], 1001u);
  EXPECT_EQ(v[AT_GID], 2000u);
  EXPECT_EQ(v[AT_EGID], 2001u);
  EXPECT_EQ(v[AT_SECURE], 1u);
  EXPECT_EQ(v[AT_RANDOM], st->random);
  EXPECT_EQ(rd.Bytes(v[AT_RANDOM], 16), std::string(16, '\x42'));
  EXPECT_EQ(v[AT_EXECFN], st->execfn);
  EXPECT_EQ(rd.Str(v[AT_EXECFN]), "/bin/prog");
  EXPECT_EQ(rd.Str(v[AT_PLATFORM]), "x86_64");
  // The auxv ends before the random bytes (with at most 15 bytes of padding).
  EXPECT_LE(st->sp + 48 + auxv.size() * 16, st->random);
  EXPECT_GT(st->sp + 48 + auxv.size() * 16 + 16, st->random);
}

TEST(InitialStackTest, CpuValues) {
  std::string error;
  std::vector<std::string> argv = {"p"};
  ErrnoOr<ExecStrings> strings = CheckExecStrings(argv, {}, "/p", k8M, &error);
  ASSERT_TRUE(strings.ok());
  ErrnoOr<InitialStack> st =
      BuildInitialStack(*strings, TestImage(), kTop, k8M, false, HostRandom());
  ASSERT_TRUE(st.ok());
  std::map<uint64_t, uint64_t> v(st->auxv.begin(), st->auxv.end());
  unsigned eax, ebx, ecx, edx;
  ASSERT_TRUE(__get_cpuid(1, &eax, &ebx, &ecx, &edx));
  EXPECT_EQ(v[AT_HWCAP], getauxval(AT_HWCAP) != 0 ? getauxval(AT_HWCAP) : edx);
  EXPECT_EQ(v[AT_HWCAP2] & ~uint64_t{2}, 0u);  // at most HWCAP2_FSGSBASE
  EXPECT_EQ(v[AT_HWCAP2], getauxval(AT_HWCAP2) & 2);
  uint64_t minsig = v[AT_MINSIGSTKSZ];
  EXPECT_EQ(minsig % 16, 0u);
  EXPECT_GE(minsig, arch::FpState::XsaveSize() + 440);  // at least rt_sigframe + xsave
  // Close to what the host kernel says (it may count its xstate a little
  // differently, or have no IA32 emulation).
  if (uint64_t host = getauxval(AT_MINSIGSTKSZ); host != 0) {
    EXPECT_GE(minsig, host);
    EXPECT_NEAR(static_cast<double>(minsig), static_cast<double>(host), 512) << host;
  }
}

TEST(InitialStackTest, Randomized) {
  std::string error;
  std::vector<std::string> argv = {"prog"}, envp = {"A=b"};
  ErrnoOr<ExecStrings> strings = CheckExecStrings(argv, envp, "/prog", k8M, &error);
  ASSERT_TRUE(strings.ok());
  ConstantRandom r(0);
  ErrnoOr<InitialStack> fixed = BuildInitialStack(*strings, TestImage(), kTop, k8M, false, r);
  ASSERT_TRUE(fixed.ok());
  for (int i = 0; i < 50; ++i) {
    ErrnoOr<InitialStack> st =
        BuildInitialStack(*strings, TestImage(), kTop, k8M, true, HostRandom());
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->sp % 16, 0u);
    EXPECT_LE(st->sp, fixed->sp);
    EXPECT_GT(st->sp + kStackAlignRandomRange + 16, fixed->sp);
    EXPECT_EQ(st->arg_start, fixed->arg_start);  // the strings do not move
  }
}

TEST(InitialStackTest, NoRoomBelowTheTop) {
  std::string error;
  std::vector<std::string> argv = {std::string(100000, 'a')};
  ErrnoOr<ExecStrings> strings = CheckExecStrings(argv, {}, "/p", k8M, &error);
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ(BuildInitialStack(*strings, TestImage(), 0x20000, k8M, false, HostRandom()).error(),
            Errno(ENOMEM));
  EXPECT_EQ(BuildInitialStack(*strings, TestImage(), 0x1000, k8M, false, HostRandom()).error(),
            Errno(ENOMEM));
}

TEST(InitialStackTest, VmaCoversTheTablesAndStaysWithinRlimit) {
  std::string error;
  // 100000 pointers: the tables reach below the strings' pages + 128 KiB.
  std::vector<std::string> argv(100000, "a");
  ErrnoOr<ExecStrings> strings = CheckExecStrings(argv, {}, "/p", k8M, &error);
  ASSERT_TRUE(strings.ok()) << error;
  ErrnoOr<InitialStack> st =
      BuildInitialStack(*strings, TestImage(), kTop, k8M, false, HostRandom());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->vma_start, PageRoundDown(st->sp));
  // A small RLIMIT_STACK limits the 128 KiB extension.
  std::vector<std::string> one = {"p"};
  ErrnoOr<ExecStrings> few = CheckExecStrings(one, {}, "/p", 16384, &error);
  ASSERT_TRUE(few.ok());
  st = BuildInitialStack(*few, TestImage(), kTop, 16384, false, HostRandom());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->vma_start, kTop - 16384);
}

}  // namespace
}  // namespace sentry::loader
