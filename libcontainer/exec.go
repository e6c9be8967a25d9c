package libcontainer

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/oci"
)

// ExecOpts are the inputs of `hull exec`.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket *os.File
	PreserveFDs   int
	IgnorePaused  bool
	// SubCgroups places the process in sub-cgroups of the container's
	// (exec --cgroup): controller (or "" for all) to a relative path.
	SubCgroups map[string]string
}

// Exec starts a process in the running container: it joins every namespace
// of the container's init and its cgroup, and becomes Process with its
// capabilities, limits and seccomp filter. The process is hull's child.
func (c *Container) Exec(o ExecOpts) (state.Process, error) {
	op := ExecOp(o.IgnorePaused)
	st, err := c.requireOnce(op)
	if err != nil {
		return state.Process{}, err
	}
	full, err := c.FullSpec()
	if err != nil {
		return state.Process{}, err
	}
	spec := *full
	spec.Process = o.Process
	if o.Process.Terminal && o.ConsoleSocket == nil {
		return state.Process{}, fmt.Errorf("exec: a terminal needs a console socket")
	}
	if err := validateRuntime(&spec, CreateOpts{ConsoleSocket: o.ConsoleSocket, PreserveFDs: o.PreserveFDs}); err != nil {
		return state.Process{}, err
	}
	cfg := &initConfig{
		ID: c.ID, Bundle: c.Bundle, Rootfs: c.Rootfs, Spec: &spec, Exec: true,
		// As runc's exec: the process joins the container's session
		// keyring, not the caller's (a daemon's, shared with every
		// container it execs into), unless the container was created
		// without one.
		NoNewKeyring: c.NoNewKeyring, PreserveFDs: o.PreserveFDs, FifoFD: -1, ConsoleFD: -1,
	}
	if cfg.Seccomp, err = compileSeccomp(filepath.Dir(c.dir.Path()), &spec); err != nil {
		return state.Process{}, err
	}
	fin, err := c.execFinisher(&spec, o, cfg.Seccomp)
	if err != nil {
		return state.Process{}, err
	}
	extra := preservedFiles(o.PreserveFDs)
	switch {
	case fin != nil && o.Process.Terminal:
		slave, err := execPty(c.Init.Pid, o.Process.ConsoleSize, o.ConsoleSocket)
		if err != nil {
			return state.Process{}, err
		}
		defer slave.Close()
		fin.ConsoleFD = int32(3 + len(extra))
		extra = append(extra, slave)
	case o.ConsoleSocket != nil:
		cfg.ConsoleFD = 3 + len(extra)
		extra = append(extra, o.ConsoleSocket)
	}
	req := &nsenter.Request{Joins: c.initNamespaces()}
	if fin != nil {
		req.Finish = nsenter.FinishExec
	}
	cg, err := c.cgroup()
	if err != nil {
		return state.Process{}, err
	}
	if cg != nil {
		if cg, err = cgroups.Sub(cg, o.SubCgroups); err != nil {
			return state.Process{}, err
		}
	} else if len(o.SubCgroups) > 0 {
		return state.Process{}, noCgroup(c.ID, "exec --cgroup")
	}
	// The C stage joins the cgroup as early as it can, but in a frozen one
	// it would stop before reporting its pid, with the lock held: then only
	// the process itself is placed (and stops there until resume).
	early := cg
	if st == oci.StatusPaused {
		early = nil
	}
	p, err := startProcess(req, extra, nil, early, filepath.Dir(c.dir.Path()))
	if err != nil {
		return state.Process{}, err
	}
	defer p.sync.Close()
	cfg.SyncFD = p.childSyncFD
	faults.Hit("exec/process started")
	// Into the cgroup before it runs anything of its own: it waits for its config.
	if err := placeProcess(p.init, cg, o.Process, req.TasksFiles); err != nil {
		p.init.Signal(unix.SIGKILL)
		return state.Process{}, err
	}
	// The namespaces were joined by /proc/PID path: check that PID still is
	// the container's init, or the process could sit in another's namespaces.
	if !c.Init.Alive() {
		p.init.Signal(unix.SIGKILL)
		return state.Process{}, notRunning(c.ID, op)
	}
	if err := p.stageDone(); err != nil {
		return state.Process{}, err
	}
	// The process is in the container's namespaces and cgroup: the lock,
	// which kept them from going away meanwhile, is released before the
	// process is waited for. In a paused container (--ignore-paused) it
	// stays frozen until resume, and resume, kill or delete must not wait
	// for this exec.
	c.dir.Close()
	faults.Hit("exec/lock released")

	ctr := &Container{Saved: c.Saved, dir: c.dir}
	if fin != nil {
		err = sendProcess(p.sync, fin)
		if err == nil {
			err = ctr.serveInit(p.sync, cfg, p.init.Pid)
		}
	} else {
		err = ctr.configureInit(p.sync, cfg, p.init.Pid)
	}
	if err != nil {
		p.init.Signal(unix.SIGKILL)
		return state.Process{}, err
	}
	faults.Hit("exec/process ready")
	return p.init, nil
}

// execFinisher is the C finisher's message for the exec'd process, or nil
// when the Go init must run it (finisherRefusal).
func (c *Container) execFinisher(spec *specs.Spec, o ExecOpts, filter []byte) (*wire.Process, error) {
	if finisherRefusal(spec, filter) != "" {
		return nil, nil
	}
	caps, err := capabilities.New(spec.Process.Capabilities)
	if err != nil {
		return nil, fmt.Errorf("set process attributes: %w", err)
	}
	return finisherProcess(spec, finisherOpts{
		rootPid: c.Init.Pid, preserveFDs: o.PreserveFDs, fifoFD: -1, seccomp: filter, capabilities: caps,
		keyring: sessionKeyring(c.ID, c.NoNewKeyring),
	})
}

// initNamespaces are the namespaces of the container's init, to join: every
// kind the container has, new or joined, through /proc/PID/ns.
func (c *Container) initNamespaces() []nsenter.Join {
	var joins []nsenter.Join
	if c.Spec.Linux == nil {
		return nil
	}
	for _, ns := range c.Spec.Linux.Namespaces {
		path := fmt.Sprintf("/proc/%d/ns/%s", c.Init.Pid, nsenter.ProcName(ns.Type))
		joins = append(joins, nsenter.Join{Type: ns.Type, Path: path})
	}
	return joins
}
