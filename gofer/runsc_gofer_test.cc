// End-to-end tests of `runsc gofer`: the real binary, confined, serving a tree
// over a socketpair.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gofer/client.h"
#include "gofer/confine.h"
#include "gofer/test_util.h"
#include "gtest/gtest.h"

namespace gofer {
namespace {

using ::gofer::testing::MakeTempDir;
using ::gofer::testing::ReadFd;
using ::gofer::testing::WriteFile;

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of `key:` in /proc/<pid>/status.
std::string StatusField(pid_t pid, const std::string& key) {
  std::istringstream in(ReadHostFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      size_t v = line.find_first_not_of(" \t", key.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "";
}

struct Gofer {
  pid_t pid = -1;
  std::unique_ptr<Client> client;
};

Gofer StartGofer(const std::vector<std::string>& extra) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sv[1], 3);  // dup2 clears FD_CLOEXEC on the copy
    std::vector<std::string> args = {RUNSC_PATH, "gofer", "--"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--socket-fd=3");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(sv[1]);
  Gofer g;
  g.pid = pid;
  g.client = std::make_unique<Client>(UniqueFd(sv[0]), ClientOptions{30000});
  return g;
}

// Hangs up and returns the gofer's wait status.
int StopGofer(Gofer& g) {
  g.client.reset();
  int status = 0;
  waitpid(g.pid, &status, 0);
  return status;
}

TEST(RunscGoferTest, ServesTheHostRootReadOnlyConfined) {
  Gofer g = StartGofer({"--root=/", "--read-only"});
  ASSERT_GT(g.pid, 0);
  auto a = g.client->Attach();
  ASSERT_TRUE(a.ok()) << sentry::ErrnoName(a.error().value());
  EXPECT_TRUE(a->read_only);
  auto w = g.client->Walk(a->root.handle, {"etc", "os-release"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->error.value(), 0);
  ASSERT_EQ(w->entries.size(), 2u);
  uint64_t file = w->entries[1].handle;
  if (S_ISLNK(w->entries[1].stat.st_mode)) {
    // Debian: /etc/os-release -> ../usr/lib/os-release; the client resolves it.
    auto target = g.client->Readlink(file);
    ASSERT_TRUE(target.ok());
    EXPECT_EQ(*target, "../usr/lib/os-release");
    auto w2 = g.client->Walk(a->root.handle, {"usr", "lib", "os-release"});
    ASSERT_TRUE(w2.ok());
    ASSERT_EQ(w2->entries.size(), 3u);
    file = w2->entries[2].handle;
  }
  auto fd = g.client->Open(file, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadFd(fd->get()), ReadHostFile("/etc/os-release"));

  // Mutations fail with EROFS.
  auto tmp = g.client->Walk(a->root.handle, {"tmp"});
  ASSERT_TRUE(tmp.ok());
  ASSERT_EQ(tmp->entries.size(), 1u);
  auto mk = g.client->Mkdir(tmp->entries[0].handle, "gofer-should-not-exist", 0755);
  ASSERT_FALSE(mk.ok());
  EXPECT_EQ(mk.error().value(), EROFS);
  auto cr = g.client->Create(tmp->entries[0].handle, "gofer-should-not-exist", O_RDWR, 0644);
  ASSERT_FALSE(cr.ok());
  EXPECT_EQ(cr.error().value(), EROFS);
  auto wr = g.client->Open(file, O_WRONLY);
  ASSERT_FALSE(wr.ok());
  EXPECT_EQ(wr.error().value(), EROFS);

  // Confinement: seccomp filter mode, no_new_privs, only the kept capabilities,
  // its own mount namespace.
  EXPECT_EQ(StatusField(g.pid, "Seccomp"), "2");
  EXPECT_EQ(StatusField(g.pid, "NoNewPrivs"), "1");
  char caps[32];
  snprintf(caps, sizeof(caps), "%016llx", static_cast<unsigned long long>(kGoferCapabilities));
  EXPECT_EQ(StatusField(g.pid, "CapEff"), caps);
  EXPECT_EQ(StatusField(g.pid, "CapPrm"), caps);
  EXPECT_EQ(StatusField(g.pid, "CapBnd"), caps);
  EXPECT_EQ(StatusField(g.pid, "CapInh"), "0000000000000000");
  char ours[64] = {}, theirs[64] = {};
  ASSERT_GT(readlink("/proc/self/ns/mnt", ours, sizeof(ours)), 0);
  ASSERT_GT(
      readlink(("/proc/" + std::to_string(g.pid) + "/ns/mnt").c_str(), theirs, sizeof(theirs)), 0);
  EXPECT_STRNE(ours, theirs);
  // Only stdio, the socket and the server's own fds: nothing inherited.
  int status = StopGofer(g);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

// Every operation through the real, seccomp-confined gofer: a syscall missing
// from the filter would kill it (and the client would see EIO).
TEST(RunscGoferTest, EveryOperationPassesTheSeccompFilter) {
  std::string dir = MakeTempDir("gofer-e2e");
  ASSERT_FALSE(dir.empty());
  ::gofer::testing::TreeCleanup cleanup{dir};
  ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir + "/sub/f", "abc"));
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::string sock_path = dir + "/sock";
  memcpy(addr.sun_path, sock_path.data(), sock_path.size());
  ASSERT_EQ(bind(listener, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);

  Gofer g = StartGofer({"--root=" + dir});
  ASSERT_GT(g.pid, 0);
  Client& c = *g.client;
  auto a = c.Attach();
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->read_only);
  const uint64_t root = a->root.handle;
#define OK(expr)                                                                    \
  do {                                                                              \
    auto&& _r = (expr);                                                             \
    ASSERT_TRUE(_r.ok()) << #expr << ": " << sentry::ErrnoName(_r.error().value()); \
  } while (0)
  auto w = c.Walk(root, {"sub", "f"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->entries.size(), 2u);
  const uint64_t sub = w->entries[0].handle, f = w->entries[1].handle;
  OK(c.Stat(f));
  OK(c.StatFS(root));
  auto fd = c.Open(f, O_RDWR);
  OK(fd);
  EXPECT_EQ(ReadFd(fd->get()), "abc");
  auto cr = c.Create(sub, "new", O_RDWR, 0644, Owner{1000, 1000});
  OK(cr);
  ASSERT_EQ(write(cr->fd.get(), "xyz", 3), 3);
  auto d = c.Mkdir(root, "dir", 0755, Owner{1000, 1000});
  OK(d);
  OK(c.Mknod(d->handle, "fifo", S_IFIFO | 0644));
  auto sl = c.Symlink(d->handle, "sl", "../sub/f");
  OK(sl);
  OK(c.Readlink(sl->handle));
  OK(c.Link(f, d->handle, "hard"));
  OK(c.Rename(sub, "new", d->handle, "renamed", 0));
  OK(c.Rename(d->handle, "renamed", d->handle, "hard", RENAME_EXCHANGE));
  OK(c.Getdents(d->handle, 0, 4096));
  SetAttrArgs args;
  args.mode = 0600;
  args.uid = 1;
  args.gid = 1;
  args.size = 1;
  args.mtime = timespec{0, UTIME_NOW};
  OK(c.SetAttr(f, args));
  OK(c.Fsync(f, false));
  OK(c.Fsync(f, true));
  OK(c.Fallocate(f, 0, 0, 4096));
  if (setxattr((dir + "/sub/f").c_str(), "user.probe", "1", 1, 0) == 0) {
    OK(c.SetXattr(f, "user.a", "b", 0));
    OK(c.GetXattr(f, "user.a"));
    OK(c.ListXattr(f));
    OK(c.RemoveXattr(f, "user.a"));
  }
  // Through the magic link, on a symlink handle too (never followed).
  OK(c.ListXattr(sl->handle));
  EXPECT_FALSE(c.GetXattr(sl->handle, "security.none").ok());
  auto s = c.Walk(root, {"sock"});
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->entries.size(), 1u);
  auto conn = c.Connect(s->entries[0].handle, SOCK_STREAM);
  OK(conn);
  int acc = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(acc, 0);
  close(acc);
  OK(c.Unlink(d->handle, "fifo", 0));
  OK(c.Unlink(sub, "f", 0));
  OK(c.Close({f, sub}));
  EXPECT_FALSE(c.connection_lost());
#undef OK
  int status = StopGofer(g);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  struct stat st;
  ASSERT_EQ(stat((dir + "/dir/hard").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);  // "new", exchanged into place with its owner
  close(listener);
}

// A client whose fd table is full cannot take a donated fd (the kernel drops
// it and sets MSG_CTRUNC): that call is EMFILE, and the connection lives on.
TEST(RunscGoferTest, DonatedFdThatDoesNotFitIsEmfileNotALostConnection) {
#ifdef SANDBOX_SANITIZER_RUNTIME
  GTEST_SKIP() << "UBSan's vptr check needs free fds (it probes memory through a pipe), and "
                  "this test fills the fd table";
#endif
  Gofer g = StartGofer({"--root=/", "--read-only"});
  ASSERT_GT(g.pid, 0);
  auto a = g.client->Attach();
  ASSERT_TRUE(a.ok());
  auto w = g.client->Walk(a->root.handle, {"usr", "bin", "busybox"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->entries.size(), 3u);
  const uint64_t file = w->entries[2].handle;

  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  struct rlimit low = old_limit;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  auto full = g.client->Open(file, O_RDONLY);
  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().value(), EMFILE);
  EXPECT_FALSE(g.client->connection_lost());
  auto again = g.client->Open(file, O_RDONLY);
  EXPECT_TRUE(again.ok());
  int status = StopGofer(g);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

TEST(RunscGoferTest, BadArgumentsExitTwo) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(RUNSC_PATH, RUNSC_PATH, "gofer", "--", "--root=/", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace gofer
