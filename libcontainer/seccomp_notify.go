package libcontainer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// msgSeccompFd (init → parent) carries the seccomp user-notification
// listener as SCM_RIGHTS on the frame's first byte; the payload is empty.
const msgSeccompFd = 'S'

// maxRecvFds bounds the fds one recvmsg accepts; more are truncated (and
// closed by the kernel), which only a misbehaving peer would cause.
const maxRecvFds = 4

// sendFdMsg writes one framed message (nsenter.WriteMsg's layout) with fd
// attached. One sendmsg carries the whole frame, so the fd rides on the
// frame's first byte, where the parent's recvmsg of the header finds it.
func sendFdMsg(sock *os.File, typ byte, fd int) error {
	frame := make([]byte, 5)
	frame[0] = typ
	binary.NativeEndian.PutUint32(frame[1:5], 0)
	for {
		err := unix.Sendmsg(int(sock.Fd()), frame, unix.UnixRights(fd), nil, 0)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// readMsgFds receives one framed message like nsenter.ReadMsg, but with
// recvmsg, so that fds attached to it are kept: a plain read would make the
// kernel drop them. The fds come back close-on-exec; the caller owns them.
func readMsgFds(sock *os.File) (typ byte, payload []byte, fds []int, err error) {
	var head [5]byte
	fds, err = recvFull(sock, head[:])
	if err != nil {
		return 0, nil, fds, err
	}
	n := binary.NativeEndian.Uint32(head[1:5])
	if n > 64<<20 {
		return 0, nil, fds, fmt.Errorf("message of %d bytes is too large", n)
	}
	payload = make([]byte, n)
	more, err := recvFull(sock, payload)
	return head[0], payload, append(fds, more...), err
}

// recvFull fills buf from a stream socket with recvmsg, collecting any fds.
func recvFull(sock *os.File, buf []byte) ([]int, error) {
	var fds []int
	oob := make([]byte, unix.CmsgSpace(4*maxRecvFds))
	for got := 0; got < len(buf); {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf[got:], oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fds, err
		}
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil {
				return fds, perr
			}
		}
		if n == 0 {
			return fds, errors.New("peer exited before finishing")
		}
		got += n
	}
	return fds, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // not SCM_RIGHTS: nothing to own
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// forwardListener hands a container process's seccomp listener to the
// agent at linux.seccomp.listenerPath, with the container's state, then
// drops hull's copy: the agent is the only one to serve it.
func forwardListener(spec *specs.Spec, st specs.State, pid int, fds []int) error {
	defer closeFds(fds)
	if len(fds) != 1 {
		return fmt.Errorf("container process sent %d seccomp listener fds, want 1", len(fds))
	}
	sc := spec.Linux.Seccomp
	err := seccomp.SendListener(context.Background(), sc.ListenerPath, sc.ListenerMetadata, pid, st, fds[0])
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return nil
}
