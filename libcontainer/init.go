package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/hooks"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/libcontainer/procfs"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// initProcess is the container's init between the C stage and execve.
type initProcess struct {
	cfg       *initConfig
	spec      *specs.Spec
	sync      *os.File
	proc      *procfs.Handle
	rootfs    *rootfs.Config
	caps      *capabilities.Set
	filter    *seccomp.Filter
	program   string // absolute path of process.args[0] inside the container
	cwdAsUser bool   // process.cwd is entered after the switch to its user
	ready     bool   // the parent has been told the container is created
	// mountSources are fds of bind sources the parent opened, by mount index.
	mountSources map[int]int
	warnings     []string
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
		nsenter.WriteMsg(p.sync, nsenter.MsgError, []byte(err.Error()))
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
	return []step{
		{"close inherited fds", p.closeInheritedFDs},
		{"enter cgroup namespace", p.enterCgroupNamespace},
		{"prepare rootfs", p.prepareRootfs},
		{"set hostname", p.setHostname},
		{"createRuntime hooks", p.awaitRuntimeHooks},
		{"createContainer hooks", p.createContainerHooks},
		{"pivot root", p.pivotRoot},
		// Before finalize: linux.readonlyPaths usually holds /proc/sys.
		{"apply sysctls", p.applySysctls},
		{"finalize rootfs", p.finalizeRootfs},
		{"set up console", p.setupConsole},
		{"read-only /dev", p.readonlyDev},
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

// readConfig receives the config, after the bind sources the parent opened
// (recvmsg, so that their fds are kept).
func (p *initProcess) readConfig() error {
	sources := map[int]int{}
	for {
		typ, payload, fds, err := readMsgFds(p.sync)
		if err != nil {
			return err
		}
		if typ == msgMountSource && len(fds) == 1 {
			i, err := strconv.Atoi(string(payload))
			if err != nil {
				return fmt.Errorf("mount source message %q: %w", payload, err)
			}
			sources[i] = fds[0]
			continue
		}
		closeFds(fds)
		if typ != msgConfig {
			return fmt.Errorf("unexpected message %q", typ)
		}
		if err := json.Unmarshal(payload, &p.cfg); err != nil {
			return err
		}
		break
	}
	p.spec = p.cfg.Spec
	p.mountSources = sources
	for _, v := range []string{"_HULL_NSENTER", "_HULL_JOIN", "_HULL_UNSHARE", "_HULL_TIMENS"} {
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

func (p *initProcess) prepareRootfs() error {
	l := p.spec.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	// Also in a user namespace the engine made (rootless podman): mknod
	// is refused there as well.
	userNS := hasNamespace(p.spec, specs.UserNamespace) || runningInUserNS()
	cgroupNS := hasNamespace(p.spec, specs.CgroupNamespace)
	p.rootfs = &rootfs.Config{
		Rootfs: p.cfg.Rootfs, Readonly: p.spec.Root.Readonly, Mounts: withMountSources(p.spec.Mounts, p.mountSources),
		Propagation: l.RootfsPropagation, Devices: l.Devices,
		MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths,
		NoPivot: p.cfg.NoPivot, InUserNS: userNS, CgroupNS: cgroupNS,
		UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings,
	}
	if !ownsNamespace(p.spec, specs.MountNamespace) {
		return nil
	}
	return rootfs.Prepare(p.rootfs)
}

func (p *initProcess) setHostname() error {
	if p.spec.Hostname != "" {
		if err := unix.Sethostname([]byte(p.spec.Hostname)); err != nil {
			return fmt.Errorf("hostname %q: %w", p.spec.Hostname, err)
		}
	}
	if p.spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(p.spec.Domainname)); err != nil {
			return fmt.Errorf("domainname %q: %w", p.spec.Domainname, err)
		}
	}
	return nil
}

// awaitRuntimeHooks lets the parent run prestart and createRuntime hooks
// now that the namespaces exist, and waits for them; a round trip made only
// when such hooks are configured.
func (p *initProcess) awaitRuntimeHooks() error {
	if !p.cfg.RuntimeHooks {
		return nil
	}
	if err := nsenter.WriteMsg(p.sync, msgRuntimeHooks, nil); err != nil {
		return err
	}
	typ, _, err := nsenter.ReadMsg(p.sync)
	if err != nil {
		return err
	}
	if typ != msgHooksDone {
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

// createContainerHooks run in the container's namespaces before pivot_root,
// in the rootfs directory as under runc (hooks written for runc use relative
// paths from there).
func (p *initProcess) createContainerHooks() error {
	if p.spec.Hooks == nil || len(p.spec.Hooks.CreateContainer) == 0 {
		return nil
	}
	if err := unix.Chdir(p.cfg.Rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", p.cfg.Rootfs, err)
	}
	return hooks.Run("createContainer", p.spec.Hooks.CreateContainer, p.hookState(specs.StateCreating))
}

// pivotRoot enters the rootfs. hull makes mounts only in a mount namespace
// of the container's own; without one (or with one joined by path) they
// would land in someone else's namespace, so the init only chroots.
func (p *initProcess) pivotRoot() error {
	if !ownsNamespace(p.spec, specs.MountNamespace) {
		return chrootInto(p.cfg.Rootfs)
	}
	return rootfs.Pivot(p.rootfs)
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

func (p *initProcess) finalizeRootfs() error {
	if !ownsNamespace(p.spec, specs.MountNamespace) {
		return nil
	}
	return rootfs.Finalize(p.rootfs)
}

// readonlyDev: after the console, whose /dev/console mount point may
// still have to be made in /dev.
func (p *initProcess) readonlyDev() error {
	if !ownsNamespace(p.spec, specs.MountNamespace) {
		return nil
	}
	return rootfs.ReadonlyDev(p.rootfs)
}

// applySysctls writes linux.sysctl through a verified procfs handle.
func (p *initProcess) applySysctls() error {
	if p.spec.Linux == nil || len(p.spec.Linux.Sysctl) == 0 {
		return nil
	}
	h, err := p.procfs()
	if err != nil {
		return err
	}
	for key, value := range p.spec.Linux.Sysctl {
		rel := "sys/" + strings.ReplaceAll(key, ".", "/")
		if err := h.WriteFile(rel, []byte(value)); err != nil {
			return fmt.Errorf("linux.sysctl[%q] = %q: %w", key, value, err)
		}
	}
	return nil
}

func (p *initProcess) procfs() (*procfs.Handle, error) {
	if p.proc == nil {
		h, err := procfs.Open()
		if err != nil {
			return nil, err
		}
		p.proc = h
	}
	return p.proc, nil
}

// setupConsole makes the container's pty, hands its master to the console
// socket, and makes the slave the init's stdio and controlling terminal.
func (p *initProcess) setupConsole() error {
	if !p.spec.Process.Terminal {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		return nil
	}
	if p.cfg.ConsoleFD < 0 {
		return errors.New("process.terminal is true but no console socket was given (--console-socket)")
	}
	sock := os.NewFile(uintptr(p.cfg.ConsoleFD), "console-socket")
	defer sock.Close()
	master, slave, err := console.NewPty(p.spec.Process.ConsoleSize)
	if err != nil {
		return err
	}
	defer slave.Close()
	name := console.PtyName(master)
	err = console.SendFd(sock, name, master.Fd())
	master.Close()
	if err != nil {
		return err
	}
	if ownsNamespace(p.spec, specs.MountNamespace) {
		if err := console.BindDevConsole(slave); err != nil {
			return err
		}
	}
	return console.SetControllingTerminal(slave)
}
