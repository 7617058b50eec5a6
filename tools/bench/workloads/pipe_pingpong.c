// Pipe round trip: a parent and a forked child bounce one byte N times over two
// pipes (parent writes to the child's pipe and reads the reply from its own).
// Prints the mean round trip measured in the parent with CLOCK_MONOTONIC:
//   pipe_round_trips N
//   pipe_round_trip_us X
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000;
  if (n <= 0) return 2;
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
    perror("pipe");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  char c = 'x';
  if (pid == 0) {
    close(to_child[1]);
    close(to_parent[0]);
    for (long i = 0; i < n; i++) {
      if (read(to_child[0], &c, 1) != 1 || write(to_parent[1], &c, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1) {
      perror("ping");
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child: bad wait status %#x\n", status);
    return 1;
  }
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("pipe_round_trips %ld\npipe_round_trip_us %.2f\n", n, ns / 1e3 / (double)n);
  return 0;
}
