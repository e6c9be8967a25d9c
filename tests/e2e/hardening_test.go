package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runtimes are the runtimes a hardening test runs the same flow with:
// hull, and runc as the control where it is installed.
func runtimes(t *testing.T) []string {
	rts := []string{"hull"}
	if _, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, "runc")
	} else {
		t.Logf("no runc: hull only, without the control")
	}
	return rts
}

// newFor is newContainer for runtime rt ("hull" or "runc"): the same
// bundle, state root and cgroup of its own, and the same leak check.
func newFor(t *testing.T, rt string, edit func(*specs.Spec)) *container {
	t.Helper()
	c := newContainer(t, edit)
	if rt != "hull" {
		bin, err := exec.LookPath(rt)
		if err != nil {
			t.Skipf("%s: %v", rt, err)
		}
		c.bin = bin
		c.ID = rt + "-" + c.ID
	}
	return c
}

// underFdLimit runs the runtime with `ulimit -n n` (soft and hard).
func (c *container) underFdLimit(n int, args ...string) result {
	c.t.Helper()
	full := append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, n), "sh", c.bin, "--root", c.Root}, args...)
	// Output to a file, not a pipe: a created init would hold a pipe open.
	out, err := os.CreateTemp(c.tmp, "out-*")
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close()
	limit := 20 * time.Second
	if filepath.Base(c.bin) != "hull" {
		limit = 5 * time.Second // the control: runc hangs at some limits
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", full...)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	data, _ := os.ReadFile(out.Name())
	r := result{Args: args, Stderr: string(data), Code: -1}
	if cmd.ProcessState == nil {
		c.t.Fatalf("run %v: %v", args, err)
	}
	r.Code = cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		r.Stderr += fmt.Sprintf("\n(killed: hung for %v)", limit)
	}
	return r
}

// TestFdLimitCreateLeavesNothing: a create that runs out of descriptors at
// any limit from 16 down to 8 fails and leaves no state entry, cgroup or
// process — it once left a phantom "creating" container at 9.
func TestFdLimitCreateLeavesNothing(t *testing.T) {
	for _, rt := range runtimes(t) {
		for n := 16; n >= 8; n-- {
			t.Run(fmt.Sprintf("%s/%d", rt, n), func(t *testing.T) {
				c := newFor(t, rt, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
				r := c.underFdLimit(n, "create", "--bundle", c.Bundle, c.ID)
				t.Logf("%s under ulimit -n %d: exit %d: %s", rt, n, r.Code, strings.TrimSpace(r.Stderr))
				if r.Code == 0 {
					c.recordInit()
					c.mustHull("delete", "--force", c.ID)
				}
				left := leftovers(c)
				switch {
				case rt != "hull":
					t.Logf("control %s left: %v", rt, left) // runc hangs at 13 here
				case strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "killed: hung"):
					t.Errorf("%s", r)
				case len(left) > 0:
					t.Errorf("left behind: %v", left)
				}
			})
		}
	}
}

// leftovers describes what of c exists: state entries, cgroup
// directories, processes in its cgroup.
func leftovers(c *container) []string {
	var left []string
	if m, _ := filepath.Glob(filepath.Join(c.Root, "*")); len(m) > 0 {
		left = append(left, fmt.Sprintf("state entries %v", m))
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		left = append(left, fmt.Sprintf("cgroup dirs %v", dirs))
	}
	if pids := procsInCgroup(c.Cgroup); len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes %v", pids))
	}
	return left
}
