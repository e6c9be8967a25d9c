package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// compileC builds program, C source, into out with gcc and flags. Without
// gcc the test skips, saying why (need: what the program is for); a build
// that fails is the error, for the caller to skip or fail on.
func compileC(t *testing.T, need, program, out string, flags ...string) error {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("needs gcc to build %s", need)
	}
	src := out + ".c"
	if err := os.WriteFile(src, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, flags...), "-o", out, src)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %s: %w: %s", filepath.Base(src), err, b)
	}
	return nil
}
