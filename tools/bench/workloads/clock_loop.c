// clock_gettime(CLOCK_MONOTONIC) through libc, which answers it from the vDSO
// where the kernel maps one (with none, every call is a syscall). Calls it in
// a loop for about argv[1] ms (default 200) of its own time and prints the
// mean cost:
//   clock_calls N
//   clock_ns_per_call X
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  const long ms = argc > 1 ? atol(argv[1]) : 200;
  if (ms <= 0) return 2;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const long long end = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec + ms * 1000000LL;
  long long now;
  long n = 0;
  do {
    clock_gettime(CLOCK_MONOTONIC, &t);
    n++;
    now = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
  } while (now < end);
  const double ns = (double)(now - ((long long)t0.tv_sec * 1000000000LL + t0.tv_nsec));
  printf("clock_calls %ld\nclock_ns_per_call %.1f\n", n, ns / (double)n);
  return 0;
}
