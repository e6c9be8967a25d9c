#!/bin/sh
# The validation suite (run.sh) inside the cgroup v2 guest of tests/guest:
# systemd as PID 1, the unified hierarchy only, runc and crun from Debian.
# The suite is built on the host (the guest has no Go) and run from the
# read-only work tree; bundles, state and results go to the guest's disk.
#
# Usage: guest.sh [run.sh options: --runtime, --only, --timeout, --serial]
#   Per-program timeout defaults to 300 s: the guest runs under software
#   emulation. Prints run.sh's per-program lines and table, and copies the
#   results and logs to _build/validate/guest/ on the host.
# Env:   HULL_BINARY         hull binary (default _build/hull; in the work tree)
#        HULL_GUEST_TIMEOUT  limit for the whole guest, default 3600 s
#        HULL_GUEST_RUN      exchange directory, default _build/guest/run-validate
#                            (not the run/ of make test-guest, so both can run)
# Exit status: run.sh's in the guest (0 when the suite ran), or the guest
# runner's when the guest failed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# In the guest (tests/guest/run.sh runs us there with HULL_GUEST=1): run the
# prebuilt suite, then leave the results in the exchange share for the host.
if [ "${HULL_GUEST:-}" = 1 ]; then
	out=/var/tmp/hull-validate
	rm -rf "$out"
	find /sys/fs/cgroup -mindepth 1 -type d | sort >"$out.before"
	rc=0
	sh "$here/run.sh" --out "$out" --timeout 300 "$@" || rc=$?
	# run.sh must leave no cgroup behind; the guest is thrown away, so
	# only report what would leak on a real machine.
	find /sys/fs/cgroup -mindepth 1 -type d | sort | comm -13 "$out.before" - |
		sed 's/^/guest.sh: cgroup left behind: /'
	rm -f "$out.before"
	if [ -n "${HULL_GUEST_XCHG:-}" ]; then
		mkdir -p "$HULL_GUEST_XCHG/validate"
		cp -R "$out/." "$HULL_GUEST_XCHG/validate/"
	fi
	exit "$rc"
fi

bin=$(sh "$here/run.sh" --build-only) || exit $?
case $bin in
"$top"/*) ;;
*) echo "guest.sh: suite $bin is outside the work tree the guest sees" >&2; exit 3 ;;
esac
export HULL_GUEST_RUN="${HULL_GUEST_RUN:-$top/_build/guest/run-validate}"
export HULL_GUEST_TIMEOUT="${HULL_GUEST_TIMEOUT:-3600}"
rc=0
(cd "$top" && sh tests/guest/run.sh sh tests/validate/guest.sh --suite "$bin" "$@") || rc=$?
results=$top/_build/validate/guest
rm -rf "$results"
if [ -d "$HULL_GUEST_RUN/validate" ]; then
	cp -R "$HULL_GUEST_RUN/validate" "$results"
	echo "guest.sh: results and logs in $results"
fi
exit "$rc"
