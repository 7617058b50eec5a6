// Fresh anonymous memory: maps MiB (argv[1], default 64) of private anonymous
// memory and writes one byte per page, so every page faults in once; prints the
// time of the touching loop, measured inside the guest with CLOCK_MONOTONIC:
//   touch_pages P
//   touch_ns_total T
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  long page = sysconf(_SC_PAGESIZE);
  if (mib <= 0 || page <= 0) return 2;
  size_t len = (size_t)mib << 20;
  volatile uint8_t* m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (size_t off = 0; off < len; off += (size_t)page) m[off] = 1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  munmap((void*)m, len);
  printf("touch_pages %zu\ntouch_ns_total %lld\n", len / (size_t)page, ns);
  return 0;
}
