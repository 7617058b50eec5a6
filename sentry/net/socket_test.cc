#include "sentry/net/socket.h"

#include <cstring>

#include "gtest/gtest.h"

namespace sentry::net {
namespace {

std::vector<uint8_t> Timeval(int64_t sec, int64_t usec) {
  int64_t tv[2] = {sec, usec};
  std::vector<uint8_t> v(sizeof(tv));
  std::memcpy(v.data(), tv, sizeof(tv));
  return v;
}

std::pair<int64_t, int64_t> Read(const std::vector<uint8_t>& v) {
  int64_t tv[2];
  std::memcpy(tv, v.data(), sizeof(tv));
  return {tv[0], tv[1]};
}

TEST(SocketTimeoutTest, RoundsUpToJiffiesAndBack) {
  // 10 ms is 2.5 jiffies at HZ=250: 3 jiffies, read back as 12 ms.
  auto j = TimeoutFromTimeval(Timeval(0, 10000));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*j, 3);
  EXPECT_EQ(Read(TimevalFromTimeout(*j)), std::make_pair(int64_t{0}, int64_t{12000}));
  j = TimeoutFromTimeval(Timeval(1, 500000));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(Read(TimevalFromTimeout(*j)), std::make_pair(int64_t{1}, int64_t{500000}));
}

TEST(SocketTimeoutTest, ZeroIsNoLimitAndNegativeIsNoWait) {
  auto j = TimeoutFromTimeval(Timeval(0, 0));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*j, kNoTimeout);
  EXPECT_EQ(Read(TimevalFromTimeout(*j)), std::make_pair(int64_t{0}, int64_t{0}));
  j = TimeoutFromTimeval(Timeval(-5, 0));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*j, 0);
}

TEST(SocketTimeoutTest, Errors) {
  EXPECT_EQ(TimeoutFromTimeval(Timeval(1, 1000000)).error(), Errno(EDOM));
  EXPECT_EQ(TimeoutFromTimeval(Timeval(1, -1)).error(), Errno(EDOM));
  std::vector<uint8_t> shortval(8);
  EXPECT_EQ(TimeoutFromTimeval(shortval).error(), Errno(EINVAL));
}

}  // namespace
}  // namespace sentry::net
