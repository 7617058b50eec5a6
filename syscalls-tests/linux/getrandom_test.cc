// getrandom(2): flags, lengths, faults.
#include <linux/random.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

long Getrandom(void* buf, size_t len, unsigned flags) {
  return syscall(SYS_getrandom, buf, len, flags);
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

TEST(GetrandomTest, FillsTheBuffer) {
  uint8_t buf[256] = {};
  ASSERT_THAT(Getrandom(buf, sizeof(buf), 0), SyscallSucceedsWithValue(sizeof(buf)));
  EXPECT_FALSE(AllZero(buf, sizeof(buf)));
}

TEST(GetrandomTest, TwoCallsDiffer) {
  uint8_t a[32], b[32];
  ASSERT_THAT(Getrandom(a, sizeof(a), 0), SyscallSucceedsWithValue(sizeof(a)));
  ASSERT_THAT(Getrandom(b, sizeof(b), 0), SyscallSucceedsWithValue(sizeof(b)));
  EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
}

TEST(GetrandomTest, EachAcceptedFlag) {
  uint8_t buf[64];
  for (unsigned flags :
       {0u, unsigned{GRND_NONBLOCK}, unsigned{GRND_RANDOM}, unsigned{GRND_RANDOM | GRND_NONBLOCK},
        unsigned{GRND_INSECURE}, unsigned{GRND_INSECURE | GRND_NONBLOCK}}) {
    EXPECT_THAT(Getrandom(buf, sizeof(buf), flags), SyscallSucceedsWithValue(sizeof(buf)))
        << "flags " << flags;
  }
}

TEST(GetrandomTest, ZeroLengthReturnsZero) {
  uint8_t buf[1];
  EXPECT_THAT(Getrandom(buf, 0, 0), SyscallSucceedsWithValue(0));
  EXPECT_THAT(Getrandom(nullptr, 0, 0), SyscallSucceedsWithValue(0));
}

TEST(GetrandomTest, UnknownFlagIsEinval) {
  uint8_t buf[8];
  EXPECT_THAT(Getrandom(buf, sizeof(buf), 0x8), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Getrandom(buf, sizeof(buf), 0x80000000), SyscallFailsWithErrno(EINVAL));
}

TEST(GetrandomTest, InsecureWithRandomIsEinval) {
  uint8_t buf[8];
  EXPECT_THAT(Getrandom(buf, sizeof(buf), GRND_INSECURE | GRND_RANDOM),
              SyscallFailsWithErrno(EINVAL));
}

TEST(GetrandomTest, FlagsAreCheckedBeforeTheBuffer) {
  EXPECT_THAT(Getrandom(kKernelAddress, 8, 0x8), SyscallFailsWithErrno(EINVAL));
}

TEST(GetrandomTest, BadBufferIsEfault) {
  EXPECT_THAT(Getrandom(nullptr, 8, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(Getrandom(kKernelAddress, 8, 0), SyscallFailsWithErrno(EFAULT));
  ASSERT_OK_AND_ASSIGN(Mapping ro, Mapping::Anonymous(kPageSize, PROT_READ));
  EXPECT_THAT(Getrandom(ro.ptr(), 8, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_TRUE(AllZero(ro.bytes(), 8));
}

TEST(GetrandomTest, ZeroLengthAtAKernelAddressIsEfault) {
  // access_ok() of a kernel address fails even for zero bytes.
  EXPECT_THAT(Getrandom(kKernelAddress, 0, 0), SyscallFailsWithErrno(EFAULT));
}

TEST(GetrandomTest, BufferRunningIntoAHoleGivesAPartialCount) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  ASSERT_THAT(munmap(m.page(1), kPageSize), SyscallSucceeds());
  uint8_t* tail = m.page(1) - 100;
  EXPECT_THAT(Getrandom(tail, 200, 0),
              SyscallSucceedsWithValue(::testing::AllOf(::testing::Gt(0), ::testing::Le(100))));
}

TEST(GetrandomTest, OneMegabyteInOneCall) {
  std::vector<uint8_t> buf(1 << 20);
  EXPECT_THAT(Getrandom(buf.data(), buf.size(), 0), SyscallSucceedsWithValue(buf.size()));
  EXPECT_FALSE(AllZero(buf.data() + buf.size() - 64, 64));
}

TEST(GetrandomTest, SmallReadsAreNeverShort) {
  uint8_t buf[256];
  for (size_t n = 1; n <= sizeof(buf); n += 17) {
    EXPECT_THAT(Getrandom(buf, n, 0), SyscallSucceedsWithValue(n));
  }
}

}  // namespace
}  // namespace syscalls_test
