#include <sys/syscall.h>

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/syscalls/strace.h"

namespace sentry::syscalls {
namespace {

using kernel::Support;

TEST(Linux64TableTest, NamesMatchTheHostHeaders) {
  const auto& t = Linux64Table();
  EXPECT_STREQ(t.Lookup(SYS_read)->name, "read");
  EXPECT_STREQ(t.Lookup(SYS_getppid)->name, "getppid");
  EXPECT_STREQ(t.Lookup(SYS_exit_group)->name, "exit_group");
  EXPECT_STREQ(t.Lookup(SYS_clock_nanosleep)->name, "clock_nanosleep");
  EXPECT_STREQ(t.Lookup(SYS_futex_waitv)->name, "futex_waitv");
  EXPECT_EQ(t.Lookup(600), nullptr);
}

TEST(Linux64TableTest, SupportLevelsAreConsistent) {
  const auto& t = Linux64Table();
  std::set<std::string> names;
  int implemented = 0;
  for (size_t nr = 0; nr < t.entries.size(); ++nr) {
    const auto& e = t.entries[nr];
    if (e.name == nullptr) continue;
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate name " << e.name;
    if (e.handler == nullptr) {
      EXPECT_EQ(e.support, Support::kUnimplemented) << e.name;
      EXPECT_NE(e.error, 0) << e.name;
    } else {
      ++implemented;
      EXPECT_NE(e.support, Support::kUnimplemented) << e.name;
      if (e.support == Support::kPartial) {
        EXPECT_STRNE(e.note, "") << e.name << " needs a note";
      }
    }
  }
  EXPECT_GE(implemented, 50);
}

TEST(Linux64TableTest, FoundationSyscallsAreImplemented) {
  const auto& t = Linux64Table();
  for (int nr : {SYS_read,
                 SYS_write,
                 SYS_readv,
                 SYS_writev,
                 SYS_pread64,
                 SYS_pwrite64,
                 SYS_exit,
                 SYS_exit_group,
                 SYS_getpid,
                 SYS_getppid,
                 SYS_gettid,
                 SYS_uname,
                 SYS_arch_prctl,
                 SYS_set_tid_address,
                 SYS_mmap,
                 SYS_munmap,
                 SYS_mprotect,
                 SYS_mremap,
                 SYS_brk,
                 SYS_madvise,
                 SYS_mincore,
                 SYS_msync,
                 SYS_mlock,
                 SYS_mlock2,
                 SYS_munlock,
                 SYS_mlockall,
                 SYS_munlockall,
                 SYS_clock_gettime,
                 SYS_clock_getres,
                 SYS_gettimeofday,
                 SYS_time,
                 SYS_nanosleep,
                 SYS_clock_nanosleep,
                 SYS_getrandom,
                 SYS_prlimit64,
                 SYS_getrlimit,
                 SYS_setrlimit,
                 SYS_rt_sigaction,
                 SYS_rt_sigprocmask,
                 SYS_ioctl,
                 SYS_fstat,
                 SYS_newfstatat,
                 SYS_sched_yield,
                 SYS_sched_getaffinity,
                 SYS_sysinfo,
                 SYS_futex}) {
    ASSERT_NE(t.Lookup(nr), nullptr) << nr;
    EXPECT_NE(t.Lookup(nr)->handler, nullptr) << t.Lookup(nr)->name;
  }
}

TEST(StraceTest, QuotesLikeStrace) {
  std::string s = "hello, world\n";
  EXPECT_EQ(QuoteBytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, 32, false),
            "\"hello, world\\n\"");
  uint8_t bin[] = {0, 0xff, '"', '\\', '\t'};
  EXPECT_EQ(QuoteBytes(bin, 32, false), "\"\\0\\377\\\"\\\\\\t\"");
  EXPECT_EQ(QuoteBytes(bin, 2, false), "\"\\0\\377\"...");
}

}  // namespace
}  // namespace sentry::syscalls
