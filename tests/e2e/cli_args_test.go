package e2e

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCLIExtraArgumentsRefused: a word after the id of a command that takes
// the id alone is refused before anything is made, as runc (the control)
// refuses it: `run ID true` must not run the config's program instead.
func TestCLIExtraArgumentsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range withControls(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} }) {
		rt := c.runtimeName()
		for _, args := range [][]string{
			{"run", "--bundle", c.Bundle, c.ID, "extra"},
			{"create", "--bundle", c.Bundle, c.ID, "extra"},
		} {
			if r := c.hull(args...); r.Code == 0 {
				t.Errorf("%s %v: accepted: %s", rt, args, r)
			} else if rt == "hull" && !strings.Contains(r.Stderr, `too many arguments ["extra"]`) {
				t.Errorf("hull %v: %s", args, r)
			}
			assertNothingLeft(t, c)
		}
		c.mustCreate()
		for _, cmd := range []string{"state", "start", "pause", "delete"} {
			if r := c.hull(cmd, c.ID, "extra"); r.Code == 0 {
				t.Errorf("%s %s ID extra: accepted: %s", rt, cmd, r)
			}
		}
		c.wantStatus("created")
		if r := c.hull("kill", c.ID, "KILL", "extra"); r.Code == 0 {
			t.Errorf("%s kill ID KILL extra: accepted: %s", rt, r)
		}
		c.wantStatus("created")
	}
}

// TestCLIConsoleSocketWithoutTerminal: --console-socket with
// process.terminal false is refused before anything is made, as by runc
// (the control): a receiver would wait for a pty that never comes.
func TestCLIConsoleSocketWithoutTerminal(t *testing.T) {
	t.Parallel()
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sleep", "1000"}
	}) {
		rt := c.runtimeName()
		sock := filepath.Join(c.tmp, "console.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if r := c.create("--console-socket", sock); r.Code == 0 {
			t.Errorf("%s: create --console-socket with terminal false accepted", rt)
		} else if rt == "hull" && !strings.Contains(r.Stderr, "process.terminal is false") {
			t.Errorf("hull: %s", r)
		}
		assertNothingLeft(t, c)
		c.mustCreate()
		c.mustHull("start", c.ID)
		if r := c.hull("exec", "--console-socket", sock, c.ID, "true"); r.Code == 0 {
			t.Errorf("%s: exec --console-socket without --tty accepted", rt)
		}
	}
}
