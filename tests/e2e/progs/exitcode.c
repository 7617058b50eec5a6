// Exits with the status given as argv[1] (exit(3) keeps its low 8 bits).
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 2) return 100;
  exit(atoi(argv[1]));
}
