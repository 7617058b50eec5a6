#include "sentry/arch/vdso/vdso.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cpuid.h>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/base/log.h"

namespace sentry::arch {
namespace {

bool InvariantTsc() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) || eax < 0x80000007) return false;
  __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx);
  return (edx >> 8) & 1;
}

template <typename T>
const T* At(std::span<const uint8_t> image, uint64_t offset) {
  if (offset + sizeof(T) > image.size()) return nullptr;
  return reinterpret_cast<const T*>(image.data() + offset);
}

const Elf64_Ehdr& Header() { return *At<Elf64_Ehdr>(VdsoImage(), 0); }

std::vector<Elf64_Phdr> ProgramHeaders() {
  std::vector<Elf64_Phdr> out;
  const Elf64_Ehdr& eh = Header();
  for (int i = 0; i < eh.e_phnum; ++i) {
    out.push_back(*At<Elf64_Phdr>(VdsoImage(), eh.e_phoff + i * sizeof(Elf64_Phdr)));
  }
  return out;
}

std::map<int64_t, uint64_t> Dynamic() {
  std::map<int64_t, uint64_t> out;
  for (const Elf64_Phdr& ph : ProgramHeaders()) {
    if (ph.p_type != PT_DYNAMIC) continue;
    for (uint64_t off = ph.p_offset; off + sizeof(Elf64_Dyn) <= ph.p_offset + ph.p_filesz;
         off += sizeof(Elf64_Dyn)) {
      const Elf64_Dyn* d = At<Elf64_Dyn>(VdsoImage(), off);
      if (d->d_tag == DT_NULL) break;
      out[d->d_tag] = d->d_un.d_val;
    }
  }
  return out;
}

// Defined dynamic symbols as "name@version" -> value (addresses are file
// offsets: the image is linked at 0).
std::map<std::string, const Elf64_Sym*> Symbols() {
  const std::span<const uint8_t> image = VdsoImage();
  std::map<int64_t, uint64_t> dyn = Dynamic();
  const char* strtab = reinterpret_cast<const char*>(image.data() + dyn[DT_STRTAB]);
  // The number of symbols: from DT_HASH's nchain.
  const uint32_t nsyms = At<uint32_t>(image, dyn[DT_HASH])[1];
  const auto* versym = At<Elf64_Half>(image, dyn[DT_VERSYM]);
  std::map<int, std::string> versions;
  uint64_t vd_off = dyn[DT_VERDEF];
  for (uint64_t i = 0; i < dyn[DT_VERDEFNUM]; ++i) {
    const Elf64_Verdef* vd = At<Elf64_Verdef>(image, vd_off);
    const Elf64_Verdaux* aux = At<Elf64_Verdaux>(image, vd_off + vd->vd_aux);
    versions[vd->vd_ndx] = strtab + aux->vda_name;
    vd_off += vd->vd_next;
  }
  std::map<std::string, const Elf64_Sym*> out;
  for (uint32_t i = 1; i < nsyms; ++i) {
    const Elf64_Sym* s = At<Elf64_Sym>(image, dyn[DT_SYMTAB] + i * sizeof(Elf64_Sym));
    if (s->st_shndx == SHN_UNDEF) continue;
    out[std::string(strtab + s->st_name) + "@" + versions[versym[i] & 0x7fff]] = s;
  }
  return out;
}

TEST(VdsoImageTest, IsASharedObjectThatIsItsOwnMemoryImage) {
  const std::span<const uint8_t> image = VdsoImage();
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr));
  const Elf64_Ehdr& eh = Header();
  EXPECT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(eh.e_ident[EI_CLASS], ELFCLASS64);
  EXPECT_EQ(eh.e_type, ET_DYN);
  EXPECT_EQ(eh.e_machine, EM_X86_64);
  int loads = 0, dynamic = 0;
  for (const Elf64_Phdr& ph : ProgramHeaders()) {
    if (ph.p_type == PT_LOAD) {
      ++loads;
      EXPECT_EQ(ph.p_offset, 0u);
      EXPECT_EQ(ph.p_vaddr, 0u);
      EXPECT_EQ(ph.p_filesz, ph.p_memsz);  // no bss
      EXPECT_LE(ph.p_filesz, image.size());
      EXPECT_EQ(ph.p_flags, static_cast<Elf64_Word>(PF_R | PF_X));
    }
    if (ph.p_type == PT_DYNAMIC) ++dynamic;
    EXPECT_NE(ph.p_type, static_cast<Elf64_Word>(PT_TLS));
    EXPECT_NE(ph.p_type, static_cast<Elf64_Word>(PT_INTERP));
  }
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(dynamic, 1);
}

TEST(VdsoImageTest, NeedsNoRelocationAndHasTheTablesLoadersUse) {
  std::map<int64_t, uint64_t> dyn = Dynamic();
  for (int64_t tag : {DT_REL, DT_RELA, DT_JMPREL, DT_TEXTREL, DT_NEEDED, DT_INIT, DT_FINI}) {
    EXPECT_EQ(dyn.count(tag), 0u) << "tag " << tag;
  }
  // glibc and musl use DT_HASH or DT_GNU_HASH, Go and glibc DT_VERSYM/VERDEF.
  for (int64_t tag : {DT_HASH, DT_GNU_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERDEF}) {
    EXPECT_EQ(dyn.count(tag), 1u) << "tag " << tag;
  }
  // Nothing writable: every section that takes memory is in the one R+X
  // segment, and there are no data sections with bytes.
  const std::span<const uint8_t> image = VdsoImage();
  const Elf64_Ehdr& eh = Header();
  const Elf64_Shdr* shstr = At<Elf64_Shdr>(image, eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr));
  ASSERT_NE(shstr, nullptr);
  for (int i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr* sh = At<Elf64_Shdr>(image, eh.e_shoff + i * sizeof(Elf64_Shdr));
    const std::string name =
        reinterpret_cast<const char*>(image.data() + shstr->sh_offset + sh->sh_name);
    for (const char* bad : {".data", ".bss", ".got", ".got.plt", ".plt", ".rela.dyn"}) {
      EXPECT_FALSE(name == bad && sh->sh_size > 0) << name;
    }
  }
}

TEST(VdsoImageTest, ExportsWhatLibcLooksUpUnderLinux26) {
  std::map<std::string, const Elf64_Sym*> syms = Symbols();
  for (const char* name :
       {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
        "__vdso_clock_getres", "clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"}) {
    auto it = syms.find(std::string(name) + "@LINUX_2.6");
    ASSERT_NE(it, syms.end()) << name;
    EXPECT_EQ(ELF64_ST_TYPE(it->second->st_info), STT_FUNC) << name;
    EXPECT_GT(it->second->st_value, 0u) << name;
  }
}

// The image mapped in this process below its [vvar], as the loader does in
// a guest's: its functions then run here, reading parameters `tk` publishes.
class InProcessVdso {
 public:
  InProcessVdso() {
    const std::span<const uint8_t> image = VdsoImage();
    image_len_ = (image.size() + 4095) & ~uint64_t{4095};
    len_ = SANDBOX_VVAR_SIZE + image_len_;
    base_ = static_cast<uint8_t*>(
        mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    SCHECK(base_ != MAP_FAILED);
    std::memcpy(base_ + SANDBOX_VVAR_SIZE, image.data(), image.size());
    SCHECK(mprotect(base_ + SANDBOX_VVAR_SIZE, image_len_, PROT_READ | PROT_EXEC) == 0);
  }
  ~InProcessVdso() { munmap(base_, len_); }
  sandbox_vvar* vvar() { return reinterpret_cast<sandbox_vvar*>(base_); }
  template <typename F>
  F* Function(const char* name) {
    const Elf64_Sym* s = Symbols().at(std::string(name) + "@LINUX_2.6");
    return reinterpret_cast<F*>(base_ + SANDBOX_VVAR_SIZE + s->st_value);
  }

 private:
  uint8_t* base_;
  uint64_t image_len_, len_;
};

using ClockGettimeFn = long(int, timespec*);
using GettimeofdayFn = long(timeval*, struct timezone*);
using TimeFn = int64_t(int64_t*);
using ClockGetresFn = long(int, timespec*);
using GetcpuFn = long(unsigned*, unsigned*, void*);

TEST(VdsoRunTest, AgreesWithTheTimekeeperAndFallsBackToTheSyscall) {
  InProcessVdso v;
  v.vvar()->coarse_res_ns = time::Timekeeper::CoarseResolutionNs();
  v.vvar()->num_cpus = 2;
  time::Timekeeper::Options o;
  o.start_thread = false;
  time::Timekeeper tk(o);
  tk.AddMirror(v.vvar());
  auto* clock_gettime_fn = v.Function<ClockGettimeFn>("__vdso_clock_gettime");
  auto* gettimeofday_fn = v.Function<GettimeofdayFn>("__vdso_gettimeofday");
  auto* time_fn = v.Function<TimeFn>("__vdso_time");

  // No parameters yet: the syscall (here, this process's real one).
  timespec ts{};
  timespec host;
  clock_gettime(CLOCK_MONOTONIC, &host);
  ASSERT_EQ(clock_gettime_fn(CLOCK_MONOTONIC, &ts), 0);
  EXPECT_GE(time::TimespecToNs(ts), time::TimespecToNs(host));
  // A clock it does not compute, and one that does not exist.
  EXPECT_EQ(clock_gettime_fn(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
  EXPECT_EQ(clock_gettime_fn(12345, &ts), -EINVAL);

  if (!InvariantTsc()) GTEST_SKIP() << "no invariant TSC: the vDSO always makes the syscall";
  usleep(5000);
  tk.Update();
  ASSERT_EQ(v.vvar()->mode, SANDBOX_VVAR_MODE_TSC);
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW,
                      CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_TAI}) {
    for (int i = 0; i < 100; ++i) {
      const int64_t before = tk.NowNs(c);
      ASSERT_EQ(clock_gettime_fn(c, &ts), 0);
      const int64_t after = tk.NowNs(c);
      ASSERT_LE(before, time::TimespecToNs(ts)) << c;
      ASSERT_LE(time::TimespecToNs(ts), after) << c;
      ASSERT_LT(ts.tv_nsec, 1000000000);
    }
  }
  timeval tv{};
  struct timezone tz {
    - 1, -1
  };
  const int64_t before = tk.NowNs(CLOCK_REALTIME);
  ASSERT_EQ(gettimeofday_fn(&tv, &tz), 0);
  EXPECT_LE(before / 1000, tv.tv_sec * 1000000 + tv.tv_usec);
  EXPECT_LE(tv.tv_sec * 1000000 + tv.tv_usec, tk.NowNs(CLOCK_REALTIME) / 1000);
  EXPECT_EQ(tz.tz_minuteswest, 0);
  EXPECT_EQ(tz.tz_dsttime, 0);
  EXPECT_EQ(gettimeofday_fn(nullptr, nullptr), 0);
  int64_t t = 0;
  const int64_t secs = time_fn(&t);
  EXPECT_EQ(secs, t);
  EXPECT_GE(secs, before / time::kNsPerSec);
  EXPECT_LE(secs, tk.NowNs(CLOCK_REALTIME) / time::kNsPerSec);
  EXPECT_GE(time_fn(nullptr), secs);  // a null pointer is fine
  tk.RemoveMirror(v.vvar());
}

TEST(VdsoRunTest, GetresAndGetcpu) {
  InProcessVdso v;
  v.vvar()->coarse_res_ns = 4000000;
  v.vvar()->num_cpus = 1;
  auto* getres = v.Function<ClockGetresFn>("__vdso_clock_getres");
  auto* getcpu = v.Function<GetcpuFn>("__vdso_getcpu");
  timespec res{-1, -1};
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW}) {
    ASSERT_EQ(getres(c, &res), 0);
    EXPECT_EQ(res.tv_sec, 0);
    EXPECT_EQ(res.tv_nsec, 1);
  }
  ASSERT_EQ(getres(CLOCK_MONOTONIC_COARSE, &res), 0);
  EXPECT_EQ(res.tv_nsec, 4000000);
  EXPECT_EQ(getres(CLOCK_MONOTONIC, nullptr), 0);
  EXPECT_EQ(getres(12345, &res), -EINVAL);  // the syscall's answer
  unsigned cpu = 99, node = 99;
  ASSERT_EQ(getcpu(&cpu, &node, nullptr), 0);
  EXPECT_EQ(cpu, 0u);  // below num_cpus
  EXPECT_EQ(node, 0u);
  // Without a CPU count, the syscall (this process's: any CPU of the host).
  v.vvar()->num_cpus = 0;
  ASSERT_EQ(getcpu(&cpu, &node, nullptr), 0);
  EXPECT_LT(cpu, static_cast<unsigned>(sysconf(_SC_NPROCESSORS_CONF)));
}

TEST(VdsoTest, AnInstanceInAMemoryFile) {
  auto mf = memory::MemoryFile::Create(64 << 20);
  ASSERT_TRUE(mf.ok());
  time::Timekeeper::Options o;
  o.start_thread = false;
  time::Timekeeper tk(o);
  {
    auto vdso = Vdso::Create(**mf, tk, 3);
    ASSERT_TRUE(vdso.ok());
    const std::span<const uint8_t> image = VdsoImage();
    EXPECT_EQ((*vdso)->image_size() % 4096, 0u);
    EXPECT_GE((*vdso)->image_size(), image.size());
    std::vector<std::pair<uint64_t, memory::FileRange>> pieces;
    ASSERT_TRUE((*vdso)->image()->Get(0, (*vdso)->image_size(), false, &pieces).ok());
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(std::memcmp((*mf)->Internal(pieces[0].second.start), image.data(), image.size()), 0);
    (*mf)->DecRef(pieces[0].second);
    EXPECT_EQ((*vdso)->vvar()->Size(), uint64_t{SANDBOX_VVAR_SIZE});
    EXPECT_EQ((*vdso)->params().num_cpus, 3u);
    EXPECT_GT((*vdso)->params().coarse_res_ns, 0);
    usleep(2000);
    tk.Update();
    EXPECT_EQ((*vdso)->params().mode, tk.ParamsForTest().mode);
    EXPECT_EQ((*vdso)->params().mono_mult, tk.ParamsForTest().mono_mult);
  }
  EXPECT_EQ((*mf)->UsedBytes(), 0u);
}

}  // namespace
}  // namespace sentry::arch
