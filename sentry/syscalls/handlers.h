// Syscall handlers, one file per family (sys_*.cc). Handlers are thin: decode the
// arguments, fetch the object, call the subsystem, return (DESIGN.md §7).
#ifndef SENTRY_SYSCALLS_HANDLERS_H_
#define SENTRY_SYSCALLS_HANDLERS_H_

#include "sentry/base/status_macros.h"
#include "sentry/kernel/syscall_table.h"
#include "sentry/kernel/task.h"

namespace sentry::syscalls {

using kernel::SyscallArgs;
using kernel::SyscallResult;
using kernel::Task;

#define SENTRY_SYSCALL(name) SyscallResult name(Task& t, const SyscallArgs& a)

// RLIMIT_FSIZE, applied in this one place for every filesystem (Linux's
// generic_write_check_limits and inode_newsize_ok; sys_read_write.cc).
// WriteLimit: how much of a write of `count` bytes at `pos` (negative: the
// description's position, or its end under O_APPEND) to a regular file fits
// under the limit; none (and count > 0): SIGXFSZ to the process and EFBIG.
// Other kinds of file: `count`.
ErrnoOr<size_t> WriteLimit(Task& t, vfs::FileDescription& f, int64_t pos, size_t count);
// NewSizeOk: a regular file growing from `old_size` to `new_size`
// (truncate, fallocate) past the limit: SIGXFSZ and EFBIG.
ErrnoOrOk NewSizeOk(Task& t, uint64_t old_size, uint64_t new_size);

// sys_read_write.cc
SENTRY_SYSCALL(Read);
SENTRY_SYSCALL(Write);
SENTRY_SYSCALL(Readv);
SENTRY_SYSCALL(Writev);
SENTRY_SYSCALL(Pread64);
SENTRY_SYSCALL(Pwrite64);
SENTRY_SYSCALL(Close);
// sys_stat.cc
SENTRY_SYSCALL(Fstat);
SENTRY_SYSCALL(Newfstatat);
// sys_splice.cc
SENTRY_SYSCALL(Sendfile);
SENTRY_SYSCALL(CopyFileRange);
SENTRY_SYSCALL(Splice);
SENTRY_SYSCALL(Tee);
SENTRY_SYSCALL(Vmsplice);
SENTRY_SYSCALL(InotifyInit);
SENTRY_SYSCALL(InotifyInit1);
SENTRY_SYSCALL(InotifyAddWatch);
SENTRY_SYSCALL(InotifyRmWatch);
// sys_fd.cc
SENTRY_SYSCALL(Dup);
SENTRY_SYSCALL(Dup2);
SENTRY_SYSCALL(Dup3);
SENTRY_SYSCALL(Fcntl);
SENTRY_SYSCALL(MemfdCreate);
SENTRY_SYSCALL(Flock);
// A close of `f` by the task's process (filp_close): tells `f` (f_op->flush)
// and drops the POSIX record locks the process holds on its file.
void ReleasePosixLocks(Task& t, const std::shared_ptr<vfs::FileDescription>& f);
// sys_file.cc
// Where a *at() call starts: the cwd for AT_FDCWD, else the directory `dirfd`
// names (an absolute path ignores dirfd, whatever it is). With `empty_ok` and
// an empty path, any file's location.
ErrnoOr<vfs::PathContext> AtContext(Task& t, int dirfd, std::string_view path,
                                    const vfs::AccessCreds* creds, bool empty_ok = false);
SENTRY_SYSCALL(Open);
SENTRY_SYSCALL(Openat);
SENTRY_SYSCALL(Openat2);
SENTRY_SYSCALL(Creat);
SENTRY_SYSCALL(Lseek);
SENTRY_SYSCALL(Getdents64);
SENTRY_SYSCALL(Getdents);
SENTRY_SYSCALL(Mkdir);
SENTRY_SYSCALL(Mkdirat);
SENTRY_SYSCALL(Mknod);
SENTRY_SYSCALL(Mknodat);
SENTRY_SYSCALL(Unlink);
SENTRY_SYSCALL(Unlinkat);
SENTRY_SYSCALL(Rmdir);
SENTRY_SYSCALL(Symlink);
SENTRY_SYSCALL(Symlinkat);
SENTRY_SYSCALL(Readlink);
SENTRY_SYSCALL(Readlinkat);
SENTRY_SYSCALL(Link);
SENTRY_SYSCALL(Linkat);
SENTRY_SYSCALL(Rename);
SENTRY_SYSCALL(Renameat);
SENTRY_SYSCALL(Renameat2);
SENTRY_SYSCALL(Stat);
SENTRY_SYSCALL(Lstat);
SENTRY_SYSCALL(Statx);
SENTRY_SYSCALL(NewfstatatPath);
SENTRY_SYSCALL(Chdir);
SENTRY_SYSCALL(Fchdir);
SENTRY_SYSCALL(Umask);
SENTRY_SYSCALL(Access);
SENTRY_SYSCALL(Faccessat);
SENTRY_SYSCALL(Faccessat2);
SENTRY_SYSCALL(Truncate);
SENTRY_SYSCALL(Ftruncate);
SENTRY_SYSCALL(Chmod);
SENTRY_SYSCALL(Fchmod);
SENTRY_SYSCALL(Fchmodat);
SENTRY_SYSCALL(Fchmodat2);
SENTRY_SYSCALL(Chown);
SENTRY_SYSCALL(Fchown);
SENTRY_SYSCALL(Lchown);
SENTRY_SYSCALL(Fchownat);
SENTRY_SYSCALL(Utimensat);
SENTRY_SYSCALL(Fallocate);
SENTRY_SYSCALL(Fsync);
SENTRY_SYSCALL(Fadvise64);
SENTRY_SYSCALL(Statfs);
SENTRY_SYSCALL(Fstatfs);
SENTRY_SYSCALL(Utime);
SENTRY_SYSCALL(Utimes);
SENTRY_SYSCALL(Futimesat);
SENTRY_SYSCALL(CloseRange);
SENTRY_SYSCALL(Sync);
SENTRY_SYSCALL(Syncfs);
SENTRY_SYSCALL(SyncFileRange);
SENTRY_SYSCALL(Chroot);
SENTRY_SYSCALL(Setxattr);
SENTRY_SYSCALL(Lsetxattr);
SENTRY_SYSCALL(Fsetxattr);
SENTRY_SYSCALL(Getxattr);
SENTRY_SYSCALL(Lgetxattr);
SENTRY_SYSCALL(Fgetxattr);
SENTRY_SYSCALL(Listxattr);
SENTRY_SYSCALL(Llistxattr);
SENTRY_SYSCALL(Flistxattr);
SENTRY_SYSCALL(Removexattr);
SENTRY_SYSCALL(Lremovexattr);
SENTRY_SYSCALL(Fremovexattr);
SENTRY_SYSCALL(Preadv);
SENTRY_SYSCALL(Pwritev);
SENTRY_SYSCALL(Preadv2);
SENTRY_SYSCALL(Pwritev2);
// sys_socket.cc
SENTRY_SYSCALL(Socket);
SENTRY_SYSCALL(Socketpair);
SENTRY_SYSCALL(Bind);
SENTRY_SYSCALL(Listen);
SENTRY_SYSCALL(Accept);
SENTRY_SYSCALL(Accept4);
SENTRY_SYSCALL(Connect);
SENTRY_SYSCALL(Getsockname);
SENTRY_SYSCALL(Getpeername);
SENTRY_SYSCALL(Shutdown);
SENTRY_SYSCALL(Sendto);
SENTRY_SYSCALL(Recvfrom);
SENTRY_SYSCALL(Sendmsg);
SENTRY_SYSCALL(Recvmsg);
SENTRY_SYSCALL(Sendmmsg);
SENTRY_SYSCALL(Recvmmsg);
SENTRY_SYSCALL(Getsockopt);
SENTRY_SYSCALL(Setsockopt);
// sys_ioctl.cc
SENTRY_SYSCALL(Ioctl);
// sys_ipc.cc
SENTRY_SYSCALL(Shmget);
SENTRY_SYSCALL(Shmat);
SENTRY_SYSCALL(Shmdt);
SENTRY_SYSCALL(Shmctl);
SENTRY_SYSCALL(Semget);
SENTRY_SYSCALL(Semop);
SENTRY_SYSCALL(Semtimedop);
SENTRY_SYSCALL(Semctl);
SENTRY_SYSCALL(Msgget);
SENTRY_SYSCALL(Msgsnd);
SENTRY_SYSCALL(Msgrcv);
SENTRY_SYSCALL(Msgctl);

// sys_mmap.cc
SENTRY_SYSCALL(Mmap);
SENTRY_SYSCALL(Munmap);
SENTRY_SYSCALL(Mprotect);
SENTRY_SYSCALL(Mremap);
SENTRY_SYSCALL(Brk);
SENTRY_SYSCALL(Madvise);
SENTRY_SYSCALL(Mincore);
SENTRY_SYSCALL(Msync);
SENTRY_SYSCALL(Mlock);
SENTRY_SYSCALL(Mlock2);
SENTRY_SYSCALL(Munlock);
SENTRY_SYSCALL(Mlockall);
SENTRY_SYSCALL(Munlockall);
// sys_thread.cc
SENTRY_SYSCALL(Exit);
SENTRY_SYSCALL(ExitGroup);
SENTRY_SYSCALL(Getpid);
SENTRY_SYSCALL(Getppid);
SENTRY_SYSCALL(Gettid);
SENTRY_SYSCALL(Getpgrp);
SENTRY_SYSCALL(Getpgid);
SENTRY_SYSCALL(Getsid);
SENTRY_SYSCALL(SetTidAddress);
SENTRY_SYSCALL(SetRobustList);
SENTRY_SYSCALL(GetRobustList);
SENTRY_SYSCALL(ArchPrctl);
// sys_cred.cc
SENTRY_SYSCALL(Getuid);
SENTRY_SYSCALL(Geteuid);
SENTRY_SYSCALL(Getgid);
SENTRY_SYSCALL(Getegid);
SENTRY_SYSCALL(Getresuid);
SENTRY_SYSCALL(Getresgid);
SENTRY_SYSCALL(Getgroups);
SENTRY_SYSCALL(Setgroups);
SENTRY_SYSCALL(Setuid);
SENTRY_SYSCALL(Setgid);
SENTRY_SYSCALL(Setreuid);
SENTRY_SYSCALL(Setregid);
SENTRY_SYSCALL(Setresuid);
SENTRY_SYSCALL(Setresgid);
SENTRY_SYSCALL(Setfsuid);
SENTRY_SYSCALL(Setfsgid);
SENTRY_SYSCALL(Capget);
SENTRY_SYSCALL(Capset);
// prctl's capability options (PR_CAPBSET_*, PR_CAP_AMBIENT, PR_*_SECUREBITS,
// PR_*_KEEPCAPS), from Prctl.
SENTRY_SYSCALL(CapabilityPrctl);
// sys_sched.cc
SENTRY_SYSCALL(SchedYield);
SENTRY_SYSCALL(SchedGetaffinity);
SENTRY_SYSCALL(SchedSetaffinity);
SENTRY_SYSCALL(SchedGetscheduler);
SENTRY_SYSCALL(SchedSetscheduler);
SENTRY_SYSCALL(SchedGetparam);
SENTRY_SYSCALL(SchedSetparam);
SENTRY_SYSCALL(SchedGetPriorityMax);
SENTRY_SYSCALL(SchedGetPriorityMin);
SENTRY_SYSCALL(SchedRrGetInterval);
SENTRY_SYSCALL(SchedSetattr);
SENTRY_SYSCALL(SchedGetattr);
SENTRY_SYSCALL(Getpriority);
SENTRY_SYSCALL(Setpriority);
SENTRY_SYSCALL(Getcpu);
// sys_time.cc
SENTRY_SYSCALL(ClockGettime);
SENTRY_SYSCALL(ClockGetres);
SENTRY_SYSCALL(Gettimeofday);
SENTRY_SYSCALL(Time);
SENTRY_SYSCALL(Nanosleep);
SENTRY_SYSCALL(ClockNanosleep);
// sys_timerfd.cc
SENTRY_SYSCALL(TimerfdCreate);
SENTRY_SYSCALL(TimerfdSettime);
SENTRY_SYSCALL(TimerfdGettime);
// sys_signal.cc
SENTRY_SYSCALL(RtSigaction);
SENTRY_SYSCALL(RtSigprocmask);
SENTRY_SYSCALL(RtSigpending);
SENTRY_SYSCALL(RtSigreturn);
SENTRY_SYSCALL(Sigaltstack);
SENTRY_SYSCALL(RtSigsuspend);
SENTRY_SYSCALL(Pause);
SENTRY_SYSCALL(RtSigtimedwait);
SENTRY_SYSCALL(RestartSyscall);
SENTRY_SYSCALL(Signalfd);
SENTRY_SYSCALL(Signalfd4);
SENTRY_SYSCALL(Getrusage);
SENTRY_SYSCALL(Times);
// sys_timer.cc
SENTRY_SYSCALL(Getitimer);
SENTRY_SYSCALL(Setitimer);
SENTRY_SYSCALL(Alarm);
SENTRY_SYSCALL(TimerCreate);
SENTRY_SYSCALL(TimerSettime);
SENTRY_SYSCALL(TimerGettime);
SENTRY_SYSCALL(TimerGetoverrun);
SENTRY_SYSCALL(TimerDelete);
// sys_rlimit.cc
SENTRY_SYSCALL(Getrlimit);
SENTRY_SYSCALL(Setrlimit);
SENTRY_SYSCALL(Prlimit64);
// sys_misc.cc
SENTRY_SYSCALL(Uname);
SENTRY_SYSCALL(Sysinfo);
SENTRY_SYSCALL(Getrandom);
// sys_process.cc
SENTRY_SYSCALL(Kill);
SENTRY_SYSCALL(RtSigqueueinfo);
SENTRY_SYSCALL(PidfdOpen);
SENTRY_SYSCALL(PidfdSendSignal);
SENTRY_SYSCALL(RtTgsigqueueinfo);
SENTRY_SYSCALL(Clone);
SENTRY_SYSCALL(Clone3);
SENTRY_SYSCALL(Unshare);
SENTRY_SYSCALL(Setns);
SENTRY_SYSCALL(Sethostname);
SENTRY_SYSCALL(Setdomainname);
SENTRY_SYSCALL(PidfdGetfd);
SENTRY_SYSCALL(Fork);
SENTRY_SYSCALL(Vfork);
SENTRY_SYSCALL(Wait4);
SENTRY_SYSCALL(Waitid);
SENTRY_SYSCALL(Setpgid);
SENTRY_SYSCALL(Setsid);
// sys_exec.cc
SENTRY_SYSCALL(Execve);
SENTRY_SYSCALL(Execveat);
SENTRY_SYSCALL(Tkill);
SENTRY_SYSCALL(Tgkill);
SENTRY_SYSCALL(Prctl);
SENTRY_SYSCALL(Getcwd);
// sys_futex.cc
SENTRY_SYSCALL(Futex);
// sys_pipe.cc
SENTRY_SYSCALL(Pipe);
SENTRY_SYSCALL(Pipe2);
SENTRY_SYSCALL(Eventfd);
SENTRY_SYSCALL(Eventfd2);
// F_SETPIPE_SZ and F_GETPIPE_SZ on `f` (EBADF when it is not a pipe).
SyscallResult PipeFcntl(Task& t, vfs::FileDescription& f, int cmd, uint64_t arg);
// sys_poll.cc
SENTRY_SYSCALL(Poll);
SENTRY_SYSCALL(Ppoll);
SENTRY_SYSCALL(Select);
SENTRY_SYSCALL(Pselect6);
// sys_epoll.cc
SENTRY_SYSCALL(EpollCreate);
SENTRY_SYSCALL(EpollCreate1);
SENTRY_SYSCALL(EpollCtl);
SENTRY_SYSCALL(EpollWait);
SENTRY_SYSCALL(EpollPwait);
SENTRY_SYSCALL(EpollPwait2);
SENTRY_SYSCALL(Personality);  // sys_misc.cc
// sys_mqueue.cc
SENTRY_SYSCALL(MqOpen);
SENTRY_SYSCALL(MqUnlink);
SENTRY_SYSCALL(MqTimedsend);
SENTRY_SYSCALL(MqTimedreceive);
SENTRY_SYSCALL(MqNotify);
SENTRY_SYSCALL(MqGetsetattr);

#undef SENTRY_SYSCALL

// The Linux x86-64 syscall table (linux64.cc), with the strace printer set.
const kernel::SyscallTable& Linux64Table();

}  // namespace sentry::syscalls

#endif  // SENTRY_SYSCALLS_HANDLERS_H_
