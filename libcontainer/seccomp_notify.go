package libcontainer

import (
	"context"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/libcontainer/wire"
)

// forwardListener hands a container process's seccomp listener to the
// agent at linux.seccomp.listenerPath, with the container's state, then
// drops hull's copy: the agent is the only one to serve it.
func forwardListener(spec *specs.Spec, st specs.State, pid int, fds []int) error {
	defer wire.CloseFds(fds)
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
