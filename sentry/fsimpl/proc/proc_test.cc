// /proc and /sys through the Kernel's VFS, for a real task (the loader's test
// executable, started on a fake platform that never runs it).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/vfs/file_description.h"

#ifndef LOADER_TEST_STATIC
#error "LOADER_TEST_STATIC must name a static test executable"
#endif

namespace sentry::fsimpl::proc {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

MATCHER_P(FailsWith, e, "") { return !arg.ok() && arg.error().value() == e; }

class NeverRuns : public platform::Context {
 public:
  absl::StatusOr<platform::SwitchResult> Switch(platform::AddressSpace&, arch::Registers&,
                                                arch::FpState&) override {
    return absl::UnavailableError("the fake platform runs nothing");
  }
  absl::Status SyncFpState(arch::FpState&) override { return absl::OkStatus(); }
  void Interrupt() override {}
};

class FakePlatform : public platform::Platform {
 public:
  std::string_view Name() const override { return "fake"; }
  uint64_t MaxUserAddress() const override { return 0x7ffffffff000; }
  bool ReportsAccessType() const override { return false; }
  absl::StatusOr<std::unique_ptr<platform::AddressSpace>> NewAddressSpace() override {
    return std::unique_ptr<platform::AddressSpace>(
        std::make_unique<mm::testing::FakeAddressSpace>());
  }
  absl::StatusOr<std::unique_ptr<platform::Context>> NewContext() override {
    return std::unique_ptr<platform::Context>(std::make_unique<NeverRuns>());
  }
};

class ProcTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(0); }

  void Boot(uint32_t uid) {
    task_.reset();
    kernel_.reset();
    kernel::KernelConfig config;
    config.num_cpus = 2;
    config.hostname = "testhost";
    config.total_memory = uint64_t{1} << 30;
    config.randomize = false;
    kernel_ = std::make_unique<kernel::Kernel>(config, table_,
                                               *memory::MemoryFile::Create(uint64_t{1} << 30),
                                               std::make_unique<FakePlatform>());
    exe_fd_ = open(LOADER_TEST_STATIC, O_RDONLY | O_CLOEXEC);
    ASSERT_GE(exe_fd_, 0);
    loader::HostFdExecutable exe(exe_fd_);
    kernel::InitArgs args;
    args.executable = &exe;
    args.filename = "/bin/hello";
    args.argv = {"hello", "two words", "x"};
    args.envp = {"A=1", "HOME=/root"};
    args.uid = args.gid = uid;
    auto null = vfs().Open(RootCtx(), "/dev/null", O_RDWR, 0);
    ASSERT_TRUE(null.ok());
    args.stdio = {*null, *null, *null};
    task_ = std::make_shared<kernel::Task>(*kernel_, 1);
    auto s = task_->StartInit(args, kernel_->NewInitThreadGroup());
    close(exe_fd_);
    ASSERT_TRUE(s.ok()) << s;
  }

  vfs::VirtualFilesystem& vfs() { return kernel_->vfs(); }
  vfs::PathContext RootCtx() { return {vfs().Root(), vfs().Root(), &root_, 022}; }

  // Opens `path` as the task would (the current task set), as root.
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const std::string& path,
                                                      int flags = O_RDONLY) {
    kernel::Task::CurrentScope scope(task_.get());
    return vfs().Open(RootCtx(), path, flags, 0);
  }
  std::string Read(const std::string& path) {
    auto f = Open(path);
    if (!f.ok()) return "<" + std::string(ErrnoName(f.error().value())) + ">";
    return ReadAll(**f);
  }
  static std::string ReadAll(vfs::FileDescription& f, size_t piece = 1000) {
    std::string out;
    for (;;) {
      std::string buf(piece, '\0');
      iovec v{buf.data(), buf.size()};
      auto n = f.Readv(nullptr, {&v, 1}, -1);
      if (!n.ok() || *n == 0) break;
      out.append(buf, 0, *n);
    }
    return out;
  }
  std::string Readlink(const std::string& path) {
    kernel::Task::CurrentScope scope(task_.get());
    auto r = vfs().Readlink(RootCtx(), path);
    return r.ok() ? *r : "<" + std::string(ErrnoName(r.error().value())) + ">";
  }
  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    auto f = Open(path, O_RDONLY | O_DIRECTORY);
    if (!f.ok()) return {"<error>"};
    EXPECT_TRUE((*f)->IterateDir([&](const vfs::DirEntry& e) {
                      names.emplace_back(e.name);
                      return true;
                    })
                    .ok());
    return names;
  }
  vfs::Attr Stat(const std::string& path) {
    kernel::Task::CurrentScope scope(task_.get());
    auto vd = vfs().Resolve(RootCtx(), path, 0);
    EXPECT_TRUE(vd.ok()) << path;
    return vd.ok() ? *vfs().Stat(*vd) : vfs::Attr{};
  }
  static std::vector<std::string> Lines(const std::string& s) {
    return absl::StrSplit(s, '\n', absl::SkipEmpty());
  }
  static std::vector<std::string> Fields(const std::string& s) {
    return absl::StrSplit(s, ' ', absl::SkipEmpty());
  }
  // The value of "Key:\tvalue" in a status-like file.
  static std::string Field(const std::string& file, const std::string& key) {
    for (const std::string& l : Lines(file)) {
      if (l.rfind(key + ":", 0) == 0) {
        std::string v = l.substr(key.size() + 1);
        return v.substr(v.find_first_not_of(" \t"));
      }
    }
    return "<missing>";
  }

  kernel::SyscallTable table_;
  vfs::AccessCreds root_ = vfs::AccessCreds::Root();
  std::unique_ptr<kernel::Kernel> kernel_;
  std::shared_ptr<kernel::Task> task_;
  int exe_fd_ = -1;
};

TEST_F(ProcTest, StandardMounts) {
  EXPECT_EQ(Read("/proc/1/mounts"),
            "tmpfs / tmpfs rw 0 0\n"
            "devtmpfs /dev devtmpfs rw,nosuid 0 0\n"
            "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n"
            "mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec 0 0\n"
            "proc /proc proc rw,nosuid,nodev,noexec 0 0\n"
            "sysfs /sys sysfs ro,nosuid,nodev,noexec 0 0\n");
  EXPECT_EQ(Read("/proc/mounts"), Read("/proc/self/mounts"));
  std::vector<std::string> info = Lines(Read("/proc/self/mountinfo"));
  ASSERT_EQ(info.size(), 6u);
  const std::regex line(R"((\d+) (\d+) (\d+):(\d+) / (\S+) (\S+) - (\S+) (\S+) rw)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(info[0], m, line)) << info[0];
  EXPECT_EQ(m[1], m[2]);  // the root mount is its own parent
  EXPECT_EQ(m[5], "/");
  ASSERT_TRUE(std::regex_match(info[2], m, line)) << info[2];
  EXPECT_EQ(m[5], "/dev/shm");
  EXPECT_EQ(m[6], "rw,nosuid,nodev");
  EXPECT_EQ(m[2], Fields(info[1])[0]);  // on /dev's mount
  ASSERT_TRUE(std::regex_match(info[3], m, line)) << info[3];
  EXPECT_EQ(m[5], "/dev/mqueue");
  EXPECT_EQ(m[7], "mqueue");
  ASSERT_TRUE(std::regex_match(info[4], m, line)) << info[4];
  EXPECT_EQ(m[7], "proc");
  const uint64_t dev = vfs().Root().inode().fs().Dev();
  EXPECT_EQ(Fields(info[0])[2], absl::StrFormat("%d:%d", major(dev), minor(dev)));
}

TEST_F(ProcTest, RootListsStaticEntriesThenTasks) {
  EXPECT_THAT(List("/proc"), ElementsAre(".", "..", "cpuinfo", "filesystems", "loadavg", "meminfo",
                                         "mounts", "self", "stat", "sys", "sysvipc", "thread-self",
                                         "uptime", "version", "1"));
  auto a = Stat("/proc");
  EXPECT_EQ(a.mode, S_IFDIR | 0555u);
  EXPECT_EQ(a.ino, 1u);
}

TEST_F(ProcTest, SelfFollowsTheCurrentTask) {
  EXPECT_EQ(Readlink("/proc/self"), "1");
  EXPECT_EQ(Readlink("/proc/thread-self"), "1/task/1");
  // A reader that is no task (the Sentry itself) has no self.
  auto r = vfs().Readlink(RootCtx(), "/proc/self");
  EXPECT_THAT(r, FailsWith(ENOENT));
  EXPECT_THAT(vfs().Open(RootCtx(), "/proc/self/stat", O_RDONLY, 0), FailsWith(ENOENT));
  EXPECT_TRUE(vfs().Open(RootCtx(), "/proc/1/stat", O_RDONLY, 0).ok());
  EXPECT_THAT(Open("/proc/2/stat"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/proc/01/stat"), FailsWith(ENOENT));
}

TEST_F(ProcTest, TaskDirectory) {
  EXPECT_THAT(List("/proc/1"),
              ElementsAre(".", "..", "task", "fd", "fdinfo", "ns", "environ", "auxv", "status",
                          "limits", "comm", "cmdline", "stat", "statm", "maps", "cwd", "root",
                          "exe", "mounts", "mountinfo", "smaps", "personality"));
  EXPECT_THAT(List("/proc/1/task"), ElementsAre(".", "..", "1"));
  std::vector<std::string> thread = List("/proc/1/task/1");
  EXPECT_THAT(thread, Not(Contains("task")));
  EXPECT_THAT(thread, Contains("status"));
  EXPECT_EQ(Read("/proc/1/task/1/comm"), "hello\n");
  EXPECT_EQ(Stat("/proc/1").mode, S_IFDIR | 0555u);
  EXPECT_EQ(Stat("/proc/1/fd").mode, S_IFDIR | 0500u);
  // Namespaces: the initial ones' inode numbers are Linux's.
  EXPECT_THAT(List("/proc/1/ns"),
              ElementsAre(".", "..", "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                          "time", "time_for_children", "user", "uts"));
  EXPECT_EQ(Readlink("/proc/1/ns/uts"), "uts:[4026531838]");
  EXPECT_EQ(Readlink("/proc/1/ns/ipc"), "ipc:[4026531839]");
  EXPECT_EQ(Readlink("/proc/1/ns/pid_for_children"), "pid:[4026531836]");
  EXPECT_EQ(Stat("/proc/1/environ").mode, S_IFREG | 0400u);
  EXPECT_EQ(Stat("/proc/1/comm").mode, S_IFREG | 0644u);
  EXPECT_EQ(Stat("/proc/1/cwd").mode, S_IFLNK | 0777u);
  EXPECT_NE(Stat("/proc/1").ino, Stat("/proc/1/task/1").ino);
}

TEST_F(ProcTest, StatHasLinuxsFieldsAndTheTasksValues) {
  const std::string stat = Read("/proc/1/stat");
  ASSERT_FALSE(stat.empty());
  EXPECT_EQ(stat.back(), '\n');
  std::vector<std::string> f = Fields(stat.substr(0, stat.size() - 1));
  ASSERT_EQ(f.size(), 52u) << stat;
  EXPECT_EQ(f[0], "1");
  EXPECT_EQ(f[1], "(hello)");
  EXPECT_EQ(f[2], "R");
  EXPECT_EQ(f[3], "0");                                         // ppid
  EXPECT_EQ(f[19], "1");                                        // threads
  EXPECT_EQ(f[22], std::to_string(task_->mm().VirtualSize()));  // vsize
  EXPECT_EQ(f[24], "18446744073709551615");                     // rsslim
  const loader::LoadResult& img = task_->image();
  EXPECT_EQ(f[25], std::to_string(img.start_code));
  EXPECT_EQ(f[26], std::to_string(img.end_code));
  EXPECT_EQ(f[27], std::to_string(img.stack_pointer));
  EXPECT_EQ(f[37], "17");  // exit_signal
  EXPECT_EQ(f[44], std::to_string(img.start_data));
  EXPECT_EQ(f[46], std::to_string(img.start_brk));
  EXPECT_EQ(f[47], std::to_string(img.arg_start));
  EXPECT_EQ(f[50], std::to_string(img.env_end));
  EXPECT_EQ(f[51], "0");
}

TEST_F(ProcTest, StatusAndStatm) {
  const std::string s = Read("/proc/1/status");
  EXPECT_EQ(Field(s, "Name"), "hello");
  EXPECT_EQ(Field(s, "Umask"), "0022");
  EXPECT_EQ(Field(s, "State"), "R (running)");
  EXPECT_EQ(Field(s, "Pid"), "1");
  EXPECT_EQ(Field(s, "PPid"), "0");
  EXPECT_EQ(Field(s, "Uid"), "0\t0\t0\t0");
  EXPECT_EQ(Field(s, "FDSize"), "64");
  EXPECT_EQ(Field(s, "VmSize"), std::to_string(task_->mm().VirtualSize() / 1024) + " kB");
  EXPECT_EQ(Field(s, "Threads"), "1");
  EXPECT_EQ(Field(s, "CapEff"), "000001ffffffffff");
  EXPECT_EQ(Field(s, "Cpus_allowed"), "3");
  EXPECT_EQ(Field(s, "Cpus_allowed_list"), "0-1");
  EXPECT_THAT(s, HasSubstr("\nGroups:\t \n"));
  EXPECT_THAT(s, StartsWith("Name:\thello\nUmask:\t0022\nState:\tR (running)\nTgid:\t1\n"));
  EXPECT_THAT(s, HasSubstr("\nVmRSS:\t"));
  EXPECT_THAT(s, HasSubstr("nonvoluntary_ctxt_switches:\t0\n"));
  std::vector<std::string> statm = Fields(Read("/proc/1/statm"));
  ASSERT_EQ(statm.size(), 7u);
  EXPECT_EQ(statm[0], std::to_string(task_->mm().VirtualSize() / 4096));
  EXPECT_EQ(statm[4], "0");
  EXPECT_EQ(statm[6], "0\n");
}

TEST_F(ProcTest, CmdlineEnvironAuxvFromTheStack) {
  EXPECT_EQ(Read("/proc/1/cmdline"), std::string("hello\0two words\0x\0", 18));
  EXPECT_EQ(Read("/proc/1/environ"), std::string("A=1\0HOME=/root\0", 15));
  const std::string auxv = Read("/proc/1/auxv");
  ASSERT_EQ(auxv.size(), task_->image().auxv.size() * 16);
  EXPECT_EQ(auxv.substr(auxv.size() - 16), std::string(16, '\0'));  // AT_NULL
}

TEST_F(ProcTest, CmdlineOverwrittenBySetproctitle) {
  // A program that writes one string over its whole argv (no NUL at the
  // end) shows it up to the next NUL, into the environment area.
  const loader::LoadResult& img = task_->image();
  const uint8_t sp = ' ';
  for (uint64_t off : {5, 15, 17}) {
    ASSERT_TRUE(task_->mm().CopyOutForce(UserAddr(img.arg_start + off), {&sp, 1}).ok());
  }
  EXPECT_EQ(Read("/proc/1/cmdline"), std::string("hello two words x A=1\0", 22));
}

TEST_F(ProcTest, MapsAndSmapsFormat) {
  const std::string maps = Read("/proc/1/maps");
  std::vector<std::string> lines = Lines(maps);
  auto vmas = task_->mm().Vmas();
  ASSERT_EQ(lines.size(), vmas.size());
  const std::regex line(
      R"(([0-9a-f]{8,16})-([0-9a-f]{8,16}) ([r-][w-][x-][ps]) 00000000 00:00 0 ( {19,}(\S.*))?)");
  bool stack = false, exe = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, line)) << lines[i];
    EXPECT_EQ(std::stoull(m[1], nullptr, 16), vmas[i].start);
    if (m[5].matched) {
      EXPECT_EQ(lines[i].find(std::string(m[5])), 73u) << lines[i];
    }
    stack |= m[5] == "[stack]";
    exe |= m[5] == "/bin/hello";
    if (!m[4].matched) {
      EXPECT_EQ(lines[i].back(), ' ');
    }
  }
  EXPECT_TRUE(stack);
  EXPECT_TRUE(exe);

  std::vector<std::string> smaps = Lines(Read("/proc/1/smaps"));
  ASSERT_EQ(smaps.size(), vmas.size() * 24);
  EXPECT_EQ(smaps[0], lines[0]);
  EXPECT_EQ(smaps[1],
            absl::StrFormat("Size:           %8d kB", (vmas[0].end - vmas[0].start) / 1024));
  EXPECT_EQ(smaps[2], "KernelPageSize:        4 kB");
  EXPECT_EQ(smaps[18], "Private_Hugetlb:       0 kB");
  EXPECT_EQ(smaps[22], "THPeligible:    0");
  EXPECT_THAT(smaps[23], StartsWith("VmFlags: rd "));
  for (size_t i = 0; i < vmas.size(); ++i) {
    if (vmas[i].name == "[stack]") {
      EXPECT_EQ(smaps[i * 24 + 23], "VmFlags: rd wr mr mw me gd ac ");
      EXPECT_NE(smaps[i * 24 + 4], "Rss:                   0 kB");  // the stack is written
    }
  }
}

TEST_F(ProcTest, LinksToTheTasksLocations) {
  EXPECT_EQ(Readlink("/proc/1/cwd"), "/");
  EXPECT_EQ(Readlink("/proc/1/root"), "/");
  EXPECT_EQ(Readlink("/proc/1/exe"), "/bin/hello");
  ASSERT_TRUE(vfs().Mkdir(RootCtx(), "/tmp/dir", 0755).ok());
  task_->set_cwd(*vfs().Resolve(RootCtx(), "/tmp/dir", 0));
  EXPECT_EQ(Readlink("/proc/1/cwd"), "/tmp/dir");
  // Followed, the link leads there (a plain symlink to the path).
  ASSERT_TRUE(vfs().Open(RootCtx(), "/tmp/dir/f", O_CREAT | O_WRONLY, 0644).ok());
  EXPECT_TRUE(Open("/proc/self/cwd/f").ok());
}

TEST_F(ProcTest, ExeIsAbsoluteEvenForARelativeExec) {
  auto exe = [this](const std::string& filename) {
    task_.reset();
    int fd = open(LOADER_TEST_STATIC, O_RDONLY | O_CLOEXEC);
    loader::HostFdExecutable file(fd);
    kernel::InitArgs args;
    args.executable = &file;
    args.filename = filename;
    args.argv = {"hello"};
    task_ = std::make_shared<kernel::Task>(*kernel_, 1);
    EXPECT_TRUE(task_->StartInit(args, kernel_->NewInitThreadGroup()).ok());
    close(fd);
    return Readlink("/proc/1/exe");
  };
  EXPECT_EQ(exe("build/x/hello"), "/build/x/hello");
  EXPECT_EQ(exe("./a/../b//hello"), "/b/hello");
  EXPECT_EQ(exe("../../hello"), "/hello");
  EXPECT_EQ(exe("/abs/./path"), "/abs/path");
}

TEST_F(ProcTest, FdAndFdinfo) {
  auto f = vfs().Open(RootCtx(), "/tmp/x", O_CREAT | O_RDWR | 0100000 /*O_LARGEFILE*/, 0644);
  ASSERT_TRUE(f.ok());
  std::string data = "hello";
  iovec v{data.data(), data.size()};
  ASSERT_TRUE((*f)->Writev(nullptr, {&v, 1}, -1).ok());
  ASSERT_EQ(*task_->fds().Install(*f, true, 0, 1024), 3);
  auto ro = vfs().Open(RootCtx(), "/dev/zero", O_RDONLY, 0);
  task_->fds().InstallAt(7, *ro, false);

  EXPECT_THAT(List("/proc/1/fd"), ElementsAre(".", "..", "0", "1", "2", "3", "7"));
  EXPECT_EQ(Readlink("/proc/1/fd/3"), "/tmp/x");
  EXPECT_EQ(Readlink("/proc/1/fd/0"), "/dev/null");
  EXPECT_EQ(Stat("/proc/1/fd/3").mode, S_IFLNK | 0700u);
  EXPECT_EQ(Stat("/proc/1/fd/7").mode, S_IFLNK | 0500u);
  EXPECT_EQ(Stat("/proc/1/fd/7").size, 64u);
  EXPECT_EQ(Read("/proc/1/fd/3"), "hello");  // a plain symlink to the path

  const std::string info = Read("/proc/1/fdinfo/3");
  EXPECT_EQ(Field(info, "pos"), "5");
  EXPECT_EQ(Field(info, "flags"), "02100002");  // O_CLOEXEC|O_LARGEFILE|O_RDWR
  const int tmp_mount = static_cast<int>((*f)->location().mount->id);
  EXPECT_EQ(Field(info, "mnt_id"), std::to_string(tmp_mount));
  EXPECT_EQ(Field(info, "ino"), std::to_string((*f)->Stat()->st_ino));
  EXPECT_EQ(Stat("/proc/1/fdinfo/3").mode, S_IFREG | 0400u);

  // Unlinked: " (deleted)", as Linux's d_path.
  ASSERT_TRUE(vfs().Unlink(RootCtx(), "/tmp/x").ok());
  EXPECT_EQ(Readlink("/proc/1/fd/3"), "/tmp/x (deleted)");

  // Closed: gone, even from the dentry cache.
  ASSERT_TRUE(task_->fds().Close(3).ok());
  EXPECT_EQ(Readlink("/proc/1/fd/3"), "<ENOENT>");
  EXPECT_THAT(Open("/proc/1/fdinfo/3"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/proc/1/fd/99"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/proc/1/fd/abc"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/proc/1/fd/-1"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/proc/1/fd/99999999999999999999"), FailsWith(ENOENT));
}

TEST_F(ProcTest, FdWithoutAPlaceInTheVfs) {
  class Anonymous : public vfs::FileDescription {
   public:
    Anonymous() : FileDescription(O_WRONLY) {}
    ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
      return Errno(EBADF);
    }
    ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
      return Errno(EPIPE);
    }
    bool Seekable() const override { return false; }
    ErrnoOr<struct stat> Stat() override {
      struct stat st = {};
      st.st_ino = 77;
      return st;
    }
    ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }
    std::string Describe() const override { return "pipe:[77]"; }
  };
  task_->fds().InstallAt(5, std::make_shared<Anonymous>(), false);
  EXPECT_EQ(Readlink("/proc/1/fd/5"), "pipe:[77]");
  EXPECT_EQ(Stat("/proc/1/fd/5").mode, S_IFLNK | 0300u);
  EXPECT_EQ(Read("/proc/1/fdinfo/5"), "pos:\t0\nflags:\t01\nmnt_id:\t0\nino:\t77\n");
}

TEST_F(ProcTest, CommReadAndWrite) {
  EXPECT_EQ(Read("/proc/1/comm"), "hello\n");
  auto snapshot = Open("/proc/1/status");
  ASSERT_TRUE(snapshot.ok());
  {
    auto w = Open("/proc/1/comm", O_WRONLY | O_TRUNC);
    ASSERT_TRUE(w.ok());
    std::string name = "a-much-longer-name-than-fifteen";
    iovec v{name.data(), name.size()};
    kernel::Task::CurrentScope scope(task_.get());
    EXPECT_EQ(*(*w)->Writev(task_.get(), {&v, 1}, -1), name.size());
  }
  EXPECT_EQ(task_->comm(), "a-much-longer-n");
  EXPECT_EQ(Read("/proc/1/comm"), "a-much-longer-n\n");
  // The status opened before still shows the old name.
  EXPECT_EQ(Field(ReadAll(**snapshot), "Name"), "hello");
  // Only the task's own thread group may rename it.
  auto w = Open("/proc/1/comm", O_WRONLY);
  std::string name = "other";
  iovec v{name.data(), name.size()};
  EXPECT_THAT((*w)->Writev(nullptr, {&v, 1}, -1), FailsWith(EINVAL));
  // Other files have no write.
  auto s = Open("/proc/1/stat", O_WRONLY);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT((*s)->Writev(nullptr, {&v, 1}, -1), FailsWith(EINVAL));
}

TEST_F(ProcTest, Limits) {
  std::vector<std::string> l = Lines(Read("/proc/1/limits"));
  ASSERT_EQ(l.size(), 17u);
  EXPECT_EQ(l[0], "Limit                     Soft Limit           Hard Limit           Units     ");
  EXPECT_EQ(l[1], "Max cpu time              unlimited            unlimited            seconds   ");
  EXPECT_EQ(l[14], "Max nice priority         unlimited            unlimited            ");
}

TEST_F(ProcTest, ReadsInPiecesAndOffsets) {
  const std::string whole = Read("/proc/1/status");
  for (size_t piece : {1, 7, 100, 4096}) {
    auto f = Open("/proc/1/status");
    EXPECT_EQ(ReadAll(**f, piece), whole) << piece;
  }
  auto f = Open("/proc/1/status");
  std::string buf(10, '\0');
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(*(*f)->Readv(nullptr, {&v, 1}, 6), 10u);
  EXPECT_EQ(buf, whole.substr(6, 10));
  EXPECT_EQ(*(*f)->Readv(nullptr, {&v, 1}, INT64_MAX), 0u);
  EXPECT_EQ(*(*f)->Seek(whole.size() + 100, SEEK_SET), static_cast<int64_t>(whole.size() + 100));
  EXPECT_EQ(*(*f)->Readv(nullptr, {&v, 1}, -1), 0u);
  iovec empty{buf.data(), 0};
  EXPECT_EQ(*(*f)->Readv(nullptr, {&empty, 1}, 0), 0u);
  EXPECT_THAT((*f)->Seek(-1, SEEK_SET), FailsWith(EINVAL));
  EXPECT_THAT((*f)->Seek(0, SEEK_END), FailsWith(EINVAL));
}

TEST_F(ProcTest, SystemWideFiles) {
  const std::string cpuinfo = Read("/proc/cpuinfo");
  EXPECT_THAT(cpuinfo, StartsWith("processor\t: 0\nvendor_id\t: "));
  EXPECT_THAT(cpuinfo, HasSubstr("\nprocessor\t: 1\n"));
  EXPECT_THAT(cpuinfo, Not(HasSubstr("processor\t: 2")));
  EXPECT_THAT(cpuinfo, HasSubstr("\nflags\t\t: fpu "));
  EXPECT_THAT(cpuinfo, HasSubstr("\ncpu cores\t: 2\n"));

  const std::string meminfo = Read("/proc/meminfo");
  EXPECT_EQ(Field(meminfo, "MemTotal"), "1048576 kB");
  EXPECT_THAT(meminfo, StartsWith("MemTotal:        1048576 kB\nMemFree:  "));
  EXPECT_EQ(Field(meminfo, "SwapTotal"), "0 kB");

  const std::string stat = Read("/proc/stat");
  EXPECT_THAT(stat, StartsWith("cpu  "));
  EXPECT_THAT(stat, HasSubstr("\ncpu1 "));
  EXPECT_THAT(stat, HasSubstr(absl::StrFormat("\nbtime %d\n", kernel_->boot_realtime().tv_sec)));
  EXPECT_THAT(stat, HasSubstr("\nprocesses 1\nprocs_running 1\n"));

  const std::regex uptime(R"((\d+)\.(\d\d) (\d+)\.(\d\d)\n)");
  EXPECT_TRUE(std::regex_match(Read("/proc/uptime"), uptime)) << Read("/proc/uptime");
  EXPECT_EQ(Read("/proc/loadavg"), "0.00 0.00 0.00 1/1 1\n");
  EXPECT_EQ(Read("/proc/version"),
            "Linux version 6.1.0 (root@sandbox) (sandbox) #1 SMP PREEMPT_DYNAMIC sandbox\n");
  EXPECT_EQ(Read("/proc/filesystems"),
            "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n");
}

TEST_F(ProcTest, Sysctls) {
  EXPECT_EQ(Read("/proc/sys/kernel/hostname"), "testhost\n");
  EXPECT_EQ(Read("/proc/sys/kernel/ostype"), "Linux\n");
  EXPECT_EQ(Read("/proc/sys/kernel/osrelease"), "6.1.0\n");
  EXPECT_EQ(Read("/proc/sys/kernel/pid_max"), "32768\n");
  EXPECT_EQ(Read("/proc/sys/kernel/ngroups_max"), "65536\n");
  EXPECT_EQ(Read("/proc/sys/kernel/cap_last_cap"), "40\n");
  EXPECT_EQ(Read("/proc/sys/vm/overcommit_memory"), "1\n");
  EXPECT_EQ(Read("/proc/sys/vm/max_map_count"), "65530\n");
  EXPECT_EQ(Read("/proc/sys/vm/mmap_min_addr"), "65536\n");
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n");
  const std::string boot_id = Read("/proc/sys/kernel/random/boot_id");
  EXPECT_TRUE(std::regex_match(boot_id, uuid)) << boot_id;
  EXPECT_EQ(Read("/proc/sys/kernel/random/boot_id"), boot_id);
  const std::string u1 = Read("/proc/sys/kernel/random/uuid");
  EXPECT_TRUE(std::regex_match(u1, uuid)) << u1;
  EXPECT_NE(Read("/proc/sys/kernel/random/uuid"), u1);
  EXPECT_THAT(Open("/proc/sys/kernel/ostype", O_WRONLY), FailsWith(EACCES));
  // hostname is the UTS namespace's (root may write it).
  EXPECT_EQ(Read("/proc/sys/kernel/hostname"), kernel_->config().hostname + "\n");
  EXPECT_EQ(Read("/proc/sys/kernel/domainname"), "(none)\n");
  EXPECT_THAT(Open("/proc/sys/vm/overcommit_memory", O_RDWR | O_TRUNC), FailsWith(EACCES));
}

TEST_F(ProcTest, CredentialsInStatus) {
  kernel::Credentials c = task_->creds();
  c.euid = c.fsuid = 7;
  c.groups = {3, 50};
  c.cap_inheritable = c.cap_ambient = uint64_t{1} << 13;
  c.cap_bounding &= ~(uint64_t{1} << 5);
  task_->CommitCredentials(c);
  task_->no_new_privs = true;
  const std::string s = Read("/proc/1/status");
  EXPECT_EQ(Field(s, "Uid"), "0\t7\t0\t7");
  EXPECT_THAT(s, HasSubstr("\nGroups:\t3 50 \n"));
  EXPECT_EQ(Field(s, "CapInh"), "0000000000002000");
  EXPECT_EQ(Field(s, "CapPrm"), "000001ffffffffff");
  EXPECT_EQ(Field(s, "CapBnd"), "000001ffffffffdf");
  EXPECT_EQ(Field(s, "CapAmb"), "0000000000002000");
  EXPECT_EQ(Field(s, "NoNewPrivs"), "1");
  // The euid changed: no longer dumpable (commit_creds).
  EXPECT_EQ(task_->dumpable, 0);
}

TEST_F(ProcTest, Sysfs) {
  EXPECT_EQ(Read("/sys/devices/system/cpu/online"), "0-1\n");
  EXPECT_EQ(Read("/sys/devices/system/cpu/possible"), "0-1\n");
  EXPECT_EQ(Read("/sys/devices/system/cpu/present"), "0-1\n");
  EXPECT_THAT(Open("/sys/devices/system/cpu/online", O_WRONLY), FailsWith(EROFS));
  EXPECT_EQ(Stat("/sys/devices").mode, S_IFDIR | 0755u);
}

TEST_F(ProcTest, AnotherUsersTask) {
  Boot(1000);
  EXPECT_EQ(Stat("/proc/1/status").uid, 1000u);
  EXPECT_EQ(Stat("/proc/1/fd").uid, 1000u);
  vfs::AccessCreds other;
  other.fsuid = other.fsgid = 2000;
  vfs::PathContext ctx{vfs().Root(), vfs().Root(), &other, 022};
  EXPECT_THAT(vfs().Open(ctx, "/proc/1/environ", O_RDONLY, 0), FailsWith(EACCES));
  EXPECT_THAT(vfs().Open(ctx, "/proc/1/fd", O_RDONLY, 0), FailsWith(EACCES));
  EXPECT_TRUE(vfs().Open(ctx, "/proc/1/status", O_RDONLY, 0).ok());
  EXPECT_EQ(Field(Read("/proc/1/status"), "CapEff"), "0000000000000000");
}

TEST_F(ProcTest, ATaskThatIsGone) {
  auto open = Open("/proc/1/stat");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(Stat("/proc/1").mode, S_IFDIR | 0555u);  // cached now
  {
    absl::MutexLock l(&kernel::tree_mu);
    kernel_->RemoveTask(task_.get());
  }
  task_.reset();
  EXPECT_THAT(List("/proc"), Not(Contains("1")));
  EXPECT_THAT(vfs().Open(RootCtx(), "/proc/1/stat", O_RDONLY, 0), FailsWith(ENOENT));
  EXPECT_THAT(vfs().Readlink(RootCtx(), "/proc/self"), FailsWith(ENOENT));
  // What was opened before is a snapshot: still readable.
  EXPECT_THAT(ReadAll(**open), StartsWith("1 (hello) R"));
}

}  // namespace
}  // namespace sentry::fsimpl::proc
