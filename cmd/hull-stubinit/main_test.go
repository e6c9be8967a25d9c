package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests run the real, statically built stub as PID 1 of a new PID
// namespace, with /bin/sh payloads.

// binaries: "entry" is linked as the Makefile does (-E main.entry, the
// early fork that makes the payload PID 2; amd64 only), "plain" without it.
var build struct {
	once  sync.Once
	paths map[string]string
	err   error
	dir   string
}

func stubBinary(t *testing.T, variant string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a new PID namespace needs root")
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "hull-stubinit-test-")
		if build.err != nil {
			return
		}
		build.paths = map[string]string{}
		flags := map[string]string{"plain": "-s -w"}
		if runtime.GOARCH == "amd64" {
			flags["entry"] = "-s -w -E main.entry"
		}
		for name, ld := range flags {
			p := filepath.Join(build.dir, name)
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", p, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				build.err = fmt.Errorf("go build -ldflags %q: %w: %s", ld, err, out)
				return
			}
			build.paths[name] = p
		}
	})
	if build.err != nil {
		t.Fatalf("build the stub: %v", build.err)
	}
	p, ok := build.paths[variant]
	if !ok {
		t.Skipf("no %s build of the stub on %s", variant, runtime.GOARCH)
	}
	return p
}

// mainVariant is the build the Makefile makes on this architecture.
func mainVariant() string {
	if runtime.GOARCH == "amd64" {
		return "entry"
	}
	return "plain"
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// stub is one running stub init and its payload's output lines.
type stub struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan int // the stub's exit status
}

func startStub(t *testing.T, args ...string) *stub {
	t.Helper()
	return startVariant(t, mainVariant(), args...)
}

func startVariant(t *testing.T, variant string, args ...string) *stub {
	t.Helper()
	cmd := exec.Command(stubBinary(t, variant), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the stub in a new PID namespace: %v", err)
	}
	s := &stub{cmd: cmd, lines: make(chan string, 64), done: make(chan int, 1)}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			s.done <- 0
		case errors.As(err, &ee):
			s.done <- ee.ExitCode()
		default:
			s.done <- -1
		}
	}()
	return s
}

// expect waits for the payload to print want.
func (s *stub) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("output ended before %q", want)
			}
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 10s", want)
		}
	}
}

func (s *stub) status(t *testing.T) int {
	t.Helper()
	select {
	case st := <-s.done:
		return st
	case <-time.After(20 * time.Second):
		t.Fatal("the stub did not exit within 20s")
		return -1
	}
}

func (s *stub) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// TestStatusPassthrough: the stub is PID 1, the payload PID 2, and the
// payload's exit status (128+N for a signal) becomes the stub's.
func TestStatusPassthrough(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		output string
		status int
	}{
		{"exit", []string{"--", "sh", "-c", "exit 7"}, "", 7},
		{"signal", []string{"--", "sh", "-c", "kill -KILL $$"}, "", 128 + 9},
		{"no dashes", []string{"sh", "-c", "echo plain; exit 3"}, "plain", 3},
		{"not found", []string{"--", "/nonexistent/cmd"}, "", exitNotFound},
		{"no command", []string{"--"}, "", exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startStub(t, c.args...)
			if c.output != "" {
				s.expect(t, c.output)
			}
			if st := s.status(t); st != c.status {
				t.Errorf("status %d, want %d", st, c.status)
			}
		})
	}
}

// TestPIDs: the payload's parent is the stub, PID 1. Linked with the early
// fork it is PID 2 as under nspawn; without, the Go runtime's threads hold
// the first PIDs.
func TestPIDs(t *testing.T) {
	for _, c := range []struct{ variant, want string }{{"entry", "2 1"}, {"plain", "1"}} {
		t.Run(c.variant, func(t *testing.T) {
			s := startVariant(t, c.variant, "--", "sh", "-c", `if [ $$ = 2 ]; then echo "$$ $PPID"; else echo "$PPID"; fi; exit 3`)
			s.expect(t, c.want)
			if st := s.status(t); st != 3 {
				t.Errorf("status %d, want 3", st)
			}
		})
	}
}

// TestTerminal: on a terminal, the payload leads a session of its own with
// the terminal as its controlling terminal (the stub lets go of it).
// script(1) provides the pty, setsid -c makes it the stub's.
func TestTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed: no pty to test with")
	}
	for _, variant := range []string{"entry", "plain"} {
		t.Run(variant, func(t *testing.T) {
			bin := stubBinary(t, variant)
			inner := "unshare -p -f setsid -c " + bin + " -- sh -c ': </dev/tty && echo ctty-ok; exit 4'"
			cmd := exec.Command(script, "-qec", inner, "/dev/null")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(string(out), "ctty-ok") {
				t.Errorf("payload on a terminal: %v, output %q; want status 4 and a controlling terminal", err, out)
			}
		})
	}
}

// TestReapsOrphans: children whose parent exited are reparented to the
// stub and must not stay zombies.
func TestReapsOrphans(t *testing.T) {
	s := startStub(t, "--", "sh", "-c", `
for i in 1 2 3 4 5; do sh -c 'sleep 0.1 &'; done
echo ready
while :; do sleep 0.05; done`)
	s.expect(t, "ready")
	stubPid := s.cmd.Process.Pid
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = childrenOf(t, stubPid)
		if len(left) <= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) != 1 { // only the payload itself
		t.Errorf("children of the stub after the orphans exited: %v, want the payload only", left)
	}
	s.signal(t, unix.SIGTERM) // forwarded; the payload has no trap
	if st := s.status(t); st != 128+int(unix.SIGTERM) {
		t.Errorf("status %d, want %d", st, 128+int(unix.SIGTERM))
	}
}

// childrenOf lists "pid:state" of the host processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+":"+f[0])
		}
	}
	return out
}

// TestForwardsSignals: TERM, HUP, USR1 and USR2 reach the payload as they are.
func TestForwardsSignals(t *testing.T) {
	s := startStub(t, "--", "sh", "-c", `
trap 'echo usr1' USR1; trap 'echo usr2' USR2; trap 'echo hup' HUP
trap 'echo term; exit 3' TERM
echo ready
while :; do sleep 0.05; done`)
	s.expect(t, "ready")
	for _, c := range []struct {
		sig  syscall.Signal
		want string
	}{{unix.SIGUSR1, "usr1"}, {unix.SIGUSR2, "usr2"}, {unix.SIGHUP, "hup"}, {unix.SIGTERM, "term"}} {
		s.signal(t, c.sig)
		s.expect(t, c.want)
	}
	if st := s.status(t); st != 3 {
		t.Errorf("status %d, want 3 (the payload's TERM trap)", st)
	}
}

// TestShutdownRequests: SIGINT and systemd's SIGRTMIN+3 (halt) turn into
// SIGTERM and SIGHUP for the payload, as in nspawn's stub.
func TestShutdownRequests(t *testing.T) {
	for _, sig := range []syscall.Signal{unix.SIGINT, syscall.Signal(sigRTMin + 3), syscall.Signal(sigRTMin + 4)} {
		t.Run(strconv.Itoa(int(sig)), func(t *testing.T) {
			s := startStub(t, "--", "sh", "-c", `
trap 't=term' TERM; trap 'h=hup' HUP; trap 'echo int; exit 9' INT
echo ready
until [ -n "$t" ] && [ -n "$h" ]; do sleep 0.05; done
echo "$t $h"; exit 4`)
			s.expect(t, "ready")
			s.signal(t, sig)
			s.expect(t, "term hup")
			if st := s.status(t); st != 4 {
				t.Errorf("status %d, want 4", st)
			}
		})
	}
}

func TestShutdownSignalSet(t *testing.T) {
	for n := 1; n <= 64; n++ {
		sig := syscall.Signal(n)
		want := sig == unix.SIGINT || (n >= 37 && n <= 40) || (n >= 47 && n <= 50)
		if got := shutdownRequest(sig); got != want {
			t.Errorf("shutdownRequest(%d) = %v, want %v", n, got, want)
		}
		if forwarded(sig) && shutdownRequest(sig) {
			t.Errorf("signal %d is both forwarded and a shutdown request", n)
		}
	}
}
