// A tiny program for the loader tests, built with `gcc -static` and
// `gcc -static-pie`. The tests look for its marker string and its bss in the
// loaded image; run, it prints its arguments and exits with their count.
#include <stdio.h>

char loader_test_marker[] = "sentry-loader-test-marker";
char loader_test_bss[64 * 1024];

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) printf("%s\n", argv[i]);
  loader_test_bss[argc] = 1;
  return argc;
}
