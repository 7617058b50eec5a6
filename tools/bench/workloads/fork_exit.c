// Process creation and reaping: N times fork(2), the child _exit(0)s at once and
// the parent reaps it with wait4(2). Prints the mean cost per iteration measured
// inside the guest with CLOCK_MONOTONIC:
//   fork_exit_iterations N
//   fork_exit_us X
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 200;
  if (n <= 0) return 2;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) _exit(0);
    int status;
    if (wait4(pid, &status, 0, NULL) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d: bad wait status %#x\n", (int)pid, status);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("fork_exit_iterations %ld\nfork_exit_us %.1f\n", n, ns / 1e3 / (double)n);
  return 0;
}
