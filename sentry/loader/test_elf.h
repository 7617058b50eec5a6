// Test helpers: ELF files built in memory, and an ExecutableFile over bytes.
#ifndef SENTRY_LOADER_TEST_ELF_H_
#define SENTRY_LOADER_TEST_ELF_H_

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sentry/loader/loader.h"

namespace sentry::loader::testing {

// An executable held in memory.
class MemExecutable : public ExecutableFile {
 public:
  explicit MemExecutable(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) override {
    ++reads_;
    if (offset >= bytes_.size()) return size_t{0};
    size_t n = std::min<uint64_t>(dst.size(), bytes_.size() - offset);
    std::memcpy(dst.data(), bytes_.data() + offset, n);
    return n;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  int reads() const { return reads_; }

 private:
  std::vector<uint8_t> bytes_;
  int reads_ = 0;
};

// The byte at `offset` of a file MakeElf made (before headers were written).
inline uint8_t FileByte(uint64_t offset) {
  return static_cast<uint8_t>(offset * 7 + offset / 251 + 1);
}

inline Elf64_Phdr Phdr(uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr,
                       uint64_t filesz, uint64_t memsz, uint64_t align = 0x1000) {
  Elf64_Phdr p{};
  p.p_type = type;
  p.p_flags = flags;
  p.p_offset = offset;
  p.p_vaddr = vaddr;
  p.p_paddr = vaddr;
  p.p_filesz = filesz;
  p.p_memsz = memsz;
  p.p_align = align;
  return p;
}

// A valid ELF header for `type`, with the program headers right after it.
inline Elf64_Ehdr Ehdr(uint16_t type, uint64_t entry, size_t phnum) {
  Elf64_Ehdr e{};
  std::memcpy(e.e_ident, ELFMAG, SELFMAG);
  e.e_ident[EI_CLASS] = ELFCLASS64;
  e.e_ident[EI_DATA] = ELFDATA2LSB;
  e.e_ident[EI_VERSION] = EV_CURRENT;
  e.e_type = type;
  e.e_machine = EM_X86_64;
  e.e_version = EV_CURRENT;
  e.e_entry = entry;
  e.e_phoff = sizeof(Elf64_Ehdr);
  e.e_ehsize = sizeof(Elf64_Ehdr);
  e.e_phentsize = sizeof(Elf64_Phdr);
  e.e_phnum = static_cast<uint16_t>(phnum);
  return e;
}

// A file of `size` patterned bytes (FileByte) with `eh` at 0 and `phdrs` at
// eh.e_phoff (as far as they fit).
inline std::vector<uint8_t> MakeElf(const Elf64_Ehdr& eh, const std::vector<Elf64_Phdr>& phdrs,
                                    size_t size) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = FileByte(i);
  std::memcpy(f.data(), &eh, std::min(sizeof(eh), size));
  for (size_t i = 0; i < phdrs.size(); ++i) {
    uint64_t off = eh.e_phoff + i * sizeof(Elf64_Phdr);
    if (off + sizeof(Elf64_Phdr) <= size)
      std::memcpy(f.data() + off, &phdrs[i], sizeof(Elf64_Phdr));
  }
  return f;
}

// The standard test image: a static ET_EXEC with
//   R   [0x400000, 0x400200)  from offset 0 (holds the headers)
//   RX  [0x401000, 0x402234)  from 0x1000 (the last page shows file bytes past
//                             p_filesz, as a file mapping does)
//   RW  [0x403010, 0x408010)  from 0x3010, 0x100 file bytes then bss
//   GNU_STACK RW
// in a file of 0x4000 bytes; entry 0x401100.
inline constexpr uint64_t kTestEntry = 0x401100;
inline std::vector<Elf64_Phdr> TestPhdrs() {
  return {
      Phdr(PT_LOAD, PF_R, 0, 0x400000, 0x200, 0x200),
      Phdr(PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x1234, 0x1234),
      Phdr(PT_LOAD, PF_R | PF_W, 0x3010, 0x403010, 0x100, 0x5000),
      Phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16),
  };
}
inline std::vector<uint8_t> TestElf() {
  auto phdrs = TestPhdrs();
  return MakeElf(Ehdr(ET_EXEC, kTestEntry, phdrs.size()), phdrs, 0x4000);
}

inline std::vector<uint8_t> ReadHostFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sentry::loader::testing

#endif  // SENTRY_LOADER_TEST_ELF_H_
