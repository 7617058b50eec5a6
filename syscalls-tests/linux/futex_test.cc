// futex(2). With one thread: WAIT's value check and timeouts, WAKE without
// waiters, the bitset variants, the argument checks, and the operations that
// need no second thread to observe (REQUEUE, WAKE_OP, the PI lock on an
// uncontended word). With threads (FutexThreadTest, FutexPiThreadTest):
// waking, requeueing, WAKE_OP's wakes, PI hand-over and requeue-PI, robust
// lists and CLEAR_CHILD_TID at thread exit, and interruption by a signal.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/signal_catcher.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

// A TID no task has (above any pid_max).
constexpr uint32_t kNoSuchTid = 0x3ffffff0;

long Futex(void* uaddr, int op, uint32_t val, const struct timespec* timeout = nullptr,
           void* uaddr2 = nullptr, uint32_t val3 = 0) {
  return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

// FUTEX_WAKE_OP's val2 travels in the timeout argument.
long FutexWakeOp(void* uaddr, uint32_t nr_wake, uint32_t nr_wake2, void* uaddr2,
                 uint32_t encoded_op, int flags = FUTEX_PRIVATE_FLAG) {
  return syscall(SYS_futex, uaddr, FUTEX_WAKE_OP | flags, nr_wake,
                 reinterpret_cast<void*>(static_cast<uintptr_t>(nr_wake2)), uaddr2, encoded_op);
}

struct timespec Now(clockid_t c) {
  struct timespec ts;
  syscall(SYS_clock_gettime, c, &ts);
  return ts;
}

int64_t ToNanos(const struct timespec& ts) { return ts.tv_sec * 1000000000LL + ts.tv_nsec; }

// `c`'s time `ms` milliseconds from now.
struct timespec After(clockid_t c, int ms) {
  struct timespec ts = Now(c);
  ts.tv_nsec += ms * 1000000L;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

uint32_t Tid() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

// REQUEUE's nr_requeue (and WAKE_OP's nr_wake2) travel in the timeout's place.
struct timespec* Val2(uint32_t v) {
  return reinterpret_cast<struct timespec*>(static_cast<uintptr_t>(v));
}

uint32_t Load(const uint32_t& word) { return __atomic_load_n(&word, __ATOMIC_SEQ_CST); }
void Store(uint32_t& word, uint32_t v) { __atomic_store_n(&word, v, __ATOMIC_SEQ_CST); }

class FutexTest : public ::testing::TestWithParam<int> {
 protected:
  // FUTEX_PRIVATE_FLAG or 0.
  int flags() const { return GetParam(); }
  int op(int cmd) const { return cmd | flags(); }
};

TEST_P(FutexTest, WaitWithTheWrongValueIsEagain) {
  alignas(4) uint32_t word = 1;
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 2), SyscallFailsWithErrno(EAGAIN));
}

TEST_P(FutexTest, WaitTimesOut) {
  alignas(4) uint32_t word = 1;
  const struct timespec timeout = {0, 1000000};
  const struct timespec before = Now(CLOCK_MONOTONIC);
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 1, &timeout), SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_GE(ToNanos(Now(CLOCK_MONOTONIC)) - ToNanos(before), ToNanos(timeout));
}

TEST_P(FutexTest, WaitWithAZeroTimeoutTimesOutAtOnce) {
  alignas(4) uint32_t word = 7;
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 7, &zero), SyscallFailsWithErrno(ETIMEDOUT));
}

TEST_P(FutexTest, WaitBitsetTakesAnAbsoluteDeadline) {
  alignas(4) uint32_t word = 1;
  struct timespec deadline = Now(CLOCK_MONOTONIC);
  deadline.tv_nsec += 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT_BITSET), 1, &deadline, nullptr, FUTEX_BITSET_MATCH_ANY),
              SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_GE(ToNanos(Now(CLOCK_MONOTONIC)), ToNanos(deadline));
}

TEST_P(FutexTest, WaitBitsetWithAPastDeadlineTimesOutAtOnce) {
  alignas(4) uint32_t word = 1;
  const struct timespec past = {1, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT_BITSET), 1, &past, nullptr, FUTEX_BITSET_MATCH_ANY),
              SyscallFailsWithErrno(ETIMEDOUT));
}

TEST_P(FutexTest, WaitBitsetOnTheRealtimeClock) {
  alignas(4) uint32_t word = 1;
  const struct timespec past = {1, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT_BITSET) | FUTEX_CLOCK_REALTIME, 1, &past, nullptr,
                    FUTEX_BITSET_MATCH_ANY),
              SyscallFailsWithErrno(ETIMEDOUT));
}

TEST_P(FutexTest, WaitWithTheRealtimeClockIsNotSupported) {
  // Only the bitset (and requeue-PI) waits take FUTEX_CLOCK_REALTIME.
  alignas(4) uint32_t word = 1;
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT) | FUTEX_CLOCK_REALTIME, 1, &zero),
              SyscallFailsWithErrno(ENOSYS));
}

TEST_P(FutexTest, WaitBitsetZeroIsEinval) {
  alignas(4) uint32_t word = 1;
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT_BITSET), 1, &zero, nullptr, 0),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, WakeBitsetZeroIsEinval) {
  alignas(4) uint32_t word = 1;
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE_BITSET), 1, nullptr, nullptr, 0),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, UnalignedAddressIsEinval) {
  alignas(8) uint32_t words[2] = {1, 1};
  char* unaligned = reinterpret_cast<char*>(words) + 1;
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(unaligned, op(FUTEX_WAIT), 1, &zero), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(unaligned, op(FUTEX_WAKE), 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(reinterpret_cast<char*>(words) + 2, op(FUTEX_WAKE), 1),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, UnalignedPiWordIsEinvalUnlessNotOurs) {
  alignas(8) uint32_t words[2] = {0, 0};
  char* unaligned = reinterpret_cast<char*>(words) + 1;
  EXPECT_THAT(Futex(unaligned, op(FUTEX_LOCK_PI), 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(unaligned, op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(EINVAL));
  // UNLOCK_PI reads the word before it looks at the address: not ours.
  EXPECT_THAT(Futex(unaligned, op(FUTEX_UNLOCK_PI), 0), SyscallFailsWithErrno(EPERM));
}

TEST_P(FutexTest, WakeWithoutWaitersWakesNobody) {
  alignas(4) uint32_t word = 0;
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), 1), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), INT_MAX), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE_BITSET), 1, nullptr, nullptr, FUTEX_BITSET_MATCH_ANY),
              SyscallSucceedsWithValue(0));
}

TEST_P(FutexTest, InvalidTimeoutIsEinval) {
  alignas(4) uint32_t word = 1;
  const struct timespec bad_nsec = {0, 1000000000}, neg_nsec = {0, -1}, neg_sec = {-1, 0};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 1, &bad_nsec), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 1, &neg_nsec), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 1, &neg_sec), SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, TimeoutIsCheckedBeforeTheValue) {
  alignas(4) uint32_t word = 1;
  const struct timespec bad = {0, 1000000000};
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 2, &bad), SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, BadTimeoutPointerIsEfault) {
  alignas(4) uint32_t word = 1;
  EXPECT_THAT(Futex(&word, op(FUTEX_WAIT), 1, static_cast<struct timespec*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
}

TEST_P(FutexTest, WaitOnAnUnmappedWordIsEfault) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(reinterpret_cast<void*>(free_addr), op(FUTEX_WAIT), 0, &zero),
              SyscallFailsWithErrno(EFAULT));
}

TEST_P(FutexTest, WaitOnAProtNoneWordIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_NONE));
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(m.ptr(), op(FUTEX_WAIT), 0, &zero), SyscallFailsWithErrno(EFAULT));
}

TEST_P(FutexTest, UnknownCommandIsEnosys) {
  alignas(4) uint32_t word = 0;
  EXPECT_THAT(Futex(&word, op(14), 0), SyscallFailsWithErrno(ENOSYS));
  EXPECT_THAT(Futex(&word, op(127), 0), SyscallFailsWithErrno(ENOSYS));
}

TEST_P(FutexTest, RequeueWithoutWaitersMovesNobody) {
  alignas(4) uint32_t a = 0, b = 0;
  EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), 1, reinterpret_cast<struct timespec*>(1), &b),
              SyscallSucceedsWithValue(0));
}

TEST_P(FutexTest, CmpRequeueChecksTheValue) {
  alignas(4) uint32_t a = 5, b = 0;
  EXPECT_THAT(Futex(&a, op(FUTEX_CMP_REQUEUE), 1, reinterpret_cast<struct timespec*>(1), &b, 6),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Futex(&a, op(FUTEX_CMP_REQUEUE), 1, reinterpret_cast<struct timespec*>(1), &b, 5),
              SyscallSucceedsWithValue(0));
}

TEST_P(FutexTest, WakeOpAppliesTheOperation) {
  alignas(4) uint32_t a = 0, b = 5;
  // b += 3; wake waiters on b if the old value == 5.
  EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5), flags()),
              SyscallSucceedsWithValue(0));
  EXPECT_EQ(b, 8u);
  EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_NE, 0), flags()),
              SyscallSucceedsWithValue(0));
  EXPECT_EQ(b, 1u);
}

TEST_P(FutexTest, WakeOpOnAReadOnlyWordIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  alignas(4) uint32_t a = 0;
  EXPECT_THAT(
      FutexWakeOp(&a, 1, 1, ro.ptr(), FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0), flags()),
      SyscallFailsWithErrno(EFAULT));
}

TEST_P(FutexTest, UncontendedPiLockAndUnlock) {
  alignas(4) uint32_t word = 0;
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word & FUTEX_TID_MASK, static_cast<uint32_t>(gettid()));
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, 0u);
}

TEST_P(FutexTest, TrylockPiOnAWordWeOwnIsEdeadlk) {
  alignas(4) uint32_t word = static_cast<uint32_t>(gettid());
  EXPECT_THAT(Futex(&word, op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(EDEADLK));
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallFailsWithErrno(EDEADLK));
}

TEST_P(FutexTest, UnlockPiOfAWordWeDoNotOwnIsEperm) {
  alignas(4) uint32_t word = 0;
  EXPECT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallFailsWithErrno(EPERM));
}

TEST_P(FutexTest, WakeOpKnowsEveryOperation) {
  alignas(4) uint32_t a = 0, b = 6;
  const struct {
    uint32_t op, oparg, before, after;
  } cases[] = {
      {FUTEX_OP_SET, 3, 6, 3},
      {FUTEX_OP_ADD, 2, 3, 5},
      {FUTEX_OP_OR, 8, 5, 13},
      {FUTEX_OP_ANDN, 1, 13, 12},
      {FUTEX_OP_XOR, 15, 12, 3},
      {FUTEX_OP_SET | (FUTEX_OP_OPARG_SHIFT), 4, 3, 16},  // oparg is a shift
      {FUTEX_OP_OR | (FUTEX_OP_OPARG_SHIFT), 0, 16, 17},
      {FUTEX_OP_ADD, 0xfff, 17, 16},  // oparg is a signed 12-bit number
  };
  for (const auto& c : cases) {
    Store(b, c.before);
    EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(c.op, c.oparg, FUTEX_OP_CMP_EQ, 0), flags()),
                SyscallSucceedsWithValue(0))
        << "op " << c.op;
    EXPECT_EQ(Load(b), c.after) << "op " << c.op;
  }
}

TEST_P(FutexTest, WakeOpUnknownOperationChangesNothing) {
  alignas(4) uint32_t a = 0, b = 6;
  EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(5, 1, FUTEX_OP_CMP_EQ, 0), flags()),
              SyscallFailsWithErrno(ENOSYS));
  EXPECT_EQ(b, 6u);
  // An unknown comparison is found only after the operation.
  EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(FUTEX_OP_SET, 1, 6, 0), flags()),
              SyscallFailsWithErrno(ENOSYS));
  EXPECT_EQ(b, 1u);
}

TEST_P(FutexTest, WakeOpOnAnUnalignedWordIsEinval) {
  alignas(8) uint32_t words[2] = {0, 0};
  EXPECT_THAT(FutexWakeOp(&words[0], 1, 1, reinterpret_cast<char*>(&words[1]) + 1,
                          FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0), flags()),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, NegativeRequeueCountsAreEinval) {
  alignas(4) uint32_t a = 0, b = 0;
  EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), static_cast<uint32_t>(-1), Val2(1), &b),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), 1, Val2(0x80000000u), &b),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&a, op(FUTEX_CMP_REQUEUE), 1, Val2(0x80000000u), &b, 0),
              SyscallFailsWithErrno(EINVAL));
}

TEST_P(FutexTest, RequeueToAnUnmappedWordIsEfaultOnlyWhenShared) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  alignas(4) uint32_t a = 0;
  if (flags() == FUTEX_PRIVATE_FLAG) {
    EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), 1, Val2(1), reinterpret_cast<void*>(free_addr)),
                SyscallSucceedsWithValue(0));
  } else {
    EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), 1, Val2(1), reinterpret_cast<void*>(free_addr)),
                SyscallFailsWithErrno(EFAULT));
  }
}

TEST_P(FutexTest, LockPiTakesAWordWhoseOwnerDied) {
  alignas(4) uint32_t word = FUTEX_OWNER_DIED;
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, FUTEX_OWNER_DIED | Tid());
  // Unlocking clears everything, FUTEX_OWNER_DIED included.
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, 0u);
}

TEST_P(FutexTest, UnlockPiClearsAStaleWaitersBit) {
  alignas(4) uint32_t word = Tid() | FUTEX_WAITERS;
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, 0u);
}

TEST_P(FutexTest, TrylockPiTakesAFreeWord) {
  alignas(4) uint32_t word = 0;
  // TRYLOCK_PI takes no timeout: the argument is not read.
  ASSERT_THAT(Futex(&word, op(FUTEX_TRYLOCK_PI), 0, static_cast<struct timespec*>(kKernelAddress)),
              SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, Tid());
  EXPECT_THAT(Futex(&word, op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(EDEADLK));
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
}

TEST_P(FutexTest, LockPiOfAWordOwnedByNoTaskIsEsrch) {
  alignas(4) uint32_t word = kNoSuchTid;
  EXPECT_THAT(Futex(&word, op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(ESRCH));
  // On the way, FUTEX_WAITERS was set (the owner must come to the kernel).
  EXPECT_EQ(word, kNoSuchTid | FUTEX_WAITERS);
  const struct timespec deadline = After(CLOCK_REALTIME, 1000);
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0, &deadline), SyscallFailsWithErrno(ESRCH));
}

TEST_P(FutexTest, LockPi2TakesAFreeWord) {
  alignas(4) uint32_t word = 0;
  const struct timespec deadline = After(CLOCK_MONOTONIC, 1000);
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI2), 0, &deadline), SyscallSucceedsWithValue(0));
  EXPECT_EQ(word, Tid());
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  const struct timespec rt_deadline = After(CLOCK_REALTIME, 1000);
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI2) | FUTEX_CLOCK_REALTIME, 0, &rt_deadline),
              SyscallSucceedsWithValue(0));
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
}

TEST_P(FutexTest, LockPiWithTheRealtimeFlagIsNotSupported) {
  // LOCK_PI always times out on CLOCK_REALTIME; only LOCK_PI2 takes the flag.
  alignas(4) uint32_t word = 0;
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI) | FUTEX_CLOCK_REALTIME, 0),
              SyscallFailsWithErrno(ENOSYS));
  EXPECT_EQ(word, 0u);
}

TEST_P(FutexTest, LockPiChecksItsTimeout) {
  alignas(4) uint32_t word = 0;
  const struct timespec bad = {0, 1000000000};
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0, &bad), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0, static_cast<struct timespec*>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(word, 0u);
}

TEST_P(FutexTest, PiOnAReadOnlyWordIsEfault) {
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(Futex(ro.ptr(), op(FUTEX_LOCK_PI), 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Futex(ro.ptr(), op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(EFAULT));
  // UNLOCK_PI reads the word first: it is not ours.
  EXPECT_THAT(Futex(ro.ptr(), op(FUTEX_UNLOCK_PI), 0), SyscallFailsWithErrno(EPERM));
}

TEST_P(FutexTest, WaitRequeuePiChecksItsArguments) {
  alignas(4) uint32_t cond = 0, lock = 0;
  const struct timespec zero = {0, 0};
  EXPECT_THAT(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI), 0, &zero, &cond),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI), 1, &zero, &lock),
              SyscallFailsWithErrno(EAGAIN));
  const struct timespec past = {1, 0};
  EXPECT_THAT(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI), 0, &past, &lock),
              SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_THAT(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI) | FUTEX_CLOCK_REALTIME, 0, &past, &lock),
              SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_EQ(lock, 0u);
}

TEST_P(FutexTest, CmpRequeuePiChecksItsArguments) {
  alignas(4) uint32_t cond = 3, lock = 0;
  // Exactly one waiter may be woken (the one that takes the lock).
  EXPECT_THAT(Futex(&cond, op(FUTEX_CMP_REQUEUE_PI), 2, Val2(1), &lock, 3),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&cond, op(FUTEX_CMP_REQUEUE_PI), 1, Val2(1), &cond, 3),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Futex(&cond, op(FUTEX_CMP_REQUEUE_PI), 1, Val2(1), &lock, 4),
              SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Futex(&cond, op(FUTEX_CMP_REQUEUE_PI), 1, Val2(1), &lock, 3),
              SyscallSucceedsWithValue(0));
}

INSTANTIATE_TEST_SUITE_P(PrivateAndShared, FutexTest, ::testing::Values(FUTEX_PRIVATE_FLAG, 0),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == FUTEX_PRIVATE_FLAG ? "Private" : "Shared";
                         });

// Private futexes are keyed by address alone; shared ones must find the
// page, so only they notice that nothing is mapped there.
TEST(FutexKeyTest, PrivateWakeOnAnUnmappedWordWakesNobody) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(Futex(reinterpret_cast<void*>(free_addr), FUTEX_WAKE_PRIVATE, 1),
              SyscallSucceedsWithValue(0));
}

TEST(FutexKeyTest, PrivateWaitOnAReadOnlyWordReadsIt) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(Futex(m.ptr(), FUTEX_WAIT_PRIVATE, 1), SyscallFailsWithErrno(EAGAIN));
}

TEST(FutexKeyTest, SharedWakeOnAnUnmappedWordIsEfault) {
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  EXPECT_THAT(Futex(reinterpret_cast<void*>(free_addr), FUTEX_WAKE, 1),
              SyscallFailsWithErrno(EFAULT));
}

TEST(FutexKeyTest, SharedWakeOnAKernelAddressIsEfault) {
  EXPECT_THAT(Futex(kKernelAddress, FUTEX_WAKE, 1), SyscallFailsWithErrno(EFAULT));
}

// ---------------------------------------------------------------------------
// With threads.

// A thread running `fn` (pthread_create, so that a sandbox without clone fails
// the test instead of aborting). The thread owns its copy of `fn`.
class TestThread {
 public:
  explicit TestThread(std::function<void()> fn, bool detached = false) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* owned = new std::function<void()>(std::move(fn));
    err_ = pthread_create(&thread_, &attr, &TestThread::Run, owned);
    if (err_ != 0) delete owned;
    pthread_attr_destroy(&attr);
    joined_ = detached;
  }
  ~TestThread() { Join(); }
  TestThread(const TestThread&) = delete;
  TestThread& operator=(const TestThread&) = delete;

  // 0, or why the thread could not be made.
  int error() const { return err_; }
  pthread_t handle() const { return thread_; }
  void Join() {
    if (err_ == 0 && !joined_) {
      pthread_join(thread_, nullptr);
      joined_ = true;
    }
  }

 private:
  static void* Run(void* arg) {
    auto* fn = static_cast<std::function<void()>*>(arg);
    (*fn)();
    delete fn;
    return nullptr;
  }
  pthread_t thread_{};
  int err_ = 0;
  bool joined_ = false;
};

// A syscall's outcome on another thread: its return value and errno.
struct Outcome {
  std::atomic<long> ret{-2};
  std::atomic<int> err{0};
  std::atomic<bool> done{false};
  void Set(long r) {
    err = errno;
    ret = r;
    done = true;
  }
  // Like the matchers: the value, or -errno.
  long Get() const { return ret == -1 ? -err.load() : ret.load(); }
};

// How many threads wait on `word`: requeueing them onto the same word moves
// nobody and wakes nobody, and counts them.
long WaitersOn(uint32_t* word, int flags) {
  return Futex(word, FUTEX_REQUEUE | flags, 0, Val2(INT_MAX), word);
}

// Waits until `n` threads wait on `word` (false after a generous while).
bool AwaitWaiters(uint32_t* word, long n, int flags) {
  for (int i = 0; i < 20000; ++i) {
    if (WaitersOn(word, flags) == n) return true;
    usleep(500);
  }
  return false;
}

// Waits until `pred` holds (false after a generous while).
bool AwaitTrue(const std::function<bool()>& pred) {
  for (int i = 0; i < 20000; ++i) {
    if (pred()) return true;
    usleep(500);
  }
  return false;
}

class FutexThreadTest : public FutexTest {};

TEST_P(FutexThreadTest, WakeWakesAWaitingThread) {
  alignas(4) uint32_t word = 0;
  Outcome o;
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  ASSERT_EQ(t.error(), 0) << strerror(t.error());
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  // A wake of the other kind (private vs shared) does not reach it.
  const int other = flags() ^ FUTEX_PRIVATE_FLAG;
  EXPECT_THAT(Futex(&word, FUTEX_WAKE | other, 1), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), 1), SyscallSucceedsWithValue(1));
  t.Join();
  EXPECT_EQ(o.Get(), 0);
}

TEST_P(FutexThreadTest, WakeCountsTheThreadsItWakes) {
  alignas(4) uint32_t word = 0;
  Outcome o[3];
  TestThread t0([&] { o[0].Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  TestThread t1([&] { o[1].Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  TestThread t2([&] { o[2].Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  ASSERT_EQ(t0.error() | t1.error() | t2.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 3, flags()));
  // A count of 0 still wakes one (Linux counts before it compares).
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), 0), SyscallSucceedsWithValue(1));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), INT_MAX), SyscallSucceedsWithValue(2));
  t0.Join();
  t1.Join();
  t2.Join();
  for (const Outcome& x : o) EXPECT_EQ(x.Get(), 0);
}

TEST_P(FutexThreadTest, WakeBitsetWakesMatchingWaitersOnly) {
  alignas(4) uint32_t word = 0;
  Outcome low, high;
  TestThread t0([&] { low.Set(Futex(&word, op(FUTEX_WAIT_BITSET), 0, nullptr, nullptr, 0x1)); });
  TestThread t1([&] { high.Set(Futex(&word, op(FUTEX_WAIT_BITSET), 0, nullptr, nullptr, 0x6)); });
  ASSERT_EQ(t0.error() | t1.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 2, flags()));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE_BITSET), INT_MAX, nullptr, nullptr, 0x8),
              SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE_BITSET), INT_MAX, nullptr, nullptr, 0x4),
              SyscallSucceedsWithValue(1));
  t1.Join();
  EXPECT_EQ(high.Get(), 0);
  EXPECT_FALSE(low.done);
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), INT_MAX), SyscallSucceedsWithValue(1));
  t0.Join();
  EXPECT_EQ(low.Get(), 0);
}

TEST_P(FutexThreadTest, WaitIsWokenBeforeItsTimeout) {
  alignas(4) uint32_t word = 0;
  Outcome o;
  const struct timespec timeout = {60, 0};
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_WAIT), 0, &timeout)); });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  EXPECT_THAT(Futex(&word, op(FUTEX_WAKE), 1), SyscallSucceedsWithValue(1));
  t.Join();
  EXPECT_EQ(o.Get(), 0);
}

TEST_P(FutexThreadTest, CmpRequeueWakesSomeAndMovesOthers) {
  alignas(4) uint32_t a = 7, b = 0;
  Outcome o[3];
  TestThread t0([&] { o[0].Set(Futex(&a, op(FUTEX_WAIT), 7)); });
  TestThread t1([&] { o[1].Set(Futex(&a, op(FUTEX_WAIT), 7)); });
  TestThread t2([&] { o[2].Set(Futex(&a, op(FUTEX_WAIT), 7)); });
  ASSERT_EQ(t0.error() | t1.error() | t2.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&a, 3, flags()));
  EXPECT_THAT(Futex(&a, op(FUTEX_CMP_REQUEUE), 1, Val2(1), &b, 8), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Futex(&a, op(FUTEX_CMP_REQUEUE), 1, Val2(1), &b, 7), SyscallSucceedsWithValue(2));
  EXPECT_EQ(WaitersOn(&a, flags()), 1);
  EXPECT_EQ(WaitersOn(&b, flags()), 1);
  // A plain requeue of the rest, then one wake of each word.
  EXPECT_THAT(Futex(&a, op(FUTEX_REQUEUE), 0, Val2(INT_MAX), &b), SyscallSucceedsWithValue(1));
  EXPECT_THAT(Futex(&a, op(FUTEX_WAKE), INT_MAX), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Futex(&b, op(FUTEX_WAKE), INT_MAX), SyscallSucceedsWithValue(2));
  t0.Join();
  t1.Join();
  t2.Join();
  for (const Outcome& x : o) EXPECT_EQ(x.Get(), 0);
}

TEST_P(FutexThreadTest, WakeOpWakesBothWords) {
  alignas(4) uint32_t a = 0, b = 5;
  Outcome oa, ob;
  TestThread ta([&] { oa.Set(Futex(&a, op(FUTEX_WAIT), 0)); });
  TestThread tb([&] { ob.Set(Futex(&b, op(FUTEX_WAIT), 5)); });
  ASSERT_EQ(ta.error() | tb.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&a, 1, flags()));
  ASSERT_TRUE(AwaitWaiters(&b, 1, flags()));
  // b += 1, and wake b's waiter too if b was 5 (it was).
  EXPECT_THAT(FutexWakeOp(&a, 1, 1, &b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 5), flags()),
              SyscallSucceedsWithValue(2));
  EXPECT_EQ(Load(b), 6u);
  ta.Join();
  tb.Join();
  EXPECT_EQ(oa.Get(), 0);
  EXPECT_EQ(ob.Get(), 0);
}

TEST_P(FutexThreadTest, APiWaiterIsNotForWake) {
  alignas(4) uint32_t word = 0;
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  Outcome o;
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_LOCK_PI), 0)); });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return (Load(word) & FUTEX_WAITERS) != 0; }));
  ASSERT_TRUE(AwaitTrue([&] { return Futex(&word, op(FUTEX_WAKE), 1) == -1 && errno == EINVAL; }));
  EXPECT_THAT(Futex(&word, op(FUTEX_REQUEUE), 0, Val2(1), &word), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  t.Join();
  EXPECT_EQ(o.Get(), 0);
}

TEST_P(FutexThreadTest, UnlockPiHandsTheLockToTheWaiter) {
  alignas(4) uint32_t word = 0;
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  Outcome locked, unlocked;
  std::atomic<uint32_t> waiter_tid{0};
  std::atomic<uint32_t> seen{0};
  TestThread t([&] {
    waiter_tid = Tid();
    locked.Set(Futex(&word, op(FUTEX_LOCK_PI), 0));
    seen = Load(word);
    unlocked.Set(Futex(&word, op(FUTEX_UNLOCK_PI), 0));
  });
  ASSERT_EQ(t.error(), 0);
  // The waiter sets FUTEX_WAITERS before it sleeps, so our unlock goes to
  // the kernel, which makes it the owner.
  ASSERT_TRUE(AwaitTrue([&] { return (Load(word) & FUTEX_WAITERS) != 0; }));
  EXPECT_EQ(Load(word), Tid() | FUTEX_WAITERS);
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  t.Join();
  EXPECT_EQ(locked.Get(), 0);
  EXPECT_EQ(seen & FUTEX_TID_MASK, waiter_tid.load());
  EXPECT_EQ(unlocked.Get(), 0);
  EXPECT_EQ(Load(word), 0u);
}

TEST_P(FutexThreadTest, LockPiTimesOutWhileAnotherThreadHoldsIt) {
  alignas(4) uint32_t word = 0, go = 0;
  Outcome held, released;
  TestThread holder([&] {
    held.Set(Futex(&word, op(FUTEX_LOCK_PI), 0));
    while (Load(go) == 0) Futex(&go, op(FUTEX_WAIT), 0);
    released.Set(Futex(&word, op(FUTEX_UNLOCK_PI), 0));
  });
  ASSERT_EQ(holder.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return held.done.load(); }));
  ASSERT_EQ(held.Get(), 0);
  struct timespec deadline = After(CLOCK_REALTIME, 10);
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0, &deadline), SyscallFailsWithErrno(ETIMEDOUT));
  deadline = After(CLOCK_MONOTONIC, 10);
  EXPECT_THAT(Futex(&word, op(FUTEX_LOCK_PI2), 0, &deadline), SyscallFailsWithErrno(ETIMEDOUT));
  EXPECT_THAT(Futex(&word, op(FUTEX_TRYLOCK_PI), 0), SyscallFailsWithErrno(EAGAIN));
  Store(go, 1);
  Futex(&go, op(FUTEX_WAKE), 1);
  holder.Join();
  EXPECT_EQ(released.Get(), 0);
  EXPECT_EQ(Load(word), 0u);
}

// Requeues the waiters of `cond` onto the PI futex `lock` until `n` have
// been taken (they may still be on their way to sleep).
bool RequeuePiAll(uint32_t* cond, uint32_t* lock, long n, int flags) {
  long total = 0;
  return AwaitTrue([&] {
    const long r = Futex(cond, FUTEX_CMP_REQUEUE_PI | flags, 1, Val2(INT_MAX), lock, Load(*cond));
    if (r > 0) total += r;
    return total >= n;
  });
}

TEST_P(FutexThreadTest, CmpRequeuePiTakesAFreeLockForTheWaiter) {
  alignas(4) uint32_t cond = 0, lock = 0;
  Outcome waited, unlocked;
  std::atomic<uint32_t> waiter_tid{0};
  std::atomic<uint32_t> seen{0};
  TestThread t([&] {
    waiter_tid = Tid();
    waited.Set(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI), 0, nullptr, &lock));
    seen = Load(lock);
    unlocked.Set(Futex(&lock, op(FUTEX_UNLOCK_PI), 0));
  });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(RequeuePiAll(&cond, &lock, 1, flags()));
  t.Join();
  EXPECT_EQ(waited.Get(), 0);
  EXPECT_EQ(seen & FUTEX_TID_MASK, waiter_tid.load());
  EXPECT_EQ(unlocked.Get(), 0);
  EXPECT_EQ(Load(lock), 0u);
}

TEST_P(FutexThreadTest, CmpRequeuePiQueuesWaitersOnAHeldLock) {
  alignas(4) uint32_t cond = 0, lock = 0;
  ASSERT_THAT(Futex(&lock, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  Outcome waited[2], unlocked[2];
  auto waiter = [&](int i) {
    return [&, i] {
      waited[i].Set(Futex(&cond, op(FUTEX_WAIT_REQUEUE_PI), 0, nullptr, &lock));
      unlocked[i].Set(Futex(&lock, op(FUTEX_UNLOCK_PI), 0));
    };
  };
  TestThread t0(waiter(0));
  TestThread t1(waiter(1));
  ASSERT_EQ(t0.error() | t1.error(), 0);
  ASSERT_TRUE(RequeuePiAll(&cond, &lock, 2, flags()));
  EXPECT_EQ(Load(lock), Tid() | FUTEX_WAITERS);
  // Each unlock hands the lock on.
  ASSERT_THAT(Futex(&lock, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  t0.Join();
  t1.Join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(waited[i].Get(), 0);
    EXPECT_EQ(unlocked[i].Get(), 0);
  }
  EXPECT_EQ(Load(lock), 0u);
}

struct RobustEntry {
  struct robust_list node;
  uint32_t word;
};

TEST_P(FutexThreadTest, ThreadExitMarksItsRobustFutexesAndWakesAWaiter) {
  struct robust_list_head head = {};
  RobustEntry held = {}, pending = {}, foreign = {};
  std::atomic<uint32_t> owner{0};
  alignas(4) uint32_t go = 0;
  TestThread t([&] {
    const uint32_t tid = Tid();
    // head -> held -> foreign -> head; `pending` is being acquired.
    head.list.next = &held.node;
    held.node.next = &foreign.node;
    foreign.node.next = &head.list;
    head.futex_offset = offsetof(RobustEntry, word) - offsetof(RobustEntry, node);
    head.list_op_pending = &pending.node;
    Store(held.word, tid | FUTEX_WAITERS);
    Store(pending.word, tid);
    Store(foreign.word, 1);  // someone else's
    syscall(SYS_set_robust_list, &head, sizeof(head));
    owner = tid;
    // Exit once the main thread waits on `held` (robust futexes are shared).
    while (Load(go) == 0) Futex(&go, FUTEX_WAIT_PRIVATE, 0);
  });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return owner.load() != 0; }));
  Outcome o;
  TestThread waiter([&] { o.Set(Futex(&held.word, FUTEX_WAIT, owner | FUTEX_WAITERS)); });
  ASSERT_EQ(waiter.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&held.word, 1, 0));
  Store(go, 1);
  Futex(&go, FUTEX_WAKE_PRIVATE, 1);
  t.Join();
  waiter.Join();
  EXPECT_EQ(o.Get(), 0);
  EXPECT_EQ(Load(held.word), FUTEX_WAITERS | FUTEX_OWNER_DIED);
  EXPECT_EQ(Load(pending.word), FUTEX_OWNER_DIED);
  EXPECT_EQ(Load(foreign.word), 1u);
}

TEST_P(FutexThreadTest, ThreadExitHandsItsPiLockToTheWaiter) {
  alignas(4) uint32_t go = 0;
  struct robust_list_head head = {};
  RobustEntry lock = {};
  Outcome held, waited;
  std::atomic<uint32_t> waiter_tid{0};
  TestThread owner([&] {
    head.list.next = reinterpret_cast<struct robust_list*>(reinterpret_cast<uintptr_t>(&lock.node) |
                                                           1);  // bit 0: a PI futex
    lock.node.next = &head.list;
    head.futex_offset = offsetof(RobustEntry, word) - offsetof(RobustEntry, node);
    syscall(SYS_set_robust_list, &head, sizeof(head));
    held.Set(Futex(&lock.word, FUTEX_LOCK_PI, 0));
    while (Load(go) == 0) Futex(&go, FUTEX_WAIT_PRIVATE, 0);
  });
  ASSERT_EQ(owner.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return held.done.load(); }));
  ASSERT_EQ(held.Get(), 0);
  TestThread waiter([&] {
    waiter_tid = Tid();
    waited.Set(Futex(&lock.word, FUTEX_LOCK_PI, 0));
  });
  ASSERT_EQ(waiter.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return (Load(lock.word) & FUTEX_WAITERS) != 0; }));
  Store(go, 1);
  Futex(&go, FUTEX_WAKE_PRIVATE, 1);
  owner.Join();
  waiter.Join();
  EXPECT_EQ(waited.Get(), 0);
  EXPECT_EQ(Load(lock.word), waiter_tid | FUTEX_WAITERS | FUTEX_OWNER_DIED);
}

TEST_P(FutexThreadTest, ThreadExitClearsTheChildTidAndWakesAJoiner) {
  alignas(4) uint32_t tid_word = 0;
  std::atomic<bool> go{false};
  // The detached thread uses this frame: let it finish before the frame goes.
  Cleanup finish([&] {
    go = true;
    AwaitTrue([&] { return Load(tid_word) == 0; });
  });
  {
    TestThread t(
        [&] {
          Store(tid_word, static_cast<uint32_t>(syscall(SYS_set_tid_address, &tid_word)));
          // Exit once the main thread waits (CLEAR_CHILD_TID wakes a shared futex).
          while (!go) usleep(100);
        },
        /*detached=*/true);
    ASSERT_EQ(t.error(), 0);
  }
  ASSERT_TRUE(AwaitTrue([&] { return Load(tid_word) != 0; }));
  const uint32_t tid = Load(tid_word);
  Outcome o;
  TestThread joiner([&] { o.Set(Futex(&tid_word, FUTEX_WAIT, tid)); });
  ASSERT_EQ(joiner.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&tid_word, 1, 0));
  go = true;
  joiner.Join();
  EXPECT_EQ(o.Get(), 0);
  EXPECT_EQ(Load(tid_word), 0u);
}

TEST_P(FutexThreadTest, ASignalInterruptsAWait) {
  SignalCatcher c(SIGUSR1, 0);  // no SA_RESTART
  ASSERT_TRUE(c.ok());
  alignas(4) uint32_t word = 0;
  Outcome o;
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  ASSERT_EQ(pthread_kill(t.handle(), SIGUSR1), 0);
  t.Join();
  EXPECT_EQ(o.Get(), -EINTR);
  EXPECT_EQ(c.count(), 1);
}

TEST_P(FutexThreadTest, AnSaRestartHandlerRestartsAnUntimedWait) {
  // Without a timeout an interrupted wait is ERESTARTSYS: SA_RESTART resumes it.
  SignalCatcher c(SIGUSR1, SA_RESTART);
  ASSERT_TRUE(c.ok());
  alignas(4) uint32_t word = 0;
  Outcome o;
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_WAIT), 0)); });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  ASSERT_EQ(pthread_kill(t.handle(), SIGUSR1), 0);
  ASSERT_TRUE(AwaitTrue([&] { return c.count() == 1; }));
  // Waiting again, on the same word.
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  EXPECT_FALSE(o.done);
  ASSERT_THAT(Futex(&word, op(FUTEX_WAKE), 1), SyscallSucceedsWithValue(1));
  t.Join();
  EXPECT_EQ(o.Get(), 0);
}

TEST_P(FutexThreadTest, AHandlerEndsATimedWaitWithEintrEvenWithSaRestart) {
  // With a timeout it is ERESTART_RESTARTBLOCK: any handler makes it EINTR.
  SignalCatcher c(SIGUSR1, SA_RESTART);
  ASSERT_TRUE(c.ok());
  alignas(4) uint32_t word = 0;
  const struct timespec timeout = {30, 0};
  Outcome o;
  TestThread t([&] { o.Set(Futex(&word, op(FUTEX_WAIT), 0, &timeout)); });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitWaiters(&word, 1, flags()));
  ASSERT_EQ(pthread_kill(t.handle(), SIGUSR1), 0);
  t.Join();
  EXPECT_EQ(o.Get(), -EINTR);
}

TEST_P(FutexTest, ATimedWaitSurvivesAStopAndKeepsItsDeadline) {
  // A stop and continue (no handler) restarts the wait through restart_syscall
  // with the same absolute deadline: it still times out, not sooner.
  ASSERT_OK_AND_ASSIGN(Mapping shared,
                       Mapping::Anonymous(kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED));
  auto* word = reinterpret_cast<uint32_t*>(shared.addr());
  const int fl = flags();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const struct timespec timeout = {1, 0};
    const int64_t start = ToNanos(Now(CLOCK_MONOTONIC));
    const long r = Futex(word, FUTEX_WAIT | fl, 0, &timeout);
    const int e = errno;
    const int64_t took = ToNanos(Now(CLOCK_MONOTONIC)) - start;
    _exit(r == -1 && e == ETIMEDOUT && took >= 1000000000LL ? 0 : r == -1 && e == EINTR ? 2 : 3);
  }
  if (fl == 0) {
    // A shared word: the parent can see the child wait on it.
    EXPECT_TRUE(AwaitWaiters(word, 1, 0));
  } else {
    usleep(100000);
  }
  ASSERT_THAT(kill(pid, SIGSTOP), SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(pid, &status, WUNTRACED), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFSTOPPED(status));
  ASSERT_THAT(kill(pid, SIGCONT), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(pid), 0) << "2: EINTR, 3: woke early or otherwise";
}

TEST_P(FutexThreadTest, ASignalDoesNotEndALockPi) {
  // LOCK_PI restarts after a handler (ERESTARTNOINTR), SA_RESTART or not.
  SignalCatcher c(SIGUSR1, 0);
  ASSERT_TRUE(c.ok());
  alignas(4) uint32_t word = 0;
  ASSERT_THAT(Futex(&word, op(FUTEX_LOCK_PI), 0), SyscallSucceedsWithValue(0));
  Outcome o;
  TestThread t([&] {
    o.Set(Futex(&word, op(FUTEX_LOCK_PI), 0));
    Futex(&word, op(FUTEX_UNLOCK_PI), 0);
  });
  ASSERT_EQ(t.error(), 0);
  ASSERT_TRUE(AwaitTrue([&] { return (Load(word) & FUTEX_WAITERS) != 0; }));
  ASSERT_EQ(pthread_kill(t.handle(), SIGUSR1), 0);
  ASSERT_TRUE(AwaitTrue([&] { return c.count() == 1; }));
  EXPECT_FALSE(o.done);
  ASSERT_THAT(Futex(&word, op(FUTEX_UNLOCK_PI), 0), SyscallSucceedsWithValue(0));
  t.Join();
  EXPECT_EQ(o.Get(), 0);
}

INSTANTIATE_TEST_SUITE_P(PrivateAndShared, FutexThreadTest,
                         ::testing::Values(FUTEX_PRIVATE_FLAG, 0),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == FUTEX_PRIVATE_FLAG ? "Private" : "Shared";
                         });

}  // namespace
}  // namespace syscalls_test
