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
#include <cstdint>
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

// find_process_by_pid: 0 is the caller; any thread id finds that thread.
bool IsSelf(Task& t, pid_t pid) { return pid == 0 || pid == t.tid(); }

// is_nice_reduction: RLIMIT_NICE allows nice value `nice` (limit 20 - nice).
bool NiceAllowed(Task& t, int nice) {
  return static_cast<uint64_t>(20 - nice) <= t.rlimit_of(RLIMIT_NICE).rlim_cur;
}

// The size of Linux's cpumask for the sandbox's CPUs (CPUMASK_OFFSTACK:
// BITS_TO_LONGS(nr_cpu_ids) longs).
size_t CpumaskBytes(Task& t) { return t.cpu_affinity.size() * sizeof(uint64_t); }

// user_check_sched_setscheduler: what a caller without CAP_SYS_NICE may do.
ErrnoOrOk CheckUnprivilegedSchedChange(Task& t, int policy, int prio, bool reset_on_fork) {
  if (t.creds().HasCapability(CAP_SYS_NICE)) return Ok();
  const Task::SchedAttr& cur = t.sched;
  if (IsRtPolicy(policy)) {
    const uint64_t rlim = t.rlimit_of(RLIMIT_RTPRIO).rlim_cur;
    if (policy != cur.policy && rlim == 0) return Errno(EPERM);
    if (prio > cur.rt_priority && static_cast<uint64_t>(prio) > rlim) return Errno(EPERM);
  }
  if (policy == kSchedDeadline) return Errno(EPERM);
  // Leaving SCHED_IDLE needs what lowering the nice value needs.
  if (cur.policy == SCHED_IDLE && policy != SCHED_IDLE && !NiceAllowed(t, cur.nice)) {
    return Errno(EPERM);
  }
  if (cur.reset_on_fork && !reset_on_fork) return Errno(EPERM);
  return Ok();
}

// do_sched_setscheduler: sched_setscheduler and sched_setparam.
SyscallResult SetScheduler(Task& t, pid_t pid, int policy, UserAddr param) {
  if (param.IsNull() || pid < 0) return Errno(EINVAL);
  int32_t prio;
  RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int32_t>(param), &prio));
  if (!IsSelf(t, pid)) return Errno(ESRCH);
  bool reset_on_fork;
  if (policy == kSetparamPolicy) {
    policy = t.sched.policy;
    reset_on_fork = t.sched.reset_on_fork;
  } else {
    reset_on_fork = (policy & SCHED_RESET_ON_FORK) != 0;
    policy &= ~SCHED_RESET_ON_FORK;
    if (!ValidPolicy(policy)) return Errno(EINVAL);
  }
  // The priority is unsigned in Linux's sched_attr: a negative one is too big.
  if (static_cast<uint32_t>(prio) > kMaxRtPrio - 1) return Errno(EINVAL);
  // SCHED_DEADLINE needs sched_setattr's runtime, deadline and period.
  if (policy == kSchedDeadline) return Errno(EINVAL);
  if (IsRtPolicy(policy) != (prio != 0)) return Errno(EINVAL);
  RETURN_IF_ERROR(CheckUnprivilegedSchedChange(t, policy, prio, reset_on_fork));
  t.sched.policy = policy;
  t.sched.rt_priority = prio;
  t.sched.reset_on_fork = reset_on_fork;
  return 0;
}

// The task(s) `which`/`who` name for getpriority and setpriority: the caller
// or nobody.
ErrnoOr<bool> PrioritySelectsSelf(Task& t, int which, int who) {
  switch (which) {
    case PRIO_PROCESS:
      return IsSelf(t, who);
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
  if (!IsSelf(t, a.Int(0))) return Errno(ESRCH);
  const size_t n = std::min<size_t>(len, CpumaskBytes(t));
  auto r = t.mm().CopyOut(a.Addr(2), {reinterpret_cast<const uint8_t*>(t.cpu_affinity.data()), n});
  if (!r.ok()) return Errno(EFAULT);
  return n;
}

SyscallResult SchedSetaffinity(Task& t, const SyscallArgs& a) {
  // get_user_cpu_mask: at most a cpumask's bytes are read, a shorter mask is
  // zero-extended; then the thread; then the mask must hold an online CPU.
  const uint32_t len = a.Uint(1);
  std::vector<uint64_t> mask(t.cpu_affinity.size(), 0);
  const size_t n = std::min<size_t>(len, CpumaskBytes(t));
  if (n != 0) {
    auto r = t.mm().CopyIn(a.Addr(2), {reinterpret_cast<uint8_t*>(mask.data()), n});
    if (!r.ok()) return Errno(EFAULT);
  }
  if (!IsSelf(t, a.Int(0))) return Errno(ESRCH);
  // Only the sandbox's CPUs count (the mask is cut to them).
  const int ncpu = std::max(1, t.kernel().config().num_cpus);
  if (ncpu % 64 != 0) mask.back() &= (uint64_t{1} << (ncpu % 64)) - 1;
  if (std::all_of(mask.begin(), mask.end(), [](uint64_t w) { return w == 0; })) {
    return Errno(EINVAL);
  }
  t.cpu_affinity = std::move(mask);
  return 0;
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
  if (!IsSelf(t, a.Int(0))) return Errno(ESRCH);
  return t.sched.policy | (t.sched.reset_on_fork ? SCHED_RESET_ON_FORK : 0);
}

SyscallResult SchedGetparam(Task& t, const SyscallArgs& a) {
  if (a.Addr(1).IsNull() || a.Int(0) < 0) return Errno(EINVAL);
  if (!IsSelf(t, a.Int(0))) return Errno(ESRCH);
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<int32_t>(1), int32_t{t.sched.rt_priority}));
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
  if (!IsSelf(t, a.Int(0))) return Errno(ESRCH);
  // SCHED_RR: sched_rr_timeslice (RR_TIMESLICE, 100 ms). SCHED_FIFO: 0. The
  // fair policies: Linux reports the task's slice in whole jiffies; since
  // EEVDF (6.6) that is the base slice (0.75 ms x (1 + log2(CPUs)), at most
  // 3 ms), under one jiffy at HZ=250 or less: 0. That is what we report.
  const timespec ts = t.sched.policy == SCHED_RR ? timespec{0, 100000000} : timespec{0, 0};
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<timespec>(1), ts));
  return 0;
}

SyscallResult Getpriority(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(bool self, PrioritySelectsSelf(t, a.Int(0), a.Int(1)));
  if (!self) return Errno(ESRCH);
  // The raw syscall returns 20 - nice (1..40), so that it is never negative.
  return 20 - t.sched.nice;
}

SyscallResult Setpriority(Task& t, const SyscallArgs& a) {
  ASSIGN_OR_RETURN(bool self, PrioritySelectsSelf(t, a.Int(0), a.Int(1)));
  const int nice = std::clamp(a.Int(2), kMinNice, kMaxNice);
  if (!self) return Errno(ESRCH);
  // can_nice: lowering it needs RLIMIT_NICE's leave or CAP_SYS_NICE.
  if (nice < t.sched.nice && !NiceAllowed(t, nice) && !t.creds().HasCapability(CAP_SYS_NICE)) {
    return Errno(EACCES);
  }
  t.sched.nice = nice;
  return 0;
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
