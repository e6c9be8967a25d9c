package cgroups

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const fakeMountinfo = `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / MNT/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / MNT/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / MNT/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / MNT/my\040freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / MNT/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / MNT/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:32 / /elsewhere/memory rw,relatime - cgroup cgroup rw,memory
43 31 0:39 /outer MNT/pids rw,relatime - cgroup cgroup rw,pids
`

// fakeHost writes a mountinfo naming hierarchies under a temp dir and a
// /proc/self/cgroup, and returns the host and the hierarchy root.
func fakeHost(t *testing.T) (host, string) {
	t.Helper()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "cg")
	mi := filepath.Join(dir, "mountinfo")
	if err := os.WriteFile(mi, []byte(strings.ReplaceAll(fakeMountinfo, "MNT", mnt)), 0o644); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "cgroup")
	own := "5:memory:/mine\n4:cpu,cpuacct:/cpuown\n3:pids:/outer/p\n2:cpuset:/\n1:name=systemd:/user.slice\n0::/uown\n"
	if err := os.WriteFile(self, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	return host{mountinfo: mi, selfCgroup: self, root: dir}, mnt
}

func TestParseV1Mounts(t *testing.T) {
	h, mnt := fakeHost(t)
	got, err := parseV1Mounts(h.mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	want := []v1Mount{
		{mnt + "/cpu,cpuacct", "/", []string{"cpu", "cpuacct"}},
		{mnt + "/cpuset", "/", []string{"cpuset"}},
		{mnt + "/memory", "/", []string{"memory"}},
		{mnt + "/my freezer", "/", []string{"freezer"}},
		{mnt + "/systemd", "/", []string{"name=systemd"}},
		{mnt + "/unified", "/", []string{unifiedKey}},
		{mnt + "/pids", "/outer", []string{"pids"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts:\n got %+v\nwant %+v", got, want)
	}
}

func TestCgroupPath(t *testing.T) {
	tests := []struct {
		path, id, own, want, err string
	}{
		{"", "c1", "/x", "/hull/c1", ""},
		{"/a/b", "c1", "/x", "/a/b", ""},
		{"/a/../b/./c/", "c1", "", "/b/c", ""},
		{"rel/c", "c1", "/parent", "/parent/rel/c", ""},
		{"rel", "c1", "", "/rel", ""},
		{"/", "c1", "", "", "root cgroup"},
		{"/a/..", "c1", "", "", "root cgroup"},
		{"", "", "", "", "no container id"},
		{"", "a/b", "", "", "not usable"},
	}
	for _, tc := range tests {
		got, err := cgroupPath(tc.path, tc.id, tc.own)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("cgroupPath(%q,%q,%q) error = %v, want %q", tc.path, tc.id, tc.own, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("cgroupPath(%q,%q,%q) = %q, %v; want %q", tc.path, tc.id, tc.own, got, err, tc.want)
		}
	}
}

func TestNewV1Paths(t *testing.T) {
	h, mnt := fakeHost(t)
	tests := []struct {
		name, path string
		want       map[string]string
	}{
		{"absolute", "/outer/box", map[string]string{
			"cpu": mnt + "/cpu,cpuacct/outer/box", "cpuacct": mnt + "/cpu,cpuacct/outer/box",
			"cpuset": mnt + "/cpuset/outer/box", "memory": mnt + "/memory/outer/box",
			"freezer": mnt + "/my freezer/outer/box", "name=systemd": mnt + "/systemd/outer/box",
			"pids": mnt + "/pids/box", unifiedKey: mnt + "/unified/outer/box",
		}},
		{"relative", "box", map[string]string{
			"cpu": mnt + "/cpu,cpuacct/cpuown/box", "cpuacct": mnt + "/cpu,cpuacct/cpuown/box",
			"cpuset": mnt + "/cpuset/box", "memory": mnt + "/memory/mine/box",
			"freezer": mnt + "/my freezer/box", "name=systemd": mnt + "/systemd/user.slice/box",
			"pids": mnt + "/pids/p/box", unifiedKey: mnt + "/unified/uown/box",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newV1(h, Config{Path: tc.path, ID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.paths, tc.want) {
				t.Fatalf("paths:\n got %v\nwant %v", m.paths, tc.want)
			}
			if n := len(m.ProcsFiles()); n != 7 {
				t.Fatalf("ProcsFiles has %d entries, want one per hierarchy (6 v1, the unified one): %v", n, m.ProcsFiles())
			}
		})
	}
	// Rootless, the unified hierarchy is left out: the v1 ones alone.
	m, err := newV1(h, Config{Path: "/outer/box", ID: "x", Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.paths[unifiedKey]; ok || len(m.ProcsFiles()) != 6 {
		t.Fatalf("rootless: paths %v, ProcsFiles %v: want the 6 v1 hierarchies without the unified one", m.paths, m.ProcsFiles())
	}
	// The pids hierarchy only shows /outer: a cgroup outside it is an error.
	if _, err := newV1(h, Config{Path: "/elsewhere", ID: "x"}); err == nil || !strings.Contains(err.Error(), "outside /outer") {
		t.Fatalf("cgroup outside a mount's root: err = %v", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	h, _ := fakeHost(t)
	m, err := newV1(h, Config{Path: "/outer/box"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m.State())
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	l, err := Load(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.State(), m.State()) || !reflect.DeepEqual(l.ProcsFiles(), m.ProcsFiles()) {
		t.Fatalf("loaded state %+v differs from %+v", l.State(), m.State())
	}
	for _, bad := range []State{{Driver: "nope"}, {Driver: DriverV1}, {Driver: DriverV1, Paths: map[string]string{"memory": "rel"}}} {
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%+v) succeeded", bad)
		}
	}
}

func TestNewSystemdNotImplemented(t *testing.T) {
	h, _ := fakeHost(t)
	if _, err := newManager(h, Config{Systemd: true, ID: "x"}); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("systemd driver: err = %v, want ErrNotImplemented", err)
	}
}

func TestSwapFirst(t *testing.T) {
	tests := []struct {
		cur  uint64
		swap int64
		want bool
	}{
		{^uint64(0) - 4095, 64 << 20, false}, // first limit on a fresh cgroup: lower memory first
		{64 << 20, 256 << 20, true},          // raising: memsw first
		{256 << 20, 64 << 20, false},         // lowering: memory first
		{64 << 20, 64 << 20, true},
		{64 << 20, -1, true},
	}
	for _, tc := range tests {
		if got := swapFirst(tc.cur, tc.swap); got != tc.want {
			t.Errorf("swapFirst(%d, %d) = %v, want %v", tc.cur, tc.swap, got, tc.want)
		}
	}
}

func TestCheckV1Controllers(t *testing.T) {
	u32 := func(v uint32) *uint32 { return &v }
	i := func(v int64) *int64 { return &v }
	paths := map[string]string{"memory": "/m", "cpu": "/c", "pids": "/p"}
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"nil", nil, ""},
		{"present", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(1)}, Pids: &specs.LinuxPids{Limit: i(3)}}, ""},
		{"zero classID", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0)}}, ""},
		{"classID", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(7)}},
			"linux.resources.network.classID: net_cls controller not mounted"},
		{"cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}},
			"linux.resources.cpu.cpus: cpuset controller not mounted"},
		{"hugetlb", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}},
			"linux.resources.hugepageLimits: hugetlb controller not mounted"},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}},
			"invalid configuration: linux.resources.unified: cannot use unified on cgroup v1"},
	}
	for _, tc := range tests {
		err := checkV1Controllers(tc.r, paths)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestValidateResources(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	u := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name string
		r    specs.LinuxResources
		want string
	}{
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(100 << 20), Swap: i(50 << 20)}},
			"linux.resources.memory.swap: invalid value 52428800"},
		{"negative limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(-5)}},
			"linux.resources.memory.limit: invalid value -5"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u(101)}},
			"linux.resources.memory.swappiness: invalid value 101"},
		{"quota", specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i(-7)}},
			"linux.resources.cpu.quota: invalid value -7"},
		{"idle", specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i(2)}},
			"linux.resources.cpu.idle: invalid value 2"},
		{"pagesize", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2XB"}}},
			`linux.resources.hugepageLimits[0].pageSize: invalid value "2XB"`},
	}
	for _, tc := range tests {
		err := validateResources(&tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	ok := specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i(-1), Swap: i(-1)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB"}, {Pagesize: "64KB"}}}
	if err := validateResources(&ok); err != nil {
		t.Fatalf("valid resources rejected: %v", err)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatsFakeTree(t *testing.T) {
	root := t.TempDir()
	mem, cpu, pids, blk := filepath.Join(root, "memory"), filepath.Join(root, "cpu"), filepath.Join(root, "pids"), filepath.Join(root, "blkio")
	writeTree(t, mem, map[string]string{
		"memory.stat":                "cache 4096\nrss 8192\n",
		"memory.limit_in_bytes":      "67108864\n",
		"memory.usage_in_bytes":      "12288\n",
		"memory.max_usage_in_bytes":  "20480\n",
		"memory.failcnt":             "3\n",
		"memory.kmem.limit_in_bytes": "9223372036854771712\n", "memory.kmem.usage_in_bytes": "1\n",
		"memory.kmem.max_usage_in_bytes": "2\n", "memory.kmem.failcnt": "0\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	})
	writeTree(t, cpu, map[string]string{
		"cpu.stat":             "nr_periods 10\nnr_throttled 4\nthrottled_time 999\n",
		"cpuacct.usage":        "5000\n",
		"cpuacct.stat":         "user 3\nsystem 1\n",
		"cpuacct.usage_percpu": "3000 2000 \n",
	})
	writeTree(t, pids, map[string]string{"pids.current": "2\n", "pids.max": "max\n"})
	writeTree(t, blk, map[string]string{
		"blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
	})
	m := &v1Manager{paths: map[string]string{"memory": mem, "cpu": cpu, "cpuacct": cpu, "pids": pids, "blkio": blk}}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		CPU: CPU{Usage: CPUUsage{Total: 5000, Percpu: []uint64{3000, 2000}, User: 30_000_000, Kernel: 10_000_000},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 4, ThrottledTime: 999}},
		Memory: Memory{Cache: 4096, Raw: map[string]uint64{"cache": 4096, "rss": 8192},
			Usage:  MemoryEntry{Limit: 67108864, Usage: 12288, Max: 20480, Failcnt: 3},
			Kernel: MemoryEntry{Limit: 9223372036854771712, Usage: 1, Max: 2}},
		Pids:    Pids{Current: 2},
		Blkio:   Blkio{IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 0}}},
		Hugetlb: map[string]Hugetlb{},
	}
	if !reflect.DeepEqual(*s, want) {
		t.Fatalf("stats:\n got %+v\nwant %+v", *s, want)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Fatalf("OOMKillCount = %d, %v; want 2", n, err)
	}
	b, _ := json.Marshal(s)
	for _, key := range []string{`"throttledPeriods":4`, `"usage":{"total":5000`, `"failcnt":3`, `"ioServiceBytesRecursive"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("stats JSON lacks %s: %s", key, b)
		}
	}
}

func TestCopyCpuset(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n"})
	// A new cpuset cgroup lists the files, empty; one already set keeps its value.
	child := filepath.Join(root, "a")
	writeTree(t, child, map[string]string{"cpuset.cpus": "\n", "cpuset.mems": "0\n"})
	if err := copyCpuset(child, false); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0\n"} {
		if got, _ := readFile(child, f); strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	// One just made takes the parent's values without reading its own.
	fresh := filepath.Join(root, "b")
	writeTree(t, fresh, map[string]string{"cpuset.cpus": "7\n", "cpuset.mems": "7\n"})
	if err := copyCpuset(fresh, true); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		parent, _ := readFile(root, f)
		if got, _ := readFile(fresh, f); strings.TrimSpace(got) != strings.TrimSpace(parent) {
			t.Errorf("made cgroup's %s = %q, want the parent's %q", f, got, parent)
		}
	}
	// Outside cpuset, missing levels are created and reported shallowest
	// first; existing ones are not reported.
	for _, tc := range []struct {
		dir  string
		made []string
	}{
		{filepath.Join(root, "x", "y"), []string{filepath.Join(root, "x"), filepath.Join(root, "x", "y")}},
		{filepath.Join(root, "x", "y"), nil},
		{filepath.Join(root, "x", "z"), []string{filepath.Join(root, "x", "z")}},
		{filepath.Join(root, "p", "q", "r"), []string{filepath.Join(root, "p"), filepath.Join(root, "p", "q"), filepath.Join(root, "p", "q", "r")}},
	} {
		made, err := mkdirCgroup(tc.dir, false)
		if err != nil || !reflect.DeepEqual(made, tc.made) {
			t.Errorf("mkdirCgroup(%s) made %v, %v; want %v", tc.dir, made, err, tc.made)
		}
	}
	// A level that cannot be made is an error naming it, after the levels
	// made before it were reported.
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if made, err := mkdirCgroup(filepath.Join(root, "file", "c"), false); err == nil || len(made) != 0 {
		t.Errorf("mkdirCgroup under a file: made %v, %v; want an error", made, err)
	}
}

func TestParseHelpers(t *testing.T) {
	h, _ := fakeHost(t)
	own, err := parseSelfCgroup(h.selfCgroup)
	if err != nil {
		t.Fatal(err)
	}
	if own["cpuacct"] != "/cpuown" || own["name=systemd"] != "/user.slice" || own[""] != "/uown" {
		t.Fatalf("parseSelfCgroup = %v", own)
	}
	for in, want := range map[string]uint64{"max": ^uint64(0), "-1": 0, "42": 42} {
		if got, err := parseUint(in); err != nil || got != want {
			t.Errorf("parseUint(%q) = %d, %v", in, got, err)
		}
	}
}
