package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/tests/testenv"
)

// portNetns makes a named network namespace removed at cleanup.
func portNetns(t *testing.T, prefix string) string {
	t.Helper()
	ns := prefix + randomSuffix()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	nsIP(t, ns, "link", "set", "lo", "up")
	return ns
}

// dialIn connects from inside network namespace ns and returns what the
// peer sends before closing.
func dialIn(ns, addr string) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return "", err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return "", err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return "", err
	}
	defer netns.Set(orig) //nolint:errcheck // the thread is locked; failure leaves it to die with the test
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

// portTables lists the port tables of container id in network namespace ns.
func portTables(t *testing.T, ns, id string) []string {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		if tb.Name == nspawnhooks.PortTable(id) {
			out = append(out, tb.Name)
		}
	}
	return out
}

// watchers returns the pids of port watchers of container id.
func watchers(id string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if f := strings.Split(string(cl), "\x00"); len(f) > 3 && f[2] == nspawnhooks.ActionWatchPorts && f[3] == id {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestNspawnPortForward converts a machine with -n -p 8000:80 and runs it,
// under hull and runc, inside a test network namespace (the "host") joined
// by a veth to a second one (the "client"). Real TCP connections from the
// client to the host's address reach a server in the container through
// the machine's veth (DNAT in prerouting), so do the host's own to that
// address (output), but 127.0.0.1:8000 stays the host's (loopback is
// excluded, as nspawn does). Afterwards no table, watcher or link is left;
// nor when the create fails after the hooks ran.
func TestNspawnPortForward(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	for _, rt := range []string{"hull", "runc"} {
		runtimePath := bin
		if rt != "hull" {
			p, err := exec.LookPath(rt)
			if err != nil {
				t.Logf("%s not installed, skipped", rt)
				continue
			}
			runtimePath = p
		}
		t.Run(rt, func(t *testing.T) { portForwardRun(t, bin, runtimePath, rootfs) })
		t.Run(rt+" failed create", func(t *testing.T) { portForwardFailedCreate(t, bin, runtimePath, rootfs) })
	}
}

func portForwardRun(t *testing.T, bin, rt, rootfs string) {
	host, client := portNetns(t, "hull-e2e-ph-"), portNetns(t, "hull-e2e-pc-")
	nsIP(t, host, "link", "add", "ph0", "type", "veth", "peer", "name", "pc0", "netns", client)
	nsIP(t, host, "addr", "add", "10.78.9.1/24", "dev", "ph0")
	nsIP(t, host, "link", "set", "ph0", "up")
	nsIP(t, client, "addr", "add", "10.78.9.2/24", "dev", "pc0")
	nsIP(t, client, "link", "set", "pc0", "up")
	if out, err := exec.Command("ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("ip_forward: %v: %s", err, out)
	}
	name := "pf" + randomSuffix()
	cg := cgroupParent + "/" + name
	root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
	t.Cleanup(func() {
		exec.Command(rt, "--root", root, "delete", "--force", name).Run()
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	script := "ip link set host0 up && ip addr add 10.78.8.2/24 dev host0 && ip route add default via 10.78.8.1 && " +
		"exec nc -ll -p 80 -e echo hello-from-" + name
	args := []string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg, "-n", "-p", "8000:80", "--port=udp:5353"}
	if out, err := exec.Command(bin, append(args, "--", "/bin/sh", "-c", script)...).CombinedOutput(); err != nil {
		t.Fatalf("hull %v: %v\n%s", args, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+host, rt, "--root", root, "run", "--bundle", bundle, name)
	var out strings.Builder
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	veth := "ve-" + name
	if !waitUntil(10*time.Second, func() bool { return nsHasLink(host, veth) }) {
		run.Process.Kill()
		run.Wait()
		t.Fatalf("%s never appeared:\n%s", veth, out.String())
	}
	nsIP(t, host, "addr", "add", "10.78.8.1/24", "dev", veth)
	nsIP(t, host, "link", "set", veth, "up")
	want := "hello-from-" + name
	var got string
	var err error
	waitUntil(20*time.Second, func() bool { got, err = dialIn(client, "10.78.9.1:8000"); return strings.Contains(got, want) })
	if !strings.Contains(got, want) {
		t.Errorf("client → 10.78.9.1:8000: %q, %v", got, err)
	}
	// Retried as the client's was: each connection forks the container's
	// echo, which a loaded host may not run within one dial's deadline.
	waitUntil(20*time.Second, func() bool { got, err = dialIn(host, "10.78.9.1:8000"); return strings.Contains(got, want) })
	if !strings.Contains(got, want) {
		t.Errorf("host → its own 10.78.9.1:8000: %q, %v", got, err)
	}
	if got, err := dialIn(host, "127.0.0.1:8000"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("host → 127.0.0.1:8000 must stay the host's (refused), got %q, %v", got, err)
	}
	if len(portTables(t, host, name)) != 2 {
		t.Errorf("port tables of %s while running: %v", name, portTables(t, host, name))
	}
	exec.Command(rt, "--root", root, "kill", name, "KILL").Run()
	if err := run.Wait(); err == nil {
		t.Logf("run exited 0:\n%s", out.String())
	}
	assertPortsGone(t, host, name)
	if nsHasLink(host, veth) {
		t.Errorf("%s left after the run", veth)
	}
}

func portForwardFailedCreate(t *testing.T, bin, rt, rootfs string) {
	host := portNetns(t, "hull-e2e-pf-")
	name := "pf" + randomSuffix()
	cg := cgroupParent + "/" + name
	root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
	t.Cleanup(func() {
		exec.Command(rt, "--root", root, "delete", "--force", name).Run()
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	args := []string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg, "-n", "-p", "8000:80"}
	if out, err := exec.Command(bin, append(args, "--", "/no/such/program")...).CombinedOutput(); err != nil {
		t.Fatalf("hull %v: %v\n%s", args, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+host, rt, "--root", root, "run", "--bundle", bundle, name).CombinedOutput()
	if err == nil {
		t.Fatalf("run of a missing program succeeded:\n%s", out)
	}
	exec.Command(rt, "--root", root, "delete", "--force", name).Run()
	assertPortsGone(t, host, name)
	if nsHasLink(host, "ve-"+name) {
		t.Errorf("ve-%s left after the failed create", name)
	}
}

func assertPortsGone(t *testing.T, ns, id string) {
	t.Helper()
	if !waitUntil(5*time.Second, func() bool { return len(portTables(t, ns, id)) == 0 && len(watchers(id)) == 0 }) {
		t.Errorf("left behind: tables %v, watchers %v", portTables(t, ns, id), watchers(id))
	}
}
