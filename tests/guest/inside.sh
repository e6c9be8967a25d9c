#!/bin/sh
# Default command of make test-guest, run inside the guest from the work
# tree: shows that the guest is what hull's cgroup v2 and systemd tests need,
# then runs every test binary the host compiled into $HULL_GUEST_TESTS.
# Exits non-zero if a check or a test binary fails.
set -u
fail=0

check() {
	name=$1
	shift
	if "$@"; then
		echo "inside: ok   $name"
	else
		echo "inside: FAIL $name"
		fail=1
	fi
}

mode=$(stat -fc %T /sys/fs/cgroup)
echo "inside: cgroup mode: $mode"
echo "inside: controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "inside: PID 1: $(cat /proc/1/comm); kernel $(uname -r)"
check "cgroup2 at /sys/fs/cgroup" [ "$mode" = cgroup2fs ]
for c in cpuset cpu io memory hugetlb pids rdma misc; do
	check "controller $c" grep -qw "$c" /sys/fs/cgroup/cgroup.controllers
done
check "$HULL_BINARY --version" "$HULL_BINARY" --version

passed=0 failed=0 skipped=0
for t in "$HULL_GUEST_TESTS"/*.test; do
	[ -x "$t" ] || continue
	echo "inside: === $(basename "$t")"
	# Tests keep state on the guest's own disk: 9p does not do overlayfs
	# or sockets well.
	log=/tmp/$(basename "$t").log
	(cd /tmp && "$t" -test.v -test.count=1) >"$log" 2>&1 &
	tail --pid=$! -f "$log" 2>/dev/null
	wait $! || fail=1
	passed=$((passed + $(grep -c '^--- PASS' "$log")))
	failed=$((failed + $(grep -c '^--- FAIL' "$log")))
	skipped=$((skipped + $(grep -c '^--- SKIP' "$log")))
done
# Top-level tests of all binaries; a binary that dies without a --- FAIL
# line still fails the run through its exit code.
echo "guest: $passed passed, $failed failed, $skipped skipped"
exit "$fail"
