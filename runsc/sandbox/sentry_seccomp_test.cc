// The Sentry's filter: opening a host path or executing after boot is fatal.
#include "runsc/sandbox/sentry_seccomp.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace runsc {
namespace {

// Runs `fn` in a child with the filter installed; returns its wait status.
template <typename F>
int InFilteredChild(F fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!InstallSentryFilter().ok()) _exit(90);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

bool Refused(int status) {
#ifdef SANDBOX_SANITIZER_RUNTIME
  return WIFEXITED(status) && WEXITSTATUS(status) == EACCES;
#else
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
#endif
}

TEST(SentrySeccompTest, OpeningAHostPathIsFatal) {
  int status = InFilteredChild([] {
    int fd = open("/etc/hostname", O_RDONLY);
    return fd >= 0 ? 0 : errno;
  });
  EXPECT_TRUE(Refused(status)) << status;
  status = InFilteredChild([] {
    int fd = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
    return fd >= 0 ? 0 : errno;
  });
  EXPECT_TRUE(Refused(status)) << status;
}

TEST(SentrySeccompTest, ExecutingIsFatal) {
  int status = InFilteredChild([] {
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execv("/bin/true", argv);
    return errno;
  });
  EXPECT_TRUE(Refused(status)) << status;
}

TEST(SentrySeccompTest, WhatTheSentryDoesStillWorks) {
  int status = InFilteredChild([] {
    // fds it has, pipes, memfds, eventfds: all fine.
    int p[2];
    if (pipe(p) != 0) return 1;
    if (write(p[1], "x", 1) != 1) return 2;
    char c;
    if (read(p[0], &c, 1) != 1) return 3;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(SentrySeccompTest, ContendedMutexesNeedNoHostFiles) {
  // absl::Mutex asks for the CPU count on its first contention (glibc reads
  // /sys for it): the filter's installation caches it first.
  int status = InFilteredChild([] {
    absl::Mutex mu;
    int n = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < 20000; ++j) {
          absl::MutexLock l(&mu);
          ++n;
        }
      });
    }
    for (auto& t : threads) t.join();
    return n == 80000 ? 0 : 1;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(SentrySeccompTest, ThreadHeapsShrinkWithoutHostFiles) {
  // glibc reads /proc/sys/vm/overcommit_memory the first time a thread
  // arena's heap shrinks: the filter's installation makes that happen first.
  int status = InFilteredChild([] {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([] {
        for (int round = 0; round < 3; ++round) {
          std::vector<void*> blocks;
          for (int j = 0; j < 100; ++j) blocks.push_back(malloc(100 * 1024));
          for (void* b : blocks) free(b);
        }
      });
    }
    for (auto& t : threads) t.join();
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace runsc
