// sysinfo(2): what it reports and how it agrees with the clocks.
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

TEST(SysinfoTest, MemoryFiguresAreConsistent) {
  struct sysinfo si;
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  EXPECT_GE(si.mem_unit, 1u);
  EXPECT_GT(si.totalram, 0u);
  EXPECT_LE(si.freeram, si.totalram);
  EXPECT_LE(si.sharedram, si.totalram);
  EXPECT_LE(si.bufferram, si.totalram);
  EXPECT_LE(si.freeswap, si.totalswap);
  EXPECT_LE(si.freehigh, si.totalhigh);
}

TEST(SysinfoTest, AtLeastThisProcess) {
  struct sysinfo si;
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  EXPECT_GE(si.procs, 1);
}

TEST(SysinfoTest, UptimeIsBoottimeRoundedUp) {
  // Linux computes uptime from CLOCK_BOOTTIME, rounding a partial second up.
  struct timespec before, after;
  struct sysinfo si;
  ASSERT_THAT(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &before), SyscallSucceeds());
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  ASSERT_THAT(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &after), SyscallSucceeds());
  EXPECT_GE(si.uptime, before.tv_sec);
  EXPECT_LE(si.uptime, after.tv_sec + 1);
}

TEST(SysinfoTest, TotalRamAgreesWithSysconf) {
  struct sysinfo si;
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  // glibc computes _SC_PHYS_PAGES from sysinfo too; the product must agree.
  const long pages = sysconf(_SC_PHYS_PAGES);
  ASSERT_GT(pages, 0);
  EXPECT_EQ(static_cast<unsigned long long>(si.totalram) * si.mem_unit,
            static_cast<unsigned long long>(pages) * sysconf(_SC_PAGESIZE));
}

TEST(SysinfoTest, PaddingIsZeroed) {
  struct sysinfo si;
  memset(&si, 0xff, sizeof(si));
  ASSERT_THAT(sysinfo(&si), SyscallSucceeds());
  // Linux clears the whole struct: `pad`, the hole that aligns totalhigh, and
  // the tail after mem_unit.
  EXPECT_EQ(si.pad, 0);
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&si);
  for (size_t i = offsetof(struct sysinfo, pad) + sizeof(si.pad);
       i < offsetof(struct sysinfo, totalhigh); i++) {
    EXPECT_EQ(bytes[i], 0) << "byte " << i;
  }
  for (size_t i = offsetof(struct sysinfo, mem_unit) + sizeof(si.mem_unit); i < sizeof(si); i++) {
    EXPECT_EQ(bytes[i], 0) << "byte " << i;
  }
}

TEST(SysinfoTest, BadPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_sysinfo, nullptr), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(syscall(SYS_sysinfo, kKernelAddress), SyscallFailsWithErrno(EFAULT));
}

TEST(SysinfoTest, RawSyscallReturnsZero) {
  struct sysinfo si;
  EXPECT_THAT(syscall(SYS_sysinfo, &si), SyscallSucceedsWithValue(0));
}

}  // namespace
}  // namespace syscalls_test
