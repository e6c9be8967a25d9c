#!/bin/sh
# make soak: SOAK_RUNS sequential `hull run`s of /bin/true, then
# SOAK_CONCURRENT containers created, started and deleted at the same
# time. Prints what was left compared with before: mounts, cgroups, open
# files (system-wide), state entries, processes and kernel Slab. Exits 1
# on a leaked mount, cgroup, state entry or process; open files (counted
# system-wide) and Slab growth are reported, not judged: on a shared
# machine they move by themselves.
set -eu
HULL=${HULL_BINARY:?HULL_BINARY} ROOTFS=${HULL_ROOTFS:?HULL_ROOTFS}
RUNS=${SOAK_RUNS:-1000} CONC=${SOAK_CONCURRENT:-100} PAR=${SOAK_PARALLEL:-8}
work=$(mktemp -d /tmp/hull-soak.XXXXXX)
root=$work/root tag=hull-soak-$$
cleanup() {
	for id in $("$HULL" --root "$root" list -q 2>/dev/null); do "$HULL" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; done
	for d in /sys/fs/cgroup/*/"$tag"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

bundle() { # bundle DIR CGROUP ARGS-JSON
	mkdir -p "$1"
	"$HULL" spec --bundle "$1"
	jq --arg r "$ROOTFS" --arg cg "/$tag/$2" --argjson a "$3" \
		'.process.terminal=false | .root.path=$r | .linux.cgroupsPath=$cg | .process.args=$a' \
		"$1/config.json" >"$1/c.json" && mv "$1/c.json" "$1/config.json"
}

measure() {
	# Only hull's: the machine is shared, others mount meanwhile.
	mounts=$(grep -c -e "$work" -e "$ROOTFS" -e "$tag" /proc/self/mountinfo || true)
	cgroups=$(find /sys/fs/cgroup/*/"$tag" -mindepth 1 -type d 2>/dev/null | wc -l)
	files=$(cut -f1 /proc/sys/fs/file-nr)
	states=$(ls "$root" 2>/dev/null | wc -l)
	procs=$(grep -l "$tag" /proc/[0-9]*/cgroup 2>/dev/null | wc -l)
	slab=$(awk '/^Slab:/{print $2}' /proc/meminfo)
	unrecl=$(awk '/^SUnreclaim:/{print $2}' /proc/meminfo)
}

report() { # report PHASE SECONDS
	b_m=$mounts b_c=$cgroups b_f=$files b_s=$states b_p=$procs b_slab=$slab b_u=$unrecl
	eval "$(cat "$work/before")"
	printf '%s (%ss): mounts %+d, cgroups %+d, open files %+d, state entries %+d, processes %+d, Slab %+d kB (SUnreclaim %+d kB)\n' \
		"$1" "$2" $((b_m - mounts)) $((b_c - cgroups)) $((b_f - files)) $((b_s - states)) $((b_p - procs)) $((b_slab - slab)) $((b_u - unrecl))
	leaks=$(( leaks + (b_m - mounts) + (b_c - cgroups) + (b_s - states) + (b_p - procs) ))
	mounts=$b_m cgroups=$b_c files=$b_f states=$b_s procs=$b_p slab=$b_slab unrecl=$b_u
}
snapshot() { measure; echo "mounts=$mounts cgroups=$cgroups files=$files states=$states procs=$procs slab=$slab unrecl=$unrecl" >"$work/before"; }

leaks=0 failed=0
bundle "$work/seq" seq '["true"]'
snapshot
t0=$(date +%s)
i=0
while [ $i -lt "$RUNS" ]; do
	"$HULL" --root "$root" run --bundle "$work/seq" "soak-seq-$i" >/dev/null 2>>"$work/errors" || failed=$((failed + 1))
	i=$((i + 1))
done
measure; report "$RUNS sequential runs" $(( $(date +%s) - t0 ))

i=0
while [ $i -lt "$CONC" ]; do bundle "$work/c$i" "c$i" '["sleep","600"]'; i=$((i + 1)); done
snapshot
t0=$(date +%s)
seq 0 $((CONC - 1)) | xargs -P "$PAR" -I{} "$HULL" --root "$root" create --bundle "$work/c{}" "soak-c{}" 2>>"$work/errors" >/dev/null || true
seq 0 $((CONC - 1)) | xargs -P "$PAR" -I{} "$HULL" --root "$root" start "soak-c{}" 2>>"$work/errors" || true
running=$("$HULL" --root "$root" list | grep -c ' running ' || true)
seq 0 $((CONC - 1)) | xargs -P "$PAR" -I{} "$HULL" --root "$root" delete --force "soak-c{}" 2>>"$work/errors" || true
measure; report "$CONC concurrent containers ($running running at once)" $(( $(date +%s) - t0 ))
[ "$running" -eq "$CONC" ] || failed=$((failed + CONC - running))

echo "failed commands: $failed"
[ -s "$work/errors" ] && sort "$work/errors" | uniq -c | sort -rn | head -5
[ "$leaks" -eq 0 ] && [ "$failed" -eq 0 ]
