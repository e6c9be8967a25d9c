package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withControls returns hull's container and, when runc is installed, the
// same bundle's container under runc, the control for behaviour that is
// runc's. Each has its own id, state root and cgroup.
func withControls(t *testing.T, edit func(*specs.Spec)) []*container {
	t.Helper()
	out := []*container{newContainer(t, edit)}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Logf("no runc control: %v", err)
		return out
	}
	c := newContainer(t, edit)
	c.bin = runc
	return append(out, c)
}

// runtimeName is "hull" or "runc", for messages.
func (c *container) runtimeName() string { return filepath.Base(c.bin) }
