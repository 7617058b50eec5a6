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
  {9,   Mmap,          kPartial, "file mappings of tmpfs, overlay and host files (the latter through a page cache); device files (/dev/zero included) and synthetic files (/proc) are ENODEV",
                       {A::kPtr, A::kUDec, A::kMmapProt, A::kMmapFlags, A::kFd, A::kHex}},
  {10,  Mprotect,      kFull, "", {A::kPtr, A::kUDec, A::kMmapProt}},
  {11,  Munmap,        kFull, "", {A::kPtr, A::kUDec}},
  {12,  Brk,           kFull, "", {A::kPtr}},
  {13,  RtSigaction,   kFull, "", {A::kSignal, A::kPtr, A::kPtr, A::kUDec}},
  {14,  RtSigprocmask, kFull, "", {A::kDec, A::kSigset, A::kPtr, A::kUDec}},
  {16,  Ioctl,         kPartial, "FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC; FIONREAD, FIOQSIZE and FIGETBSZ on files; TCGETS and TIOCGWINSZ on host terminals; SIOCINQ/FIONREAD and SIOCOUTQ on sockets (their F_SETOWN and device ioctls are ENOTTY, counted)",
                       {A::kFd, A::kHex, A::kHex}},
  {17,  Pread64,       kFull, "", {A::kFd, A::kOutBuf, A::kUDec, A::kDec}},
  {18,  Pwrite64,      kFull, "", {A::kFd, A::kInBuf, A::kUDec, A::kDec}},
  {19,  Readv,         kFull, "", {A::kFd, A::kIovecOut, A::kUDec}},
  {20,  Writev,        kFull, "", {A::kFd, A::kIovecIn, A::kUDec}},
  {24,  SchedYield,    kFull, "", {}},
  {25,  Mremap,        kFull, "", {A::kPtr, A::kUDec, A::kUDec, A::kHex, A::kPtr}},
  {26,  Msync,         kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  {27,  Mincore,       kFull, "", {A::kPtr, A::kUDec, A::kPtr}},
  {29,  Shmget,        kPartial, "SHM_HUGETLB is ENOMEM (counted: no huge pages); IPC namespaces by CLONE_NEWIPC", {A::kHex, A::kUDec, A::kOct}},
  {30,  Shmat,         kFull, "shm_nattch counts the mappings of the segment, as Linux counts VMAs", {A::kDec, A::kPtr, A::kHex}},
  {31,  Shmctl,        kPartial, "SHM_LOCK/SHM_UNLOCK record the flag but do not pin pages", {A::kDec, A::kDec, A::kPtr}},
  {67,  Shmdt,         kFull, "", {A::kPtr}},
  {64,  Semget,        kFull, "", {A::kHex, A::kDec, A::kOct}},
  {65,  Semop,         kPartial, "waiters are woken in one FIFO (wait-for-zero ones first) rather than Linux's per-semaphore queues", {A::kDec, A::kPtr, A::kUDec}},
  {220, Semtimedop,    kPartial, "as semop; an interrupted wait is EINTR (never restarted, as Linux)", {A::kDec, A::kPtr, A::kUDec, A::kPtr}},
  {66,  Semctl,        kFull, "", {A::kDec, A::kDec, A::kDec, A::kHex}},
  {68,  Msgget,        kFull, "", {A::kHex, A::kOct}},
  {69,  Msgsnd,        kPartial, "senders that no longer fit are woken all at once rather than in Linux's rotating order", {A::kDec, A::kPtr, A::kUDec, A::kHex}},
  {70,  Msgrcv,        kFull, "", {A::kDec, A::kPtr, A::kUDec, A::kDec, A::kHex}},
  {71,  Msgctl,        kFull, "", {A::kDec, A::kDec, A::kPtr}},
  {28,  Madvise,       kFull, "", {A::kPtr, A::kUDec, A::kMadvice}},
  {35,  Nanosleep,     kFull, "",
                       {A::kTimespec, A::kPtr}},
  {39,  Getpid,        kFull, "", {}},
  {60,  Exit,          kFull, "", {A::kDec}},
  {62,  Kill,          kFull, "", {A::kDec, A::kSignal}},
  {63,  Uname,         kFull, "", {A::kPtr}},
  {78,  Getdents,      kFull, "", {A::kFd, A::kPtr, A::kUDec}},
  {79,  Getcwd,        kFull, "",
                       {A::kPtr, A::kUDec}},
  {96,  Gettimeofday,  kFull, "", {A::kPtr, A::kPtr}},
  {97,  Getrlimit,     kFull, "", {A::kRlimitResource, A::kPtr}},
  {135, Personality,   kPartial, "kept, inherited and cleared on exec as Linux; acted on: ADDR_NO_RANDOMIZE (the next exec's layout), UNAME26, READ_IMPLIES_EXEC (mmap); other flags (ADDR_LIMIT_32BIT, MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT, other execution domains) are only recorded",
                       {A::kHex}},
  {99,  Sysinfo,       kPartial, "load averages are 0; memory figures are the sandbox's (as /proc/meminfo)", {A::kPtr}},
  {102, Getuid,        kFull, "", {}},
  {104, Getgid,        kFull, "", {}},
  {105, Setuid,        kFull, "", {A::kUDec}},
  {106, Setgid,        kFull, "", {A::kUDec}},
  {107, Geteuid,       kFull, "", {}},
  {108, Getegid,       kFull, "", {}},
  {110, Getppid,       kFull, "", {}},
  {111, Getpgrp,       kFull, "", {}},
  {113, Setreuid,      kFull, "", {A::kUDec, A::kUDec}},
  {114, Setregid,      kFull, "", {A::kUDec, A::kUDec}},
  {115, Getgroups,     kFull, "", {A::kDec, A::kPtr}},
  {116, Setgroups,     kFull, "", {A::kDec, A::kPtr}},
  {117, Setresuid,     kFull, "", {A::kUDec, A::kUDec, A::kUDec}},
  {118, Getresuid,     kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
  {119, Setresgid,     kFull, "", {A::kUDec, A::kUDec, A::kUDec}},
  {120, Getresgid,     kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
  {121, Getpgid,       kFull, "", {A::kDec}},
  {122, Setfsuid,      kFull, "", {A::kUDec}},
  {123, Setfsgid,      kFull, "", {A::kUDec}},
  {124, Getsid,        kFull, "", {A::kDec}},
  {125, Capget,        kFull, "", {A::kPtr, A::kPtr}},
  {126, Capset,        kFull, "", {A::kPtr, A::kPtr}},
  {140, Getpriority,   kPartial, "the nice value is recorded; the host schedules the guest; PRIO_PGRP and PRIO_USER give the caller's own value (Linux: the highest priority among the group's or the user's threads)", {A::kDec, A::kDec}},
  {141, Setpriority,   kPartial, "the nice value is recorded; the host schedules the guest; PRIO_PGRP and PRIO_USER set the caller's own only (Linux: every thread of the group or the user)",
                       {A::kDec, A::kDec, A::kDec}},
  {142, SchedSetparam, kPartial, "recorded; the host schedules the guest", {A::kDec, A::kPtr}},
  {143, SchedGetparam, kFull, "", {A::kDec, A::kPtr}},
  {144, SchedSetscheduler, kPartial, "the policy and priority are recorded; the host schedules the guest",
                       {A::kDec, A::kDec, A::kPtr}},
  {145, SchedGetscheduler, kFull, "", {A::kDec}},
  {146, SchedGetPriorityMax, kFull, "", {A::kDec}},
  {147, SchedGetPriorityMin, kFull, "", {A::kDec}},
  {148, SchedRrGetInterval, kPartial, "SCHED_RR 100 ms, others 0: Linux reports the fair policies' slice in jiffies, 0 with EEVDF at HZ=250 but not on every kernel",
                       {A::kDec, A::kPtr}},
  {314, SchedSetattr,  kPartial, "every field of struct sched_attr checked as Linux does and recorded (the host schedules the guest; SCHED_DEADLINE without admission control; a fair task's custom time slice and the utilization clamps checked, not kept)",
                       {A::kDec, A::kPtr, A::kHex}},
  {315, SchedGetattr,  kPartial, "what sched_setattr recorded; a fair policy's time slice is the default one (0.7 ms x (1 + log2 CPUs), as since Linux 6.12), the utilization clamps read 0..1024",
                       {A::kDec, A::kPtr, A::kUDec, A::kHex}},
  {149, Mlock,         kFull, "", {A::kPtr, A::kUDec}},
  {150, Munlock,       kFull, "", {A::kPtr, A::kUDec}},
  {151, Mlockall,      kFull, "", {A::kHex}},
  {152, Munlockall,    kFull, "", {}},
  {157, Prctl,         kPartial, "PR_SET/GET_NAME, _PDEATHSIG, _CHILD_SUBREAPER, _NO_NEW_PRIVS, _KEEPCAPS, _SECUREBITS, PR_CAPBSET_READ/_DROP, PR_CAP_AMBIENT; _DUMPABLE is kept (set*id and execve change it as Linux does) but governs nothing (no core dumps, no ptrace); other options are counted and give EINVAL",
                       {A::kDec, A::kHex, A::kHex, A::kHex, A::kHex}},
  {158, ArchPrctl,     kFull, "", {A::kArchPrctl, A::kHex}},
  {160, Setrlimit,     kFull, "", {A::kRlimitResource, A::kPtr}},
  {186, Gettid,        kFull, "", {}},
  {200, Tkill,         kFull, "", {A::kDec, A::kSignal}},
  {201, Time,          kFull, "", {A::kPtr}},
  {202, Futex,         kPartial, "every operation, private and shared; PI futexes hand the lock over in FIFO order without priority inheritance (the sandbox does not schedule)",
                       {A::kPtr, A::kFutexOp, A::kDec, A::kPtr, A::kPtr, A::kHex}},
  {203, SchedSetaffinity, kPartial, "recorded (the host schedules the guest)",
                       {A::kDec, A::kUDec, A::kPtr}},
  {204, SchedGetaffinity, kFull, "", {A::kDec, A::kUDec, A::kPtr}},
  {218, SetTidAddress, kFull, "", {A::kPtr}},
  {228, ClockGettime,  kFull, "", {A::kClockId, A::kPtr}},
  {229, ClockGetres,   kFull, "", {A::kClockId, A::kPtr}},
  {230, ClockNanosleep, kPartial, "alarm clocks are EOPNOTSUPP (no RTC); a sleep on a CPU-time clock (any process's, or another thread's) wakes within ~2 ms of the clock reaching its deadline (sampled: sentry/kernel/cpu_timers.h; Linux: a tick)",
                       {A::kClockId, A::kHex, A::kTimespec, A::kPtr}},
  {231, ExitGroup,     kFull, "", {A::kDec}},
  {234, Tgkill,        kFull, "", {A::kDec, A::kDec, A::kSignal}},
  // Timers on the guest's clocks (sys_timerfd.cc, sentry/fsimpl/timerfd) and
  // getcpu (sys_sched.cc). glibc answers clock_gettime, gettimeofday, time
  // and getcpu from the Sentry's vDSO without a syscall.
  {283, TimerfdCreate, kFull, "", {A::kClockId, A::kHex}},
  {286, TimerfdSettime, kPartial, "TFD_TIMER_CANCEL_ON_SET hears of the host's wall clock being set up to a second late (the guest cannot set it); the _ALARM clocks are their base clocks (the sandbox never suspends)",
                       {A::kFd, A::kHex, A::kPtr, A::kPtr}},
  {287, TimerfdGettime, kFull, "", {A::kFd, A::kPtr}},
  {309, Getcpu,        kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
  {262, Newfstatat,    kFull, "",
                       {A::kFd, A::kPath, A::kPtr, A::kHex}},
  {273, SetRobustList, kFull, "", {A::kPtr, A::kUDec}},
  {274, GetRobustList, kPartial, "the calling thread only", {A::kDec, A::kPtr, A::kPtr}},
  {302, Prlimit64,     kPartial, "on another process, new RLIMIT_AS/DATA/STACK/MEMLOCK values reach its memory manager only at its next setrlimit or exec (counted)", {A::kDec, A::kRlimitResource, A::kPtr, A::kPtr}},
  {318, Getrandom,     kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  {325, Mlock2,        kFull, "", {A::kPtr, A::kUDec, A::kHex}},
  // Files (sys_file.cc). Under `runsc do` the root is the host's, read-only
  // through the gofer, with a tmpfs on /tmp. TODO(filesystems issue): the
  // overlay; sockets cannot be opened (ENXIO).
  {2,   Open,          kFull, "", {A::kPath, A::kOpenFlags, A::kOct}},
  {4,   Stat,          kFull, "", {A::kPath, A::kPtr}},
  {6,   Lstat,         kFull, "", {A::kPath, A::kPtr}},
  {8,   Lseek,         kFull, "", {A::kFd, A::kDec, A::kWhence}},
  {21,  Access,        kFull, "", {A::kPath, A::kOct}},
  {73,  Flock,         kPartial, "not on donated host fds (EINVAL, counted)", {A::kFd, A::kHex}},
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
  {133, Mknod,         kPartial, "devices open through the device registry, FIFOs as pipes in the Sentry (a host FIFO too: its data never reaches the host); sockets are created (host files: regular and FIFOs only, else EPERM); a socket file opens as on Linux: ENXIO (connect(2) reaches its socket)",
                       {A::kPath, A::kOct, A::kHex}},
  {137, Statfs,        kFull, "", {A::kPath, A::kPtr}},
  {138, Fstatfs,       kPartial, "not on donated host fds (ENOSYS, counted)", {A::kFd, A::kPtr}},
  {217, Getdents64,    kFull, "", {A::kFd, A::kPtr, A::kUDec}},
  {257, Openat,        kFull, "", {A::kFd, A::kPath, A::kOpenFlags, A::kOct}},
  {258, Mkdirat,       kFull, "", {A::kFd, A::kPath, A::kOct}},
  {259, Mknodat,       kPartial, "as mknod", {A::kFd, A::kPath, A::kOct, A::kHex}},
  {260, Fchownat,      kFull, "", {A::kFd, A::kPath, A::kDec, A::kDec, A::kHex}},
  {263, Unlinkat,      kFull, "", {A::kFd, A::kPath, A::kHex}},
  {264, Renameat,      kFull, "", {A::kFd, A::kPath, A::kFd, A::kPath}},
  {265, Linkat,        kFull, "", {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
  {266, Symlinkat,     kFull, "", {A::kPath, A::kFd, A::kPath}},
  {267, Readlinkat,    kFull, "", {A::kFd, A::kPath, A::kPtr, A::kUDec}},
  {268, Fchmodat,      kFull, "", {A::kFd, A::kPath, A::kOct}},
  {452, Fchmodat2,     kFull, "", {A::kFd, A::kPath, A::kOct, A::kHex}},
  {269, Faccessat,     kFull, "", {A::kFd, A::kPath, A::kOct}},
  {280, Utimensat,     kFull, "", {A::kFd, A::kPath, A::kPtr, A::kHex}},
  {285, Fallocate,     kPartial, "modes 0 and FALLOC_FL_KEEP_SIZE (others EOPNOTSUPP, counted)",
                       {A::kFd, A::kHex, A::kDec, A::kDec}},
  {316, Renameat2,     kPartial, "RENAME_WHITEOUT is EOPNOTSUPP", {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
  {332, Statx,         kFull, "", {A::kFd, A::kPath, A::kHex, A::kHex, A::kPtr}},
  {32,  Dup,           kFull, "", {A::kFd}},
  {33,  Dup2,          kFull, "", {A::kFd, A::kFd}},
  {72,  Fcntl,         kPartial, "F_DUPFD(_CLOEXEC), F_GETFD/SETFD, F_GETFL/SETFL, record and OFD locks (not on donated host fds), F_ADD/GET_SEALS; others EINVAL (counted)",
                       {A::kFd, A::kDec, A::kHex}},
  {292, Dup3,          kFull, "", {A::kFd, A::kFd, A::kHex}},
  {40,  Sendfile,      kPartial, "copied through the Sentry in 64 KiB chunks: to a pipe it waits for room for the whole count where Linux returns what the free buffers took",
                       {A::kFd, A::kFd, A::kPtr, A::kUDec}},
  {132, Utime,         kFull, "", {A::kPath, A::kPtr}},
  {161, Chroot,        kFull, "", {A::kPath}},
  {162, Sync,          kFull, "", {}},
  {188, Setxattr,      kFull, "", {A::kPath, A::kPath, A::kPtr, A::kUDec, A::kHex}},
  {189, Lsetxattr,     kFull, "", {A::kPath, A::kPath, A::kPtr, A::kUDec, A::kHex}},
  {190, Fsetxattr,     kFull, "", {A::kFd, A::kPath, A::kPtr, A::kUDec, A::kHex}},
  {191, Getxattr,      kPartial, "trusted.* attributes of host files (not copied up) are not seen: the gofer holds no CAP_SYS_ADMIN", {A::kPath, A::kPath, A::kPtr, A::kUDec}},
  {192, Lgetxattr,     kPartial, "as getxattr", {A::kPath, A::kPath, A::kPtr, A::kUDec}},
  {193, Fgetxattr,     kPartial, "as getxattr", {A::kFd, A::kPath, A::kPtr, A::kUDec}},
  {194, Listxattr,     kPartial, "as getxattr", {A::kPath, A::kPtr, A::kUDec}},
  {195, Llistxattr,    kPartial, "as getxattr", {A::kPath, A::kPtr, A::kUDec}},
  {196, Flistxattr,    kPartial, "as getxattr", {A::kFd, A::kPtr, A::kUDec}},
  {197, Removexattr,   kFull, "", {A::kPath, A::kPath}},
  {198, Lremovexattr,  kFull, "", {A::kPath, A::kPath}},
  {199, Fremovexattr,  kFull, "", {A::kFd, A::kPath}},
  {221, Fadvise64,     kFull, "", {A::kFd, A::kDec, A::kDec, A::kDec}},
  {235, Utimes,        kFull, "", {A::kPath, A::kPtr}},
  {261, Futimesat,     kFull, "", {A::kFd, A::kPath, A::kPtr}},
  {277, SyncFileRange, kFull, "", {A::kFd, A::kDec, A::kDec, A::kHex}},
  {295, Preadv,        kFull, "", {A::kFd, A::kIovecOut, A::kUDec, A::kDec}},
  {296, Pwritev,       kFull, "", {A::kFd, A::kIovecIn, A::kUDec, A::kDec}},
  {306, Syncfs,        kFull, "", {A::kFd}},
  {326, CopyFileRange, kFull, "", {A::kFd, A::kPtr, A::kFd, A::kPtr, A::kUDec, A::kHex}},
  {327, Preadv2,       kPartial, "RWF_APPEND on a non-positional write does not move the file position",
                       {A::kFd, A::kIovecOut, A::kUDec, A::kDec, A::kDec, A::kHex}},
  {328, Pwritev2,      kPartial, "as preadv2", {A::kFd, A::kIovecIn, A::kUDec, A::kDec, A::kDec, A::kHex}},
  {319, MemfdCreate,   kPartial, "MFD_HUGETLB is EINVAL (counted)",
                       {A::kPath, A::kHex}},
  {436, CloseRange,    kFull, "", {A::kUDec, A::kUDec, A::kHex}},
  {437, Openat2,       kPartial, "RESOLVE_CACHED is EAGAIN (lookups may wait for the gofer)", {A::kFd, A::kPath, A::kPtr, A::kUDec}},
  {439, Faccessat2,    kFull, "", {A::kFd, A::kPath, A::kOct, A::kHex}},
  // Sockets (sys_socket.cc; sentry/net): unix-domain sockets in the Sentry.
  // TODO(network issue): AF_INET, AF_INET6, AF_NETLINK (the netstack).
  {41,  Socket,        kPartial, "AF_UNIX only; other families are EAFNOSUPPORT (counted) until the netstack",
                       {A::kDec, A::kHex, A::kDec}},
  {53,  Socketpair,    kPartial, "AF_UNIX only; other families are EAFNOSUPPORT where Linux says EOPNOTSUPP",
                       {A::kDec, A::kHex, A::kDec, A::kPtr}},
  {49,  Bind,          kFull, "", {A::kFd, A::kPtr, A::kUDec}},
  {50,  Listen,        kFull, "", {A::kFd, A::kDec}},
  {43,  Accept,        kFull, "", {A::kFd, A::kPtr, A::kPtr}},
  {288, Accept4,       kFull, "", {A::kFd, A::kPtr, A::kPtr, A::kHex}},
  {42,  Connect,       kPartial, "a socket file of the host (through the gofer): stream and seqpacket sockets move data only (no SCM_RIGHTS or credentials, counted); datagram sockets are ECONNREFUSED",
                       {A::kFd, A::kPtr, A::kUDec}},
  {51,  Getsockname,   kFull, "", {A::kFd, A::kPtr, A::kPtr}},
  {52,  Getpeername,   kFull, "", {A::kFd, A::kPtr, A::kPtr}},
  {48,  Shutdown,      kFull, "", {A::kFd, A::kDec}},
  {44,  Sendto,        kPartial, "MSG_OOB is EOPNOTSUPP (counted)", {A::kFd, A::kInBuf, A::kUDec, A::kHex, A::kPtr, A::kUDec}},
  {45,  Recvfrom,      kPartial, "MSG_OOB is EOPNOTSUPP (counted)", {A::kFd, A::kOutBuf, A::kUDec, A::kHex, A::kPtr, A::kPtr}},
  {46,  Sendmsg,       kPartial, "MSG_OOB and SCM_PIDFD are refused (counted); unix sockets passed in a cycle are never collected (no unix_gc)",
                       {A::kFd, A::kPtr, A::kHex}},
  {47,  Recvmsg,       kPartial, "MSG_OOB is EOPNOTSUPP (counted); no SO_PEEK_OFF", {A::kFd, A::kPtr, A::kHex}},
  {307, Sendmmsg,      kPartial, "as sendmsg", {A::kFd, A::kPtr, A::kUDec, A::kHex}},
  {299, Recvmmsg,      kPartial, "as recvmsg", {A::kFd, A::kPtr, A::kUDec, A::kHex, A::kPtr}},
  {54,  Setsockopt,    kPartial, "SOL_SOCKET options of unix sockets (buffers, timeouts, SO_PASSCRED, flags kept for reading back); SO_PEEK_OFF, filters and the other options are ENOPROTOOPT (counted)",
                       {A::kFd, A::kDec, A::kDec, A::kPtr, A::kUDec}},
  {55,  Getsockopt,    kPartial, "as setsockopt", {A::kFd, A::kDec, A::kDec, A::kPtr, A::kPtr}},
  // Processes and signals.
  {15,  RtSigreturn,   kFull, "", {}},
  {34,  Pause,         kFull, "", {}},
  {56,  Clone,         kPartial, "namespaces: CLONE_NEWIPC (System V IPC and POSIX message queues) and CLONE_NEWUTS; CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP (EPERM without CAP_SYS_ADMIN, else EINVAL) and CLONE_NEWUSER (EINVAL) are refused (counted)",
                       {A::kHex, A::kPtr, A::kPtr, A::kPtr, A::kPtr}},
  {57,  Fork,          kFull, "", {}},
  {58,  Vfork,         kFull, "", {}},
  {59,  Execve,        kPartial, "file capabilities (security.capability xattrs) are never read: every file runs as one without them", {A::kPath, A::kPtr, A::kPtr}},
  {61,  Wait4,         kPartial, "rusage: CPU time (user: the guest's in its stubs; system: the host's for them and the Sentry's), ru_maxrss (the resident set's peak) and ru_minflt (faults the Sentry resolved); majflt, block I/O and context switches are 0", {A::kDec, A::kPtr, A::kHex, A::kPtr}},
  {109, Setpgid,       kFull, "", {A::kDec, A::kDec}},
  {112, Setsid,        kFull, "", {}},
  {127, RtSigpending,  kFull, "", {A::kPtr, A::kUDec}},
  {128, RtSigtimedwait, kFull, "", {A::kSigset, A::kPtr, A::kPtr, A::kUDec}},
  {129, RtSigqueueinfo, kFull, "", {A::kDec, A::kSignal, A::kPtr}},
  {434, PidfdOpen,     kPartial, "PIDFD_THREAD is EINVAL (counted)", {A::kDec, A::kHex}},
  {438, PidfdGetfd,    kFull, "", {A::kFd, A::kDec, A::kHex}},
  {424, PidfdSendSignal, kPartial, "the PIDFD_SIGNAL_* flags are EINVAL (counted)", {A::kFd, A::kSignal, A::kPtr, A::kHex}},
  {130, RtSigsuspend,  kFull, "", {A::kSigset, A::kUDec}},
  {131, Sigaltstack,   kFull, "", {A::kPtr, A::kPtr}},
  {219, RestartSyscall, kFull, "", {}},
  {36,  Getitimer,     kFull, "ITIMER_VIRTUAL and ITIMER_PROF fire within ~2 ms of CPU time after their expiry (the process's CPU clocks are sampled: sentry/kernel/cpu_timers.h; Linux checks at each 4 ms tick)", {A::kDec, A::kPtr}},
  {38,  Setitimer,     kFull, "as getitimer", {A::kDec, A::kPtr, A::kPtr}},
  {37,  Alarm,         kFull, "", {A::kUDec}},
  {222, TimerCreate,   kFull, "timers on CPU-time clocks (any process's, or a thread of the caller's) fire within ~2 ms of the clock reaching their expiry (sampled: sentry/kernel/cpu_timers.h; Linux: a tick)", {A::kDec, A::kPtr, A::kPtr}},
  {223, TimerSettime,  kFull, "", {A::kDec, A::kHex, A::kPtr, A::kPtr}},
  {224, TimerGettime,  kFull, "", {A::kDec, A::kPtr}},
  {225, TimerGetoverrun, kFull, "", {A::kDec}},
  {226, TimerDelete,   kFull, "", {A::kDec}},
  {282, Signalfd,      kFull, "", {A::kFd, A::kSigset, A::kUDec}},
  {289, Signalfd4,     kFull, "", {A::kFd, A::kSigset, A::kUDec, A::kHex}},
  {98,  Getrusage,     kPartial, "CPU time: user = the guest's in its stubs (their host CPU clocks), system = the host's for the stubs plus the Sentry's work; every thread, live and exited; ru_maxrss is the resident set's peak (the memory manager's high-water mark; RUSAGE_CHILDREN's the largest of the reaped children's); ru_minflt counts the faults the Sentry resolved (fault-around makes it lower than Linux's); majflt, block I/O, IPC and context switches are 0", {A::kDec, A::kPtr}},
  {100, Times,         kPartial, "as getrusage", {A::kPtr}},
  {247, Waitid,        kPartial, "rusage as wait4's", {A::kDec, A::kDec, A::kPtr, A::kHex, A::kPtr}},
  {297, RtTgsigqueueinfo, kFull, "", {A::kDec, A::kDec, A::kSignal, A::kPtr}},
  {322, Execveat,      kPartial, "as execve", {A::kFd, A::kPath, A::kPtr, A::kPtr, A::kHex}},
  {435, Clone3,        kPartial, "as clone (CLONE_NEWTIME too is refused); CLONE_INTO_CGROUP is EINVAL (counted: no cgroups); set_tid has one level (one pid namespace)", {A::kPtr, A::kUDec}},
  {272, Unshare,       kPartial, "CLONE_FILES, CLONE_FS, CLONE_NEWIPC (as clone's), CLONE_NEWUTS, CLONE_SYSVSEM, and CLONE_THREAD/CLONE_SIGHAND/CLONE_VM when nothing is shared; CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME (EPERM without CAP_SYS_ADMIN, else EINVAL) and CLONE_NEWUSER (EINVAL) are refused (counted)",
                       {A::kHex}},
  {308, Setns,         kFull, "nsfs files (/proc/<pid>/ns/*) and pidfds; the sandbox has one mnt, pid, net, user, cgroup and time namespace, the caller's, and joining it does what Linux does for that case", {A::kFd, A::kHex}},
  {170, Sethostname,   kFull, "", {A::kInBuf, A::kDec}},
  {171, Setdomainname, kFull, "", {A::kInBuf, A::kDec}},
  // Pipes, eventfd, poll and epoll (sys_pipe.cc, sys_poll.cc, sys_epoll.cc;
  // sentry/fsimpl/{pipe,eventfd,epoll}).
  {22,  Pipe,          kFull, "", {A::kPtr}},
  {293, Pipe2,         kPartial, "O_NOTIFICATION_PIPE is ENOPKG (no watch queues, counted)", {A::kPtr, A::kOpenFlags}},
  {284, Eventfd,       kFull, "", {A::kUDec}},
  {290, Eventfd2,      kFull, "", {A::kUDec, A::kHex}},
  {7,   Poll,          kFull, "", {A::kPtr, A::kUDec, A::kDec}},
  {271, Ppoll,         kFull, "", {A::kPtr, A::kUDec, A::kTimespec, A::kSigset, A::kUDec}},
  {23,  Select,        kPartial, "nfds is clamped to an fd-table size grown from the highest open fd (Linux's never shrinks)",
                       {A::kDec, A::kPtr, A::kPtr, A::kPtr, A::kPtr}},
  {270, Pselect6,      kPartial, "as select", {A::kDec, A::kPtr, A::kPtr, A::kPtr, A::kTimespec, A::kPtr}},
  {213, EpollCreate,   kFull, "", {A::kDec}},
  {291, EpollCreate1,  kFull, "", {A::kHex}},
  {233, EpollCtl,      kPartial, "entries on donated host fds (stdio) are polled level-triggered, EPOLLET or not, and do not wake a poll or an outer epoll watching the epoll",
                       {A::kFd, A::kDec, A::kFd, A::kPtr}},
  {232, EpollWait,     kFull, "", {A::kFd, A::kPtr, A::kDec, A::kDec}},
  {281, EpollPwait,    kFull, "", {A::kFd, A::kPtr, A::kDec, A::kDec, A::kSigset, A::kUDec}},
  {275, Splice,        kPartial, "one of the ends a pipe; the data is copied through the Sentry (no page moves, SPLICE_F_MOVE and SPLICE_F_GIFT change nothing), at most 1 MiB per call",
                       {A::kFd, A::kPtr, A::kFd, A::kPtr, A::kUDec, A::kHex}},
  {276, Tee,           kFull, "", {A::kFd, A::kFd, A::kUDec, A::kHex}},
  {278, Vmsplice,      kPartial, "the user's pages are copied into the pipe (or out of it), not referenced: SPLICE_F_GIFT changes nothing, and changing the buffer after the call does not change what the pipe holds",
                       {A::kFd, A::kPtr, A::kUDec, A::kHex}},
  // inotify (sys_inotify.cc; sentry/fsimpl/inotify, sentry/vfs/inotify.h).
  {253, InotifyInit,   kPartial, "as inotify_init1", {}},
  {294, InotifyInit1,  kPartial, "events come from changes made inside the sandbox only (the host changing a gofer file raises none); IN_UNMOUNT is never raised; max_user_instances and max_user_watches are not enforced",
                       {A::kHex}},
  {254, InotifyAddWatch, kFull, "", {A::kFd, A::kPath, A::kHex}},
  {255, InotifyRmWatch, kFull, "", {A::kFd, A::kDec}},
  // POSIX message queues (sys_mqueue.cc; sentry/fsimpl/mqueue).
  {240, MqOpen,        kFull, "", {A::kPath, A::kOpenFlags, A::kOct, A::kPtr}},
  {241, MqUnlink,      kFull, "", {A::kPath}},
  {242, MqTimedsend,   kFull, "", {A::kFd, A::kInBuf, A::kUDec, A::kUDec, A::kPtr}},
  {243, MqTimedreceive, kFull, "", {A::kFd, A::kOutBuf, A::kUDec, A::kPtr, A::kPtr}},
  {244, MqNotify,      kPartial, "SIGEV_THREAD needs a netlink socket and there are none: it fails as Linux does for a descriptor that is not one (EBADF, ENOTSOCK, EINVAL; counted)",
                       {A::kFd, A::kPtr}},
  {245, MqGetsetattr,  kFull, "", {A::kFd, A::kPtr, A::kPtr}},
  {441, EpollPwait2,   kFull, "", {A::kFd, A::kPtr, A::kDec, A::kTimespec, A::kSigset, A::kUDec}},
};
// clang-format on

// Unimplemented syscalls that programs commonly probe, with the reason.
const std::pair<int, const char*> kNotes[] = {
    {334, "rseq: glibc falls back when it is missing"},
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
