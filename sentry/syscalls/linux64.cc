// The Linux x86-64 syscall table: data, one line per implemented syscall.
// Every number not listed is unimplemented: it returns ENOSYS and is counted
// and logged once (Kernel::CountUnimplemented). `runsc syscalls` prints this.
#include <cerrno>

#include "sentry/syscalls/handlers.h"
#include "sentry/syscalls/strace.h"

namespace sentry::syscalls {
namespace {

using kernel::ArgFormat;
using kernel::Support;
using kernel::SyscallHandler;
using kernel::SyscallInfo;
using kernel::SyscallTable;
using A = ArgFormat;

constexpr std::pair<int, const char*> kNames[] = {
#include "sentry/syscalls/syscall_names.inc"
};

struct Entry {
  int nr;
  SyscallHandler handler;
  Support support;
  const char* note;
  std::array<ArgFormat, 6> args;
};

constexpr Support kFull = Support::kFull;
constexpr Support kPartial = Support::kPartial;

// clang-format off
const Entry kEntries[] = {
  {0,   Read,          kFull, "", {A::kFd, A::kOutBuf, A::kUDec}},
  {1,   Write,         kFull, "", {A::kFd, A::kInBuf, A::kUDec}},
  {3,   Close,         kFull, "", {A::kFd}},
  {5,   Fstat,         kFull, "", {A::kFd, A::kPtr}},
  {9,   Mmap,          kPartial, "anonymous mappings only; file-backed ones come with the filesystems issue (ENODEV)",
                       {A::kPtr, A::kUDec, A::kMmapProt, A::kMmapFlags, A::kFd, A::kHex}},
  {10,  Mprotect,      kFull, "", {A::kPtr, A::kUDec, A::kMmapProt}},
  {11,  Munmap,        kFull, "", {A::kPtr, A::kUDec}},
  {12,  Brk,           kFull, "", {A::kPtr}},
  {13,  RtSigaction,   kPartial, "actions are recorded; delivery comes with the processes issue",
                       {A::kSignal, A::kPtr, A::kPtr, A::kUDec}},
  {14,  RtSigprocmask, kPartial, "the mask is recorded; delivery comes with the processes issue",
                       {A::kDec, A::kSigset, A::kPtr, A::kUDec}},
  {16,  Ioctl,         kPartial, "FIOCLEX, FIONCLEX, FIONBIO; TCGETS and TIOCGWINSZ on host terminals",
                       {A::kFd, A::kHex, A::kHex}},
  {17,  Pread64,       kFull, "", {A::kFd, A::kOutBuf, A::kUDec, A::kDec}},
  {18,  Pwrite64,      kFull, "", {A::kFd, A::kInBuf, A::kUDec, A::kDec}},
  {19,  Readv,         kFull, "", {A::kFd, A::kIovecOut, A::kUDec}},
  {20,  Writev,        kFull, "", {A::kFd, A::kIovecIn, A::kUDec}},
  {24,  SchedYield,    kFull, "", {}},
  {25,  Mremap,        kFull, "", {A::kPtr, A::kUDec, A::kUDec, A::kHex, A::kPtr}},
  {26,  Msync,         kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  {27,  Mincore,       kFull, "", {A::kPtr, A::kUDec, A::kPtr}},
  {28,  Madvise,       kFull, "", {A::kPtr, A::kUDec, A::kMadvice}},
  {35,  Nanosleep,     kPartial, "an interrupted sleep returns EINTR (no restart_syscall yet)",
                       {A::kTimespec, A::kPtr}},
  {39,  Getpid,        kFull, "", {}},
  {60,  Exit,          kPartial, "single-threaded: ends the process", {A::kDec}},
  {62,  Kill,          kPartial, "the guest is its namespace's init and alone: signals to itself with the default action are ignored as Linux does; delivery to a handler comes with the processes issue",
                       {A::kDec, A::kSignal}},
  {63,  Uname,         kFull, "", {A::kPtr}},
  {79,  Getcwd,        kFull, "",
                       {A::kPtr, A::kUDec}},
  {96,  Gettimeofday,  kFull, "", {A::kPtr, A::kPtr}},
  {97,  Getrlimit,     kFull, "", {A::kRlimitResource, A::kPtr}},
  {99,  Sysinfo,       kPartial, "load averages are 0", {A::kPtr}},
  {102, Getuid,        kFull, "", {}},
  {104, Getgid,        kFull, "", {}},
  {107, Geteuid,       kFull, "", {}},
  {108, Getegid,       kFull, "", {}},
  {110, Getppid,       kFull, "", {}},
  {111, Getpgrp,       kFull, "", {}},
  {121, Getpgid,       kPartial, "the calling process only", {A::kDec}},
  {124, Getsid,        kPartial, "the calling process only", {A::kDec}},
  {149, Mlock,         kFull, "", {A::kPtr, A::kUDec}},
  {150, Munlock,       kFull, "", {A::kPtr, A::kUDec}},
  {151, Mlockall,      kFull, "", {A::kHex}},
  {152, Munlockall,    kFull, "", {}},
  {157, Prctl,         kPartial, "PR_SET_NAME and PR_GET_NAME; other options are counted and give EINVAL",
                       {A::kDec, A::kHex, A::kHex, A::kHex, A::kHex}},
  {158, ArchPrctl,     kFull, "", {A::kArchPrctl, A::kHex}},
  {160, Setrlimit,     kFull, "", {A::kRlimitResource, A::kPtr}},
  {186, Gettid,        kFull, "", {}},
  {200, Tkill,         kPartial, "as kill", {A::kDec, A::kSignal}},
  {201, Time,          kFull, "", {A::kPtr}},
  {202, Futex,         kPartial, "single-threaded WAIT/WAKE(_BITSET); the rest comes with the processes issue",
                       {A::kPtr, A::kFutexOp, A::kDec, A::kPtr, A::kPtr, A::kHex}},
  {204, SchedGetaffinity, kPartial, "the calling thread only", {A::kDec, A::kUDec, A::kPtr}},
  {218, SetTidAddress, kFull, "", {A::kPtr}},
  {228, ClockGettime,  kFull, "", {A::kClockId, A::kPtr}},
  {229, ClockGetres,   kFull, "", {A::kClockId, A::kPtr}},
  {230, ClockNanosleep, kPartial, "no CPU-time clocks; an interrupted sleep returns EINTR",
                       {A::kClockId, A::kHex, A::kTimespec, A::kPtr}},
  {231, ExitGroup,     kFull, "", {A::kDec}},
  {234, Tgkill,        kPartial, "as kill", {A::kDec, A::kDec, A::kSignal}},
  {262, Newfstatat,    kFull, "",
                       {A::kFd, A::kPath, A::kPtr, A::kHex}},
  {273, SetRobustList, kPartial, "recorded; robust futexes are not yet released at exit", {A::kPtr, A::kUDec}},
  {274, GetRobustList, kPartial, "the calling thread only", {A::kDec, A::kPtr, A::kPtr}},
  {302, Prlimit64,     kPartial, "the calling process only", {A::kDec, A::kRlimitResource, A::kPtr, A::kPtr}},
  {318, Getrandom,     kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  {325, Mlock2,        kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  // Files (sys_file.cc). Under `runsc do` the root is the host's, read-only
  // through the gofer, with a tmpfs on /tmp. TODO(filesystems issue): the
  // overlay; FIFOs and device nodes cannot be opened (ENXIO).
  {2,   Open,          kPartial, "O_TMPFILE is EOPNOTSUPP", {A::kPath, A::kOpenFlags, A::kOct}},
  {4,   Stat,          kFull, "", {A::kPath, A::kPtr}},
  {6,   Lstat,         kFull, "", {A::kPath, A::kPtr}},
  {8,   Lseek,         kFull, "", {A::kFd, A::kDec, A::kWhence}},
  {21,  Access,        kFull, "", {A::kPath, A::kOct}},
  {74,  Fsync,         kFull, "", {A::kFd}},
  {75,  Fsync,         kFull, "fdatasync: as fsync", {A::kFd}},
  {76,  Truncate,      kFull, "", {A::kPath, A::kDec}},
  {77,  Ftruncate,     kFull, "", {A::kFd, A::kDec}},
  {80,  Chdir,         kFull, "", {A::kPath}},
  {81,  Fchdir,        kFull, "", {A::kFd}},
  {82,  Rename,        kFull, "", {A::kPath, A::kPath}},
  {83,  Mkdir,         kFull, "", {A::kPath, A::kOct}},
  {84,  Rmdir,         kFull, "", {A::kPath}},
  {85,  Creat,         kFull, "", {A::kPath, A::kOct}},
  {86,  Link,          kFull, "", {A::kPath, A::kPath}},
  {87,  Unlink,        kFull, "", {A::kPath}},
  {88,  Symlink,       kFull, "", {A::kPath, A::kPath}},
  {89,  Readlink,      kFull, "", {A::kPath, A::kPtr, A::kUDec}},
  {90,  Chmod,         kFull, "", {A::kPath, A::kOct}},
  {91,  Fchmod,        kPartial, "not on donated host fds (EBADF)", {A::kFd, A::kOct}},
  {92,  Chown,         kFull, "", {A::kPath, A::kDec, A::kDec}},
  {93,  Fchown,        kPartial, "not on donated host fds (EBADF)", {A::kFd, A::kDec, A::kDec}},
  {94,  Lchown,        kFull, "", {A::kPath, A::kDec, A::kDec}},
  {95,  Umask,         kFull, "", {A::kOct}},
  {133, Mknod,         kPartial, "FIFOs, sockets and devices are created (host files: regular and FIFOs only, else EPERM) but cannot be opened yet (ENXIO)",
                       {A::kPath, A::kOct, A::kHex}},
  {137, Statfs,        kFull, "", {A::kPath, A::kPtr}},
  {138, Fstatfs,       kPartial, "not on donated host fds (ENOSYS, counted)", {A::kFd, A::kPtr}},
  {217, Getdents64,    kFull, "", {A::kFd, A::kPtr, A::kUDec}},
  {257, Openat,        kPartial, "O_TMPFILE is EOPNOTSUPP", {A::kFd, A::kPath, A::kOpenFlags, A::kOct}},
  {258, Mkdirat,       kFull, "", {A::kFd, A::kPath, A::kOct}},
  {259, Mknodat,       kPartial, "as mknod", {A::kFd, A::kPath, A::kOct, A::kHex}},
  {260, Fchownat,      kFull, "", {A::kFd, A::kPath, A::kDec, A::kDec, A::kHex}},
  {263, Unlinkat,      kFull, "", {A::kFd, A::kPath, A::kHex}},
  {264, Renameat,      kFull, "", {A::kFd, A::kPath, A::kFd, A::kPath}},
  {265, Linkat,        kPartial, "AT_EMPTY_PATH is ENOENT (counted)", {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
  {266, Symlinkat,     kFull, "", {A::kPath, A::kFd, A::kPath}},
  {267, Readlinkat,    kFull, "", {A::kFd, A::kPath, A::kPtr, A::kUDec}},
  {268, Fchmodat,      kFull, "", {A::kFd, A::kPath, A::kOct}},
  {269, Faccessat,     kFull, "", {A::kFd, A::kPath, A::kOct}},
  {280, Utimensat,     kFull, "", {A::kFd, A::kPath, A::kPtr, A::kHex}},
  {285, Fallocate,     kPartial, "modes 0 and FALLOC_FL_KEEP_SIZE (others EOPNOTSUPP, counted)",
                       {A::kFd, A::kHex, A::kDec, A::kDec}},
  {316, Renameat2,     kPartial, "RENAME_WHITEOUT is EOPNOTSUPP", {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
  {332, Statx,         kFull, "", {A::kFd, A::kPath, A::kHex, A::kHex, A::kPtr}},
  {32,  Dup,           kFull, "", {A::kFd}},
  {33,  Dup2,          kFull, "", {A::kFd, A::kFd}},
  {72,  Fcntl,         kPartial, "F_DUPFD(_CLOEXEC), F_GETFD/SETFD, F_GETFL/SETFL; others EINVAL (counted)",
                       {A::kFd, A::kDec, A::kHex}},
  {292, Dup3,          kFull, "", {A::kFd, A::kFd, A::kHex}},
  {437, Openat2,       kPartial, "RESOLVE_CACHED is EAGAIN; O_TMPFILE is EOPNOTSUPP", {A::kFd, A::kPath, A::kPtr, A::kUDec}},
  {439, Faccessat2,    kFull, "", {A::kFd, A::kPath, A::kOct, A::kHex}},
};
// clang-format on

// Unimplemented syscalls that programs commonly probe, with the reason.
const std::pair<int, const char*> kNotes[] = {
    {334, "rseq: glibc falls back when it is missing"},
    {56, "clone: the processes issue"},
    {57, "fork: the processes issue"},
    {59, "execve: the processes issue"},
    {131, "sigaltstack: the processes issue"},
};

SyscallTable Build() {
  SyscallTable t;
  for (const auto& [nr, name] : kNames) t.entries[nr].name = name;
  for (const Entry& e : kEntries) {
    SyscallInfo& i = t.entries[e.nr];
    i.handler = e.handler;
    i.support = e.support;
    i.note = e.note;
    i.args = e.args;
  }
  for (const auto& [nr, note] : kNotes) t.entries[nr].note = note;
  t.strace = &StraceSyscall;
  return t;
}

}  // namespace

const SyscallTable& Linux64Table() {
  static const SyscallTable* table = new SyscallTable(Build());
  return *table;
}

}  // namespace sentry::syscalls
