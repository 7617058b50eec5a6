// The Sentry's clocks (README.md): CLOCK_REALTIME, MONOTONIC, BOOTTIME,
// MONOTONIC_RAW and TAI, computed from the TSC with parameters that a
// Timekeeper thread recalibrates against the host's clocks about once a second
// and publishes in the vvar page every vDSO reads (sentry/arch/vdso/vvar.h).
// The Sentry's own clock_gettime computes from the same parameters with the
// same code, so the vDSO and the syscall agree, and MONOTONIC never goes
// backwards from one to the other.
//
// Lock order: Timekeeper::mu_ is a leaf (clock-set listeners are called
// without it).
#ifndef SENTRY_TIME_TIMEKEEPER_H_
#define SENTRY_TIME_TIMEKEEPER_H_

#include <time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/arch/vdso/vvar.h"

namespace sentry::time {

inline constexpr int64_t kNsPerSec = 1000000000;

// ns <-> timespec (ns >= 0; a negative ns gives a negative tv_sec and a
// tv_nsec in [0, 1e9), as Linux's ns_to_timespec64).
timespec NsToTimespec(int64_t ns);
// Saturates at INT64_MAX ("never").
int64_t TimespecToNs(const timespec& ts);

// Where time comes from: the Timekeeper, or a test's fake.
class Clocks {
 public:
  virtual ~Clocks() = default;
  // ns on `clock`: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, their
  // _ALARM and _COARSE variants, CLOCK_MONOTONIC_RAW and CLOCK_TAI. Other
  // clocks are the caller's to handle (CPU clocks): -1.
  virtual int64_t NowNs(clockid_t clock) const = 0;
};

class Timekeeper : public Clocks {
 public:
  struct Options {
    // How often the parameters are recalibrated (after two quick first
    // rounds: the first measures the TSC's rate over 20 ms, the second over
    // 200 ms).
    int64_t interval_ns = kNsPerSec;
    // Recalibrate on a thread of our own; false: only when Update is called.
    bool start_thread = true;
    // Use the TSC when the CPU has an invariant one; false: every read asks
    // the host (and the vDSO makes the syscall).
    bool use_tsc = true;
  };

  explicit Timekeeper(const Options& options);
  ~Timekeeper() override;
  Timekeeper(const Timekeeper&) = delete;
  Timekeeper& operator=(const Timekeeper&) = delete;

  // The Sentry's timekeeper: started on first use, never destroyed.
  static Timekeeper& Get();

  int64_t NowNs(clockid_t clock) const override;
  timespec Now(clockid_t clock) const { return NsToTimespec(NowNs(clock)); }

  // Whether the clocks come from the TSC now (else from the host directly).
  bool UsesTsc() const;

  // Keeps `*v` a copy of the time parameters until RemoveMirror: every
  // update writes all copies in one sequence window. The other fields of `*v`
  // (coarse_res_ns, num_cpus) are its owner's, set before this call.
  void AddMirror(sandbox_vvar* v);
  void RemoveMirror(sandbox_vvar* v);

  // Calls `fn(clock)` (on the updating thread, no lock held) when
  // CLOCK_REALTIME or CLOCK_BOOTTIME jumps against CLOCK_MONOTONIC: the host's
  // wall clock was set, or the host resumed from suspend. Returns an id for
  // RemoveClockSetListener.
  int AddClockSetListener(std::function<void(clockid_t)> fn);
  void RemoveClockSetListener(int id);

  // Recalibrates now (the thread does it every interval).
  void Update();

  // For tests: makes the next Update see CLOCK_REALTIME `ns` further from
  // MONOTONIC than the host says (as if the host's clock had been set).
  void AdjustRealtimeForTest(int64_t ns);

  // The current parameters, for tests.
  sandbox_vvar ParamsForTest() const;

  // CLOCK_MONOTONIC_COARSE's resolution on the host (what the _COARSE clocks
  // report from clock_getres).
  static int64_t CoarseResolutionNs();

 private:
  // One host clock's calibration state: the last sample (TSC, host ns) and
  // the TSC rate measured between the last two.
  struct Track {
    uint64_t tsc = 0;
    int64_t host_ns = 0;
    uint64_t host_mult = 0;  // host ns per TSC cycle << 32 (0: not measured yet)
    bool sampled = false;
  };
  // A bracketed sample of `clock`: the TSC at which the host read `*ns`.
  static bool Sample(clockid_t clock, uint64_t* tsc, int64_t* ns);
  // The offset of `clock` from CLOCK_MONOTONIC on the host.
  static bool SampleOffset(clockid_t clock, int64_t* offset);
  // Folds a new sample into `track`; false when the TSC misbehaved.
  bool Measure(Track& track, uint64_t tsc, int64_t host_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // New (base, mult) for one clock at `tsc`: continuous with the old ones
  // (or a jump forward if they fell behind the host) and aiming at the host
  // plus kLeadNs one interval from now.
  void Retarget(const Track& track, uint64_t tsc, bool was_tsc, uint64_t old_base_tsc,
                int64_t old_base, uint64_t old_mult, int64_t* base, uint64_t* mult) const;
  void Run();

  const Options options_;
  const bool tsc_usable_;

  mutable absl::Mutex mu_;
  // The Sentry's own copy, read without the lock (seqlock).
  sandbox_vvar params_{};
  std::vector<sandbox_vvar*> mirrors_ ABSL_GUARDED_BY(mu_);
  Track mono_ ABSL_GUARDED_BY(mu_);
  Track raw_ ABSL_GUARDED_BY(mu_);
  int updates_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t realtime_adjust_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::function<void(clockid_t)>> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar stop_cv_;
  std::thread thread_;
};

}  // namespace sentry::time

#endif  // SENTRY_TIME_TIMEKEEPER_H_
