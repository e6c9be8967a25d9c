package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// TestNoPivotHidesHostProc: under --no-pivot the host's root stays in the
// container's mount namespace, below the chroot. A user namespace made in
// the container may mount a fresh proc or sysfs only if a fully visible one
// exists in its mount namespace, so runc detaches the host's proc and sysfs
// before moving the root; without that, the container gets an unmasked
// /proc. CAP_SETFCAP lets the container map its root in the new namespace.
func TestNoPivotHidesHostProc(t *testing.T) {
	t.Parallel()
	script := `unshare -Urmpfn sh -c '
mount -t proc proc /dev/shm 2>/dev/null && echo proc-mounted && umount /dev/shm
mount -t sysfs sysfs /dev/shm 2>/dev/null && echo sysfs-mounted && umount /dev/shm
echo done'`
	edit := func(s *specs.Spec) {
		s.Process.Args = sh(script)
		caps := s.Process.Capabilities
		caps.Bounding = append(caps.Bounding, "CAP_SETFCAP")
		caps.Effective = append(caps.Effective, "CAP_SETFCAP")
		caps.Permitted = append(caps.Permitted, "CAP_SETFCAP")
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		for _, flags := range [][]string{nil, {"--no-pivot"}} {
			r := c.run(flags...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "done") {
				t.Fatalf("%s", r)
			}
			if strings.Contains(r.Stdout, "mounted") {
				t.Errorf("run %v: a user namespace in the container mounted an unmasked filesystem:\n%s", flags, r.Stdout)
			}
		}
	})
}

// TestExecPaused: exec into a paused container is refused with runc's
// message and exit status; with --ignore-paused the process waits, frozen,
// until resume, and resume must not wait for it (hull's exec held the
// container's lock while its process was frozen, and resume waited for
// that lock: neither ever returned).
func TestExecPaused(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		c.mustCreate()
		c.mustHull("start", c.ID)
		c.mustHull("pause", c.ID)
		c.wantStatus("paused")
		r := c.hull("exec", c.ID, "true")
		if r.Code != 255 || !strings.Contains(r.Stderr, "cannot exec in a paused container (use --ignore-paused to override)") {
			t.Errorf("exec into a paused container, want exit 255 and runc's message: %s", r)
		}
		p := c.startHull(nil, "exec", "--ignore-paused", c.ID, "echo", "hi")
		done := make(chan result, 1)
		go func() { done <- p.wait() }()
		// Resume only once the exec's process is frozen in the cgroup: an
		// earlier resume (a loaded host's exec is slow to get there) proves
		// nothing of resume not waiting for it.
		init := c.state().Pid
		if !waitUntil(10*time.Second, func() bool { return len(joinedLikeInit(c, init)) > 0 }) {
			t.Fatalf("the exec's process never joined every cgroup of the paused container's init (%s)", c.Cgroup)
		}
		select {
		case r := <-done:
			t.Fatalf("exec --ignore-paused finished while the container was paused: %s", r)
		case <-time.After(500 * time.Millisecond):
		}
		start := time.Now()
		c.mustHull("resume", c.ID)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("resume took %v", d)
		}
		select {
		case r := <-done:
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != "hi" {
				t.Errorf("exec --ignore-paused after resume: %s", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("exec --ignore-paused still waits 10s after resume")
		}
		c.wantStatus("running")
	})
}

// TestRunFrozenCgroup: a container whose cgroup exists and is frozen
// cannot start its init; runc refuses it up front ("container's cgroup
// unexpectedly frozen") and leaves the cgroup as it found it. hull hung.
func TestRunFrozenCgroup(t *testing.T) {
	t.Parallel()
	eachRuntime(t, nil, func(t *testing.T, c *container) {
		dir := "/sys/fs/cgroup/freezer" + c.Cgroup
		if _, err := os.Stat("/sys/fs/cgroup/freezer/cgroup.procs"); err != nil {
			t.Skip("needs the cgroup v1 freezer (here: a cgroup v2 host)")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
			os.Remove(dir)
		})
		if err := os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("FROZEN"), 0); err != nil {
			t.Fatal(err)
		}
		r := c.run("--detach")
		if r.Code == 0 || !strings.Contains(r.Stderr, "container's cgroup unexpectedly frozen") {
			t.Fatalf("run into a frozen cgroup, want runc's refusal: %s", r)
		}
		if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
			t.Errorf("state dir left after the refusal (%v)", err)
		}
		if st, err := os.ReadFile(filepath.Join(dir, "freezer.state")); err != nil || strings.TrimSpace(string(st)) != "FROZEN" {
			t.Errorf("the existing frozen cgroup was changed: %q %v", st, err)
		}
	})
}

// TestHybridCgroups: on a hybrid host (v1 controllers, a cgroup2 hierarchy
// at /sys/fs/cgroup/unified) runc places the init and exec'd processes in
// the unified hierarchy too; and delete --force removes the sub-cgroups
// the container made in its own cgroup, with processes still in them.
func TestHybridCgroups(t *testing.T) {
	t.Parallel()
	const unified = "/sys/fs/cgroup/unified"
	if _, err := os.Stat(unified + "/cgroup.procs"); err != nil {
		t.Skipf("not a hybrid host (no %s): %v", unified, err)
	}
	edit := func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		for i, m := range s.Mounts {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = append(withoutOption(m.Options, "ro"), "rw")
			}
		}
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		c.mustCreate()
		c.mustHull("start", c.ID)
		procs := func() string {
			data, _ := os.ReadFile(filepath.Join(unified, c.Cgroup, "cgroup.procs"))
			return string(data)
		}
		if pid := c.state().Pid; !containsLine(procs(), strconv.Itoa(pid)) {
			t.Errorf("init %d not in %s%s/cgroup.procs: %q", pid, unified, c.Cgroup, procs())
		}
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		c.mustHull("exec", "--detach", "--pid-file", pidFile, c.ID, "sh", "-c",
			`for h in /sys/fs/cgroup/*/; do mkdir -p $h/sub/deeper; done
echo $$ > /sys/fs/cgroup/pids/sub/deeper/cgroup.procs
echo $$ > /sys/fs/cgroup/memory/sub/cgroup.procs
exec sleep 1000`)
		execPid := strings.TrimSpace(waitFile(t, pidFile, 5*time.Second))
		if !containsLine(procs(), execPid) {
			t.Errorf("exec'd process %s not in %s%s/cgroup.procs: %q", execPid, unified, c.Cgroup, procs())
		}
		if !waitUntil(5*time.Second, func() bool {
			_, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", c.Cgroup, "sub/deeper"))
			return err == nil
		}) {
			t.Fatal("the container made no sub-cgroup")
		}
		c.mustHull("delete", "--force", c.ID)
		if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
			t.Errorf("delete --force left %v", dirs)
		}
	})
}

func withoutOption(opts []string, drop string) []string {
	var out []string
	for _, o := range opts {
		if o != drop {
			out = append(out, o)
		}
	}
	return out
}

// TestExecUserCwd: a working directory the process's user may not enter
// (a 0700 directory of root's) is entered as root before the switch, as
// runc does: the process starts there (hull refused the exec).
func TestExecUserCwd(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		rootfs := c.privateRootfs()
		if err := os.Chmod(filepath.Join(rootfs, "root"), 0o700); err != nil {
			t.Fatal(err)
		}
		c.mustCreate()
		c.mustHull("start", c.ID)
		r := c.hull("exec", "--user", "1000:1000", "--cwd", "/root", c.ID, "sh", "-c", `echo "pwd=$(pwd) uid=$(id -u)"; ls . >/dev/null 2>&1 || echo cannot-list`)
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		wantContains(t, r.Stdout, "pwd=/root uid=1000", "cannot-list")
		r = c.hull("exec", "--user", "1000:1000", "--cwd", "/nonexistent", c.ID, "true")
		if r.Code != 255 || !strings.Contains(r.Stderr, "/nonexistent") {
			t.Errorf("exec into a missing cwd, want exit 255 naming it: %s", r)
		}
	})
}

// TestKillAllZero: signal 0 checks that the processes exist, with and
// without --all (runc accepts it; hull said "out of range").
func TestKillAllZero(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		c.mustCreate()
		c.mustHull("start", c.ID)
		c.mustHull("kill", "--all", c.ID, "0")
		c.mustHull("kill", c.ID, "0")
		c.wantStatus("running")
	})
}

// TestTerminalOwner: the pty of a process that runs as a user belongs to
// that user (its group stays devpts' gid=5), for the init and for exec, as
// under runc; so does a pipe on its stdio, which it can then reopen through
// /proc/self/fd (/dev/stdout).
func TestTerminalOwner(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Terminal = true
		s.Process.Args = sh(`stat -c "owner=%u:%g" $(tty)`)
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		rcv := newConsoleReceiver(t, c.tmp)
		// create and start: runc takes a console socket only when detached.
		c.mustCreate("--console-socket", rcv.path)
		c.mustHull("start", c.ID)
		waitConsole(t, rcv)
		wantContains(t, strings.ReplaceAll(rcv.out.String(), "\r", ""), "owner=1000:5")
		if !waitUntil(5*time.Second, func() bool { return c.state().Status == "stopped" }) {
			t.Fatal("the init did not stop")
		}
		c.mustHull("delete", c.ID)

		c.Spec.Process.Terminal = false
		c.Spec.Process.Args = []string{"sleep", "1000"}
		c.writeSpec()
		c.mustCreate()
		c.mustHull("start", c.ID)
		rcv = newConsoleReceiver(t, t.TempDir())
		if r := c.hull("exec", "--detach", "--tty", "--console-socket", rcv.path, "--user", "1001:1001", c.ID, "sh", "-c", `stat -c "owner=%u:%g" $(tty)`); r.Code != 0 {
			t.Fatalf("%s", r)
		}
		waitConsole(t, rcv)
		wantContains(t, strings.ReplaceAll(rcv.out.String(), "\r", ""), "owner=1001:5")
		r := c.hull("exec", "--user", "1001:1001", c.ID, "sh", "-c", "echo via-proc > /proc/self/fd/1")
		if r.Code != 0 || !strings.Contains(r.Stdout, "via-proc") {
			t.Errorf("a user's process cannot reopen its stdout: %s", r)
		}
	})
}

// waitConsole waits until the pty's last slave is closed.
func waitConsole(t *testing.T, rcv *consoleReceiver) {
	t.Helper()
	select {
	case <-rcv.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF from the pty master")
	}
	if rcv.err != nil {
		t.Fatal(rcv.err)
	}
}

// TestReadonlyDev: a /dev tmpfs mounted "ro" is filled first (devices,
// links, the devpts, shm and mqueue mount points, /dev/console for a
// terminal) and made read-only at the end, as runc does; its submounts stay
// writable. hull mounted it read-only at once and failed to make /dev/pts.
func TestReadonlyDev(t *testing.T) {
	t.Parallel()
	script := `grep -E " /dev(/pts)? " /proc/self/mounts | cut -d" " -f2,4 | cut -d, -f1
touch /dev/x 2>/dev/null || echo dev-readonly
test -c /dev/null && echo has-null
if test -t 1; then echo console=$(stat -c %t /dev/console); fi`
	edit := func(s *specs.Spec) {
		s.Process.Args = sh(script)
		for i, m := range s.Mounts {
			if m.Destination == "/dev" {
				s.Mounts[i].Options = append(m.Options, "ro")
			}
		}
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		wantContains(t, r.Stdout, "/dev ro\n", "/dev/pts rw\n", "dev-readonly", "has-null")

		c.Spec.Process.Terminal = true
		c.writeSpec()
		rcv := newConsoleReceiver(t, c.tmp)
		c.mustCreate("--console-socket", rcv.path)
		c.mustHull("start", c.ID)
		waitConsole(t, rcv)
		// /dev/console is the pty: major 136 (0x88).
		wantContains(t, strings.ReplaceAll(rcv.out.String(), "\r", ""), "/dev ro\n", "dev-readonly", "console=88")
	})
}

// TestCreateContainerHookCwd: createContainer hooks run, before pivot_root,
// in the container's rootfs directory, as runc runs them (hull ran them in
// its own working directory).
func TestCreateContainerHookCwd(t *testing.T) {
	t.Parallel()
	eachRuntime(t, nil, func(t *testing.T, c *container) {
		out := filepath.Join(c.tmp, "hook-cwd")
		c.Spec.Process.Args = []string{"true"}
		c.Spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{
			Path: "/bin/sh", Args: []string{"sh", "-c", `pwd > "$1"; test -x ./bin/busybox && echo rootfs-relative >> "$1"`, "sh", out},
		}}}
		c.writeSpec()
		if r := c.run(); r.Code != 0 {
			t.Fatalf("%s", r)
		}
		got := waitFile(t, out, 5*time.Second)
		wantContains(t, got, c.Spec.Root.Path+"\n", "rootfs-relative")
	})
}

// TestBindSourceHostRootOnly: with a user namespace, the container's root
// is an unprivileged host uid and cannot reach a bind source below a
// directory only the host's root may enter; runc opens the sources on the
// host side and mounts them through the fds, and so must hull (it failed
// with "permission denied").
func TestBindSourceHostRootOnly(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) {
		withUserNamespace(s)
		s.Process.Args = []string{"cat", "/home/secret"}
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		// c.tmp is 0700 and root's: the mapped root cannot enter it.
		data := filepath.Join(c.tmp, "data")
		if err := os.Mkdir(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "secret"), []byte("reached\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/home", Type: "bind", Source: data, Options: []string{"rbind", "ro"}})
		c.writeSpec()
		r := c.run()
		if r.Code != 0 || r.Stdout != "reached\n" {
			t.Fatalf("%s", r)
		}
	})
}

// sysnoProgram is a static program that makes each syscall given by number
// (all arguments 0) and prints "NR=ERRNO" (0 on success).
const sysnoProgram = `#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <unistd.h>
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		long r = syscall(atol(argv[i]), 0, 0, 0, 0, 0, 0);
		printf("%s=%d\n", argv[i], r < 0 ? errno : 0);
	}
	return 0;
}
`

// TestSeccompEnosysNewSyscalls: under a profile whose default denies with
// EPERM, a syscall newer than every one the profile names fails with
// ENOSYS (so programs fall back, as glibc does from clone3 to clone), as
// runc does; one the profile could have named still gets EPERM.
func TestSeccompEnosysNewSyscalls(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skip("the syscall numbers below are x86_64's")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc to build the static test program")
	}
	// Every syscall up to openat2 (437) but sysinfo (99) is allowed.
	var names []string
	for nr := 0; nr <= 437; nr++ {
		if nr == 99 {
			continue
		}
		if name, err := libseccomp.ScmpSyscall(nr).GetNameByArch(libseccomp.ArchAMD64); err == nil {
			names = append(names, name)
		}
	}
	edit := func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
		}
		s.Process.Args = []string{"/sysno", "99", "437", "439", "1000"}
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		rootfs := c.privateRootfs()
		bin := filepath.Join(c.tmp, "sysno")
		if err := compileC(t, "the static test program", sysnoProgram, bin, "-static", "-O2"); err != nil {
			t.Skipf("cannot build a static program here: %v", err)
		}
		if out, err := exec.Command("cp", bin, filepath.Join(rootfs, "sysno")).CombinedOutput(); err != nil {
			t.Fatalf("copy sysno into the rootfs: %v: %s", err, out)
		}
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		want := "99=1\n437=22\n439=38\n1000=38\n" // EPERM, EINVAL (allowed), ENOSYS, ENOSYS
		if r.Stdout != want {
			t.Errorf("errnos:\n%s\nwant:\n%s", r.Stdout, want)
		}
	})
}

// TestSeccompStartContainerHooks: startContainer hooks run under the
// container's seccomp filter, as under runc (hull loaded it after them).
func TestSeccompStartContainerHooks(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
		}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{
			Path: "/bin/sh", Args: []string{"sh", "-c", "mkdir /tmp/d 2>/dev/null && echo made > /tmp/res || echo denied > /tmp/res"},
		}}}
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		out := c.outDir()
		if r := c.run(); r.Code != 0 {
			t.Fatalf("%s", r)
		}
		if got := strings.TrimSpace(waitFile(t, filepath.Join(out, "res"), 5*time.Second)); got != "denied" {
			t.Errorf("startContainer hook: mkdir %s, want it denied by the filter", got)
		}
	})
}

// TestSeccompNotifyRefused: a NOTIFY rule on write, and NOTIFY rules
// without a listenerPath, are refused with runc's words, leaving nothing.
func TestSeccompNotifyRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		listener string
		syscall  string
		want     string
	}{
		{"write", "/run/hull-no-such-agent.sock", "write", "SCMP_ACT_NOTIFY cannot be used for the write syscall"},
		{"no listener", "", "mkdir", "listenerPath is not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edit := func(s *specs.Spec) {
				s.Process.Args = []string{"true"}
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow, ListenerPath: tc.listener,
					Syscalls: []specs.LinuxSyscall{{Names: []string{tc.syscall}, Action: specs.ActNotify}},
				}
			}
			eachRuntime(t, edit, func(t *testing.T, c *container) {
				r := c.run()
				if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
					t.Errorf("want a refusal with %q: %s", tc.want, r)
				}
				assertNothingLeft(t, c)
			})
		})
	}
}

// TestExecPausedKill: while an `exec --ignore-paused` waits, frozen, in a
// paused container, kill and delete --force still work (as under runc) and
// the exec ends.
func TestExecPausedKill(t *testing.T) {
	t.Parallel()
	edit := func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		c.mustCreate()
		c.mustHull("start", c.ID)
		c.mustHull("pause", c.ID)
		p := c.startHull(nil, "exec", "--ignore-paused", c.ID, "echo", "hi")
		done := make(chan result, 1)
		go func() { done <- p.wait() }()
		// Kill only once the exec's process is in every cgroup of the
		// init: a fixed wait was too short for runc under load, and so was
		// seeing it in any one hierarchy (runc joins them one at a time, and
		// a delete --force in between missed it: runc's exec printed "hi").
		init := c.state().Pid
		if !waitUntil(10*time.Second, func() bool { return len(joinedLikeInit(c, init)) > 0 }) {
			t.Fatalf("the exec's process never joined every cgroup of the paused container's init (%s)", c.Cgroup)
		}
		start := time.Now()
		c.mustHull("kill", c.ID, "KILL")
		c.mustHull("delete", "--force", c.ID)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("kill and delete --force took %v", d)
		}
		select {
		case r := <-done:
			if strings.Contains(r.Stdout, "hi") {
				t.Errorf("the exec'd process ran in a killed container: %s", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("exec --ignore-paused still waits 10s after delete --force")
		}
	})
}
