package cgroups

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSystemdPath(t *testing.T) {
	tests := []struct{ path, id, slice, unit, err string }{
		{"", "c1", "system.slice", "hull-c1.scope", ""},
		{"machine.slice:libpod:abc", "x", "machine.slice", "libpod-abc.scope", ""},
		{":hull:abc", "x", "system.slice", "hull-abc.scope", ""},
		{"user-1000.slice::abc", "x", "user-1000.slice", "abc.scope", ""},
		{"/a/b", "x", "", "", `wants "slice:prefix:name"`},
		{"/machine.slice/machine-deb.scope", "x", "machine.slice", "machine-deb.scope", ""},
		{`/machine.slice/machine-my\x2dbox.scope`, "x", "machine.slice", `machine-my\x2dbox.scope`, ""},
		{"/a.slice/a-b.slice/c.scope", "x", "a-b.slice", "c.scope", ""},
		{"/c.scope", "x", "-.slice", "c.scope", ""},
		{"/b.slice/a-b.slice/c.scope", "x", "", "", "not where systemd puts"},
		{"/machine.slice/a b.scope", "x", "", "", "not allowed"},
		{"system.slice:p:", "x", "", "", "empty unit name"},
		{"system:p:n", "x", "", "", "ending in .slice"},
		{"a--b.slice:p:n", "x", "", "", "invalid name"},
		{"system.slice:p:x.slice", "x", "", "", "only scopes"},
		{"system.slice:p:a/b", "x", "", "", "not allowed"},
		{"", "", "", "", "no container id"},
	}
	for _, tc := range tests {
		u, err := parseSystemdPath(tc.path, tc.id)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSystemdPath(%q): err = %v, want %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || u.slice != tc.slice || u.unit != tc.unit {
			t.Errorf("parseSystemdPath(%q) = %+v, %v; want %s %s", tc.path, u, err, tc.slice, tc.unit)
		}
	}
}

func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice": "/system.slice", "-.slice": "/",
		"user-1000.slice": "/user.slice/user-1000.slice",
		"a-b-c.slice":     "/a.slice/a-b.slice/a-b-c.slice",
	} {
		if got, err := expandSlice(in); err != nil || got != want {
			t.Errorf("expandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "-a.slice", "a-.slice", ".slice", "a/b.slice"} {
		if _, err := expandSlice(bad); err == nil {
			t.Errorf("expandSlice(%q): no error", bad)
		}
	}
}

func TestSystemdStateRoundTrip(t *testing.T) {
	m, err := newSystemdAt("/sys/fs/cgroup", "", Config{Path: "user-1000.slice:hull:c1"})
	if err != nil {
		t.Fatal(err)
	}
	st := m.State()
	want := State{Driver: DriverSystemd, Path: "/user.slice/user-1000.slice/hull-c1.scope",
		Dir: "/sys/fs/cgroup/user.slice/user-1000.slice/hull-c1.scope"}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("State = %+v, want %+v", st, want)
	}
	l, err := Load(st)
	if err != nil {
		t.Fatal(err)
	}
	sm := l.(*systemdManager)
	if sm.unit != "hull-c1.scope" || sm.slice != "user-1000.slice" || !reflect.DeepEqual(sm.State(), st) {
		t.Errorf("loaded %+v", sm)
	}
	if got := m.ProcsFiles(); !reflect.DeepEqual(got, []string{want.Dir + "/cgroup.procs"}) {
		t.Errorf("ProcsFiles = %v", got)
	}
}

func TestSystemdNeedsV2(t *testing.T) {
	// A temp dir is no cgroup2 mount, like this v1 host's /sys/fs/cgroup.
	_, err := newSystemd(host{root: t.TempDir()}, Config{ID: "c1", Systemd: true})
	if err == nil || !strings.Contains(err.Error(), "needs a cgroup v2 host") {
		t.Fatalf("err = %v", err)
	}
}

func propMap(props []sdbus.Property) map[string]any {
	m := map[string]any{}
	for _, p := range props {
		m[p.Name] = p.Value.Value()
	}
	return m
}

func TestResourceProperties(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(-1), Swap: i64p(96 << 20)},
		CPU:     &specs.LinuxCPU{Shares: u64p(1024), Quota: i64p(12345), Period: u64p(100000), Cpus: "0-2,9", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: i64p(-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16p(1000)},
	}
	got, err := resourceProperties(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"MemoryMax": uint64(64 << 20), "MemoryLow": uint64(math.MaxUint64), "MemorySwapMax": uint64(32 << 20),
		"CPUWeight": uint64(39), "CPUQuotaPeriodUSec": uint64(100000),
		// 12345/100000 of a second is 123450us, rounded up to whole percents.
		"CPUQuotaPerSecUSec": uint64(130000),
		"AllowedCPUs":        []byte{0x07, 0x02}, "AllowedMemoryNodes": []byte{0x01},
		"TasksMax": uint64(math.MaxUint64), "IOWeight": uint64(10000),
	}
	if m := propMap(got); !reflect.DeepEqual(m, want) {
		t.Errorf("properties:\n got %v\nwant %v", m, want)
	}
	// An update of the quota alone uses the period in force.
	got, err = resourceProperties(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(50000)}}, 200000)
	if err != nil {
		t.Fatal(err)
	}
	if m := propMap(got); !reflect.DeepEqual(m, map[string]any{"CPUQuotaPerSecUSec": uint64(250000)}) {
		t.Errorf("quota update: %v", m)
	}
	if _, err := resourceProperties(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, 0); err == nil ||
		!strings.Contains(err.Error(), "linux.resources.cpu.cpus") {
		t.Errorf("bad cpus: err = %v", err)
	}
}

func TestScopeProperties(t *testing.T) {
	props, err := scopeProperties(systemdUnit{"system.slice", "hull-c1.scope"}, "hull container c1", 42,
		&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(10)}})
	if err != nil {
		t.Fatal(err)
	}
	m := propMap(props)
	for k, v := range map[string]any{"Slice": "system.slice", "Delegate": true, "PIDs": []uint32{42},
		"DefaultDependencies": false, "MemoryAccounting": true, "TasksMax": uint64(10), "Description": "hull container c1"} {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
}

// A user manager's scope lives under the manager's own cgroup, in
// user.slice by default, and Load keeps talking to that manager.
func TestUserSystemdScope(t *testing.T) {
	base := "/user.slice/user-1000.slice/user@1000.service"
	tests := []struct {
		path, wantPath, wantUnit string
	}{
		{"", base + "/user.slice/hull-c1.scope", "hull-c1.scope"},
		{":libpod:c1", base + "/user.slice/libpod-c1.scope", "libpod-c1.scope"},
		{"app.slice:x:c1", base + "/app.slice/x-c1.scope", "x-c1.scope"},
	}
	for _, tc := range tests {
		m, err := newSystemdAt("/sys/fs/cgroup", base, Config{Path: tc.path, ID: "c1"})
		if err != nil {
			t.Fatalf("%q: %v", tc.path, err)
		}
		m.user = 1000
		st := m.State()
		if st.Path != tc.wantPath || m.unit != tc.wantUnit || st.SystemdUser != 1000 {
			t.Errorf("%q: path %s unit %s user %d, want %s %s 1000", tc.path, st.Path, m.unit, st.SystemdUser, tc.wantPath, tc.wantUnit)
		}
		l, err := Load(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.(*systemdManager); got.user != 1000 || got.unit != tc.wantUnit {
			t.Errorf("%q: loaded user %d unit %s", tc.path, got.user, got.unit)
		}
	}
}

func TestHostUID(t *testing.T) {
	uid, err := hostUID()
	if err != nil {
		t.Fatal(err)
	}
	// Outside a user namespace the map is the identity.
	if b, _ := os.ReadFile("/proc/self/uid_map"); strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295" && uid != os.Geteuid() {
		t.Errorf("hostUID %d, euid %d", uid, os.Geteuid())
	}
}
