// System V semaphores: semget(2), semop(2), semtimedop(2), semctl(2), undo
// lists at exit, and /proc/sysvipc/sem and /proc/sys/kernel/sem. Natively
// these share the host's IPC namespace with whatever else runs: sets are
// IPC_PRIVATE or keyed by the pid, and every set is removed at the end of its
// case. Cases that change limits do so in a child with a new IPC namespace.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

long SemGet(key_t key, int nsems, int flags) { return syscall(SYS_semget, key, nsems, flags); }
long SemOp(int id, sembuf* sops, size_t n) { return syscall(SYS_semop, id, sops, n); }
long SemTimedOp(int id, sembuf* sops, size_t n, const timespec* ts) {
  return syscall(SYS_semtimedop, id, sops, n, ts);
}
long SemCtl(int id, int num, int cmd, unsigned long arg = 0) {
  return syscall(SYS_semctl, id, num, cmd, arg);
}
long SemCtlPtr(int id, int num, int cmd, const void* p) {
  return SemCtl(id, num, cmd, reinterpret_cast<unsigned long>(p));
}

key_t UniqueKey() {
  static int n = 0;
  return static_cast<key_t>(0x5e000000 | ((getpid() & 0xffff) << 8) | (++n & 0xff));
}

// A set removed at the end of the test.
class SemSet {
 public:
  explicit SemSet(int nsems, int flags = 0600, key_t key = IPC_PRIVATE) {
    id_ = static_cast<int>(SemGet(key, nsems, flags | IPC_CREAT));
  }
  ~SemSet() {
    if (id_ >= 0) SemCtl(id_, 0, IPC_RMID);
  }
  int id() const { return id_; }
  void release() { id_ = -1; }

 private:
  int id_;
};

long Op(int id, unsigned short num, short op, short flg = 0) {
  sembuf b{num, op, flg};
  return SemOp(id, &b, 1);
}

long GetVal(int id, int num) { return SemCtl(id, num, GETVAL); }

semid_ds Stat(int id) {
  semid_ds ds{};
  EXPECT_THAT(SemCtlPtr(id, 0, IPC_STAT, &ds), SyscallSucceeds());
  return ds;
}

// Waits (up to 5 s) until `cmd` (GETNCNT / GETZCNT) of semaphore `num` is `n`.
bool WaitCount(int id, int num, int cmd, long n) {
  for (int i = 0; i < 5000; ++i) {
    if (SemCtl(id, num, cmd) == n) return true;
    usleep(1000);
  }
  return false;
}

// Forks a child that waits up to 10 s in semtimedop for `op` on semaphore 0 of
// `id` and exits 0 when the call succeeds (`want_errno` 0) or fails with
// `want_errno`, else 1.
pid_t ForkSemWaiter(int id, short op, int want_errno = 0) {
  const pid_t pid = fork();
  if (pid == 0) {
    sembuf b{0, op, 0};
    timespec ts{10, 0};
    const long r = SemTimedOp(id, &b, 1, &ts);
    _exit((want_errno == 0 ? r == 0 : r == -1 && errno == want_errno) ? 0 : 1);
  }
  return pid;
}

std::vector<long> SemLimits() {
  std::istringstream in(ReadWholeFile("/proc/sys/kernel/sem"));
  std::vector<long> v(4, 0);
  for (long& x : v) in >> x;
  return v;
}

// --- semget ---

TEST(SemGetTest, PrivateCreatesDistinctSets) {
  SemSet a(1), b(1);
  ASSERT_GE(a.id(), 0);
  ASSERT_GE(b.id(), 0);
  EXPECT_NE(a.id(), b.id());
}

TEST(SemGetTest, ZeroSemaphoresOnCreateIsInvalid) {
  EXPECT_THAT(SemGet(IPC_PRIVATE, 0, IPC_CREAT | 0600), SyscallFailsWithErrno(EINVAL));
}

TEST(SemGetTest, NegativeCountIsInvalid) {
  EXPECT_THAT(SemGet(IPC_PRIVATE, -1, IPC_CREAT | 0600), SyscallFailsWithErrno(EINVAL));
}

TEST(SemGetTest, MoreThanSemmslIsInvalid) {
  const long semmsl = SemLimits()[0];
  ASSERT_GT(semmsl, 0);
  EXPECT_THAT(SemGet(IPC_PRIVATE, static_cast<int>(semmsl + 1), IPC_CREAT | 0600),
              SyscallFailsWithErrno(EINVAL));
}

TEST(SemGetTest, MissingKeyWithoutCreateIsENOENT) {
  EXPECT_THAT(SemGet(UniqueKey(), 1, 0600), SyscallFailsWithErrno(ENOENT));
}

TEST(SemGetTest, KeyFindsTheSameSet) {
  const key_t key = UniqueKey();
  SemSet s(3, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemGet(key, 3, 0600), SyscallSucceedsWithValue(s.id()));
  EXPECT_THAT(SemGet(key, 0, 0), SyscallSucceedsWithValue(s.id()));  // 0: any size
  EXPECT_THAT(SemGet(key, 2, IPC_CREAT | 0600), SyscallSucceedsWithValue(s.id()));
}

TEST(SemGetTest, CreateExclusiveOnExistingIsEEXIST) {
  const key_t key = UniqueKey();
  SemSet s(1, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemGet(key, 1, IPC_CREAT | IPC_EXCL | 0600), SyscallFailsWithErrno(EEXIST));
}

TEST(SemGetTest, MoreSemaphoresThanTheSetHasIsInvalid) {
  const key_t key = UniqueKey();
  SemSet s(2, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemGet(key, 3, 0600), SyscallFailsWithErrno(EINVAL));
}

TEST(SemGetTest, OtherUserWithoutPermissionIsEACCES) {
  const key_t key = UniqueKey();
  SemSet s(1, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(SemGet(key, 1, 0400) == -1 && errno == EACCES);
    CHILD_CHECK(SemGet(key, 1, 0) >= 0);  // no access asked for
  }));
}

TEST(SemGetTest, NewSetStartsAtZero) {
  const time_t before = time(nullptr);
  SemSet s(4, 0640);
  ASSERT_GE(s.id(), 0);
  semid_ds ds = Stat(s.id());
  EXPECT_EQ(ds.sem_nsems, 4u);
  EXPECT_EQ(ds.sem_perm.mode & 0777, 0640u);
  EXPECT_EQ(ds.sem_perm.uid, geteuid());
  EXPECT_EQ(ds.sem_perm.cuid, geteuid());
  EXPECT_EQ(ds.sem_otime, 0);
  EXPECT_GE(ds.sem_ctime, before);
  for (int i = 0; i < 4; ++i) EXPECT_THAT(GetVal(s.id(), i), SyscallSucceedsWithValue(0));
}

// --- semop ---

TEST(SemOpTest, AddsAndSubtracts) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(Op(s.id(), 1, 5), SyscallSucceeds());
  ASSERT_THAT(Op(s.id(), 1, -2), SyscallSucceeds());
  EXPECT_THAT(GetVal(s.id(), 1), SyscallSucceedsWithValue(3));
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

TEST(SemOpTest, RecordsPidAndTime) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const time_t before = time(nullptr);
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_THAT(SemCtl(s.id(), 0, GETPID), SyscallSucceedsWithValue(getpid()));
  EXPECT_GE(Stat(s.id()).sem_otime, before);
}

TEST(SemOpTest, NoOperationsIsInvalid) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf b{0, 1, 0};
  EXPECT_THAT(SemOp(s.id(), &b, 0), SyscallFailsWithErrno(EINVAL));
}

TEST(SemOpTest, NegativeIdIsInvalid) {
  sembuf b{0, 1, 0};
  EXPECT_THAT(SemOp(-1, &b, 1), SyscallFailsWithErrno(EINVAL));
}

TEST(SemOpTest, RemovedIdIsInvalid) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(SemCtl(s.id(), 0, IPC_RMID), SyscallSucceeds());
  const int id = s.id();
  s.release();
  EXPECT_THAT(Op(id, 0, 1), SyscallFailsWithErrno(EINVAL));
}

TEST(SemOpTest, MoreThanSemopmIsE2BIG) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const long semopm = SemLimits()[2];
  ASSERT_GT(semopm, 0);
  std::vector<sembuf> ops(semopm + 1, sembuf{0, 0, IPC_NOWAIT});
  EXPECT_THAT(SemOp(s.id(), ops.data(), ops.size()), SyscallFailsWithErrno(E2BIG));
}

TEST(SemOpTest, BadBufferIsEFAULT) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemOp(s.id(), reinterpret_cast<sembuf*>(8), 1), SyscallFailsWithErrno(EFAULT));
}

TEST(SemOpTest, SemaphoreBeyondTheSetIsEFBIG) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(Op(s.id(), 2, 1), SyscallFailsWithErrno(EFBIG));
}

TEST(SemOpTest, NoWaitWouldBlockIsEAGAIN) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(Op(s.id(), 0, -1, IPC_NOWAIT), SyscallFailsWithErrno(EAGAIN));
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_THAT(Op(s.id(), 0, 0, IPC_NOWAIT), SyscallFailsWithErrno(EAGAIN));  // not zero
}

TEST(SemOpTest, BeyondSemvmxIsERANGE) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(SemCtl(s.id(), 0, SETVAL, 32767), SyscallSucceeds());
  EXPECT_THAT(Op(s.id(), 0, 1), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(32767));
}

TEST(SemOpTest, AllOrNothing) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  sembuf ops[2] = {{0, 1, 0}, {1, -1, IPC_NOWAIT}};
  EXPECT_THAT(SemOp(s.id(), ops, 2), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
  ASSERT_THAT(Op(s.id(), 1, 1), SyscallSucceeds());
  EXPECT_THAT(SemOp(s.id(), ops, 2), SyscallSucceeds());
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(1));
  EXPECT_THAT(GetVal(s.id(), 1), SyscallSucceedsWithValue(0));
}

TEST(SemOpTest, OperationsOnOneSemaphoreApplyInOrder) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf ops[2] = {{0, 2, 0}, {0, -1, IPC_NOWAIT}};
  ASSERT_THAT(SemOp(s.id(), ops, 2), SyscallSucceeds());
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(1));
  sembuf wrong_order[2] = {{0, -2, IPC_NOWAIT}, {0, 2, 0}};
  EXPECT_THAT(SemOp(s.id(), wrong_order, 2), SyscallFailsWithErrno(EAGAIN));
}

TEST(SemOpTest, ReadOnlyAccessMayWaitForZeroButNotChange) {
  SemSet s(1, 0604);
  ASSERT_GE(s.id(), 0);
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    sembuf zero{0, 0, IPC_NOWAIT};
    CHILD_CHECK(SemOp(s.id(), &zero, 1) == 0);
    CHILD_CHECK(Op(s.id(), 0, 1) == -1 && errno == EACCES);
  }));
}

TEST(SemTimedOpTest, TimeoutIsEAGAIN) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf b{0, -1, 0};
  timespec ts{0, 20 * 1000 * 1000};
  timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  EXPECT_THAT(SemTimedOp(s.id(), &b, 1, &ts), SyscallFailsWithErrno(EAGAIN));
  clock_gettime(CLOCK_MONOTONIC, &end);
  EXPECT_GE((end.tv_sec - start.tv_sec) * 1000000000L + end.tv_nsec - start.tv_nsec,
            15 * 1000 * 1000L);
}

TEST(SemTimedOpTest, BadTimeoutIsEINVAL) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf b{0, -1, 0};
  timespec ts{0, 1000000000};
  EXPECT_THAT(SemTimedOp(s.id(), &b, 1, &ts), SyscallFailsWithErrno(EINVAL));
  ts = {-1, 0};
  EXPECT_THAT(SemTimedOp(s.id(), &b, 1, &ts), SyscallFailsWithErrno(EINVAL));
}

TEST(SemTimedOpTest, UnreadableTimeoutIsEFAULT) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf b{0, -1, 0};
  EXPECT_THAT(SemTimedOp(s.id(), &b, 1, reinterpret_cast<timespec*>(8)),
              SyscallFailsWithErrno(EFAULT));
}

TEST(SemTimedOpTest, PossibleOperationIgnoresTheTimeout) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  sembuf b{0, 1, 0};
  timespec ts{0, 0};
  EXPECT_THAT(SemTimedOp(s.id(), &b, 1, &ts), SyscallSucceeds());
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(1));
}

// --- Blocking ---

TEST(SemBlockTest, IncrementWakesAWaiter) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = ForkSemWaiter(s.id(), -1);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 1));
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SemCtl(s.id(), 0, GETPID), SyscallSucceedsWithValue(child));
}

TEST(SemBlockTest, ZeroWakesAWaitForZero) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(SemCtl(s.id(), 0, SETVAL, 2), SyscallSucceeds());
  const pid_t child = ForkSemWaiter(s.id(), 0);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETZCNT, 1));
  EXPECT_THAT(SemCtl(s.id(), 0, GETNCNT), SyscallSucceedsWithValue(0));
  ASSERT_THAT(Op(s.id(), 0, -2), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
}

TEST(SemBlockTest, WaitersWakeInArrivalOrder) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  pid_t kids[2];
  for (int i = 0; i < 2; ++i) {
    kids[i] = ForkSemWaiter(s.id(), -1);
    ASSERT_GT(kids[i], 0);
    ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, i + 1));
  }
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(kids[0]), 0);
  EXPECT_THAT(SemCtl(s.id(), 0, GETNCNT), SyscallSucceedsWithValue(1));
  int status;
  EXPECT_EQ(waitpid(kids[1], &status, WNOHANG), 0);  // still waiting
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(kids[1]), 0);
}

TEST(SemBlockTest, LaterSmallerRequestIsNotHeldUp) {
  // A waiter that cannot proceed does not block one behind it that can.
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t big = ForkSemWaiter(s.id(), -3);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 1));
  const pid_t small = ForkSemWaiter(s.id(), -1);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 2));
  ASSERT_THAT(Op(s.id(), 0, 1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(small), 0);
  ASSERT_THAT(Op(s.id(), 0, 3), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(big), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

TEST(SemBlockTest, RemovalWakesWaitersWithEIDRM) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = ForkSemWaiter(s.id(), -1, EIDRM);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 1));
  ASSERT_THAT(SemCtl(s.id(), 0, IPC_RMID), SyscallSucceeds());
  s.release();
  EXPECT_EQ(WaitExitCode(child), 0);
}

void NoopHandler(int) {}

TEST(SemBlockTest, SignalInterruptsWithEINTREvenWithSARestart) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    struct sigaction sa = {};
    sa.sa_handler = NoopHandler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    sembuf b{0, -1, 0};
    _exit(SemOp(s.id(), &b, 1) == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 1));
  ASSERT_THAT(kill(child, SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(SemCtl(s.id(), 0, GETNCNT), SyscallSucceedsWithValue(0));
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

// --- SEM_UNDO ---

TEST(SemUndoTest, AppliedWhenTheProcessExits) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(SemCtl(s.id(), 0, SETVAL, 1), SyscallSucceeds());
  const pid_t child = fork();
  if (child == 0) {
    sembuf ops[2] = {{0, -1, SEM_UNDO}, {1, 4, SEM_UNDO}};
    _exit(SemOp(s.id(), ops, 2) == 0 ? 0 : 1);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(1));
  EXPECT_THAT(GetVal(s.id(), 1), SyscallSucceedsWithValue(0));
  EXPECT_THAT(SemCtl(s.id(), 1, GETPID), SyscallSucceedsWithValue(child));
}

TEST(SemUndoTest, ClampedAtZero) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (Op(s.id(), 0, 3, SEM_UNDO) != 0) _exit(1);
    if (Op(s.id(), 0, -2) != 0) _exit(2);  // without undo
    _exit(0);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));  // 1 - 3, clamped
}

TEST(SemUndoTest, AdjustmentBeyondItsRangeIsERANGE) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  EXPECT_TRUE(InForkedChild([&] {
    CHILD_CHECK(Op(s.id(), 0, 32767, SEM_UNDO) == 0);
    CHILD_CHECK(Op(s.id(), 0, -32767) == 0);
    CHILD_CHECK(Op(s.id(), 0, 1, SEM_UNDO) == 0);  // adjustment -32768
    CHILD_CHECK(Op(s.id(), 0, 1, SEM_UNDO) == -1 && errno == ERANGE);
  }));
}

TEST(SemUndoTest, SetValClearsAdjustments) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (Op(s.id(), 0, 1, SEM_UNDO) != 0) _exit(1);
    if (SemCtl(s.id(), 0, SETVAL, 5) != 0) _exit(2);
    _exit(0);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(5));
}

TEST(SemUndoTest, SetAllClearsAdjustments) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (Op(s.id(), 1, 2, SEM_UNDO) != 0) _exit(1);
    unsigned short vals[2] = {3, 4};
    if (SemCtlPtr(s.id(), 0, SETALL, vals) != 0) _exit(2);
    _exit(0);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 1), SyscallSucceedsWithValue(4));
}

void* ThreadAddsWithUndo(void* arg) {
  const int id = *static_cast<int*>(arg);
  return reinterpret_cast<void*>(Op(id, 0, 1, SEM_UNDO));
}

TEST(SemUndoTest, ThreadsShareTheListUntilTheLastExits) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  int id = s.id();
  const pid_t child = fork();
  if (child == 0) {
    // pthreads are cloned with CLONE_SYSVSEM: the thread's exit leaves the
    // adjustment to the process's.
    pthread_t th;
    void* ret = nullptr;
    if (pthread_create(&th, nullptr, ThreadAddsWithUndo, &id) != 0) _exit(1);
    if (pthread_join(th, &ret) != 0 || ret != nullptr) _exit(2);
    _exit(GetVal(id, 0) == 1 ? 0 : 3);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

TEST(SemUndoTest, ForkedChildDoesNotInheritTheList) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (Op(s.id(), 0, 2, SEM_UNDO) != 0) _exit(1);
    const pid_t grandchild = fork();
    if (grandchild == 0) _exit(0);
    if (WaitExitCode(grandchild) != 0) _exit(2);
    _exit(GetVal(s.id(), 0) == 2 ? 0 : 3);
  }
  ASSERT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

// --- semctl ---

TEST(SemCtlTest, SetValAndGetVal) {
  SemSet s(3);
  ASSERT_GE(s.id(), 0);
  const time_t before = time(nullptr);
  ASSERT_THAT(SemCtl(s.id(), 2, SETVAL, 7), SyscallSucceeds());
  EXPECT_THAT(GetVal(s.id(), 2), SyscallSucceedsWithValue(7));
  EXPECT_THAT(SemCtl(s.id(), 2, GETPID), SyscallSucceedsWithValue(getpid()));
  EXPECT_GE(Stat(s.id()).sem_ctime, before);
}

TEST(SemCtlTest, SetValOutOfRangeIsERANGE) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemCtl(s.id(), 0, SETVAL, 32768), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(SemCtl(s.id(), 0, SETVAL, static_cast<unsigned int>(-1)),
              SyscallFailsWithErrno(ERANGE));
}

TEST(SemCtlTest, SemaphoreNumberOutOfRangeIsEINVAL) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemCtl(s.id(), 2, SETVAL, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SemCtl(s.id(), 2, GETVAL), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SemCtl(s.id(), -1, GETNCNT), SyscallFailsWithErrno(EINVAL));
}

TEST(SemCtlTest, SetValWakesWaiters) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  const pid_t child = ForkSemWaiter(s.id(), -2);
  ASSERT_TRUE(WaitCount(s.id(), 0, GETNCNT, 1));
  ASSERT_THAT(SemCtl(s.id(), 0, SETVAL, 3), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(1));
}

TEST(SemCtlTest, SetAllAndGetAll) {
  SemSet s(3);
  ASSERT_GE(s.id(), 0);
  unsigned short in[3] = {1, 2, 32767};
  ASSERT_THAT(SemCtlPtr(s.id(), 0, SETALL, in), SyscallSucceeds());
  unsigned short out[3] = {};
  ASSERT_THAT(SemCtlPtr(s.id(), 0, GETALL, out), SyscallSucceeds());
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(out[2], 32767);
}

TEST(SemCtlTest, SetAllOutOfRangeIsERANGE) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  unsigned short in[2] = {1, 40000};
  EXPECT_THAT(SemCtlPtr(s.id(), 0, SETALL, in), SyscallFailsWithErrno(ERANGE));
  EXPECT_THAT(GetVal(s.id(), 0), SyscallSucceedsWithValue(0));
}

TEST(SemCtlTest, BadArrayIsEFAULT) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemCtl(s.id(), 0, SETALL, 8), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SemCtl(s.id(), 0, GETALL, 8), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SemCtl(s.id(), 0, IPC_STAT, 8), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SemCtl(s.id(), 0, IPC_SET, 8), SyscallFailsWithErrno(EFAULT));
}

TEST(SemCtlTest, IpcSetChangesModeAndOwner) {
  SemSet s(1, 0600);
  ASSERT_GE(s.id(), 0);
  semid_ds ds = Stat(s.id());
  ds.sem_perm.mode = 0644;
  ds.sem_perm.uid = 1234;
  ASSERT_THAT(SemCtlPtr(s.id(), 0, IPC_SET, &ds), SyscallSucceeds());
  semid_ds after = Stat(s.id());
  EXPECT_EQ(after.sem_perm.mode & 0777, 0644u);
  EXPECT_EQ(after.sem_perm.uid, 1234u);
  EXPECT_EQ(after.sem_perm.cuid, geteuid());
}

TEST(SemCtlTest, OtherUserIsEACCESAndEPERM) {
  SemSet s(1, 0600);
  ASSERT_GE(s.id(), 0);
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    semid_ds ds{};
    unsigned short vals[1];
    CHILD_CHECK(SemCtlPtr(s.id(), 0, IPC_STAT, &ds) == -1 && errno == EACCES);
    CHILD_CHECK(SemCtl(s.id(), 0, GETVAL) == -1 && errno == EACCES);
    CHILD_CHECK(SemCtlPtr(s.id(), 0, GETALL, vals) == -1 && errno == EACCES);
    CHILD_CHECK(SemCtl(s.id(), 0, SETVAL, 1) == -1 && errno == EACCES);
    CHILD_CHECK(Op(s.id(), 0, 1) == -1 && errno == EACCES);
    CHILD_CHECK(SemCtl(s.id(), 0, IPC_RMID) == -1 && errno == EPERM);
    CHILD_CHECK(SemCtlPtr(s.id(), 0, IPC_SET, &ds) == -1 && errno == EPERM);
  }));
}

TEST(SemCtlTest, RemovedSetIsGone) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  ASSERT_THAT(SemCtl(s.id(), 0, IPC_RMID), SyscallSucceeds());
  const int id = s.id();
  s.release();
  semid_ds ds;
  EXPECT_THAT(SemCtlPtr(id, 0, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SemCtl(id, 0, IPC_RMID), SyscallFailsWithErrno(EINVAL));
}

TEST(SemCtlTest, UnknownCommandAndNegativeIdAreEINVAL) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(SemCtl(s.id(), 0, 1234), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SemCtl(-1, 0, GETVAL), SyscallFailsWithErrno(EINVAL));
}

TEST(SemCtlTest, IpcInfoReportsTheLimits) {
  SemSet s(1);
  ASSERT_GE(s.id(), 0);
  seminfo i{};
  const long max = SemCtlPtr(0, 0, IPC_INFO, &i);
  ASSERT_GE(max, 0);
  const std::vector<long> lim = SemLimits();
  EXPECT_EQ(i.semmsl, lim[0]);
  EXPECT_EQ(i.semmns, lim[1]);
  EXPECT_EQ(i.semopm, lim[2]);
  EXPECT_EQ(i.semmni, lim[3]);
  EXPECT_EQ(i.semvmx, 32767);
  EXPECT_EQ(i.semaem, 32767);
  EXPECT_THAT(SemCtl(0, 0, IPC_INFO, 8), SyscallFailsWithErrno(EFAULT));
}

TEST(SemCtlTest, SemInfoCountsSetsAndSemaphores) {
  SemSet s(5);
  ASSERT_GE(s.id(), 0);
  seminfo i{};
  const long max = SemCtlPtr(0, 0, SEM_INFO, &i);
  ASSERT_GE(max, s.id() % 32768);
  EXPECT_GE(i.semusz, 1);
  EXPECT_GE(i.semaem, 5);
}

TEST(SemCtlTest, SemStatTakesAnIndex) {
  SemSet s(2);
  ASSERT_GE(s.id(), 0);
  const int index = s.id() % 32768;
  semid_ds ds{};
  EXPECT_THAT(SemCtlPtr(index, 0, SEM_STAT, &ds), SyscallSucceedsWithValue(s.id()));
  EXPECT_EQ(ds.sem_nsems, 2u);
  EXPECT_THAT(SemCtlPtr(index, 0, SEM_STAT_ANY, &ds), SyscallSucceedsWithValue(s.id()));
}

TEST(SemCtlTest, SemStatAnySkipsTheReadCheck) {
  SemSet s(1, 0600);
  ASSERT_GE(s.id(), 0);
  const int index = s.id() % 32768;
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    semid_ds ds{};
    CHILD_CHECK(SemCtlPtr(index, 0, SEM_STAT, &ds) == -1 && errno == EACCES);
    CHILD_CHECK(SemCtlPtr(index, 0, SEM_STAT_ANY, &ds) == s.id());
  }));
}

// --- /proc ---

TEST(SemProcTest, SysvipcSemListsTheSet) {
  const key_t key = UniqueKey();
  SemSet s(3, 0640, key);
  ASSERT_GE(s.id(), 0);
  const std::string text = ReadWholeFile("/proc/sysvipc/sem");
  EXPECT_EQ(
      text.rfind("       key      semid perms      nsems   uid   gid  cuid  cgid      otime      "
                 "ctime\n",
                 0),
      0u);
  char want[128];
  snprintf(want, sizeof(want), "%10d %10d  %4o %10u %5u %5u %5u %5u %10llu", key, s.id(), 0640, 3,
           geteuid(), getegid(), geteuid(), getegid(), 0ull);
  EXPECT_NE(text.find(want), std::string::npos) << text;
}

TEST(SemProcTest, SysctlShowsFourLimits) {
  const std::string text = ReadWholeFile("/proc/sys/kernel/sem");
  const std::vector<long> lim = SemLimits();
  for (long v : lim) EXPECT_GT(v, 0) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\t'), 3) << text;
}

// In a new IPC namespace (so the host's limits stay), root sets the limits
// and they apply there.
TEST(SemProcTest, RootSetsTheLimitsOfItsNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) {
    int fd = open("/proc/sys/kernel/sem", O_WRONLY);
    if (fd < 0) _exit(1);
    const char text[] = "10 100 5 20\n";
    if (write(fd, text, sizeof(text) - 1) != sizeof(text) - 1) _exit(2);
    close(fd);
    if (SemLimits() != std::vector<long>{10, 100, 5, 20}) _exit(3);
    if (!(SemGet(IPC_PRIVATE, 11, IPC_CREAT | 0600) == -1 && errno == EINVAL)) _exit(4);
    const int id = static_cast<int>(SemGet(IPC_PRIVATE, 10, IPC_CREAT | 0600));
    if (id < 0) _exit(5);
    std::vector<sembuf> ops(6, sembuf{0, 1, 0});
    if (!(SemOp(id, ops.data(), ops.size()) == -1 && errno == E2BIG)) _exit(6);
    _exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_GT(SemLimits()[0], 10);  // ours are untouched
}

}  // namespace
}  // namespace syscalls_test
