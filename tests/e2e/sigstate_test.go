package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sigwrapProgram execs the runtime named by SIGWRAP_EXEC with the signals
// of the masks SIGWRAP_IGNORE ignored and SIGWRAP_BLOCK blocked (bit N-1
// for signal N), as nohup or a daemon starts it.
const sigwrapProgram = `#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	const char *target = getenv("SIGWRAP_EXEC");
	unsigned long long ign = strtoull(getenv("SIGWRAP_IGNORE"), 0, 16);
	unsigned long long blk = strtoull(getenv("SIGWRAP_BLOCK"), 0, 16);
	sigset_t set;
	sigemptyset(&set);
	for (int s = 1; s <= 64; s++) {
		if ((ign >> (s - 1)) & 1)
			signal(s, SIG_IGN);
		if ((blk >> (s - 1)) & 1)
			sigaddset(&set, s);
	}
	sigprocmask(SIG_BLOCK, &set, 0);
	(void)argc;
	argv[0] = (char *)target;
	execv(target, argv);
	perror(target);
	return 127;
}
`

func sigBit(sigs ...syscall.Signal) uint64 {
	var m uint64
	for _, s := range sigs {
		m |= 1 << (uint(s) - 1)
	}
	return m
}

// What the wrapper ignores and blocks: the terminal and pipe signals a
// daemon or nohup ignores, the job-control ones the Go runtime leaves as
// it finds them, and realtime ones (34 is one musl keeps for itself).
var (
	wrapIgnored = sigBit(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE, syscall.SIGUSR1,
		syscall.SIGTSTP, syscall.SIGTTOU, 34, 40)
	wrapBlocked = sigBit(syscall.SIGUSR2, syscall.SIGALRM, 41)
)

// buildSigwrap compiles sigwrapProgram once per test.
func buildSigwrap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sigwrap")
	if err := compileC(t, "the wrapper that starts the runtime with signals ignored", sigwrapProgram, bin, "-O2"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// wrapSignals makes c's runtime start through the wrapper.
func wrapSignals(c *container, sigwrap string) {
	c.env = append(c.env, "SIGWRAP_EXEC="+c.bin,
		fmt.Sprintf("SIGWRAP_IGNORE=%x", wrapIgnored), fmt.Sprintf("SIGWRAP_BLOCK=%x", wrapBlocked))
	c.bin = sigwrap
}

var statusSigs = []string{"/bin/grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"}

// sigMasks parses grep's SigIgn and SigBlk lines.
func sigMasks(t *testing.T, out string) (ign, blk uint64) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, hex, _ := strings.Cut(line, ":")
		v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			t.Fatalf("status line %q: %v", line, err)
		}
		switch name {
		case "SigIgn":
			ign, seen = v, seen+1
		case "SigBlk":
			blk, seen = v, seen+1
		}
	}
	if seen != 2 {
		t.Fatalf("no SigIgn and SigBlk in %q", out)
	}
	return ign, blk
}

// TestSignalStateNotInherited: a runtime started with signals ignored and
// blocked (nohup, a daemon) does not pass them on to the container's
// process, whether it is started by run, by create and start, or by exec:
// a shell there could not trap them nor `kill` end it with them, which
// podman's kill tests check (crun#2058). runc, the control, resets the
// ignored ones its Go runtime handles; it passes on 34 and the blocked
// ones, where hull resets and clears them as crun does (logged for runc,
// not asserted).
func TestSignalStateNotInherited(t *testing.T) {
	t.Parallel()
	sigwrap := buildSigwrap(t)
	// The wrapper's own control: what it starts has every signal it was
	// asked to ignore ignored and to block blocked.
	ctl := exec.Command(sigwrap, statusSigs[1:]...)
	ctl.Env = append(os.Environ(), "SIGWRAP_EXEC="+statusSigs[0],
		fmt.Sprintf("SIGWRAP_IGNORE=%x", wrapIgnored), fmt.Sprintf("SIGWRAP_BLOCK=%x", wrapBlocked))
	out, err := ctl.Output()
	if err != nil {
		t.Fatalf("sigwrap grep: %v", err)
	}
	if ign, blk := sigMasks(t, string(out)); ign&wrapIgnored != wrapIgnored || blk&wrapBlocked != wrapBlocked {
		t.Fatalf("control: sigwrap started grep with SigIgn %x SigBlk %x; want %x and %x among them", ign, blk, wrapIgnored, wrapBlocked)
	}
	check := func(t *testing.T, rt, how, out string) {
		t.Helper()
		ign, blk := sigMasks(t, out)
		mustReset, mustUnblock := wrapIgnored, wrapBlocked
		if rt == "runc" {
			// The control resets what its Go runtime handles: not 34,
			// which Go keeps for itself, nor the mask.
			mustReset, mustUnblock = wrapIgnored&^sigBit(34), 0
			t.Logf("%s: runc passed on the ignored %x and the blocked %x", how, ign&wrapIgnored, blk&wrapBlocked)
		}
		if ign&mustReset != 0 {
			t.Errorf("%s: the container's process ignores %x of the %x its runtime was started ignoring", how, ign&mustReset, wrapIgnored)
		}
		if blk&mustUnblock != 0 {
			t.Errorf("%s: the container's process has %x blocked of the %x its runtime was started with", how, blk&mustUnblock, wrapBlocked)
		}
	}
	t.Run("run", func(t *testing.T) {
		eachInitVariant(t, func(s *specs.Spec) { s.Process.Args = statusSigs }, func(t *testing.T, rt string, c *container) {
			wrapSignals(c, sigwrap)
			r := c.run()
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			check(t, rt, "run", r.Stdout)
		})
	})
	t.Run("create-start", func(t *testing.T) {
		eachInitVariant(t, func(s *specs.Spec) { s.Process.Args = statusSigs }, func(t *testing.T, rt string, c *container) {
			wrapSignals(c, sigwrap)
			// The init writes into create's stdout, a file that outlives it.
			p := c.startHull(nil, "create", "--bundle", c.Bundle, c.ID)
			stdout := p.stdout.Name()
			if r := p.wait(); r.Code != 0 {
				t.Fatalf("%s", r)
			}
			c.recordInit()
			c.mustHull("start", c.ID)
			if !waitUntil(10*time.Second, func() bool {
				return strings.Contains(c.hull("state", c.ID).Stdout, `"stopped"`)
			}) {
				t.Fatal("the container did not stop")
			}
			out, err := os.ReadFile(stdout)
			if err != nil {
				t.Fatal(err)
			}
			check(t, rt, "create and start", string(out))
		})
	})
	t.Run("exec", func(t *testing.T) {
		eachInitVariant(t, func(s *specs.Spec) { s.Process.Args = sh("sleep 30") }, func(t *testing.T, rt string, c *container) {
			c.mustCreate()
			c.mustHull("start", c.ID)
			wrapSignals(c, sigwrap)
			r := c.hull(append([]string{"exec", c.ID}, statusSigs...)...)
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			check(t, rt, "exec", r.Stdout)
			c.hull("kill", c.ID, "KILL")
		})
	})
}
