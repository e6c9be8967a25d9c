// Package sigreset gives a program about to be exec'd the signal state of
// a fresh process: no signal ignored, none blocked.
//
// execve(2) keeps ignored signals ignored and the signal mask as it is, so
// a process started under nohup, or by a daemon that ignores SIGHUP,
// SIGINT or SIGPIPE, would pass that on to the program it execs: a shell
// may not trap a signal that was ignored on entry, and `kill` with it would
// not end the program. runc and crun reset the dispositions of a
// container's process, crun clears its mask, and systemd-nspawn's stub
// init resets both for its payload. The C finisher
// (libcontainer/nsenter/finish.c) does the same for the processes it
// starts; this package is the Go side's, for the Go init and
// hull-stubinit.
package sigreset

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigaction is the kernel's struct sigaction on the architectures whose
// kernel has SA_RESTORER (x86, arm, arm64: those hull is built for).
type sigaction struct {
	handler  uintptr
	flags    uintptr
	restorer uintptr
	mask     uint64
}

const (
	sigDfl = 0
	sigIgn = 1
	// lastSignal is the highest signal number (the kernel's _NSIG).
	lastSignal = 64
)

// Ignored reports which signals the process ignores, as a mask with bit
// N-1 for signal N (/proc/PID/status's SigIgn).
func Ignored() (uint64, error) {
	var mask uint64
	for sig := 1; sig <= lastSignal; sig++ {
		old, err := action(sig, nil)
		if err != nil {
			return 0, err
		}
		if old.handler == sigIgn {
			mask |= 1 << (sig - 1)
		}
	}
	return mask, nil
}

// ToDefault sets every ignored signal back to its default action and
// unblocks every signal on the calling thread. Signals with a handler are
// left alone: the Go runtime's, which execve resets anyway. Call it on the
// thread that execs (runtime.LockOSThread), just before the exec.
func ToDefault() error {
	ignored, err := Ignored()
	if err != nil {
		return err
	}
	dfl := sigaction{handler: sigDfl}
	for sig := 1; sig <= lastSignal; sig++ {
		if ignored&(1<<(sig-1)) == 0 {
			continue
		}
		if _, err := action(sig, &dfl); err != nil {
			return err
		}
	}
	var none uint64
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&none)), 0, unsafe.Sizeof(none), 0, 0); errno != 0 {
		return fmt.Errorf("unblock signals: %w", errno)
	}
	return nil
}

// action sets signal sig's action to act (when not nil) and returns the
// previous one. The raw system call: it takes every signal, the C
// library's own 32 and 33 too.
func action(sig int, act *sigaction) (sigaction, error) {
	var old sigaction
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(&old)), unsafe.Sizeof(old.mask), 0, 0); errno != 0 {
		return old, fmt.Errorf("signal %d's disposition: %w", sig, errno)
	}
	return old, nil
}
