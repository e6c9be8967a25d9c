package process_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The real-behaviour tests run in two re-executions of the test binary:
// applyEnv names a case that applies settings on a locked thread and then
// execs the binary again in report mode, which records what the exec'd
// program actually got. Attributes that do not survive execve (or live only
// on the wrong thread) therefore fail the test.
const (
	applyEnv  = "HULL_PROCESS_TEST_APPLY"
	reportEnv = "HULL_PROCESS_TEST_REPORT"
)

type report struct {
	Status      map[string]string
	Limits      string
	OOMScoreAdj string
	Sched       unix.SchedAttr
	IOPrio      int
	CPUs        []int
	Personality int
	Umask       int
}

func init() {
	if os.Getenv(applyEnv) != "" || os.Getenv(reportEnv) != "" {
		// init runs on the main thread; keep it so per-thread attributes set
		// by the case are the ones execve carries over.
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(reportEnv) != "" {
		writeReport()
		os.Exit(0)
	}
	if name := os.Getenv(applyEnv); name != "" {
		if err := applyCases[name](); err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			os.Exit(3)
		}
		argv := []string{os.Args[0]}
		if strings.HasPrefix(name, "rlimit") {
			// A Go program raises its own soft NOFILE limit at startup, so
			// let a C program show what execve really passed on.
			argv = []string{"/bin/cat", "/proc/self/limits"}
		}
		env := append(os.Environ(), reportEnv+"=1")
		err := syscall.Exec(argv[0], argv, env)
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(4)
	}
	os.Exit(m.Run())
}

func writeReport() {
	var r report
	status, _ := os.ReadFile("/proc/self/status")
	r.Status = make(map[string]string)
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			r.Status[k] = strings.TrimSpace(v)
		}
	}
	limits, _ := os.ReadFile("/proc/self/limits")
	r.Limits = string(limits)
	oom, _ := os.ReadFile("/proc/self/oom_score_adj")
	r.OOMScoreAdj = strings.TrimSpace(string(oom))
	if a, err := unix.SchedGetAttr(0, 0); err == nil {
		r.Sched = *a
	}
	prio, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, 1, 0, 0)
	r.IOPrio = int(prio)
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for c := 0; c < len(set)*64; c++ {
			if set.IsSet(c) {
				r.CPUs = append(r.CPUs, c)
			}
		}
	}
	pers, _, _ := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	r.Personality = int(pers)
	r.Umask = unix.Umask(0)
	json.NewEncoder(os.Stdout).Encode(&r)
}

// runCase applies case name in a child and returns what the exec'd program
// saw. If wantErr is non-empty the apply step must fail with it instead.
func runCase(t *testing.T, name string, wantErr string) *report {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command(publicCopy(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), applyEnv+"="+name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if wantErr != "" {
		if err == nil || !strings.Contains(stderr.String(), wantErr) {
			t.Fatalf("case %s: want failure containing %q, got err=%v stderr=%s", name, wantErr, err, stderr.String())
		}
		return nil
	}
	if err != nil {
		t.Fatalf("case %s: %v\n%s", name, err, stderr.String())
	}
	var r report
	if strings.HasPrefix(name, "rlimit") {
		r.Limits = string(out)
		return &r
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("case %s: bad report %q: %v", name, out, err)
	}
	return &r
}

// limitLine returns the soft and hard columns of /proc/self/limits for name
// ("Max open files").
func (r *report) limit(t *testing.T, name string) (string, string) {
	t.Helper()
	for _, line := range strings.Split(r.Limits, "\n") {
		if strings.HasPrefix(line, name) {
			f := strings.Fields(line[len(name):])
			return f[0], f[1]
		}
	}
	t.Fatalf("no %q in limits:\n%s", name, r.Limits)
	return "", ""
}

func capMask(t *testing.T, r *report, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(r.Status[key], 16, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", key, r.Status[key], err)
	}
	return v
}

// publicCopy copies the test binary to a world-accessible directory, so the
// cases that switch to an unprivileged uid can still exec it.
func publicCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hull-process-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "process.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
