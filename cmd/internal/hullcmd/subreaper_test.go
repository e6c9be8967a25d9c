package hullcmd

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitExited polls until pid shows as an exited child (not reaped).
func waitExited(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, err := exitedChild()
		if err != nil {
			t.Fatalf("exitedChild: %v", err)
		}
		if got == pid {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("pid %d never showed as exited", pid)
}

// waitPidExited blocks until the child pid has exited, leaving it unreaped.
func waitPidExited(t *testing.T, pid int) {
	t.Helper()
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			return
		}
		if !errors.Is(err, unix.EINTR) {
			t.Fatalf("waitid for pid %d: %v", pid, err)
		}
	}
}

func TestExitedChildDoesNotReap(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 7")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitExited(t, cmd.Process.Pid)
	// Still there for its own waiter, with its status.
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("wait after exitedChild: %v, want exit status 7", err)
	}
	if pid, err := exitedChild(); err == nil && pid != 0 {
		t.Fatalf("exitedChild after the only child was reaped: %d", pid)
	}
}

// reaped says whether pid is gone: no longer a child to wait for.
func reaped(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return errors.Is(err, unix.ECHILD)
}

func TestReapLeavesKeep(t *testing.T) {
	tests := []struct {
		name     string
		keepDone bool // the kept child exited before the other
	}{
		{"kept child running", false},
		{"kept child exited first", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep := exec.Command("sh", "-c", "read x; exit 3")
			stdin, err := keep.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := keep.Start(); err != nil {
				t.Fatal(err)
			}
			defer keep.Wait() //nolint:errcheck
			defer stdin.Close()
			if tt.keepDone {
				stdin.Close()
				waitExited(t, keep.Process.Pid)
			}
			other := exec.Command("true")
			if err := other.Start(); err != nil {
				t.Fatal(err)
			}
			pid := other.Process.Pid
			deadline := time.Now().Add(5 * time.Second)
			for !tt.keepDone && !reaped(pid) {
				(&orphanReaper{keep: keep.Process.Pid}).reap()
				if time.Now().After(deadline) {
					t.Fatalf("reap left pid %d", pid)
				}
				time.Sleep(2 * time.Millisecond)
			}
			if tt.keepDone {
				// When waitid names the kept zombie, reap stops there; the
				// rest is reaped once the kept child's waiter took it, as
				// run's stop does after WaitExit. The other child must have
				// exited first (a fixed 50 ms was not always enough for it
				// to run on a loaded host).
				waitPidExited(t, pid)
				(&orphanReaper{keep: keep.Process.Pid}).reap()
				if reaped(keep.Process.Pid) {
					t.Fatal("kept child reaped")
				}
				keep.Wait() //nolint:errcheck
				(&orphanReaper{keep: keep.Process.Pid}).reap()
				if !reaped(pid) {
					t.Fatalf("pid %d not reaped once the kept child was gone", pid)
				}
				return
			}
			stdin.Close()
			var ee *exec.ExitError
			if err := keep.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("kept child's status: %v, want exit status 3", err)
			}
		})
	}
}
