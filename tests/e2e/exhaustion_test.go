package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	hullrootfs "github.com/hull-runtime/hull/libcontainer/rootfs"
)

// TestFullRootFS: with --root on a full file system, create fails with a
// clear error and leaves no state entry, cgroup or process.
func TestFullRootFS(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newFor(t, rt, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
			c.Root = t.TempDir()
			if err := unix.Mount("tmpfs", c.Root, "tmpfs", 0, "size=64k,nr_inodes=64"); err != nil {
				t.Skipf("tmpfs for --root: %v", err)
			}
			t.Cleanup(func() { unix.Unmount(c.Root, unix.MNT_DETACH) })
			// Fill it: data, then inodes.
			exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(c.Root, ".fill"), "bs=4k").Run()
			for i := 0; ; i++ {
				if os.Mkdir(filepath.Join(c.Root, fmt.Sprintf(".d%d", i)), 0o700) != nil {
					break
				}
			}
			r := c.create()
			fills, _ := filepath.Glob(filepath.Join(c.Root, ".*"))
			var left []string
			if m, _ := filepath.Glob(filepath.Join(c.Root, "[^.]*")); len(m) > 0 {
				left = append(left, fmt.Sprintf("state entries %v", m))
			}
			if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
				left = append(left, fmt.Sprintf("cgroup dirs %v", dirs))
			}
			if pids := procsInCgroup(c.Cgroup); len(pids) > 0 {
				left = append(left, fmt.Sprintf("processes %v", pids))
			}
			if rt != "hull" {
				t.Logf("control %s: exit %d: %s; left %v", rt, r.Code, strings.TrimSpace(r.Stderr), left)
				return
			}
			if r.Code == 0 || !strings.Contains(r.Stderr, "no space left") {
				t.Errorf("want a failure saying no space left: %s", r)
			}
			if len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			for _, f := range fills {
				os.RemoveAll(f)
			}
		})
	}
}

// TestPidsLimitOne: under a pids limit of 1 hull runs /bin/true cleanly
// where its init is the C finisher (one task; issue #10), as runc does (it
// sets the limit after its init's threads exist). Where the Go init is
// the init (no proc "pidns" here) it needs 4 tasks under the limit: then
// hull must fail naming its init and leave nothing.
func TestPidsLimitOne(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt, func(t *testing.T) {
			one := int64(1)
			c := newFor(t, rt, func(s *specs.Spec) {
				s.Process.Args = []string{"true"}
				s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &one}
			})
			r := c.run()
			t.Logf("%s, pids.max 1: exit %d: %s", rt, r.Code, strings.TrimSpace(r.Stderr))
			if rt == "hull" && hullrootfs.ProcPidNS() && (r.Code != 0 || r.Stderr != "") {
				t.Errorf("want a clean run with the C finisher as init: %s", r)
			}
			if r.Code != 0 && rt == "hull" && !strings.Contains(r.Stderr, "hull: container init") && !strings.Contains(r.Stderr, "hull: clone container process") {
				t.Errorf("unclear failure: %s", r)
			}
			c.hull("delete", "--force", c.ID)
			if left := leftovers(c); len(left) > 0 && rt == "hull" {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// memoryFloors are the memory limits tried, in MiB.
var memoryFloors = []int64{2, 4, 6, 8, 10, 12, 16, 24, 32}

// TestMemoryFloor finds the smallest memory limit under which each runtime
// runs /bin/true, reports them side by side (hull, runc, crun) and checks
// that every limit below hull's fails clearly and leaves nothing.
func TestMemoryFloor(t *testing.T) {
	rts := runtimes(t)
	if _, err := exec.LookPath("crun"); err == nil {
		rts = append(rts, "crun")
	}
	floor := map[string]int64{}
	for _, rt := range rts {
		for _, mib := range memoryFloors {
			t.Run(fmt.Sprintf("%s/%dMiB", rt, mib), func(t *testing.T) {
				lim := mib << 20
				c := newFor(t, rt, func(s *specs.Spec) {
					s.Version = "1.0.2" // crun refuses newer
					s.Process.Args = []string{"true"}
					s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &lim, Swap: &lim}
				})
				r := c.run()
				c.hull("delete", "--force", c.ID)
				if left := leftovers(c); len(left) > 0 && rt == "hull" {
					t.Errorf("left behind: %v", left)
				}
				if r.Code != 0 {
					if rt == "hull" && (r.Code < 0 || strings.Contains(r.Stderr, "panic") || !strings.Contains(r.Stderr, "memory")) {
						t.Errorf("unclear failure: %s", r)
					}
					t.Logf("%s under %d MiB: exit %d: %s", rt, mib, r.Code, strings.TrimSpace(r.Stderr))
					return
				}
				if floor[rt] == 0 {
					floor[rt] = mib
				}
			})
			if floor[rt] != 0 {
				break // the floor is found; larger limits run too
			}
		}
	}
	t.Logf("smallest memory limit that runs /bin/true (MiB, of %v; absent: none did): %v", memoryFloors, floor)
}
