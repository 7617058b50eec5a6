// arch_prctl(2) on x86-64. FS holds glibc's thread pointer, so only reads and
// same-value writes touch it; the round trips use GS, which glibc leaves alone.
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

// The first non-canonical address.
constexpr uint64_t kNonCanonical = uint64_t{1} << 47;
// Linux's TASK_SIZE_MAX: the top page below 2^47 is kept unmapped, and a base
// at or above it is refused.
constexpr uint64_t kTaskSizeMax = kNonCanonical - 4096;

long ArchPrctl(int code, uint64_t arg) { return syscall(SYS_arch_prctl, code, arg); }

uint64_t GetBase(int code) {
  uint64_t v = 0xdeadbeef;
  ArchPrctl(code, reinterpret_cast<uint64_t>(&v));
  return v;
}

// Puts GS back however the test ends.
Cleanup RestoreGs() {
  const uint64_t old = GetBase(ARCH_GET_GS);
  return Cleanup([old] { ArchPrctl(ARCH_SET_GS, old); });
}

TEST(ArchPrctlTest, FsIsGlibcsThreadPointer) {
  uint64_t fs = 0;
  ASSERT_THAT(ArchPrctl(ARCH_GET_FS, reinterpret_cast<uint64_t>(&fs)), SyscallSucceeds());
  ASSERT_NE(fs, 0u);
  // x86-64 TLS: the thread control block starts with a pointer to itself.
  EXPECT_EQ(*reinterpret_cast<uint64_t*>(fs), fs);
  uint64_t via_fs;
  asm volatile("mov %%fs:0, %0" : "=r"(via_fs));
  EXPECT_EQ(via_fs, fs);
}

TEST(ArchPrctlTest, SetFsToItsOwnValue) {
  const uint64_t fs = GetBase(ARCH_GET_FS);
  ASSERT_THAT(ArchPrctl(ARCH_SET_FS, fs), SyscallSucceeds());
  EXPECT_EQ(GetBase(ARCH_GET_FS), fs);
}

TEST(ArchPrctlTest, GsRoundTrip) {
  Cleanup restore = RestoreGs();
  static uint64_t slot[2] = {0x1122334455667788, 0};
  const uint64_t want = reinterpret_cast<uint64_t>(&slot[0]);
  ASSERT_THAT(ArchPrctl(ARCH_SET_GS, want), SyscallSucceeds());
  EXPECT_EQ(GetBase(ARCH_GET_GS), want);
  // The base really is in effect for the guest's own %gs accesses.
  uint64_t via_gs;
  asm volatile("mov %%gs:0, %0" : "=r"(via_gs));
  EXPECT_EQ(via_gs, 0x1122334455667788u);
}

TEST(ArchPrctlTest, GsCanBeZero) {
  Cleanup restore = RestoreGs();
  ASSERT_THAT(ArchPrctl(ARCH_SET_GS, 0), SyscallSucceeds());
  EXPECT_EQ(GetBase(ARCH_GET_GS), 0u);
}

TEST(ArchPrctlTest, GsMayPointAtUnmappedMemory) {
  Cleanup restore = RestoreGs();
  ASSERT_OK_AND_ASSIGN(uintptr_t free_addr, FindUnmappedRange(kPageSize));
  ASSERT_THAT(ArchPrctl(ARCH_SET_GS, free_addr), SyscallSucceeds());
  EXPECT_EQ(GetBase(ARCH_GET_GS), free_addr);
}

TEST(ArchPrctlTest, BaseJustBelowTaskSizeMaxIsAccepted) {
  Cleanup restore = RestoreGs();
  ASSERT_THAT(ArchPrctl(ARCH_SET_GS, kTaskSizeMax - 1), SyscallSucceeds());
  EXPECT_EQ(GetBase(ARCH_GET_GS), kTaskSizeMax - 1);
}

TEST(ArchPrctlTest, BaseAtTaskSizeMaxIsEperm) {
  Cleanup restore = RestoreGs();
  EXPECT_THAT(ArchPrctl(ARCH_SET_GS, kTaskSizeMax), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(ArchPrctl(ARCH_SET_FS, kTaskSizeMax), SyscallFailsWithErrno(EPERM));
}

TEST(ArchPrctlTest, NonCanonicalGsIsEperm) {
  Cleanup restore = RestoreGs();
  const uint64_t before = GetBase(ARCH_GET_GS);
  EXPECT_THAT(ArchPrctl(ARCH_SET_GS, kNonCanonical), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(ArchPrctl(ARCH_SET_GS, 0xffff800000000000), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(ArchPrctl(ARCH_SET_GS, UINT64_MAX), SyscallFailsWithErrno(EPERM));
  EXPECT_EQ(GetBase(ARCH_GET_GS), before);
}

TEST(ArchPrctlTest, NonCanonicalFsIsEperm) {
  const uint64_t before = GetBase(ARCH_GET_FS);
  EXPECT_THAT(ArchPrctl(ARCH_SET_FS, kNonCanonical), SyscallFailsWithErrno(EPERM));
  EXPECT_EQ(GetBase(ARCH_GET_FS), before);
}

TEST(ArchPrctlTest, UnknownCodeIsEinval) {
  uint64_t v;
  for (int code : {0, 0x1000, 0x1005, 0x1010, 0x9999}) {
    EXPECT_THAT(ArchPrctl(code, reinterpret_cast<uint64_t>(&v)), SyscallFailsWithErrno(EINVAL))
        << std::hex << code;
  }
}

TEST(ArchPrctlTest, GetWithABadPointerIsEfault) {
  EXPECT_THAT(ArchPrctl(ARCH_GET_FS, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(ArchPrctl(ARCH_GET_GS, reinterpret_cast<uint64_t>(kKernelAddress)),
              SyscallFailsWithErrno(EFAULT));
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(ArchPrctl(ARCH_GET_GS, ro.addr()), SyscallFailsWithErrno(EFAULT));
}

TEST(ArchPrctlTest, CpuidIsEnabled) {
  EXPECT_THAT(ArchPrctl(ARCH_GET_CPUID, 0), SyscallSucceedsWithValue(1));
}

TEST(ArchPrctlTest, XcompSuppIncludesX87AndSse) {
  uint64_t features = 0;
  ASSERT_THAT(ArchPrctl(ARCH_GET_XCOMP_SUPP, reinterpret_cast<uint64_t>(&features)),
              SyscallSucceeds());
  EXPECT_EQ(features & 3, 3u);
}

TEST(ArchPrctlTest, XcompPermIncludesX87AndSse) {
  uint64_t features = 0;
  ASSERT_THAT(ArchPrctl(ARCH_GET_XCOMP_PERM, reinterpret_cast<uint64_t>(&features)),
              SyscallSucceeds());
  EXPECT_EQ(features & 3, 3u);
}

// Only dynamically enabled components (AMX tile data) can be requested; x87
// and SSE are always on (EOPNOTSUPP), and past XFEATURE_MAX is EINVAL.
TEST(ArchPrctlTest, RequestingAStaticComponentIsNotSupported) {
  EXPECT_THAT(ArchPrctl(ARCH_REQ_XCOMP_PERM, 0), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(ArchPrctl(ARCH_REQ_XCOMP_PERM, 1), SyscallFailsWithErrno(EOPNOTSUPP));
  EXPECT_THAT(ArchPrctl(ARCH_REQ_XCOMP_PERM, 1000), SyscallFailsWithErrno(EINVAL));
}

}  // namespace
}  // namespace syscalls_test
