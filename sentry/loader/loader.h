// Loading an executable into a fresh address space (exec): the ELF image, the
// layout, the initial stack with argv, envp and the auxiliary vector.
#ifndef SENTRY_LOADER_LOADER_H_
#define SENTRY_LOADER_LOADER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/memory/mappable.h"
#include "sentry/mm/mm.h"

namespace sentry::loader {

// What execve's credential transition reads of the file it runs (fs/exec.c's
// bprm_fill_uid; sentry/kernel/credentials.h).
struct SetIdInfo {
  uint32_t mode = 0;  // S_ISUID, S_ISGID and S_IXGRP are what count
  uint32_t uid = 0;   // the owner: the new euid of a set-user-ID file
  uint32_t gid = 0;   // the group: the new egid of a set-group-ID file
  // The mount does not honour set-id bits (nosuid).
  bool nosuid_mount = false;
};

// Where the loader reads an executable from. Today a host fd donated by runsc;
// with the VFS, a guest file.
class ExecutableFile {
 public:
  virtual ~ExecutableFile() = default;
  // Reads up to dst.size() bytes at `offset`; returns the count (short at EOF).
  virtual ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) = 0;
  // Where the file is, as /proc/pid/exe shows it (symlinks resolved), or ""
  // when it has no path (a file handed over by the host).
  virtual std::string Path() const { return ""; }
  // The file's mode and owner as they are now, and its mount's nosuid; nullopt
  // for a file from outside the sandbox's filesystems (a host fd), whose
  // set-id bits never apply.
  virtual std::optional<SetIdInfo> SetId() { return std::nullopt; }
  // The file's pages as guest memory can map them (its page cache), or null
  // when it has none: the segments are then copied into anonymous memory.
  // `dev` and `ino` name it in /proc/pid/maps.
  struct MapInfo {
    std::shared_ptr<memory::Mappable> object;
    uint64_t dev = 0, ino = 0;
  };
  virtual MapInfo Mappable() { return {}; }
};

// An ExecutableFile over a host file descriptor (not owned).
class HostFdExecutable : public ExecutableFile {
 public:
  explicit HostFdExecutable(int fd) : fd_(fd) {}
  ErrnoOr<size_t> ReadAt(std::span<uint8_t> dst, uint64_t offset) override;

 private:
  int fd_;
};

struct Credentials {
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  bool secure = false;  // AT_SECURE
};

// The vDSO to map into the new address space (sentry/arch/vdso): the [vvar]
// pages (read-only for good) and right above them the [vdso] image
// (read+exec, private), placed top-down in the mmap area as Linux does, below
// the interpreter. Its address goes in AT_SYSINFO_EHDR.
struct VdsoMapping {
  std::shared_ptr<memory::Mappable> vvar;
  uint64_t vvar_size = 0;
  std::shared_ptr<memory::Mappable> image;
  uint64_t image_size = 0;
};

struct LoadArgs {
  ExecutableFile* file = nullptr;
  // Opens the interpreter a PT_INTERP names (a path in the sandbox), checked
  // as exec checks a file (regular, executable). Unset: dynamic executables
  // are ENOEXEC.
  std::function<ErrnoOr<std::unique_ptr<ExecutableFile>>(const std::string& path)> open_interp;
  std::string filename;  // the path exec was given: AT_EXECFN
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  Credentials creds;
  bool randomize = true;               // address-space layout randomization
  uint64_t max_addr = 0x7ffffffff000;  // the platform's top of user memory
  uint64_t stack_limit = 8 << 20;      // RLIMIT_STACK
  const VdsoMapping* vdso = nullptr;   // null: no vDSO, no AT_SYSINFO_EHDR
};

struct LoadResult {
  uint64_t entry = 0;          // where execution starts (the interpreter's entry if any)
  uint64_t interp_base = 0;    // AT_BASE: where the interpreter was loaded (0 without one)
  uint64_t vdso_base = 0;      // AT_SYSINFO_EHDR: where the vDSO was mapped (0 without one)
  uint64_t stack_pointer = 0;  // rsp at entry: points at argc
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // as written to the stack, AT_NULL last
  std::string comm;  // the task name: basename of filename, at most 15 bytes

  // Where things landed (Linux's mm->start_code ... env_end), for /proc/pid/stat,
  // /proc/pid/cmdline and environ, and prctl(PR_SET_MM). Code and data bounds
  // are Linux's: the executable PT_LOADs' file bytes, and from the start of the
  // last PT_LOAD to the end of any PT_LOAD's file bytes.
  uint64_t load_bias = 0;  // added to the ELF's addresses (0 for ET_EXEC)
  uint64_t start_code = 0, end_code = 0, start_data = 0, end_data = 0;
  uint64_t start_brk = 0;  // the initial program break
  uint64_t stack_top = 0;  // end of the initial [stack] VMA
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;  // the strings
};

// Loads `args.file` into `mm`, which must be empty, and sets its layout and brk;
// with a PT_INTERP, also the interpreter (top-down below the mmap base, as
// Linux's load_elf_interp), starting there with AT_BASE set.
// ENOEXEC for a file that is not a loadable x86-64 ELF (with `*error` saying why),
// ELIBBAD for an interpreter that is not one, the opener's errno when the
// interpreter cannot be opened,
// E2BIG when argv+envp exceed Linux's limits, ENOMEM when memory runs out.
// `error` may be null. See README.md for what is mapped where.
ErrnoOr<LoadResult> Load(mm::MemoryManager& mm, const LoadArgs& args, std::string* error);

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_LOADER_H_
