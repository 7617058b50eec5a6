#include "sentry/syscalls/strace.h"

#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sentry/kernel/task.h"

namespace sentry::syscalls {
namespace {

using kernel::ArgFormat;

constexpr size_t kMaxString = 32;  // strace -s default

struct Flag {
  uint64_t bit;
  const char* name;
};

std::string Flags(uint64_t v, std::initializer_list<Flag> flags, const char* zero) {
  if (v == 0) return zero;
  std::vector<std::string> parts;
  for (const Flag& f : flags) {
    if (f.bit != 0 && (v & f.bit) == f.bit) {
      parts.push_back(f.name);
      v &= ~f.bit;
    }
  }
  if (v != 0) parts.push_back(absl::StrFormat("%#x", v));
  return absl::StrJoin(parts, "|");
}

std::string Enum(int64_t v, std::initializer_list<std::pair<int64_t, const char*>> names) {
  for (const auto& [k, n] : names) {
    if (k == v) return n;
  }
  return absl::StrFormat("%d", v);
}

std::string Ptr(uint64_t v) { return v == 0 ? "NULL" : absl::StrFormat("%#x", v); }

std::string GuestBytes(kernel::Task& t, uint64_t addr, size_t len) {
  if (addr == 0) return "NULL";
  std::vector<uint8_t> buf(std::min(len, kMaxString));
  auto r = t.mm().CopyIn(UserAddr(addr), buf);
  if (!r.ok()) return Ptr(addr);
  return QuoteBytes(buf, kMaxString, len > kMaxString);
}

std::string GuestPath(kernel::Task& t, uint64_t addr) {
  if (addr == 0) return "NULL";
  auto s = t.mm().CopyInString(UserAddr(addr), 4096);
  if (!s.ok()) return Ptr(addr);
  return QuoteBytes({reinterpret_cast<const uint8_t*>(s->data()), s->size()}, 4096, false);
}

std::string Iovecs(kernel::Task& t, uint64_t addr, uint64_t count, int64_t total) {
  if (count > IOV_MAX) return Ptr(addr);
  std::vector<iovec> iov(count);
  auto r = t.mm().CopyIn(UserAddr(addr),
                         {reinterpret_cast<uint8_t*>(iov.data()), count * sizeof(iovec)});
  if (!r.ok()) return Ptr(addr);
  std::vector<std::string> parts;
  for (const iovec& v : iov) {
    size_t show = total < 0 ? v.iov_len : std::min<size_t>(v.iov_len, total);
    if (total >= 0) total -= static_cast<int64_t>(show);
    parts.push_back(absl::StrFormat("{iov_base=%s, iov_len=%d}",
                                    GuestBytes(t, reinterpret_cast<uint64_t>(v.iov_base), show),
                                    v.iov_len));
  }
  return absl::StrFormat("[%s]", absl::StrJoin(parts, ", "));
}

std::string Timespec(kernel::Task& t, uint64_t addr) {
  timespec ts;
  if (addr == 0) return "NULL";
  if (!t.mm().CopyInObj(UserPtr<timespec>(addr), &ts).ok()) return Ptr(addr);
  return absl::StrFormat("{tv_sec=%d, tv_nsec=%d}", ts.tv_sec, ts.tv_nsec);
}

std::string Signal(int64_t sig) {
  const char* n = sig > 0 && sig < 65 ? sigabbrev_np(static_cast<int>(sig)) : nullptr;
  return n != nullptr ? absl::StrFormat("SIG%s", n) : absl::StrFormat("%d", sig);
}

std::string Sigset(kernel::Task& t, uint64_t addr) {
  uint64_t set;
  if (addr == 0) return "NULL";
  if (!t.mm().CopyInObj(UserPtr<uint64_t>(addr), &set).ok()) return Ptr(addr);
  if (set == ~uint64_t{0}) return "~[]";
  std::vector<std::string> parts;
  for (int s = 1; s <= 64; ++s) {
    if (set & (uint64_t{1} << (s - 1))) {
      std::string n = Signal(s);
      parts.push_back(n.rfind("SIG", 0) == 0 ? n.substr(3) : n);
    }
  }
  return absl::StrFormat("[%s]", absl::StrJoin(parts, " "));
}

std::string Arg(kernel::Task& t, ArgFormat f, const kernel::SyscallArgs& a, int i,
                const kernel::SyscallResult& r) {
  const uint64_t v = a[i];
  switch (f) {
    case ArgFormat::kNone:
    case ArgFormat::kHex:
      return absl::StrFormat("%#x", v);
    case ArgFormat::kDec:
      return absl::StrFormat("%d", static_cast<int64_t>(v));
    case ArgFormat::kUDec:
      return absl::StrFormat("%u", v);
    case ArgFormat::kOct:
      return absl::StrFormat("%#o", v);
    case ArgFormat::kFd:
      return static_cast<int>(v) == AT_FDCWD ? "AT_FDCWD"
                                             : absl::StrFormat("%d", static_cast<int>(v));
    case ArgFormat::kPath:
      return GuestPath(t, v);
    case ArgFormat::kInBuf:
      return GuestBytes(t, v, a[i + 1]);
    case ArgFormat::kOutBuf:
      return r.ok() ? GuestBytes(t, v, *r) : Ptr(v);
    case ArgFormat::kIovecIn:
      return Iovecs(t, v, a[i + 1], -1);
    case ArgFormat::kIovecOut:
      return r.ok() ? Iovecs(t, v, a[i + 1], static_cast<int64_t>(*r)) : Ptr(v);
    case ArgFormat::kPtr:
      return Ptr(v);
    case ArgFormat::kSignal:
      return Signal(static_cast<int64_t>(v));
    case ArgFormat::kSigset:
      return Sigset(t, v);
    case ArgFormat::kTimespec:
      return Timespec(t, v);
    case ArgFormat::kClockId:
      return Enum(static_cast<int>(v), {{CLOCK_REALTIME, "CLOCK_REALTIME"},
                                        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
                                        {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
                                        {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
                                        {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
                                        {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
                                        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
                                        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
                                        {CLOCK_TAI, "CLOCK_TAI"}});
    case ArgFormat::kMmapProt:
      return Flags(v,
                   {{PROT_READ, "PROT_READ"},
                    {PROT_WRITE, "PROT_WRITE"},
                    {PROT_EXEC, "PROT_EXEC"},
                    {PROT_GROWSDOWN, "PROT_GROWSDOWN"},
                    {PROT_GROWSUP, "PROT_GROWSUP"}},
                   "PROT_NONE");
    case ArgFormat::kMmapFlags: {
      std::string type = Enum(v & MAP_TYPE, {{MAP_SHARED, "MAP_SHARED"},
                                             {MAP_PRIVATE, "MAP_PRIVATE"},
                                             {MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"}});
      uint64_t rest = v & ~uint64_t{MAP_TYPE};
      if (rest == 0) return type;
      return type + "|" +
             Flags(rest,
                   {{MAP_FIXED, "MAP_FIXED"},
                    {MAP_ANONYMOUS, "MAP_ANONYMOUS"},
                    {MAP_GROWSDOWN, "MAP_GROWSDOWN"},
                    {MAP_DENYWRITE, "MAP_DENYWRITE"},
                    {MAP_EXECUTABLE, "MAP_EXECUTABLE"},
                    {MAP_LOCKED, "MAP_LOCKED"},
                    {MAP_NORESERVE, "MAP_NORESERVE"},
                    {MAP_POPULATE, "MAP_POPULATE"},
                    {MAP_NONBLOCK, "MAP_NONBLOCK"},
                    {MAP_STACK, "MAP_STACK"},
                    {MAP_HUGETLB, "MAP_HUGETLB"},
                    {MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
                    {MAP_32BIT, "MAP_32BIT"}},
                   "0");
    }
    case ArgFormat::kOpenFlags: {
      std::string mode =
          Enum(v & O_ACCMODE, {{O_RDONLY, "O_RDONLY"}, {O_WRONLY, "O_WRONLY"}, {O_RDWR, "O_RDWR"}});
      uint64_t rest = v & ~uint64_t{O_ACCMODE};
      if (rest == 0) return mode;
      return mode + "|" +
             Flags(rest,
                   {{O_CREAT, "O_CREAT"},
                    {O_EXCL, "O_EXCL"},
                    {O_NOCTTY, "O_NOCTTY"},
                    {O_TRUNC, "O_TRUNC"},
                    {O_APPEND, "O_APPEND"},
                    {O_NONBLOCK, "O_NONBLOCK"},
                    {O_DSYNC, "O_DSYNC"},
                    {O_DIRECT, "O_DIRECT"},
                    {O_LARGEFILE, "O_LARGEFILE"},
                    {O_DIRECTORY, "O_DIRECTORY"},
                    {O_NOFOLLOW, "O_NOFOLLOW"},
                    {O_NOATIME, "O_NOATIME"},
                    {O_CLOEXEC, "O_CLOEXEC"},
                    {O_PATH, "O_PATH"}},
                   "0");
    }
    case ArgFormat::kFutexOp: {
      std::string op = Enum(v & FUTEX_CMD_MASK, {{FUTEX_WAIT, "FUTEX_WAIT"},
                                                 {FUTEX_WAKE, "FUTEX_WAKE"},
                                                 {FUTEX_REQUEUE, "FUTEX_REQUEUE"},
                                                 {FUTEX_CMP_REQUEUE, "FUTEX_CMP_REQUEUE"},
                                                 {FUTEX_WAKE_OP, "FUTEX_WAKE_OP"},
                                                 {FUTEX_LOCK_PI, "FUTEX_LOCK_PI"},
                                                 {FUTEX_UNLOCK_PI, "FUTEX_UNLOCK_PI"},
                                                 {FUTEX_WAIT_BITSET, "FUTEX_WAIT_BITSET"},
                                                 {FUTEX_WAKE_BITSET, "FUTEX_WAKE_BITSET"},
                                                 {FUTEX_TRYLOCK_PI, "FUTEX_TRYLOCK_PI"},
                                                 {FUTEX_WAIT_REQUEUE_PI, "FUTEX_WAIT_REQUEUE_PI"},
                                                 {FUTEX_CMP_REQUEUE_PI, "FUTEX_CMP_REQUEUE_PI"},
                                                 {13, "FUTEX_LOCK_PI2"}});
      if (v & FUTEX_PRIVATE_FLAG) op += "_PRIVATE";
      if (v & FUTEX_CLOCK_REALTIME) op += "|FUTEX_CLOCK_REALTIME";
      return op;
    }
    case ArgFormat::kArchPrctl:
      return Enum(static_cast<int64_t>(v), {{ARCH_SET_GS, "ARCH_SET_GS"},
                                            {ARCH_SET_FS, "ARCH_SET_FS"},
                                            {ARCH_GET_FS, "ARCH_GET_FS"},
                                            {ARCH_GET_GS, "ARCH_GET_GS"},
                                            {ARCH_GET_CPUID, "ARCH_GET_CPUID"},
                                            {ARCH_SET_CPUID, "ARCH_SET_CPUID"}});
    case ArgFormat::kRlimitResource:
      return Enum(static_cast<int64_t>(v), {{RLIMIT_CPU, "RLIMIT_CPU"},
                                            {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
                                            {RLIMIT_DATA, "RLIMIT_DATA"},
                                            {RLIMIT_STACK, "RLIMIT_STACK"},
                                            {RLIMIT_CORE, "RLIMIT_CORE"},
                                            {RLIMIT_RSS, "RLIMIT_RSS"},
                                            {RLIMIT_NPROC, "RLIMIT_NPROC"},
                                            {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
                                            {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
                                            {RLIMIT_AS, "RLIMIT_AS"},
                                            {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
                                            {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
                                            {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
                                            {RLIMIT_NICE, "RLIMIT_NICE"},
                                            {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
                                            {RLIMIT_RTTIME, "RLIMIT_RTTIME"}});
    case ArgFormat::kMadvice:
      return Enum(static_cast<int64_t>(v), {{MADV_NORMAL, "MADV_NORMAL"},
                                            {MADV_RANDOM, "MADV_RANDOM"},
                                            {MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
                                            {MADV_WILLNEED, "MADV_WILLNEED"},
                                            {MADV_DONTNEED, "MADV_DONTNEED"},
                                            {MADV_FREE, "MADV_FREE"},
                                            {MADV_REMOVE, "MADV_REMOVE"},
                                            {MADV_DONTFORK, "MADV_DONTFORK"},
                                            {MADV_DOFORK, "MADV_DOFORK"},
                                            {MADV_MERGEABLE, "MADV_MERGEABLE"},
                                            {MADV_HUGEPAGE, "MADV_HUGEPAGE"},
                                            {MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
                                            {MADV_DONTDUMP, "MADV_DONTDUMP"},
                                            {MADV_DODUMP, "MADV_DODUMP"},
                                            {MADV_WIPEONFORK, "MADV_WIPEONFORK"},
                                            {MADV_KEEPONFORK, "MADV_KEEPONFORK"}});
    case ArgFormat::kWhence:
      return Enum(static_cast<int64_t>(v),
                  {{SEEK_SET, "SEEK_SET"}, {SEEK_CUR, "SEEK_CUR"}, {SEEK_END, "SEEK_END"}});
  }
  return absl::StrFormat("%#x", v);
}

bool ReturnsPointer(std::string_view name) {
  return name == "mmap" || name == "mremap" || name == "brk" || name == "shmat";
}

}  // namespace

std::string QuoteBytes(std::span<const uint8_t> bytes, size_t max, bool truncated) {
  std::string out = "\"";
  size_t n = std::min(bytes.size(), max);
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = bytes[i];
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += absl::StrFormat("\\%o", c);
        }
    }
  }
  out += "\"";
  if (truncated || bytes.size() > max) out += "...";
  return out;
}

std::string FormatSyscall(kernel::Task& t, uint64_t nr, const kernel::SyscallArgs& args,
                          const kernel::SyscallResult& r) {
  const kernel::SyscallInfo* info = t.kernel().syscall_table().Lookup(nr);
  std::string name = info != nullptr ? info->name : absl::StrFormat("syscall_%d", nr);
  int nargs = 0;
  if (info != nullptr) {
    while (nargs < 6 && info->args[nargs] != ArgFormat::kNone) ++nargs;
    if (info->handler == nullptr) nargs = 6;  // unknown shape: show them all
  } else {
    nargs = 6;
  }
  std::vector<std::string> parts;
  for (int i = 0; i < nargs; ++i) {
    ArgFormat f = info != nullptr ? info->args[i] : ArgFormat::kHex;
    parts.push_back(Arg(t, f, args, i, r));
  }
  std::string ret;
  if (t.exiting()) {
    ret = "?";  // exit and exit_group do not return, as strace shows
  } else if (r.ok()) {
    ret = ReturnsPointer(name) ? absl::StrFormat("%#x", *r)
                               : absl::StrFormat("%d", static_cast<int64_t>(*r));
  } else {
    int e = r.error().value();
    ret = absl::StrFormat("-1 %s (%s)", ErrnoName(e), ErrnoDescription(e));
  }
  return absl::StrFormat("%s(%s) = %s", name, absl::StrJoin(parts, ", "), ret);
}

void StraceSyscall(kernel::Task& t, uint64_t nr, const kernel::SyscallArgs& args,
                   const kernel::SyscallResult& r) {
  std::string line = FormatSyscall(t, nr, args, r);
  line += "\n";
  [[maybe_unused]] ssize_t n = write(t.kernel().config().strace_fd, line.data(), line.size());
}

}  // namespace sentry::syscalls
