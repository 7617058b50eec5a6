#include "sentry/loader/elf.h"

#include <elf.h>
#include <sys/mman.h>

#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/loader/test_elf.h"

namespace sentry::loader {
namespace {

using testing::Ehdr;
using ::testing::HasSubstr;
using testing::MakeElf;
using testing::MemExecutable;
using testing::Phdr;
using testing::TestElf;
using testing::TestPhdrs;

Elf64_Ehdr& HeaderOf(std::vector<uint8_t>& f) { return *reinterpret_cast<Elf64_Ehdr*>(f.data()); }
Elf64_Phdr& PhdrOf(std::vector<uint8_t>& f, int i) {
  return *reinterpret_cast<Elf64_Phdr*>(f.data() + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

TEST(ReadElfTest, AcceptsTheTestImage) {
  MemExecutable file(TestElf());
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_EQ(info->type, ET_EXEC);
  EXPECT_EQ(info->entry, testing::kTestEntry);
  EXPECT_EQ(info->phnum, 4);
  ASSERT_EQ(info->loads.size(), 3u);
  EXPECT_EQ(info->loads[0].prot, PROT_READ);
  EXPECT_EQ(info->loads[1].prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(info->loads[2].prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(info->loads[2].vaddr, 0x403010u);
  EXPECT_EQ(info->loads[2].memsz, 0x5000u);
  // No PT_PHDR: the headers are found inside the first PT_LOAD.
  EXPECT_EQ(info->phdr_vaddr, std::optional<uint64_t>(0x400040));
  EXPECT_EQ(info->max_align, 0x1000u);
  EXPECT_FALSE(info->exec_stack);
  EXPECT_FALSE(info->interp.has_value());
}

TEST(ReadElfTest, PtPhdrWins) {
  auto phdrs = TestPhdrs();
  phdrs.push_back(Phdr(PT_PHDR, PF_R, 0x40, 0x400040 + 0x10, 0x100, 0x100, 8));
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x401000, phdrs.size()), phdrs, 0x4000));
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_EQ(info->phdr_vaddr, std::optional<uint64_t>(0x400050));
}

TEST(ReadElfTest, PhdrsNotInAnySegment) {
  auto phdrs = TestPhdrs();
  phdrs[0] = Phdr(PT_LOAD, PF_R, 0x1000, 0x400000 + 0x1000, 0x10, 0x10);
  phdrs[1] = Phdr(PT_LOAD, PF_R | PF_X, 0x2000, 0x402000, 0x10, 0x10);
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x402000, phdrs.size()), phdrs, 0x4000));
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_FALSE(info->phdr_vaddr.has_value());
}

TEST(ReadElfTest, ExecutableStackAndAlignment) {
  auto phdrs = TestPhdrs();
  phdrs[3].p_flags = PF_R | PF_W | PF_X;
  phdrs[1].p_align = 0x200000;
  phdrs[2].p_align = 0x3000;  // not a power of two: ignored, as Linux does
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x401000, phdrs.size()), phdrs, 0x4000));
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_TRUE(info->exec_stack);
  EXPECT_EQ(info->max_align, 0x200000u);
}

TEST(ReadElfTest, EmptySegmentsTakeNoPart) {
  auto phdrs = TestPhdrs();
  // An empty PT_LOAD out of order is not an error: it maps nothing.
  phdrs.push_back(Phdr(PT_LOAD, PF_R, 0, 0x100000, 0, 0));
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x401000, phdrs.size()), phdrs, 0x4000));
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_EQ(info->loads.size(), 3u);
}

TEST(ReadElfTest, Interpreter) {
  auto phdrs = TestPhdrs();
  phdrs.insert(phdrs.begin(), Phdr(PT_INTERP, PF_R, 0x300, 0x400300, 28, 28, 1));
  auto bytes = MakeElf(Ehdr(ET_DYN, 0x1000, phdrs.size()), phdrs, 0x4000);
  std::memcpy(bytes.data() + 0x300, "/lib64/ld-linux-x86-64.so.2", 28);
  MemExecutable file(bytes);
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_TRUE(info.ok()) << error;
  EXPECT_EQ(info->interp, std::optional<std::string>("/lib64/ld-linux-x86-64.so.2"));
}

// --- Every malformed file is ENOEXEC with a reason. ---

struct Malformed {
  std::string name;
  std::function<void(std::vector<uint8_t>&)> mutate;
  std::string reason;  // a substring of the error
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class MalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedTest, IsEnoexecWithAReason) {
  std::vector<uint8_t> bytes = TestElf();
  GetParam().mutate(bytes);
  MemExecutable file(bytes);
  std::string error;
  ErrnoOr<ElfInfo> info = ReadElf(file, &error);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error(), Errno(ENOEXEC));
  EXPECT_THAT(error, HasSubstr(GetParam().reason));
}

std::vector<Malformed> MalformedCases() {
  return {
      {"BadMagic", [](auto& f) { f[1] = 'X'; }, "bad magic"},
      {"EmptyFile", [](auto& f) { f.clear(); }, "bad magic"},
      {"ShortFile", [](auto& f) { f.resize(3); }, "bad magic"},
      {"TruncatedHeader", [](auto& f) { f.resize(40); }, "truncated ELF header"},
      {"Class32", [](auto& f) { f[EI_CLASS] = ELFCLASS32; }, "not a 64-bit ELF"},
      {"BigEndian", [](auto& f) { f[EI_DATA] = ELFDATA2MSB; }, "little-endian"},
      {"IdentVersion", [](auto& f) { f[EI_VERSION] = 0; }, "ELF version"},
      {"HeaderVersion", [](auto& f) { HeaderOf(f).e_version = 2; }, "ELF version"},
      {"Relocatable", [](auto& f) { HeaderOf(f).e_type = ET_REL; }, "relocatable"},
      {"Core", [](auto& f) { HeaderOf(f).e_type = ET_CORE; }, "e_type 4"},
      {"I386", [](auto& f) { HeaderOf(f).e_machine = EM_386; }, "not an x86-64"},
      {"Aarch64", [](auto& f) { HeaderOf(f).e_machine = EM_AARCH64; }, "not an x86-64"},
      {"Phentsize", [](auto& f) { HeaderOf(f).e_phentsize = 32; }, "e_phentsize 32"},
      {"NoPhdrs", [](auto& f) { HeaderOf(f).e_phnum = 0; }, "no program headers"},
      {"TooManyPhdrs", [](auto& f) { HeaderOf(f).e_phnum = 1171; }, "too many program headers"},
      {"MaxPhnum", [](auto& f) { HeaderOf(f).e_phnum = 0xffff; }, "too many program headers"},
      {"PhdrsPastEof",
       [](auto& f) { HeaderOf(f).e_phnum = 1170; },  // 65520 bytes: allowed, not there
       "truncated file: the program headers"},
      {"PhoffPastEof", [](auto& f) { HeaderOf(f).e_phoff = 0x100000; },
       "truncated file: the program headers"},
      {"PhoffOverflow", [](auto& f) { HeaderOf(f).e_phoff = ~uint64_t{0} - 8; }, "overflows"},
      {"FileszOverMemsz", [](auto& f) { PhdrOf(f, 2).p_filesz = 0x6000; }, "p_filesz"},
      {"Misaligned", [](auto& f) { PhdrOf(f, 1).p_vaddr = 0x401010; }, "modulo the page size"},
      {"Unsorted", [](auto& f) { std::swap(PhdrOf(f, 1), PhdrOf(f, 2)); }, "not sorted"},
      {"Overlapping", [](auto& f) { PhdrOf(f, 2).p_vaddr = 0x402010; }, "overlaps"},
      {"AddressWraps",
       [](auto& f) {
         PhdrOf(f, 2).p_vaddr = 0xfffffffffffff010;
         PhdrOf(f, 2).p_memsz = 0x5000;
       },
       "address range"},
      {"AddressRoundUpWraps",
       [](auto& f) {
         PhdrOf(f, 2).p_vaddr = 0xffffffffffffe010;
         PhdrOf(f, 2).p_memsz = 0x1ff0 - 1;
       },
       "address range"},
      {"FileRangeWraps",
       [](auto& f) {
         PhdrOf(f, 2).p_offset = 0xfffffffffffff010;
         PhdrOf(f, 2).p_filesz = 0x2000;
         PhdrOf(f, 2).p_memsz = 0x2000;
       },
       "file range"},
      {"NoLoad",
       [](auto& f) {
         for (int i = 0; i < 3; ++i) PhdrOf(f, i).p_type = PT_NULL;
       },
       "no PT_LOAD"},
      {"OnlyEmptyLoads",
       [](auto& f) {
         for (int i = 0; i < 3; ++i) PhdrOf(f, i).p_memsz = PhdrOf(f, i).p_filesz = 0;
       },
       "no PT_LOAD"},
      {"SegmentPastEof", [](auto& f) { f.resize(0x3080); }, "truncated file"},
      {"SegmentFarPastEof",
       [](auto& f) {
         PhdrOf(f, 2).p_filesz = 0x5000;
         PhdrOf(f, 2).p_memsz = 0x5000;
       },
       "truncated file"},
      {"InterpTooShort", [](auto& f) { PhdrOf(f, 3) = Phdr(PT_INTERP, PF_R, 0x300, 0, 1, 1, 1); },
       "PT_INTERP: bad size 1"},
      {"InterpTooLong",
       [](auto& f) { PhdrOf(f, 3) = Phdr(PT_INTERP, PF_R, 0x300, 0, 5000, 5000, 1); },
       "PT_INTERP: bad size 5000"},
      {"InterpNotTerminated",
       [](auto& f) {
         PhdrOf(f, 3) = Phdr(PT_INTERP, PF_R, 0x300, 0, 8, 8, 1);
         std::memcpy(f.data() + 0x300, "/bin/shx", 8);
       },
       "not NUL-terminated"},
      {"InterpPastEof",
       [](auto& f) { PhdrOf(f, 3) = Phdr(PT_INTERP, PF_R, 0x3ff0, 0, 100, 100, 1); },
       "truncated file: PT_INTERP"},
  };
}

INSTANTIATE_TEST_SUITE_P(All, MalformedTest, ::testing::ValuesIn(MalformedCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sentry::loader
