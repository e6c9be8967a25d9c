// Package boot boots a real Debian 12 with systemd under hull, runc, crun
// and systemd-nspawn, from bundles `hull convert` writes. The rootfs is
// built (and cached under _build/debian-rootfs) by tests/rootfs/debian.sh.
package boot

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
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// suite holds what every boot test shares; built once, on first use.
type suite struct {
	hull     string // hull binary
	stubinit string // hull-stubinit beside it, "" when missing
	pristine string // the cached image: never booted in place
	work     string // a copy that boots may modify
	skip     string // reason to skip, when the suite cannot run here
}

var (
	once   sync.Once
	shared suite
)

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func setup(t *testing.T) *suite {
	t.Helper()
	once.Do(func() { shared = newSuite() })
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	return &shared
}

func newSuite() suite {
	if os.Geteuid() != 0 {
		return suite{skip: "boot tests need root"}
	}
	root := repoRoot()
	s := suite{pristine: filepath.Join(root, "_build", "debian-rootfs")}
	cmd := exec.Command("sh", filepath.Join(root, "tests/rootfs/debian.sh"), s.pristine)
	if out, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return suite{skip: "cannot build the Debian rootfs here: " + strings.TrimSpace(string(out))}
		}
		return suite{skip: fmt.Sprintf("debian.sh failed (%v): %s", err, out)}
	}
	tmp, err := os.MkdirTemp("", "hull-boot-")
	if err != nil {
		return suite{skip: err.Error()}
	}
	s.hull = os.Getenv("HULL_BINARY")
	if s.hull == "" {
		s.hull = filepath.Join(tmp, "hull")
		// hull execs hull-nspawn from beside itself for nspawn and convert.
		for _, cmd := range []string{"hull", "hull-nspawn"} {
			b := exec.Command("go", "build", "-o", filepath.Join(tmp, cmd), "./cmd/"+cmd)
			b.Dir = root
			if out, err := b.CombinedOutput(); err != nil {
				return suite{skip: fmt.Sprintf("build %s: %v: %s", cmd, err, out)}
			}
		}
		if err := buildStubInit(root, filepath.Join(tmp, "hull-stubinit")); err != nil {
			return suite{skip: err.Error()}
		}
	}
	if p := filepath.Join(filepath.Dir(s.hull), "hull-stubinit"); fileExists(p) {
		s.stubinit = p
	}
	s.work = filepath.Join(tmp, "work-rootfs")
	if out, err := exec.Command("cp", "-a", "--reflink=auto", s.pristine, s.work).CombinedOutput(); err != nil {
		return suite{skip: fmt.Sprintf("copy rootfs: %v: %s", err, out)}
	}
	return s
}

// buildStubInit builds cmd/hull-stubinit as the Makefile does: static,
// with the early-fork entry point on amd64.
func buildStubInit(root, out string) error {
	ld := "-s -w"
	if goruntime.GOARCH == "amd64" {
		ld += " -E main.entry"
	}
	b := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", out, "./cmd/hull-stubinit")
	b.Dir = root
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := b.CombinedOutput(); err != nil {
		return fmt.Errorf("build hull-stubinit: %v: %s", err, o)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestMain removes the suite's temporary copy after all tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.work != "" {
		os.RemoveAll(filepath.Dir(shared.work))
	}
	os.Exit(code)
}

func randomName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// runtime runs one OCI runtime's command line.
type runtime struct {
	name string
	argv []string // command prefix
	// killArgs: how to send SIGRTMIN+3 (runc 1.1.5 only takes numbers).
	rtmin3 string
	// poweroff is the exit status after a halt inside.
	poweroff int
}

// crunWrapper is the test-only hybrid-host workaround: crun refuses a
// cgroup2 hierarchy with controllers, so each crun call runs in a private
// mount namespace with an empty file over unified/cgroup.controllers.
// Nothing changes on the host.
const crunWrapper = `e=$(mktemp) && mount --bind "$e" /sys/fs/cgroup/unified/cgroup.controllers && rm -f "$e" && exec crun "$@"`

func runtimes(t *testing.T, s *suite) []runtime {
	rts := []runtime{{name: "hull", argv: []string{s.hull}, rtmin3: "", poweroff: 0}}
	if p, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, runtime{name: "runc", argv: []string{p}, rtmin3: "37", poweroff: 130})
	} else {
		t.Log("runc not installed: not compared")
	}
	if _, err := exec.LookPath("crun"); err == nil {
		argv := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", crunWrapper, "crun"}
		if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err != nil {
			argv = []string{"crun"}
		}
		rts = append(rts, runtime{name: "crun", argv: argv, rtmin3: "37", poweroff: 130})
	} else {
		t.Log("crun not installed: not compared")
	}
	return rts
}

func (r runtime) cmd(args ...string) *exec.Cmd {
	all := append(append([]string{}, r.argv[1:]...), args...)
	return exec.Command(r.argv[0], all...)
}

func (r runtime) output(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := r.cmd(args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// machine is a running container (or nspawn machine) under test.
type machine struct {
	name    string
	cgroup  string // absolute cgroupsPath
	proc    *exec.Cmd
	out     *bytes.Buffer
	done    chan struct{}
	started time.Time
	status  int
	hull    string // the hull binary of a hull machine (recordBundle)
	bundle  string // hull's bundle directory of the machine (recordBundle)
}

func startCmd(t *testing.T, cmd *exec.Cmd, name, cgroup string) *machine {
	t.Helper()
	m := &machine{name: name, cgroup: cgroup, proc: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = m.out, m.out
	cmd.Stdin = nil
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	m.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() {
		err := cmd.Wait()
		m.status = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			m.status = ee.ExitCode()
			if ws, ok := ee.Sys().(unix.WaitStatus); ok && ws.Signaled() {
				m.status = 128 + int(ws.Signal())
			}
		}
		close(m.done)
	}()
	return m
}

// wait waits for the runtime process to end and returns its status. A
// machine still running after d is described in the log and given
// systemd's own stop timeout (DefaultTimeoutStopSec=90s) more before the
// test fails: a loaded host can slow a unit's stop; a lost signal or a hung
// runtime does not end at all.
func (m *machine) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-m.done:
		return m.status
	case <-time.After(d):
	}
	waited := time.Now()
	t.Logf("%s still running %v after its stop began:\n%s", m.name, d, m.diagnose())
	select {
	case <-m.done:
		t.Logf("%s stopped %v after that", m.name, time.Since(waited))
		return m.status
	case <-time.After(systemdStopTimeout):
		t.Fatalf("%s did not stop within %v; output:\n%s\n%s", m.name, d+systemdStopTimeout, m.out, m.diagnose())
		return -1
	}
}

// systemdStopTimeout is systemd's DefaultTimeoutStopSec: how long a
// shutdown may wait for one unit before systemd kills it.
const systemdStopTimeout = 90 * time.Second

// diagnose says where a machine that does not stop is: the runtime's and
// the machine's processes with their kernel wait channels (and kernel
// stacks where one is stuck in D), and, for a hull machine, the jobs systemd
// inside still runs; `hull exec` gets a deadline of its own, as hull itself
// may be what hangs.
func (m *machine) diagnose() string {
	var b strings.Builder
	b.WriteString("processes (pid ppid state wchan comm):\n")
	for _, pid := range m.processes() {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if len(f) < 2 {
			continue
		}
		fmt.Fprintf(&b, "  %d %s %s %s %s\n", pid, f[1], f[0], wchan, strings.TrimSpace(string(comm)))
		if f[0] == "D" {
			stack, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stack", pid))
			fmt.Fprintf(&b, "%s", stack)
		}
	}
	if m.hull != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		jobs, err := exec.CommandContext(ctx, m.hull, "exec", m.name, "timeout", "10", "systemctl", "list-jobs", "--no-pager").CombinedOutput()
		fmt.Fprintf(&b, "systemctl list-jobs (%v):\n%s\n", err, jobs)
	}
	return b.String()
}

// processes lists the runtime's process group and the machine's cgroup
// tree (the name=systemd hierarchy).
func (m *machine) processes() []int {
	seen := map[int]bool{}
	var out []int
	add := func(pid int) {
		if !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	if m.proc.Process != nil {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if pgid, err := unix.Getpgid(pid); err == nil && pgid == m.proc.Process.Pid {
				add(pid)
			}
		}
	}
	filepath.WalkDir(filepath.Join("/sys/fs/cgroup/systemd", m.cgroup), func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == "cgroup.procs" {
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					add(pid)
				}
			}
		}
		return nil
	})
	return out
}

// halt sends the machine `hull kill` (a booted machine's kill signal,
// SIGRTMIN+3 unless KillSignal= says otherwise) and returns the runtime's
// exit status.
func (m *machine) halt(t *testing.T, hull string) int {
	t.Helper()
	if out, err := exec.Command(hull, "kill", m.name).CombinedOutput(); err != nil {
		t.Errorf("hull kill %s: %v: %s", m.name, err, out)
	}
	return m.wait(t, stopTimeout)
}

// untilOK retries fn until it succeeds or the deadline passes.
func untilOK(d time.Duration, fn func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupDirs lists cgroup's directory in every hierarchy where it exists.
func cgroupDirs(cgroup string) []string {
	var out []string
	hs, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hs {
		d := filepath.Join("/sys/fs/cgroup", h.Name(), cgroup)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// removeCgroup kills whatever a failed test left in its cgroup tree and
// removes the tree in every hierarchy (cleanup).
func removeCgroup(cgroup string) {
	if cgroup == "" || cgroup == "/" {
		return
	}
	for _, d := range cgroupDirs(cgroup) {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Name() == "cgroup.procs" {
				data, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
						unix.Kill(pid, unix.SIGKILL)
					}
				}
			}
			return nil
		})
	}
	for _, d := range cgroupDirs(cgroup) {
		rmdirTree(d)
	}
}

func rmdirTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	for i := 0; i < 20; i++ {
		if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountsUnder lists host mount points below any of the given paths.
func mountsUnder(paths ...string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, p := range paths {
			if f[4] == p || strings.HasPrefix(f[4], p+"/") {
				out = append(out, f[4])
			}
		}
	}
	return out
}

// nspawnRuns holds the bundle directories of every `hull nspawn` on the
// host: this package's machines and, at the same time, other packages'
// (tests/e2e boots some while `go test ./...` runs this package).
const nspawnRuns = "/run/hull-nspawn"

// assertNothingLeft checks the machine left no cgroup, mount or process.
// For nspawnRuns it checks the machine's own bundle directory there: it
// and every mount below it must be gone.
func assertNothingLeft(t *testing.T, m *machine, paths ...string) {
	t.Helper()
	if dirs := cgroupDirs(m.cgroup); len(dirs) > 0 {
		t.Errorf("%s: cgroups left behind: %v", m.name, dirs)
	}
	paths = slices.Clone(paths)
	for i, p := range paths {
		if p != nspawnRuns {
			continue
		}
		if !strings.HasPrefix(m.bundle, nspawnRuns+"/") {
			t.Errorf("%s: its bundle directory under %s is unknown (hull state said %q)", m.name, nspawnRuns, m.bundle)
			continue
		}
		paths[i] = m.bundle
		if _, err := os.Lstat(m.bundle); err == nil {
			t.Errorf("%s: bundle directory %s left behind", m.name, m.bundle)
		}
	}
	if ms := mountsUnder(paths...); len(ms) > 0 {
		t.Errorf("%s: mounts left behind: %v", m.name, ms)
	}
	if m.proc.Process != nil {
		if err := unix.Kill(-m.proc.Process.Pid, 0); err == nil {
			t.Errorf("%s: processes of group %d still alive", m.name, m.proc.Process.Pid)
		}
	}
}

// awaitBundle waits for `hull state` to give the machine's bundle
// directory: `hull nspawn` has started the container.
func (m *machine) awaitBundle(t *testing.T, hull string) {
	t.Helper()
	err := untilOK(bootTimeout, func() error {
		select {
		case <-m.done:
			return fmt.Errorf("exited with %d before it ran:\n%s", m.status, m.out)
		default:
		}
		if m.recordBundle(hull); m.bundle == "" {
			return fmt.Errorf("hull state %s gives no bundle", m.name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", m.name, err)
	}
}

// release creates /run/go in the machine (with `hull exec`, once it
// runs): the payloads that wait for it go on.
func (m *machine) release(t *testing.T, hull string) {
	t.Helper()
	err := untilOK(bootTimeout, func() error {
		out, err := exec.Command(hull, "exec", m.name, "touch", "/run/go").CombinedOutput()
		if err != nil {
			return fmt.Errorf("hull exec %s touch /run/go: %v: %s", m.name, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, m.out)
	}
}

// recordBundle notes the bundle directory `hull state` gives for the
// machine; a machine of another runtime has none.
func (m *machine) recordBundle(hull string) {
	out, err := exec.Command(hull, "state", m.name).Output()
	if err != nil {
		return
	}
	var st struct {
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(out, &st) == nil {
		m.hull, m.bundle = hull, st.Bundle
	}
}

// machineCgroup gives the hull machine name a cgroup of its own and
// registers the cleanup that deletes the container and the cgroup tree.
func machineCgroup(t *testing.T, s *suite, name string) string {
	t.Helper()
	cg := "/" + randomName("hull-boot-")
	t.Cleanup(func() {
		exec.Command(s.hull, "delete", "--force", name).Run()
		removeCgroup(cg)
	})
	return cg
}

// userImage copies the image to PARENT/name where a user namespace's root
// can reach it (t.TempDir's parent is 0700); PARENT goes at cleanup.
func userImage(t *testing.T, s *suite, name string) (parent, img string) {
	t.Helper()
	parent, err := os.MkdirTemp("", "hull-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	img = filepath.Join(parent, name)
	if out, err := exec.Command("cp", "-a", "--reflink=auto", s.work, img).CombinedOutput(); err != nil {
		t.Fatalf("copy image: %v: %s", err, out)
	}
	return parent, img
}

// convert runs `hull convert` and returns the bundle directory.
func convert(t *testing.T, s *suite, bundle string, args ...string) {
	t.Helper()
	all := append([]string{"convert", "--bundle", bundle}, args...)
	out, err := exec.Command(s.hull, all...).CombinedOutput()
	if err != nil {
		t.Fatalf("hull %v: %v\n%s", all, err, out)
	}
}

// timing collects the boot numbers the tests print at the end.
type timing struct {
	mu   sync.Mutex
	rows []string
}

var timings timing

func (tm *timing) add(format string, args ...any) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.rows = append(tm.rows, fmt.Sprintf(format, args...))
}
