package engines

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/mountinfo"
)

// cmdTimeout bounds every engine command: a hang fails the test instead of
// stalling the whole run.
const cmdTimeout = 90 * time.Second

// requireTools skips unless every program is on PATH.
func requireTools(t *testing.T, install string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (Debian: apt-get install %s)", n, install)
		}
	}
}

// scratch is one engine's throw-away world: a temporary directory and an
// absolute cgroup parent, both removed on cleanup.
type scratch struct {
	Dir    string
	Cgroup string // "/hull-engines-<random>", never under this process's cgroup
}

// newScratch makes the directory and registers its cleanup, which fails the
// test for every mount still under it and every cgroup the engine or hull
// left, then removes them. Register engine teardown after this, so that it
// runs first.
func newScratch(t *testing.T, name string) *scratch {
	t.Helper()
	dir, err := os.MkdirTemp("", "hull-engines-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &scratch{Dir: dir, Cgroup: "/hull-engines-" + name + "-" + randHex(4)}
	t.Cleanup(func() {
		killLeftovers(t, dir)
		unmountUnder(t, dir)
		removeCgroups(t, s.Cgroup)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mountsUnder lists the mount points at or under dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := mountinfo.Unescape(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

// unmountUnder fails the test for each mount the engine left under dir and
// detaches it, so that removing dir never reaches through a mount.
func unmountUnder(t *testing.T, dir string) {
	mps, err := mountsUnder(dir)
	if err != nil {
		t.Errorf("read mountinfo: %v", err)
		return
	}
	for _, mp := range mps {
		t.Errorf("mount left behind: %s", mp)
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mp, err)
		}
	}
}

// cgroupDirs returns the directories of an absolute cgroup path in every
// mounted hierarchy (v1 controllers, the named systemd one, cgroup2).
func cgroupDirs(cgroup string) []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var dirs []string
	for _, e := range entries {
		d := filepath.Join("/sys/fs/cgroup", e.Name(), cgroup)
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	if st, err := os.Stat(filepath.Join("/sys/fs/cgroup", cgroup, "cgroup.procs")); err == nil && !st.IsDir() {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", cgroup)) // pure cgroup2 host
	}
	return dirs
}

// removeCgroups removes the parent cgroup and everything under it, failing
// the test for each child other than podman's own "conmon" one: a leftover
// container cgroup means the runtime did not clean up.
func removeCgroups(t *testing.T, parent string) {
	for _, d := range cgroupDirs(parent) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.IsDir() && e.Name() != "conmon" {
				t.Errorf("cgroup left behind: %s", filepath.Join(d, e.Name()))
			}
		}
		if err := rmdirTree(d); err != nil {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}

// rmdirTree removes a cgroup directory depth first; cgroupfs only takes
// rmdir, and only of cgroups without processes.
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

// sharedHostPaths are host paths engines make whatever their roots:
// dockerd's trust key and run and data dirs, podman's blob cache and
// netavark's run dir, the runc shim's socket dir (/run/containerd/s, used
// by the shims of dockerd, containerd and its CRI alike). Tests running at
// once share them, so they are judged for the whole package: those absent
// before its first test are removed after its last. (Judged per test, the
// first test to end removed them under the shims and podmans of the tests
// still running.) One that existed before belongs to someone else.
var sharedHostPaths = []string{
	"/etc/docker/key.json", "/run/docker", "/var/lib/docker",
	"/var/lib/containers", "/run/containers", "/run/containerd",
}

// sharedHostDirs are host directories where other test packages, running
// beside this one, make entries of their own: containerd's CRI names pods'
// network namespaces in /run/netns, as `ip netns add` in tests/e2e does
// (which also makes the directory a mount point). One absent before is
// removed only if empty and unmounted.
var sharedHostDirs = []string{"/run/netns"}

// absentPaths returns the paths that do not exist now.
func absentPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// removeFresh removes the paths whole and the directories only when
// empty (rmdir fails on entries and mount points: those are left).
func removeFresh(paths, dirs []string) error {
	var errs []error
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	for _, d := range dirs {
		unix.Rmdir(d) //nolint:errcheck // in use by another package's tests: theirs to remove
	}
	return errors.Join(errs...)
}

// removeNewCgroups removes, on cleanup, the cgroup name (relative to each
// hierarchy's root) in every hierarchy where it did not exist when called,
// deepest first. containerd's CRI plugin makes pods' parents under an
// absolute /k8s.io and leaves the empty directories behind when it stops;
// only empty ones can go (rmdir), so a cgroup still holding a process is
// reported, not forced.
func removeNewCgroups(t *testing.T, name string) {
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	var fresh []string
	for _, procs := range hierarchies {
		dir := filepath.Join(filepath.Dir(procs), name)
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			fresh = append(fresh, dir)
		}
	}
	t.Cleanup(func() {
		for _, dir := range fresh {
			var dirs []string
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
					t.Errorf("cgroup left behind: %s: %v", dirs[i], err)
				}
			}
		}
	})
}

// result is what one command did.
type result struct {
	Args           []string
	Stdout, Stderr string
	Code           int // -1: did not exit normally (timeout, signal)
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// runCmd runs a command with env added to this process's environment and
// stdin (may be nil), and waits for it. Output goes to files, not pipes:
// conmon and the shims outlive their callers and would keep pipes open.
func runCmd(t *testing.T, env []string, stdin io.Reader, name string, args ...string) result {
	t.Helper()
	p := startCmd(t, env, stdin, name, args...)
	return p.wait()
}

// proc is a started command.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr *os.File
}

func startCmd(t *testing.T, env []string, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	return startCmdTimeout(t, cmdTimeout, env, stdin, name, args...)
}

// startCmdTimeout is startCmd for commands that take longer than
// cmdTimeout (a whole test suite).
func startCmdTimeout(t *testing.T, timeout time.Duration, env []string, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	cmd.WaitDelay = 5 * time.Second
	p := &proc{t: t, cmd: cmd, cancel: cancel}
	var err error
	if p.stdout, err = os.CreateTemp("", "hull-engines-out-"); err != nil {
		t.Fatal(err)
	}
	if p.stderr, err = os.CreateTemp("", "hull-engines-err-"); err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	return p
}

func (p *proc) wait() result {
	p.t.Helper()
	err := p.cmd.Wait()
	p.cancel()
	r := result{Args: p.cmd.Args, Code: -1}
	if p.cmd.ProcessState != nil {
		r.Code = p.cmd.ProcessState.ExitCode()
	}
	for _, f := range []*os.File{p.stdout, p.stderr} {
		data, _ := os.ReadFile(f.Name())
		if f == p.stdout {
			r.Stdout = string(data)
		} else {
			r.Stderr = string(data)
		}
		f.Close()
		os.Remove(f.Name())
	}
	if err != nil && p.cmd.ProcessState == nil {
		p.t.Errorf("wait: %v: %s", err, r)
	}
	return r
}

// hullState is one entry of `hull list --format json`.
type hullState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

// hullList lists the containers hull holds under root.
func hullList(t *testing.T, bin, root string) []hullState {
	t.Helper()
	states, err := tryHullList(t, bin, root)
	if err != nil {
		t.Fatal(err)
	}
	return states
}

func tryHullList(t *testing.T, bin, root string) ([]hullState, error) {
	t.Helper()
	r := runCmd(t, nil, nil, bin, "--root", root, "list", "--format", "json")
	if r.Code != 0 {
		return nil, fmt.Errorf("%s", r)
	}
	var states []hullState
	if s := strings.TrimSpace(r.Stdout); s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &states); err != nil {
			return nil, fmt.Errorf("hull list JSON: %v: %s", err, r.Stdout)
		}
	}
	return states, nil
}

// waitHullContainer polls hull's state root until a container whose id
// satisfies match is in status, and returns it; the proof that the engine
// really ran hull.
func waitHullContainer(t *testing.T, bin, root, status string, match func(id string) bool) hullState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var seen []hullState
		// A failed list is tried again: runc's (the control's) fails when
		// a container of the shared /run/runc goes away while it lists.
		states, err := tryHullList(t, bin, root)
		for _, s := range states {
			if match(s.ID) && s.Status == status {
				return s
			}
			seen = append(seen, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no container %s in hull --root %s after 30s; hull holds %+v (last list error: %v)", status, root, seen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantNoHullContainers fails the test if hull still holds any container.
func wantNoHullContainers(t *testing.T, bin, root string) {
	t.Helper()
	if states := hullList(t, bin, root); len(states) != 0 {
		t.Errorf("hull --root %s still holds %+v", root, states)
	}
}

// lockedStdin is a reader that yields one line only once released, so a
// container can be held running until the test has seen it in hull's state.
type lockedStdin struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newLockedStdin() *lockedStdin {
	r, w := io.Pipe()
	return &lockedStdin{r: r, w: w}
}

func (l *lockedStdin) Read(p []byte) (int, error) { return l.r.Read(p) }

// release writes the line the container waits for, then closes its stdin.
func (l *lockedStdin) release() {
	go func() {
		l.w.Write([]byte("go\n"))
		l.w.Close()
	}()
}

// capMask turns capability names into the bit mask /proc/PID/status shows.
func capMask(t *testing.T, names []string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		bit, ok := capBits[strings.ToUpper(n)]
		if !ok {
			t.Fatalf("unknown capability %q", n)
		}
		m |= 1 << bit
	}
	return m
}

var capBits = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
	"CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
	"CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
	"CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
	"CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
	"CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
	"CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

// statusFields parses "Key:\tvalue" lines of /proc/PID/status output.
func statusFields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// haveCap reports whether this process has a capability in its effective
// set; the sandbox the tests may run in lacks CAP_SYS_RESOURCE.
func haveCap(bit uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	v, err := strconv.ParseUint(statusFields(string(data))["CapEff"], 16, 64)
	return err == nil && v&(1<<bit) != 0
}

// pidsWithArg finds processes whose command line contains arg (a path
// unique to one test), so that an engine daemon's children can be found
// and ended by PID.
func pidsWithArg(arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(arg)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killLeftovers fails the test for each live process that still names the
// scratch directory on its command line (a conmon, a shim, a container
// process the engine lost) and ends it, by PID.
func killLeftovers(t *testing.T, dir string) {
	for _, pid := range pidsWithArg(dir) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("process left behind: %d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		unix.Kill(pid, unix.SIGKILL)
	}
}

// stopByPID ends a daemon the test started: SIGTERM, then SIGKILL once
// grace has passed (an error: a daemon should stop when asked). done
// receives the daemon's Wait.
func stopByPID(t *testing.T, name string, daemon *exec.Cmd, done <-chan error, grace time.Duration) {
	t.Helper()
	daemon.Process.Signal(unix.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		t.Errorf("%s (pid %d) ignored SIGTERM for %s; killing it", name, daemon.Process.Pid, grace)
		daemon.Process.Kill()
		<-done
	}
}

// logErrors repeats a daemon's error lines in a failed test's output.
func logErrors(t *testing.T, name, log string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=error") {
			t.Logf("%s: %s", name, line)
		}
	}
}
