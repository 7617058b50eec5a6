#!/bin/sh
# UTS and IPC namespaces with util-linux's unshare and nsenter (as root):
# unshare(2), sethostname(2), /proc/<pid>/ns and setns(2). Nothing here
# changes the namespaces of the shell itself (or, natively, the host's).
dir=$(mktemp -d /tmp/e2e-ns.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

unshare -u sh -c 'hostname e2e-inner; echo "inner: $(hostname)"'
[ "$(hostname)" != e2e-inner ] && echo "outer unchanged"

# A process in its own UTS namespace, joined from outside with nsenter.
unshare -u sh -c 'hostname e2e-joined; echo up > ready; exec sleep 30' &
p=$!
until [ -s ready ]; do sleep 0.05; done
echo "nsenter: $(nsenter -t $p -u hostname)"
[ "$(readlink /proc/$p/ns/uts)" != "$(readlink /proc/self/ns/uts)" ] && echo "uts differs"
[ "$(readlink /proc/$p/ns/ipc)" = "$(readlink /proc/self/ns/ipc)" ] && echo "ipc shared"
kill $p; wait $p

outer_ipc=$(readlink /proc/self/ns/ipc)
unshare -i sh -c "[ \"\$(readlink /proc/self/ns/ipc)\" != '$outer_ipc' ] && echo 'new ipc'"
echo done
