package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newNetns makes an empty network namespace named prefix and a random
// suffix (ip netns add), deleted on cleanup; the test skips without ip.
func newNetns(t *testing.T, prefix string) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	b := make([]byte, 4)
	rand.Read(b)
	ns := prefix + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	return ns
}

// testNetns makes a network namespace with a veth pair "dd0"/"ddp0" (dd0
// up, with an IPv4 address) and deletes it on cleanup; veth rather than
// dummy because this kernel has no dummy driver. hull runs inside it
// (hullInNetns), so that namespace is hull's "host": the real host's
// interfaces are never touched.
func testNetns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter (util-linux) not installed")
	}
	ns := newNetns(t, "hull-e2e-nd-")
	for _, args := range [][]string{
		{"link", "add", "dd0", "type", "veth", "peer", "name", "ddp0"},
		{"addr", "add", "10.199.3.1/24", "dev", "dd0"},
		{"link", "set", "dd0", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
		}
	}
	return ns
}

// hullInNetns runs hull in the network namespace ns. nsenter changes only
// the network namespace; `ip netns exec` would also remount /sys in a new
// mount namespace, hiding the cgroup hierarchies from hull.
func (c *container) hullInNetns(ns string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
	defer cancel()
	full := append([]string{"--net=/run/netns/" + ns, c.bin, "--root", c.Root}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Code: -1}
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
	} else {
		c.t.Errorf("nsenter hull: %v", err)
	}
	return r
}

func netnsLinks(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s link show: %v: %s", ns, err, out)
	}
	return string(out)
}

// TestNetDevices: dd0 moves into the container renamed to ctr0, keeps its
// address and up state, and is gone from hull's namespace meanwhile; a
// virtual device dies with the container's namespace (a veth takes its
// peer with it).
func TestNetDevices(t *testing.T) {
	t.Parallel()
	ns := testNetns(t)
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dd0": {Name: "ctr0"}}
		s.Process.Args = sh("busybox ip -o addr show dev ctr0; cat /sys/class/net/ctr0/flags; busybox ip -o link show")
	})
	r := c.hullInNetns(ns, "run", "--bundle", c.Bundle, c.ID)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	wantContains(t, r.Stdout, "ctr0", "10.199.3.1/24")
	if strings.Contains(r.Stdout, "dd0") {
		t.Errorf("container still sees the host name dd0:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "0x1003") && !strings.Contains(r.Stdout, "0x1083") {
		t.Errorf("ctr0 flags: want IFF_UP set as dd0 had it:\n%s", r.Stdout)
	}
	if links := netnsLinks(t, ns); strings.Contains(links, "dd0") || strings.Contains(links, "ctr0") {
		t.Errorf("veth device outlived the container's namespace:\n%s", links)
	}
}

// TestNetDevicesDown: a device that is down on the host stays down.
func TestNetDevicesDown(t *testing.T) {
	t.Parallel()
	ns := testNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "dd0", "down").CombinedOutput(); err != nil {
		t.Fatalf("ip link set down: %v: %s", err, out)
	}
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dd0": {}}
		s.Process.Args = sh("cat /sys/class/net/dd0/operstate /sys/class/net/dd0/flags")
	})
	r := c.hullInNetns(ns, "run", "--bundle", c.Bundle, c.ID)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	wantContains(t, r.Stdout, "down", "0x1002")
}

// TestNetDevicesInvalid: bad configs fail before anything is made, each
// error naming the field; dd0 stays where it was.
func TestNetDevicesInvalid(t *testing.T) {
	t.Parallel()
	ns := testNetns(t)
	tests := []struct {
		name string
		edit func(*specs.Spec)
		want []string
	}{
		{"missing", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"nope0": {}}
		}, []string{`linux.netDevices["nope0"]`, "no such host network interface"}},
		{"bad-name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dd0": {Name: "a/b"}}
		}, []string{`linux.netDevices["dd0"].name`, "a/b"}},
		{"long-name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dd0": {Name: "a-very-long-name0"}}
		}, []string{`linux.netDevices["dd0"].name`, "longer than 15"}},
		{"no-netns", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dd0": {}}
			var keep []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.NetworkNamespace {
					keep = append(keep, n)
				}
			}
			s.Linux.Namespaces = keep
		}, []string{"linux.netDevices", "new network namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, tc.edit)
			r := c.hullInNetns(ns, "create", "--bundle", c.Bundle, c.ID)
			if r.Code == 0 {
				c.recordInit()
				t.Fatalf("create succeeded: %s", r)
			}
			wantContains(t, r.Stderr, tc.want...)
			if _, err := os.Stat(c.Root + "/" + c.ID); err == nil {
				t.Errorf("state dir left after a refused create")
			}
		})
	}
	if links := netnsLinks(t, ns); !strings.Contains(links, "dd0") {
		t.Errorf("dd0 left hull's namespace after refused creates:\n%s", links)
	}
}
