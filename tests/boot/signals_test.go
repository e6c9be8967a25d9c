package boot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSignalsPowerOff: SIGTERM and SIGINT to `hull nspawn -b` and to
// `hull run` of a booted machine become SIGRTMIN+3, as nspawn turns them
// into the machine's kill signal, so the machine powers off and hull exits
// 0. Forwarded as they are, systemd as PID 1 would re-execute on SIGTERM
// and ignore SIGINT, and the machine would keep running (the wait fails).
func TestSignalsPowerOff(t *testing.T) {
	s := setup(t)
	for _, tc := range []struct {
		name string
		sig  unix.Signal
	}{{"nspawn", unix.SIGTERM}, {"run", unix.SIGTERM}, {"run", unix.SIGINT}} {
		t.Run(tc.name+"-"+unix.SignalName(tc.sig), func(t *testing.T) {
			name := randomName("sig-")
			cg := machineCgroup(t, s, name)
			var cmd *exec.Cmd
			bundle := nspawnRuns
			if tc.name == "nspawn" {
				cmd = exec.Command(s.hull, "nspawn", "-b", "-D", s.work, "-M", name, "--console=pipe", "--cgroups-path", cg)
			} else {
				bundle = t.TempDir()
				convert(t, s, bundle, "-D", s.work, "-M", name, "-b", "--console=pipe", "--cgroups-path", cg)
				cmd = exec.Command(s.hull, "run", "--bundle", bundle, name)
			}
			m := startCmd(t, cmd, name, cg)
			ex := func(args ...string) (string, error) {
				out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
				return strings.TrimSpace(string(out)), err
			}
			waitRunning(t, m, ex)
			stop := time.Now()
			if err := m.proc.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if st := m.wait(t, stopTimeout); st != 0 {
				t.Errorf("exit status %d after %s, want 0 (powered off)\n%s", st, unix.SignalName(tc.sig), m.out)
			}
			timings.add("%-6s %s to exit %5.2fs", "hull "+tc.name, unix.SignalName(tc.sig), time.Since(stop).Seconds())
			assertNothingLeft(t, m, s.work, bundle)
		})
	}
}

// TestEscapeSequence: on an interactive console (hull's stdin a terminal),
// Ctrl-] three times within a second ends the machine, as nspawn's escape;
// two, or three with another key between, do not.
func TestEscapeSequence(t *testing.T) {
	s := setup(t)
	name := randomName("esc-")
	cg := machineCgroup(t, s, name)
	master, slave := openPty(t)
	cmd := exec.Command(s.hull, "nspawn", "-D", s.work, "-M", name, "--cgroups-path", cg, "--", "/bin/sleep", "1000")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out lockedBuffer
	// The reader ends when the terminal's last slave closes (EIO), with
	// hull's exit: only then has it read all hull wrote.
	readAll := make(chan struct{})
	go func() {
		_, _ = out.ReadFrom(master)
		close(readAll)
	}()
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		done <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		// Ending the machine lets hull clean up its bundle; kill it only
		// if it does not exit then.
		exec.Command(s.hull, "kill", name, "KILL").Run()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		master.Close()
	})
	running := func() bool {
		st, err := exec.Command(s.hull, "state", name).Output()
		return err == nil && strings.Contains(string(st), `"running"`)
	}
	if err := untilOK(bootTimeout, func() error {
		if !running() {
			return errors.New("not running")
		}
		return nil
	}); err != nil {
		t.Fatalf("machine never ran:\n%s", out.String())
	}
	// Not an escape: another key between, then too few. The escape window
	// is timed at hull's reads, which a loaded host can delay past a fixed
	// pause (both bursts then read at once hold three escapes in a row):
	// each burst is typed once hull has passed the one before to the
	// machine's terminal, which echoes it ("^]" for Ctrl-]).
	echoed := ""
	typed := func(keys string) {
		t.Helper()
		master.Write([]byte(keys))
		echoed += strings.ReplaceAll(keys, "\x1d", "^]")
		if err := untilOK(bootTimeout, func() error {
			select {
			case <-exited: // the check below says the machine ended
				return nil
			default:
			}
			if !strings.Contains(out.String(), echoed) {
				return fmt.Errorf("the machine's terminal has not echoed %q", echoed)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v:\n%q", err, out.String())
		}
	}
	typed("\x1d\x1dx\x1d")
	time.Sleep(1500 * time.Millisecond)
	typed("\x1d\x1d")
	time.Sleep(1500 * time.Millisecond)
	if !running() {
		t.Fatalf("machine ended without a complete escape:\n%s", out.String())
	}
	master.Write([]byte("\x1d\x1d\x1d"))
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+9 {
			t.Errorf("hull nspawn ended with %v, want exit 137 (machine killed)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("escape did not end the machine:\n%s", out.String())
	}
	select {
	case <-readAll:
	case <-time.After(bootTimeout):
		t.Errorf("the terminal stays open %v after hull's exit", bootTimeout)
	}
	if !strings.Contains(out.String(), "escape") {
		t.Errorf("no escape message on the terminal:\n%q", out.String())
	}
	if st, err := exec.Command(s.hull, "state", name).CombinedOutput(); err == nil {
		t.Errorf("container left: %s", st)
	}
	if dirs := cgroupDirs(cg); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
}

// openPty opens a pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) ReadFrom(f *os.File) (int64, error) {
	buf := make([]byte, 4096)
	var total int64
	for {
		n, err := f.Read(buf)
		l.mu.Lock()
		l.b.Write(buf[:n])
		l.mu.Unlock()
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
