package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/tests/testenv"
)

// nsIP runs ip(8) in the named namespace ns and fails the test on error.
func nsIP(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
	return string(out)
}

func nsHasLink(ns, name string) bool {
	return exec.Command("ip", "-n", ns, "link", "show", "dev", name).Run() == nil
}

// kernelHasLinkType probes, in ns, whether the kernel can make links of
// type kind on the veth dd0.
func kernelHasLinkType(ns, kind string) bool {
	if exec.Command("ip", "-n", ns, "link", "add", "probe0", "link", "dd0", "type", kind).Run() != nil {
		return false
	}
	exec.Command("ip", "-n", ns, "link", "del", "probe0").Run()
	return true
}

// TestNspawnNetworkLinks converts machines with nspawn's link settings and
// runs them with the runtime inside a test network namespace (the hooks
// act in the runtime's namespace): traffic crosses the veth, the bridge
// and the zone bridge, macvlan and ipvlan links appear in the container,
// and after the run no link, zone bridge or cgroup is left. runc runs a
// veth bundle too: the links are hooks any runtime runs.
func TestNspawnNetworkLinks(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	ping := func(addr string) string {
		return "ip link set host0 up && ip addr add " + addr + "2/24 dev host0 && " +
			"for i in $(seq 50); do ping -c1 -W1 " + addr + "1 >/dev/null && echo reached && exit 0; done; exit 1"
	}
	cases := []struct {
		name  string
		flags []string
		setup func(ns string) // before the run
		host  string          // link to configure once it appears: gets ADDR.1
		addr  string
		cmd   string
		gone  []string // links that must be gone afterwards
		needs string   // a link type the kernel must support
		rt    string   // runtime other than hull that runs the bundle
	}{
		{name: "veth", flags: []string{"-n"}, host: "ve-", addr: "10.77.1.", gone: []string{"ve-"}},
		{name: "veth under runc", rt: "runc", flags: []string{"-n"}, host: "ve-", addr: "10.77.4.", gone: []string{"ve-"}},
		{name: "bridge", flags: []string{"--network-bridge=br-test"}, addr: "10.77.2.", gone: []string{"vb-"},
			setup: func(ns string) {
				nsIP(t, ns, "link", "add", "br-test", "type", "bridge")
				nsIP(t, ns, "addr", "add", "10.77.2.1/24", "dev", "br-test")
				nsIP(t, ns, "link", "set", "br-test", "up")
			}},
		{name: "zone", flags: []string{"--network-zone=t"}, host: "vz-t", addr: "10.77.3.", gone: []string{"vb-", "vz-t"}},
		{name: "macvlan and extra veth", flags: []string{"--network-macvlan=dd0", "--network-veth-extra=xh0:xc0"},
			cmd:  "test -e /sys/class/net/mv-dd0 && test -e /sys/class/net/xc0 && ! test -e /sys/class/net/dd0 && echo reached",
			gone: []string{"xh0"}},
		{name: "ipvlan", flags: []string{"--network-ipvlan=dd0"}, needs: "ipvlan",
			cmd: "test -e /sys/class/net/iv-dd0 && echo reached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := testNetns(t)
			if tc.needs != "" && !kernelHasLinkType(ns, tc.needs) {
				t.Skipf("this kernel cannot make %s links", tc.needs)
			}
			runtime := bin
			if tc.rt != "" {
				p, err := exec.LookPath(tc.rt)
				if err != nil {
					t.Skipf("%s not installed", tc.rt)
				}
				runtime = p
			}
			name := "net" + randomSuffix()
			cg := cgroupParent + "/" + name
			root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
			t.Cleanup(func() {
				exec.Command(runtime, "--root", root, "delete", "--force", name).Run()
				for _, d := range cgroupDirs(cg) {
					removeCgroupTree(d)
				}
			})
			if tc.setup != nil {
				tc.setup(ns)
			}
			script := tc.cmd
			if script == "" {
				script = ping(tc.addr)
			}
			args := append([]string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg}, tc.flags...)
			if out, err := exec.Command(bin, append(args, "--", "/bin/sh", "-c", script)...).CombinedOutput(); err != nil {
				t.Fatalf("hull %v: %v\n%s", args, err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
			defer cancel()
			run := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+ns, runtime, "--root", root, "run", "--bundle", bundle, name)
			var out strings.Builder
			run.Stdout, run.Stderr = &out, &out
			if err := run.Start(); err != nil {
				t.Fatal(err)
			}
			var werr error
			waited := false
			if tc.host != "" {
				host := tc.host
				if strings.HasSuffix(host, "-") {
					host += name
				}
				if !waitUntil(10*time.Second, func() bool { return nsHasLink(ns, host) }) {
					t.Errorf("host link %s never appeared", host)
				} else if err := hostSide(ns, host, tc.addr+"1/24"); err != nil {
					// The hook brings the host end up itself, so the container
					// can reach the address and end (its link with it) between
					// the two ip commands: that is a pass, anything else is not.
					werr, waited = run.Wait(), true
					if werr != nil || !strings.Contains(out.String(), "reached") {
						t.Fatalf("%v; the container (%v) said:\n%s", err, werr, out.String())
					}
				}
			}
			if !waited {
				werr = run.Wait()
			}
			if werr != nil || !strings.Contains(out.String(), "reached") {
				t.Fatalf("hull run: %v\n%s", werr, out.String())
			}
			for _, l := range tc.gone {
				if strings.HasSuffix(l, "-") {
					l += name
				}
				if nsHasLink(ns, l) {
					t.Errorf("link %s left after the run:\n%s", l, netnsLinks(t, ns))
				}
			}
		})
	}
}

// randomSuffix keeps generated link names within 15 bytes: "ve-net" + 8.
func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestNspawnVethOwnedByContainer: a second container from the same bundle
// cannot make ve-NAME again and fails, under hull and under runc (which
// runs poststop hooks after a failed create), and the first container's
// link survives both, since the hooks remove only links their container
// made.
func TestNspawnVethOwnedByContainer(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	ns := testNetns(t)
	name := "net" + randomSuffix()
	cg := cgroupParent + "/" + name
	root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
	inNS := func(ctx context.Context, runtime string, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + ns, runtime, "--root", root}, args...)...)
	}
	t.Cleanup(func() {
		for _, id := range []string{name + "-1", name + "-hull", name + "-runc"} {
			exec.Command(bin, "--root", root, "delete", "--force", id).Run()
		}
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	args := []string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg, "-n", "--", "/bin/sleep", "30"}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("hull %v: %v\n%s", args, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
	defer cancel()
	first := inNS(ctx, bin, "run", "--bundle", bundle, name+"-1")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	host := "ve-" + name
	if !waitUntil(10*time.Second, func() bool { return nsHasLink(ns, host) }) {
		t.Fatalf("%s never appeared", host)
	}
	second := []string{"hull"}
	if _, err := exec.LookPath("runc"); err == nil {
		second = append(second, "runc")
	}
	for _, rt := range second {
		runtime := bin
		if rt == "runc" {
			runtime, _ = exec.LookPath("runc")
		}
		out, err := inNS(ctx, runtime, "run", "--bundle", bundle, name+"-"+rt).CombinedOutput()
		if err == nil || !strings.Contains(string(out), host) {
			t.Errorf("%s: second run of the bundle: %v, want a failure naming %s:\n%s", rt, err, host, out)
		}
		if !nsHasLink(ns, host) {
			t.Fatalf("%s: the first container's %s was removed by the second's failure", rt, host)
		}
		exec.Command(runtime, "--root", root, "delete", "--force", name+"-"+rt).Run()
	}
	exec.Command(bin, "--root", root, "kill", name+"-1", "KILL").Run()
	first.Wait()
	exec.Command(bin, "--root", root, "delete", "--force", name+"-1").Run()
	if !waitUntil(5*time.Second, func() bool { return !nsHasLink(ns, host) }) {
		t.Errorf("%s left after the first container ended", host)
	}
}

// hostSide gives the host end of a machine's link its address and brings it
// up, inside the test's network namespace.
func hostSide(ns, link, addr string) error {
	for _, args := range [][]string{{"addr", "add", addr, "dev", link}, {"link", "set", link, "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip -n %s %v: %v: %s", ns, args, err, out)
		}
	}
	return nil
}
