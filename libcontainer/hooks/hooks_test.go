package hooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func shHook(script string, extra ...string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: append([]string{"sh", "-c", script}, extra...)}
}

func TestStateArgsEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := shHook(`cat > "$1.state"; echo "$0 $FOO" > "$1.args"`, out)
	h.Args = append(h.Args[:3], "arg0", out)
	h.Env = []string{"FOO=bar"}
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	if err := Run("createRuntime", []specs.Hook{h}, st); err != nil {
		t.Fatal(err)
	}
	var got specs.State
	data, _ := os.ReadFile(out + ".state")
	if err := json.Unmarshal(data, &got); err != nil || got.ID != "c1" || got.Pid != 42 || got.Status != specs.StateCreating {
		t.Fatalf("state on stdin: %s (%v)", data, err)
	}
	args, _ := os.ReadFile(out + ".args")
	if strings.TrimSpace(string(args)) != "arg0 bar" {
		t.Fatalf("args/env seen by the hook: %q", args)
	}
}

// TestRunsInTheBundle: a hook's working directory is the bundle, as under
// runc and crun; the caller's when the bundle is gone.
func TestRunsInTheBundle(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pwd")
	here, _ := os.Getwd()
	for _, tc := range []struct {
		name, bundle, want string
	}{
		{"the bundle", t.TempDir(), ""},
		{"a bundle that is gone", "/nonexistent/bundle", here},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.bundle
			}
			st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateStopped, Bundle: tc.bundle}
			if err := Run("poststop", []specs.Hook{shHook(`pwd > "$1"`, "sh", out)}, st); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(out); strings.TrimSpace(string(got)) != want {
				t.Errorf("the hook ran in %q, want %s", got, want)
			}
		})
	}
}

func TestFailureStopsOrGoesOn(t *testing.T) {
	dir := t.TempDir()
	hooks := []specs.Hook{shHook("exit 3"), shHook("touch " + filepath.Join(dir, "second"))}
	err := Run("prestart", hooks, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "hooks.prestart[0]") {
		t.Fatalf("Run: %v, want an error naming hooks.prestart[0]", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "second")); err == nil {
		t.Fatal("Run went on after a failing hook")
	}
	err = RunAll("poststop", hooks, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "hooks.poststop[0]") {
		t.Fatalf("RunAll: %v, want the failure reported", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "second")); err != nil {
		t.Fatal("RunAll stopped at the failing hook")
	}
}

func TestTimeout(t *testing.T) {
	one := 1
	h := shHook("sleep 30")
	h.Timeout = &one
	start := time.Now()
	err := Run("poststart", []specs.Hook{h}, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("hook with a 1 s timeout took %v", d)
	}
}
