#!/bin/sh
# Installs what run.sh needs on the host (Debian 12, as root) when missing.
set -eu
need=
command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86"
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v mkfs.ext4 >/dev/null || need="$need e2fsprogs"
command -v cpio >/dev/null || need="$need cpio"
command -v unshare >/dev/null || need="$need util-linux"
[ -n "$need" ] || exit 0
echo "test-guest: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
