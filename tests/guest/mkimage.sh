#!/bin/sh
# Builds the guest image for run.sh: a Debian 12 rootfs made with debootstrap,
# Debian's kernel unpacked into it, written out as a raw ext4 disk, plus a
# tiny busybox initrd that loads only the modules needed to mount that disk.
# Usage: mkimage.sh OUTDIR CACHEDIR MIRROR
# Writes OUTDIR/{disk.img,vmlinuz,initrd.img}. Everything temporary lives in
# OUTDIR.tmp and is removed on exit, including any mount debootstrap made
# (it runs in its own mount namespace, so no mount can outlive it).
set -eu

mirror=$3
# debootstrap wants absolute paths.
cache=$(mkdir -p "$2" && cd "$2" && pwd)
out=$(mkdir -p "$(dirname "$1")" && cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
tmp=$out.tmp
rootfs=$tmp/rootfs

# Packages beyond minbase: systemd as PID 1 with udev, D-Bus for the systemd
# driver, and what container tests need inside (busybox for a test rootfs,
# iproute2 for netns checks, libseccomp for hull's seccomp filter), and runc
# and crun, which tests/validate/guest.sh compares hull with on cgroup v2;
# apparmor for apparmor_parser, which loads the AppArmor tests' profile
# (Debian's kernel enables AppArmor by default); systemd-container (machined,
# machinectl, systemd-nspawn) for tests/guest/machines.sh; criu for the
# checkpoint tests (this host's kernel is too new for Debian 12's criu),
# with iptables, which criu runs to lock a container's network at dump.
include=systemd,systemd-sysv,systemd-container,udev,kmod,dbus,busybox-static,iproute2,libseccomp2,procps,runc,crun,apparmor,criu,iptables

cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$tmp" && mkdir -p "$tmp"

step() { printf 'mkimage: %s (%ss)\n' "$1" "$(($(date +%s) - start))"; }
start=$(date +%s)

step "debootstrap $suite from $mirror"
unshare --mount --propagation private \
	debootstrap --variant=minbase --include="$include" --cache-dir="$cache" \
	"$suite" "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
	tail -n 30 "$tmp/debootstrap.log" >&2
	exit 1
}

step "kernel"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
	apt-get update -qq
	kpkg=$(apt-cache depends linux-image-amd64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || { echo "mkimage: cannot resolve linux-image-amd64" >&2; exit 1; }
# apt-get download writes to the current directory; _apt cannot write to
# a root-owned cache dir, which only costs a warning.
(cd "$cache" && apt-get download -q "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
deb=$(ls -t "$cache/$kpkg"_*.deb | head -n 1)
# Unpacked beside the rootfs, not into it: the package's ./lib would
# replace the merged-/usr /lib symlink.
dpkg-deb -x "$deb" "$tmp/kernel"
kver=${kpkg#linux-image-}
mkdir -p "$rootfs/usr/lib/modules"
mv "$tmp/kernel/lib/modules/$kver" "$rootfs/usr/lib/modules/$kver"
mv "$tmp/kernel/boot/vmlinuz-$kver" "$tmp/vmlinuz"
rm -rf "$tmp/kernel"
# Hardware drivers a virtio guest never loads make up most of the 400 MB of
# modules; dropping them keeps the disk image and mkfs fast.
kmod=$rootfs/lib/modules/$kver/kernel
for d in sound drivers/gpu drivers/media drivers/net/wireless \
	drivers/net/ethernet drivers/infiniband drivers/staging drivers/usb \
	drivers/bluetooth drivers/hid drivers/iio drivers/isdn drivers/mtd \
	drivers/scsi drivers/input drivers/hwmon drivers/video drivers/net/can \
	drivers/net/usb drivers/platform drivers/mfd drivers/misc drivers/comedi; do
	rm -rf "${kmod:?}/$d"
done
chroot "$rootfs" /sbin/depmod -a "$kver"

step "configure guest"
"$here/configure.sh" "$rootfs"

step "initrd"
"$here/mkinitrd.sh" "$rootfs" "$kver" "$tmp/initrd.img"

step "ext4 image"
rm -f "$rootfs/var/cache/apt/archives/"*.deb
# 4 GiB sparse: bundles, container state and image layers of the tests live
# on this disk (9p is no place for overlayfs or sockets).
mkfs.ext4 -q -F -L hullroot -d "$rootfs" "$tmp/disk.img" 4G

rm -rf "$rootfs" "$out"
mv "$tmp" "$out"
step "done: $(du -sh --apparent-size "$out/disk.img" | cut -f1) apparent, $(du -sh "$out/disk.img" | cut -f1) used"
