package guest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNspawnLinksOnV2 converts a machine with nspawn's ipvlan (which the
// host's kernel lacks) and zone settings, in a user namespace, and runs it
// with hull inside a network namespace of the test's own on the unified
// hierarchy: the links are in the container, the chown-cgroup hook gave
// its cgroup (not its limit files) to the namespace's root, and the zone
// bridge goes at the end.
func TestNspawnLinksOnV2(t *testing.T) {
	inGuest(t)
	bin := os.Getenv("HULL_BINARY")
	src := filepath.Join(os.Getenv("HULL_GUEST_SRC"), "_build/rootfs/busybox")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("no busybox rootfs at %s: %v", src, err)
	}
	name := randomName(t, "lk")
	ns := "hull-guest-" + name
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	// The user namespace's root must reach the image: not under
	// t.TempDir, whose parent is 0700.
	root := t.TempDir()
	dir, err := os.MkdirTemp("", "hull-links-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(bin, "--root", root, "delete", "--force", name).Run()
		exec.Command("ip", "netns", "del", ns).Run()
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ip("link", "add", "gp0", "type", "veth", "peer", "name", "gp1")
	img := filepath.Join(dir, "img")
	if out, err := exec.Command("cp", "-a", src, img).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	bundle := filepath.Join(dir, "bundle")
	script := "test -e /sys/class/net/iv-gp0 && test -e /sys/class/net/host0 && cat /proc/self/uid_map && " +
		"mkdir /sys/fs/cgroup/sub && rmdir /sys/fs/cgroup/sub && " +
		// Delegated, but its own limits stay root's.
		"! { echo 100 > /sys/fs/cgroup/pids.max; } 2>/dev/null && echo reached"
	conv := []string{"convert", "--bundle", bundle, "-D", img, "-M", name, "--console=pipe", "--cgroups-path", "/hull-guest/" + name,
		"--private-users=524288:65536", "--private-users-ownership=chown", "--network-ipvlan=gp0", "--network-zone=g", "--", "/bin/sh", "-c", script}
	if out, err := exec.Command(bin, conv...).CombinedOutput(); err != nil {
		t.Fatalf("hull convert: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+ns, bin, "--root", root, "run", "--bundle", bundle, name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reached") || !strings.Contains(string(out), "524288") {
		t.Fatalf("hull run: %v\n%s", err, out)
	}
	for _, l := range []string{"vz-g", "vb-" + name} {
		if exec.Command("ip", "-n", ns, "link", "show", "dev", l).Run() == nil {
			t.Errorf("link %s left after the run", l)
		}
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "hull-guest", name)); !os.IsNotExist(err) {
		t.Errorf("container cgroup left: %v", err)
	}
}
