// /proc/<pid> and /proc/<pid>/task/<tid>: each file generated from the task's
// state when opened. Formats are Linux 6.1's (fs/proc/array.c, base.c,
// task_mmu.c, fd.c, proc_namespace.c).
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"
#include "sentry/base/user_addr.h"
#include "sentry/fsimpl/proc/proc_fs.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/mm/mm.h"

namespace sentry::fsimpl::proc {
namespace {

using kernel::Task;

// Inode numbers: a kind, the pid and an index, so that they are stable for
// as long as the task lives.
enum InoKind : uint64_t { kTgidEntry = 1, kThreadEntry = 2, kFdLink = 3, kFdInfo = 4, kNsLink = 5 };
uint64_t Ino(uint64_t kind, pid_t pid, uint64_t index) {
  return (kind << 56) | (uint64_t{static_cast<uint32_t>(pid)} << 24) | (index & 0xffffff);
}

// --- What the files show. ---

uint64_t Ticks(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * kClockTicks +
         static_cast<uint64_t>(ts.tv_nsec) / (1000000000 / kClockTicks);
}

timespec Sub(const timespec& a, const timespec& b) {
  timespec r{a.tv_sec - b.tv_sec, a.tv_nsec - b.tv_nsec};
  if (r.tv_nsec < 0) {
    r.tv_nsec += 1000000000;
    r.tv_sec--;
  }
  if (r.tv_sec < 0) r = {0, 0};
  return r;
}

// The memory counters Linux keeps per mm, computed from the VMAs.
struct MemStats {
  std::vector<mm::MemoryManager::VmaInfo> vmas;
  uint64_t total_vm = 0;   // bytes
  uint64_t rss_anon = 0;   // resident bytes of private mappings
  uint64_t rss_shmem = 0;  // resident bytes of shared mappings
  uint64_t locked = 0;
  uint64_t hiwater_rss = 0;  // the resident set's peak
  uint64_t data_vm = 0, stack_vm = 0, exec_vm = 0;
  uint64_t text = 0;  // the executable's code, page-rounded
};

// The task's memory, or null once it has exited (Linux's task->mm).
using MemoryRef = std::shared_ptr<kernel::GuestMemory>;

// An exited task's are all zero (no mm).
MemStats Stats(const MemoryRef& mem) {
  MemStats s;
  if (mem == nullptr || mem->mm == nullptr) return s;
  s.vmas = mem->mm->Vmas();
  for (const auto& v : s.vmas) {
    const uint64_t size = v.end - v.start;
    (v.shared ? s.rss_shmem : s.rss_anon) += v.resident;
    const bool write = v.prot & PROT_WRITE, exec = v.prot & PROT_EXEC;
    // Linux's is_stack_mapping, is_data_mapping, is_exec_mapping.
    if (v.growsdown) {
      s.stack_vm += size;
    } else if (write && !v.shared) {
      s.data_vm += size;
    } else if (exec && !write) {
      s.exec_vm += size;
    }
  }
  s.total_vm = mem->mm->VirtualSize();
  s.locked = mem->mm->LockedBytes();
  s.hiwater_rss = mem->mm->PeakResidentBytes();
  const loader::LoadResult& img = mem->image;
  const uint64_t end = (img.end_code + kPageSize - 1) & ~(kPageSize - 1);
  const uint64_t start = img.start_code & ~(kPageSize - 1);
  s.text = end > start ? end - start : 0;
  return s;
}

uint64_t SigMask(Task& t, bool ignored) {
  uint64_t m = 0;
  for (int sig = 1; sig <= kernel::kNumSignals; ++sig) {
    const uint64_t h = t.sigaction(sig).handler;
    if (ignored ? h == 1 : h > 1) m |= kernel::SigBit(sig);
  }
  return m;
}

std::string LimitValue(rlim_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : absl::StrFormat("%d", v);
}

// Reads guest memory [start, end) (what can be read of it).
std::string ReadGuest(const MemoryRef& mem, uint64_t start, uint64_t end) {
  if (end <= start || mem == nullptr || mem->mm == nullptr) return "";
  // argv and envp are bounded by the exec limits; bound the copy anyway.
  const size_t len = std::min<uint64_t>(end - start, 64 << 20);
  std::string buf(len, '\0');
  auto r = mem->mm->CopyIn(UserAddr(start), {reinterpret_cast<uint8_t*>(buf.data()), len});
  buf.resize(r.done);
  return buf;
}

ErrnoOr<std::string> Cmdline(Task& t) {
  const MemoryRef mem = t.memory_for_proc();
  if (mem == nullptr) return std::string();  // exited: no mm
  const loader::LoadResult& img = mem->image;
  uint64_t arg_start = img.arg_start, arg_end = img.arg_end;
  uint64_t env_start = img.env_start, env_end = img.env_end;
  if (arg_start >= arg_end) return std::string();
  // setproctitle(3) may run on past argv into the environment area.
  if (env_start != arg_end || env_end < env_start) env_start = env_end = arg_end;
  const std::string last = ReadGuest(mem, arg_end - 1, arg_end);
  if (last.empty() || last[0] == '\0') return ReadGuest(mem, arg_start, arg_end);
  // get_mm_proctitle: one page from arg_start, up to the first NUL.
  std::string all = ReadGuest(mem, arg_start, std::min(env_end, arg_start + kPageSize));
  const size_t nul = all.find('\0');
  if (nul != std::string::npos) all.resize(nul + 1);
  return all;
}

ErrnoOr<std::string> Stat(ProcFilesystem& fs, Task& t) {
  kernel::Kernel& k = fs.kernel();
  const MemoryRef mem = t.memory_for_proc();
  const MemStats m = Stats(mem);
  // An exited task has no mm: its addresses are 0.
  const loader::LoadResult img = mem != nullptr ? mem->image : loader::LoadResult{};
  const uint64_t start_time = Ticks(Sub(t.start_time(), k.boot_time()));
  const rlim_t rsslim = t.rlimit_of(RLIMIT_RSS).rlim_cur;
  // User time: the guest's in its stubs; system time: the host's for the
  // stubs and the Sentry's work for the task (Task::OwnUsage).
  const kernel::ThreadGroup::Usage u = t.OwnUsage();
  const uint64_t utime = static_cast<uint64_t>(u.user_ns) / (1000000000 / kClockTicks);
  const uint64_t stime = static_cast<uint64_t>(u.sys_ns) / (1000000000 / kClockTicks);
  const uint64_t flags = k.config().randomize ? 0x400000 : 0;  // PF_RANDOMIZE
  const Task::ProcView v = t.View();
  std::string s =
      absl::StrFormat("%d (%s) %c %d %d %d %d %d %u %d %d %d %d %d %d %d %d %d %d %d 0 %d", t.tid(),
                      t.comm(), v.state, t.ppid(), t.pgid(), t.sid(),
                      /*tty_nr=*/0, /*tpgid=*/-1, flags, u.minflt, 0, 0, 0, utime, stime, 0, 0,
                      /*priority=*/20, /*nice=*/0, v.threads, start_time);
  s += absl::StrFormat(" %d %d %d %d %d %d %d %d", m.total_vm,
                       (m.rss_anon + m.rss_shmem) / kPageSize, rsslim, img.start_code, img.end_code,
                       img.stack_pointer, 0, 0);
  // Signals, decimal and only the first 31, "for Linux 2.0 compatibility".
  s += absl::StrFormat(" %d %d %d %d", (v.pending | v.shared_pending) & 0x7fffffff,
                       v.blocked & 0x7fffffff, SigMask(t, true) & 0x7fffffff,
                       SigMask(t, false) & 0x7fffffff);
  s += absl::StrFormat(" 0 0 0 %d 0 0 0 0 0 0",
                       v.exit_signal);  // wchan, nswap, cnswap, exit_signal...
  s += absl::StrFormat(" %d %d %d %d %d %d %d 0\n", img.start_data, img.end_data, img.start_brk,
                       img.arg_start, img.arg_end, img.env_start, img.env_end);
  return s;
}

ErrnoOr<std::string> Statm(Task& t) {
  const MemStats m = Stats(t.memory_for_proc());
  return absl::StrFormat("%d %d %d %d 0 %d 0\n", m.total_vm / kPageSize,
                         (m.rss_anon + m.rss_shmem) / kPageSize, m.rss_shmem / kPageSize,
                         m.text / kPageSize, (m.data_vm + m.stack_vm) / kPageSize);
}

// status's Name: backslashes and newlines escaped.
std::string EscapedComm(const std::string& comm) {
  std::string out;
  for (char c : comm) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

ErrnoOr<std::string> Status(ProcFilesystem& fs, Task& t) {
  kernel::Kernel& k = fs.kernel();
  const MemoryRef mem = t.memory_for_proc();
  const std::shared_ptr<kernel::FsContext> fsc = t.fs_for_proc();
  const MemStats m = Stats(mem);
  // Another task's credentials: a snapshot (they may change meanwhile).
  const std::shared_ptr<const kernel::Credentials> creds = t.creds_snapshot();
  const kernel::Credentials& c = *creds;
  int max_fd = -1;
  for (const auto& [fd, e] : t.fds_for_proc()->Snapshot()) max_fd = std::max(max_fd, fd);
  int fd_size = 64;
  while (fd_size <= max_fd) fd_size *= 2;
  if (t.dead()) fd_size = 0;  // no files any more
  auto kb = [](uint64_t bytes) { return absl::StrFormat("%8d kB", bytes / 1024); };
  std::string s;
  const Task::ProcView v = t.View();
  const char* state_name = v.state == 'R'   ? "R (running)"
                           : v.state == 'T' ? "T (stopped)"
                           : v.state == 'Z' ? "Z (zombie)"
                                            : "S (sleeping)";
  // No Umask line once the task has no fs context (get_task_umask: ENOENT).
  s += absl::StrFormat("Name:\t%s\n", EscapedComm(t.comm()));
  if (fsc != nullptr) s += absl::StrFormat("Umask:\t%04o\n", fsc->umask());
  s += absl::StrFormat("State:\t%s\n", state_name);
  s += absl::StrFormat("Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", t.tgid(),
                       t.tid(), t.ppid());
  s += absl::StrFormat("Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n", c.ruid, c.euid, c.suid,
                       c.fsuid, c.rgid, c.egid, c.sgid, c.fsgid);
  // The supplementary groups, space-separated; Linux adds a trailing space.
  s += absl::StrFormat("FDSize:\t%d\nGroups:\t", fd_size);
  for (size_t i = 0; i < c.groups.size(); ++i) {
    s += absl::StrFormat("%s%d", i == 0 ? "" : " ", c.groups[i]);
  }
  s += " \n";
  s += absl::StrFormat("NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n", t.tgid(), t.tid(),
                       t.pgid(), t.sid());
  const uint64_t rss = m.rss_anon + m.rss_shmem;
  const uint64_t lib = m.exec_vm > m.text ? m.exec_vm - m.text : 0;
  // VmHWM is the resident set's peak; VmPeak is the current size (no peak kept).
  // Without an mm (exited) the Vm*, CoreDumping and THP_enabled lines are
  // left out, as Linux's.
  if (mem != nullptr) {
    s += absl::StrFormat(
        "VmPeak:\t%s\nVmSize:\t%s\nVmLck:\t%s\nVmPin:\t%s\nVmHWM:\t%s\nVmRSS:\t%s\n"
        "RssAnon:\t%s\nRssFile:\t%s\nRssShmem:\t%s\nVmData:\t%s\nVmStk:\t%s\nVmExe:\t%s\n"
        "VmLib:\t%s\nVmPTE:\t%s\nVmSwap:\t%s\nHugetlbPages:\t%s\n",
        kb(m.total_vm), kb(m.total_vm), kb(m.locked), kb(0), kb(std::max(rss, m.hiwater_rss)),
        kb(rss), kb(m.rss_anon), kb(0), kb(m.rss_shmem), kb(m.data_vm), kb(m.stack_vm), kb(m.text),
        kb(lib), kb(0), kb(0), kb(0));
    s += "CoreDumping:\t0\nTHP_enabled:\t0\n";
  }
  s += absl::StrFormat("Threads:\t%d\n", v.threads);
  s += absl::StrFormat("SigQ:\t%d/%d\n", v.queued, t.rlimit_of(RLIMIT_SIGPENDING).rlim_cur);
  s += absl::StrFormat(
      "SigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\n"
      "SigCgt:\t%016x\n",
      v.pending, v.shared_pending, v.blocked, SigMask(t, true), SigMask(t, false));
  s += absl::StrFormat(
      "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\n"
      "CapAmb:\t%016x\n",
      c.cap_inheritable, c.cap_permitted, c.cap_effective, c.cap_bounding, c.cap_ambient);
  s += absl::StrFormat("NoNewPrivs:\t%d\n", t.no_new_privs.load() ? 1 : 0);
  // The Sentry's own seccomp filter is not the guest's: the guest has none.
  s += "Seccomp:\t0\nSeccomp_filters:\t0\n";
  s += "Speculation_Store_Bypass:\tunknown\nSpeculationIndirectBranch:\tunknown\n";
  const int cpus = k.config().num_cpus;
  s += absl::StrFormat("Cpus_allowed:\t%s\nCpus_allowed_list:\t%s\n", CpuMask(cpus), CpuList(cpus));
  std::string mems;
  for (int i = 0; i < 31; ++i) mems += "00000000,";
  s += absl::StrFormat("Mems_allowed:\t%s00000001\nMems_allowed_list:\t0\n", mems);
  s += "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n";
  return s;
}

ErrnoOr<std::string> Limits(Task& t) {
  struct Name {
    const char* name;
    const char* unit;
  };
  static constexpr Name kNames[RLIM_NLIMITS] = {
      {"Max cpu time", "seconds"},        {"Max file size", "bytes"},
      {"Max data size", "bytes"},         {"Max stack size", "bytes"},
      {"Max core file size", "bytes"},    {"Max resident set", "bytes"},
      {"Max processes", "processes"},     {"Max open files", "files"},
      {"Max locked memory", "bytes"},     {"Max address space", "bytes"},
      {"Max file locks", "locks"},        {"Max pending signals", "signals"},
      {"Max msgqueue size", "bytes"},     {"Max nice priority", nullptr},
      {"Max realtime priority", nullptr}, {"Max realtime timeout", "us"},
  };
  std::string s =
      absl::StrFormat("%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units");
  for (int i = 0; i < RLIM_NLIMITS; ++i) {
    const rlimit& l = t.rlimit_of(i);
    s += absl::StrFormat("%-25s %-20s %-20s ", kNames[i].name, LimitValue(l.rlim_cur),
                         LimitValue(l.rlim_max));
    s += kNames[i].unit != nullptr ? absl::StrFormat("%-10s\n", kNames[i].unit) : "\n";
  }
  return s;
}

// --- maps and smaps. ---

std::string MapsLine(const mm::MemoryManager::VmaInfo& v) {
  // A file mapping's offset (of its first page), device and inode as its
  // stat shows them; zeros for anonymous memory (show_map_vma).
  std::string line = absl::StrFormat(
      "%08x-%08x %c%c%c%c %08x %02x:%02x %u ", v.start, v.end, (v.prot & PROT_READ) ? 'r' : '-',
      (v.prot & PROT_WRITE) ? 'w' : '-', (v.prot & PROT_EXEC) ? 'x' : '-', v.shared ? 's' : 'p',
      v.offset, major(v.dev), minor(v.dev), v.ino);
  if (!v.name.empty()) {
    // seq_pad to 25 + 6 * sizeof(void*) - 1 columns, then a space.
    if (line.size() < 72) line.append(72 - line.size(), ' ');
    line += ' ';
    for (char c : v.name) {
      if (c == '\n') {
        line += "\\012";
      } else {
        line += c;
      }
    }
  }
  line += '\n';
  return line;
}

std::string SmapsEntry(const mm::MemoryManager::VmaInfo& v) {
  auto field = [](const char* name, uint64_t bytes) {
    return absl::StrFormat("%s%8d kB\n", name, bytes / 1024);
  };
  const uint64_t rss = v.resident;
  std::string s = MapsLine(v);
  s += field("Size:           ", v.end - v.start);
  s += field("KernelPageSize: ", kPageSize);
  s += field("MMUPageSize:    ", kPageSize);
  s += field("Rss:            ", rss);
  // One address space: every resident page is mapped once, private, and
  // (anonymous memory being written to be resident) dirty.
  s += field("Pss:            ", rss);
  s += field("Pss_Dirty:      ", rss);
  s += field("Shared_Clean:   ", 0);
  s += field("Shared_Dirty:   ", 0);
  s += field("Private_Clean:  ", 0);
  s += field("Private_Dirty:  ", rss);
  s += field("Referenced:     ", rss);
  s += field("Anonymous:      ", v.shared ? 0 : rss);
  s += field("LazyFree:       ", 0);
  s += field("AnonHugePages:  ", 0);
  s += field("ShmemPmdMapped: ", 0);
  s += field("FilePmdMapped:  ", 0);
  s += field("Shared_Hugetlb: ", 0);
  s += absl::StrFormat("Private_Hugetlb: %7d kB\n", 0);
  s += field("Swap:           ", 0);
  s += field("SwapPss:        ", 0);
  s += field("Locked:         ", v.locked ? rss : 0);
  s += "THPeligible:    0\n";
  std::string flags = "VmFlags:";
  auto flag = [&](bool on, const char* f) {
    if (on) absl::StrAppendFormat(&flags, " %s", f);
  };
  flag(v.prot & PROT_READ, "rd");
  flag(v.prot & PROT_WRITE, "wr");
  flag(v.prot & PROT_EXEC, "ex");
  flag(v.shared, "sh");
  flags += " mr mw me";
  flag(v.shared, "ms");
  flag(v.growsdown, "gd");
  flag(v.locked, "lo");
  // VM_ACCOUNT: private writable memory is committed.
  flag(!v.shared && (v.prot & PROT_WRITE), "ac");
  s += flags + " \n";
  return s;
}

// --- Mounts, as the task sees them from its root. ---

std::string MountOptions(const vfs::Mount& m) {
  std::string o = m.read_only ? "ro" : "rw";
  if (m.nosuid) o += ",nosuid";
  if (m.nodev) o += ",nodev";
  if (m.noexec) o += ",noexec";
  return o;
}

ErrnoOr<std::string> Mounts(ProcFilesystem& fs, pid_t pid, bool info) {
  // An exited task has no namespaces: EINVAL (mounts_open_common).
  ASSIGN_OR_RETURN(vfs::VirtualDentry root, OnTask(fs.kernel(), pid, [](Task& t) {
                     const std::shared_ptr<kernel::FsContext> c = t.fs_for_proc();
                     if (c == nullptr) return ErrnoOr<vfs::VirtualDentry>(Errno(EINVAL));
                     return ErrnoOr<vfs::VirtualDentry>(c->root());
                   }));
  vfs::VirtualFilesystem& v = fs.kernel().vfs();
  v.AssertLocked();  // generated in Open, under the VFS lock
  std::string out;
  for (const std::shared_ptr<vfs::Mount>& m : v.MountsLocked()) {
    bool reachable = false;
    const std::string path = v.PathOfLocked(root, {m, m->root}, &reachable);
    if (!reachable) continue;  // outside the task's root
    const std::string name(m->fs->Name());
    if (info) {
      const uint64_t dev = m->fs->Dev();
      out += absl::StrFormat("%d %d %d:%d / %s %s - %s %s rw\n", m->id,
                             m->parent ? m->parent->id : m->id, major(dev), minor(dev),
                             MangleSpaces(path), MountOptions(*m), name, name);
    } else {
      out += absl::StrFormat("%s %s %s %s 0 0\n", name, MangleSpaces(path), name, MountOptions(*m));
    }
  }
  return out;
}

// --- Inodes. ---

// Something of task `pid`: owned by its effective ids (Linux's
// task_dump_owner for a dumpable task), and gone when the task is.
template <typename Base>
class OfTask : public Base {
 public:
  template <typename... Args>
  OfTask(ProcFilesystem& fs, pid_t pid, Args&&... args)
      : Base(fs, std::forward<Args>(args)...), pfs_(fs), pid_(pid) {}

  bool Valid() override {
    return pfs_.kernel().WithProcTask(pid_, [](Task&) {});
  }

 protected:
  vfs::Owner Owner() const override {
    vfs::Owner o;
    pfs_.kernel().WithProcTask(pid_, [&](Task& t) {
      const std::shared_ptr<const kernel::Credentials> c = t.creds_snapshot();
      o = {c->euid, c->egid};
    });
    return o;
  }

  ProcFilesystem& pfs_;
  const pid_t pid_;
};

using TaskFile = OfTask<kernfs::GeneratedFile>;
using TaskLink = OfTask<kernfs::Symlink>;

// A file generated from the task alone.
std::shared_ptr<vfs::Inode> TaskGenerated(ProcFilesystem& fs, pid_t pid, uint64_t ino,
                                          uint32_t perm,
                                          std::function<ErrnoOr<std::string>(Task&)> gen,
                                          kernfs::GeneratedFile::Writer write = nullptr) {
  return std::make_shared<TaskFile>(
      fs, pid, ino, perm,
      [&fs, pid, gen = std::move(gen)]() { return OnTask(fs.kernel(), pid, gen); },
      std::move(write));
}

// The task's working directory or root; ENOENT once it has exited (no fs
// context, as Linux's get_task_root/get_fs_pwd).
ErrnoOr<vfs::VirtualDentry> Location(ProcFilesystem& fs, pid_t pid, bool cwd) {
  return OnTask(fs.kernel(), pid, [cwd](Task& t) -> ErrnoOr<vfs::VirtualDentry> {
    const std::shared_ptr<kernel::FsContext> c = t.fs_for_proc();
    if (c == nullptr) return Errno(ENOENT);
    return cwd ? c->cwd() : c->root();
  });
}

// cwd and root: magic links to the task's locations, read as paths from
// the reader's root.
class LocationMagicLink : public TaskLink {
 public:
  LocationMagicLink(ProcFilesystem& fs, pid_t pid, uint64_t ino, bool cwd,
                    kernfs::Symlink::Target target)
      : TaskLink(fs, pid, ino, std::move(target)), cwd_(cwd) {}
  bool IsMagicLink() override { return true; }
  ErrnoOr<vfs::MagicLinkTarget> FollowMagicLink() override {
    const bool cwd = cwd_;
    ASSIGN_OR_RETURN(vfs::VirtualDentry vd, Location(pfs_, pid_, cwd));
    return vfs::MagicLinkTarget{vd.mount, vd.dentry, nullptr};
  }

 private:
  const bool cwd_;
};

std::shared_ptr<vfs::Inode> LocationLink(ProcFilesystem& fs, pid_t pid, uint64_t ino, bool cwd) {
  return std::make_shared<LocationMagicLink>(
      fs, pid, ino, cwd, [&fs, pid, cwd]() -> ErrnoOr<std::string> {
        ASSIGN_OR_RETURN(vfs::VirtualDentry vd, Location(fs, pid, cwd));
        vfs::VirtualFilesystem& v = fs.kernel().vfs();
        v.AssertLocked();  // Readlink runs under the VFS lock
        return v.PathOfLocked(fs.ReaderRoot(), vd);
      });
}

// /proc/<pid>/fd/<n>: a symlink to the file's path, or to what the file
// says it is ("host:[...]") when it has no place in the VFS. Its mode
// follows the file's access mode, as Linux's.
class FdLink : public OfTask<kernfs::SyntheticInode> {
 public:
  FdLink(ProcFilesystem& fs, pid_t pid, int fd)
      : OfTask(fs, pid, Ino(kFdLink, pid, static_cast<uint64_t>(fd)), S_IFLNK | 0700), fd_(fd) {}

  bool Valid() override { return File().ok(); }

  ErrnoOr<std::string> Readlink() override {
    ASSIGN_OR_RETURN(std::shared_ptr<vfs::FileDescription> f, File());
    if (!f->location().ok()) return f->Describe();
    vfs::VirtualFilesystem& v = pfs_.kernel().vfs();
    v.AssertLocked();  // Readlink runs under the VFS lock
    return v.PathOfLocked(pfs_.ReaderRoot(), f->location());
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Errno(ELOOP);
  }

  // A magic link: opening it reaches the open file itself.
  bool IsMagicLink() override { return true; }
  ErrnoOr<vfs::MagicLinkTarget> FollowMagicLink() override {
    ASSIGN_OR_RETURN(std::shared_ptr<vfs::FileDescription> f, File());
    if (f->location().ok())
      return vfs::MagicLinkTarget{f->location().mount, f->location().dentry, nullptr};
    return vfs::MagicLinkTarget{nullptr, nullptr, std::move(f)};
  }

 protected:
  uint64_t Size() const override { return 64; }  // as Linux's fd links
  uint32_t Mode() const override {
    auto f = File();
    if (!f.ok()) return S_IFLNK;
    const int flags = (*f)->status_flags();
    if (flags & O_PATH) return S_IFLNK;
    uint32_t mode = S_IFLNK;
    const int acc = flags & O_ACCMODE;
    if (acc == O_RDONLY || acc == O_RDWR) mode |= S_IRUSR | S_IXUSR;
    if (acc == O_WRONLY || acc == O_RDWR) mode |= S_IWUSR | S_IXUSR;
    return mode;
  }

 private:
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> File() const {
    return OnTask(pfs_.kernel(), pid_, [this](Task& t) { return t.fds_for_proc()->Get(fd_); });
  }
  const int fd_;
};

// /proc/<pid>/fdinfo/<n>.
std::shared_ptr<vfs::Inode> FdInfo(ProcFilesystem& fs, pid_t pid, int fd) {
  auto gen = [&fs, pid, fd]() -> ErrnoOr<std::string> {
    // Copy the entry out first: the file's own calls may need the task set.
    ASSIGN_OR_RETURN(kernel::FdTable::Entry e, OnTask(fs.kernel(), pid, [fd](Task& t) {
                       return t.fds_for_proc()->GetEntry(fd);
                     }));
    auto pos = e.file->Seek(0, SEEK_CUR);
    int flags = e.file->status_flags();
    if (e.cloexec) flags |= O_CLOEXEC;
    const int mnt_id = e.file->location().ok() ? static_cast<int>(e.file->location().mount->id) : 0;
    auto st = e.file->Stat();
    return absl::StrFormat("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n%s", pos.ok() ? *pos : 0,
                           flags, mnt_id, st.ok() ? st->st_ino : 0, e.file->FdInfo());
  };
  class Info : public TaskFile {
   public:
    Info(ProcFilesystem& fs, pid_t pid, int fd, kernfs::GeneratedFile::Generator gen)
        : TaskFile(fs, pid, Ino(kFdInfo, pid, static_cast<uint64_t>(fd)), 0400, std::move(gen)),
          fd_(fd) {}
    bool Valid() override {
      return OnTask(pfs_.kernel(), pid_, [this](Task& t) { return t.fds_for_proc()->Get(fd_); })
          .ok();
    }

   private:
    const int fd_;
  };
  return std::make_shared<Info>(fs, pid, fd, std::move(gen));
}

// A file descriptor number as /proc spells it: decimal, no sign, no leading
// zero.
ErrnoOr<int> ParseFd(std::string_view name) {
  if (name.empty() || (name[0] == '0' && name.size() > 1)) return Errno(ENOENT);
  int fd = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
  if (ec != std::errc() || p != name.data() + name.size() || fd < 0) return Errno(ENOENT);
  return fd;
}

// /proc/<pid>/fd and /proc/<pid>/fdinfo.
class FdDir : public OfTask<kernfs::Directory> {
 public:
  FdDir(ProcFilesystem& fs, pid_t pid, uint64_t ino, uint32_t perm, uint64_t parent_ino, bool info)
      : OfTask(fs, pid, ino, perm, parent_ino), info_(info) {}

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    ASSIGN_OR_RETURN(int fd, ParseFd(name));
    auto f = OnTask(pfs_.kernel(), pid_, [fd](Task& t) { return t.fds_for_proc()->Get(fd); });
    if (!f.ok()) return Errno(ENOENT);
    if (info_) return FdInfo(pfs_, pid_, fd);
    return std::shared_ptr<vfs::Inode>(std::make_shared<FdLink>(pfs_, pid_, fd));
  }

  ErrnoOr<std::vector<Entry>> List() override {
    ASSIGN_OR_RETURN(auto fds, OnTask(pfs_.kernel(), pid_, [](Task& t) {
                       return ErrnoOr<std::vector<std::pair<int, kernel::FdTable::Entry>>>(
                           t.fds_for_proc()->Snapshot());
                     }));
    std::vector<Entry> out;
    out.reserve(fds.size());
    for (const auto& [fd, e] : fds) {
      out.push_back({std::to_string(fd), Ino(info_ ? kFdInfo : kFdLink, pid_, fd),
                     static_cast<uint8_t>(info_ ? DT_REG : DT_LNK), int64_t{fd} + 2});
    }
    return out;
  }

 private:
  const bool info_;
};

// /proc/<pid>/ns/<kind>: a magic link to the task's namespace of that kind
// ("uts:[4026531838]"); opening it gives an nsfs file (setns(2)). Reading
// or following it needs PTRACE_MODE_READ_FSCREDS access to the task (EACCES).
class NsLink : public OfTask<kernfs::SyntheticInode> {
 public:
  NsLink(ProcFilesystem& fs, pid_t pid, size_t kind)
      : OfTask(fs, pid, Ino(kNsLink, pid, kind), S_IFLNK | 0777), kind_(kind) {}

  ErrnoOr<std::string> Readlink() override {
    ASSIGN_OR_RETURN(auto f, File());
    return f->Describe();
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    return Errno(ELOOP);
  }

  bool IsMagicLink() override { return true; }
  ErrnoOr<vfs::MagicLinkTarget> FollowMagicLink() override {
    ASSIGN_OR_RETURN(auto f, File());
    return vfs::MagicLinkTarget{nullptr, nullptr, std::move(f)};
  }

 private:
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> File() const {
    const kernel::NsKind& kind = kernel::kNsKinds[kind_];
    Task* reader = Task::Current();
    return OnTask(
        pfs_.kernel(), pid_, [&](Task& t) -> ErrnoOr<std::shared_ptr<vfs::FileDescription>> {
          if (reader != nullptr && &reader->thread_group() != &t.thread_group() &&
              !kernel::PtraceMayAccess(*reader->creds_snapshot(), *t.creds_snapshot(),
                                       t.dumpable == 1, /*fscreds=*/true)) {
            return Errno(EACCES);
          }
          if (kind.type == CLONE_NEWUTS) {
            auto uts = t.uts_ns_snapshot();
            const uint32_t ino = uts->inode();
            return std::make_shared<kernel::NsFile>(kind.type, ino, std::move(uts), nullptr);
          }
          if (kind.type == CLONE_NEWIPC) {
            auto ipc = t.ipc_ns_snapshot();
            const uint32_t ino = ipc->inode();
            return std::make_shared<kernel::NsFile>(kind.type, ino, nullptr, std::move(ipc));
          }
          return std::make_shared<kernel::NsFile>(kind.type, kernel::SingletonNsInode(kind.type),
                                                  nullptr, nullptr);
        });
  }
  const size_t kind_;
};

// /proc/<pid>/ns.
class NsDir : public OfTask<kernfs::Directory> {
 public:
  using OfTask::OfTask;

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    for (size_t i = 0; i < std::size(kernel::kNsKinds); ++i) {
      if (name == kernel::kNsKinds[i].name) {
        if (!Valid()) return Errno(ENOENT);
        return std::shared_ptr<vfs::Inode>(std::make_shared<NsLink>(pfs_, pid_, i));
      }
    }
    return Errno(ENOENT);
  }

  ErrnoOr<std::vector<Entry>> List() override {
    if (!Valid()) return Errno(ENOENT);
    std::vector<Entry> out;
    for (size_t i = 0; i < std::size(kernel::kNsKinds); ++i) {
      out.push_back(
          {kernel::kNsKinds[i].name, Ino(kNsLink, pid_, i), DT_LNK, static_cast<int64_t>(i) + 2});
    }
    return out;
  }
};

// The entries of /proc/<pid> (Linux's tgid_base_stuff order).
struct EntrySpec {
  const char* name;
  uint8_t type;
  uint32_t perm;
  bool tgid_only;  // not in task/<tid>/
};
constexpr EntrySpec kEntries[] = {
    {"task", DT_DIR, 0555, true},     {"fd", DT_DIR, 0500, false},
    {"fdinfo", DT_DIR, 0555, false},  {"ns", DT_DIR, 0511, false},
    {"environ", DT_REG, 0400, false}, {"auxv", DT_REG, 0400, false},
    {"status", DT_REG, 0444, false},  {"limits", DT_REG, 0444, false},
    {"comm", DT_REG, 0644, false},    {"cmdline", DT_REG, 0444, false},
    {"stat", DT_REG, 0444, false},    {"statm", DT_REG, 0444, false},
    {"maps", DT_REG, 0444, false},    {"cwd", DT_LNK, 0777, false},
    {"root", DT_LNK, 0777, false},    {"exe", DT_LNK, 0777, false},
    {"mounts", DT_REG, 0444, false},  {"mountinfo", DT_REG, 0444, false},
    {"smaps", DT_REG, 0444, false},   {"personality", DT_REG, 0400, false},
};
constexpr size_t kNumEntries = sizeof(kEntries) / sizeof(kEntries[0]);

class TaskDir : public OfTask<kernfs::Directory> {
 public:
  TaskDir(ProcFilesystem& fs, pid_t pid, bool thread, uint64_t parent_ino)
      : OfTask(fs, pid, TaskDirIno(pid, thread), 0555, parent_ino), thread_(thread) {}

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    for (size_t i = 0; i < kNumEntries; ++i) {
      if (name == kEntries[i].name && !(thread_ && kEntries[i].tgid_only)) return Make(i);
    }
    return Errno(ENOENT);
  }

  ErrnoOr<std::vector<Entry>> List() override {
    std::vector<Entry> out;
    for (size_t i = 0; i < kNumEntries; ++i) {
      if (thread_ && kEntries[i].tgid_only) continue;
      out.push_back({kEntries[i].name, EntryIno(i), kEntries[i].type, static_cast<int64_t>(i) + 2});
    }
    return out;
  }

 protected:
  uint64_t Nlink() const override { return thread_ ? 5 : 6; }  // ., .., fd, fdinfo, ns (, task)

 private:
  uint64_t EntryIno(size_t i) const {
    return Ino(thread_ ? kThreadEntry : kTgidEntry, pid_, i + 1);
  }

  std::shared_ptr<vfs::Inode> Make(size_t i);

  const bool thread_;
};

// /proc/<pid>/task: the threads of the process (its exited leader too,
// until the process is reaped).
class TaskListDir : public OfTask<kernfs::Directory> {
 public:
  using OfTask::OfTask;

  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view name) override {
    ASSIGN_OR_RETURN(int tid, ParseFd(name));
    const std::vector<pid_t> tids = Threads();
    if (std::find(tids.begin(), tids.end(), tid) == tids.end()) return Errno(ENOENT);
    return NewTaskDir(pfs_, tid, true, ino());
  }

  ErrnoOr<std::vector<Entry>> List() override {
    if (!Valid()) return Errno(ENOENT);
    std::vector<Entry> out;
    for (pid_t tid : Threads()) {
      // Positions by tid: stable while threads come and go.
      out.push_back({std::to_string(tid), TaskDirIno(tid, true), DT_DIR, int64_t{tid} + 2});
    }
    return out;
  }

 protected:
  uint64_t Nlink() const override { return 2 + Threads().size(); }

 private:
  // The thread group of the task this directory belongs to.
  std::vector<pid_t> Threads() const {
    pid_t tgid = 0;
    pfs_.kernel().WithProcTask(pid_, [&](Task& t) { tgid = t.tgid(); });
    return tgid == 0 ? std::vector<pid_t>{} : pfs_.kernel().ThreadIds(tgid);
  }
};

std::shared_ptr<vfs::Inode> TaskDir::Make(size_t i) {
  ProcFilesystem& fs = pfs_;
  const pid_t pid = pid_;
  const uint64_t ino = EntryIno(i);
  const std::string_view name = kEntries[i].name;
  const uint32_t perm = kEntries[i].perm;
  if (name == "task") return std::make_shared<TaskListDir>(fs, pid, ino, perm, this->ino());
  if (name == "fd") return std::make_shared<FdDir>(fs, pid, ino, perm, this->ino(), false);
  if (name == "fdinfo") return std::make_shared<FdDir>(fs, pid, ino, perm, this->ino(), true);
  if (name == "ns") return std::make_shared<NsDir>(fs, pid, ino, perm, this->ino());
  if (name == "cwd") return LocationLink(fs, pid, ino, true);
  if (name == "root") return LocationLink(fs, pid, ino, false);
  if (name == "exe") {
    return std::make_shared<TaskLink>(fs, pid, ino, [&fs, pid]() {
      return OnTask(fs.kernel(), pid, [](Task& t) -> ErrnoOr<std::string> {
        const MemoryRef mem = t.memory_for_proc();
        if (mem == nullptr) return Errno(ENOENT);  // exited: no mm, no exe file
        return mem->executable_path;
      });
    });
  }
  if (name == "mounts" || name == "mountinfo") {
    const bool info = name == "mountinfo";
    return std::make_shared<TaskFile>(fs, pid, ino, perm,
                                      [&fs, pid, info]() { return Mounts(fs, pid, info); });
  }
  if (name == "environ") {
    return TaskGenerated(fs, pid, ino, perm, [](Task& t) -> ErrnoOr<std::string> {
      const MemoryRef mem = t.memory_for_proc();
      if (mem == nullptr) return std::string();
      return ReadGuest(mem, mem->image.env_start, mem->image.env_end);
    });
  }
  if (name == "auxv") {
    return TaskGenerated(fs, pid, ino, perm, [](Task& t) -> ErrnoOr<std::string> {
      const MemoryRef mem = t.memory_for_proc();
      if (mem == nullptr) return std::string();
      const auto& auxv = mem->image.auxv;
      return std::string(reinterpret_cast<const char*>(auxv.data()), auxv.size() * sizeof(auxv[0]));
    });
  }
  if (name == "status") {
    return TaskGenerated(fs, pid, ino, perm, [&fs](Task& t) { return Status(fs, t); });
  }
  if (name == "limits") return TaskGenerated(fs, pid, ino, perm, Limits);
  if (name == "personality") {
    return TaskGenerated(fs, pid, ino, perm, [](Task& t) {
      return ErrnoOr<std::string>(absl::StrFormat("%08x\n", t.personality.load()));
    });
  }
  if (name == "comm") {
    // Writing renames a task of the writer's own thread group (else EINVAL),
    // to at most 15 bytes, as Linux's comm_write.
    auto write = [&fs, pid](std::string_view data, size_t total) -> ErrnoOr<size_t> {
      Task* cur = Task::Current();
      if (cur == nullptr || cur->tgid() != pid) return Errno(EINVAL);
      std::string comm(data.substr(0, 15));
      comm.resize(std::min(comm.size(), comm.find('\0')));
      RETURN_IF_ERROR(OnTask(fs.kernel(), pid, [&comm](Task& t) {
        t.set_comm(comm);
        return ErrnoOrOk();
      }));
      return total;
    };
    return TaskGenerated(
        fs, pid, ino, perm, [](Task& t) { return ErrnoOr<std::string>(t.comm() + "\n"); }, write);
  }
  if (name == "cmdline") return TaskGenerated(fs, pid, ino, perm, Cmdline);
  if (name == "stat") {
    return TaskGenerated(fs, pid, ino, perm, [&fs](Task& t) { return Stat(fs, t); });
  }
  if (name == "statm") return TaskGenerated(fs, pid, ino, perm, Statm);
  if (name == "maps" || name == "smaps") {
    const bool smaps = name == "smaps";
    return TaskGenerated(fs, pid, ino, perm, [smaps](Task& t) -> ErrnoOr<std::string> {
      std::string out;
      const MemoryRef mem = t.memory_for_proc();
      if (mem == nullptr || mem->mm == nullptr) return out;  // exited
      for (const auto& v : mem->mm->Vmas()) out += smaps ? SmapsEntry(v) : MapsLine(v);
      return out;
    });
  }
  SCHECK(false);  // every entry of kEntries is made above
  return nullptr;
}

}  // namespace

uint64_t TaskDirIno(pid_t pid, bool thread) {
  return Ino(thread ? kThreadEntry : kTgidEntry, pid, 0);
}

std::shared_ptr<vfs::Inode> NewTaskDir(ProcFilesystem& fs, pid_t pid, bool thread,
                                       uint64_t parent_ino) {
  return std::make_shared<TaskDir>(fs, pid, thread, parent_ino);
}

}  // namespace sentry::fsimpl::proc
