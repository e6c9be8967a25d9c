package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSysctlJoinedNetns: net.* sysctls are set in a network namespace the
// container joins by path, as podman's bridge networks and Kubernetes'
// pods send them (podman's default_sysctls, a pod's safe sysctls), with
// runc as the control; the host's own namespace by path is refused, as by
// runc, and the host's value is untouched.
func TestSysctlJoinedNetns(t *testing.T) {
	t.Parallel()
	ns := newNetns(t, "hull-e2e-sc-")
	joined := func(path string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = path
				}
			}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "0 0", "net.ipv4.ip_forward": "1"}
			s.Process.Args = sh("cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_forward")
		}
	}
	for _, c := range withControls(t, joined("/run/netns/"+ns)) {
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		if got := strings.Join(strings.Fields(r.Stdout), " "); got != "0 0 1" {
			t.Errorf("%s: sysctls in the joined namespace: %q, want \"0 0 1\"", c.runtimeName(), got)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("ip_forward seen from the namespace itself: %q (%v), want 1", out, err)
	}
	before, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	forward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	t.Cleanup(func() { // should a runtime wrongly write the host's, put them back
		for path, old := range map[string][]byte{"/proc/sys/net/ipv4/ping_group_range": before, "/proc/sys/net/ipv4/ip_forward": forward} {
			if now, _ := os.ReadFile(path); len(old) > 0 && string(now) != string(old) {
				os.WriteFile(path, old, 0o644)
			}
		}
	})
	for _, c := range withControls(t, joined(fmt.Sprintf("/proc/%d/ns/net", os.Getpid()))) {
		if r := c.run(); r.Code == 0 {
			t.Errorf("%s: net.* sysctls in the host's namespace accepted: %s", c.runtimeName(), r)
		} else if c.runtimeName() == "hull" && !strings.Contains(r.Stderr, `linux.sysctl["net.ipv4.`) {
			t.Errorf("hull: refusal does not name the sysctl: %s", r)
		}
	}
	if after, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); string(after) != string(before) {
		t.Errorf("host ping_group_range changed: %q -> %q", before, after)
	}
}
