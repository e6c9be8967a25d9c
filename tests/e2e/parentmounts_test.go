package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	hullrootfs "github.com/hull-runtime/hull/libcontainer/rootfs"
)

// TestRootfsBuilder: who builds the rootfs shows in the createContainer
// hook's parent (read by the hook's shell itself from the host's /proc,
// still mounted before pivot_root). hull create builds it from a thread in the init's
// namespaces where it can (no user namespace, a kernel whose proc takes
// "pidns"), so the hook is its child; with a user namespace the init
// builds it, as runc's init always does (the control), and the hook is the
// init's child. Either way the hook runs in the container's mount and pid
// namespaces (pid 1 is the init in its state), and the program's /proc is
// its own pid namespace's.
func TestRootfsBuilder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		edit   func(*specs.Spec)
		parent bool // hull create builds it (hull only)
	}{
		{"plain", nil, hullrootfs.ProcPidNS()},
		{"userns", withUserNamespace, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachRuntime(t, tc.edit, func(t *testing.T, c *container) {
				// The user namespace's root (host uid 100000) writes here;
				// t.TempDir's parent is root's, 0700.
				dir, err := os.MkdirTemp("", "hull-rootfs-builder-")
				must(t, err)
				t.Cleanup(func() { os.RemoveAll(dir) })
				must(t, os.Chmod(dir, 0o777))
				out := filepath.Join(dir, "hook")
				c.Spec.Process.Args = sh(`echo pid=$$; tr '\0' ' ' </proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'`)
				c.Spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{
					Path: "/bin/sh", Args: []string{"sh", "-c", `while read k v; do [ "$k" = PPid: ] && echo "$k $v"; done </proc/self/status >"$1"; readlink /proc/self/ns/mnt /proc/self/ns/pid >>"$1"`, "sh", out},
				}}}
				c.writeSpec()
				p := c.startHull(nil, "create", "--bundle", c.Bundle, c.ID)
				r := p.wait()
				if r.Code != 0 {
					t.Fatalf("%s", r)
				}
				c.recordInit()
				init := c.state().Pid
				got := strings.Fields(waitFile(t, out, 5*time.Second))
				if len(got) != 4 {
					t.Fatalf("hook wrote %q", got)
				}
				ppid, _ := strconv.Atoi(got[1])
				want, builder := init, "the init"
				if c.bin != "runc" && !strings.HasSuffix(c.bin, "/runc") && tc.parent {
					want, builder = p.cmd.Process.Pid, "hull create"
				}
				if ppid != want {
					t.Errorf("createContainer hook's parent is %d, want %d (%s; init %d)", ppid, want, builder, init)
				}
				for i, ns := range []string{"mnt", "pid"} {
					if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", init, ns)); got[2+i] != link {
						t.Errorf("hook's %s namespace %s, the init's %s", ns, got[2+i], link)
					}
				}
				c.mustHull("start", c.ID)
				c.waitStopped()
				c.mustHull("delete", c.ID)
				prog, _ := os.ReadFile(p.stdout.Name())
				lines := strings.Split(strings.TrimSpace(string(prog)), "\n")
				if len(lines) != 3 || lines[0] != "pid=1" || !strings.HasPrefix(lines[1], "sh -c") {
					t.Fatalf("program printed %q: want pid=1 and /proc/1 being it", prog)
				}
				if n, err := strconv.Atoi(lines[2]); err != nil || n > 5 {
					t.Errorf("the program's /proc lists %s processes: not its own pid namespace's", lines[2])
				}
			})
		})
	}
}

// withUserNamespace gives s a user namespace mapping root to host uid and
// gid 100000 (65536 ids) and drops the /sys and cgroup mounts, which the
// mapped root may not make (sysfs belongs to the host's network namespace).
func withUserNamespace(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination != "/sys" && m.Destination != "/sys/fs/cgroup" {
			mounts = append(mounts, m)
		}
	}
	s.Mounts = mounts
}
