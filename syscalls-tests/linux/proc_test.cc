// /proc: what a process reads about itself, its threads, a zombie child and
// the system, compared with what the same process observes through the
// syscalls (never with hard-coded values).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

extern char** environ;

namespace syscalls_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The whole file (binary-safe); empty if it cannot be opened.
std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string Readlink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The fields of a stat file: [0] pid, [1] comm (without parentheses),
// [2] state, [3] ppid, ... as proc(5) numbers them minus one.
std::vector<std::string> StatFields(const std::string& text) {
  std::vector<std::string> f;
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return f;
  f.push_back(text.substr(0, open - 1));
  f.push_back(text.substr(open + 1, close - open - 1));
  std::istringstream rest(text.substr(close + 2));
  std::string w;
  while (rest >> w) f.push_back(w);
  return f;
}

// status's "Key:\tvalue" lines.
std::map<std::string, std::string> StatusFields(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == '\t' || line[v] == ' ')) ++v;
    m[line.substr(0, colon)] = line.substr(v);
  }
  return m;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::set<std::string> DirEntries(const std::string& path) {
  std::set<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) out.insert(e->d_name);
  }
  closedir(d);
  return out;
}

std::string Comm() {
  char name[17] = {};
  prctl(PR_GET_NAME, name);
  return name;
}

// --- /proc/self/stat, status, statm. ---

TEST(ProcSelfTest, StatMatchesTheIds) {
  const std::vector<std::string> f = StatFields(ReadFile("/proc/self/stat"));
  ASSERT_GE(f.size(), 52u);
  EXPECT_EQ(f[0], std::to_string(getpid()));
  EXPECT_EQ(f[1], Comm());
  EXPECT_EQ(f[2], "R");  // the reader itself is running
  EXPECT_EQ(f[3], std::to_string(getppid()));
  EXPECT_EQ(f[4], std::to_string(getpgrp()));
  EXPECT_EQ(f[5], std::to_string(getsid(0)));
  EXPECT_EQ(f[19], std::to_string(DirEntries("/proc/self/task").size()));  // num_threads
  struct rlimit rss;
  ASSERT_THAT(getrlimit(RLIMIT_RSS, &rss), SyscallSucceeds());
  EXPECT_EQ(strtoull(f[24].c_str(), nullptr, 10), rss.rlim_cur);  // rsslim
  // This function's code lies between startcode and endcode.
  const uint64_t here = reinterpret_cast<uint64_t>(&StatFields);
  EXPECT_LE(strtoull(f[25].c_str(), nullptr, 10), here);
  EXPECT_GT(strtoull(f[26].c_str(), nullptr, 10), here);
}

TEST(ProcSelfTest, StatStartTimeIsAfterBoot) {
  // starttime (ticks since boot) is no later than the boot clock now.
  const std::vector<std::string> f = StatFields(ReadFile("/proc/self/stat"));
  ASSERT_GE(f.size(), 22u);
  timespec now;
  ASSERT_THAT(clock_gettime(CLOCK_BOOTTIME, &now), SyscallSucceeds());
  const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_LE(strtoull(f[21].c_str(), nullptr, 10), static_cast<uint64_t>(now.tv_sec + 1) * hz);
}

TEST(ProcSelfTest, StatusMatchesTheSyscalls) {
  // A signal blocked, one ignored and one caught, to see in the masks.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_THAT(sigprocmask(SIG_BLOCK, &block, &old), SyscallSucceeds());
  struct sigaction ign {
  }, caught{}, old_ign{}, old_caught{};
  ign.sa_handler = SIG_IGN;
  caught.sa_handler = +[](int) {};
  ASSERT_THAT(sigaction(SIGUSR2, &ign, &old_ign), SyscallSucceeds());
  ASSERT_THAT(sigaction(SIGWINCH, &caught, &old_caught), SyscallSucceeds());
  const mode_t mask = umask(027);
  Cleanup restore([&] {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    sigaction(SIGUSR2, &old_ign, nullptr);
    sigaction(SIGWINCH, &old_caught, nullptr);
    umask(mask);
  });
  std::map<std::string, std::string> s = StatusFields(ReadFile("/proc/self/status"));
  EXPECT_EQ(s["Name"], Comm());
  EXPECT_EQ(s["Umask"], "0027");
  EXPECT_EQ(s["State"], "R (running)");
  EXPECT_EQ(s["Tgid"], std::to_string(getpid()));
  EXPECT_EQ(s["Pid"], std::to_string(Gettid()));
  EXPECT_EQ(s["PPid"], std::to_string(getppid()));
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  ASSERT_THAT(getresuid(&ru, &eu, &su), SyscallSucceeds());
  ASSERT_THAT(getresgid(&rg, &eg, &sg), SyscallSucceeds());
  const int fsuid = static_cast<int>(syscall(SYS_setfsuid, -1));
  const int fsgid = static_cast<int>(syscall(SYS_setfsgid, -1));
  EXPECT_EQ(s["Uid"], std::to_string(ru) + "\t" + std::to_string(eu) + "\t" + std::to_string(su) +
                          "\t" + std::to_string(fsuid));
  EXPECT_EQ(s["Gid"], std::to_string(rg) + "\t" + std::to_string(eg) + "\t" + std::to_string(sg) +
                          "\t" + std::to_string(fsgid));
  std::vector<gid_t> groups(static_cast<size_t>(getgroups(0, nullptr)));
  ASSERT_THAT(getgroups(static_cast<int>(groups.size()), groups.data()), SyscallSucceeds());
  std::vector<std::string> shown = Words(s["Groups"]);
  std::vector<std::string> want;
  for (gid_t g : groups) want.push_back(std::to_string(g));
  EXPECT_EQ(shown, want);
  EXPECT_EQ(s["Threads"], std::to_string(DirEntries("/proc/self/task").size()));
  uint64_t blocked = 0;
  sigset_t cur;
  ASSERT_THAT(sigprocmask(SIG_BLOCK, nullptr, &cur), SyscallSucceeds());
  for (int sig = 1; sig < 65; ++sig) {
    if (sig < SIGRTMIN && sig > 31) continue;  // glibc's own, never in a user set
    if (sigismember(&cur, sig) == 1) blocked |= uint64_t{1} << (sig - 1);
  }
  EXPECT_EQ(strtoull(s["SigBlk"].c_str(), nullptr, 16) & ~(uint64_t{3} << 31), blocked);
  EXPECT_TRUE(strtoull(s["SigIgn"].c_str(), nullptr, 16) & (uint64_t{1} << (SIGUSR2 - 1)));
  EXPECT_TRUE(strtoull(s["SigCgt"].c_str(), nullptr, 16) & (uint64_t{1} << (SIGWINCH - 1)));
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_THAT(syscall(SYS_capget, &hdr, data), SyscallSucceeds());
  const uint64_t eff = data[0].effective | (uint64_t{data[1].effective} << 32);
  const uint64_t prm = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  EXPECT_EQ(strtoull(s["CapEff"].c_str(), nullptr, 16), eff);
  EXPECT_EQ(strtoull(s["CapPrm"].c_str(), nullptr, 16), prm);
  EXPECT_EQ(s["NoNewPrivs"], std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)));
  // Cpus_allowed_list covers exactly the affinity mask.
  cpu_set_t cpus;
  ASSERT_THAT(sched_getaffinity(0, sizeof(cpus), &cpus), SyscallSucceeds());
  EXPECT_THAT(s["Cpus_allowed_list"], StartsWith("0"));
  int n = 0;
  for (const std::string& r : Split(s["Cpus_allowed_list"], ',')) {
    const size_t dash = r.find('-');
    const int lo = atoi(r.c_str()),
              hi = dash == std::string::npos ? lo : atoi(r.c_str() + dash + 1);
    for (int c = lo; c <= hi; ++c) {
      EXPECT_TRUE(CPU_ISSET(c, &cpus)) << c;
      ++n;
    }
  }
  EXPECT_EQ(n, CPU_COUNT(&cpus));
}

TEST(ProcSelfTest, StatusFdSizeCoversTheHighestFd) {
  FileDescriptor fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  const int high = fcntl(fd.get(), F_DUPFD_CLOEXEC, 200);
  ASSERT_GE(high, 200);
  Cleanup c([high] { close(high); });
  std::map<std::string, std::string> s = StatusFields(ReadFile("/proc/self/status"));
  EXPECT_GT(atoi(s["FDSize"].c_str()), high);
}

// The sum of the VMAs in maps (no [vsyscall]: it is no VMA), in pages.
uint64_t MappedPages(const std::string& maps) {
  uint64_t pages = 0;
  std::istringstream in(maps);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("[vsyscall]") != std::string::npos) continue;
    uint64_t lo = 0, hi = 0;
    if (sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) pages += (hi - lo) / kPageSize;
  }
  return pages;
}

TEST(ProcSelfTest, StatmStatAndStatusAgreeWithMaps) {
  // Read until nothing moved in between (malloc may map meanwhile).
  for (int attempt = 0; attempt < 10; ++attempt) {
    const std::string statm1 = ReadFile("/proc/self/statm");
    const std::string maps = ReadFile("/proc/self/maps");
    const std::string stat = ReadFile("/proc/self/stat");
    std::map<std::string, std::string> status = StatusFields(ReadFile("/proc/self/status"));
    const std::string statm2 = ReadFile("/proc/self/statm");
    if (statm1 != statm2) continue;
    const std::vector<std::string> m = Words(statm1);
    ASSERT_EQ(m.size(), 7u);
    const uint64_t size = strtoull(m[0].c_str(), nullptr, 10);
    EXPECT_EQ(size, MappedPages(maps));
    const std::vector<std::string> f = StatFields(stat);
    ASSERT_GE(f.size(), 24u);
    EXPECT_EQ(strtoull(f[22].c_str(), nullptr, 10), size * kPageSize);  // vsize
    EXPECT_EQ(strtoull(status["VmSize"].c_str(), nullptr, 10), size * kPageSize / 1024);
    // Resident pages move with every fault (and Linux's counters are
    // per-CPU caches): bounded by the size only.
    EXPECT_LE(strtoull(f[23].c_str(), nullptr, 10), size);
    EXPECT_LE(strtoull(m[1].c_str(), nullptr, 10), size);
    return;
  }
  FAIL() << "statm kept changing";
}

TEST(ProcSelfTest, MapsShowsAMappingAndItsProtection) {
  const size_t len = 3 * kPageSize;
  void* p = mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char want[64];
  snprintf(want, sizeof(want), "%08lx-%08lx r--p ", reinterpret_cast<unsigned long>(p),
           reinterpret_cast<unsigned long>(p) + len);
  EXPECT_THAT(ReadFile("/proc/self/maps"), HasSubstr(want));
  ASSERT_THAT(mprotect(p, kPageSize, PROT_READ | PROT_WRITE), SyscallSucceeds());
  snprintf(want, sizeof(want), "%08lx-%08lx rw-p ", reinterpret_cast<unsigned long>(p),
           reinterpret_cast<unsigned long>(p) + kPageSize);
  EXPECT_THAT(ReadFile("/proc/self/maps"), HasSubstr(want));
  ASSERT_THAT(munmap(p, len), SyscallSucceeds());
  snprintf(want, sizeof(want), "%08lx-", reinterpret_cast<unsigned long>(p));
  EXPECT_THAT(ReadFile("/proc/self/maps"), ::testing::Not(HasSubstr(want)));
}

// The state letter of /proc/<pid>/stat (after the parenthesized name).
char StateOf(pid_t pid) {
  const std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = s.rfind(')');
  return paren != std::string::npos && paren + 2 < s.size() ? s[paren + 2] : '?';
}

TEST(ProcSelfTest, AnotherProcessIsRWhileItRunsAndSWhileItWaits) {
  // What a parent polls to know its child is blocked (and so a signal finds
  // it in its wait, not before).
  const pid_t busy = fork();
  if (busy == 0) {
    for (;;) {
    }
  }
  ASSERT_GT(busy, 0);
  const pid_t waiting = fork();
  if (waiting == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(waiting, 0);
  Cleanup reap([&] {
    kill(busy, SIGKILL);
    kill(waiting, SIGKILL);
    waitpid(busy, nullptr, 0);
    waitpid(waiting, nullptr, 0);
  });
  char b = '?', w = '?';
  for (int i = 0; i < 2000 && (b != 'R' || w != 'S'); ++i) {
    usleep(1000);
    b = StateOf(busy);
    w = StateOf(waiting);
  }
  EXPECT_EQ(b, 'R');
  EXPECT_EQ(w, 'S');
}

TEST(ProcSelfTest, MapsShowsAFileMappingsOffsetDeviceAndInode) {
  // What pmap, libunwind and the sanitizers read to turn an address into a
  // place in a file.
  char path[] = "/tmp/proc_maps_test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_THAT(ftruncate(fd, 4 * kPageSize), SyscallSucceeds());
  struct stat st;
  ASSERT_THAT(fstat(fd, &st), SyscallSucceeds());
  void* p = mmap(nullptr, 2 * kPageSize, PROT_READ, MAP_PRIVATE, fd, 2 * kPageSize);
  ASSERT_NE(p, MAP_FAILED);
  char want[128];
  snprintf(want, sizeof(want), "%08lx-%08lx r--p %08lx %02x:%02x %lu ",
           reinterpret_cast<unsigned long>(p), reinterpret_cast<unsigned long>(p) + 2 * kPageSize,
           static_cast<unsigned long>(2 * kPageSize), major(st.st_dev), minor(st.st_dev),
           static_cast<unsigned long>(st.st_ino));
  EXPECT_THAT(ReadFile("/proc/self/maps"), HasSubstr(want));
  // Split by mprotect: the second page's line starts one page further in.
  ASSERT_THAT(mprotect(static_cast<char*>(p) + kPageSize, kPageSize, PROT_NONE), SyscallSucceeds());
  snprintf(want, sizeof(want), "%08lx-%08lx ---p %08lx %02x:%02x %lu ",
           reinterpret_cast<unsigned long>(p) + kPageSize,
           reinterpret_cast<unsigned long>(p) + 2 * kPageSize,
           static_cast<unsigned long>(3 * kPageSize), major(st.st_dev), minor(st.st_dev),
           static_cast<unsigned long>(st.st_ino));
  EXPECT_THAT(ReadFile("/proc/self/maps"), HasSubstr(want));
  ASSERT_THAT(munmap(p, 2 * kPageSize), SyscallSucceeds());
  close(fd);
}

TEST(ProcSelfTest, CmdlineStartsWithArgv0) {
  const std::string cmdline = ReadFile("/proc/self/cmdline");
  ASSERT_FALSE(cmdline.empty());
  EXPECT_EQ(cmdline.back(), '\0');
  EXPECT_EQ(std::string(cmdline.c_str()), std::string(program_invocation_name));
}

TEST(ProcSelfTest, EnvironIsTheInitialEnvironment) {
  // The test changes no variable: what exec put on the stack is environ.
  std::vector<std::string> shown = Split(ReadFile("/proc/self/environ"), '\0');
  std::vector<std::string> want;
  for (char** e = environ; *e != nullptr; ++e) want.push_back(*e);
  EXPECT_EQ(shown, want);
}

TEST(ProcSelfTest, LimitsFollowSetrlimit) {
  struct rlimit old;
  ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &old), SyscallSucceeds());
  Cleanup restore([&] { setrlimit(RLIMIT_NOFILE, &old); });
  struct rlimit lower = old;
  lower.rlim_cur = std::min<rlim_t>(old.rlim_cur, 100) - 1;
  ASSERT_THAT(setrlimit(RLIMIT_NOFILE, &lower), SyscallSucceeds());
  const std::string limits = ReadFile("/proc/self/limits");
  auto line_of = [&](const std::string& name) {
    const size_t at = limits.find(name);
    if (at == std::string::npos) return std::vector<std::string>();
    return Words(limits.substr(at + name.size(), limits.find('\n', at) - at - name.size()));
  };
  auto value = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  std::vector<std::string> files = line_of("Max open files");
  ASSERT_GE(files.size(), 2u);
  EXPECT_EQ(files[0], value(lower.rlim_cur));
  EXPECT_EQ(files[1], value(lower.rlim_max));
  struct rlimit fsize;
  ASSERT_THAT(getrlimit(RLIMIT_FSIZE, &fsize), SyscallSucceeds());
  std::vector<std::string> fs = line_of("Max file size");
  ASSERT_GE(fs.size(), 2u);
  EXPECT_EQ(fs[0], value(fsize.rlim_cur));
  EXPECT_EQ(fs[1], value(fsize.rlim_max));
}

TEST(ProcSelfTest, CommFollowsPrSetName) {
  const std::string old = Comm();
  Cleanup restore([&] { prctl(PR_SET_NAME, old.c_str()); });
  ASSERT_THAT(prctl(PR_SET_NAME, "proc-test-name"), SyscallSucceeds());
  EXPECT_EQ(ReadFile("/proc/self/comm"), "proc-test-name\n");
  // Writing it renames the task, as prctl sees.
  FileDescriptor fd(open("/proc/self/comm", O_WRONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(write(fd.get(), "renamed", 7), SyscallSucceedsWithValue(7));
  EXPECT_EQ(Comm(), "renamed");
}

TEST(ProcSelfTest, FdAndFdinfoDescribeAnOpenFile) {
  char path[] = "/tmp/proc_test_XXXXXX";
  FileDescriptor fd(mkstemp(path));
  ASSERT_GE(fd.get(), 0);
  Cleanup rm([&] { unlink(path); });
  ASSERT_THAT(write(fd.get(), "hello", 5), SyscallSucceedsWithValue(5));
  const std::string n = std::to_string(fd.get());
  EXPECT_EQ(Readlink("/proc/self/fd/" + n), path);
  EXPECT_EQ(DirEntries("/proc/self/fd").count(n), 1u);
  std::map<std::string, std::string> info = StatusFields(ReadFile("/proc/self/fdinfo/" + n));
  EXPECT_EQ(info["pos"], std::to_string(lseek(fd.get(), 0, SEEK_CUR)));
  const int flags = fcntl(fd.get(), F_GETFL);
  EXPECT_EQ(strtol(info["flags"].c_str(), nullptr, 8) & O_ACCMODE, flags & O_ACCMODE);
  struct stat st;
  ASSERT_THAT(fstat(fd.get(), &st), SyscallSucceeds());
  EXPECT_EQ(info["ino"], std::to_string(st.st_ino));
  // The link reaches the same file.
  struct stat via;
  ASSERT_THAT(stat(("/proc/self/fd/" + n).c_str(), &via), SyscallSucceeds());
  EXPECT_EQ(via.st_ino, st.st_ino);
  EXPECT_EQ(via.st_dev, st.st_dev);
  // Closed: gone.
  fd.reset();
  EXPECT_THAT(readlink(("/proc/self/fd/" + n).c_str(), path, 1), SyscallFailsWithErrno(ENOENT));
}

TEST(ProcSelfTest, ExeCwdAndRoot) {
  // exe: the executable that runs (argv[0] here is a path to it).
  const std::string exe = Readlink("/proc/self/exe");
  ASSERT_FALSE(exe.empty());
  char* real = realpath(program_invocation_name, nullptr);
  ASSERT_NE(real, nullptr);
  EXPECT_EQ(exe, real);
  free(real);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(Readlink("/proc/self/cwd"), cwd);
  ASSERT_THAT(chdir("/proc"), SyscallSucceeds());
  EXPECT_EQ(Readlink("/proc/self/cwd"), "/proc");
  ASSERT_THAT(chdir(cwd), SyscallSucceeds());
  EXPECT_EQ(Readlink("/proc/self/root"), "/");
}

TEST(ProcSelfTest, MountsShowProcAsStatfsDoes) {
  struct statfs sfs;
  ASSERT_THAT(statfs("/proc", &sfs), SyscallSucceeds());
  EXPECT_EQ(sfs.f_type, 0x9fa0);  // PROC_SUPER_MAGIC: what the line below names
  bool found = false;
  std::istringstream in(ReadFile("/proc/self/mounts"));
  std::string line;
  while (std::getline(in, line)) {
    const std::vector<std::string> w = Words(line);
    ASSERT_EQ(w.size(), 6u) << line;
    struct stat st;
    EXPECT_THAT(stat(w[1].c_str(), &st), SyscallSucceeds()) << w[1];
    if (w[1] == "/proc" && w[2] == "proc") found = true;
  }
  EXPECT_TRUE(found);
  // mountinfo: the device of each mount point's root is what stat says.
  struct stat proc_st;
  ASSERT_THAT(stat("/proc", &proc_st), SyscallSucceeds());
  found = false;
  std::istringstream info(ReadFile("/proc/self/mountinfo"));
  std::set<std::string> ids;
  while (std::getline(info, line)) {
    const std::vector<std::string> w = Words(line);
    ASSERT_GE(w.size(), 10u) << line;
    EXPECT_TRUE(ids.insert(w[0]).second) << "mount id twice: " << line;
    if (w[4] == "/proc") {
      unsigned maj = 0, min = 0;
      ASSERT_EQ(sscanf(w[2].c_str(), "%u:%u", &maj, &min), 2);
      EXPECT_EQ(makedev(maj, min), proc_st.st_dev);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(Readlink("/proc/mounts"), "self/mounts");
}

// --- Threads. ---

struct ThreadSeen {
  pid_t tid = 0;
  std::string thread_self;
  std::string stat, status, comm;
  std::atomic<bool> looked{false};
  std::atomic<bool> done{false};
};

void* LookAtMyself(void* arg) {
  auto* seen = static_cast<ThreadSeen*>(arg);
  seen->tid = Gettid();
  prctl(PR_SET_NAME, "proc-thread");
  seen->thread_self = Readlink("/proc/thread-self");
  seen->stat = ReadFile("/proc/thread-self/stat");
  seen->status = ReadFile("/proc/thread-self/status");
  seen->comm = ReadFile("/proc/thread-self/comm");
  seen->looked = true;
  while (!seen->done) usleep(1000);
  return nullptr;
}

TEST(ProcThreadTest, TaskDirectoryShowsEachThread) {
  ThreadSeen seen;
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, nullptr, LookAtMyself, &seen), 0);
  Cleanup join([&] {
    seen.done = true;
    pthread_join(th, nullptr);
  });
  while (!seen.looked) usleep(1000);
  const std::string pid = std::to_string(getpid());
  const std::string tid = std::to_string(seen.tid);
  EXPECT_EQ(seen.thread_self, pid + "/task/" + tid);
  const std::vector<std::string> f = StatFields(seen.stat);
  ASSERT_GE(f.size(), 20u);
  EXPECT_EQ(f[0], tid);
  EXPECT_EQ(f[1], "proc-thread");
  EXPECT_EQ(f[19], "2");  // num_threads: the threads listed below
  std::map<std::string, std::string> s = StatusFields(seen.status);
  EXPECT_EQ(s["Pid"], tid);
  EXPECT_EQ(s["Tgid"], pid);
  EXPECT_EQ(s["Name"], "proc-thread");
  EXPECT_EQ(seen.comm, "proc-thread\n");

  const std::set<std::string> tasks = DirEntries("/proc/self/task");
  EXPECT_EQ(tasks, (std::set<std::string>{std::to_string(Gettid()), tid}));
  // From the main thread: the thread's own files, and the process's name
  // (the main thread's) unchanged.
  EXPECT_EQ(ReadFile("/proc/self/task/" + tid + "/comm"), "proc-thread\n");
  EXPECT_EQ(ReadFile("/proc/self/comm"), Comm() + "\n");
  EXPECT_EQ(StatFields(ReadFile("/proc/self/task/" + tid + "/stat"))[0], tid);
  EXPECT_EQ(StatusFields(ReadFile("/proc/self/status"))["Threads"], "2");
  // A thread's directory is reachable by its tid, though not listed.
  EXPECT_EQ(StatusFields(ReadFile("/proc/" + tid + "/status"))["Pid"], tid);
  EXPECT_EQ(DirEntries("/proc").count(tid), 0u);
  EXPECT_EQ(DirEntries("/proc").count(pid), 1u);
  // The per-thread directory has no task/ of its own.
  struct stat st;
  EXPECT_THAT(stat(("/proc/self/task/" + tid + "/task").c_str(), &st),
              SyscallFailsWithErrno(ENOENT));
}

TEST(ProcThreadTest, AThreadThatExitedIsGone) {
  pid_t tid = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                +[](void* arg) -> void* {
                  *static_cast<pid_t*>(arg) = Gettid();
                  return nullptr;
                },
                &tid),
            0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  // glibc's join returns at the kernel's clear_child_tid wake, which Linux does
  // in exit_mm, before release_task unhashes the thread: it may still be listed
  // for a moment (on Linux too), and then is gone for good.
  for (int i = 0; i < 500 && DirEntries("/proc/self/task").count(std::to_string(tid)) != 0; i++) {
    usleep(10 * 1000);
  }
  EXPECT_EQ(DirEntries("/proc/self/task").count(std::to_string(tid)), 0u);
  struct stat st;
  EXPECT_THAT(stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st),
              SyscallFailsWithErrno(ENOENT));
}

// --- A zombie child. ---

TEST(ProcZombieTest, AZombieShowsItsStateAndNoMemory) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(3);
  // Wait without reaping: the child stays a zombie.
  siginfo_t si{};
  ASSERT_THAT(waitid(P_PID, static_cast<id_t>(child), &si, WEXITED | WNOWAIT), SyscallSucceeds());
  Cleanup reap([child] { waitpid(child, nullptr, 0); });
  const std::string dir = "/proc/" + std::to_string(child);
  EXPECT_EQ(DirEntries("/proc").count(std::to_string(child)), 1u);
  const std::vector<std::string> f = StatFields(ReadFile(dir + "/stat"));
  ASSERT_GE(f.size(), 24u);
  EXPECT_EQ(f[0], std::to_string(child));
  EXPECT_EQ(f[1], Comm());  // fork copies the name
  EXPECT_EQ(f[2], "Z");
  EXPECT_EQ(f[3], std::to_string(getpid()));
  EXPECT_EQ(f[22], "0");  // vsize: no memory any more
  EXPECT_EQ(f[23], "0");
  std::map<std::string, std::string> s = StatusFields(ReadFile(dir + "/status"));
  EXPECT_EQ(s["State"], "Z (zombie)");
  EXPECT_EQ(s["Pid"], std::to_string(child));
  EXPECT_EQ(s["PPid"], std::to_string(getpid()));
  EXPECT_EQ(s.count("VmSize"), 0u);
  EXPECT_EQ(s.count("Umask"), 0u);
  EXPECT_EQ(ReadFile(dir + "/cmdline"), "");
  EXPECT_EQ(ReadFile(dir + "/maps"), "");
  EXPECT_EQ(ReadFile(dir + "/environ"), "");
  EXPECT_EQ(ReadFile(dir + "/statm"), "0 0 0 0 0 0 0\n");
  EXPECT_EQ(ReadFile(dir + "/comm"), Comm() + "\n");
  char buf[64];
  EXPECT_THAT(readlink((dir + "/exe").c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(readlink((dir + "/cwd").c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(readlink((dir + "/root").c_str(), buf, sizeof(buf)), SyscallFailsWithErrno(ENOENT));
  EXPECT_EQ(DirEntries(dir + "/fd").size(), 0u);
  EXPECT_EQ(DirEntries(dir + "/task"), (std::set<std::string>{std::to_string(child)}));
  // Reaped: gone.
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
  struct stat st;
  EXPECT_THAT(stat(dir.c_str(), &st), SyscallFailsWithErrno(ENOENT));
}

TEST(ProcZombieTest, ALiveChildIsSleepingThenGone) {
  int pipefd[2];
  ASSERT_THAT(pipe2(pipefd, O_CLOEXEC), SyscallSucceeds());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    close(pipefd[1]);
    (void)!read(pipefd[0], &c, 1);  // blocks until the parent closes
    _exit(0);
  }
  close(pipefd[0]);
  const std::string dir = "/proc/" + std::to_string(child);
  // Blocked in read: sleeping, once it got there.
  std::string state;
  for (int i = 0; i < 1000 && state != "S"; ++i) {
    const std::vector<std::string> f = StatFields(ReadFile(dir + "/stat"));
    state = f.size() > 2 ? f[2] : "";
    if (state != "S") usleep(1000);
  }
  EXPECT_EQ(state, "S");
  close(pipefd[1]);
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
  struct stat st;
  EXPECT_THAT(stat(dir.c_str(), &st), SyscallFailsWithErrno(ENOENT));
}

// --- The system-wide files. ---

TEST(ProcGlobalTest, CpuinfoHasAProcessorPerOnlineCpu) {
  const std::string info = ReadFile("/proc/cpuinfo");
  int n = 0;
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("processor\t", 0) == 0) ++n;
  }
  EXPECT_EQ(n, sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(ProcGlobalTest, MeminfoAgreesWithSysinfo) {
  struct sysinfo si;
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  std::map<std::string, std::string> m = StatusFields(ReadFile("/proc/meminfo"));
  const uint64_t total = strtoull(m["MemTotal"].c_str(), nullptr, 10);
  EXPECT_EQ(total, uint64_t{si.totalram} * si.mem_unit / 1024);
  EXPECT_LE(strtoull(m["MemFree"].c_str(), nullptr, 10), total);
  EXPECT_EQ(strtoull(m["SwapTotal"].c_str(), nullptr, 10),
            uint64_t{si.totalswap} * si.mem_unit / 1024);
}

TEST(ProcGlobalTest, StatHasCpuLinesAndBootTime) {
  const std::string stat = ReadFile("/proc/stat");
  std::istringstream in(stat);
  std::string line;
  int cpus = 0;
  long btime = -1;
  long processes = -1;
  while (std::getline(in, line)) {
    const std::vector<std::string> w = Words(line);
    if (w.empty()) continue;
    if (w[0].rfind("cpu", 0) == 0 && w[0] != "cpu") ++cpus;
    if (w[0] == "btime") btime = atol(w[1].c_str());
    if (w[0] == "processes") processes = atol(w[1].c_str());
  }
  EXPECT_EQ(cpus, sysconf(_SC_NPROCESSORS_ONLN));
  // btime = now - uptime, to the second.
  timespec real, boot;
  ASSERT_THAT(clock_gettime(CLOCK_REALTIME, &real), SyscallSucceeds());
  ASSERT_THAT(clock_gettime(CLOCK_BOOTTIME, &boot), SyscallSucceeds());
  EXPECT_NEAR(btime, real.tv_sec - boot.tv_sec, 2);
  EXPECT_GE(processes, 1);
}

TEST(ProcGlobalTest, UptimeIsTheBootClock) {
  timespec before, after;
  ASSERT_THAT(clock_gettime(CLOCK_BOOTTIME, &before), SyscallSucceeds());
  const std::vector<std::string> w = Words(ReadFile("/proc/uptime"));
  ASSERT_THAT(clock_gettime(CLOCK_BOOTTIME, &after), SyscallSucceeds());
  ASSERT_EQ(w.size(), 2u);
  const double up = atof(w[0].c_str());
  EXPECT_GE(up, static_cast<double>(before.tv_sec) - 0.01);
  EXPECT_LE(up, static_cast<double>(after.tv_sec) + 1);
  EXPECT_GE(atof(w[1].c_str()), 0);
}

TEST(ProcGlobalTest, LoadavgCountsAndLastPid) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
  const std::vector<std::string> w = Words(ReadFile("/proc/loadavg"));
  ASSERT_EQ(w.size(), 5u);
  const std::vector<std::string> rt = Split(w[3], '/');
  ASSERT_EQ(rt.size(), 2u);
  EXPECT_GE(atoi(rt[0].c_str()), 1);  // this process runs
  EXPECT_GE(atoi(rt[1].c_str()), atoi(rt[0].c_str()));
  EXPECT_GE(atoi(w[4].c_str()), child);  // the last pid given out
}

TEST(ProcGlobalTest, VersionNamesTheUnameRelease) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  const std::string v = ReadFile("/proc/version");
  EXPECT_THAT(v, StartsWith(std::string("Linux version ") + u.release + " ("));
  EXPECT_THAT(v, HasSubstr(u.version));
}

TEST(ProcGlobalTest, FilesystemsListProcAndTmpfs) {
  std::set<std::string> nodev, all;
  std::istringstream in(ReadFile("/proc/filesystems"));
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string flag = line.substr(0, tab), name = line.substr(tab + 1);
    EXPECT_TRUE(flag.empty() || flag == "nodev") << line;
    all.insert(name);
    if (flag == "nodev") nodev.insert(name);
  }
  // What statfs says /proc is must be listed, as nodev.
  EXPECT_EQ(nodev.count("proc"), 1u);
  EXPECT_EQ(nodev.count("tmpfs"), 1u);
}

TEST(ProcSysTest, KernelSysctlsMatchUname) {
  struct utsname u;
  ASSERT_THAT(uname(&u), SyscallSucceeds());
  EXPECT_EQ(ReadFile("/proc/sys/kernel/hostname"), std::string(u.nodename) + "\n");
  EXPECT_EQ(ReadFile("/proc/sys/kernel/ostype"), std::string(u.sysname) + "\n");
  EXPECT_EQ(ReadFile("/proc/sys/kernel/osrelease"), std::string(u.release) + "\n");
}

TEST(ProcSysTest, PidMaxBoundsThePids) {
  const long pid_max = atol(ReadFile("/proc/sys/kernel/pid_max").c_str());
  EXPECT_GT(pid_max, getpid());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_THAT(waitpid(child, nullptr, 0), SyscallSucceedsWithValue(child));
  EXPECT_GT(pid_max, child);
}

}  // namespace
}  // namespace syscalls_test
