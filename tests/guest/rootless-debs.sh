#!/bin/sh
# Downloads the Debian packages the rootless guest checks need beyond the
# guest image (uidmap, the user bus, podman and what it depends on) into
# DIR, resolved against the image's own dpkg status, so the shared image
# stays as it is; tests/guest/rootless.sh unpacks them in the guest
# (dpkg -i ran 10 minutes of maintainer scripts there under TCG). Usage: rootless-debs.sh IMAGE-DISK DIR
set -eu
disk=$1
dir=$2
pkgs="uidmap dbus-user-session podman slirp4netns fuse-overlayfs catatonit"
mkdir -p "$dir"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
# debugfs reads the ext4 image without mounting it.
debugfs -R "cat /var/lib/dpkg/status" "$disk" >"$state/status" 2>/dev/null
grep -q '^Package: systemd$' "$state/status" || { echo "rootless-debs: no dpkg status in $disk" >&2; exit 1; }
want=$(apt-get -s -o Dir::State::status="$state/status" install --no-install-recommends $pkgs |
	awk '$1 == "Inst" { print $2 }')
[ -n "$want" ] || { echo "rootless-debs: nothing to install?" >&2; exit 1; }
missing=""
for p in $want; do
	ls "$dir/${p}"_*.deb >/dev/null 2>&1 || missing="$missing $p"
done
# apt-get download writes to the current directory.
[ -z "$missing" ] || (cd "$dir" && apt-get download -q $missing 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
echo "$want" >"$dir/list"
echo "rootless-debs: $(echo $want | wc -w) packages in $dir"
