package hullcmd

import (
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// stdioRelay puts a pipe between a foreground process and each of the
// caller's stdio files that is the caller's own: a regular file, a
// terminal, a device other than /dev/null. The process gets the pipe (its
// stdio is handed to its user, which a file or terminal of the host's must
// never be) and hull copies between the pipe and the caller's file, as runc
// copies for a foreground run or exec. Pipes, FIFOs and sockets (what
// engines hand over) go through as they are.
type stdioRelay struct {
	restore []func()
	output  []chan struct{}
}

// needsStdioRelay: the process will not run as the host's root, so its
// stdio is handed to another owner (a user, or root of a user namespace).
func needsStdioRelay(spec *specs.Spec, proc *specs.Process) bool {
	if proc.User.UID != 0 {
		return true
	}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace {
				return true
			}
		}
	}
	return false
}

// relayStdio replaces hull's own fds 0-2 that are the caller's own with
// pipes, which the container's process inherits; finish undoes it.
func relayStdio() (*stdioRelay, error) {
	r := &stdioRelay{}
	for fd := 0; fd < 3; fd++ {
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

// callersOwn: fd is open and is neither a pipe, FIFO, socket nor /dev/null.
func callersOwn(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
		return false
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
	inner, outer := p[1], p[0] // output: the process writes, hull reads
	if fd == 0 {
		inner, outer = p[0], p[1]
	}
	err = unix.Dup3(inner, fd, 0) // without O_CLOEXEC: inherited
	unix.Close(inner)
	if err != nil {
		unix.Close(saved)
		unix.Close(outer)
		return err
	}
	callers, pipe := os.NewFile(uintptr(saved), "caller's stdio"), os.NewFile(uintptr(outer), "stdio relay")
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pipe.Close()
		if fd == 0 {
			io.Copy(pipe, callers) //nolint:errcheck // the process reads what got through
			return
		}
		io.Copy(callers, pipe) //nolint:errcheck // a caller that stopped reading loses the rest
	}()
	r.restore = append(r.restore, func() { unix.Dup3(int(callers.Fd()), fd, 0) })
	if fd != 0 {
		r.output = append(r.output, done)
	}
	return nil
}

// finish gives hull its own stdio back, dropping its ends of the pipes,
// and waits until what the process wrote reached the caller (the writers
// are gone once the container's processes are). Input still being copied
// is left: nothing waits for it. Idempotent.
func (r *stdioRelay) finish() {
	if r == nil {
		return
	}
	for _, f := range r.restore {
		f()
	}
	r.restore = nil
	for _, done := range r.output {
		<-done
	}
	r.output = nil
}
