// Runs a function when it goes out of scope, unless released: undo what a test
// changed (a limit, a signal action, a mask) however the test ends, including
// through a fatal ASSERT.
//
//   struct rlimit old;
//   ASSERT_THAT(getrlimit(RLIMIT_NOFILE, &old), SyscallSucceeds());
//   Cleanup restore([&] { setrlimit(RLIMIT_NOFILE, &old); });
#ifndef SYSCALLS_TESTS_UTIL_CLEANUP_H_
#define SYSCALLS_TESTS_UTIL_CLEANUP_H_

#include <functional>
#include <utility>

namespace syscalls_test {

class Cleanup {
 public:
  Cleanup() = default;
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  Cleanup(Cleanup&& other) noexcept : fn_(std::exchange(other.fn_, nullptr)) {}
  Cleanup& operator=(Cleanup&& other) noexcept {
    Run();
    fn_ = std::exchange(other.fn_, nullptr);
    return *this;
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() { Run(); }

  // Runs the function now (once).
  void Run() {
    if (fn_) std::exchange(fn_, nullptr)();
  }
  // Forgets the function.
  void Release() { fn_ = nullptr; }

 private:
  std::function<void()> fn_;
};

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_CLEANUP_H_
