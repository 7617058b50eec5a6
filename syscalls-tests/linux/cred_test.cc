// Credentials: the set*id family and setfs*id, setgroups, capget/capset, the
// capability prctls (bounding set, ambient set, securebits, keepcaps), the
// capability transitions of set*id (commoncap.c) and of execve (set-user-ID
// and set-group-ID files, root's capabilities, AT_SECURE), and how
// /proc/self/status shows them. man 7 credentials, man 7 capabilities.
//
// Most cases need root (they skip otherwise). What can be undone runs in this
// process and is restored; what cannot (leaving uid 0, dropping from the
// bounding set, locking securebits) runs in a forked child. execve cases fork
// and exec this binary again: with CRED_TEST_CHECK in its environment it
// checks its own credentials against that description before main() and
// exits 0 (match) or 1 (the differences on stderr).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr pid_t kNoSuchPid = 1 << 22;  // PID_MAX_LIMIT: never a pid
constexpr uid_t kNobody = 65534;
constexpr unsigned long kNoId = static_cast<unsigned long>(-1);
constexpr uint64_t kAllCaps = (uint64_t{1} << (CAP_LAST_CAP + 1)) - 1;

constexpr uint64_t Bit(int cap) { return uint64_t{1} << cap; }

long Prctl(long option, unsigned long a2 = 0, unsigned long a3 = 0, unsigned long a4 = 0,
           unsigned long a5 = 0) {
  return syscall(SYS_prctl, option, a2, a3, a4, a5);
}

// --- Capability sets, through capget/capset version 3. ---

struct Caps {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};

long Capget(pid_t pid, Caps* out) {
  __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
  __user_cap_data_struct d[2] = {};
  const long r = syscall(SYS_capget, &h, d);
  if (r == 0) {
    out->effective = d[0].effective | (uint64_t{d[1].effective} << 32);
    out->permitted = d[0].permitted | (uint64_t{d[1].permitted} << 32);
    out->inheritable = d[0].inheritable | (uint64_t{d[1].inheritable} << 32);
  }
  return r;
}

Caps GetCaps() {
  Caps c;
  if (Capget(0, &c) != 0) ADD_FAILURE() << "capget: " << ErrnoName(errno);
  return c;
}

long Capset(const Caps& c) {
  __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {
      {static_cast<uint32_t>(c.effective), static_cast<uint32_t>(c.permitted),
       static_cast<uint32_t>(c.inheritable)},
      {static_cast<uint32_t>(c.effective >> 32), static_cast<uint32_t>(c.permitted >> 32),
       static_cast<uint32_t>(c.inheritable >> 32)}};
  return syscall(SYS_capset, &h, d);
}

// The value of "Key:\t..." in /proc/self/status ("" if missing).
std::string StatusField(const std::string& key, const char* path = "/proc/self/status") {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return "";
  char line[512];
  std::string value;
  while (fgets(line, sizeof(line), f) != nullptr) {
    const std::string l(line);
    if (l.rfind(key + ":\t", 0) == 0) {
      value = l.substr(key.size() + 2);
      if (!value.empty() && value.back() == '\n') value.pop_back();
      break;
    }
  }
  fclose(f);
  return value;
}

uint64_t StatusHex(const std::string& key) {
  return strtoull(StatusField(key).c_str(), nullptr, 16);
}

// Restores this process's capability sets at the end of a test.
Cleanup RestoreCaps() {
  const Caps saved = GetCaps();
  return Cleanup([saved] { Capset(saved); });
}

// A regular file of mode 000, owned by the caller, in a fresh directory under
// /tmp; removed at the end.
class ModeZeroFile {
 public:
  ModeZeroFile() {
    char tmpl[] = "/tmp/cred-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    path_ = dir_ + "/locked";
    const int fd = open(path_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0);
    if (fd >= 0) close(fd);
    // Anyone may look into the directory: the file's own mode is what counts.
    chmod(dir_.c_str(), 0755);
    chmod(path_.c_str(), 0);
  }
  ~ModeZeroFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const char* path() const { return path_.c_str(); }

 private:
  std::string dir_, path_;
};

// --- The exec checker: this binary, run with CRED_TEST_CHECK set. ---

// Each token of CRED_TEST_CHECK is key=value: ruid, euid, suid, fsuid, rgid,
// egid, sgid, fsgid (decimal), inh, prm, eff, bnd, amb (hex, as
// /proc/self/status shows them), nnp, secure (AT_SECURE), dumpable,
// securebits (decimal).
int RunExecCheck(const char* spec) {
  std::map<std::string, std::string> actual;
  const std::string uid = StatusField("Uid"), gid = StatusField("Gid");
  unsigned ids[8] = {};
  if (sscanf(uid.c_str(), "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) != 4 ||
      sscanf(gid.c_str(), "%u %u %u %u", &ids[4], &ids[5], &ids[6], &ids[7]) != 4) {
    fprintf(stderr, "cred_test check: cannot parse Uid/Gid of /proc/self/status\n");
    return 1;
  }
  const char* id_keys[8] = {"ruid", "euid", "suid", "fsuid", "rgid", "egid", "sgid", "fsgid"};
  for (int i = 0; i < 8; ++i) actual[id_keys[i]] = std::to_string(ids[i]);
  // getresuid must agree with /proc.
  uid_t r, e, s;
  if (getresuid(&r, &e, &s) != 0 || r != ids[0] || e != ids[1] || s != ids[2]) {
    fprintf(stderr, "cred_test check: getresuid disagrees with /proc/self/status\n");
    return 1;
  }
  const std::pair<const char*, const char*> cap_keys[] = {{"inh", "CapInh"},
                                                          {"prm", "CapPrm"},
                                                          {"eff", "CapEff"},
                                                          {"bnd", "CapBnd"},
                                                          {"amb", "CapAmb"}};
  for (const auto& [k, field] : cap_keys) {
    actual[k] = std::to_string(strtoull(StatusField(field).c_str(), nullptr, 16));
  }
  actual["nnp"] = StatusField("NoNewPrivs");
  actual["secure"] = std::to_string(getauxval(AT_SECURE));
  actual["dumpable"] = std::to_string(prctl(PR_GET_DUMPABLE));
  actual["securebits"] = std::to_string(prctl(PR_GET_SECUREBITS));
  // And capget must agree with /proc.
  Caps c;
  if (Capget(0, &c) != 0 || std::to_string(c.effective) != actual["eff"] ||
      std::to_string(c.permitted) != actual["prm"] ||
      std::to_string(c.inheritable) != actual["inh"]) {
    fprintf(stderr, "cred_test check: capget disagrees with /proc/self/status\n");
    return 1;
  }
  int bad = 0;
  std::string rest = spec;
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t end = rest.find(' ', pos);
    if (end == std::string::npos) end = rest.size();
    const std::string tok = rest.substr(pos, end - pos);
    pos = end + 1;
    if (tok.empty()) continue;
    const size_t eq = tok.find('=');
    const std::string key = tok.substr(0, eq), want = tok.substr(eq + 1);
    // Capability sets are given in hex.
    std::string want_dec = want;
    if (key == "inh" || key == "prm" || key == "eff" || key == "bnd" || key == "amb") {
      want_dec = std::to_string(strtoull(want.c_str(), nullptr, 16));
    }
    auto it = actual.find(key);
    if (it == actual.end() || it->second != want_dec) {
      fprintf(stderr, "cred_test check after execve: %s is %s, want %s\n", key.c_str(),
              it == actual.end() ? "(unknown)" : it->second.c_str(), want_dec.c_str());
      ++bad;
    }
  }
  return bad == 0 ? 0 : 1;
}

// Runs before main() (and gtest) in every process of this binary.
[[maybe_unused]] const bool kExecCheck = [] {
  if (const char* spec = getenv("CRED_TEST_CHECK")) _exit(RunExecCheck(spec));
  return false;
}();

std::string Hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Forks; the child runs `setup` (CHILD_CHECKs report on stderr) and execs
// `path` (this binary by default) to check `expect`. Success when the checker
// exits 0. Needs no pipe: the checker answers with its exit status.
::testing::AssertionResult ExecAndCheck(const std::function<void()>& setup,
                                        const std::string& expect,
                                        const std::string& path = "/proc/self/exe") {
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << ErrnoName(errno);
  if (pid == 0) {
    setup();
    const std::string env = "CRED_TEST_CHECK=" + expect;
    char* const argv[] = {const_cast<char*>(path.c_str()), nullptr};
    char* const envp[] = {const_cast<char*>(env.c_str()), nullptr};
    execve(path.c_str(), argv, envp);
    CHILD_CHECK(!"execve");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ::testing::AssertionFailure() << "waitpid: " << ErrnoName(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the child (setup, then execve and the check \"" << expect << "\") "
         << (WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                 : "exited with status " + std::to_string(WEXITSTATUS(status)))
         << "; its report is on stderr";
}

// Copies `from` to `to` (created with mode 0700); false on failure.
bool CopyFile(const char* from, const char* to) {
  const int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  const int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
  bool ok = out >= 0;
  char buf[65536];
  while (ok) {
    const ssize_t n = read(in, buf, sizeof(buf));
    if (n == 0) break;
    ok = n > 0 && write(out, buf, static_cast<size_t>(n)) == n;
  }
  close(in);
  if (out >= 0 && close(out) != 0) ok = false;
  return ok;
}

// A copy of this binary with the given owner and mode (set-id bits), in a
// fresh directory everyone may search under `parent`.
class SetIdCopy {
 public:
  SetIdCopy(const std::string& parent, uid_t uid, gid_t gid, mode_t mode) {
    std::string tmpl = parent + "/cred-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    path_ = dir_ + "/prog";
    ok_ = chmod(dir_.c_str(), 0755) == 0 && CopyFile("/proc/self/exe", path_.c_str()) &&
          chown(path_.c_str(), uid, gid) == 0 && chmod(path_.c_str(), mode) == 0;
  }
  ~SetIdCopy() {
    if (!path_.empty()) unlink(path_.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  bool ok_ = false;
};

bool IsRoot() {
  return geteuid() == 0 && HaveCapability(CAP_SETUID) && HaveCapability(CAP_SETPCAP);
}

// ============================================================================
// capget and capset
// ============================================================================

TEST(CapgetTest, AgreesWithProcStatus) {
  const Caps c = GetCaps();
  EXPECT_EQ(c.effective, StatusHex("CapEff"));
  EXPECT_EQ(c.permitted, StatusHex("CapPrm"));
  EXPECT_EQ(c.inheritable, StatusHex("CapInh"));
  // Nothing past CAP_LAST_CAP, and effective within permitted.
  EXPECT_EQ(c.permitted & ~kAllCaps, 0u);
  EXPECT_EQ(c.effective & ~c.permitted, 0u);
  // The thread's own id and 0 name the caller.
  Caps self;
  ASSERT_THAT(Capget(getpid(), &self), SyscallSucceeds());
  EXPECT_EQ(self.effective, c.effective);
  EXPECT_EQ(self.permitted, c.permitted);
}

TEST(CapgetTest, Version1SeesOnlyTheLowWord) {
  __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_1, 0};
  __user_cap_data_struct d[2];
  memset(d, 0xab, sizeof(d));
  ASSERT_THAT(syscall(SYS_capget, &h, d), SyscallSucceeds());
  const Caps c = GetCaps();
  EXPECT_EQ(d[0].effective, static_cast<uint32_t>(c.effective));
  EXPECT_EQ(d[0].permitted, static_cast<uint32_t>(c.permitted));
  EXPECT_EQ(d[1].effective, 0xababababu) << "version 1 copies one structure";
  // Version 2 is version 3's layout.
  h = {_LINUX_CAPABILITY_VERSION_2, 0};
  ASSERT_THAT(syscall(SYS_capget, &h, d), SyscallSucceeds());
  EXPECT_EQ(d[1].permitted, static_cast<uint32_t>(c.permitted >> 32));
}

TEST(CapgetTest, UnknownVersionIsEinvalAndWritesThePreferredOne) {
  __user_cap_header_struct h = {0x12345678, 0};
  __user_cap_data_struct d[2] = {};
  EXPECT_THAT(syscall(SYS_capget, &h, d), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  h.version = 0;
  EXPECT_THAT(syscall(SYS_capset, &h, d), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
}

TEST(CapgetTest, NullDataProbesTheVersion) {
  // libcap's way to ask for the preferred version: success, version written.
  __user_cap_header_struct h = {0, 0};
  EXPECT_THAT(syscall(SYS_capget, &h, nullptr), SyscallSucceeds());
  EXPECT_EQ(h.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  EXPECT_THAT(syscall(SYS_capget, &h, nullptr), SyscallSucceeds());
}

TEST(CapgetTest, BadPointersAreEfault) {
  __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  EXPECT_THAT(syscall(SYS_capget, kKernelAddress, d), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_capget, &h, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_capset, kKernelAddress, d), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_capset, &h, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(CapgetTest, PidRules) {
  Caps c;
  EXPECT_THAT(Capget(-1, &c), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Capget(kNoSuchPid, &c), SyscallFailsWithErrno(ESRCH));
}

TEST(CapgetTest, AnotherProcessCanBeRead) {
  fflush(nullptr);
  const pid_t child = fork();
  ASSERT_THAT(child, SyscallSucceeds());
  if (child == 0) {
    for (;;) pause();
  }
  Cleanup reap([child] {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  });
  Caps theirs;
  ASSERT_THAT(Capget(child, &theirs), SyscallSucceeds());
  const Caps mine = GetCaps();
  EXPECT_EQ(theirs.effective, mine.effective);
  EXPECT_EQ(theirs.permitted, mine.permitted);
  // But only the caller's own sets can be set: EPERM for any other pid,
  // existing or not.
  __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, child};
  __user_cap_data_struct d[2] = {};
  EXPECT_THAT(syscall(SYS_capset, &h, d), SyscallFailsWithErrno(EPERM));
  h.pid = kNoSuchPid;
  EXPECT_THAT(syscall(SYS_capset, &h, d), SyscallFailsWithErrno(EPERM));
}

TEST(CapsetTest, SettingTheSameSetsSucceeds) {
  const Caps c = GetCaps();
  EXPECT_THAT(Capset(c), SyscallSucceeds());
  const Caps after = GetCaps();
  EXPECT_EQ(after.effective, c.effective);
  EXPECT_EQ(after.permitted, c.permitted);
  EXPECT_EQ(after.inheritable, c.inheritable);
}

TEST(CapsetTest, EffectiveBeyondPermittedIsEperm) {
  SKIP_IF(!HaveCapability(CAP_KILL));
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.permitted &= ~Bit(CAP_KILL);  // effective still has it
  EXPECT_THAT(Capset(c), SyscallFailsWithErrno(EPERM));
  EXPECT_TRUE(HaveCapability(CAP_KILL)) << "a refused capset changes nothing";
}

TEST(CapsetTest, DroppingDacCapabilitiesRefusesAModeZeroFile) {
  SKIP_IF(!HaveCapability(CAP_DAC_OVERRIDE) || !HaveCapability(CAP_DAC_READ_SEARCH));
  ModeZeroFile file;
  {
    FileDescriptor fd(open(file.path(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid()) << "with CAP_DAC_OVERRIDE: " << ErrnoName(errno);
  }
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.effective &= ~Bit(CAP_DAC_OVERRIDE);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  // CAP_DAC_READ_SEARCH still reads; writing needs CAP_DAC_OVERRIDE.
  EXPECT_THAT(open(file.path(), O_WRONLY | O_CLOEXEC), SyscallFailsWithErrno(EACCES));
  FileDescriptor fd(open(file.path(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid()) << "with CAP_DAC_READ_SEARCH: " << ErrnoName(errno);
  c.effective &= ~Bit(CAP_DAC_READ_SEARCH);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(open(file.path(), O_RDONLY | O_CLOEXEC), SyscallFailsWithErrno(EACCES));
  // Still permitted: back into the effective set, and the file opens.
  restore.Run();
  FileDescriptor again(open(file.path(), O_RDWR | O_CLOEXEC));
  EXPECT_TRUE(again.valid()) << ErrnoName(errno);
}

TEST(CapsetTest, DroppingCapFownerRefusesChmodOfAnotherUsersFile) {
  SKIP_IF(!HaveCapability(CAP_FOWNER) || !HaveCapability(CAP_CHOWN));
  ModeZeroFile file;
  ASSERT_THAT(chown(file.path(), kNobody, kNobody), SyscallSucceeds());
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.effective &= ~(Bit(CAP_FOWNER) | Bit(CAP_CHOWN));
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(chmod(file.path(), 0600), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(chown(file.path(), 0, 0), SyscallFailsWithErrno(EPERM));
  restore.Run();
  EXPECT_THAT(chmod(file.path(), 0600), SyscallSucceeds());
  EXPECT_THAT(chown(file.path(), 0, 0), SyscallSucceeds());
}

// ============================================================================
// setfsuid, setfsgid, and the effective uid in and out of 0
// ============================================================================

TEST(SetfsuidTest, ReturnsTheOldFsuidAndMovesTheFileCapabilities) {
  SKIP_IF(!IsRoot());
  const Caps before = GetCaps();
  Cleanup restore([before] {
    syscall(SYS_setfsuid, 0);
    Capset(before);
  });
  EXPECT_THAT(syscall(SYS_setfsuid, 1000), SyscallSucceedsWithValue(0));
  EXPECT_THAT(syscall(SYS_setfsuid, kNoId), SyscallSucceedsWithValue(1000)) << "-1 only asks";
  EXPECT_EQ(StatusField("Uid"), "0\t0\t0\t1000");
  // The file-system capabilities leave with the fs uid; the others stay.
  const Caps c = GetCaps();
  EXPECT_EQ(c.effective & Bit(CAP_DAC_OVERRIDE), 0u);
  EXPECT_EQ(c.effective & Bit(CAP_CHOWN), 0u);
  EXPECT_EQ(c.effective & Bit(CAP_FOWNER), 0u);
  EXPECT_EQ(c.effective & Bit(CAP_MKNOD), 0u);
  EXPECT_EQ(c.effective & Bit(CAP_SETUID), before.effective & Bit(CAP_SETUID));
  EXPECT_EQ(c.permitted, before.permitted);
  // And come back with it.
  EXPECT_THAT(syscall(SYS_setfsuid, 0), SyscallSucceedsWithValue(1000));
  EXPECT_EQ(GetCaps().effective, before.effective);
}

TEST(SetfsgidTest, ReturnsTheOldFsgid) {
  SKIP_IF(!IsRoot());
  const gid_t gid = getegid();
  Cleanup restore([gid] { syscall(SYS_setfsgid, gid); });
  EXPECT_THAT(syscall(SYS_setfsgid, 1234), SyscallSucceedsWithValue(gid));
  EXPECT_THAT(syscall(SYS_setfsgid, kNoId), SyscallSucceedsWithValue(1234));
  unsigned r, e, s, fs;
  ASSERT_EQ(sscanf(StatusField("Gid").c_str(), "%u %u %u %u", &r, &e, &s, &fs), 4);
  EXPECT_EQ(fs, 1234u);
  EXPECT_EQ(e, gid);
}

TEST(SetresuidTest, EffectiveUidOutOfAndBackToRoot) {
  SKIP_IF(!IsRoot() || getuid() != 0);
  const Caps before = GetCaps();
  const int dumpable = prctl(PR_GET_DUMPABLE);
  Cleanup restore([before, dumpable] {
    syscall(SYS_setresuid, kNoId, 0, kNoId);
    Capset(before);
    prctl(PR_SET_DUMPABLE, dumpable);
  });
  ASSERT_THAT(syscall(SYS_setresuid, kNoId, kNobody, kNoId), SyscallSucceeds());
  uid_t r, e, s;
  ASSERT_THAT(getresuid(&r, &e, &s), SyscallSucceeds());
  EXPECT_EQ(r, 0u);
  EXPECT_EQ(e, kNobody);
  EXPECT_EQ(s, 0u);
  EXPECT_EQ(StatusField("Uid"), "0\t65534\t0\t65534");
  // The effective set empties; the permitted set stays (uid 0 is still the
  // real and saved uid).
  const Caps c = GetCaps();
  EXPECT_EQ(c.effective, 0u);
  EXPECT_EQ(c.permitted, before.permitted);
  // A change of the effective uid makes the process non-dumpable.
  EXPECT_THAT(prctl(PR_GET_DUMPABLE), SyscallSucceedsWithValue(0));
  // Back to euid 0 (the saved uid): the effective set is the permitted one.
  ASSERT_THAT(syscall(SYS_setresuid, kNoId, 0, kNoId), SyscallSucceeds());
  EXPECT_EQ(GetCaps().effective, before.permitted);
}

TEST(SetresuidTest, ANoOpSucceedsForAnyone) {
  uid_t r, e, s;
  ASSERT_THAT(getresuid(&r, &e, &s), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_setresuid, kNoId, kNoId, kNoId), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_setresuid, r, e, s), SyscallSucceeds());
  gid_t rg, eg, sg;
  ASSERT_THAT(getresgid(&rg, &eg, &sg), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_setresgid, rg, eg, sg), SyscallSucceeds());
}

TEST(SetuidTest, MinusOneIsEinval) {
  SKIP_IF(!IsRoot());
  EXPECT_THAT(syscall(SYS_setuid, kNoId), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_setgid, kNoId), SyscallFailsWithErrno(EINVAL));
}

TEST(AccessTest, ChecksWithTheRealIdsAndThePermittedSet) {
  SKIP_IF(!IsRoot() || getuid() != 0);
  ModeZeroFile file;
  const Caps before = GetCaps();
  const int dumpable = prctl(PR_GET_DUMPABLE);
  Cleanup restore([before, dumpable] {
    syscall(SYS_setresuid, kNoId, 0, kNoId);
    Capset(before);
    prctl(PR_SET_DUMPABLE, dumpable);
  });
  ASSERT_THAT(syscall(SYS_setresuid, kNoId, kNobody, kNoId), SyscallSucceeds());
  // The effective ids (nobody, no capabilities) may not read it...
  EXPECT_THAT(open(file.path(), O_RDONLY | O_CLOEXEC), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(syscall(SYS_faccessat2, AT_FDCWD, file.path(), R_OK, AT_EACCESS),
              SyscallFailsWithErrno(EACCES));
  // ...the real ones (uid 0, with the permitted set) may.
  EXPECT_THAT(access(file.path(), R_OK | W_OK), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_faccessat, AT_FDCWD, file.path(), R_OK), SyscallSucceeds());
}

// ============================================================================
// setgroups
// ============================================================================

TEST(SetgroupsTest, ShownSortedInProcStatus) {
  SKIP_IF(!HaveCapability(CAP_SETGID));
  const long n = syscall(SYS_getgroups, 0, nullptr);
  ASSERT_THAT(n, SyscallSucceeds());
  std::vector<gid_t> saved(n);
  ASSERT_THAT(syscall(SYS_getgroups, n, saved.data()), SyscallSucceedsWithValue(n));
  Cleanup restore([saved] { syscall(SYS_setgroups, saved.size(), saved.data()); });
  const gid_t groups[] = {50, 7, 1000};
  ASSERT_THAT(syscall(SYS_setgroups, 3, groups), SyscallSucceeds());
  EXPECT_EQ(StatusField("Groups"), "7 50 1000 ");
  ASSERT_THAT(syscall(SYS_setgroups, 0, nullptr), SyscallSucceeds());
  EXPECT_EQ(StatusField("Groups"), " ");
}

TEST(SetgroupsTest, WithoutCapSetgidIsEperm) {
  SKIP_IF(!HaveCapability(CAP_SETGID));
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.effective &= ~Bit(CAP_SETGID);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(syscall(SYS_setgroups, 0, nullptr), SyscallFailsWithErrno(EPERM));
}

// ============================================================================
// prctl: the bounding set, securebits, keepcaps, the ambient set
// ============================================================================

TEST(BoundingSetTest, ReadAgreesWithProcStatus) {
  const uint64_t bnd = StatusHex("CapBnd");
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    EXPECT_THAT(Prctl(PR_CAPBSET_READ, cap), SyscallSucceedsWithValue((bnd >> cap) & 1))
        << "capability " << cap;
  }
  EXPECT_THAT(Prctl(PR_CAPBSET_READ, CAP_LAST_CAP + 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_CAPBSET_READ, ~0ul), SyscallFailsWithErrno(EINVAL));
}

TEST(BoundingSetTest, DropNeedsCapSetpcapThenAValidCap) {
  SKIP_IF(!HaveCapability(CAP_SETPCAP));
  EXPECT_THAT(Prctl(PR_CAPBSET_DROP, CAP_LAST_CAP + 1), SyscallFailsWithErrno(EINVAL));
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.effective &= ~Bit(CAP_SETPCAP);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  // The privilege is checked first.
  EXPECT_THAT(Prctl(PR_CAPBSET_DROP, CAP_LAST_CAP + 1), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(Prctl(PR_CAPBSET_DROP, CAP_KILL), SyscallFailsWithErrno(EPERM));
}

TEST(SecurebitsTest, RoundTripAndKeepcaps) {
  SKIP_IF(!HaveCapability(CAP_SETPCAP));
  ASSERT_THAT(Prctl(PR_GET_SECUREBITS), SyscallSucceedsWithValue(0));
  Cleanup restore([] { Prctl(PR_SET_SECUREBITS, 0); });
  ASSERT_THAT(Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_CAP_AMBIENT_RAISE),
              SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_SECUREBITS),
              SyscallSucceedsWithValue(SECBIT_KEEP_CAPS | SECBIT_NO_CAP_AMBIENT_RAISE));
  // PR_GET_KEEPCAPS reads the same bit; PR_SET_KEEPCAPS writes it.
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(1));
  ASSERT_THAT(Prctl(PR_SET_KEEPCAPS, 0), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_SECUREBITS), SyscallSucceedsWithValue(SECBIT_NO_CAP_AMBIENT_RAISE));
  ASSERT_THAT(Prctl(PR_SET_SECUREBITS, 0), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_GET_KEEPCAPS), SyscallSucceedsWithValue(0));
}

TEST(SecurebitsTest, UnknownBitsOrNoCapSetpcapAreEperm) {
  SKIP_IF(!HaveCapability(CAP_SETPCAP));
  EXPECT_THAT(Prctl(PR_SET_SECUREBITS, 1ul << 30), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(Prctl(PR_SET_SECUREBITS, 1ul << 40), SyscallFailsWithErrno(EPERM));
  Cleanup restore = RestoreCaps();
  Caps c = GetCaps();
  c.effective &= ~Bit(CAP_SETPCAP);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS), SyscallFailsWithErrno(EPERM));
  // PR_SET_KEEPCAPS needs no privilege.
  EXPECT_THAT(Prctl(PR_SET_KEEPCAPS, 1), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_SET_KEEPCAPS, 0), SyscallSucceeds());
}

TEST(AmbientTest, RaiseNeedsPermittedAndInheritable) {
  SKIP_IF(!HaveCapability(CAP_SETPCAP) || !HaveCapability(CAP_NET_RAW));
  Cleanup restore = RestoreCaps();
  Cleanup clear([] { Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL); });
  Caps c = GetCaps();
  c.inheritable = 0;
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW),
              SyscallFailsWithErrno(EPERM));
  c.inheritable = Bit(CAP_NET_RAW) | Bit(CAP_KILL);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW),
              SyscallSucceedsWithValue(1));
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL), SyscallSucceedsWithValue(0));
  EXPECT_EQ(StatusHex("CapAmb"), Bit(CAP_NET_RAW));
  ASSERT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_RAW), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW),
              SyscallSucceedsWithValue(0));
  ASSERT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL), SyscallSucceeds());
  ASSERT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL), SyscallSucceeds());
  EXPECT_EQ(StatusHex("CapAmb"), 0u);
  // Losing the inheritable bit drops the ambient one.
  ASSERT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL), SyscallSucceeds());
  c.inheritable = Bit(CAP_NET_RAW);
  ASSERT_THAT(Capset(c), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL), SyscallSucceedsWithValue(0));
  // SECBIT_NO_CAP_AMBIENT_RAISE forbids raising.
  Cleanup bits([] { Prctl(PR_SET_SECUREBITS, 0); });
  ASSERT_THAT(Prctl(PR_SET_SECUREBITS, SECBIT_NO_CAP_AMBIENT_RAISE), SyscallSucceeds());
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW),
              SyscallFailsWithErrno(EPERM));
}

TEST(AmbientTest, BadArgumentsAreEinval) {
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_LAST_CAP + 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 1),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, 99, CAP_KILL), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, ~0ul), SyscallFailsWithErrno(EINVAL));
}

// ============================================================================
// In a forked child: what cannot be undone.
// ============================================================================

TEST(SetuidTest, RootBecomingAUserLosesEveryCapability) {
  SKIP_IF(!IsRoot());
  const uint64_t bnd = StatusHex("CapBnd");
  EXPECT_TRUE(InForkedChild([bnd] {
    CHILD_CHECK(syscall(SYS_setuid, kNobody) == 0);
    uid_t r, e, s;
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == kNobody && e == kNobody && s == kNobody);
    CHILD_CHECK(StatusField("Uid") == "65534\t65534\t65534\t65534");
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0);
    CHILD_CHECK(c.effective == 0 && c.permitted == 0);
    CHILD_CHECK(StatusHex("CapBnd") == bnd);  // the bounding set stays
    CHILD_CHECK(prctl(PR_GET_DUMPABLE) == 0);
    // There is no way back.
    CHILD_CHECK(syscall(SYS_setuid, 0) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setresuid, kNoId, 0, kNoId) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setgroups, 0, nullptr) == -1 && errno == EPERM);
  }));
}

TEST(SetuidTest, UnprivilegedRules) {
  SKIP_IF(!IsRoot());
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(syscall(SYS_setresuid, 1000, 2000, 3000) == 0);
    uid_t r, e, s;
    // setresuid: each id may become any of the current three, nothing else.
    CHILD_CHECK(syscall(SYS_setresuid, 4000, kNoId, kNoId) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setresuid, kNoId, kNoId, 4000) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setresuid, 3000, 1000, 2000) == 0);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 3000 && e == 1000 && s == 2000);
    CHILD_CHECK(StatusField("Uid") == "3000\t1000\t2000\t1000");  // fsuid follows euid
    // setuid: only to the real or saved uid, and only the effective (and fs)
    // uid changes.
    CHILD_CHECK(syscall(SYS_setuid, 4000) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setuid, 1000) == -1 && errno == EPERM);  // the effective one
    CHILD_CHECK(syscall(SYS_setuid, 2000) == 0);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 3000 && e == 2000 && s == 2000);
    // setreuid: the real uid from the real or effective one, the effective
    // from any of the three; the saved uid follows a new real uid, or an
    // effective one other than the old real uid.
    CHILD_CHECK(syscall(SYS_setreuid, 1000, kNoId) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setreuid, kNoId, 3000) == 0);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 3000 && e == 3000 && s == 2000);
    CHILD_CHECK(syscall(SYS_setreuid, kNoId, 2000) == 0);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 3000 && e == 2000 && s == 2000);
    CHILD_CHECK(syscall(SYS_setreuid, 2000, kNoId) == 0);
    CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 2000 && e == 2000 && s == 2000);
    CHILD_CHECK(syscall(SYS_setreuid, kNoId, kNoId) == 0);
    // setfsuid: refused without a word; the old fs uid either way.
    CHILD_CHECK(syscall(SYS_setfsuid, 4000) == 2000);
    CHILD_CHECK(syscall(SYS_setfsuid, kNoId) == 2000);
  }));
}

TEST(SetuidTest, TheSyscallChangesOneThreadGlibcChangesThemAll) {
  SKIP_IF(!IsRoot() || getuid() != 0);
  EXPECT_TRUE(InForkedChild([] {
    // Credentials belong to a thread: the raw syscall changes the caller's
    // only; glibc's setresuid has every thread make the call (setxid).
    std::atomic<int> step{0};
    std::atomic<long> seen{-1};
    std::thread other([&] {
      for (int want = 1; want <= 2; ++want) {
        while (step.load() != want) sched_yield();
        seen.store(syscall(SYS_geteuid));
        step.store(want + 10);
      }
    });
    CHILD_CHECK(syscall(SYS_setresuid, kNoId, kNobody, kNoId) == 0);
    step.store(1);
    while (step.load() != 11) sched_yield();
    CHILD_CHECK(seen.load() == 0);
    CHILD_CHECK(syscall(SYS_setresuid, kNoId, 0, kNoId) == 0);
    CHILD_CHECK(setresuid(-1, kNobody, -1) == 0);
    step.store(2);
    while (step.load() != 12) sched_yield();
    CHILD_CHECK(seen.load() == kNobody);
    other.join();
  }));
}

TEST(SetgidTest, UnprivilegedRules) {
  SKIP_IF(!IsRoot());
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(syscall(SYS_setgroups, 0, nullptr) == 0);
    CHILD_CHECK(syscall(SYS_setresgid, 100, 200, 300) == 0);
    CHILD_CHECK(syscall(SYS_setresuid, kNobody, kNobody, kNobody) == 0);
    gid_t r, e, s;
    CHILD_CHECK(syscall(SYS_setgid, 400) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setgid, 300) == 0);  // the saved gid: only egid and fsgid
    CHILD_CHECK(getresgid(&r, &e, &s) == 0 && r == 100 && e == 300 && s == 300);
    CHILD_CHECK(StatusField("Gid") == "100\t300\t300\t300");
    CHILD_CHECK(syscall(SYS_setresgid, 400, kNoId, kNoId) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setresgid, kNoId, 100, kNoId) == 0);
    CHILD_CHECK(syscall(SYS_setregid, 300, kNoId) == -1 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_setregid, kNoId, 300) == 0);
    CHILD_CHECK(getresgid(&r, &e, &s) == 0 && r == 100 && e == 300 && s == 300);
    CHILD_CHECK(syscall(SYS_setfsgid, 400) == 300);
    CHILD_CHECK(syscall(SYS_setfsgid, 100) == 300);
    CHILD_CHECK(syscall(SYS_setfsgid, kNoId) == 100);
    CHILD_CHECK(syscall(SYS_setgroups, 0, nullptr) == -1 && errno == EPERM);
  }));
}

TEST(KeepCapsTest, KeepsThePermittedSetAcrossSetuid) {
  SKIP_IF(!IsRoot() || !HaveCapability(CAP_DAC_OVERRIDE));
  ModeZeroFile file;
  const uint64_t permitted = GetCaps().permitted;
  EXPECT_TRUE(InForkedChild([&] {
    CHILD_CHECK(Prctl(PR_SET_KEEPCAPS, 1) == 0);
    CHILD_CHECK(syscall(SYS_setresuid, kNobody, kNobody, kNobody) == 0);
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0 && c.permitted == permitted && c.effective == 0);
    CHILD_CHECK(open(file.path(), O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    CHILD_CHECK(Prctl(PR_GET_KEEPCAPS) == 1);
    // Back into the effective set: uid 65534 with CAP_DAC_OVERRIDE.
    c.effective = Bit(CAP_DAC_OVERRIDE);
    CHILD_CHECK(Capset(c) == 0);
    const int fd = open(file.path(), O_RDWR | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    close(fd);
  }));
}

TEST(CapsetTest, PermittedCannotGrowBack) {
  SKIP_IF(!HaveCapability(CAP_KILL) || !HaveCapability(CAP_SETPCAP) ||
          !HaveCapability(CAP_SYS_TIME));
  EXPECT_TRUE(InForkedChild([] {
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0);
    const Caps full = c;
    c.effective &= ~Bit(CAP_KILL);
    c.permitted &= ~Bit(CAP_KILL);
    CHILD_CHECK(Capset(c) == 0);
    CHILD_CHECK(Capset(full) == -1 && errno == EPERM);
    // With CAP_SETPCAP the inheritable set may take what is not permitted
    // (within the bounding set).
    c.inheritable = Bit(CAP_KILL);
    CHILD_CHECK(Capset(c) == 0);
    // Without it, only what is inheritable or permitted already.
    c.effective &= ~(Bit(CAP_SETPCAP) | Bit(CAP_SYS_TIME));
    c.permitted &= ~Bit(CAP_SYS_TIME);
    CHILD_CHECK(Capset(c) == 0);
    Caps more = c;
    more.inheritable |= Bit(CAP_SETPCAP);  // permitted
    CHILD_CHECK(Capset(more) == 0);
    more.inheritable |= Bit(CAP_SYS_TIME);  // neither
    CHILD_CHECK(Capset(more) == -1 && errno == EPERM);
  }));
}

TEST(BoundingSetTest, ADroppedCapabilityIsGoneForGood) {
  SKIP_IF(!IsRoot() || !HaveCapability(CAP_KILL));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(Prctl(PR_CAPBSET_DROP, CAP_KILL) == 0);
    CHILD_CHECK(Prctl(PR_CAPBSET_READ, CAP_KILL) == 0);
    CHILD_CHECK((StatusHex("CapBnd") & Bit(CAP_KILL)) == 0);
    // The permitted set is untouched...
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0 && (c.permitted & Bit(CAP_KILL)) != 0);
    // ...but the inheritable set cannot gain it, even with CAP_SETPCAP.
    c.inheritable |= Bit(CAP_KILL);
    CHILD_CHECK(Capset(c) == -1 && errno == EPERM);
    // Dropping twice is fine.
    CHILD_CHECK(Prctl(PR_CAPBSET_DROP, CAP_KILL) == 0);
  }));
}

TEST(SecurebitsTest, LockedBitsStay) {
  SKIP_IF(!HaveCapability(CAP_SETPCAP));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED) == 0);
    CHILD_CHECK(Prctl(PR_SET_KEEPCAPS, 0) == -1 && errno == EPERM);
    CHILD_CHECK(Prctl(PR_SET_KEEPCAPS, 2) == -1 && errno == EINVAL);
    CHILD_CHECK(Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED) == -1 && errno == EPERM);
    CHILD_CHECK(Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS) == -1 && errno == EPERM);
    // Other bits may still change.
    CHILD_CHECK(
        Prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NOROOT) == 0);
    CHILD_CHECK(Prctl(PR_GET_KEEPCAPS) == 1);
  }));
}

TEST(SecurebitsTest, NoSetuidFixupKeepsTheEffectiveSet) {
  SKIP_IF(!IsRoot());
  const Caps before = GetCaps();
  EXPECT_TRUE(InForkedChild([before] {
    CHILD_CHECK(Prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) == 0);
    CHILD_CHECK(syscall(SYS_setresuid, kNobody, kNobody, kNobody) == 0);
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0);
    CHILD_CHECK(c.effective == before.effective && c.permitted == before.permitted);
  }));
}

TEST(KillTest, WithoutCapKillOnlyProcessesOfTheSameUser) {
  SKIP_IF(!IsRoot() || !HaveCapability(CAP_KILL) || getuid() != 0);
  EXPECT_TRUE(InForkedChild([] {
    const pid_t other = fork();
    CHILD_CHECK(other >= 0);
    if (other == 0) {
      if (syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) _exit(1);
      for (;;) pause();
    }
    // Wait until it is nobody's.
    const std::string status = "/proc/" + std::to_string(other) + "/status";
    bool changed = false;
    for (int i = 0; i < 500 && !changed; ++i) {
      changed = StatusField("Uid", status.c_str()).rfind("65534\t", 0) == 0;
      if (!changed) usleep(10000);
    }
    CHILD_CHECK(changed);
    Caps c;
    CHILD_CHECK(Capget(0, &c) == 0);
    const Caps full = c;
    c.effective &= ~Bit(CAP_KILL);
    CHILD_CHECK(Capset(c) == 0);
    CHILD_CHECK(kill(other, 0) == -1 && errno == EPERM);
    CHILD_CHECK(kill(other, SIGKILL) == -1 && errno == EPERM);
    CHILD_CHECK(kill(getpid(), 0) == 0);  // the same uid
    CHILD_CHECK(Capset(full) == 0);
    CHILD_CHECK(kill(other, SIGKILL) == 0);
    CHILD_CHECK(waitpid(other, nullptr, 0) == other);
  }));
}

// ============================================================================
// execve
// ============================================================================

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF(!IsRoot() || getuid() != 0);
    bnd_ = StatusHex("CapBnd");
  }
  uint64_t bnd_ = 0;
};

TEST_F(ExecTest, RootGetsTheBoundingSetBack) {
  // Root that dropped its capabilities regains them at execve.
  EXPECT_TRUE(ExecAndCheck(
      [] { CHILD_CHECK(Capset(Caps{}) == 0); },
      "ruid=0 euid=0 suid=0 prm=" + Hex(bnd_) + " eff=" + Hex(bnd_) + " inh=0 amb=0 secure=0"));
}

TEST_F(ExecTest, FromAThreadRootStillGetsItsCapabilities) {
  // The other threads share the filesystem context; that is not the
  // "shared with another process" that would cut the capabilities back.
  EXPECT_TRUE(ExecAndCheck(
      [] {
        std::thread([] {
          for (;;) pause();
        }).detach();
        CHILD_CHECK(Capset(Caps{}) == 0);
      },
      "euid=0 prm=" + Hex(bnd_) + " eff=" + Hex(bnd_) + " secure=0"));
}

TEST_F(ExecTest, NoNewPrivsKeepsDroppedCapabilitiesDropped) {
  EXPECT_TRUE(ExecAndCheck(
      [] {
        Caps c;
        CHILD_CHECK(Capget(0, &c) == 0);
        c.effective = c.permitted = c.permitted & ~Bit(CAP_KILL);
        CHILD_CHECK(Capset(c) == 0);
        CHILD_CHECK(Prctl(PR_SET_NO_NEW_PRIVS, 1) == 0);
      },
      "prm=" + Hex(bnd_ & ~Bit(CAP_KILL)) + " eff=" + Hex(bnd_ & ~Bit(CAP_KILL)) +
          " nnp=1 secure=0"));
}

TEST_F(ExecTest, SecureNorootGivesRootNothing) {
  EXPECT_TRUE(ExecAndCheck([] { CHILD_CHECK(Prctl(PR_SET_SECUREBITS, SECBIT_NOROOT) == 0); },
                           "euid=0 prm=0 eff=0 securebits=1 secure=0"));
}

TEST_F(ExecTest, ADroppedBoundingCapabilityStaysOut) {
  EXPECT_TRUE(
      ExecAndCheck([] { CHILD_CHECK(Prctl(PR_CAPBSET_DROP, CAP_KILL) == 0); },
                   "prm=" + Hex(bnd_ & ~Bit(CAP_KILL)) + " bnd=" + Hex(bnd_ & ~Bit(CAP_KILL))));
}

TEST_F(ExecTest, AUserHasNoCapabilities) {
  EXPECT_TRUE(ExecAndCheck(
      [] { DropPrivilegesInChild(); },
      "ruid=65534 euid=65534 prm=0 eff=0 amb=0 bnd=" + Hex(bnd_) + " secure=0 dumpable=1"));
}

TEST_F(ExecTest, AmbientCapabilitiesSurviveForAUser) {
  SKIP_IF(!HaveCapability(CAP_NET_RAW));
  constexpr uint64_t raw = Bit(CAP_NET_RAW);
  EXPECT_TRUE(ExecAndCheck(
      [] {
        CHILD_CHECK(Prctl(PR_SET_KEEPCAPS, 1) == 0);
        CHILD_CHECK(syscall(SYS_setresuid, kNobody, kNobody, kNobody) == 0);
        CHILD_CHECK(Capset(Caps{raw, raw, raw}) == 0);
        CHILD_CHECK(Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW) == 0);
      },
      // KEEP_CAPS is cleared by execve.
      "euid=65534 inh=" + Hex(raw) + " prm=" + Hex(raw) + " eff=" + Hex(raw) + " amb=" + Hex(raw) +
          " securebits=0 secure=0"));
}

TEST_F(ExecTest, DumpableComesBack) {
  EXPECT_TRUE(ExecAndCheck([] { CHILD_CHECK(prctl(PR_SET_DUMPABLE, 0) == 0); }, "dumpable=1"));
}

TEST_F(ExecTest, AnEffectiveUidOtherThanTheRealOneIsSecure) {
  // Root with euid 65534: the permitted set comes from the real uid 0, the
  // effective one does not; the saved uid becomes the effective one.
  EXPECT_TRUE(ExecAndCheck(
      [] { CHILD_CHECK(syscall(SYS_setresuid, kNoId, kNobody, kNoId) == 0); },
      "ruid=0 euid=65534 suid=65534 fsuid=65534 prm=" + Hex(bnd_) + " eff=0 secure=1 dumpable=0"));
}

TEST_F(ExecTest, SetUserIdRootFromAUser) {
  SetIdCopy prog("/tmp", 0, 0, 04755);
  ASSERT_TRUE(prog.ok()) << ErrnoName(errno);
  EXPECT_TRUE(ExecAndCheck([] { DropPrivilegesInChild(); },
                           "ruid=65534 euid=0 suid=0 fsuid=0 rgid=65534 egid=65534 prm=" +
                               Hex(bnd_) + " eff=" + Hex(bnd_) + " secure=1 dumpable=0",
                           prog.path()));
}

TEST_F(ExecTest, SetUserIdIsIgnoredUnderNoNewPrivs) {
  SetIdCopy prog("/tmp", 0, 0, 04755);
  ASSERT_TRUE(prog.ok()) << ErrnoName(errno);
  EXPECT_TRUE(ExecAndCheck(
      [] {
        DropPrivilegesInChild();
        CHILD_CHECK(Prctl(PR_SET_NO_NEW_PRIVS, 1) == 0);
      },
      "ruid=65534 euid=65534 suid=65534 prm=0 eff=0 nnp=1 secure=0", prog.path()));
}

TEST_F(ExecTest, SetUserIdToAnotherUser) {
  SetIdCopy prog("/tmp", 4321, 0, 04755);
  ASSERT_TRUE(prog.ok()) << ErrnoName(errno);
  EXPECT_TRUE(ExecAndCheck([] { DropPrivilegesInChild(); },
                           "ruid=65534 euid=4321 suid=4321 fsuid=4321 prm=0 eff=0 secure=1",
                           prog.path()));
}

TEST_F(ExecTest, SetGroupIdNeedsGroupExecute) {
  SetIdCopy prog("/tmp", 0, 4242, 02755);
  ASSERT_TRUE(prog.ok()) << ErrnoName(errno);
  EXPECT_TRUE(ExecAndCheck([] { DropPrivilegesInChild(); },
                           "rgid=65534 egid=4242 sgid=4242 fsgid=4242 euid=65534 secure=1",
                           prog.path()));
  // Without group execute the bit means mandatory locking, not set-group-ID.
  SetIdCopy locking("/tmp", 0, 4242, 02745);
  ASSERT_TRUE(locking.ok()) << ErrnoName(errno);
  EXPECT_TRUE(ExecAndCheck([] { DropPrivilegesInChild(); }, "egid=65534 sgid=65534 secure=0",
                           locking.path()));
}

TEST_F(ExecTest, SetUserIdIsIgnoredOnANosuidMount) {
  // The sandbox's /dev/shm is nosuid; natively, the child mounts a nosuid
  // tmpfs in a mount namespace of its own.
  struct statvfs sv;
  const bool shm_nosuid = statvfs("/dev/shm", &sv) == 0 && (sv.f_flag & ST_NOSUID) &&
                          !(sv.f_flag & (ST_NOEXEC | ST_RDONLY));
  if (!shm_nosuid) {
    SKIP_IF(IsRunningInSandbox());
    SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  }
  std::string dir = "/dev/shm";
  if (!shm_nosuid) {
    char tmpl[] = "/tmp/cred-test-mnt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << ErrnoName(errno);
    dir = tmpl;
  }
  const std::string path = dir + "/cred-test-nosuid";
  Cleanup remove([&] {
    if (shm_nosuid) {
      unlink(path.c_str());
    } else {
      rmdir(dir.c_str());  // the mount went with the child's namespace
    }
  });
  EXPECT_TRUE(ExecAndCheck(
      [&] {
        if (!shm_nosuid) {
          CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
          CHILD_CHECK(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
          CHILD_CHECK(mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID, "mode=0755") == 0);
        }
        CHILD_CHECK(CopyFile("/proc/self/exe", path.c_str()));
        CHILD_CHECK(chmod(path.c_str(), 04755) == 0);
        DropPrivilegesInChild();
      },
      "ruid=65534 euid=65534 suid=65534 prm=0 eff=0 secure=0", path));
}

}  // namespace
}  // namespace syscalls_test
