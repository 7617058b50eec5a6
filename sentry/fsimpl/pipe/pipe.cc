#include "sentry/fsimpl/pipe/pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::pipe {
namespace {

constexpr uint32_t kWakeAll =
    POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLHUP | POLLERR | kEventPipeOpen;

// pipefs: one anonymous device; inode numbers from one counter (Linux's
// get_next_ino).
uint64_t PipeFsDev() {
  static const uint64_t dev = vfs::NewAnonDev();
  return dev;
}

uint64_t NextIno() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// Per-user pipe accounting (Linux's user_struct::pipe_bufs).
class Accounting {
 public:
  static Accounting& Get() {
    static Accounting* a = new Accounting();
    return *a;
  }
  // Replaces `old_pages` of `uid`'s charge with `new_pages`; the new total.
  uint64_t Charge(uint32_t uid, uint64_t old_pages, uint64_t new_pages) {
    absl::MutexLock l(&mu_);
    uint64_t& v = pages_[uid];
    v = v - old_pages + new_pages;
    const uint64_t total = v;
    if (v == 0) pages_.erase(uid);
    return total;
  }
  uint64_t Charged(uint32_t uid) {
    absl::MutexLock l(&mu_);
    auto it = pages_.find(uid);
    return it == pages_.end() ? 0 : it->second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);
};

bool Unprivileged(const PipeUser& u) { return !u.cap_sys_resource && !u.cap_sys_admin; }

// A position in a list of Sentry iovecs.
class IovCursor {
 public:
  explicit IovCursor(std::span<const iovec> iov) : iov_(iov) { Skip(); }
  size_t Remaining() const {
    size_t n = 0;
    for (size_t i = idx_; i < iov_.size(); ++i) n += iov_[i].iov_len - (i == idx_ ? off_ : 0);
    return n;
  }
  // Copies up to `n` bytes out of the iovecs into `dst`.
  size_t CopyOut(uint8_t* dst, size_t n) { return Move(dst, n, /*to_iov=*/false); }
  // Copies up to `n` bytes of `src` into the iovecs.
  size_t CopyIn(const uint8_t* src, size_t n) {
    return Move(const_cast<uint8_t*>(src), n, /*to_iov=*/true);
  }
  // Where the cursor stands: the index of the current iovec and the offset in it.
  size_t index() const { return idx_; }
  size_t offset() const { return off_; }

 private:
  void Skip() {
    while (idx_ < iov_.size() && off_ == iov_[idx_].iov_len) {
      ++idx_;
      off_ = 0;
    }
  }
  size_t Move(uint8_t* buf, size_t n, bool to_iov) {
    size_t done = 0;
    while (done < n && idx_ < iov_.size()) {
      uint8_t* base = static_cast<uint8_t*>(iov_[idx_].iov_base) + off_;
      const size_t k = std::min(n - done, iov_[idx_].iov_len - off_);
      if (to_iov) {
        memcpy(base, buf + done, k);
      } else {
        memcpy(buf + done, base, k);
      }
      done += k;
      off_ += k;
      Skip();
    }
    return done;
  }
  std::span<const iovec> iov_;
  size_t idx_ = 0;
  size_t off_ = 0;
};

size_t Length(std::span<const iovec> iov) {
  size_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

}  // namespace

uint64_t ChargedPages(uint32_t uid) { return Accounting::Get().Charged(uid); }

// --- Pipe. ---

Pipe::Pipe(const PipeUser& user, bool named)
    : named_(named), ino_(NextIno()), uid_(user.uid), gid_(user.gid) {
  // alloc_pipe_info: the default size, capped by pipe-max-size without
  // CAP_SYS_RESOURCE, and shrunk to two buffers over the per-user soft limit.
  uint32_t slots = kDefaultSlots;
  if (slots * kPipePage > kPipeMaxSize && !user.cap_sys_resource) slots = kPipeMaxSize / kPipePage;
  const uint64_t total = Accounting::Get().Charge(uid_, 0, slots);
  if (total > kPipeUserPagesSoft && Unprivileged(user)) {
    Accounting::Get().Charge(uid_, slots, kMinDefaultSlots);
    slots = kMinDefaultSlots;
  }
  absl::MutexLock l(&mu_);
  max_usage_ = slots;
  nr_accounted_ = slots;
  ctime_ = mtime_ = atime_ = Now();
}

Pipe::~Pipe() {
  absl::MutexLock l(&mu_);
  Accounting::Get().Charge(uid_, nr_accounted_, 0);
}

void Pipe::AddEnd(bool read, bool write) {
  absl::MutexLock l(&mu_);
  if (read) ++readers_;
  if (write) ++writers_;
}

void Pipe::RemoveEnd(bool read, bool write) {
  bool wake;
  {
    absl::MutexLock l(&mu_);
    if (read) --readers_;
    if (write) --writers_;
    // The last reader or the last writer, but not both: the other side sees
    // end of file or EPIPE.
    wake = (readers_ == 0) != (writers_ == 0);
  }
  if (wake) queue_.Notify(kWakeAll);
}

Pipe::Counts Pipe::counts() const {
  absl::MutexLock l(&mu_);
  return {readers_, writers_, r_counter_, w_counter_};
}

std::unique_ptr<uint8_t[]> Pipe::PageLocked() {
  if (spare_ != nullptr) return std::move(spare_);
  return std::unique_ptr<uint8_t[]>(new uint8_t[kPipePage]);
}

ErrnoOr<size_t> Pipe::Read(std::span<const iovec> dst) {
  IovCursor out(dst);
  size_t total = out.Remaining();
  if (total == 0) return size_t{0};
  size_t done = 0;
  bool wake_writer = false;
  {
    absl::MutexLock l(&mu_);
    while (!bufs_.empty() && total > 0) {
      Buffer& b = bufs_.front();
      const size_t chars = std::min<size_t>(b.len, total);
      out.CopyIn(b.page.get() + b.offset, chars);
      done += chars;
      b.offset += chars;
      b.len -= chars;
      total -= chars;
      // A packet is read whole or its rest is dropped; one per read.
      if (b.packet) {
        b.len = 0;
        total = 0;
      }
      if (b.len == 0) {
        wake_writer |= FullLocked();
        if (spare_ == nullptr) spare_ = std::move(b.page);
        bufs_.pop_front();
      }
    }
    if (done == 0) {
      if (writers_ == 0) return size_t{0};
      return Errno(EAGAIN);
    }
    atime_ = Now();
  }
  if (wake_writer) queue_.Notify(POLLOUT | POLLWRNORM);
  return done;
}

ErrnoOr<size_t> Pipe::Write(std::span<iovec>* src, size_t total, bool first, bool packet) {
  IovCursor in(*src);
  size_t done = 0;
  {
    absl::MutexLock l(&mu_);
    if (readers_ == 0) return Errno(EPIPE);
    // Merge a write's sub-page remainder into the last buffer when it fits
    // whole: small writes share a page, larger ones stay page-aligned.
    const size_t chars = total & (kPipePage - 1);
    if (first && chars != 0 && !bufs_.empty()) {
      Buffer& b = bufs_.back();
      if (b.merge && !b.packet && b.offset + b.len + chars <= kPipePage) {
        const size_t n = in.CopyOut(b.page.get() + b.offset + b.len, chars);
        b.len += n;
        done += n;
      }
    }
    while (in.Remaining() > 0 && !FullLocked()) {
      Buffer b;
      b.page = PageLocked();
      b.len = in.CopyOut(b.page.get(), kPipePage);
      b.packet = packet;
      done += b.len;
      bufs_.push_back(std::move(b));
    }
    if (done > 0) ctime_ = mtime_ = Now();
  }
  // What is left: from the cursor's iovec on, the first one trimmed.
  *src = src->subspan(std::min(in.index(), src->size()));
  if (!src->empty()) {
    iovec& v = (*src)[0];
    v.iov_base = static_cast<uint8_t*>(v.iov_base) + in.offset();
    v.iov_len -= in.offset();
  }
  if (done > 0) queue_.Notify(POLLIN | POLLRDNORM);
  return done;
}

bool Pipe::MustWaitToWrite() const {
  absl::MutexLock l(&mu_);
  return FullLocked() && readers_ > 0;
}

uint32_t Pipe::Readiness(bool read, bool write, uint64_t f_pipe) const {
  absl::MutexLock l(&mu_);
  uint32_t mask = 0;
  if (read) {
    if (!bufs_.empty()) mask |= POLLIN | POLLRDNORM;
    if (writers_ == 0 && f_pipe != w_counter_) mask |= POLLHUP;
  }
  if (write) {
    if (!FullLocked()) mask |= POLLOUT | POLLWRNORM;
    // Linux reports POLLERR on a FIFO's write end without readers too.
    if (readers_ == 0) mask |= POLLERR;
  }
  return mask;
}

size_t Pipe::Available() const {
  absl::MutexLock l(&mu_);
  size_t n = 0;
  for (const Buffer& b : bufs_) n += b.len;
  return n;
}

size_t Pipe::Capacity() const {
  absl::MutexLock l(&mu_);
  return size_t{max_usage_} * kPipePage;
}

ErrnoOr<size_t> Pipe::SetCapacity(uint32_t arg, const PipeUser& who) {
  // round_pipe_size: at least a page, a power of two, at most 2^31.
  if (arg > (1u << 31)) return Errno(EINVAL);
  uint32_t size = arg < kPipePage ? kPipePage : std::bit_ceil(arg);
  const uint32_t nr_slots = size / kPipePage;
  {
    absl::MutexLock l(&mu_);
    if (nr_slots > max_usage_ && size > kPipeMaxSize && !who.cap_sys_resource) {
      return Errno(EPERM);
    }
    const uint32_t old = nr_accounted_;
    const uint64_t user_pages = Accounting::Get().Charge(uid_, old, nr_slots);
    auto revert = [&] { Accounting::Get().Charge(uid_, nr_slots, old); };
    if (nr_slots > max_usage_ && user_pages > kPipeUserPagesSoft && Unprivileged(who)) {
      revert();
      return Errno(EPERM);
    }
    // pipe_resize_ring: never below what the pipe holds.
    if (nr_slots < bufs_.size()) {
      revert();
      return Errno(EBUSY);
    }
    max_usage_ = nr_slots;
    nr_accounted_ = nr_slots;
  }
  queue_.Notify(POLLOUT | POLLWRNORM);
  return size_t{nr_slots} * kPipePage;
}

struct stat Pipe::Stat() const {
  struct stat st = {};
  st.st_dev = PipeFsDev();
  st.st_ino = ino_;
  st.st_mode = S_IFIFO | 0600;
  st.st_nlink = 1;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_blksize = kPipePage;
  absl::MutexLock l(&mu_);
  st.st_atim = atime_;
  st.st_mtim = mtime_;
  st.st_ctim = ctime_;
  return st;
}

ErrnoOr<bool> Pipe::WaitReadable(waiter::Waker* w, bool nonblock) {
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (!bufs_.empty()) return true;
      if (writers_ == 0) return false;
    }
    if (w == nullptr || nonblock) return Errno(EAGAIN);
    if (!reg) {
      reg.emplace(queue_, w, POLLIN | POLLRDNORM | POLLHUP);
      continue;
    }
    RETURN_IF_ERROR(w->Block(CLOCK_MONOTONIC, nullptr));
  }
}

ErrnoOrOk Pipe::WaitWritable(waiter::Waker* w, bool nonblock) {
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (readers_ == 0) return Errno(EPIPE);
      if (!FullLocked()) return Ok();
    }
    if (w == nullptr || nonblock) return Errno(EAGAIN);
    if (!reg) {
      reg.emplace(queue_, w, POLLOUT | POLLWRNORM | POLLERR);
      continue;
    }
    RETURN_IF_ERROR(w->Block(CLOCK_MONOTONIC, nullptr));
  }
}

size_t Pipe::Peek(uint8_t* buf, size_t max) const {
  absl::MutexLock l(&mu_);
  size_t done = 0;
  for (const Buffer& b : bufs_) {
    if (done == max) break;
    const size_t k = std::min<size_t>(b.len, max - done);
    memcpy(buf + done, b.page.get() + b.offset, k);
    done += k;
  }
  return done;
}

void Pipe::Consume(size_t n) {
  bool wake_writer = false;
  {
    absl::MutexLock l(&mu_);
    while (n > 0 && !bufs_.empty()) {
      Buffer& b = bufs_.front();
      const size_t k = std::min<size_t>(b.len, n);
      b.offset += k;
      b.len -= k;
      n -= k;
      if (b.len == 0) {
        wake_writer |= FullLocked();
        if (spare_ == nullptr) spare_ = std::move(b.page);
        bufs_.pop_front();
      }
    }
    atime_ = Now();
  }
  if (wake_writer) queue_.Notify(POLLOUT | POLLWRNORM);
}

size_t Pipe::Room() const {
  absl::MutexLock l(&mu_);
  return FullLocked() ? 0 : (max_usage_ - bufs_.size()) * kPipePage;
}

size_t Pipe::Append(const uint8_t* buf, size_t n) {
  size_t done = 0;
  {
    absl::MutexLock l(&mu_);
    while (done < n && !FullLocked()) {
      Buffer b;
      b.page = PageLocked();
      b.len = std::min(kPipePage, n - done);
      memcpy(b.page.get(), buf + done, b.len);
      b.merge = false;
      done += b.len;
      bufs_.push_back(std::move(b));
    }
    if (done > 0) ctime_ = mtime_ = Now();
  }
  if (done > 0) queue_.Notify(POLLIN | POLLRDNORM);
  return done;
}

size_t Pipe::Transfer(Pipe& in, Pipe& out, size_t len, bool move, bool* no_readers, bool* eof) {
  size_t done = 0;
  bool wake_in_writer = false;
  {
    // pipe_double_lock: the lower address first.
    Pipe* first = &in < &out ? &in : &out;
    Pipe* second = first == &in ? &out : &in;
    absl::MutexLock l1(&first->mu_);
    absl::MutexLock l2(&second->mu_);
    *no_readers = out.readers_ == 0;
    *eof = in.bufs_.empty() && in.writers_ == 0;
    if (*no_readers) return 0;
    size_t i = 0;  // tee walks the buffers without taking them
    while (len > 0 && !out.FullLocked()) {
      if (move ? in.bufs_.empty() : i >= in.bufs_.size()) break;
      Buffer& ib = move ? in.bufs_.front() : in.bufs_[i];
      const size_t k = std::min<size_t>(ib.len, len);
      Buffer ob;
      ob.page = out.PageLocked();
      memcpy(ob.page.get(), ib.page.get() + ib.offset, k);
      ob.len = k;
      ob.packet = ib.packet;
      ob.merge = false;  // splice_pipe_to_pipe and link_pipe drop CAN_MERGE
      out.bufs_.push_back(std::move(ob));
      done += k;
      len -= k;
      if (!move) {
        ++i;
        continue;
      }
      ib.offset += k;
      ib.len -= k;
      if (ib.len == 0) {
        wake_in_writer |= in.FullLocked();
        if (in.spare_ == nullptr) in.spare_ = std::move(ib.page);
        in.bufs_.pop_front();
      }
    }
    if (done > 0) out.ctime_ = out.mtime_ = Now();
  }
  if (done > 0) out.queue_.Notify(POLLIN | POLLRDNORM);
  if (wake_in_writer) in.queue_.Notify(POLLOUT | POLLWRNORM);
  return done;
}

// --- PipeFile. ---

namespace {

bool Reads(int flags) {
  const int acc = flags & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}
bool Writes(int flags) {
  const int acc = flags & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

}  // namespace

PipeFile::PipeFile(std::shared_ptr<Pipe> pipe, int flags, uint64_t f_pipe)
    : FileDescription(flags),
      pipe_(std::move(pipe)),
      read_(Reads(flags)),
      write_(Writes(flags)),
      f_pipe_(f_pipe) {}

PipeFile::~PipeFile() {
  // Epoll entries leave the pipe's queue while this end can still reach it.
  ReleaseEpollLinks();
  pipe_->RemoveEnd(read_, write_);
}

ErrnoOr<size_t> PipeFile::Read(waiter::Waker* w, std::span<const iovec> dst) {
  if (Length(dst) == 0) return size_t{0};  // a null read succeeds at once
  std::optional<waiter::ScopedRegistration> reg;
  for (;;) {
    ErrnoOr<size_t> n = pipe_->Read(dst);
    if (n.ok() || n.error().value() != EAGAIN) return n;
    if (w == nullptr || (status_flags() & O_NONBLOCK)) return n;
    if (!reg) {
      // Register, then look again: a write in between is not lost.
      reg.emplace(pipe_->queue(), w, POLLIN | POLLRDNORM | POLLHUP | POLLERR);
      continue;
    }
    RETURN_IF_ERROR(w->Block(CLOCK_MONOTONIC, nullptr));
  }
}

ErrnoOr<size_t> PipeFile::Write(waiter::Waker* w, std::span<const iovec> src) {
  const size_t total = Length(src);
  if (total == 0) return size_t{0};  // a null write succeeds, even without readers
  // A copy of the iovecs: Pipe::Write advances through it.
  std::vector<iovec> iov(src.begin(), src.end());
  std::span<iovec> rest(iov);
  const bool packet = status_flags() & O_DIRECT;
  std::optional<waiter::ScopedRegistration> reg;
  size_t done = 0;
  bool first = true;
  for (;;) {
    ErrnoOr<size_t> n = pipe_->Write(&rest, total, first, packet);
    first = false;
    if (!n.ok()) return done > 0 ? ErrnoOr<size_t>(done) : n;  // EPIPE
    done += *n;
    if (Length(rest) == 0) return done;
    if (!pipe_->MustWaitToWrite()) continue;  // room again, or nobody reads (EPIPE next)
    if (w == nullptr || (status_flags() & O_NONBLOCK)) {
      return done > 0 ? ErrnoOr<size_t>(done) : Errno(EAGAIN);
    }
    if (w->interrupted()) return done > 0 ? ErrnoOr<size_t>(done) : Errno(EINTR);
    if (!reg) {
      reg.emplace(pipe_->queue(), w, POLLOUT | POLLWRNORM | POLLERR | POLLHUP);
      continue;
    }
    auto b = w->Block(CLOCK_MONOTONIC, nullptr);
    if (!b.ok()) return done > 0 ? ErrnoOr<size_t>(done) : b.error();
  }
}

namespace {

ErrnoOr<size_t> Restart(ErrnoOr<size_t> r) {
  // An interrupted wait restarts or ends in EINTR, as the signal decides.
  if (!r.ok() && r.error().value() == EINTR) return Errno(kERESTARTSYS);
  return r;
}

}  // namespace

ErrnoOr<size_t> PipeFile::Readv(kernel::Task* t, std::span<const iovec> dst, int64_t) {
  return Restart(Read(t == nullptr ? nullptr : &t->waker(), dst));
}

ErrnoOr<size_t> PipeFile::Writev(kernel::Task* t, std::span<const iovec> src, int64_t) {
  return Restart(Write(t == nullptr ? nullptr : &t->waker(), src));
}

ErrnoOr<struct stat> PipeFile::Stat() {
  // A FIFO is its inode on its filesystem; an anonymous pipe its pipefs inode.
  if (location().ok()) {
    ASSIGN_OR_RETURN(vfs::Attr a, location().inode().GetAttr());
    return vfs::AttrToStat(a, location().inode().fs().Dev());
  }
  return pipe_->Stat();
}

ErrnoOr<uint64_t> PipeFile::Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) {
  if (cmd != FIONREAD) return Errno(ENOTTY);
  const int n = static_cast<int>(std::min<size_t>(pipe_->Available(), INT32_MAX));
  RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int>(arg), n));
  return 0;
}

std::string PipeFile::Describe() const { return absl::StrFormat("pipe:[%d]", pipe_->ino()); }

uint32_t PipeFile::Readiness(uint32_t mask) {
  return pipe_->Readiness(read_, write_, f_pipe_) & mask;
}

void PipeFile::EventRegister(waiter::Waiter* w, uint32_t mask) {
  pipe_->queue().EventRegister(w, mask);
}

void PipeFile::EventUnregister(waiter::Waiter* w) { pipe_->queue().EventUnregister(w); }

ErrnoOr<std::shared_ptr<vfs::FileDescription>> PipeFile::Reopen(int flags) {
  const int acc = flags & O_ACCMODE;
  if (acc == O_ACCMODE) return Errno(EINVAL);
  pipe_->AddEnd(Reads(flags), Writes(flags));
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<PipeFile>(pipe_, flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT | O_APPEND)));
}

ErrnoOrOk PipeFile::WaitForPartner(waiter::Waker& w) {
  if (wait_ == Wait::kNone) return Ok();
  waiter::ScopedRegistration reg(pipe_->queue(), &w, kEventPipeOpen);
  for (;;) {
    const Pipe::Counts c = pipe_->counts();
    const uint64_t now = wait_ == Wait::kWriter ? c.w_counter : c.r_counter;
    if (now != wait_from_) {
      wait_ = Wait::kNone;
      return Ok();
    }
    RETURN_IF_ERROR(w.Block(CLOCK_MONOTONIC, nullptr));
  }
}

ErrnoOrOk PipeFile::WaitOpened(kernel::Task& t) {
  auto r = WaitForPartner(t.waker());
  if (!r.ok()) return Errno(kERESTARTSYS);
  return Ok();
}

// --- NamedPipe. ---

ErrnoOr<std::shared_ptr<vfs::FileDescription>> NamedPipe::Open(int flags) {
  std::shared_ptr<Pipe> p;
  {
    absl::MutexLock l(&mu_);
    p = pipe_.lock();
    if (p == nullptr) {
      // TODO(processes issue): charge the opener's user (the VFS hands
      // filesystems no task); a FIFO's pipe starts uncharged at uid 0.
      p = std::make_shared<Pipe>(PipeUser{0, 0, true, true}, /*named=*/true);
      pipe_ = p;
    }
  }
  const bool nonblock = flags & O_NONBLOCK;
  const int acc = flags & O_ACCMODE;
  PipeFile::Wait wait = PipeFile::Wait::kNone;
  uint64_t from = 0, f_pipe = 0;
  bool partner = false;
  {
    absl::MutexLock l(&p->mu_);
    switch (acc) {
      case O_RDONLY:
        p->r_counter_++;
        partner = p->readers_++ == 0;
        if (p->writers_ == 0) {
          if (nonblock) {
            f_pipe = p->w_counter_;  // no POLLHUP until a writer has come
          } else {
            wait = PipeFile::Wait::kWriter;
            from = p->w_counter_;
          }
        }
        break;
      case O_WRONLY:
        if (nonblock && p->readers_ == 0) return Errno(ENXIO);
        p->w_counter_++;
        partner = p->writers_++ == 0;
        if (p->readers_ == 0) {
          wait = PipeFile::Wait::kReader;
          from = p->r_counter_;
        }
        break;
      case O_RDWR:
        // Never waits: the opener can talk to itself.
        p->readers_++;
        p->writers_++;
        p->r_counter_++;
        p->w_counter_++;
        partner = p->readers_ == 1 || p->writers_ == 1;
        break;
      default:
        return Errno(EINVAL);
    }
  }
  if (partner) p->queue_.Notify(kEventPipeOpen);
  auto f = std::make_shared<PipeFile>(p, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC), f_pipe);
  f->wait_ = wait;
  f->wait_from_ = from;
  return std::shared_ptr<vfs::FileDescription>(std::move(f));
}

std::pair<std::shared_ptr<PipeFile>, std::shared_ptr<PipeFile>> NewPipe(const PipeUser& user,
                                                                        int flags) {
  auto p = std::make_shared<Pipe>(user, /*named=*/false);
  p->AddEnd(true, true);
  return {std::make_shared<PipeFile>(p, O_RDONLY | (flags & O_NONBLOCK)),
          std::make_shared<PipeFile>(p, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)))};
}

PipeFile* AsPipe(vfs::FileDescription& f) { return dynamic_cast<PipeFile*>(&f); }

}  // namespace sentry::fsimpl::pipe
