#!/bin/sh
# Builds crictl and critest (Kubernetes' CRI validation suite) from the
# cri-tools module the Go module proxy serves: VERSION, into OUT.
# usage: cri-tools.sh VERSION OUT
set -eu
version=$1
out=$2
mod=sigs.k8s.io/cri-tools@$version
# Outside any module, so that the download leaves hull's go.mod alone.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=$(cd "$tmp" && GOFLAGS= GOWORK=off go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "cri-tools.sh: go mod download $mod gave no directory" >&2; exit 1; }
mkdir -p "$out"
cd "$dir"
GOFLAGS= GOWORK=off go build -trimpath -o "$out/crictl.tmp" ./cmd/crictl
GOFLAGS= GOWORK=off go test -c -trimpath -o "$out/critest.tmp" ./cmd/critest
mv "$out/crictl.tmp" "$out/crictl"
mv "$out/critest.tmp" "$out/critest"
