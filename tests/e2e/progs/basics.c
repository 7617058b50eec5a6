// A tour of everyday system calls. Every line it prints is a fact that holds on
// any correct kernel (no times, ids or addresses), so its output can be compared
// byte for byte with a native run. Reads 16 bytes from stdin with readv(2).
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#include "util.h"

static int64_t Ns(const struct timespec* ts) {
  return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static const char* YesNo(int b) { return b ? "yes" : "no"; }

int main(void) {
  struct utsname u;
  CHECK(uname(&u) == 0);
  Print("uname: sysname %s, machine %s\n", u.sysname, u.machine);

  Print("getpid() > 0: %s\n", YesNo(getpid() > 0));
  Print("gettid() == getpid(): %s\n", YesNo(gettid() == getpid()));

  struct timespec t0, t1, t2;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &t0) == 0);
  CHECK(clock_gettime(CLOCK_MONOTONIC, &t1) == 0);
  Print("CLOCK_MONOTONIC does not go back: %s\n", YesNo(Ns(&t1) >= Ns(&t0)));
  struct timespec req = {0, 10 * 1000 * 1000};
  CHECK(nanosleep(&req, NULL) == 0);
  CHECK(clock_gettime(CLOCK_MONOTONIC, &t2) == 0);
  Print("nanosleep(10 ms) slept at least 10 ms: %s\n", YesNo(Ns(&t2) - Ns(&t1) >= 10000000));
  struct timespec rt;
  CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
  Print("CLOCK_REALTIME after 2020: %s\n", YesNo(rt.tv_sec > 1577836800));

  uint8_t rnd[16] = {0};
  ssize_t got = getrandom(rnd, sizeof(rnd), 0);
  int nonzero = 0;
  for (size_t i = 0; i < sizeof(rnd); i++) nonzero |= rnd[i];
  Print("getrandom(16): returned %zd, not all zero: %s\n", got, YesNo(nonzero != 0));

  cpu_set_t set;
  CPU_ZERO(&set);
  CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
  Print("sched_getaffinity: CPU_COUNT > 0: %s\n", YesNo(CPU_COUNT(&set) > 0));

  struct sysinfo si;
  int si_rc = sysinfo(&si);
  Print("sysinfo: returned %d, totalram > 0: %s, mem_unit > 0: %s\n", si_rc, YesNo(si.totalram > 0),
        YesNo(si.mem_unit > 0));

  struct rlimit old, want, now;
  CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
  want = old;
  want.rlim_cur = old.rlim_cur > 64 ? 64 : old.rlim_cur;
  CHECK(setrlimit(RLIMIT_NOFILE, &want) == 0);
  CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
  int round_trip = now.rlim_cur == want.rlim_cur && now.rlim_max == want.rlim_max;
  CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
  round_trip = round_trip && now.rlim_cur == old.rlim_cur && now.rlim_max == old.rlim_max;
  Print("setrlimit/getrlimit(RLIMIT_NOFILE) round trip: %s\n", YesNo(round_trip));
  if (old.rlim_max != RLIM_INFINITY) {
    // soft > hard is EINVAL for everyone, root or not.
    struct rlimit bad = {old.rlim_max, old.rlim_max - 1};
    errno = 0;
    int rc = setrlimit(RLIMIT_NOFILE, &bad);
    Print("setrlimit(soft > hard): %d, EINVAL: %s\n", rc, YesNo(errno == EINVAL));
  }

  char a[5], b[11];
  memset(a, '.', sizeof(a));  // What a short read leaves is still printable.
  memset(b, '.', sizeof(b));
  struct iovec in[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  size_t total = 0;
  while (total < sizeof(a) + sizeof(b)) {
    // Advance the iovecs past what has been read so far.
    struct iovec rest[2];
    int cnt = 0;
    size_t skip = total;
    for (int i = 0; i < 2; i++) {
      if (skip >= in[i].iov_len) {
        skip -= in[i].iov_len;
        continue;
      }
      rest[cnt].iov_base = (char*)in[i].iov_base + skip;
      rest[cnt].iov_len = in[i].iov_len - skip;
      skip = 0;
      cnt++;
    }
    ssize_t n = readv(0, rest, cnt);
    CHECK(n >= 0);
    if (n == 0) break;
    total += (size_t)n;
  }
  Print("readv(stdin, 5+11): %zu bytes\n", total);
  static const char kPrefix[] = "writev: ";
  struct iovec out[4] = {
      {(void*)kPrefix, sizeof(kPrefix) - 1}, {a, sizeof(a)}, {(void*)"|", 1}, {b, sizeof(b)}};
  ssize_t w = writev(1, out, 4);
  Print("\nwritev returned %zd\n", w);

  errno = 0;
  long rc = syscall(444 + 50);
  Print("syscall(494): %ld, ENOSYS: %s\n", rc, YesNo(errno == ENOSYS));
  return 0;
}
