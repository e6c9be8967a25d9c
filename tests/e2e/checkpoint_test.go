package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/tests/testenv"
)

// The checkpoint and restore of a real container need criu, which does not
// work on this host's kernel (Debian 12's CRIU 3.17 fails `criu check`),
// and a cgroup v2 host: tests/guest/checkpoint_test.go runs them in the
// guest, runc beside. Here: what is refused, and that nothing is left.

// TestCheckpointRefusals: flags hull does not offer, a bad mode, a missing
// criu and a container that is not running are refused by name, and the
// container is left as it was.
func TestCheckpointRefusals(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	c.mustCreate()
	img := filepath.Join(t.TempDir(), "img")
	if r := c.hull("checkpoint", "--image-path", img, c.ID); r.Code == 0 || !strings.Contains(r.Stderr, "container not running") {
		t.Errorf("checkpoint of a created container: %s", r)
	}
	c.mustHull("start", c.ID)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint", "--pre-dump"}, "--pre-dump: not supported"},
		{[]string{"checkpoint", "--parent-path", "/x"}, "--parent-path: not supported"},
		{[]string{"checkpoint", "--manage-cgroups-mode", "bogus"}, `--manage-cgroups-mode "bogus": must be one of`},
		{[]string{"checkpoint", "--empty-ns", "ipc"}, `--empty-ns "ipc": only network`},
	}
	if cgroups.UnifiedHost() {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"--criu", "/nonexistent/criu", "checkpoint"}, "install the criu package"})
	} else {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"checkpoint"}, "cgroup v2 hosts only"})
	}
	for _, tc := range cases {
		r := c.hull(append(tc.args, "--image-path", img, c.ID)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: want a failure saying %q: %s", tc.args, tc.want, r)
		}
	}
	if st := c.state(); st.Status != "running" {
		t.Errorf("after the refused checkpoints the container is %s, want running", st.Status)
	}
}

// TestRestoreOnV1Refused: on a cgroup v1 host (this one) restore is
// refused before anything is made, naming why; nothing is left. (A failed
// restore on v2, a stand-in criu failing, is tests/guest's
// TestRestoreLeavesNothing.)
func TestRestoreOnV1Refused(t *testing.T) {
	t.Parallel()
	if cgroups.UnifiedHost() {
		t.Skip("this host is cgroup v2: tests/guest covers restore there")
	}
	img := t.TempDir()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	r := c.hull("restore", "--image-path", img, "--bundle", c.Bundle, c.ID)
	if r.Code == 0 || !strings.Contains(r.Stderr, "cgroup v2 hosts only") {
		t.Errorf("want a refusal naming cgroup v2: %s", r)
	}
	assertNothingLeft(t, c)
}

// TestHullAsCriuActionScript: a restore with prestart or createRuntime
// hooks makes hull criu's action script (--action-script, no arguments, the
// step in CRTOOLS_SCRIPT_ACTION, the hooks file in HULL_RESTORE_HOOKS).
// criu cannot restore here; this runs the binary as criu runs it: at
// setup-namespaces the hooks get the state with criu's init pid, at other
// steps nothing runs, and a failing hook fails the script, named.
// tests/guest/checkpoint_test.go has a real criu run the hooks.
func TestHullAsCriuActionScript(t *testing.T) {
	t.Parallel()
	bin, _ := testenv.RequireHull(t, "end-to-end tests")
	dir := t.TempDir()
	out := filepath.Join(dir, "prestart.out")
	write := func(hook string) string {
		path := filepath.Join(t.TempDir(), "restore-hooks.json")
		content := `{"state":{"ociVersion":"1.2.0","id":"r1","status":"creating","bundle":"` + dir + `"},"hooks":{"prestart":[` + hook + `]}}`
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write(`{"path":"/bin/sh","args":["sh","-c","cat > ` + out + `"]}`)
	bad := write(`{"path":"/bin/sh","args":["sh","-c","echo refused >&2; exit 5"]}`)
	for _, tc := range []struct {
		name, file, action string
		wantCode           int
		wantStderr         string
		wantRan            bool
	}{
		{"a step without hooks", good, "post-restore", 0, "", false},
		{"setup-namespaces", good, "setup-namespaces", 0, "", true},
		{"a hook fails", bad, "setup-namespaces", 1, "hooks.prestart[0] /bin/sh: exit status 5: refused", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(out)
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "HULL_RESTORE_HOOKS="+tc.file, "CRTOOLS_SCRIPT_ACTION="+tc.action, "CRTOOLS_INIT_PID=4242")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); cmd.ProcessState == nil {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
			data, rerr := os.ReadFile(out)
			if ran := rerr == nil; ran != tc.wantRan {
				t.Fatalf("the hook ran: %v, want %v", ran, tc.wantRan)
			}
			if tc.wantRan && !strings.Contains(string(data), `"pid":4242`) {
				t.Errorf("the hook's state %s lacks criu's init pid 4242", data)
			}
		})
	}
	// Without the hooks file hull is the command line as ever.
	if o, err := exec.Command(bin).CombinedOutput(); err != nil || !strings.Contains(string(o), "USAGE") {
		t.Errorf("hull with no arguments and no hooks file: %v\n%s", err, o)
	}
}
