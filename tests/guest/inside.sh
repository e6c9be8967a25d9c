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

passed=0 failed=0
for t in "$HULL_GUEST_TESTS"/*.test; do
	[ -x "$t" ] || continue
	echo "inside: === $(basename "$t")"
	# Tests keep state on the guest's own disk: 9p does not do overlayfs
	# or sockets well.
	if (cd /tmp && "$t" -test.v -test.count=1); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		fail=1
	fi
done
echo "inside: test binaries: $passed passed, $failed failed"
exit "$fail"
