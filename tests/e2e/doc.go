// Package e2e runs hull's core end to end against real containers: the
// binary in HULL_BINARY, with the busybox rootfs in HULL_ROOTFS (both set
// by `make test` and `make e2e`). It needs root; without it, or without
// those two paths, every test skips and says why.
//
// Each test gets its own bundle, --root state directory, container id and
// an absolute cgroup under /hull-e2e, and checks on cleanup that hull left
// no state, cgroup or process behind.
package e2e
