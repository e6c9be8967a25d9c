package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a child that waits for a line on
// stdin (sent once it is inside the cgroup), allocates and touches the
// number of bytes given, reports "ok", and then sleeps until killed.
const helperEnv = "HULL_CGROUPS_TEST_ALLOC"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		n, _ := strconv.Atoi(v)
		bufio.NewReader(os.Stdin).ReadString('\n')
		buf := make([]byte, n)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		fmt.Println("ok")
		time.Sleep(60 * time.Second)
		os.Exit(int(buf[0]) - 1)
	}
	os.Exit(m.Run())
}

func needV1(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if unified, err := isUnified("/sys/fs/cgroup"); err != nil || unified {
		t.Skipf("needs a cgroup v1 host (unified=%v, err=%v)", unified, err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/cgroup.procs"); err != nil {
		t.Skip("v1 memory hierarchy not mounted")
	}
}

func testPath(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "/hull-test-" + hex.EncodeToString(b)
}

// newTestV1 creates a cgroup at a fresh absolute path; it is destroyed when
// the test ends, after the processes the test started are killed.
func newTestV1(t *testing.T, r *specs.LinuxResources) *v1Manager {
	t.Helper()
	needV1(t)
	m, err := newV1(realHost(), Config{Path: testPath(t), Resources: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, ok := m.paths["freezer"]; ok {
			_ = m.Thaw()
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}

// startIn starts a helper process, moves it into m and lets it allocate.
func startIn(t *testing.T, m Manager, alloc int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", helperEnv, alloc))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "go\n")
	line, _ := bufio.NewReader(out).ReadString('\n')
	if alloc > 0 && line != "ok\n" && !strings.Contains(t.Name(), "OOM") {
		t.Fatalf("helper did not report ok: %q", line)
	}
	return cmd
}

func readCg(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readFile(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func u16p(v uint16) *uint16 { return &v }
func boolp(v bool) *bool    { return &v }
func u32p(v uint32) *uint32 { return &v }

func TestV1CreateAppliesLimits(t *testing.T) {
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(32 << 20), Swap: i64p(96 << 20),
			Swappiness: u64p(10), DisableOOMKiller: boolp(false)},
		CPU: &specs.LinuxCPU{Shares: u64p(512), Quota: i64p(50000), Period: u64p(100000), Burst: u64p(1000),
			Cpus: "0", Mems: "0", Idle: i64p(0)},
		Pids: &specs.LinuxPids{Limit: i64p(42)},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64p(1), Minor: i64p(3), Access: "rwm"},
		},
	}
	// A weight needs a proportional I/O scheduler (BFQ, or CFQ on old
	// kernels); without one neither weight file exists and hull, like
	// runc, fails the write, so the weight is only asked where it can work.
	blkioRoot := "/sys/fs/cgroup/blkio"
	weighted := fileExists(blkioRoot, "blkio.bfq.weight") || fileExists(blkioRoot, "blkio.weight")
	if weighted {
		r.BlockIO = &specs.LinuxBlockIO{Weight: u16p(300)}
	} else {
		t.Log("no blkio weight file on this host (no BFQ): blockIO.weight not checked")
	}
	m := newTestV1(t, r)
	tests := []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"memory", "memory.memsw.limit_in_bytes", "100663296"},
		{"memory", "memory.swappiness", "10"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.cfs_burst_us", "1000"},
		{"pids", "pids.max", "42"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"blkio", "blkio.bfq.weight", "300"},
		{"devices", "devices.list", "c 1:3 rwm"},
	}
	for _, tc := range tests {
		dir := m.paths[tc.ctrl]
		if tc.ctrl == "blkio" && !weighted {
			continue
		}
		if tc.file == "blkio.bfq.weight" && !fileExists(dir, tc.file) {
			tc.file, tc.want = "blkio.weight", "300"
		}
		if got := readCg(t, dir, tc.file); got != tc.want {
			t.Errorf("%s = %q, want %q", filepath.Join(dir, tc.file), got, tc.want)
		}
	}
}

func TestV1ApplyPidsAndProcsFiles(t *testing.T) {
	m := newTestV1(t, nil)
	cmd := startIn(t, m, 0)
	pid := cmd.Process.Pid
	files := m.ProcsFiles()
	if len(files) < 5 {
		t.Fatalf("ProcsFiles = %v, want one per v1 hierarchy", files)
	}
	for _, f := range files {
		pids, err := readProcs(filepath.Dir(f))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(pids, pid) {
			t.Errorf("%s = %v, lacks %d", f, pids, pid)
		}
	}
	// A process in a sub-cgroup counts too.
	sub := startIn(t, m, 0)
	subDir := filepath.Join(m.paths["pids"], "sub")
	if err := os.Mkdir(subDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(subDir, "cgroup.procs", strconv.Itoa(sub.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []int{pid, sub.Process.Pid}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Pids() = %v, want %v", got, want)
	}
}

func TestV1FreezeThaw(t *testing.T) {
	m := newTestV1(t, nil)
	startIn(t, m, 0)
	dir := m.paths["freezer"]
	steps := []struct {
		name   string
		fn     func() error
		state  string
		frozen bool
	}{
		{"freeze", m.Freeze, "FROZEN", true},
		{"freeze again", m.Freeze, "FROZEN", true},
		{"thaw", m.Thaw, "THAWED", false},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := readCg(t, dir, "freezer.state"); got != s.state {
			t.Fatalf("%s: freezer.state = %q, want %q", s.name, got, s.state)
		}
		if f, err := m.Frozen(); err != nil || f != s.frozen {
			t.Fatalf("%s: Frozen() = %v, %v; want %v", s.name, f, err, s.frozen)
		}
	}
}

func TestV1Signal(t *testing.T) {
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			m := newTestV1(t, nil)
			cmds := []*exec.Cmd{startIn(t, m, 0), startIn(t, m, 0)}
			if err := m.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for _, c := range cmds {
				err := c.Wait()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != sig {
					t.Fatalf("pid %d: wait = %v, want killed by %v", c.Process.Pid, err, sig)
				}
			}
			if f, _ := m.Frozen(); f {
				t.Fatal("cgroup left frozen after Signal")
			}
		})
	}
}

func TestV1Stats(t *testing.T) {
	m := newTestV1(t, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(50)}})
	startIn(t, m, 16<<20)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Usage < 16<<20 {
		t.Errorf("memory usage %d, want >= 16MiB for a process that touched 16MiB", s.Memory.Usage.Usage)
	}
	if s.Memory.Usage.Limit == 0 || len(s.Memory.Raw) == 0 {
		t.Errorf("memory stats incomplete: %+v", s.Memory)
	}
	// pids.current counts tasks: the helper's threads too.
	if s.Pids.Current < 1 || s.Pids.Limit != 50 {
		t.Errorf("pids = %+v, want current >= 1, limit 50", s.Pids)
	}
	if s.CPU.Usage.Total == 0 || len(s.CPU.Usage.Percpu) == 0 {
		t.Errorf("cpu usage = %+v, want non-zero", s.CPU.Usage)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestV1Destroy(t *testing.T) {
	m := newTestV1(t, nil)
	sub := filepath.Join(m.paths["memory"], "nested", "deeper")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := startIn(t, m, 0)
	if err := m.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Destroy (stat err %v)", d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestV1Set(t *testing.T) {
	m := newTestV1(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(64 << 20)}})
	mem := m.paths["memory"]
	tests := []struct {
		name         string
		r            specs.LinuxResources
		file, want   string
		file2, want2 string
	}{
		{"raise memory and swap", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(128 << 20), Swap: i64p(256 << 20)}},
			"memory.limit_in_bytes", "134217728", "memory.memsw.limit_in_bytes", "268435456"},
		{"lower memory and swap", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(32 << 20), Swap: i64p(32 << 20)}},
			"memory.limit_in_bytes", "33554432", "memory.memsw.limit_in_bytes", "33554432"},
		{"unlimited swap", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(48 << 20), Swap: i64p(-1)}},
			"memory.limit_in_bytes", "50331648", "memory.memsw.limit_in_bytes", "9223372036854771712"},
		{"cpu quota", specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(20000), Period: u64p(50000)}},
			"cpu.cfs_quota_us", "20000", "cpu.cfs_period_us", "50000"},
		{"unlimited quota", specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(-1)}},
			"cpu.cfs_quota_us", "-1", "cpu.cfs_period_us", "50000"},
		{"pids unlimited", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(-1)}},
			"pids.max", "max", "pids.max", "max"},
	}
	for _, tc := range tests {
		if err := m.Set(&tc.r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, fw := range [][2]string{{tc.file, tc.want}, {tc.file2, tc.want2}} {
			ctrl := strings.SplitN(fw[0], ".", 2)[0]
			dir := m.paths[ctrl]
			if ctrl == "memory" {
				dir = mem
			}
			if got := readCg(t, dir, fw[0]); got != fw[1] {
				t.Errorf("%s: %s = %q, want %q", tc.name, fw[0], got, fw[1])
			}
		}
	}
	// checkBeforeUpdate refuses a limit below what is in use.
	startIn(t, m, 8<<20)
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(1 << 20), CheckBeforeUpdate: boolp(true)}})
	if err == nil || !strings.Contains(err.Error(), "below the current usage") {
		t.Fatalf("checkBeforeUpdate: err = %v", err)
	}
}

func TestV1BadInputs(t *testing.T) {
	needV1(t)
	tests := []struct {
		name string
		r    specs.LinuxResources
		want string
	}{
		{"shares clamped", specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64p(1)}}, "linux.resources.cpu.shares: invalid value 1"},
		{"cpus out of range", specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}, `linux.resources.cpu.cpus: write "4095"`},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64p(200)}}, "linux.resources.memory.swappiness: invalid value 200"},
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20), Swap: i64p(1 << 20)}}, "linux.resources.memory.swap"},
		{"tiny period", specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64p(10)}}, `linux.resources.cpu.period: write "10"`},
		{"device type", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "q"}}}, `linux.resources.devices[0]: type "q"`},
		{"unified on v1", specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}}, "linux.resources.unified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPath(t)
			m, err := newV1(realHost(), Config{Path: p, Resources: &tc.r})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Destroy() })
			err = m.Create()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create err = %v, want it to contain %q", err, tc.want)
			}
			// A failed Create leaves nothing behind.
			for _, d := range m.dirs() {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left after failed Create", d)
				}
			}
		})
	}
}

func TestV1MissingController(t *testing.T) {
	needV1(t)
	tests := []struct {
		ctrl string
		r    specs.LinuxResources
		want string
	}{
		{"net_cls", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32p(0x100001)}},
			"linux.resources.network.classID: net_cls controller not mounted"},
		{"net_prio", specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}},
			"linux.resources.network.priorities: net_prio controller not mounted"},
		{"hugetlb", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			"linux.resources.hugepageLimits: hugetlb controller not mounted"},
		{"rdma", specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx": {HcaHandles: u32p(1)}}},
			"linux.resources.rdma: rdma controller not mounted"},
	}
	for _, tc := range tests {
		t.Run(tc.ctrl, func(t *testing.T) {
			m, err := newV1(realHost(), Config{Path: testPath(t), Resources: &tc.r})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.paths[tc.ctrl]; ok {
				t.Skipf("%s is mounted on this host", tc.ctrl)
			}
			t.Cleanup(func() { _ = m.Destroy() })
			if err := m.Create(); err == nil || err.Error() != tc.want {
				t.Fatalf("Create err = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(m.paths["memory"]); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a cgroup was made although a controller is missing")
			}
		})
	}
}

func TestV1LoadFromState(t *testing.T) {
	m := newTestV1(t, nil)
	cmd := startIn(t, m, 0)
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
	pids, err := l.Pids()
	if err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Fatalf("loaded manager Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if err := l.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(7)}}); err != nil {
		t.Fatal(err)
	}
	if got := readCg(t, m.paths["pids"], "pids.max"); got != "7" {
		t.Fatalf("pids.max after Set via loaded manager = %q", got)
	}
}

func TestNewPicksV1(t *testing.T) {
	needV1(t)
	path := testPath(t)
	m, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.State().Driver; d != DriverV1 {
		t.Fatalf("driver = %s on a v1 host", d)
	}
	if _, ok := m.State().Paths["memory"]; !ok {
		t.Fatalf("no memory path in %+v", m.State())
	}
	// On a hybrid host the container joins the unified hierarchy too, as
	// under runc.
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil {
		want := "/sys/fs/cgroup/unified" + path + "/cgroup.procs"
		if !slices.Contains(m.ProcsFiles(), want) {
			t.Fatalf("procs files %q lack %s", m.ProcsFiles(), want)
		}
	}
}

func TestV1OOM(t *testing.T) {
	m := newTestV1(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(32 << 20), Swap: i64p(32 << 20)}})
	done := make(chan struct{})
	defer close(done)
	ch, err := m.NotifyOOM(done)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.OOMKillCount()
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
	if after, err := m.OOMKillCount(); err != nil || after <= before {
		t.Fatalf("OOMKillCount = %d, %v; want > %d", after, err, before)
	}
}

func TestV1NestedPathInitialisesCpuset(t *testing.T) {
	needV1(t)
	top := testPath(t)
	m, err := newV1(realHost(), Config{Path: top + "/mid/leaf", Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Destroy leaves the intermediate levels, as documented; the test
		// removes them itself.
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, d := range m.dirs() {
			if err := removeCgroupDir(filepath.Dir(filepath.Dir(d))); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	cs := m.paths["cpuset"]
	mid := filepath.Dir(cs)
	if got, want := readCg(t, mid, "cpuset.cpus"), readCg(t, "/sys/fs/cgroup/cpuset", "cpuset.cpus"); got != want {
		t.Errorf("intermediate cpuset.cpus = %q, want the root's %q", got, want)
	}
	if got := readCg(t, mid, "cpuset.mems"); got == "" {
		t.Error("intermediate cpuset.mems left empty")
	}
	if got := readCg(t, cs, "cpuset.cpus"); got != "0" {
		t.Errorf("leaf cpuset.cpus = %q, want 0", got)
	}
	startIn(t, m, 0) // joining fails with ENOSPC if cpuset is uninitialised
	if err := m.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mid); err != nil {
		t.Errorf("Destroy removed the intermediate %s too: %v", mid, err)
	}
}
