package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// stageName is the C stage's own program, which hull starts from beside
// its binary (libcontainer/nsenter.StageName).
const stageName = "hull-stage"

// stageOf is the hull-stage installed beside bin; `make build` puts it
// beside _build/hull.
func stageOf(t *testing.T, bin string) string {
	t.Helper()
	stage := filepath.Join(filepath.Dir(bin), stageName)
	if _, err := os.Stat(stage); err != nil {
		t.Fatalf("no %s beside %s (make build makes it): %v", stageName, bin, err)
	}
	return stage
}

// hullAlone copies bin alone into a directory of its own: a hull without
// hull-stage beside it.
func hullAlone(t *testing.T, bin string) string {
	t.Helper()
	alone := filepath.Join(t.TempDir(), "hull")
	copyExecutable(t, bin, alone)
	return alone
}

// wantExe checks that pid runs the program file names: /proc/PID/exe
// reads "/NAME" through the seal's overlay (its root is the binary's
// directory; the path itself through the private bind) and is as big as
// file.
func wantExe(t *testing.T, pid int, file string) {
	t.Helper()
	exe := "/proc/" + strconv.Itoa(pid) + "/exe"
	link, err := os.Readlink(exe)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(link) != filepath.Base(file) {
		t.Errorf("%s -> %q, want %s", exe, link, file)
	}
	got, err1 := os.Stat(exe)
	want, err2 := os.Stat(file)
	if err1 != nil || err2 != nil || got.Size() != want.Size() {
		t.Errorf("%s: %v bytes (%v), %s: %v bytes (%v)", exe, got.Size(), err1, file, want.Size(), err2)
	}
}

// TestStageRunsInitAndExec: a created container's init, and a process
// exec'd into it, run hull-stage (the C stage and finisher without the
// hull binary) until they exec their program. The exec'd process is seen
// before its exec in a paused container: hull places it in the frozen
// cgroup before it reads its message.
func TestStageRunsInitAndExec(t *testing.T) {
	requireParentBuild(t)
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	stage := stageOf(t, c.bin)
	c.mustCreate()
	init := c.state().Pid
	wantExe(t, init, stage)
	c.mustHull("start", c.ID)
	wantExecExe(t, c, init, stage)
}

// wantExecExe checks that a process exec'd into c (running, init its
// init's pid) runs file until it execs: seen in the paused container,
// where hull places it in the frozen cgroup before it reads its message.
func wantExecExe(t *testing.T, c *container, init int, file string) {
	t.Helper()
	c.mustHull("pause", c.ID)
	exec := c.startHull(nil, "exec", "--ignore-paused", c.ID, "true")
	var pid int
	waitUntil(10*time.Second, func() bool {
		for _, p := range procsInCgroup(c.Cgroup) {
			if p != init {
				pid = p
				return true
			}
		}
		return false
	})
	if pid == 0 {
		c.hull("resume", c.ID)
		t.Fatalf("no exec'd process in the paused container's cgroup: %s", exec.wait())
	}
	wantExe(t, pid, file)
	c.mustHull("resume", c.ID)
	if r := exec.wait(); r.Code != 0 {
		t.Fatalf("exec after resume: %s", r)
	}
}

// TestStageFallbackHullAlone: hull without hull-stage beside it starts its
// own binary for the C stage, as before there was one: run, create and
// exec work, and the init and the exec'd process run hull.
func TestStageFallbackHullAlone(t *testing.T) {
	requireParentBuild(t)
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	c.bin = hullAlone(t, c.bin)
	c.mustCreate()
	init := c.state().Pid
	wantExe(t, init, c.bin)
	c.mustHull("start", c.ID)
	wantExecExe(t, c, init, c.bin)
	if out := c.mustHull("exec", c.ID, "echo", "exec'd").Stdout; out != "exec'd\n" {
		t.Errorf("exec printed %q", out)
	}
	c.mustHull("kill", c.ID, "KILL")
	waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" })
	c.mustHull("delete", c.ID)

	r := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"echo", "ran"} })
	r.bin = c.bin
	if res := r.run(); res.Code != 0 || res.Stdout != "ran\n" {
		t.Errorf("run with hull alone: %s", res)
	}
}
