package e2e

import (
	"testing"
	"time"
)

// TestKillCreated: `kill ID` (SIGTERM) ends a created container that never
// started, as under runc (the control), so an engine stopping it does not
// wait out its grace period for SIGKILL. The created init is its pid
// namespace's init, which the kernel spares signals it has no handler for;
// hull 867ede5's C init had none (found by review).
func TestKillCreated(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		for _, sig := range []string{"TERM", "INT", "HUP"} {
			t.Run(rt+"/"+sig, func(t *testing.T) {
				c := newRuntimeContainer(t, rt, sleeper)
				c.mustCreate()
				c.recordInit()
				c.mustHull("kill", c.ID, sig)
				if !waitUntil(5*time.Second, func() bool { return c.state().Status == "stopped" }) {
					t.Fatalf("%s: still %s 5 s after kill %s", rt, c.state().Status, sig)
				}
				c.mustHull("delete", c.ID)
			})
		}
	}
}
