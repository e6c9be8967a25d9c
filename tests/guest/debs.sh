#!/bin/sh
# Downloads Debian packages a guest check needs beyond the guest image
# (PKG... and what they depend on) into DIR, resolved against the image's
# own dpkg status, so the shared image stays as it is; the check unpacks
# them in the guest with unpack_debs (tests/guest/lib.sh): dpkg -i ran 10
# minutes of maintainer scripts there under TCG.
# Usage: debs.sh IMAGE-DISK DIR PKG...
set -eu
disk=$1
dir=$2
shift 2
[ $# -gt 0 ] || { echo "debs.sh: no packages named" >&2; exit 2; }
mkdir -p "$dir"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
# debugfs reads the ext4 image without mounting it.
debugfs -R "cat /var/lib/dpkg/status" "$disk" >"$state/status" 2>/dev/null
grep -q '^Package: systemd$' "$state/status" || { echo "debs.sh: no dpkg status in $disk" >&2; exit 1; }
want=$(apt-get -s -o Dir::State::status="$state/status" install --no-install-recommends "$@" |
	awk '$1 == "Inst" { print $2 }')
[ -n "$want" ] || { echo "debs.sh: nothing to install for $*?" >&2; exit 1; }
missing=""
for p in $want; do
	ls "$dir/${p}"_*.deb >/dev/null 2>&1 || missing="$missing $p"
done
# apt-get download writes to the current directory.
[ -z "$missing" ] || (cd "$dir" && apt-get download -q $missing 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
echo "$want" >"$dir/list"
echo "debs.sh: $(echo $want | wc -w) packages in $dir"
