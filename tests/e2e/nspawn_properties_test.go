package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/tests/testenv"
)

// TestNspawnProperties: --property= limits of the mapped subset land in
// the machine's cgroup (cgroup v1 files here) under hull and runc, and an
// unmapped property is refused with its reason before anything is made.
func TestNspawnProperties(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	if _, err := os.Stat("/sys/fs/cgroup/pids/cgroup.procs"); err != nil {
		t.Skip("needs the cgroup v1 pids and memory hierarchies")
	}
	bad := filepath.Join(t.TempDir(), "bad")
	out, err := exec.Command(bin, "convert", "--bundle", bad, "-D", rootfs, "--property=Delegate=yes").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Delegate=yes") || !strings.Contains(string(out), "need systemd") {
		t.Errorf("--property=Delegate=yes: %v\n%s", err, out)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("refused conversion left %s", bad)
	}
	for _, rt := range ociRuntimes(t, bin)[:2] {
		t.Run(rt[0], func(t *testing.T) {
			name := "pr" + randomSuffix()
			cg := cgroupParent + "/" + name
			root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
			t.Cleanup(func() {
				rtCommand(context.Background(), rt[1:], "--root", root, "delete", "--force", name).Run()
				for _, d := range cgroupDirs(cg) {
					removeCgroupTree(d)
				}
			})
			args := []string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg,
				"--property=TasksMax=77", "--property=MemoryMax=96M", "--property=CPUQuota=25%", "--property=CPUWeight=50"}
			if out, err := exec.Command(bin, append(args, "--", "/bin/sleep", "30")...).CombinedOutput(); err != nil {
				t.Fatalf("hull %v: %v\n%s", args, err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := rtCommand(ctx, rt[1:], "--root", root, "run", "--bundle", bundle, name)
			if err := run.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				rtCommand(context.Background(), rt[1:], "--root", root, "kill", name, "KILL").Run()
				run.Wait()
			}()
			want := map[string]string{"pids/pids.max": "77", "memory/memory.limit_in_bytes": "100663296",
				"cpu/cpu.cfs_quota_us": "25000", "cpu/cpu.cfs_period_us": "100000", "cpu/cpu.shares": "512"}
			for f, v := range want {
				p := filepath.Join("/sys/fs/cgroup", filepath.Dir(f), cg, filepath.Base(f))
				var got string
				waitUntil(10*time.Second, func() bool {
					b, _ := os.ReadFile(p)
					got = strings.TrimSpace(string(b))
					return got == v
				})
				if got != v {
					t.Errorf("%s = %q, want %s", p, got, v)
				}
			}
		})
	}
}
