package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/threadslack"
	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/exeseal"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/hooks"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/oci"
)

// CreateOpts are the inputs of `hull create`.
type CreateOpts struct {
	Root          string
	ID            string
	Bundle        *oci.Bundle
	ConsoleSocket *os.File // connected socket that receives the pty master, if process.terminal
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	SystemdCgroup bool
	// Rootless: the caller has no host root (runc's --rootless), so a
	// cgroup it cannot write is skipped unless limits are asked for.
	Rootless bool
}

// initConfig is everything the Go init needs; it travels as JSON.
type initConfig struct {
	ID           string      `json:"id"`
	Bundle       string      `json:"bundle"`
	Rootfs       string      `json:"rootfs"`
	Spec         *specs.Spec `json:"spec"`
	NoPivot      bool        `json:"noPivot"`
	NoNewKeyring bool        `json:"noNewKeyring"`
	PreserveFDs  int         `json:"preserveFds"`
	SyncFD       int         `json:"syncFd"`
	FifoFD       int         `json:"fifoFd"`
	ConsoleFD    int         `json:"consoleFd"`
	RuntimeHooks bool        `json:"runtimeHooks"`
	// NewCgroupNS asks the init to unshare its cgroup namespace, which it
	// can only do once the parent placed it in the container's cgroup.
	NewCgroupNS bool `json:"newCgroupNs,omitempty"`
	// Seccomp is the compiled filter (BPF): libseccomp compiles in the
	// parent, so the init only makes one seccomp(2) call. With a NOTIFY
	// rule the init sends the listener back ('S') before it reports ready.
	Seccomp []byte `json:"seccomp,omitempty"`
	// Exec marks a process joining a running container (hull exec).
	Exec bool `json:"exec,omitempty"`
	// RootfsBuilt: hull create builds the rootfs (buildRootfs) when the
	// init asks for it; the init goes on at "take console".
	RootfsBuilt bool `json:"rootfsBuilt,omitempty"`
	// consoleSock is where buildRootfs sends the pty master; the init
	// gets ConsoleFD instead when it makes the pty itself.
	consoleSock *os.File
	// finisher, set when the C finisher is the init (initFinisher), is
	// its process message's input; buildRootfs sends the message.
	finisher *finisherOpts
}

// Create makes a container from a bundle and leaves its init waiting for
// start. On any failure it leaves nothing behind.
func Create(o CreateOpts) (_ *Container, err error) {
	b := o.Bundle
	if err := errors.Join(validateRuntime(b.Spec, o), validateNetDevices(b.Spec.Linux)); err != nil {
		return nil, fmt.Errorf("%s: %w", b.ConfigPath(), err)
	}
	dir, err := state.Create(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	faults.Hit("create/state dir made")
	c := &Container{dir: dir, Saved: Saved{ID: o.ID, Bundle: b.Dir, Rootfs: b.Rootfs, Created: time.Now().UTC(), NoNewKeyring: o.NoNewKeyring}}
	if len(b.Spec.Mounts) > 0 && !ownsNamespace(b.Spec, specs.MountNamespace) {
		c.warn("mounts: not made: without a mount namespace of its own the container runs chrooted in %s, and mounts would land in another namespace", b.Rootfs)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.abort())
		}
	}()
	cg, err := c.makeCgroup(b.Spec, o.SystemdCgroup, o.Rootless)
	if err != nil && o.Rootless {
		cg, err = c.skipCgroup(b.Spec, err)
	}
	if err != nil {
		return nil, err
	}
	faults.Hit("create/cgroup made")
	if err := unix.Mkfifo(dir.File(execFifo), 0o600); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir.File(execFifo), err)
	}
	faults.Hit("create/exec fifo made")
	if err := c.startInit(b.Spec, o, cg); err != nil {
		return nil, err
	}
	faults.Hit("create/init ready")
	if c.Spec == b.Spec {
		c.rawSpec = b.Config // nil where LoadBundle changed the spec
	}
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	faults.Hit("create/state saved")
	// Created, and kept so by the lock held since: a start on this
	// Container (`run`) need not derive the status again (requireOnce).
	c.passed = &passedCheck{op: OpStart, status: specs.StateCreated}
	return c, nil
}

// makeCgroup records where the cgroup will be before making it, so that
// `delete --force` can clean up after a create that was killed midway.
func (c *Container) makeCgroup(spec *specs.Spec, systemd, rootless bool) (cgroups.Manager, error) {
	cfg := cgroups.Config{ID: c.ID, Systemd: systemd, Rootless: rootless}
	var resources *specs.LinuxResources
	if spec.Linux != nil {
		cfg.Path = spec.Linux.CgroupsPath
		resources = spec.Linux.Resources
	}
	// The default device rules apply with no linux section too: the rules
	// are applied from deny-all, and no rules would leave every device.
	cfg.Resources = withDeviceRules(resources)
	if rootless {
		cfg.Resources = withoutDeviceRules(resources)
	}
	cg, err := cgroups.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cfg.Path, err)
	}
	// A process placed in a frozen cgroup never gets to report, and create
	// would wait forever: refused with runc's words, before the cgroup is
	// recorded, so that the failed create leaves the existing cgroup alone.
	if frozen, err := cg.Frozen(); err == nil && frozen {
		return nil, errors.New("container's cgroup unexpectedly frozen")
	}
	st := cg.State()
	c.Cgroup = &st
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	faults.Hit("create/cgroup recorded")
	if err := cg.Create(); err != nil {
		return nil, err
	}
	// A cgroup made by someone else may already hold processes: they share
	// the container's limits and die with it. runc warns, in these words.
	if cgroups.Made(cg) {
		return cg, nil
	}
	if pids, err := cg.Pids(); err == nil && len(pids) > 0 {
		c.warn("container's cgroup is not empty: %d process(es) found", len(pids))
	}
	return cg, nil
}

// abort undoes a failed create: kills the init if it started, removes the
// cgroup, runs the poststop hooks once the create's hooks have begun (the
// runtime-spec's lifecycle goes on at "destroy" and "poststop" after a
// failed hook; runc runs them too: they undo what createRuntime hooks made,
// such as a converted machine's veth) and removes the state directory. Its
// errors say what was left behind.
func (c *Container) abort() error {
	if c.Init.Pid > 0 {
		if c.Init.Signal(unix.SIGKILL) == nil {
			c.Init.Wait()
		}
		var ws unix.WaitStatus
		unix.Wait4(c.Init.Pid, &ws, unix.WNOHANG, nil)
	}
	cg, err := c.cgroup()
	if err != nil {
		err = fmt.Errorf("undo create: cgroup left (%s): %w", c.cgroupRecord(), err)
	} else if cg != nil {
		if derr := cg.Destroy(); derr != nil {
			err = fmt.Errorf("undo create: %w", derr)
		}
	}
	if c.Spec != nil && c.Spec.Hooks != nil { // set when the create's hooks begin
		if herr := hooks.RunAll("poststop", c.Spec.Hooks.Poststop, c.specState(specs.StateStopped)); herr != nil {
			err = errors.Join(err, fmt.Errorf("undo create: %w", herr))
		}
	}
	if rerr := c.dir.Remove(); rerr != nil {
		err = errors.Join(err, fmt.Errorf("undo create: %w", rerr))
	}
	return err
}

// startInit starts the container's init and takes it to the point where it
// waits for start.
func (c *Container) startInit(spec *specs.Spec, o CreateOpts, cg cgroups.Manager) error {
	// A plain fd, not os.OpenFile: a FIFO is pollable, and the runtime's
	// poller would take four syscalls to register it and one to let it go,
	// for a file only handed to the init.
	fd, err := unix.Open(c.dir.File(execFifo), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", &os.PathError{Op: "open", Path: c.dir.File(execFifo), Err: err})
	}
	fifo := os.NewFile(uintptr(fd), c.dir.File(execFifo))
	defer fifo.Close()
	cfg := &initConfig{
		ID: c.ID, Bundle: c.Bundle, Rootfs: c.Rootfs, Spec: spec,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, PreserveFDs: o.PreserveFDs,
		ConsoleFD: -1,
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		RuntimeHooks: spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0),
		RootfsBuilt:  parentBuildsRootfs(spec, o),
	}
	if cfg.Seccomp, err = compileSeccomp(o.Root, spec); err != nil {
		return err
	}
	extra := preservedFiles(o.PreserveFDs)
	cfg.FifoFD = 3 + len(extra)
	extra = append(extra, fifo)
	if cfg.RootfsBuilt {
		cfg.consoleSock = o.ConsoleSocket
	} else if o.ConsoleSocket != nil {
		cfg.ConsoleFD = 3 + len(extra)
		extra = append(extra, o.ConsoleSocket)
	}
	req := &nsenter.Request{}
	if spec.Linux != nil {
		req.Joins, req.Unshare = nsenter.FromSpec(spec.Linux.Namespaces)
		req.TimeOffsets = spec.Linux.TimeOffsets
	}
	cfg.NewCgroupNS = req.Unshare&unix.CLONE_NEWCGROUP != 0
	req.Unshare &^= unix.CLONE_NEWCGROUP
	if cfg.finisher, err = initFinisher(spec, cfg); err != nil {
		return err
	}
	if cfg.finisher != nil {
		req.Finish = nsenter.FinishInit
		if cfg.NewCgroupNS {
			req.Finish = nsenter.FinishInitCgroupNS
		}
	}
	p, err := startProcess(req, extra, idMapper(spec), cg, o.Root)
	if err != nil {
		return err
	}
	defer p.sync.Close()
	c.Init = p.init
	cfg.SyncFD = p.childSyncFD
	faults.Hit("create/init started")
	// The C stage's first process exits meanwhile (it reported the pid):
	// its exit, some 0.6 ms of tearing down the hull binary's mappings, and
	// the wake-up of the goroutine that reaps it, are waited for once the
	// init is ready rather than before it is placed. Killed after it
	// reported, it fails the create all the same (abort kills the init).
	err = c.setUpInit(p, spec, cfg, cg, req)
	if serr := p.stageErr(); serr != nil {
		return serr
	}
	return err
}

// setUpInit places the init the C stage cloned and serves it until it
// waits for start.
func (c *Container) setUpInit(p *started, spec *specs.Spec, cfg *initConfig, cg cgroups.Manager, req *nsenter.Request) (err error) {
	// The init's Go runtime starts meanwhile; it waits for its config.
	if err := placeProcess(p.init, cg, spec.Process, req.TasksFiles); err != nil {
		return err
	}
	// Its network namespace exists since the C stage; the init does not
	// look at its interfaces before it has its config.
	faults.Hit("create/init placed")
	if err := moveNetDevices(spec.Linux, p.init.Pid); err != nil {
		return err
	}
	if needsMountSources(spec) {
		src, err := openMountSources(p.init.Pid, spec)
		if err != nil {
			return err
		}
		if err := src.send(p.sync); err != nil {
			return err
		}
		faults.Hit("create/mount sources sent")
	}
	if cfg.finisher != nil {
		c.Warnings = append(c.Warnings, cfg.finisher.capabilities.Warnings()...)
		if err = wire.Write(p.sync, wire.MsgPlaced, nil); err == nil {
			err = c.serveInit(p.sync, cfg, p.init.Pid)
		}
	} else {
		err = c.configureInit(p.sync, cfg, p.init.Pid)
	}
	if err != nil {
		var built *builderError
		if errors.As(err, &built) && !errors.Is(err, unix.ESRCH) {
			return err // the init is alive, waiting for its rootfs
		}
		return fmt.Errorf("%w%s", err, initDeath(p.init, spec))
	}
	return nil
}

// initDeath says how the init died when it vanished during setup: killed
// by the memory limit, it otherwise reads as a bare "peer exited". The
// init is hull's child (the C stage clones it with CLONE_PARENT).
func initDeath(p state.Process, spec *specs.Spec) string {
	var ws unix.WaitStatus
	for i := 0; ; i++ {
		pid, err := unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil)
		if err != nil || i == 50 {
			return ""
		}
		if pid == p.Pid {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !ws.Signaled() {
		return fmt.Sprintf(" (the container's init exited with status %d)", ws.ExitStatus())
	}
	msg := fmt.Sprintf(" (the container's init was killed by %s", unix.SignalName(ws.Signal()))
	if r := spec.Linux; ws.Signal() == unix.SIGKILL && r != nil && r.Resources != nil && r.Resources.Memory != nil && r.Resources.Memory.Limit != nil {
		msg += fmt.Sprintf("; linux.resources.memory.limit %d may be too small for the runtime's setup", *r.Resources.Memory.Limit)
	}
	return msg + ")"
}

// configureInit sends the Go init its config and serves it until it is
// ready; pid is the process it becomes (the container's init, or an exec'd one).
func (c *Container) configureInit(sync *os.File, cfg *initConfig, pid int) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := wire.Write(sync, wire.MsgConfig, data); err != nil {
		return fmt.Errorf("send config to init: %w", err)
	}
	faults.HitStep(initRole(cfg), "config sent")
	return c.serveInit(sync, cfg, pid)
}

// initRole names the command an init serves, for fault points.
func initRole(cfg *initConfig) string {
	if cfg.Exec {
		return "exec"
	}
	return "create"
}

// serveInit answers the Go init or the C finisher until it reports ready.
func (c *Container) serveInit(sync *os.File, cfg *initConfig, pid int) error {
	who := initRole(cfg)
	for {
		// recvmsg, not read: a seccomp listener fd may ride on a message.
		typ, payload, fds, err := wire.ReadFds(sync)
		if err != nil {
			wire.CloseFds(fds)
			return fmt.Errorf("container init: %w", err)
		}
		if typ != wire.MsgSeccompFd {
			wire.CloseFds(fds)
		}
		switch typ {
		case wire.MsgSeccompFd:
			if err := c.forwardListener(cfg, pid, fds); err != nil {
				return err
			}
		case wire.MsgRuntimeHooks:
			if err := c.runtimeHooks(cfg); err != nil {
				return err
			}
			faults.HitStep(who, "runtime hooks run")
			if err := wire.Write(sync, wire.MsgHooksDone, nil); err != nil {
				return err
			}
		case wire.MsgBuildRootfs:
			if err := c.buildRootfs(sync, cfg, pid); err != nil {
				return err
			}
		case wire.MsgReady:
			c.Spec = cfg.Spec
			if len(payload) > 0 {
				c.Warnings = append(c.Warnings, strings.Split(string(payload), "\n")...)
			}
			return nil
		case wire.MsgError:
			return errors.New(string(payload))
		default:
			return fmt.Errorf("container init: unexpected message %q", typ)
		}
	}
}

// runtimeHooks runs prestart and createRuntime hooks, in hull's namespaces.
func (c *Container) runtimeHooks(cfg *initConfig) error {
	c.Spec = cfg.Spec
	return hooks.RunRuntime(cfg.Spec.Hooks, c.specState(specs.StateCreating))
}

// buildRootfs builds the init's rootfs (parentBuildsRootfs) and hands the
// init the pty slave, if any.
func (c *Container) buildRootfs(sync *os.File, cfg *initConfig, pid int) error {
	if !cfg.RootfsBuilt {
		return errors.New("container init: asked for a rootfs it was to build itself")
	}
	var hooksFn func() error
	if cfg.RuntimeHooks {
		hooksFn = func() error { return c.runtimeHooks(cfg) }
	}
	c.Spec = cfg.Spec // createContainer hooks run in the build: a failure then runs poststop (abort)
	slave, err := buildRootfs(pid, cfg, cfg.consoleSock, hooksFn)
	if err != nil {
		return &builderError{err}
	}
	var fds []int
	if slave != nil {
		defer slave.Close()
		fds = append(fds, int(slave.Fd()))
	}
	var msg *wire.Process
	if cfg.finisher != nil {
		// Resolved now that the init's root is the container's.
		o := *cfg.finisher
		o.rootPid = pid
		if msg, err = finisherProcess(cfg.Spec, o); err != nil {
			return &builderError{err}
		}
	}
	if err := wire.WriteFds(sync, wire.MsgRootfsBuilt, nil, fds...); err != nil {
		return fmt.Errorf("container init: %w", err)
	}
	if msg != nil {
		return sendProcess(sync, msg)
	}
	return nil
}

// builderError is a failed step of buildRootfs.
type builderError struct{ error }

func (e *builderError) Unwrap() error { return e.error }

// forwardListener sends the agent the listener with the container's state:
// creating during create, the container's own status during exec.
func (c *Container) forwardListener(cfg *initConfig, pid int, fds []int) error {
	if c.Spec == nil {
		c.Spec = cfg.Spec
	}
	status := specs.StateCreating
	if cfg.Exec {
		status = c.Status()
	}
	return forwardListener(cfg.Spec, *c.specState(status), pid, fds)
}

// preservedFiles are the caller's fds 3..3+n-1, passed on at the same numbers.
func preservedFiles(n int) []*os.File {
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-fd-%d", 3+i))
	}
	return files
}

// started is a container process that passed the C stage.
type started struct {
	init        state.Process
	sync        *os.File // parent's end of the sync socket
	childSyncFD int
	stageExit   <-chan error // the C stage's first process's exit
}

// stageDone waits for the C stage's first process, which exits as soon as
// it reported the pid of the process it cloned. An exec waits only once
// its own work on the process is done: the goroutine that reaps the stage
// has reported by then, where a wait right after the handshake would put
// the main goroutine, locked to its thread, to sleep and wake it again.
func (p *started) stageDone() error {
	if err := p.stageErr(); err != nil {
		// Killed after it reported: the process it cloned is our child
		// (CLONE_PARENT), so its pid cannot have been reused.
		unix.Kill(p.init.Pid, unix.SIGKILL)
		unix.Wait4(p.init.Pid, nil, 0, nil)
		return err
	}
	return nil
}

// stageErr waits for the C stage's first process and says how it failed,
// if it did; the caller deals with the process it cloned.
func (p *started) stageErr() error {
	if err := <-p.stageExit; err != nil {
		return fmt.Errorf("container init setup: %w", err)
	}
	return nil
}

// glibcNoRseq keeps glibc from registering rseq areas in hull's container
// processes. The C stage clones the container process with a raw clone(2),
// which glibc does not know about, and the Go runtime then creates threads
// through pthread_create; glibc's per-thread rseq registration failed there
// now and then ("Fatal glibc error: rseq registration failed"), seen in 2-4
// of 58 runtime-tools programs per run under load. hull's own processes gain
// nothing from rseq; the container's program gets only its spec's env.
const glibcNoRseq = "GLIBC_TUNABLES=glibc.pthread.rseq=0"

// startProcess re-executes hull, or hull-stage for a finisher (from a copy
// the container cannot write, see exeseal), as a container process; extra
// are the fds it gets from 3 on, the sync socket follows them. root is
// hull's state root.
//
// With cg, the C stage joins the cgroup before it clones, so the container
// process is born there (see bornInCgroup): no cgroup.procs write, which on
// cgroup v1 waits for an RCU grace period (about 10 ms on a quiet host).
// The caller checks the placement (placeProcess).
func startProcess(req *nsenter.Request, extra []*os.File, mapIDs func(int) error, cg cgroups.Manager, root string) (*started, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer child.Close()
	childFD := 3 + len(extra)
	if cg != nil {
		bornInCgroup(req, cg)
	}
	var stage forked
	home := fmt.Sprintf("/proc/%d/ns/mnt", os.Getpid())
	// A clone that runs the C finisher never returns into Go: its stage
	// can be hull-stage, the same C without the 9 MB binary around it
	// (glibc's static start without hull's pages: about 0.6 ms less from
	// the fork to the clone, 0.6-1.8 ms of CPU per run or exec), where it
	// is installed beside hull.
	stageName := ""
	if req.Finish != nsenter.NoFinish {
		stageName = nsenter.StageName
	}
	err = exeseal.Start(root, stageName, func(bin exeseal.Binary) error {
		// Started in exeseal's private mount namespace, the C stage leaves
		// it first: a container without a mount namespace shares the
		// caller's, and a new one must be a copy of the caller's, in the
		// host's peer groups, for rshared mounts to propagate back to the
		// host. Otherwise it already is in the caller's.
		req.HomeMount = ""
		if bin.Private {
			req.HomeMount = home
		}
		env := append(append(req.Env(childFD), glibcNoRseq), faults.Env()...)
		stage, err = forkStage(bin, append(extra, child), env)
		return err
	})
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start container init: %w", err)
	}
	child.Close()
	firstExit := waitFirstProcess(stage.pid, int(parent.Fd()))
	pid, herr := nsenter.Handshake(parent, stage.pid, mapIDs)
	if herr != nil {
		// The C stage may be blocked waiting for us (the id maps): killing
		// it keeps the wait for it from waiting forever.
		stage.kill()
		<-firstExit
		stage.close()
		parent.Close()
		return nil, herr
	}
	stage.close()
	p, err := state.NewProcess(pid)
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
		<-firstExit
		parent.Close()
		return nil, fmt.Errorf("container init %d: %w", pid, err)
	}
	return &started{init: p, sync: parent, childSyncFD: childFD, stageExit: firstExit}, nil
}

// forked is the C stage's first process: its pid, and a pidfd to signal
// it by while it may have been reaped.
type forked struct{ pid, pidfd int }

func (f forked) kill() {
	if f.pidfd < 0 { // a kernel without CLONE_PIDFD
		unix.Kill(f.pid, unix.SIGKILL)
		return
	}
	unix.PidfdSendSignal(f.pidfd, unix.SIGKILL, nil, 0)
}

func (f forked) close() {
	if f.pidfd >= 0 {
		unix.Close(f.pidfd)
	}
}

// forkStage starts `hull init` (or hull-stage) from bin with hull's stdio
// and files from fd 3 on. syscall.ForkExec, not os/exec: os.StartProcess
// first checks, once per process, that pidfds work by cloning and reaping a
// child of its own.
func forkStage(bin exeseal.Binary, files []*os.File, env []string) (forked, error) {
	path, files := bin.Files(files)
	fds := []uintptr{0, 1, 2}
	for _, f := range files {
		fds = append(fds, f.Fd())
	}
	st := forked{pidfd: -1}
	attr := &syscall.ProcAttr{Env: env, Files: fds, Sys: &syscall.SysProcAttr{PidFD: &st.pidfd}}
	argv := []string{"hull", "init"}
	if bin.Stage {
		argv = []string{nsenter.StageName}
	}
	// The container's processes inherit the timer slack of the thread
	// that forks them: the caller's, not hull's (threadslack).
	var pid int
	err := threadslack.WithCallerSlack(func() (err error) {
		pid, err = syscall.ForkExec(path, argv, attr)
		return err
	})
	runtime.KeepAlive(files)
	if err != nil {
		return forked{}, fmt.Errorf("fork/exec %s: %w", bin.Name(), err)
	}
	st.pid = pid
	return st, nil
}

// waitFirstProcess waits for the C stage's first process, which reports the
// pid of the process it cloned and exits. Killed before it reported, it
// leaves that clone holding the socket's other end while the clone waits
// for its config, and the handshake would wait forever: its abnormal exit
// shuts our reading down, after what it sent (still read first).
func waitFirstProcess(pid, syncFD int) <-chan error {
	exited := make(chan error, 1)
	go func() {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		for err == unix.EINTR {
			_, err = unix.Wait4(pid, &ws, 0, nil)
		}
		switch {
		case err != nil:
			err = fmt.Errorf("wait for %d: %w", pid, err)
		case ws.Signaled():
			err = fmt.Errorf("signal: %v", ws.Signal())
		case ws.ExitStatus() != 0:
			err = fmt.Errorf("exit status %d", ws.ExitStatus())
		}
		if err != nil {
			unix.Shutdown(syncFD, unix.SHUT_RD)
		}
		exited <- err
	}()
	return exited
}

// idMapper writes the user namespace's id maps from linux.uidMappings and
// linux.gidMappings; nil when there is no new user namespace.
func idMapper(spec *specs.Spec) func(int) error {
	if spec.Linux == nil || len(spec.Linux.UIDMappings) == 0 {
		return nil
	}
	uids, gids := spec.Linux.UIDMappings, spec.Linux.GIDMappings
	return func(pid int) error { return writeIDMaps(pid, uids, gids) }
}

// writeIDMap writes a /proc/PID/{uid,gid}_map, rel to /proc.
func writeIDMap(rel string, m []specs.LinuxIDMapping) error {
	var data []byte
	for _, e := range m {
		data = fmt.Appendf(data, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return writeProc(rel, data)
}

// compileSeccomp compiles linux.seccomp to BPF; nil when there is none.
// Compiled programs are cached beside the state root (root + ".cache":
// inside it, they would look like a container). It runs on the main
// goroutine, on the main thread's stack: libseccomp's compiler is C, and
// on a goroutine of its own it would get a thread's 256 KiB
// (internal/threadmem).
func compileSeccomp(root string, spec *specs.Spec) ([]byte, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil
	}
	cache, err := seccomp.NewCache(filepath.Clean(root) + ".cache/seccomp")
	if err != nil {
		// No cache is a slower start, not a failure.
		f, cerr := seccomp.Compile(spec.Linux.Seccomp)
		if cerr != nil {
			return nil, cerr
		}
		defer f.Release()
		return f.MarshalBinary()
	}
	return cache.Compile(spec.Linux.Seccomp)
}

// placeProcess puts a container process, which waits for its config, in
// the container's cgroup (normally it was born there: joined are the tasks
// files the C stage wrote before it cloned the process, which need no
// check, and the other hierarchies' cgroup.procs are read) and sets its
// oom_score_adj. The parent
// writes that file because the process cannot in a new user namespace: it
// is not dumpable, so its /proc files belong to the host's root.
func placeProcess(p state.Process, cg cgroups.Manager, proc *specs.Process, joined []string) error {
	if cg != nil && !inCgroup(cg, p.Pid, joined) {
		if err := cg.Apply(p.Pid); err != nil {
			return fmt.Errorf("place process %d in the container's cgroup: %w", p.Pid, err)
		}
	}
	if proc.OOMScoreAdj != nil {
		rel := fmt.Sprintf("%d/oom_score_adj", p.Pid)
		if err := writeProc(rel, []byte(strconv.Itoa(*proc.OOMScoreAdj))); err != nil {
			return fmt.Errorf("process.oomScoreAdj %d: %w", *proc.OOMScoreAdj, err)
		}
	}
	// Placed, and the pid still names the process we started: a pid reused
	// meanwhile would have another start time.
	if !p.Alive() {
		return fmt.Errorf("container process %d exited during setup", p.Pid)
	}
	return nil
}
