package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
)

// execFifo is the create/start barrier: init blocks reading it until
// `start` writes a byte. While it exists, a live init means "created".
const execFifo = "exec.fifo"

// Saved is what hull persists about a container in its state directory.
type Saved struct {
	ID      string         `json:"id"`
	Bundle  string         `json:"bundle"`
	Rootfs  string         `json:"rootfs"`
	Created time.Time      `json:"created"`
	Init    state.Process  `json:"init"`
	Cgroup  *cgroups.State `json:"cgroup,omitempty"`
	Spec    *specs.Spec    `json:"spec"`
}

// Container is a container whose state directory is locked by this process.
type Container struct {
	Saved
	// Warnings are what this command's container process reported but did
	// not fail on (capabilities the kernel lacks, ...), for the caller to log.
	Warnings []string
	dir      *state.Dir
	passed   *passedCheck // see requireOnce
}

// Load opens and locks a container; shared is for read-only commands.
func Load(root, id string, shared bool) (*Container, error) {
	dir, err := state.Open(root, id, shared)
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir}
	if err := dir.Load(&c.Saved); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Creation was interrupted before the state was first written.
			c.ID = id
			return c, nil
		}
		dir.Close()
		return nil, err
	}
	return c, nil
}

// Close releases the container's lock.
func (c *Container) Close() { c.dir.Close() }

// Status derives the container's status from the live init process and the
// create/start barrier, never from a stored string.
func (c *Container) Status() specs.ContainerState {
	if c.Spec == nil {
		return specs.StateCreating
	}
	if !c.Init.Alive() {
		return specs.StateStopped
	}
	if c.awaitsStart() {
		return specs.StateCreated
	}
	// An unloadable cgroup record cannot say "paused"; the ops that need
	// the cgroup report it.
	if cg, _ := c.cgroup(); cg != nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return oci.StatusPaused
		}
	}
	return specs.StateRunning
}

// awaitsStart says whether the init still holds the exec fifo: it waits for
// start (or was just released and has not exec'd yet; its end is
// close-on-exec). A fifo without a reader was left by a start killed after
// it released the init: that container runs.
func (c *Container) awaitsStart() bool {
	f, err := os.OpenFile(c.dir.File(execFifo), os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		// The init holds the fifo read-write: our writer going away is
		// no end of file to it.
		f.Close()
		return true
	}
	return !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENXIO)
}

// State is the container's state as `hull state` prints it.
func (c *Container) State() oci.State {
	status := c.Status()
	s := oci.State{
		State: specs.State{
			Version: specs.Version,
			ID:      c.ID,
			Status:  status,
			Bundle:  c.Bundle,
		},
		Rootfs:  c.Rootfs,
		Created: c.Created,
		Owner:   "",
	}
	if c.Spec != nil {
		s.Annotations = c.Spec.Annotations
	}
	if status != specs.StateStopped {
		s.Pid = c.Init.Pid
	}
	return s
}

// specState is the state given to hooks.
func (c *Container) specState(status specs.ContainerState) *specs.State {
	s := c.State().State
	s.Status = status
	s.Pid = c.Init.Pid
	return &s
}

// cgroup loads the container's cgroup from its record: nil when it has
// none (rootless without a delegated cgroup, or a create that stopped
// before placing it). A record that cannot be loaded is an error, never
// "no cgroup": delete would then remove the only trace of the cgroup.
func (c *Container) cgroup() (cgroups.Manager, error) {
	if c.Cgroup == nil {
		return nil, nil
	}
	m, err := cgroups.Load(*c.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("cgroup record in %s: %w", c.dir.File("state.json"), err)
	}
	return m, nil
}

// cgroupRecord shows the cgroup record as it stands in the state, for a
// message about a cgroup hull could not handle.
func (c *Container) cgroupRecord() string {
	data, err := json.Marshal(c.Cgroup)
	if err != nil {
		return fmt.Sprintf("%+v", c.Cgroup)
	}
	return string(data)
}

// List returns every container under root, with its state.
func List(root string) ([]oci.State, error) {
	ids, err := state.List(root)
	if err != nil {
		return nil, err
	}
	var out []oci.State
	for _, id := range ids {
		c, err := Load(root, id, true)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, c.State())
		c.Close()
	}
	return out, nil
}
