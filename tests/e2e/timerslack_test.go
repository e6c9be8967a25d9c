package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hull's own threads sleep with a timer slack of 1 ms, its sysmon 10 ms
// (internal/threadslack), but the container's processes and the hooks keep
// the caller's: a container started by `run`, a process added by `exec` and
// every hook hull runs see the timer slack of the thread that started hull,
// not hull's. Twice: hull forks the C stage from its
// main thread when it seals its binary with an overlay, and from a thread
// of its own when it seals it in a private mount namespace (the fallback,
// taken here by installing hull inside its state root: overlayfs refuses a
// layer below another); with the Go init (HULL_GO_INIT=1), which starts a
// Go runtime, and with it threads, in the init before it execs the
// container's program; and with a user namespace.
func TestTimerSlackIsTheCallers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hullInRoot bool
		env        []string
		edit       func(*specs.Spec)
	}{
		{"overlay", false, nil, nil},
		{"private namespace", true, nil, nil},
		{"Go init", false, []string{"HULL_GO_INIT=1"}, nil},
		// No hooks here: the mapped root may not write to the test's directory.
		{"user namespace", false, nil, withUserNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) { testTimerSlack(t, tc.hullInRoot, tc.env, tc.edit) })
	}
}

func testTimerSlack(t *testing.T, hullInRoot bool, env []string, edit func(*specs.Spec)) {
	const callers = 123000 // ns: neither the kernel's default nor hull's
	// hull inherits the slack of the thread that forks it: this one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, callers, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)

	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = sh("cat /proc/self/timerslack_ns; exec sleep 30")
		if edit != nil {
			edit(s)
		}
	})
	c.env = env
	if hullInRoot {
		c.bin = installBeside(t, c.bin, filepath.Join(c.Root, "bin"))
	}
	// Hooks are forked from hull's main thread and, createContainer's,
	// from its rootfs thread: each writes its timer slack to out/<kind>.
	var hookKinds []string
	if edit == nil {
		hookKinds = []string{"prestart", "createRuntime", "createContainer", "poststart", "poststop"}
	}
	out := c.outDir()
	slackHook := func(kind string) []specs.Hook {
		script := `cat /proc/self/timerslack_ns > "$1"`
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", script, "sh", filepath.Join(out, kind)}}}
	}
	if hookKinds != nil {
		c.Spec.Hooks = &specs.Hooks{
			//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
			Prestart:        slackHook("prestart"), //nolint:staticcheck // deprecated, still in the spec
			CreateRuntime:   slackHook("createRuntime"),
			CreateContainer: slackHook("createContainer"),
			Poststart:       slackHook("poststart"),
			Poststop:        slackHook("poststop"),
		}
		c.writeSpec()
	}
	p := c.runUntilRunning()
	defer p.wait()
	defer c.hull("kill", c.ID, "KILL")
	checkHullThreads(t, p.cmd.Process.Pid, callers)
	exec := c.mustHull("exec", c.ID, "cat", "/proc/self/timerslack_ns")
	want := strconv.Itoa(callers)
	if got := strings.TrimSpace(exec.Stdout); got != want {
		t.Errorf("exec'd process: timer slack %q ns, want the caller's %s", got, want)
	}
	c.hull("kill", c.ID, "KILL")
	run := p.wait()
	if got := strings.TrimSpace(run.Stdout); got != want {
		t.Errorf("container's init: timer slack %q ns, want the caller's %s", got, want)
	}
	for _, kind := range hookKinds {
		got, err := os.ReadFile(filepath.Join(out, kind))
		if err != nil {
			t.Errorf("%s hook: %v", kind, err)
		} else if strings.TrimSpace(string(got)) != want {
			t.Errorf("%s hook: timer slack %q ns, want the caller's %s", kind, strings.TrimSpace(string(got)), want)
		}
	}
}

// checkHullThreads: hull's main thread keeps the caller's timer slack, the
// first thread the runtime started (sysmon) has 10 ms, every other 1 ms.
// A thread sets its own slack as it starts, so one caught between its
// clone and its first instruction still has its creator's (sysmon's, when
// sysmon started it): the check looks again, for up to a second, until
// every thread has settled; a thread that keeps a wrong slack fails it.
func checkHullThreads(t *testing.T, pid, callers int) {
	t.Helper()
	var problems []string
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if problems, err = hullThreadSlackProblems(pid, callers); err != nil {
			t.Fatal(err)
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// hullThreadSlackProblems reads the timer slack of each of pid's threads
// once and says what is wrong with them.
func hullThreadSlackProblems(pid, callers int) ([]string, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var slacks, problems []string
	sysmons := 0
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", tid))
		if errors.Is(err, os.ErrNotExist) { // the thread ended since ReadDir
			continue
		}
		if err != nil {
			return nil, err
		}
		slack, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		slacks = append(slacks, fmt.Sprintf("%d:%d", tid, slack))
		switch {
		case tid == pid && slack == callers:
		case tid != pid && slack == 1000000:
		case tid != pid && slack == 10000000:
			sysmons++
		default:
			problems = append(problems, fmt.Sprintf("hull's thread %d (main: %v): timer slack %d ns", tid, tid == pid, slack))
		}
	}
	if sysmons != 1 {
		problems = append(problems, fmt.Sprintf("hull has %d threads with sysmon's 10 ms timer slack, want 1 (tid:slack %v)", sysmons, slacks))
	}
	return problems, nil
}

// installBeside copies hull and the programs installed beside it into dir,
// and returns the copy of hull.
func installBeside(t *testing.T, hull, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Base(hull), "hull-stage", "hull-stubinit"} {
		from := filepath.Join(filepath.Dir(hull), name)
		if _, err := os.Stat(from); err != nil {
			if os.IsNotExist(err) && name != filepath.Base(hull) {
				continue
			}
			t.Fatal(err)
		}
		copyExecutable(t, from, filepath.Join(dir, name))
	}
	return filepath.Join(dir, filepath.Base(hull))
}
