package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	hullrootfs "github.com/hull-runtime/hull/libcontainer/rootfs"
)

// requireParentBuild skips where hull create cannot build the rootfs
// itself (no proc "pidns" parameter): the Go init is then the init.
func requireParentBuild(t *testing.T) {
	t.Helper()
	if !hullrootfs.ProcPidNS() {
		t.Skip("this kernel's proc has no pidns parameter: hull create leaves the rootfs to the Go init")
	}
}

// threadsOf is the Threads: field of /proc/PID/status.
func threadsOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatalf("Threads: %q", rest)
			}
			return n
		}
	}
	t.Fatalf("no Threads: in /proc/%d/status", pid)
	return 0
}

// TestInitFinisherNoGoRuntime: while a created container waits for start,
// its init is the C finisher, one thread; a Go runtime (HULL_GO_INIT=1)
// has started threads of its own by then.
func TestInitFinisherNoGoRuntime(t *testing.T) {
	requireParentBuild(t)
	for _, goInit := range []string{"", "1"} {
		t.Run("HULL_GO_INIT="+goInit, func(t *testing.T) {
			t.Setenv("HULL_GO_INIT", goInit)
			c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
			c.mustCreate()
			n := threadsOf(t, c.state().Pid)
			if goInit == "" && n != 1 {
				t.Errorf("C finisher init has %d threads, want 1", n)
			}
			if goInit == "1" && n < 2 {
				t.Errorf("Go init has %d threads: the check cannot tell the two apart", n)
			}
			c.mustHull("start", c.ID)
			waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" })
			c.mustHull("delete", c.ID)
		})
	}
}

// parityScript prints what a process sees of itself.
const parityScript = `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; umask; pwd; ulimit -n; ulimit -c; env | sort; ls /proc/self/fd | wc -l; cat /proc/self/cgroup; test -t 0 && echo stdin-tty; cat /proc/self/personality 2>/dev/null; echo end`

// TestInitFinisherParity: the container's init run by the C finisher and by
// the Go init (HULL_GO_INIT=1) gives the program the same view of itself,
// for a user with groups, capabilities, rlimits, umask, cwd, env,
// no_new_privs and a seccomp filter (loaded after start, and before the
// privileges drop without no_new_privs), and with a terminal.
func TestInitFinisherParity(t *testing.T) {
	requireParentBuild(t)
	umask := uint32(0o027)
	filter := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"syslog"}, Action: specs.ActErrno}},
	}
	cases := []struct {
		name string
		edit func(s *specs.Spec)
	}{
		{"user", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask}
			s.Process.Cwd = "/tmp"
			s.Process.Env = append(s.Process.Env, "FOO=bar baz")
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_PTRACE")
			s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
			s.Process.Capabilities.Inheritable = []string{"CAP_KILL"}
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = filter
		}},
		{"root-seccomp-early", func(s *specs.Spec) {
			s.Process.NoNewPrivileges = false
			s.Linux.Seccomp = filter
		}},
		{"terminal", func(s *specs.Spec) { s.Process.Terminal = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.Args = sh(parityScript)
				tc.edit(s)
			})
			var outs [2]string
			for i, goInit := range []string{"", "1"} {
				t.Setenv("HULL_GO_INIT", goInit)
				outs[i] = runForParity(t, c)
			}
			if outs[0] != outs[1] {
				t.Errorf("C finisher:\n%s\nGo init:\n%s", outs[0], outs[1])
			}
			wantContains(t, outs[0], "Seccomp:", "end")
			if c.Spec.Linux.Seccomp != nil {
				wantContains(t, outs[0], "Seccomp:\t2")
			}
			if c.Spec.Process.Terminal {
				wantContains(t, outs[0], "stdin-tty")
			}
		})
	}
}

// runForParity runs c once and returns what the process printed, through
// the console socket when it has a terminal.
func runForParity(t *testing.T, c *container) string {
	t.Helper()
	if !c.Spec.Process.Terminal {
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		return r.Stdout
	}
	rcv := newConsoleReceiver(t, t.TempDir())
	if r := c.run("--console-socket", rcv.path); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	waitConsole(t, rcv)
	return strings.ReplaceAll(rcv.out.String(), "\r", "")
}

// taskCreds is the Uid:, Gid: and Groups: lines of every thread of pid.
func taskCreds(t *testing.T, pid int) map[string][]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string][]string{}
	for _, task := range tasks {
		data, err := os.ReadFile(dir + "/" + task.Name() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "Groups:") {
				creds[task.Name()] = append(creds[task.Name()], strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return creds
}

// TestGoInitEveryThreadSwitched: a Go init waiting for start has switched
// every one of its threads to the container's user, not only the one that
// will exec: the C library's set*id calls change all of a process's
// threads, which musl does only when it knows the process's own thread id
// (nsenter.c, musl_tid: the init is a raw clone that goes on into Go).
func TestGoInitEveryThreadSwitched(t *testing.T) {
	requireParentBuild(t)
	t.Setenv("HULL_GO_INIT", "1")
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"true"}
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}}
	})
	c.mustCreate()
	pid := c.state().Pid
	creds := taskCreds(t, pid)
	if len(creds) < 2 {
		t.Fatalf("the Go init has %d threads: the check needs more than one", len(creds))
	}
	want := []string{"Uid: 1000 1000 1000 1000", "Gid: 1001 1001 1001 1001", "Groups: 10 20"}
	for tid, got := range creds {
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("thread %s of the init %d: %q, want %q", tid, pid, got, want)
		}
	}
	c.mustHull("start", c.ID)
	waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" })
	c.mustHull("delete", c.ID)
}
