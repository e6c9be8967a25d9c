package guest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCLIOnCgroupV2: runc's command line on the unified hierarchy, with
// both drivers: flags after the id reach the cgroup (cpu.max takes quota
// and period at once), and exec --cgroup puts the process in an existing
// sub-cgroup (one path on v2; a per-controller form is refused).
func TestCLIOnCgroupV2(t *testing.T) {
	inGuest(t)
	for _, tc := range []struct {
		name    string
		systemd bool
		path    func(id string) string
	}{
		{"cgroupfs", false, func(id string) string { return "/hull-guest/" + id }},
		{"systemd", true, func(id string) string { return "system.slice:hull-guest:" + id }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHull(t, tc.systemd)
			id := randomName(t, "cli-")
			bundle := guestBundle(t, tc.path(id), "sleep", "60")
			h.must("run", id, "--detach", "--bundle", bundle)
			t.Cleanup(func() { h.run("delete", "--force", id) })
			var st specs.State
			if err := json.Unmarshal([]byte(h.must("state", id)), &st); err != nil {
				t.Fatal(err)
			}
			cg, err := ownCgroup(st.Pid)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(cgroupRoot, cg)
			h.must("update", id, "--cpu-quota", "20000", "--cpu-period", "50000", "--pids-limit", "40")
			expectFile(t, dir, "cpu.max", "20000 50000")
			expectFile(t, dir, "pids.max", "40")
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			out := h.must("exec", "--cgroup", "sub", id, "cat", "/proc/self/cgroup")
			if !strings.Contains(out, "0::/sub") {
				t.Errorf("exec --cgroup sub: %q, want 0::/sub", out)
			}
			if out, err := h.run("exec", "--cgroup", "pids:sub", id, "true"); err == nil {
				t.Errorf("exec --cgroup pids:sub on cgroup v2 succeeded: %s", out)
			}
			h.must("delete", id, "--force")
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cgroup %s (with its sub-cgroup) still there after delete: %v", dir, err)
			}
		})
	}
}
