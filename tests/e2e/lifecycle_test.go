package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// trapScript records, in /tmp/sig, the name of the first of the trapped
// signals it receives, then exits; it announces its traps in /tmp/ready.
const trapScript = `for s in TERM USR1 USR2 HUP; do trap "echo $s > /tmp/sig; exit 0" $s; done
sleep 1000 & echo $! > /tmp/child
echo ok > /tmp/ready
while :; do sleep 0.05; done`

func TestLifecycleKill(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string // after the id
		all     bool
		wantSig string // "" when KILL: nothing can record it
	}{
		{name: "default-TERM", wantSig: "TERM"},
		{name: "number", args: []string{strconv.Itoa(int(syscall.SIGUSR1))}, wantSig: "USR1"},
		{name: "name", args: []string{"USR2"}, wantSig: "USR2"},
		{name: "SIG-name", args: []string{"SIGHUP"}, wantSig: "HUP"},
		{name: "all-KILL", args: []string{"KILL"}, all: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, nil)
			out := c.outDir()
			c.Spec.Process.Args = sh(trapScript)
			c.writeSpec()
			testLifecycle(t, c, out, tc.args, tc.all, tc.wantSig)
		})
	}
}

// testLifecycle walks c through create, start, kill and delete, checking
// the state, namespaces and cgroup at each step.
func testLifecycle(t *testing.T, c *container, out string, sig []string, all bool, wantSig string) {
	c.mustCreate()
	s := c.wantStatus("created")
	if s.Pid <= 0 {
		t.Fatalf("created container has pid %d", s.Pid)
	}
	if ns, err := os.Readlink("/proc/" + strconv.Itoa(s.Pid) + "/ns/pid"); err != nil || ns == hostNS(t, "pid") {
		t.Errorf("init's pid namespace %q (%v) is the host's", ns, err)
	}
	if len(cgroupDirs(c.Cgroup)) == 0 {
		t.Errorf("no cgroup dir for %s while created", c.Cgroup)
	}
	c.mustHull("start", c.ID)
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	if s2 := c.wantStatus("running"); s2.Pid != s.Pid {
		t.Errorf("running pid %d, created pid %d", s2.Pid, s.Pid)
	}
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	c.mustHull(append(append(args, c.ID), sig...)...)
	if !waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" }) {
		t.Fatalf("not stopped after kill %v", sig)
	}
	if wantSig != "" {
		if got := strings.TrimSpace(waitFile(t, filepath.Join(out, "sig"), time.Second)); got != wantSig {
			t.Errorf("container got SIG%s, want SIG%s", got, wantSig)
		}
	}
	c.reap()
	c.mustHull("delete", c.ID)
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir after delete: %v", err)
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		t.Errorf("cgroup dirs after delete: %v", dirs)
	}
}

func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		script string
		want   int
	}{
		{"zero", "true", 0},
		{"three", "exit 3", 3},
		{"not-found-in-shell", "nonexistent-cmd", 127},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) { s.Process.Args = sh(tc.script) })
			if r := c.run(); r.Code != tc.want {
				t.Errorf("exit %d, want %d: %s", r.Code, tc.want, r)
			}
		})
	}
}

// TestRunKilledBySignal: a container killed by signal N makes hull run exit 128+N.
func TestRunKilledBySignal(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	out := c.outDir()
	c.Spec.Process.Args = sh("echo ok > /tmp/ready; sleep 1000")
	c.writeSpec()
	p := c.startHull(nil, "run", "--bundle", c.Bundle, c.ID)
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	c.mustHull("kill", c.ID, "KILL")
	if r := p.wait(); r.Code != exitSignal(syscall.SIGKILL) {
		t.Errorf("hull run exit %d, want %d: %s", r.Code, exitSignal(syscall.SIGKILL), r)
	}
}

// TestRunForwardsSignals: a signal sent to hull run reaches the container.
func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	out := c.outDir()
	c.Spec.Process.Args = sh(`trap "echo got-usr1; exit 42" USR1; echo ok > /tmp/ready; while :; do sleep 0.05; done`)
	c.writeSpec()
	p := c.startHull(nil, "run", "--bundle", c.Bundle, c.ID)
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	r := p.wait()
	if r.Code != 42 || !strings.Contains(r.Stdout, "got-usr1") {
		t.Errorf("want exit 42 and the trap's output: %s", r)
	}
}

func TestRunDetach(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	start := time.Now()
	if r := c.run("--detach"); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run --detach took %v", d)
	}
	c.recordInit()
	s := c.wantStatus("running")
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid) + "/cmdline"); err != nil || !strings.HasPrefix(string(data), "sleep\x00") {
		t.Errorf("init cmdline %q (%v), want sleep 1000", data, err)
	}
	if r := c.hull("delete", c.ID); r.Code == 0 {
		t.Errorf("delete of a running container succeeded: %s", r)
	} else {
		wantContains(t, r.Stderr, "not stopped")
	}
	c.mustHull("delete", "--force", c.ID)
	c.reap()
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir after delete --force: %v", err)
	}
}

func TestRunKeep(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	if r := c.run("--keep"); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	c.wantStatus("stopped")
	c.mustHull("delete", c.ID)
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir after delete: %v", err)
	}
}

func TestRunRemovesState(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	if r := c.run(); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir after run: %v", err)
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		t.Errorf("cgroup dirs after run: %v", dirs)
	}
}

func TestPidFile(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	pidFile := filepath.Join(c.tmp, "init.pid")
	c.mustCreate("--pid-file", pidFile)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.state(); strconv.Itoa(s.Pid) != string(data) {
		t.Errorf("--pid-file has %q, state pid %d", data, s.Pid)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	c.mustCreate()
	pid := c.state().Pid
	table := c.mustHull("list").Stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list table:\n%s", table)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[0] != c.ID || f[1] != strconv.Itoa(pid) || f[2] != "created" || f[3] != c.Bundle {
		t.Errorf("list row %q, want %s %d created %s", lines[1], c.ID, pid, c.Bundle)
	}
	var states []ctrState
	js := c.mustHull("list", "--format", "json").Stdout
	if err := json.Unmarshal([]byte(js), &states); err != nil {
		t.Fatalf("list --format json: %v: %s", err, js)
	}
	if len(states) != 1 || states[0].ID != c.ID || states[0].Status != "created" || states[0].Pid != pid {
		t.Errorf("list --format json: %+v", states)
	}
}

func TestStateFields(t *testing.T) {
	t.Parallel()
	annotations := map[string]string{"org.hull.e2e/test": "state-fields"}
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Annotations = annotations
	})
	before := time.Now().Add(-time.Second)
	c.mustCreate()
	raw := c.mustHull("state", c.ID).Stdout
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatalf("state: %v: %s", err, raw)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "annotations"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("state lacks %q: %s", k, raw)
		}
	}
	s := c.state()
	if s.OCIVersion != specs.Version || s.ID != c.ID || s.Bundle != c.Bundle || s.Rootfs != c.Spec.Root.Path {
		t.Errorf("state %+v: want ociVersion %s, id %s, bundle %s, rootfs %s", s, specs.Version, c.ID, c.Bundle, c.Spec.Root.Path)
	}
	if s.Created.Before(before) || s.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("created %v is not about now", s.Created)
	}
	if s.Annotations["org.hull.e2e/test"] != "state-fields" {
		t.Errorf("annotations %v, want %v", s.Annotations, annotations)
	}
}

// TestStoppedStateHasPid: a stopped container's state says "pid": 0, as
// runc's (the control) does; the spec's State type would leave it out.
func TestStoppedStateHasPid(t *testing.T) {
	t.Parallel()
	for _, c := range withControls(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} }) {
		if r := c.run("--keep"); r.Code != 0 {
			t.Fatalf("%s: %s", c.runtimeName(), r)
		}
		raw := c.mustHull("state", c.ID).Stdout
		var fields map[string]any
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			t.Fatalf("%s state: %v: %s", c.runtimeName(), err, raw)
		}
		if fields["status"] != "stopped" || fields["pid"] != float64(0) {
			t.Errorf("%s state of a stopped container: want status stopped and pid 0: %s", c.runtimeName(), raw)
		}
	}
}

// TestErrorMessages: the messages container engines match on.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	if r := c.run("--keep"); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"kill-stopped", []string{"kill", c.ID, "KILL"}, "container not running"},
		{"state-unknown", []string{"state", "no-such-" + c.ID}, "does not exist"},
		{"kill-unknown", []string{"kill", "no-such-" + c.ID}, "does not exist"},
		{"delete-unknown", []string{"delete", "no-such-" + c.ID}, "does not exist"},
		{"duplicate-create", []string{"create", "--bundle", c.Bundle, c.ID}, "already exists"},
		{"duplicate-run", []string{"run", "--bundle", c.Bundle, c.ID}, "already exists"},
	}
	for _, tc := range cases {
		r := c.hull(tc.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%s: want non-zero exit and %q: %s", tc.name, tc.want, r)
		}
	}
	// The failed duplicates must not have harmed the existing container.
	c.wantStatus("stopped")
}

// TestDeleteForceHalfCreated: delete --force cleans up a container whose
// create was killed midway, while a createRuntime hook ran.
func TestDeleteForceHalfCreated(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	c.Spec.Process.Args = []string{"true"}
	c.killCreateMidway()
	if len(cgroupDirs(c.Cgroup)) == 0 {
		t.Errorf("killed create left no cgroup: the test did not interrupt it midway")
	}
	c.mustHull("delete", "--force", c.ID)
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir after delete --force: %v", err)
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		t.Errorf("cgroup dirs after delete --force: %v", dirs)
	}
}

// TestDeleteForceNoSpec: a state directory whose state.json lacks the spec
// (create died before it was complete) is removed by delete --force.
func TestDeleteForceNoSpec(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	dir := filepath.Join(c.Root, c.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"id":"`+c.ID+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The marker hull writes first into each state directory it makes.
	if err := os.WriteFile(filepath.Join(dir, ".hull"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s := c.state(); s.Status != "creating" {
		t.Errorf("status %q, want creating", s.Status)
	}
	c.mustHull("delete", "--force", c.ID)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir after delete --force: %v", err)
	}
}
