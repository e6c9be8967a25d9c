package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hull-runtime/hull/tests/testenv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupParent holds every test's cgroup; TestMain removes it at the end.
const cgroupParent = "/hull-e2e"

// hullTimeout bounds every hull invocation: a hung hull fails its test
// instead of the whole run.
const hullTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	if err := initCpusetParent(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	}
	code := m.Run()
	// Each test removed its own cgroup; the shared parent goes last. A
	// concurrent run of this package may still use it: EBUSY is fine.
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "e2e: remove %s: %v\n", d, err)
		}
	}
	os.Exit(code)
}

// initCpusetParent makes the shared parent's cpuset cgroup, ready to use,
// before parallel tests race to create it: hull's v1 driver fills a new
// cpuset cgroup from its parent, and a parent that a concurrent hull has
// made but not yet filled yields an empty child that no process may join
// (ENOSPC). TestCpusetParentNotFilled reproduces that deterministically.
func initCpusetParent() error {
	root := "/sys/fs/cgroup/cpuset"
	if _, err := os.Stat(filepath.Join(root, "cpuset.cpus")); err != nil {
		return nil // no v1 cpuset hierarchy
	}
	return fillCpuset(root, filepath.Join(root, cgroupParent))
}

// fillCpuset makes dir, a cpuset cgroup, and copies any of cpus and mems
// it lacks from parent.
func fillCpuset(parent, dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue
		}
		v, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), bytes.TrimSpace(v), 0); err != nil {
			return fmt.Errorf("%s/%s: %w", dir, f, err)
		}
	}
	return nil
}

// container is one test's container: its bundle, state root, id and
// cgroup are its own, and its cleanup checks that hull left nothing.
type container struct {
	t      *testing.T
	bin    string
	ID     string
	Root   string // hull --root
	Bundle string
	Cgroup string // linux.cgroupsPath, always absolute under cgroupParent
	Spec   *specs.Spec
	tmp    string // hull's output files
	inits  []procID
	env    []string // added to hull's environment when set
}

// procID identifies a process across pid reuse.
type procID struct {
	pid   int
	start string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// uniqueName is the test's name made safe for ids and cgroups, plus
// randomness so that repeated and parallel runs never collide.
func uniqueName(t *testing.T) string {
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	b := make([]byte, 4)
	rand.Read(b)
	return strings.Trim(name, "-") + "-" + hex.EncodeToString(b)
}

// newContainer makes a bundle from `hull spec`, with terminal off, the
// shared busybox rootfs and a cgroup of its own, then applies edit.
func newContainer(t *testing.T, edit func(*specs.Spec)) *container {
	t.Helper()
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	name := uniqueName(t)
	c := &container{
		t: t, bin: bin, ID: "e2e-" + name,
		Root: t.TempDir(), Bundle: t.TempDir(), tmp: t.TempDir(),
		Cgroup: cgroupParent + "/" + name,
	}
	// Registered after the temp dirs, so it runs before they go: poststop
	// hooks of delete --force may still write into the bundle.
	t.Cleanup(c.cleanup)
	if r := c.hull("spec", "--bundle", c.Bundle); r.Code != 0 {
		t.Fatalf("hull spec: %s", r)
	}
	data, err := os.ReadFile(filepath.Join(c.Bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &c.Spec); err != nil {
		t.Fatalf("config.json from hull spec: %v", err)
	}
	c.Spec.Process.Terminal = false
	c.Spec.Root.Path = rootfs
	c.Spec.Linux.CgroupsPath = c.Cgroup
	if edit != nil {
		edit(c.Spec)
	}
	c.writeSpec()
	return c
}

// writeSpec saves c.Spec as the bundle's config.json.
func (c *container) writeSpec() {
	c.t.Helper()
	data, err := json.MarshalIndent(c.Spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// privateRootfs copies the busybox rootfs into the bundle, for tests that
// write into it or plant things in it, and points root.path at the copy.
func (c *container) privateRootfs() string {
	c.t.Helper()
	dst := filepath.Join(c.Bundle, "rootfs")
	// Resolved first: cp -a of a symlink copies the link, and the test
	// would then write into the shared rootfs behind it.
	src, err := filepath.EvalSymlinks(c.Spec.Root.Path)
	if err != nil {
		c.t.Fatalf("resolve the rootfs: %v", err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		c.t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	c.Spec.Root.Path = dst
	c.writeSpec()
	return dst
}

// result is what one hull invocation did.
type result struct {
	Args           []string
	Stdout, Stderr string
	Code           int // -1: did not exit normally (timeout, signal)
}

func (r result) String() string {
	return fmt.Sprintf("hull %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// hullProc is a running hull command.
type hullProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	stdout *os.File
	stderr *os.File
}

// startHull starts hull with --root; extra become its fds 3, 4, ...
// Output goes to files, not pipes: a container's init inherits hull's
// stdio and would otherwise keep the command from ever finishing.
func (c *container) startHull(extra []*os.File, args ...string) *hullProc {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
	full := append([]string{"--root", c.Root}, args...)
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.ExtraFiles = extra
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.WaitDelay = 2 * time.Second
	p := &hullProc{t: c.t, cmd: cmd, ctx: ctx, cancel: cancel}
	var err error
	if p.stdout, err = os.CreateTemp(c.tmp, "stdout-*"); err != nil {
		c.t.Fatal(err)
	}
	if p.stderr, err = os.CreateTemp(c.tmp, "stderr-*"); err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		c.t.Fatalf("start hull %v: %v", args, err)
	}
	return p
}

// runUntilRunning starts `hull run` of c's bundle in the foreground and
// waits until the container is running. The caller kills the container
// (`hull kill ID KILL`) and then waits for the returned process.
func (c *container) runUntilRunning() *hullProc {
	c.t.Helper()
	p := c.startHull(nil, "run", "--bundle", c.Bundle, c.ID)
	running := false
	waitUntil(hullTimeout, func() bool {
		r := c.hull("state", c.ID)
		running = r.Code == 0 && strings.Contains(r.Stdout, `"running"`)
		return running || p.exited()
	})
	if !running {
		c.hull("kill", c.ID, "KILL")
		c.t.Fatalf("the container never ran: %s", p.wait())
	}
	return p
}

// exited reports whether hull has exited, without reaping it (wait does).
func (p *hullProc) exited() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, p.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Signo != 0
}

// wait waits for hull and collects what it printed.
func (p *hullProc) wait() result {
	err := p.cmd.Wait()
	timedOut := errors.Is(p.ctx.Err(), context.DeadlineExceeded)
	p.cancel()
	r := result{Args: p.cmd.Args[1:], Code: -1}
	if p.cmd.ProcessState != nil {
		r.Code = p.cmd.ProcessState.ExitCode()
	}
	out, _ := os.ReadFile(p.stdout.Name())
	errOut, _ := os.ReadFile(p.stderr.Name())
	p.stdout.Close()
	p.stderr.Close()
	r.Stdout, r.Stderr = string(out), string(errOut)
	if timedOut {
		p.t.Errorf("timed out after %v: %s", hullTimeout, r)
	} else if err != nil && p.cmd.ProcessState == nil {
		p.t.Errorf("wait: %v: %s", err, r)
	}
	return r
}

// hull runs hull with --root and waits for it.
func (c *container) hull(args ...string) result {
	c.t.Helper()
	return c.startHull(nil, args...).wait()
}

// mustHull runs hull and fails the test unless it exits 0.
func (c *container) mustHull(args ...string) result {
	c.t.Helper()
	r := c.hull(args...)
	if r.Code != 0 {
		c.t.Fatalf("%s", r)
	}
	return r
}

// run is `hull run --bundle B [flags] ID`.
func (c *container) run(flags ...string) result {
	c.t.Helper()
	return c.hull(append(append([]string{"run", "--bundle", c.Bundle}, flags...), c.ID)...)
}

// create is `hull create --bundle B [flags] ID`; it records the init so
// cleanup can tell whether it survived.
func (c *container) create(flags ...string) result {
	c.t.Helper()
	r := c.hull(append(append([]string{"create", "--bundle", c.Bundle}, flags...), c.ID)...)
	if r.Code == 0 {
		c.recordInit()
	}
	return r
}

// mustCreate creates the container and fails the test if it cannot.
func (c *container) mustCreate(flags ...string) {
	c.t.Helper()
	if r := c.create(flags...); r.Code != 0 {
		c.t.Fatalf("%s", r)
	}
}

// runOutput runs args in the container and returns its stdout, failing
// the test unless it exits 0.
func (c *container) runOutput(args ...string) string {
	c.t.Helper()
	c.Spec.Process.Args = args
	c.writeSpec()
	r := c.run()
	if r.Code != 0 {
		c.t.Fatalf("%s", r)
	}
	return r.Stdout
}

// ctrState is `hull state` output, with the runtime-spec's field names.
type ctrState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations"`
}

func (c *container) state() ctrState {
	c.t.Helper()
	r := c.mustHull("state", c.ID)
	var s ctrState
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		c.t.Fatalf("state JSON: %v: %s", err, r.Stdout)
	}
	return s
}

// wantStatus fails the test unless the container is in status.
func (c *container) wantStatus(status string) ctrState {
	c.t.Helper()
	s := c.state()
	if s.Status != status {
		c.t.Fatalf("status %q, want %q (state %+v)", s.Status, status, s)
	}
	return s
}

// recordInit remembers the init's identity for the leak check.
func (c *container) recordInit() {
	r := c.hull("state", c.ID)
	var s ctrState
	if json.Unmarshal([]byte(r.Stdout), &s) == nil && s.Pid > 0 {
		_, start := procStat(s.Pid)
		c.inits = append(c.inits, procID{pid: s.Pid, start: start})
	}
}

// procStat returns a process's state letter and start time (field 22 of
// /proc/PID/stat); both empty if the process is gone.
func procStat(pid int) (state, start string) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", ""
	}
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return "", ""
	}
	return f[0], f[19]
}

// startTime is the start time of a live (not zombie) process, or "".
func startTime(pid int) string {
	st, start := procStat(pid)
	if st == "Z" || st == "X" {
		return ""
	}
	return start
}

// reap collects the container inits this test process is the parent of:
// hull's C stage clones the init with CLONE_PARENT, so the caller of hull
// create becomes its parent. Only a zombie with the recorded start time is
// waited for, so another test's child is never taken.
func (c *container) reap() {
	for _, p := range c.inits {
		if st, start := procStat(p.pid); st == "Z" && start == p.start {
			var ws unix.WaitStatus
			unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// cleanup deletes the container and checks, then enforces, that nothing
// of it remains: state directory, processes, cgroup directories.
func (c *container) cleanup() {
	t := c.t
	stateDir := filepath.Join(c.Root, c.ID)
	if _, err := os.Stat(stateDir); err == nil {
		if r := c.hull("delete", "--force", c.ID); r.Code != 0 {
			t.Errorf("cleanup: %s", r)
		}
	}
	if _, err := os.Stat(stateDir); err == nil {
		t.Errorf("cleanup: state dir %s left after delete --force", stateDir)
		os.RemoveAll(stateDir)
	}
	c.reap()
	for _, p := range c.inits {
		if p.start != "" && startTime(p.pid) == p.start {
			t.Errorf("cleanup: container init %d still runs", p.pid)
			unix.Kill(p.pid, unix.SIGKILL)
		}
	}
	if pids := procsInCgroup(c.Cgroup); len(pids) > 0 {
		t.Errorf("cleanup: processes %v left in cgroup %s", pids, c.Cgroup)
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		waitUntil(5*time.Second, func() bool { return len(procsInCgroup(c.Cgroup)) == 0 })
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		t.Errorf("cleanup: cgroup dirs left: %v", dirs)
		for _, d := range dirs {
			removeCgroupTree(d)
		}
	}
}

// cgroupDirs lists the directories of the cgroup path in every hierarchy.
func cgroupDirs(cgroup string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroup)
	return dirs
}

// joinedLikeInit lists the container's other processes that are in every
// cgroup its init is in. A runtime joins an exec'd process to the
// hierarchies one at a time (runc in a map's order), so procsInCgroup, which
// takes any, may list one that pause does not hold yet, or that a delete
// --force, which reads one hierarchy, misses.
func joinedLikeInit(c *container, init int) []int {
	want, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", init))
	if err != nil {
		return nil
	}
	var pids []int
	for _, pid := range procsInCgroup(c.Cgroup) {
		if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil && pid != init && bytes.Equal(got, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procsInCgroup finds, from /proc, every process in cgroup or below it,
// in any hierarchy.
func procsInCgroup(cgroup string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, _ := procStat(pid); st == "Z" || st == "" {
			continue // a zombie holds no resources; its parent reaps it
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && (parts[2] == cgroup || strings.HasPrefix(parts[2], cgroup+"/")) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// removeCgroupTree removes dir and its sub-cgroups, deepest first.
func removeCgroupTree(dir string) {
	var all []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(all)))
	for _, d := range all {
		os.Remove(d)
	}
}

// waitUntil polls cond until it holds or the timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sh is the args of a shell script run in the container.
func sh(script string) []string { return []string{"sh", "-c", script} }

// hostNS is the namespace link of this test process, e.g. "net:[4026531840]".
func hostNS(t *testing.T, kind string) string {
	t.Helper()
	link, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Skipf("namespace %s: %v", kind, err)
	}
	return link
}

// wantContains fails the test unless out contains every want.
func wantContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// exitSignal is the status a shell reports for death by sig.
func exitSignal(sig syscall.Signal) int { return 128 + int(sig) }

// outDir bind-mounts a fresh host directory read-write on the container's
// /tmp (an existing directory, so the shared rootfs is never written to)
// and returns its host path.
func (c *container) outDir() string {
	c.t.Helper()
	dir, err := os.MkdirTemp(c.tmp, "out-")
	if err != nil {
		c.t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{
		Destination: "/tmp", Type: "bind", Source: dir, Options: []string{"rbind", "rw"},
	})
	c.writeSpec()
	return dir
}

// waitFile waits for path to exist and returns its content.
func waitFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	var data []byte
	if !waitUntil(timeout, func() bool {
		var err error
		data, err = os.ReadFile(path)
		return err == nil && len(data) > 0
	}) {
		t.Fatalf("%s did not appear within %v", path, timeout)
	}
	return string(data)
}

// assertNothingLeft checks, right after a failed command, that hull left no
// state directory, cgroup directory or process of the container.
func assertNothingLeft(t *testing.T, c *container) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
		t.Errorf("state dir %s left (%v)", filepath.Join(c.Root, c.ID), err)
	}
	if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
		t.Errorf("cgroup dirs left: %v", dirs)
	}
	if pids := procsInCgroup(c.Cgroup); len(pids) > 0 {
		t.Errorf("processes left in %s: %v", c.Cgroup, pids)
	}
}

// must fails the test on a setup error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
