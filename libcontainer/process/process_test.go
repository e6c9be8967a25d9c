package process_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/procfs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func u32(v uint32) *uint32 { return &v }

var applyCases = map[string]func() error{
	"rlimits": func() error {
		return process.SetRlimits([]specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		})
	},
	"rlimit-raise": func() error {
		var cur unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
			return err
		}
		return process.SetRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Max, Hard: cur.Max + 1}})
	},
	"oom": func() error {
		h, err := procfs.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		return process.SetOOMScoreAdj(h, 500)
	},
	"sched-batch": func() error {
		return process.SetScheduler(&specs.Scheduler{Policy: specs.SchedBatch, Nice: 7})
	},
	"sched-fifo": func() error {
		return process.SetScheduler(&specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}})
	},
	"ioprio": func() error {
		return process.SetIOPriority(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6})
	},
	"affinity": func() error { return process.SetCPUAffinity("0") },
	"personality": func() error {
		return process.SetPersonality(&specs.LinuxPersonality{Domain: specs.PerLinux32})
	},
	"user-caps": func() error {
		caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
		set, err := capabilities.New(&specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps})
		if err != nil {
			return err
		}
		u := specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{20, 10}, Umask: u32(0o027)}
		if err := process.SetUmask(u.Umask); err != nil {
			return err
		}
		return capabilities.ApplyWithUser(set, func() error { return process.SetUser(u) })
	},
	"root-caps": func() error {
		set, err := capabilities.New(&specs.LinuxCapabilities{
			Bounding:  []string{"CAP_CHOWN", "CAP_SETUID"},
			Effective: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"},
		})
		if err != nil {
			return err
		}
		return capabilities.ApplyWithUser(set, func() error { return process.SetUser(specs.User{}) })
	},
	"user-nocaps": func() error {
		set, err := capabilities.New(nil)
		if err != nil {
			return err
		}
		return capabilities.ApplyWithUser(set, func() error { return process.SetUser(specs.User{UID: 65534, GID: 65534}) })
	},
}

func TestSetRlimits(t *testing.T) {
	r := runCase(t, "rlimits", "")
	if s, h := r.limit(t, "Max open files"); s != "512" || h != "1024" {
		t.Errorf("NOFILE = %s/%s, want 512/1024", s, h)
	}
	if s, h := r.limit(t, "Max core file size"); s != "0" || h != "0" {
		t.Errorf("CORE = %s/%s, want 0/0", s, h)
	}
}

func TestSetRlimitsRaiseHardFails(t *testing.T) {
	caps, _ := os.ReadFile("/proc/self/status")
	if !strings.Contains(string(caps), "CapEff:\t000001fffeffffff") {
		t.Skip("CAP_SYS_RESOURCE may be held here; raising a hard limit would succeed")
	}
	runCase(t, "rlimit-raise", "set rlimit RLIMIT_NOFILE soft=")
}

func TestSetOOMScoreAdj(t *testing.T) {
	if r := runCase(t, "oom", ""); r.OOMScoreAdj != "500" {
		t.Errorf("oom_score_adj = %s, want 500", r.OOMScoreAdj)
	}
}

func TestSetScheduler(t *testing.T) {
	r := runCase(t, "sched-batch", "")
	if r.Sched.Policy != 3 || r.Sched.Nice != 7 {
		t.Errorf("batch: got policy %d nice %d, want 3/7", r.Sched.Policy, r.Sched.Nice)
	}
	r = runCase(t, "sched-fifo", "")
	if r.Sched.Policy != 1 || r.Sched.Priority != 10 || r.Sched.Flags&unix.SCHED_FLAG_RESET_ON_FORK == 0 {
		t.Errorf("fifo: got %+v, want policy 1 priority 10 reset-on-fork", r.Sched)
	}
}

func TestSetIOPriority(t *testing.T) {
	if r := runCase(t, "ioprio", ""); r.IOPrio != 2<<13|6 {
		t.Errorf("ioprio = %#x, want %#x", r.IOPrio, 2<<13|6)
	}
}

func TestSetCPUAffinity(t *testing.T) {
	if r := runCase(t, "affinity", ""); !slices.Equal(r.CPUs, []int{0}) {
		t.Errorf("affinity = %v, want [0]", r.CPUs)
	}
}

func TestSetPersonality(t *testing.T) {
	if r := runCase(t, "personality", ""); r.Personality&0xff != 0x0008 {
		t.Errorf("personality = %#x, want PER_LINUX32", r.Personality)
	}
}

func TestApplyWithUserNonRoot(t *testing.T) {
	r := runCase(t, "user-caps", "")
	want := uint64(1<<unix.CAP_KILL | 1<<unix.CAP_NET_BIND_SERVICE)
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if got := capMask(t, r, k); got != want {
			t.Errorf("%s = %#x, want %#x", k, got, want)
		}
	}
	checkIDs(t, r, "1000", "10 20")
	if r.Umask != 0o027 {
		t.Errorf("umask = %#o, want 027", r.Umask)
	}
}

func TestApplyWithUserRoot(t *testing.T) {
	r := runCase(t, "root-caps", "")
	// execve as uid 0 grants the whole bounding set (capabilities(7)).
	want := uint64(1<<unix.CAP_CHOWN | 1<<unix.CAP_SETUID)
	for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
		if got := capMask(t, r, k); got != want {
			t.Errorf("%s = %#x, want %#x", k, got, want)
		}
	}
	if capMask(t, r, "CapAmb") != 0 || capMask(t, r, "CapInh") != 0 {
		t.Errorf("ambient/inheritable not empty: %v", r.Status)
	}
}

func TestApplyWithUserNilCaps(t *testing.T) {
	r := runCase(t, "user-nocaps", "")
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if got := capMask(t, r, k); got != 0 {
			t.Errorf("%s = %#x, want 0", k, got)
		}
	}
	checkIDs(t, r, "65534", "")
}

func checkIDs(t *testing.T, r *report, id, groups string) {
	t.Helper()
	wantIDs := strings.Repeat(id+"\t", 3) + id
	if r.Status["Uid"] != wantIDs || r.Status["Gid"] != wantIDs {
		t.Errorf("Uid %q Gid %q, want %q", r.Status["Uid"], r.Status["Gid"], wantIDs)
	}
	if r.Status["Groups"] != groups {
		t.Errorf("Groups %q, want %q", r.Status["Groups"], groups)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "data"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(bin, "adir"), 0o755)
	t.Setenv("PATH", "/nonexistent") // hull's own PATH must not be used
	tests := []struct {
		arg0, want, err string
		env             []string
	}{
		{arg0: "tool", env: []string{"PATH=/x:" + bin}, want: filepath.Join(bin, "tool")},
		{arg0: "tool", env: []string{"PATH=/x", "PATH=" + bin}, want: filepath.Join(bin, "tool")},
		{arg0: "sh", env: nil, want: "/usr/bin/sh"},
		{arg0: filepath.Join(bin, "tool"), want: filepath.Join(bin, "tool")},
		{arg0: "data", env: []string{"PATH=" + bin}, err: `process.args[0] "data": executable file not found in PATH`},
		{arg0: "adir", env: []string{"PATH=" + bin}, err: "executable file not found"},
		{arg0: filepath.Join(bin, "data"), err: "not executable"},
		{arg0: "/no/such", err: `process.args[0] "/no/such"`},
		{arg0: "", err: "empty executable name"},
	}
	for _, tc := range tests {
		got, err := process.LookPath(tc.arg0, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LookPath(%q): err %v, want %q", tc.arg0, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("LookPath(%q, %v) = %q, %v; want %q", tc.arg0, tc.env, got, err, tc.want)
		}
	}
}
