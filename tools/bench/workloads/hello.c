// The whole-process baseline: start, one write(2), exit.
#include <unistd.h>

int main(void) {
  static const char kMsg[] = "hello, world\n";
  return write(1, kMsg, sizeof(kMsg) - 1) == sizeof(kMsg) - 1 ? 0 : 1;
}
