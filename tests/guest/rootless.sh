#!/bin/bash
# Rootless hull on a cgroup v2 + systemd host, run in the guest by
# `make test-guest-rootless`. A test user with /etc/subuid ranges and a
# lingering systemd user manager (loginctl enable-linger) runs
#  1. containers in its delegated subtree (cgroupfs driver): limits, pause
#     and resume through cgroup.freeze, update, events, delete;
#  2. the same with --systemd-cgroup: a transient scope made by the user's
#     own systemd over its bus, as runc does;
#  3. rootless podman with the systemd cgroup manager and --memory;
# each with hull beside runc (and crun for podman) as the control. Every
# command is printed with its output; a failed check makes the run exit 1.
set -u
src=${HULL_GUEST_SRC:-$PWD}
tag=rootless
# shellcheck source=tests/guest/lib.sh
. "$src/tests/guest/lib.sh"

# --- packages beyond the image (tests/guest/debs.sh) ----------------------
unpack_debs "$src/_build/guest/rootless-debs" &&
	say "$(podman --version 2>&1); newuidmap $(stat -c %A /usr/bin/newuidmap 2>&1)"

# --- the user, its ranges and its systemd ---------------------------------
user=hullrl$$
# useradd gives ranges only when the files exist.
touch /etc/subuid /etc/subgid
useradd -m -s /bin/sh "$user" || {
	say "FAIL useradd"
	exit 1
}
uid=$(id -u "$user")
home=/home/$user
rt=/run/user/$uid
cleanup() {
	loginctl disable-linger "$user" 2>/dev/null
	loginctl terminate-user "$user" 2>/dev/null
	sleep 1
	userdel -r "$user" 2>/dev/null
}
trap cleanup EXIT
say "user $user uid $uid; subuid $(grep "^$user:" /etc/subuid); subgid $(grep "^$user:" /etc/subgid)"
install_hull || bad "install hull"
run loginctl enable-linger "$user" >/dev/null
check "user manager up (lingering)" wait_for 120 test -S "$rt/bus" -a -S "$rt/systemd/private"
ucg=/user.slice/user-$uid.slice/user@$uid.service
say "user@$uid.service: subtree_control '$(cat "/sys/fs/cgroup$ucg/cgroup.subtree_control" 2>&1)', owner $(stat -c %U "/sys/fs/cgroup$ucg" 2>&1)"

# as CMD...: runs CMD as the user, with its runtime dir and bus.
as() {
	runuser -u "$user" -- env HOME="$home" XDG_RUNTIME_DIR="$rt" \
		DBUS_SESSION_BUS_ADDRESS="unix:path=$rt/bus" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		"$@"
}

rootfs=$home/rootfs
cp -a "$src/_build/rootfs/busybox" "$rootfs" && chown -R "$user:$user" "$rootfs"

# bundle DIR CGROUPSPATH: a bundle of `hull spec --rootless` running sleep,
# with the cgroup path and limits (64 MiB, 50 pids).
bundle() {
	as mkdir -p "$1" && as cp -a "$rootfs" "$1/rootfs" || return 1
	(cd "$1" && as hull spec --rootless) || return 1
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e "s|^\t\t\t\"sh\"\$|\t\t\t\"sleep\", \"1000\"|" \
		-e "s|^\t\"linux\": {\$|\t\"linux\": {\n\t\t\"cgroupsPath\": \"$2\",\n\t\t\"resources\": {\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": 50}},|" \
		"$1/config.json"
}

# lifecycle NAME ID CGROUPSPATH CGROUPDIR: the flow under $caller (a
# function running the runtime as the user): run -d, limits, pause,
# resume, update, events, delete.
lifecycle() {
	local name=$1 id=$2 b=$home/b-$1
	local dir=/sys/fs/cgroup$4
	bundle "$b" "$3" || {
		bad "$name: bundle"
		return
	}
	cd "$b" || return
	# run -d into files: the container keeps its stdio, a pipe would hang.
	echo "+ $caller run -d $id" >&2
	if ! $caller run -d "$id" </dev/null >"/tmp/$id.out" 2>&1; then
		sed 's/^/    /' "/tmp/$id.out" >&2
		bad "$name: run -d"
		cd /
		return
	fi
	say "$name: cgroup $dir: $(cat "$dir/cgroup.procs" 2>&1 | tr '\n' ' ')"
	check "$name: memory.max 64 MiB" [ "$(cat "$dir/memory.max" 2>&1)" = 67108864 ]
	check "$name: pids.max 50" [ "$(cat "$dir/pids.max" 2>&1)" = 50 ]
	check "$name: a process in the cgroup" [ -n "$(cat "$dir/cgroup.procs" 2>/dev/null)" ]
	run $caller pause "$id" >/dev/null
	check "$name: pause: cgroup.freeze 1" [ "$(cat "$dir/cgroup.freeze" 2>&1)" = 1 ]
	check "$name: pause: status paused" grep -q '"paused"' <<<"$(run $caller state "$id")"
	run $caller resume "$id" >/dev/null
	check "$name: resume: cgroup.freeze 0" [ "$(cat "$dir/cgroup.freeze" 2>&1)" = 0 ]
	check "$name: resume: status running" grep -q '"running"' <<<"$(run $caller state "$id")"
	run $caller update --memory 100663296 --pids-limit 40 "$id" >/dev/null
	check "$name: update: memory.max 96 MiB, pids.max 40" [ "$(cat "$dir/memory.max" 2>&1)-$(cat "$dir/pids.max" 2>&1)" = 100663296-40 ]
	check "$name: events --stats shows the cgroup's limit" grep -q '"limit":100663296' <<<"$(run $caller events --stats "$id")"
	run $caller delete --force "$id" >/dev/null
	check "$name: cgroup gone after delete" wait_for 15 test ! -d "$dir"
	cd /
}

inactive() { ! as systemctl --user is-active --quiet "$1"; }

runtime_for() {
	case $1 in
	hull) echo hull ;;
	runc) echo runc --rootless true --root "$rt/runc" ;;
	crun) echo crun --rootless true --root "$rt/crun" ;;
	esac
}

# --- 1. the delegated subtree, cgroupfs driver ----------------------------
# A transient service of the user's systemd with Delegate=yes is the
# user's subtree. The runtime runs in a leaf of it (root moves the shell
# there: a user can only move processes within its own subtree) and the
# container's cgroup is a sibling leaf, as a user's tooling would do.
say "=== 1. cgroupfs driver in the user's delegated subtree"
svcunit=hull-rl-deleg-$$
run as systemd-run --user --quiet --collect -p Delegate=yes --unit "$svcunit" sleep 3600 >/dev/null
svc=$(as systemctl --user show -P ControlGroup "$svcunit.service")
say "delegated service cgroup $svc owner $(stat -c %U "/sys/fs/cgroup$svc" 2>&1)"
# No processes where controllers are enabled (v2): the service's own
# sleep moves to a leaf first.
as sh -c "mkdir /sys/fs/cgroup$svc/keep /sys/fs/cgroup$svc/caller &&
	for p in \$(cat /sys/fs/cgroup$svc/cgroup.procs); do echo \$p >/sys/fs/cgroup$svc/keep/cgroup.procs; done &&
	echo '+memory +pids' >/sys/fs/cgroup$svc/cgroup.subtree_control"
check "memory and pids enabled in the delegated service" grep -q "memory.*pids\|pids.*memory" "/sys/fs/cgroup$svc/cgroup.subtree_control"
in_leaf() {
	(
		echo "$BASHPID" >"/sys/fs/cgroup$svc/caller/cgroup.procs" &&
			exec runuser -u "$user" -- env HOME="$home" XDG_RUNTIME_DIR="$rt" PATH=/usr/local/bin:/usr/bin:/bin "$@"
	)
}
for r in hull runc; do
	caller="in_leaf $(runtime_for $r)"
	lifecycle "deleg-$r" "rl-deleg-$r-$$" "$svc/$r" "$svc/$r"
done
# Without a delegated cgroup (the default /hull/ID is root's): runs in the
# caller's cgroup; what needs one is refused naming what is missing.
caller="as hull"
b=$home/b-nodeleg
bundle "$b" "" && sed -i '/"resources": {"memory"/d' "$b/config.json"
(cd "$b" && as hull run -d "rl-nodeleg-$$" </dev/null >/tmp/rl-nodeleg.out 2>&1) || { cat /tmp/rl-nodeleg.out; bad "nodeleg: run -d"; }
out=$(cd "$b" && run as hull pause "rl-nodeleg-$$")
check "no delegated cgroup: pause refused naming it" grep -q "delegated" <<<"$out"
(cd "$b" && run as hull delete --force "rl-nodeleg-$$" >/dev/null)
run as systemctl --user stop "$svcunit.service" >/dev/null

# --- 2. --systemd-cgroup through the user's systemd ------------------------
say "=== 2. --systemd-cgroup: a scope of the user's own systemd"
for r in hull runc; do
	caller="as $(runtime_for $r) --systemd-cgroup"
	[ $r = runc ] && caller="as runc --rootless true --systemd-cgroup --root $rt/runc"
	id=rl-sd-$r-$$
	lifecycle "systemd-$r" "$id" "user.slice:rl-$r:$id" "$ucg/user.slice/rl-$r-$id.scope"
	check "systemd-$r: scope gone from the user's systemd" inactive "rl-$r-$id.scope"
done

# --- 3. rootless podman, systemd cgroup manager, --memory -----------------
say "=== 3. rootless podman with --cgroup-manager systemd"
for r in hull runc crun; do
	rtbin=$(command -v $r)
	p="as podman --runtime $rtbin --cgroup-manager systemd"
	name=rl-pod-$r-$$
	out=$(run $p run --rm --network none --memory 64m --rootfs "$rootfs" cat /sys/fs/cgroup/memory.max)
	check "podman/$r: run --memory 64m: memory.max inside" grep -qx 67108864 <<<"$out"
	run $p run -d --name "$name" --network none --memory 64m --rootfs "$rootfs" sleep 1000 >/dev/null
	cg=$(run $p inspect -f '{{.State.CgroupPath}}' "$name" | tail -n 1)
	say "podman/$r: cgroup $cg"
	check "podman/$r: exec sees the limit" grep -qx 67108864 <<<"$(run $p exec "$name" cat /sys/fs/cgroup/memory.max)"
	run $p pause "$name" >/dev/null
	check "podman/$r: pause" grep -qx paused <<<"$(run $p inspect -f '{{.State.Status}}' "$name" | tail -n 1)"
	run $p unpause "$name" >/dev/null
	check "podman/$r: unpause" grep -qx running <<<"$(run $p inspect -f '{{.State.Status}}' "$name" | tail -n 1)"
	check "podman/$r: stop" run $p stop -t 2 "$name"
	check "podman/$r: rm" run $p rm "$name"
done

# --- 4. hull nspawn -b -U as the user --------------------------------------
# The Debian rootfs of the boot tests, unpacked by the user (its files are
# the user's: the machine's root), booted with -U (root = the user, 1…65535
# = its /etc/subuid range) in a scope of the user's systemd.
say "=== 4. hull nspawn -b -U, unprivileged"
tarball=$src/_build/debian-rootfs.tar
if [ ! -f "$tarball" ]; then
	bad "no $tarball (make test-guest-rootless makes it)"
else
	as mkdir "$home/deb"
	as tar -C "$home/deb" -xf "$tarball" 2>/dev/null
	say "unpacked: $(du -sh "$home/deb" | cut -f1), owner $(stat -c %U "$home/deb/etc/os-release")"
	(cd "$home" && as hull --systemd-cgroup nspawn -b -U -D "$home/deb" -M rlmach </dev/null >/tmp/rlmach.log 2>&1) &
	npid=$!
	leader=
	wait_for 120 sh -c "runuser -u $user -- env XDG_RUNTIME_DIR=$rt hull state rlmach | grep -q '\"pid\": *[1-9]'" &&
		leader=$(as hull state rlmach | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	if [ -z "$leader" ]; then
		bad "nspawn -b -U: no running container"
		cat /tmp/rlmach.log
	else
		say "machine leader $leader, cgroup $(cat /proc/$leader/cgroup), uid_map $(tr -s ' \n' ' ' </proc/$leader/uid_map)"
		inm() { nsenter -t "$leader" -U -m -u -i -n -p -C -- "$@"; }
		state=
		until=$(($(date +%s) + 300))
		while :; do
			state=$(timeout 300 nsenter -t "$leader" -U -m -u -i -n -p -C -- systemctl is-system-running --wait 2>&1)
			case $state in
			*"Failed to connect"* | "") [ "$(date +%s)" -ge "$until" ] && break ;;
			*) break ;;
			esac
			sleep 1
		done
		say "nspawn -b -U: is-system-running: $state"
		run inm systemctl --failed --no-legend --plain >/dev/null
		check "nspawn -b -U: running, 0 failed units" [ "$state" = running ]
		run inm systemctl poweroff >/dev/null
	fi
	rc=0
	wait_for 120 sh -c "! kill -0 $npid" || kill -KILL "$npid"
	wait "$npid" || rc=$?
	say "hull nspawn exited $rc"
	tail -n 15 /tmp/rlmach.log
	check "nspawn -b -U: poweroff, exit 0" [ "$rc" = 0 ]
	check "nspawn -b -U: nothing left" sh -c "[ -z \"\$(ls $rt/hull 2>/dev/null)\" ] && [ -z \"\$(ls $rt/hull-nspawn 2>/dev/null)\" ]"
fi

say "done: $( [ $fail = 0 ] && echo all ok || echo FAILURES)"
exit $fail
