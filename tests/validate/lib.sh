# Functions for run.sh (sourced; uses its variables: top, here, cache,
# scratch, run_id, limit, HULL_BINARY, HULL_ROOTFS, cgroups_before).

# The suite untars ./rootfs-<GOARCH>.tar.gz from its working directory into
# every bundle, so the tarball lives beside the programs. Made from
# HULL_ROOTFS, never downloaded; remade when the rootfs tree changes.
make_rootfs_tarball() {
	if [ ! -d "$HULL_ROOTFS" ]; then
		sh "$top/tests/rootfs/busybox.sh" "$HULL_ROOTFS" >&2 || return 1
	fi
	tarball="$1/rootfs-$(go env GOARCH).tar.gz"
	if [ -f "$tarball" ] && [ -z "$(find "$HULL_ROOTFS" -newer "$tarball" | head -n 1)" ]; then
		return 0
	fi
	tar -C "$HULL_ROOTFS" --exclude ./.hull-rootfs --numeric-owner -czf "$tarball.$$" . &&
		mv "$tarball.$$" "$tarball"
}

# Program names (validation/<name>/ built to <name>.t), sorted, filtered by
# an optional extended regex.
list_programs() {
	for p in "$1"/*.t; do basename "$p" .t; done | sort | grep -E -- "${2:-.}" || true
}

# Prints the binary of a runtime, or why it is not available (and fails).
runtime_binary() {
	case $1 in
	hull)
		if [ -x "$HULL_BINARY" ]; then echo "$HULL_BINARY"; else echo "not built ($HULL_BINARY)"; return 1; fi ;;
	*)
		command -v "$1" 2>/dev/null || { echo "not installed"; return 1; } ;;
	esac
}

# A RUNTIME for the suite that keeps the runtime's state in our scratch dir,
# so that leftovers are ours alone to list and delete.
make_wrapper() {
	root="$2/state"
	mkdir -p "$root"
	if [ "$1" != hull ] || "$3" --help 2>&1 | grep -q -- '--root'; then
		printf '#!/bin/sh\nexec "%s" --root "%s" "$@"\n' "$3" "$root" >"$2/wrapper"
	else
		printf '#!/bin/sh\nexec "%s" "$@"\n' "$3" >"$2/wrapper"
	fi
	chmod +x "$2/wrapper"
}

# "v2" when /sys/fs/cgroup is the unified hierarchy (the cgroup v2 guest of
# tests/guest), "v1" otherwise (this host: v1 hierarchies plus a hugetlb-only
# cgroup2 at /sys/fs/cgroup/unified).
cgroup_mode() {
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then echo v2; else echo v1; fi
}

# Makes the absolute cgroup CG: in every v1 hierarchy, or on v2 as CG plus
# its leaf CG/runner (see make_cgroup_v2).
make_cgroups() {
	if [ "$(cgroup_mode)" = v2 ]; then
		make_cgroup_v2 "$1"
		return
	fi
	# cpuset children start with no cpus or mems, so they inherit the root's
	# explicitly.
	for h in /sys/fs/cgroup/*/; do
		[ -f "$h/tasks" ] || continue
		mkdir -p "$h${1#/}"
		if [ -f "$h/cpuset.cpus" ]; then
			cat "$h/cpuset.cpus" >"$h${1#/}/cpuset.cpus"
			cat "$h/cpuset.mems" >"$h${1#/}/cpuset.mems"
		fi
	done
}

# On v2 only leaves may hold processes once controllers are enabled, so the
# runner (runtime.sh and the programs it starts) joins the leaf CG/runner and
# CG delegates every controller to its children. runc puts a container
# without cgroupsPath, or with a relative one, below the parent of its own
# cgroup: CG, beside the runner. The root is exempt from that rule, so
# enabling controllers there (as the runtimes do for /cgrouptest anyway) is
# allowed while processes live in it.
make_cgroup_v2() {
	dir=/sys/fs/cgroup/${1#/}
	mkdir -p "$dir/runner"
	for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
		grep -qw "$c" /sys/fs/cgroup/cgroup.subtree_control ||
			echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control ||
			echo "run.sh: warning: cannot enable $c in the root cgroup" >&2
		echo "+$c" >"$dir/cgroup.subtree_control" ||
			echo "run.sh: warning: cannot enable $c in $dir" >&2
	done
}

# Removes a cgroup tree, killing (by pid) what is left in it: only processes
# this run started can be there.
remove_cgroup_tree() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		[ -d "$1" ] || return 0
		find "$1" -name freezer.state | while read -r f; do echo THAWED >"$f" 2>/dev/null || true; done
		find "$1" -name cgroup.freeze | while read -r f; do echo 0 >"$f" 2>/dev/null || true; done
		find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null |
			while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
		sleep 0.3
	done
	echo "run.sh: warning: cannot remove cgroup $1" >&2
}

# Runs one runtime's programs in its own cgroup and private mount namespace.
start_runtime() {
	rt=$1 work="$scratch/$1" cg="/hull-validate-$run_id-$1"
	mkdir -p "$work"
	make_wrapper "$rt" "$work" "$2"
	make_cgroups "$cg"
	rm -rf "$out/logs/$rt"
	mkdir -p "$out/logs/$rt"
	# shellcheck disable=SC2086 # the program list is split on purpose
	unshare -m --propagation private sh "$here/runtime.sh" "$rt" "$work/wrapper" "$3" "$work" \
		"$cg" "$limit" "$out/logs/$rt" "$out/results-$rt.txt" $4
}

cleanup_all() {
	for w in "$scratch"/*/wrapper; do
		[ -x "$w" ] || continue
		for id in $("$w" list -q 2>/dev/null); do "$w" delete --force "$id" >/dev/null 2>&1 || true; done
	done
	if [ "$(cgroup_mode)" = v2 ]; then
		hierarchies=/sys/fs/cgroup/
	else
		hierarchies=$(for h in /sys/fs/cgroup/*/; do if [ -f "$h/tasks" ]; then echo "$h"; fi; done)
		# crun also makes its cgroups in the hybrid cgroup2 mount.
		if [ -d /sys/fs/cgroup/unified ]; then hierarchies="$hierarchies /sys/fs/cgroup/unified/"; fi
	fi
	for h in $hierarchies; do
		for d in "$h"hull-validate-"$run_id"-*; do
			[ -d "$d" ] && remove_cgroup_tree "$d"
		done
		# /cgrouptest is the suite's fixed absolute cgroup; remove it only when
		# it did not exist before this run.
		if [ -d "${h}cgrouptest" ] && ! echo "$cgroups_before" | grep -qx "${h}cgrouptest"; then
			remove_cgroup_tree "${h}cgrouptest"
		fi
		# crun puts the relative testdir/cgrouptest/container below the root
		# and removes only the leaf; on v2 a container that failed to create
		# can leave its /<uuid> (the suite's ids) behind. Only empty ones new
		# since the start are removed: nothing is killed for them.
		for d in "${h}testdir" "$h"????????-????-????-????-????????????; do
			[ -d "$d" ] && ! echo "$cgroups_before" | grep -qx "$d" || continue
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
		# hull's default cgroup is /hull/<id> (programs without cgroupsPath);
		# hull removes the leaf, this removes the parent if nothing else uses it.
		rmdir "${h}hull" 2>/dev/null || true
	done
	rm -rf --one-file-system "$scratch"
}

# Top-level cgroups of every hierarchy, so that cleanup_all removes only
# those this run made.
top_cgroups() {
	find /sys/fs/cgroup/ /sys/fs/cgroup/*/ -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sed 's#//*#/#g'
}

status_of() {
	[ -f "$out/results-$1.txt" ] || { echo n/a; return; }
	awk -v p="$2" '$1 == p { s = $2 } END { print (s == "" ? "n/a" : s) }' "$out/results-$1.txt"
}

print_table() {
	n=$(echo "$2" | wc -w)
	printf '\n%-36s' program
	for rt in $1; do printf ' %-6s' "$rt"; done
	echo
	for p in $2; do
		printf '%-36s' "$p"
		for rt in $1; do printf ' %-6s' "$(status_of "$rt" "$p")"; done
		echo
	done
	printf '%-36s' "passed"
	for rt in $1; do
		if [ -f "$out/results-$rt.txt" ]; then
			printf ' %-6s' "$(grep -c ' PASS$' "$out/results-$rt.txt")/$n"
		else
			printf ' %-6s' "n/a"
		fi
	done
	echo
	for rt in $1; do
		[ -f "$out/results-$rt.txt" ] || continue
		echo "$rt: passed $(grep -c ' PASS$' "$out/results-$rt.txt")/$n," \
			"failed $(grep -c ' FAIL$' "$out/results-$rt.txt"), skipped $(grep -c ' SKIP$' "$out/results-$rt.txt")"
	done
}
