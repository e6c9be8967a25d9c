package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The checkpoint and restore of a real container need criu, which does not
// work on this host's kernel (Debian 12's CRIU 3.17 fails `criu check`):
// tests/guest/checkpoint_test.go runs them in the guest, runc beside. Here:
// what is refused, and that a failed restore leaves nothing behind, with a
// stand-in criu where one must run.

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
		{[]string{"--criu", "/nonexistent/criu", "checkpoint"}, "install the criu package"},
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

// TestRestoreLeavesNothing: a restore that fails (no image, a terminal, a
// criu that fails, one that names no init) leaves no state, cgroup,
// process or mount behind, and says why.
func TestRestoreLeavesNothing(t *testing.T) {
	t.Parallel()
	img := t.TempDir()
	if err := os.WriteFile(filepath.Join(img, "inventory.img"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := func(body string) string {
		path := filepath.Join(t.TempDir(), "criu")
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := []struct {
		name     string
		terminal bool
		args     []string
		want     string
	}{
		{"no image", false, []string{"restore", "--image-path", t.TempDir()}, "no checkpoint image there"},
		{"terminal", true, []string{"restore", "--image-path", img}, "restoring a container with a terminal is not supported"},
		{"criu fails", false, []string{"--criu", fake(`echo "(0.1) Error (cr-restore.c:1): Restoring FAILED." > "$5/restore.log"; exit 1`), "restore", "--image-path", img},
			"see " + filepath.Join(img, "restore.log") + ": (0.1) Error (cr-restore.c:1): Restoring FAILED."},
		{"no pid file", false, []string{"--criu", fake("exit 0"), "restore", "--image-path", img}, "criu's pid file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "1000"}
				s.Process.Terminal = tc.terminal
			})
			r := c.hull(append(tc.args, "--bundle", c.Bundle, c.ID)...)
			if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("want a failure saying %q: %s", tc.want, r)
			}
			assertNothingLeft(t, c)
			mounts, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mounts), "hull-restore-root-") {
				t.Errorf("the restore's root bind is still mounted")
			}
		})
	}
}
