package engines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// podmanRuntimes are the runtimes each everyday-flag flow runs under:
// runc, the control, and hull.
var podmanRuntimes = []string{"runc", "hull"}

// globalFor is the test's global podman flags with runtime rt.
func (p *podman) globalFor(t *testing.T, rt string) []string {
	t.Helper()
	bin := p.hull
	if rt == "runc" {
		var err error
		if bin, err = exec.LookPath("runc"); err != nil {
			t.Skip("runc not installed: no control")
		}
	}
	g := append([]string{}, p.global...)
	for i := range g {
		if g[i] == "--runtime" {
			g[i+1] = bin
		}
	}
	return g
}

// rt runs podman with runtime rt; every command on a container names its
// runtime, as the harness does for hull.
func (p *podman) rt(t *testing.T, rt string, args ...string) result {
	t.Helper()
	return runCmd(t, p.env, nil, "podman", append(p.globalFor(t, rt), args...)...)
}

func (p *podman) mustRT(t *testing.T, rt string, args ...string) string {
	t.Helper()
	r := p.rt(t, rt, args...)
	if r.Code != 0 {
		t.Fatalf("%s\nhull log: %s", r, p.hullLog())
	}
	return strings.TrimSpace(r.Stdout)
}

// TestPodmanEveryday runs what podman users pass every day, each flow under
// runc (the control) and hull, with one podman root and image.
func TestPodmanEveryday(t *testing.T) {
	t.Parallel()
	p := newPodman(t)
	flows := []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"tmpfs", p.testTmpfs},
		{"read-only", p.testReadOnly},
		{"mount-tmpfs", p.testMountTmpfs},
		{"user", p.testUser},
		{"env-without-home", p.testEnvHome},
		{"update", p.testUpdate},
		{"systemd", p.testSystemd},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			for _, rt := range podmanRuntimes {
				t.Run(rt, func(t *testing.T) { f.fn(t, rt) })
			}
		})
	}
}

// testTmpfs: podman's --tmpfs asks for tmpcopyup: the image's content of
// the directory is copied into the new tmpfs.
func (p *podman) testTmpfs(t *testing.T, rt string) {
	r := p.rt(t, rt, p.runArgs("run", "--rm", "--tmpfs", "/etc", podmanImage,
		"sh", "-c", "grep ' /etc ' /proc/self/mounts && cat /etc/passwd && touch /etc/new")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "tmpfs /etc tmpfs") || !strings.Contains(r.Stdout, "root:x:0:0:") {
		t.Errorf("--tmpfs /etc: want a writable tmpfs holding the image's /etc; got %s\nhull log: %s", r, p.hullLog())
	}
}

// testReadOnly: --read-only makes the root read-only and (podman's
// read-only-tmpfs default) gives /tmp, /var/tmp and /run writable tmpfs.
func (p *podman) testReadOnly(t *testing.T, rt string) {
	r := p.rt(t, rt, p.runArgs("run", "--rm", "--read-only", podmanImage, "sh", "-c",
		"touch /tmp/ok /run/ok || exit 1; touch /x; echo status=$?")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "status=1") || !strings.Contains(r.Stderr+r.Stdout, "Read-only file system") {
		t.Errorf("--read-only: want / refused (EROFS), /tmp and /run writable; got %s\nhull log: %s", r, p.hullLog())
	}
}

// testMountTmpfs: --mount type=tmpfs with size and mode.
func (p *podman) testMountTmpfs(t *testing.T, rt string) {
	r := p.rt(t, rt, p.runArgs("run", "--rm", "--mount", "type=tmpfs,destination=/data,tmpfs-size=1m,tmpfs-mode=0700",
		podmanImage, "sh", "-c", "grep ' /data ' /proc/self/mounts && stat -c %a /data && touch /data/x")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "size=1024k") || !strings.Contains(r.Stdout, "\n700\n") {
		t.Errorf("--mount type=tmpfs,tmpfs-size=1m,tmpfs-mode=0700: got %s\nhull log: %s", r, p.hullLog())
	}
}

// testUser: --user by uid and by name from the image's /etc/passwd.
func (p *podman) testUser(t *testing.T, rt string) {
	for _, tc := range []struct{ user, want string }{
		{"65534", "65534 65534 /nonexistent"},
		{"nobody", "65534 65534 /nonexistent"},
		{"1234:5678", "1234 5678 /"},
	} {
		r := p.rt(t, rt, p.runArgs("run", "--rm", "--user", tc.user, podmanImage, "sh", "-c", "echo $(id -u) $(id -g) $HOME")...)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != tc.want {
			t.Errorf("--user %s: want %q; got %s\nhull log: %s", tc.user, tc.want, r, p.hullLog())
		}
	}
}

// testEnvHome: --env without HOME keeps HOME from the user's entry, in the
// container and in an exec.
func (p *podman) testEnvHome(t *testing.T, rt string) {
	r := p.rt(t, rt, p.runArgs("run", "--rm", "--env", "FOO=bar", podmanImage, "sh", "-c", "echo $FOO $HOME")...)
	if r.Code != 0 || r.Stdout != "bar /root\n" {
		t.Errorf("--env FOO=bar: want \"bar /root\"; got %s\nhull log: %s", r, p.hullLog())
	}
	name := "home-" + rt + "-" + randHex(4)
	p.mustRT(t, rt, p.runArgs("run", "-d", "--name", name, "--env", "FOO=bar", podmanImage, "sleep", "1000")...)
	defer p.rt(t, rt, "rm", "--force", "--time", "0", name)
	if r := p.rt(t, rt, "exec", "--env", "BAR=baz", name, "sh", "-c", "echo $FOO $BAR $HOME"); r.Stdout != "bar baz /root\n" {
		t.Errorf("exec --env BAR=baz: want \"bar baz /root\"; got %s\nhull log: %s", r, p.hullLog())
	}
}

// testUpdate: podman update changes the limits in the container's cgroup
// and leaves its devices usable.
func (p *podman) testUpdate(t *testing.T, rt string) {
	name := "upd-" + rt + "-" + randHex(4)
	p.mustRT(t, rt, p.runArgs("run", "-d", "--name", name, podmanImage, "sleep", "1000")...)
	defer p.rt(t, rt, "rm", "--force", "--time", "0", name)
	if r := p.rt(t, rt, "update", "--memory", "64m", "--cpu-shares", "512", name); r.Code != 0 {
		t.Fatalf("%s\nhull log: %s", r, p.hullLog())
	}
	pid, _ := strconv.Atoi(p.mustRT(t, rt, "inspect", "--format", "{{.State.Pid}}", name))
	for file, want := range map[string]string{"memory/memory.limit_in_bytes": "67108864", "cpu/cpu.shares": "512"} {
		if got, err := cgroupFile(pid, file); err != nil {
			t.Logf("after update: %s not read: %v", file, err)
		} else if got != want {
			t.Errorf("after update: %s = %q, want %s", file, got, want)
		}
	}
	if r := p.rt(t, rt, "exec", name, "sh", "-c", "echo x > /dev/null && head -c 1 /dev/zero | wc -c"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("devices after update: %s", r)
	}
}

// debianRootfs is the Debian 12 tree with systemd the boot tests build.
func debianRootfs(t *testing.T) string {
	t.Helper()
	p := os.Getenv("HULL_DEBIAN_ROOTFS")
	if p == "" {
		wd, _ := os.Getwd()
		p = filepath.Join(wd, "..", "..", "_build", "debian-rootfs")
	}
	if _, err := os.Stat(filepath.Join(p, "lib/systemd/systemd")); err != nil {
		t.Skipf("no Debian rootfs with systemd at %s (the boot tests build it: go test ./tests/boot)", p)
	}
	return p
}

// testSystemd: --systemd=always boots Debian's systemd as PID 1 (podman
// mounts /run, /tmp and the journal as tmpfs with tmpcopyup, and stops
// with SIGRTMIN+3): it reaches "running", and podman stop is prompt.
// The tree is used through an overlay (":O"), never changed.
func (p *podman) testSystemd(t *testing.T, rt string) {
	root := debianRootfs(t)
	name := "sd-" + rt + "-" + randHex(4)
	p.mustRT(t, rt, p.runArgs("run", "-d", "--name", name, "--systemd", "always", "--rootfs", root+":O", "/lib/systemd/systemd")...)
	defer p.rt(t, rt, "rm", "--force", "--time", "0", name)
	var state string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := p.rt(t, rt, "exec", name, "systemctl", "is-system-running")
		if state = strings.TrimSpace(r.Stdout); state == "running" || state == "degraded" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if state != "running" {
		failed := p.rt(t, rt, "exec", name, "systemctl", "--failed", "--no-legend").Stdout
		t.Errorf("systemd is %q, want running; failed units: %s\nhull log: %s", state, failed, p.hullLog())
	}
	// The stop may take systemd's own DefaultTimeoutStopSec (a loaded host
	// slows a unit's stop; a fixed 10 s was the kind of bound that failed
	// the boot tests in CI); what proves the halt signal reached systemd is
	// that systemd ended by itself, not by podman's SIGKILL at the timeout.
	start := time.Now()
	r := p.rt(t, rt, "stop", "--time", strconv.Itoa(int(systemdStopTimeout/time.Second)), name)
	took := time.Since(start)
	status := strings.TrimSpace(p.rt(t, rt, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout)
	if r.Code != 0 || status != "exited 0" {
		t.Errorf("podman stop: exit %d after %v, state %q, want 0 and \"exited 0\" (systemd halted, not killed): %s\nhull log: %s",
			r.Code, took.Round(time.Millisecond), status, r, p.hullLog())
	}
	t.Logf("%s: boot to %s, stop in %v (%s)", rt, state, took.Round(time.Millisecond), status)
}

// systemdStopTimeout is systemd's DefaultTimeoutStopSec: how long its
// shutdown may wait for one unit before it kills the unit.
const systemdStopTimeout = 90 * time.Second
