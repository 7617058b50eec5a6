// unshare(2), setns(2), sethostname(2)/setdomainname(2) and /proc/<pid>/ns.
// Anything that changes a namespace runs in a forked child, so the host (as
// root natively) and the test process keep theirs.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

int Setns(int fd, int type) { return static_cast<int>(syscall(SYS_setns, fd, type)); }
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

std::string Nodename() {
  struct utsname u;
  if (uname(&u) != 0) return "<uname failed>";
  return u.nodename;
}

std::string ReadLink(const std::string& path) {
  char buf[256];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::string ReadFile(const char* path) {
  const int fd = open(path, O_RDONLY);
  if (fd < 0) return "";
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// "uts:[4026531838]" -> 4026531838, or 0.
unsigned long LinkInode(const std::string& link) {
  const size_t open = link.find(":[");
  if (open == std::string::npos || link.back() != ']') return 0;
  return strtoul(link.c_str() + open + 2, nullptr, 10);
}

// --- unshare: flags ---

TEST(UnshareTest, ZeroFlagsSucceed) { EXPECT_THAT(unshare(0), SyscallSucceeds()); }

TEST(UnshareTest, FlagsUnshareDoesNotKnowAreEinval) {
  EXPECT_THAT(unshare(CLONE_VFORK), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(unshare(CLONE_PARENT), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(unshare(CLONE_SETTLS), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(unshare(CLONE_PIDFD), SyscallFailsWithErrno(EINVAL));
}

TEST(UnshareTest, ThreadSighandVmOfALoneThreadSucceed) {
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_THREAD) == 0);
    CHILD_CHECK(unshare(CLONE_SIGHAND) == 0);
    CHILD_CHECK(unshare(CLONE_VM) == 0);
    CHILD_CHECK(unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM) == 0);
  }));
}

TEST(UnshareTest, ThreadWithAnotherThreadIsEinval) {
  EXPECT_TRUE(InForkedChild([] {
    std::atomic<bool> stop{false};
    std::thread th([&] {
      while (!stop.load()) usleep(1000);
    });
    const int r = unshare(CLONE_THREAD);
    const int err = errno;
    const int r2 = unshare(CLONE_VM);
    const int err2 = errno;
    stop = true;
    th.join();
    errno = err;
    CHILD_CHECK(r == -1 && err == EINVAL);
    errno = err2;
    CHILD_CHECK(r2 == -1 && err2 == EINVAL);
  }));
}

alignas(16) char g_stack[64 * 1024];

int UnshareInChild(void* arg) {
  const int flags = *static_cast<int*>(arg);
  if (unshare(flags) == 0) return 0;
  return errno == EINVAL ? 1 : 2;
}

TEST(UnshareTest, SharedMemoryOrHandlersAreEinval) {
  for (int flags : {CLONE_VM, CLONE_SIGHAND}) {
    int arg = flags;
    const pid_t pid =
        clone(UnshareInChild, g_stack + sizeof(g_stack), CLONE_VM | CLONE_SIGHAND | SIGCHLD, &arg);
    ASSERT_THAT(pid, SyscallSucceeds());
    const int status = WaitStatus(pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << flags << " " << status;
  }
}

// --- unshare: CLONE_FILES and CLONE_FS ---

TEST(UnshareTest, FilesGivesTheCallerItsOwnTable) {
  for (bool do_unshare : {false, true}) {
    const long r = syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (r == 0) {
      if (do_unshare && unshare(CLONE_FILES) != 0) _exit(100);
      const int fd = open("/dev/null", O_RDONLY);
      _exit(fd < 0 ? 101 : fd);
    }
    ASSERT_THAT(r, SyscallSucceeds());
    const int status = WaitStatus(static_cast<pid_t>(r));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) < 100) << status;
    const int fd = WEXITSTATUS(status);
    if (do_unshare) {
      EXPECT_THAT(fcntl(fd, F_GETFD), SyscallFailsWithErrno(EBADF));
    } else {
      EXPECT_THAT(fcntl(fd, F_GETFD), SyscallSucceeds());  // the shared table has it
      close(fd);
    }
  }
}

TEST(UnshareTest, FsGivesTheCallerItsOwnCwd) {
  char before[4096];
  ASSERT_NE(getcwd(before, sizeof(before)), nullptr);
  for (bool do_unshare : {false, true}) {
    const long r = syscall(SYS_clone, CLONE_FS | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (r == 0) {
      if (do_unshare && unshare(CLONE_FS) != 0) _exit(1);
      _exit(chdir("/proc") == 0 ? 0 : 2);
    }
    ASSERT_THAT(r, SyscallSucceeds());
    EXPECT_EQ(WaitStatus(static_cast<pid_t>(r)), 0);
    char now[4096];
    ASSERT_NE(getcwd(now, sizeof(now)), nullptr);
    if (do_unshare) {
      EXPECT_STREQ(now, before);
    } else {
      EXPECT_STREQ(now, "/proc");  // the shared context moved
      ASSERT_THAT(chdir(before), SyscallSucceeds());
    }
  }
}

// --- unshare: namespaces and their permissions ---

TEST(UnshareTest, NamespacesNeedCapSysAdmin) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    for (int ns :
         {CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP}) {
      CHILD_CHECK(unshare(ns) == -1 && errno == EPERM);
    }
  }));
}

TEST(UnshareTest, NewutsKeepsTheNamesAndIsolatesChanges) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const std::string host = Nodename();
  EXPECT_TRUE(InForkedChild([host] {
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    CHILD_CHECK(Nodename() == host);
    CHILD_CHECK(sethostname("unshared-uts", 12) == 0);
    CHILD_CHECK(Nodename() == "unshared-uts");
    // A child inherits the namespace.
    const pid_t pid = fork();
    if (pid == 0) _exit(Nodename() == "unshared-uts" ? 0 : 1);
    CHILD_CHECK(pid > 0 && WaitStatus(pid) == 0);
  }));
  EXPECT_EQ(Nodename(), host);
}

TEST(UnshareTest, NewutsIsVisibleInProcSys) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    CHILD_CHECK(sethostname("proc-uts", 8) == 0);
    CHILD_CHECK(setdomainname("dom.example", 11) == 0);
    CHILD_CHECK(ReadFile("/proc/sys/kernel/hostname") == "proc-uts\n");
    CHILD_CHECK(ReadFile("/proc/sys/kernel/domainname") == "dom.example\n");
    // Root may write them: the text up to a newline.
    const int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(write(fd, "by-proc\n", 8) == 8);
    close(fd);
    CHILD_CHECK(Nodename() == "by-proc");
  }));
}

TEST(UnshareTest, NewipcIsolatesSharedMemory) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const key_t key = 0x5e7c10 + getpid() % 1000;
  const int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_THAT(id, SyscallSucceeds());
  EXPECT_TRUE(InForkedChild([key] {
    CHILD_CHECK(shmget(key, 0, 0) >= 0);
    CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
    CHILD_CHECK(shmget(key, 0, 0) == -1 && errno == ENOENT);
    CHILD_CHECK(shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600) >= 0);
  }));
  // The parent's namespace still has its segment, and only it.
  EXPECT_THAT(shmget(key, 0, 0), SyscallSucceedsWithValue(id));
  struct shmid_ds ds;
  ASSERT_THAT(shmctl(id, IPC_STAT, &ds), SyscallSucceeds());
  EXPECT_EQ(ds.shm_segsz, 4096u);
  EXPECT_THAT(shmctl(id, IPC_RMID, nullptr), SyscallSucceeds());
}

TEST(UnshareTest, NewpidMakesTheNextChildInit) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_NEWPID) == 0);
    const pid_t pid = fork();
    if (pid == 0) _exit(getpid() == 1 ? 0 : 1);
    CHILD_CHECK(pid > 0 && WaitStatus(pid) == 0);
  }));
}

// --- sethostname / setdomainname ---

TEST(SethostnameTest, UnprivilegedIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    DropPrivilegesInChild();
    CHILD_CHECK(sethostname("x", 1) == -1 && errno == EPERM);
    CHILD_CHECK(setdomainname("x", 1) == -1 && errno == EPERM);
    // The capability comes before the length.
    CHILD_CHECK(syscall(SYS_sethostname, "x", -1) == -1 && errno == EPERM);
  }));
}

TEST(SethostnameTest, LengthAndAddressErrors) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    const std::string before = Nodename();
    char name[65];
    memset(name, 'a', sizeof(name));
    CHILD_CHECK(syscall(SYS_sethostname, name, 65) == -1 && errno == EINVAL);
    CHILD_CHECK(syscall(SYS_sethostname, name, -1) == -1 && errno == EINVAL);
    CHILD_CHECK(syscall(SYS_setdomainname, name, 65) == -1 && errno == EINVAL);
    CHILD_CHECK(syscall(SYS_sethostname, 8, 4) == -1 && errno == EFAULT);
    CHILD_CHECK(syscall(SYS_setdomainname, 8, 4) == -1 && errno == EFAULT);
    CHILD_CHECK(Nodename() == before);
  }));
}

TEST(SethostnameTest, LongestAndEmptyNames) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    const std::string longest(64, 'h');
    CHILD_CHECK(sethostname(longest.data(), 64) == 0);
    CHILD_CHECK(Nodename() == longest);
    CHILD_CHECK(sethostname("", 0) == 0);
    CHILD_CHECK(Nodename().empty());
    // The length is taken as given: a name with a NUL in it ends there.
    CHILD_CHECK(sethostname("ab\0cd", 5) == 0);
    CHILD_CHECK(Nodename() == "ab");
  }));
}

TEST(SethostnameTest, DomainnameShowsInUname) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    CHILD_CHECK(setdomainname("example.org", 11) == 0);
    struct utsname u;
    CHILD_CHECK(uname(&u) == 0 && strcmp(u.domainname, "example.org") == 0);
    char buf[64];
    CHILD_CHECK(getdomainname(buf, sizeof(buf)) == 0 && strcmp(buf, "example.org") == 0);
  }));
}

// --- /proc/<pid>/ns ---

TEST(ProcNsTest, LinksNameTheirKindAndInode) {
  for (const char* kind : {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}) {
    const std::string link = ReadLink(std::string("/proc/self/ns/") + kind);
    EXPECT_EQ(link.rfind(std::string(kind) + ":[", 0), 0u) << kind << " " << link;
    EXPECT_NE(LinkInode(link), 0u) << link;
  }
  EXPECT_EQ(ReadLink("/proc/self/ns/pid_for_children").rfind("pid:[", 0), 0u);
}

TEST(ProcNsTest, StatOfTheLinkIsTheNamespaceInode) {
  const unsigned long ino = LinkInode(ReadLink("/proc/self/ns/uts"));
  struct stat st;
  ASSERT_THAT(stat("/proc/self/ns/uts", &st), SyscallSucceeds());
  EXPECT_EQ(st.st_ino, ino);
  const int fd = open("/proc/self/ns/uts", O_RDONLY);
  ASSERT_THAT(fd, SyscallSucceeds());
  ASSERT_THAT(fstat(fd, &st), SyscallSucceeds());
  EXPECT_EQ(st.st_ino, ino);
  close(fd);
}

TEST(ProcNsTest, ChildSharesTheParentsNamespaces) {
  const std::string mine = ReadLink("/proc/self/ns/uts");
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(pid, SyscallSucceeds());
  EXPECT_EQ(ReadLink("/proc/" + std::to_string(pid) + "/ns/uts"), mine);
  EXPECT_EQ(ReadLink("/proc/" + std::to_string(pid) + "/ns/ipc"), ReadLink("/proc/self/ns/ipc"));
  KillAndReap(pid);
}

TEST(ProcNsTest, UnshareChangesTheLinks) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const std::string uts = ReadLink("/proc/self/ns/uts");
  const std::string ipc = ReadLink("/proc/self/ns/ipc");
  const std::string mnt = ReadLink("/proc/self/ns/mnt");
  EXPECT_TRUE(InForkedChild([=] {
    CHILD_CHECK(unshare(CLONE_NEWUTS | CLONE_NEWIPC) == 0);
    CHILD_CHECK(ReadLink("/proc/self/ns/uts") != uts);
    CHILD_CHECK(ReadLink("/proc/self/ns/uts").rfind("uts:[", 0) == 0);
    CHILD_CHECK(ReadLink("/proc/self/ns/ipc") != ipc);
    CHILD_CHECK(ReadLink("/proc/self/ns/mnt") == mnt);
  }));
}

TEST(ProcNsTest, NsFileHasNoReadAndKnowsItsType) {
  const int fd = open("/proc/self/ns/uts", O_RDONLY);
  ASSERT_THAT(fd, SyscallSucceeds());
  char c;
  EXPECT_THAT(read(fd, &c, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ioctl(fd, NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWUTS));
  close(fd);
  const int ipc = open("/proc/self/ns/ipc", O_RDONLY);
  ASSERT_THAT(ipc, SyscallSucceeds());
  EXPECT_THAT(ioctl(ipc, NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWIPC));
  close(ipc);
}

// --- setns ---

TEST(SetnsTest, BadFdIsEbadf) { EXPECT_THAT(Setns(-1, 0), SyscallFailsWithErrno(EBADF)); }

TEST(SetnsTest, NotANamespaceIsEinval) {
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_THAT(fd, SyscallSucceeds());
  EXPECT_THAT(Setns(fd, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Setns(fd, CLONE_NEWUTS), SyscallFailsWithErrno(EINVAL));
  close(fd);
}

TEST(SetnsTest, WrongTypeIsEinval) {
  const int fd = open("/proc/self/ns/uts", O_RDONLY);
  ASSERT_THAT(fd, SyscallSucceeds());
  EXPECT_THAT(Setns(fd, CLONE_NEWIPC), SyscallFailsWithErrno(EINVAL));
  close(fd);
}

TEST(SetnsTest, OwnUserNamespaceIsEinval) {
  const int fd = open("/proc/self/ns/user", O_RDONLY);
  ASSERT_THAT(fd, SyscallSucceeds());
  EXPECT_THAT(Setns(fd, CLONE_NEWUSER), SyscallFailsWithErrno(EINVAL));
  close(fd);
}

TEST(SetnsTest, UnprivilegedIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    const int uts = open("/proc/self/ns/uts", O_RDONLY);
    const int ipc = open("/proc/self/ns/ipc", O_RDONLY);
    CHILD_CHECK(uts >= 0 && ipc >= 0);
    DropPrivilegesInChild();
    CHILD_CHECK(Setns(uts, CLONE_NEWUTS) == -1 && errno == EPERM);
    CHILD_CHECK(Setns(ipc, 0) == -1 && errno == EPERM);
  }));
}

TEST(SetnsTest, ReturnsToTheOriginalUtsNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const std::string host = Nodename();
  EXPECT_TRUE(InForkedChild([host] {
    const int fd = open("/proc/self/ns/uts", O_RDONLY);
    CHILD_CHECK(fd >= 0);
    const std::string link = ReadLink("/proc/self/ns/uts");
    CHILD_CHECK(unshare(CLONE_NEWUTS) == 0);
    CHILD_CHECK(sethostname("away", 4) == 0);
    const int away = open("/proc/self/ns/uts", O_RDONLY);
    CHILD_CHECK(away >= 0);
    CHILD_CHECK(Setns(fd, CLONE_NEWUTS) == 0);
    CHILD_CHECK(Nodename() == host);
    CHILD_CHECK(ReadLink("/proc/self/ns/uts") == link);
    // And back again, with 0 for "any type".
    CHILD_CHECK(Setns(away, 0) == 0);
    CHILD_CHECK(Nodename() == "away");
  }));
}

TEST(SetnsTest, IpcNamespaceBringsItsSegments) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(InForkedChild([] {
    const int orig = open("/proc/self/ns/ipc", O_RDONLY);
    CHILD_CHECK(orig >= 0);
    CHILD_CHECK(unshare(CLONE_NEWIPC) == 0);
    const key_t key = 0x5e7c20;
    const int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    CHILD_CHECK(id >= 0);
    const int mine = open("/proc/self/ns/ipc", O_RDONLY);
    CHILD_CHECK(mine >= 0);
    CHILD_CHECK(Setns(orig, CLONE_NEWIPC) == 0);
    CHILD_CHECK(shmget(key, 0, 0) == -1 && errno == ENOENT);
    CHILD_CHECK(Setns(mine, CLONE_NEWIPC) == 0);
    CHILD_CHECK(shmget(key, 0, 0) == id);
  }));
}

TEST(SetnsTest, PidfdFlagErrors) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(pid, SyscallSucceeds());
  const int pidfd = PidfdOpen(pid);
  ASSERT_THAT(pidfd, SyscallSucceeds());
  EXPECT_THAT(Setns(pidfd, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Setns(pidfd, CLONE_VM), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Setns(pidfd, CLONE_NEWUTS | CLONE_FILES), SyscallFailsWithErrno(EINVAL));
  // The same user namespace as the caller's.
  EXPECT_THAT(Setns(pidfd, CLONE_NEWUSER), SyscallFailsWithErrno(EINVAL));
  close(pidfd);
  KillAndReap(pid);
}

TEST(SetnsTest, PidfdOfAReapedProcessIsEsrch) {
  const pid_t pid = ForkPausingChild();
  ASSERT_THAT(pid, SyscallSucceeds());
  const int pidfd = PidfdOpen(pid);
  ASSERT_THAT(pidfd, SyscallSucceeds());
  KillAndReap(pid);
  EXPECT_THAT(Setns(pidfd, CLONE_NEWUTS), SyscallFailsWithErrno(ESRCH));
  close(pidfd);
}

TEST(SetnsTest, PidfdJoinsAnotherProcessesUtsNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  int ready[2];
  ASSERT_THAT(pipe(ready), SyscallSucceeds());
  const pid_t target = fork();
  if (target == 0) {
    close(ready[0]);
    if (unshare(CLONE_NEWUTS) != 0 || sethostname("target-uts", 10) != 0) _exit(1);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    for (;;) pause();
  }
  ASSERT_THAT(target, SyscallSucceeds());
  close(ready[1]);
  char c;
  ASSERT_THAT(read(ready[0], &c, 1), SyscallSucceedsWithValue(1));
  close(ready[0]);
  const std::string host = Nodename();
  EXPECT_TRUE(InForkedChild([target] {
    const int pidfd = PidfdOpen(target);
    CHILD_CHECK(pidfd >= 0);
    CHILD_CHECK(Setns(pidfd, CLONE_NEWUTS) == 0);
    CHILD_CHECK(Nodename() == "target-uts");
  }));
  EXPECT_EQ(Nodename(), host);
  KillAndReap(target);
}

TEST(SetnsTest, OwnMountNamespaceMovesRootAndCwdToItsRoot) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN) || !HaveCapability(CAP_SYS_CHROOT));
  EXPECT_TRUE(InForkedChild([] {
    const int fd = open("/proc/self/ns/mnt", O_RDONLY);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(chdir("/proc") == 0);
    CHILD_CHECK(Setns(fd, CLONE_NEWNS) == 0);
    char cwd[256];
    CHILD_CHECK(getcwd(cwd, sizeof(cwd)) != nullptr && strcmp(cwd, "/") == 0);
  }));
}

}  // namespace
}  // namespace syscalls_test
