package e2e

import (
	"bufio"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/tests/testenv"
)

// faultFlow is one command under test: the container it runs on, how that
// container is brought to where the command runs, and the command.
type faultFlow struct {
	name    string
	program []string
	prepare func(c *container)
	command func(c *container) []string
	// check runs after the killed command: what must still hold of a
	// container that survived it (nil: only that nothing is left at the end).
	check func(t *testing.T, c *container)
}

func faultFlows() []faultFlow {
	sleep := []string{"sleep", "30"}
	created := func(c *container) { c.mustCreate() }
	running := func(c *container) { c.mustCreate(); c.mustHull("start", c.ID) }
	stopped := func(c *container) {
		running(c)
		waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" })
	}
	return []faultFlow{
		{"create", sleep, nil, func(c *container) []string { return []string{"create", "--bundle", c.Bundle, c.ID} }, nil},
		{"start", sleep, created, func(c *container) []string { return []string{"start", c.ID} }, checkStartable},
		{"run", []string{"true"}, nil, func(c *container) []string { return []string{"run", "--bundle", c.Bundle, c.ID} }, nil},
		{"exec", sleep, running, func(c *container) []string { return []string{"exec", c.ID, "true"} }, checkExecWorks},
		{"delete", []string{"true"}, stopped, func(c *container) []string { return []string{"delete", c.ID} }, checkRetry("delete")},
		{"delete-force", sleep, running, func(c *container) []string { return []string{"delete", "--force", c.ID} }, checkRetry("delete", "--force")},
	}
}

// TestFaultsEveryPoint builds hull with the hullfaults tag, lists the fault
// points of each command by tracing one ordinary run of it (create, start,
// run, exec, delete, delete --force: the command's own points and those of
// the processes it starts), then, for every point, SIGKILLs the process that
// reaches it. The container then goes through the rest of its ordinary
// lifecycle where it survived (start, kill, delete; a killed delete is
// retried) and delete --force; afterwards no process, mount, cgroup
// directory (in every hierarchy) or state entry of it may be left.
func TestFaultsEveryPoint(t *testing.T) {
	testenv.RequireHull(t, "fault tests")
	t.Parallel()
	bin := buildFaultHull(t)
	for _, f := range faultFlows() {
		t.Run(f.name, func(t *testing.T) {
			points := tracePoints(t, bin, f)
			t.Logf("%s: %d fault points: %s", f.name, len(points), strings.Join(points, ", "))
			// The C stage and finisher run in hull-stage: its points are
			// there only if it was built with them.
			for _, want := range stagePoints[f.name] {
				if !slices.Contains(points, want) {
					t.Errorf("%s: no fault point %q traced (hull-stage built without its fault points?)", f.name, want)
				}
			}
			for _, p := range points {
				t.Run(strings.NewReplacer("/", "_", " ", "_").Replace(p), func(t *testing.T) {
					t.Parallel()
					killAtPoint(t, bin, f, p)
				})
			}
		})
	}
}

// stagePoints are fault points of the C stage and the finisher that each
// flow must reach.
var stagePoints = map[string][]string{
	"create": {"cstage/namespaces made", "cstage/process cloned", "init/wait for placement", "init/exec"},
	"run":    {"cstage/namespaces made", "cstage/process cloned", "init/wait for placement", "init/exec"},
	"exec":   {"cstage/namespaces joined", "cstage/process cloned", "execinit/close inherited fds", "execinit/exec"},
}

// buildFaultHull builds hull and hull-stage with their fault points into a
// temporary directory.
func buildFaultHull(t *testing.T) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		// The toolchain this test was built with, when PATH has none.
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
		if _, serr := os.Stat(goBin); serr != nil {
			t.Skipf("no go command to build hull with the hullfaults tag: %v; %v", err, serr)
		}
	}
	out := filepath.Join(t.TempDir(), "hull")
	// The Makefile's tags, so that this hull differs from the tested one
	// only by its fault points.
	tags := testenv.MakeVar(t, "../..", "HULLTAGS") + " hullfaults"
	cmd := exec.Command(goBin, "build", "-trimpath", "-tags", tags, "-o", out, "../../cmd/hull")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hull with the hullfaults tag: %v\n%s", err, b)
	}
	// hull starts the finisher's C stage from hull-stage beside it: built
	// with its fault points too, by the Makefile's own rule.
	stage := filepath.Join(filepath.Dir(out), "hull-stage")
	cmd = exec.Command("make", "-s", "-C", "../..", "STAGE="+stage, "STAGE_CFLAGS=-DHULL_FAULTS", stage)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hull-stage with its fault points: %v\n%s", err, b)
	}
	return out
}

// newFaultContainer is a container run by the tagged hull, with hooks of
// every kind hull runs itself, so that their steps are fault points too.
func newFaultContainer(t *testing.T, bin string, f faultFlow) *container {
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = f.program
		hook := []specs.Hook{{Path: "/bin/true"}}
		s.Hooks = &specs.Hooks{CreateRuntime: hook, Poststart: hook, Poststop: hook}
	})
	c.bin = bin
	// Every hull this test starts, and their children until they exec,
	// carry the tag, so that a leaked one is found by its environment.
	c.env = []string{"HULL_FAULT_TAG=" + c.ID}
	return c
}

// tracePoints runs the flow once with tracing and returns its fault points,
// "NAME" or, for a name a process reaches more than once, "NAME:N".
func tracePoints(t *testing.T, bin string, f faultFlow) []string {
	c := newFaultContainer(t, bin, f)
	if f.prepare != nil {
		f.prepare(c)
	}
	env := c.env
	c.env = append(env, "HULL_FAULT_TRACE=1")
	r := c.hull(f.command(c)...)
	c.env = env
	if r.Code != 0 {
		t.Fatalf("traced run: %s", r)
	}
	c.recordInit()
	finishLifecycle(t, c)
	var points []string
	seen := map[string]int{}
	for _, l := range faultLines(t, c, "point") {
		key := l.pid + " " + l.name
		seen[key]++
		if n := seen[key]; n > 1 {
			points = append(points, fmt.Sprintf("%s:%d", l.name, n))
		} else {
			points = append(points, l.name)
		}
	}
	if len(points) == 0 {
		t.Fatalf("%s: no fault points traced: is hull built with the hullfaults tag?", f.name)
	}
	return points
}

// killAtPoint runs the flow with HULL_FAULT=point and checks what is left.
func killAtPoint(t *testing.T, bin string, f faultFlow, point string) {
	c := newFaultContainer(t, bin, f)
	if f.prepare != nil {
		f.prepare(c)
	}
	env := c.env
	c.env = append(env, "HULL_FAULT="+point)
	r := c.hull(f.command(c)...)
	c.env = env
	c.recordInit()
	holders := namespaceHolders(containerNamespaces(c))
	if f.check != nil {
		f.check(t, c)
	}
	finishLifecycle(t, c)
	name, _ := faults.Parse(point)
	killed := false
	for _, l := range faultLines(t, c, "killed") {
		killed = killed || l.name == name
	}
	if !killed {
		t.Errorf("fault point %q was not reached (%s)", point, r)
	}
	// A killed command may have left the container half-made or
	// half-deleted: delete --force must finish the job, also after the
	// ordinary lifecycle gave up.
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); err == nil {
		if r := c.hull("delete", "--force", c.ID); r.Code != 0 {
			t.Errorf("delete --force after the kill: %s", r)
		}
	}
	c.reap()
	assertNoTrace(t, c, holders)
}

// finishLifecycle takes a container through the rest of its ordinary
// lifecycle from wherever it is: start if created, kill if running, then
// delete, which must succeed.
func finishLifecycle(t *testing.T, c *container) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); err != nil {
		return
	}
	if c.state().Status == "created" {
		c.hull("start", c.ID) // the init may die at a fault point meanwhile
	}
	if c.state().Status == "running" {
		c.hull("kill", c.ID, "KILL")
	}
	if !waitUntil(10*time.Second, func() bool { s := c.state().Status; return s == "stopped" || s == "creating" }) {
		t.Errorf("container still %s after SIGKILL", c.state().Status)
	}
	if r := c.hull("delete", c.ID); r.Code != 0 {
		t.Errorf("delete: %s", r)
	}
}

// checkStartable: a start killed at any point leaves a container that has
// either started or can still be started.
func checkStartable(t *testing.T, c *container) {
	t.Helper()
	switch st := c.state().Status; st {
	case "created":
		if r := c.hull("start", c.ID); r.Code != 0 {
			t.Errorf("start after a killed start: %s", r)
		}
	case "running":
	default:
		t.Errorf("after a killed start the container is %q, want created or running", st)
	}
}

// checkExecWorks: a killed exec leaves the container running, and a new exec
// in it works (no lock or process of the killed one stands in the way).
func checkExecWorks(t *testing.T, c *container) {
	t.Helper()
	if st := c.state().Status; st != "running" {
		t.Errorf("after a killed exec the container is %q, want running", st)
		return
	}
	if r := c.hull("exec", c.ID, "true"); r.Code != 0 {
		t.Errorf("exec after a killed exec: %s", r)
	}
}

// checkRetry: the command killed midway, run again, succeeds (a killed
// delete leaves a container that can still be deleted the same way).
func checkRetry(args ...string) func(t *testing.T, c *container) {
	return func(t *testing.T, c *container) {
		t.Helper()
		if r := c.hull(append(args, c.ID)...); r.Code != 0 {
			t.Errorf("retry after the kill: %s", r)
		}
	}
}

// assertNoTrace checks that nothing of the container is left: state entry,
// cgroup directory in any hierarchy, process in its cgroup or carrying its
// tag, its init, a mount naming its bundle, state root or id, or a process
// that was in one of its namespaces after the killed command (holders).
func assertNoTrace(t *testing.T, c *container, holders map[procID]string) {
	t.Helper()
	var left []string
	waitUntil(3*time.Second, func() bool {
		left = leftovers(c)
		for _, p := range c.inits {
			if p.start != "" && startTime(p.pid) == p.start {
				left = append(left, fmt.Sprintf("init %d", p.pid))
			}
		}
		if pids := taggedProcesses("HULL_FAULT_TAG=" + c.ID); len(pids) > 0 {
			left = append(left, fmt.Sprintf("processes of hull %v", pids))
		}
		if m := mountsNaming(c.Root, c.Bundle, c.ID); len(m) > 0 {
			left = append(left, fmt.Sprintf("mounts %v", m))
		}
		for p, ns := range holders {
			if startTime(p.pid) == p.start {
				left = append(left, fmt.Sprintf("process %d in %s", p.pid, ns))
			}
		}
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// nsKinds are the namespaces a container's init has of its own.
var nsKinds = []string{"net", "mnt", "ipc", "uts", "pid_for_children", "cgroup"}

// containerNamespaces are the namespaces ("net:[INODE]") of the container's
// last recorded init that the host does not share; none when no init was
// recorded (a create killed before it saved the pid).
func containerNamespaces(c *container) []string {
	if len(c.inits) == 0 {
		return nil
	}
	p := c.inits[len(c.inits)-1]
	var out []string
	for _, kind := range nsKinds {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p.pid, kind))
		host, _ := os.Readlink("/proc/self/ns/" + kind)
		if err == nil && ns != host && startTime(p.pid) == p.start {
			out = append(out, ns)
		}
	}
	return out
}

// namespaceHolders are the live processes in any of namespaces, with the
// namespace. Namespace inodes are reused once freed, so a later check only
// looks at these processes: one of them still alive is a leak; a process
// started since may be in another container's namespace of the same inode.
func namespaceHolders(namespaces []string) map[procID]string {
	if len(namespaces) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	entries, _ := os.ReadDir("/proc")
	out := map[procID]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, start := procStat(pid)
		if st == "Z" || st == "" {
			continue
		}
		for _, kind := range nsKinds {
			if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil && want[ns] {
				out[procID{pid: pid, start: start}] = ns
				break
			}
		}
	}
	return out
}

// taggedProcesses are the live processes whose environment holds tag.
func taggedProcesses(tag string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if st, _ := procStat(pid); st == "Z" || st == "" {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == tag {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// mountsNaming lists the host's mounts whose line mentions any of words.
func mountsNaming(words ...string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, w := range words {
			if strings.Contains(s.Text(), w) {
				out = append(out, s.Text())
				break
			}
		}
	}
	return out
}

// faultLine is one "hull-fault-KIND PID NAME" line a tagged hull printed.
type faultLine struct{ pid, name string }

var faultLineRE = regexp.MustCompile(`^hull-fault-(point|killed) ([0-9]+) (.+)$`)

// faultLines collects the lines of one kind from every output file of the
// container's hull commands (a container's init writes to the stderr of
// the command that created it, also after that command returned).
func faultLines(t *testing.T, c *container, kind string) []faultLine {
	files, _ := filepath.Glob(filepath.Join(c.tmp, "stderr-*"))
	var out []faultLine
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if m := faultLineRE.FindStringSubmatch(l); m != nil && m[1] == kind {
				out = append(out, faultLine{pid: m[2], name: m[3]})
			}
		}
	}
	return out
}
