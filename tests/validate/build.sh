#!/bin/sh
# Builds the OCI runtime-tools v0.9.0 validation suite (runtimetest and one
# program per validation/<name>/) with the pinned suite.go.mod/suite.go.sum.
# Usage: build.sh CACHE_DIR
# Prints the directory holding the binaries (CACHE_DIR/suite-<key>/bin).
# The key hashes the go.mod/go.sum template, this script and the Go version,
# so a build is reused until one of them changes.
set -eu

cache=${1:?usage: build.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
module=github.com/opencontainers/runtime-tools
version=v0.9.0

command -v go >/dev/null 2>&1 || { echo "build.sh: go not found" >&2; exit 1; }
# The template's go.sum is the authority: never let the go command edit it,
# and never switch toolchains behind our back.
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

key=$(cat "$here/suite.go.mod" "$here/suite.go.sum" "$here/build.sh" |
	{ cat; go version; } | sha256sum | cut -c1-16)
out="$cache/suite-$key"
if [ -f "$out/.complete" ]; then
	echo "$out/bin"
	exit 0
fi

mkdir -p "$cache"
dir=$(go mod download -json "$module@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || {
	echo "build.sh: go mod download $module@$version gave no source dir" >&2
	exit 1
}

rm -rf "$out.tmp"
mkdir -p "$out.tmp/bin"
src="$cache/src"
rm -rf "$src"
cp -R "$dir" "$src"
chmod -R u+w "$src"
cp "$here/suite.go.mod" "$src/go.mod"
cp "$here/suite.go.sum" "$src/go.sum"

# runtimetest runs inside the busybox rootfs, so it must be fully static.
# The validation programs are built in one go build: one link per program
# but a single dependency graph, which is much faster than 58 builds.
(
	cd "$src"
	CGO_ENABLED=0 go build -trimpath -o "$out.tmp/bin/runtimetest" ./cmd/runtimetest
	CGO_ENABLED=0 go build -trimpath -o "$out.tmp/prog/" ./validation/...
) >&2
for p in "$out.tmp"/prog/*; do
	mv "$p" "$out.tmp/bin/$(basename "$p").t"
done
rmdir "$out.tmp/prog"

# Programs that use the fixed absolute cgroup /cgrouptest (through
# AbsCgroupPath, or by name as delete_only_create_resources does): two of them
# must never run at once, whichever runtime drives them.
grep -lE 'AbsCgroupPath|"cgrouptest"' "$src"/validation/*/*.go | grep -v /util/ |
	sed 's#.*/validation/\([^/]*\)/.*#\1#' | sort >"$out.tmp/abs-cgroup-programs"

touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
# Builds under older keys are dead weight once a newer one exists.
for old in "$cache"/suite-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
echo "$out/bin"
