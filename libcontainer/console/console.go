// Package console makes a container's pseudo-terminal and hands its master
// end to whoever asked for it (the --console-socket protocol runc defined,
// which conmon and containerd speak): the fd travels with SCM_RIGHTS.
package console

import (
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewPty opens a new pty on the devpts instance mounted at the current
// /dev/pts (call it after pivot_root) and returns master and slave.
func NewPty(size *specs.Box) (master, slave *os.File, err error) {
	if err := checkPtmx("/dev/ptmx"); err != nil {
		return nil, nil, err
	}
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, so no path lookup in
	// /dev/pts can be raced.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		m.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	s := os.NewFile(sfd, "pty-slave")
	if err := checkPtySlave(s); err != nil {
		m.Close()
		s.Close()
		return nil, nil, err
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			m.Close()
			s.Close()
			return nil, nil, fmt.Errorf("set console size: %w", err)
		}
	}
	return m, s, nil
}

// PtyName is the slave's path inside the container, sent along with the fd.
func PtyName(master *os.File) string {
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return "/dev/pts/unknown"
	}
	return fmt.Sprintf("/dev/pts/%d", n)
}

// SendFd sends fd over a connected unix socket, with name as the payload.
func SendFd(sock *os.File, name string, fd uintptr) error {
	rights := unix.UnixRights(int(fd))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(name), rights, nil, 0); err != nil {
		return fmt.Errorf("send console fd: %w", err)
	}
	return nil
}

// RecvFd receives one fd sent by SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive console fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive console fd: no fd in message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive console fd: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// Dial connects to a --console-socket path and returns the connected
// socket as a file that can be passed to the container's init.
func Dial(path string) (*os.File, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
}

// SetControllingTerminal makes slave the calling process's stdio and its
// controlling terminal, in a new session.
func SetControllingTerminal(slave *os.File) error {
	if _, err := unix.Setsid(); err != nil && err != unix.EPERM {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty onto fd %d: %w", fd, err)
		}
	}
	return nil
}
