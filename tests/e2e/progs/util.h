// Output helpers for the e2e guest programs.
//
// NOTE: These programs avoid stdio's buffers (and so malloc and brk) on purpose:
// output goes straight to write(2), so a program that dies by a signal has
// already written what it printed, and `brk` sees a heap nobody else touched.
#ifndef TESTS_E2E_PROGS_UTIL_H_
#define TESTS_E2E_PROGS_UTIL_H_

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void WriteAll(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(120);
    }
    buf += n;
    len -= (size_t)n;
  }
}

// printf to stdout, unbuffered. Lines longer than 4 KiB are cut.
__attribute__((format(printf, 1, 2))) static inline void Print(const char* fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) _exit(121);
  if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
  WriteAll(1, buf, (size_t)n);
}

// Reports a failed check on stderr and exits with status 1, so the e2e driver
// sees both the message and a status that differs from the expected one.
#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      int saved_errno_ = errno;                                                               \
      char msg_[512];                                                                         \
      int n_ = snprintf(msg_, sizeof(msg_), "%s:%d: CHECK failed: %s (errno %d)\n", __FILE__, \
                        __LINE__, #cond, saved_errno_);                                       \
      if (n_ > 0) WriteAll(2, msg_, (size_t)n_ < sizeof(msg_) ? (size_t)n_ : 511);            \
      _exit(1);                                                                               \
    }                                                                                         \
  } while (0)

#endif  // TESTS_E2E_PROGS_UTIL_H_
