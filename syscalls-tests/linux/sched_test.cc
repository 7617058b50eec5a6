// sched_yield(2), sched_getaffinity(2) and sched_setaffinity(2) with their
// length rules, the scheduling policies and priorities, and nice values
// (getpriority(2), setpriority(2)).
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
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

// sched_setattr(2) and sched_getattr(2), raw (glibc has no wrappers before
// 2.41): struct sched_attr, VER0 48 bytes, VER1 (the utilization clamps) 56.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);
constexpr uint64_t kFlagResetOnFork = 0x01;
constexpr uint64_t kFlagKeepParams = 0x10;
constexpr uint64_t kFlagUtilClampMin = 0x20;

long GetAttr(pid_t pid, void* attr, unsigned size, unsigned flags = 0) {
  return syscall(SYS_sched_getattr, pid, attr, size, flags);
}
long SetAttr(pid_t pid, const void* attr, unsigned flags = 0) {
  return syscall(SYS_sched_setattr, pid, attr, flags);
}
SchedAttr Attr() {
  SchedAttr a{};
  EXPECT_THAT(GetAttr(0, &a, sizeof(a)), SyscallSucceeds());
  return a;
}

TEST(SchedAttrTest, GetattrReportsThePolicyAndTheNiceValue) {
  SchedAttr a;
  std::memset(&a, 0xff, sizeof(a));
  ASSERT_THAT(GetAttr(0, &a, sizeof(a)), SyscallSucceeds());
  EXPECT_EQ(a.size, sizeof(a));
  EXPECT_EQ(a.sched_policy, static_cast<uint32_t>(SCHED_OTHER));
  EXPECT_EQ(a.sched_flags, 0u);
  errno = 0;
  EXPECT_EQ(a.sched_nice, getpriority(PRIO_PROCESS, 0));
  EXPECT_EQ(a.sched_priority, 0u);
  // 0, or since EEVDF (6.12) the fair task's time slice (0.1-100 ms).
  EXPECT_TRUE(a.sched_runtime == 0 || (a.sched_runtime >= 100000 && a.sched_runtime <= 100000000))
      << a.sched_runtime;
  EXPECT_EQ(a.sched_deadline, 0u);
  EXPECT_EQ(a.sched_period, 0u);
  EXPECT_LE(a.sched_util_max, 1024u);
  SchedAttr by_tid{};
  ASSERT_THAT(GetAttr(gettid(), &by_tid, sizeof(by_tid)), SyscallSucceeds());
  EXPECT_EQ(std::memcmp(&a, &by_tid, sizeof(a)), 0);
}

TEST(SchedAttrTest, GetattrWritesNoMoreThanTheSmallerSize) {
  uint8_t buf[80];
  std::memset(buf, 0xab, sizeof(buf));
  ASSERT_THAT(GetAttr(0, buf, 48), SyscallSucceeds());
  uint32_t size;
  std::memcpy(&size, buf, sizeof(size));
  EXPECT_EQ(size, 48u);
  for (int i = 48; i < 80; ++i) ASSERT_EQ(buf[i], 0xab) << i;
  std::memset(buf, 0xab, sizeof(buf));
  ASSERT_THAT(GetAttr(0, buf, sizeof(buf)), SyscallSucceeds());
  std::memcpy(&size, buf, sizeof(size));
  EXPECT_EQ(size, sizeof(SchedAttr));
  // Past the kernel's struct: untouched, or zeroed (copy_struct_to_user, 6.13+).
  for (size_t i = sizeof(SchedAttr); i < sizeof(buf); ++i) {
    ASSERT_TRUE(buf[i] == 0xab || buf[i] == 0) << i;
  }
}

TEST(SchedAttrTest, GetattrErrors) {
  SchedAttr a{};
  EXPECT_THAT(GetAttr(0, nullptr, sizeof(a)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetAttr(-1, &a, sizeof(a)), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetAttr(0, &a, 47), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetAttr(0, &a, 4097), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetAttr(0, &a, sizeof(a), 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(GetAttr(kNoSuchPid, &a, sizeof(a)), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(GetAttr(0, reinterpret_cast<void*>(8), sizeof(a)), SyscallFailsWithErrno(EFAULT));
}

TEST(SchedAttrTest, SetattrSetsTheNiceValueAndResetOnFork) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));  // to undo reset-on-fork and the nice value
  Cleanup restore_nice = RestoreNice();
  Cleanup restore = RestoreScheduler();
  SchedAttr a{};
  a.size = 48;
  a.sched_policy = SCHED_OTHER;
  a.sched_nice = 5;
  a.sched_flags = kFlagResetOnFork;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  SchedAttr g = Attr();
  EXPECT_EQ(g.sched_nice, 5);
  EXPECT_EQ(g.sched_flags, kFlagResetOnFork);
  errno = 0;
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 5);
  EXPECT_THAT(GetScheduler(0), SyscallSucceedsWithValue(SCHED_OTHER | SCHED_RESET_ON_FORK));
  // An out-of-range nice value is clamped; size 0 means the first version.
  a.size = 0;
  a.sched_nice = 1000;
  a.sched_flags = 0;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  EXPECT_EQ(Attr().sched_nice, 19);
  // SCHED_FLAG_KEEP_PARAMS: the nice value stays whatever the struct says.
  a.sched_nice = 3;
  a.sched_flags = kFlagKeepParams;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  EXPECT_EQ(Attr().sched_nice, 19);
  a.sched_nice = 0;
  a.sched_flags = 0;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  EXPECT_EQ(Attr().sched_nice, 0);
}

TEST(SchedAttrTest, SetattrRealTimePolicy) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));
  Cleanup restore = RestoreScheduler();
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = SCHED_FIFO;
  a.sched_priority = 10;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  SchedAttr g = Attr();
  EXPECT_EQ(g.sched_policy, static_cast<uint32_t>(SCHED_FIFO));
  EXPECT_EQ(g.sched_priority, 10u);
  EXPECT_EQ(GetParam(), 10);
  a.sched_policy = SCHED_OTHER;
  a.sched_priority = 0;
  ASSERT_THAT(SetAttr(0, &a), SyscallSucceeds());
  EXPECT_EQ(Attr().sched_policy, static_cast<uint32_t>(SCHED_OTHER));
}

TEST(SchedAttrTest, SetattrErrors) {
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = SCHED_OTHER;
  a.sched_nice = Attr().sched_nice;
  EXPECT_THAT(SetAttr(0, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetAttr(-1, &a), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetAttr(0, &a, 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(SetAttr(0, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SetAttr(kNoSuchPid, &a), SyscallFailsWithErrno(ESRCH));
  // A size below the first version's: E2BIG, and the kernel's size written back.
  SchedAttr s = a;
  s.size = 47;
  EXPECT_THAT(SetAttr(0, &s), SyscallFailsWithErrno(E2BIG));
  EXPECT_EQ(s.size, sizeof(SchedAttr));
  // A larger struct must be zero past the kernel's.
  uint8_t big[64] = {};
  std::memcpy(big, &a, sizeof(a));
  const uint32_t big_size = sizeof(big);
  std::memcpy(big, &big_size, sizeof(big_size));
  EXPECT_THAT(SetAttr(0, big), SyscallSucceeds());
  big[60] = 1;
  EXPECT_THAT(SetAttr(0, big), SyscallFailsWithErrno(E2BIG));
  // The policy, priority and flags.
  SchedAttr b = a;
  b.sched_policy = 12345;
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b.sched_policy = ~0u;  // negative
  EXPECT_THAT(SetAttr(kNoSuchPid, &b), SyscallFailsWithErrno(EINVAL));
  b = a;
  b.sched_priority = 1;  // SCHED_OTHER takes none
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b = a;
  b.sched_policy = SCHED_FIFO;  // and SCHED_FIFO needs one
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b.sched_priority = 100;
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b = a;
  b.sched_flags = 0x80;  // no such flag
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b = a;
  b.sched_policy = kSchedDeadline;  // no runtime, deadline or period
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  b.sched_runtime = 10000000;  // 10 ms of a 5 ms deadline
  b.sched_deadline = 5000000;
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  // The utilization clamps need the second version's size.
  b = a;
  b.size = 48;
  b.sched_flags = kFlagUtilClampMin;
  EXPECT_THAT(SetAttr(0, &b), SyscallFailsWithErrno(EINVAL));
  // Nothing changed.
  EXPECT_EQ(Attr().sched_policy, static_cast<uint32_t>(SCHED_OTHER));
}

// Another thread, named by its tid: its own attributes, read and set.
TEST(SchedOtherThreadTest, AnotherThreadIsNamedByItsTid) {
  SKIP_IF(!HaveCapability(CAP_SYS_NICE));  // to lower the nice value again
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::atomic<int> seen_nice{100};
  std::thread th([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!done) usleep(1000);
    errno = 0;
    seen_nice = getpriority(PRIO_PROCESS, 0);
  });
  while (tid == 0) usleep(1000);
  errno = 0;
  const int own = getpriority(PRIO_PROCESS, 0);
  EXPECT_THAT(GetScheduler(tid), SyscallSucceedsWithValue(SCHED_OTHER));
  ASSERT_THAT(setpriority(PRIO_PROCESS, tid, 7), SyscallSucceeds());
  EXPECT_THAT(RawGetpriority(PRIO_PROCESS, tid), SyscallSucceedsWithValue(13));
  errno = 0;
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), own);  // the caller's is its own
  SchedAttr a{};
  ASSERT_THAT(GetAttr(tid, &a, sizeof(a)), SyscallSucceeds());
  EXPECT_EQ(a.sched_nice, 7);
  a.sched_nice = 3;
  ASSERT_THAT(SetAttr(tid, &a), SyscallSucceeds());
  struct sched_param p = {-1};
  ASSERT_THAT(syscall(SYS_sched_getparam, tid.load(), &p), SyscallSucceeds());
  EXPECT_EQ(p.sched_priority, 0);
  // Its affinity: the first CPU only.
  uint64_t one[16] = {1};
  ASSERT_THAT(syscall(SYS_sched_setaffinity, tid.load(), sizeof(one), one), SyscallSucceeds());
  uint64_t got[16] = {};
  ASSERT_THAT(GetAffinity(tid, sizeof(got), got), SyscallSucceeds());
  EXPECT_EQ(got[0], 1u);
  done = true;
  th.join();
  EXPECT_EQ(seen_nice.load(), 3);
}

// Setting another user's process is EPERM; reading it is allowed.
TEST(SchedOtherThreadTest, AnotherUsersProcessIsEperm) {
  SKIP_IF(!HaveCapability(CAP_SETUID));
  int ready[2];
  ASSERT_THAT(pipe(ready), SyscallSucceeds());
  const pid_t target = fork();
  ASSERT_THAT(target, SyscallSucceeds());
  if (target == 0) {
    close(ready[1]);
    char c;
    (void)read(ready[0], &c, 1);  // until the parent closes its end
    _exit(0);
  }
  close(ready[0]);
  const pid_t other = fork();
  ASSERT_THAT(other, SyscallSucceeds());
  if (other == 0) {
    close(ready[1]);
    if (setresuid(65534, 65534, 65534) != 0) _exit(100);
    int bad = 0;
    errno = 0;
    if (setpriority(PRIO_PROCESS, target, 5) != -1 || errno != EPERM) bad |= 1;
    struct sched_param p = {0};
    if (syscall(SYS_sched_setscheduler, target, SCHED_OTHER, &p) != -1 || errno != EPERM) {
      bad |= 2;
    }
    uint64_t one[16] = {1};
    if (syscall(SYS_sched_setaffinity, target, sizeof(one), one) != -1 || errno != EPERM) {
      bad |= 4;
    }
    if (syscall(SYS_sched_getscheduler, target) != SCHED_OTHER) bad |= 8;
    errno = 0;
    if (getpriority(PRIO_PROCESS, target) == -1 && errno != 0) bad |= 16;
    _exit(bad);
  }
  int status = -1;
  ASSERT_THAT(waitpid(other, &status, 0), SyscallSucceedsWithValue(other));
  close(ready[1]);
  int tstatus = -1;
  ASSERT_THAT(waitpid(target, &tstatus, 0), SyscallSucceedsWithValue(target));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
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
