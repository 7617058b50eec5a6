#include "sentry/time/timer_service.h"

#include <algorithm>
#include <climits>

#include "sentry/base/log.h"

namespace sentry::time {
namespace {

// The clock a timer's deadline is on, the _ALARM clocks being their bases.
clockid_t BaseClock(clockid_t c) {
  if (c == CLOCK_REALTIME_ALARM) return CLOCK_REALTIME;
  if (c == CLOCK_BOOTTIME_ALARM) return CLOCK_BOOTTIME;
  return c;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// The first expiry of a timer at `next` with period `interval` (> 0) that is
// later than `now`, and how many periods that skips.
int64_t NextAfter(int64_t next, int64_t interval, int64_t now, uint64_t* skipped) {
  const uint64_t n = static_cast<uint64_t>(now - next) / static_cast<uint64_t>(interval) + 1;
  *skipped = n;
  int64_t step;
  if (n > static_cast<uint64_t>(INT64_MAX) ||
      __builtin_mul_overflow(static_cast<int64_t>(n), interval, &step)) {
    return INT64_MAX;
  }
  return SaturatingAdd(next, step);
}

}  // namespace

Timer::Timer(TimerService& service, clockid_t clock, Callback cb)
    : service_(service), clock_(BaseClock(clock)), callback_(std::move(cb)) {}

Timer::~Timer() { service_.Remove(*this); }

TimerSetting Timer::Set(const TimerSetting& s, bool cancel_on_set,
                        const std::function<void()>& before_arm) {
  return service_.Set(*this, s, cancel_on_set, before_arm);
}

TimerSetting Timer::Get() const { return service_.Get(*this); }

TimerService::TimerService(Clocks& clocks) : clocks_(clocks) {
  timekeeper_ = dynamic_cast<Timekeeper*>(&clocks);
  if (timekeeper_ != nullptr) {
    listener_ = timekeeper_->AddClockSetListener([this](clockid_t c) { ClockWasSet(c); });
  }
  thread_ = std::thread([this] { Run(); });
}

TimerService::~TimerService() {
  if (timekeeper_ != nullptr) timekeeper_->RemoveClockSetListener(listener_);
  {
    absl::MutexLock l(&mu_);
    SCHECK_MSG(timers_.empty(), "%d timers outlive their service", timers_.size());
    stop_ = true;
  }
  wake_.Wake();
  thread_.join();
}

std::unique_ptr<Timer> TimerService::NewTimer(clockid_t clock, Timer::Callback callback) {
  std::unique_ptr<Timer> t(new Timer(*this, clock, std::move(callback)));
  absl::MutexLock l(&mu_);
  timers_.emplace(t.get(), State{});
  return t;
}

void TimerService::Remove(Timer& t) {
  absl::MutexLock l(&mu_);
  State& st = timers_.at(&t);
  Dequeue(t, st);
  st.setting = {};
  st.cancel_on_set = st.clock_set_pending = false;
  AwaitIdle(t);
  timers_.erase(&t);
}

TimerSetting TimerService::Set(Timer& t, const TimerSetting& s, bool cancel_on_set,
                               const std::function<void()>& before_arm) {
  absl::MutexLock l(&mu_);
  State* st = &timers_.at(&t);
  const TimerSetting old = CurrentSetting(t, *st);
  Dequeue(t, *st);
  st->setting = {};
  st->clock_set_pending = false;
  // No callback of the old setting may run past here. (The wait releases the
  // lock: look the state up again.)
  AwaitIdle(t);
  st = &timers_.at(&t);
  if (before_arm) before_arm();
  st->setting = s;
  if (st->setting.next_ns < 0) st->setting.next_ns = 0;
  if (st->setting.interval_ns < 0) st->setting.interval_ns = 0;
  st->cancel_on_set = cancel_on_set && t.clock_ == CLOCK_REALTIME;
  if (st->setting.next_ns > 0) Enqueue(t, *st, KeyFor(t, *st));
  return old;
}

TimerSetting TimerService::Get(const Timer& t) const {
  absl::MutexLock l(&mu_);
  return CurrentSetting(t, timers_.at(&t));
}

int64_t TimerService::KeyFor(const Timer& t, const State& st) const {
  const int64_t next = st.setting.next_ns;
  if (t.clock_ == CLOCK_MONOTONIC) return next;
  // NOTE: the offset of REALTIME or BOOTTIME from MONOTONIC changes only when
  // the clock is set (ClockWasSet recomputes the keys); the two reads differ
  // by a few ns, which the thread absorbs by checking the timer's own clock.
  const int64_t offset = clocks_.NowNs(t.clock_) - clocks_.NowNs(CLOCK_MONOTONIC);
  return SaturatingSub(next, offset);
}

void TimerService::Enqueue(Timer& t, State& st, int64_t key) {
  st.key = key;
  st.queued = true;
  auto it = queue_.insert({key, &t}).first;
  // A new earliest deadline: the thread must sleep less.
  if (it == queue_.begin()) wake_.Wake();
}

void TimerService::Dequeue(Timer& t, State& st) {
  if (!st.queued) return;
  queue_.erase({st.key, &t});
  st.queued = false;
}

TimerSetting TimerService::CurrentSetting(const Timer& t, const State& st) const {
  TimerSetting s = st.setting;
  if (s.next_ns == 0) return s;
  const int64_t now = clocks_.NowNs(t.clock_);
  if (s.interval_ns > 0 && s.next_ns <= now) {
    // The callback is late: the next expiry is the first period after now.
    uint64_t skipped;
    s.next_ns = NextAfter(s.next_ns, s.interval_ns, now, &skipped);
  }
  return s;
}

void TimerService::AwaitIdle(const Timer& t) {
  if (std::this_thread::get_id() == thread_.get_id()) return;  // from a callback
  while (timers_.at(&t).running) idle_cv_.Wait(&mu_);
}

void TimerService::ClockWasSet(clockid_t clock) {
  clock = BaseClock(clock);
  if (clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME) return;
  absl::MutexLock l(&mu_);
  for (auto& [t, st] : timers_) {
    if (t->clock_ != clock) continue;
    Timer* timer = const_cast<Timer*>(t);
    if (st.queued) {
      Dequeue(*timer, st);
      Enqueue(*timer, st, KeyFor(*timer, st));
    }
    if (st.cancel_on_set) {
      st.clock_set_pending = true;
      clock_set_pending_ = true;
    }
  }
  wake_.Wake();
}

int TimerService::ArmedCountForTest() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(queue_.size());
}

void TimerService::Run() {
  mu_.Lock();
  while (!stop_) {
    // Clock-set notices first: they are rare, and a read must see them.
    if (clock_set_pending_) {
      Timer* t = nullptr;
      for (auto& [c, st] : timers_) {
        if (st.clock_set_pending) {
          st.clock_set_pending = false;
          st.running = true;
          t = const_cast<Timer*>(c);
          break;
        }
      }
      if (t == nullptr) {
        clock_set_pending_ = false;
        continue;
      }
      mu_.Unlock();
      t->callback_(Expiry{0, true});
      mu_.Lock();
      if (auto it = timers_.find(t); it != timers_.end()) it->second.running = false;
      idle_cv_.SignalAll();
      continue;
    }
    const int64_t now = clocks_.NowNs(CLOCK_MONOTONIC);
    if (!queue_.empty() && queue_.begin()->first <= now) {
      Timer* t = queue_.begin()->second;
      State& st = timers_.at(t);
      Dequeue(*t, st);
      const int64_t clock_now = clocks_.NowNs(t->clock_);
      TimerSetting& s = st.setting;
      if (s.next_ns > clock_now) {
        // Its clock has not got there yet (its offset moved): later.
        Enqueue(*t, st, std::max(KeyFor(*t, st), now + 1));
        continue;
      }
      uint64_t count = 1;
      if (s.interval_ns > 0) {
        s.next_ns = NextAfter(s.next_ns, s.interval_ns, clock_now, &count);
        int64_t key = KeyFor(*t, st);
        if (s.interval_ns < kMinRearmNs) key = std::max(key, SaturatingAdd(now, kMinRearmNs));
        if (s.next_ns != INT64_MAX) Enqueue(*t, st, key);
      } else {
        s.next_ns = 0;
      }
      st.running = true;
      mu_.Unlock();
      t->callback_(Expiry{count, false});
      mu_.Lock();
      // The timer lives on (its destructor waits for this, unless called
      // from the callback itself, which is not allowed).
      if (auto it = timers_.find(t); it != timers_.end()) it->second.running = false;
      idle_cv_.SignalAll();
      continue;
    }
    // Sleep until the earliest deadline (on the host's monotonic clock, which
    // the guest's tracks: a wake that comes early just loops).
    const bool forever = queue_.empty();
    const int64_t wait = forever ? 0 : queue_.begin()->first - now;
    mu_.Unlock();
    if (forever) {
      (void)wake_.Block(CLOCK_MONOTONIC, nullptr);
    } else {
      timespec host_now;
      clock_gettime(CLOCK_MONOTONIC, &host_now);
      const timespec deadline = NsToTimespec(SaturatingAdd(TimespecToNs(host_now), wait));
      (void)wake_.Block(CLOCK_MONOTONIC, &deadline);
    }
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace sentry::time
