package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Regression tests for findings of a code review: each failed before its fix.

// TestUserNamespaceOOMScoreAdj: a container in a new user namespace with
// oomScoreAdj (every Kubernetes user-namespace pod) must start.
func TestUserNamespaceOOMScoreAdj(t *testing.T) {
	t.Parallel()
	adj := 123
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Process.OOMScoreAdj = &adj
		s.Process.Args = sh("cat /proc/self/oom_score_adj")
	})
	r := c.run()
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	wantContains(t, r.Stdout, "123")
}

// TestHostSysctlRefused: a sysctl no namespace owns would change the host.
func TestHostSysctlRefused(t *testing.T) {
	t.Parallel()
	before, _ := os.ReadFile("/proc/sys/vm/swappiness")
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"vm.swappiness": "17"}
	})
	r := c.run()
	if r.Code == 0 || !strings.Contains(r.Stderr, `linux.sysctl["vm.swappiness"]`) {
		t.Fatalf("want a refusal naming the sysctl: %s", r)
	}
	after, _ := os.ReadFile("/proc/sys/vm/swappiness")
	if string(before) != string(after) {
		t.Fatalf("host vm.swappiness changed: %q -> %q", before, after)
	}
	assertNothingLeft(t, c)
}

// TestBadIDMapsDoNotHang: id maps the kernel rejects (overlapping ranges)
// fail create quickly and leave nothing, instead of deadlocking the C stage.
func TestBadIDMapsDoNotHang(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 100}, {ContainerID: 50, HostID: 300000, Size: 100}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	})
	start := time.Now()
	r := c.create()
	if r.Code == 0 || !strings.Contains(r.Stderr, "linux.uidMappings") {
		t.Fatalf("want a failure naming linux.uidMappings: %s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("create took %v", d)
	}
	assertNothingLeft(t, c)
}

// TestNoPidNamespaceLeftovers: without a pid namespace, processes outlive
// the init in its cgroup; kill --all on the stopped container reaches them
// (runc's contract) and delete leaves nothing.
func TestNoPidNamespaceLeftovers(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		s.Process.Args = sh("sleep 1000 >/dev/null 2>&1 & exit 0")
	})
	c.mustCreate()
	c.mustHull("start", c.ID)
	if !waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" }) {
		t.Fatal("init did not exit")
	}
	if len(procsInCgroup(c.Cgroup)) == 0 {
		t.Fatal("the background sleep is not in the cgroup: the test proves nothing")
	}
	if r := c.hull("kill", "--all", c.ID, "KILL"); r.Code != 0 {
		t.Fatalf("kill --all of a stopped container: %s", r)
	}
	c.mustHull("delete", c.ID)
	if !waitUntil(5*time.Second, func() bool { return len(procsInCgroup(c.Cgroup)) == 0 }) {
		t.Fatalf("processes left: %v", procsInCgroup(c.Cgroup))
	}
	assertNothingLeft(t, c)
}

// TestNoMountNamespace: without a mount namespace the container shares the
// caller's, is chrooted in its rootfs, and hull refuses what it could not
// honour there.
func TestNoMountNamespace(t *testing.T) {
	t.Parallel()
	noMnt := func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.MountNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}
	refused := newContainer(t, noMnt) // hull spec's default has masked paths and a read-only root
	r := refused.run()
	if r.Code == 0 || !strings.Contains(r.Stderr, "linux.maskedPaths") || !strings.Contains(r.Stderr, "root.readonly") {
		t.Fatalf("want masked paths and a read-only root refused: %s", r)
	}
	assertNothingLeft(t, refused)

	c := newContainer(t, func(s *specs.Spec) {
		noMnt(s)
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		s.Root.Readonly = false
		s.Mounts = nil
		s.Process.Args = sh("readlink /proc/self/ns/mnt 2>/dev/null || echo no-proc; ls /bin/busybox")
	})
	r = c.run()
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	// No /proc is mounted in the rootfs: the container cannot read its
	// namespace, but it sees the rootfs as its root.
	wantContains(t, r.Stdout, "/bin/busybox")
}
