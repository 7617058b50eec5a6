// sched_yield(2), sched_getaffinity(2) and its length rules, and the
// scheduling-policy queries.
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

void* const kKernelAddress = reinterpret_cast<void*>(0xffff800000000000);
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

}  // namespace
}  // namespace syscalls_test
