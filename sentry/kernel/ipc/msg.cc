// System V message queues (Linux's ipc/msg.c).
#include <linux/capability.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <climits>
#include <list>

#include "sentry/base/status_macros.h"
#include "sentry/kernel/ipc/ipc.h"

namespace sentry::kernel::ipc {

namespace {

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

// How msgrcv picks a message (convert_mode).
enum class Search { kAny, kEqual, kNotEqual, kLessEqual, kNumber };

bool Matches(const IpcNamespace::Message& m, int64_t type, Search mode) {
  switch (mode) {
    case Search::kAny:
    case Search::kNumber:
      return true;
    case Search::kEqual:
      return m.type == type;
    case Search::kNotEqual:
      return m.type != type;
    case Search::kLessEqual:
      return m.type <= type;
  }
  return false;
}

// A msgrcv waiting for a message (Linux's msg_receiver); on its thread's
// stack, guarded by the namespace's lock while queued.
struct MsgReceiver {
  Search mode = Search::kAny;
  int64_t type = 0;
  uint64_t maxsize = 0;
  int32_t pid = 0;
  waiter::Waker* waker = nullptr;
  // Set by the sender that hands it a message (or E2BIG), or EIDRM.
  std::optional<ErrnoOr<IpcNamespace::Message>> result;
};

// A msgsnd waiting for room (Linux's msg_sender).
struct MsgSender {
  uint64_t size = 0;
  waiter::Waker* waker = nullptr;
};

}  // namespace

struct MsgQueue : IpcObject {
  int64_t stime = 0, rtime = 0;
  uint64_t cbytes = 0, qbytes = 0;
  int32_t lspid = 0, lrpid = 0;
  std::list<IpcNamespace::Message> msgs;
  std::list<MsgReceiver*> receivers;  // in arrival order
  std::list<MsgSender*> senders;
  // msg_fits_inqueue.
  bool Fits(uint64_t size) const { return size + cbytes <= qbytes && 1 + msgs.size() <= qbytes; }
};

ErrnoOr<int> IpcNamespace::MsgGet(const Credentials& c, int32_t key, int flags) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto found,
                   IpcLookup(msg_, c, key, flags, [](const MsgQueue&) { return Ok(); }));
  if (found) return *found;
  ASSIGN_OR_RETURN(auto q, msg_.Add(c, key, flags, std::max(msg_limits_.msgmni, 0)));
  q->qbytes = static_cast<uint64_t>(std::max(msg_limits_.msgmnb, 0));
  return q->id();
}

void IpcNamespace::MsgWakeSendersLocked(MsgQueue& q) {
  // ss_wakeup: the senders whose message now fits try again.
  for (MsgSender* s : q.senders) {
    if (q.Fits(s->size)) s->waker->Wake();
  }
}

ErrnoOrOk IpcNamespace::MsgSend(const Credentials& c, int id, Message m, int flags, int32_t pid,
                                waiter::Waker& waker) {
  MsgSender me;
  me.size = m.text.size();
  me.waker = &waker;
  std::shared_ptr<MsgQueue> q;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(q, msg_.Find(id));
  }
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (!MayAccess(c, q->perm, kWriteAccess)) return Errno(EACCES);
      if (q->deleted) return Errno(EIDRM);
      if (q->Fits(me.size)) {
        q->lspid = pid;
        q->stime = NowSeconds();
        // pipelined_send: a waiting receiver that wants it takes it at once.
        for (auto it = q->receivers.begin(); it != q->receivers.end();) {
          MsgReceiver* r = *it;
          if (!Matches(m, r->type, r->mode)) {
            ++it;
            continue;
          }
          it = q->receivers.erase(it);
          if (r->maxsize < m.text.size()) {
            r->result.emplace(Errno(E2BIG));
            r->waker->Wake();
            continue;
          }
          q->lrpid = r->pid;
          q->rtime = NowSeconds();
          r->result.emplace(std::move(m));
          r->waker->Wake();
          return Ok();
        }
        q->cbytes += me.size;
        msg_hdrs_ += 1;
        msg_bytes_ += me.size;
        q->msgs.push_back(std::move(m));
        return Ok();
      }
      if (flags & IPC_NOWAIT) return Errno(EAGAIN);
      q->senders.push_back(&me);
    }
    ErrnoOrOk b = waker.Block(CLOCK_MONOTONIC, nullptr);
    absl::MutexLock l(&mu_);
    if (q->deleted) return Errno(EIDRM);
    q->senders.remove(&me);
    if (!b.ok()) return Errno(kERESTARTNOHAND);
  }
}

ErrnoOr<IpcNamespace::Message> IpcNamespace::MsgReceive(const Credentials& c, int id,
                                                        uint64_t bufsz, int64_t msgtyp, int flags,
                                                        int32_t pid, waiter::Waker& waker) {
  Search mode;
  if (flags & MSG_COPY) {
    mode = Search::kNumber;
  } else if (msgtyp == 0) {
    mode = Search::kAny;
  } else if (msgtyp < 0) {
    mode = Search::kLessEqual;
    msgtyp = msgtyp == INT64_MIN ? INT64_MAX : -msgtyp;
  } else {
    mode = (flags & MSG_EXCEPT) ? Search::kNotEqual : Search::kEqual;
  }
  MsgReceiver me;
  me.mode = mode;
  me.type = msgtyp;
  me.maxsize = (flags & MSG_NOERROR) ? INT_MAX : bufsz;
  me.pid = pid;
  me.waker = &waker;
  std::shared_ptr<MsgQueue> q;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(q, msg_.Find(id));
  }
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (!MayAccess(c, q->perm, kReadAccess)) return Errno(EACCES);
      if (q->deleted) return Errno(EIDRM);
      // find_msg: the first match; for a negative type the first of the
      // lowest type; for MSG_COPY the msgtyp-th message.
      auto found = q->msgs.end();
      int64_t n = 0;
      for (auto it = q->msgs.begin(); it != q->msgs.end(); ++it) {
        if (mode == Search::kNumber) {
          if (n++ == msgtyp) {
            found = it;
            break;
          }
          continue;
        }
        if (!Matches(*it, msgtyp, mode)) continue;
        if (mode == Search::kLessEqual) {
          if (found == q->msgs.end() || it->type < found->type) found = it;
          continue;
        }
        found = it;
        break;
      }
      if (found != q->msgs.end()) {
        const uint64_t size = found->text.size();
        if (bufsz < size && !(flags & MSG_NOERROR)) return Errno(E2BIG);
        if (flags & MSG_COPY) {
          // copy_msg into a buffer of min(bufsz, msgmax) bytes.
          if (size > std::min<uint64_t>(bufsz, std::max(msg_limits_.msgmax, 0))) {
            return Errno(EINVAL);
          }
          return *found;
        }
        Message m = std::move(*found);
        q->msgs.erase(found);
        q->rtime = NowSeconds();
        q->lrpid = pid;
        q->cbytes -= size;
        msg_hdrs_ -= 1;
        msg_bytes_ -= size;
        MsgWakeSendersLocked(*q);
        return m;
      }
      if (flags & IPC_NOWAIT) return Errno(ENOMSG);
      q->receivers.push_back(&me);
    }
    ErrnoOrOk b = waker.Block(CLOCK_MONOTONIC, nullptr);
    absl::MutexLock l(&mu_);
    if (me.result) return std::move(*me.result);
    q->receivers.remove(&me);
    if (!b.ok()) return Errno(kERESTARTNOHAND);
  }
}

MsgStat IpcNamespace::MsgStatLocked(const MsgQueue& q) const {
  MsgStat st;
  st.id = q.id();
  st.perm = q.perm;
  st.stime = q.stime;
  st.rtime = q.rtime;
  st.ctime = q.ctime;
  st.cbytes = q.cbytes;
  st.qnum = q.msgs.size();
  st.qbytes = q.qbytes;
  st.lspid = q.lspid;
  st.lrpid = q.lrpid;
  return st;
}

ErrnoOr<MsgStat> IpcNamespace::MsgStatOf(const Credentials& c, int id, bool by_index,
                                         bool check_read) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto q, StatLookup(msg_, c, id, by_index, check_read));
  return MsgStatLocked(*q);
}

ErrnoOrOk IpcNamespace::MsgSet(const Credentials& c, int id, uint32_t uid, uint32_t gid,
                               uint32_t mode, uint64_t qbytes) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto q, msg_.Find(id));
  if (!MayControl(c, q->perm)) return Errno(EPERM);
  if (qbytes > static_cast<uint64_t>(std::max(msg_limits_.msgmnb, 0)) &&
      !c.HasCapability(CAP_SYS_RESOURCE)) {
    return Errno(EPERM);
  }
  RETURN_IF_ERROR(UpdatePerm(*q, uid, gid, mode));
  q->qbytes = qbytes;
  // Senders may now fit; receivers check their permission again
  // (expunge_all(-EAGAIN)).
  MsgWakeSendersLocked(*q);
  for (MsgReceiver* r : q->receivers) r->waker->Wake();
  return Ok();
}

ErrnoOrOk IpcNamespace::MsgRemove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(auto q, msg_.Find(id));
  if (!MayControl(c, q->perm)) return Errno(EPERM);
  // freeque: receivers get EIDRM, senders wake to find the queue gone.
  for (MsgReceiver* r : q->receivers) {
    r->result.emplace(Errno(EIDRM));
    r->waker->Wake();
  }
  q->receivers.clear();
  for (MsgSender* s : q->senders) s->waker->Wake();
  q->senders.clear();
  msg_hdrs_ -= q->msgs.size();
  msg_bytes_ -= q->cbytes;
  q->msgs.clear();
  q->cbytes = 0;
  msg_.Remove(*q);
  return Ok();
}

int IpcNamespace::MsgMaxIndex() const {
  absl::MutexLock l(&mu_);
  return msg_.MaxIndex();
}

IpcNamespace::MsgTotals IpcNamespace::MsgInfo() const {
  absl::MutexLock l(&mu_);
  return MsgTotals{msg_.size(), msg_hdrs_, msg_bytes_};
}

std::vector<MsgStat> IpcNamespace::MsgAll() const {
  absl::MutexLock l(&mu_);
  std::vector<MsgStat> out;
  for (auto& [i, q] : msg_.items()) out.push_back(MsgStatLocked(*q));
  return out;
}

}  // namespace sentry::kernel::ipc
