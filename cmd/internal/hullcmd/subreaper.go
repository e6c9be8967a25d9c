package hullcmd

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/sigcatch"
)

// orphanReaper makes `hull run` the child subreaper of the container's
// processes, as runc's run is unless --no-subreaper: in a container
// without a pid namespace of its own, a process whose parent exits is
// re-parented to hull instead of the host's init, and hull reaps it when
// it exits. The init is left to its own waiter.
type orphanReaper struct {
	keep int // the container's init: WaitExit reaps it
	ch   chan unix.Signal
	done chan struct{}
}

// becomeSubreaper makes hull the child subreaper of its descendants.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	return nil
}

// startReaper reaps hull's zombie children other than keep, now and on
// every SIGCHLD, until stop. It must run only while hull has no child of
// its own to wait for besides keep (hooks run before and after, not
// during).
func startReaper(keep int) (*orphanReaper, error) {
	r := &orphanReaper{keep: keep, ch: make(chan unix.Signal, 8), done: make(chan struct{})}
	if err := sigcatch.Catch(r.ch, unix.SIGCHLD); err != nil {
		return nil, err
	}
	sigcatch.Listen()
	r.reap()
	go func() {
		for {
			select {
			case <-r.ch:
				r.reap()
			case <-r.done:
				return
			}
		}
	}()
	return r, nil
}

// stop ends the reaping and reaps what exited meanwhile.
func (r *orphanReaper) stop() {
	sigcatch.Release(r.ch)
	close(r.done)
	r.reap()
}

// reap waits for each exited child but keep. waitid(WNOWAIT) names an
// exited child without reaping it, so the init's status stays for
// WaitExit and no other waiter's child is taken; only that child is then
// reaped, by pid. No /proc walk: globbing every thread's children file
// cost `run` 4% of its CPU. When the kernel names the init (a zombie until
// WaitExit takes it), reap stops: the other exited children wait for the
// next SIGCHLD or for stop, which comes after WaitExit.
func (r *orphanReaper) reap() {
	for {
		pid, err := exitedChild()
		if err != nil || pid <= 0 || pid == r.keep {
			return
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil) //nolint:errcheck // gone already is fine
	}
}

// exitedChild returns the pid of an exited, unreaped child of any of
// hull's threads, 0 if none has exited, without reaping it.
func exitedChild() (int, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err // ECHILD: no child at all
		}
		return siginfoPid(&info), nil
	}
}

// siginfoPid is si_pid: the first member of the union after si_signo,
// si_errno and si_code, aligned to a pointer. WNOHANG with no exited
// child leaves it 0.
func siginfoPid(info *unix.Siginfo) int {
	const a = unsafe.Alignof(uintptr(0))
	off := (3*unsafe.Sizeof(int32(0)) + a - 1) &^ (a - 1)
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}
