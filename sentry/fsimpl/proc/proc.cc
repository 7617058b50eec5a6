// The proc filesystem: its root, the system-wide files and /proc/sys.
#include "sentry/fsimpl/proc/proc.h"

#include <dirent.h>
#include <sys/random.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/inotify/inotify.h"
#include "sentry/fsimpl/mqueue/mqueue.h"
#include "sentry/fsimpl/pipe/pipe.h"
#include "sentry/fsimpl/proc/proc_fs.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"

namespace sentry::fsimpl::proc {
namespace {

using kernel::Task;

// Positions of /proc's pid entries in getdents: after the static ones.
constexpr int64_t kFirstPidPos = int64_t{1} << 32;

// A version-4 UUID, as Linux's generate_random_uuid and "%pU".
std::string RandomUuid() {
  uint8_t b[16];
  for (size_t got = 0; got < sizeof(b);) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

// Time since `since` on the boot clock (Kernel::BootClock).
timespec Elapsed(const timespec& since) {
  timespec now = kernel::Kernel::BootClock();
  timespec r{now.tv_sec - since.tv_sec, now.tv_nsec - since.tv_nsec};
  if (r.tv_nsec < 0) {
    r.tv_nsec += 1000000000;
    r.tv_sec--;
  }
  return r;
}

uint64_t Nanos(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time the sandbox's tasks have used, as far as the Sentry measures it:
// the current task's (CLOCK_THREAD_CPUTIME_ID of its host thread).
uint64_t BusyNanos() {
  Task* t = Task::Current();
  return t != nullptr ? Nanos(t->CpuTime()) : 0;
}

// /proc itself: the static entries, then a directory per task.
class ProcRoot : public kernfs::StaticDirectory {
 public:
  ProcRoot(ProcFilesystem& fs, uint64_t ino) : StaticDirectory(fs, ino, 0555, ino), fs_(fs) {}

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    auto s = LookupStatic(name);
    if (s.ok()) return s;
    pid_t pid = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || p != name.data() + name.size() || pid <= 0 || name[0] == '0') {
      return Errno(ENOENT);
    }
    if (!fs_.kernel().WithProcTask(pid, [](Task&) {})) return Errno(ENOENT);
    return NewTaskDir(fs_, pid, false, ino());
  }

  ErrnoOr<std::vector<Entry>> List() override {
    std::vector<Entry> out = StaticEntries();
    // Processes only: a thread's directory can be looked up by its tid but
    // is not listed (it lives under its process's task/).
    for (pid_t pid : fs_.kernel().ProcessIds()) {
      out.push_back({std::to_string(pid), TaskDirIno(pid, false), DT_DIR, kFirstPidPos + pid});
    }
    return out;
  }

 protected:
  uint64_t Nlink() const override {
    return StaticDirectory::Nlink() + fs_.kernel().ProcessIds().size();
  }

 private:
  ProcFilesystem& fs_;
};

// --- The system-wide files. ---

std::string Meminfo(ProcFilesystem& fs) {
  kernel::Kernel& k = fs.kernel();
  vfs::VirtualFilesystem& v = k.vfs();
  v.AssertLocked();  // generated in Open, under the VFS lock
  // tmpfs pages (every tmpfs instance mounted, once each) are Linux's Shmem
  // and count in Cached; shared anonymous memory is Shmem too.
  std::set<const vfs::Filesystem*> seen;
  uint64_t tmpfs = 0;
  for (const auto& m : v.MountsLocked()) {
    if (!seen.insert(m->fs.get()).second) continue;
    if (auto* t = dynamic_cast<const tmpfs::TmpfsFilesystem*>(m->fs.get())) {
      tmpfs += t->pages_used() * kPageSize;
    }
  }
  uint64_t shared_anon = 0;
  for (pid_t pid : k.TaskIds()) {
    k.WithTask(pid, [&](Task& t) {
      const std::shared_ptr<kernel::GuestMemory> mem = t.memory_for_proc();
      if (mem == nullptr || mem->mm == nullptr) return;
      for (const auto& vma : mem->mm->Vmas()) {
        if (vma.shared) shared_anon += vma.resident;
      }
    });
  }
  const uint64_t total = k.config().total_memory;
  const uint64_t used = k.memory_file().UsedBytes();
  const uint64_t free = total > used ? total - used : 0;
  const uint64_t shmem = tmpfs + shared_anon;
  const uint64_t anon = used > shmem ? used - shmem : 0;
  std::string s;
  auto line = [&s](const char* name, uint64_t bytes) {
    absl::StrAppendFormat(&s, "%-16s%8d kB\n", name, bytes / 1024);
  };
  line("MemTotal:", total);
  line("MemFree:", free);
  line("MemAvailable:", free);
  line("Buffers:", 0);
  line("Cached:", tmpfs);
  line("SwapCached:", 0);
  line("SwapTotal:", 0);
  line("SwapFree:", 0);
  line("AnonPages:", anon);
  line("Mapped:", 0);
  line("Shmem:", shmem);
  return s;
}

std::string ProcStat(ProcFilesystem& fs) {
  kernel::Kernel& k = fs.kernel();
  const int cpus = k.config().num_cpus;
  const uint64_t up = Nanos(Elapsed(k.boot_time()));
  const uint64_t busy = BusyNanos();
  auto ticks = [](uint64_t ns) { return ns / (1000000000 / kClockTicks); };
  // The busy time is the Sentry's work for the tasks: system time, on cpu0.
  std::string s;
  const uint64_t idle_all = up * cpus > busy ? up * cpus - busy : 0;
  absl::StrAppendFormat(&s, "cpu  0 0 %d %d 0 0 0 0 0 0\n", ticks(busy), ticks(idle_all));
  for (int i = 0; i < cpus; ++i) {
    const uint64_t b = i == 0 ? busy : 0;
    absl::StrAppendFormat(&s, "cpu%d 0 0 %d %d 0 0 0 0 0 0\n", i, ticks(b),
                          ticks(up > b ? up - b : 0));
  }
  const std::vector<pid_t> tids = k.TaskIds();
  absl::StrAppendFormat(&s,
                        "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running %d\n"
                        "procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
                        k.boot_realtime().tv_sec, tids.empty() ? 0 : tids.back(), tids.size());
  return s;
}

std::string Uptime(ProcFilesystem& fs) {
  kernel::Kernel& k = fs.kernel();
  const uint64_t up = Nanos(Elapsed(k.boot_time()));
  const uint64_t busy = BusyNanos();
  const uint64_t all = up * k.config().num_cpus;
  const uint64_t idle = all > busy ? all - busy : 0;
  return absl::StrFormat("%d.%02d %d.%02d\n", up / 1000000000, up % 1000000000 / 10000000,
                         idle / 1000000000, idle % 1000000000 / 10000000);
}

std::string Loadavg(ProcFilesystem& fs) {
  const std::vector<pid_t> tids = fs.kernel().TaskIds();
  // Load averages are not sampled (no run queue yet); the task counts are
  // real: the reader is running.
  return absl::StrFormat("0.00 0.00 0.00 %d/%d %d\n", tids.empty() ? 0 : 1, tids.size(),
                         fs.kernel().LastPid());
}

// The System V IPC namespace of the reader (the initial one for the Sentry).
kernel::ipc::IpcNamespace& ReaderIpc(ProcFilesystem& fs) {
  Task* t = Task::Current();
  return t != nullptr ? t->ipc() : *fs.kernel().root_ipc_namespace();
}

// /proc/sysvipc/{shm,sem,msg} (sysvipc_*_proc_show).
std::string SysvipcShm(ProcFilesystem& fs) {
  std::string out =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  "
      "cgid      atime      dtime      ctime                   rss                  swap\n";
  for (const auto& s : ReaderIpc(fs).ShmAll()) {
    absl::StrAppendFormat(&out,
                          "%10d %10d  %4o %21u %5u %5u  %5u %5u %5u %5u %5u %10u %10u %10u %21u "
                          "%21u\n",
                          s.perm.key, s.id, s.perm.mode, s.size, s.cpid, s.lpid, s.nattch,
                          s.perm.uid, s.perm.gid, s.perm.cuid, s.perm.cgid, s.atime, s.dtime,
                          s.ctime, s.rss_pages * 4096, 0);
  }
  return out;
}

std::string SysvipcSem(ProcFilesystem& fs) {
  std::string out =
      "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
  for (const auto& s : ReaderIpc(fs).SemAll()) {
    absl::StrAppendFormat(&out, "%10d %10d  %4o %10u %5u %5u %5u %5u %10u %10u\n", s.perm.key, s.id,
                          s.perm.mode, s.nsems, s.perm.uid, s.perm.gid, s.perm.cuid, s.perm.cgid,
                          s.otime, s.ctime);
  }
  return out;
}

std::string SysvipcMsg(ProcFilesystem& fs) {
  std::string out =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      "
      "stime      rtime      ctime\n";
  for (const auto& q : ReaderIpc(fs).MsgAll()) {
    absl::StrAppendFormat(
        &out, "%10d %10d  %4o  %10u %10u %5u %5u %5u %5u %5u %5u %10u %10u %10u\n", q.perm.key,
        q.id, q.perm.mode, q.cbytes, q.qnum, q.lspid, q.lrpid, q.perm.uid, q.perm.gid, q.perm.cuid,
        q.perm.cgid, q.stime, q.rtime, q.ctime);
  }
  return out;
}

// The whitespace-separated integers of a sysctl write (proc_dointvec's
// parsing): EINVAL for anything else or more than `max` of them.
ErrnoOr<std::vector<int64_t>> ParseInts(std::string_view head, size_t max) {
  std::vector<int64_t> out;
  for (absl::string_view w : absl::StrSplit(absl::string_view(head.data(), head.size()),
                                            absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    int64_t v;
    if (!absl::SimpleAtoi(w, &v) || out.size() == max) return Errno(EINVAL);
    out.push_back(v);
  }
  if (out.empty()) return Errno(EINVAL);
  return out;
}

// Linux's default for pid_max: 32768, or 1024 per CPU, at most PID_MAX_LIMIT.
int PidMax(int cpus) { return std::min(4194304, std::max(32768, 1024 * cpus)); }

}  // namespace

std::string CpuMask(int n) {
  n = std::max(n, 1);
  std::string out;
  int chunk = n % 32 == 0 ? 32 : n % 32;
  for (int lo = (n - 1) / 32 * 32; lo >= 0; lo -= 32) {
    const uint32_t bits =
        static_cast<uint32_t>(chunk == 32 ? ~uint64_t{0} : (uint64_t{1} << chunk) - 1);
    absl::StrAppendFormat(&out, "%s%0*x", out.empty() ? "" : ",", (chunk + 3) / 4, bits);
    chunk = 32;
  }
  return out;
}

std::string CpuList(int n) { return n <= 1 ? "0" : absl::StrFormat("0-%d", n - 1); }

std::string MangleSpaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      absl::StrAppendFormat(&out, "\\%03o", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

ProcFilesystem::ProcFilesystem(kernel::Kernel& k)
    : SyntheticFilesystem("proc", kProcSuperMagic, 1024),
      kernel_(k),
      cpu_(ReadCpuInfo()),
      boot_id_(RandomUuid()) {}

vfs::VirtualDentry ProcFilesystem::ReaderRoot() const {
  Task* t = Task::Current();
  return t != nullptr ? t->fs_root() : kernel_.vfs().Root();
}

void ProcFilesystem::Build() {
  auto root = std::make_shared<ProcRoot>(*this, NextIno());
  const uint64_t root_ino = root->ino();
  auto file = [this](uint32_t perm, kernfs::GeneratedFile::Generator gen) {
    return std::make_shared<kernfs::GeneratedFile>(*this, NextIno(), perm, std::move(gen));
  };
  auto text = [](std::string s) {
    return [s = std::move(s)]() -> ErrnoOr<std::string> { return s; };
  };
  // A read-only sysctl: writing is EACCES even for root, as for Linux's 0444
  // sysctls.
  auto sysctl = [this](kernfs::GeneratedFile::Generator gen) {
    return std::make_shared<kernfs::GeneratedFile>(*this, NextIno(), 0444, std::move(gen), nullptr,
                                                   /*deny_write_open=*/true);
  };
  auto dir = [this](uint64_t parent) {
    return std::make_shared<kernfs::StaticDirectory>(*this, NextIno(), 0555, parent);
  };
  const kernel::KernelConfig& config = kernel_.config();

  // In name order, as Linux lists them.
  root->Add("cpuinfo", file(0444, [this]() -> ErrnoOr<std::string> {
              return FormatCpuinfo(cpu_, kernel_.config().num_cpus);
            }));
  root->Add("filesystems",
            file(0444, text("nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n")));
  root->Add("loadavg", file(0444, [this]() -> ErrnoOr<std::string> { return Loadavg(*this); }));
  root->Add("meminfo", file(0444, [this]() -> ErrnoOr<std::string> { return Meminfo(*this); }));
  root->Add("mounts",
            std::make_shared<kernfs::Symlink>(
                *this, NextIno(), []() -> ErrnoOr<std::string> { return "self/mounts"; }));
  root->Add("self",
            std::make_shared<kernfs::Symlink>(*this, NextIno(), []() -> ErrnoOr<std::string> {
              Task* t = Task::Current();
              if (t == nullptr) return Errno(ENOENT);  // a reader outside the pid namespace
              return std::to_string(t->tgid());
            }));
  root->Add("stat", file(0444, [this]() -> ErrnoOr<std::string> { return ProcStat(*this); }));

  auto sys = dir(root_ino);
  auto kern = dir(sys->ino());
  auto random = dir(kern->ino());
  random->Add("boot_id", sysctl(text(boot_id_ + "\n")));
  random->Add("uuid", sysctl([]() -> ErrnoOr<std::string> { return RandomUuid() + "\n"; }));
  kern->Add("cap_last_cap", sysctl(text("40\n")));
  AddIpcSysctls(*kern);
  // The reader's UTS namespace's names, up to a NUL; root (the file's mode)
  // may write them: the text up to a newline, at most __NEW_UTS_LEN bytes
  // (proc_do_uts_string).
  auto uts_of_reader = [this]() {
    Task* t = Task::Current();
    return t != nullptr ? t->uts_ns_snapshot() : kernel_.root_uts_namespace();
  };
  auto uts_file = [this, uts_of_reader](bool host) {
    return std::make_shared<kernfs::GeneratedFile>(
        *this, NextIno(), 0644,
        [uts_of_reader, host]() -> ErrnoOr<std::string> {
          std::shared_ptr<kernel::UtsNamespace> uts = uts_of_reader();
          std::string name = host ? uts->hostname() : uts->domainname();
          return name.substr(0, name.find('\0')) + "\n";
        },
        [uts_of_reader, host](std::string_view head, size_t total) -> ErrnoOr<size_t> {
          std::string name(head.substr(
              0, std::min(head.find_first_of(std::string_view("\n\0", 2)), kernel::kUtsLen)));
          std::shared_ptr<kernel::UtsNamespace> uts = uts_of_reader();
          if (host) {
            uts->set_hostname(std::move(name));
          } else {
            uts->set_domainname(std::move(name));
          }
          return total;
        });
  };
  kern->Add("domainname", uts_file(false));
  kern->Add("hostname", uts_file(true));
  kern->Add("ngroups_max", sysctl(text("65536\n")));
  kern->Add("osrelease", sysctl(text(std::string(kernel::kLinuxRelease) + "\n")));
  kern->Add("ostype", sysctl(text("Linux\n")));
  kern->Add("pid_max", sysctl(text(absl::StrFormat("%d\n", PidMax(config.num_cpus)))));
  kern->Add("random", random);
  auto vm = dir(sys->ino());
  // The memory manager keeps no commit accounting: it always overcommits
  // (mode 1). The limits are mm::Limits' and mm::Layout's.
  vm->Add("max_map_count", sysctl(text("65530\n")));
  vm->Add("mmap_min_addr", sysctl(text("65536\n")));
  vm->Add("overcommit_memory", sysctl(text("1\n")));
  // The pipe limits sentry/fsimpl/pipe applies (read-only here).
  auto fsdir = dir(sys->ino());
  fsdir->Add("pipe-max-size", sysctl(text(absl::StrFormat("%d\n", pipe::kPipeMaxSize))));
  fsdir->Add("pipe-user-pages-hard", sysctl(text("0\n")));
  fsdir->Add("pipe-user-pages-soft",
             sysctl(text(absl::StrFormat("%d\n", pipe::kPipeUserPagesSoft))));
  // POSIX message queue limits (ipc/mq_sysctl.c) of the reader's IPC
  // namespace: root may write them, within Linux's bounds (EINVAL outside;
  // queues_max is a plain proc_dointvec, any int).
  auto mq = dir(fsdir->ino());
  using MqLimit = std::atomic<int> fsimpl::mqueue::Limits::*;
  auto mq_file = [this](MqLimit field, int64_t lo, int64_t hi) {
    auto limit = [this, field]() -> std::atomic<int>& {
      return ReaderIpc(*this).mqueue().limits().*field;
    };
    return std::make_shared<kernfs::GeneratedFile>(
        *this, NextIno(), 0644,
        [limit]() -> ErrnoOr<std::string> { return absl::StrFormat("%d\n", limit().load()); },
        [limit, lo, hi](std::string_view head, size_t total) -> ErrnoOr<size_t> {
          int64_t n;
          if (!absl::SimpleAtoi(
                  absl::StripAsciiWhitespace(absl::string_view(head.data(), head.size())), &n) ||
              n < lo || n > hi) {
            return Errno(EINVAL);
          }
          limit().store(static_cast<int>(n));
          return total;
        });
  };
  using fsimpl::mqueue::Limits;
  mq->Add("msg_default",
          mq_file(&Limits::msg_default, fsimpl::mqueue::kMinMsgMax, fsimpl::mqueue::kHardMsgMax));
  mq->Add("msg_max",
          mq_file(&Limits::msg_max, fsimpl::mqueue::kMinMsgMax, fsimpl::mqueue::kHardMsgMax));
  mq->Add("msgsize_default", mq_file(&Limits::msgsize_default, fsimpl::mqueue::kMinMsgSizeMax,
                                     fsimpl::mqueue::kHardMsgSizeMax));
  mq->Add("msgsize_max", mq_file(&Limits::msgsize_max, fsimpl::mqueue::kMinMsgSizeMax,
                                 fsimpl::mqueue::kHardMsgSizeMax));
  mq->Add("queues_max", mq_file(&Limits::queues_max, INT32_MIN, INT32_MAX));
  fsdir->Add("mqueue", mq);
  // The inotify queue limit sentry/fsimpl/inotify applies (read-only here;
  // the per-user instance and watch limits are not enforced, so not shown).
  auto inotify_dir = dir(fsdir->ino());
  inotify_dir->Add("max_queued_events",
                   sysctl(text(absl::StrFormat("%d\n", fsimpl::inotify::kMaxQueuedEvents))));
  fsdir->Add("inotify", inotify_dir);
  sys->Add("fs", fsdir);
  sys->Add("kernel", kern);
  sys->Add("vm", vm);
  root->Add("sys", sys);
  auto sysvipc = dir(root_ino);
  sysvipc->Add("msg", file(0444, [this]() -> ErrnoOr<std::string> { return SysvipcMsg(*this); }));
  sysvipc->Add("sem", file(0444, [this]() -> ErrnoOr<std::string> { return SysvipcSem(*this); }));
  sysvipc->Add("shm", file(0444, [this]() -> ErrnoOr<std::string> { return SysvipcShm(*this); }));
  root->Add("sysvipc", sysvipc);

  root->Add("thread-self",
            std::make_shared<kernfs::Symlink>(*this, NextIno(), []() -> ErrnoOr<std::string> {
              Task* t = Task::Current();
              if (t == nullptr) return Errno(ENOENT);
              return absl::StrFormat("%d/task/%d", t->tgid(), t->tid());
            }));
  root->Add("uptime", file(0444, [this]() -> ErrnoOr<std::string> { return Uptime(*this); }));
  root->Add("version",
            file(0444, text(absl::StrFormat("Linux version %s (root@sandbox) (sandbox) %s\n",
                                            kernel::kLinuxRelease, kernel::kLinuxVersion))));
  set_root(std::move(root));
}

// kernel.{msg*,sem,shm*} (ipc/ipc_sysctl.c): per IPC namespace, the
// reader's; root may write them, within Linux's bounds.
void ProcFilesystem::AddIpcSysctls(kernfs::StaticDirectory& kern) {
  using Ns = kernel::ipc::IpcNamespace;
  // A sysctl of one number: `get` reads it from the namespace, `set` checks
  // and stores it (its errno for a value out of range).
  auto one = [this](std::function<int64_t(Ns&)> get, std::function<ErrnoOrOk(Ns&, int64_t)> set,
                    bool is_unsigned) {
    return std::make_shared<kernfs::GeneratedFile>(
        *this, NextIno(), 0644,
        [this, get, is_unsigned]() -> ErrnoOr<std::string> {
          const int64_t v = get(ReaderIpc(*this));
          return is_unsigned ? absl::StrFormat("%u\n", static_cast<uint64_t>(v))
                             : absl::StrFormat("%d\n", v);
        },
        [this, set, is_unsigned](std::string_view head, size_t total) -> ErrnoOr<size_t> {
          int64_t v;
          if (is_unsigned) {
            uint64_t u;
            if (!absl::SimpleAtoi(
                    absl::StripAsciiWhitespace(absl::string_view(head.data(), head.size())), &u)) {
              return Errno(EINVAL);
            }
            v = static_cast<int64_t>(u);
          } else {
            ASSIGN_OR_RETURN(auto vals, ParseInts(head, 1));
            v = vals[0];
          }
          RETURN_IF_ERROR(set(ReaderIpc(*this), v));
          return total;
        });
  };
  auto in_range = [](int64_t v, int64_t lo, int64_t hi) -> ErrnoOrOk {
    return v < lo || v > hi ? ErrnoOrOk(Errno(EINVAL)) : Ok();
  };
  constexpr int64_t kIntMax = INT32_MAX;
  kern.Add("msgmax", one([](Ns& ns) { return ns.msg_limits().msgmax; },
                         [in_range](Ns& ns, int64_t v) -> ErrnoOrOk {
                           RETURN_IF_ERROR(in_range(v, 0, kIntMax));
                           auto l = ns.msg_limits();
                           l.msgmax = static_cast<int>(v);
                           ns.set_msg_limits(l);
                           return Ok();
                         },
                         false));
  kern.Add("msgmnb", one([](Ns& ns) { return ns.msg_limits().msgmnb; },
                         [in_range](Ns& ns, int64_t v) -> ErrnoOrOk {
                           RETURN_IF_ERROR(in_range(v, 0, kIntMax));
                           auto l = ns.msg_limits();
                           l.msgmnb = static_cast<int>(v);
                           ns.set_msg_limits(l);
                           return Ok();
                         },
                         false));
  kern.Add("msgmni", one([](Ns& ns) { return ns.msg_limits().msgmni; },
                         [in_range](Ns& ns, int64_t v) -> ErrnoOrOk {
                           RETURN_IF_ERROR(in_range(v, 0, kernel::ipc::kIpcMni));
                           auto l = ns.msg_limits();
                           l.msgmni = static_cast<int>(v);
                           ns.set_msg_limits(l);
                           return Ok();
                         },
                         false));
  // kernel.sem: SEMMSL SEMMNS SEMOPM SEMMNI; a write sets as many as it
  // gives, and SEMMNI above IPCMNI is ERANGE (sem_check_semmni).
  kern.Add("sem", std::make_shared<kernfs::GeneratedFile>(
                      *this, NextIno(), 0644,
                      [this]() -> ErrnoOr<std::string> {
                        const auto l = ReaderIpc(*this).sem_limits();
                        return absl::StrFormat("%d\t%d\t%d\t%d\n", l.semmsl, l.semmns, l.semopm,
                                               l.semmni);
                      },
                      [this](std::string_view head, size_t total) -> ErrnoOr<size_t> {
                        ASSIGN_OR_RETURN(auto vals, ParseInts(head, 4));
                        for (int64_t v : vals) {
                          if (v < INT32_MIN || v > INT32_MAX) return Errno(EINVAL);
                        }
                        Ns& ns = ReaderIpc(*this);
                        auto l = ns.sem_limits();
                        int* fields[4] = {&l.semmsl, &l.semmns, &l.semopm, &l.semmni};
                        for (size_t i = 0; i < vals.size(); ++i) {
                          *fields[i] = static_cast<int>(vals[i]);
                        }
                        if (l.semmni > kernel::ipc::kIpcMni) return Errno(ERANGE);
                        ns.set_sem_limits(l);
                        return total;
                      }));
  kern.Add("shm_rmid_forced", one([](Ns& ns) { return ns.shm_limits().rmid_forced ? 1 : 0; },
                                  [in_range](Ns& ns, int64_t v) -> ErrnoOrOk {
                                    RETURN_IF_ERROR(in_range(v, 0, 1));
                                    auto l = ns.shm_limits();
                                    l.rmid_forced = v != 0;
                                    ns.set_shm_limits(l);
                                    return Ok();
                                  },
                                  false));
  kern.Add("shmall", one([](Ns& ns) { return static_cast<int64_t>(ns.shm_limits().shmall); },
                         [](Ns& ns, int64_t v) -> ErrnoOrOk {
                           auto l = ns.shm_limits();
                           l.shmall = static_cast<uint64_t>(v);
                           ns.set_shm_limits(l);
                           return Ok();
                         },
                         true));
  kern.Add("shmmax", one([](Ns& ns) { return static_cast<int64_t>(ns.shm_limits().shmmax); },
                         [](Ns& ns, int64_t v) -> ErrnoOrOk {
                           auto l = ns.shm_limits();
                           l.shmmax = static_cast<uint64_t>(v);
                           ns.set_shm_limits(l);
                           return Ok();
                         },
                         true));
  kern.Add("shmmni", one([](Ns& ns) { return static_cast<int64_t>(ns.shm_limits().shmmni); },
                         [in_range](Ns& ns, int64_t v) -> ErrnoOrOk {
                           RETURN_IF_ERROR(in_range(v, 0, kernel::ipc::kIpcMni));
                           auto l = ns.shm_limits();
                           l.shmmni = static_cast<uint64_t>(v);
                           ns.set_shm_limits(l);
                           return Ok();
                         },
                         false));
}

std::shared_ptr<vfs::Filesystem> NewProcFilesystem(kernel::Kernel& k) {
  auto fs = std::make_shared<ProcFilesystem>(k);
  fs->Build();
  return fs;
}

}  // namespace sentry::fsimpl::proc
