#include "sentry/time/timekeeper.h"

#include <cpuid.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <utility>

#include "absl/time/time.h"
#include "sentry/base/log.h"

namespace sentry::time {
namespace {

// How far ahead of the host's clocks the Sentry aims its own. Ahead, never
// behind: what the Sentry times with the host's clocks (a sleep's deadline, a
// file's timestamp) is then never later than the guest's clock says.
// Smaller than any syscall's round trip, so that no guest can see it.
constexpr int64_t kLeadNs = 5000;
// The most the rate is bent to converge on the host (500 ppm, NTP's limit).
constexpr int64_t kMaxSlewPpm = 500;
// An offset between two host clocks that moves more than this was set.
constexpr int64_t kStepNs = 10000;
// The first rounds, measuring the TSC's rate over longer and longer spans.
constexpr int64_t kFirstDelaysNs[] = {2000000, 20000000, 200000000};
constexpr int kSampleTries = 7;

int64_t HostNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return TimespecToNs(ts);
}

// CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate in every
// power state (Linux's constant_tsc + nonstop_tsc).
bool HasInvariantTsc() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) || eax < 0x80000007) return false;
  if (!__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx)) return false;
  return (edx >> 8) & 1;
}

// The fields the Timekeeper owns, written relaxed inside the sequence window.
struct TimeFields {
  uint32_t mode;
  uint64_t base_tsc;
  int64_t mono_base_ns;
  uint64_t mono_mult;
  int64_t raw_base_ns;
  uint64_t raw_mult;
  int64_t realtime_offset_ns;
  int64_t boottime_offset_ns;
  int64_t tai_offset_ns;
};

template <typename T>
void Store(T& field, T v) {
  __atomic_store_n(&field, v, __ATOMIC_RELAXED);
}

void StoreFields(sandbox_vvar* v, const TimeFields& f) {
  Store(v->mode, f.mode);
  Store(v->base_tsc, f.base_tsc);
  Store(v->mono_base_ns, f.mono_base_ns);
  Store(v->mono_mult, f.mono_mult);
  Store(v->raw_base_ns, f.raw_base_ns);
  Store(v->raw_mult, f.raw_mult);
  Store(v->realtime_offset_ns, f.realtime_offset_ns);
  Store(v->boottime_offset_ns, f.boottime_offset_ns);
  Store(v->tai_offset_ns, f.tai_offset_ns);
}

TimeFields LoadFields(const sandbox_vvar& v) {
  return {v.mode,     v.base_tsc,           v.mono_base_ns,       v.mono_mult,    v.raw_base_ns,
          v.raw_mult, v.realtime_offset_ns, v.boottime_offset_ns, v.tai_offset_ns};
}

// Opens the write window on every copy: `seq` odd, then a full fence, so that
// a reader that still sees the even `seq` read its TSC before ours.
void BeginWrite(const std::vector<sandbox_vvar*>& copies) {
  for (sandbox_vvar* v : copies) Store(v->seq, v->seq + 1);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void EndWrite(const std::vector<sandbox_vvar*>& copies) {
  for (sandbox_vvar* v : copies) __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELEASE);
}

}  // namespace

timespec NsToTimespec(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)};
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += kNsPerSec;
    ts.tv_sec--;
  }
  return ts;
}

int64_t TimespecToNs(const timespec& ts) {
  constexpr int64_t kMaxSec = INT64_MAX / kNsPerSec - 1;
  if (ts.tv_sec > kMaxSec) return INT64_MAX;
  if (ts.tv_sec < -kMaxSec) return INT64_MIN;
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

Timekeeper::Timekeeper(const Options& options)
    : options_(options), tsc_usable_(options.use_tsc && HasInvariantTsc()) {
  params_.mode = SANDBOX_VVAR_MODE_SYSCALL;
  params_.coarse_res_ns = CoarseResolutionNs();
  Update();
  if (options_.start_thread) thread_ = std::thread([this] { Run(); });
}

Timekeeper::~Timekeeper() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

Timekeeper& Timekeeper::Get() {
  static Timekeeper* const tk = new Timekeeper(Options{});
  return *tk;
}

int64_t Timekeeper::CoarseResolutionNs() {
  timespec res{0, 4000000};
  clock_getres(CLOCK_MONOTONIC_COARSE, &res);
  return TimespecToNs(res);
}

int64_t Timekeeper::NowNs(clockid_t clock) const {
  if (clock == CLOCK_REALTIME_ALARM) clock = CLOCK_REALTIME;
  if (clock == CLOCK_BOOTTIME_ALARM) clock = CLOCK_BOOTTIME;
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      break;
    default:
      return -1;
  }
  int64_t ns;
  if (sandbox_vvar_clock_ns(&params_, clock, &ns) == 0) return ns;
  // No parameters (yet): the host's own clock, as the vDSO's syscall gets.
  return HostNs(clock);
}

bool Timekeeper::UsesTsc() const {
  return __atomic_load_n(&params_.mode, __ATOMIC_ACQUIRE) == SANDBOX_VVAR_MODE_TSC;
}

void Timekeeper::AddMirror(sandbox_vvar* v) {
  absl::MutexLock l(&mu_);
  BeginWrite({v});
  StoreFields(v, LoadFields(params_));
  EndWrite({v});
  mirrors_.push_back(v);
}

void Timekeeper::RemoveMirror(sandbox_vvar* v) {
  absl::MutexLock l(&mu_);
  mirrors_.erase(std::remove(mirrors_.begin(), mirrors_.end(), v), mirrors_.end());
}

int Timekeeper::AddClockSetListener(std::function<void(clockid_t)> fn) {
  absl::MutexLock l(&mu_);
  const int id = next_listener_++;
  listeners_.emplace(id, std::move(fn));
  return id;
}

void Timekeeper::RemoveClockSetListener(int id) {
  absl::MutexLock l(&mu_);
  listeners_.erase(id);
}

void Timekeeper::AdjustRealtimeForTest(int64_t ns) {
  absl::MutexLock l(&mu_);
  realtime_adjust_ns_ += ns;
}

sandbox_vvar Timekeeper::ParamsForTest() const {
  absl::MutexLock l(&mu_);
  return params_;
}

bool Timekeeper::Sample(clockid_t clock, uint64_t* tsc, int64_t* ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < kSampleTries; ++i) {
    const uint64_t t1 = sandbox_rdtsc_ordered();
    const int64_t n = HostNs(clock);
    const uint64_t t2 = sandbox_rdtsc_ordered();
    if (t2 < t1) continue;
    if (t2 - t1 < best) {
      best = t2 - t1;
      *tsc = t1 + (t2 - t1) / 2;
      *ns = n;
    }
  }
  return best != UINT64_MAX;
}

bool Timekeeper::SampleOffset(clockid_t clock, int64_t* offset) {
  int64_t best = INT64_MAX;
  for (int i = 0; i < kSampleTries; ++i) {
    const int64_t m1 = HostNs(CLOCK_MONOTONIC);
    const int64_t c = HostNs(clock);
    const int64_t m2 = HostNs(CLOCK_MONOTONIC);
    if (m2 - m1 < best) {
      best = m2 - m1;
      *offset = c - (m1 + (m2 - m1) / 2);
    }
  }
  // A sample the host interrupted (a preemption between the reads) is
  // too blurred to tell a set clock from noise.
  return best < kStepNs / 2;
}

bool Timekeeper::Measure(Track& track, uint64_t tsc, int64_t host_ns) {
  if (!track.sampled) {
    track = {tsc, host_ns, 0, true};
    return true;
  }
  if (tsc <= track.tsc || host_ns <= track.host_ns) {
    SLOG(kWarning, "timekeeper: the TSC or the host clock went backwards; keeping the old rate");
    return false;
  }
  const uint64_t dt = tsc - track.tsc;
  const uint64_t dn = static_cast<uint64_t>(host_ns - track.host_ns);
  const uint64_t mult = static_cast<uint64_t>((static_cast<unsigned __int128>(dn) << 32) / dt);
  if (track.host_mult != 0) {
    const uint64_t diff = mult > track.host_mult ? mult - track.host_mult : track.host_mult - mult;
    if (diff > track.host_mult / 100) {
      // A TSC whose rate moves by 1% is not a clock (a migration to another
      // host, a broken hypervisor): keep the old rate and look again.
      SLOG(kWarning, "timekeeper: the TSC's rate moved by more than 1%%; keeping the old rate");
      track.tsc = tsc;
      track.host_ns = host_ns;
      return false;
    }
  }
  track = {tsc, host_ns, mult, true};
  return true;
}

void Timekeeper::Retarget(const Track& track, uint64_t tsc, bool was_tsc, uint64_t old_base_tsc,
                          int64_t old_base, uint64_t old_mult, int64_t* base,
                          uint64_t* mult) const {
  const uint64_t f = track.host_mult;
  const int64_t host_now = sandbox_vvar_scale(tsc, track.tsc, track.host_ns, f);
  const int64_t target_now = host_now + kLeadNs;
  if (!was_tsc) {
    // Until now every read was the host's, which is behind target_now.
    *base = target_now;
  } else {
    const int64_t old_now = sandbox_vvar_scale(tsc, old_base_tsc, old_base, old_mult);
    // Never back; forward at once if the old rate let the clock fall behind
    // the host's.
    *base = old_now < host_now ? target_now : old_now;
  }
  // Gain (or lose) target_now - base over the next interval, at most
  // kMaxSlewPpm of it.
  const int64_t max_slew = options_.interval_ns / 1000000 * kMaxSlewPpm;
  const int64_t correction = std::clamp(target_now - *base, -max_slew, max_slew);
  const unsigned __int128 interval_cycles =
      (static_cast<unsigned __int128>(options_.interval_ns) << 32) / f;
  const __int128 adjust =
      (static_cast<__int128>(correction) << 32) / static_cast<__int128>(interval_cycles);
  *mult = static_cast<uint64_t>(static_cast<__int128>(f) + adjust);
}

void Timekeeper::Update() {
  uint64_t mono_tsc = 0, raw_tsc = 0;
  int64_t mono_ns = 0, raw_ns = 0, real_off = 0, boot_off = 0;
  const bool sampled = Sample(CLOCK_MONOTONIC, &mono_tsc, &mono_ns) &&
                       Sample(CLOCK_MONOTONIC_RAW, &raw_tsc, &raw_ns);
  const bool real_ok = SampleOffset(CLOCK_REALTIME, &real_off);
  const bool boot_ok = SampleOffset(CLOCK_BOOTTIME, &boot_off);
  // TAI - UTC is a whole number of seconds (0 until NTP sets it).
  const int64_t tai_diff = HostNs(CLOCK_TAI) - HostNs(CLOCK_REALTIME);
  const int64_t tai_off =
      (tai_diff + (tai_diff >= 0 ? kNsPerSec / 2 : -kNsPerSec / 2)) / kNsPerSec * kNsPerSec;

  std::vector<clockid_t> set;
  std::vector<std::function<void(clockid_t)>> listeners;
  {
    absl::MutexLock l(&mu_);
    const bool first = updates_++ == 0;
    bool measured = sampled;
    if (measured) measured = Measure(mono_, mono_tsc, mono_ns);
    if (measured) measured = Measure(raw_, raw_tsc, raw_ns);
    TimeFields f = LoadFields(params_);
    const bool was_tsc = f.mode == SANDBOX_VVAR_MODE_TSC;
    real_off += realtime_adjust_ns_;
    if (first) {
      f.realtime_offset_ns = real_off;
      f.boottime_offset_ns = boot_off;
    } else {
      if (real_ok && std::abs(real_off - f.realtime_offset_ns) > kStepNs) {
        f.realtime_offset_ns = real_off;
        set.push_back(CLOCK_REALTIME);
      }
      if (boot_ok && std::abs(boot_off - f.boottime_offset_ns) > kStepNs) {
        f.boottime_offset_ns = boot_off;
        set.push_back(CLOCK_BOOTTIME);
      }
    }
    if (f.tai_offset_ns != tai_off && !first) set.push_back(CLOCK_TAI);
    f.tai_offset_ns = tai_off;
    const bool go_tsc = tsc_usable_ && mono_.host_mult != 0 && raw_.host_mult != 0;

    std::vector<sandbox_vvar*> copies = mirrors_;
    copies.push_back(&params_);
    BeginWrite(copies);
    if (go_tsc && (measured || !was_tsc)) {
      // Inside the window: every reader of the old parameters read its TSC
      // before this.
      const uint64_t tsc = sandbox_rdtsc_ordered();
      Retarget(mono_, tsc, was_tsc, f.base_tsc, f.mono_base_ns, f.mono_mult, &f.mono_base_ns,
               &f.mono_mult);
      Retarget(raw_, tsc, was_tsc, f.base_tsc, f.raw_base_ns, f.raw_mult, &f.raw_base_ns,
               &f.raw_mult);
      f.base_tsc = tsc;
      f.mode = SANDBOX_VVAR_MODE_TSC;
    }
    for (sandbox_vvar* v : copies) StoreFields(v, f);
    EndWrite(copies);
    if (!set.empty()) {
      for (auto& [id, fn] : listeners_) listeners.push_back(fn);
    }
  }
  for (clockid_t c : set) {
    SLOG(kInfo, "timekeeper: clock %d was set on the host", c);
    for (auto& fn : listeners) fn(c);
  }
}

void Timekeeper::Run() {
  for (size_t round = 0;; ++round) {
    const int64_t delay =
        round < std::size(kFirstDelaysNs) ? kFirstDelaysNs[round] : options_.interval_ns;
    {
      absl::MutexLock l(&mu_);
      if (stop_) return;
      stop_cv_.WaitWithTimeout(&mu_, absl::Nanoseconds(delay));
      if (stop_) return;
    }
    Update();
  }
}

}  // namespace sentry::time
