#include "sentry/net/unix/endpoint.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace sentry::net::afunix {
namespace {

// A file to pass in SCM_RIGHTS messages.
class DummyFile : public vfs::FileDescription {
 public:
  DummyFile() : vfs::FileDescription(O_RDONLY) {}
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override { return 0; }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override { return 0; }
  bool Seekable() const override { return false; }
  ErrnoOr<struct stat> Stat() override { return Errno(EINVAL); }
  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
  std::string Describe() const override { return "dummy"; }
};

timespec In(long ms) {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_nsec += ms * 1000000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  return t;
}

constexpr Creds kMe{100, 1000, 1000};

class EndpointTest : public ::testing::Test {
 protected:
  // Every endpoint is released at the end, as its file's last close would
  // (connected ones hold each other until then).
  void TearDown() override {
    for (auto& e : made_) e->Release();
  }
  std::shared_ptr<Endpoint> New(int type) {
    made_.push_back(std::make_shared<Endpoint>(ns_, type));
    return made_.back();
  }
  std::pair<std::shared_ptr<Endpoint>, std::shared_ptr<Endpoint>> NewPair(int type) {
    auto a = New(type), b = New(type);
    Endpoint::Pair(a, b, kMe);
    return {a, b};
  }

  ErrnoOr<size_t> Send(Endpoint& e, const std::string& data, Wait w = Wait(),
                       std::vector<std::shared_ptr<vfs::FileDescription>> files = {}) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    SendArgs a;
    a.data = {&v, 1};
    a.len = data.size();
    a.self = kMe;
    a.inflight_unlimited = true;
    a.files = std::move(files);
    bool sigpipe;
    return e.Send(a, w, &sigpipe);
  }

  // Reads up to `n` bytes; the data in `*out`.
  ErrnoOr<RecvResult> Recv(Endpoint& e, size_t n, std::string* out, int flags = 0,
                           Wait w = Wait()) {
    out->assign(n, '\0');
    iovec v{out->data(), n};
    RecvArgs a;
    a.data = {&v, 1};
    a.len = n;
    a.flags = flags;
    auto r = e.Recv(a, w);
    if (r.ok()) out->resize(std::min(n, r->n));
    return r;
  }

  std::shared_ptr<Namespace> ns_ = std::make_shared<Namespace>();
  std::vector<std::shared_ptr<Endpoint>> made_;
};

TEST(TruesizeTest, MatchesLinux) {
  // Measured on Linux 6.x: a 1-byte skb is 768 bytes, a 1000-byte one 2304,
  // a full stream skb (36544 bytes) 37120.
  EXPECT_EQ(DgramTruesize(1), 768u);
  EXPECT_EQ(DgramTruesize(1000), 2304u);
  EXPECT_EQ(StreamChunkTruesize(1), 768u);
  EXPECT_EQ(StreamChunkTruesize(kMaxStreamChunk), 37120u);
}

TEST_F(EndpointTest, StreamPairCarriesBytes) {
  auto [a, b] = NewPair(SOCK_STREAM);
  ASSERT_EQ(*Send(*a, "hello"), 5u);
  ASSERT_EQ(*Send(*a, " world"), 6u);
  EXPECT_EQ(a->OutqLen(), 2 * 768);
  EXPECT_EQ(*b->InqLen(), 11);
  std::string got;
  ASSERT_TRUE(Recv(*b, 100, &got).ok());
  EXPECT_EQ(got, "hello world");
  // Consumed messages give their charge back.
  EXPECT_EQ(a->OutqLen(), 0);
  EXPECT_EQ(Recv(*b, 1, &got).error(), Errno(EAGAIN));
}

TEST_F(EndpointTest, DatagramBoundariesAndTruncation) {
  auto [a, b] = NewPair(SOCK_DGRAM);
  ASSERT_TRUE(Send(*a, "abcdef").ok());
  ASSERT_TRUE(Send(*a, "xy").ok());
  std::string got;
  auto r = Recv(*b, 3, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(r->msg_flags, MSG_TRUNC);
  r = Recv(*b, 10, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, "xy");
  EXPECT_EQ(r->msg_flags, 0);
}

TEST_F(EndpointTest, BlockedReaderWakesForData) {
  auto [a, b] = NewPair(SOCK_STREAM);
  waiter::Waker w;
  std::thread t([&, a = a] {
    usleep(20000);
    (void)Send(*a, "late");
  });
  std::string got;
  auto r = Recv(*b, 10, &got, 0, Wait(&w, std::nullopt));
  t.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, "late");
}

TEST_F(EndpointTest, InterruptedWaitRestartsOrIsEintrWithATimeout) {
  auto [a, b] = NewPair(SOCK_STREAM);
  waiter::Waker w;
  w.Interrupt();
  std::string got;
  EXPECT_EQ(Recv(*b, 10, &got, 0, Wait(&w, std::nullopt)).error(), Errno(kERESTARTSYS));
  EXPECT_EQ(Recv(*b, 10, &got, 0, Wait(&w, In(1000))).error(), Errno(EINTR));
  w.ClearInterrupt();
  // A deadline that passes is EAGAIN.
  EXPECT_EQ(Recv(*b, 10, &got, 0, Wait(&w, In(20))).error(), Errno(EAGAIN));
}

TEST_F(EndpointTest, BlockedWriterWakesWhenTheReaderDrains) {
  auto [a, b] = NewPair(SOCK_STREAM);
  a->SetSndbuf(1);  // the floor: 4608
  std::string big(20000, 'x');
  waiter::Waker w;
  size_t sent = 0;
  std::thread t([&, a = a] {
    auto n = Send(*a, big, Wait(&w, std::nullopt));
    sent = n.ok() ? *n : 0;
  });
  std::string got, all;
  while (all.size() < big.size()) {
    auto r = Recv(*b, 4096, &got);
    if (!r.ok()) {
      usleep(1000);
      continue;
    }
    all += got;
  }
  t.join();
  EXPECT_EQ(sent, big.size());
  EXPECT_EQ(all, big);
}

TEST_F(EndpointTest, ReadinessAndNotification) {
  auto [a, b] = NewPair(SOCK_STREAM);
  EXPECT_EQ(b->Readiness(POLLIN | POLLOUT), POLLOUT);
  waiter::Waker w;
  b->EventRegister(&w, POLLIN);
  ASSERT_TRUE(Send(*a, "x").ok());
  const timespec soon = In(1000);
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, &soon).ok());
  b->EventUnregister(&w);
  EXPECT_EQ(b->Readiness(POLLIN | POLLOUT), POLLIN | POLLOUT);
  ASSERT_TRUE(a->Shutdown(SHUT_WR).ok());
  EXPECT_EQ(b->Readiness(POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP);
}

TEST_F(EndpointTest, ReleaseWithUnreadDataResetsThePeer) {
  auto [a, b] = NewPair(SOCK_STREAM);
  ASSERT_TRUE(Send(*a, "unread").ok());
  b->Release();
  std::string got;
  EXPECT_EQ(Recv(*a, 10, &got).error(), Errno(ECONNRESET));
  auto r = Recv(*a, 10, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n, 0u);
  EXPECT_EQ(Send(*a, "x").error(), Errno(EPIPE));
}

TEST_F(EndpointTest, ListenConnectAccept) {
  auto l = New(SOCK_STREAM);
  ASSERT_TRUE(l->BindAbstract(std::string("\x01\x00\x00srv", 6)).ok());
  ASSERT_TRUE(l->Listen(0, kMe).ok());
  auto c1 = New(SOCK_STREAM), c2 = New(SOCK_STREAM);
  Wait none;
  ASSERT_TRUE(c1->Connect(l, Creds{7, 8, 9}, none).ok());
  // The backlog of 0 holds one.
  EXPECT_EQ(c2->Connect(l, kMe, none).error(), Errno(EAGAIN));
  auto s = l->Accept(none);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->peer_cred()->pid, 7);
  EXPECT_EQ(c1->peer_cred()->pid, kMe.pid);
  EXPECT_EQ(*(*s)->Name(false), *l->address());
  ASSERT_TRUE(Send(*c1, "hi").ok());
  std::string got;
  ASSERT_TRUE(Recv(**s, 10, &got).ok());
  EXPECT_EQ(got, "hi");
  EXPECT_TRUE(c2->Connect(l, kMe, none).ok());
  // A listener that goes resets what it had not accepted.
  l->Release();
  EXPECT_EQ(c2->TakeError(), ECONNRESET);
  (*s)->Release();
  c1->Release();
  c2->Release();
}

TEST_F(EndpointTest, AbstractNamesArePerTypeAndFreedAtRelease) {
  const std::string name("\x01\x00\x00name", 7);
  auto s = New(SOCK_STREAM), d = New(SOCK_DGRAM), s2 = New(SOCK_STREAM);
  ASSERT_TRUE(s->BindAbstract(name).ok());
  EXPECT_TRUE(d->BindAbstract(name).ok());
  EXPECT_EQ(s2->BindAbstract(name).error(), Errno(EADDRINUSE));
  EXPECT_EQ(ns_->FindAbstract(SOCK_STREAM, name).get(), s.get());
  s->Release();
  EXPECT_EQ(ns_->FindAbstract(SOCK_STREAM, name), nullptr);
  EXPECT_TRUE(s2->BindAbstract(name).ok());
  d->Release();
  s2->Release();
}

TEST_F(EndpointTest, DatagramPeerWakeRelaysRoomInAFullReceiver) {
  auto server = New(SOCK_DGRAM), client = New(SOCK_DGRAM);
  ASSERT_TRUE(server->BindAbstract(std::string("\x01\x00\x00sv", 5)).ok());
  ASSERT_TRUE(client->ConnectDatagram(server).ok());
  int sent = 0;
  while (Send(*client, "x").ok()) ++sent;
  EXPECT_EQ(sent, kMaxDgramQlen + 1);
  EXPECT_EQ(client->Readiness(POLLOUT), 0u);
  waiter::Waker w;
  client->EventRegister(&w, POLLOUT);
  std::string got;
  ASSERT_TRUE(Recv(*server, 1, &got).ok());
  const timespec soon = In(1000);
  EXPECT_TRUE(w.Block(CLOCK_MONOTONIC, &soon).ok());
  client->EventUnregister(&w);
  EXPECT_EQ(client->Readiness(POLLOUT), static_cast<uint32_t>(POLLOUT));
  client->Release();
  server->Release();
}

TEST_F(EndpointTest, FilesInFlightAreCounted) {
  auto [a, b] = NewPair(SOCK_DGRAM);
  auto f = std::make_shared<DummyFile>();
  ASSERT_TRUE(Send(*a, "x", Wait(), {f, f}).ok());
  EXPECT_EQ(ns_->Inflight(kMe.uid), 2u);
  EXPECT_EQ(f.use_count(), 3);
  std::string got;
  auto r = Recv(*b, 1, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files.size(), 2u);
  EXPECT_EQ(ns_->Inflight(kMe.uid), 0u);
  r->files.clear();
  // Unread files go with the socket that holds them.
  ASSERT_TRUE(Send(*a, "x", Wait(), {f}).ok());
  EXPECT_EQ(f.use_count(), 2);
  b->Release();
  EXPECT_EQ(f.use_count(), 1);
  EXPECT_EQ(ns_->Inflight(kMe.uid), 0u);
}

TEST_F(EndpointTest, StreamReadsStopAtADifferentWriter) {
  auto [a, b] = NewPair(SOCK_STREAM);
  b->set_passcred(true);
  iovec v{const_cast<char*>("ab"), 2};
  SendArgs args;
  args.data = {&v, 1};
  args.len = 2;
  args.self = kMe;
  args.inflight_unlimited = true;
  bool sigpipe;
  Wait none;
  ASSERT_TRUE(a->Send(args, none, &sigpipe).ok());
  args.creds = Creds{55, 0, 0};
  ASSERT_TRUE(a->Send(args, none, &sigpipe).ok());
  std::string got;
  auto r = Recv(*b, 10, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, "ab");
  EXPECT_EQ(r->creds.pid, kMe.pid);
  r = Recv(*b, 10, &got);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->creds.pid, 55);
}

}  // namespace
}  // namespace sentry::net::afunix
