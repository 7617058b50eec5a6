#include "sentry/loader/loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/loader/layout.h"
#include "sentry/loader/test_elf.h"
#include "sentry/memory/memory_file.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/mm/mm.h"

namespace sentry::loader {
namespace {

using testing::Ehdr;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeElf;
using testing::MemExecutable;
using testing::Phdr;
using testing::ReadHostFile;
using testing::TestElf;
using testing::TestPhdrs;

constexpr uint64_t kTaskSize = 0x7ffffffff000;
constexpr char kFilename[] = "/bin/test-prog";

using Vma = mm::MemoryManager::VmaInfo;

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<memory::MemoryFile>> mf =
        memory::MemoryFile::Create(uint64_t{4} << 30);
    ASSERT_TRUE(mf.ok()) << mf.status();
    mf_ = std::move(*mf);
    NewMm();
  }

  void NewMm() {
    mm_.reset();
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, nullptr, mm::Layout{});
  }

  LoadArgs Args(ExecutableFile* file) {
    LoadArgs a;
    a.file = file;
    a.filename = kFilename;
    a.argv = {"test-prog", "arg1"};
    a.envp = {"HOME=/", "PATH=/bin"};
    a.creds = {1, 2, 3, 4, false};
    a.randomize = false;
    return a;
  }

  ErrnoOr<LoadResult> LoadIt(const LoadArgs& args) {
    error_.clear();
    return Load(*mm_, args, &error_);
  }

  std::string Read(uint64_t addr, size_t n) {
    std::string out(n, '\0');
    mm::CopyResult r = mm_->CopyIn(UserAddr(addr), {reinterpret_cast<uint8_t*>(out.data()), n});
    EXPECT_TRUE(r.ok()) << absl::StrFormat("CopyIn(0x%x, %d): %d done", addr, n, r.done);
    return out;
  }
  uint64_t ReadU64(uint64_t addr) {
    std::string s = Read(addr, 8);
    uint64_t v;
    std::memcpy(&v, s.data(), 8);
    return v;
  }
  std::string ReadStr(uint64_t addr) {
    ErrnoOr<std::string> s = mm_->CopyInString(UserAddr(addr), 4096);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : "";
  }
  std::optional<Vma> VmaAt(uint64_t addr) {
    for (const Vma& v : mm_->Vmas()) {
      if (v.start <= addr && addr < v.end) return v;
    }
    return std::nullopt;
  }

  // What the program sees on its stack at entry.
  struct Entry {
    uint64_t argc;
    std::vector<std::string> argv, envp;
    std::vector<std::pair<uint64_t, uint64_t>> auxv;
  };
  Entry ReadEntry(uint64_t sp) {
    Entry e;
    e.argc = ReadU64(sp);
    uint64_t a = sp + 8;
    for (uint64_t i = 0; i < e.argc; ++i, a += 8) e.argv.push_back(ReadStr(ReadU64(a)));
    EXPECT_EQ(ReadU64(a), 0u);
    for (a += 8; ReadU64(a) != 0; a += 8) e.envp.push_back(ReadStr(ReadU64(a)));
    for (a += 8;; a += 16) {
      e.auxv.emplace_back(ReadU64(a), ReadU64(a + 8));
      if (e.auxv.back().first == AT_NULL || e.auxv.size() > 64) break;
    }
    return e;
  }

  std::unique_ptr<memory::MemoryFile> mf_;
  std::unique_ptr<mm::MemoryManager> mm_;
  std::string error_;
};

std::string FileRange(const std::vector<uint8_t>& f, uint64_t off, uint64_t n) {
  return std::string(reinterpret_cast<const char*>(f.data() + off), n);
}

TEST_F(LoaderTest, LoadsTheSegments) {
  MemExecutable file(TestElf());
  const auto& f = file.bytes();
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->entry, testing::kTestEntry);
  EXPECT_EQ(r->load_bias, 0u);
  EXPECT_EQ(r->comm, "test-prog");

  // R: the whole first page shows the file (memsz == filesz: no zeroing).
  EXPECT_EQ(Read(0x400000, 0x1000), FileRange(f, 0, 0x1000));
  // RX: the last page shows file bytes past p_filesz up to the page end.
  EXPECT_EQ(Read(0x401000, 0x2000), FileRange(f, 0x1000, 0x2000));
  // RW: the file's bytes before p_vaddr in the first page, the segment's bytes,
  // then zeros (padzero, as the segment is writable) and bss pages.
  EXPECT_EQ(Read(0x403000, 0x10), FileRange(f, 0x3000, 0x10));
  EXPECT_EQ(Read(0x403010, 0x100), FileRange(f, 0x3010, 0x100));
  EXPECT_EQ(Read(0x403110, 0x409000 - 0x403110), std::string(0x409000 - 0x403110, '\0'));

  ASSERT_TRUE(VmaAt(0x400000).has_value());
  EXPECT_EQ(VmaAt(0x400000)->prot, PROT_READ);
  EXPECT_EQ(VmaAt(0x400000)->name, kFilename);
  EXPECT_FALSE(VmaAt(0x400000)->shared);
  EXPECT_EQ(VmaAt(0x401000)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(VmaAt(0x402fff)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(VmaAt(0x401000)->name, kFilename);
  EXPECT_EQ(VmaAt(0x403000)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(0x403000)->name, kFilename);
  ASSERT_TRUE(VmaAt(0x404000).has_value());
  EXPECT_EQ(VmaAt(0x404000)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(0x404000)->name, "");  // bss pages are anonymous
  EXPECT_EQ(VmaAt(0x408fff)->name, "");
  EXPECT_FALSE(VmaAt(0x409000).has_value());
  EXPECT_FALSE(VmaAt(0x400000 - 1).has_value());

  // The break starts right after the bss.
  EXPECT_EQ(r->start_brk, 0x409000u);
  EXPECT_EQ(mm_->brk(), 0x409000u);
  EXPECT_EQ(r->start_code, 0x401000u);
  EXPECT_EQ(r->end_code, 0x402234u);
  EXPECT_EQ(r->start_data, 0x403010u);
  EXPECT_EQ(r->end_data, 0x403110u);

  // The deterministic layout.
  EXPECT_EQ(mm_->layout().min_addr, 0x10000u);
  EXPECT_EQ(mm_->layout().max_addr, kTaskSize);
  EXPECT_EQ(mm_->layout().mmap_base, 0x7ffff7fff000u);
  EXPECT_EQ(mm_->layout().stack_top, kTaskSize);
  EXPECT_EQ(r->stack_top, kTaskSize);
}

// An executable with a page cache (what a gofer or tmpfs file gives the
// loader): its segments are mapped from the object, copy-on-write.
class MappedExecutable : public MemExecutable {
 public:
  MappedExecutable(std::vector<uint8_t> bytes, memory::MemoryFile& mf)
      : MemExecutable(bytes),
        cache_(std::make_shared<mm::testing::HostFileObject>(
            mf, std::string(bytes.begin(), bytes.end()))) {}
  MapInfo Mappable() override { return {cache_, 1, 2}; }

 private:
  std::shared_ptr<mm::testing::HostFileObject> cache_;
};

TEST_F(LoaderTest, AWritableFileSegmentIsCopiedAtLoad) {
  // The program's data would be written at once (relocations, then its own
  // stores), one copy-on-write fault per window: its pages are copied at load
  // instead, the read-only segments are left to fault in.
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x2000, 0x2000),
      Phdr(PT_LOAD, PF_R | PF_W, 0x2000, 0x402000, 0x3000, 0x3000),
  };
  MappedExecutable file(MakeElf(Ehdr(ET_EXEC, 0x400100, phdrs.size()), phdrs, 0x5000), *mf_);
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  ErrnoOr<std::vector<uint8_t>> rw = mm_->Mincore(0x402000, 0x3000);
  ASSERT_TRUE(rw.ok());
  EXPECT_THAT(*rw, ElementsAre(1, 1, 1));
  ErrnoOr<std::vector<uint8_t>> rx = mm_->Mincore(0x400000, 0x2000);
  ASSERT_TRUE(rx.ok());
  EXPECT_THAT(*rx, ElementsAre(0, 0));
  EXPECT_EQ(Read(0x402000, 0x3000), FileRange(file.bytes(), 0x2000, 0x3000));
}

TEST_F(LoaderTest, TheStack) {
  MemExecutable file(TestElf());
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->stack_pointer % 16, 0u);

  std::optional<Vma> stack = VmaAt(r->stack_pointer);
  ASSERT_TRUE(stack.has_value());
  EXPECT_EQ(stack->name, "[stack]");
  EXPECT_TRUE(stack->growsdown);
  EXPECT_EQ(stack->prot, PROT_READ | PROT_WRITE);  // PT_GNU_STACK without PF_X
  EXPECT_EQ(stack->end, kTaskSize);
  EXPECT_GE(stack->end - stack->start, 128u * 1024);

  Entry e = ReadEntry(r->stack_pointer);
  EXPECT_EQ(e.argc, 2u);
  EXPECT_THAT(e.argv, ElementsAre("test-prog", "arg1"));
  EXPECT_THAT(e.envp, ElementsAre("HOME=/", "PATH=/bin"));
  EXPECT_EQ(e.auxv, r->auxv);
  std::map<uint64_t, uint64_t> v(e.auxv.begin(), e.auxv.end());
  EXPECT_EQ(e.auxv.front().first, uint64_t{AT_MINSIGSTKSZ});
  EXPECT_EQ(e.auxv.back().first, uint64_t{AT_NULL});
  EXPECT_EQ(v[AT_PHDR], 0x400040u);
  EXPECT_EQ(v[AT_PHENT], sizeof(Elf64_Phdr));
  EXPECT_EQ(v[AT_PHNUM], 4u);
  EXPECT_EQ(v[AT_ENTRY], testing::kTestEntry);
  EXPECT_EQ(v[AT_BASE], 0u);
  EXPECT_EQ(v[AT_UID], 1u);
  EXPECT_EQ(v[AT_EUID], 2u);
  EXPECT_EQ(v[AT_GID], 3u);
  EXPECT_EQ(v[AT_EGID], 4u);
  EXPECT_EQ(v[AT_SECURE], 0u);
  EXPECT_EQ(ReadStr(v[AT_EXECFN]), kFilename);
  EXPECT_EQ(ReadStr(v[AT_PLATFORM]), "x86_64");
  EXPECT_GT(v[AT_RANDOM], r->stack_pointer);
  EXPECT_LT(v[AT_RANDOM] + 16, kTaskSize);
  // AT_PHDR points at the real program headers.
  EXPECT_EQ(Read(v[AT_PHDR], 4 * sizeof(Elf64_Phdr)),
            FileRange(file.bytes(), sizeof(Elf64_Ehdr), 4 * sizeof(Elf64_Phdr)));
  // The top: the file name, then the 8-byte end marker.
  EXPECT_EQ(v[AT_EXECFN], kTaskSize - 8 - sizeof(kFilename));
  EXPECT_EQ(ReadU64(kTaskSize - 8), 0u);
  // Where the strings are, for /proc/pid/cmdline and environ.
  EXPECT_EQ(Read(r->arg_start, r->arg_end - r->arg_start), std::string("test-prog\0arg1\0", 15));
  EXPECT_EQ(Read(r->env_start, r->env_end - r->env_start), std::string("HOME=/\0PATH=/bin\0", 17));
}

TEST_F(LoaderTest, EmptyArgvGetsOneEmptyArgument) {
  MemExecutable file(TestElf());
  LoadArgs a = Args(&file);
  a.argv.clear();
  ErrnoOr<LoadResult> r = LoadIt(a);
  ASSERT_TRUE(r.ok()) << error_;
  Entry e = ReadEntry(r->stack_pointer);
  EXPECT_EQ(e.argc, 1u);
  EXPECT_THAT(e.argv, ElementsAre(""));
}

TEST_F(LoaderTest, Comm) {
  MemExecutable file(TestElf());
  LoadArgs a = Args(&file);
  a.filename = "/usr/local/bin/a-very-long-program-name";
  ErrnoOr<LoadResult> r = LoadIt(a);
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->comm, "a-very-long-pro");
  NewMm();
  a.filename = "prog";
  r = LoadIt(a);
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->comm, "prog");
}

TEST_F(LoaderTest, ExecutableStack) {
  auto phdrs = TestPhdrs();
  phdrs[3].p_flags |= PF_X;
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x401000, phdrs.size()), phdrs, 0x4000));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(VmaAt(r->stack_pointer)->prot, PROT_READ | PROT_WRITE | PROT_EXEC);

  // No PT_GNU_STACK: not executable on x86-64.
  NewMm();
  phdrs.pop_back();
  MemExecutable plain(MakeElf(Ehdr(ET_EXEC, 0x401000, phdrs.size()), phdrs, 0x4000));
  r = LoadIt(Args(&plain));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(VmaAt(r->stack_pointer)->prot, PROT_READ | PROT_WRITE);
}

TEST_F(LoaderTest, ReadOnlySegmentWithBss) {
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R, 0, 0x400000, 0x200, 0x2800),
      Phdr(PT_LOAD, PF_R | PF_X, 0x3000, 0x403000, 0x100, 0x100),
  };
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x403000, phdrs.size()), phdrs, 0x3100));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  // Linux's padzero fails on a read-only page and is ignored: the file shows.
  EXPECT_EQ(Read(0x400000, 0x1000), FileRange(file.bytes(), 0, 0x1000));
  EXPECT_EQ(VmaAt(0x400000)->prot, PROT_READ);
  // The whole bss pages are read-write, like vm_brk_flags makes them.
  EXPECT_EQ(Read(0x401000, 0x2000), std::string(0x2000, '\0'));
  EXPECT_EQ(VmaAt(0x401000)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(0x402fff)->prot, PROT_READ | PROT_WRITE);
  // The last page of the RX segment: the file ends inside it, the rest is zero.
  EXPECT_EQ(Read(0x403000, 0x1000),
            FileRange(file.bytes(), 0x3000, 0x100) + std::string(0xf00, '\0'));
}

TEST_F(LoaderTest, BssOnlySegment) {
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x200, 0x200),
      Phdr(PT_LOAD, PF_R | PF_W, 0x800, 0x405800, 0, 0x1000),
  };
  MemExecutable file(MakeElf(Ehdr(ET_EXEC, 0x400100, phdrs.size()), phdrs, 0x1000));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(Read(0x405000, 0x2000), std::string(0x2000, '\0'));
  EXPECT_EQ(VmaAt(0x405000)->prot, PROT_READ | PROT_WRITE);
  EXPECT_FALSE(VmaAt(0x407000).has_value());
  EXPECT_EQ(r->start_brk, 0x407000u);
}

TEST_F(LoaderTest, PositionIndependentWithoutRandomization) {
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R, 0, 0, 0x400, 0x400),
      Phdr(PT_LOAD, PF_R | PF_X, 0x1000, 0x1000, 0x800, 0x800),
      Phdr(PT_LOAD, PF_R | PF_W, 0x2000, 0x3000, 0x100, 0x2000),
  };
  MemExecutable file(MakeElf(Ehdr(ET_DYN, 0x1100, phdrs.size()), phdrs, 0x2100));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  constexpr uint64_t kBase = 0x555555554000;
  EXPECT_EQ(r->load_bias, kBase);
  EXPECT_EQ(r->entry, kBase + 0x1100);
  EXPECT_EQ(Read(kBase + 0x1000, 0x800), FileRange(file.bytes(), 0x1000, 0x800));
  EXPECT_EQ(Read(kBase + 0x3000, 0x100), FileRange(file.bytes(), 0x2000, 0x100));
  EXPECT_EQ(VmaAt(kBase + 0x1000)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(r->start_brk, kBase + 0x5000);
  std::map<uint64_t, uint64_t> v(r->auxv.begin(), r->auxv.end());
  EXPECT_EQ(v[AT_PHDR], kBase + 0x40);
  EXPECT_EQ(v[AT_ENTRY], kBase + 0x1100);
}

TEST_F(LoaderTest, PositionIndependentWithRandomization) {
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R | PF_X, 0, 0, 0x400, 0x400),
  };
  MemExecutable file(MakeElf(Ehdr(ET_DYN, 0x100, phdrs.size()), phdrs, 0x400));
  std::vector<uint64_t> biases;
  for (int i = 0; i < 3; ++i) {
    NewMm();
    LoadArgs a = Args(&file);
    a.randomize = true;
    ErrnoOr<LoadResult> r = LoadIt(a);
    ASSERT_TRUE(r.ok()) << error_;
    EXPECT_GE(r->load_bias, 0x555555554000u);
    EXPECT_LT(r->load_bias, 0x555555554000u + (1ull << 40));
    EXPECT_TRUE(IsPageAligned(r->load_bias));
    EXPECT_EQ(r->entry, r->load_bias + 0x100);
    EXPECT_EQ(r->stack_pointer % 16, 0u);
    EXPECT_LE(r->stack_top, kTaskSize);
    EXPECT_GE(r->stack_top, kTaskSize - (16ull << 30) - kPageSize);
    // The heap starts within 32 MiB after the image.
    EXPECT_GE(r->start_brk, r->load_bias + 0x1000);
    EXPECT_LT(r->start_brk, r->load_bias + 0x1000 + (32ull << 20));
    biases.push_back(r->load_bias);
  }
  EXPECT_FALSE(biases[0] == biases[1] && biases[1] == biases[2]);
}

TEST_F(LoaderTest, AlignmentOfAPositionIndependentImage) {
  std::vector<Elf64_Phdr> phdrs = {
      Phdr(PT_LOAD, PF_R | PF_X, 0, 0, 0x400, 0x400, 0x200000),
  };
  MemExecutable file(MakeElf(Ehdr(ET_DYN, 0x100, phdrs.size()), phdrs, 0x400));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->load_bias, 0x555555400000u);
}

TEST_F(LoaderTest, E2bigBeforeAnything) {
  MemExecutable file(TestElf());
  LoadArgs a = Args(&file);
  a.argv.push_back(std::string(200000, 'x'));
  ErrnoOr<LoadResult> r = LoadIt(a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno(E2BIG));
  EXPECT_THAT(error_, HasSubstr("MAX_ARG_STRLEN"));
  EXPECT_TRUE(mm_->Vmas().empty());
  // Even for a file that is not an executable: Linux copies the strings first.
  MemExecutable junk(std::vector<uint8_t>(100, 'j'));
  a.file = &junk;
  EXPECT_EQ(LoadIt(a).error(), Errno(E2BIG));

  a = Args(&file);
  a.stack_limit = 1 << 20;  // 256 KiB for the strings
  a.envp.assign(3, std::string(100000, 'e'));
  EXPECT_EQ(LoadIt(a).error(), Errno(E2BIG));
  EXPECT_TRUE(mm_->Vmas().empty());
}

TEST_F(LoaderTest, MalformedFilesMapNothing) {
  auto bad = TestElf();
  bad[0] = 0;
  MemExecutable file(bad);
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno(ENOEXEC));
  EXPECT_THAT(error_, HasSubstr("bad magic"));
  EXPECT_TRUE(mm_->Vmas().empty());
}

TEST_F(LoaderTest, SegmentsOutsideTheAddressSpace) {
  struct Case {
    uint64_t vaddr;
    uint64_t memsz;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {0x0, 0x1000, "outside the address space"},                 // below mmap_min_addr
           {0xf000, 0x2000, "outside the address space"},              // starts below it
           {kTaskSize - 0x1000, 0x2000, "outside the address space"},  // crosses TASK_SIZE
           {0x800000000000, 0x1000, "outside the address space"},
           {kTaskSize - 0x10000, 0x1000, "overlaps the stack"},
       }) {
    NewMm();
    std::vector<Elf64_Phdr> phdrs = {Phdr(PT_LOAD, PF_R | PF_X, 0, c.vaddr, 0x100, c.memsz)};
    MemExecutable file(MakeElf(Ehdr(ET_EXEC, c.vaddr, 1), phdrs, 0x100));
    ErrnoOr<LoadResult> r = LoadIt(Args(&file));
    ASSERT_FALSE(r.ok()) << absl::StrFormat("0x%x", c.vaddr);
    EXPECT_EQ(r.error(), Errno(ENOEXEC));
    EXPECT_THAT(error_, HasSubstr(c.reason));
    EXPECT_TRUE(mm_->Vmas().empty());
  }
  // A platform with less address space.
  NewMm();
  std::vector<Elf64_Phdr> high = {Phdr(PT_LOAD, PF_R, 0, 0xfffff000, 0x100, 0x2000)};
  MemExecutable high_file(MakeElf(Ehdr(ET_EXEC, 0xfffff000, 1), high, 0x100));
  LoadArgs a = Args(&high_file);
  a.max_addr = 0x100000000;
  EXPECT_EQ(LoadIt(a).error(), Errno(ENOEXEC));
  EXPECT_THAT(error_, HasSubstr("outside the address space [0x10000, 0x100000000)"));
  // One too small for any layout.
  NewMm();
  MemExecutable file(TestElf());
  a = Args(&file);
  a.max_addr = 0x404000;
  EXPECT_EQ(LoadIt(a).error(), Errno(ENOMEM));
  EXPECT_THAT(error_, HasSubstr("no room"));
  EXPECT_TRUE(mm_->Vmas().empty());
  // An ET_DYN alignment so large that the bias becomes 0.
  NewMm();
  std::vector<Elf64_Phdr> phdrs = {Phdr(PT_LOAD, PF_R, 0, 0, 0x100, 0x100, 1ull << 63)};
  MemExecutable huge_align(MakeElf(Ehdr(ET_DYN, 0, 1), phdrs, 0x100));
  EXPECT_EQ(LoadIt(Args(&huge_align)).error(), Errno(ENOEXEC));
  EXPECT_THAT(error_, HasSubstr("outside the address space"));
}

// Random damage to the headers never crashes the loader, and every rejection
// comes with a reason.
TEST_F(LoaderTest, DamagedHeaders) {
  const std::vector<uint8_t> good = TestElf();
  const size_t header_bytes = sizeof(Elf64_Ehdr) + 4 * sizeof(Elf64_Phdr);
  const uint64_t interesting[] = {0,          1,
                                  0xfff,      0x1000,
                                  0x3010,     0x400000,
                                  kTaskSize,  kTaskSize - 0x1000,
                                  ~0ull,      ~0ull - 0xfff,
                                  1ull << 63, 0x10000};
  std::mt19937_64 rng(12345);
  int loaded = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> f = good;
    int damage = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < damage; ++d) {
      if (rng() % 2) {
        f[rng() % header_bytes] = static_cast<uint8_t>(rng());
      } else {
        uint64_t v = interesting[rng() % std::size(interesting)];
        size_t at = sizeof(Elf64_Ehdr) + (rng() % (4 * 7)) * 8;  // a phdr word
        std::memcpy(f.data() + at, &v, 8);
      }
    }
    NewMm();
    MemExecutable file(f);
    ErrnoOr<LoadResult> r = LoadIt(Args(&file));
    if (r.ok()) {
      ++loaded;
      continue;
    }
    EXPECT_FALSE(error_.empty()) << "errno " << r.error().value();
  }
  EXPECT_GT(loaded, 0);  // some damage is harmless
}

// --- Real executables, built by gcc at build time. ---

struct ElfFacts {
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> phdrs;
};

ElfFacts ParseForTest(const std::vector<uint8_t>& f) {
  ElfFacts facts;
  std::memcpy(&facts.eh, f.data(), sizeof(facts.eh));
  facts.phdrs.resize(facts.eh.e_phnum);
  std::memcpy(facts.phdrs.data(), f.data() + facts.eh.e_phoff,
              facts.eh.e_phnum * sizeof(Elf64_Phdr));
  return facts;
}

class RealExecutableTest : public LoaderTest {
 protected:
  // Loads `path` and checks every segment against the file.
  void CheckImage(const std::string& path, uint64_t expected_bias) {
    std::vector<uint8_t> bytes = ReadHostFile(path);
    ASSERT_GT(bytes.size(), sizeof(Elf64_Ehdr)) << path;
    ElfFacts facts = ParseForTest(bytes);
    MemExecutable file(bytes);
    LoadArgs a = Args(&file);
    a.filename = path;
    ErrnoOr<LoadResult> r = LoadIt(a);
    ASSERT_TRUE(r.ok()) << error_;
    EXPECT_EQ(r->load_bias, expected_bias);
    EXPECT_EQ(r->entry, facts.eh.e_entry + expected_bias);

    uint64_t end = 0;
    for (const Elf64_Phdr& ph : facts.phdrs) {
      if (ph.p_type != PT_LOAD) continue;
      uint64_t start = ph.p_vaddr + expected_bias;
      SCOPED_TRACE(absl::StrFormat("PT_LOAD at 0x%x", start));
      EXPECT_EQ(Read(start, ph.p_filesz), FileRange(bytes, ph.p_offset, ph.p_filesz));
      if (ph.p_memsz > ph.p_filesz) {
        uint64_t n = ph.p_memsz - ph.p_filesz;
        EXPECT_EQ(Read(start + ph.p_filesz, n), std::string(n, '\0'));
      }
      int prot = ((ph.p_flags & PF_R) ? PROT_READ : 0) | ((ph.p_flags & PF_W) ? PROT_WRITE : 0) |
                 ((ph.p_flags & PF_X) ? PROT_EXEC : 0);
      ASSERT_TRUE(VmaAt(start).has_value());
      EXPECT_EQ(VmaAt(start)->prot, prot);
      EXPECT_EQ(VmaAt(start)->name, path);
      end = std::max(end, start + ph.p_memsz);
    }
    EXPECT_EQ(r->start_brk, PageRoundUp(end));

    // The marker string sits where the file has it.
    const std::string marker = "sentry-loader-test-marker";
    std::string whole(bytes.begin(), bytes.end());
    size_t at = whole.find(marker);
    ASSERT_NE(at, std::string::npos);
    for (const Elf64_Phdr& ph : facts.phdrs) {
      if (ph.p_type == PT_LOAD && ph.p_offset <= at && at < ph.p_offset + ph.p_filesz) {
        EXPECT_EQ(ReadStr(at - ph.p_offset + ph.p_vaddr + expected_bias), marker);
      }
    }

    // AT_PHDR points at the program headers in memory (glibc finds PT_TLS there).
    Entry e = ReadEntry(r->stack_pointer);
    std::map<uint64_t, uint64_t> v(e.auxv.begin(), e.auxv.end());
    EXPECT_EQ(v[AT_PHNUM], facts.eh.e_phnum);
    EXPECT_EQ(v[AT_ENTRY], r->entry);
    EXPECT_EQ(Read(v[AT_PHDR], facts.eh.e_phnum * sizeof(Elf64_Phdr)),
              FileRange(bytes, facts.eh.e_phoff, facts.eh.e_phnum * sizeof(Elf64_Phdr)));
    EXPECT_THAT(e.argv, ElementsAre("test-prog", "arg1"));
  }
};

TEST_F(RealExecutableTest, Static) { CheckImage(LOADER_TEST_STATIC, 0); }

TEST_F(RealExecutableTest, StaticPie) {
  ElfFacts facts = ParseForTest(ReadHostFile(LOADER_TEST_STATIC_PIE));
  ASSERT_EQ(facts.eh.e_type, ET_DYN);
  uint64_t align = 0;
  for (const Elf64_Phdr& ph : facts.phdrs) {
    if (ph.p_type == PT_LOAD) align = std::max(align, ph.p_align);
  }
  // 0x555555554000 with binutils' default 4 KiB max-page-size.
  uint64_t bias = EtDynLoadBias(EtDynBase(kTaskSize), 0, align);
  if (align == 0x1000) {
    EXPECT_EQ(bias, 0x555555554000u);
  }
  CheckImage(LOADER_TEST_STATIC_PIE, bias);
}

TEST_F(RealExecutableTest, StaticPieRandomized) {
  std::vector<uint8_t> bytes = ReadHostFile(LOADER_TEST_STATIC_PIE);
  MemExecutable file(bytes);
  std::vector<uint64_t> biases;
  for (int i = 0; i < 2; ++i) {
    NewMm();
    LoadArgs a = Args(&file);
    a.randomize = true;
    ErrnoOr<LoadResult> r = LoadIt(a);
    ASSERT_TRUE(r.ok()) << error_;
    biases.push_back(r->load_bias);
  }
  EXPECT_NE(biases[0], biases[1]);
}

TEST(HostFdExecutableTest, ReadsTheFile) {
  std::vector<uint8_t> bytes = ReadHostFile(LOADER_TEST_STATIC);
  int fd = open(LOADER_TEST_STATIC, O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  HostFdExecutable file(fd);
  std::vector<uint8_t> buf(bytes.size() + 100);
  ErrnoOr<size_t> n = file.ReadAt(buf, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, bytes.size());  // short at EOF
  buf.resize(*n);
  EXPECT_EQ(buf, bytes);
  uint8_t b[16];
  EXPECT_EQ(*file.ReadAt(b, 1), 16u);
  EXPECT_EQ(b[0], bytes[1]);
  EXPECT_EQ(*file.ReadAt(b, bytes.size()), 0u);
  EXPECT_EQ(*file.ReadAt(b, ~0ull - 4), 0u);
  close(fd);
  // A closed descriptor: EIO, not the host's EBADF.
  EXPECT_EQ(file.ReadAt(b, 0).error(), Errno(EIO));
}

}  // namespace
}  // namespace sentry::loader

namespace sentry::loader {
namespace {

// A dynamic executable: TestElf with a PT_INTERP naming `path`.
std::vector<uint8_t> DynamicElf(const std::string& path) {
  auto phdrs = testing::TestPhdrs();
  phdrs.insert(phdrs.begin(), testing::Phdr(PT_INTERP, PF_R, 0x300, 0x400300, path.size() + 1,
                                            path.size() + 1, 1));
  auto bytes =
      testing::MakeElf(testing::Ehdr(ET_EXEC, testing::kTestEntry, phdrs.size()), phdrs, 0x4000);
  std::memcpy(bytes.data() + 0x300, path.c_str(), path.size() + 1);
  return bytes;
}

// A position-independent interpreter: RX [0, 0x1800), RW [0x2000, 0x2100) + bss.
std::vector<uint8_t> InterpElf() {
  std::vector<Elf64_Phdr> phdrs = {
      testing::Phdr(PT_LOAD, PF_R | PF_X, 0, 0, 0x1800, 0x1800),
      testing::Phdr(PT_LOAD, PF_R | PF_W, 0x2000, 0x2000, 0x100, 0x3000),
  };
  return testing::MakeElf(testing::Ehdr(ET_DYN, 0x1040, phdrs.size()), phdrs, 0x3000);
}

class InterpTest : public LoaderTest {};

TEST_F(InterpTest, LoadsTheInterpreterBelowTheMmapBase) {
  testing::MemExecutable file(DynamicElf("/lib/ld-test.so"));
  const std::vector<uint8_t> interp_bytes = InterpElf();
  LoadArgs args = Args(&file);
  std::string opened;
  args.open_interp = [&](const std::string& path) -> ErrnoOr<std::unique_ptr<ExecutableFile>> {
    opened = path;
    return std::unique_ptr<ExecutableFile>(new testing::MemExecutable(interp_bytes));
  };
  ErrnoOr<LoadResult> r = LoadIt(args);
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(opened, "/lib/ld-test.so");
  ASSERT_NE(r->interp_base, 0u);
  EXPECT_EQ(r->interp_base % 4096, 0u);
  EXPECT_EQ(r->entry, r->interp_base + 0x1040);
  // Top-down below the mmap base: above the program, below the stack.
  EXPECT_GT(r->interp_base, 0x408010u);
  EXPECT_LT(r->interp_base + 0x5000, r->stack_pointer);
  // Its pages hold its file, and the main program is where it says.
  EXPECT_EQ(Read(r->interp_base, 0x100), FileRange(interp_bytes, 0, 0x100));
  EXPECT_EQ(Read(r->interp_base + 0x2000, 0x10), FileRange(interp_bytes, 0x2000, 0x10));
  EXPECT_EQ(Read(r->interp_base + 0x2100, 0x10), std::string(0x10, '\0'));
  auto v = VmaAt(r->interp_base);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(v->name, "/lib/ld-test.so");
  Entry e = ReadEntry(r->stack_pointer);
  auto aux = [&](uint64_t type) {
    for (auto [k, val] : e.auxv) {
      if (k == type) return val;
    }
    return ~uint64_t{0};
  };
  EXPECT_EQ(aux(AT_BASE), r->interp_base);
  EXPECT_EQ(aux(AT_ENTRY), testing::kTestEntry);
}

TEST_F(InterpTest, MissingInterpreterIsTheOpenersErrno) {
  testing::MemExecutable file(DynamicElf("/missing"));
  LoadArgs args = Args(&file);
  args.open_interp = [](const std::string&) -> ErrnoOr<std::unique_ptr<ExecutableFile>> {
    return Errno(ENOENT);
  };
  ErrnoOr<LoadResult> r = LoadIt(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno(ENOENT));
  EXPECT_THAT(error_, HasSubstr("/missing"));
  EXPECT_TRUE(mm_->Vmas().empty());  // nothing changed
}

TEST_F(InterpTest, InterpreterThatIsNotElfIsElibbad) {
  testing::MemExecutable file(DynamicElf("/bad"));
  LoadArgs args = Args(&file);
  args.open_interp = [](const std::string&) -> ErrnoOr<std::unique_ptr<ExecutableFile>> {
    return std::unique_ptr<ExecutableFile>(
        new testing::MemExecutable(std::vector<uint8_t>{'#', '!', '/', 'x'}));
  };
  ErrnoOr<LoadResult> r = LoadIt(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno(ELIBBAD));
}

TEST_F(InterpTest, NoOpenerMeansEnoexec) {
  testing::MemExecutable file(DynamicElf("/lib/ld.so"));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno(ENOEXEC));
}

}  // namespace
}  // namespace sentry::loader

namespace sentry::loader {
namespace {

// Pages of the memory file standing for the vDSO's image or [vvar].
class TestPages : public memory::Mappable {
 public:
  TestPages(memory::MemoryFile& mf, uint64_t len, uint8_t fill) : mf_(mf) {
    range_ = *mf.Allocate(len);
    std::memset(mf.Internal(range_.start), fill, len);
  }
  ~TestPages() override { mf_.DecRef(range_); }
  uint64_t Size() const override { return range_.Length(); }
  ErrnoOrOk Get(uint64_t start, uint64_t end, bool,
                std::vector<std::pair<uint64_t, memory::FileRange>>* out) override {
    end = std::min(end, Size());
    memory::FileRange piece{range_.start + start, range_.start + end};
    mf_.IncRef(piece);
    out->push_back({start, piece});
    return Ok();
  }
  bool Has(uint64_t) const override { return true; }
  ErrnoOrOk Zero(uint64_t, uint64_t) override { return Errno(EINVAL); }

 private:
  memory::MemoryFile& mf_;
  memory::FileRange range_;
};

class VdsoLoadTest : public InterpTest {
 protected:
  VdsoMapping Vdso() {
    VdsoMapping v;
    v.vvar = std::make_shared<TestPages>(*mf_, 0x4000, 0xaa);
    v.vvar_size = 0x4000;
    v.image = std::make_shared<TestPages>(*mf_, 0x1000, 0x55);
    v.image_size = 0x1000;
    return v;
  }
  void CheckVdso(const LoadResult& r, uint64_t below) {
    ASSERT_NE(r.vdso_base, 0u);
    // [vvar] right below [vdso], right below `below` (the interpreter, or the
    // mmap base), as Linux maps them.
    auto vdso = VmaAt(r.vdso_base);
    auto vvar = VmaAt(r.vdso_base - 1);
    ASSERT_TRUE(vdso.has_value() && vvar.has_value());
    EXPECT_EQ(vdso->name, "[vdso]");
    EXPECT_EQ(vdso->start, r.vdso_base);
    EXPECT_EQ(vdso->end, below);
    EXPECT_EQ(vdso->prot, PROT_READ | PROT_EXEC);
    EXPECT_FALSE(vdso->shared);
    EXPECT_EQ(vvar->name, "[vvar]");
    EXPECT_EQ(vvar->start, r.vdso_base - 0x4000);
    EXPECT_EQ(vvar->prot, PROT_READ);
    EXPECT_FALSE(vvar->shared);
    EXPECT_EQ(Read(r.vdso_base, 4), std::string(4, '\x55'));
    EXPECT_EQ(Read(r.vdso_base - 0x4000, 4), std::string(4, '\xaa'));
    // AT_SYSINFO_EHDR comes first, as in Linux's ARCH_DLINFO.
    Entry e = ReadEntry(r.stack_pointer);
    ASSERT_GE(e.auxv.size(), 2u);
    EXPECT_EQ(e.auxv[0], std::make_pair(uint64_t{AT_SYSINFO_EHDR}, r.vdso_base));
    EXPECT_EQ(e.auxv[1].first, uint64_t{AT_MINSIGSTKSZ});
    EXPECT_EQ(r.auxv[0], e.auxv[0]);
    // [vvar] is read-only for good; [vdso] may be made writable (privately).
    EXPECT_EQ(mm_->Mprotect(vvar->start, 0x1000, PROT_READ | PROT_WRITE).error(), Errno(EACCES));
    EXPECT_TRUE(mm_->Mprotect(vdso->start, 0x1000, PROT_READ | PROT_WRITE).ok());
  }
};

TEST_F(VdsoLoadTest, StaticProgramGetsItBelowTheMmapBase) {
  testing::MemExecutable file(
      MakeElf(Ehdr(ET_EXEC, testing::kTestEntry, TestPhdrs().size()), TestPhdrs(), 0x4000));
  const VdsoMapping v = Vdso();
  LoadArgs args = Args(&file);
  args.vdso = &v;
  ErrnoOr<LoadResult> r = LoadIt(args);
  ASSERT_TRUE(r.ok()) << error_;
  CheckVdso(*r, mm_->layout().mmap_base);
}

TEST_F(VdsoLoadTest, DynamicProgramGetsItBelowTheInterpreter) {
  testing::MemExecutable file(DynamicElf("/lib/ld-test.so"));
  const std::vector<uint8_t> interp_bytes = InterpElf();
  const VdsoMapping v = Vdso();
  LoadArgs args = Args(&file);
  args.vdso = &v;
  args.open_interp = [&](const std::string&) -> ErrnoOr<std::unique_ptr<ExecutableFile>> {
    return std::unique_ptr<ExecutableFile>(new testing::MemExecutable(interp_bytes));
  };
  ErrnoOr<LoadResult> r = LoadIt(args);
  ASSERT_TRUE(r.ok()) << error_;
  CheckVdso(*r, r->interp_base);
}

TEST_F(VdsoLoadTest, WithoutOneThereIsNoSysinfoEhdr) {
  testing::MemExecutable file(
      MakeElf(Ehdr(ET_EXEC, testing::kTestEntry, TestPhdrs().size()), TestPhdrs(), 0x4000));
  ErrnoOr<LoadResult> r = LoadIt(Args(&file));
  ASSERT_TRUE(r.ok()) << error_;
  EXPECT_EQ(r->vdso_base, 0u);
  for (const auto& [type, value] : ReadEntry(r->stack_pointer).auxv) {
    EXPECT_NE(type, uint64_t{AT_SYSINFO_EHDR});
  }
  for (const Vma& vma : mm_->Vmas()) EXPECT_NE(vma.name, "[vdso]");
}

}  // namespace
}  // namespace sentry::loader
