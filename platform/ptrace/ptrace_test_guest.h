// Guest code snippets for the ptrace platform's tests and benchmark
// (ptrace_test_guest_amd64.S).
#ifndef PLATFORM_PTRACE_PTRACE_TEST_GUEST_H_
#define PLATFORM_PTRACE_PTRACE_TEST_GUEST_H_

#include <span>

#define PTRACE_TEST_GUEST(name)                                                              \
  extern "C" const char guest_##name##_start[], guest_##name##_end[];                        \
  namespace platform::ptrace::guest {                                                        \
  inline std::span<const char> name() { return {guest_##name##_start, guest_##name##_end}; } \
  }

PTRACE_TEST_GUEST(syscall_args)
PTRACE_TEST_GUEST(store)
PTRACE_TEST_GUEST(load)
PTRACE_TEST_GUEST(int3)
PTRACE_TEST_GUEST(ud2)
PTRACE_TEST_GUEST(divide_by_zero)
PTRACE_TEST_GUEST(non_canonical)
PTRACE_TEST_GUEST(spin)
PTRACE_TEST_GUEST(xmm)
PTRACE_TEST_GUEST(exit_group)
PTRACE_TEST_GUEST(jump_to_stub)
PTRACE_TEST_GUEST(vsyscall)
PTRACE_TEST_GUEST(syscall_loop)
PTRACE_TEST_GUEST(rendezvous)
PTRACE_TEST_GUEST(jump_rsi)

#undef PTRACE_TEST_GUEST

#endif  // PLATFORM_PTRACE_PTRACE_TEST_GUEST_H_
