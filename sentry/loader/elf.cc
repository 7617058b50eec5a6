#include "sentry/loader/elf.h"

#include <elf.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/base/user_addr.h"

namespace sentry::loader {
namespace {

// Reads up to dst.size() bytes at `offset`, stopping early only at EOF.
ErrnoOr<size_t> ReadUpTo(ExecutableFile& file, std::span<uint8_t> dst, uint64_t offset) {
  size_t done = 0;
  while (done < dst.size()) {
    ASSIGN_OR_RETURN(size_t n, file.ReadAt(dst.subspan(done), offset + done));
    if (n == 0) break;
    done += std::min(n, dst.size() - done);
  }
  return done;
}

int ProtOf(uint32_t p_flags) {
  int prot = 0;
  if (p_flags & PF_R) prot |= PROT_READ;
  if (p_flags & PF_W) prot |= PROT_WRITE;
  if (p_flags & PF_X) prot |= PROT_EXEC;
  return prot;
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string_view TypeName(uint16_t type) {
  switch (type) {
    case ET_NONE:
      return "no file type";
    case ET_REL:
      return "a relocatable object";
    case ET_CORE:
      return "a core file";
    default:
      return "an unknown type";
  }
}

class Checker {
 public:
  Checker(ExecutableFile& file, std::string* error) : file_(file), error_(error) {}

  ErrnoOr<ElfInfo> Run();

 private:
  template <typename... Args>
  Errno Fail(const absl::FormatSpec<Args...>& format, const Args&... args) {
    *error_ = absl::StrFormat(format, args...);
    return Errno(ENOEXEC);
  }

  ErrnoOrOk CheckHeader(const Elf64_Ehdr& eh);
  ErrnoOrOk CheckLoad(int index, const Elf64_Phdr& ph, ElfInfo* info);
  ErrnoOrOk ReadInterp(const Elf64_Phdr& ph, ElfInfo* info);

  ExecutableFile& file_;
  std::string* error_;
};

ErrnoOrOk Checker::CheckHeader(const Elf64_Ehdr& eh) {
  const unsigned char* id = eh.e_ident;
  if (id[EI_CLASS] != ELFCLASS64) {
    return Fail("not a 64-bit ELF file (EI_CLASS %d)", id[EI_CLASS]);
  }
  if (id[EI_DATA] != ELFDATA2LSB) {
    return Fail("not a little-endian ELF file (EI_DATA %d)", id[EI_DATA]);
  }
  if (id[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT) {
    return Fail("unsupported ELF version (EI_VERSION %d, e_version %d)", id[EI_VERSION],
                eh.e_version);
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    return Fail("not an executable: e_type %d is %s", eh.e_type, TypeName(eh.e_type));
  }
  if (eh.e_machine != EM_X86_64) {
    return Fail("not an x86-64 executable (e_machine %d)", eh.e_machine);
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return Fail("bad e_phentsize %d (want %d)", eh.e_phentsize, sizeof(Elf64_Phdr));
  }
  if (eh.e_phnum == 0) return Fail("no program headers");
  uint64_t table = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (table > kMaxPhdrTableSize) {
    return Fail("too many program headers (%d: %d bytes, more than Linux's limit of %d)",
                eh.e_phnum, table, kMaxPhdrTableSize);
  }
  return Ok();
}

ErrnoOrOk Checker::CheckLoad(int index, const Elf64_Phdr& ph, ElfInfo* info) {
  if (ph.p_filesz > ph.p_memsz) {
    return Fail("PT_LOAD %d: p_filesz 0x%x is larger than p_memsz 0x%x", index, ph.p_filesz,
                ph.p_memsz);
  }
  if ((ph.p_offset - ph.p_vaddr) % kPageSize != 0) {
    return Fail("PT_LOAD %d: p_offset 0x%x and p_vaddr 0x%x differ modulo the page size", index,
                ph.p_offset, ph.p_vaddr);
  }
  uint64_t file_end;
  if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &file_end)) {
    return Fail("PT_LOAD %d: file range 0x%x + 0x%x overflows", index, ph.p_offset, ph.p_filesz);
  }
  uint64_t mem_end;
  // The page-rounded end must not wrap either.
  if (__builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &mem_end) || mem_end > -kPageSize) {
    return Fail("PT_LOAD %d: address range 0x%x + 0x%x overflows", index, ph.p_vaddr, ph.p_memsz);
  }
  if (IsPowerOfTwo(ph.p_align)) info->max_align = std::max(info->max_align, ph.p_align);
  // NOTE: an empty segment maps nothing in Linux; it takes no part in the order.
  if (ph.p_memsz == 0) return Ok();
  if (!info->loads.empty()) {
    const LoadSegment& prev = info->loads.back();
    if (ph.p_vaddr < prev.vaddr) {
      return Fail("PT_LOAD %d at 0x%x is not sorted by address (the previous one is at 0x%x)",
                  index, ph.p_vaddr, prev.vaddr);
    }
    if (ph.p_vaddr < prev.vaddr + prev.memsz) {
      return Fail("PT_LOAD %d at 0x%x overlaps the previous one [0x%x, 0x%x)", index, ph.p_vaddr,
                  prev.vaddr, prev.vaddr + prev.memsz);
    }
  }
  info->loads.push_back(LoadSegment{ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz,
                                    ProtOf(ph.p_flags), ph.p_flags});
  return Ok();
}

ErrnoOrOk Checker::ReadInterp(const Elf64_Phdr& ph, ElfInfo* info) {
  if (ph.p_filesz < 2 || ph.p_filesz > kMaxInterpSize) {
    return Fail("PT_INTERP: bad size %d", ph.p_filesz);
  }
  std::string path(ph.p_filesz, '\0');
  RETURN_IF_ERROR(ReadFull(file_, {reinterpret_cast<uint8_t*>(path.data()), path.size()},
                           ph.p_offset, "PT_INTERP", error_));
  if (path.back() != '\0') return Fail("PT_INTERP: the path is not NUL-terminated");
  path.resize(std::strlen(path.c_str()));
  info->interp = std::move(path);
  return Ok();
}

ErrnoOr<ElfInfo> Checker::Run() {
  Elf64_Ehdr eh;
  uint8_t raw[sizeof(eh)] = {};
  ASSIGN_OR_RETURN(size_t got, ReadUpTo(file_, raw, 0));
  if (got < SELFMAG || std::memcmp(raw, ELFMAG, SELFMAG) != 0) {
    return Fail("not an ELF file (bad magic)");
  }
  if (got < sizeof(eh)) return Fail("truncated ELF header (%d bytes)", got);
  std::memcpy(&eh, raw, sizeof(eh));
  RETURN_IF_ERROR(CheckHeader(eh));

  ElfInfo info;
  info.type = eh.e_type;
  info.entry = eh.e_entry;
  info.phnum = eh.e_phnum;

  // Bounded by kMaxPhdrTableSize (checked above).
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  RETURN_IF_ERROR(
      ReadFull(file_, {reinterpret_cast<uint8_t*>(phdrs.data()), phdrs.size() * sizeof(Elf64_Phdr)},
               eh.e_phoff, "the program headers", error_));

  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    switch (ph.p_type) {
      case PT_LOAD:
        RETURN_IF_ERROR(CheckLoad(static_cast<int>(i), ph, &info));
        break;
      case PT_INTERP:
        // Linux uses the first one.
        if (!info.interp) RETURN_IF_ERROR(ReadInterp(ph, &info));
        break;
      case PT_GNU_STACK:
        info.exec_stack = (ph.p_flags & PF_X) != 0;
        break;
      case PT_PHDR:
        if (!info.phdr_vaddr) info.phdr_vaddr = ph.p_vaddr;
        break;
      default:
        break;
    }
  }
  if (info.loads.empty()) return Fail("no PT_LOAD segments");
  info.max_align = info.max_align == 0 ? 0 : PageRoundUp(info.max_align);

  if (!info.phdr_vaddr) {
    // As Linux: the PT_LOAD whose file range holds e_phoff.
    for (const LoadSegment& s : info.loads) {
      if (s.offset <= eh.e_phoff && eh.e_phoff < s.offset + s.filesz) {
        info.phdr_vaddr = eh.e_phoff - s.offset + s.vaddr;
        break;
      }
    }
  }

  // Every segment's file bytes must exist: probe the last byte of each, so that a
  // truncated file fails here rather than half-way through mapping it.
  for (size_t i = 0; i < info.loads.size(); ++i) {
    const LoadSegment& s = info.loads[i];
    if (s.filesz == 0) continue;
    uint8_t byte;
    ASSIGN_OR_RETURN(size_t n, file_.ReadAt({&byte, 1}, s.offset + s.filesz - 1));
    if (n != 1) {
      return Fail("truncated file: a PT_LOAD segment's bytes [0x%x, 0x%x) go beyond its end",
                  s.offset, s.offset + s.filesz);
    }
  }
  return info;
}

}  // namespace

ErrnoOrOk ReadFull(ExecutableFile& file, std::span<uint8_t> dst, uint64_t offset,
                   std::string_view what, std::string* error) {
  uint64_t end;
  if (__builtin_add_overflow(offset, dst.size(), &end)) {
    *error = absl::StrFormat("%s at 0x%x + 0x%x: the range overflows", what, offset, dst.size());
    return Errno(ENOEXEC);
  }
  ASSIGN_OR_RETURN(size_t got, ReadUpTo(file, dst, offset));
  if (got < dst.size()) {
    *error = absl::StrFormat("truncated file: %s [0x%x, 0x%x) go beyond its end at 0x%x", what,
                             offset, end, offset + got);
    return Errno(ENOEXEC);
  }
  return Ok();
}

ErrnoOr<ElfInfo> ReadElf(ExecutableFile& file, std::string* error) {
  return Checker(file, error).Run();
}

}  // namespace sentry::loader
