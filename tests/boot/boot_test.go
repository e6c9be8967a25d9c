package boot

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const bootTimeout = 60 * time.Second

// stopTimeout bounds a machine's shutdown after its kill signal.
const stopTimeout = 30 * time.Second

// execFunc runs a command inside a machine.
type execFunc func(args ...string) (string, error)

// waitRunning asks systemd inside until it answers, then waits for the
// boot to finish; it fails unless the state is "running" (0 failed units).
func waitRunning(t *testing.T, m *machine, ex execFunc) time.Duration {
	t.Helper()
	err := untilOK(bootTimeout, func() error {
		select {
		case <-m.done:
			return fmt.Errorf("%s exited with %d before booting:\n%s", m.name, m.status, m.out)
		default:
		}
		_, err := ex("true")
		return err
	})
	if err != nil {
		t.Fatalf("%s: exec never worked: %v\noutput:\n%s", m.name, err, m.out)
	}
	m.recordBundle(shared.hull)
	// systemctl fails to connect until PID 1 has its private socket up.
	var state string
	err = untilOK(bootTimeout, func() error {
		state, _ = ex("timeout", "50", "systemctl", "is-system-running", "--wait")
		if strings.Contains(state, "Failed to connect") {
			return fmt.Errorf("%s", state)
		}
		return nil
	})
	took := time.Since(m.started)
	if state != "running" {
		failed, _ := ex("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager")
		t.Fatalf("%s: system state %q (%v), failed units:\n%s\noutput:\n%s", m.name, state, err, failed, m.out)
	}
	return took
}

// checkMachine asserts the identity and the file system view systemd needs.
func checkMachine(t *testing.T, m *machine, ex execFunc, uuid string) {
	t.Helper()
	want := map[string]string{
		"hostname": m.name,
		"systemctl list-units --failed --plain --no-legend --no-pager | wc -l": "0",
		"cat /etc/machine-id":                     strings.ReplaceAll(uuid, "-", ""),
		"cat /run/host/container-manager":         "hull",
		"cat /run/host/container-uuid":            uuid,
		"test -f /run/host/os-release && echo ok": "ok",
		"mkdir /sys/fs/cgroup/systemd/hull-t && rmdir /sys/fs/cgroup/systemd/hull-t && echo rw": "rw",
		"mkdir /sys/fs/cgroup/memory/hull-t 2>/dev/null || echo ro":                             "ro",
		"touch /run/host/x 2>/dev/null || echo ro":                                              "ro",
		"touch /sys/x 2>/dev/null || echo ro":                                                   "ro",
		"cat /proc/1/cgroup | grep name=systemd | cut -d: -f3":                                  "/init.scope",
	}
	for cmd, w := range want {
		got, err := ex("sh", "-c", cmd)
		if err != nil || got != w {
			t.Errorf("%s: %q = %q (%v), want %q", m.name, cmd, got, err, w)
		}
	}
}

// powerOff sends the machine id SIGRTMIN+3, the way rt takes it, and
// checks the runtime exits with its poweroff status.
func powerOff(t *testing.T, rt runtime, m *machine, id string) {
	t.Helper()
	kill := []string{"kill", id}
	if rt.rtmin3 != "" {
		kill = append(kill, rt.rtmin3)
	}
	if out, err := rt.output(t, kill...); err != nil {
		t.Fatalf("%s kill: %v: %s", rt.name, err, out)
	}
	if st := m.wait(t, stopTimeout); st != rt.poweroff {
		t.Errorf("%s: exit status %d after SIGRTMIN+3, want %d\n%s", rt.name, st, rt.poweroff, m.out)
	}
}

func readUUID(t *testing.T, bundle string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, "run-host", "container-uuid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestBootRuntimes converts one machine and boots it under every runtime.
func TestBootRuntimes(t *testing.T) {
	s := setup(t)
	for _, rt := range runtimes(t, s) {
		t.Run(rt.name, func(t *testing.T) {
			name := randomName("boot-" + rt.name + "-")
			cg := "/" + randomName("hull-boot-")
			bundle := t.TempDir()
			t.Cleanup(func() {
				rt.cmd("delete", "--force", name).Run()
				removeCgroup(cg)
			})
			convert(t, s, bundle, "-D", s.work, "-M", name, "-b", "--console=pipe", "--cgroups-path", cg)
			uuid := readUUID(t, bundle)
			run := rt.cmd("run", "--bundle", bundle, name)
			m := startCmd(t, run, name, cg)
			ex := func(args ...string) (string, error) { return rt.output(t, append([]string{"exec", name}, args...)...) }
			booted := waitRunning(t, m, ex)
			checkMachine(t, m, ex, uuid)
			stop := time.Now()
			powerOff(t, rt, m, name)
			timings.add("%-6s boot-to-running %6.2fs  shutdown %5.2fs", rt.name, booted.Seconds(), time.Since(stop).Seconds())
			if out, err := rt.output(t, "state", name); err == nil {
				t.Errorf("%s: state left behind: %s", rt.name, out)
			}
			assertNothingLeft(t, m, bundle, s.work)
		})
	}
}

// TestNspawnBoot boots straight from nspawn flags with `hull nspawn -b`
// (no tty: read-only console on a pty), using hull state/exec/kill by name.
func TestNspawnBoot(t *testing.T) {
	s := setup(t)
	name := randomName("nspawn-")
	cg := machineCgroup(t, s, name)
	// hull relays the machine's READY=1 to its own NOTIFY_SOCKET (--notify-ready).
	notify := filepath.Join(t.TempDir(), "notify")
	mgr, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	cmd := exec.Command(s.hull, "nspawn", "-D", s.work, "-M", name, "-b", "--notify-ready=yes", "--cgroups-path", cg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	m := startCmd(t, cmd, name, cg)
	mgr.SetReadDeadline(time.Now().Add(bootTimeout))
	buf := make([]byte, 512)
	if n, err := mgr.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Errorf("no READY=1 relayed: %q %v", buf[:n], err)
	}
	ready := time.Since(m.started)
	ex := func(args ...string) (string, error) {
		out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	booted := waitRunning(t, m, ex)
	st, err := exec.Command(s.hull, "state", name).Output()
	if err != nil || !strings.Contains(string(st), `"running"`) || !strings.Contains(string(st), `"org.hull.nspawn.machine": "`+name+`"`) {
		t.Errorf("hull state %s: %v\n%s", name, err, st)
	}
	if tty, _ := ex("sh", "-c", "test -c /dev/console && tty < /dev/console"); !strings.HasPrefix(tty, "/dev/") {
		t.Errorf("/dev/console is %q, want the console pty", tty)
	}
	stop := time.Now()
	if out, err := exec.Command(s.hull, "kill", name).CombinedOutput(); err != nil { // default: SIGRTMIN+3
		t.Fatalf("hull kill: %v: %s", err, out)
	}
	if st := m.wait(t, stopTimeout); st != 0 {
		t.Errorf("hull nspawn exit status %d after poweroff, want 0\n%s", st, m.out)
	}
	// The read-only console reaches hull's stdout (a pipe here) for the
	// whole boot and shutdown, although systemd closes its console early on.
	for _, want := range []string{"Welcome to", "Reached target", "Halting system"} {
		if !strings.Contains(m.out.String(), want) {
			t.Errorf("console output lacks %q:\n%s", want, m.out)
		}
	}
	timings.add("%-6s boot-to-running %6.2fs  shutdown %5.2fs  (READY=1 relayed after %.2fs)", "hull nspawn", booted.Seconds(), time.Since(stop).Seconds(), ready.Seconds())
	assertNothingLeft(t, m, s.work, nspawnRuns)
}

// TestAppContainer runs a command, not an init: status passes through.
func TestAppContainer(t *testing.T) {
	s := setup(t)
	name := randomName("app-")
	cg := machineCgroup(t, s, name)
	cmd := exec.Command(s.hull, "nspawn", "-D", s.work, "-M", name, "--console=pipe", "--cgroups-path", cg,
		"--setenv=GREETING=hello", "--", "/bin/sh", "-c", `echo "$GREETING $container $(hostname)"; exit 7`)
	m := startCmd(t, cmd, name, cg)
	if st := m.wait(t, stopTimeout); st != 7 {
		t.Errorf("exit status %d, want 7\n%s", st, m.out)
	}
	if want := "hello hull " + name; !strings.Contains(m.out.String(), want) {
		t.Errorf("output %q, want %q", m.out, want)
	}
	assertNothingLeft(t, m, s.work)
}

// TestConsoleReopened: an app on the read-only console (stdin not a tty,
// stdout a pipe) closes every descriptor of the pty, then writes to
// /dev/console again; that output must still reach hull's stdout. (A pty
// master reads EIO while no slave is open: hull used to stop copying there.)
func TestConsoleReopened(t *testing.T) {
	s := setup(t)
	name := randomName("console-")
	cg := machineCgroup(t, s, name)
	cmd := exec.Command(s.hull, "nspawn", "-D", s.work, "-M", name, "--cgroups-path", cg, "--",
		"/bin/sh", "-c", `echo before; exec </dev/null >/dev/null 2>&1; sleep 0.5
until [ -e /run/go ]; do sleep 0.05; done; echo after >/dev/console; exit 5`)
	m := startCmd(t, cmd, name, cg)
	// /run/go lets the app end once the test has its bundle directory.
	m.awaitBundle(t, s.hull)
	m.release(t, s.hull)
	if st := m.wait(t, stopTimeout); st != 5 {
		t.Errorf("exit status %d, want 5\n%s", st, m.out)
	}
	for _, want := range []string{"before", "after"} {
		if !strings.Contains(m.out.String(), want) {
			t.Errorf("console output %q lacks %q", m.out, want)
		}
	}
	assertNothingLeft(t, m, s.work, nspawnRuns)
}

// TestProcessTwo runs an app with --as-pid2: the stub init is PID 1, the
// payload PID 2, its status passes through, `hull kill` (SIGTERM) reaches
// it through the stub, and the stub inside is the bundle's copy, not the
// host's binary (which a container could remount writable).
func TestProcessTwo(t *testing.T) {
	s := setup(t)
	if s.stubinit == "" {
		t.Skipf("no hull-stubinit beside %s (make build makes it)", s.hull)
	}
	hostStub, err := os.ReadFile(s.stubinit)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, script string) (*machine, string) {
		name := randomName("pid2-")
		cg := machineCgroup(t, s, name)
		cmd := exec.Command(s.hull, "nspawn", "-D", s.work, "-M", name, "--as-pid2", "--console=pipe", "--cgroups-path", cg,
			"--", "/bin/sh", "-c", script)
		return startCmd(t, cmd, name, cg), name
	}
	t.Run("status", func(t *testing.T) {
		// The payload waits for /run/go so that the test reads the
		// machine's bundle directory (hull state) while it runs.
		m, _ := run(t, `until [ -e /run/go ]; do sleep 0.05; done
echo "pid=$$ ppid=$PPID init=$(tr '\0' ' ' </proc/1/cmdline)"
echo "stub=$(stat -c %d:%i /run/host/init)"; exit 7`)
		m.awaitBundle(t, s.hull)
		m.release(t, s.hull)
		if st := m.wait(t, stopTimeout); st != 7 {
			t.Errorf("exit status %d, want 7\n%s", st, m.out)
		}
		if want := "pid=2 ppid=1 init=/run/host/init -- /bin/sh -c"; !strings.Contains(m.out.String(), want) {
			t.Errorf("output %q, want %q", m.out, want)
		}
		var st unix.Stat_t
		if err := unix.Stat(s.stubinit, &st); err != nil {
			t.Fatal(err)
		}
		if host := fmt.Sprintf("stub=%d:%d", st.Dev, st.Ino); strings.Contains(m.out.String(), host) || !strings.Contains(m.out.String(), "stub=") {
			t.Errorf("/run/host/init is not a copy of the host's stub (%s):\n%s", host, m.out)
		}
		assertNothingLeft(t, m, s.work, nspawnRuns)
	})
	t.Run("kill", func(t *testing.T) {
		m, name := run(t, `trap 'exit 3' TERM; touch /tmp/pid2-ready; while :; do sleep 0.1; done`)
		err := untilOK(bootTimeout, func() error {
			return exec.Command(s.hull, "exec", name, "test", "-e", "/tmp/pid2-ready").Run()
		})
		if err != nil {
			t.Fatalf("payload never ready: %v\n%s", err, m.out)
		}
		m.awaitBundle(t, s.hull)
		if out, err := exec.Command(s.hull, "kill", name).CombinedOutput(); err != nil {
			t.Fatalf("hull kill: %v: %s", err, out)
		}
		if st := m.wait(t, stopTimeout); st != 3 {
			t.Errorf("exit status %d after SIGTERM, want 3 (the payload's trap)\n%s", st, m.out)
		}
		assertNothingLeft(t, m, s.work, nspawnRuns)
	})
	if now, err := os.ReadFile(s.stubinit); err != nil || !bytes.Equal(now, hostStub) {
		t.Errorf("the host's %s changed (%v)", s.stubinit, err)
	}
}

// TestVolatileOverlay boots with --volatile=overlay: writes inside land on
// a tmpfs and vanish, the image is untouched, the overlay is unmounted.
func TestVolatileOverlay(t *testing.T) {
	s := setup(t)
	name := randomName("volatile-")
	cg := machineCgroup(t, s, name)
	before := treeStamp(t, s.pristine)
	m := startCmd(t, exec.Command(s.hull, "nspawn", "-D", s.pristine, "-M", name, "-b", "--volatile=overlay",
		"--console=pipe", "--cgroups-path", cg), name, cg)
	ex := func(args ...string) (string, error) {
		out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitRunning(t, m, ex)
	if out, err := ex("sh", "-c", "echo x > /etc/hull-volatile && rm /etc/os-release && findmnt -no FSTYPE /"); err != nil || out != "overlay" {
		t.Errorf("write inside / (want an overlay root): %q %v", out, err)
	}
	if st := m.halt(t, s.hull); st != 0 {
		t.Errorf("exit status %d, want 0\n%s", st, m.out)
	}
	if _, err := os.Stat(filepath.Join(s.pristine, "etc/hull-volatile")); err == nil {
		t.Error("a write inside reached the image")
	}
	if after := treeStamp(t, s.pristine); after != before {
		t.Errorf("image changed: %s -> %s", before, after)
	}
	assertNothingLeft(t, m, s.pristine, nspawnRuns)
}

// treeStamp summarises the image's top directories and key files.
func treeStamp(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"", "etc", "var", "var/log", "etc/os-release", "etc/machine-id"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
			fmt.Fprintf(&b, "%s:missing ", p)
			continue
		}
		fmt.Fprintf(&b, "%s:%d.%d/%d ", p, st.Mtim.Sec, st.Mtim.Nsec, st.Size)
	}
	return b.String()
}

// TestPrivateUsers boots in a user namespace: the image is chowned to the
// range, the container's cgroup is given to its root by the hook.
func TestPrivateUsers(t *testing.T) {
	s := setup(t)
	name := randomName("userns-")
	_, img := userImage(t, s, name)
	cg := machineCgroup(t, s, name)
	const base = 524288
	m := startCmd(t, exec.Command(s.hull, "nspawn", "-D", img, "-M", name, "-b", "--private-users="+strconv.Itoa(base)+":65536",
		"--private-users-ownership=chown", "--private-network", "--console=pipe", "--cgroups-path", cg), name, cg)
	ex := func(args ...string) (string, error) {
		out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitRunning(t, m, ex)
	if out, _ := ex("cat", "/proc/self/uid_map"); strings.Join(strings.Fields(out), " ") != "0 524288 65536" {
		t.Errorf("uid_map %q", out)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join("/sys/fs/cgroup/systemd", cg), &st); err != nil || st.Uid != base {
		t.Errorf("container cgroup owner %d (%v), want %d", st.Uid, err, base)
	}
	if err := unix.Stat(filepath.Join(img, "etc/passwd"), &st); err != nil || st.Uid != base {
		t.Errorf("image not chowned: /etc/passwd owner %d (%v)", st.Uid, err)
	}
	if code := m.halt(t, s.hull); code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, m.out)
	}
	assertNothingLeft(t, m, img, nspawnRuns)
}

// TestNspawnItself boots the same image with systemd-nspawn, for the
// comparison of times; it runs in cgroups of its own (never this shell's).
func TestNspawnItself(t *testing.T) {
	s := setup(t)
	nspawn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("systemd-nspawn not installed")
	}
	name := randomName("real-nspawn-")
	cg := "/" + randomName("hull-boot-")
	t.Cleanup(func() { removeCgroup(cg) })
	// Join a fresh cgroup in every hierarchy (the hybrid cgroup2 one too:
	// that is where nspawn tracks itself) so nspawn creates nothing
	// relative to the test's own cgroups.
	join := fmt.Sprintf(`set -e
for h in /sys/fs/cgroup/*/; do
	d="${h}%s"; mkdir -p "$d"
	if [ -f "$d/cpuset.cpus" ]; then cat "${h}cpuset.cpus" > "$d/cpuset.cpus"; cat "${h}cpuset.mems" > "$d/cpuset.mems"; fi
	echo $$ > "$d/cgroup.procs"
done
exec "$@"`, strings.TrimPrefix(cg, "/"))
	cmd := exec.Command("sh", "-c", join, "sh", nspawn, "--keep-unit", "--register=no", "-q", "--console=pipe", "-D", s.work, "-M", name, "-b")
	m := startCmd(t, cmd, name, cg)
	leader := func() (int, error) { return findInit(filepath.Join("/sys/fs/cgroup/systemd", cg)) }
	ex := func(args ...string) (string, error) {
		pid, err := leader()
		if err != nil {
			return "", err
		}
		out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-a"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	booted := waitRunning(t, m, ex)
	pid, err := leader()
	if err != nil {
		t.Fatal(err)
	}
	stop := time.Now()
	unix.Kill(pid, unix.Signal(37)) // SIGRTMIN+3 to the container's systemd
	if st := m.wait(t, stopTimeout); st != 0 {
		t.Errorf("systemd-nspawn exit status %d, want 0\n%s", st, m.out)
	}
	timings.add("%-6s boot-to-running %6.2fs  shutdown %5.2fs", "systemd-nspawn", booted.Seconds(), time.Since(stop).Seconds())
}

// TestZTimings prints the numbers collected by the tests above.
func TestZTimings(t *testing.T) {
	for _, r := range timings.rows {
		t.Log(r)
	}
}

// findInit finds the container's systemd (comm "systemd", not
// "systemd-nspawn") among the processes of a cgroup tree.
func findInit(dir string) (int, error) {
	var found int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found != 0 || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			comm, _ := os.ReadFile("/proc/" + f + "/comm")
			if strings.TrimSpace(string(comm)) == "systemd" && isNamespaceInit(f) {
				found, _ = strconv.Atoi(f)
				return filepath.SkipAll
			}
		}
		return nil
	})
	if found == 0 {
		return 0, fmt.Errorf("no systemd process under %s yet", dir)
	}
	return found, nil
}

// isNamespaceInit reports whether pid is PID 1 of its own pid namespace: a
// fork of systemd (or a runtime's helper) still named "systemd" is not the
// machine's init, and nsenter into it sees no system manager ("offline").
func isNamespaceInit(pid string) bool {
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}
