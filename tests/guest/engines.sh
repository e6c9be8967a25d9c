#!/bin/bash
# Engines as root on the platform most users run (cgroup v2, systemd as
# PID 1, AppArmor), run in the guest by `make test-guest-engines`:
#  1. Docker (dockerd's systemd cgroup driver, its docker-default AppArmor
#     profile and default seccomp profile): run, limits, a terminal, exec,
#     update, pause, top, stop timing, restart, security options, exit
#     codes, nothing left, and (experimental) checkpoint and start
#     --checkpoint through containerd's shim;
#  2. podman (systemd cgroup manager, its containers-default profile): run,
#     limits, exec, a terminal, pause, stop timing, rm;
#  3. podman container checkpoint and restore (criu, in the guest image);
# each flow under hull and runc, the control, so a failure is hull's when
# runc passes it. Every command is printed with its output; a failed check
# makes the run exit 1.
set -u
src=${HULL_GUEST_SRC:-$PWD}
tag=engines
# shellcheck source=tests/guest/lib.sh
. "$src/tests/guest/lib.sh"

unpack_debs "$src/_build/guest/engines-debs" &&
	say "$(docker --version 2>&1); $(podman --version 2>&1); runc $(runc --version 2>&1 | head -n 1)"
install_hull || bad "install hull"
say "AppArmor enabled: $(cat /sys/module/apparmor/parameters/enabled 2>&1)"
modprobe overlay 2>/dev/null

scratch=/var/lib/hull-engines
mkdir -p "$scratch"
rootfs=$scratch/rootfs
cp -a "$src/_build/rootfs/busybox" "$rootfs"
tar -C "$rootfs" -cf "$scratch/rootfs.tar" .

# The container's process for the long-running flows: exits 0 on SIGTERM,
# so a stop that delivers it ends in about a second, not at the timeout.
term_sleeper=(sh -c 'trap "exit 0" TERM; while :; do sleep 1; done')

# elapsed_ms CMD...: runs CMD (printed as run does) and prints how long it
# took, in ms.
elapsed_ms() {
	local t0
	t0=$(date +%s%N)
	run "$@" >/dev/null
	echo $((($(date +%s%N) - t0) / 1000000))
}

# gone CGROUPDIR: the engine's cgroup of a container it removed is gone
# within 30 s (/sys/fs/cgroup/none: the engine named none).
gone() { [ "$1" != /sys/fs/cgroup/none ] && wait_for 30 test ! -d "$1"; }

# --- 1. Docker --------------------------------------------------------------
say "=== 1. Docker, systemd cgroup driver"
dexec=/run/hull-docker
dsock=unix://$dexec.sock
dlog=$scratch/dockerd.log
dockerd --data-root "$scratch/docker" --exec-root "$dexec" -H "$dsock" \
	--pidfile "$dexec.pid" --bridge=none --iptables=false --ip6tables=false \
	--ip-forward=false --ip-masq=false --userland-proxy=false \
	--exec-opt native.cgroupdriver=systemd --experimental \
	--add-runtime hull=/usr/local/bin/hull --default-runtime runc >"$dlog" 2>&1 &
dpid=$!
D() { docker -H "$dsock" "$@"; }
stop_dockerd() {
	kill -TERM "$dpid" 2>/dev/null
	wait_for 60 sh -c "! kill -0 $dpid" || kill -KILL "$dpid"
	wait "$dpid" 2>/dev/null
}
if ! wait_for 300 D version; then
	bad "dockerd did not come up"
	tail -n 30 "$dlog"
else
	say "dockerd: $(D info -f 'cgroup {{.CgroupVersion}}, driver {{.CgroupDriver}}, storage {{.Driver}}, security {{.SecurityOptions}}' 2>&1)"
	run D import --change 'CMD ["sh"]' "$scratch/rootfs.tar" hull-busybox:test >/dev/null ||
		bad "docker import"
	img=hull-busybox:test
	for r in runc hull; do
		dr="D run --runtime $r --network none"
		out=$(run $dr --rm $img cat /proc/self/attr/current)
		check "docker/$r: run under docker-default (enforce)" grep -qx 'docker-default (enforce)' <<<"$out"
		out=$(run $dr --rm $img sh -c 'exit 3')
		rc=$?
		check "docker/$r: exit code 3 passed on" [ "$rc" = 3 ]
		out=$(run $dr --rm -t $img tty)
		check "docker/$r: run -t: a terminal" grep -q '^/dev/pts/[0-9]' <<<"$out"
		out=$(run $dr --rm --read-only --tmpfs /run:mode=1777 --cap-drop ALL --cap-add NET_BIND_SERVICE \
			--security-opt no-new-privileges -u 1000:1000 $img sh -c \
			'grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; id; touch /x; grep -q "^tmpfs /run tmpfs" /proc/mounts && echo tmpfs-mounted; touch /run/y && echo tmpfs-written')
		check "docker/$r: options: bounding set NET_BIND_SERVICE only" grep -q 'CapBnd:.*0000000000000400' <<<"$out"
		check "docker/$r: options: no_new_privs, seccomp filter" \
			bash -c "grep -qP 'NoNewPrivs:\t1' <<<\"\$1\" && grep -qP 'Seccomp:\t2' <<<\"\$1\"" - "$out"
		check "docker/$r: options: uid 1000, read-only root, a tmpfs at /run" \
			bash -c "grep -q 'uid=1000 gid=1000' <<<\"\$1\" && grep -q 'Read-only file system' <<<\"\$1\" && grep -q tmpfs-mounted <<<\"\$1\"" - "$out"
		# The tmpfs's mode= is the mode of its root: runc fixed chmodding it
		# to the covered directory's mode (runc#3911) in 1.1.8; Debian 12's
		# runc is 1.1.5, so this is hull's check alone.
		if [ $r = hull ]; then
			check "docker/$r: options: the tmpfs's mode=1777 kept (uid 1000 writes it)" grep -q tmpfs-written <<<"$out"
		else
			say "docker/$r: uid 1000 writes the mode=1777 tmpfs: $(grep -q tmpfs-written <<<"$out" && echo yes || echo no)"
		fi

		name=eng-$r
		run $dr -d --name "$name" --memory 64m --cpus 0.5 --pids-limit 50 $img "${term_sleeper[@]}" >/dev/null
		id=$(D inspect -f '{{.Id}}' "$name" 2>/dev/null)
		cg=/sys/fs/cgroup/none
		[ -n "$id" ] && cg=/sys/fs/cgroup/system.slice/docker-$id.scope
		say "docker/$r: cgroup $cg: $(tr '\n' ' ' <"$cg/cgroup.procs" 2>&1)"
		check "docker/$r: memory.max 64 MiB, cpu.max 50000 100000, pids.max 50" \
			[ "$(cat "$cg/memory.max" 2>&1)/$(cat "$cg/cpu.max" 2>&1)/$(cat "$cg/pids.max" 2>&1)" = "67108864/50000 100000/50" ]
		out=$(run D exec "$name" sh -c 'cat /sys/fs/cgroup/memory.max /proc/self/attr/current')
		check "docker/$r: exec: the limit from inside, confined" \
			bash -c "grep -qx 67108864 <<<\"\$1\" && grep -qx 'docker-default (enforce)' <<<\"\$1\"" - "$out"
		out=$(run D exec -t -u 1000:1000 "$name" sh -c 'tty; id -u')
		check "docker/$r: exec -t -u 1000: a terminal, uid 1000" \
			bash -c "grep -q '^/dev/pts/[0-9]' <<<\"\$1\" && grep -q '^1000' <<<\"\$1\"" - "$out"
		run D update --memory 96m --memory-swap 192m --pids-limit 40 "$name" >/dev/null
		check "docker/$r: update: memory.max 96 MiB, memory.swap.max 96 MiB, pids.max 40" \
			[ "$(cat "$cg/memory.max" 2>&1)/$(cat "$cg/memory.swap.max" 2>&1)/$(cat "$cg/pids.max" 2>&1)" = "100663296/100663296/40" ]
		run D pause "$name" >/dev/null
		check "docker/$r: pause: cgroup.freeze 1, paused" \
			[ "$(cat "$cg/cgroup.freeze" 2>&1)/$(D inspect -f '{{.State.Status}}' "$name" 2>&1)" = 1/paused ]
		run D unpause "$name" >/dev/null
		check "docker/$r: unpause: cgroup.freeze 0, running" \
			[ "$(cat "$cg/cgroup.freeze" 2>&1)/$(D inspect -f '{{.State.Status}}' "$name" 2>&1)" = 0/running ]
		out=$(run D top "$name")
		check "docker/$r: top lists the container's processes" grep -q 'trap' <<<"$out"
		ms=$(elapsed_ms D stop -t 20 "$name")
		code=$(D inspect -f '{{.State.ExitCode}}' "$name" 2>&1)
		say "docker/$r: stop -t 20 took $ms ms, exit code $code"
		check "docker/$r: stop delivers SIGTERM (exit 0, before the 20 s timeout)" [ "$code" = 0 -a "$ms" -lt 15000 ]
		run D start "$name" >/dev/null
		id2=$(D inspect -f '{{.State.Pid}}' "$name" 2>&1)
		check "docker/$r: restart: running again with the updated limit" \
			[ "$(D inspect -f '{{.State.Status}}' "$name" 2>&1)/$(cat "$cg/memory.max" 2>&1)" = running/100663296 ]
		say "docker/$r: restarted, pid $id2"
		run D rm -f "$name" >/dev/null
		check "docker/$r: rm -f: the scope is gone" gone "$cg"
		left=$(ls "$dexec/runtime-$r/moby" 2>/dev/null)
		check "docker/$r: nothing left in the runtime's state ($dexec/runtime-$r/moby)" [ -z "$left" ]

		# docker checkpoint (an experimental daemon's): containerd pauses
		# the task and its shim runs the runtime's checkpoint; start
		# --checkpoint has the shim run its restore.
		ck=eng-ck-$r
		run $dr -d --name "$ck" $img sh -c 'i=0; while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; sleep 0.2; done' >/dev/null
		sleep 8
		ms=$(elapsed_ms D checkpoint create "$ck" cp1)
		check "docker/$r: checkpoint create: the container is exited" grep -qx exited <<<"$(D inspect -f '{{.State.Status}}' "$ck" 2>&1)"
		at=$(D cp "$ck:/count" - 2>/dev/null | tar -xO 2>/dev/null)
		ms2=$(elapsed_ms D start --checkpoint cp1 "$ck")
		next=$(D exec "$ck" cat /count 2>&1)
		say "docker/$r: checkpoint $ms ms, start --checkpoint $ms2 ms (TCG); count $at at checkpoint, $next after"
		check "docker/$r: start --checkpoint: running, counting on from memory" \
			[ "$(D inspect -f '{{.State.Status}}' "$ck" 2>&1)" = running -a "${next:-0}" -ge "${at:-999999}" ]
		run D rm -f "$ck" >/dev/null
	done
	stop_dockerd
fi

# --- 2. podman --------------------------------------------------------------
say "=== 2. podman, systemd cgroup manager"
for r in runc hull; do
	p="podman --root $scratch/podman --runroot /run/hull-podman --runtime $(command -v $r) --cgroup-manager systemd"
	pr="$p run --network none"
	out=$(run $pr --rm --memory 64m --rootfs "$rootfs" sh -c 'cat /sys/fs/cgroup/memory.max /proc/self/attr/current')
	check "podman/$r: run --memory 64m: the limit inside" grep -qx 67108864 <<<"$out"
	check "podman/$r: run under containers-default (enforce)" grep -q '^containers-default.* (enforce)' <<<"$out"
	out=$(run $pr --rm -t --rootfs "$rootfs" tty)
	check "podman/$r: run -t: a terminal" grep -q '^/dev/pts/[0-9]' <<<"$out"
	name=eng-pod-$r
	run $pr -d --name "$name" --memory 64m --pids-limit 50 --rootfs "$rootfs" "${term_sleeper[@]}" >/dev/null
	cg=$(run $p inspect -f '{{.State.CgroupPath}}' "$name" | tail -n 1)
	cg=/sys/fs/cgroup${cg:-/none}
	say "podman/$r: cgroup $cg"
	check "podman/$r: memory.max 64 MiB, pids.max 50" [ "$(cat "$cg/memory.max" 2>&1)/$(cat "$cg/pids.max" 2>&1)" = 67108864/50 ]
	out=$(run $p exec -t "$name" sh -c 'tty; cat /sys/fs/cgroup/pids.max')
	check "podman/$r: exec -t: a terminal, the limit inside" \
		bash -c "grep -q '^/dev/pts/[0-9]' <<<\"\$1\" && grep -q '^50' <<<\"\$1\"" - "$out"
	run $p pause "$name" >/dev/null
	check "podman/$r: pause: cgroup.freeze 1" [ "$(cat "$cg/cgroup.freeze" 2>&1)" = 1 ]
	run $p unpause "$name" >/dev/null
	check "podman/$r: unpause: cgroup.freeze 0" [ "$(cat "$cg/cgroup.freeze" 2>&1)" = 0 ]
	ms=$(elapsed_ms $p stop -t 20 "$name")
	code=$($p inspect -f '{{.State.ExitCode}}' "$name" 2>&1)
	say "podman/$r: stop -t 20 took $ms ms, exit code $code"
	check "podman/$r: stop delivers SIGTERM (exit 0, before the 20 s timeout)" [ "$code" = 0 -a "$ms" -lt 15000 ]
	check "podman/$r: rm" run $p rm "$name"
	check "podman/$r: the scope is gone" gone "$cg"
done

# --- 3. podman container checkpoint / restore (criu) ------------------------
say "=== 3. podman container checkpoint and restore"
count_of() { cat "$1/count" 2>/dev/null || echo 0; }
for r in runc hull; do
	p="podman --root $scratch/podman --runroot /run/hull-podman --runtime $(command -v $r) --cgroup-manager systemd"
	name=eng-ck-$r
	ck=$scratch/ck-$r
	cp -a "$rootfs" "$ck"
	run $p run -d --name "$name" --network none --rootfs "$ck" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; sleep 0.2; done' >/dev/null
	wait_for 60 sh -c "[ \$(cat $ck/count 2>/dev/null || echo 0) -ge 5 ]"
	ms=$(elapsed_ms $p container checkpoint "$name")
	at=$(count_of "$ck")
	check "podman/$r: checkpoint: the container is exited" grep -qx exited <<<"$($p inspect -f '{{.State.Status}}' "$name" 2>&1)"
	ms2=$(elapsed_ms $p container restore "$name")
	say "podman/$r: checkpoint $ms ms, restore $ms2 ms (TCG), count $at at checkpoint"
	check "podman/$r: restore: running" grep -qx running <<<"$($p inspect -f '{{.State.Status}}' "$name" 2>&1)"
	# The first count written after the restore: the next one from memory,
	# where a fresh start would write 1.
	wait_for 60 sh -c "[ \$(cat $ck/count 2>/dev/null || echo $at) != $at ]"
	next=$(count_of "$ck")
	check "podman/$r: restore: counts on from memory ($at, then $next)" [ "$next" -gt "$at" ]
	out=$(run $p exec "$name" cat /count)
	check "podman/$r: exec into the restored container" grep -q '^[0-9]' <<<"$out"
	check "podman/$r: rm -f" run $p rm -f "$name"
done

umount -R "$scratch/podman/overlay" 2>/dev/null
rm -rf "$scratch" /run/hull-podman "$dexec"
say "done: $([ $fail = 0 ] && echo all ok || echo FAILURES)"
exit $fail
