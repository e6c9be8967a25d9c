#!/bin/sh
# The validation suite run rootless: every program runs as an unprivileged
# test user (made here, removed at exit) against `hull --rootless true` and
# `runc --rootless true`, each with a state root of the user's own, one
# runtime after the other. The programs are unchanged: most write configs
# for root (no user namespace, cgroup limits), which an unprivileged user
# cannot run under either runtime, so what counts is hull's number beside
# runc's. Must run as root (to make the user).
#
# Usage: rootless.sh [--only REGEX] [--timeout SECONDS] [--out DIR]
# Writes results-rootless-<runtime>.txt and logs/rootless-<runtime>/ under
# _build/validate (or --out DIR) and prints one row per program.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
HULL_BINARY=${HULL_BINARY:-$top/_build/hull}
only="" limit=60 out=$top/_build/validate
while [ $# -gt 0 ]; do
	case $1 in
	--only) only=${2:?}; shift 2 ;;
	--timeout) limit=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	*) echo "rootless.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "rootless.sh: must run as root (it makes the test user)" >&2; exit 2; }
bin=$(sh "$here/run.sh" --build-only) || exit 3
. "$here/lib.sh"
programs=$(list_programs "$bin" "$only")

user=hullrlv$$
useradd -M -d /nonexistent -s /usr/sbin/nologin "$user"
work=$(mktemp -d /tmp/hull-validate-rootless.XXXXXX)
chmod 755 "$work"
cleanup() {
	for rt in hull runc; do
		[ -x "$work/$rt/wrapper" ] || continue
		for id in $(runuser -u "$user" -- "$work/$rt/wrapper" list -q 2>/dev/null); do
			runuser -u "$user" -- "$work/$rt/wrapper" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
	userdel "$user"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The programs copy runtimetest and untar the rootfs keeping owners: as the
# user, only its own ids can be kept. So it gets its own copy of the suite
# and a tarball whose files are its own.
cp -a "$bin" "$work/suite"
tarball=$(ls "$work"/suite/rootfs-*.tar.gz)
mkdir "$work/rootfs" && tar -C "$work/rootfs" -xzf "$tarball" &&
	tar -C "$work/rootfs" --owner="$(id -u "$user")" --group="$(id -g "$user")" --numeric-owner -czf "$tarball" . &&
	rm -rf "$work/rootfs"
chown -R "$user:$user" "$work/suite"
bin=$work/suite

mkdir -p "$out"
for rt in hull runc; do
	case $rt in
	hull) rbin=$HULL_BINARY ;;
	*) rbin=$(command -v "$rt") || { echo "[$rt] not installed"; continue; } ;;
	esac
	d=$work/$rt
	mkdir -p "$d/state" "$d/tmp" "$d/xdg"
	printf '#!/bin/sh\nexec "%s" --rootless true --root "%s" "$@"\n' "$rbin" "$d/state" >"$d/wrapper"
	chmod 755 "$d/wrapper"
	chown -R "$user:$user" "$d"
	chmod 700 "$d/state" "$d/xdg"
	results=$out/results-rootless-$rt.txt logdir=$out/logs/rootless-$rt
	: >"$results"
	mkdir -p "$logdir"
	for prog in $programs; do
		rc=0
		(cd "$bin" && runuser -u "$user" -- env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			XDG_RUNTIME_DIR="$d/xdg" RUNTIME="$d/wrapper" TMPDIR="$d/tmp" \
			timeout -k 10 "$limit" "./$prog.t" >"$d/out" 2>"$d/err" </dev/null) || rc=$?
		verdict=$(sh "$here/tap.sh" "$rc" "$limit" "$d/out" "$d/err")
		{
			echo "# program: $prog  runtime: $rt (rootless)  exit: $rc"
			echo "# verdict: $verdict"
			cat "$d/out"
			echo "# ---- stderr"
			cat "$d/err"
		} >"$logdir/$prog.log"
		echo "$prog ${verdict%% *}" >>"$results"
		printf '[%s rootless] %-36s %s\n' "$rt" "$prog" "$(echo "$verdict" | cut -c1-100)"
		for id in $(runuser -u "$user" -- "$d/wrapper" list -q 2>/dev/null); do
			runuser -u "$user" -- "$d/wrapper" delete --force "$id" >/dev/null 2>&1 || true
		done
		rm -rf "${d:?}"/tmp/* 2>/dev/null || true
	done
done

printf '%-40s %-6s %-6s\n' program hull runc
for prog in $programs; do
	printf '%-40s %-6s %-6s\n' "$prog" \
		"$(awk -v p="$prog" '$1 == p { print $2 }' "$out/results-rootless-hull.txt" 2>/dev/null)" \
		"$(awk -v p="$prog" '$1 == p { print $2 }' "$out/results-rootless-runc.txt" 2>/dev/null)"
done
n=$(echo "$programs" | wc -w)
for rt in hull runc; do
	echo "rootless $rt: passed $(grep -c ' PASS$' "$out/results-rootless-$rt.txt" 2>/dev/null || true)/$n"
done
