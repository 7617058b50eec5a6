// End-to-end tests: each case runs a real static program natively and then under
// `runsc do`, and the two runs must agree on stdout and exit status, byte for
// byte. The native half checks the program itself, so it always runs first and
// must pass on Linux before the sandbox half means anything.
//
// Environment:
//   SANDBOX_RUNSC             runsc to test (default: this build tree's runsc/runsc)
//   SANDBOX_PLATFORM          --platform= for runsc (default: ptrace)
//   SANDBOX_E2E_NATIVE_ONLY=1 run only the native halves (they pass, then skip)
//   SANDBOX_E2E_TIMEOUT_S     per-run timeout in seconds (default: 30)
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/e2e/runsc_under_test.h"
#include "tests/e2e/subprocess.h"

#ifndef E2E_PROGS_DIR
#error "E2E_PROGS_DIR must name the directory of the built test programs"
#endif
#ifndef E2E_SCRIPTS_DIR
#error "E2E_SCRIPTS_DIR must name the directory of the workload scripts"
#endif

namespace e2e {
namespace {

constexpr char kBusybox[] = "/bin/busybox";
// hello's one syscall, as strace(1) prints it (it pads before the "=" to a
// column; we accept any run of spaces there).
constexpr char kHelloWriteCall[] = R"(write(1, "hello, world\n", 13))";
constexpr char kHelloWriteResult[] = "= 13";

std::string Prog(const std::string& name) { return std::string(E2E_PROGS_DIR "/") + name; }

// `path` relative to the current directory ("../progs/x", "progs/x"), with a
// slash in it so that it is not looked up on PATH.
std::string RelativeToCwd(const std::string& path) {
  std::error_code ec;
  std::filesystem::path rel = std::filesystem::relative(path, ec);
  if (ec || rel.empty()) return path;
  std::string r = rel.string();
  return r.find('/') == std::string::npos ? "./" + r : r;
}

bool NativeOnly() {
  const char* v = getenv("SANDBOX_E2E_NATIVE_ONLY");
  return v != nullptr && v[0] != '\0' && std::string(v) != "0";
}

absl::Duration Timeout() {
  const char* v = getenv("SANDBOX_E2E_TIMEOUT_S");
  int s = v != nullptr ? atoi(v) : 0;
  return absl::Seconds(s > 0 ? s : 30);
}

// Both runs get this environment (runsc passes its own on to the guest), so
// programs that print their environment print the same thing.
RunOptions Options(const std::string& stdin_data = "") {
  RunOptions o;
  o.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C",
                                   "SANDBOX_E2E=1"};
  o.stdin_data = stdin_data;
  o.timeout = Timeout();
  return o;
}

// The end of a long stderr is where a failure explains itself.
std::string Tail(const std::string& s, size_t max = 4096) {
  return s.size() <= max ? s : "[...]\n" + s.substr(s.size() - max);
}

// argv as a shell would need it typed, so a failure message can be pasted.
std::string ShellJoin(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (const std::string& a : argv) {
    bool plain = !a.empty() && a.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-_=+./:,@%") == std::string::npos;
    words.push_back(plain ? a : "'" + absl::StrReplaceAll(a, {{"'", "'\\''"}}) + "'");
  }
  return absl::StrJoin(words, " ");
}

std::string Report(const char* who, const std::vector<std::string>& argv, const RunResult& r) {
  return absl::StrFormat("%s run of `%s`: %s\n--- stdout ---\n%s\n--- stderr ---\n%s", who,
                         ShellJoin(argv), r.Describe(), Tail(r.out), Tail(r.err));
}

struct Case {
  Case(std::string name, std::vector<std::string> argv, int status, std::optional<std::string> out,
       std::string stdin_data = "")
      : name(std::move(name)),
        argv(std::move(argv)),
        status(status),
        out(std::move(out)),
        stdin_data(std::move(stdin_data)) {}

  std::string name;
  std::vector<std::string> argv;
  int status = 0;                  // what the native run must exit with
  std::optional<std::string> out;  // what the native run must print, when fixed
  std::string stdin_data;
};

void PrintTo(const Case& c, std::ostream* os) { *os << ShellJoin(c.argv); }

std::vector<Case> Cases() {
  return {
      {"Hello", {Prog("hello")}, 0, "hello, world\n"},
      {"HelloStaticPie", {Prog("hello_pie")}, 0, "hello, world\n"},
      {"ExitCode0", {Prog("exitcode"), "0"}, 0, ""},
      {"ExitCode7", {Prog("exitcode"), "7"}, 7, ""},
      {"ExitCode255", {Prog("exitcode"), "255"}, 255, ""},
      {"ExitCode256Wraps", {Prog("exitcode"), "256"}, 0, ""},
      {"NullDereference", {Prog("fault")}, 139, "before fault\n"},
      {"MprotectReadOnlyWrite", {Prog("mprotect_fault")}, 139, std::nullopt},
      {"BigMmapAndMremap", {Prog("bigmmap")}, 0, std::nullopt},
      {"Brk", {Prog("brk")}, 0, std::nullopt},
      {"ArgvEnvAuxv", {Prog("auxdump"), "one", "two words", "", "-x"}, 0, std::nullopt},
      {"BasicSyscalls", {Prog("basics")}, 0, std::nullopt, "0123456789abcdef"},
      {"FileSyscallsOnTmp", {Prog("files")}, 0, std::nullopt},
      {"DevAndProc", {Prog("devproc"), "one", "two words"}, 0, std::nullopt},
      // By a relative path: /proc/self/exe must still be absolute (static
      // glibc asserts it).
      {"HelloByRelativePath", {RelativeToCwd(Prog("hello"))}, 0, "hello, world\n"},
      {"ProcAndDevSurviveOddUse", {Prog("procfuzz")}, 0, "done\n"},
      // The vDSO: its clocks agree with the syscalls; its data page is
      // read-only; unmapping or moving it hurts nobody but the program.
      {"VdsoClocks", {Prog("vdso"), "time"}, 0, "clocks agree\n"},
      {"VvarWriteFaults", {Prog("vdso"), "write-vvar"}, 139, "writing [vvar]\n"},
      {"VdsoUnmapped", {Prog("vdso"), "unmap"}, 0, "unmapped, the clock still reads\n"},
      {"VdsoMoved", {Prog("vdso"), "mremap"}, 0, "moved, the clock still reads\n"},
      {"BusyboxEcho", {kBusybox, "echo", "hello"}, 0, "hello\n"},
      {"BusyboxTrue", {kBusybox, "true"}, 0, ""},
      {"BusyboxFalse", {kBusybox, "false"}, 1, ""},
      {"BusyboxShArithmetic", {kBusybox, "sh", "-c", "echo $((6*7))"}, 0, "42\n"},
      // Pipelines: pipes between processes, a writer ended by SIGPIPE (yes),
      // command substitution, a FIFO on /tmp.
      {"BusyboxShPipelines",
       {kBusybox, "sh", "-c",
        "echo hello | tr a-z A-Z; seq 1 20000 | wc -l; yes | head -2; echo $(echo sub); "
        "d=$(mktemp -d) && mkfifo $d/f && (echo fifo >$d/f &) && cat $d/f && rm -r $d"},
       0,
       "HELLO\n20000\ny\ny\nsub\nfifo\n"},
      // The host's files, through the gofer (a read-only view of the host's
      // root): a file behind a symlink, a directory listing (ls sorts), a
      // large file, attributes of symlinks and what they point to.
      {"BusyboxCatOsRelease", {kBusybox, "cat", "/etc/os-release"}, 0, std::nullopt},
      {"BusyboxLsUsr", {kBusybox, "ls", "/usr"}, 0, std::nullopt},
      {"BusyboxLsAllOfEtcDefault", {kBusybox, "ls", "-a", "/etc/default"}, 0, std::nullopt},
      // Long format: lstat of every entry, owners from /etc/passwd, times.
      {"BusyboxLsLongOfEtcDefault", {kBusybox, "ls", "-la", "/etc/default"}, 0, std::nullopt},
      {"BusyboxWcOfBusybox", {kBusybox, "wc", "-c", "/bin/busybox"}, 0, std::nullopt},
      {"BusyboxStatHostFiles",
       {kBusybox, "stat", "-c", "%n %s %F %h %i %u %a", "/etc/os-release", "/bin/busybox", "/usr",
        "/"},
       0,
       std::nullopt},
      {"BusyboxStatFollowsSymlinks",
       {kBusybox, "stat", "-L", "-c", "%n %s %F %i", "/etc/os-release"},
       0,
       std::nullopt},
      {"BusyboxCatMissingFile", {kBusybox, "cat", "/nonexistent-e2e-file"}, 1, ""},
      // The guest starts in runsc's working directory (the build tree, which
      // is visible in the sandbox).
      {"BusyboxPwd", {kBusybox, "pwd"}, 0, std::nullopt},
  };
}

// Runs the native half; returns its result after checking it against the case.
RunResult RunNative(const Case& c) {
  RunResult native = RunProcess(c.argv, Options(c.stdin_data));
  std::string report = Report("native", c.argv, native);
  EXPECT_TRUE(native.started) << report;
  EXPECT_FALSE(native.timed_out) << report;
  EXPECT_EQ(native.status, c.status) << report;
  if (c.out.has_value()) {
    EXPECT_EQ(native.out, *c.out) << report;
  }
  EXPECT_FALSE(native.out.empty() && !c.out.has_value()) << report;
  return native;
}

// Fails (never skips) when runsc is missing: a missing runsc is a broken build.
bool RunscUsable() {
  std::string why = RunscUnusableReason(RunscPath());
  if (!why.empty()) {
    ADD_FAILURE() << "cannot run the sandbox half: " << why
                  << "\n(SANDBOX_E2E_NATIVE_ONLY=1 runs only the native half)";
  }
  return why.empty();
}

// True if a line of `log` has `call`, then spaces, then `result` (and nothing
// after it but spaces), e.g. `write(1, "hi\n", 3) = 3`.
bool HasTraceLine(const std::string& log, absl::string_view call, absl::string_view result) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    size_t at = line.find(call);
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = absl::StripAsciiWhitespace(line.substr(at + call.size()));
    if (rest == result) return true;
  }
  return false;
}

class E2eTest : public ::testing::TestWithParam<Case> {};

TEST_P(E2eTest, SandboxMatchesNative) {
  const Case& c = GetParam();
  RunResult native = RunNative(c);
  if (::testing::Test::HasFailure()) return;
  if (NativeOnly()) GTEST_SKIP() << "native half passed; SANDBOX_E2E_NATIVE_ONLY is set";
  if (!RunscUsable()) return;

  std::vector<std::string> argv = RunscDoArgv(c.argv, RunscPlatform());
  RunResult sandboxed = RunProcess(argv, Options(c.stdin_data));
  std::string report =
      Report("sandboxed", argv, sandboxed) + "\n\n" + Report("native", c.argv, native);
  ASSERT_TRUE(sandboxed.started) << report;
  EXPECT_FALSE(sandboxed.timed_out) << report;
  EXPECT_EQ(sandboxed.out, native.out) << report;
  EXPECT_EQ(sandboxed.status, native.status) << report;
}

INSTANTIATE_TEST_SUITE_P(Programs, E2eTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// --strace prints each finished syscall to stderr in strace's format; the one
// write(2) of hello must be there, exactly as strace(1) would print it.
TEST(E2eStraceTest, HelloWriteIsTraced) {
  Case c("Hello", {Prog("hello")}, 0, "hello, world\n");
  RunNative(c);
  if (::testing::Test::HasFailure()) return;
  // Check the expected line against strace(1) itself where we can.
  if (access("/usr/bin/strace", X_OK) == 0) {
    std::vector<std::string> argv = {"/usr/bin/strace", "-e", "trace=write", c.argv[0]};
    RunResult traced = RunProcess(argv, Options());
    if (traced.started && traced.status == 0) {
      EXPECT_TRUE(HasTraceLine(traced.err, kHelloWriteCall, kHelloWriteResult))
          << Report("strace(1)", argv, traced);
    }
  }
  if (NativeOnly()) GTEST_SKIP() << "native half passed; SANDBOX_E2E_NATIVE_ONLY is set";
  if (!RunscUsable()) return;

  std::vector<std::string> argv = RunscDoArgv(c.argv, RunscPlatform(), /*strace=*/true);
  RunResult sandboxed = RunProcess(argv, Options());
  std::string report = Report("sandboxed", argv, sandboxed);
  ASSERT_TRUE(sandboxed.started) << report;
  EXPECT_EQ(sandboxed.status, 0) << report;
  EXPECT_EQ(sandboxed.out, *c.out) << report;
  EXPECT_TRUE(HasTraceLine(sandboxed.err, kHelloWriteCall, kHelloWriteResult))
      << "no line `" << kHelloWriteCall << " " << kHelloWriteResult << "` on stderr\n"
      << report;
}

// Runs `guest` under runsc do with extra runsc flags; fails the test if it does not
// exit with `status`.
RunResult RunSandboxed(const std::vector<std::string>& flags, const std::vector<std::string>& guest,
                       int status) {
  std::vector<std::string> argv = {RunscPath(), "do", "--platform=" + RunscPlatform()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--");
  argv.insert(argv.end(), guest.begin(), guest.end());
  RunResult r = RunProcess(argv, Options());
  EXPECT_EQ(r.status, status) << Report("sandboxed", argv, r);
  return r;
}

// The layout is randomized by default and fixed with --aslr=false, for ET_EXEC
// and static-PIE programs alike.
TEST(E2eLayoutTest, AslrFlag) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  for (const char* prog : {"layout", "layout_pie"}) {
    SCOPED_TRACE(prog);
    RunResult fixed1 = RunSandboxed({"--aslr=false"}, {Prog(prog)}, 0);
    RunResult fixed2 = RunSandboxed({"--aslr=false"}, {Prog(prog)}, 0);
    EXPECT_EQ(fixed1.out, fixed2.out);
    RunResult random1 = RunSandboxed({}, {Prog(prog)}, 0);
    RunResult random2 = RunSandboxed({}, {Prog(prog)}, 0);
    // Stack, break and mmap base each carry at least 22 random bits.
    std::vector<std::string> a = absl::StrSplit(random1.out, '\n');
    std::vector<std::string> b = absl::StrSplit(random2.out, '\n');
    ASSERT_EQ(a.size(), 5u) << random1.out;
    ASSERT_EQ(b.size(), 5u) << random2.out;
    for (int i = 0; i < 3; ++i) EXPECT_NE(a[i], b[i]) << "line " << i;
  }
}

// systrap patches a `mov $nr, %eax; syscall` site unless --systrap-patching=false;
// ptrace and native never do.
TEST(E2ePatchingTest, SystrapPatchingFlag) {
  RunResult native = RunProcess({Prog("patchsite")}, Options());
  EXPECT_EQ(native.out, "original\n");
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  auto run = [](const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {RunscPath(), "do"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--", Prog("patchsite")});
    RunResult r = RunProcess(argv, Options());
    EXPECT_EQ(r.status, 0) << Report("sandboxed", argv, r);
    return r.out;
  };
  EXPECT_EQ(run({"--platform=systrap"}), "patched\n");  // on by default
  EXPECT_EQ(run({"--platform=systrap", "--systrap-patching=true"}), "patched\n");
  EXPECT_EQ(run({"--platform=systrap", "--systrap-patching=false"}), "original\n");
  EXPECT_EQ(run({"--platform=ptrace"}), "original\n");
}

// A file that is not a loadable ELF: exit status 126 and a message naming the
// file and the reason, never a crash of the Sentry.
TEST(E2eExecTest, MalformedExecutablesAreRefusedClearly) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  char dir_template[] = "/tmp/e2e-exec-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  struct Bad {
    const char* name;
    std::string bytes;
  };
  const Bad bad[] = {
      {"empty", ""},
      {"text", "hello\n"},
      {"truncated-elf", std::string("\x7f"
                                    "ELF\x02\x01\x01",
                                    7)},
      {"elf32", std::string("\x7f"
                            "ELF\x01\x01\x01",
                            7) +
                    std::string(64, '\0')},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.name);
    std::string path = dir + "/" + b.name;
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(b.bytes.data(), 1, b.bytes.size(), f);
    fclose(f);
    chmod(path.c_str(), 0755);
    RunResult r = RunSandboxed({}, {path}, 126);
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Exec format error"), std::string::npos) << r.err;
    unlink(path.c_str());
  }
  rmdir(dir.c_str());
}

// Garbage syscalls from many seeds: the guest may die of what it does to itself
// (a signal, or an exit), but the sandbox must always report the guest's own
// end: never a Sentry failure (runsc's 125), a Sentry crash, or a hang.
TEST(E2eRobustnessTest, GarbageSyscallsNeverHurtTheSentry) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  int survived = 0;
  for (int seed = 1; seed <= 20; ++seed) {
    std::vector<std::string> argv = {
        RunscPath(),          "do",  "--platform=" + RunscPlatform(), "--", Prog("syscall_fuzz"),
        std::to_string(seed), "1000"};
    RunResult r = RunProcess(argv, Options());
    std::string report = Report("sandboxed", argv, r);
    ASSERT_TRUE(r.started) << report;
    ASSERT_FALSE(r.timed_out) << report;
    EXPECT_EQ(r.err.find("sandbox failed"), std::string::npos) << report;
    EXPECT_EQ(r.err.find("the sandbox died"), std::string::npos) << report;
    EXPECT_EQ(r.err.find("\nF ["), std::string::npos) << report;
    EXPECT_TRUE(r.status == 0 || r.status > 128) << report;
    if (r.out == "survived\n") ++survived;
  }
  // Most seeds should run to the end; if none do, the test tests nothing.
  EXPECT_GT(survived, 5);
}

// --- The gofer: host files come from a separate process. ---

// Writes go to the overlay's upper layer in Sentry memory (copying host files
// up); the host sees none of them. With --overlay=none the root is the
// gofer's read-only view with a private tmpfs on /tmp.
TEST(E2eGoferTest, WritesStayInTheSandbox) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  const std::string name = absl::StrFormat("e2e-gofer-probe-%d", getpid());
  // Builtins only (no fork yet): write a script to /tmp, source it, list /tmp.
  RunResult r =
      RunSandboxed({},
                   {kBusybox, "sh", "-c",
                    absl::StrFormat("echo 'echo sourced' > /tmp/%s && . /tmp/%s && ls /tmp/%s",
                                    name, name, name)},
                   0);
  EXPECT_EQ(r.out, absl::StrFormat("sourced\n/tmp/%s\n", name)) << r.err;
  EXPECT_NE(access(("/tmp/" + name).c_str(), F_OK), 0) << "the host's /tmp was written";

  // A new file at the root and a changed host file (copied up): visible
  // inside, never on the host.
  r = RunSandboxed({},
                   {kBusybox, "sh", "-c",
                    absl::StrFormat("echo 'echo new' > /%s && . /%s && "
                                    "echo 'echo changed' >> /etc/os-release && . /etc/os-release",
                                    name, name)},
                   0);
  EXPECT_EQ(r.out, "new\nchanged\n") << r.err;
  EXPECT_NE(access(("/" + name).c_str(), F_OK), 0) << "the host's root was written";
  std::ifstream os("/etc/os-release");
  std::string all((std::istreambuf_iterator<char>(os)), {});
  EXPECT_EQ(all.find("changed"), std::string::npos) << "a host file was written";

  r = RunSandboxed({"--overlay=none"},
                   {kBusybox, "sh", "-c", absl::StrFormat("echo x > /%s", name)}, 1);
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_NE(access(("/" + name).c_str(), F_OK), 0) << "the host's root was written";
}

// Extended attributes of host files come through the gofer (getxattr with
// the size probe and ERANGE, listxattr, a symlink's own list), and setting
// one copies the file up with the attributes it had: the host file keeps
// only its own.
TEST(E2eGoferTest, HostXattrsAreReadAndCopiedUp) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no python3";
  const std::string dir = absl::StrFormat("/tmp/e2e-xattr-%d", getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string file = dir + "/f";
  { std::ofstream(file) << "data"; }
  ASSERT_EQ(symlink("f", (dir + "/l").c_str()), 0);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  if (setxattr(file.c_str(), "user.e2e", "host", 4, 0) != 0) {
    GTEST_SKIP() << "the host's /tmp has no user xattrs: " << strerror(errno);
  }
  const std::string script = absl::StrFormat(R"(
import ctypes, os
p = '%s'
libc = ctypes.CDLL(None, use_errno=True)
print(os.getxattr(p, 'user.e2e'))
print(libc.getxattr(p.encode(), b'user.e2e', None, 0))
buf = ctypes.create_string_buffer(2)
print(libc.getxattr(p.encode(), b'user.e2e', buf, 2), ctypes.get_errno())
print(sorted(os.listxattr(p)))
try:
    os.getxattr(p, 'user.none')
except OSError as e:
    print('none', e.errno)
print(os.listxattr('%s/l', follow_symlinks=False))
os.setxattr(p, 'user.new', b'inside')
print(sorted(os.listxattr(p)), os.getxattr(p, 'user.e2e'))
)",
                                             file, dir);
  RunResult r = RunSandboxed({}, {"/usr/bin/python3", "-c", script}, 0);
  EXPECT_EQ(r.out, absl::StrFormat("b'host'\n4\n-1 %d\n['user.e2e']\nnone %d\n[]\n"
                                   "['user.e2e', 'user.new'] b'host'\n",
                                   ERANGE, ENODATA))
      << r.err;
  char buf[64];
  EXPECT_EQ(getxattr(file.c_str(), "user.new", buf, sizeof(buf)), -1)
      << "the host file was written";
  EXPECT_EQ(listxattr(file.c_str(), buf, sizeof(buf)), static_cast<ssize_t>(sizeof("user.e2e")));
}

// runsc do --report=FILE lists what the program used that the sandbox lacks.
TEST(E2eReportTest, ListsUnimplementedSyscallsAndFeatures) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  char dir[] = "/tmp/e2e-report-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/report.json";
  // A program that probes for a syscall the sandbox lacks (rseq, which glibc
  // registers at start-up) and uses a partly supported one (clone, as fork).
  RunResult r = RunSandboxed({"--report=" + file}, {kBusybox, "sh", "-c", "ls /; echo done"}, 0);
  std::ifstream in(file);
  std::string report((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(report.find("\"unimplemented_syscalls\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"partial_syscalls\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"name\": \"clone\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"code\": 0"), std::string::npos) << report;
  unlink(file.c_str());
  rmdir(dir);
  // A report that cannot be written is refused before anything runs.
  r = RunSandboxed({"--report=/nonexistent-dir/r.json"}, {kBusybox, "true"}, 125);
  EXPECT_NE(r.err.find("--report"), std::string::npos) << r.err;
}

// Shells: fork, exec, wait, exit statuses, signals and traps, background
// jobs, scripts run through "#!".
TEST(E2eProcessTest, ShellsMatchNative) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  const char* script =
      "for i in 1 2 3; do /bin/echo \"line $i\"; done; "
      "/bin/false; echo \"false: $?\"; "
      "(exit 42); echo \"subshell: $?\"; "
      "/bin/sh -c 'kill -TERM $$'; echo \"killed: $?\"; "
      "trap 'echo trapped USR1' USR1; kill -USR1 $$; "
      "sleep 0.05 & pid=$!; wait $pid; echo \"waited: $?\"; "
      "/bin/sh -c 'exit 7' & wait $!; echo \"bg: $?\"; "
      "echo '#!/bin/sh' > /tmp/e2e_script.sh; echo 'echo \"script args: $#\"; exit 3' >> "
      "/tmp/e2e_script.sh; chmod +x /tmp/e2e_script.sh; /tmp/e2e_script.sh a b; "
      "echo \"script: $?\"; rm /tmp/e2e_script.sh";
  for (const char* shell : {"/bin/busybox", "/bin/bash", "/bin/dash"}) {
    if (access(shell, X_OK) != 0) continue;
    std::vector<std::string> argv = {shell};
    if (std::string(shell) == "/bin/busybox") argv.push_back("sh");
    argv.push_back("-c");
    argv.push_back(script);
    RunResult native = RunProcess(argv, Options());
    RunResult ours = RunSandboxed({}, argv, native.status);
    EXPECT_EQ(ours.out, native.out) << shell << "\n" << ours.err;
  }
}

// --- Real workloads: scripts under scripts/, run as the sandbox's first
// program (through their "#!" line), natively and sandboxed. ---

std::string Script(const std::string& name) { return std::string(E2E_SCRIPTS_DIR "/") + name; }

struct Workload {
  std::string name;
  std::string script;                 // under scripts/
  std::vector<std::string> needs;     // programs it runs (tools/dev.sh installs them)
  int status = 0;                     // what the native run must exit with
  std::vector<std::string> contains;  // lines the native output must have
};

void PrintTo(const Workload& w, std::ostream* os) { *os << w.script; }

std::vector<Workload> Workloads() {
  return {
      {"BashPipelinesSubshellsTrapsJobs",
       "shell_jobs.sh",
       {"/bin/bash", "/usr/bin/seq", "/usr/bin/mktemp", "/usr/bin/mkfifo"},
       4,
       {"caught USR1", "term status: 9", "child killed by INT: 130", "killed job: 143",
        "wait -n sum: 66", "through the fifo", "exit trap ran, status 4"}},
      {"MakeJ2BuildsAndRunsACProgram",
       "make_c.sh",
       {"/bin/bash", "/usr/bin/make", "/usr/bin/gcc", "/usr/bin/ar"},
       0,
       {"v1: sum_to(100)=5050 fact(20)=2432902008176640000 args=2", "prog status: 3",
        "make: 'prog' is up to date."}},
      {"Python3ThreadsSubprocessMultiprocessingAlarmSqlite",
       "python_procs.py",
       {"/usr/bin/python3"},
       0,
       {"threads: counter 4000 squares [0, 1, 4, 9]", "multiprocessing fork: terminated -15",
        "multiprocessing spawn: pool [0, 1, 4, 9, 16, 25, 36, 49]",
        "alarm: read interrupted by SIGALRM", "sqlite /dev/shm: integrity ok", "done"}},
      {"PerlForkAndPipes",
       "perl_fork_pipes.pl",
       {"/usr/bin/perl"},
       0,
       {"two pipes: 2 42 1000, child exit 0", "handler: ready, got USR1, exit 3",
        "sigpipe: killed by 13", "done"}},
      {"UtilLinuxUnshareAndNsenter",
       "namespaces.sh",
       {"/bin/sh", "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/hostname", "/usr/bin/mktemp"},
       0,
       {"inner: e2e-inner", "outer unchanged", "nsenter: e2e-joined", "uts differs", "ipc shared",
        "new ipc", "done"}},
      {"BusyboxTimeoutAndKill",
       "busybox_timeout_kill.sh",
       {kBusybox},
       0,
       {"timeout TERM: 143", "timeout KILL: 137", "handler: 7", "group kill: 0", "done"}},
  };
}

bool HasLine(const std::string& out, const std::string& line) {
  for (absl::string_view l : absl::StrSplit(out, '\n')) {
    if (l == line) return true;
  }
  return false;
}

// Workloads run longer than the small programs above: each run gets four
// times the per-run deadline (a deadline ends a hung run; nothing is timed).
RunOptions WorkloadOptions() {
  RunOptions o = Options();
  o.timeout = Timeout() * 4;
  return o;
}

class E2eWorkloadTest : public ::testing::TestWithParam<Workload> {};

TEST_P(E2eWorkloadTest, SandboxMatchesNative) {
  const Workload& w = GetParam();
  for (const std::string& prog : w.needs) {
    ASSERT_EQ(access(prog.c_str(), X_OK), 0)
        << prog << " is missing: tools/dev.sh installs what the e2e workloads need";
  }
  const std::vector<std::string> argv = {Script(w.script)};
  RunResult native = RunProcess(argv, WorkloadOptions());
  std::string report = Report("native", argv, native);
  ASSERT_TRUE(native.started) << report;
  ASSERT_FALSE(native.timed_out) << report;
  ASSERT_EQ(native.status, w.status) << report;
  for (const std::string& line : w.contains) {
    ASSERT_TRUE(HasLine(native.out, line)) << "no line \"" << line << "\"\n" << report;
  }
  if (NativeOnly()) GTEST_SKIP() << "native half passed; SANDBOX_E2E_NATIVE_ONLY is set";
  if (!RunscUsable()) return;

  std::vector<std::string> sargv = RunscDoArgv(argv, RunscPlatform());
  RunResult sandboxed = RunProcess(sargv, WorkloadOptions());
  report = Report("sandboxed", sargv, sandboxed) + "\n\n" + report;
  ASSERT_TRUE(sandboxed.started) << report;
  EXPECT_FALSE(sandboxed.timed_out) << report;
  EXPECT_EQ(sandboxed.out, native.out) << report;
  EXPECT_EQ(sandboxed.status, native.status) << report;
}

INSTANTIATE_TEST_SUITE_P(Scripts, E2eWorkloadTest, ::testing::ValuesIn(Workloads()),
                         [](const ::testing::TestParamInfo<Workload>& info) {
                           return info.param.name;
                         });

// The sandbox's first process is its PID namespace's init, which ignores
// signals with the default action sent from inside the namespace (Linux's
// SIGNAL_UNKILLABLE), as a container's first process does: `busybox timeout`
// as the first program execs the program in its own process (pid 1) and
// its watcher's SIGTERM is dropped, so the program runs to its end. Under a
// shell (scripts/busybox_timeout_kill.sh) timeout behaves as natively.
TEST(E2eProcessTest, TimeoutAsInitCannotKillItself) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  RunResult r = RunSandboxed({}, {kBusybox, "timeout", "1", kBusybox, "sleep", "2"}, 0);
  // And the shell's view of the same command: killed by SIGTERM.
  // (Not the shell's last command, which it would exec in place of itself.)
  r = RunSandboxed(
      {}, {kBusybox, "sh", "-c", "/bin/busybox timeout 1 /bin/busybox sleep 30; echo $?"}, 0);
  EXPECT_EQ(r.out, "143\n") << r.err;
  // SIGKILL sent from inside is dropped too.
  RunSandboxed({}, {kBusybox, "sh", "-c", "kill -KILL $$; echo survived"}, 0);
}

// A first program that cannot run ends runsc as a shell would end: 127 when
// it (or its "#!" interpreter) does not exist, 126 when it is not executable.
TEST(E2eExecTest, FirstProgramFailuresExitAsAShellDoes) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  char dir_template[] = "/tmp/e2e-first-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  struct Script {
    const char* name;
    const char* text;
    mode_t mode;
    int status;
  };
  const Script scripts[] = {
      {"ok", "#!/bin/busybox sh\necho \"$0 $#\"\nexit 6\n", 0755, 6},
      {"missing-interp", "#!/nonexistent/interp\n", 0755, 127},
      {"interp-not-executable", "#!/etc/os-release\n", 0755, 126},
      {"not-executable", "#!/bin/busybox sh\n", 0644, 126},
  };
  for (const Script& sc : scripts) {
    SCOPED_TRACE(sc.name);
    const std::string path = dir + "/" + sc.name;
    std::ofstream(path) << sc.text;
    chmod(path.c_str(), sc.mode);
    // As a shell judges the same file.
    RunResult native = RunProcess({kBusybox, "sh", "-c", path + " a b"}, Options());
    EXPECT_EQ(native.status, sc.status) << native.Describe() << native.err;
    RunResult r = RunSandboxed({}, {path, "a", "b"}, sc.status);
    EXPECT_EQ(r.out, native.out) << r.err;
    unlink(path.c_str());
  }
  RunSandboxed({}, {dir + "/no-such-program"}, 127);
  rmdir(dir.c_str());
}

// Runs `argv` on a new pseudo-terminal (its controlling terminal, as a login
// shell has), types `lines` one at a time (waiting `pause` after each, to
// pace the typing; the shell reads typed-ahead lines all the same), then reads
// what it prints until the terminal hangs up and reaps it. Returns everything
// it printed and its exit code (-1 if it did not end within `limit`, a
// deadline for a hung run only: nothing here is timed).
struct PtyRun {
  std::string out;
  int code = -1;
};
PtyRun RunOnPty(const std::vector<std::string>& argv, const std::vector<std::string>& lines,
                absl::Duration pause, absl::Duration limit = absl::Seconds(120)) {
  PtyRun result;
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return result;
  const std::string slave_name = ptsname(master);
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    const int slave = open(slave_name.c_str(), O_RDWR);
    if (slave < 0) _exit(120);
    ioctl(slave, TIOCSCTTY, 0);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(121);
  }
  const absl::Time deadline = absl::Now() + limit;
  // Reads what is there for `d`; false once the terminal hung up (every
  // slave fd closed: EIO).
  auto drain = [&](absl::Duration d) {
    const absl::Time end = std::min(absl::Now() + d, deadline);
    while (absl::Now() < end) {
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(master, buf, sizeof(buf));
      if (n <= 0) return false;
      result.out.append(buf, n);
    }
    return true;
  };
  // The first prompt ("bash-5.2# " as root), then the lines.
  bool open = true;
  auto prompted = [&] {
    return result.out.find("# ") != std::string::npos || result.out.find("$ ") != std::string::npos;
  };
  for (const absl::Time end = std::min(absl::Now() + absl::Seconds(30), deadline);
       open && !prompted() && absl::Now() < end;) {
    open = drain(absl::Milliseconds(50));
  }
  for (const std::string& line : lines) {
    if (!open) break;
    const std::string l = line + "\n";
    if (write(master, l.data(), l.size()) < 0) break;
    open = drain(pause);
  }
  // Everything it prints until it hangs up; then it is reaped (blocking: a
  // process that closed its terminal may still take a while to exit).
  while (open && absl::Now() < deadline) open = drain(absl::Milliseconds(200));
  for (;;) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  close(master);
  return result;
}

// An interactive shell on a terminal: job control (background jobs stopped,
// continued, killed; a background read of the terminal stops with SIGTTIN).
// Each state change is waited for (`jobs -s` lists stopped jobs once the
// shell has seen the stop) rather than given a time to happen in.
TEST(E2eProcessTest, InteractiveShellJobControl) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no bash";
  const std::string until_stopped = "until [ -n \"$(jobs -s)\" ]; do sleep 0.05; done";
  const std::vector<std::string> lines = {
      "echo hello-$((6*7))",
      "sleep 30 &",
      "kill -STOP %1; " + until_stopped + "; jobs",
      "kill -CONT %1; jobs",
      "kill %1; wait; echo gone",
      "cat /dev/tty </dev/null & " + until_stopped + "; jobs",
      // Killed, it is no longer stopped; with no stopped job left, the first
      // exit is not refused.
      "kill -9 %1; until [ -z \"$(jobs -s)\" ]; do sleep 0.05; done; echo reaped",
      "exit 3",
  };
  const std::vector<std::string> shell = {"/bin/bash", "--norc", "--noprofile", "-i"};
  PtyRun native = RunOnPty(shell, lines, absl::Milliseconds(300));
  ASSERT_EQ(native.code, 3) << native.out;
  std::vector<std::string> argv = {RunscPath(), "do", "--platform=" + RunscPlatform(), "--"};
  argv.insert(argv.end(), shell.begin(), shell.end());
  PtyRun ours = RunOnPty(argv, lines, absl::Milliseconds(300));
  EXPECT_EQ(ours.code, 3) << ours.out;
  for (const char* want :
       {"hello-42", "Stopped                 sleep 30", "Running                 sleep 30 &",
        "gone", "Stopped                 cat /dev/tty < /dev/null", "reaped"}) {
    EXPECT_NE(native.out.find(want), std::string::npos) << "natively: " << want << "\n"
                                                        << native.out;
    EXPECT_NE(ours.out.find(want), std::string::npos) << "sandboxed: " << want << "\n" << ours.out;
  }
}

// Dynamically linked programs from the host's root: the interpreter and the
// libraries load through the gofer and the page cache.
TEST(E2eGoferTest, DynamicProgramsMatchNative) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  const std::vector<std::vector<std::string>> cases = {
      {"/bin/true"},
      {"/bin/cat", "/etc/os-release"},
      {"/bin/ls", "-la", "/usr/bin"},
      {"/usr/bin/find", "/usr/include", "-name", "*.h"},
      {"/usr/bin/md5sum", "/bin/ls"},
      {"/bin/tar", "c", "/usr/share/doc/bash"},
      {"/usr/bin/du", "-s", "--apparent-size", "/usr/share/doc"},
  };
  for (const auto& c : cases) {
    if (access(c[0].c_str(), X_OK) != 0) continue;
    RunResult native = RunProcess(c, Options());
    RunResult ours = RunSandboxed({}, c, native.status);
    EXPECT_EQ(ours.out, native.out) << absl::StrJoin(c, " ");
  }
}

// A sandbox whose guest (busybox cat) waits on a stdin pipe we hold.
struct HeldSandbox {
  pid_t pid = -1;     // runsc
  int stdin_fd = -1;  // close it and the guest finishes
  int stderr_fd = -1;
};

HeldSandbox StartHeldSandbox() {
  HeldSandbox h;
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return h;
  if (pipe2(err, O_CLOEXEC) != 0) return h;
  std::vector<std::string> args = RunscDoArgv({kBusybox, "cat"}, RunscPlatform());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  h.pid = fork();
  if (h.pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(err[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(err[1]);
  h.stdin_fd = in[1];
  h.stderr_fd = err[0];
  return h;
}

// Waits for runsc (at most `limit`); returns its status as a shell would, or
// -1 after killing it if it did not end.
int WaitHeld(HeldSandbox& h, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  int ws = 0;
  for (;;) {
    pid_t p = waitpid(h.pid, &ws, WNOHANG);
    if (p == h.pid) break;
    if (absl::Now() > deadline) {
      kill(-h.pid, SIGKILL);
      waitpid(h.pid, &ws, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
}

std::string ReadAllNonBlocking(int fd) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string ReadProc(pid_t pid, const char* what) {
  std::string path = absl::StrFormat("/proc/%d/%s", pid, what);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out = ReadAllNonBlocking(fd);
  close(fd);
  return out;
}

std::string MountNamespace(pid_t pid) {
  char buf[64] = {};
  std::string path = absl::StrFormat("/proc/%d/ns/mnt", pid);
  if (readlink(path.c_str(), buf, sizeof(buf) - 1) < 0) return "";
  return buf;
}

// The children of `parent`: (pid, command line with NULs as spaces).
std::vector<std::pair<pid_t, std::string>> Children(pid_t parent) {
  std::vector<std::pair<pid_t, std::string>> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = ReadProc(pid, "stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    int ppid = 0;
    char state;
    if (sscanf(stat.c_str() + close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid != parent) continue;
    std::string cmd = ReadProc(pid, "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    out.emplace_back(pid, cmd);
  }
  closedir(d);
  return out;
}

struct SandboxProcesses {
  pid_t gofer = -1, sentry = -1;
};

// Finds runsc's two children, waiting (up to 20 s) until both have entered
// their own mount namespaces.
SandboxProcesses FindSandboxProcesses(pid_t runsc) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  SandboxProcesses p;
  while (absl::Now() < deadline) {
    p = {};
    for (const auto& [pid, cmd] : Children(runsc)) {
      if (cmd.find(" gofer ") != std::string::npos) {
        p.gofer = pid;
      } else {
        p.sentry = pid;
      }
    }
    // Both have left the host's mount namespace (each enters its own).
    const std::string host = MountNamespace(getpid());
    if (p.gofer > 0 && p.sentry > 0 && MountNamespace(p.gofer) != host &&
        MountNamespace(p.sentry) != host) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return p;
}

TEST(E2eGoferTest, GoferIsASeparateProcessInItsOwnMountNamespace) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  HeldSandbox h = StartHeldSandbox();
  ASSERT_GT(h.pid, 0);
  SandboxProcesses p = FindSandboxProcesses(h.pid);
  EXPECT_GT(p.gofer, 0) << "no gofer child of runsc";
  EXPECT_GT(p.sentry, 0) << "no sandbox child of runsc";
  EXPECT_NE(p.gofer, p.sentry);
  const std::string gofer_ns = MountNamespace(p.gofer);
  EXPECT_FALSE(gofer_ns.empty());
  EXPECT_NE(gofer_ns, MountNamespace(p.sentry));
  EXPECT_NE(gofer_ns, MountNamespace(getpid()));
  close(h.stdin_fd);  // the guest's cat sees EOF and exits 0
  EXPECT_EQ(WaitHeld(h), 0) << ReadAllNonBlocking(h.stderr_fd);
  close(h.stderr_fd);
  // Nothing is left behind: the gofer went with the sandbox.
  if (p.gofer > 0) {
    EXPECT_EQ(ReadProc(p.gofer, "cmdline").find("gofer"), std::string::npos)
        << "the gofer (pid " << p.gofer << ") outlived runsc";
  }
}

// runsc do reaps everything it started: the gofer, the Sentry, and the stubs
// the Sentry leaves as it exits without tearing its kernel down
// (BootConfig::exit_without_teardown). This process is a subreaper meanwhile,
// so anything runsc left behind would become its child.
TEST(E2eProcessTest, RunscLeavesNoProcessBehind) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  // Several address spaces (a pipeline, a background job), each with stubs.
  RunSandboxed({},
               {kBusybox, "sh", "-c",
                "/bin/busybox true | /bin/busybox cat; /bin/busybox sleep 1 & echo done"},
               0);
  siginfo_t si{};
  const int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL);
  const int e = errno;
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_TRUE(r < 0 && e == ECHILD)
      << "a process of the sandbox (pid " << si.si_pid << ", 0: still running) outlived runsc";
}

// DESIGN §11.4: the Sentry runs in mount, IPC, UTS and network namespaces
// of its own, pivoted into an empty read-only tmpfs, holding no host path;
// the guest still reads and writes the donated stdio.
TEST(E2eIsolationTest, SentryHasAnEmptyRootAndItsOwnNamespaces) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  HeldSandbox h = StartHeldSandbox();
  ASSERT_GT(h.pid, 0);
  SandboxProcesses p = FindSandboxProcesses(h.pid);
  ASSERT_GT(p.sentry, 0) << "no sandbox child of runsc";
  // The pivot comes at the end of boot: wait for it.
  std::string info;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    info = ReadProc(p.sentry, "mountinfo");
    if (std::count(info.begin(), info.end(), '\n') == 1) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(std::count(info.begin(), info.end(), '\n'), 1) << info;
  EXPECT_NE(info.find(" / / ro,"), std::string::npos) << info;
  EXPECT_NE(info.find(" - tmpfs sentry-root "), std::string::npos) << info;
  // Its root holds nothing.
  const std::string root = absl::StrFormat("/proc/%d/root", p.sentry);
  std::vector<std::string> entries;
  if (DIR* d = opendir(root.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) entries.push_back(e->d_name);
    }
    closedir(d);
  } else {
    ADD_FAILURE() << "opendir " << root << ": " << strerror(errno);
  }
  EXPECT_TRUE(entries.empty()) << absl::StrJoin(entries, " ");
  for (const char* ns : {"mnt", "ipc", "uts", "net"}) {
    char mine[64] = {}, its[64] = {};
    ASSERT_GT(readlink(absl::StrFormat("/proc/self/ns/%s", ns).c_str(), mine, sizeof(mine) - 1), 0);
    ASSERT_GT(
        readlink(absl::StrFormat("/proc/%d/ns/%s", p.sentry, ns).c_str(), its, sizeof(its) - 1), 0)
        << ns;
    EXPECT_STRNE(mine, its) << ns << " namespace shared with the host";
  }
  // The donated stdio still works: the guest's cat echoes nothing and ends
  // at EOF with status 0.
  close(h.stdin_fd);
  EXPECT_EQ(WaitHeld(h), 0) << ReadAllNonBlocking(h.stderr_fd);
  close(h.stderr_fd);
}

TEST(E2eGoferTest, GoferDeathStopsTheSandboxWithAClearMessage) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  HeldSandbox h = StartHeldSandbox();
  ASSERT_GT(h.pid, 0);
  SandboxProcesses p = FindSandboxProcesses(h.pid);
  ASSERT_GT(p.gofer, 0) << "no gofer child of runsc";
  ASSERT_EQ(kill(p.gofer, SIGKILL), 0);
  const int status = WaitHeld(h);
  const std::string err = ReadAllNonBlocking(h.stderr_fd);
  close(h.stdin_fd);
  close(h.stderr_fd);
  EXPECT_EQ(status, 125) << err;
  EXPECT_NE(err.find("the gofer"), std::string::npos) << err;
  EXPECT_NE(err.find("killed by signal 9"), std::string::npos) << err;
  if (p.sentry > 0) {
    EXPECT_EQ(ReadProc(p.sentry, "cmdline").find("runsc"), std::string::npos)
        << "the sandbox (pid " << p.sentry << ") outlived runsc";
  }
}

// The Sentry keeps no host file it was not given for good: runsc's fd of the
// program goes once the program loads through the gofer. What remains is the
// memory file, the gofer socket, stdio, pipes and event objects of its own,
// and files the gofer donated (seen from its mount namespace).
TEST(E2eGoferTest, SentryHoldsNoFdOfTheExecutable) {
  if (NativeOnly()) GTEST_SKIP() << "sandbox only";
  if (!RunscUsable()) return;
  HeldSandbox h = StartHeldSandbox();
  ASSERT_GT(h.pid, 0);
  SandboxProcesses p = FindSandboxProcesses(h.pid);
  ASSERT_GT(p.sentry, 0) << "no sandbox child of runsc";
  absl::SleepFor(absl::Milliseconds(300));  // the guest is running by now
  std::error_code ec;
  const std::string exe = std::filesystem::canonical(kBusybox, ec).string();
  const std::string dir = absl::StrFormat("/proc/%d/fd", p.sentry);
  bool memory_file = false;
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code lec;
    const std::string link = std::filesystem::read_symlink(e.path(), lec).string();
    if (lec) continue;
    ++seen;
    EXPECT_NE(link, exe) << e.path() << " holds the executable";
    EXPECT_NE(link, kBusybox) << e.path() << " holds the executable";
    if (link.rfind("/memfd:sentry-memory", 0) == 0) memory_file = true;
  }
  EXPECT_GT(seen, 3);
  EXPECT_TRUE(memory_file) << "no memory file among the Sentry's fds";
  close(h.stdin_fd);
  EXPECT_EQ(WaitHeld(h), 0) << ReadAllNonBlocking(h.stderr_fd);
  close(h.stderr_fd);
}

}  // namespace
}  // namespace e2e
