package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/procfs"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/libcontainer/wire"
)

// initProcess is the container's init between the C stage and execve.
type initProcess struct {
	cfg       *initConfig
	spec      *specs.Spec
	sync      *os.File
	proc      *procfs.Handle
	b         *rootfsBuilder
	caps      *capabilities.Set
	filter    *seccomp.Filter
	program   string // absolute path of process.args[0] inside the container
	cwdAsUser bool   // process.cwd is entered after the switch to its user
	ready     bool   // the parent has been told the container is created
	// mountSources are fds of bind sources the parent opened, by mount
	// index; idmapTrees the ID-mapped source trees it made.
	mountSources, idmapTrees map[int]int
	warnings                 []string
}

// Init is the Go side of `hull init`: it never returns. The main goroutine
// must be locked to its thread (hull's main does it), since capabilities,
// scheduling and affinity are per thread and execve runs from it.
func Init() {
	fd, err := syncFDFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hull init:", err)
		os.Exit(1)
	}
	p := &initProcess{sync: os.NewFile(uintptr(fd), "sync")}
	err = p.run()
	// run returns only on failure: report it where someone will read it.
	if !p.ready {
		wire.Write(p.sync, wire.MsgError, []byte(err.Error()))
	} else {
		fmt.Fprintln(os.Stderr, "hull init:", err)
	}
	os.Exit(127)
}

func syncFDFromEnv() (int, error) {
	var fd int
	if _, err := fmt.Sscan(os.Getenv("_HULL_NSENTER"), &fd); err != nil {
		return 0, errors.New("not started by hull (no sync fd)")
	}
	return fd, nil
}

type step struct {
	name string
	do   func() error
}

// run is the process's start, step by step; each step's name prefixes its
// error. A container's init builds the container; an exec'd process only
// becomes the configured process inside what exists.
func (p *initProcess) run() error {
	if err := p.readConfig(); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	steps, who := p.containerSteps(), "init"
	if p.cfg.Exec {
		steps, who = p.execSteps(), "execinit"
	}
	for _, s := range steps {
		faults.HitStep(who, s.name)
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return errors.New("exec returned")
}

func (p *initProcess) containerSteps() []step {
	steps := []step{
		{"close inherited fds", p.closeInheritedFDs},
		{"enter cgroup namespace", p.enterCgroupNamespace},
	}
	if p.cfg.RootfsBuilt {
		steps = append(steps, step{"rootfs built by hull", p.awaitRootfs})
	} else {
		steps = append(steps, p.builder().steps()...)
	}
	return append(steps, p.finishSteps()...)
}

// finishSteps are the init's last steps, once its root is the container's:
// what applies to the process itself, and the wait for start.
func (p *initProcess) finishSteps() []step {
	return []step{
		{"take console", p.takeConsole},
		{"set process attributes", p.setAttributes},
		{"check working directory", p.checkCwd},
		{"set HOME", p.setHome},
		{"apply AppArmor profile", p.applyAppArmor},
		{"load seccomp filter (before dropping privileges)", p.loadSeccompPrivileged},
		{"drop privileges", p.dropPrivileges},
		{"find program", p.findProgram},
		{"load seccomp filter with listener", p.loadSeccompNotify},
		{"report created", p.reportCreated},
		{"wait for start", p.waitForStart},
		// As runc: startContainer hooks run under the filter.
		{"load seccomp filter", p.loadSeccomp},
		{"startContainer hooks", p.startContainerHooks},
		{"exec", p.exec},
	}
}

// execSteps: the C stage already entered the container's namespaces and
// cgroup, and entering its mount namespace made its root ours.
func (p *initProcess) execSteps() []step {
	return []step{
		{"close inherited fds", p.closeInheritedFDs},
		{"enter the container's root", p.enterRootForExec},
		{"set up console", p.setupConsole},
		{"set process attributes", p.setAttributes},
		{"check working directory", p.checkCwd},
		{"set HOME", p.setHome},
		{"apply AppArmor profile", p.applyAppArmor},
		{"load seccomp filter (before dropping privileges)", p.loadSeccompPrivileged},
		{"drop privileges", p.dropPrivileges},
		{"find program", p.findProgram},
		{"load seccomp filter with listener", p.loadSeccompNotify},
		{"report started", p.reportCreated},
		{"load seccomp filter", p.loadSeccomp},
		{"exec", p.exec},
	}
}

// readConfig receives the config, after the bind sources and ID-mapped
// trees the parent prepared (recvmsg, so that their fds are kept).
func (p *initProcess) readConfig() error {
	sources := map[byte]map[int]int{wire.MsgMountSource: {}, wire.MsgIdmapTree: {}}
	for {
		typ, payload, fds, err := wire.ReadFds(p.sync)
		if err != nil {
			return err
		}
		if byIndex, ok := sources[typ]; ok && len(fds) == 1 {
			i, err := strconv.Atoi(string(payload))
			if err != nil {
				return fmt.Errorf("mount source message %q: %w", payload, err)
			}
			byIndex[i] = fds[0]
			continue
		}
		wire.CloseFds(fds)
		if typ != wire.MsgConfig {
			return fmt.Errorf("unexpected message %q", typ)
		}
		if err := json.Unmarshal(payload, &p.cfg); err != nil {
			return err
		}
		break
	}
	p.spec = p.cfg.Spec
	p.mountSources, p.idmapTrees = sources[wire.MsgMountSource], sources[wire.MsgIdmapTree]
	for _, v := range []string{"_HULL_NSENTER", "_HULL_JOIN", "_HULL_UNSHARE", "_HULL_TIMENS", "_HULL_CGROUP"} {
		os.Unsetenv(v)
	}
	return nil
}

// closeInheritedFDs marks every fd above the preserved ones close-on-exec,
// hull's own included, so that nothing but --preserve-fds reaches the
// container's program or a hook.
func (p *initProcess) closeInheritedFDs() error {
	first := uint(3 + p.cfg.PreserveFDs)
	return unix.CloseRange(first, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}

// enterCgroupNamespace makes the container's cgroup namespace, rooted at
// the cgroup the parent placed this process in. Namespaces are per thread:
// this one holds for the main thread, which execs the program and forks
// the hooks, since Init runs on the main goroutine locked to it.
func (p *initProcess) enterCgroupNamespace() error {
	if !p.cfg.NewCgroupNS {
		return nil
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	return nil
}

// awaitRuntimeHooks lets the parent run prestart and createRuntime hooks
// now that the namespaces exist, and waits for them; a round trip made only
// when such hooks are configured.
func (p *initProcess) awaitRuntimeHooks() error {
	if err := wire.Write(p.sync, wire.MsgRuntimeHooks, nil); err != nil {
		return err
	}
	typ, _, err := wire.Read(p.sync)
	if err != nil {
		return err
	}
	if typ != wire.MsgHooksDone {
		return fmt.Errorf("unexpected message %q", typ)
	}
	return nil
}

func (p *initProcess) hookState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version: specs.Version, ID: p.cfg.ID, Status: status, Pid: os.Getpid(),
		Bundle: p.cfg.Bundle, Annotations: p.spec.Annotations,
	}
}

// enterRootForExec: joining the container's own mount namespace made its
// root ours; a container without one lives in a chroot, entered the same way.
func (p *initProcess) enterRootForExec() error {
	if ownsNamespace(p.spec, specs.MountNamespace) {
		return nil
	}
	return chrootInto(p.cfg.Rootfs)
}

func chrootInto(root string) error {
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	return unix.Chdir("/")
}

func (p *initProcess) procfs() (*procfs.Handle, error) {
	if p.proc == nil && p.b != nil && p.b.proc != nil {
		p.proc = p.b.proc
	}
	if p.proc == nil {
		h, err := procfs.Open()
		if err != nil {
			return nil, err
		}
		p.proc = h
	}
	return p.proc, nil
}

// builder is the init's own rootfsBuilder, made on first use.
func (p *initProcess) builder() *rootfsBuilder {
	if p.b != nil {
		return p.b
	}
	p.b = &rootfsBuilder{cfg: p.cfg, spec: p.spec, hookPid: os.Getpid(), mountSources: p.mountSources, idmapTrees: p.idmapTrees}
	if p.cfg.RuntimeHooks {
		p.b.runtimeHooks = p.awaitRuntimeHooks
	}
	if p.cfg.ConsoleFD >= 0 {
		p.b.consoleSock = os.NewFile(uintptr(p.cfg.ConsoleFD), "console-socket")
	}
	return p.b
}

// awaitRootfs: hull create builds the rootfs from a thread in this
// process's namespaces (buildRootfs); its pivot_root made our root the
// container's. The pty slave, if any, comes with the answer.
func (p *initProcess) awaitRootfs() error {
	if err := wire.Write(p.sync, wire.MsgBuildRootfs, nil); err != nil {
		return err
	}
	typ, payload, fds, err := wire.ReadFds(p.sync)
	if err != nil {
		return err
	}
	if typ != wire.MsgRootfsBuilt {
		wire.CloseFds(fds)
		if typ == wire.MsgError {
			return errors.New(string(payload))
		}
		return fmt.Errorf("unexpected message %q", typ)
	}
	b := p.builder()
	for _, fd := range fds {
		if b.slave == nil {
			b.slave = os.NewFile(uintptr(fd), "pty-slave")
		} else {
			unix.Close(fd)
		}
	}
	return nil
}

// setupConsole is the console of an exec'd process: made and taken here.
func (p *initProcess) setupConsole() error {
	if err := p.builder().makeConsole(); err != nil {
		return err
	}
	return p.takeConsole()
}

// takeConsole makes the pty slave the init's stdio and controlling
// terminal, or gives the init a session of its own without a terminal.
func (p *initProcess) takeConsole() error {
	b := p.builder()
	if b.consoleSock != nil {
		b.consoleSock.Close()
	}
	if !p.spec.Process.Terminal {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		return nil
	}
	if b.slave == nil {
		return errors.New("process.terminal is true but no pty was made")
	}
	defer b.slave.Close()
	return console.SetControllingTerminal(b.slave)
}
