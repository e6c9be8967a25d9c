package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// lifecycleOp is one command of the lifecycle matrix.
type lifecycleOp struct {
	name string
	args func(id string) []string
}

var lifecycleOps = []lifecycleOp{
	{"start", func(id string) []string { return []string{"start", id} }},
	{"kill", func(id string) []string { return []string{"kill", id, "0"} }},
	{"kill --all", func(id string) []string { return []string{"kill", "--all", id, "0"} }},
	{"delete", func(id string) []string { return []string{"delete", id} }},
	{"delete --force", func(id string) []string { return []string{"delete", "--force", id} }},
	{"pause", func(id string) []string { return []string{"pause", id} }},
	{"resume", func(id string) []string { return []string{"resume", id} }},
	{"update", func(id string) []string { return []string{"update", "--pids-limit", "100", id} }},
	{"exec", func(id string) []string { return []string{"exec", id, "true"} }},
	{"exec --ignore-paused", func(id string) []string { return []string{"exec", "--ignore-paused", id, "true"} }},
	{"ps", func(id string) []string { return []string{"ps", id} }},
	{"events", func(id string) []string { return []string{"events", "--stats", id} }},
}

var lifecycleStates = []string{"creating", "created", "running", "paused", "stopped"}

// hullLifecycle is what hull must answer, op by state (the columns of
// lifecycleStates): "=" succeeds and the status stays, "->S" succeeds and
// S follows ("->" alone: the container is gone), else a failure whose
// message contains the text. The same matrix as libcontainer's
// TestTransitionMatrix, here against real containers.
var hullLifecycle = map[string][5]string{
	"start": {"cannot start a container that is creating", "->running",
		"cannot start an already running container", "cannot start a container that is paused",
		"cannot start a container that has stopped"},
	"kill":           {"container not running", "=", "=", "=", "container not running"},
	"kill --all":     {"container not running", "=", "=", "=", "="},
	"delete":         {"->", "->", "not stopped: running", "not stopped: paused", "->"},
	"delete --force": {"->", "->", "->", "->", "->"},
	"pause": {"cannot pause a container that is creating", "->paused",
		"->paused", "cannot pause a container that is paused", "cannot pause a container that is stopped"},
	"resume": {"container not paused (it is creating)", "container not paused (it is created)",
		"container not paused (it is running)", "->running", "container not paused (it is stopped)"},
	"update": {"container not running", "=", "=", "=", "container not running"},
	"exec": {"container not running", "=", "=", "cannot exec in a paused container (use --ignore-paused to override)",
		"cannot exec in a stopped container"},
	// In a paused container the process waits frozen until resume: see
	// TestLifecycleExecIgnorePaused.
	"exec --ignore-paused": {"container not running", "=", "=", "skip", "cannot exec in a stopped container"},
	"ps":                   {"container not running", "=", "=", "=", "="},
	"events":               {"container not running", "=", "=", "=", "container not running"},
}

// runcLifecycle is runc's answer in the same runs (the control; creating
// is hull's alone: a killed create leaves runc nothing to act on). Only
// success or failure is compared, runc's words being logged. Where it
// differs from hull the cell says so.
var runcLifecycle = map[string][5]string{
	"start":                {"", "->running", "fail", "fail", "fail"},
	"kill":                 {"", "=", "=", "=", "fail"},
	"kill --all":           {"", "=", "=", "->running", "="}, // runc thaws a paused container after signalling it
	"delete":               {"", "->", "fail", "fail", "->"},
	"delete --force":       {"", "->", "->", "->", "->"},
	"pause":                {"", "->paused", "->paused", "fail", "fail"},
	"resume":               {"", "fail", "fail", "->running", "fail"},
	"update":               {"", "=", "=", "=", "fail"},
	"exec":                 {"", "=", "=", "fail", "fail"},
	"exec --ignore-paused": {"", "=", "=", "skip", "fail"},
	"ps":                   {"", "=", "=", "=", "="},
	"events":               {"", "=", "=", "=", "fail"},
}

// TestLifecycleMatrix drives real containers into each state and tries
// every op there: exit code, message and the status afterwards. An op
// that fails must leave the status as it was.
func TestLifecycleMatrix(t *testing.T) {
	if len(hullLifecycle) != len(lifecycleOps) || len(runcLifecycle) != len(lifecycleOps) {
		t.Fatalf("matrices of %d and %d rows for %d ops", len(hullLifecycle), len(runcLifecycle), len(lifecycleOps))
	}
	for _, rt := range cliRuntimes(t) {
		want := hullLifecycle
		if rt == "runc" {
			want = runcLifecycle
		}
		for col, st := range lifecycleStates {
			if rt == "runc" && st == "creating" {
				continue
			}
			t.Run(rt+"/"+st, func(t *testing.T) {
				t.Parallel()
				// Ops that fail or keep the status share one container;
				// one that changes it gets its own.
				probe := newLifecycleContainer(t, rt, st)
				for _, op := range lifecycleOps {
					cell := want[op.name][col]
					if cell == "skip" {
						continue
					}
					c := probe
					if strings.HasPrefix(cell, "->") {
						c = newLifecycleContainer(t, rt, st)
					}
					r := c.hull(op.args(c.ID)...)
					checkLifecycleCell(t, rt, c, st, op.name, cell, r)
				}
			})
		}
	}
}

// checkLifecycleCell checks one op's result r on c (which was in st)
// against the matrix cell.
func checkLifecycleCell(t *testing.T, rt string, c *container, st, op, cell string, r result) {
	t.Helper()
	switch {
	case cell == "=" || strings.HasPrefix(cell, "->"):
		if r.Code != 0 {
			t.Errorf("%s in %s: want success:\n%s", op, st, r)
			return
		}
		after := strings.TrimPrefix(cell, "->")
		if cell == "=" {
			after = st
		}
		checkStatus(t, c, op, st, after)
	default:
		if r.Code == 0 {
			t.Errorf("%s in %s: want a failure (%q), got success:\n%s", op, st, cell, r)
		} else if rt == "hull" && !strings.Contains(r.Stderr, cell) {
			t.Errorf("%s in %s: want a failure saying %q:\n%s", op, st, cell, r)
		} else if rt != "hull" {
			t.Logf("%s %s in %s: exit %d: %s", rt, op, st, r.Code, strings.TrimSpace(r.Stderr))
		}
		checkStatus(t, c, op, st, st)
	}
}

// checkStatus: after op on c (in st), its status is want ("": gone).
func checkStatus(t *testing.T, c *container, op, st, want string) {
	t.Helper()
	r := c.hull("state", c.ID)
	if want == "" {
		if r.Code == 0 {
			t.Errorf("%s in %s: the container still exists:\n%s", op, st, r)
		}
		return
	}
	// A killed create leaves no state runc's "state" would print the same
	// way; hull prints "creating".
	if r.Code != 0 || !strings.Contains(r.Stdout, `"status": "`+want+`"`) {
		t.Errorf("%s in %s: want status %s after it:\n%s", op, st, want, r)
	}
}

// newLifecycleContainer makes a container driven by rt and takes it to st.
func newLifecycleContainer(t *testing.T, rt, st string) *container {
	t.Helper()
	c := newRuntimeContainer(t, rt, sleeper)
	switch st {
	case "creating":
		c.killCreateMidway()
	case "created":
		c.mustCreate()
	case "running", "paused", "stopped":
		c.runDetached()
	}
	switch st {
	case "paused":
		c.mustHull("pause", c.ID)
	case "stopped":
		c.mustHull("kill", c.ID, "KILL")
		c.waitStopped()
	}
	if r := c.hull("state", c.ID); !strings.Contains(r.Stdout, `"status": "`+st+`"`) {
		t.Fatalf("could not take the container to %s:\n%s", st, r)
	}
	return c
}

// killCreateMidway kills `create` while a createRuntime hook runs: the
// state directory records the cgroup but no spec yet (status creating).
func (c *container) killCreateMidway() {
	t := c.t
	t.Helper()
	hookPid := filepath.Join(c.tmp, "hook.pid")
	c.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
		Path: "/bin/sh", Args: []string{"sh", "-c", "echo $$ > " + hookPid + "; exec sleep 1000"},
	}}}
	c.writeSpec()
	p := c.startHull(nil, "create", "--bundle", c.Bundle, c.ID)
	pid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, hookPid, 10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	// The hook is a host process outside the container's cgroup: the test
	// ends it, as an engine's shim would.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	p.cmd.Process.Kill()
	p.wait()
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); err != nil {
		t.Fatalf("no state dir after the killed create: %v", err)
	}
}

// TestDeleteUnloadableCgroup: a state whose cgroup record cannot be loaded
// (a driver this hull does not know). delete fails and keeps the state,
// the only record of the cgroup; delete --force removes the container,
// kills its init, and fails naming the cgroup it left.
func TestDeleteUnloadableCgroup(t *testing.T) {
	// A running container's delete is refused by its status first.
	deleteSays := map[string]string{"running": "not stopped: running", "stopped": "the state is kept"}
	for _, st := range []string{"running", "stopped"} {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			c := newLifecycleContainer(t, "hull", st)
			pid := c.state().Pid
			stateDir := filepath.Join(c.Root, c.ID)
			breakCgroupRecord(t, filepath.Join(stateDir, "state.json"))
			t.Cleanup(func() {
				for _, d := range cgroupDirs(c.Cgroup) {
					removeCgroupTree(d)
				}
			})

			r := c.hull("delete", c.ID)
			if r.Code == 0 || !strings.Contains(r.Stderr, deleteSays[st]) {
				t.Errorf("delete: want a failure saying %q:\n%s", deleteSays[st], r)
			}
			if st == "stopped" && !strings.Contains(r.Stderr, `unknown driver "nosuch"`) {
				t.Errorf("delete: the failure does not name the record's fault:\n%s", r)
			}
			t.Logf("%s", r)
			if _, err := os.Stat(stateDir); err != nil {
				t.Errorf("delete removed the state: %v", err)
			}
			if len(cgroupDirs(c.Cgroup)) == 0 {
				t.Errorf("the cgroup is gone before the test removed it")
			}

			r = c.hull("delete", "--force", c.ID)
			if r.Code == 0 || !strings.Contains(r.Stderr, "deleted, but left its cgroup") || !strings.Contains(r.Stderr, c.Cgroup) {
				t.Errorf("delete --force: want a failure naming the cgroup left (%s):\n%s", c.Cgroup, r)
			}
			if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
				t.Errorf("delete --force kept the state: %v", err)
			}
			t.Logf("%s", r)
			c.reap()
			if st == "running" && !waitUntil(5*time.Second, func() bool { s, _ := procStat(pid); return s == "" || s == "Z" }) {
				t.Errorf("delete --force left the init %d running", pid)
			}
			if len(cgroupDirs(c.Cgroup)) == 0 {
				t.Errorf("delete --force removed a cgroup it said it left")
			}
		})
	}
}

// breakCgroupRecord gives the state's cgroup record a driver no hull has.
func breakCgroupRecord(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	var saved map[string]any
	must(t, json.Unmarshal(data, &saved))
	cg, ok := saved["cgroup"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no cgroup record: %s", path, data)
	}
	cg["driver"] = "nosuch"
	data, err = json.Marshal(saved)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o600))
}

// TestLifecycleExecIgnorePaused: exec --ignore-paused into a paused
// container joins it, frozen, and runs once the container is resumed; the
// container stays paused meanwhile.
func TestLifecycleExecIgnorePaused(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			c := newLifecycleContainer(t, rt, "paused")
			init := c.state().Pid
			before := len(joinedLikeInit(c, init))
			p := c.startHull(nil, "exec", "--ignore-paused", c.ID, "true")
			if !waitUntil(10*time.Second, func() bool { return len(joinedLikeInit(c, init)) > before }) {
				t.Errorf("no exec'd process joined the paused container's cgroup")
			}
			checkStatus(t, c, "exec --ignore-paused", "paused", "paused")
			c.mustHull("resume", c.ID)
			if r := p.wait(); r.Code != 0 {
				t.Errorf("exec --ignore-paused: %s", r)
			}
		})
	}
}
