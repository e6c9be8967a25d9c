package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/tests/testenv"
)

// TestNspawnKeepUnitCgroupV1 pins what --keep-unit does on a cgroup v1
// host (the docs say so): the machine still gets hull's own
// /machine.slice/machine-NAME.scope in every v1 hierarchy, as without the
// flag (nspawn instead leaves it in the caller's cgroups), while hull
// itself stays in the caller's; the flag only annotates the bundle
// (org.hull.nspawn.keep-unit) and tells the register hook.
func TestNspawnKeepUnitCgroupV1(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a cgroup v1 host; the guest tests cover --keep-unit on v2")
	}
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "without", true: "keep-unit"}[keep], func(t *testing.T) {
			name := "ku" + randomSuffix()
			scope := "/machine.slice/machine-" + name + ".scope"
			slices := newSliceDirs()
			t.Cleanup(func() {
				exec.Command(bin, "delete", "--force", name).Run()
				for _, d := range cgroupDirs(scope) {
					removeCgroupTree(d)
				}
				slices.removeNew()
			})
			args := []string{"nspawn", "--register=no", "-q", "--console=pipe", "-D", rootfs, "-M", name}
			if keep {
				args = append(args, "--keep-unit")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(args, "--", "/bin/sleep", "30")...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				exec.Command(bin, "kill", name, "KILL").Run()
				cmd.Wait()
			}()
			var state struct {
				Pid         int               `json:"pid"`
				Annotations map[string]string `json:"annotations"`
			}
			if !waitUntil(20*time.Second, func() bool {
				out, err := exec.Command(bin, "state", name).Output()
				return err == nil && json.Unmarshal(out, &state) == nil && state.Pid > 0
			}) {
				t.Fatalf("machine %s never ran", name)
			}
			leader, self := procCgroups(t, state.Pid), procCgroups(t, cmd.Process.Pid)
			for _, h := range []string{"memory", "pids", "name=systemd"} {
				if leader[h] != scope {
					t.Errorf("machine's %s cgroup %q, want %q", h, leader[h], scope)
				}
				if own := procCgroups(t, os.Getpid())[h]; self[h] != own {
					t.Errorf("hull nspawn's %s cgroup %q, want the caller's %q", h, self[h], own)
				}
			}
			if got := state.Annotations["org.hull.nspawn.keep-unit"]; (got == "yes") != keep {
				t.Errorf("annotation org.hull.nspawn.keep-unit = %q with keep-unit %v", got, keep)
			}
		})
	}
}

// procCgroups maps each v1 hierarchy's controllers (as /proc/PID/cgroup
// names them) to the process's path in it.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if parts := strings.SplitN(sc.Text(), ":", 3); len(parts) == 3 && parts[1] != "" {
			m[parts[1]] = parts[2]
		}
	}
	return m
}

// sliceDirs remembers which machine.slice directories existed, so that a
// test removes only those it made.
type sliceDirs map[string]bool

func newSliceDirs() sliceDirs {
	s := sliceDirs{}
	for _, d := range cgroupDirs("/machine.slice") {
		s[d] = true
	}
	return s
}

func (s sliceDirs) removeNew() {
	for _, d := range cgroupDirs("/machine.slice") {
		if !s[d] {
			os.Remove(d) // fails, harmlessly, while another test uses it
		}
	}
}
