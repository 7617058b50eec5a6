// execve(2) and execveat(2): images, "#!" scripts, the argument limits, what
// survives an exec (pid, fds without FD_CLOEXEC, ignored signals) and what
// does not (close-on-exec fds, handlers). The programs run are busybox
// applets (busybox-static is a build dependency); each runs in a forked
// child and answers with its exit status.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr char kBusybox[] = "/bin/busybox";

// Runs `fn` in a child and returns its raw wait status. The child's stdout
// goes to /dev/null (the runner reads ours).
template <typename Fn>
int InChild(Fn fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    fn();
    _exit(126);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// execve with a vector argv and an empty environment.
int Exec(const char* path, std::vector<const char*> argv) {
  argv.push_back(nullptr);
  const char* envp[] = {"PATH=/bin:/usr/bin", nullptr};
  return execve(path, const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp));
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kBusybox, X_OK) != 0) GTEST_SKIP() << "no " << kBusybox;
  }
  // A file in /tmp with `content` and `mode`, removed at the end.
  std::string TempFile(const std::string& content, mode_t mode) {
    char path[] = "/tmp/exec_test_XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    fchmod(fd, mode);
    close(fd);
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& p : paths_) unlink(p.c_str());
  }
  std::vector<std::string> paths_;
};

TEST_F(ExecTest, RunsAProgramWithItsArguments) {
  const int status = InChild([] { Exec(kBusybox, {"sh", "-c", "exit $#", "sh", "a", "b", "c"}); });
  EXPECT_EQ(ExitCode(status), 3) << status;
}

TEST_F(ExecTest, PidAndParentStayTheSame) {
  const std::string pid = std::to_string(getpid());
  const int status = InChild([&] {
    const std::string self = std::to_string(getpid());
    Exec(kBusybox,
         {"sh", "-c", "test $$ = \"$1\" && test $PPID = \"$2\"", "sh", self.c_str(), pid.c_str()});
  });
  EXPECT_EQ(ExitCode(status), 0) << status;
}

TEST_F(ExecTest, Errors) {
  EXPECT_THAT(Exec("/nonexistent/program", {"x"}), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(Exec("/", {"x"}), SyscallFailsWithErrno(EACCES));
  const std::string plain = TempFile("not a program\n", 0644);
  EXPECT_THAT(Exec(plain.c_str(), {"x"}), SyscallFailsWithErrno(EACCES));
  const std::string garbage = TempFile(std::string(200, 'z'), 0755);
  EXPECT_THAT(Exec(garbage.c_str(), {"x"}), SyscallFailsWithErrno(ENOEXEC));
  EXPECT_THAT(syscall(SYS_execve, reinterpret_cast<char*>(8), nullptr, nullptr),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_execve, kBusybox, reinterpret_cast<char**>(8), nullptr),
              SyscallFailsWithErrno(EFAULT));
  const char* bad_argv[] = {"sh", reinterpret_cast<const char*>(8), nullptr};
  EXPECT_THAT(syscall(SYS_execve, kBusybox, bad_argv, nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST_F(ExecTest, ArgumentsLongerThanMaxArgStrlenAreE2big) {
  const std::string big(32 * 4096 + 1, 'x');  // MAX_ARG_STRLEN is 32 pages
  EXPECT_THAT(Exec(kBusybox, {"true", big.c_str()}), SyscallFailsWithErrno(E2BIG));
  // Too many in total (a quarter of the 8 MiB stack limit).
  const std::string piece(100000, 'y');
  std::vector<const char*> many = {"true"};
  for (int i = 0; i < 30; ++i) many.push_back(piece.c_str());
  EXPECT_THAT(Exec(kBusybox, many), SyscallFailsWithErrno(E2BIG));
}

TEST_F(ExecTest, ScriptsRunTheirInterpreter) {
  const std::string script = TempFile("#!/bin/busybox sh\nexit $#\n", 0755);
  const int status = InChild([&] { Exec(script.c_str(), {script.c_str(), "one", "two"}); });
  EXPECT_EQ(ExitCode(status), 2) << status;
}

TEST_F(ExecTest, ScriptInterpreterArgumentComesFirst) {
  // "#!/bin/busybox sh" runs busybox with "sh" then the script's path.
  const std::string script = TempFile("#!/bin/busybox sh\ntest \"$0\" = \"$1\" && exit 9\n", 0755);
  const int status = InChild([&] { Exec(script.c_str(), {"ignored", script.c_str()}); });
  EXPECT_EQ(ExitCode(status), 9) << status;
}

// The task's name (comm) comes from the name exec was given, not from the
// interpreter that runs it (begin_new_exec uses bprm->filename).
TEST_F(ExecTest, ScriptTakesItsOwnNameAsTheTaskName) {
  const std::string script = TempFile(
      "#!/bin/busybox sh\nread -r comm </proc/self/comm; test \"$comm\" = \"$1\" && exit 5\n",
      0755);
  const std::string base = script.substr(script.rfind('/') + 1).substr(0, 15);
  // /proc/self in the shell is the shell itself, not a child: `read` is a builtin.
  const int status = InChild([&] { Exec(script.c_str(), {script.c_str(), base.c_str()}); });
  EXPECT_EQ(ExitCode(status), 5) << status;
}

TEST_F(ExecTest, ScriptWithAMissingInterpreterIsEnoent) {
  const std::string script = TempFile("#!/nonexistent/interp\n", 0755);
  EXPECT_THAT(Exec(script.c_str(), {"x"}), SyscallFailsWithErrno(ENOENT));
}

TEST_F(ExecTest, CloexecFdsAreClosedOthersStay) {
  const int keep = open("/dev/null", O_RDONLY);
  const int drop = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(keep, 0);
  ASSERT_GE(drop, 0);
  const std::string check = "test -e /proc/self/fd/" + std::to_string(keep) +
                            " && ! test -e /proc/self/fd/" + std::to_string(drop);
  const int status = InChild([&] { Exec(kBusybox, {"sh", "-c", check.c_str()}); });
  EXPECT_EQ(ExitCode(status), 0) << status;
  close(keep);
  close(drop);
}

TEST_F(ExecTest, HandlersResetIgnoredStayIgnored) {
  const int status = InChild([] {
    struct sigaction sa = {};
    sa.sa_handler = +[](int) {};
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &sa, nullptr);
    // SIGUSR2 stays ignored; SIGUSR1's handler is gone, so it kills.
    Exec(kBusybox, {"sh", "-c", "kill -USR2 $$; kill -USR1 $$; exit 0"});
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1) << status;
}

TEST_F(ExecTest, SignalMaskSurvives) {
  const int status = InChild([] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, nullptr);
    // Blocked, the signal does not kill the shell.
    Exec(kBusybox, {"sh", "-c", "kill -USR1 $$; exit 5"});
  });
  EXPECT_EQ(ExitCode(status), 5) << status;
}

TEST_F(ExecTest, ProcSelfExeIsTheNewImage) {
  const int status = InChild([] {
    // The file's real path: symlinks (a merged /usr's /bin) resolved.
    Exec(kBusybox,
         {"sh", "-c", "test \"$(readlink /proc/self/exe)\" = \"$(readlink -f /bin/busybox)\""});
  });
  EXPECT_EQ(ExitCode(status), 0) << status;
}

// What the exec'd image of OldImageMemoryIsGone runs (this binary again, with
// EXEC_TEST_PROBE set), before main: reading where the old image had memory
// must fault.
constexpr uint64_t kOldImageAddr = 0x200000000;
sigjmp_buf probe_jmp;
[[noreturn]] void ProbeOldImageAddress() {
  struct sigaction sa = {};
  sa.sa_handler = [](int) { siglongjmp(probe_jmp, 1); };
  sigaction(SIGSEGV, &sa, nullptr);
  for (uint64_t off = 0; off < 16 * 4096; off += 4096) {
    if (sigsetjmp(probe_jmp, 1) == 0) {
      const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(kOldImageAddr + off);
      (void)*p;
      _exit(40);  // readable: the old image's page is still there
    }
  }
  _exit(0);
}
const bool probe_mode = [] {
  if (getenv("EXEC_TEST_PROBE") != nullptr) ProbeOldImageAddress();
  return false;
}();

// Nothing of the old image stays reachable from the new one, whether or not
// another process still runs in the old memory (here a vfork parent, which
// goes on using it after the exec).
TEST_F(ExecTest, OldImageMemoryIsGone) {
  for (const bool use_vfork : {false, true}) {
    const int status = InChild([use_vfork] {
      void* p = mmap(reinterpret_cast<void*>(kOldImageAddr), 16 * 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (p == MAP_FAILED) _exit(41);
      memset(p, 0x5a, 16 * 4096);
      const char* argv[] = {"exec_test", nullptr};
      const char* envp[] = {"EXEC_TEST_PROBE=1", nullptr};
      const pid_t pid = use_vfork ? vfork() : 0;
      if (pid == 0) {
        execve("/proc/self/exe", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
        _exit(43);
      }
      // The vfork parent: its memory (shared until the exec) is still all there.
      for (size_t i = 0; i < 16 * 4096; i += 512) {
        if (static_cast<volatile uint8_t*>(p)[i] != 0x5a) _exit(44);
      }
      int child_status = -1;
      if (waitpid(pid, &child_status, 0) != pid) _exit(45);
      _exit(WIFEXITED(child_status) ? WEXITSTATUS(child_status) : 46);
    });
    EXPECT_EQ(ExitCode(status), 0) << "vfork " << use_vfork << " status " << status;
  }
}

TEST_F(ExecTest, AThreadExecsForTheWholeProcess) {
  // The other threads go, and the exec'ing thread takes over the process's
  // pid (de_thread).
  const int status = InChild([] {
    const std::string pid = std::to_string(getpid());
    std::thread t([&pid] {
      Exec(kBusybox, {"sh", "-c", "test $$ = \"$1\" && exit 17", "sh", pid.c_str()});
    });
    t.join();  // never: the exec ends this thread too
  });
  EXPECT_EQ(ExitCode(status), 17) << status;
}

TEST_F(ExecTest, ExecveatEmptyPathRunsTheFd) {
  const int fd = open(kBusybox, O_RDONLY);
  ASSERT_GE(fd, 0);
  const int status = InChild([&] {
    const char* argv[] = {"sh", "-c", "exit 4", nullptr};
    const char* envp[] = {nullptr};
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  });
  EXPECT_EQ(ExitCode(status), 4) << status;
  close(fd);
}

TEST_F(ExecTest, ExecveatErrors) {
  const char* argv[] = {"true", nullptr};
  const char* envp[] = {nullptr};
  EXPECT_THAT(syscall(SYS_execveat, AT_FDCWD, kBusybox, argv, envp, 0x4000000),
              SyscallFailsWithErrno(EINVAL));
  // AT_SYMLINK_NOFOLLOW on a symlink.
  char link[] = "/tmp/exec_test_link_XXXXXX";
  ASSERT_NE(mktemp(link), nullptr);
  ASSERT_THAT(symlink(kBusybox, link), SyscallSucceeds());
  Cleanup remove([&] { unlink(link); });
  EXPECT_THAT(syscall(SYS_execveat, AT_FDCWD, link, argv, envp, AT_SYMLINK_NOFOLLOW),
              SyscallFailsWithErrno(ELOOP));
  EXPECT_THAT(syscall(SYS_execveat, 999, "relative", argv, envp, 0), SyscallFailsWithErrno(EBADF));
}

}  // namespace
}  // namespace syscalls_test
