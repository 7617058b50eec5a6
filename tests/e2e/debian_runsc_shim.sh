#!/bin/sh
# Lets the e2e tests run against Debian's gVisor runsc, to check the tests
# themselves against a mature sandbox:
#   SANDBOX_RUNSC=tests/e2e/debian_runsc_shim.sh build/tests/e2e/tests_e2e_test
# Translates our `runsc do --platform=P [--strace] -- PROG ARGS...` into gVisor's
# `runsc --platform=P --network=none [--strace ...] do PROG ARGS...` (gVisor takes
# these as global flags, before the subcommand). Needs root. gVisor's --strace
# output is not in strace(1)'s format, so E2eStraceTest fails under it.
set -eu
RUNSC=${DEBIAN_RUNSC:-/usr/bin/runsc}
[ "${1:-}" = do ] || { echo "debian_runsc_shim: expected 'do', got '${1:-}'" >&2; exit 125; }
shift
flags="--network=none"
while [ $# -gt 0 ]; do
  case "$1" in
    --platform=*) flags="$flags $1" ;;
    --strace) flags="$flags --strace --debug --debug-log=/dev/stderr" ;;
    --) shift; break ;;
    *) echo "debian_runsc_shim: unknown flag $1" >&2; exit 125 ;;
  esac
  shift
done
# shellcheck disable=SC2086  # $flags is a list of words
exec "$RUNSC" $flags do -quiet -- "$@"
