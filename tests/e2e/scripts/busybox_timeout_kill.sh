#!/bin/busybox sh
# busybox timeout and kill, run by busybox sh. Each timeout runs as a child of
# this shell, never as the sandbox's first process (see ../README.md: the PID
# namespace's init ignores default-action signals sent from inside it).
bb=/bin/busybox
dir=$($bb mktemp -d /tmp/e2e-bb.XXXXXX)
trap '$bb rm -rf "$dir"' EXIT
cd "$dir"

# timeout: the program keeps timeout's pid (timeout execs it) and a forked
# watcher signals it when the time is up.
$bb timeout 1 $bb sleep 30; echo "timeout TERM: $?"
$bb timeout -s KILL 1 $bb sleep 30; echo "timeout KILL: $?"
$bb timeout -s INT 1 $bb sh -c 'trap "echo caught INT; exit 5" INT; while :; do $bb sleep 1; done'
echo "timeout INT handled: $?"
$bb timeout 30 $bb true; echo "in time: $?"
$bb timeout 30 $bb sh -c 'exit 3'; echo "status passed on: $?"
$bb timeout 30 /nonexistent/program 2>/dev/null; echo "missing program: $?"
echo piped | $bb timeout 30 $bb cat

# kill: probing, stopping and continuing, a handler, names and numbers.
$bb sleep 30 & p=$!
$bb kill -0 $p; echo "kill -0 live: $?"
$bb kill -STOP $p; echo "stopped: $?"
$bb kill -CONT $p; echo "continued: $?"
$bb kill -9 $p; wait $p; echo "killed -9: $?"
$bb kill -0 $p 2>/dev/null; echo "kill -0 reaped: $?"
$bb kill -l 15; $bb kill -l TERM; $bb kill -l 137
$bb sh -c 'trap "echo got USR2; exit 7" USR2; echo ready; while :; do $bb sleep 1; done' > handler.out &
h=$!
until [ -s handler.out ]; do $bb sleep 0.05; done
$bb kill -s USR2 $h; wait $h; echo "handler: $?"; cat handler.out
$bb kill -TERM 2147483647 2>/dev/null; echo "no such process: $?"

# A process group: a new session's leader and its two children, killed with
# one kill of the negative group id.
$bb setsid $bb sh -c 'echo $$ > group.pid; $bb sleep 30 & $bb sleep 30 & wait' &
until [ -s group.pid ]; do $bb sleep 0.05; done
g=$(cat group.pid)
$bb kill -s TERM -$g; echo "group kill: $?"
wait; echo "group gone"
echo done
