// Tests of the helpers themselves (natively; not part of the suite's report).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

using ::testing::AnyOf;
using ::testing::Gt;

TEST(SyscallMatchersTest, SucceedsOnNonMinusOne) {
  EXPECT_THAT(0, SyscallSucceeds());
  EXPECT_THAT(7L, SyscallSucceedsWithValue(7));
  EXPECT_THAT(7L, SyscallSucceedsWithValue(Gt(3)));
  EXPECT_THAT(getpid(), SyscallSucceedsWithValue(Gt(0)));
}

TEST(SyscallMatchersTest, MinusOneIsAFailureWhateverErrnoSays) {
  errno = 0;
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(-1, SyscallSucceeds()), "which is a failure");
}

TEST(SyscallMatchersTest, FailsWithTheErrnoOfTheCall) {
  EXPECT_THAT(close(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(syscall(SYS_close, -1), SyscallFailsWithErrno(AnyOf(ErrnoIs(EBADF), ErrnoIs(EIO))));
  EXPECT_THAT(close(-1), SyscallFails());
}

TEST(SyscallMatchersTest, PointerResults) {
  EXPECT_THAT(mmap(nullptr, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              SyscallFailsWithErrno(EINVAL));
  void* p = mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_THAT(p, SyscallSucceeds());
  munmap(p, kPageSize);
}

TEST(SyscallMatchersTest, WrongErrnoNamesBoth) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(close(-1), SyscallFailsWithErrno(EINVAL)),
                          "EBADF (Bad file descriptor)");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(close(-1), SyscallFailsWithErrno(EINVAL)),
                          "EINVAL (Invalid argument)");
}

TEST(SyscallMatchersTest, SuccessIsNotAFailure) {
  errno = EINVAL;  // stale: must not matter
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(0, SyscallFailsWithErrno(EINVAL)), "which is a success");
}

// The failure message is built after gMock has allocated and formatted, which
// may change errno; the explanation must still show the call's errno.
TEST(SyscallMatchersTest, ErrnoIsTakenAtTheCall) {
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT((errno = ENOENT, -1), SyscallSucceedsWithValue(::testing::Truly([](long) {
                    errno = EIO;
                    return true;
                  }))),
      "ENOENT");
  EXPECT_THAT((errno = EPERM, -1), SyscallFailsWithErrno(::testing::Truly([](int e) {
                errno = EIO;
                return e == EPERM;
              })));
}

TEST(ErrnoNameTest, NamesAndNumbers) {
  EXPECT_EQ(ErrnoName(EINVAL), "EINVAL (Invalid argument)");
  EXPECT_EQ(ErrnoName(4242), "errno 4242");
}

TEST(CleanupTest, RunsOnceAtScopeEnd) {
  int runs = 0;
  {
    Cleanup c([&] { runs++; });
    Cleanup moved = std::move(c);
  }
  EXPECT_EQ(runs, 1);
  Cleanup released([&] { runs++; });
  released.Release();
  Cleanup early([&] { runs++; });
  early.Run();
  early.Run();
  EXPECT_EQ(runs, 2);
}

TEST(FileDescriptorTest, ClosesAndKeepsErrno) {
  int fds[2];
  ASSERT_THAT(pipe(fds), SyscallSucceeds());
  int raw = fds[0];
  {
    FileDescriptor a(fds[0]);
    FileDescriptor b(fds[1]);
    FileDescriptor moved = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(moved.get(), raw);
    errno = ENOENT;
  }
  EXPECT_EQ(errno, ENOENT);
  EXPECT_THAT(fcntl(raw, F_GETFD), SyscallFailsWithErrno(EBADF));
  EXPECT_FALSE(FileDescriptor(-1).valid());
}

TEST(MappingTest, UnmapsAtScopeEnd) {
  uintptr_t addr;
  {
    ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
    addr = m.addr();
    EXPECT_TRUE(IsMapped(addr, 2 * kPageSize));
    EXPECT_TRUE(ProbeReadable(addr));
    EXPECT_TRUE(ProbeWritable(addr));
  }
  EXPECT_FALSE(IsMapped(addr, kPageSize));
  EXPECT_FALSE(ProbeReadable(addr));
  EXPECT_FALSE(ProbeWritable(addr));
}

TEST(MappingTest, ProbesSeeProtections) {
  ASSERT_OK_AND_ASSIGN(Mapping none, Mapping::Anonymous(kPageSize, PROT_NONE));
  EXPECT_FALSE(ProbeReadable(none.addr()));
  EXPECT_FALSE(ProbeWritable(none.addr()));
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_TRUE(ProbeReadable(ro.addr()));
  EXPECT_FALSE(ProbeWritable(ro.addr()));
}

TEST(MappingTest, ErrorsCarryTheErrno) {
  auto m = Mapping::Anonymous(0);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(), EINVAL);
  EXPECT_EQ(m.Describe(), "mmap: EINVAL (Invalid argument)");
}

TEST(ForkedChildTest, ReportsSuccessAndFailure) {
  SKIP_IF_SANDBOX(kNoForkEntry, kNoForkWhy);
  EXPECT_TRUE(InForkedChild([] {}));
  auto failed = InForkedChild([] { CHILD_CHECK(close(-1) == 0); });
  EXPECT_FALSE(failed);
  EXPECT_THAT(failed.message(),
              ::testing::HasSubstr("CHILD_CHECK(close(-1) == 0) failed; errno EBADF"));
  auto died = InForkedChild([] { abort(); });
  EXPECT_FALSE(died);
  EXPECT_THAT(died.message(), ::testing::HasSubstr("killed by signal 6"));
  auto exited = InForkedChild([] { _exit(3); });
  EXPECT_THAT(exited.message(), ::testing::HasSubstr("exited with status 3"));
}

TEST(SignalCatcherTest, RecordsWhatArrivesAndRestoresTheActionAndMask) {
  sigset_t usr1, before;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_THAT(sigprocmask(SIG_BLOCK, &usr1, &before), SyscallSucceeds());
  Cleanup restore([&] { sigprocmask(SIG_SETMASK, &before, nullptr); });
  {
    SignalCatcher c(SIGUSR1, 0);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.count(), 0);
    EXPECT_EQ(c.value(), -1);
    EXPECT_FALSE(c.WaitFor(1, 1));
    // Unblocked: delivered before sigqueue returns.
    ASSERT_THAT(sigqueue(getpid(), SIGUSR1, sigval{.sival_int = 7}), SyscallSucceeds());
    EXPECT_TRUE(c.WaitFor(1, 1000));
    EXPECT_EQ(c.count(), 1);
    EXPECT_EQ(c.code(), SI_QUEUE);
    EXPECT_EQ(c.value(), 7);
    struct sigaction now;
    ASSERT_THAT(sigaction(SIGUSR1, nullptr, &now), SyscallSucceeds());
    EXPECT_EQ(now.sa_flags & (SA_SIGINFO | SA_RESTART), SA_SIGINFO);
  }
  struct sigaction after;
  ASSERT_THAT(sigaction(SIGUSR1, nullptr, &after), SyscallSucceeds());
  EXPECT_EQ(after.sa_handler, SIG_DFL);
  sigset_t mask;
  ASSERT_THAT(sigprocmask(SIG_SETMASK, nullptr, &mask), SyscallSucceeds());
  EXPECT_TRUE(sigismember(&mask, SIGUSR1));
}

TEST(SandboxTest, NativeHereMeansNotTheSandbox) {
  // This binary runs natively under ctest; the suite checks the other side.
  EXPECT_FALSE(IsRunningInSandbox());
}

}  // namespace
}  // namespace syscalls_test
