#include "sentry/kernel/itimers.h"

#include <vector>

#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kMaxPosixTimers = 65536;

int64_t Remaining(const time::TimerSetting& s, int64_t now) {
  if (s.next_ns == 0) return 0;
  return s.next_ns > now ? s.next_ns - now : 1;  // due: the least nonzero value
}

}  // namespace

std::shared_ptr<SignalTimer> ProcessTimers::MakeTimer(std::weak_ptr<ThreadGroup> tg,
                                                      clockid_t clock) {
  auto st = std::make_shared<SignalTimer>();
  std::weak_ptr<SignalTimer> weak = st;
  st->timer = kernel_.timers().NewTimer(clock, [weak, tg](const time::Expiry& e) {
    std::shared_ptr<SignalTimer> st = weak.lock();
    std::shared_ptr<ThreadGroup> g = tg.lock();
    if (st == nullptr || g == nullptr || e.count == 0 || st->notify == SIGEV_NONE) return;
    absl::MutexLock l(&tree_mu);
    if (g->tasks.empty() || g->zombie || g->group_exiting) return;
    if (st->id >= 0 && st->signal_queued.load()) {
      // One signal per timer at a time: later expirations are overruns.
      st->pending_overrun.fetch_add(static_cast<int64_t>(e.count));
      return;
    }
    siginfo_t info{};
    info.si_signo = st->signo;
    Task* target = g->tasks.front();
    if (st->id < 0) {
      info.si_code = SI_KERNEL;  // it_real_fn: SEND_SIG_PRIV
    } else {
      info.si_code = SI_TIMER;
      info.si_timerid = st->id;
      info.si_overrun = static_cast<int>(std::min<uint64_t>(e.count - 1, INT32_MAX));
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
  });
  return st;
}

void ProcessTimers::Clear() {
  std::shared_ptr<SignalTimer> real;
  std::map<int, std::shared_ptr<SignalTimer>> posix;
  {
    absl::MutexLock l(&mu_);
    real = std::move(real_);
    posix = std::move(posix_);
    posix_.clear();
  }
  // Destroyed here, outside every lock (a callback may be waiting for tree_mu).
}

void ProcessTimers::SetReal(std::weak_ptr<ThreadGroup> tg, int64_t value_ns, int64_t interval_ns,
                            int64_t* old_value_ns, int64_t* old_interval_ns) {
  std::shared_ptr<SignalTimer> st;
  {
    absl::MutexLock l(&mu_);
    if (real_ == nullptr) real_ = MakeTimer(tg, CLOCK_MONOTONIC);
    st = real_;
  }
  const int64_t now = kernel_.timekeeper().NowNs(CLOCK_MONOTONIC);
  time::TimerSetting s;
  if (value_ns > 0) {
    s.next_ns = now + value_ns;
    s.interval_ns = interval_ns;
  }
  const time::TimerSetting old = st->timer->Set(s);
  if (old_value_ns != nullptr) *old_value_ns = Remaining(old, now);
  if (old_interval_ns != nullptr) *old_interval_ns = old.interval_ns;
}

void ProcessTimers::GetReal(int64_t* value_ns, int64_t* interval_ns) {
  std::shared_ptr<SignalTimer> st;
  {
    absl::MutexLock l(&mu_);
    st = real_;
  }
  *value_ns = *interval_ns = 0;
  if (st == nullptr) return;
  const time::TimerSetting s = st->timer->Get();
  *value_ns = Remaining(s, kernel_.timekeeper().NowNs(CLOCK_MONOTONIC));
  *interval_ns = s.interval_ns;
}

ErrnoOr<int> ProcessTimers::Create(std::weak_ptr<ThreadGroup> tg, clockid_t clock, int notify,
                                   int signo, std::optional<sigval> value, pid_t target_tid) {
  std::shared_ptr<SignalTimer> st = MakeTimer(tg, clock);
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
  const clockid_t clock = st->timer->clock();
  const int64_t now = kernel_.timekeeper().NowNs(clock);
  time::TimerSetting s;
  if (value_ns > 0) {
    s.next_ns = absolute ? value_ns : now + value_ns;
    s.interval_ns = interval_ns;
  }
  const time::TimerSetting old = st->timer->Set(s, false, [&st] {
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
  const time::TimerSetting s = st->timer->Get();
  *value_ns = Remaining(s, kernel_.timekeeper().NowNs(st->timer->clock()));
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

}  // namespace sentry::kernel
