package libcontainer

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/hooks"
	"github.com/hull-runtime/hull/libcontainer/state"
)

// Start releases a created container's init to exec the user's program and
// runs the poststart hooks.
func (c *Container) Start() error {
	if _, err := c.requireOnce(OpStart); err != nil {
		return err
	}
	// A plain fd: os.OpenFile would register the fifo with the runtime's
	// poller, setting the poller up for this one write.
	fifo, err := unix.Open(c.dir.File(execFifo), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("container %q: init exited before start", c.ID)
	}
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", &os.PathError{Op: "open", Path: c.dir.File(execFifo), Err: err})
	}
	defer unix.Close(fifo)
	faults.Hit("start/fifo opened")
	if err := writeByte(fifo); err != nil {
		return fmt.Errorf("release container init: %w", &os.PathError{Op: "write", Path: c.dir.File(execFifo), Err: err})
	}
	faults.Hit("start/init released")
	if err := os.Remove(c.dir.File(execFifo)); err != nil {
		return err
	}
	faults.Hit("start/fifo removed")
	// As runc's start, this returns once the program is executed (engines
	// and poststart hooks count on it): init's end of the fifo is
	// close-on-exec, so the fifo losing its last reader means init has
	// exec'd (or died). Seccomp and startContainer hooks come before that.
	waitNoReaders(fifo)
	faults.Hit("start/program executed")
	h := c.hooks()
	if h == nil || len(h.Poststart) == 0 {
		return nil
	}
	if err := hooks.RunAll("poststart", h.Poststart, c.specState(specs.StateRunning)); err != nil {
		c.warn("%v", err)
	}
	return nil
}

// writeByte writes the one byte that releases the init (the fifo is
// empty, so it never finds the pipe full).
func writeByte(fd int) error {
	for {
		_, err := unix.Write(fd, []byte{0})
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func waitNoReaders(fifo int) {
	fds := []unix.PollFd{{Fd: int32(fifo), Events: 0}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// Signal sends sig to the container's init, or with all to every process
// in its cgroup (also of a stopped container: see OpKillAll). SIGKILL to a
// paused container thaws it after (thawKilled).
func (c *Container) Signal(sig unix.Signal, all bool) error {
	if all {
		if done, err := c.signalAll(sig); done {
			return err
		}
	}
	st, err := c.require(OpKill)
	if err != nil {
		return err
	}
	err = c.Init.Signal(sig)
	if errors.Is(err, state.ErrExited) {
		return notRunning(c.ID, OpKill)
	}
	if err != nil {
		return err
	}
	if cg, _ := c.cgroup(); cg != nil {
		c.thawKilled(cg, st, sig, false)
	}
	return nil
}

// signalAll is Signal with all. It says whether it did the job: a
// container without a cgroup has only its init to signal.
func (c *Container) signalAll(sig unix.Signal) (bool, error) {
	st, err := c.require(OpKillAll)
	if err != nil {
		return true, err
	}
	cg, err := c.cgroup()
	if err != nil || cg == nil {
		return err != nil, err
	}
	if err := cg.Signal(sig); err != nil {
		// runc's rule, which containerd's shim counts on when it kills
		// all after the init exited: a stopped container whose cgroup is
		// gone (the systemd driver removes an emptied scope's) has
		// nothing left to signal. Asked after the failure, so that an
		// init that died since the status check counts too.
		if !c.Init.Alive() && cgroupGone(cg) {
			return true, nil
		}
		return true, err
	}
	c.thawKilled(cg, st, sig, true)
	return true, nil
}

// thawKilled thaws a container that was paused (st) when it was sent
// SIGKILL, as runc does: on cgroup v1 a frozen task cannot die until it is
// thawed, so kill would return with the container still paused and its
// init alive. A plain kill with another signal leaves it paused (v1's
// kill --all ends thawed whatever the signal: its freeze around the
// signalling). killedAll: every process of the cgroup got sig already.
func (c *Container) thawKilled(cg cgroups.Manager, st specs.ContainerState, sig unix.Signal, killedAll bool) {
	if sig != unix.SIGKILL || st != paused {
		return
	}
	// Thawed, the init dies and the kernel kills the rest of its pid
	// namespace, but not before they run: a process being exec'd into the
	// paused container (exec --ignore-paused) got to run its program.
	// Killed while frozen, none of them runs another instruction.
	if !killedAll && c.ownsPIDNamespace() {
		if err := cg.Signal(unix.SIGKILL); err != nil {
			c.warn("container %q: kill every process before the thaw: %v", c.ID, err)
		}
	}
	if err := cg.Thaw(); err != nil {
		// The signal went out: the kill is done, what keeps it from
		// taking effect is worth a warning, not a failure (runc ignores it).
		c.warn("container %q: thaw after SIGKILL: %v", c.ID, err)
	}
}

// cgroupGone says whether the cgroup cg was removed. One missing directory
// is enough: rmdir removes only an empty cgroup, and a process is in one
// cgroup of every v1 hierarchy, so none can be left in the others.
func cgroupGone(cg cgroups.Manager) bool {
	s := cg.State()
	dirs := []string{s.Dir}
	for _, d := range s.Paths {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

// Delete removes a stopped container (any container with force): its
// processes, cgroup and state, then runs the poststop hooks.
//
// The state is the only record of the cgroup: when that record cannot be
// loaded, delete keeps it and fails; delete --force removes the container
// anyway and fails naming the cgroup it had to leave.
func (c *Container) Delete(force bool) error {
	op := OpDelete
	if force {
		op = OpDeleteForce
	}
	st, err := c.require(op)
	if err != nil {
		return err
	}
	cg, cgErr := c.cgroup()
	if cgErr != nil && !force {
		return fmt.Errorf("container %q: %w: nothing deleted, the state is kept (delete --force removes the container and leaves the cgroup)", c.ID, cgErr)
	}
	if st == stopped || st == creating {
		c.killLeftovers(cg)
	} else {
		c.killAll(cg)
	}
	faults.Hit("delete/processes killed")
	if err := c.destroy(cg); err != nil {
		return err
	}
	if cgErr != nil {
		return fmt.Errorf("container %q: deleted, but left its cgroup as it was (%s) and any process in it: %w", c.ID, c.cgroupRecord(), cgErr)
	}
	return nil
}

// killAll kills every process in the container's cgroup cg (nil: none
// known) and the init, then waits for the init to be gone.
func (c *Container) killAll(cg cgroups.Manager) {
	if cg != nil {
		// Everything in the cgroup first, as runc's destroy does: thawed
		// before it is killed, a process of a paused container (an exec
		// waiting there for its program) could run it before the init's
		// death ends the pid namespace. Killed while frozen, it dies on thaw.
		cg.Signal(unix.SIGKILL) //nolint:errcheck // best effort: the init's death and destroy follow
	}
	c.killLeftovers(cg)
	faults.Hit("delete/leftovers killed")
	if c.Init.Signal(unix.SIGKILL) == nil {
		c.Init.Wait()
	}
}

// killLeftovers kills what remains in the cgroup of a container without a
// pid namespace of its own, where the init's death does not end the rest.
func (c *Container) killLeftovers(cg cgroups.Manager) {
	if cg == nil {
		return
	}
	cg.Thaw()
	if !c.ownsPIDNamespace() {
		cg.Signal(unix.SIGKILL)
	}
}

// destroy removes the cgroup cg (nil: none known) and the state, and runs
// the poststop hooks.
func (c *Container) destroy(cg cgroups.Manager) error {
	if cg != nil {
		if err := cg.Destroy(); err != nil {
			// Keep the state: it is the only record of the cgroup, so a
			// later delete can try again.
			return fmt.Errorf("container %q: %w", c.ID, err)
		}
		faults.Hit("delete/cgroup removed")
	}
	if h := c.hooks(); h != nil {
		if err := hooks.RunAll("poststop", h.Poststop, c.specState(specs.StateStopped)); err != nil {
			c.warn("%v", err)
		}
		faults.Hit("delete/poststop hooks run")
	}
	return c.dir.Remove()
}

// WaitExit waits for the init of a container this process created (hull is
// its parent: the C stage clones it with CLONE_PARENT) and returns its exit
// status the shell way: the code, or 128+N when killed by signal N.
func (c *Container) WaitExit() (int, error) { return c.Init.WaitChild() }

// warn records a problem that must not fail the command (hook failures
// the spec says to only log); the command line logs c.Warnings.
func (c *Container) warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}
