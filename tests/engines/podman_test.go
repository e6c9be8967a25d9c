package engines

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/tests/testenv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const podmanImage = "localhost/hull-busybox:test"

// podmanDefaultCaps are podman's built-in default capability sets (the
// default_capabilities of containers.conf): podman 4.3 (Debian 12) has
// the first, later releases dropped AUDIT_WRITE, MKNOD and NET_RAW.
var podmanDefaultCaps = [][]string{
	{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
		"CAP_SETUID", "CAP_SYS_CHROOT"},
	{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
		"CAP_SETUID", "CAP_SYS_CHROOT"},
}

// podman runs podman with everything of its own in one scratch directory
// and hull as its runtime, with hull's state root there too.
type podman struct {
	t        *testing.T
	hull     string
	rtBin    string // the runtime of p.global: hull, or runc for the control
	rtRoot   string // its state root: podman as root passes none, so the default
	s        *scratch
	env      []string
	global   []string
	runFlags []string // for every run and create: network, cgroup parent, ulimits
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin, rootfs := testenv.RequireHull(t, "engine tests")
	requireTools(t, "podman conmon", "podman", "conmon")
	s := newScratch(t, "podman")
	// podman's blob cache and netavark's run dir: see sharedHostPaths.
	// podman as root passes hull no --root, and the exit command conmon
	// runs (podman container cleanup, which deletes the container from the
	// runtime) drops --runtime-flag: so hull's state is in its default
	// root, and the test picks out its own containers there by bundle.
	p := &podman{t: t, hull: bin, rtBin: bin, s: s, rtRoot: "/run/hull"}
	d := s.Dir
	// Config files of its own, so the host's containers.conf, storage.conf
	// and registries are never read.
	files := map[string]string{
		"containers.conf": "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
		"storage.conf": fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
			filepath.Join(d, "root"), filepath.Join(d, "runroot")),
		"registries.conf": "unqualified-search-registries = []\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.env = []string{
		"CONTAINERS_CONF=" + filepath.Join(d, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(d, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(d, "registries.conf"),
	}
	p.global = []string{
		"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "runroot"),
		"--tmpdir", filepath.Join(d, "tmp"), "--network-config-dir", filepath.Join(d, "net"),
		"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--runtime", bin,
		"--runtime-flag", "log=" + filepath.Join(d, "hull.log"), "--runtime-flag", "log-format=json",
	}
	p.runFlags = append([]string{"--network", "none", "--cgroup-parent", s.Cgroup}, podmanUlimits(t)...)
	t.Cleanup(p.teardown)
	if r := p.run("info"); r.Code != 0 {
		t.Skipf("podman cannot run here: %s", r)
	}
	p.importImage(rootfs)
	return p
}

// podmanUlimits keeps podman's default rlimits (RLIMIT_NOFILE and
// RLIMIT_NPROC of 1048576 for root) when this process may raise hard
// limits; without CAP_SYS_RESOURCE (as in some sandboxes) no runtime can
// set them, runc included, so the test asks for limits it can set.
func podmanUlimits(t *testing.T) []string {
	if haveCap(24) { // CAP_SYS_RESOURCE
		return nil
	}
	n := uint64(16384)
	for _, res := range []int{unix.RLIMIT_NOFILE, unix.RLIMIT_NPROC} {
		var lim unix.Rlimit
		if err := unix.Getrlimit(res, &lim); err == nil && lim.Max < n {
			n = lim.Max
		}
	}
	t.Logf("no CAP_SYS_RESOURCE here: podman's default rlimits cannot be set by any runtime; using nofile and nproc %d", n)
	v := fmt.Sprintf("%d:%d", n, n)
	return []string{"--ulimit", "nofile=" + v, "--ulimit", "nproc=" + v}
}

func (p *podman) importImage(rootfs string) {
	p.t.Helper()
	layer := filepath.Join(p.s.Dir, "rootfs.tar")
	f, err := os.Create(layer)
	if err != nil {
		p.t.Fatal(err)
	}
	err = writeRootfsTar(f, rootfs)
	f.Close()
	if err != nil {
		p.t.Fatalf("tar %s: %v", rootfs, err)
	}
	p.must("import", layer, podmanImage)
}

// run runs podman with the test's global flags.
func (p *podman) run(args ...string) result {
	p.t.Helper()
	return runCmd(p.t, p.env, nil, "podman", append(append([]string{}, p.global...), args...)...)
}

// must runs podman and fails the test unless it exits 0.
func (p *podman) must(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.Code != 0 {
		p.t.Fatalf("%s\nhull log: %s", r, p.hullLog())
	}
	return r
}

// runArgs is `podman run` (or create) with the test's run flags, then args.
func (p *podman) runArgs(cmd string, args ...string) []string {
	return append(append([]string{cmd}, p.runFlags...), args...)
}

func (p *podman) hullLog() string {
	data, _ := os.ReadFile(filepath.Join(p.s.Dir, "hull.log"))
	return string(data)
}

// teardown removes every container and image, then podman's storage
// (which unmounts its overlay mounts), and checks hull holds nothing.
func (p *podman) teardown() {
	for _, args := range [][]string{
		{"rm", "--all", "--force", "--time", "0"},
		{"rmi", "--all", "--force"},
		{"system", "reset", "--force"},
	} {
		if r := p.run(args...); r.Code != 0 {
			p.t.Errorf("cleanup: %s", r)
		}
	}
	p.wantNoHullContainers(p.t)
	if runc, err := exec.LookPath("runc"); err == nil {
		rc := *p
		rc.rtBin, rc.rtRoot = runc, "/run/runc"
		rc.wantNoHullContainers(p.t)
	}
}

// ours lists the containers in the runtime's root whose bundle is in this test's
// podman root.
func (p *podman) ours(t *testing.T) []hullState {
	var out []hullState
	for _, s := range hullList(t, p.rtBin, p.rtRoot) {
		if strings.HasPrefix(s.Bundle, p.s.Dir+"/") {
			out = append(out, s)
		}
	}
	return out
}

// wantNoHullContainers fails the test if hull still holds one of this
// test's containers, and removes it.
func (p *podman) wantNoHullContainers(t *testing.T) {
	t.Helper()
	for _, s := range p.ours(t) {
		t.Errorf("%s --root %s still holds %+v", p.rtBin, p.rtRoot, s)
		if r := runCmd(t, nil, nil, p.rtBin, "--root", p.rtRoot, "delete", "--force", s.ID); r.Code != 0 {
			t.Errorf("%s", r)
		}
	}
}

// inspect returns one field of `podman inspect`, by Go template.
func (p *podman) inspect(name, format string) string {
	p.t.Helper()
	return strings.TrimSpace(p.must("inspect", "--format", format, name).Stdout)
}

// TestPodman drives hull through podman and conmon, each flow also with
// runc as the control. The subtests share one podman root and image and
// run in order.
func TestPodman(t *testing.T) {
	t.Parallel()
	p := newPodman(t)
	for _, rt := range podmanRuntimes {
		t.Run(rt, func(t *testing.T) {
			p := p.withRuntime(t, rt)
			t.Run("run-rm", p.testRunRm)
			t.Run("detached-lifecycle", p.testDetached)
			t.Run("pause-unpause", p.testPause)
			t.Run("terminal", p.testTerminal)
			t.Run("default-caps-seccomp", p.testDefaults)
			t.Run("exec-missing-binary", p.testExecMissing)
		})
	}
}

// withRuntime is p with runtime rt for every command ("hull", or "runc"
// for the control), whose containers it looks for in runc's default root.
func (p *podman) withRuntime(t *testing.T, rt string) *podman {
	pc := *p
	pc.t = t
	pc.global = p.globalFor(t, rt)
	if rt == "runc" {
		pc.rtBin, pc.rtRoot = pc.global[indexOf(pc.global, "--runtime")+1], "/run/runc"
	}
	return &pc
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// testRunRm: output and exit status pass through conmon; the container
// holds on stdin until the test has found it in hull's state root.
func (p *podman) testRunRm(t *testing.T) {
	cases := []struct {
		script string
		code   int
		out    string
	}{
		{"read x; echo hi", 0, "hi\n"},
		{"read x; echo bye; exit 3", 3, "bye\n"},
	}
	for _, tc := range cases {
		name := "rm-" + randHex(4)
		stdin := newLockedStdin()
		args := p.runArgs("run", "--rm", "-i", "--name", name, podmanImage, "sh", "-c", tc.script)
		proc := startCmd(t, p.env, stdin, "podman", append(append([]string{}, p.global...), args...)...)
		id := p.waitID(t, name)
		waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
		stdin.release()
		r := proc.wait()
		if r.Code != tc.code || r.Stdout != tc.out {
			t.Errorf("want exit %d and stdout %q; got %s\nhull log: %s", tc.code, tc.out, r, p.hullLog())
		}
	}
	if r := p.must("ps", "--all", "--quiet"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("--rm left containers: %s", r.Stdout)
	}
	p.wantNoHullContainers(t)
}

// waitID returns the full id of a named container once podman knows it.
func (p *podman) waitID(t *testing.T, name string) string {
	t.Helper()
	for i := 0; i < 600; i++ {
		if r := p.run("inspect", "--format", "{{.Id}}", name); r.Code == 0 {
			return strings.TrimSpace(r.Stdout)
		}
		sleepMs(50)
	}
	t.Fatalf("podman never knew container %s", name)
	return ""
}

// testDetached: run -d, exec, ps, stop and rm, each seen in hull's state.
func (p *podman) testDetached(t *testing.T) {
	id := strings.TrimSpace(p.must(p.runArgs("run", "-d", "--name", "d1", podmanImage, "sleep", "1000")...).Stdout)
	st := waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	if !strings.HasPrefix(st.Bundle, p.s.Dir) {
		t.Errorf("hull's bundle %s is not in podman's root %s", st.Bundle, p.s.Dir)
	}
	if got := p.inspect("d1", "{{.State.Pid}}"); got != strconv.Itoa(st.Pid) {
		t.Errorf("podman says pid %s, hull says %d", got, st.Pid)
	}
	if r := p.run("exec", "d1", "sh", "-c", "echo from-exec; exit 5"); r.Code != 5 || r.Stdout != "from-exec\n" {
		t.Errorf("exec: want exit 5 and from-exec; got %s\nhull log: %s", r, p.hullLog())
	}
	if r := p.must("ps", "--format", "{{.ID}} {{.Status}}", "--no-trunc"); !strings.Contains(r.Stdout, id+" Up") {
		t.Errorf("podman ps does not show %s up: %s", id, r.Stdout)
	}
	// sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL after 1s.
	p.must("stop", "--time", "1", "d1")
	if got := p.inspect("d1", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("after stop: %q, want \"exited 137\"", got)
	}
	p.must("rm", "d1")
	p.wantNoHullContainers(t)
	if r := p.must("ps", "--all", "--quiet"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("rm left containers: %s", r.Stdout)
	}
}

// testPause: podman pause freezes the container through hull (the v1
// freezer or cgroup.freeze), unpause thaws it.
func (p *podman) testPause(t *testing.T) {
	id := strings.TrimSpace(p.must(p.runArgs("run", "-d", "--name", "p1", podmanImage, "sleep", "1000")...).Stdout)
	defer p.run("rm", "--force", "--time", "0", "p1")
	waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	if r := p.run("pause", "p1"); r.Code != 0 {
		t.Fatalf("pause: %s\nhull log: %s", r, p.hullLog())
	}
	waitHullContainer(t, p.rtBin, p.rtRoot, "paused", func(s string) bool { return s == id })
	if got := p.inspect("p1", "{{.State.Status}}"); got != "paused" {
		t.Errorf("podman says %q after pause", got)
	}
	if f := filepath.Join("/sys/fs/cgroup/freezer", p.s.Cgroup, "libpod-"+id, "freezer.state"); fileExists(f) {
		if data, _ := os.ReadFile(f); strings.TrimSpace(string(data)) != "FROZEN" {
			t.Errorf("%s = %q after pause", f, data)
		}
	}
	if r := p.run("unpause", "p1"); r.Code != 0 {
		t.Fatalf("unpause: %s\nhull log: %s", r, p.hullLog())
	}
	waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	if r := p.run("exec", "p1", "echo", "thawed"); r.Code != 0 || r.Stdout != "thawed\n" {
		t.Errorf("exec after unpause: %s", r)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// testTerminal: with -t, conmon hands hull a console socket; hull sends
// back the pty master, and the container's stdio is that pty (the line
// discipline turns \n into \r\n on the way out).
func (p *podman) testTerminal(t *testing.T) {
	r := p.run(p.runArgs("run", "--rm", "-t", podmanImage, "sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 4")...)
	if r.Code != 4 || !strings.Contains(r.Stdout, "/dev/pts/0\r\n") || !strings.Contains(r.Stdout, "both-tty\r\n") {
		t.Errorf("run -t: want exit 4 and a pty; got %s\nhull log: %s", r, p.hullLog())
	}
	id := strings.TrimSpace(p.must(p.runArgs("run", "-d", "--name", "t1", podmanImage, "sleep", "1000")...).Stdout)
	defer p.run("rm", "--force", "--time", "0", "t1")
	waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	r = p.run("exec", "-t", "t1", "sh", "-c", "[ -t 0 ] && tty; exit 6")
	if r.Code != 6 || !strings.Contains(r.Stdout, "/dev/pts/") || !strings.Contains(r.Stdout, "\r\n") {
		t.Errorf("exec -t: want exit 6 and a pty; got %s\nhull log: %s", r, p.hullLog())
	}
}

// testDefaults: podman's default capabilities and seccomp profile reach
// the container: the config podman wrote for hull has podman's default
// set, and the container's init (read from the host) has exactly those
// capabilities and a seccomp filter.
func (p *podman) testDefaults(t *testing.T) {
	id := strings.TrimSpace(p.must(p.runArgs("run", "-d", "--name", "caps", podmanImage, "sleep", "1000")...).Stdout)
	defer p.run("rm", "--force", "--time", "0", "caps")
	st := waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	spec := p.ociConfig(t, "caps")
	c := spec.Process.Capabilities
	if c == nil {
		t.Fatal("podman wrote no process.capabilities")
	}
	if !isPodmanDefault(c.Bounding) {
		t.Errorf("podman's bounding set %v is none of its defaults %v", c.Bounding, podmanDefaultCaps)
	}
	if spec.Linux == nil || spec.Linux.Seccomp == nil || len(spec.Linux.Seccomp.Syscalls) == 0 {
		t.Fatal("podman wrote no seccomp profile")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatalf("container init: %v", err)
	}
	fields := statusFields(string(data))
	for _, tc := range []struct {
		field string
		caps  []string
	}{
		{"CapBnd", c.Bounding}, {"CapEff", c.Effective}, {"CapPrm", c.Permitted},
		{"CapInh", c.Inheritable}, {"CapAmb", c.Ambient},
	} {
		if fields[tc.field] != fmt.Sprintf("%016x", capMask(t, tc.caps)) {
			t.Errorf("init's %s = %s, want %016x from podman's config %v", tc.field, fields[tc.field], capMask(t, tc.caps), tc.caps)
		}
	}
	if fields["Seccomp"] != "2" || fields["Seccomp_filters"] != "1" {
		t.Errorf("init's Seccomp = %q, Seccomp_filters = %q; want 2 (filter mode) and 1", fields["Seccomp"], fields["Seccomp_filters"])
	}
	wantNNP := "0"
	if spec.Process.NoNewPrivileges {
		wantNNP = "1"
	}
	if fields["NoNewPrivs"] != wantNNP {
		t.Errorf("init's NoNewPrivs = %q, want %s", fields["NoNewPrivs"], wantNNP)
	}
	// An exec gets the same set: podman asks for it again in its process.json.
	r := p.must("exec", "caps", "grep", "^CapEff", "/proc/self/status")
	if got := statusFields(r.Stdout)["CapEff"]; got != fields["CapEff"] {
		t.Errorf("exec's CapEff = %s, init's %s", got, fields["CapEff"])
	}
}

func isPodmanDefault(caps []string) bool {
	got := append([]string{}, caps...)
	sort.Strings(got)
	for _, want := range podmanDefaultCaps {
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return true
		}
	}
	return false
}

// ociConfig reads the config.json podman wrote into the container's bundle.
func (p *podman) ociConfig(t *testing.T, name string) *specs.Spec {
	t.Helper()
	path := filepath.Join(p.inspect(name, "{{.StaticDir}}"), "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("podman's OCI config: %v", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &spec
}

// testExecMissing: an exec of a program that does not exist fails the
// way podman expects from runc (exit 127 and the program named), and the
// container keeps running.
func (p *podman) testExecMissing(t *testing.T) {
	id := strings.TrimSpace(p.must(p.runArgs("run", "-d", "--name", "e1", podmanImage, "sleep", "1000")...).Stdout)
	defer p.run("rm", "--force", "--time", "0", "e1")
	waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
	r := p.run("exec", "e1", "/no/such-program")
	if r.Code != 127 || !strings.Contains(r.Stderr, "/no/such-program") {
		t.Errorf("exec of a missing program: want exit 127 naming it; got %s\nhull log: %s", r, p.hullLog())
	}
	waitHullContainer(t, p.rtBin, p.rtRoot, "running", func(s string) bool { return s == id })
}
