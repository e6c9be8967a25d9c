package hullcmd

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/state"
)

// sendPidfd sends a pidfd of p over the unix socket at path, as runc
// 1.2+'s --pidfd-socket does: one message whose payload names the kind of
// process ("standard" for a container's init, "setns" for an exec'd one)
// and whose SCM_RIGHTS carries the pidfd. A supervisor can then wait for
// and signal the process without pid races.
func sendPidfd(path string, p state.Process, kind string) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--pidfd-socket %s: %w", path, err)
	}
	defer conn.Close()
	sock, err := conn.File()
	if err != nil {
		return fmt.Errorf("--pidfd-socket %s: %w", path, err)
	}
	defer sock.Close()
	fd, err := p.PidFD()
	if err != nil {
		return fmt.Errorf("--pidfd-socket %s: pidfd of process %d: %w", path, p.Pid, err)
	}
	defer unix.Close(fd)
	if err := console.SendFd(sock, kind, uintptr(fd)); err != nil {
		return fmt.Errorf("--pidfd-socket %s: %w", path, err)
	}
	return nil
}
