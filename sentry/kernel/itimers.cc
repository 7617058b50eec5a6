#include "sentry/kernel/itimers.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kMaxPosixTimers = 65536;

int64_t Remaining(const time::TimerSetting& s, int64_t now) {
  if (s.next_ns == 0) return 0;
  return s.next_ns > now ? s.next_ns - now : 1;  // due: the least nonzero value
}

// What an expiry of `count` periods sends (posix_timer_event, or the
// itimers' SEND_SIG_PRIV signal).
void FireSignalTimer(const std::weak_ptr<SignalTimer>& weak, const std::weak_ptr<ThreadGroup>& tg,
                     uint64_t count) {
  std::shared_ptr<SignalTimer> st = weak.lock();
  std::shared_ptr<ThreadGroup> g = tg.lock();
  if (st == nullptr || g == nullptr || count == 0 || st->notify == SIGEV_NONE) return;
  absl::MutexLock l(&tree_mu);
  if (g->tasks.empty() || g->zombie || g->group_exiting) return;
  if (st->id >= 0 && st->signal_queued.load()) {
    // One signal per timer at a time: later expirations are overruns.
    st->pending_overrun.fetch_add(static_cast<int64_t>(count));
    return;
  }
  siginfo_t info{};
  info.si_signo = st->signo;
  Task* target = g->tasks.front();
  if (st->id < 0) {
    info.si_code = SI_KERNEL;  // it_real_fn, check_cpu_itimer: SEND_SIG_PRIV
  } else {
    info.si_code = SI_TIMER;
    info.si_timerid = st->id;
    info.si_overrun = static_cast<int>(std::min<uint64_t>(count - 1, INT32_MAX));
    info.si_value = st->value;
    if (st->notify == SIGEV_THREAD_ID) {
      target = nullptr;
      for (Task* t : g->tasks) {
        if (t->tid() == st->target_tid) target = t;
      }
      if (target == nullptr) return;  // the thread is gone
    }
    st->signal_queued.store(true);
  }
  [[maybe_unused]] ErrnoOrOk r =
      target->SendSignalLockedPublic(info, /*to_group=*/st->notify != SIGEV_THREAD_ID);
}

// "Now" on the timer's clock (0 for a CPU clock whose owner is gone).
int64_t NowOf(Kernel& k, const SignalTimer& st) {
  if (st.cpu != nullptr) return st.cpu->clock().Now().value_or(0);
  return k.timekeeper().NowNs(st.timer->clock());
}

time::TimerSetting SetOf(SignalTimer& st, const time::TimerSetting& s,
                         const std::function<void()>& before_arm = nullptr) {
  if (st.cpu != nullptr) return st.cpu->Set(s, before_arm);
  return st.timer->Set(s, false, before_arm);
}

time::TimerSetting GetOf(const SignalTimer& st) {
  return st.cpu != nullptr ? st.cpu->Get() : st.timer->Get();
}

}  // namespace

std::shared_ptr<SignalTimer> ProcessTimers::MakeTimer(std::weak_ptr<ThreadGroup> tg,
                                                      clockid_t clock) {
  auto st = std::make_shared<SignalTimer>();
  std::weak_ptr<SignalTimer> weak = st;
  st->timer = kernel_.timers().NewTimer(
      clock, [weak, tg](const time::Expiry& e) { FireSignalTimer(weak, tg, e.count); });
  return st;
}

std::shared_ptr<SignalTimer> ProcessTimers::MakeCpuTimer(std::weak_ptr<ThreadGroup> tg,
                                                         const CpuClock& clock, bool one_period) {
  auto st = std::make_shared<SignalTimer>();
  std::weak_ptr<SignalTimer> weak = st;
  st->cpu = kernel_.cpu_timers().NewTimer(
      clock, [weak, tg](const CpuExpiry& e) { FireSignalTimer(weak, tg, e.count); }, one_period);
  return st;
}

void ProcessTimers::Clear() {
  std::shared_ptr<SignalTimer> real, virt, prof;
  std::shared_ptr<CpuTimer> cpu_limit;
  std::map<int, std::shared_ptr<SignalTimer>> posix;
  {
    absl::MutexLock l(&mu_);
    real = std::move(real_);
    virt = std::move(virt_);
    prof = std::move(prof_);
    cpu_limit = std::move(cpu_limit_);
    posix = std::move(posix_);
    posix_.clear();
  }
  // Destroyed here, outside every lock (a callback may be waiting for tree_mu).
}

void ProcessTimers::SetItimer(int which, std::weak_ptr<ThreadGroup> tg, int64_t value_ns,
                              int64_t interval_ns, int64_t* old_value_ns,
                              int64_t* old_interval_ns) {
  std::shared_ptr<SignalTimer> st;
  {
    absl::MutexLock l(&mu_);
    if (which == ITIMER_REAL) {
      if (real_ == nullptr) real_ = MakeTimer(tg, CLOCK_MONOTONIC);
      st = real_;
    } else {
      // The process's user (VIRT) or user + system (PROF) time; a late check
      // moves the timer on by one period, as check_cpu_itimer.
      const bool virt = which == ITIMER_VIRTUAL;
      std::shared_ptr<SignalTimer>& slot = virt ? virt_ : prof_;
      if (slot == nullptr) {
        CpuClock clock{tg, {}, virt ? kCpuClockVirt : kCpuClockProf};
        slot = MakeCpuTimer(tg, clock, /*one_period=*/true);
        slot->signo = virt ? SIGVTALRM : SIGPROF;
      }
      st = slot;
    }
  }
  const int64_t now = NowOf(kernel_, *st);
  time::TimerSetting s;
  if (value_ns > 0) {
    // set_cpu_itimer adds a tick to a CPU itimer's value.
    s.next_ns = now + value_ns + (which == ITIMER_REAL ? 0 : kCpuTickNs);
    s.interval_ns = interval_ns;
  }
  const time::TimerSetting old = SetOf(*st, s);
  int64_t left = Remaining(old, now);
  // A CPU itimer past its expiry is "just about to fire": a tick.
  if (which != ITIMER_REAL && old.next_ns != 0 && old.next_ns <= now) left = kCpuTickNs;
  if (old_value_ns != nullptr) *old_value_ns = left;
  if (old_interval_ns != nullptr) *old_interval_ns = old.interval_ns;
}

void ProcessTimers::GetItimer(int which, int64_t* value_ns, int64_t* interval_ns) {
  std::shared_ptr<SignalTimer> st;
  {
    absl::MutexLock l(&mu_);
    st = which == ITIMER_REAL ? real_ : which == ITIMER_VIRTUAL ? virt_ : prof_;
  }
  *value_ns = *interval_ns = 0;
  if (st == nullptr) return;
  const time::TimerSetting s = GetOf(*st);
  const int64_t now = NowOf(kernel_, *st);
  *value_ns = Remaining(s, now);
  if (which != ITIMER_REAL && s.next_ns != 0 && s.next_ns <= now) *value_ns = kCpuTickNs;
  *interval_ns = s.interval_ns;
}

ErrnoOr<int> ProcessTimers::Create(std::weak_ptr<ThreadGroup> tg, clockid_t clock,
                                   const std::optional<CpuClock>& cpu, int notify, int signo,
                                   std::optional<sigval> value, pid_t target_tid) {
  std::shared_ptr<SignalTimer> st =
      cpu.has_value() ? MakeCpuTimer(tg, *cpu, /*one_period=*/false) : MakeTimer(tg, clock);
  st->notify = notify;
  st->signo = signo;
  st->target_tid = target_tid;
  absl::MutexLock l(&mu_);
  if (posix_.size() >= kMaxPosixTimers) return Errno(EAGAIN);
  while (posix_.count(next_id_) != 0) next_id_ = next_id_ == INT32_MAX ? 0 : next_id_ + 1;
  st->id = next_id_;
  if (value.has_value()) {
    st->value = *value;
  } else {
    st->value.sival_ptr = nullptr;
    st->value.sival_int = st->id;
  }
  posix_[st->id] = st;
  next_id_ = next_id_ == INT32_MAX ? 0 : next_id_ + 1;
  return st->id;
}

std::shared_ptr<SignalTimer> ProcessTimers::Find(int id) {
  absl::MutexLock l(&mu_);
  auto it = posix_.find(id);
  return it == posix_.end() ? nullptr : it->second;
}

ErrnoOrOk ProcessTimers::Delete(int id) {
  std::shared_ptr<SignalTimer> st;
  {
    absl::MutexLock l(&mu_);
    auto it = posix_.find(id);
    if (it == posix_.end()) return Errno(EINVAL);
    st = std::move(it->second);
    posix_.erase(it);
  }
  return Ok();  // destroyed here, outside the lock
}

ErrnoOrOk ProcessTimers::Set(int id, bool absolute, int64_t value_ns, int64_t interval_ns,
                             int64_t* old_value, int64_t* old_interval) {
  std::shared_ptr<SignalTimer> st = Find(id);
  if (st == nullptr) return Errno(EINVAL);
  const int64_t now = NowOf(kernel_, *st);
  time::TimerSetting s;
  if (value_ns > 0) {
    s.next_ns = absolute ? value_ns : now + value_ns;
    s.interval_ns = interval_ns;
  }
  const time::TimerSetting old = SetOf(*st, s, [&st] {
    st->pending_overrun.store(0);
    st->last_overrun.store(0);
  });
  if (old_value != nullptr) *old_value = Remaining(old, now);
  if (old_interval != nullptr) *old_interval = old.interval_ns;
  return Ok();
}

ErrnoOrOk ProcessTimers::Get(int id, int64_t* value_ns, int64_t* interval_ns) {
  std::shared_ptr<SignalTimer> st = Find(id);
  if (st == nullptr) return Errno(EINVAL);
  const time::TimerSetting s = GetOf(*st);
  *value_ns = Remaining(s, NowOf(kernel_, *st));
  *interval_ns = s.interval_ns;
  return Ok();
}

ErrnoOr<int> ProcessTimers::GetOverrun(int id) {
  std::shared_ptr<SignalTimer> st = Find(id);
  if (st == nullptr) return Errno(EINVAL);
  return st->last_overrun.load();
}

int ProcessTimers::Delivered(int id, int overrun) {
  std::shared_ptr<SignalTimer> st = Find(id);
  if (st == nullptr) return overrun;
  const int64_t total = overrun + st->pending_overrun.exchange(0);
  const int capped = static_cast<int>(std::min<int64_t>(total, INT32_MAX));
  st->last_overrun.store(capped);
  st->signal_queued.store(false);
  return capped;
}

void ProcessTimers::ClearPosix() {
  std::map<int, std::shared_ptr<SignalTimer>> posix;
  {
    absl::MutexLock l(&mu_);
    posix = std::move(posix_);
    posix_.clear();
  }
}

void ProcessTimers::UpdateCpuLimit(std::weak_ptr<ThreadGroup> tg, uint64_t soft_secs) {
  {
    absl::MutexLock l(&mu_);
    if (cpu_limit_ == nullptr) {
      if (soft_secs == RLIM_INFINITY) return;
      cpu_limit_ = kernel_.cpu_timers().NewTimer(
          CpuClock{tg, {}, kCpuClockProf},
          [this, tg](const CpuExpiry& e) { CheckCpuLimit(tg, e.now_ns); });
    }
  }
  ArmCpuLimit(soft_secs);
}

void ProcessTimers::ArmCpuLimit(uint64_t secs) {
  std::shared_ptr<CpuTimer> timer;
  {
    absl::MutexLock l(&mu_);
    timer = cpu_limit_;
  }
  if (timer == nullptr) return;
  time::TimerSetting s;
  if (secs != RLIM_INFINITY) {
    constexpr int64_t kNsPerSec = 1000000000;
    // 0 s is "at once" (any CPU time reaches it): the least deadline.
    s.next_ns = secs >= static_cast<uint64_t>(INT64_MAX / kNsPerSec)
                    ? INT64_MAX
                    : std::max<int64_t>(1, static_cast<int64_t>(secs) * kNsPerSec);
  }
  timer->Set(s);
}

void ProcessTimers::CheckCpuLimit(const std::weak_ptr<ThreadGroup>& tg, int64_t ptime_ns) {
  std::shared_ptr<ThreadGroup> g = tg.lock();
  if (g == nullptr) return;
  constexpr int64_t kNsPerSec = 1000000000;
  auto ns = [](uint64_t secs) {
    return secs >= static_cast<uint64_t>(INT64_MAX / kNsPerSec)
               ? INT64_MAX
               : static_cast<int64_t>(secs) * kNsPerSec;
  };
  uint64_t next = RLIM_INFINITY;
  {
    absl::MutexLock l(&tree_mu);
    if (g->tasks.empty() || g->zombie || g->group_exiting) return;
    rlimit& lim = g->rlimits[RLIMIT_CPU];
    const uint64_t soft = lim.rlim_cur, hard = lim.rlim_max;
    if (soft == RLIM_INFINITY) return;
    siginfo_t info{};
    info.si_code = SI_KERNEL;  // SEND_SIG_PRIV
    // At the hard limit: SIGKILL, and nothing more.
    if (hard != RLIM_INFINITY && ptime_ns >= ns(hard)) {
      info.si_signo = SIGKILL;
      [[maybe_unused]] ErrnoOrOk r = g->tasks.front()->SendSignalLockedPublic(info, true);
      return;
    }
    next = soft;
    if (ptime_ns >= ns(soft)) {
      // At the soft limit: SIGXCPU, and the limit moves on a second.
      info.si_signo = SIGXCPU;
      [[maybe_unused]] ErrnoOrOk r = g->tasks.front()->SendSignalLockedPublic(info, true);
      lim.rlim_cur = soft + 1;
      next = soft + 1;
    }
    if (hard != RLIM_INFINITY) next = std::min<uint64_t>(next, hard);
  }
  ArmCpuLimit(next);
}

}  // namespace sentry::kernel
