// Prints where things landed: the stack, the break, a fresh mapping, the code.
// Two runs print the same with address-space randomization off, and differ
// with it on.
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  int local = 0;
  void* map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("stack %p\nbrk %p\nmmap %p\ncode %p\n", (void*)&local, sbrk(0), map, (void*)&main);
  return map == MAP_FAILED;
}
