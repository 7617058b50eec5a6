// futex(2) with one thread: WAIT's value check and timeouts, WAKE without
// waiters, the bitset variants, the argument checks, and the operations that
// need no second thread to observe (REQUEUE, WAKE_OP, the PI lock on an
// uncontended word).
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

void* const kKernelAddress = reinterpret_cast<void*>(0xffff800000000000);

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

}  // namespace
}  // namespace syscalls_test
