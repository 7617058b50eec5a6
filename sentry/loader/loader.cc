#include "sentry/loader/loader.h"

#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/loader/elf.h"
#include "sentry/loader/layout.h"
#include "sentry/loader/stack.h"

namespace sentry::loader {
namespace {

// TASK_COMM_LEN - 1.
constexpr size_t kCommLength = 15;
// File bytes are copied into guest memory through a buffer of this size.
constexpr size_t kCopyChunk = 64 * 1024;
// The largest writable file-backed segment whose pages are copied at load
// (MADV_POPULATE_WRITE) instead of one copy-on-write fault per 64 KiB window
// as the program first writes it: a program's data is relocated and written
// soon after it starts (python3 writes most of its 1.2 MiB), and a fault in a
// sandbox costs ~100 us where copying 64 KiB costs ~10.
constexpr uint64_t kPrefaultWritableMax = 4 << 20;
constexpr int kMadvPopulateWrite = 23;

// A PT_LOAD segment at its final address.
struct Placed {
  const LoadSegment* seg;
  uint64_t start;  // vaddr + bias
  uint64_t end;    // start + memsz (not page-aligned)
};

std::string Comm(std::string_view filename) {
  size_t slash = filename.rfind('/');
  std::string_view base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
  return std::string(base.substr(0, kCommLength));
}

// Places every segment at vaddr + bias and checks that it lies in
// [mmap_min_addr, max_addr). The arithmetic is relative to the first segment,
// whose address may wrap modulo 2^64 the way Linux's bias arithmetic does.
ErrnoOr<std::vector<Placed>> Place(const ElfInfo& elf, uint64_t bias, uint64_t max_addr,
                                   std::string* error) {
  std::vector<Placed> out;
  const uint64_t first_vaddr = elf.loads.front().vaddr;
  const uint64_t first_start = first_vaddr + bias;
  for (const LoadSegment& s : elf.loads) {
    uint64_t start, end;
    if (__builtin_add_overflow(first_start, s.vaddr - first_vaddr, &start) ||
        __builtin_add_overflow(start, s.memsz, &end) || PageRoundDown(start) < kMmapMinAddr ||
        end > max_addr) {
      *error = absl::StrFormat(
          "PT_LOAD segment at 0x%x (size 0x%x, load bias 0x%x) is outside the address space "
          "[0x%x, 0x%x)",
          s.vaddr, s.memsz, bias, kMmapMinAddr, max_addr);
      return Errno(ENOEXEC);
    }
    out.push_back({&s, start, end});
  }
  return out;
}

// Copies file bytes [offset, offset+length) to guest `addr`, ignoring page
// protections (the pages are the image's own, being filled). With `to_eof`, a
// file that ends early is fine: the rest stays zero, as in the last page of a
// file mapping.
ErrnoOrOk CopyFileToGuest(mm::MemoryManager& mm, ExecutableFile& file, uint64_t offset,
                          uint64_t addr, uint64_t length, bool to_eof, std::string* error) {
  std::vector<uint8_t> buf(std::min<uint64_t>(length, kCopyChunk));
  for (uint64_t done = 0; done < length;) {
    std::span<uint8_t> chunk(buf.data(), std::min<uint64_t>(length - done, buf.size()));
    size_t got = chunk.size();
    if (to_eof) {
      size_t n = 0;
      while (n < chunk.size()) {
        ASSIGN_OR_RETURN(size_t r, file.ReadAt(chunk.subspan(n), offset + done + n));
        if (r == 0) break;
        n += std::min(r, chunk.size() - n);
      }
      got = n;
    } else {
      RETURN_IF_ERROR(ReadFull(file, chunk, offset + done, "a PT_LOAD segment's bytes", error));
    }
    if (got == 0) break;
    mm::CopyResult r = mm.CopyOutForce(UserAddr(addr + done), chunk.first(got));
    if (!r.ok()) {
      *error = absl::StrFormat("writing the image at 0x%x: %s", addr + done + r.done,
                               ErrnoName(r.err.value()));
      return r.err;
    }
    done += got;
    if (got < chunk.size()) break;
  }
  return Ok();
}

ErrnoOrOk MapAnonymous(mm::MemoryManager& mm, uint64_t start, uint64_t end, int prot, int flags,
                       const std::string& name, std::string* error) {
  mm::MmapOpts o;
  o.addr = start;
  o.length = end - start;
  o.prot = prot;
  o.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags;
  o.name = name;
  ErrnoOr<uint64_t> r = mm.Mmap(o);
  if (!r.ok()) {
    *error = absl::StrFormat("mapping [0x%x, 0x%x)%s%s: %s", start, end, name.empty() ? "" : " ",
                             name, ErrnoName(r.error().value()));
    return r.error();
  }
  return Ok();
}

// Maps file pages [offset, offset + end - start) privately at [start, end).
ErrnoOrOk MapFile(mm::MemoryManager& mm, const ExecutableFile::MapInfo& m, uint64_t offset,
                  uint64_t start, uint64_t end, int prot, const std::string& name,
                  std::string* error) {
  mm::MmapOpts o;
  o.addr = start;
  o.length = end - start;
  o.prot = prot;
  o.flags = MAP_PRIVATE | MAP_FIXED;
  o.name = name;
  o.file = m.object;
  o.offset = offset;
  o.dev = m.dev;
  o.ino = m.ino;
  ErrnoOr<uint64_t> r = mm.Mmap(o);
  if (!r.ok()) {
    *error = absl::StrFormat("mapping [0x%x, 0x%x) of %s at offset 0x%x: %s", start, end, name,
                             offset, ErrnoName(r.error().value()));
    return r.error();
  }
  return Ok();
}

// Zeroes guest [addr, addr + length) ignoring page protections (padzero).
ErrnoOrOk ZeroGuest(mm::MemoryManager& mm, uint64_t addr, uint64_t length, std::string* error) {
  std::vector<uint8_t> zeros(length, 0);
  mm::CopyResult r = mm.CopyOutForce(UserAddr(addr), zeros);
  if (!r.ok()) {
    *error =
        absl::StrFormat("zeroing the image at 0x%x: %s", addr + r.done, ErrnoName(r.err.value()));
    return r.err;
  }
  return Ok();
}

// Maps one segment the way Linux's elf_load does, with anonymous memory filled
// from the file in place of a file mapping:
//  - [PAGESTART(start), PAGEALIGN(start + filesz)) holds the file's pages from
//    PAGESTART(p_offset), with the segment's protection; so the bytes before
//    p_vaddr in the first page and after p_filesz in the last one are the file's
//    (zero past its end);
//  - if p_memsz > p_filesz, the rest of that last page is zeroed (padzero), but
//    only if the segment is writable: Linux ignores padzero's failure otherwise;
//  - the whole pages up to PAGEALIGN(start + memsz) are anonymous zero pages
//    (vm_brk_flags): read-write, plus exec if the segment is executable.
ErrnoOrOk MapSegment(mm::MemoryManager& mm, ExecutableFile& file, const Placed& p,
                     const std::string& name, std::string* error) {
  const LoadSegment& s = *p.seg;
  const uint64_t page_start = PageRoundDown(p.start);
  uint64_t file_pages_end = page_start;
  if (s.filesz > 0) {
    const uint64_t file_end = p.start + s.filesz;
    file_pages_end = PageRoundUp(file_end);
    bool tail_zeroed = s.memsz > s.filesz && (s.prot & PROT_WRITE);
    ExecutableFile::MapInfo m = file.Mappable();
    if (m.object != nullptr) {
      // A private file mapping, as Linux's: the pages come copy-on-write from
      // the file's page cache, shared with every other mapper of the file.
      RETURN_IF_ERROR(
          MapFile(mm, m, PageRoundDown(s.offset), page_start, file_pages_end, s.prot, name, error));
      if (tail_zeroed && file_pages_end > file_end) {
        RETURN_IF_ERROR(ZeroGuest(mm, file_end, file_pages_end - file_end, error));
      }
      if ((s.prot & PROT_WRITE) && file_pages_end - page_start <= kPrefaultWritableMax) {
        // Best effort: whatever is not copied now faults in later.
        (void)mm.Madvise(page_start, file_pages_end - page_start, kMadvPopulateWrite);
      }
    } else {
      RETURN_IF_ERROR(MapAnonymous(mm, page_start, file_pages_end, s.prot, 0, name, error));
      RETURN_IF_ERROR(CopyFileToGuest(mm, file, PageRoundDown(s.offset), page_start,
                                      file_end - page_start, /*to_eof=*/false, error));
    }
    if (m.object == nullptr && !tail_zeroed && file_pages_end > file_end) {
      RETURN_IF_ERROR(CopyFileToGuest(mm, file, s.offset + s.filesz, file_end,
                                      file_pages_end - file_end, /*to_eof=*/true, error));
    }
  }
  const uint64_t bss_end = PageRoundUp(p.end);
  if (s.memsz > s.filesz && bss_end > file_pages_end) {
    // NOTE: unnamed, as Linux's brk-style bss pages show in /proc/pid/maps.
    RETURN_IF_ERROR(MapAnonymous(mm, file_pages_end, bss_end,
                                 PROT_READ | PROT_WRITE | (s.prot & PROT_EXEC), 0, "", error));
  }
  return Ok();
}

// Maps the vDSO as Linux's map_vdso does after the image and the
// interpreter: [vvar] then [vdso] right above it, top-down in the mmap area
// (so below the interpreter). Returns the image's address.
ErrnoOr<uint64_t> MapVdso(mm::MemoryManager& mm, const VdsoMapping& vdso, std::string* error) {
  const uint64_t total = vdso.vvar_size + vdso.image_size;
  mm::MmapOpts reserve;
  reserve.length = total;
  reserve.prot = PROT_NONE;
  reserve.flags = MAP_PRIVATE | MAP_ANONYMOUS;
  ErrnoOr<uint64_t> base = mm.Mmap(reserve);
  if (!base.ok()) {
    *error = absl::StrFormat("no room for the vDSO (0x%x bytes): %s", total,
                             ErrnoName(base.error().value()));
    return base.error();
  }
  struct Part {
    uint64_t addr, size;
    int prot;
    const std::shared_ptr<memory::Mappable>* object;
    const char* name;
  };
  const Part parts[] = {
      {*base, vdso.vvar_size, PROT_READ, &vdso.vvar, "[vvar]"},
      {*base + vdso.vvar_size, vdso.image_size, PROT_READ | PROT_EXEC, &vdso.image, "[vdso]"},
  };
  for (const Part& p : parts) {
    mm::MmapOpts o;
    o.addr = p.addr;
    o.length = p.size;
    o.prot = p.prot;
    o.flags = MAP_PRIVATE | MAP_FIXED;
    o.name = p.name;
    o.file = *p.object;
    o.file_writable = false;
    // [vvar] can never be made writable or executable (Linux: no VM_MAYWRITE,
    // VM_MAYEXEC); [vdso] may be written after mprotect, privately.
    if (p.object == &vdso.vvar) o.max_prot = PROT_READ;
    ErrnoOr<uint64_t> r = mm.Mmap(o);
    if (!r.ok()) {
      *error =
          absl::StrFormat("mapping %s at 0x%x: %s", p.name, p.addr, ErrnoName(r.error().value()));
      return r.error();
    }
  }
  return *base + vdso.vvar_size;
}

}  // namespace

ErrnoOr<size_t> HostFdExecutable::ReadAt(std::span<uint8_t> dst, uint64_t offset) {
  size_t done = 0;
  while (done < dst.size()) {
    // Beyond what off_t can say, there is nothing to read.
    if (offset > static_cast<uint64_t>(LLONG_MAX) - (dst.size() - done)) break;
    ssize_t n = pread(fd_, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      SLOG(kWarning, "reading the executable (fd %d) at %d: %s", fd_, offset + done,
           std::strerror(errno));
      return Errno(EIO);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

ErrnoOr<LoadResult> Load(mm::MemoryManager& mm, const LoadArgs& args, std::string* error) {
  std::string ignored;
  if (error == nullptr) error = &ignored;
  error->clear();
  SCHECK(args.file != nullptr);

  // Linux copies the strings before it looks at the binary: E2BIG comes first.
  ASSIGN_OR_RETURN(ExecStrings strings,
                   CheckExecStrings(args.argv, args.envp, args.filename, args.stack_limit, error));
  ASSIGN_OR_RETURN(ElfInfo elf, ReadElf(*args.file, error));
  // The interpreter is opened and checked before anything changes (Linux's
  // load_elf_binary does it before the point of no return).
  std::unique_ptr<ExecutableFile> interp_file;
  std::optional<ElfInfo> interp;
  if (elf.interp) {
    if (!args.open_interp) {
      *error = absl::StrFormat("no filesystem to load the interpreter %s from", *elf.interp);
      return Errno(ENOEXEC);
    }
    auto f = args.open_interp(*elf.interp);
    if (!f.ok()) {
      *error = absl::StrFormat("opening the interpreter %s: %s", *elf.interp,
                               ErrnoName(f.error().value()));
      return f.error();
    }
    interp_file = std::move(*f);
    std::string why;
    auto ie = ReadElf(*interp_file, &why);
    if (!ie.ok()) {
      *error = absl::StrFormat("the interpreter %s: %s", *elf.interp, why);
      return Errno(ELIBBAD);
    }
    interp = std::move(*ie);
  }

  RandomSource& rng = HostRandom();
  ErrnoOr<ExecLayout> layout_or =
      ComputeLayout(args.max_addr, args.stack_limit, args.randomize, rng);
  if (!layout_or.ok()) {
    *error = absl::StrFormat("no room for an address-space layout below 0x%x", args.max_addr);
    return layout_or.error();
  }
  const ExecLayout& layout = *layout_or;

  // NOTE: Linux loads an ET_DYN without PT_INTERP (static-PIE, or ld.so run
  // directly) in the mmap area; we put every ET_DYN at ELF_ET_DYN_BASE, where
  // Linux puts a PIE, which keeps its brk away from the mmap area as well.
  uint64_t bias = 0;
  if (elf.type == ET_DYN) {
    bias = EtDynLoadBias(layout.et_dyn_base, elf.loads.front().vaddr, elf.max_align);
  }
  ASSIGN_OR_RETURN(std::vector<Placed> placed, Place(elf, bias, layout.task_size, error));

  // The interpreter goes top-down from the mmap base, where Linux's mmap of
  // its total size would put it (an ET_EXEC interpreter stays where it says).
  uint64_t interp_bias = 0;
  std::vector<Placed> interp_placed;
  if (interp) {
    const uint64_t lo = PageRoundDown(interp->loads.front().vaddr);
    uint64_t hi = 0;
    for (const LoadSegment& s : interp->loads) hi = std::max(hi, PageRoundUp(s.vaddr + s.memsz));
    if (interp->type == ET_DYN) {
      if (hi - lo > layout.mmap_base - kMmapMinAddr) {
        *error = absl::StrFormat("the interpreter %s (0x%x bytes) does not fit below 0x%x",
                                 *elf.interp, hi - lo, layout.mmap_base);
        return Errno(ENOMEM);
      }
      interp_bias = PageRoundDown(layout.mmap_base - (hi - lo)) - lo;
    }
    ASSIGN_OR_RETURN(interp_placed, Place(*interp, interp_bias, layout.task_size, error));
  }

  AuxvImage image;
  // As Linux: without a known place for the headers, AT_PHDR is the bias alone.
  image.phdr = elf.phdr_vaddr.value_or(0) + bias;
  image.phnum = elf.phnum;
  image.base = interp ? PageRoundDown(interp->loads.front().vaddr) + interp_bias : 0;
  image.entry = elf.entry + bias;
  image.creds = args.creds;
  image.vdso = args.vdso != nullptr;
  ErrnoOr<InitialStack> stack_or =
      BuildInitialStack(strings, image, layout.stack_top, args.stack_limit, args.randomize, rng);
  if (!stack_or.ok()) {
    *error = absl::StrFormat("no room for the initial stack below 0x%x", layout.stack_top);
    return stack_or.error();
  }
  InitialStack& stack = *stack_or;
  for (const Placed& p : placed) {
    if (PageRoundDown(p.start) < layout.stack_top && stack.vma_start < PageRoundUp(p.end)) {
      *error = absl::StrFormat("PT_LOAD segment [0x%x, 0x%x) overlaps the stack [0x%x, 0x%x)",
                               p.start, p.end, stack.vma_start, layout.stack_top);
      return Errno(ENOEXEC);
    }
  }

  // Past here the address space changes (Linux's point of no return): a failure
  // leaves `mm` half-built, and the caller discards it.
  mm.SetLayout(layout.ToMm());

  int stack_prot = PROT_READ | PROT_WRITE | (elf.exec_stack ? PROT_EXEC : 0);
  RETURN_IF_ERROR(MapAnonymous(mm, stack.vma_start, layout.stack_top, stack_prot, MAP_GROWSDOWN,
                               "[stack]", error));

  LoadResult res;
  res.start_code = ~uint64_t{0};
  uint64_t elf_brk = 0;
  // Mappings are named by the file's own path, as Linux's d_path shows it
  // (/usr/bin/cat for an exec of /bin/cat through a symlink); a file
  // without one (a host fd) by the path exec was given.
  const std::string name = args.file->Path().empty() ? args.filename : args.file->Path();
  for (const Placed& p : placed) {
    RETURN_IF_ERROR(MapSegment(mm, *args.file, p, name, error));
    uint64_t file_end = p.start + p.seg->filesz;
    if (p.seg->flags & PF_X) {
      res.start_code = std::min(res.start_code, p.start);
      res.end_code = std::max(res.end_code, file_end);
    }
    res.start_data = std::max(res.start_data, p.start);
    res.end_data = std::max(res.end_data, file_end);
    elf_brk = std::max(elf_brk, p.end);
  }
  if (res.start_code == ~uint64_t{0}) res.start_code = 0;  // no executable segment
  const std::string interp_name = interp_file == nullptr || interp_file->Path().empty()
                                      ? elf.interp.value_or("")
                                      : interp_file->Path();
  for (const Placed& p : interp_placed) {
    RETURN_IF_ERROR(MapSegment(mm, *interp_file, p, interp_name, error));
  }

  if (args.vdso != nullptr) {
    ASSIGN_OR_RETURN(res.vdso_base, MapVdso(mm, *args.vdso, error));
    PatchAuxv(stack, AT_SYSINFO_EHDR, res.vdso_base);
  }
  // The stack is written last: its auxv names the vDSO's address.
  mm::CopyResult written = mm.CopyOut(UserAddr(stack.sp), stack.bytes);
  if (!written.ok()) {
    *error = absl::StrFormat("writing the initial stack at 0x%x: %s", stack.sp + written.done,
                             ErrnoName(written.err.value()));
    return written.err;
  }

  res.start_brk = RandomizeBrk(elf_brk, args.randomize, rng);
  // An image that ends near the top leaves no room to randomize into.
  if (res.start_brk > layout.task_size) res.start_brk = PageRoundUp(elf_brk);
  mm.SetBrkStart(res.start_brk);

  res.entry = interp ? interp->entry + interp_bias : image.entry;
  res.interp_base = image.base;
  res.stack_pointer = stack.sp;
  res.auxv = stack.auxv;
  res.comm = Comm(args.filename);
  res.load_bias = bias;
  res.stack_top = layout.stack_top;
  res.arg_start = stack.arg_start;
  res.arg_end = stack.arg_end;
  res.env_start = stack.env_start;
  res.env_end = stack.env_end;
  return res;
}

}  // namespace sentry::loader
