// File operation costs, measured inside the guest with CLOCK_MONOTONIC:
//   file_ops tmp DIR N    on a 1 MiB file it creates in DIR (then removes)
//   file_ops host FILE N  on an existing file (read-only; at least 4 KiB)
// prints, per operation, the mean over N:
//   stat_ns X        stat(2) of the file's path
//   open_close_ns X  open(O_RDONLY) + close
//   read4k_ns X      pread of 4 KiB at rotating offsets
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  long n = atol(argv[3]);
  if (n <= 0) return 2;
  char path[4096];
  const int tmp = strcmp(argv[1], "tmp") == 0;
  static char buf[1 << 20];
  if (tmp) {
    snprintf(path, sizeof(path), "%s/file_ops.%d", argv[2], (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
      perror(path);
      return 1;
    }
    close(fd);
  } else {
    snprintf(path, sizeof(path), "%s", argv[2]);
  }
  struct stat st;
  if (stat(path, &st) != 0 || st.st_size < 4096) {
    perror(path);
    return 1;
  }
  const long pages = st.st_size / 4096;

  double t0 = Now();
  for (long i = 0; i < n; i++) stat(path, &st);
  double t1 = Now();
  for (long i = 0; i < n; i++) close(open(path, O_RDONLY));
  double t2 = Now();
  int fd = open(path, O_RDONLY);
  for (long i = 0; i < n; i++) {
    if (pread(fd, buf, 4096, (i % pages) * 4096) != 4096) return 1;
  }
  double t3 = Now();
  close(fd);
  if (tmp) unlink(path);
  printf("stat_ns %.1f\nopen_close_ns %.1f\nread4k_ns %.1f\n", (t1 - t0) / n, (t2 - t1) / n,
         (t3 - t2) / n);
  return 0;
}
