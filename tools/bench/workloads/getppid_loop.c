// Syscall round trip: calls getppid(2) N times (argv[1], default 20000) through
// syscall(2), so libc cannot cache or skip it, or with argv[2] = "wrapper"
// through glibc's getppid() (never cached: `mov $110, %eax; syscall`, the form
// systrap's syscall-site patching rewrites), and prints the mean cost measured
// inside the guest with CLOCK_MONOTONIC:
//   getppid_calls N
//   getppid_ns_per_call X
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  if (n <= 0) return 2;
  const int wrapper = argc > 2 && strcmp(argv[2], "wrapper") == 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (wrapper) {
    for (long i = 0; i < n; i++) getppid();
  } else {
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("getppid_calls %ld\ngetppid_ns_per_call %.1f\n", n, ns / (double)n);
  return 0;
}
