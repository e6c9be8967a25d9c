package sigreset

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The child's part of TestToDefaultBeforeExec: ignore and block what the
// environment says, reset (or not), and exec grep of its own status.
func TestMain(m *testing.M) {
	if os.Getenv("SIGRESET_CHILD") == "" {
		os.Exit(m.Run())
	}
	runtime.LockOSThread()
	ignore, _ := strconv.ParseUint(os.Getenv("SIGRESET_IGNORE"), 16, 64)
	block, _ := strconv.ParseUint(os.Getenv("SIGRESET_BLOCK"), 16, 64)
	for sig := 1; sig <= lastSignal; sig++ {
		if ignore&(1<<(sig-1)) != 0 {
			signal.Ignore(syscall.Signal(sig))
		}
	}
	set := unix.Sigset_t{Val: [16]uint64{block}}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Getenv("SIGRESET_CHILD") == "reset" {
		if err := ToDefault(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	err := syscall.Exec("/bin/grep", []string{"grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"}, os.Environ())
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

// statusMasks runs the child and returns the SigIgn and SigBlk of the
// program it execs.
func statusMasks(t *testing.T, mode string, ignore, block uint64) (ign, blk uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SIGRESET_CHILD="+mode,
		fmt.Sprintf("SIGRESET_IGNORE=%x", ignore), fmt.Sprintf("SIGRESET_BLOCK=%x", block))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, hex, _ := strings.Cut(line, ":")
		v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if name == "SigIgn" {
			ign = v
		} else {
			blk = v
		}
	}
	return ign, blk
}

func bit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }

// TestToDefaultBeforeExec: what a process ignores and blocks reaches the
// program it execs (the control), and nothing of it does after ToDefault,
// the job-control signals the Go runtime leaves alone and realtime ones
// included.
func TestToDefaultBeforeExec(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ignore, block uint64
	}{
		{"hangup and interrupt", bit(unix.SIGHUP) | bit(unix.SIGINT), 0},
		{"pipe", bit(unix.SIGPIPE), 0},
		{"job control", bit(unix.SIGTSTP) | bit(unix.SIGTTIN) | bit(unix.SIGTTOU), 0},
		{"realtime", bit(40) | bit(64), 0},
		{"blocked", 0, bit(unix.SIGUSR1) | bit(unix.SIGTERM) | bit(41)},
		{"both", bit(unix.SIGHUP) | bit(unix.SIGUSR2), bit(unix.SIGALRM)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ign, blk := statusMasks(t, "keep", tc.ignore, tc.block)
			if ign&tc.ignore != tc.ignore || blk&tc.block != tc.block {
				t.Fatalf("control: exec'd with SigIgn %x SigBlk %x; want %x and %x among them", ign, blk, tc.ignore, tc.block)
			}
			ign, blk = statusMasks(t, "reset", tc.ignore, tc.block)
			if ign != 0 || blk != 0 {
				t.Errorf("after ToDefault: exec'd with SigIgn %x SigBlk %x; want none", ign, blk)
			}
		})
	}
}

// TestIgnoredMask: Ignored reports a signal the process ignores, and not
// one it does not.
func TestIgnoredMask(t *testing.T) {
	before, err := Ignored()
	if err != nil {
		t.Fatal(err)
	}
	if before&bit(unix.SIGWINCH) != 0 {
		t.Skip("SIGWINCH was ignored on entry")
	}
	signal.Ignore(unix.SIGWINCH)
	defer signal.Reset(unix.SIGWINCH)
	after, err := Ignored()
	if err != nil {
		t.Fatal(err)
	}
	if after&bit(unix.SIGWINCH) == 0 {
		t.Errorf("SIGWINCH ignored, Ignored() = %x", after)
	}
}
