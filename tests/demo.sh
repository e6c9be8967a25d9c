#!/bin/sh
# make demo: run a container from the project's own busybox bundle.
set -eu
exec go run ./tests/demo -hull "$1" -rootfs "$2"
