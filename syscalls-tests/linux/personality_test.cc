// personality(2): setting and querying, unsigned{UNAME26}, unsigned{READ_IMPLIES_EXEC},
// unsigned{ADDR_NO_RANDOMIZE}, inheritance across fork and exec, /proc/pid/personality.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr unsigned kQuery = 0xffffffff;

unsigned Personality(unsigned p) { return static_cast<unsigned>(syscall(SYS_personality, p)); }

// Restores the test process's personality at scope exit.
Cleanup KeepPersonality() {
  unsigned old = Personality(kQuery);
  return Cleanup([old] { Personality(old); });
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// What override_release makes of a release string.
std::string Uname26(const std::string& rel) {
  size_t i = 0;
  int dots = 0;
  while (i < rel.size()) {
    if (rel[i] == '.' && ++dots >= 3) break;
    if (!isdigit(static_cast<unsigned char>(rel[i])) && rel[i] != '.') break;
    ++i;
  }
  unsigned patch = static_cast<unsigned>(atoi(rel.c_str() + rel.find('.') + 1));
  return "2.6." + std::to_string(60 + patch) + rel.substr(i);
}

TEST(PersonalityTest, DefaultIsLinux) {
  EXPECT_EQ(static_cast<unsigned>(Personality(kQuery)) & unsigned{PER_MASK}, unsigned{PER_LINUX});
}

TEST(PersonalityTest, QueryDoesNotChange) {
  Cleanup keep = KeepPersonality();
  const unsigned old = Personality(kQuery);
  EXPECT_EQ(Personality(kQuery), old);
  EXPECT_EQ(Personality(kQuery), old);
}

TEST(PersonalityTest, SetReturnsThePrevious) {
  Cleanup keep = KeepPersonality();
  const unsigned old = Personality(kQuery);
  EXPECT_EQ(Personality(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE}), old);
  EXPECT_EQ(Personality(kQuery), unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE});
  EXPECT_EQ(Personality(unsigned{PER_LINUX}), unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE});
  EXPECT_EQ(Personality(kQuery), unsigned{PER_LINUX});
}

TEST(PersonalityTest, GlibcWrapper) {
  Cleanup keep = KeepPersonality();
  ASSERT_THAT(personality(unsigned{PER_LINUX} | unsigned{UNAME26}), SyscallSucceeds());
  EXPECT_EQ(static_cast<unsigned>(personality(kQuery)), unsigned{PER_LINUX} | unsigned{UNAME26});
}

TEST(PersonalityTest, Uname26) {
  Cleanup keep = KeepPersonality();
  utsname plain, old26;
  ASSERT_THAT(uname(&plain), SyscallSucceeds());
  Personality(unsigned{PER_LINUX} | unsigned{UNAME26});
  ASSERT_THAT(uname(&old26), SyscallSucceeds());
  Personality(unsigned{PER_LINUX});
  EXPECT_EQ(std::string(old26.release), Uname26(plain.release));
  EXPECT_EQ(std::string(old26.release).substr(0, 4), "2.6.");
  EXPECT_STREQ(old26.sysname, plain.sysname);
  EXPECT_STREQ(old26.version, plain.version);
  utsname again;
  ASSERT_THAT(uname(&again), SyscallSucceeds());
  EXPECT_STREQ(again.release, plain.release);
}

TEST(PersonalityTest, ProcShowsIt) {
  Cleanup keep = KeepPersonality();
  Personality(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{UNAME26});
  char want[16];
  snprintf(want, sizeof(want), "%08x\n",
           unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{UNAME26});
  EXPECT_EQ(ReadFile("/proc/self/personality"), want);
  EXPECT_EQ(ReadFile("/proc/" + std::to_string(getpid()) + "/personality"), want);
}

TEST(PersonalityTest, ProcFileIsOwnerOnly) {
  struct stat st;
  ASSERT_THAT(stat("/proc/self/personality", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_mode & 0777, 0400u);
}

TEST(PersonalityTest, InheritedByFork) {
  Cleanup keep = KeepPersonality();
  Personality(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{READ_IMPLIES_EXEC});
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(Personality(kQuery) ==
                (unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{READ_IMPLIES_EXEC}));
  }));
}

TEST(PersonalityTest, ReadImpliesExecForNewMappings) {
  Cleanup keep = KeepPersonality();
  Personality(unsigned{PER_LINUX} | unsigned{READ_IMPLIES_EXEC});
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  Personality(unsigned{PER_LINUX});
  ASSERT_NE(p, MAP_FAILED);
  void* q = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(q, MAP_FAILED);
  // /proc/self/maps: r-x for the first, r-- for the second.
  std::string maps = ReadFile("/proc/self/maps");
  char a[32], b[32];
  snprintf(a, sizeof(a), "%lx-", reinterpret_cast<unsigned long>(p));
  snprintf(b, sizeof(b), "%lx-", reinterpret_cast<unsigned long>(q));
  auto perms = [&](const char* start) -> std::string {
    size_t pos = maps.find(start);
    if (pos == std::string::npos) return "";
    pos = maps.find(' ', pos);
    return maps.substr(pos + 1, 4);
  };
  EXPECT_EQ(perms(a), "r-xp");
  EXPECT_EQ(perms(b), "r--p");
  munmap(p, 4096);
  munmap(q, 4096);
}

TEST(PersonalityTest, NoReadImpliesExecWithoutRead) {
  Cleanup keep = KeepPersonality();
  Personality(unsigned{PER_LINUX} | unsigned{READ_IMPLIES_EXEC});
  void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  Personality(unsigned{PER_LINUX});
  ASSERT_NE(p, MAP_FAILED);
  std::string maps = ReadFile("/proc/self/maps");
  char a[32];
  snprintf(a, sizeof(a), "%lx-", reinterpret_cast<unsigned long>(p));
  size_t pos = maps.find(a);
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(maps.substr(maps.find(' ', pos) + 1, 4), "---p");
  munmap(p, 4096);
}

// Runs /proc/self/exe with `arg` in a child whose personality is `pers`;
// the child prints to the pipe what it checks. Returns its output.
std::string ExecChild(unsigned pers, const char* arg) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 3);
    Personality(pers);
    char self[] = "/proc/self/exe";
    char* argv[] = {self, const_cast<char*>(arg), nullptr};
    execv(self, argv);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return out;
}

TEST(PersonalityTest, ExecKeepsAddrNoRandomizeAndClearsReadImpliesExec) {
  std::string out = ExecChild(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} |
                                  unsigned{READ_IMPLIES_EXEC} | unsigned{UNAME26},
                              "--personality-report");
  char want[32];
  snprintf(want, sizeof(want), "%08x",
           unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{UNAME26});
  EXPECT_EQ(out, want);
}

TEST(PersonalityTest, AddrNoRandomizeFixesTheNextLayout) {
  // Two execs with unsigned{ADDR_NO_RANDOMIZE} place the stack alike.
  std::string a = ExecChild(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE}, "--stack-report");
  std::string b = ExecChild(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE}, "--stack-report");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST(PersonalityTest, SetuidExecClearsTheSetidBits) {
  SKIP_IF(geteuid() != 0);
  // A set-user-id copy of this binary, run by an unprivileged user.
  char dir[] = "/tmp/personality_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string copy = std::string(dir) + "/suid";
  Cleanup cleanup([&] {
    unlink(copy.c_str());
    rmdir(dir);
  });
  {
    std::ifstream in("/proc/self/exe", std::ios::binary);
    std::ofstream out(copy, std::ios::binary);
    out << in.rdbuf();
  }
  ASSERT_THAT(chmod(dir, 0755), SyscallSucceeds());
  ASSERT_THAT(chown(copy.c_str(), 1234, 1234), SyscallSucceeds());
  ASSERT_THAT(chmod(copy.c_str(), 04755), SyscallSucceeds());
  int fds[2];
  ASSERT_THAT(pipe(fds), SyscallSucceeds());
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 3);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(126);
    Personality(unsigned{PER_LINUX} | unsigned{ADDR_NO_RANDOMIZE} | unsigned{UNAME26});
    char arg[] = "--personality-report";
    char* argv[] = {copy.data(), arg, nullptr};
    execv(copy.c_str(), argv);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[64];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  // A nosuid /tmp runs it without the set-id: then nothing is cleared.
  SKIP_IF(WIFEXITED(status) && WEXITSTATUS(status) == 2);
  char want[32];
  snprintf(want, sizeof(want), "%08x", unsigned{PER_LINUX} | unsigned{UNAME26});
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace syscalls_test

// Modes the exec tests run this binary in, before gtest's main: report on
// fd 3 and exit. glibc calls .init_array functions with argc and argv.
__attribute__((constructor)) static void ChildModes(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--personality-report") == 0) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%08x",
                     static_cast<unsigned>(syscall(SYS_personality, 0xffffffffu)));
    (void)!write(3, buf, n);
    // Exit 2 when no set-id took effect (a nosuid mount).
    _exit(getuid() != geteuid() || getuid() == 0 ? 0 : 2);
  }
  if (argc == 2 && strcmp(argv[1], "--stack-report") == 0) {
    int local;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%p", static_cast<void*>(&local));
    (void)!write(3, buf, n);
    _exit(0);
  }
}
