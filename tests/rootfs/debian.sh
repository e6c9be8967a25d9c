#!/bin/sh
# Builds a Debian 12 (bookworm) rootfs that boots systemd, for the boot tests.
# Usage: debian.sh DIR   (DIR is created; a tree built by this same script is reused)
#
# The mirror is read at run time from this machine's apt configuration
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list or *.sources) so no
# mirror name is ever stored in the repository. DEBIAN_MIRROR overrides it.
# Exit status 2 means "cannot build here" (no debootstrap, no mirror): callers skip.
set -eu
dir=${1:?usage: debian.sh DIR}
suite=bookworm
command -v debootstrap >/dev/null 2>&1 || { echo "debian.sh: debootstrap missing: apt-get install debootstrap" >&2; exit 2; }

# The cache key is this script itself: any change rebuilds.
key=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$dir/.hull-rootfs" ] && [ "$(cat "$dir/.hull-rootfs")" = "$key" ]; then exit 0; fi

# find_mirror prints the first non-security URI that serves $suite.
find_mirror() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" { u = ""; for (i = 2; i <= NF; i++) { if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; continue } if (u == "") { u = $i; continue } if ($i == s) { print u; exit } break } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: stanzas separated by blank lines; URIs: and Suites: fields.
		awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } {
			u = ""; ok = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u = a[2] }
				if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
			}
			if (ok && u != "") { print u; exit }
		}' "$f"
	done
}
mirror=${DEBIAN_MIRROR:-$(find_mirror | head -n1)}
[ -n "$mirror" ] || { echo "debian.sh: no apt source for $suite found in /etc/apt; set DEBIAN_MIRROR" >&2; exit 2; }

rm -rf --one-file-system "$dir.tmp"
mkdir -p "$dir.tmp" "$(dirname "$dir")/debootstrap-cache"
cache=$(cd "$(dirname "$dir")/debootstrap-cache" && pwd)
# In a private mount namespace: the proc and sys debootstrap mounts in the
# target die with it, even when it is killed halfway.
if ! unshare --mount --propagation private debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libnss-systemd \
	--cache-dir="$cache" "$suite" "$dir.tmp" "$mirror" >"$dir.log" 2>&1; then
	echo "debian.sh: debootstrap failed, see $dir.log" >&2
	tail -n 5 "$dir.log" >&2
	rm -rf --one-file-system "$dir.tmp"
	exit 2
fi
# A clean image: no machine-id yet (systemd initialises it on first boot,
# from $container_uuid), no apt lists, the test's hostname comes from the runtime.
: > "$dir.tmp/etc/machine-id"
rm -f "$dir.tmp/var/lib/dbus/machine-id" "$dir.tmp/etc/hostname"
rm -rf "$dir.tmp/var/lib/apt/lists/"* "$dir.tmp/var/cache/apt/"*.bin
echo "$key" > "$dir.tmp/.hull-rootfs"
rm -rf --one-file-system "$dir"
mv "$dir.tmp" "$dir"
