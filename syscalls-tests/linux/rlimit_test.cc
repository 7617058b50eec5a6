// getrlimit(2), setrlimit(2) and prlimit64(2): reading, lowering, raising
// (with and without CAP_SYS_RESOURCE), the checks in Linux's order, and limits
// that the memory syscalls obey (RLIMIT_AS, RLIMIT_DATA).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// The kernel's struct rlimit64, which prlimit64 takes.
struct Rlimit64 {
  uint64_t cur;
  uint64_t max;
};

long Prlimit(pid_t pid, int resource, const void* new_limit, void* old_limit) {
  return syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
}
long Getrlimit(int resource, void* rl) { return syscall(SYS_getrlimit, resource, rl); }
long Setrlimit(int resource, const void* rl) { return syscall(SYS_setrlimit, resource, rl); }

// Puts `resource` back as it was when the test ends (as root, even a lowered
// hard limit comes back).
Cleanup RestoreLimit(int resource) {
  Rlimit64 old;
  Prlimit(0, resource, nullptr, &old);
  return Cleanup([resource, old] { Prlimit(0, resource, &old, nullptr); });
}

constexpr int kEveryResource[] = {RLIMIT_CPU,      RLIMIT_FSIZE, RLIMIT_DATA,   RLIMIT_STACK,
                                  RLIMIT_CORE,     RLIMIT_RSS,   RLIMIT_NPROC,  RLIMIT_NOFILE,
                                  RLIMIT_MEMLOCK,  RLIMIT_AS,    RLIMIT_LOCKS,  RLIMIT_SIGPENDING,
                                  RLIMIT_MSGQUEUE, RLIMIT_NICE,  RLIMIT_RTPRIO, RLIMIT_RTTIME};

TEST(GetrlimitTest, EveryResourceHasSoftAtMostHard) {
  for (int r : kEveryResource) {
    struct rlimit rl;
    ASSERT_THAT(Getrlimit(r, &rl), SyscallSucceeds()) << "resource " << r;
    EXPECT_LE(rl.rlim_cur, rl.rlim_max) << "resource " << r;
  }
}

TEST(GetrlimitTest, AgreesWithPrlimit) {
  for (int r : kEveryResource) {
    struct rlimit rl;
    Rlimit64 rl64;
    ASSERT_THAT(Getrlimit(r, &rl), SyscallSucceeds());
    ASSERT_THAT(Prlimit(0, r, nullptr, &rl64), SyscallSucceeds());
    EXPECT_EQ(rl.rlim_cur, rl64.cur) << "resource " << r;
    EXPECT_EQ(rl.rlim_max, rl64.max) << "resource " << r;
  }
}

TEST(GetrlimitTest, UnknownResourceIsEinval) {
  struct rlimit rl;
  EXPECT_THAT(Getrlimit(RLIM_NLIMITS, &rl), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Getrlimit(-1, &rl), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Getrlimit(1000, &rl), SyscallFailsWithErrno(EINVAL));
}

TEST(GetrlimitTest, BadPointerIsEfault) {
  EXPECT_THAT(Getrlimit(RLIMIT_NOFILE, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Getrlimit(RLIMIT_NOFILE, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(GetrlimitTest, UnknownResourceIsCheckedBeforeThePointer) {
  EXPECT_THAT(Getrlimit(RLIM_NLIMITS, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(SetrlimitTest, LowerAndRaiseTheSoftLimit) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  struct rlimit rl;
  ASSERT_THAT(Getrlimit(RLIMIT_CORE, &rl), SyscallSucceeds());
  const struct rlimit lowered = {0, rl.rlim_max};
  ASSERT_THAT(Setrlimit(RLIMIT_CORE, &lowered), SyscallSucceeds());
  struct rlimit now;
  ASSERT_THAT(Getrlimit(RLIMIT_CORE, &now), SyscallSucceeds());
  EXPECT_EQ(now.rlim_cur, 0u);
  EXPECT_EQ(now.rlim_max, rl.rlim_max);
  // Back up to the hard limit needs no privilege.
  const struct rlimit raised = {rl.rlim_max, rl.rlim_max};
  EXPECT_THAT(Setrlimit(RLIMIT_CORE, &raised), SyscallSucceeds());
}

TEST(SetrlimitTest, SoftAboveHardIsEinval) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  const struct rlimit bad = {2 * 4096, 4096};
  EXPECT_THAT(Setrlimit(RLIMIT_CORE, &bad), SyscallFailsWithErrno(EINVAL));
  const struct rlimit infinite_soft = {RLIM_INFINITY, 4096};
  EXPECT_THAT(Setrlimit(RLIMIT_CORE, &infinite_soft), SyscallFailsWithErrno(EINVAL));
}

TEST(SetrlimitTest, UnknownResourceIsEinval) {
  const struct rlimit rl = {0, 0};
  EXPECT_THAT(Setrlimit(RLIM_NLIMITS, &rl), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Setrlimit(-1, &rl), SyscallFailsWithErrno(EINVAL));
}

TEST(SetrlimitTest, NullPointerIsEfault) {
  EXPECT_THAT(Setrlimit(RLIMIT_CORE, nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST(SetrlimitTest, PointerIsReadBeforeTheResourceIsChecked) {
  // setrlimit copies the limit in first, then validates the resource.
  EXPECT_THAT(Setrlimit(RLIM_NLIMITS, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(SetrlimitTest, RaisingTheHardLimitWithCapSysResource) {
  SKIP_IF(!HaveCapability(CAP_SYS_RESOURCE));
  Cleanup restore = RestoreLimit(RLIMIT_MSGQUEUE);
  const struct rlimit low = {1024, 4096};
  ASSERT_THAT(Setrlimit(RLIMIT_MSGQUEUE, &low), SyscallSucceeds());
  const struct rlimit high = {1024, 1 << 20};
  EXPECT_THAT(Setrlimit(RLIMIT_MSGQUEUE, &high), SyscallSucceeds());
  struct rlimit now;
  ASSERT_THAT(Getrlimit(RLIMIT_MSGQUEUE, &now), SyscallSucceeds());
  EXPECT_EQ(now.rlim_max, 1u << 20);
}

TEST(SetrlimitTest, NofileAboveNrOpenIsEperm) {
  Cleanup restore = RestoreLimit(RLIMIT_NOFILE);
  // fs.nr_open is at most 2^30 - 64 or so; RLIM_INFINITY is always above it,
  // privileged or not.
  const struct rlimit inf = {1024, RLIM_INFINITY};
  EXPECT_THAT(Setrlimit(RLIMIT_NOFILE, &inf), SyscallFailsWithErrno(EPERM));
  const struct rlimit both = {RLIM_INFINITY, RLIM_INFINITY};
  EXPECT_THAT(Setrlimit(RLIMIT_NOFILE, &both), SyscallFailsWithErrno(EPERM));
}

TEST(SetrlimitTest, InfinityRoundTrips) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  struct rlimit rl;
  ASSERT_THAT(Getrlimit(RLIMIT_CORE, &rl), SyscallSucceeds());
  SKIP_IF(rl.rlim_max != RLIM_INFINITY && !HaveCapability(CAP_SYS_RESOURCE));
  const struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_THAT(Setrlimit(RLIMIT_CORE, &inf), SyscallSucceeds());
  ASSERT_THAT(Getrlimit(RLIMIT_CORE, &rl), SyscallSucceeds());
  EXPECT_EQ(rl.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(rl.rlim_max, RLIM_INFINITY);
}

TEST(PrlimitTest, ReturnsTheOldLimitAndSetsTheNew) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &orig), SyscallSucceeds());
  const Rlimit64 first = {0, orig.max};
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, &first, nullptr), SyscallSucceeds());
  const Rlimit64 second = {orig.max == RLIM_INFINITY ? 4096 : orig.max, orig.max};
  Rlimit64 old = {1, 1};
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, &second, &old), SyscallSucceeds());
  EXPECT_EQ(old.cur, 0u);
  EXPECT_EQ(old.max, orig.max);
  Rlimit64 now;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.cur, second.cur);
}

TEST(PrlimitTest, NeitherPointerIsANoOp) {
  EXPECT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, nullptr), SyscallSucceeds());
}

TEST(PrlimitTest, OwnPidIsLikeZero) {
  Rlimit64 a, b;
  ASSERT_THAT(Prlimit(0, RLIMIT_STACK, nullptr, &a), SyscallSucceeds());
  ASSERT_THAT(Prlimit(getpid(), RLIMIT_STACK, nullptr, &b), SyscallSucceeds());
  EXPECT_EQ(a.cur, b.cur);
  EXPECT_EQ(a.max, b.max);
}

TEST(PrlimitTest, NonexistentPidIsEsrch) {
  Rlimit64 rl;
  EXPECT_THAT(Prlimit(1 << 22, RLIMIT_CORE, nullptr, &rl), SyscallFailsWithErrno(ESRCH));
}

TEST(PrlimitTest, UnknownResourceIsEinval) {
  Rlimit64 rl;
  EXPECT_THAT(Prlimit(0, RLIM_NLIMITS, nullptr, &rl), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Prlimit(0, -1, nullptr, &rl), SyscallFailsWithErrno(EINVAL));
}

TEST(PrlimitTest, SoftAboveHardIsEinval) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  const Rlimit64 bad = {8192, 4096};
  EXPECT_THAT(Prlimit(0, RLIMIT_CORE, &bad, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(PrlimitTest, BadNewPointerIsEfault) {
  EXPECT_THAT(Prlimit(0, RLIMIT_CORE, kKernelAddress, nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST(PrlimitTest, NewLimitIsReadBeforeTheResourceIsChecked) {
  EXPECT_THAT(Prlimit(0, RLIM_NLIMITS, kKernelAddress, nullptr), SyscallFailsWithErrno(EFAULT));
}

TEST(PrlimitTest, NewLimitIsReadBeforeThePidIsLookedUp) {
  EXPECT_THAT(Prlimit(1 << 22, RLIMIT_CORE, kKernelAddress, nullptr),
              SyscallFailsWithErrno(EFAULT));
}

TEST(PrlimitTest, PidIsLookedUpBeforeTheResourceIsChecked) {
  Rlimit64 rl;
  EXPECT_THAT(Prlimit(1 << 22, RLIM_NLIMITS, nullptr, &rl), SyscallFailsWithErrno(ESRCH));
}

TEST(PrlimitTest, BadOldPointerIsEfaultAfterTheNewLimitIsSet) {
  Cleanup restore = RestoreLimit(RLIMIT_CORE);
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &orig), SyscallSucceeds());
  const Rlimit64 zero = {0, orig.max};
  EXPECT_THAT(Prlimit(0, RLIMIT_CORE, &zero, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  Rlimit64 now;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &now), SyscallSucceeds());
  EXPECT_EQ(now.cur, 0u);
}

// A child that (optionally) takes uid/gid `id`, then waits until its pipe
// closes; it exits 0 if its RLIMIT_CORE then equals `want` (or `want` is
// null).
struct Waiter {
  pid_t pid = -1;
  int wfd = -1;
  // Returns once the child runs as `id` (a target seen before its setresuid
  // would still be root's).
  pid_t Start(uid_t id, const Rlimit64* want) {
    int p[2], ready[2];
    if (pipe(p) != 0) return -1;
    if (pipe(ready) != 0) return -1;
    pid = fork();
    if (pid == 0) {
      close(p[1]);
      close(ready[0]);
      if (id != 0 && (setresgid(id, id, id) != 0 || setresuid(id, id, id) != 0)) _exit(3);
      close(ready[1]);
      char c;
      while (read(p[0], &c, 1) > 0) {
      }
      Rlimit64 now;
      if (Prlimit(0, RLIMIT_CORE, nullptr, &now) != 0) _exit(4);
      _exit(want == nullptr || (now.cur == want->cur && now.max == want->max) ? 0 : 1);
    }
    close(p[0]);
    close(ready[1]);
    char c;
    while (read(ready[0], &c, 1) > 0) {
    }
    close(ready[0]);
    wfd = p[1];
    return pid;
  }
  // Releases the child: its exit status.
  int Finish() {
    close(wfd);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
};

TEST(PrlimitTest, AnotherProcessReadAndSet) {
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &orig), SyscallSucceeds());
  const Rlimit64 want = {0, orig.max};
  Waiter w;
  ASSERT_GT(w.Start(0, &want), 0);
  Rlimit64 seen;
  ASSERT_THAT(Prlimit(w.pid, RLIMIT_CORE, nullptr, &seen), SyscallSucceeds());
  EXPECT_EQ(seen.cur, orig.cur);
  Rlimit64 old;
  ASSERT_THAT(Prlimit(w.pid, RLIMIT_CORE, &want, &old), SyscallSucceeds());
  EXPECT_EQ(old.cur, orig.cur);
  ASSERT_THAT(Prlimit(w.pid, RLIMIT_CORE, nullptr, &seen), SyscallSucceeds());
  EXPECT_EQ(seen.cur, 0u);
  // Ours is unchanged; the child sees its new limit.
  Rlimit64 mine;
  ASSERT_THAT(Prlimit(0, RLIMIT_CORE, nullptr, &mine), SyscallSucceeds());
  EXPECT_EQ(mine.cur, orig.cur);
  EXPECT_EQ(w.Finish(), 0);
}

TEST(PrlimitTest, AnotherUsersProcessIsEperm) {
  SKIP_IF(geteuid() != 0);
  Waiter w;
  ASSERT_GT(w.Start(1000, nullptr), 0);
  const pid_t target = w.pid;
  EXPECT_TRUE(InForkedChild([target] {
    DropPrivilegesInChild();
    Rlimit64 rl;
    CHILD_CHECK(Prlimit(target, RLIMIT_CORE, nullptr, &rl) == -1 && errno == EPERM);
    // The resource is checked after the permission.
    CHILD_CHECK(Prlimit(target, RLIM_NLIMITS, nullptr, &rl) == -1 && errno == EPERM);
  }));
  EXPECT_EQ(w.Finish(), 0);
}

TEST(PrlimitTest, SameUsersProcessIsAllowed) {
  SKIP_IF(geteuid() != 0);
  Waiter w;
  ASSERT_GT(w.Start(65534, nullptr), 0);
  const pid_t target = w.pid;
  EXPECT_TRUE(InForkedChild([target] {
    DropPrivilegesInChild();
    Rlimit64 rl;
    CHILD_CHECK(Prlimit(target, RLIMIT_CORE, nullptr, &rl) == 0);
    CHILD_CHECK(Prlimit(target, RLIM_NLIMITS, nullptr, &rl) == -1 && errno == EINVAL);
    // Lowering is allowed; raising the hard limit back needs CAP_SYS_RESOURCE.
    Rlimit64 lower = {0, 0};
    CHILD_CHECK(Prlimit(target, RLIMIT_CORE, &lower, nullptr) == 0);
    Rlimit64 raise = {0, 4096};
    CHILD_CHECK(Prlimit(target, RLIMIT_CORE, &raise, nullptr) == -1 && errno == EPERM);
  }));
  EXPECT_EQ(w.Finish(), 0);
}

TEST(PrlimitTest, CapSysResourceReachesAnyProcess) {
  SKIP_IF(!HaveCapability(CAP_SYS_RESOURCE));
  Waiter w;
  ASSERT_GT(w.Start(1000, nullptr), 0);
  Rlimit64 rl;
  EXPECT_THAT(Prlimit(w.pid, RLIMIT_CORE, nullptr, &rl), SyscallSucceeds());
  EXPECT_EQ(w.Finish(), 0);
}

TEST(RlimitEffectTest, AddressSpaceLimitStopsMmap) {
  Cleanup restore = RestoreLimit(RLIMIT_AS);
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_AS, nullptr, &orig), SyscallSucceeds());
  // 1 MiB is far below what this process already has mapped: no new mapping
  // fits. Nothing may allocate until the limit is back.
  const Rlimit64 tiny = {1 << 20, orig.max};
  const long set = Prlimit(0, RLIMIT_AS, &tiny, nullptr);
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const int mmap_errno = errno;
  restore.Run();
  ASSERT_EQ(set, 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(mmap_errno, ENOMEM);
  if (p != MAP_FAILED) munmap(p, 4096);
}

TEST(RlimitEffectTest, DataLimitStopsPrivateWritableMappingsOnly) {
  Cleanup restore = RestoreLimit(RLIMIT_DATA);
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_DATA, nullptr, &orig), SyscallSucceeds());
  // One page: far below what this process already has. (Not 0: see
  // ZeroDataLimitIsAllowedUpToTheHardLimit.)
  const Rlimit64 one_page = {4096, orig.max};
  const long set = Prlimit(0, RLIMIT_DATA, &one_page, nullptr);
  void* data = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const int data_errno = errno;
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  restore.Run();
  ASSERT_EQ(set, 0);
  EXPECT_EQ(data, MAP_FAILED);
  EXPECT_EQ(data_errno, ENOMEM);
  EXPECT_NE(ro, MAP_FAILED);
  EXPECT_NE(shared, MAP_FAILED);
  for (void* p : {data, ro, shared}) {
    if (p != MAP_FAILED) munmap(p, 4096);
  }
}

TEST(RlimitEffectTest, DataLimitStopsMprotectToWritable) {
  Cleanup restore = RestoreLimit(RLIMIT_DATA);
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_THAT(ro, SyscallSucceeds());
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_DATA, nullptr, &orig), SyscallSucceeds());
  const Rlimit64 one_page = {4096, orig.max};
  const long set = Prlimit(0, RLIMIT_DATA, &one_page, nullptr);
  const int r = mprotect(ro, 4096, PROT_READ | PROT_WRITE);
  const int mprotect_errno = errno;
  restore.Run();
  munmap(ro, 4096);
  ASSERT_EQ(set, 0);
  EXPECT_EQ(r, -1);
  EXPECT_EQ(mprotect_errno, ENOMEM);
}

TEST(RlimitEffectTest, ZeroDataLimitIsAllowedUpToTheHardLimit) {
  // Linux's workaround for Valgrind: a soft RLIMIT_DATA of 0 is checked
  // against the hard limit instead.
  Cleanup restore = RestoreLimit(RLIMIT_DATA);
  Rlimit64 orig;
  ASSERT_THAT(Prlimit(0, RLIMIT_DATA, nullptr, &orig), SyscallSucceeds());
  SKIP_IF(orig.max < (uint64_t{1} << 30));
  const Rlimit64 zero = {0, orig.max};
  const long set = Prlimit(0, RLIMIT_DATA, &zero, nullptr);
  void* data = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  restore.Run();
  ASSERT_EQ(set, 0);
  EXPECT_NE(data, MAP_FAILED);
  if (data != MAP_FAILED) munmap(data, 4096);
}

TEST(RlimitPrivilegeTest, RaisingTheHardLimitWithoutPrivilegeIsEperm) {
  EXPECT_TRUE(InForkedChild([] {
    const struct rlimit low = {1024, 4096};
    CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &low) == 0);
    DropPrivilegesInChild();
    const struct rlimit high = {1024, 8192};
    CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &high) == -1 && errno == EPERM);
    // Lowering the hard limit is always allowed, and cannot be undone.
    const struct rlimit lower = {1024, 2048};
    CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &lower) == 0);
    CHILD_CHECK(setrlimit(RLIMIT_MSGQUEUE, &low) == -1 && errno == EPERM);
  }));
}

// RLIMIT_FSIZE limits every way of writing a file: sendfile and
// copy_file_range stop at it too, and one starting there is EFBIG.
TEST(RlimitFsizeTest, LimitsSendfileAndCopyFileRange) {
  TempDir d("rlimit-fsize");
  ASSERT_TRUE(d.ok());
  const std::string src = d.File("src", std::string(300, 'x'), 0644);
  const std::string dst = d.File("dst", "", 0644);
  ASSERT_FALSE(src.empty());
  ASSERT_FALSE(dst.empty());
  EXPECT_TRUE(InForkedChild([src, dst] {
    signal(SIGXFSZ, SIG_IGN);
    int in = open(src.c_str(), O_RDONLY);
    int out = open(dst.c_str(), O_WRONLY);
    CHILD_CHECK(in >= 0 && out >= 0);
    struct rlimit rl = {100, 100};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHILD_CHECK(sendfile(out, in, nullptr, 60) == 60);
    CHILD_CHECK(sendfile(out, in, nullptr, 60) == 40);
    CHILD_CHECK(sendfile(out, in, nullptr, 60) == -1 && errno == EFBIG);
    loff_t off_in = 0, off_out = 90;
    CHILD_CHECK(copy_file_range(in, &off_in, out, &off_out, 50, 0) == 10);
    CHILD_CHECK(copy_file_range(in, &off_in, out, &off_out, 50, 0) == -1 && errno == EFBIG);
  }));
}

}  // namespace
}  // namespace syscalls_test
