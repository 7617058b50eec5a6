// sched_yield(2), sched_getaffinity(2) and sched_setaffinity(2) with their
// length rules, the scheduling policies and priorities, and nice values
// (getpriority(2), setpriority(2)).
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr pid_t kNoSuchPid = 1 << 22;

long GetAffinity(pid_t pid, size_t len, void* mask) {
  return syscall(SYS_sched_getaffinity, pid, len, mask);
}

// The kernel's mask size: what a large enough buffer gets back.
long KernelMaskSize() {
  uint64_t mask[128];
  return GetAffinity(0, sizeof(mask), mask);
}

int CountBits(const uint8_t* p, size_t n) {
  int bits = 0;
  for (size_t i = 0; i < n; i++) bits += __builtin_popcount(p[i]);
  return bits;
}

TEST(SchedYieldTest, Succeeds) {
  for (int i = 0; i < 10; i++) EXPECT_THAT(sched_yield(), SyscallSucceedsWithValue(0));
}

TEST(SchedGetaffinityTest, ReturnsTheKernelMaskSize) {
  const long size = KernelMaskSize();
  ASSERT_THAT(size, SyscallSucceeds());
  EXPECT_GE(size, 8);
  EXPECT_EQ(size % 8, 0);
}

TEST(SchedGetaffinityTest, AtLeastOneCpuAndAtMostTheOnlineOnes) {
  uint8_t mask[1024] = {};
  const long size = GetAffinity(0, sizeof(mask), mask);
  ASSERT_THAT(size, SyscallSucceeds());
  const int cpus = CountBits(mask, size);
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, sysconf(_SC_NPROCESSORS_CONF));
}

TEST(SchedGetaffinityTest, BytesPastTheKernelMaskAreUntouched) {
  uint8_t mask[1024];
  memset(mask, 0xa5, sizeof(mask));
  const long size = GetAffinity(0, sizeof(mask), mask);
  ASSERT_THAT(size, SyscallSucceeds());
  for (size_t i = size; i < sizeof(mask); i++) ASSERT_EQ(mask[i], 0xa5) << "byte " << i;
}

TEST(SchedGetaffinityTest, LengthNotAMultipleOfALongIsEinval) {
  uint8_t mask[64];
  for (size_t len : {size_t{9}, size_t{12}, size_t{15}, size_t{63}}) {
    EXPECT_THAT(GetAffinity(0, len, mask), SyscallFailsWithErrno(EINVAL)) << "len " << len;
  }
}

TEST(SchedGetaffinityTest, LengthTooSmallForTheCpusIsEinval) {
  uint8_t mask[8];
  EXPECT_THAT(GetAffinity(0, 0, mask), SyscallFailsWithErrno(EINVAL));
  // Fewer bits than CPUs the kernel may have.
  EXPECT_THAT(GetAffinity(0, 1, mask), SyscallFailsWithErrno(EINVAL));
}

TEST(SchedGetaffinityTest, SelfByPidAndByTid) {
  uint64_t a[16] = {}, b[16] = {}, c[16] = {};
  ASSERT_THAT(GetAffinity(0, sizeof(a), a), SyscallSucceeds());
  ASSERT_THAT(GetAffinity(getpid(), sizeof(b), b), SyscallSucceeds());
  ASSERT_THAT(GetAffinity(gettid(), sizeof(c), c), SyscallSucceeds());
  EXPECT_EQ(memcmp(a, b, sizeof(a)), 0);
  EXPECT_EQ(memcmp(a, c, sizeof(a)), 0);
}

TEST(SchedGetaffinityTest, NonexistentThreadIsEsrch) {
  uint64_t mask[16];
  EXPECT_THAT(GetAffinity(kNoSuchPid, sizeof(mask), mask), SyscallFailsWithErrno(ESRCH));
}

TEST(SchedGetaffinityTest, BadPointerIsEfault) {
  EXPECT_THAT(GetAffinity(0, 128, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(GetAffinity(0, 128, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(SchedGetaffinityTest, LengthIsCheckedBeforeThePointer) {
  EXPECT_THAT(GetAffinity(0, 9, kKernelAddress), SyscallFailsWithErrno(EINVAL));
}

TEST(SchedGetaffinityTest, LengthIsCheckedBeforeThePid) {
  uint8_t mask[64];
  EXPECT_THAT(GetAffinity(kNoSuchPid, 9, mask), SyscallFailsWithErrno(EINVAL));
}

TEST(SchedGetaffinityTest, GlibcCpuSetAgrees) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_THAT(sched_getaffinity(0, sizeof(set), &set), SyscallSucceeds());
  EXPECT_GE(CPU_COUNT(&set), 1);
}

TEST(SchedSetaffinityTest, SettingTheCurrentMaskSucceeds) {
  cpu_set_t set;
  ASSERT_THAT(sched_getaffinity(0, sizeof(set), &set), SyscallSucceeds());
  EXPECT_THAT(sched_setaffinity(0, sizeof(set), &set), SyscallSucceeds());
}

TEST(SchedSetaffinityTest, EmptyMaskIsEinval) {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_THAT(sched_setaffinity(0, sizeof(set), &set), SyscallFailsWithErrno(EINVAL));
}

long SetAffinity(pid_t pid, size_t len, const void* mask) {
  return syscall(SYS_sched_setaffinity, pid, len, mask);
}

// Puts the affinity back however the test ends.
Cleanup RestoreAffinity() {
  cpu_set_t old;
  CPU_ZERO(&old);
  sched_getaffinity(0, sizeof(old), &old);
  return Cleanup([old] { sched_setaffinity(0, sizeof(old), &old); });
}

TEST(SchedSetaffinityTest, GetReturnsWhatWasSet) {
  Cleanup restore = RestoreAffinity();
  cpu_set_t set;
  ASSERT_THAT(sched_getaffinity(0, sizeof(set), &set), SyscallSucceeds());
  int first = 0;
  while (!CPU_ISSET(first, &set)) first++;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_THAT(sched_setaffinity(0, sizeof(one), &one), SyscallSucceeds());
  cpu_set_t got;
  ASSERT_THAT(sched_getaffinity(0, sizeof(got), &got), SyscallSucceeds());
  EXPECT_TRUE(CPU_EQUAL(&got, &one));
}

TEST(SchedSetaffinityTest, CpusThatDoNotExistAreDropped) {
  SKIP_IF(sysconf(_SC_NPROCESSORS_CONF) >= 64);
  Cleanup restore = RestoreAffinity();
  uint64_t mask = 0;
  ASSERT_THAT(GetAffinity(0, sizeof(mask), &mask), SyscallSucceeds());
  const uint64_t with_extra = mask | (uint64_t{1} << 63);
  ASSERT_THAT(SetAffinity(0, sizeof(with_extra), &with_extra), SyscallSucceeds());
  uint64_t got = 0;
  ASSERT_THAT(GetAffinity(0, sizeof(got), &got), SyscallSucceeds());
  EXPECT_EQ(got, mask);
  // A mask of only such CPUs is empty.
  const uint64_t only_extra = uint64_t{1} << 63;
  EXPECT_THAT(SetAffinity(0, sizeof(only_extra), &only_extra), SyscallFailsWithErrno(EINVAL));
}

TEST(SchedSetaffinityTest, AShortMaskIsZeroExtended) {
  Cleanup restore = RestoreAffinity();
  // One byte, CPU 0 only; any length is accepted.
  uint64_t mask = 0xffffffffffffff01;
  ASSERT_THAT(SetAffinity(0, 1, &mask), SyscallSucceeds());
  uint64_t got = 0;
  ASSERT_THAT(GetAffinity(0, sizeof(got), &got), SyscallSucceeds());
  EXPECT_EQ(got, 1u);
  // Length 0 reads nothing: an empty mask, whatever the pointer.
  EXPECT_THAT(SetAffinity(0, 0, kKernelAddress), SyscallFailsWithErrno(EINVAL));
}

TEST(SchedSetaffinityTest, Errors) {
  uint64_t mask = 0;
  ASSERT_THAT(GetAffinity(0, sizeof(mask), &mask), SyscallSucceeds());
  EXPECT_THAT(SetAffinity(0, sizeof(mask), kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SetAffinity(kNoSuchPid, sizeof(mask), &mask), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(SetAffinity(-1, sizeof(mask), &mask), SyscallFailsWithErrno(ESRCH));
  // The mask is read first, then the thread is looked up, then the mask checked.
  EXPECT_THAT(SetAffinity(kNoSuchPid, sizeof(mask), kKernelAddress), SyscallFailsWithErrno(EFAULT));
  const uint64_t empty = 0;
  EXPECT_THAT(SetAffinity(kNoSuchPid, sizeof(empty), &empty), SyscallFailsWithErrno(ESRCH));
}

TEST(SchedPolicyTest, DefaultPolicyIsOther) {
  EXPECT_THAT(syscall(SYS_sched_getscheduler, 0), SyscallSucceedsWithValue(SCHED_OTHER));
}

TEST(SchedPolicyTest, PriorityOfOtherIsZero) {
  struct sched_param p = {-1};
  ASSERT_THAT(syscall(SYS_sched_getparam, 0, &p), SyscallSucceeds());
  EXPECT_EQ(p.sched_priority, 0);
}

TEST(SchedPolicyTest, PriorityRanges) {
  EXPECT_THAT(sched_get_priority_max(SCHED_FIFO), SyscallSucceedsWithValue(99));
  EXPECT_THAT(sched_get_priority_min(SCHED_FIFO), SyscallSucceedsWithValue(1));
  EXPECT_THAT(sched_get_priority_max(SCHED_OTHER), SyscallSucceedsWithValue(0));
  EXPECT_THAT(sched_get_priority_min(SCHED_OTHER), SyscallSucceedsWithValue(0));
  EXPECT_THAT(sched_get_priority_max(12345), SyscallFailsWithErrno(EINVAL));
}

constexpr int kSchedDeadline = 6;

long SetScheduler(pid_t pid, int policy, int prio) {
  struct sched_param p = {prio};
  return syscall(SYS_sched_setscheduler, pid, policy, &p);
}
long GetScheduler(pid_t pid) { return syscall(SYS_sched_getscheduler, pid); }
int GetParam() {
  struct sched_param p = {-1};
  syscall(SYS_sched_getparam, 0, &p);
  return p.sched_priority;
}
timespec RrInterval() {
  timespec ts = {-1, -1};
  syscall(SYS_sched_rr_get_interval, 0, &ts);
  return ts;
}

Cleanup RestoreScheduler() {
  const int policy = GetScheduler(0);
  const int prio = GetParam();
  return Cleanup([=] { SetScheduler(0, policy, prio); });
}

TEST(SchedPolicyTest, EveryPolicyHasAPriorityRange) {
  for (int policy : {SCHED_FIFO, SCHED_RR}) {
    EXPECT_THAT(sched_get_priority_max(policy), SyscallSucceedsWithValue(99));
    EXPECT_THAT(sched_get_priority_min(policy), SyscallSucceedsWithValue(1));
  }
  for (int policy : {SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, kSchedDeadline}) {
    EXPECT_THAT(sched_get_priority_max(policy), SyscallSucceedsWithValue(0));
    EXPECT_THAT(sched_get_priority_min(policy), SyscallSucceedsWithValue(0));
  }
  for (int policy : {-1, 4, 12345}) {
    EXPECT_THAT(sched_get_priority_max(policy), SyscallFailsWithErrno(EINVAL));
    EXPECT_THAT(sched_get_priority_min(policy), SyscallFailsWithErrno(EINVAL));
  }
}

TEST(SchedPolicyTest, RealTimePoliciesRoundTrip) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));
  Cleanup restore = RestoreScheduler();
  ASSERT_THAT(SetScheduler(0, SCHED_FIFO, 10), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_FIFO));
  EXPECT_EQ(GetParam(), 10);
  timespec ts = RrInterval();
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_EQ(ts.tv_nsec, 0);  // FIFO has no time slice
  ASSERT_THAT(SetScheduler(0, SCHED_RR, 20), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_RR));
  ts = RrInterval();
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_EQ(ts.tv_nsec, 100000000);  // RR_TIMESLICE
  // sched_setparam keeps the policy.
  struct sched_param p = {30};
  ASSERT_THAT(syscall(SYS_sched_setparam, 0, &p), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(getpid()), SyscallSucceedsWithValue(SCHED_RR));
  EXPECT_EQ(GetParam(), 30);
  p.sched_priority = 0;
  EXPECT_THAT(syscall(SYS_sched_setparam, 0, &p), SyscallFailsWithErrno(EINVAL));
  ASSERT_THAT(SetScheduler(0, SCHED_OTHER, 0), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER));
  EXPECT_EQ(GetParam(), 0);
}

TEST(SchedPolicyTest, BatchAndIdle) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));  // leaving SCHED_IDLE may need it
  Cleanup restore = RestoreScheduler();
  ASSERT_THAT(SetScheduler(0, SCHED_BATCH, 0), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_BATCH));
  ASSERT_THAT(SetScheduler(0, SCHED_IDLE, 0), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_IDLE));
  EXPECT_EQ(GetParam(), 0);
  ASSERT_THAT(SetScheduler(0, SCHED_OTHER, 0), SyscallSucceeds());
}

TEST(SchedPolicyTest, ResetOnForkIsReported) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));  // clearing it needs it
  Cleanup restore = RestoreScheduler();
  ASSERT_THAT(SetScheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, 0), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER | SCHED_RESET_ON_FORK));
  // sched_setparam keeps it.
  struct sched_param p = {0};
  ASSERT_THAT(syscall(SYS_sched_setparam, 0, &p), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER | SCHED_RESET_ON_FORK));
  ASSERT_THAT(SetScheduler(0, SCHED_OTHER, 0), SyscallSucceeds());
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER));
}

TEST(SchedPolicyTest, SetschedulerErrors) {
  // Priorities: 1..99 for FIFO and RR, 0 for the others.
  EXPECT_THAT(SetScheduler(0, SCHED_FIFO, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, SCHED_FIFO, 100), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, SCHED_RR, -1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, SCHED_OTHER, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, SCHED_BATCH, -1), SyscallFailsWithErrno(EINVAL));
  // SCHED_DEADLINE needs sched_setattr's parameters.
  EXPECT_THAT(SetScheduler(0, kSchedDeadline, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, 4, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, 12345, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(0, -1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(-1, SCHED_OTHER, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetScheduler(kNoSuchPid, SCHED_OTHER, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, nullptr),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_sched_setparam, 0, kKernelAddress), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_sched_setparam, -1, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER));
}

TEST(SchedPolicyTest, SetschedulerCheckOrder) {
  // The parameter is read, then the task looked up, then the policy checked.
  EXPECT_THAT(syscall(SYS_sched_setscheduler, kNoSuchPid, SCHED_OTHER, kKernelAddress),
              SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SetScheduler(kNoSuchPid, 12345, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_sched_setscheduler, kNoSuchPid, SCHED_OTHER, nullptr),
              SyscallFailsWithErrno(EINVAL));
}

TEST(SchedPolicyTest, GetErrors) {
  EXPECT_THAT(GetScheduler(-1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetScheduler(kNoSuchPid), SyscallFailsWithErrno(ESRCH));
  struct sched_param p;
  EXPECT_THAT(syscall(SYS_sched_getparam, -1, &p), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_sched_getparam, 0, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_sched_getparam, kNoSuchPid, &p), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_sched_getparam, 0, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(SchedRrGetIntervalTest, OtherPolicyHasAShortSlice) {
  // Linux reports the fair scheduler's slice in whole jiffies (well under RR's
  // 100 ms).
  timespec ts;
  ASSERT_THAT(syscall(SYS_sched_rr_get_interval, 0, &ts), SyscallSucceeds());
  EXPECT_EQ(ts.tv_sec, 0);
  EXPECT_GE(ts.tv_nsec, 0);
  EXPECT_LT(ts.tv_nsec, 100000000);
}

TEST(SchedRrGetIntervalTest, Errors) {
  timespec ts;
  EXPECT_THAT(syscall(SYS_sched_rr_get_interval, -1, &ts), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(syscall(SYS_sched_rr_get_interval, kNoSuchPid, &ts), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(syscall(SYS_sched_rr_get_interval, 0, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

long RawGetpriority(int which, int who) { return syscall(SYS_getpriority, which, who); }

Cleanup RestoreNice() {
  const long raw = RawGetpriority(PRIO_PROCESS, 0);
  return Cleanup([raw] { setpriority(PRIO_PROCESS, 0, 20 - raw); });
}

TEST(PriorityTest, RawGetpriorityIsTwentyMinusNice) {
  const long raw = RawGetpriority(PRIO_PROCESS, 0);
  ASSERT_THAT(raw, SyscallSucceeds());
  EXPECT_GE(raw, 1);
  EXPECT_LE(raw, 40);
  errno = 0;
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 20 - raw);
  EXPECT_EQ(errno, 0);
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, getpid()), SyscallSucceedsWithValue(raw));
  EXPECT_THAT(RawGetpriority(PRIO_PGRP, 0), SyscallSucceeds());
  EXPECT_THAT(RawGetpriority(PRIO_USER, 0), SyscallSucceeds());
}

TEST(PriorityTest, SetAndGet) {
  Cleanup restore = RestoreNice();
  ASSERT_THAT(setpriority(PRIO_PROCESS, 0, 5), SyscallSucceeds());
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, 0), SyscallSucceedsWithValue(15));
  // Out-of-range values are clamped to 19 and -20.
  ASSERT_THAT(setpriority(PRIO_PROCESS, 0, 100), SyscallSucceeds());
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, 0), SyscallSucceedsWithValue(1));
  if (HaveCapability(CAP_SYS_NICE)) {
    ASSERT_THAT(setpriority(PRIO_PROCESS, getpid(), -100), SyscallSucceeds());
    EXPECT_THAT(RawGetpriority(PRIO_PROCESS, 0), SyscallSucceedsWithValue(40));
  }
}

TEST(PriorityTest, Errors) {
  EXPECT_THAT(RawGetpriority(3, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawGetpriority(-1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawGetpriority(3, kNoSuchPid), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, kNoSuchPid), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, -1), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(RawGetpriority(PRIO_PGRP, kNoSuchPid), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(setpriority(static_cast<__priority_which_t>(3), 0, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(setpriority(PRIO_PROCESS, kNoSuchPid, 0), SyscallFailsWithErrno(ESRCH));
}

}  // namespace
}  // namespace syscalls_test
