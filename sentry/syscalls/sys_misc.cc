// uname, sysinfo, getrandom.
#include <sys/personality.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <string>

#include <cstring>
#include <vector>

#include "sentry/syscalls/handlers.h"

namespace sentry::syscalls {
namespace {

void Set(char* field, std::string_view v) {
  std::memset(field, 0, _UTSNAME_LENGTH);
  std::memcpy(field, v.data(), std::min<size_t>(v.size(), _UTSNAME_LENGTH - 1));
}

// override_release: "2.6.<60 + patchlevel>" and whatever follows the
// release's first three dotted numbers.
std::string Uname26Release(std::string_view rel) {
  size_t i = 0;
  int dots = 0;
  while (i < rel.size()) {
    if (rel[i] == '.' && ++dots >= 3) break;
    if (!isdigit(static_cast<unsigned char>(rel[i])) && rel[i] != '.') break;
    ++i;
  }
  unsigned patchlevel = 0;
  size_t dot = rel.find('.');
  if (dot != std::string_view::npos) {
    for (size_t j = dot + 1; j < rel.size() && isdigit(static_cast<unsigned char>(rel[j])); ++j) {
      patchlevel = patchlevel * 10 + (rel[j] - '0');
    }
  }
  return "2.6." + std::to_string(60 + patchlevel) + std::string(rel.substr(i));
}

}  // namespace

SyscallResult Personality(Task& t, const SyscallArgs& a) {
  // set_personality takes any value; 0xffffffff only asks.
  const uint32_t old = t.personality.load();
  if (static_cast<uint32_t>(a[0]) != 0xffffffffu) t.personality.store(static_cast<uint32_t>(a[0]));
  return static_cast<int32_t>(old);
}

SyscallResult Uname(Task& t, const SyscallArgs& a) {
  struct utsname u;
  Set(u.sysname, "Linux");
  Set(u.nodename, t.uts().hostname());
  Set(u.release, t.personality.load() & UNAME26 ? Uname26Release(kernel::kLinuxRelease)
                                                : std::string(kernel::kLinuxRelease));
  Set(u.version, kernel::kLinuxVersion);
  Set(u.machine, "x86_64");
  Set(u.domainname, t.uts().domainname());
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct utsname>(0), u));
  return 0;
}

SyscallResult Sysinfo(Task& t, const SyscallArgs& a) {
  struct sysinfo s;
  std::memset(&s, 0, sizeof(s));
  // CLOCK_BOOTTIME, a partial second rounded up.
  const timespec boot = kernel::Kernel::BootClock();
  s.uptime = boot.tv_sec + (boot.tv_nsec != 0 ? 1 : 0);
  // TODO(processes issue): load averages from the sandbox's own run queue.
  // The sandbox's memory, as /proc/meminfo shows it: the machine's total read
  // at boot, less what the memory file holds (bytes: Linux's 64-bit mem_unit 1).
  const uint64_t total = t.kernel().config().total_memory;
  const uint64_t used = t.kernel().memory_file().UsedBytes();
  s.totalram = total;
  s.freeram = total > used ? total - used : 0;
  s.sharedram = 0;
  s.bufferram = 0;
  s.procs = static_cast<uint16_t>(t.kernel().TaskCount());
  s.mem_unit = 1;
  RETURN_IF_ERROR(t.mm().CopyOutObj(a.Ptr<struct sysinfo>(0), s));
  return 0;
}

SyscallResult Getrandom(Task& t, const SyscallArgs& a) {
  const unsigned flags = a.Uint(2);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return Errno(EINVAL);
  if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM)) return Errno(EINVAL);
  // Linux returns at most MAX_RW_COUNT per call. The host fills guest memory
  // directly, a window at a time; like Linux, a fault ends the call with what was
  // done so far.
  const size_t len = std::min<size_t>(a.Size(1), INT_MAX & ~(kPageSize - 1));
  if (!AccessOk(a[0], len)) return Errno(EFAULT);
  constexpr size_t kWindow = 1 << 20;
  std::vector<iovec> iovs;
  size_t done = 0;
  while (done < len) {
    auto r = t.mm().InternalIovecs(a.Addr(0) + done, std::min(kWindow, len - done),
                                   /*write=*/true, &iovs);
    for (const iovec& v : iovs) {
      for (size_t off = 0; off < v.iov_len;) {
        ssize_t got = ::getrandom(static_cast<uint8_t*>(v.iov_base) + off, v.iov_len - off, 0);
        if (got <= 0) return done ? SyscallResult(done) : Errno(EIO);
        off += static_cast<size_t>(got);
        done += static_cast<size_t>(got);
      }
    }
    if (!r.ok()) return done ? SyscallResult(done) : Errno(EFAULT);
  }
  return done;
}

}  // namespace sentry::syscalls
