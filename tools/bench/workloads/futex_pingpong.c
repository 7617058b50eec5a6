// Futex round trip: two threads of one process (pthreads, static) bounce a futex
// word N times: the main thread sets it to 1 and FUTEX_WAKEs, the other thread
// waits for 1, sets it to 0 and wakes the main thread, which waits for 0.
// Prints the mean round trip measured in the main thread with CLOCK_MONOTONIC:
//   futex_round_trips N
//   futex_round_trip_us X
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int word;
static long rounds;

static void Wait(int until) {
  for (;;) {
    int v = atomic_load(&word);
    if (v == until) return;
    syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
  }
}

static void Set(int v) {
  atomic_store(&word, v);
  syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void* Partner(void* arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++) {
    Wait(1);
    Set(0);
  }
  return NULL;
}

int main(int argc, char** argv) {
  rounds = argc > 1 ? atol(argv[1]) : 10000;
  if (rounds <= 0) return 2;
  pthread_t t;
  if (pthread_create(&t, NULL, Partner, NULL) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < rounds; i++) {
    Set(1);
    Wait(0);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(t, NULL);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("futex_round_trips %ld\nfutex_round_trip_us %.2f\n", rounds, ns / 1e3 / (double)rounds);
  return 0;
}
