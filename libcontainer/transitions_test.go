package libcontainer

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTransitionMatrix: every op in every state, spelled out here (not
// derived from the table): "=" allowed and the status stays, "->S"
// allowed and S follows ("->" alone: the container is gone), anything
// else the exact refusal after `container "c1": `.
func TestTransitionMatrix(t *testing.T) {
	const (
		nr  = "container not running"
		del = "cannot delete a container that is not stopped: "
	)
	// columns: creating, created, running, paused, stopped
	want := map[Op][5]string{
		OpStart: {"cannot start a container that is creating", "->running",
			"cannot start an already running container", "cannot start a container that is paused",
			"cannot start a container that has stopped"},
		OpKill:        {nr, "=", "=", "=", nr},
		OpKillAll:     {nr, "=", "=", "=", "="},
		OpDelete:      {"->", "->", del + "running", del + "paused", "->"},
		OpDeleteForce: {"->", "->", "->", "->", "->"},
		OpPause: {nr + " (cannot pause a container that is creating)", "->paused",
			"->paused", nr + " (cannot pause a container that is paused)", nr + " (cannot pause a container that is stopped)"},
		OpResume: {"container not paused (it is creating)", "container not paused (it is created)",
			"container not paused (it is running)", "->running", "container not paused (it is stopped)"},
		OpUpdate: {nr, "=", "=", "=", nr},
		OpExec: {nr, "=", "=", "cannot exec in a paused container (use --ignore-paused to override)",
			"cannot exec in a stopped container"},
		OpExecIgnorePaused: {nr, "=", "=", "=", "cannot exec in a stopped container"},
		OpPs:               {nr, "=", "=", "=", "="},
		OpStats:            {nr, "=", "=", "=", nr},
		OpCheckpoint:       {nr, nr, "=", "=", nr},
	}
	if len(want) != len(lifecycle) {
		t.Errorf("the matrix has %d ops, the table %d", len(want), len(lifecycle))
	}
	for op, row := range want {
		for i, st := range States {
			cell := row[i]
			next, err := Transition("c1", op, st)
			switch {
			case cell == "=":
				if err != nil || next != st {
					t.Errorf("%s in %s: got (%q, %v), want allowed, status unchanged", op, st, next, err)
				}
			case strings.HasPrefix(cell, "->"):
				if w := specs.ContainerState(strings.TrimPrefix(cell, "->")); err != nil || next != w {
					t.Errorf("%s in %s: got (%q, %v), want allowed, then %q", op, st, next, err, w)
				}
			default:
				var se *StateError
				if w := `container "c1": ` + cell; err == nil || err.Error() != w {
					t.Errorf("%s in %s: got (%q, %v), want the error %q", op, st, next, err, w)
				} else if !errors.As(err, &se) || se.Op != op || se.Status != st || next != st {
					t.Errorf("%s in %s: error %#v does not name the op and state", op, st, err)
				}
			}
		}
	}
}

// TestTransitionUnknown: an op the table lacks is an error, not allowed.
func TestTransitionUnknown(t *testing.T) {
	for _, st := range States {
		if _, err := Transition("c1", Op("migrate"), st); err == nil || !strings.Contains(err.Error(), `unknown operation "migrate"`) {
			t.Errorf("migrate in %s: %v", st, err)
		}
	}
	if _, err := Transition("c1", OpStart, "exploded"); err == nil || err.Error() != `container "c1": cannot start a container that is exploded` {
		t.Errorf("start in an unknown state: %v", err)
	}
}

// TestRequireOnce: exec takes the status the caller's Require found, once
// and for the same op only; otherwise it checks the container itself (here
// one without a spec, so "creating", where exec is refused).
func TestRequireOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		passed  *passedCheck
		op      Op
		wantErr bool
	}{
		{"no earlier check", nil, OpExec, true},
		{"earlier check for the op", &passedCheck{op: OpExec, status: specs.StateRunning}, OpExec, false},
		{"earlier check for another op", &passedCheck{op: OpExecIgnorePaused, status: specs.StateRunning}, OpExec, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Container{passed: tc.passed}
			c.ID = "c1"
			st, err := c.requireOnce(tc.op)
			if (err != nil) != tc.wantErr {
				t.Fatalf("requireOnce(%s) = %s, %v; want an error: %v", tc.op, st, err, tc.wantErr)
			}
			if _, err := c.requireOnce(tc.op); err == nil {
				t.Errorf("a second requireOnce used the earlier check again")
			}
		})
	}
}
