// Package guest holds the checks that make test-guest runs inside its
// Debian guest (systemd as PID 1, cgroup v2 only) to prove the guest gives
// hull's cgroup v2 and systemd-driver tests what they rely on. Outside the
// guest (HULL_GUEST unset) every test skips.
package guest
