// What every syscall test needs besides the matchers: the page size, where the
// test runs (natively or inside our sandbox), skips, privilege checks, and a
// small ErrnoOr<T> for helpers that can fail.
//
// Knowing that a test runs inside the sandbox
// -------------------------------------------
// IsRunningInSandbox() asks uname(2): the Sentry reports the kernel version
// string "#1 SMP PREEMPT_DYNAMIC sandbox" (kLinuxVersion in
// sentry/kernel/kernel.h), and a Linux kernel's version string ends in its
// build date, never in " sandbox". The answer comes from the kernel under test,
// so it holds however the binary was started (by the runner, by hand under
// `runsc do`, by a CI job). The runner also tells each run which side it is
// (SYSCALLS_TESTS_EXPECT_SANDBOX=0|1), and uname_test checks that the two
// agree, so a change to the Sentry's string cannot silently turn every
// sandbox-only skip off.
//
// Skipping
// --------
// A test is written against Linux and must pass there. Inside the sandbox it may
// only be skipped with a reason tied to an entry of the syscall table (`runsc
// syscalls`):
//
//   SKIP_IF_SANDBOX("fork", "unimplemented (the processes issue)");
//
// prints "sandbox lacks fork: unimplemented (...)"; the runner reads that line
// and checks that `fork` is an entry of the table. A test that needs a privilege
// says so:  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
#ifndef SYSCALLS_TESTS_UTIL_TEST_UTIL_H_
#define SYSCALLS_TESTS_UTIL_TEST_UTIL_H_

#include <linux/capability.h>  // CAP_*, for HaveCapability
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "syscalls-tests/util/syscall_matchers.h"

namespace syscalls_test {

inline const size_t kPageSize = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// Above the user address space: access_ok() fails there however long the
// buffer, so a syscall given it fails with EFAULT (pass it through syscall():
// glibc's access attributes make the compiler reject it).
inline void* const kKernelAddress = reinterpret_cast<void*>(0xffff800000000000);

// True inside our sandbox (see the top of this file). Computed once.
bool IsRunningInSandbox();

// The prefix of every sandbox-only skip message; the runner looks for it.
inline constexpr char kSandboxSkipPrefix[] = "sandbox lacks ";

// True when the calling thread has capability `cap` (CAP_* from
// <linux/capability.h>) in its effective set, from capget(2). Should capget
// be missing (ENOSYS), the answer is the classic rule of a kernel without
// capability sets: euid 0 has them all.
bool HaveCapability(int cap);

// vm.overcommit_memory (0 heuristic, 1 always, 2 never) as the kernel under
// test says in /proc, or -1 when it cannot tell. Tests of commit accounting
// assume Linux's default, 0; the sandbox keeps no commit accounting and says 1.
int OvercommitPolicy();

// The whole contents of the file at `path` (a /proc file, say), or "" when it
// cannot be opened.
std::string ReadWholeFile(const std::string& path);

// Skips the test when `cond` holds, naming the condition.
#define SKIP_IF(cond)                            \
  do {                                           \
    if (cond) GTEST_SKIP() << "skipped: " #cond; \
  } while (0)

// Skips the test inside the sandbox only; `entry` names the syscall-table entry
// (a syscall name, as `runsc syscalls` prints it) whose support level is the
// reason, `why` says what is missing.
#define SKIP_IF_SANDBOX(entry, why)                                                    \
  do {                                                                                 \
    if (::syscalls_test::IsRunningInSandbox()) {                                       \
      GTEST_SKIP() << ::syscalls_test::kSandboxSkipPrefix << (entry) << ": " << (why); \
    }                                                                                  \
  } while (0)

// The reason to give when a test needs a child process.
inline constexpr char kNoForkEntry[] = "fork";
inline constexpr char kNoForkWhy[] =
    "fork/clone are unimplemented (the processes issue), so no child process";

// A value or the errno of the call that could not produce it.
template <typename T>
class ErrnoOr {
 public:
  ErrnoOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit like StatusOr
  static ErrnoOr Error(int e, std::string what) { return ErrnoOr(e, std::move(what)); }

  bool ok() const { return value_.has_value(); }
  int error() const { return errno_; }
  // "mmap: ENOMEM (Cannot allocate memory)".
  std::string Describe() const { return ok() ? "ok" : what_ + ": " + ErrnoName(errno_); }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }

 private:
  ErrnoOr(int e, std::string what) : errno_(e), what_(std::move(what)) {}
  std::optional<T> value_;
  int errno_ = 0;
  std::string what_;
};

#define SYSCALLS_TEST_CONCAT_INNER_(a, b) a##b
#define SYSCALLS_TEST_CONCAT_(a, b) SYSCALLS_TEST_CONCAT_INNER_(a, b)

// ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(len)): declares `m` with
// the value, or fails the test (fatally) with the errno.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(SYSCALLS_TEST_CONCAT_(errno_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)          \
  auto tmp = (expr);                                        \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.Describe(); \
  lhs = std::move(tmp).value()

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_TEST_UTIL_H_
