#include "sentry/kernel/futex.h"

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/memory/memory_file.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/mm/mm.h"
#include "sentry/waiter/waiter.h"

namespace sentry::kernel {
namespace {

using futex::Deadline;
using futex::kBitsetMatchAny;
using futex::kOwnerDied;
using futex::kWaiters;
using mm::FutexKey;
using mm::MemoryManager;
using mm::testing::FakeAddressSpace;

constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr int kAnon = MAP_PRIVATE | MAP_ANONYMOUS;
constexpr int kSharedAnon = MAP_SHARED | MAP_ANONYMOUS;
constexpr bool kPrivate = true;
constexpr bool kShared = false;

// FUTEX_OP(op, oparg, cmp, cmparg) and its codes (linux/futex.h).
constexpr uint32_t FutexOp(uint32_t op, uint32_t oparg, uint32_t cmp, uint32_t cmparg) {
  return ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff);
}
constexpr uint32_t kOpSet = 0, kOpAdd = 1, kOpOr = 2, kOpAndn = 3, kOpXor = 4, kOpShift = 8;
constexpr uint32_t kCmpEq = 0, kCmpNe = 1, kCmpLt = 2, kCmpLe = 3, kCmpGt = 4, kCmpGe = 5;

template <typename T>
int Err(const ErrnoOr<T>& r) {
  return r.ok() ? 0 : r.error().value();
}

Deadline Forever() { return Deadline{}; }
Deadline In(std::chrono::milliseconds ms, clockid_t clock = CLOCK_MONOTONIC) {
  timespec now;
  clock_gettime(clock, &now);
  int64_t ns = now.tv_nsec + ms.count() * 1000000;
  return Deadline{clock, timespec{now.tv_sec + ns / 1000000000, ns % 1000000000}};
}

// A blocking futex call on its own host thread (a guest thread), with its
// own waker.
class Blocked {
 public:
  explicit Blocked(std::function<ErrnoOrOk(waiter::Waker&)> fn)
      : thread_([this, fn = std::move(fn)] {
          ErrnoOrOk r = fn(waker_);
          absl::MutexLock l(&mu_);
          result_ = r;
          done_ = true;
        }) {}
  ~Blocked() {
    if (thread_.joinable()) {
      waker_.Interrupt();
      thread_.join();
    }
  }
  // The call's result (waits for it).
  int Result() {
    thread_.join();
    absl::MutexLock l(&mu_);
    return result_.ok() ? 0 : result_.error().value();
  }
  bool done() {
    absl::MutexLock l(&mu_);
    return done_;
  }
  waiter::Waker& waker() { return waker_; }

 private:
  waiter::Waker waker_;
  absl::Mutex mu_;
  ErrnoOrOk result_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class FutexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = memory::MemoryFile::Create(uint64_t{256} << 20);
    ASSERT_TRUE(mf.ok()) << mf.status();
    mf_ = std::move(mf).value();
    mm::Layout layout;
    layout.mmap_base = 0x7f0000000000;
    mm_ = std::make_unique<MemoryManager>(*mf_, &as_, layout);
    futex_ = std::make_unique<FutexManager>([this](pid_t tid) {
      absl::MutexLock l(&tids_mu_);
      return live_tids_.count(tid) != 0;
    });
    SetLive(kOwner, true);
    SetLive(kOther, true);
  }
  void TearDown() override {
    futex_.reset();
    mm2_.reset();
    mm_.reset();
    EXPECT_EQ(mf_->UsedBytes(), 0u);
  }

  void SetLive(pid_t tid, bool live) {
    absl::MutexLock l(&tids_mu_);
    if (live) {
      live_tids_.insert(tid);
    } else {
      live_tids_.erase(tid);
    }
  }

  uint64_t Map(MemoryManager& mm, uint64_t len = kPageSize, int prot = kRW, int flags = kAnon) {
    mm::MmapOpts o;
    o.length = len;
    o.prot = prot;
    o.flags = flags;
    auto r = mm.Mmap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : 0;
  }
  uint64_t Map(uint64_t len = kPageSize, int prot = kRW, int flags = kAnon) {
    return Map(*mm_, len, prot, flags);
  }

  // The guest's own atomic load and store.
  uint32_t Get(uint64_t addr, MemoryManager* mm = nullptr) {
    uint32_t v = 0;
    EXPECT_TRUE(
        (mm ? *mm : *mm_)
            .WithWord(UserAddr(addr), false, [&v](uint32_t* p) { v = std::atomic_ref(*p).load(); })
            .ok());
    return v;
  }
  void Set(uint64_t addr, uint32_t v, MemoryManager* mm = nullptr) {
    EXPECT_TRUE(
        (mm ? *mm : *mm_)
            .WithWord(UserAddr(addr), true, [v](uint32_t* p) { std::atomic_ref(*p).store(v); })
            .ok());
  }
  void Put64(uint64_t addr, uint64_t v) {
    ASSERT_TRUE(mm_->CopyOutObj(UserPtr<uint64_t>(addr), v).ok());
  }

  // Waits (without asserting on time) until `n` waiters are queued at `addr`.
  bool AwaitWaiters(uint64_t addr, int n, bool is_private = kPrivate, MemoryManager* mm = nullptr) {
    for (int i = 0; i < 20000; ++i) {
      auto c = futex_->CountWaiters(mm ? *mm : *mm_, UserAddr(addr), is_private);
      if (c.ok() && *c == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  int Waiters(uint64_t addr, bool is_private = kPrivate) {
    auto c = futex_->CountWaiters(*mm_, UserAddr(addr), is_private);
    return c.ok() ? *c : -1;
  }

  std::unique_ptr<Blocked> WaitOn(uint64_t addr, uint32_t val, bool is_private = kPrivate,
                                  uint32_t bitset = kBitsetMatchAny, Deadline d = Forever(),
                                  MemoryManager* mm = nullptr) {
    MemoryManager& m = mm ? *mm : *mm_;
    return std::make_unique<Blocked>(
        [this, &m, addr, val, is_private, bitset, d](waiter::Waker& w) {
          return futex_->Wait(m, UserAddr(addr), is_private, val, bitset, w, d);
        });
  }
  std::unique_ptr<Blocked> LockPiOn(uint64_t addr, pid_t tid, Deadline d = Forever()) {
    return std::make_unique<Blocked>([this, addr, tid, d](waiter::Waker& w) {
      return futex_->LockPi(*mm_, UserAddr(addr), kPrivate, tid, &w, d);
    });
  }

  static constexpr pid_t kOwner = 100;
  static constexpr pid_t kOther = 101;

  FakeAddressSpace as_, as2_;
  std::unique_ptr<memory::MemoryFile> mf_;
  std::unique_ptr<MemoryManager> mm_;
  std::unique_ptr<MemoryManager> mm2_;
  std::unique_ptr<FutexManager> futex_;
  absl::Mutex tids_mu_;
  std::set<pid_t> live_tids_ ABSL_GUARDED_BY(tids_mu_);
};

// --- Keys ---

TEST_F(FutexTest, KeysFollowLinux) {
  const uint64_t priv = Map();
  const uint64_t shared = Map(kPageSize, kRW, kSharedAnon);
  const uint64_t ro = Map(kPageSize, PROT_READ);
  auto k = mm_->FutexKeyAt(UserAddr(priv + 8), kPrivate, false);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->kind, FutexKey::Kind::kPrivate);
  auto ks = mm_->FutexKeyAt(UserAddr(priv + 8), kShared, false);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->kind, FutexKey::Kind::kSharedMm);
  EXPECT_FALSE(*k == *ks);  // a private and a shared futex never meet
  auto ko = mm_->FutexKeyAt(UserAddr(shared + 8), kShared, false);
  ASSERT_TRUE(ko.ok());
  EXPECT_EQ(ko->kind, FutexKey::Kind::kObject);
  EXPECT_EQ(ko->offset, 8u);
  // The same object, seen from a fork: the same key.
  mm2_ = mm_->Fork(&as2_);
  auto ko2 = mm2_->FutexKeyAt(UserAddr(shared + 8), kShared, false);
  ASSERT_TRUE(ko2.ok());
  EXPECT_TRUE(*ko == *ko2);
  // Private memory after a fork: each mm its own.
  auto ks2 = mm2_->FutexKeyAt(UserAddr(priv + 8), kShared, false);
  ASSERT_TRUE(ks2.ok());
  EXPECT_FALSE(*ks == *ks2);
  // Read-only private anonymous memory never changes: EFAULT (a private key
  // only checks the address).
  EXPECT_EQ(Err(mm_->FutexKeyAt(UserAddr(ro), kShared, false)), EFAULT);
  EXPECT_TRUE(mm_->FutexKeyAt(UserAddr(ro), kPrivate, false).ok());
  EXPECT_EQ(Err(mm_->FutexKeyAt(UserAddr(shared), kShared, true)), 0);
  EXPECT_EQ(Err(mm_->FutexKeyAt(UserAddr(0x1000), kShared, false)), EFAULT);
  EXPECT_EQ(Err(mm_->FutexKeyAt(UserAddr(kTaskSizeMax), kPrivate, false)), EFAULT);
}

// --- WAIT and WAKE ---

TEST_F(FutexTest, WaitChecksTheValue) {
  const uint64_t a = Map();
  Set(a, 1);
  waiter::Waker w;
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kPrivate, 2, kBitsetMatchAny, w, Forever())),
            EAGAIN);
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a + 1), kPrivate, 1, kBitsetMatchAny, w, Forever())),
            EINVAL);
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kPrivate, 1, 0, w, Forever())), EINVAL);
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(0x2000), kPrivate, 0, kBitsetMatchAny, w, Forever())),
            EFAULT);
  EXPECT_EQ(Waiters(a), 0);
}

TEST_F(FutexTest, WaitTimesOut) {
  const uint64_t a = Map();
  waiter::Waker w;
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kPrivate, 0, kBitsetMatchAny, w,
                             In(std::chrono::milliseconds(5)))),
            ETIMEDOUT);
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kPrivate, 0, kBitsetMatchAny, w,
                             Deadline{CLOCK_REALTIME, timespec{1, 0}})),
            ETIMEDOUT);
  EXPECT_EQ(Waiters(a), 0);
}

TEST_F(FutexTest, WakeCountsWhomItWakes) {
  const uint64_t a = Map();
  std::vector<std::unique_ptr<Blocked>> ws;
  for (int i = 0; i < 3; ++i) ws.push_back(WaitOn(a, 0));
  ASSERT_TRUE(AwaitWaiters(a, 3));
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, 2, kBitsetMatchAny), 2);
  EXPECT_EQ(Waiters(a), 1);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, kBitsetMatchAny), 1);
  for (auto& w : ws) EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, 1, kBitsetMatchAny), 0);
}

TEST_F(FutexTest, WakeOfZeroStillWakesOne) {
  // Linux's futex_wake counts before it compares.
  const uint64_t a = Map();
  auto w1 = WaitOn(a, 0);
  auto w2 = WaitOn(a, 0);
  ASSERT_TRUE(AwaitWaiters(a, 2));
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, 0, kBitsetMatchAny), 1);
  EXPECT_EQ(Waiters(a), 1);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, -5, kBitsetMatchAny), 1);
}

TEST_F(FutexTest, WakeBitsetPicksWaiters) {
  const uint64_t a = Map();
  auto w1 = WaitOn(a, 0, kPrivate, 0x1);
  auto w2 = WaitOn(a, 0, kPrivate, 0x6);
  ASSERT_TRUE(AwaitWaiters(a, 2));
  EXPECT_EQ(Err(futex_->Wake(*mm_, UserAddr(a), kPrivate, 1, 0)), EINVAL);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, 0x8), 0);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, 0x4), 1);
  EXPECT_EQ(w2->Result(), 0);
  EXPECT_FALSE(w1->done());
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, kBitsetMatchAny), 1);
  EXPECT_EQ(w1->Result(), 0);
}

TEST_F(FutexTest, PrivateAndSharedFutexesDoNotMeet) {
  const uint64_t a = Map();
  auto w = WaitOn(a, 0, kPrivate);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kShared, INT_MAX, kBitsetMatchAny), 0);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, kBitsetMatchAny), 1);
  EXPECT_EQ(w->Result(), 0);
}

TEST_F(FutexTest, SharedMemoryFutexReachesAcrossAddressSpaces) {
  const uint64_t a = Map(kPageSize, kRW, kSharedAnon);
  mm2_ = mm_->Fork(&as2_);
  auto w = WaitOn(a + 64, 0, kShared, kBitsetMatchAny, Forever(), mm2_.get());
  ASSERT_TRUE(AwaitWaiters(a + 64, 1, kShared, mm2_.get()));
  // The parent sees the same waiter; a private wake is keyed by the mm.
  EXPECT_EQ(Waiters(a + 64, kShared), 1);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a + 64), kPrivate, INT_MAX, kBitsetMatchAny), 0);
  // A store in one is seen by the check in the other.
  Set(a + 64, 5);
  waiter::Waker x;
  EXPECT_EQ(Err(futex_->Wait(*mm2_, UserAddr(a + 64), kShared, 0, kBitsetMatchAny, x, Forever())),
            EAGAIN);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a + 64), kShared, INT_MAX, kBitsetMatchAny), 1);
  EXPECT_EQ(w->Result(), 0);
}

TEST_F(FutexTest, AGuestStoreThroughTheMappingIsWhatWaitSees) {
  // FakeGuest stores the way the hardware would, through the platform's
  // mapping of the memory file; the futex reads the same page.
  const uint64_t a = Map();
  mm::testing::FakeGuest guest(*mm_, *mf_, as_);
  ASSERT_EQ(guest.Write(a, 7), mm::FaultResult::kHandled);
  waiter::Waker w;
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kShared, 0, kBitsetMatchAny, w, Forever())),
            EAGAIN);
  EXPECT_EQ(Err(futex_->Wait(*mm_, UserAddr(a), kShared, 7, kBitsetMatchAny, w,
                             Deadline{CLOCK_MONOTONIC, timespec{0, 0}})),
            ETIMEDOUT);
}

TEST_F(FutexTest, InterruptedWaitRestarts) {
  const uint64_t a = Map();
  auto w = WaitOn(a, 0);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  w->waker().Interrupt();
  EXPECT_EQ(w->Result(), kERESTARTSYS);
  EXPECT_EQ(Waiters(a), 0);
}

TEST_F(FutexTest, WakeCheckAndSleepAreAtomic) {
  // Ping-pong: each side flips the word and wakes the other, then waits for
  // its turn. A wake lost between a check and a sleep would hang it.
  const uint64_t a = Map();
  constexpr int kRounds = 2000;
  auto side = [&](uint32_t me, waiter::Waker& w) -> ErrnoOrOk {
    for (int i = 0; i < kRounds; ++i) {
      for (;;) {
        const uint32_t cur = Get(a);
        if (cur == me) break;
        ErrnoOrOk r = futex_->Wait(*mm_, UserAddr(a), kPrivate, cur, kBitsetMatchAny, w, Forever());
        if (!r.ok() && r.error().value() != EAGAIN) return r;
      }
      Set(a, 1 - me);
      ErrnoOr<int> n = futex_->Wake(*mm_, UserAddr(a), kPrivate, 1, kBitsetMatchAny);
      if (!n.ok()) return n.error();
    }
    return Ok();
  };
  Blocked one([&](waiter::Waker& w) { return side(1, w); });
  waiter::Waker w0;
  EXPECT_TRUE(side(0, w0).ok());
  EXPECT_EQ(one.Result(), 0);
}

TEST_F(FutexTest, WaitersLeavingWhileBeingRequeuedAndWoken) {
  // Waiters time out and are woken while another thread moves
  // them between two words: each must leave the queue it is in, once.
  const uint64_t a = Map(), b = Map();
  constexpr int kThreads = 6, kRounds = 200;
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Blocked>> ws;
  for (int i = 0; i < kThreads; ++i) {
    ws.push_back(std::make_unique<Blocked>([&, i](waiter::Waker& w) -> ErrnoOrOk {
      for (int r = 0; r < kRounds; ++r) {
        const uint64_t at = (r + i) % 2 ? a : b;
        ErrnoOrOk res = futex_->Wait(*mm_, UserAddr(at), kPrivate, 0, kBitsetMatchAny, w,
                                     In(std::chrono::milliseconds(1 + (r % 3))));
        if (!res.ok() && res.error().value() != ETIMEDOUT) return res;
      }
      return Ok();
    }));
  }
  std::thread mover([&] {
    for (int n = 0; !stop; ++n) {
      (void)futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 0, INT_MAX, nullptr);
      (void)futex_->Requeue(*mm_, UserAddr(b), UserAddr(a), kPrivate, n % 2, INT_MAX, nullptr);
      if (n % 7 == 0) (void)futex_->Wake(*mm_, UserAddr(a), kPrivate, 1, kBitsetMatchAny);
    }
  });
  for (auto& w : ws) EXPECT_EQ(w->Result(), 0);
  stop = true;
  mover.join();
  EXPECT_EQ(Waiters(a), 0);
  EXPECT_EQ(Waiters(b), 0);
}

// --- REQUEUE ---

TEST_F(FutexTest, RequeueWakesSomeAndMovesOthers) {
  const uint64_t a = Map(), b = Map();
  std::vector<std::unique_ptr<Blocked>> ws;
  for (int i = 0; i < 4; ++i) ws.push_back(WaitOn(a, 0));
  ASSERT_TRUE(AwaitWaiters(a, 4));
  EXPECT_EQ(Err(futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, -1, 1, nullptr)), EINVAL);
  EXPECT_EQ(Err(futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, -1, nullptr)), EINVAL);
  const uint32_t wrong = 9, right = 0;
  EXPECT_EQ(Err(futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 2, &wrong)), EAGAIN);
  EXPECT_EQ(*futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 2, &right), 3);
  EXPECT_EQ(Waiters(a), 1);
  EXPECT_EQ(Waiters(b), 2);
  // Waking the old address does not reach the moved ones.
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(a), kPrivate, INT_MAX, kBitsetMatchAny), 1);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(b), kPrivate, INT_MAX, kBitsetMatchAny), 2);
  for (auto& w : ws) EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(*futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 1, nullptr), 0);
}

TEST_F(FutexTest, ARequeuedWaiterLeavesItsNewQueue) {
  const uint64_t a = Map(), b = Map();
  auto w = WaitOn(a, 0);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  EXPECT_EQ(*futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 0, 1, nullptr), 1);
  EXPECT_EQ(Waiters(b), 1);
  w->waker().Interrupt();
  EXPECT_EQ(w->Result(), kERESTARTSYS);
  EXPECT_EQ(Waiters(a), 0);
  EXPECT_EQ(Waiters(b), 0);
}

// --- WAKE_OP ---

TEST(FutexWakeOpTest, OperationsAndComparisons) {
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpSet, 7, 0, 0), 3), 7u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpAdd, 7, 0, 0), 3), 10u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpAdd, 0xfff, 0, 0), 3), 2u);  // oparg is signed
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpOr, 4, 0, 0), 3), 7u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpAndn, 1, 0, 0), 3), 2u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpXor, 1, 0, 0), 3), 2u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpSet | kOpShift, 4, 0, 0), 0), 16u);
  EXPECT_EQ(*futex::WakeOpApply(FutexOp(kOpOr | kOpShift, 33, 0, 0), 0), 2u);  // masked to 1
  EXPECT_EQ(Err(futex::WakeOpApply(FutexOp(5, 0, 0, 0), 0)), ENOSYS);
  EXPECT_TRUE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpEq, 3), 3));
  EXPECT_TRUE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpNe, 3), 4));
  EXPECT_TRUE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpLt, 0), 0xffffffff));      // -1 < 0
  EXPECT_TRUE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpLe, 0xfff), 0xffffffff));  // -1 <= -1
  EXPECT_FALSE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpGt, 5), 5));
  EXPECT_TRUE(*futex::WakeOpCompare(FutexOp(0, 0, kCmpGe, 5), 5));
  EXPECT_EQ(Err(futex::WakeOpCompare(FutexOp(0, 0, 6, 0), 0)), ENOSYS);
}

TEST_F(FutexTest, WakeOpChangesTheSecondWordAndWakesBoth) {
  const uint64_t a = Map(), b = Map();
  Set(b, 5);
  auto wa = WaitOn(a, 0);
  auto wb = WaitOn(b, 5);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  ASSERT_TRUE(AwaitWaiters(b, 1));
  // b += 1; wake b's waiters if it was 4: it was not.
  EXPECT_EQ(*futex_->WakeOp(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 1,
                            FutexOp(kOpAdd, 1, kCmpEq, 4)),
            1);
  EXPECT_EQ(Get(b), 6u);
  EXPECT_EQ(wa->Result(), 0);
  EXPECT_EQ(Waiters(b), 1);
  // b = 0 if it was > 5: it was.
  EXPECT_EQ(*futex_->WakeOp(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 1,
                            FutexOp(kOpSet, 0, kCmpGt, 5)),
            1);
  EXPECT_EQ(Get(b), 0u);
  EXPECT_EQ(wb->Result(), 0);
}

TEST_F(FutexTest, WakeOpErrors) {
  const uint64_t a = Map(), b = Map(), ro = Map(kPageSize, PROT_READ);
  Set(b, 5);
  // An unknown operation changes nothing; an unknown comparison comes after
  // the change.
  EXPECT_EQ(
      Err(futex_->WakeOp(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 1, FutexOp(6, 1, kCmpEq, 0))),
      ENOSYS);
  EXPECT_EQ(Get(b), 5u);
  EXPECT_EQ(
      Err(futex_->WakeOp(*mm_, UserAddr(a), UserAddr(b), kPrivate, 1, 1, FutexOp(kOpSet, 1, 7, 0))),
      ENOSYS);
  EXPECT_EQ(Get(b), 1u);
  EXPECT_EQ(Err(futex_->WakeOp(*mm_, UserAddr(a), UserAddr(ro), kPrivate, 1, 1,
                               FutexOp(kOpAdd, 1, kCmpEq, 0))),
            EFAULT);
  EXPECT_EQ(Err(futex_->WakeOp(*mm_, UserAddr(a), UserAddr(ro), kShared, 1, 1,
                               FutexOp(kOpAdd, 1, kCmpEq, 0))),
            EFAULT);
  EXPECT_EQ(Err(futex_->WakeOp(*mm_, UserAddr(a), UserAddr(b + 2), kPrivate, 1, 1,
                               FutexOp(kOpAdd, 1, kCmpEq, 0))),
            EINVAL);
}

// --- PI ---

TEST_F(FutexTest, UncontendedPiLock) {
  const uint64_t a = Map();
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), 0);
  EXPECT_EQ(Get(a), static_cast<uint32_t>(kOwner));
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), EDEADLK);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOther)), EPERM);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOwner)), 0);
  EXPECT_EQ(Get(a), 0u);
  // A stale FUTEX_OWNER_DIED is kept for the next owner to see.
  Set(a, kOwnerDied);
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOther, nullptr, Forever())), 0);
  EXPECT_EQ(Get(a), kOwnerDied | kOther);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOther)), 0);
  EXPECT_EQ(Get(a), 0u);
}

TEST_F(FutexTest, PiLockOfAnUnknownOwnerIsEsrch) {
  const uint64_t a = Map();
  Set(a, 4242);
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), ESRCH);
  // FUTEX_WAITERS was set on the way, as in Linux.
  EXPECT_EQ(Get(a), 4242u | kWaiters);
  // An owner that has exited (but is still in the task set) is no better.
  Set(a, kOther);
  futex_->ExitBegin(kOther);
  futex_->ExitEnd(kOther);
  waiter::Waker w;
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, &w, Forever())), ESRCH);
}

TEST_F(FutexTest, TrylockOfAHeldPiLockIsEagain) {
  const uint64_t a = Map();
  Set(a, kOther);
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), EAGAIN);
  EXPECT_EQ(Get(a), kOther | kWaiters);
  EXPECT_EQ(Waiters(a), 0);
}

TEST_F(FutexTest, ContendedPiLockIsHandedOver) {
  const uint64_t a = Map();
  ASSERT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), 0);
  auto w = LockPiOn(a, kOther);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  EXPECT_EQ(Get(a), kOwner | kWaiters);
  // A PI waiter is not for FUTEX_WAKE or FUTEX_REQUEUE.
  EXPECT_EQ(Err(futex_->Wake(*mm_, UserAddr(a), kPrivate, 1, kBitsetMatchAny)), EINVAL);
  const uint64_t b = Map();
  EXPECT_EQ(Err(futex_->Requeue(*mm_, UserAddr(a), UserAddr(b), kPrivate, 0, 1, nullptr)), EINVAL);
  // Only the owner may unlock, and the word must agree with the kernel.
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOther)), EPERM);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOwner)), 0);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(a), kOther | kWaiters);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOther)), 0);
  EXPECT_EQ(Get(a), 0u);
}

TEST_F(FutexTest, PiWaitersQueueInOrder) {
  const uint64_t a = Map();
  constexpr pid_t kThird = 102;
  SetLive(kThird, true);
  ASSERT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, kOwner, nullptr, Forever())), 0);
  auto w1 = LockPiOn(a, kOther);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  auto w2 = LockPiOn(a, kThird);  // attaches to the state the first waiter made
  ASSERT_TRUE(AwaitWaiters(a, 2));
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOwner)), 0);
  EXPECT_EQ(w1->Result(), 0);
  EXPECT_EQ(Get(a), kOther | kWaiters);
  EXPECT_FALSE(w2->done());
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOther)), 0);
  EXPECT_EQ(w2->Result(), 0);
  EXPECT_EQ(Get(a), kThird | kWaiters);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kThird)), 0);
  EXPECT_EQ(Get(a), 0u);
}

TEST_F(FutexTest, PiWordThatDisagreesWithTheKernelIsEinval) {
  const uint64_t a = Map();
  Set(a, kOwner);
  auto w = LockPiOn(a, kOther);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  // The guest rewrites the owner behind the kernel's back.
  Set(a, 4242 | kWaiters);
  waiter::Waker x;
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(a), kPrivate, 103, &x, Forever())), EINVAL);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, 4242)), EINVAL);
  // A non-PI waiter's word is not a PI lock.
  const uint64_t b = Map();
  auto plain = WaitOn(b, 0);
  ASSERT_TRUE(AwaitWaiters(b, 1));
  Set(b, kOwner);
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(b), kPrivate, kOther, &x, Forever())), EINVAL);
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(b), kPrivate, 1, kBitsetMatchAny), 1);
}

TEST_F(FutexTest, PiLockTimesOutAndIsInterrupted) {
  const uint64_t a = Map();
  Set(a, kOwner);
  auto t = LockPiOn(a, kOther, In(std::chrono::milliseconds(5), CLOCK_REALTIME));
  EXPECT_EQ(t->Result(), ETIMEDOUT);
  EXPECT_EQ(Waiters(a), 0);
  auto i = LockPiOn(a, kOther);
  ASSERT_TRUE(AwaitWaiters(a, 1));
  i->waker().Interrupt();
  EXPECT_EQ(i->Result(), kERESTARTNOINTR);
  EXPECT_EQ(Waiters(a), 0);
  // The waiters are gone; the WAITERS bit stays for the owner's unlock.
  EXPECT_EQ(Get(a), kOwner | kWaiters);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(a), kPrivate, kOwner)), 0);
  EXPECT_EQ(Get(a), 0u);
}

TEST_F(FutexTest, PiLockWaitsForAnExitingOwner) {
  const uint64_t a = Map();
  Set(a, kOwner);
  futex_->ExitBegin(kOwner);
  auto w = LockPiOn(a, kOther);
  // It cannot decide until the exit is done; the exit marks the word (as the
  // robust list would) and the locker takes it over.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(w->done());
  Set(a, kOwnerDied | kWaiters);
  futex_->ExitEnd(kOwner);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(a), kOwnerDied | kOther);
}

// --- Requeue-PI ---

std::unique_ptr<Blocked> WaitRequeuePiOn(FutexManager& f, MemoryManager& mm, uint64_t a,
                                         uint32_t val, uint64_t b, pid_t tid,
                                         Deadline d = Forever()) {
  return std::make_unique<Blocked>([&f, &mm, a, val, b, tid, d](waiter::Waker& w) {
    return f.WaitRequeuePi(mm, UserAddr(a), kPrivate, val, UserAddr(b), tid, w, d);
  });
}

TEST_F(FutexTest, CmpRequeuePiTakesAFreeLockForTheFirstWaiter) {
  const uint64_t cond = Map(), lock = Map();
  auto w = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kOther);
  ASSERT_TRUE(AwaitWaiters(cond, 1));
  // A plain wake or requeue does not take a requeue-PI waiter.
  EXPECT_EQ(Err(futex_->Wake(*mm_, UserAddr(cond), kPrivate, 1, kBitsetMatchAny)), EINVAL);
  EXPECT_EQ(Err(futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(lock), kPrivate, 2, 0, 0)),
            EINVAL);
  EXPECT_EQ(Err(futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(cond), kPrivate, 1, 0, 0)),
            EINVAL);
  EXPECT_EQ(Err(futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(lock), kPrivate, 1, 0, 1)),
            EAGAIN);
  const uint64_t elsewhere = Map();
  EXPECT_EQ(Err(futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(elsewhere), kPrivate, 1, 0, 0)),
            EINVAL);
  EXPECT_EQ(*futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(lock), kPrivate, 1, 0, 0), 1);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(lock), static_cast<uint32_t>(kOther));
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(lock), kPrivate, kOther)), 0);
}

TEST_F(FutexTest, CmpRequeuePiQueuesWaitersOnAHeldLock) {
  const uint64_t cond = Map(), lock = Map();
  constexpr pid_t kThird = 102;
  SetLive(kThird, true);
  Set(lock, kOwner);
  auto w1 = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kOther);
  ASSERT_TRUE(AwaitWaiters(cond, 1));
  auto w2 = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kThird);
  ASSERT_TRUE(AwaitWaiters(cond, 2));
  EXPECT_EQ(*futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(lock), kPrivate, 1, INT_MAX, 0),
            2);
  EXPECT_EQ(Waiters(cond), 0);
  EXPECT_EQ(Waiters(lock), 2);
  EXPECT_EQ(Get(lock), kOwner | kWaiters);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(lock), kPrivate, kOwner)), 0);
  EXPECT_EQ(w1->Result(), 0);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(lock), kPrivate, kOther)), 0);
  EXPECT_EQ(w2->Result(), 0);
  EXPECT_EQ(Err(futex_->UnlockPi(*mm_, UserAddr(lock), kPrivate, kThird)), 0);
  EXPECT_EQ(Get(lock), 0u);
}

TEST_F(FutexTest, WaitRequeuePiErrorsAndEarlyWakeups) {
  const uint64_t cond = Map(), lock = Map();
  waiter::Waker x;
  EXPECT_EQ(Err(futex_->WaitRequeuePi(*mm_, UserAddr(cond), kPrivate, 0, UserAddr(cond), kOther, x,
                                      Forever())),
            EINVAL);
  EXPECT_EQ(Err(futex_->WaitRequeuePi(*mm_, UserAddr(cond), kPrivate, 1, UserAddr(lock), kOther, x,
                                      Forever())),
            EAGAIN);
  auto t = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kOther, In(std::chrono::milliseconds(5)));
  EXPECT_EQ(t->Result(), ETIMEDOUT);
  auto i = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kOther);
  ASSERT_TRUE(AwaitWaiters(cond, 1));
  i->waker().Interrupt();
  EXPECT_EQ(i->Result(), kERESTARTNOINTR);
  // Interrupted after the requeue: EAGAIN (a restart would find the word changed).
  Set(lock, kOwner);
  auto r = WaitRequeuePiOn(*futex_, *mm_, cond, 0, lock, kOther);
  ASSERT_TRUE(AwaitWaiters(cond, 1));
  EXPECT_EQ(*futex_->CmpRequeuePi(*mm_, UserAddr(cond), UserAddr(lock), kPrivate, 1, 1, 0), 1);
  ASSERT_TRUE(AwaitWaiters(lock, 1));
  r->waker().Interrupt();
  EXPECT_EQ(r->Result(), EAGAIN);
  EXPECT_EQ(Waiters(lock), 0);
}

// --- Exit: robust lists, PI owners, clear_child_tid ---

// A robust list in guest memory: the head, then entries whose futex word sits
// `kOffset` bytes after the entry.
class RobustListTest : public FutexTest {
 protected:
  static constexpr int64_t kOffset = 16;
  void SetUp() override {
    FutexTest::SetUp();
    mem_ = Map(4 * kPageSize);
    head_ = mem_;
  }
  uint64_t Entry(int i) { return mem_ + 64 + 64 * i; }
  uint64_t Word(int i) { return Entry(i) + kOffset; }
  // head -> entries[0] -> ... -> head; `pi` marks them PI.
  void Link(const std::vector<int>& entries, uint64_t pending = 0, bool pi = false) {
    uint64_t prev = head_;
    for (int i : entries) {
      Put64(prev, Entry(i) | (pi ? 1 : 0));
      prev = Entry(i);
    }
    Put64(prev, head_);
    Put64(head_ + 8, static_cast<uint64_t>(kOffset));
    Put64(head_ + 16, pending);
  }
  uint64_t mem_ = 0, head_ = 0;
};

TEST_F(RobustListTest, MarksTheDeadOwnersFutexesAndWakesOneWaiter) {
  Link({0, 1, 2}, /*pending=*/Entry(3));
  Set(Word(0), kOwner | kWaiters);
  Set(Word(1), kOther);  // someone else's
  Set(Word(2), kOwner);  // ours, nobody waiting
  Set(Word(3), kOwner);  // pending, not yet on the list
  auto w1 = WaitOn(Word(0), kOwner | kWaiters, kShared);
  auto w2 = WaitOn(Word(0), kOwner | kWaiters, kShared);
  ASSERT_TRUE(AwaitWaiters(Word(0), 2, kShared));
  futex_->ExitRobustList(*mm_, kOwner, head_);
  EXPECT_EQ(Get(Word(0)), kWaiters | kOwnerDied);
  EXPECT_EQ(Get(Word(1)), static_cast<uint32_t>(kOther));
  EXPECT_EQ(Get(Word(2)), kOwnerDied);
  EXPECT_EQ(Get(Word(3)), kOwnerDied);
  EXPECT_EQ(Waiters(Word(0), kShared), 1);  // one woken, as Linux
  EXPECT_EQ(*futex_->Wake(*mm_, UserAddr(Word(0)), kShared, INT_MAX, kBitsetMatchAny), 1);
}

TEST_F(RobustListTest, APendingReleasedFutexWakesWithoutMarking) {
  Link({}, /*pending=*/Entry(0));
  Set(Word(0), 0);
  auto w = WaitOn(Word(0), 0, kShared);
  ASSERT_TRUE(AwaitWaiters(Word(0), 1, kShared));
  futex_->ExitRobustList(*mm_, kOwner, head_);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(Word(0)), 0u);
}

TEST_F(RobustListTest, CircularAndBrokenListsEnd) {
  // entry 0 points to itself: the walk stops after ROBUST_LIST_LIMIT entries.
  Put64(head_, Entry(0));
  Put64(Entry(0), Entry(0));
  Put64(head_ + 8, static_cast<uint64_t>(kOffset));
  Put64(head_ + 16, 0);
  Set(Word(0), kOwner);
  futex_->ExitRobustList(*mm_, kOwner, head_);
  EXPECT_EQ(Get(Word(0)), kOwnerDied);
  // An entry pointing at unmapped memory ends the walk quietly.
  Link({1});
  Put64(Entry(1), 0x5000);
  Set(Word(1), kOwner);
  futex_->ExitRobustList(*mm_, kOwner, head_);
  EXPECT_EQ(Get(Word(1)), kOwnerDied);
  futex_->ExitRobustList(*mm_, kOwner, 0x5000);  // an unmapped head
  futex_->ExitRobustList(*mm_, kOwner, 0);       // none
}

TEST_F(RobustListTest, ADeadPiOwnersLockGoesToItsWaiter) {
  Link({0}, 0, /*pi=*/true);
  ASSERT_EQ(Err(futex_->LockPi(*mm_, UserAddr(Word(0)), kPrivate, kOwner, nullptr, Forever())), 0);
  auto w = LockPiOn(Word(0), kOther);
  ASSERT_TRUE(AwaitWaiters(Word(0), 1));
  futex_->ExitThread(*mm_, kOwner, head_, 0);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(Word(0)), kOther | kWaiters | kOwnerDied);
  // The dead owner's TID no longer locks anything.
  SetLive(kOwner, false);
  Set(Word(1), kOwner);
  waiter::Waker x;
  EXPECT_EQ(Err(futex_->LockPi(*mm_, UserAddr(Word(1)), kPrivate, kOther, &x, Forever())), ESRCH);
  futex_->ForgetTid(kOwner);
}

TEST_F(RobustListTest, APiLockNotOnTheListIsHandedOverToo) {
  ASSERT_EQ(Err(futex_->LockPi(*mm_, UserAddr(Word(0)), kPrivate, kOwner, nullptr, Forever())), 0);
  auto w = LockPiOn(Word(0), kOther);
  ASSERT_TRUE(AwaitWaiters(Word(0), 1));
  futex_->ExitThread(*mm_, kOwner, /*robust_list_head=*/0, 0);
  EXPECT_EQ(w->Result(), 0);
  EXPECT_EQ(Get(Word(0)), kOther | kWaiters | kOwnerDied);
}

TEST_F(FutexTest, ClearChildTidStoresZeroAndWakesAJoiner) {
  const uint64_t tid_word = Map();
  Set(tid_word, kOther);
  auto joiner = WaitOn(tid_word, kOther, kShared);
  ASSERT_TRUE(AwaitWaiters(tid_word, 1, kShared));
  futex_->ExitThread(*mm_, kOther, 0, tid_word);
  EXPECT_EQ(joiner->Result(), 0);
  EXPECT_EQ(Get(tid_word), 0u);
}

}  // namespace
}  // namespace sentry::kernel
