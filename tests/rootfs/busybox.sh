#!/bin/sh
# Builds a minimal rootfs from Debian's busybox-static: one static binary,
# a symlink per applet, and the few files a container expects to find.
# Usage: busybox.sh DIR   (DIR is created; an existing complete tree is reused)
set -eu
dir=${1:?usage: busybox.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox.sh: $bb missing: apt-get install busybox-static" >&2; exit 1; }
if [ -f "$dir/.hull-rootfs" ] && cmp -s "$bb" "$dir/bin/busybox"; then exit 0; fi
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
cd "$dir.tmp"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/run run
chmod 1777 tmp
cp "$bb" bin/busybox
for applet in $("$bb" --list-full); do
	case "$applet" in bin/busybox) continue ;; esac
	mkdir -p "$(dirname "$applet")"
	ln -sf /bin/busybox "$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
printf 'hull\n' > etc/hostname
touch .hull-rootfs
cd - >/dev/null
rm -rf "$dir"
mv "$dir.tmp" "$dir"
