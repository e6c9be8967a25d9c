package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests need no cgroup v2 host: they check paths, conversions, the
// write plan against a fake directory and the device filter, which the
// kernel's verifier checks on any host.

func TestNewV2Paths(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "cgroup")
	if err := os.WriteFile(self, []byte("0::/user.slice/me.scope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := host{selfCgroup: self, root: "/cg"}
	tests := []struct{ path, id, wantPath, wantDir, err string }{
		{"", "c1", "/hull/c1", "/cg/hull/c1", ""},
		{"/a/b", "c1", "/a/b", "/cg/a/b", ""},
		// Relative to the parent of our own cgroup, which holds processes.
		{"sub/c", "c1", "/user.slice/sub/c", "/cg/user.slice/sub/c", ""},
		{"/", "c1", "", "", "root cgroup"},
		{"", "", "", "", "no container id"},
	}
	for _, tc := range tests {
		m, err := newV2(h, Config{Path: tc.path, ID: tc.id})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("newV2(%q): err = %v, want %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("newV2(%q): %v", tc.path, err)
			continue
		}
		st := m.State()
		if st.Driver != DriverV2 || st.Path != tc.wantPath || st.Dir != tc.wantDir {
			t.Errorf("newV2(%q).State() = %+v, want path %s dir %s", tc.path, st, tc.wantPath, tc.wantDir)
		}
		l, err := Load(st)
		if err != nil {
			t.Errorf("Load(%+v): %v", st, err)
			continue
		}
		if got := l.State(); !reflect.DeepEqual(got, st) {
			t.Errorf("Load round trip: %+v, want %+v", got, st)
		}
	}
	if _, err := newV2(host{selfCgroup: filepath.Join(dir, "none"), root: "/cg"}, Config{Path: "rel"}); err == nil {
		t.Error("relative path without /proc/self/cgroup: no error")
	}
	for _, bad := range []State{{Driver: DriverV2, Path: "/a", Dir: "rel/a"}, {Driver: DriverV2, Path: "/a", Dir: "/cg/b"}} {
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%+v): no error", bad)
		}
	}
}

func TestSwapV2(t *testing.T) {
	tests := []struct {
		swap, limit, want int64
		set               bool
		err               string
	}{
		{0, 0, 0, false, ""},
		{0, 100, 0, false, ""},
		{0, -1, -1, true, ""},
		{-1, 100, -1, true, ""},
		{300, 100, 200, true, ""},
		{100, 100, 0, true, ""},
		{50, 100, 0, false, ">= memory.limit"},
		{100, 0, 0, false, "needs a memory limit"},
		{100, -1, 0, false, "needs a memory limit"},
	}
	for _, tc := range tests {
		v, set, err := swapV2(tc.swap, tc.limit)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("swapV2(%d, %d): err %v, want %q", tc.swap, tc.limit, err, tc.err)
			}
			continue
		}
		if err != nil || v != tc.want || set != tc.set {
			t.Errorf("swapV2(%d, %d) = %d, %v, %v; want %d, %v", tc.swap, tc.limit, v, set, err, tc.want, tc.set)
		}
	}
}

func TestWeightConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 512: 20} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{10: 1, 500: 4950, 1000: 10000} {
		if got := blkioToIOWeight(w); got != want {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestValidateV2(t *testing.T) {
	tests := []struct {
		name string
		r    specs.LinuxResources
		err  string
	}{
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		{"ok", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(1 << 20), Kernel: i64p(1 << 20)}}, ""},
		{"oom killer", specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, "memory.disableOOMKiller: not supported on cgroup v2"},
		{"oom killer false", specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false)}}, ""},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64p(10)}}, "memory.swappiness"},
		{"kernelTCP", specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64p(1)}}, "memory.kernelTCP"},
		{"rt", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64p(1)}}, "cpu.realtimeRuntime"},
		{"shares", specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64p(1)}}, "cpu.shares: invalid value 1"},
		{"leaf", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16p(10)}}, "blockIO.leafWeight"},
		{"weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16p(5)}}, "blockIO.weight: invalid value 5"},
		{"classid", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32p(1)}}, "network.classID"},
		{"unified slash", specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, "not a cgroup file name"},
		{"unified bare", specs.LinuxResources{Unified: map[string]string{"memory": "1"}}, "want <controller>.<file>"},
		{"unified ok", specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, ""},
		{"device", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}, "devices[0]"},
	}
	for _, tc := range tests {
		err := validateV2(&tc.r)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: validateV2 = %v, want %q", tc.name, err, tc.err)
		}
	}
}

// fakeV2Dir makes a directory with the control files a v2 cgroup has, with
// the kernel's initial values.
func fakeV2Dir(t *testing.T, controllers string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	base := map[string]string{
		"cgroup.controllers": controllers, "cgroup.procs": "", "cgroup.freeze": "0",
		"cgroup.events": "populated 0\nfrozen 0\n", "cpu.max": "max 100000", "cpu.weight": "100",
		"cpu.max.burst": "0", "cpu.idle": "0", "cpuset.cpus": "", "cpuset.mems": "",
		"memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "4096",
		"pids.max": "max", "io.weight": "default 100", "io.max": "",
		"hugetlb.2MB.max": "max", "rdma.max": "", "memory.high": "max",
	}
	for k, v := range files {
		base[k] = v
	}
	for k, v := range base {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSetV2FakeTree(t *testing.T) {
	dir := fakeV2Dir(t, "cpuset cpu io memory hugetlb pids rdma", nil)
	m := &v2Manager{root: filepath.Dir(dir), path: "/" + filepath.Base(dir), dir: dir}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(32 << 20), Swap: i64p(96 << 20)},
		CPU: &specs.LinuxCPU{Shares: u64p(1024), Quota: i64p(50000), Burst: u64p(1000), Idle: i64p(1),
			Cpus: "0", Mems: "0"},
		Pids:           &specs.LinuxPids{Limit: i64p(42)},
		BlockIO:        &specs.LinuxBlockIO{Weight: u16p(500)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Unified:        map[string]string{"memory.high": "50000000"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory.max": "67108864", "memory.low": "33554432", "memory.swap.max": "33554432",
		"cpu.weight": "39", "cpu.max": "50000 100000", "cpu.max.burst": "1000", "cpu.idle": "1",
		"cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "42", "io.weight": "default 4950",
		"hugetlb.2MB.max": "4194304", "memory.high": "50000000",
	}
	for f, v := range want {
		if got := readCg(t, dir, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	// An update of the period alone keeps the quota; of swap alone is
	// converted against the limit in force.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64p(200000)},
		Memory: &specs.LinuxMemory{Swap: i64p(128 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if got := readCg(t, dir, "cpu.max"); got != "50000 200000" {
		t.Errorf("cpu.max after period update = %q", got)
	}
	if got := readCg(t, dir, "memory.swap.max"); got != "67108864" {
		t.Errorf("memory.swap.max after swap update = %q, want 64MiB", got)
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(1024), CheckBeforeUpdate: boolp(true)}})
	if err == nil || !strings.Contains(err.Error(), "below the current usage 4096") {
		t.Errorf("checkBeforeUpdate: err = %v", err)
	}
}

func TestSetV2MissingController(t *testing.T) {
	dir := fakeV2Dir(t, "cpu memory", nil)
	m := &v2Manager{dir: dir}
	err := m.apply(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(5)}, Unified: map[string]string{"io.max": "x"}},
		false, map[string]error{"pids": unix.EBUSY})
	for _, want := range []string{"linux.resources.pids.limit: pids controller not available", "enabling it failed: device or resource busy",
		"linux.resources.unified[io.max]: io controller not available"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if got := readCg(t, dir, "pids.max"); got != "max" {
		t.Errorf("pids.max written despite the error: %q", got)
	}
}

func TestIOWritesV2(t *testing.T) {
	b := &specs.LinuxBlockIO{
		Weight:                  u16p(100),
		WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16p(200)}},
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 0}},
	}
	got := ioWritesV2(fakeV2Dir(t, "io", nil), b)
	want := []v2Write{
		{"blockIO.weight", "io.weight", "default 910"},
		{"blockIO.weightDevice[0]", "io.weight", "8:0 1920"},
		{"blockIO.throttleReadBpsDevice[0]", "io.max", "8:0 rbps=1048576"},
		{"blockIO.throttleWriteIOPSDevice[0]", "io.max", "8:16 wiops=max"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("io writes:\n got %v\nwant %v", got, want)
	}
	got = ioWritesV2(fakeV2Dir(t, "io", map[string]string{"io.bfq.weight": "default 100"}), b)
	if got[0] != (v2Write{"blockIO.weight", "io.bfq.weight", "100"}) || got[1].value != "8:0 200" {
		t.Errorf("bfq writes: %v", got[:2])
	}
}

func TestV2StatsFakeTree(t *testing.T) {
	dir := fakeV2Dir(t, "cpu memory pids io", map[string]string{
		"cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 7\n",
		"memory.stat":         "anon 100\nfile 200\n",
		"memory.current":      "300",
		"memory.max":          "1000",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"memory.swap.current": "50",
		"memory.swap.max":     "500",
		"pids.current":        "2",
		"pids.max":            "max",
		"io.stat":             "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
		"hugetlb.2MB.current": "2097152",
		"hugetlb.2MB.events":  "max 5\n",
	})
	m := &v2Manager{dir: dir}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total != 1500000 || s.CPU.Usage.User != 1000000 || s.CPU.Throttling.ThrottledTime != 7000 {
		t.Errorf("cpu: %+v", s.CPU)
	}
	if s.Memory.Usage != (MemoryEntry{Limit: 1000, Usage: 300, Failcnt: 3}) || s.Memory.Cache != 200 {
		t.Errorf("memory usage: %+v cache %d", s.Memory.Usage, s.Memory.Cache)
	}
	if s.Memory.Swap != (MemoryEntry{Limit: 1500, Usage: 350}) {
		t.Errorf("memory+swap: %+v", s.Memory.Swap)
	}
	if s.Pids != (Pids{Current: 2}) {
		t.Errorf("pids: %+v", s.Pids)
	}
	wantIO := []BlkioEntry{{8, 0, "Read", 10}, {8, 0, "Write", 20}}
	if !reflect.DeepEqual(s.Blkio.IoServiceBytesRecursive, wantIO) {
		t.Errorf("io bytes: %+v", s.Blkio.IoServiceBytesRecursive)
	}
	if s.Hugetlb["2MB"] != (Hugetlb{Usage: 2 << 20, Failcnt: 5}) {
		t.Errorf("hugetlb: %+v", s.Hugetlb)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 1 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}
}

func TestEnableControllersFakeTree(t *testing.T) {
	root := t.TempDir()
	leaf := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "a")} {
		os.WriteFile(filepath.Join(d, "cgroup.controllers"), []byte("cpu memory\n"), 0o644)
		os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("cpu\n"), 0o644)
	}
	// A fake file keeps only the last write: "+memory" in both ancestors,
	// "cpu" being on already.
	if errs := enableControllers(root, leaf); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	for _, d := range []string{root, filepath.Join(root, "a")} {
		if got := readCg(t, d, "cgroup.subtree_control"); got != "+memory" {
			t.Errorf("%s subtree_control = %q", d, got)
		}
	}
	if _, err := os.Stat(filepath.Join(leaf, "cgroup.subtree_control")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leaf touched: %v", err)
	}
}
