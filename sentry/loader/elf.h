// Reading and validating the headers of an ELF64 x86-64 executable, with a
// reason for every rejection. Nothing here touches guest memory: the result says
// what to map, and sentry/loader/loader.cc maps it.
//
// Every size the file declares is checked before it is used, and what is read
// from the file is bounded (the program header table by Linux's 64 KiB cap, the
// interpreter path by PATH_MAX), so a malformed file can neither crash the Sentry
// nor make it allocate without bound.
#ifndef SENTRY_LOADER_ELF_H_
#define SENTRY_LOADER_ELF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/loader/loader.h"

namespace sentry::loader {

// Linux's limit on the program header table (load_elf_phdrs).
inline constexpr uint64_t kMaxPhdrTableSize = 65536;
// PATH_MAX, the limit on a PT_INTERP path.
inline constexpr uint64_t kMaxInterpSize = 4096;

// A PT_LOAD segment, as the file describes it (before any load bias).
struct LoadSegment {
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  uint64_t offset = 0;
  uint64_t filesz = 0;
  int prot = 0;        // PROT_* from p_flags
  uint32_t flags = 0;  // p_flags
};

struct ElfInfo {
  uint16_t type = 0;   // ET_EXEC or ET_DYN
  uint64_t entry = 0;  // e_entry (before any load bias)
  uint16_t phnum = 0;
  // The PT_LOAD segments with a non-zero p_memsz, sorted by address and
  // non-overlapping.
  std::vector<LoadSegment> loads;
  // Where the program headers are in memory (before any load bias): PT_PHDR's
  // p_vaddr if there is one, else inside the PT_LOAD that covers them in the file.
  std::optional<uint64_t> phdr_vaddr;
  // The largest power-of-two p_align of the PT_LOAD segments, rounded up to a
  // page (Linux's maximum_alignment); 0 if none is a power of two.
  uint64_t max_align = 0;
  // PT_INTERP's path (without its NUL), if the executable names an interpreter.
  std::optional<std::string> interp;
  // PT_GNU_STACK asks for an executable stack. Without PT_GNU_STACK an x86-64
  // stack is not executable (Linux since 5.8).
  bool exec_stack = false;
};

// Reads and validates the ELF headers of `file`. ENOEXEC with `*error` saying why
// for anything that is not a well-formed x86-64 ELF executable; EIO (or the
// file's error) if reading fails.
ErrnoOr<ElfInfo> ReadElf(ExecutableFile& file, std::string* error);

// Reads exactly dst.size() bytes at `offset`: ENOEXEC (with `*error` naming
// `what`) if the file ends first.
ErrnoOrOk ReadFull(ExecutableFile& file, std::span<uint8_t> dst, uint64_t offset,
                   std::string_view what, std::string* error);

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_ELF_H_
