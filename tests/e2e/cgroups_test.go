package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCgroupResources: linux.resources land in the real cgroup files of the
// container's cgroup, and its init is in every hierarchy's cgroup.procs.
func TestCgroupResources(t *testing.T) {
	t.Parallel()
	limit, shares, quota, period, pids := int64(64<<20), uint64(512), int64(50000), uint64(100000), int64(42)
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	})
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/memory is missing")
	}
	c.mustCreate()
	pid := c.state().Pid
	wantCgroupFiles(t, c.Cgroup, []cgroupFile{
		{"memory", "memory.limit_in_bytes", strconv.FormatInt(limit, 10)},
		{"cpu", "cpu.shares", strconv.FormatUint(shares, 10)},
		{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)},
		{"cpu", "cpu.cfs_period_us", strconv.FormatUint(period, 10)},
		{"pids", "pids.max", strconv.FormatInt(pids, 10)},
	})
	dirs := cgroupDirs(c.Cgroup)
	if len(dirs) < 5 {
		t.Errorf("cgroup %s made in only %v", c.Cgroup, dirs)
	}
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if !containsLine(string(data), strconv.Itoa(pid)) {
			t.Errorf("init %d not in %s/cgroup.procs: %q", pid, d, data)
		}
	}
}

// TestCgroupPidsLimitEnforced: the pids limit really stops forks.
func TestCgroupPidsLimitEnforced(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		five := int64(5)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &five}
	})
	c.Spec.Process.Args = sh("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo all-started")
	c.writeSpec()
	// The shell exits non-zero when a fork fails: that is the point.
	r := c.run()
	if strings.Contains(r.Stdout, "all-started") || !strings.Contains(r.Stdout+r.Stderr, "Resource temporarily unavailable") {
		t.Errorf("8 background sleeps under pids.max 5: %s", r)
	}
}

func containsLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// TestCpusetParentNotFilled: a cpuset parent cgroup that exists but whose
// cpus and mems are still empty, as when a concurrent hull create has just
// made it and not yet filled it, must not yield an unusable container
// cgroup. hull copies each new level from its parent only, so today the
// child stays empty and placing the init fails with ENOSPC.
func TestCpusetParentNotFilled(t *testing.T) {
	t.Parallel()
	root := "/sys/fs/cgroup/cpuset"
	if _, err := os.Stat(filepath.Join(root, "cpuset.cpus")); err != nil {
		t.Skip("no cgroup v1 cpuset hierarchy")
	}
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	parent := c.Cgroup
	c.Cgroup = parent + "/child"
	c.Spec.Linux.CgroupsPath = c.Cgroup
	c.writeSpec()
	dir := filepath.Join(root, parent)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Registered after c's cleanup, so it runs first: the parent goes once
	// its child is gone.
	// hull, like runc, leaves the parent levels it made in the other
	// hierarchies: they are this test's to remove.
	t.Cleanup(func() {
		for _, d := range cgroupDirs(parent) {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove %s: %v", d, err)
			}
		}
	})
	if r := c.run(); r.Code != 0 {
		t.Errorf("container under an unfilled cpuset parent: %s", r)
	}
}

// TestUpdate: runc's legacy flags and --resources reach the real cgroup
// files of a running container, and unset flags leave the rest alone.
func TestUpdate(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/memory is missing")
	}
	shares := uint64(256)
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares}
	})
	c.mustCreate()
	c.mustHull("start", c.ID)
	c.mustHull("update", "--cpu-quota", "30000", "--cpu-period", "100000", "--memory", "48m", "--pids-limit", "77", c.ID)
	resources := filepath.Join(c.tmp, "resources.json")
	if err := os.WriteFile(resources, []byte(`{"cpu":{"shares":700}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustHull("update", "--resources", resources, c.ID)
	wantCgroupFiles(t, c.Cgroup, []cgroupFile{
		{"cpu", "cpu.cfs_quota_us", "30000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "700"},
		{"memory", "memory.limit_in_bytes", strconv.Itoa(48 << 20)},
		{"pids", "pids.max", "77"},
	})
	if r := c.hull("update", "--memory", "lots", c.ID); r.Code == 0 || !strings.Contains(r.Stderr, `--memory "lots"`) {
		t.Errorf("bad --memory accepted or not named: %s", r)
	}
}

// cgroupFile is a v1 controller's file and the value it must hold.
type cgroupFile struct{ ctrl, file, want string }

func wantCgroupFiles(t *testing.T, cgroup string, files []cgroupFile) {
	t.Helper()
	for _, f := range files {
		path := filepath.Join("/sys/fs/cgroup", f.ctrl, cgroup, f.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v", err)
		} else if got := strings.TrimSpace(string(data)); got != f.want {
			t.Errorf("%s = %s, want %s", path, got, f.want)
		}
	}
}
