#!/bin/sh
# Runs the validation programs against one runtime. run.sh starts it inside
# a private mount namespace (unshare -m --propagation private), after making
# the cgroups it joins here; nothing it mounts is seen outside.
# Usage: runtime.sh NAME WRAPPER SUITE_BIN WORK CGROUP TIMEOUT LOGDIR RESULTS PROGRAM...
#   NAME      runtime name (hull, runc, crun), for logs and messages
#   WRAPPER   script that runs the runtime with a private --root
#   SUITE_BIN directory with runtimetest, the *.t programs and the rootfs tarball
#   WORK      scratch directory of this runtime (bundles go to WORK/tmp)
#   CGROUP    absolute cgroup (e.g. /hull-validate-123-runc) made in every v1
#             hierarchy; this shell moves itself there so that containers
#             without a cgroupsPath land below it and not in our caller's
#             cgroup. On cgroup v2 it moves to CGROUP/runner instead, and
#             runc's containers land beside it, in CGROUP.
#   RESULTS   file that gets one "program STATUS" line per program; beside
#             it, failures-NAME.txt gets "program: verdict" for the others
set -eu

name=$1 wrapper=$2 bin=$3 work=$4 cgroup=$5 limit=$6 logdir=$7 results=$8
shift 8
here=$(cd "$(dirname "$0")" && pwd)
abslist="$bin/../abs-cgroup-programs"
# One lock for the whole machine: /cgrouptest is one cgroup for everyone.
abslock=/run/lock/hull-validate-cgrouptest.lock

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	# v2: CGROUP has controllers enabled for its children, so no process
	# may live in it; we take its leaf CGROUP/runner (made by run.sh).
	echo $$ >"/sys/fs/cgroup/${cgroup#/}/runner/cgroup.procs"
else
	for h in /sys/fs/cgroup/*/; do
		[ -f "$h/tasks" ] && [ -d "$h${cgroup#/}" ] || continue
		echo $$ >"$h${cgroup#/}/cgroup.procs"
	done
	# crun 1.8.1 refuses hybrid hierarchies whose cgroup2 lists controllers
	# (here hugetlb). Hiding the list only in this namespace is a test-only
	# workaround.
	if [ "$name" = crun ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
		: >"$work/empty-controllers"
		mount --bind "$work/empty-controllers" /sys/fs/cgroup/unified/cgroup.controllers
	fi
fi

mkdir -p "$work/tmp" "$logdir"
: >"$results"
failures="$(dirname "$results")/failures-$name.txt"
: >"$failures"

# Removes what a program left behind: containers still known to the runtime
# (in our private state root) and bundles in our scratch TMPDIR.
clean_leftovers() {
	for id in $("$wrapper" list -q 2>/dev/null); do
		"$wrapper" delete --force "$id" >/dev/null 2>&1 || true
	done
	for b in "$work"/tmp/*; do
		[ -e "$b" ] || continue
		# A container without a mount namespace mounts into this namespace.
		awk -v b="$b/" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo |
			sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
		rm -rf --one-file-system "$b" 2>/dev/null || true
	done
}

run_program() {
	prog=$1
	out="$work/$prog.out" err="$work/$prog.err"
	set -- timeout -k 10 "$limit" "./$prog.t"
	if grep -qx "$prog" "$abslist" 2>/dev/null; then
		set -- flock "$abslock" "$@"
	fi
	start=$(date +%s)
	rc=0
	(cd "$bin" && RUNTIME="$wrapper" TMPDIR="$work/tmp" "$@" >"$out" 2>"$err" </dev/null) || rc=$?
	secs=$(($(date +%s) - start))
	verdict=$(sh "$here/tap.sh" "$rc" "$limit" "$out" "$err")
	status=${verdict%% *}
	{
		echo "# program: $prog  runtime: $name  exit: $rc  seconds: $secs"
		echo "# verdict: $verdict"
		echo "# ---- stdout (TAP)"
		cat "$out"
		echo "# ---- stderr"
		cat "$err"
	} >"$logdir/$prog.log"
	rm -f "$out" "$err"
	echo "$prog $status" >>"$results"
	[ "$status" = PASS ] || echo "$prog: $verdict" >>"$failures"
	printf '[%s] %-36s %s (%ss)\n' "$name" "$prog" "$verdict" "$secs"
	clean_leftovers
}

for prog in "$@"; do
	run_program "$prog"
done
