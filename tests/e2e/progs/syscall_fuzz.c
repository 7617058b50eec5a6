// Calls the sandbox's implemented syscalls with garbage: random numbers, bad and
// good pointers, huge sizes, bad flags. The guest may well die of what it does to
// itself; the Sentry must not (see E2eRobustnessTest). Usage: syscall_fuzz SEED N
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t state;

static uint64_t Next(void) {  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

static char buffer[1 << 16];

static uint64_t Arg(void) {
  switch (Next() % 10) {
    case 0: return 0;
    case 1: return Next() % 64;  // small numbers: fds, signals, flags
    case 2: return (uint64_t)-1 - Next() % 8;
    case 3: return (uint64_t)buffer + Next() % sizeof(buffer);  // valid pointers
    case 4: return (uint64_t)buffer & ~0xfffULL;
    case 5: return Next() % 0x800000000000ULL;  // anywhere in user space
    case 6: return 0xffffffffff600000ULL + Next() % 4096;  // vsyscall / kernel
    case 7: return 1ULL << (Next() % 64);
    case 8: return Next() % (1 << 20);  // sizes
    default: return Next();
  }
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  state = strtoull(argv[1], NULL, 0) | 1;
  long n = strtol(argv[2], NULL, 0);
  // Implemented syscalls, minus those that end the process or block forever.
  static const int kCalls[] = {
      SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_close,
      SYS_fstat, SYS_newfstatat, SYS_ioctl, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap,
      SYS_brk, SYS_madvise, SYS_mincore, SYS_msync, SYS_mlock, SYS_mlock2, SYS_munlock,
      SYS_getpid, SYS_getppid, SYS_gettid, SYS_uname, SYS_arch_prctl, SYS_set_tid_address,
      SYS_set_robust_list, SYS_get_robust_list, SYS_clock_gettime, SYS_clock_getres,
      SYS_gettimeofday, SYS_time, SYS_getrandom, SYS_prlimit64, SYS_getrlimit,
      SYS_setrlimit, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_sched_yield,
      SYS_sched_getaffinity, SYS_sysinfo, SYS_kill, SYS_tkill, SYS_tgkill, SYS_prctl,
      SYS_getcwd, SYS_getpgid, SYS_getsid, 600, 1000,
  };
  const int ncalls = sizeof(kCalls) / sizeof(kCalls[0]);
  // Calls that change mappings aim at an arena of our own, so that the program
  // survives long enough to exercise the rest (random addresses still come up).
  const uint64_t kArenaSize = 64 << 20;
  uint8_t* arena = mmap(NULL, kArenaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
  if (arena == MAP_FAILED) return 3;
  for (long i = 0; i < n; i++) {
    int nr = kCalls[Next() % ncalls];
    uint64_t a[6];
    for (int j = 0; j < 6; j++) a[j] = Arg();
    // Keep stdio (and the process) alive long enough to say how far it got.
    if (nr == SYS_close && a[0] < 3) continue;
    if (nr == SYS_arch_prctl && (a[0] == 0x1002 || a[0] == 0x1001)) continue;  // SET_FS/GS
    // Reading stdin could block on a terminal.
    if ((nr == SYS_read || nr == SYS_readv || nr == SYS_pread64) && a[0] == 0) continue;
    switch (nr) {
      case SYS_munmap:
      case SYS_mprotect:
      case SYS_mremap:
      case SYS_madvise:
      case SYS_mlock:
      case SYS_mlock2:
      case SYS_munlock:
      case SYS_msync:
      case SYS_mincore:
      case SYS_brk:
        if (Next() % 8 != 0) {
          a[0] = (uint64_t)arena + (Next() % kArenaSize & ~0xfffULL) + (Next() % 16 == 0);
          a[1] = Next() % (kArenaSize / 4);
          if (nr == SYS_mremap) {
            a[3] &= 3;  // MREMAP_MAYMOVE | MREMAP_FIXED
            a[4] = (uint64_t)arena + (Next() % kArenaSize & ~0xfffULL);
          }
          if (nr == SYS_mincore) a[2] = (uint64_t)buffer;
        } else if (nr != SYS_mincore && nr != SYS_msync) {
          continue;  // a random address could be our own text or stack
        }
        break;
      case SYS_mmap:
        a[3] &= ~(uint64_t)MAP_FIXED;  // never over our own text or stack
        a[3] &= ~(uint64_t)MAP_FIXED_NOREPLACE;
        a[1] %= 1 << 26;  // don't populate terabytes (Linux would OOM-kill us)
        break;
    }
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  static const char kDone[] = "survived\n";
  syscall(SYS_write, 1, kDone, sizeof(kDone) - 1);
  // Not exit(): the garbage may have landed in libc's own data (its locks too).
  syscall(SYS_exit_group, 0);
  return 0;
}
