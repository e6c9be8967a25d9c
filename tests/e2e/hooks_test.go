package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// markerHook writes the state it gets on stdin to dir/kind.json, and its
// $E2E_HOOK and first argument to dir/kind.env.
func markerHook(shell, dir, kind string) specs.Hook {
	script := `cat > "$E2E_DIR/$E2E_HOOK.json"; echo "$E2E_HOOK $1" > "$E2E_DIR/$E2E_HOOK.env"`
	return specs.Hook{
		Path: shell,
		Args: []string{"sh", "-c", script, "hook-argv0", "arg-" + kind},
		Env:  []string{"E2E_HOOK=" + kind, "E2E_DIR=" + dir},
	}
}

type hookState struct {
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	Status     string `json:"status"`
	Pid        int    `json:"pid"`
	Bundle     string `json:"bundle"`
}

// TestHooksAllKinds: each of the six hook kinds runs once, at its point,
// with the state on stdin and its own args and env.
func TestHooksAllKinds(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	out := c.outDir()
	c.Spec.Process.Args = []string{"true"}
	c.Spec.Hooks = &specs.Hooks{
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		Prestart:        []specs.Hook{markerHook("/bin/sh", out, "prestart")}, //nolint:staticcheck // deprecated, still in the spec
		CreateRuntime:   []specs.Hook{markerHook("/bin/sh", out, "createRuntime")},
		CreateContainer: []specs.Hook{markerHook("/bin/sh", out, "createContainer")},
		// startContainer runs inside the container: its paths are the container's.
		StartContainer: []specs.Hook{markerHook("/bin/sh", "/tmp", "startContainer")},
		Poststart:      []specs.Hook{markerHook("/bin/sh", out, "poststart")},
		Poststop:       []specs.Hook{markerHook("/bin/sh", out, "poststop")},
	}
	c.writeSpec()

	c.mustCreate()
	pid := c.state().Pid
	checkHooks(t, c, out, pid, map[string]string{"prestart": "creating", "createRuntime": "creating", "createContainer": "creating"})
	for _, k := range []string{"startContainer", "poststart", "poststop"} {
		if _, err := os.Stat(filepath.Join(out, k+".json")); err == nil {
			t.Errorf("%s hook ran at create", k)
		}
	}
	c.mustHull("start", c.ID)
	waitFile(t, filepath.Join(out, "poststart.json"), 10*time.Second)
	checkHooks(t, c, out, pid, map[string]string{"startContainer": "", "poststart": "running"})
	if !waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" }) {
		t.Fatal("container did not stop")
	}
	if _, err := os.Stat(filepath.Join(out, "poststop.json")); err == nil {
		t.Error("poststop hook ran before delete")
	}
	c.reap()
	c.mustHull("delete", c.ID)
	checkHooks(t, c, out, pid, map[string]string{"poststop": "stopped"})
}

// TestPoststartAfterExec: the poststart hooks run once the user's program
// is executed, as the runtime-spec requires: the hook finds the init's
// command line already the program's, not hull's C stage's. (The
// validation suite's poststart program asks more, that the program's
// first write comes before the hook's, which no runtime can promise; the
// conformance gate runs it as a race.) The startContainer hook makes the
// init a Go init; TestFinisherHoldsFifoUntilExec checks the C finisher's
// side of the same wait.
func TestPoststartAfterExec(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	out := c.outDir()
	c.Spec.Process.Args = []string{"sleep", "31"}
	script := `cat > "$D/state.json"
pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$D/state.json")
tr '\0' ' ' < "/proc/$pid/cmdline" > "$D/cmdline.tmp" && mv "$D/cmdline.tmp" "$D/cmdline"`
	c.Spec.Hooks = &specs.Hooks{
		Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"D=" + out}}},
		// Runs in the container after start releases the init and before
		// the exec: a runtime that did not wait for the exec would run the
		// poststart hook in this window.
		StartContainer: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "0.2"}}},
	}
	c.writeSpec()
	for round := 0; round < 5; round++ {
		if round > 0 {
			c.mustHull("delete", "--force", c.ID)
			c.reap()
			os.Remove(filepath.Join(out, "cmdline"))
		}
		c.mustCreate()
		c.mustHull("start", c.ID)
		// start returns after the hooks: the file is there already.
		got, err := os.ReadFile(filepath.Join(out, "cmdline"))
		if err != nil {
			t.Fatalf("round %d: the poststart hook left no command line: %v", round, err)
		}
		if string(got) != "sleep 31 " {
			t.Fatalf("round %d: the poststart hook saw the init running %q, want the program, \"sleep 31 \"", round, got)
		}
	}
}

// checkHooks checks each hook's marker: its status (any if ""), the pid
// (the container's own view, 1, for hooks run inside it), id and bundle,
// args and env.
func checkHooks(t *testing.T, c *container, dir string, pid int, want map[string]string) {
	t.Helper()
	for kind, status := range want {
		data, err := os.ReadFile(filepath.Join(dir, kind+".json"))
		if err != nil {
			t.Errorf("%s hook did not run: %v", kind, err)
			continue
		}
		var s hookState
		if err := json.Unmarshal(data, &s); err != nil {
			t.Errorf("%s hook got invalid state %q: %v", kind, data, err)
			continue
		}
		wantPid := pid
		if kind == "createContainer" || kind == "startContainer" {
			wantPid = 1
		}
		if (status != "" && s.Status != status) || s.Pid != wantPid || s.ID != c.ID || s.Bundle != c.Bundle || s.OCIVersion == "" {
			t.Errorf("%s hook state %+v: want status %q, pid %d, id %s, bundle %s", kind, s, status, wantPid, c.ID, c.Bundle)
		}
		env, _ := os.ReadFile(filepath.Join(dir, kind+".env"))
		if got := strings.TrimSpace(string(env)); got != kind+" arg-"+kind {
			t.Errorf("%s hook env and args: %q", kind, got)
		}
	}
}

// TestHookFailureFailsCreate: a failing prestart, createRuntime or
// createContainer hook fails create, which runs the poststop hooks (the
// runtime-spec's lifecycle goes on at destroy and poststop, as under runc)
// and leaves nothing behind.
func TestHookFailureFailsCreate(t *testing.T) {
	t.Parallel()
	failing := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-says-no >&2; exit 7"}}
	cases := []struct {
		kind string
		set  func(h *specs.Hooks)
	}{
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		{"prestart", func(h *specs.Hooks) { h.Prestart = []specs.Hook{failing} }}, //nolint:staticcheck // deprecated, still in the spec
		{"createRuntime", func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{failing} }},
		{"createContainer", func(h *specs.Hooks) { h.CreateContainer = []specs.Hook{failing} }},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.Args = []string{"true"}
				s.Hooks = &specs.Hooks{Poststop: []specs.Hook{markerHook("/bin/sh", out, "poststop")}}
				tc.set(s.Hooks)
			})
			r := c.create()
			if r.Code == 0 {
				t.Fatalf("create succeeded with a failing %s hook", tc.kind)
			}
			wantContains(t, r.Stderr, tc.kind, "hook-says-no")
			assertNothingLeft(t, c)
			data, err := os.ReadFile(filepath.Join(out, "poststop.json"))
			if err != nil {
				t.Fatalf("poststop hook did not run after the failed create: %v", err)
			}
			var st hookState
			if err := json.Unmarshal(data, &st); err != nil || st.Status != "stopped" || st.ID != c.ID {
				t.Errorf("poststop hook got state %q (%v): want status stopped, id %s", data, err, c.ID)
			}
		})
	}
}

// TestHookTimeout: a hook running past its timeout is killed and fails
// create.
func TestHookTimeout(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	pidFile := filepath.Join(c.tmp, "hook.pid")
	timeout := 1
	c.Spec.Process.Args = []string{"true"}
	c.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
		Path: "/bin/sh", Args: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec sleep 60"}, Timeout: &timeout,
	}}}
	c.writeSpec()
	start := time.Now()
	r := c.create()
	if r.Code == 0 {
		t.Fatal("create succeeded though its hook timed out")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", d)
	}
	wantContains(t, r.Stderr, "createRuntime", "timed out")
	assertNothingLeft(t, c)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the hook never ran: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if !waitUntil(5*time.Second, func() bool { return startTime(pid) == "" }) {
		t.Errorf("timed-out hook %d still runs", pid)
	}
}

// TestHooksRunInTheBundle: the hooks run in the runtime's namespaces
// (prestart, createRuntime, poststart, poststop) run in the bundle
// directory, whatever the caller's: runc changes into it, so a hook may
// name files relative to it. runc is the control.
func TestHooksRunInTheBundle(t *testing.T) {
	t.Parallel()
	kinds := []string{"prestart", "createRuntime", "poststart", "poststop"}
	for _, c := range withControls(t, nil) {
		out := t.TempDir()
		pwd := func(kind string) []specs.Hook {
			return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `pwd > "$1"`, "sh", filepath.Join(out, kind)}}}
		}
		c.Spec.Process.Args = []string{"true"}
		c.Spec.Hooks = &specs.Hooks{
			//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
			Prestart:      pwd("prestart"), //nolint:staticcheck // deprecated, still in the spec
			CreateRuntime: pwd("createRuntime"),
			Poststart:     pwd("poststart"),
			Poststop:      pwd("poststop"),
		}
		c.writeSpec()
		if r := c.run(); r.Code != 0 {
			t.Fatalf("%s run: %s", c.runtimeName(), r)
		}
		for _, kind := range kinds {
			got, err := os.ReadFile(filepath.Join(out, kind))
			if err != nil || strings.TrimSpace(string(got)) != c.Bundle {
				t.Errorf("%s: the %s hook ran in %q (%v), want the bundle %s", c.runtimeName(), kind, strings.TrimSpace(string(got)), err, c.Bundle)
			}
		}
	}
}
