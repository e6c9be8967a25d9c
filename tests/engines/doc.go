// Package engines proves that real container engines drive hull as their
// OCI runtime: podman through conmon, and containerd through its runc shim
// (io.containerd.runc.v2 with hull as the runc binary).
//
// Each engine runs with a throw-away configuration of its own (roots,
// sockets, state and cgroup parent in a temporary directory and under an
// absolute cgroup /hull-engines-<random>), so the host's engine setup is
// never read or changed. Networking is always "none". Tests need root,
// HULL_BINARY and HULL_ROOTFS (set by `make test`), and the engines
// (Debian: podman conmon containerd); without them they skip and say why.
//
// Every test checks that hull really was the runtime: the engine passes
// hull a --root inside the test's directory, and the test finds the
// container in `hull --root ... list` while it runs.
package engines
