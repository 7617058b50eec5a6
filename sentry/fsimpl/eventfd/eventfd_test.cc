#include "sentry/fsimpl/eventfd/eventfd.h"

#include <fcntl.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace sentry::fsimpl::eventfd {
namespace {

TEST(EventFdTest, ReadTakesTheCount) {
  EventFd e(5, false, O_NONBLOCK);
  EXPECT_TRUE(e.Write(nullptr, 3).ok());
  EXPECT_EQ(*e.Read(nullptr), 8u);
  EXPECT_EQ(e.Read(nullptr).error().value(), EAGAIN);
}

TEST(EventFdTest, SemaphoreReadsOne) {
  EventFd e(2, true, O_NONBLOCK);
  EXPECT_EQ(*e.Read(nullptr), 1u);
  EXPECT_EQ(*e.Read(nullptr), 1u);
  EXPECT_EQ(e.Read(nullptr).error().value(), EAGAIN);
}

TEST(EventFdTest, OverflowWaitsAndAllOnesIsInvalid) {
  EventFd e(UINT64_MAX - 2, false, O_NONBLOCK);
  EXPECT_EQ(e.Write(nullptr, UINT64_MAX).error().value(), EINVAL);
  EXPECT_TRUE(e.Write(nullptr, 1).ok());  // count is now 2^64-2, the most it holds
  EXPECT_EQ(e.Write(nullptr, 1).error().value(), EAGAIN);
  EXPECT_EQ(e.Readiness(POLLIN | POLLOUT), static_cast<uint32_t>(POLLIN));
  EXPECT_TRUE(e.Write(nullptr, 0).ok());
}

TEST(EventFdTest, ABlockedReaderWakes) {
  EventFd e(0, false, 0);
  waiter::Waker w;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(e.Write(nullptr, 7).ok());
  });
  auto v = e.Read(&w);
  t.join();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7u);
}

TEST(EventFdTest, FdInfo) {
  EventFd e(0x2a, false, 0);
  EXPECT_NE(e.FdInfo().find("eventfd-count:               2a\n"), std::string::npos) << e.FdInfo();
  EXPECT_EQ(e.Describe(), "anon_inode:[eventfd]");
}

}  // namespace
}  // namespace sentry::fsimpl::eventfd
