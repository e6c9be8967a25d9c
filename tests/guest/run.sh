#!/bin/sh
# make test-guest: boots one Debian 12 guest (systemd as PID 1, cgroup v2
# only) under qemu and runs a command in it from the work tree, which the
# guest sees read-only at the same path over 9p. Exits with the command's
# exit code.
#
# Usage: run.sh [COMMAND [ARG...]]   (default: tests/guest/inside.sh)
# Env:   HULL_BINARY           hull binary to test (default _build/hull)
#        HULL_GUEST_TIMEOUT    seconds before the guest is killed (600)
#        HULL_GUEST_ACCEL      qemu accelerator (tcg: this machine's KVM
#                              cannot boot Debian's kernel)
#        HULL_GUEST_IMAGES     directory of the built images (default _build/guest)
#        HULL_GUEST_RUN        exchange directory of this run (default
#                              _build/guest/run); emptied at start
#        HULL_MACHINES_TESTS   passed into the guest (machines.sh's selection)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/_build/guest
# Per-run exchange directory; HULL_GUEST_RUN gives a run its own, so that
# two guests can run at once (each needs its own).
xchg=${HULL_GUEST_RUN:-$build/run}
# Where images are kept (qemu reads them on the host, so they may live
# outside the work tree): CI keeps them across runs of a machine.
images=${HULL_GUEST_IMAGES:-$build}
timeout=${HULL_GUEST_TIMEOUT:-600}
accel=${HULL_GUEST_ACCEL:-tcg}
hull=${HULL_BINARY:-$root/_build/hull}
t0=$(date +%s)

say() { printf 'test-guest: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
elapsed() { echo $(($(date +%s) - t0)); }

"$here/hostdeps.sh"

# The image is rebuilt whenever a file that goes into it or the mirror
# changes; anything else (the command, hull, test binaries) reaches the
# guest over 9p at run time.
mirror=$("$here/mirror.sh")
key=$( (cat "$here/mkimage.sh" "$here/configure.sh" "$here/mkinitrd.sh" \
	"$here"/files/*; echo "$mirror") | sha256sum | cut -c1-16)
img=$images/image-$key
if [ ! -f "$img/disk.img" ]; then
	say "building guest image $key (mirror $mirror)"
	for old in "$images"/image-*; do
		[ -d "$old" ] && rm -rf "$old"
	done
	"$here/mkimage.sh" "$img" "$images/debs" "$mirror"
	say "image built in $(elapsed)s"
fi

# Test binaries: each Go package listed in tests/guest/packages is compiled
# on the host with go test -c; the guest needs no Go.
mkdir -p "$build/tests"
rm -f "$build/tests"/*.test
grep -v '^[[:space:]]*\(#\|$\)' "$here/packages" | while read -r pkg; do
	name=$(echo "$pkg" | sed 's|^\./||; s|/|_|g')
	(cd "$root" && CGO_ENABLED=1 go test -c -o "$build/tests/$name.test" "$pkg") ||
		die "go test -c $pkg failed"
done

[ -x "$hull" ] || die "no hull binary at $hull (run make build)"
case $hull in
"$root"/*) ;;
*) die "HULL_BINARY $hull must be inside the work tree $root, which is what the guest sees" ;;
esac

rm -rf "$xchg" && mkdir -p "$xchg"
xchg=$(cd "$xchg" && pwd)
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	printf 'export HULL_GUEST=1'
	printf ' HULL_GUEST_SRC=%s' "$(q "$root")"
	printf ' HULL_BINARY=%s' "$(q "$hull")"
	printf ' HULL_GUEST_TESTS=%s' "$(q "$build/tests")"
	# The machines suite's selection (tests/guest/machines.sh).
	printf ' HULL_MACHINES_TESTS=%s\n' "$(q "${HULL_MACHINES_TESTS:-}")"
} >"$xchg/env"
[ $# -gt 0 ] || set -- tests/guest/inside.sh
echo "$*" >"$xchg/cmd.txt"
{
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$xchg/cmd"

qpid=
wpid=
cleanup() {
	# Only the qemu and watchdog this script started, by PID.
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		sleep 1
		kill -9 "$qpid" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cmdline="console=ttyS0 root=/dev/vda rw quiet loglevel=3 panic=-1"
cmdline="$cmdline systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
cmdline="$cmdline cgroup_no_v1=all mitigations=off tsc=reliable"
say "booting guest ($accel, timeout ${timeout}s): $*"
tboot=$(date +%s)
qemu-system-x86_64 -name hull-guest -nodefaults -no-user-config \
	-machine q35,accel="$accel" -cpu max -smp 2 -m 2G \
	-display none -no-reboot -nic none \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$cmdline" \
	-drive file="$img/disk.img",format=raw,if=virtio,snapshot=on,cache=unsafe \
	-virtfs local,path="$root",mount_tag=hullsrc,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$xchg",mount_tag=hullxchg,security_model=none \
	-chardev stdio,id=con,signal=off,logfile="$xchg/console.log" \
	-serial chardev:con </dev/null &
qpid=$!
(
	# The sleep is this watchdog's own child, so it dies with it.
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$timeout" &
	s=$!
	wait "$s"
	printf '\ntest-guest: guest still running after %ss; killing qemu %s\n' "$timeout" "$qpid"
	kill "$qpid"
) &
wpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=
kill "$wpid" 2>/dev/null || true
wpid=

say "guest ran $(($(date +%s) - tboot))s (qemu exit $qrc); total $(elapsed)s"
[ -f "$xchg/rc" ] || die "the guest wrote no exit code; console log: $xchg/console.log"
rc=$(cat "$xchg/rc")
say "guest command exit code $rc"
exit "$rc"
