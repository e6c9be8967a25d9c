package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	if cgroupV2Host() {
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
	if cgroupV2Host() {
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

func cgroupV2Host() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
