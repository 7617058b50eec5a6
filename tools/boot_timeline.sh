#!/usr/bin/env bash
# Prints where `runsc do` spends its fixed start-up and tear-down time: runs
#   runsc --log-level=debug do [RUNSC_FLAGS...] -- PROGRAM ARGS...
# and lines up its "boot:" debug lines (runsc, the gofer and the Sentry stamp
# their log lines with the same CLOCK_MONOTONIC clock) in milliseconds from
# runsc's start, each with the time since the line before.
#
#   tools/boot_timeline.sh [RUNSC=build/runsc/runsc] [--platform=ptrace] -- /bin/true
set -euo pipefail
RUNSC=${RUNSC:-build/runsc/runsc}
"$RUNSC" --log-level=debug do "$@" 2>&1 >/dev/null </dev/null |
  awk '$3 ~ /^\[/ && / boot: / {
         if (t0 == "") { t0 = $2; prev = $2 }
         printf "%8.2f ms  (+%6.2f)  %s\n", ($2 - t0) * 1000, ($2 - prev) * 1000,
                substr($0, index($0, "boot: ") + 6)
         prev = $2
       }'
