// What the platform tests share (ptrace/ptrace_test.cc, systrap/systrap_test.cc,
// systrap/syscall_patch_test.cc, platform_test.cc): the guest's layout in the
// memory file, a fixture that makes a platform, an address space and a context
// and runs a guest snippet (ptrace/ptrace_test_guest.h), and readers of /proc.
// Test code only.
#ifndef PLATFORM_PLATFORM_TEST_UTIL_H_
#define PLATFORM_PLATFORM_TEST_UTIL_H_

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "platform/platform.h"

#define ASSERT_OK(expr)                          \
  do {                                           \
    const absl::Status _s = (expr);              \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)
#define EXPECT_OK(expr)                          \
  do {                                           \
    const absl::Status _s = (expr);              \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s; \
  } while (0)

namespace platform::test {

constexpr uint64_t kPage = 4096;
// Guest addresses, and the memory-file pages behind them.
constexpr uint64_t kCode = 0x400000;   // file page 0, r-x
constexpr uint64_t kStack = 0x500000;  // file page 1, rw-
constexpr uint64_t kData = 0x600000;   // file page 2
constexpr uint64_t kCodeFile = 0, kStackFile = kPage, kDataFile = 2 * kPage;
constexpr size_t kFileSize = 16 * kPage;

// XMM register i in the xsave legacy area.
constexpr size_t XmmOffset(int i) { return 160 + 16 * i; }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

// The value of a "Field:\t..." line of /proc/<pid>/status.
inline std::string StatusField(pid_t pid, const std::string& field) {
  for (const std::string& l : Lines(ReadFile(absl::StrFormat("/proc/%d/status", pid)))) {
    if (l.rfind(field + ":\t", 0) == 0) return l.substr(field.size() + 2);
  }
  return "";
}

// The lines of /proc/<pid>/maps other than the stub region and [vsyscall].
inline std::vector<std::string> MapsBesidesTheStubRegion(pid_t pid, uint64_t region_start) {
  std::vector<std::string> others;
  const std::string region = absl::StrFormat("%x-", region_start);
  for (const std::string& l : Lines(ReadFile(absl::StrFormat("/proc/%d/maps", pid)))) {
    if (l.rfind(region, 0) != 0 && l.find("[vsyscall]") == std::string::npos) {
      others.push_back(l);
    }
  }
  return others;
}

// The names in /proc/<pid>/fd.
inline std::vector<std::string> Fds(pid_t pid) {
  std::vector<std::string> fds;
  DIR* d = opendir(absl::StrFormat("/proc/%d/fd", pid).c_str());
  if (d == nullptr) return fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') fds.push_back(e->d_name);
  }
  closedir(d);
  return fds;
}

// Also true for a zombie.
inline bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

// The processes whose parent is this process (stubs and stub threads are children
// of the platform's factory thread), zombies included.
inline std::set<pid_t> Children() {
  std::set<pid_t> children;
  DIR* d = opendir("/proc");
  if (d == nullptr) return children;
  while (dirent* e = readdir(d)) {
    const pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string stat = ReadFile(absl::StrFormat("/proc/%d/stat", pid));
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state;
    int ppid;
    if (sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid()) {
      children.insert(pid);
    }
  }
  closedir(d);
  return children;
}

// A memory file of kFileSize bytes (named `memfd_name`, which shows in the
// stubs' /proc/<pid>/maps), the platform `name` on it, an address space with
// the stack page mapped, and a context. LoadGuest puts a snippet at kCode; Run
// switches to it. A value-parametrized fixture adds ::testing::WithParamInterface.
class GuestFixture : public ::testing::Test {
 protected:
  // Call from SetUp() (its ASSERTs end the test).
  void CreatePlatform(const char* name, const char* memfd_name, Options options = {}) {
    memfd_ = memfd_create(memfd_name, MFD_CLOEXEC);
    ASSERT_GE(memfd_, 0);
    ASSERT_EQ(ftruncate(memfd_, kFileSize), 0);
    void* m = mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
    ASSERT_NE(m, MAP_FAILED);
    mem_ = static_cast<uint8_t*>(m);
    options.memory_fd = memfd_;
    auto p = Platform::Create(name, options);
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << as.status();
    as_ = std::move(*as);
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = std::move(*ctx);
    ASSERT_OK(as_->MapFile(kStack, kStackFile, kPage, PROT_READ | PROT_WRITE));
  }

  // Call from TearDown().
  void DestroyPlatform() {
    ctx_.reset();
    as_.reset();
    platform_.reset();
    if (mem_ != nullptr) munmap(mem_, kFileSize);
    if (memfd_ >= 0) close(memfd_);
  }

  // Copies `code` to file page 0, maps it r-x at kCode and points rip at it,
  // with the other registers 0 but rsp (near the top of the stack page).
  void LoadGuest(std::span<const char> code) {
    ASSERT_LE(code.size(), kPage);
    std::memcpy(mem_ + kCodeFile, code.data(), code.size());
    ASSERT_OK(as_->MapFile(kCode, kCodeFile, kPage, PROT_READ | PROT_EXEC));
    std::memset(&regs_.r, 0, sizeof(regs_.r));
    regs_.r.rip = kCode;
    regs_.r.rsp = kStack + kPage - 64;
    regs_.r.eflags = 0x202;
  }
  void LoadGuest(const std::vector<uint8_t>& code) {
    LoadGuest(std::span(reinterpret_cast<const char*>(code.data()), code.size()));
  }

  // ctx_->Switch in as_; a failure fails the test and reads as kInterrupted.
  SwitchResult Run() {
    absl::StatusOr<SwitchResult> r = ctx_->Switch(*as_, regs_, fp_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SwitchResult{.kind = SwitchResult::Kind::kInterrupted};
  }

  int memfd_ = -1;
  uint8_t* mem_ = nullptr;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<AddressSpace> as_;
  std::unique_ptr<Context> ctx_;
  sentry::arch::Registers regs_;
  sentry::arch::FpState fp_;
};

}  // namespace platform::test

#endif  // PLATFORM_PLATFORM_TEST_UTIL_H_
