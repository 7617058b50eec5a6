#include "sentry/fsimpl/pipe/pipe.h"

#include <fcntl.h>
#include <poll.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sentry::fsimpl::pipe {
namespace {

PipeUser Root() { return PipeUser{0, 0, true, true}; }

size_t Write(PipeFile& f, const std::string& s, waiter::Waker* w = nullptr) {
  iovec v{const_cast<char*>(s.data()), s.size()};
  auto r = f.Write(w, {&v, 1});
  return r.ok() ? *r : static_cast<size_t>(-r.error().value());
}

ErrnoOr<std::string> Read(PipeFile& f, size_t n, waiter::Waker* w = nullptr) {
  std::string s(n, '\0');
  iovec v{s.data(), n};
  auto r = f.Read(w, {&v, 1});
  if (!r.ok()) return r.error();
  s.resize(*r);
  return s;
}

TEST(PipeTest, WrittenBytesComeBackInOrder) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  EXPECT_EQ(Write(*w, "hello, "), 7u);
  EXPECT_EQ(Write(*w, "world"), 5u);
  EXPECT_EQ(r->pipe().Available(), 12u);
  auto got = Read(*r, 100);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "hello, world");
  auto empty = Read(*r, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().value(), EAGAIN);
}

TEST(PipeTest, DefaultCapacityIs64KiBAndSmallWritesMerge) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  EXPECT_EQ(w->pipe().Capacity(), 65536u);
  size_t total = 0;
  for (;;) {
    const size_t n = Write(*w, std::string(1000, 'x'));
    if (n == static_cast<size_t>(-EAGAIN)) break;
    ASSERT_EQ(n, 1000u);
    total += n;
  }
  // Four 1000-byte writes share each page; the fifth does not fit and takes
  // the next: 16 pages of 4000 bytes.
  EXPECT_EQ(total, 16u * 4000u);
  EXPECT_EQ(r->Readiness(POLLIN | POLLOUT), static_cast<uint32_t>(POLLIN));
  EXPECT_EQ(w->Readiness(POLLIN | POLLOUT), 0u);
}

TEST(PipeTest, AnAtomicWriteNeverSplits) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  ASSERT_TRUE(w->pipe().SetCapacity(4096, Root()).ok());
  EXPECT_EQ(Write(*w, std::string(4000, 'a')), 4000u);
  // 200 bytes do not fit in the last page's 96 and no page is free.
  EXPECT_EQ(Write(*w, std::string(200, 'b')), static_cast<size_t>(-EAGAIN));
  EXPECT_EQ(Write(*w, std::string(96, 'c')), 96u);
}

TEST(PipeTest, ALargeNonblockingWriteIsPartial) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  EXPECT_EQ(Write(*w, std::string(100000, 'z')), 65536u);
}

TEST(PipeTest, PacketsAreReadOneAtATimeAndTruncated) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK | O_DIRECT);
  EXPECT_EQ(Write(*w, "abc"), 3u);
  EXPECT_EQ(Write(*w, "defgh"), 5u);
  EXPECT_EQ(*Read(*r, 100), "abc");
  EXPECT_EQ(*Read(*r, 2), "de");  // the rest of the packet is dropped
  EXPECT_EQ(Read(*r, 100).error().value(), EAGAIN);
}

TEST(PipeTest, EndOfFileAndEpipe) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  Write(*w, "x");
  w.reset();
  EXPECT_EQ(*Read(*r, 10), "x");
  EXPECT_EQ(*Read(*r, 10), "");
  EXPECT_EQ(r->Readiness(POLLIN | POLLHUP), static_cast<uint32_t>(POLLHUP));

  auto [r2, w2] = NewPipe(Root(), O_NONBLOCK);
  r2.reset();
  EXPECT_EQ(Write(*w2, "x"), static_cast<size_t>(-EPIPE));
  EXPECT_EQ(w2->Readiness(POLLOUT | POLLERR), static_cast<uint32_t>(POLLOUT | POLLERR));
}

TEST(PipeTest, ShrinkingBelowTheContentIsEbusy) {
  auto [r, w] = NewPipe(Root(), O_NONBLOCK);
  Write(*w, std::string(3 * 4096, 'q'));
  EXPECT_EQ(w->pipe().SetCapacity(8192, Root()).error().value(), EBUSY);
  EXPECT_EQ(*w->pipe().SetCapacity(12288, Root()), 16384u);  // rounded up to a power of two
  EXPECT_EQ(w->pipe().SetCapacity(1, Root()).error().value(), EBUSY);
}

TEST(PipeTest, UnprivilegedLimits) {
  PipeUser u{12345, 12345, false, false};
  auto [r, w] = NewPipe(u, 0);
  EXPECT_EQ(ChargedPages(12345), 16u);
  EXPECT_EQ(w->pipe().SetCapacity(2u << 20, u).error().value(), EPERM);
  EXPECT_EQ(*w->pipe().SetCapacity(1u << 20, u), 1u << 20);
  EXPECT_EQ(ChargedPages(12345), 256u);
  EXPECT_EQ(w->pipe().SetCapacity((1u << 31) + 1, u).error().value(), EINVAL);
  r.reset();
  w.reset();
  EXPECT_EQ(ChargedPages(12345), 0u);
}

TEST(PipeTest, ABlockedReaderWakesForData) {
  auto [r, w] = NewPipe(Root(), 0);
  waiter::Waker waker;
  std::thread writer([&, w = w] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Write(*w, "late");
  });
  auto got = Read(*r, 10, &waker);
  writer.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "late");
}

TEST(PipeTest, ABlockedWriterFinishesAsTheReaderDrains) {
  auto [r, w] = NewPipe(Root(), 0);
  waiter::Waker waker;
  size_t written = 0;
  std::thread writer([&, w = w] { written = Write(*w, std::string(200000, 'w'), &waker); });
  size_t read = 0;
  waiter::Waker rw;
  while (read < 200000) {
    auto got = Read(*r, 7000, &rw);
    ASSERT_TRUE(got.ok());
    read += got->size();
  }
  writer.join();
  EXPECT_EQ(written, 200000u);
}

TEST(PipeTest, AnInterruptedReadIsEintr) {
  auto [r, w] = NewPipe(Root(), 0);
  waiter::Waker waker;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    waker.Interrupt();
  });
  auto got = Read(*r, 10, &waker);
  t.join();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().value(), EINTR);
}

TEST(NamedPipeTest, OpenRules) {
  NamedPipe fifo;
  // O_WRONLY|O_NONBLOCK without a reader.
  EXPECT_EQ(fifo.Open(O_WRONLY | O_NONBLOCK).error().value(), ENXIO);
  // A nonblocking reader: no POLLHUP before a writer came.
  auto rd = fifo.Open(O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(rd.ok());
  auto* r = static_cast<PipeFile*>(rd->get());
  EXPECT_EQ(r->Readiness(POLLIN | POLLHUP), 0u);
  auto wr = fifo.Open(O_WRONLY | O_NONBLOCK);
  ASSERT_TRUE(wr.ok());
  auto* w = static_cast<PipeFile*>(wr->get());
  EXPECT_EQ(&r->pipe(), &w->pipe());
  Write(*w, "via fifo");
  EXPECT_EQ(*Read(*r, 100), "via fifo");
  wr->reset();
  EXPECT_EQ(r->Readiness(POLLIN | POLLHUP), static_cast<uint32_t>(POLLHUP));
  // O_RDWR never waits; O_ACCMODE is EINVAL.
  EXPECT_TRUE(fifo.Open(O_RDWR).ok());
  EXPECT_EQ(fifo.Open(O_ACCMODE).error().value(), EINVAL);
}

TEST(NamedPipeTest, ABlockingReaderWaitsForAWriter) {
  NamedPipe fifo;
  auto rd = fifo.Open(O_RDONLY);
  ASSERT_TRUE(rd.ok());
  auto* r = static_cast<PipeFile*>(rd->get());
  waiter::Waker waker;
  std::shared_ptr<vfs::FileDescription> writer_end;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto wr = fifo.Open(O_WRONLY);
    ASSERT_TRUE(wr.ok());
    writer_end = *wr;
  });
  EXPECT_TRUE(r->WaitForPartner(waker).ok());
  t.join();
  // The writer did not wait: a reader was there.
  waiter::Waker w2;
  EXPECT_TRUE(static_cast<PipeFile*>(writer_end.get())->WaitForPartner(w2).ok());
}

TEST(NamedPipeTest, ThePipeGoesWithItsLastEnd) {
  NamedPipe fifo;
  uint64_t ino;
  {
    auto rw = fifo.Open(O_RDWR | O_NONBLOCK);
    auto* f = static_cast<PipeFile*>(rw->get());
    ino = f->pipe().ino();
    Write(*f, "dropped");
  }
  auto rw = fifo.Open(O_RDWR | O_NONBLOCK);
  auto* f = static_cast<PipeFile*>(rw->get());
  EXPECT_NE(f->pipe().ino(), ino);
  EXPECT_EQ(f->pipe().Available(), 0u);
}

}  // namespace
}  // namespace sentry::fsimpl::pipe
