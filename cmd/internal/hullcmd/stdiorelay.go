package hullcmd

import (
	"fmt"
	"io"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/process"
)

// stdioRelay puts a pipe between a foreground process and each of the
// caller's stdout and stderr that is the caller's own: a regular file, a
// terminal, a named FIFO, a device other than /dev/null. The process gets
// the pipe (its stdio is handed to its user, which a file or terminal of
// the host's must never be) and hull copies from the pipe to the caller's
// file, as runc copies for a foreground run or exec. Anonymous pipes and
// sockets (what engines hand over) go through as they are. Stdin is not
// relayed: a relay would read the caller's input ahead of the process
// (runc's does), and the process reads it through the fd it inherits; only
// reopening /dev/stdin as a user fails.
type stdioRelay struct {
	restore []func()
	output  []chan struct{}
}

// drainGrace bounds finish's wait for the copies once hull's own pipe ends
// are gone: a process that outlived the container's init (no pid namespace
// of the container's own, a background child of an exec) may hold a pipe
// open for good, and 64 KiB (a pipe's buffer) reach any sink sooner.
const drainGrace = time.Second

// needsStdioRelay: the process will not run as the host's root, so its
// stdio is handed to another owner (a user, or root of a user namespace).
func needsStdioRelay(spec *specs.Spec, proc *specs.Process) bool {
	if proc.Terminal {
		return false // its stdio is the pty made for it
	}
	if proc.User.UID != 0 {
		return true
	}
	if spec != nil && spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace {
				return true
			}
		}
	}
	return false
}

// relayStdio replaces hull's own fds 1 and 2 that are the caller's own
// with pipes, which the container's process inherits; finish undoes it.
func relayStdio() (*stdioRelay, error) {
	r := &stdioRelay{}
	for fd := 1; fd < 3; fd++ {
		if !callersOwn(fd) {
			continue
		}
		if err := r.relay(fd); err != nil {
			r.finish()
			return nil, fmt.Errorf("relay stdio fd %d: %w", fd, err)
		}
	}
	return r, nil
}

// callersOwn: fd is open and is neither an anonymous pipe, a socket nor
// /dev/null.
func callersOwn(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return false
	case unix.S_IFIFO:
		return !process.IsAnonymousPipe(fd)
	case unix.S_IFCHR:
		return st.Rdev != unix.Mkdev(1, 3)
	}
	return true
}

func (r *stdioRelay) relay(fd int) error {
	saved, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		unix.Close(saved)
		return err
	}
	err = unix.Dup3(p[1], fd, 0) // without O_CLOEXEC: inherited
	unix.Close(p[1])
	if err != nil {
		unix.Close(saved)
		unix.Close(p[0])
		return err
	}
	callers, pipe := os.NewFile(uintptr(saved), "caller's stdio"), os.NewFile(uintptr(p[0]), "stdio relay")
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pipe.Close()
		if _, err := io.Copy(callers, pipe); err != nil {
			// The caller's side failed (a hung-up terminal, a full disk):
			// the pipe is read to its end all the same, or hull's own
			// next write to it would die of SIGPIPE.
			io.Copy(io.Discard, pipe) //nolint:errcheck // nowhere to report it
		}
	}()
	r.restore = append(r.restore, func() { unix.Dup3(int(callers.Fd()), fd, 0) })
	r.output = append(r.output, done)
	return nil
}

// finish gives hull its own stdio back, dropping its ends of the pipes,
// and waits until what the process wrote reached the caller: until the
// writers are gone, or drainGrace. Idempotent.
func (r *stdioRelay) finish() {
	if r == nil {
		return
	}
	for _, f := range r.restore {
		f()
	}
	r.restore = nil
	deadline := time.After(drainGrace)
	for _, done := range r.output {
		select {
		case <-done:
		case <-deadline:
		}
	}
	r.output = nil
}
