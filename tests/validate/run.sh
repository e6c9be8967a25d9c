#!/bin/sh
# The OCI runtime-tools validation suite (v0.9.0) against hull, runc and crun,
# side by side. Must run as root.
#
# Usage: run.sh [--runtime NAME]... [--only REGEX] [--timeout SECONDS] [--serial] [--out DIR]
#               [--suite DIR | --build-only]
#   --runtime  hull, runc or crun; repeatable; default: all three
#   --only     run only programs whose name matches this extended regex
#   --timeout  per-program limit, default 60
#   --serial   run the runtimes one after another instead of side by side
#   --out DIR  where results and logs go, default _build/validate
#   --suite DIR  use the suite already built in DIR (programs, runtimetest and
#              rootfs tarball, as --build-only prints); needs no Go (guest.sh)
#   --build-only  build the suite and its rootfs tarball, print its directory
# Environment: HULL_BINARY (default _build/hull), HULL_ROOTFS (default
# _build/rootfs/busybox; built with tests/rootfs/busybox.sh when missing).
#
# Writes, under _build/validate/ (or --out DIR):
#   results-<runtime>.txt   "program STATUS" per program (PASS, FAIL, SKIP)
#   failures-<runtime>.txt  "program: reason" for each program not passing
#   logs/<runtime>/<program>.log  TAP, stderr, exit code and verdict
# Exit status: 0 when the suite ran (whatever the verdicts), 2 on bad usage
# or not root, 3 when the suite or its rootfs cannot be built.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache="$top/_build/validate"
HULL_BINARY=${HULL_BINARY:-$top/_build/hull}
HULL_ROOTFS=${HULL_ROOTFS:-$top/_build/rootfs/busybox}

runtimes="" only="" limit=60 serial=0 out=$cache suite="" build_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--runtime) runtimes="$runtimes ${2:?--runtime needs a name}"; shift 2 ;;
	--only) only=${2:?--only needs a pattern}; shift 2 ;;
	--timeout) limit=${2:?--timeout needs seconds}; shift 2 ;;
	--serial) serial=1; shift ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--suite) suite=${2:?--suite needs a directory}; shift 2 ;;
	--build-only) build_only=1; shift ;;
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
runtimes=${runtimes:-hull runc crun}
for rt in $runtimes; do
	case $rt in hull | runc | crun) ;; *) echo "run.sh: unknown runtime $rt" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
. "$here/lib.sh"

t0=$(date +%s)
if [ -n "$suite" ]; then
	bin=$(cd "$suite" && pwd)
	ls "$bin"/rootfs-*.tar.gz >/dev/null 2>&1 && [ -x "$bin/runtimetest" ] ||
		{ echo "run.sh: $bin has no rootfs tarball or runtimetest (run.sh --build-only)" >&2; exit 3; }
else
	bin=$(sh "$here/build.sh" "$cache") || { echo "run.sh: cannot build the validation suite" >&2; exit 3; }
	make_rootfs_tarball "$bin" || { echo "run.sh: cannot make the rootfs tarball" >&2; exit 3; }
fi
if [ "$build_only" = 1 ]; then
	echo "$bin"
	exit 0
fi
programs=$(list_programs "$bin" "$only")
[ -n "$programs" ] || { echo "run.sh: no program matches '$only'" >&2; exit 2; }
echo "suite ready in $(($(date +%s) - t0))s: $(echo "$programs" | wc -w) programs in $bin"

run_id="$$"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hull-validate.XXXXXX")
# Bundles live below it: containers in a user namespace must be able to reach them.
chmod 755 "$scratch"
trap 'cleanup_all' EXIT
trap 'exit 130' INT TERM
cgroups_before=$(top_cgroups)

pids=""
for rt in $runtimes; do
	rm -f "$out/results-$rt.txt" "$out/failures-$rt.txt"
	binary=$(runtime_binary "$rt") || { echo "[$rt] n/a: $binary"; continue; }
	start_runtime "$rt" "$binary" "$bin" "$programs" &
	if [ "$serial" = 1 ]; then wait $! || true; else pids="$pids $!"; fi
done
for p in $pids; do wait "$p" || true; done

print_table "$runtimes" "$programs"
echo "total time: $(($(date +%s) - t0))s"
