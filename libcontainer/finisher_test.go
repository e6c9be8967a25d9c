package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/wire"
)

func finisherSpec() *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"}},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}},
	}
}

// TestFinisherRefusal: each condition the C finisher leaves to the Go init
// is named; a plain process is the finisher's.
func TestFinisherRefusal(t *testing.T) {
	cases := []struct {
		want string
		edit func(*specs.Spec)
	}{
		{"", func(*specs.Spec) {}},
		{"", func(s *specs.Spec) { s.Process.Terminal = true }},
		{"process.terminal with a user namespace", func(s *specs.Spec) {
			s.Process.Terminal = true
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}},
		{"process.apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "p" }},
		{"process.scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{} }},
		{"process.execCPUAffinity.final", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"} }},
		{"linux.memoryPolicy", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{} }},
		{"no mount namespace of its own (chroot)", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[1:] }},
	}
	for _, c := range cases {
		s := finisherSpec()
		c.edit(s)
		if got := finisherRefusal(s, nil); got != c.want && !(c.want == "" && runningInUserNS()) {
			t.Errorf("finisherRefusal = %q, want %q", got, c.want)
		}
	}
	t.Setenv(goInitEnv, "1")
	if got := finisherRefusal(finisherSpec(), nil); got != goInitEnv+"=1" {
		t.Errorf("with %s=1: %q", goInitEnv, got)
	}
}

// TestFinisherProcess resolves a spec against this test's own root.
func TestFinisherProcess(t *testing.T) {
	s := finisherSpec()
	umask := uint32(0o007)
	s.Process.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{100, 10, 10}, Umask: &umask}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}
	s.Process.NoNewPrivileges = true
	caps, err := capabilities.New(s.Process.Capabilities)
	if err != nil {
		t.Fatal(err)
	}
	m, err := finisherProcess(s, finisherOpts{rootPid: os.Getpid(), fifoFD: 5, capabilities: caps})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Program, "/sh") || m.Cwd != "/" || m.FifoFD != 5 || m.ConsoleFD != -1 {
		t.Errorf("program %q cwd %q fifo %d console %d", m.Program, m.Cwd, m.FifoFD, m.ConsoleFD)
	}
	if m.Umask != 0o007 || m.Flags != wire.FlagNoNewPrivs || len(m.Groups) != 2 || m.Groups[0] != 100 || m.Groups[1] != 10 {
		t.Errorf("umask %o flags %d groups %v", m.Umask, m.Flags, m.Groups)
	}
	if m.Caps[wire.CapBounding] != 1<<5|1 || m.Caps[wire.CapEffective] != 1<<5 || m.Caps[wire.CapAmbient] != 0 {
		t.Errorf("caps %x", m.Caps)
	}
	if len(m.Rlimits) != 1 || m.Rlimits[0] != (wire.Rlimit{Resource: 7, Soft: 10, Hard: 20}) {
		t.Errorf("rlimits %v", m.Rlimits)
	}
	if m.Env[len(m.Env)-1] == "" || !strings.HasPrefix(m.Env[len(m.Env)-1], "HOME=") {
		t.Errorf("env %q: no HOME", m.Env)
	}
	s.Process.Args = []string{"no-such-program-hull"}
	if _, err := finisherProcess(s, finisherOpts{rootPid: os.Getpid(), capabilities: caps}); err == nil || !strings.HasPrefix(err.Error(), "find program: ") {
		t.Errorf("missing program: %v", err)
	}
}

// procsOnly is a cgroup manager that only lists its cgroup.procs files.
type procsOnly struct {
	cgroups.Manager
	files []string
}

func (m procsOnly) ProcsFiles() []string { return m.files }

func TestInCgroupSkipsJoined(t *testing.T) {
	dir := t.TempDir()
	listing := func(name, content string) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		if content != "" {
			os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(content), 0o644)
		}
		return filepath.Join(d, "cgroup.procs")
	}
	cpu := listing("cpu", "1\n42\n")   // lists the pid
	mem := listing("memory", "1\n7\n") // does not
	pids := listing("pids", "")        // no file: unreadable
	tasks := func(f string) string { return filepath.Join(filepath.Dir(f), "tasks") }
	for _, tc := range []struct {
		name   string
		files  []string
		joined []string
		want   bool
	}{
		{"listed", []string{cpu}, nil, true},
		{"not listed", []string{cpu, mem}, nil, false},
		{"unreadable", []string{pids}, nil, false},
		{"joined ones are not read", []string{cpu, mem, pids}, []string{tasks(mem), tasks(pids)}, true},
		{"the others still are", []string{cpu, mem, pids}, []string{tasks(pids)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inCgroup(procsOnly{files: tc.files}, 42, tc.joined); got != tc.want {
				t.Errorf("inCgroup = %v, want %v", got, tc.want)
			}
		})
	}
}
