package cgroups

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests below use the real unified hierarchy: they run in make
// test-guest's Debian guest and skip on cgroup v1 hosts.

func needV2(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if unified, err := isUnified("/sys/fs/cgroup"); err != nil || !unified {
		t.Skipf("needs a cgroup v2 host: /sys/fs/cgroup is not cgroup2 (err=%v); runs in make test-guest", err)
	}
}

// newTestV2 creates a cgroup at a fresh path below the root; the top
// directory it made is removed when the test ends, after the test's
// processes are killed.
func newTestV2(t *testing.T, sub string, r *specs.LinuxResources) *v2Manager {
	t.Helper()
	needV2(t)
	top := testPath(t)
	m, err := newV2(realHost(), Config{Path: top + sub, Resources: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = writeFile(m.dir, "cgroup.freeze", "0")
		if err := removeCgroupDir(filepath.Join(m.root, top)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestV2CreateAppliesLimits(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(16 << 20), Swap: i64p(96 << 20)},
		CPU:     &specs.LinuxCPU{Shares: u64p(512), Quota: i64p(20000), Period: u64p(50000), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: i64p(33)},
		Unified: map[string]string{"memory.high": "60000000"},
	}
	m := newTestV2(t, "", r)
	want := map[string]string{
		"memory.max": "67108864", "memory.low": "16777216", "memory.high": "59998208",
		"cpu.weight": "20", "cpu.max": "20000 50000", "cpuset.cpus": "0", "cpuset.mems": "0",
		"pids.max": "33",
	}
	if fileExists(m.dir, "memory.swap.max") {
		want["memory.swap.max"] = "33554432"
	}
	for f, v := range want {
		if got := readCg(t, m.dir, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	for _, c := range []string{"cpu", "memory", "pids", "cpuset", "io"} {
		if !strings.Contains(readCg(t, m.dir, "cgroup.controllers"), c) {
			t.Errorf("controller %s not enabled for %s", c, m.dir)
		}
	}
}

func TestV2NestedPathEnablesAncestors(t *testing.T) {
	m := newTestV2(t, "/mid/leaf", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(5)}})
	mid := filepath.Dir(m.dir)
	for _, d := range []string{filepath.Dir(mid), mid} {
		if got := readCg(t, d, "cgroup.subtree_control"); !strings.Contains(got, "pids") || !strings.Contains(got, "memory") {
			t.Errorf("%s/cgroup.subtree_control = %q", d, got)
		}
	}
	if got := readCg(t, m.dir, "cgroup.subtree_control"); got != "" {
		t.Errorf("leaf subtree_control = %q: the leaf must stay able to hold processes", got)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leaf after Destroy: %v", err)
	}
	if _, err := os.Stat(mid); err != nil {
		t.Errorf("intermediate removed by Destroy: %v", err)
	}
}

func TestV2ApplyPidsSignal(t *testing.T) {
	m := newTestV2(t, "", nil)
	cmd := startIn(t, m, 0)
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("Pids = %v, %v; want %d", pids, err, cmd.Process.Pid)
	}
	if got := m.ProcsFiles(); len(got) != 1 || got[0] != filepath.Join(m.dir, "cgroup.procs") {
		t.Errorf("ProcsFiles = %v", got)
	}
	if err := m.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGTERM {
		t.Fatalf("wait = %v, want SIGTERM", err)
	}
	if frozen, _ := m.Frozen(); frozen {
		t.Error("left frozen after Signal")
	}
	// SIGKILL goes through cgroup.kill and reaches sub-cgroups.
	sub := &v2Manager{dir: filepath.Join(m.dir, "sub")}
	if err := os.Mkdir(sub.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd2 := startIn(t, sub, 0)
	if err := m.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd2.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("sub-cgroup process: wait = %v, want SIGKILL", err)
	}
}

func TestV2FreezeThaw(t *testing.T) {
	m := newTestV2(t, "", nil)
	startIn(t, m, 0)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || !f {
		t.Fatalf("Frozen = %v, %v after Freeze", f, err)
	}
	if !strings.Contains(readCg(t, m.dir, "cgroup.events"), "frozen 1") {
		t.Error("cgroup.events does not say frozen 1")
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || f {
		t.Fatalf("Frozen = %v, %v after Thaw", f, err)
	}
}

func TestV2StatsReal(t *testing.T) {
	m := newTestV2(t, "", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(256 << 20)},
		Pids: &specs.LinuxPids{Limit: i64p(50)}})
	startIn(t, m, 16<<20)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Usage < 16<<20 || s.Memory.Usage.Limit != 256<<20 {
		t.Errorf("memory: %+v", s.Memory.Usage)
	}
	if s.Pids.Current < 1 || s.Pids.Limit != 50 {
		t.Errorf("pids: %+v", s.Pids)
	}
	if s.CPU.Usage.Total == 0 {
		t.Errorf("cpu usage 0: %+v", s.CPU.Usage)
	}
	if len(s.Memory.Raw) == 0 {
		t.Error("no raw memory.stat")
	}
}

func TestV2OOM(t *testing.T) {
	m := newTestV2(t, "", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(32 << 20), Swap: i64p(32 << 20)}})
	done := make(chan struct{})
	defer close(done)
	ch, err := m.NotifyOOM(done)
	if err != nil {
		t.Fatal(err)
	}
	cmd := startIn(t, m, 256<<20)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("hog: wait = %v, want SIGKILL by the OOM killer", err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no OOM notification")
	}
	if n, err := m.OOMKillCount(); err != nil || n < 1 {
		t.Fatalf("OOMKillCount = %d, %v", n, err)
	}
}

// tryDevices starts sh in m and reports, per path, whether opening it for
// reading and writing worked.
func tryDevices(t *testing.T, m Manager, paths ...string) map[string]bool {
	t.Helper()
	script := "read _; for p; do if (: <>\"$p\") 2>/dev/null; then echo \"$p ok\"; else echo \"$p denied\"; fi; done"
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, paths...)...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if err := m.Apply(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	io.WriteString(in, "go\n")
	got := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		p, res, _ := strings.Cut(sc.Text(), " ")
		got[p] = res == "ok"
	}
	return got
}

func TestV2DeviceFilter(t *testing.T) {
	rules := []specs.LinuxDeviceCgroup{
		devRule(false, "a", -1, -1, "rwm"),
		devRule(true, "c", 1, 3, "rwm"), // /dev/null
		devRule(true, "c", 1, 5, "r"),   // /dev/zero, read only
	}
	m := newTestV2(t, "", &specs.LinuxResources{Devices: rules})
	got := tryDevices(t, m, "/dev/null", "/dev/zero", "/dev/full")
	want := map[string]bool{"/dev/null": true, "/dev/zero": false, "/dev/full": false}
	if !reflectEqual(got, want) {
		t.Errorf("with filter: %v, want %v", got, want)
	}
	// Set replaces the filter rather than adding a second one.
	if err := m.Set(&specs.LinuxResources{Devices: append(rules, devRule(true, "c", 1, 7, "rw"))}); err != nil {
		t.Fatal(err)
	}
	got = tryDevices(t, m, "/dev/null", "/dev/full")
	if !got["/dev/null"] || !got["/dev/full"] {
		t.Errorf("after Set: %v, want both ok", got)
	}
	fd, err := unix.Open(m.dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if ids, err := attachedDevicePrograms(fd); err != nil || len(ids) != 1 {
		t.Errorf("attached programs after Set = %v, %v; want one", ids, err)
	}
}

func reflectEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestV2SetReal(t *testing.T) {
	m := newTestV2(t, "", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(50000)}})
	err := m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(128 << 20)},
		CPU:    &specs.LinuxCPU{Period: u64p(200000), Burst: u64p(10000)},
		Pids:   &specs.LinuxPids{Limit: i64p(-1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"memory.max": "134217728", "cpu.max": "50000 200000", "pids.max": "max"} {
		if got := readCg(t, m.dir, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	if fileExists(m.dir, "cpu.max.burst") && readCg(t, m.dir, "cpu.max.burst") != "10000" {
		t.Errorf("cpu.max.burst = %q", readCg(t, m.dir, "cpu.max.burst"))
	}
	// Lowering the quota below the burst needs the burst to go first.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(5000), Burst: u64p(1000)}}); err != nil {
		t.Fatal(err)
	}
	if got := readCg(t, m.dir, "cpu.max"); got != "5000 200000" {
		t.Errorf("cpu.max = %q", got)
	}
}

func TestV2BadInputsReal(t *testing.T) {
	needV2(t)
	for name, r := range map[string]*specs.LinuxResources{
		"unknown unified file": {Unified: map[string]string{"memory.nonexistent": "1"}},
		"oom killer":           {Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}},
		"bad cpus":             {CPU: &specs.LinuxCPU{Cpus: "4096"}},
	} {
		top := testPath(t)
		m, err := newV2(realHost(), Config{Path: top, Resources: r})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Create()
		if err == nil || !strings.Contains(err.Error(), "linux.resources.") {
			t.Errorf("%s: Create err = %v, want one naming the field", name, err)
		}
		if _, serr := os.Stat(m.dir); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("%s: failed Create left %s", name, m.dir)
			removeCgroupDir(m.dir)
		}
	}
}

func TestNewPicksV2(t *testing.T) {
	needV2(t)
	m, err := New(Config{Path: "/hull-test-unused", ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.State(); st.Driver != DriverV2 || st.Dir != "/sys/fs/cgroup/hull-test-unused" {
		t.Errorf("State = %+v", st)
	}
}
