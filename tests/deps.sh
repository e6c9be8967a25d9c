#!/bin/sh
# Installs what building and testing hull needs on Debian or Ubuntu (as root).
# Go itself is expected on PATH (go.mod names the version).
set -eu
pkgs="gcc libc6-dev make pkg-config libseccomp-dev busybox-static runc crun iproute2 procps util-linux podman conmon containerd docker.io containernetworking-plugins debootstrap systemd-container uidmap strace musl-tools"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
command -v go >/dev/null || { echo "deps.sh: go not found on PATH" >&2; exit 1; }
go mod download
