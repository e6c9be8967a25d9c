// Package wire is every message between hull and its container processes
// (the C stage of libcontainer/nsenter, the C finisher, the Go init) and the
// one framing they all use: 1 type byte, a 4-byte length in host order, the
// payload. Fds ride as SCM_RIGHTS on a frame's first byte, sent with the
// whole frame in one sendmsg, so the receiver's recvmsg of the header finds
// them. The C side (nsenter.c, finish.c) writes and reads the same layout.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Message types, by direction.
const (
	MsgMapIDs       = 'M' // C stage → parent: write my uid/gid maps
	MsgMapped       = 'm' // parent → C stage: maps written
	MsgPid          = 'P' // C stage → parent: decimal pid of the container process
	MsgError        = 'E' // either side: error text; the sender exits
	MsgMountSource  = 'F' // parent → init, before the config: a bind source fd; payload: decimal mount index
	MsgIdmapTree    = 'I' // parent → init, before the config: an idmap mount's ID-mapped source tree fd; payload: decimal mount index
	MsgConfig       = 'C' // parent → Go init: its config, JSON
	MsgProcess      = 'X' // parent → C finisher: the compact process message (Process)
	MsgRuntimeHooks = 'H' // init → parent: namespaces ready, run prestart/createRuntime hooks
	MsgHooksDone    = 'h' // parent → init
	MsgReady        = 'R' // init → parent: created (or exec'd process ready); payload: warnings
	MsgSeccompFd    = 'S' // init → parent: the seccomp listener fd, empty payload
	MsgBuildRootfs  = 'B' // init → parent: my namespaces are ready, build my rootfs
	MsgRootfsBuilt  = 'b' // parent → init: done; the pty slave rides along (SCM_RIGHTS)
	MsgPlaced       = 'G' // parent → C finisher as init: placed (cgroup, net devices), go on to 'B'
)

// MaxPayload bounds one message; a longer length is a broken peer.
const MaxPayload = 64 << 20

// maxRecvFds bounds the fds one recvmsg accepts; more are truncated (and
// closed by the kernel), which only a misbehaving peer would cause.
const maxRecvFds = 4

// ErrPeerGone is what a read returns when the other side went away mid-protocol.
var ErrPeerGone = errors.New("peer exited before finishing")

// frame lays out one message.
func frame(typ byte, payload []byte) []byte {
	buf := make([]byte, 5+len(payload))
	buf[0] = typ
	binary.NativeEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	return buf
}

// Write sends one message.
func Write(w io.Writer, typ byte, payload []byte) error {
	_, err := w.Write(frame(typ, payload))
	return err
}

// Read receives one message with read(2): fds attached to it are dropped
// by the kernel, so a side that may receive fds uses ReadFds.
func Read(r io.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrPeerGone
		}
		return 0, nil, err
	}
	n, err := payloadLen(head)
	if err != nil {
		return 0, nil, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrPeerGone
		}
		return 0, nil, err
	}
	return head[0], payload, nil
}

func payloadLen(head [5]byte) (uint32, error) {
	n := binary.NativeEndian.Uint32(head[1:5])
	if n > MaxPayload {
		return 0, fmt.Errorf("message of %d bytes is too large", n)
	}
	return n, nil
}

// WriteFds sends one message with fds attached, in one sendmsg.
func WriteFds(sock *os.File, typ byte, payload []byte, fds ...int) error {
	buf := frame(typ, payload)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	fd := int(sock.Fd())
	for {
		n, err := unix.SendmsgN(fd, buf, oob, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil && n < len(buf) {
			// The fds went with the first bytes; the rest is plain data.
			_, err = writeAll(fd, buf[n:])
		}
		return err
	}
}

func writeAll(fd int, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(fd, b[done:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// ReadFds receives one message like Read, but with recvmsg, so that fds
// attached to it are kept. They come back close-on-exec; the caller owns
// them, also when err is set.
func ReadFds(sock *os.File) (typ byte, payload []byte, fds []int, err error) {
	var head [5]byte
	fds, err = recvFull(sock, head[:])
	if err != nil {
		return 0, nil, fds, err
	}
	n, err := payloadLen(head)
	if err != nil {
		return 0, nil, fds, err
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
			more, perr := parseRights(oob[:oobn])
			fds = append(fds, more...)
			if perr != nil {
				return fds, perr
			}
		}
		if n == 0 {
			return fds, ErrPeerGone
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

// CloseFds closes fds received with ReadFds.
func CloseFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
