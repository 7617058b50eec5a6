// Dereferences NULL: the process dies by SIGSEGV (status 128+11 = 139).
#include "util.h"

int main(void) {
  Print("before fault\n");
  volatile int* volatile p = NULL;
  *p = 1;
  Print("after fault\n");  // Not reached.
  return 0;
}
