// main() of every syscall test binary: says where it runs, then runs the tests.
#include <cstdio>

#include "gmock/gmock.h"
#include "syscalls-tests/util/test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  std::printf("syscalls-tests: running %s\n",
              syscalls_test::IsRunningInSandbox() ? "inside the sandbox" : "natively");
  std::fflush(stdout);
  return RUN_ALL_TESTS();
}
