// /dev and /proc as a program sees them. Prints only what is the same on any
// correct kernel, natively and in the sandbox: device semantics, link targets
// that must exist or match something the program knows, the shape of
// /proc/self/stat and /proc/self/maps (not their values), and values that
// must agree with what syscalls say (getpid, getcwd, uname, argv, environ).
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/random.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "util.h"

extern char** environ;

static void Check(const char* what, long r) {
  if (r < 0) {
    Print("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    Print("%s: %ld\n", what, r);
  }
}

static void Device(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    Print("%s: stat -1 %s\n", path, strerrorname_np(errno));
    return;
  }
  Print("%s: %s %o %u:%u\n", path, S_ISCHR(st.st_mode) ? "char" : "other", st.st_mode & 07777,
        major(st.st_rdev), minor(st.st_rdev));
}

// Reads a whole file (at most sizeof buf - 1 bytes) in small pieces.
static char buf[1 << 16];
static long Slurp(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = 0, r;
  while (n < (long)sizeof(buf) - 1 && (r = read(fd, buf + n, 7)) > 0) n += r;
  close(fd);
  buf[n] = '\0';
  return n;
}

static int AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return 0;
  }
  return 1;
}

static void Devices(void) {
  char b[4096];
  Device("/dev/null");
  Device("/dev/zero");
  Device("/dev/full");
  Device("/dev/random");
  Device("/dev/urandom");

  int fd = open("/dev/null", O_RDWR);
  Check("null read", read(fd, b, sizeof(b)));
  Check("null write", write(fd, "hello", 5));
  Check("null lseek", lseek(fd, 100, SEEK_SET));
  Check("null pread", pread(fd, b, 10, 1000));
  close(fd);

  fd = open("/dev/zero", O_RDWR);
  memset(b, 'x', sizeof(b));
  Check("zero read", read(fd, b, sizeof(b)));
  Print("zero all zero: %d\n", AllZero(b, sizeof(b)));
  Check("zero write", write(fd, b, 100));
  Check("zero lseek", lseek(fd, 12345, SEEK_CUR));
  close(fd);

  fd = open("/dev/full", O_RDWR);
  Check("full write", write(fd, "x", 1));
  Check("full pwrite", pwrite(fd, "x", 1, 10));
  memset(b, 'x', 64);
  Check("full read", read(fd, b, 64));
  Print("full all zero: %d\n", AllZero(b, 64));
  Check("full lseek", lseek(fd, 7, SEEK_SET));
  close(fd);

  fd = open("/dev/urandom", O_RDONLY);
  char r1[32], r2[32];
  Check("urandom read", read(fd, r1, sizeof(r1)));
  Check("urandom read", read(fd, r2, sizeof(r2)));
  Print("urandom differs: %d\n", memcmp(r1, r2, sizeof(r1)) != 0);
  Check("urandom lseek", lseek(fd, 100, SEEK_SET));
  int count = -1;
  Check("urandom RNDGETENTCNT", ioctl(fd, RNDGETENTCNT, &count));
  Print("entropy count positive: %d\n", count > 0);
  Check("urandom unknown ioctl", ioctl(fd, FIONREAD, &count));
  close(fd);
  fd = open("/dev/random", O_RDONLY | O_NONBLOCK);
  Check("random read", read(fd, r1, sizeof(r1)));
  close(fd);

  ssize_t n = readlink("/dev/stdout", b, sizeof(b) - 1);
  b[n > 0 ? n : 0] = '\0';
  Print("/dev/stdout -> %s\n", b);
  n = readlink("/dev/fd", b, sizeof(b) - 1);
  b[n > 0 ? n : 0] = '\0';
  Print("/dev/fd -> %s\n", b);
}

// /proc/self/maps: every line "start-end perms offset major:minor inode",
// then, for a named mapping, spaces up to column 73 and the name.
static void Maps(void) {
  long n = Slurp("/proc/self/maps");
  Print("maps read: %d\n", n > 0);
  int lines = 0, bad = 0, stack = 0, text_named = 0;
  uintptr_t main_addr = (uintptr_t)&Maps;
  char exe[4096];
  ssize_t en = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[en > 0 ? en : 0] = '\0';
  for (char* line = buf; *line != '\0';) {
    char* end = strchr(line, '\n');
    if (end == NULL) {
      bad++;
      break;
    }
    *end = '\0';
    unsigned long start, stop, offset, inode;
    unsigned major_, minor_;
    char perms[5];
    int consumed = 0;
    if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &start, &stop, perms, &offset, &major_,
               &minor_, &inode, &consumed) < 7 ||
        start >= stop || strlen(perms) != 4 || strchr("-r", perms[0]) == NULL ||
        strchr("-w", perms[1]) == NULL || strchr("-x", perms[2]) == NULL ||
        strchr("ps", perms[3]) == NULL) {
      bad++;
    } else if (line[consumed] != '\0') {
      if (consumed != 73) bad++;  // names start at column 73
      const char* name = line + consumed;
      if (strcmp(name, "[stack]") == 0) stack++;
      if (start <= main_addr && main_addr < stop && perms[2] == 'x' && strcmp(name, exe) == 0) {
        text_named++;
      }
    }
    lines++;
    line = end + 1;
  }
  Print("maps lines well formed: %d (some lines: %d)\n", bad == 0, lines > 3);
  Print("maps [stack]: %d\n", stack);
  Print("maps main's code named like /proc/self/exe: %d\n", text_named);
}

// /proc/self/stat: 52 fields; those this program can know must agree.
static void Stat(int argc, char** argv) {
  long n = Slurp("/proc/self/stat");
  Print("stat ends in newline: %d\n", n > 0 && buf[n - 1] == '\n');
  int pid = -1, ppid = -1;
  char comm[64] = {0}, state = '?';
  sscanf(buf, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid);
  Print("stat pid is getpid: %d\n", pid == getpid());
  Print("stat comm: %s\n", comm);
  Print("stat state: %c\n", state);
  Print("stat ppid is getppid: %d\n", ppid == getppid());
  char* rest = strrchr(buf, ')') + 2;
  unsigned long long f[64];
  int fields = 2;
  for (char* tok = strtok(rest, " \n"); tok != NULL && fields < 64; tok = strtok(NULL, " \n")) {
    f[fields++] = strtoull(tok, NULL, 10);
  }
  Print("stat fields: %d\n", fields);
  if (fields < 52) return;
  // f[i] is field i+1 of proc(5).
  Print("stat num_threads: %llu\n", f[19]);
  Print("stat vsize positive: %d\n", f[22] > 0);
  Print("stat exit_signal: %llu\n", f[37]);
  Print("stat arg_start is argv[0]: %d\n", f[47] == (uintptr_t)argv[0]);
  Print("stat arg_end ends argv: %d\n",
        f[48] == (uintptr_t)argv[argc - 1] + strlen(argv[argc - 1]) + 1);
  Print("stat env_start is environ[0]: %d\n", environ[0] == NULL || f[49] == (uintptr_t)environ[0]);
  uintptr_t sp = (uintptr_t)&n;
  Print("stat startstack above our stack: %d\n", f[27] > sp);
}

static void Status(void) {
  Slurp("/proc/self/status");
  char want[64];
  snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
  Print("status Name: %d\n", strncmp(buf, "Name:\tdevproc\n", 14) == 0);
  Print("status Pid: %d\n", strstr(buf, want) != NULL);
  Print("status State R: %d\n", strstr(buf, "\nState:\tR (running)\n") != NULL);
  Print("status Threads: %d\n", strstr(buf, "\nThreads:\t1\n") != NULL);
  Print("status VmRSS: %d\n", strstr(buf, "\nVmRSS:\t") != NULL);
}

static void Self(int argc, char** argv) {
  char b[4096], cwd[4096];
  // Who we are: the arguments and environment we were given.
  long n = Slurp("/proc/self/cmdline");
  long want = 0;
  int same = 1;
  for (int i = 0; i < argc; ++i) {
    size_t len = strlen(argv[i]) + 1;
    if (want + (long)len > n || memcmp(buf + want, argv[i], len) != 0) same = 0;
    want += (long)len;
  }
  Print("cmdline is argv: %d\n", same && n == want);
  n = Slurp("/proc/self/environ");
  want = 0;
  same = 1;
  for (char** e = environ; *e != NULL; ++e) {
    size_t len = strlen(*e) + 1;
    if (want + (long)len > n || memcmp(buf + want, *e, len) != 0) same = 0;
    want += (long)len;
  }
  Print("environ is environ: %d\n", same && n == want);
  Slurp("/proc/self/comm");
  Print("comm: %s", buf);

  ssize_t len = readlink("/proc/self/cwd", b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  Print("cwd is getcwd: %d\n", getcwd(cwd, sizeof(cwd)) != NULL && strcmp(b, cwd) == 0);
  len = readlink("/proc/self/root", b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  Print("root: %s\n", b);
  len = readlink("/proc/self/exe", b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  const char* base = strrchr(b, '/');
  Print("exe basename: %s\n", base ? base + 1 : "(none)");

  // stdout: whatever it is, its link exists.
  len = readlink("/proc/self/fd/1", b, sizeof(b) - 1);
  Print("fd/1 link exists: %d\n", len > 0);

  // A file we open: the link is its path, fdinfo its position and flags.
  char dir[] = "/tmp/sandbox-devproc-XXXXXX";
  if (mkdtemp(dir) == NULL) return;
  char path[256];
  snprintf(path, sizeof(path), "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  Check("write", write(fd, "hello", 5));
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  len = readlink(link, b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  Print("fd link is the path: %d\n", strcmp(b, path) == 0);
  struct stat st;
  Print("fd link lstat: %d\n", lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
  Print("fd link mode: %o\n", st.st_mode & 0777);
  snprintf(link, sizeof(link), "/proc/self/fdinfo/%d", fd);
  Slurp(link);
  char* mnt = strstr(buf, "mnt_id:");
  if (mnt != NULL) *mnt = '\0';
  Print("fdinfo: %s", buf);
  unlink(path);
  Check("readlink size 0", readlink("/proc/self/fd/1", b, 0));
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  len = readlink(link, b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  Print("unlinked fd link ends in (deleted): %d\n",
        len > 10 && strcmp(b + len - 10, " (deleted)") == 0);
  close(fd);
  rmdir(dir);
  Check("closed fd link", readlink(link, b, sizeof(b)));
}

static void System(void) {
  struct utsname u;
  uname(&u);
  long n = Slurp("/proc/sys/kernel/osrelease");
  Print("osrelease is uname's: %d\n", n > 0 && strncmp(buf, u.release, strlen(u.release)) == 0);
  n = Slurp("/proc/sys/kernel/hostname");
  Print("hostname is uname's: %d\n", n > 0 && strncmp(buf, u.nodename, strlen(u.nodename)) == 0);
  Slurp("/proc/sys/kernel/ostype");
  Print("ostype: %s", buf);
  Slurp("/proc/version");
  Print("version starts right: %d\n", strncmp(buf, "Linux version ", 14) == 0);
  Slurp("/proc/uptime");
  double up = -1, idle = -1;
  Print("uptime parses: %d\n", sscanf(buf, "%lf %lf", &up, &idle) == 2 && up >= 0 && idle >= 0);
  Slurp("/proc/cpuinfo");
  int cpus = 0;
  for (char* p = buf; (p = strstr(p, "processor\t: ")) != NULL; ++p) cpus++;
  Print("cpuinfo processors match sysconf: %d\n", cpus == sysconf(_SC_NPROCESSORS_ONLN));
  Slurp("/proc/meminfo");
  unsigned long total = 0;
  Print("meminfo MemTotal: %d\n", sscanf(buf, "MemTotal: %lu kB", &total) == 1 && total > 0);
  Slurp("/proc/self/mounts");
  Print("mounts /proc: %d\n", strstr(buf, " /proc proc ") != NULL);
  Slurp("/proc/mounts");
  Print("/proc/mounts has /proc: %d\n", strstr(buf, " /proc proc ") != NULL);
  char b[64];
  ssize_t len = readlink("/proc/self", b, sizeof(b) - 1);
  b[len > 0 ? len : 0] = '\0';
  Print("/proc/self is getpid: %d\n", len > 0 && atoi(b) == getpid());

  // Offsets: beyond the end reads nothing; SEEK_END is EINVAL (seq_lseek).
  int fd = open("/proc/self/status", O_RDONLY);
  Check("status lseek far", lseek(fd, 1 << 30, SEEK_SET));
  Check("status read far", read(fd, b, sizeof(b)));
  Check("status lseek end", lseek(fd, 0, SEEK_END));
  Check("status pread 0 bytes", pread(fd, b, 0, 0));
  Check("status pread", pread(fd, b, 6, 0));
  close(fd);
  fd = open("/proc/self/stat", O_RDONLY | O_CREAT, 0644);
  Print("open existing proc file with O_CREAT: %d\n", fd >= 0);
  close(fd);
}

int main(int argc, char** argv) {
  Devices();
  Maps();
  Stat(argc, argv);
  Status();
  Self(argc, argv);
  System();
  return 0;
}
