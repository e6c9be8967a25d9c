#!/bin/sh
# Turns a debootstrapped rootfs into the test guest: systemd boots straight
# into hull-guest.service, which runs the host's command and powers off.
# Usage: configure.sh ROOTFS
set -eu
r=$1
files=$(cd "$(dirname "$0")" && pwd)/files

echo hull-guest >"$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 hull-guest\n' >"$r/etc/hosts"
# The initrd mounts / read-write; an fstab line would only make systemd
# wait for udev to announce /dev/vda and fsck it.
echo '# / is mounted by the initrd' >"$r/etc/fstab"
# No password, so a person debugging a guest by hand can log in on ttyS0.
sed -i 's/^root:[^:]*:/root::/' "$r/etc/shadow"
: >"$r/etc/machine-id"

install -m 0755 "$files/hull-guest-run" "$r/usr/local/sbin/hull-guest-run"
install -m 0644 "$files/hull-guest.service" "$r/etc/systemd/system/hull-guest.service"
systemctl --root="$r" enable hull-guest.service >/dev/null 2>&1

# Units that only cost boot time under TCG, or print a login prompt into the
# test output. apparmor.service would compile the distribution's profiles at
# every boot; the AppArmor tests load only their own.
for u in getty.target serial-getty@.service getty@.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer systemd-timesyncd.service \
	systemd-networkd.service systemd-networkd-wait-online.service \
	systemd-pstore.service man-db.timer dpkg-db-backup.timer \
	systemd-journal-flush.service systemd-update-utmp.service \
	systemd-update-utmp-runlevel.service modprobe@drm.service \
	sys-kernel-debug.mount sys-kernel-tracing.mount apparmor.service; do
	ln -sf /dev/null "$r/etc/systemd/system/$u"
done
