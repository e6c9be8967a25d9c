package capabilities

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const childEnv = "HULL_CAPS_TEST_CHILD"

func init() {
	if os.Getenv(childEnv) != "" {
		runtime.LockOSThread() // capabilities are per-thread
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := childApply(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childApply applies a set on this thread and prints the thread's status.
func childApply() error {
	s, err := New(&specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_BPF"},
		Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_BPF"},
		Effective:   []string{"CAP_CHOWN"},
		Inheritable: []string{"CAP_KILL"},
		Ambient:     []string{"CAP_KILL", "CAP_CHOWN"},
	})
	if err != nil {
		return err
	}
	if err := s.DropBounding(); err != nil {
		return err
	}
	if err := s.Apply(); err != nil {
		return err
	}
	fmt.Println(strings.Join(s.Warnings(), "\n"))
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	os.Stdout.Write(data)
	return err
}

func TestApplyOnThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		"CapInh:\t0000000000000020",
		"CapPrm:\t0000008000000021",
		"CapEff:\t0000000000000001",
		"CapBnd:\t0000008000000021",
		"CapAmb:\t0000000000000020",
		"process.capabilities.ambient: [CAP_CHOWN] not in both permitted and inheritable, skipped",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		num  int
	}{
		{"CAP_CHOWN", 0}, {"CAP_SETPCAP", 8}, {"CAP_SYS_ADMIN", 21},
		{"CAP_AUDIT_READ", 37}, {"CAP_PERFMON", 38}, {"CAP_BPF", 39},
		{"CAP_CHECKPOINT_RESTORE", 40}, {"CAP_FOO", -1}, {"cap_chown", -1}, {"SYS_ADMIN", -1},
	}
	for _, tc := range tests {
		n, ok := Parse(tc.name)
		if n != tc.num || ok != (tc.num >= 0) {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
		if ok && Name(n) != tc.name {
			t.Errorf("Name(%d) = %q, want %q", n, Name(n), tc.name)
		}
	}
	if Name(50) != "CAP_50" {
		t.Errorf("Name(50) = %q", Name(50))
	}
	// Every kernel capability must have a name in hull's table.
	last, err := LastCap()
	if err != nil {
		t.Fatal(err)
	}
	if last >= len(Known()) {
		t.Errorf("kernel knows capability %d, hull only %d", last, len(Known())-1)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		caps *specs.LinuxCapabilities
		want string
	}{
		{nil, ""},
		{&specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}}, ""},
		{&specs.LinuxCapabilities{Bounding: []string{"CAP_FOO"}}, `process.capabilities.bounding: unknown capability "CAP_FOO"`},
		{&specs.LinuxCapabilities{Effective: []string{"CHOWN"}}, `process.capabilities.effective: unknown capability "CHOWN"`},
		{&specs.LinuxCapabilities{Inheritable: []string{""}}, `process.capabilities.inheritable: unknown capability ""`},
		{&specs.LinuxCapabilities{Permitted: []string{"CAP_X"}}, `process.capabilities.permitted: unknown capability "CAP_X"`},
		{&specs.LinuxCapabilities{Ambient: []string{"CAP_Y"}}, `process.capabilities.ambient: unknown capability "CAP_Y"`},
	}
	for _, tc := range tests {
		err := Validate(tc.caps)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.caps, err, tc.want)
		}
		if _, err2 := newSet(tc.caps, 40); (err2 == nil) != (err == nil) {
			t.Errorf("newSet and Validate disagree: %v vs %v", err2, err)
		}
	}
}

func TestNewSkipsCapsUnknownToKernel(t *testing.T) {
	// Pretend to run on a 5.4 kernel, whose last capability is CAP_AUDIT_READ.
	s, err := newSet(&specs.LinuxCapabilities{
		Bounding: []string{"CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON"},
	}, 37)
	if err != nil {
		t.Fatal(err)
	}
	if s.bounding != 1<<21 {
		t.Errorf("bounding = %v, want [CAP_SYS_ADMIN]", s.bounding)
	}
	w := strings.Join(s.Warnings(), "\n")
	for _, want := range []string{
		"process.capabilities.bounding: capability CAP_BPF is unknown to the running kernel (last capability 37), skipped",
		"capability CAP_PERFMON is unknown",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
}

func TestNilIsEmpty(t *testing.T) {
	s, err := newSet(nil, 40)
	if err != nil {
		t.Fatal(err)
	}
	if s.bounding|s.effective|s.permitted|s.inheritable|s.ambient != 0 {
		t.Errorf("nil capabilities produced %+v", s)
	}
}
