package cgroups

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests talk to a real systemd: they run in make test-guest's guest
// (systemd as PID 1 on cgroup v2) and skip anywhere else.

func needSystemd(t *testing.T) *sdbus.Conn {
	t.Helper()
	needV2(t)
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not the init system here (no /run/systemd/system); runs in make test-guest")
	}
	// The connection lives as long as its context: godbus closes it when
	// the context ends.
	conn, err := connectSystemd(context.Background())
	if err != nil {
		t.Fatalf("systemd runs but D-Bus is unreachable: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func unitProp(t *testing.T, conn *sdbus.Conn, unit, iface, name string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p *sdbus.Property
	var err error
	if iface == "" {
		p, err = conn.GetUnitPropertyContext(ctx, unit, name)
	} else {
		p, err = conn.GetUnitTypePropertyContext(ctx, unit, iface, name)
	}
	if err != nil {
		t.Fatalf("%s.%s: %v", unit, name, err)
	}
	return p.Value.Value()
}

func newTestSystemd(t *testing.T, r *specs.LinuxResources) (*systemdManager, *sdbus.Conn) {
	t.Helper()
	conn := needSystemd(t)
	name := strings.TrimPrefix(testPath(t), "/hull-test-")
	m, err := newSystemd(realHost(), Config{Path: "system.slice:hull-test:" + name, Systemd: true, Resources: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m, conn
}

func TestSystemdScopeLifecycle(t *testing.T) {
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64p(2048), Quota: i64p(50000), Period: u64p(100000)},
		Pids:   &specs.LinuxPids{Limit: i64p(40)},
		Devices: []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "rwm"),
			devRule(true, "c", 1, 3, "rwm")},
	}
	m, conn := newTestSystemd(t, r)
	if !strings.HasPrefix(m.v2.dir, "/sys/fs/cgroup/system.slice/hull-test-") {
		t.Fatalf("scope dir %s", m.v2.dir)
	}
	if got := unitProp(t, conn, m.unit, "", "ActiveState"); got != "active" {
		t.Fatalf("%s ActiveState = %v", m.unit, got)
	}
	for k, v := range map[string]any{"Delegate": true, "MemoryMax": uint64(64 << 20), "TasksMax": uint64(40), "CPUWeight": uint64(79)} {
		if got := unitProp(t, conn, m.unit, "Scope", k); got != v {
			t.Errorf("%s %s = %#v, want %#v", m.unit, k, got, v)
		}
	}
	for f, v := range map[string]string{"memory.max": "67108864", "pids.max": "40", "cpu.weight": "79", "cpu.max": "50000 100000"} {
		if got := readCg(t, m.v2.dir, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	// The init joins as hull's does, by writing into ProcsFiles; then the
	// placeholder leaves and the scope stays up around the container alone.
	cmd := startIn(t, m, 0)
	// Generous: the guest runs under emulation.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids, err := m.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 1 && pids[0] == cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scope processes = %v, want only %d (placeholder still there?)", pids, cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := unitProp(t, conn, m.unit, "", "ActiveState"); got != "active" {
		t.Fatalf("after the placeholder left: ActiveState = %v", got)
	}
	got := tryDevices(t, m, "/dev/null", "/dev/zero")
	if !got["/dev/null"] || got["/dev/zero"] {
		t.Errorf("device filter in the scope: %v", got)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(128 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if got := unitProp(t, conn, m.unit, "Scope", "MemoryMax"); got != uint64(128<<20) {
		t.Errorf("MemoryMax after Set = %v", got)
	}
	if got := readCg(t, m.v2.dir, "memory.max"); got != "134217728" {
		t.Errorf("memory.max after Set = %q", got)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := m.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("wait = %v, want SIGKILL", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.v2.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scope dir after Destroy: %v", err)
	}
	// Destroying again, with the unit gone, is success.
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestSystemdLoad(t *testing.T) {
	m, conn := newTestSystemd(t, nil)
	l, err := Load(m.State())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	units, err := conn.ListUnitsByNamesContext(ctx, []string{m.unit})
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 1 && units[0].ActiveState == "active" {
		t.Errorf("%s still active after Destroy through Load", m.unit)
	}
}

func TestSystemdDuplicateScopeFails(t *testing.T) {
	m, _ := newTestSystemd(t, nil)
	dup := &systemdManager{unit: m.unit, slice: m.slice, v2: &v2Manager{root: m.v2.root, path: m.v2.path, dir: m.v2.dir}}
	err := dup.Create()
	if err == nil {
		t.Fatal("second scope with the same name: no error")
	}
	if !strings.Contains(err.Error(), m.unit) {
		t.Errorf("error does not name the unit: %v", err)
	}
	if pids, _ := m.Pids(); slices.Contains(pids, os.Getpid()) {
		t.Error("test process ended up in the scope")
	}
}
