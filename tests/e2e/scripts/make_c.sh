#!/bin/bash
# make -j2 builds a small multi-file C program with gcc (compiler driver, cc1,
# as, collect2, ld: fork, exec, pipes, temp files) in a fresh directory under
# /tmp, then runs it. Prints make's own commands (they are the same on every
# kernel) and the program's output.
set -eu
dir=$(mktemp -d /tmp/e2e-make.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mkdir src
cat > src/sum.h <<'C'
#ifndef SUM_H
#define SUM_H
long sum_to(long n);
#endif
C
cat > src/fact.h <<'C'
#ifndef FACT_H
#define FACT_H
unsigned long long fact(int n);
#endif
C
cat > src/sum.c <<'C'
#include "sum.h"
long sum_to(long n) { long s = 0; for (long i = 1; i <= n; ++i) s += i; return s; }
C
cat > src/fact.c <<'C'
#include "fact.h"
unsigned long long fact(int n) { return n <= 1 ? 1ULL : (unsigned long long)n * fact(n - 1); }
C
cat > src/main.c <<'C'
#include <stdio.h>
#include <string.h>
#include "fact.h"
#include "sum.h"
#include "version.h"
int main(int argc, char **argv) {
  printf("%s: sum_to(100)=%ld fact(20)=%llu args=%d\n", VERSION, sum_to(100), fact(20), argc - 1);
  for (int i = 1; i < argc; ++i) printf("arg %d: %s (%zu)\n", i, argv[i], strlen(argv[i]));
  return 3;
}
C
# A generated header (a rule with a shell recipe), pattern rules, automatic
# variables, a static library made with ar.
cat > Makefile <<'M'
CC = gcc
CFLAGS = -O1 -Wall -Werror -Isrc -I.
OBJS = main.o libmath.a

prog: $(OBJS)
	$(CC) -o $@ main.o -L. -lmath

libmath.a: sum.o fact.o
	ar rcs $@ $^

%.o: src/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

main.o: version.h src/sum.h src/fact.h

version.h:
	echo '#define VERSION "v1"' > $@

clean:
	rm -f prog *.o *.a version.h
.PHONY: clean
M
# -j2 runs two jobs at a time, so the order of the commands is not fixed:
# the listing is sorted.
make -j2 --no-print-directory prog > make.log 2>&1 || { cat make.log; exit 1; }
sort make.log
echo "--- run"
status=0
./prog one "two words" || status=$?
echo "prog status: $status"
# Nothing to do the second time; a touched source rebuilds only its object.
make -j2 --no-print-directory prog
touch src/sum.c
make -j2 --no-print-directory prog 2>&1 | sort
make --no-print-directory -s clean
ls
