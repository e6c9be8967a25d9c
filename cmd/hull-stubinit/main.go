// Command hull-stubinit is the minimal PID 1 of nspawn's --as-pid2
// (ProcessTwo=yes): it starts its arguments (after "--") as PID 2 with the
// same stdio, reaps every process reparented to it, passes signals on and
// exits with PID 2's status (128+N when a signal ended it).
//
// It is built static (CGO_ENABLED=0) because it runs inside the machine's
// root file system, whose libc need not match the host's. Linked with
// -ldflags '-E main.entry' (amd64), it forks before the Go runtime starts
// its threads, which take PIDs too, so that the payload is PID 2 as under
// nspawn; without that entry point the payload gets the next free PID.
//
// Signals, as systemd-nspawn's stub init:
//   - SIGINT and systemd's SIGRTMIN+3…+6, +13…+16 (halt, poweroff, reboot,
//     kexec) ask for a shutdown: PID 2 gets SIGTERM and SIGCONT, then
//     SIGHUP (shells ignore SIGTERM), and SIGKILL after shutdownTimeout.
//
// Unlike nspawn's stub, which ignores them, SIGTERM, SIGHUP, SIGUSR1 and
// SIGUSR2 are forwarded to PID 2 as they are: under an OCI runtime `kill`
// sends SIGTERM to PID 1 and must reach the payload. Every other signal is
// ignored; none ends the stub itself, so that a stray signal cannot take
// the whole container down.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/sigreset"
)

// shutdownTimeout is how long PID 2 has to exit after a shutdown request
// before it is killed (nspawn's default stop timeout).
const shutdownTimeout = 90 * time.Second

// goAheadTimeout bounds the early-forked child's wait for PID 1 to be
// ready; PID 1 answers within milliseconds unless something is badly wrong.
const goAheadTimeout = 5 * time.Second

// sigRTMin is glibc's SIGRTMIN, the base systemd's signal numbers count
// from (the kernel's 32 and 33 are reserved by the C library).
const sigRTMin = 34

// Exit statuses of the stub's own failures, as a shell reports them.
const (
	exitUsage     = 2
	exitCannotRun = 126
	exitNotFound  = 127
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	argv, err := payloadArgs(args)
	if forkResult == 0 { // the child of entry's early fork: the payload to be
		if err != nil {
			return exitUsage // the parent reports it
		}
		return becomePayload(argv)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hull-stubinit: %v\nusage: hull-stubinit -- COMMAND [ARG…]\n", err)
		return exitUsage
	}
	if os.Getpid() != 1 {
		// Not PID 1 (run by hand, or under another init): orphans of the
		// payload would escape the reaper without this.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) //nolint:errcheck // best effort
	}
	// Every signal is caught: PID 1 must never die from Go's default
	// action (SIGHUP, SIGTERM, SIGUSR1… end a Go program).
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	if forkResult > 0 {
		pid := int(forkResult)
		// The child waits for our go-ahead: a signal that came before our
		// Notify would have been lost (or, by Go's default, ended PID 1).
		// Its setsid tells us it listens; it keeps the SIGHUP of our
		// TIOCNOTTY away from it too.
		waitForSession(pid)
		releaseTerminal(sigs)
		unix.Kill(pid, unix.SIGCONT) //nolint:errcheck // gone: reaped by supervise
		return supervise(pid, sigs)
	}
	// Linked without the early fork (or it failed): the payload's PID is
	// whatever the Go runtime's threads left free.
	ctty := releaseTerminal(sigs)
	pid, err := startPayload(argv, ctty)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hull-stubinit: start %s: %v\n", argv[0], err)
		return execFailure(err)
	}
	return supervise(pid, sigs)
}

func execFailure(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, unix.ENOENT) {
		return exitNotFound
	}
	return exitCannotRun
}

// becomePayload runs in the early-forked child: a session of its own, the
// terminal on stdin as controlling terminal when the stub held it, then
// exec. It returns only on failure.
func becomePayload(argv []string) int {
	goAhead := make(chan os.Signal, 1)
	signal.Notify(goAhead, unix.SIGCONT) // before setsid, which the parent waits for
	_, ttyErr := unix.IoctlGetTermios(0, unix.TCGETS)
	sid, sidErr := unix.IoctlGetInt(0, unix.TIOCGSID) // before setsid: still our session's?
	if _, err := unix.Setsid(); err != nil {
		fmt.Fprintf(os.Stderr, "hull-stubinit: setsid: %v\n", err)
		return exitCannotRun
	}
	select {
	case <-goAhead:
	case <-time.After(goAheadTimeout):
		fmt.Fprintln(os.Stderr, "hull-stubinit: warning: no go-ahead from PID 1; starting anyway")
	}
	if ttyErr == nil && (sidErr != nil || sid == unix.Getppid()) {
		takeTerminal(sidErr == nil)
	}
	path, err := exec.LookPath(argv[0])
	if err == nil {
		// As nspawn's stub: the payload starts with no signal ignored or
		// blocked, whatever the stub inherited. This thread execs. (The
		// fallback without the early fork, startPayload, passes on what the
		// stub was started with: under hull, nothing.)
		runtime.LockOSThread()
		err = sigreset.ToDefault()
	}
	if err == nil {
		err = syscall.Exec(path, argv, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "hull-stubinit: start %s: %v\n", argv[0], err)
	return execFailure(err)
}

// takeTerminal makes stdin the controlling terminal; wait: the stub still
// holds it and is about to let go.
func takeTerminal(wait bool) {
	deadline := time.Now().Add(2 * time.Second)
	for unix.IoctlSetInt(0, unix.TIOCSCTTY, 0) != nil {
		if !wait || time.Now().After(deadline) {
			return // runs without a controlling terminal
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForSession waits (briefly) until pid leads a session of its own, so
// that the SIGHUP of our TIOCNOTTY does not reach it.
func waitForSession(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if sid, err := unix.Getsid(pid); err != nil || sid == pid {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// payloadArgs takes the command after "--" (nspawn's convention; a
// leading "--" is also optional so the stub is easy to run by hand).
func payloadArgs(args []string) ([]string, error) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, errors.New("no command given")
	}
	return args, nil
}

// releaseTerminal gives up the controlling terminal on stdin, so that the
// payload can take it in a session of its own (job control, ^C reaching
// only the payload). It reports
// whether the payload should take stdin as its controlling terminal.
func releaseTerminal(sigs chan<- os.Signal) bool {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return false
	}
	sid, err := unix.IoctlGetInt(0, unix.TIOCGSID)
	if err != nil {
		return true // a terminal nobody holds: the payload may take it
	}
	if sid != os.Getpid() {
		return false // another session's terminal: cannot be taken
	}
	// Letting go sends SIGHUP to our own process group: ignored meanwhile
	// (the kernel drops it), or it would be forwarded to the payload.
	signal.Ignore(unix.SIGHUP)
	defer signal.Notify(sigs, unix.SIGHUP)
	return unix.IoctlSetInt(0, unix.TIOCNOTTY, 0) == nil
}

// startPayload runs argv (searched in $PATH) as a session leader with the
// stub's stdio and every other inherited descriptor (socket activation).
func startPayload(argv []string, ctty bool) (int, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, err
	}
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0},
	}
	return syscall.ForkExec(path, argv, attr)
}

// supervise reaps children until the payload exits and acts on signals.
func supervise(pid int, sigs <-chan os.Signal) int {
	var kill <-chan time.Time
	shuttingDown := false
	for {
		if status, done := reap(pid); done {
			return status
		}
		select {
		case s := <-sigs:
			sig, ok := s.(syscall.Signal)
			if !ok {
				continue
			}
			switch {
			case forwarded(sig):
				unix.Kill(pid, sig) //nolint:errcheck // ESRCH: exiting, reaped next round
			case shutdownRequest(sig) && !shuttingDown:
				shuttingDown = true
				shutdown(pid)
				kill = time.After(shutdownTimeout)
			}
		case <-kill:
			unix.Kill(pid, unix.SIGKILL) //nolint:errcheck // may be gone already
			kill = nil
		}
	}
}

// reap collects every exited child without blocking; done once the payload
// is among them, with its status.
func reap(pid int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return 0, false // ECHILD or nothing more to reap
		}
		if got != pid {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), true
		case ws.Signaled():
			return 128 + int(ws.Signal()), true
		}
	}
}

func forwarded(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2:
		return true
	}
	return false
}

// shutdownRequest: SIGINT (sysv ctrl-alt-del) and systemd's halt,
// poweroff, reboot and kexec signals.
func shutdownRequest(sig syscall.Signal) bool {
	if sig == unix.SIGINT {
		return true
	}
	n := int(sig) - sigRTMin
	return (n >= 3 && n <= 6) || (n >= 13 && n <= 16)
}

// shutdown asks the payload to stop: SIGTERM (with SIGCONT in case it is
// stopped), then SIGHUP for shells, which ignore SIGTERM.
func shutdown(pid int) {
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		return
	}
	unix.Kill(pid, unix.SIGCONT) //nolint:errcheck // best effort
	unix.Kill(pid, unix.SIGHUP)  //nolint:errcheck // best effort
}
