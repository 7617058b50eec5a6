#include "sentry/kernel/cpu_timers.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/task.h"
#include "sentry/time/timekeeper.h"

namespace sentry::kernel {

int HostCpus() {
  static const int n = [] {
    int count = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) count = CPU_COUNT(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > count) count = static_cast<int>(online);
    return std::max(count, 1);
  }();
  return n;
}

namespace {

int64_t MonotonicNow() { return time::Timekeeper::Get().NowNs(CLOCK_MONOTONIC); }

int64_t Pick(const ThreadGroup::Usage& u, int which) {
  return which == kCpuClockVirt ? u.user_ns : u.user_ns + u.sys_ns;
}

// The clock's value, and whether it can still advance.
std::optional<int64_t> Sample(const CpuClock& c, bool* live) {
  *live = false;
  if (std::shared_ptr<Task> t = c.task.lock()) {
    *live = !t->dead() && !t->exiting();
    return Pick(t->OwnUsage(), c.which);
  }
  if (std::shared_ptr<ThreadGroup> g = c.group.lock()) {
    return Pick(g->CpuUsage(live), c.which);
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> CpuClock::Now() const {
  bool live;
  return Sample(*this, &live);
}

int CpuClock::MaxRate() const {
  // A thread: its stub thread and its Sentry thread (which may spin waiting
  // for it on systrap).
  return task.expired() ? HostCpus() : std::min(2, HostCpus());
}

bool IsCpuClockId(clockid_t id) {
  return id == CLOCK_PROCESS_CPUTIME_ID || id == CLOCK_THREAD_CPUTIME_ID ||
         (id < 0 && (id & 7) != 3);  // (id & 7) == 3: CLOCKFD
}

ErrnoOr<CpuClock> ResolveCpuClock(Task& caller, clockid_t id, bool gettime) {
  CpuClock c;
  if (id == CLOCK_PROCESS_CPUTIME_ID) {
    c.group = caller.thread_group_ptr();
    return c;
  }
  if (id == CLOCK_THREAD_CPUTIME_ID) {
    c.task = caller.shared_from_this();
    return c;
  }
  if (id >= 0) return Errno(EINVAL);
  c.which = id & 3;
  if (c.which == 3) return Errno(EINVAL);  // CPUCLOCK_MAX
  const bool thread = (id & 4) != 0;
  const pid_t pid = ~(id >> 3);
  if (pid == 0) {
    if (thread) {
      c.task = caller.shared_from_this();
    } else {
      c.group = caller.thread_group_ptr();
    }
    return c;
  }
  absl::MutexLock l(&tree_mu);
  if (thread) {
    // A thread of the caller's own process.
    Task* t = caller.kernel().FindTaskLocked(pid);
    if (t == nullptr || t->tgid() != caller.tgid()) return Errno(EINVAL);
    c.task = t->shared_from_this();
    return c;
  }
  // clock_gettime may name its own process by the caller's tid.
  if (gettime && pid == caller.tid()) {
    c.group = caller.thread_group_ptr();
    return c;
  }
  std::shared_ptr<ThreadGroup> g = caller.kernel().FindThreadGroupPtrLocked(pid);
  if (g == nullptr) return Errno(EINVAL);
  c.group = g;
  return c;
}

// --- CpuTimer ---

CpuTimer::~CpuTimer() { service_.Remove(*this); }

time::TimerSetting CpuTimer::Set(const time::TimerSetting& s,
                                 const std::function<void()>& before_arm) {
  return service_.Set(*this, s, before_arm);
}

time::TimerSetting CpuTimer::Get() const { return service_.Get(*this); }

// --- CpuTimerService ---

CpuTimerService::CpuTimerService(time::TimerService& wall) {
  // Counted now if boot has not yet (before the Sentry's seccomp filter,
  // which forbids what sysconf reads).
  (void)HostCpus();
  poller_ = wall.NewTimer(CLOCK_MONOTONIC, [this](const time::Expiry&) { Poll(); });
}

CpuTimerService::~CpuTimerService() { poller_.reset(); }

std::unique_ptr<CpuTimer> CpuTimerService::NewTimer(CpuClock clock, CpuTimer::Callback cb,
                                                    bool one_period) {
  std::unique_ptr<CpuTimer> t(new CpuTimer(*this, std::move(clock), std::move(cb), one_period));
  absl::MutexLock l(&mu_);
  timers_[t.get()];
  return t;
}

bool CpuTimerService::OnPollThread() const { return poll_thread_ == std::this_thread::get_id(); }

void CpuTimerService::AwaitIdle(const CpuTimer& t) {
  if (OnPollThread()) return;  // a callback (of this timer or another)
  for (;;) {
    auto it = timers_.find(&t);
    if (it == timers_.end() || !it->second.running) return;
    idle_cv_.Wait(&mu_);
  }
}

time::TimerSetting CpuTimerService::Set(CpuTimer& t, const time::TimerSetting& s,
                                        const std::function<void()>& before_arm) {
  time::TimerSetting old;
  bool kick = false;
  {
    absl::MutexLock l(&mu_);
    AwaitIdle(t);
    State& st = timers_[&t];
    old = st.setting;
    st.setting = s;
    st.gen = next_gen_++;
    if (before_arm) before_arm();
    if (s.next_ns != 0) {
      // Sample it soon: a pass works out when it can expire.
      if (OnPollThread()) {
        repoll_ = true;
      } else {
        kick = true;
      }
    }
  }
  // Without mu_ (the poll takes it); waits for a pass in progress.
  if (kick) poller_->Set({MonotonicNow(), 0});
  return old;
}

time::TimerSetting CpuTimerService::Get(const CpuTimer& t) const {
  absl::MutexLock l(&mu_);
  auto it = timers_.find(&t);
  return it == timers_.end() ? time::TimerSetting{} : it->second.setting;
}

void CpuTimerService::Remove(CpuTimer& t) {
  absl::MutexLock l(&mu_);
  AwaitIdle(t);
  timers_.erase(&t);
}

int CpuTimerService::ArmedCountForTest() const {
  absl::MutexLock l(&mu_);
  int n = 0;
  for (const auto& [t, st] : timers_) n += st.setting.next_ns != 0;
  return n;
}

void CpuTimerService::Poll() {
  struct Item {
    CpuTimer* timer;
    uint64_t gen;
    CpuClock clock;
    std::optional<int64_t> now;
    bool live = false;
  };
  std::vector<Item> items;
  {
    absl::MutexLock l(&mu_);
    poll_thread_ = std::this_thread::get_id();
    repoll_ = false;
    for (auto& [t, st] : timers_) {
      if (st.setting.next_ns != 0) {
        items.push_back({const_cast<CpuTimer*>(t), st.gen, t->clock(), std::nullopt});
      }
    }
  }
  // Sample without the lock (a process clock takes tree_mu).
  for (Item& i : items) i.now = Sample(i.clock, &i.live);

  struct Fire {
    CpuTimer* timer;
    CpuExpiry expiry;
  };
  std::vector<Fire> fires;
  int64_t wait = -1;  // -1: nothing to poll for
  {
    absl::MutexLock l(&mu_);
    for (Item& i : items) {
      auto it = timers_.find(i.timer);
      // Gone, or set again meanwhile (that Set polls again).
      if (it == timers_.end() || it->second.gen != i.gen || !i.now.has_value()) continue;
      time::TimerSetting& s = it->second.setting;
      const int64_t now = *i.now;
      if (now >= s.next_ns) {
        uint64_t count = 1;
        if (s.interval_ns > 0) {
          if (!i.timer->one_period_) {
            count += static_cast<uint64_t>((now - s.next_ns) / s.interval_ns);
          }
          const int64_t step = static_cast<int64_t>(std::min<uint64_t>(count, INT64_MAX / 2)) *
                               std::min<int64_t>(s.interval_ns, INT64_MAX / 2);
          s.next_ns = s.next_ns > INT64_MAX - step ? INT64_MAX : s.next_ns + step;
        } else {
          s.next_ns = 0;
        }
        it->second.running = true;
        fires.push_back({i.timer, {count, now}});
      }
      if (s.next_ns == 0 || !i.live) continue;  // done, or a clock that stopped
      const int64_t left = s.next_ns - now;
      int64_t w = left <= 0 ? 0 : left / i.clock.MaxRate();
      w = std::clamp(w, kMinPollNs, kMaxPollNs);
      wait = wait < 0 ? w : std::min(wait, w);
    }
  }
  for (const Fire& f : fires) f.timer->callback_(f.expiry);
  {
    absl::MutexLock l(&mu_);
    for (const Fire& f : fires) {
      auto it = timers_.find(f.timer);
      if (it != timers_.end()) it->second.running = false;
    }
    idle_cv_.SignalAll();
    if (repoll_) wait = 0;
    repoll_ = false;
    poll_thread_ = std::thread::id();
  }
  if (wait >= 0) poller_->Set({MonotonicNow() + wait, 0});
}

}  // namespace sentry::kernel
