package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
)

// Process identifies a process across PID reuse: a pid alone may name a
// different process once the original exited, its start time may not.
type Process struct {
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // field 22 of /proc/PID/stat, in clock ticks since boot
}

// NewProcess records the identity of a running pid.
func NewProcess(pid int) (Process, error) {
	start, err := startTime(pid)
	return Process{Pid: pid, StartTime: start}, err
}

func startTime(pid int) (uint64, error) {
	// One read: a stat line is ~300 bytes (rawfile: no poller).
	data, err := rawfile.ReadSmall("/proc/"+strconv.Itoa(pid)+"/stat", 1024)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	fields := bytes.Fields(data[i+1:])
	const startField = 22 - 3 // fields after ')' start at field 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	// A zombie has exited: it is not running any more.
	if string(fields[0]) == "Z" || string(fields[0]) == "X" {
		return 0, os.ErrNotExist
	}
	return strconv.ParseUint(string(fields[startField]), 10, 64)
}

// Alive reports whether the recorded process is still running.
func (p Process) Alive() bool {
	if p.Pid <= 0 {
		return false
	}
	start, err := startTime(p.Pid)
	return err == nil && start == p.StartTime
}

// ErrExited is returned when the recorded process no longer runs.
var ErrExited = errors.New("process has exited")

// PidFD opens a pidfd for the recorded process, checking after opening that
// it is still the same process, so the fd cannot refer to a reused pid.
func (p Process) PidFD() (int, error) {
	if p.Pid <= 0 {
		return -1, ErrExited
	}
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, ErrExited
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", p.Pid, err)
	}
	if !p.Alive() {
		unix.Close(fd)
		return -1, ErrExited
	}
	return fd, nil
}

// Signal sends sig to the recorded process, never to a reused pid.
func (p Process) Signal(sig unix.Signal) error {
	fd, err := p.PidFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrExited
		}
		return fmt.Errorf("signal %d to pid %d: %w", sig, p.Pid, err)
	}
	return nil
}

// Wait blocks until the recorded process exits (it need not be our child).
func (p Process) Wait() error {
	fd, err := p.PidFD()
	if errors.Is(err, ErrExited) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// WaitChild waits for the recorded process, which must be a child of the
// caller, and returns its status the shell way: the exit code, or 128+N
// when signal N killed it.
func (p Process) WaitChild() (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for pid %d: %w", p.Pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
