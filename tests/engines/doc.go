// Package engines proves that real container engines drive hull as their
// OCI runtime, with runc as the control in the same test: podman through
// conmon; containerd through its runc shim (io.containerd.runc.v2 with hull
// as the runc binary), with ctr and through its CRI plugin with crictl and
// critest (Kubernetes' CRI validation suite, runtime handlers "runc" and
// "hull"); and Docker (dockerd with --add-runtime hull=...).
//
// Each engine runs with a throw-away configuration of its own (roots,
// sockets, state and cgroup parent in a temporary directory and under an
// absolute cgroup /hull-engines-<random>), so the host's engine setup is
// never read or changed, and is stopped by its PID. Networking is "none",
// except for the CRI: containerd runs in mount and network namespaces the
// test makes ("/" rshared there, as on a systemd host), and its pods' CNI
// bridge lives in that network namespace. Tests need root, HULL_BINARY and
// HULL_ROOTFS (set by make), the engines (Debian: podman conmon containerd
// docker.io containernetworking-plugins) and, for the CRI, crictl and
// critest (make cri-tools builds them; HULL_CRI_TOOLS points at them);
// without them they skip and say why. critest runs only with
// HULL_CRITEST=1 (make test-cri): it takes minutes.
//
// Run engine suites one at a time: flock /tmp/hull-engines.lock (make
// test-engines and make test-cri do).
//
// Every test checks that the runtime asked for really ran the container:
// it finds the container in that runtime's own state (hull list or runc
// state under the root the engine gave it) while it runs.
package engines
