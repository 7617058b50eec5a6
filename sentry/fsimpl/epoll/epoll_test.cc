#include "sentry/fsimpl/epoll/epoll.h"

#include <fcntl.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "sentry/fsimpl/eventfd/eventfd.h"
#include "sentry/fsimpl/pipe/pipe.h"

namespace sentry::fsimpl::epoll {
namespace {

using eventfd::EventFd;

// struct epoll_event is packed: its fields are read by value, never bound to
// a reference (gtest's EXPECT_EQ would).
uint64_t DataOf(const epoll_event& e) { return e.data.u64; }
uint32_t EventsOf(const epoll_event& e) { return e.events; }

std::shared_ptr<EventFd> NewEventFd(uint64_t v = 0) {
  return std::make_shared<EventFd>(v, false, O_NONBLOCK);
}

constexpr uint32_t kIn = EPOLLIN | EPOLLERR | EPOLLHUP;

TEST(EpollTest, LevelTriggeredReportsWhileReady) {
  auto ep = EpollFile::Create();
  auto e = NewEventFd();
  ASSERT_TRUE(ep->Add(3, e, kIn, 42).ok());
  EXPECT_TRUE(ep->Collect(8).empty());
  ASSERT_TRUE(e->Write(nullptr, 1).ok());
  for (int i = 0; i < 2; ++i) {
    auto ev = ep->Collect(8);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(EventsOf(ev[0]), static_cast<uint32_t>(EPOLLIN));
    EXPECT_EQ(DataOf(ev[0]), 42u);
  }
  ASSERT_TRUE(e->Read(nullptr).ok());
  EXPECT_TRUE(ep->Collect(8).empty());
}

TEST(EpollTest, EdgeTriggeredReportsOncePerEvent) {
  auto ep = EpollFile::Create();
  auto e = NewEventFd();
  ASSERT_TRUE(ep->Add(3, e, kIn | EPOLLET, 1).ok());
  ASSERT_TRUE(e->Write(nullptr, 1).ok());
  EXPECT_EQ(ep->Collect(8).size(), 1u);
  EXPECT_TRUE(ep->Collect(8).empty());
  ASSERT_TRUE(e->Write(nullptr, 1).ok());
  EXPECT_EQ(ep->Collect(8).size(), 1u);
}

TEST(EpollTest, OneShotWaitsForModify) {
  auto ep = EpollFile::Create();
  auto e = NewEventFd(1);
  ASSERT_TRUE(ep->Add(3, e, kIn | EPOLLONESHOT, 1).ok());
  EXPECT_EQ(ep->Collect(8).size(), 1u);
  ASSERT_TRUE(e->Write(nullptr, 1).ok());
  EXPECT_TRUE(ep->Collect(8).empty());
  ASSERT_TRUE(ep->Modify(3, e, kIn | EPOLLONESHOT, 2).ok());
  auto ev = ep->Collect(8);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(DataOf(ev[0]), 2u);
}

TEST(EpollTest, CtlErrors) {
  auto ep = EpollFile::Create();
  auto e = NewEventFd();
  ASSERT_TRUE(ep->Add(3, e, kIn, 0).ok());
  EXPECT_EQ(ep->Add(3, e, kIn, 0).error().value(), EEXIST);
  EXPECT_TRUE(ep->Add(4, e, kIn, 0).ok());  // another fd of the same description
  EXPECT_EQ(ep->Modify(5, e, kIn, 0).error().value(), ENOENT);
  EXPECT_TRUE(ep->Delete(3, e).ok());
  EXPECT_EQ(ep->Delete(3, e).error().value(), ENOENT);
}

TEST(EpollTest, MaxEventsLeavesTheRestListed) {
  auto ep = EpollFile::Create();
  std::vector<std::shared_ptr<EventFd>> fds;
  for (int i = 0; i < 5; ++i) {
    fds.push_back(NewEventFd(1));
    ASSERT_TRUE(ep->Add(i, fds.back(), kIn | EPOLLET, i).ok());
  }
  EXPECT_EQ(ep->Collect(2).size(), 2u);
  EXPECT_EQ(ep->Collect(2).size(), 2u);
  EXPECT_EQ(ep->Collect(2).size(), 1u);
  EXPECT_TRUE(ep->Collect(2).empty());
}

TEST(EpollTest, EntriesGoWithTheDescription) {
  auto ep = EpollFile::Create();
  auto [r, w] = pipe::NewPipe(pipe::PipeUser{0, 0, true, true}, O_NONBLOCK);
  ASSERT_TRUE(ep->Add(3, r, kIn, 0).ok());
  EXPECT_EQ(ep->size(), 1u);
  r.reset();  // the last reference
  EXPECT_EQ(ep->size(), 0u);
  std::string s = "x";
  iovec v{s.data(), 1};
  EXPECT_EQ(w->Write(nullptr, {&v, 1}).error().value(), EPIPE);
}

TEST(EpollTest, TheEpollGoesBeforeItsFiles) {
  auto e = NewEventFd();
  {
    auto ep = EpollFile::Create();
    ASSERT_TRUE(ep->Add(3, e, kIn, 0).ok());
  }
  ASSERT_TRUE(e->Write(nullptr, 1).ok());  // no entry left on its queue
}

TEST(EpollTest, NestedEpollsAndLoops) {
  auto outer = EpollFile::Create();
  auto inner = EpollFile::Create();
  auto e = NewEventFd();
  ASSERT_TRUE(inner->Add(3, e, kIn, 0).ok());
  ASSERT_TRUE(outer->Add(4, inner, kIn, 7).ok());
  EXPECT_EQ(inner->Add(5, outer, kIn, 0).error().value(), ELOOP);
  EXPECT_EQ(outer->Readiness(POLLIN), 0u);
  ASSERT_TRUE(e->Write(nullptr, 1).ok());
  EXPECT_EQ(inner->Readiness(POLLIN), static_cast<uint32_t>(POLLIN));
  auto ev = outer->Collect(8);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(DataOf(ev[0]), 7u);
}

TEST(EpollTest, ChainsAreLimited) {
  std::vector<std::shared_ptr<EpollFile>> chain{EpollFile::Create()};
  int added = 0;
  for (int i = 0; i < 10; ++i) {
    auto next = EpollFile::Create();
    if (!chain.back()->Add(i, next, kIn, 0).ok()) break;
    chain.push_back(next);
    ++added;
  }
  EXPECT_EQ(added, kMaxNests);  // five epolls in a chain at most
}

TEST(EpollTest, WaitWakesForAnEventAndTimesOut) {
  auto ep = EpollFile::Create();
  auto e = NewEventFd();
  ASSERT_TRUE(ep->Add(3, e, kIn, 9).ok());
  waiter::Waker w;
  timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_nsec += 10 * 1000 * 1000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  auto none = ep->Wait(&w, 8, &deadline);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(e->Write(nullptr, 1).ok());
  });
  auto ev = ep->Wait(&w, 8, nullptr);
  t.join();
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ(DataOf((*ev)[0]), 9u);
}

}  // namespace
}  // namespace sentry::fsimpl::epoll
