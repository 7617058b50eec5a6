#include "sentry/kernel/tty.h"

#include <linux/capability.h>
#include <sys/ioctl.h>

#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// Sends `sig` from the kernel to every process of group `pgid`.
void SignalGroupLocked(Kernel& k, pid_t pgid, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu) {
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_KERNEL;
  for (ThreadGroup* g : k.ThreadGroupsLocked()) {
    if (g->pgid != pgid || g->tasks.empty()) continue;
    [[maybe_unused]] ErrnoOrOk r = g->tasks.front()->SendSignalLockedPublic(info, true);
  }
}

}  // namespace

bool IsOrphanedPgrpLocked(Kernel& k, pid_t pgid) {
  // will_become_orphaned_pgrp: no member has a live parent in another group
  // of the same session.
  for (ThreadGroup* g : k.ThreadGroupsLocked()) {
    if (g->pgid != pgid || g->zombie) continue;
    ThreadGroup* p = g->parent;
    if (p != nullptr && !p->zombie && p->pgid != pgid && p->sid == g->sid) return false;
  }
  return true;
}

ErrnoOrOk TtyCheckChange(Task& t, vfs::TtyJobControl& jc, int sig) {
  absl::MutexLock l(&tree_mu);
  ThreadGroup& tg = t.thread_group();
  if (jc.sid == 0 || jc.sid != tg.sid) return Ok();  // not our controlling terminal
  if (jc.fg_pgid == 0 || jc.fg_pgid == tg.pgid) return Ok();
  const KSigaction act = tg.handlers->actions[sig - 1];
  const bool ignored_or_blocked =
      act.handler == 1 /*SIG_IGN*/ || (t.signal_mask_locked() & SigBit(sig)) != 0;
  if (ignored_or_blocked) return sig == SIGTTIN ? ErrnoOrOk(Errno(EIO)) : ErrnoOrOk(Ok());
  if (IsOrphanedPgrpLocked(t.kernel(), tg.pgid)) return Errno(EIO);
  SignalGroupLocked(t.kernel(), tg.pgid, sig);
  return Errno(kERESTARTSYS);
}

std::optional<SyscallResult> TtyJobControlIoctl(Task& t, vfs::FileDescription& f, uint32_t cmd,
                                                uint64_t arg) {
  if (cmd != TIOCGPGRP && cmd != TIOCSPGRP && cmd != TIOCSCTTY && cmd != TIOCNOTTY &&
      cmd != TIOCGSID) {
    return std::nullopt;
  }
  std::shared_ptr<vfs::TtyJobControl> jc = f.JobControl();
  if (jc == nullptr) return SyscallResult(Errno(ENOTTY));
  Kernel& k = t.kernel();
  switch (cmd) {
    case TIOCGPGRP:
    case TIOCGSID: {
      int32_t v;
      {
        absl::MutexLock l(&tree_mu);
        // Only for the caller's own controlling terminal.
        if (jc->sid == 0 || jc->sid != t.thread_group().sid) return SyscallResult(Errno(ENOTTY));
        v = cmd == TIOCGPGRP ? jc->fg_pgid : jc->sid;
      }
      ErrnoOrOk w = t.mm().CopyOutObj(UserPtr<int32_t>(arg), v);
      if (!w.ok()) return SyscallResult(w.error());
      return SyscallResult(uint64_t{0});
    }
    case TIOCSPGRP: {
      {
        absl::MutexLock l(&tree_mu);
        if (jc->sid == 0 || jc->sid != t.thread_group().sid) return SyscallResult(Errno(ENOTTY));
      }
      ErrnoOrOk c = TtyCheckChange(t, *jc, SIGTTOU);
      if (!c.ok()) return SyscallResult(c.error());
      int32_t pgid;
      ErrnoOrOk r = t.mm().CopyInObj(UserPtr<int32_t>(arg), &pgid);
      if (!r.ok()) return SyscallResult(r.error());
      if (pgid < 0) return SyscallResult(Errno(EINVAL));
      absl::MutexLock l(&tree_mu);
      bool exists = false, same_session = false;
      for (ThreadGroup* g : k.ThreadGroupsLocked()) {
        if (g->pgid != pgid || g->zombie) continue;
        exists = true;
        if (g->sid == t.thread_group().sid) same_session = true;
      }
      if (!exists) return SyscallResult(Errno(ESRCH));
      if (!same_session) return SyscallResult(Errno(EPERM));
      jc->fg_pgid = pgid;
      return SyscallResult(uint64_t{0});
    }
    case TIOCSCTTY: {
      absl::MutexLock l(&tree_mu);
      ThreadGroup& tg = t.thread_group();
      if (jc->sid == tg.sid && jc->sid != 0) return SyscallResult(uint64_t{0});
      // Only a session leader without a controlling terminal.
      if (tg.sid != tg.tgid()) return SyscallResult(Errno(EPERM));
      if (k.SessionHasTerminalLocked(tg.sid)) return SyscallResult(Errno(EPERM));
      if (jc->sid != 0) {
        // Another session's: only stolen with arg 1 and CAP_SYS_ADMIN.
        if (arg != 1 || !t.creds().HasCapability(CAP_SYS_ADMIN)) {
          return SyscallResult(Errno(EPERM));
        }
      }
      jc->sid = tg.sid;
      jc->fg_pgid = tg.pgid;
      return SyscallResult(uint64_t{0});
    }
    case TIOCNOTTY: {
      absl::MutexLock l(&tree_mu);
      ThreadGroup& tg = t.thread_group();
      if (jc->sid == 0 || jc->sid != tg.sid) return SyscallResult(Errno(ENOTTY));
      if (tg.sid == tg.tgid()) {
        // The session leader gives it up: its foreground job hears SIGHUP
        // and SIGCONT (disassociate_ctty).
        const pid_t fg = jc->fg_pgid;
        jc->sid = 0;
        jc->fg_pgid = 0;
        if (fg > 0) {
          SignalGroupLocked(k, fg, SIGHUP);
          SignalGroupLocked(k, fg, SIGCONT);
        }
      }
      // TODO(processes issue): other processes of the session keep it (we
      // keep the terminal per session, not per process).
      return SyscallResult(uint64_t{0});
    }
  }
  return std::nullopt;
}

void HangUpSessionLocked(Kernel& k, pid_t sid) {
  // A session leader's exit (disassociate_ctty): its terminal's foreground
  // job gets SIGHUP and SIGCONT, and the terminal belongs to nobody.
  for (const std::shared_ptr<vfs::TtyJobControl>& jc : k.TerminalsLocked()) {
    if (jc->sid != sid) continue;
    const pid_t fg = jc->fg_pgid;
    jc->sid = 0;
    jc->fg_pgid = 0;
    if (fg > 0) {
      SignalGroupLocked(k, fg, SIGHUP);
      SignalGroupLocked(k, fg, SIGCONT);
    }
  }
}

}  // namespace sentry::kernel
