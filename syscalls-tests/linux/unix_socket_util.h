// What the unix-socket families (unix_socket, unix_stream, unix_dgram,
// unix_seqpacket, unix_scm) share: addresses, socket pairs, a scratch
// directory for socket files, and a way to see SIGPIPE without dying of it.
#ifndef SYSCALLS_TESTS_LINUX_UNIX_SOCKET_UTIL_H_
#define SYSCALLS_TESTS_LINUX_UNIX_SOCKET_UTIL_H_

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"

namespace syscalls_test {

// A sockaddr_un and the length to pass with it.
struct UnixAddr {
  sockaddr_un addr{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// "\0name": an abstract address (its length counts exactly the name).
inline UnixAddr Abstract(const std::string& name) {
  UnixAddr a;
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path + 1, name.data(), name.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

// A pathname address, NUL included in the length (as most programs pass it).
inline UnixAddr PathAddr(const std::string& path) {
  UnixAddr a;
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

// An abstract name no other test (or run) uses.
inline std::string UniqueName(const char* what) {
  static int n = 0;
  return std::string("syscalls-test-") + what + "-" + std::to_string(getpid()) + "-" +
         std::to_string(++n);
}

// A fresh directory for socket files, removed (with what is left in it)
// when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/unix-socket-test-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  bool ok() const { return !path_.empty(); }
  // A path in the directory, removed at the end.
  std::string File(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Two connected sockets of `type`.
struct Pair {
  FileDescriptor a, b;
};

inline ::testing::AssertionResult MakePair(int type, Pair* p) {
  int sv[2];
  if (socketpair(AF_UNIX, type, 0, sv) != 0) {
    return ::testing::AssertionFailure() << "socketpair: " << ErrnoName(errno);
  }
  p->a.reset(sv[0]);
  p->b.reset(sv[1]);
  return ::testing::AssertionSuccess();
}

// A fixture with a connected pair of `Type` sockets, a() and b(), per test:
//   using UnixStreamTest = SocketPairTest<SOCK_STREAM>;
template <int Type>
class SocketPairTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakePair(Type, &p_)); }
  int a() const { return p_.a.get(); }
  int b() const { return p_.b.get(); }
  Pair p_;
};

// Blocks SIGPIPE for its life, so that a write that raises it leaves it
// pending instead of killing the test; Take() says whether it came (and
// consumes it).
class SigpipeCatcher {
 public:
  SigpipeCatcher() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    sigprocmask(SIG_BLOCK, &s, &old_);
    Take();  // nothing left over
  }
  ~SigpipeCatcher() {
    Take();
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  bool Take() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    const timespec zero{0, 0};
    return sigtimedwait(&s, nullptr, &zero) == SIGPIPE;
  }

 private:
  sigset_t old_;
};

// Runs `fn` in a forked child: success when it returns and the child exits
// 0. A failed CHILD_CHECK prints its report to stderr and exits 1. (Not
// InForkedChild: its report pipe needs pipe2.)
inline ::testing::AssertionResult InChild(const std::function<void()>& fn) {
  const pid_t pid = fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << ErrnoName(errno);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ::testing::AssertionFailure() << "waitpid: " << ErrnoName(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "child status " << status << " (see stderr)";
}

// A child that runs `fn` while the test goes on; Wait() (or the
// destructor) collects it: success when it returned and exited 0.
class Child {
 public:
  explicit Child(const std::function<void()>& fn) {
    pid_ = fork();
    if (pid_ == 0) {
      fn();
      _exit(0);
    }
  }
  ~Child() {
    if (pid_ > 0) (void)Wait();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  ::testing::AssertionResult Wait() {
    if (pid_ <= 0) return ::testing::AssertionFailure() << "no child";
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (got < 0) return ::testing::AssertionFailure() << "waitpid: " << ErrnoName(errno);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "child status " << status << " (see stderr)";
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_LINUX_UNIX_SOCKET_UTIL_H_
