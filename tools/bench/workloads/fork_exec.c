// Process creation with execve: N times fork(2), the child execve(2)s this same
// static binary with argv[1] == "exit_now" (which returns at once), and the
// parent reaps it with wait4(2). Prints the mean cost per iteration measured
// inside the guest with CLOCK_MONOTONIC:
//   fork_exec_iterations N
//   fork_exec_us X
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "exit_now") == 0) return 0;
  long n = argc > 1 ? atol(argv[1]) : 100;
  if (n <= 0) return 2;
  // /proc/self/exe would do too, but argv[0] is the path the runner gave.
  char* child_argv[] = {argv[0], "exit_now", NULL};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      execve(argv[0], child_argv, environ);
      _exit(127);
    }
    int status;
    if (wait4(pid, &status, 0, NULL) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d: bad wait status %#x\n", (int)pid, status);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("fork_exec_iterations %ld\nfork_exec_us %.1f\n", n, ns / 1e3 / (double)n);
  return 0;
}
