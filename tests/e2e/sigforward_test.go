package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forwardedSignals are signals `run` and `exec` must pass on, each with the
// name busybox's trap takes: the job-control and terminal ones hull
// catches rather than obeys, and realtime ones (37, SIGRTMIN+3 as glibc
// counts, is systemd's shutdown signal; 34 the Go runtime keeps for
// itself, so runc does not pass it on either).
var forwardedSignals = []struct {
	sig  syscall.Signal
	trap string
}{
	{syscall.SIGHUP, "HUP"}, {syscall.SIGINT, "INT"}, {syscall.SIGQUIT, "QUIT"},
	{syscall.SIGUSR2, "USR2"}, {syscall.SIGALRM, "ALRM"}, {syscall.SIGTSTP, "TSTP"},
	{syscall.SIGTTIN, "TTIN"}, {syscall.SIGPWR, "PWR"}, {syscall.Signal(35), "35"},
	{syscall.Signal(37), "37"}, {syscall.Signal(64), "64"}, {syscall.SIGTERM, "TERM"},
}

// trapEvery traps every forwarded signal, appending its name to
// /tmp/got, says it is ready and waits; SIGTERM, the last, ends it.
func trapEvery(ready string) string {
	var b strings.Builder
	for _, s := range forwardedSignals {
		b.WriteString("trap 'echo " + s.trap + " >> /tmp/got' " + s.trap + "; ")
	}
	b.WriteString("trap 'echo TERM >> /tmp/got; exit 7' TERM; echo ok > /tmp/" + ready + "; while :; do sleep 0.05; done")
	return b.String()
}

// sendEach sends pid every forwarded signal in turn, each once the
// previous one was seen in out/got, and fails unless all arrived in order.
func sendEach(t *testing.T, pid int, out string) {
	t.Helper()
	var want []string
	for _, s := range forwardedSignals {
		if err := syscall.Kill(pid, s.sig); err != nil {
			t.Fatalf("signal %v: %v", s.sig, err)
		}
		want = append(want, s.trap)
		if s.sig == syscall.SIGTERM {
			break
		}
		if !waitUntil(10*time.Second, func() bool {
			got, _ := os.ReadFile(filepath.Join(out, "got"))
			return strings.Join(strings.Fields(string(got)), " ") == strings.Join(want, " ")
		}) {
			got, _ := os.ReadFile(filepath.Join(out, "got"))
			t.Fatalf("after %v: got %q, want %q", s.sig, strings.Fields(string(got)), want)
		}
	}
}

// TestRunExecForwardEverySignal: hull run and hull exec pass each signal
// they get on to their process, realtime ones included, and neither
// stops, pauses or dies on one; runc, the control, does the same.
func TestRunExecForwardEverySignal(t *testing.T) {
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt+"/run", func(t *testing.T) {
			t.Parallel()
			c := newContainerFor(t, rt, nil)
			out := c.outDir()
			c.Spec.Process.Args = sh(trapEvery("ready"))
			c.writeSpec()
			p := c.startHull(nil, "run", "--bundle", c.Bundle, c.ID)
			waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
			sendEach(t, p.cmd.Process.Pid, out)
			if r := p.wait(); r.Code != 7 {
				t.Errorf("want exit 7 from the TERM trap: %s", r)
			}
		})
		t.Run(rt+"/exec", func(t *testing.T) {
			t.Parallel()
			c := newContainerFor(t, rt, nil)
			out := c.outDir()
			c.Spec.Process.Args = []string{"sleep", "1000"}
			c.writeSpec()
			if r := c.run("--detach"); r.Code != 0 {
				t.Fatalf("run --detach: %s", r)
			}
			p := c.startHull(nil, "exec", c.ID, "sh", "-c", trapEvery("exec-ready"))
			waitFile(t, filepath.Join(out, "exec-ready"), 10*time.Second)
			sendEach(t, p.cmd.Process.Pid, out)
			if r := p.wait(); r.Code != 7 {
				t.Errorf("want exit 7 from the TERM trap: %s", r)
			}
		})
	}
}
