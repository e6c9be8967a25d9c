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
	// NoNewKeyring is create's --no-new-keyring: exec'd processes then
	// keep the caller's session keyring, else they join the container's.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// Spec is the state file's "spec", written by Container.save (see
	// savedFile).
	Spec *specs.Spec `json:"-"`
}

// Container is a container whose state directory is locked by this process.
//
// A loaded container's Spec is nil until FullSpec decodes it: decoding a
// specs.Spec builds encoding/json's caches for every type it reaches
// (2-3 ms of CPU), and state, start, kill and delete read only the part
// in view.
type Container struct {
	Saved
	// Warnings are what this command's container process reported but did
	// not fail on (capabilities the kernel lacks, ...), for the caller to log.
	Warnings []string
	dir      *state.Dir
	// rawSpec is the spec's JSON as read (the state file's, or config.json's
	// at create): Spec is nil until decoded from it, or what it decodes to.
	// Whoever changes Spec clears it; save writes it as it is.
	rawSpec json.RawMessage
	// view is what the lifecycle reads of the saved spec.
	view   specView
	passed *passedCheck // see requireOnce
}

// specView is the part of a saved spec that state, start, kill and delete
// read: its types are few, so decoding it costs next to nothing.
type specView struct {
	Annotations map[string]string `json:"annotations"`
	Hooks       *specs.Hooks      `json:"hooks"`
	Linux       *struct {
		Namespaces []specs.LinuxNamespace `json:"namespaces"`
	} `json:"linux"`
}

// savedFile is the state file: Saved's fields and the spec as its JSON
// bytes. Neither reading nor writing it makes encoding/json build its
// caches for the specs types (it builds a decoder and an encoder for every
// type a specs.Spec reaches: 2-3 ms of CPU in a fresh process).
type savedFile struct {
	Saved
	Spec json.RawMessage `json:"spec"`
}

// Load opens and locks a container; shared is for read-only commands.
func Load(root, id string, shared bool) (*Container, error) {
	dir, err := state.Open(root, id, shared)
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir}
	var f savedFile
	if err := dir.Load(&f); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Creation was interrupted before the state was first written.
			c.ID = id
			return c, nil
		}
		dir.Close()
		return nil, err
	}
	c.Saved = f.Saved
	if len(f.Spec) > 0 && string(f.Spec) != "null" {
		c.rawSpec = f.Spec
		if err := json.Unmarshal(f.Spec, &c.view); err != nil {
			dir.Close()
			return nil, fmt.Errorf("%s: spec: %w", dir.File("state.json"), err)
		}
	}
	return c, nil
}

// FullSpec returns the container's whole spec, decoding the saved one on
// first use; nil while the container is still being created.
func (c *Container) FullSpec() (*specs.Spec, error) {
	if c.Spec != nil || c.rawSpec == nil {
		return c.Spec, nil
	}
	spec, err := oci.DecodeSpec(c.rawSpec)
	if err != nil {
		return nil, fmt.Errorf("%s: spec: %w", c.dir.File("state.json"), err)
	}
	c.Spec = spec
	return c.Spec, nil
}

// save writes the state file: the spec as the bytes it was read from
// where this command has them and has not changed it (config.json's at
// create), else encoded (update; a relative bind source made absolute at
// create).
func (c *Container) save() error {
	spec := c.rawSpec
	if spec == nil && c.Spec != nil {
		var err error
		if spec, err = json.Marshal(c.Spec); err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
	}
	data, err := encodeState(&c.Saved, spec)
	if err != nil {
		return err
	}
	return c.dir.Write(data)
}

// hasSpec says whether the container's spec is known: saved, or set by
// this command's create.
func (c *Container) hasSpec() bool { return c.Spec != nil || c.rawSpec != nil }

// Annotations are the spec's annotations.
func (c *Container) Annotations() map[string]string {
	if c.Spec != nil {
		return c.Spec.Annotations
	}
	return c.view.Annotations
}

// hooks are the spec's hooks, nil when it has none.
func (c *Container) hooks() *specs.Hooks {
	if c.Spec != nil {
		return c.Spec.Hooks
	}
	return c.view.Hooks
}

// ownsPIDNamespace says whether the container has a pid namespace of its
// own (a new one, not one it joins).
func (c *Container) ownsPIDNamespace() bool {
	spec := c.Spec
	if spec == nil && c.view.Linux != nil {
		spec = &specs.Spec{Linux: &specs.Linux{Namespaces: c.view.Linux.Namespaces}}
	}
	return ownsNamespace(spec, specs.PIDNamespace)
}

// Close releases the container's lock.
func (c *Container) Close() { c.dir.Close() }

// Unlock releases the container's lock while this process goes on holding
// it (run, while the container runs); Relock takes it back.
func (c *Container) Unlock() { c.dir.Unlock() }

// Relock locks the container again after Unlock, without reading its state
// file: what this process holds is still the container's state, because
// the state file is written only by create and by update, and update
// changes only linux.resources of the spec, which no other operation reads
// (the cgroup is found by its record, the status from the live init).
// A state.ErrNotExist: the container was deleted meanwhile.
func (c *Container) Relock() error { return c.dir.Relock() }

// Status derives the container's status from the live init process and the
// create/start barrier, never from a stored string.
func (c *Container) Status() specs.ContainerState {
	if !c.hasSpec() {
		return specs.StateCreating
	}
	if !c.Init.Alive() {
		return specs.StateStopped
	}
	// The freezer before the barrier, as runc: a created container can be
	// paused too, and is paused until resume takes it back to created.
	// An unloadable cgroup record cannot say "paused"; the ops that need
	// the cgroup report it.
	if cg, _ := c.cgroup(); cg != nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return oci.StatusPaused
		}
	}
	if c.awaitsStart() {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// awaitsStart says whether the init still holds the exec fifo: it waits for
// start (or was just released and has not exec'd yet; its end is
// close-on-exec). A fifo without a reader was left by a start killed after
// it released the init: that container runs.
func (c *Container) awaitsStart() bool {
	// A plain fd: os.OpenFile would register the fifo with the runtime's
	// poller (setting the poller up first, in most commands) to close it
	// right away.
	fd, err := unix.Open(c.dir.File(execFifo), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		// The init holds the fifo read-write: our writer going away is
		// no end of file to it.
		unix.Close(fd)
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
	s.Annotations = c.Annotations()
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
