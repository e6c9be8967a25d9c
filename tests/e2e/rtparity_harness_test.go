package e2e

import (
	"os/exec"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// eachRuntime runs flow twice, in subtests "hull" and "runc", each on a
// container of its own made by newContainer and edit, with c.bin set to the
// runtime under test. runc is the control: a flow that fails under runc
// points at the test or the host, one that fails only under hull at hull.
// Without runc on PATH the runc subtest skips, saying so.
func eachRuntime(t *testing.T, edit func(*specs.Spec), flow func(t *testing.T, c *container)) {
	t.Helper()
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt, func(t *testing.T) {
			c := newContainer(t, edit)
			if rt == "runc" {
				bin, err := exec.LookPath("runc")
				if err != nil {
					t.Skipf("runc, the control, is not installed: %v", err)
				}
				c.bin = bin
			}
			flow(t, c)
		})
	}
}

// eachInitVariant runs flow as eachRuntime does, for three variants named
// by rt: "hull" (its C finisher), "hull-goinit" (HULL_GO_INIT=1, the Go
// init) and "runc", the control.
func eachInitVariant(t *testing.T, edit func(*specs.Spec), flow func(t *testing.T, rt string, c *container)) {
	t.Helper()
	for _, v := range []string{"hull", "hull-goinit", "runc"} {
		t.Run(v, func(t *testing.T) {
			c := newContainer(t, edit)
			switch v {
			case "hull-goinit":
				c.env = []string{"HULL_GO_INIT=1"}
			case "runc":
				bin, err := exec.LookPath("runc")
				if err != nil {
					t.Skipf("runc, the control, is not installed: %v", err)
				}
				c.bin = bin
			}
			flow(t, v, c)
		})
	}
}
