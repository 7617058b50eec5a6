// The smallest guest: one write(2) to stdout, exit status 0. Built twice, as a
// static and as a static-PIE executable.
#include <unistd.h>

int main(void) {
  static const char kMsg[] = "hello, world\n";
  return write(1, kMsg, sizeof(kMsg) - 1) == sizeof(kMsg) - 1 ? 0 : 1;
}
