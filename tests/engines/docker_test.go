package engines

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/tests/testenv"
)

const dockerImage = "hull-busybox:test"

// The Debian packages' programs, by absolute path: another docker client
// may come first on PATH.
const (
	dockerdBin = "/usr/sbin/dockerd"
	dockerBin  = "/usr/bin/docker"
)

// dockerRuntimes are the runtimes each Docker flow runs under: runc, the
// control, and hull, added with --add-runtime.
var dockerRuntimes = []string{"runc", "hull"}

// dockerd is a Docker daemon of the test's own: data root, exec root,
// pidfile, socket and config in the scratch directory, no bridge and no
// firewall rules (containers run with --network none), containers under
// the scratch cgroup, and hull added as a runtime.
type dockerd struct {
	t      *testing.T
	hull   string
	s      *scratch
	sock   string
	env    []string
	daemon *exec.Cmd
	done   chan error
}

func newDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin, rootfs := testenv.RequireHull(t, "engine tests")
	for _, p := range []string{dockerdBin, dockerBin} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not installed (Debian: apt-get install docker.io)", p)
		}
	}
	requireTools(t, "runc", "runc")
	s := newScratch(t, "docker")
	// dockerd keeps its trust key in /etc/docker whatever its roots; its
	// containerd's shims put their sockets in /run/containerd/s: TestMain
	// removes them after the package's last test (sharedHostPaths).
	d := &dockerd{t: t, hull: bin, s: s, sock: filepath.Join(s.Dir, "docker.sock"),
		env: []string{"DOCKER_CONFIG=" + filepath.Join(s.Dir, "client")}}
	d.start()
	t.Cleanup(d.teardown)
	layer := filepath.Join(s.Dir, "rootfs.tar")
	f, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	err = writeRootfsTar(f, rootfs)
	f.Close()
	if err != nil {
		t.Fatalf("tar %s: %v", rootfs, err)
	}
	d.must(t, "import", "--change", `CMD ["sh"]`, layer, dockerImage)
	return d
}

func (d *dockerd) start() {
	d.t.Helper()
	dir := d.s.Dir
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		d.t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	d.daemon = exec.Command(dockerdBin,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", "unix://"+d.sock,
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--userland-proxy=false", "--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", d.s.Cgroup, "--storage-driver", "overlay2",
		"--add-runtime", "hull="+d.hull, "--default-runtime", "runc")
	d.daemon.Stdout, d.daemon.Stderr = logf, logf
	if err := d.daemon.Start(); err != nil {
		d.t.Fatalf("start dockerd: %v", err)
	}
	d.done = make(chan error, 1)
	go func() { d.done <- d.daemon.Wait() }()
	deadline := time.Now().Add(cmdTimeout) // a loaded host slows the daemon's start
	for {
		r := d.docker(d.t, "version")
		if r.Code == 0 {
			return
		}
		select {
		case <-d.done:
			d.daemon = nil
			d.t.Fatalf("dockerd exited: %s", d.log())
		default:
		}
		if time.Now().After(deadline) {
			d.stopDaemon()
			d.t.Fatalf("dockerd did not come up in %v: %s\nlog: %s", cmdTimeout, r, d.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *dockerd) log() string {
	data, _ := os.ReadFile(filepath.Join(d.s.Dir, "dockerd.log"))
	return string(data)
}

func (d *dockerd) docker(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, d.env, nil, dockerBin, append([]string{"-H", "unix://" + d.sock}, args...)...)
}

func (d *dockerd) must(t *testing.T, args ...string) string {
	t.Helper()
	r := d.docker(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// runArgs is `docker run` under runtime rt, with no network, then args.
func runArgs(rt string, args ...string) []string {
	return append([]string{"run", "--runtime", rt, "--network", "none"}, args...)
}

// runtimeRoot is the state root Docker 20.10 gives every runtime it
// drives through the runc shim: exec-root/runtime-runc/moby, one directory
// for runc's and hull's containers alike.
func (d *dockerd) runtimeRoot() string {
	return filepath.Join(d.s.Dir, "exec", "runtime-runc", "moby")
}

// runtimeStatus is what runtime rt itself says of container id, under the
// state root Docker gives it.
func (d *dockerd) runtimeStatus(t *testing.T, rt, id string) string {
	t.Helper()
	bin := d.hull
	if rt == "runc" {
		bin, _ = exec.LookPath("runc")
	}
	r := runCmd(t, nil, nil, bin, "--root", d.runtimeRoot(), "state", id)
	if r.Code != 0 {
		return "absent"
	}
	var st struct {
		Status string `json:"status"`
	}
	json.Unmarshal([]byte(r.Stdout), &st)
	return st.Status
}

// teardown removes every container and image, stops dockerd by its PID,
// and checks hull holds nothing in Docker's state root for it.
func (d *dockerd) teardown() {
	if d.daemon == nil {
		return
	}
	if r := d.docker(d.t, "ps", "--all", "--quiet"); r.Code == 0 {
		for _, id := range strings.Fields(r.Stdout) {
			if r := d.docker(d.t, "rm", "--force", id); r.Code != 0 {
				d.t.Errorf("cleanup: %s", r)
			}
		}
	}
	d.docker(d.t, "rmi", "--force", dockerImage)
	d.stopDaemon()
	wantNoHullContainers(d.t, d.hull, d.runtimeRoot())
	if d.t.Failed() {
		logErrors(d.t, "dockerd", d.log())
	}
}

// stopDaemon ends dockerd by PID (it stops its own containerd): SIGTERM,
// then SIGKILL after 20s.
func (d *dockerd) stopDaemon() {
	if d.daemon == nil {
		return
	}
	stopByPID(d.t, "dockerd", d.daemon, d.done, 20*time.Second)
	d.daemon = nil
	waitGone(d.s.Dir, 10*time.Second)
}

// TestDocker drives hull through Docker (dockerd, its containerd and the
// runc shim), each flow under runc (the control) and hull.
func TestDocker(t *testing.T) {
	t.Parallel()
	d := newDockerd(t)
	flows := []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"run-exit-codes", d.testRun},
		{"detached-exec-pause-update-stop", d.testDetached},
		{"stop-timing", d.testStopTiming},
		{"tty", d.testTTY},
		{"read-only-tmpfs", d.testReadOnly},
		{"home", d.testHome},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			for _, rt := range dockerRuntimes {
				t.Run(rt, func(t *testing.T) { f.fn(t, rt) })
			}
		})
	}
}

// testRun: output and exit status pass through, a signal death is 128+N.
func (d *dockerd) testRun(t *testing.T, rt string) {
	for _, tc := range []struct {
		script string
		code   int
		out    string
	}{
		{"echo hi", 0, "hi\n"},
		{"echo bye; exit 3", 3, "bye\n"},
		// PID 1 ignores even SIGKILL from inside its pid namespace: the
		// signal ends a child (not exec'd: a command follows), whose
		// status the shell passes on.
		{`sh -c 'kill -KILL $$'; exit $?`, 137, ""},
	} {
		r := d.docker(t, runArgs(rt, "--rm", dockerImage, "sh", "-c", tc.script)...)
		if r.Code != tc.code || r.Stdout != tc.out {
			t.Errorf("%s: want exit %d and %q; got %s", rt, tc.code, tc.out, r)
		}
	}
}

// testDetached: run -d, exec (status, output, HOME), pause and unpause,
// update (limits in the cgroup, devices still usable), stop, rm; the
// runtime's own state shows it ran the container.
func (d *dockerd) testDetached(t *testing.T, rt string) {
	name := "det-" + rt + "-" + randHex(4)
	id := d.must(t, runArgs(rt, "-d", "--name", name, dockerImage, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")...)
	defer d.docker(t, "rm", "--force", name)
	if got := d.runtimeStatus(t, rt, id); got != "running" {
		t.Fatalf("%s holds %s as %q, want running", rt, id, got)
	}
	if r := d.docker(t, "exec", name, "sh", "-c", "echo from-exec; exit 5"); r.Code != 5 || r.Stdout != "from-exec\n" {
		t.Errorf("exec: want exit 5 and from-exec; got %s", r)
	}
	if r := d.docker(t, "exec", name, "sh", "-c", "echo $HOME"); r.Stdout != "/root\n" {
		t.Errorf("exec: want HOME=/root (root's entry in the image's /etc/passwd); got %s", r)
	}
	d.must(t, "pause", name)
	if got := d.must(t, "inspect", "--format", "{{.State.Status}}", name); got != "paused" {
		t.Errorf("docker says %q after pause", got)
	}
	if got := d.runtimeStatus(t, rt, id); got != "paused" {
		t.Errorf("%s says %q after pause", rt, got)
	}
	d.must(t, "unpause", name)
	if r := d.docker(t, "exec", name, "echo", "thawed"); r.Code != 0 || r.Stdout != "thawed\n" {
		t.Errorf("exec after unpause: %s", r)
	}
	d.must(t, "update", "--memory", "64m", "--memory-swap", "128m", "--cpu-shares", "512", "--pids-limit", "100", name)
	pid, _ := strconv.Atoi(d.must(t, "inspect", "--format", "{{.State.Pid}}", name))
	for file, want := range map[string]string{
		"memory/memory.limit_in_bytes": "67108864", "cpu/cpu.shares": "512", "pids/pids.max": "100",
	} {
		if got, err := cgroupFile(pid, file); err != nil {
			t.Logf("after update: %s not read: %v", file, err)
		} else if got != want {
			t.Errorf("after update: %s = %q, want %s", file, got, want)
		}
	}
	if r := d.docker(t, "exec", name, "sh", "-c", "echo x > /dev/null && head -c 1 /dev/zero | wc -c"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("devices after update: %s", r)
	}
	d.must(t, "stop", "--time", "10", name)
	if got := d.must(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name); got != "exited 0" {
		t.Errorf("after stop: %q, want \"exited 0\"", got)
	}
	d.must(t, "rm", name)
	if got := d.runtimeStatus(t, rt, id); got != "absent" {
		t.Errorf("%s still holds %s after rm (%s)", rt, id, got)
	}
}

// cgroupFile reads a v1 controller file of pid's cgroup ("memory/x").
func cgroupFile(pid int, file string) (string, error) {
	ctrl, name, _ := strings.Cut(file, "/")
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ","+ctrl+",") {
			v, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, parts[2], name))
			return strings.TrimSpace(string(v)), err
		}
	}
	return "", os.ErrNotExist
}

// testStopTiming: a container that exits on SIGTERM stops at once, one
// that ignores it (sleep as PID 1) is killed when the timeout ends. The
// stop begins once the trap is set (the script says so in its log: a
// fixed 300 ms lost to a loaded host, and PID 1 drops a TERM it has no
// handler for, so the stop then waited its whole timeout and killed it).
func (d *dockerd) testStopTiming(t *testing.T, rt string) {
	for _, tc := range []struct {
		script   string
		ready    string // a log line the script writes once it can take the stop
		timeout  int
		min, max time.Duration
		status   string
	}{
		{"trap 'exit 0' TERM; echo trapped; while :; do sleep 0.1; done", "trapped", 10, 0, 3 * time.Second, "exited 0"},
		{"exec sleep 1000", "", 2, 2 * time.Second, 6 * time.Second, "exited 137"},
	} {
		name := "stop-" + rt + "-" + randHex(4)
		d.must(t, runArgs(rt, "-d", "--name", name, dockerImage, "sh", "-c", tc.script)...)
		if tc.ready != "" {
			d.waitLog(t, name, tc.ready)
		}
		start := time.Now()
		d.must(t, "stop", "--time", strconv.Itoa(tc.timeout), name)
		took := time.Since(start)
		t.Logf("%s: stop --time %d took %v", tc.script, tc.timeout, took.Round(time.Millisecond))
		if took < tc.min || took > tc.max {
			t.Errorf("%s: stop --time %d took %v, want %v..%v", tc.script, tc.timeout, took.Round(time.Millisecond), tc.min, tc.max)
		}
		if got := d.must(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name); got != tc.status {
			t.Errorf("%s: after stop %q, want %q", tc.script, got, tc.status)
		}
		d.must(t, "rm", name)
	}
}

// waitLog waits until the container's log holds line, and fails the test
// with the log seen if it does not within cmdTimeout.
func (d *dockerd) waitLog(t *testing.T, name, line string) {
	t.Helper()
	deadline := time.Now().Add(cmdTimeout)
	for {
		r := d.docker(t, "logs", name)
		if r.Code == 0 && strings.Contains(r.Stdout, line) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q in %v: %s", name, line, cmdTimeout, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testTTY: docker run -it, from a terminal (script(1) gives the client
// one): the container's stdio is a pty.
func (d *dockerd) testTTY(t *testing.T, rt string) {
	cmd := append([]string{dockerBin, "-H", "unix://" + d.sock},
		runArgs(rt, "--rm", "-it", dockerImage, "sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 4")...)
	r := runCmd(t, d.env, strings.NewReader(""), "script", "--quiet", "--return", "--command", shellJoin(cmd), "/dev/null")
	if r.Code != 4 || !strings.Contains(r.Stdout, "/dev/pts/0") || !strings.Contains(r.Stdout, "both-tty") {
		t.Errorf("run -it: want exit 4 and a pty; got %s", r)
	}
}

// testReadOnly: --read-only makes the root read-only; --tmpfs mounts a
// writable tmpfs with the options asked for, also on a read-only root.
func (d *dockerd) testReadOnly(t *testing.T, rt string) {
	r := d.docker(t, runArgs(rt, "--rm", "--read-only", dockerImage, "sh", "-c", "touch /x")...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--read-only: want touch / refused with EROFS; got %s", r)
	}
	r = d.docker(t, runArgs(rt, "--rm", "--read-only", "--tmpfs", "/tmp:size=1m,mode=1777", dockerImage,
		"sh", "-c", "touch /tmp/y && grep ' /tmp ' /proc/self/mounts && stat -c %a /tmp")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "tmpfs /tmp tmpfs rw,") || !strings.Contains(r.Stdout, "size=1024k") ||
		!strings.HasSuffix(r.Stdout, "1777\n") {
		t.Errorf("--read-only --tmpfs /tmp:size=1m,mode=1777: want a writable 1 MiB tmpfs, mode 1777; got %s", r)
	}
	// Docker's default tmpfs options: noexec, nosuid, nodev.
	r = d.docker(t, runArgs(rt, "--rm", "--tmpfs", "/run", dockerImage, "sh", "-c", "grep ' /run ' /proc/self/mounts")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "nosuid") || !strings.Contains(r.Stdout, "nodev") || !strings.Contains(r.Stdout, "noexec") {
		t.Errorf("--tmpfs /run: want tmpfs nosuid,nodev,noexec; got %s", r)
	}
}

// testHome: Docker sets no HOME; the runtime sets it from the image's
// /etc/passwd entry of the user (runc's rule), "/" when there is none,
// and leaves one given with -e alone.
func (d *dockerd) testHome(t *testing.T, rt string) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "/root"},
		{[]string{"--user", "65534"}, "/nonexistent"},
		{[]string{"--user", "1234"}, "/"},
		{[]string{"-e", "HOME=/elsewhere"}, "/elsewhere"},
	} {
		args := append(append([]string{"--rm"}, tc.flags...), dockerImage, "sh", "-c", "echo $HOME")
		if r := d.docker(t, runArgs(rt, args...)...); r.Code != 0 || r.Stdout != tc.want+"\n" {
			t.Errorf("%v: want HOME=%s; got %s", tc.flags, tc.want, r)
		}
	}
}
