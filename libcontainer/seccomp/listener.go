package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sendTimeout bounds a connection to an agent that accepts but never reads,
// when the caller's context has no deadline of its own.
const sendTimeout = 30 * time.Second

// SendListener is the runtime side of the spec's seccomp notify protocol:
// it connects to the agent's AF_UNIX SOCK_STREAM socket at listenerPath and
// sends one container process state (ociVersion, fds ["seccompFd"], pid,
// metadata, state) as JSON, with fd attached via SCM_RIGHTS to the first
// sendmsg, then closes the connection. pid is the container process as seen
// by the runtime. fd stays open in the caller; the agent gets its own copy.
func SendListener(ctx context.Context, listenerPath, metadata string, pid int, state specs.State, fd int) error {
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: metadata,
		State:    state,
	})
	if err != nil {
		return fmt.Errorf("seccomp listener %s: encode state: %w", listenerPath, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sendTimeout)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", listenerPath)
	if err != nil {
		return fmt.Errorf("seccomp listener: connect %s: %w", listenerPath, err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("seccomp listener %s: set deadline: %w", listenerPath, err)
		}
	}
	if err := sendWithFd(conn, msg, fd); err != nil {
		return fmt.Errorf("seccomp listener %s: send state and fd %d: %w", listenerPath, fd, err)
	}
	return nil
}

// sendWithFd writes msg, attaching fd to the first sendmsg only, as the
// spec requires when a stream send needs more than one call.
func sendWithFd(conn *net.UnixConn, msg []byte, fd int) error {
	n, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(fd), nil)
	if err != nil {
		return err
	}
	for n < len(msg) {
		m, err := conn.Write(msg[n:])
		if err != nil {
			return err
		}
		n += m
	}
	return nil
}
