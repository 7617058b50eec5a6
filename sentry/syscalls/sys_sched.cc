// Scheduling: sched_yield, affinity, policies and priorities, nice values,
// getcpu.
// The policy, priority, nice value and affinity are recorded with Linux's
// checks and reported back; the guest's threads run however the host
// schedules the platform's stub.
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

constexpr int kSchedDeadline = 6;
constexpr int kSetparamPolicy = -1;  // sched_setparam: keep the policy
constexpr int kMaxRtPrio = 100;      // MAX_RT_PRIO: RT priorities are 1..99
constexpr int kMinNice = -20, kMaxNice = 19;

bool IsRtPolicy(int p) { return p == SCHED_FIFO || p == SCHED_RR; }

// The policies Linux 6.1 knows (no SCHED_EXT).
bool ValidPolicy(int p) {
  return p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE || IsRtPolicy(p) ||
         p == kSchedDeadline;
}

// find_process_by_pid: 0 is the caller, any other id that thread (any
// thread of any process); `fn` runs on it, ESRCH when there is none.
template <typename F>
SyscallResult OnThread(Task& t, pid_t pid, F&& fn) {
  if (pid == 0 || pid == t.tid()) return fn(t);
  SyscallResult r = Errno(ESRCH);
  t.kernel().WithTask(pid, [&](Task& target) { r = fn(target); });
  return r;
}

// check_same_owner: the caller's euid is the target's euid or uid.
bool SameOwner(Task& t, Task& target) {
  if (&t == &target) return true;
  const std::shared_ptr<const kernel::Credentials> p = target.creds_snapshot();
  return t.creds().euid == p->euid || t.creds().euid == p->ruid;
}

// is_nice_reduction: the target's RLIMIT_NICE allows nice value `nice`
// (limit 20 - nice).
bool NiceAllowed(Task& target, int nice) {
  return static_cast<uint64_t>(20 - nice) <= target.rlimit_of(RLIMIT_NICE).rlim_cur;
}

// The size of Linux's cpumask for the sandbox's CPUs (CPUMASK_OFFSTACK:
// BITS_TO_LONGS(nr_cpu_ids) longs).
size_t CpumaskBytes(Task& t) {
  return static_cast<size_t>((std::max(1, t.kernel().config().num_cpus) + 63) / 64) *
         sizeof(uint64_t);
}

// user_check_sched_setscheduler: what a caller without CAP_SYS_NICE may do
// to `target`, whose attributes are `cur`, for `policy` with `prio` and
// (a fair policy) `nice`; `same_owner` is SameOwner(t, target), taken before
// the target's sched_mu (its credentials have a lock of their own).
ErrnoOrOk CheckUnprivilegedSchedChange(Task& t, Task& target, bool same_owner,
                                       const Task::SchedAttr& cur, int policy, int prio, int nice,
                                       bool reset_on_fork) {
  if (t.creds().HasCapability(CAP_SYS_NICE)) return Ok();
  const bool fair = !IsRtPolicy(policy) && policy != kSchedDeadline;
  if (fair && nice < cur.nice && !NiceAllowed(target, nice)) return Errno(EPERM);
  if (IsRtPolicy(policy)) {
    const uint64_t rlim = target.rlimit_of(RLIMIT_RTPRIO).rlim_cur;
    if (policy != cur.policy && rlim == 0) return Errno(EPERM);
    if (prio > cur.rt_priority && static_cast<uint64_t>(prio) > rlim) return Errno(EPERM);
  }
  if (policy == kSchedDeadline) return Errno(EPERM);
  // Leaving SCHED_IDLE needs what lowering the nice value needs.
  if (cur.policy == SCHED_IDLE && policy != SCHED_IDLE && !NiceAllowed(target, cur.nice)) {
    return Errno(EPERM);
  }
  // Another user's thread.
  if (!same_owner) return Errno(EPERM);
  if (cur.reset_on_fork && !reset_on_fork) return Errno(EPERM);
  return Ok();
}

// do_sched_setscheduler: sched_setscheduler and sched_setparam.
SyscallResult SetScheduler(Task& t, pid_t pid, int policy, UserAddr param) {
  if (param.IsNull() || pid < 0) return Errno(EINVAL);
  int32_t prio;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int32_t>(param), &prio));
  return OnThread(t, pid, [&](Task& target) -> SyscallResult {
    const bool same_owner = SameOwner(t, target);
    absl::MutexLock l(&target.sched_mu);
    Task::SchedAttr& cur = target.sched;
    int pol = policy;
    bool reset_on_fork;
    if (pol == kSetparamPolicy) {
      pol = cur.policy;
      reset_on_fork = cur.reset_on_fork;
    } else {
      reset_on_fork = (pol & SCHED_RESET_ON_FORK) != 0;
      pol &= ~SCHED_RESET_ON_FORK;
      if (!ValidPolicy(pol)) return Errno(EINVAL);
    }
    // The priority is unsigned in Linux's sched_attr: a negative one is too big.
    if (static_cast<uint32_t>(prio) > kMaxRtPrio - 1) return Errno(EINVAL);
    // SCHED_DEADLINE needs sched_setattr's runtime, deadline and period.
    if (pol == kSchedDeadline) return Errno(EINVAL);
    if (IsRtPolicy(pol) != (prio != 0)) return Errno(EINVAL);
    RETURN_IF_ERROR(CheckUnprivilegedSchedChange(t, target, same_owner, cur, pol, prio, cur.nice,
                                                 reset_on_fork));
    cur.policy = pol;
    cur.rt_priority = prio;
    cur.reset_on_fork = reset_on_fork;
    return 0;
  });
}

// struct sched_attr (include/uapi/linux/sched/types.h): SCHED_ATTR_SIZE_VER0
// is 48 bytes (up to sched_period), VER1 56 (the utilization clamps).
struct SchedAttrAbi {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
static_assert(sizeof(SchedAttrAbi) == 56);
constexpr uint32_t kSchedAttrSizeVer0 = 48;
constexpr uint64_t kSchedFlagResetOnFork = 0x01;
constexpr uint64_t kSchedFlagReclaim = 0x02;
constexpr uint64_t kSchedFlagDlOverrun = 0x04;
constexpr uint64_t kSchedFlagKeepPolicy = 0x08;
constexpr uint64_t kSchedFlagKeepParams = 0x10;
constexpr uint64_t kSchedFlagUtilClampMin = 0x20;
constexpr uint64_t kSchedFlagUtilClampMax = 0x40;
constexpr uint64_t kSchedFlagAll = 0x7f;
constexpr uint64_t kSchedFlagSugov = 0x10000000;
constexpr uint64_t kSchedCapacityScale = 1024;  // the utilization clamps' range

// __checkparam_dl: a deadline task's runtime, deadline and period (ns).
bool DeadlineParamsValid(const SchedAttrAbi& a) {
  constexpr uint64_t kDlScale = 10;  // runtime and deadline at least 1 << 10 ns
  if (a.sched_deadline == 0) return false;
  if (a.sched_runtime < (uint64_t{1} << kDlScale)) return false;
  // Both must fit in 63 bits once rounded to the scale.
  if ((a.sched_deadline & (uint64_t{1} << 63)) || (a.sched_period & (uint64_t{1} << 63))) {
    return false;
  }
  const uint64_t period = a.sched_period != 0 ? a.sched_period : a.sched_deadline;
  if (period < a.sched_deadline || a.sched_deadline < a.sched_runtime) return false;
  // sysctl_sched_dl_period_max (4 s) and _min (100 us), in ns.
  return period <= uint64_t{4000000000} && period >= uint64_t{100000};
}

SyscallResult SetAttr(Task& t, Task& target, SchedAttrAbi attr);

// The task(s) `which`/`who` name for getpriority and setpriority, for
// PRIO_PGRP and PRIO_USER: the caller or nobody.
ErrnoOr<bool> PrioritySelectsSelf(Task& t, int which, int who) {
  switch (which) {
    case PRIO_PGRP:
      return who == 0 || who == t.pgid();
    case PRIO_USER:
      // Tasks whose real uid is `who` (0: the caller's).
      return who == 0 || static_cast<uint32_t>(who) == t.creds().ruid;
    default:
      return Errno(EINVAL);
  }
}

}  // namespace

SyscallResult SchedYield(Task&, const SyscallArgs&) {
  sched_yield();
  return 0;
}

SyscallResult SchedGetaffinity(Task& t, const SyscallArgs& a) {
  // Linux checks the length (an unsigned int, its bit count computed in 32
  // bits) before it looks the thread up.
  const uint32_t len = a.Uint(1);
  const uint32_t ncpu = static_cast<uint32_t>(t.kernel().config().num_cpus);
  if (static_cast<uint32_t>(len * 8u) < ncpu || (len & 7) != 0) return Errno(EINVAL);
  std::vector<uint64_t> mask;
  RETURN_IF_ERROR(OnThread(t, a.Int(0), [&](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    mask = target.cpu_affinity;
    return 0;
  }));
  const size_t n = std::min<size_t>(len, CpumaskBytes(t));
  auto r = t.mm().CopyOut(a.Addr(2), {reinterpret_cast<const uint8_t*>(mask.data()), n});
  if (!r.ok()) return Errno(EFAULT);
  return n;
}

SyscallResult SchedSetaffinity(Task& t, const SyscallArgs& a) {
  // get_user_cpu_mask: at most a cpumask's bytes are read, a shorter mask is
  // zero-extended; then the thread; then the mask must hold an online CPU.
  const uint32_t len = a.Uint(1);
  std::vector<uint64_t> mask(CpumaskBytes(t) / sizeof(uint64_t), 0);
  const size_t n = std::min<size_t>(len, CpumaskBytes(t));
  if (n != 0) {
    auto r = t.mm().CopyIn(a.Addr(2), {reinterpret_cast<uint8_t*>(mask.data()), n});
    if (!r.ok()) return Errno(EFAULT);
  }
  return OnThread(t, a.Int(0), [&](Task& target) -> SyscallResult {
    // Another user's thread needs CAP_SYS_NICE.
    if (!SameOwner(t, target) && !t.creds().HasCapability(CAP_SYS_NICE)) return Errno(EPERM);
    // Only the sandbox's CPUs count (the mask is cut to them).
    const int ncpu = std::max(1, t.kernel().config().num_cpus);
    if (ncpu % 64 != 0) mask.back() &= (uint64_t{1} << (ncpu % 64)) - 1;
    if (std::all_of(mask.begin(), mask.end(), [](uint64_t w) { return w == 0; })) {
      return Errno(EINVAL);
    }
    absl::MutexLock l(&target.sched_mu);
    target.cpu_affinity = mask;
    return 0;
  });
}

SyscallResult SchedSetscheduler(Task& t, const SyscallArgs& a) {
  if (a.Int(1) < 0) return Errno(EINVAL);
  return SetScheduler(t, a.Int(0), a.Int(1), a.Addr(2));
}

SyscallResult SchedSetparam(Task& t, const SyscallArgs& a) {
  return SetScheduler(t, a.Int(0), kSetparamPolicy, a.Addr(1));
}

SyscallResult SchedGetscheduler(Task& t, const SyscallArgs& a) {
  if (a.Int(0) < 0) return Errno(EINVAL);
  return OnThread(t, a.Int(0), [](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    return target.sched.policy | (target.sched.reset_on_fork ? SCHED_RESET_ON_FORK : 0);
  });
}

SyscallResult SchedGetparam(Task& t, const SyscallArgs& a) {
  if (a.Addr(1).IsNull() || a.Int(0) < 0) return Errno(EINVAL);
  int32_t prio = 0;
  RETURN_IF_ERROR(OnThread(t, a.Int(0), [&](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    prio = target.sched.rt_priority;
    return 0;
  }));
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int32_t>(1), prio));
  return 0;
}

// sched_setattr(2): sched_setscheduler with every field of struct
// sched_attr (sched_copy_attr, then sys_sched_setattr's checks).
SyscallResult SchedSetattr(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const UserAddr uattr = a.Addr(1);
  if (uattr.IsNull() || pid < 0 || a.Uint(2) != 0) return Errno(EINVAL);
  // sched_copy_attr: the size the caller says it passes; 0 means VER0.
  uint32_t size;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<uint32_t>(uattr), &size));
  // err_size: the size we know goes back to the caller (a fault there is
  // ignored, as put_user's is).
  auto too_big = [&]() -> SyscallResult {
    (void)t.mm().CopyOutObj(UserPtr<uint32_t>(uattr), static_cast<uint32_t>(sizeof(SchedAttrAbi)));
    return Errno(E2BIG);
  };
  if (size > kPageSize) return too_big();
  if (size == 0) size = kSchedAttrSizeVer0;
  if (size < kSchedAttrSizeVer0) return too_big();
  SchedAttrAbi attr{};
  const size_t known = std::min<size_t>(size, sizeof(attr));
  if (!t.mm().CopyIn(uattr, {reinterpret_cast<uint8_t*>(&attr), known}).ok()) return Errno(EFAULT);
  // copy_struct_from_user: a larger struct than ours must be zero past it.
  if (size > sizeof(attr)) {
    std::vector<uint8_t> rest(size - sizeof(attr));
    if (!t.mm().CopyIn(uattr + sizeof(attr), {rest.data(), rest.size()}).ok()) {
      return Errno(EFAULT);
    }
    if (std::any_of(rest.begin(), rest.end(), [](uint8_t b) { return b != 0; })) {
      return too_big();
    }
  }
  if ((attr.sched_flags & (kSchedFlagUtilClampMin | kSchedFlagUtilClampMax)) &&
      size < sizeof(attr)) {
    return Errno(EINVAL);
  }
  attr.sched_nice = std::clamp(attr.sched_nice, kMinNice, kMaxNice);
  if (static_cast<int32_t>(attr.sched_policy) < 0) return Errno(EINVAL);
  return OnThread(t, pid, [&](Task& target) { return SetAttr(t, target, attr); });
}

namespace {

// __sched_setscheduler with a whole struct sched_attr, on `target`.
SyscallResult SetAttr(Task& t, Task& target, SchedAttrAbi attr) {
  const bool same_owner = SameOwner(t, target);
  absl::MutexLock l(&target.sched_mu);
  Task::SchedAttr& cur = target.sched;
  int policy = static_cast<int>(attr.sched_policy);
  if (attr.sched_flags & kSchedFlagKeepPolicy) policy = cur.policy;
  if (!ValidPolicy(policy)) return Errno(EINVAL);
  if (attr.sched_flags & ~(kSchedFlagAll | kSchedFlagSugov)) return Errno(EINVAL);
  if (attr.sched_flags & kSchedFlagKeepParams) {
    // get_params: the task's own, whatever the caller passed.
    attr.sched_priority = static_cast<uint32_t>(cur.rt_priority);
    attr.sched_nice = cur.nice;
  }
  if (attr.sched_priority > kMaxRtPrio - 1) return Errno(EINVAL);
  if (policy == kSchedDeadline && !DeadlineParamsValid(attr)) return Errno(EINVAL);
  if (IsRtPolicy(policy) != (attr.sched_priority != 0)) return Errno(EINVAL);
  const bool reset_on_fork = (attr.sched_flags & kSchedFlagResetOnFork) != 0;
  const bool fair = !IsRtPolicy(policy) && policy != kSchedDeadline;
  RETURN_IF_ERROR(CheckUnprivilegedSchedChange(t, target, same_owner, cur, policy,
                                               static_cast<int>(attr.sched_priority),
                                               attr.sched_nice, reset_on_fork));
  // The utilization clamps (SCHED_FLAG_UTIL_CLAMP_*): checked, as Linux with
  // CONFIG_UCLAMP_TASK does, and not kept (nothing here schedules).
  if ((attr.sched_flags & kSchedFlagUtilClampMin) && attr.sched_util_min != ~uint32_t{0} &&
      attr.sched_util_min > kSchedCapacityScale) {
    return Errno(EINVAL);
  }
  if ((attr.sched_flags & kSchedFlagUtilClampMax) && attr.sched_util_max != ~uint32_t{0} &&
      attr.sched_util_max > kSchedCapacityScale) {
    return Errno(EINVAL);
  }
  if ((attr.sched_flags & kSchedFlagUtilClampMin) && (attr.sched_flags & kSchedFlagUtilClampMax) &&
      attr.sched_util_min != ~uint32_t{0} && attr.sched_util_max != ~uint32_t{0} &&
      attr.sched_util_min > attr.sched_util_max) {
    return Errno(EINVAL);
  }
  cur.policy = policy;
  cur.rt_priority = IsRtPolicy(policy) ? static_cast<int>(attr.sched_priority) : 0;
  cur.reset_on_fork = reset_on_fork;
  if (fair) cur.nice = attr.sched_nice;
  if (policy == kSchedDeadline) {
    cur.dl_runtime = attr.sched_runtime;
    cur.dl_deadline = attr.sched_deadline;
    cur.dl_period = attr.sched_period != 0 ? attr.sched_period : attr.sched_deadline;
    cur.dl_flags = attr.sched_flags & (kSchedFlagReclaim | kSchedFlagDlOverrun);
  }
  return 0;
}

}  // namespace

// sched_getattr(2): what sched_setattr set (sched_attr_copy_to_user writes
// min(size, ours) bytes, their count in `size`).
SyscallResult SchedGetattr(Task& t, const SyscallArgs& a) {
  const pid_t pid = a.Int(0);
  const UserAddr uattr = a.Addr(1);
  const uint32_t usize = a.Uint(2);
  if (uattr.IsNull() || pid < 0 || usize > kPageSize || usize < kSchedAttrSizeVer0 ||
      a.Uint(3) != 0) {
    return Errno(EINVAL);
  }
  Task::SchedAttr cur;
  RETURN_IF_ERROR(OnThread(t, pid, [&](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    cur = target.sched;
    return 0;
  }));
  SchedAttrAbi k{};
  k.sched_policy = static_cast<uint32_t>(cur.policy);
  if (cur.reset_on_fork) k.sched_flags |= kSchedFlagResetOnFork;
  if (cur.policy == kSchedDeadline) {
    k.sched_runtime = cur.dl_runtime;
    k.sched_deadline = cur.dl_deadline;
    k.sched_period = cur.dl_period;
    k.sched_flags |= cur.dl_flags;
  } else if (IsRtPolicy(cur.policy)) {
    k.sched_priority = static_cast<uint32_t>(cur.rt_priority);
  } else {
    k.sched_nice = cur.nice;
    // Since EEVDF (6.12) a fair task's time slice: the default one,
    // sysctl_sched_base_slice (0.7 ms) scaled as for the sandbox's CPUs
    // (1 + log2 of at most 8). Custom slices are not kept.
    const auto ncpus = static_cast<unsigned>(std::clamp(t.kernel().config().num_cpus, 1, 8));
    k.sched_runtime = uint64_t{700000} * std::bit_width(ncpus);  // 1 + ilog2(ncpus)
  }
  k.sched_util_min = 0;
  k.sched_util_max = kSchedCapacityScale;
  // copy_struct_to_user: what we know, then zeros for a larger struct.
  k.size = std::min<uint32_t>(usize, sizeof(k));
  std::vector<uint8_t> out(usize, 0);
  std::memcpy(out.data(), &k, k.size);
  if (!t.mm().CopyOut(uattr, {out.data(), out.size()}).ok()) return Errno(EFAULT);
  return 0;
}

SyscallResult SchedGetPriorityMax(Task&, const SyscallArgs& a) {
  const int policy = a.Int(0);
  if (IsRtPolicy(policy)) return kMaxRtPrio - 1;
  if (ValidPolicy(policy)) return 0;
  return Errno(EINVAL);
}

SyscallResult SchedGetPriorityMin(Task&, const SyscallArgs& a) {
  const int policy = a.Int(0);
  if (IsRtPolicy(policy)) return 1;
  if (ValidPolicy(policy)) return 0;
  return Errno(EINVAL);
}

SyscallResult SchedRrGetInterval(Task& t, const SyscallArgs& a) {
  if (a.Int(0) < 0) return Errno(EINVAL);
  int policy = SCHED_OTHER;
  RETURN_IF_ERROR(OnThread(t, a.Int(0), [&](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    policy = target.sched.policy;
    return 0;
  }));
  // SCHED_RR: sched_rr_timeslice (RR_TIMESLICE, 100 ms). SCHED_FIFO: 0. The
  // fair policies: Linux reports the task's slice in whole jiffies; since
  // EEVDF (6.6) that is the base slice (0.75 ms x (1 + log2(CPUs)), at most
  // 3 ms), under one jiffy at HZ=250 or less: 0. That is what we report.
  const timespec ts = policy == SCHED_RR ? timespec{0, 100000000} : timespec{0, 0};
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), ts));
  return 0;
}

SyscallResult Getpriority(Task& t, const SyscallArgs& a) {
  // The raw syscall returns 20 - nice (1..40), so that it is never negative.
  auto get = [](Task& target) -> SyscallResult {
    absl::MutexLock l(&target.sched_mu);
    return 20 - target.sched.nice;
  };
  // PRIO_PROCESS: any thread (a negative id: none).
  if (a.Int(0) == PRIO_PROCESS) return a.Int(1) < 0 ? Errno(ESRCH) : OnThread(t, a.Int(1), get);
  ASSIGN_OR_RETURN(bool self, PrioritySelectsSelf(t, a.Int(0), a.Int(1)));
  if (!self) return Errno(ESRCH);
  return get(t);
}

SyscallResult Setpriority(Task& t, const SyscallArgs& a) {
  const int nice = std::clamp(a.Int(2), kMinNice, kMaxNice);
  // set_one_prio: another user's thread is EPERM; lowering the value needs
  // its RLIMIT_NICE's leave or CAP_SYS_NICE (EACCES).
  auto set = [&](Task& target) -> SyscallResult {
    if (&target != &t) {
      const std::shared_ptr<const kernel::Credentials> p = target.creds_snapshot();
      if (p->ruid != t.creds().euid && p->euid != t.creds().euid) return Errno(EPERM);
    }
    absl::MutexLock l(&target.sched_mu);
    if (nice < target.sched.nice && !NiceAllowed(target, nice) &&
        !t.creds().HasCapability(CAP_SYS_NICE)) {
      return Errno(EACCES);
    }
    target.sched.nice = nice;
    return 0;
  };
  if (a.Int(0) == PRIO_PROCESS) return a.Int(1) < 0 ? Errno(ESRCH) : OnThread(t, a.Int(1), set);
  ASSIGN_OR_RETURN(bool self, PrioritySelectsSelf(t, a.Int(0), a.Int(1)));
  if (!self) return Errno(ESRCH);
  return set(t);
}

// getcpu(2): a CPU the thread ran on (the host CPU of the Sentry's thread
// serving it, within the sandbox's CPUs: the vDSO reports the stub's, and
// either may be stale by the time the caller looks, as on Linux); node 0, the
// sandbox's only one. The third argument (a cache) is ignored, as since
// Linux 2.6.24.
SyscallResult Getcpu(Task& t, const SyscallArgs& a) {
  const int ncpus = std::max(1, t.kernel().config().num_cpus);
  const uint32_t cpu = static_cast<uint32_t>(std::max(0, sched_getcpu()) % ncpus);
  if (!a.Addr(0).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(0), cpu));
  if (!a.Addr(1).IsNull()) RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<uint32_t>(1), uint32_t{0}));
  return 0;
}

}  // namespace sentry::syscalls
