# Helpers of the bash guest checks (rootless.sh, engines.sh, machines.sh), sourced after
# they set tag (the prefix of every line they print). Each check prints
# "TAG: ok   NAME" or "TAG: FAIL NAME"; a failed one sets fail=1, the
# script's exit code.
fail=0

say() { echo "$tag: $*"; }
ok() { say "ok   $*"; }
bad() {
	say "FAIL $*"
	fail=1
}
# check NAME CMD...: ok when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
# run CMD...: prints the command and its output (indented) to stderr, the
# output to stdout, and returns its status.
run() {
	echo "+ $*" >&2
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /' | head -n 30 >&2
	echo "    [exit $rc]" >&2
	printf '%s\n' "$out"
	return $rc
}
# wait_for SECONDS CMD...: until CMD succeeds; 1 after SECONDS.
wait_for() {
	local until=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$until" ] && return 1
		sleep 1
	done
}

# unpack_debs DIR: the packages tests/guest/debs.sh left in DIR, unpacked,
# not installed: dpkg's maintainer scripts and triggers cost many minutes
# under TCG, and the checks need none of them (modes, setuid newuidmap
# included, come with the files).
unpack_debs() {
	local dir=$1 d t
	if [ ! -f "$dir/list" ]; then
		bad "no $dir/list: run tests/guest/debs.sh (the make target does)"
		return 1
	fi
	t=$(date +%s)
	for d in "$dir"/*.deb; do
		# --keep-directory-symlink: the image has merged /usr (/lib is a
		# link to usr/lib); a plain extract would replace those links.
		dpkg-deb --fsys-tarfile "$d" | tar -x --keep-directory-symlink -C / ||
			bad "unpack $(basename "$d")"
	done
	ldconfig
	say "unpacked $(wc -w <"$dir/list") packages in $(($(date +%s) - t)) s"
}

# install_hull: hull, its C stage and hull-nspawn into /usr/local/bin, as
# `make install` puts them (hull finds the other two beside itself).
install_hull() {
	local bin=${HULL_BINARY:-$src/_build/hull}
	install -m 0755 "$bin" /usr/local/bin/hull &&
		install -m 0755 "$(dirname "$bin")/hull-stage" "$(dirname "$bin")/hull-nspawn" /usr/local/bin/
}
