package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/libcontainer/hooks"
	"github.com/hull-runtime/hull/libcontainer/procfs"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
)

// rootfsBuilder does the container's steps from "prepare rootfs" to
// "read-only /dev". It runs either in the init itself, or in hull create
// on a thread that entered the init's namespaces (buildRootfs): the steps
// are the same, what differs is given by the fields.
type rootfsBuilder struct {
	cfg  *initConfig
	spec *specs.Spec
	// hookPid is the init's pid as the container sees it, for hook state.
	hookPid int
	// runtimeHooks runs prestart and createRuntime hooks where they
	// belong, in the runtime's namespaces; nil when none are configured.
	runtimeHooks func() error
	// consoleSock receives the pty master (process.terminal); slave keeps
	// the other end for the init.
	consoleSock *os.File
	slave       *os.File
	// rootfs is filled in by prepareRootfs; Pid and PidNS set there say
	// whose /proc describes the container.
	rootfs       *rootfs.Config
	initPid      int // 0: the builder is the init
	pidNS        int // fd for proc mounts of another pid namespace, or 0
	mountSources map[int]int
	idmapTrees   map[int]int
	proc         *procfs.Handle
	// cgroupV1 is the init's view of a cgroup v1 host, read ahead.
	cgroupV1 *rootfs.CgroupV1Ahead
}

func (b *rootfsBuilder) steps() []step {
	return []step{
		{"prepare rootfs", b.prepareRootfs},
		{"set hostname", b.setHostname},
		{"loopback up", b.loopbackUp},
		{"createRuntime hooks", b.awaitRuntimeHooks},
		{"createContainer hooks", b.createContainerHooks},
		{"pivot root", b.pivotRoot},
		{"make working directory", b.makeCwd},
		// Before finalize: linux.readonlyPaths usually holds /proc/sys.
		{"apply sysctls", b.applySysctls},
		{"finalize rootfs", b.finalizeRootfs},
		{"set up console", b.makeConsole},
		{"read-only /dev", b.readonlyDev},
	}
}

// runSteps runs the rootfs steps in the parent (hull create, on a thread in
// the init's namespaces).
func runSteps(steps []step) error {
	for _, s := range steps {
		faults.HitStep("rootfs", s.name)
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

func (b *rootfsBuilder) prepareRootfs() error {
	l := b.spec.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	// Also in a user namespace the engine made (rootless podman): mknod
	// is refused there as well.
	userNS := hasNamespace(b.spec, specs.UserNamespace) || runningInUserNS()
	cgroupNS := hasNamespace(b.spec, specs.CgroupNamespace)
	b.rootfs = &rootfs.Config{
		Rootfs: b.cfg.Rootfs, Readonly: b.spec.Root.Readonly, Mounts: withMountSources(b.spec.Mounts, b.mountSources),
		Propagation: l.RootfsPropagation, Devices: l.Devices,
		MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths,
		NoPivot: b.cfg.NoPivot, InUserNS: userNS, CgroupNS: cgroupNS,
		UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings,
		Pid: b.initPid, PidNS: b.pidNS, CgroupV1: b.cgroupV1, IdmappedTrees: b.idmapTrees,
	}
	if !ownsNamespace(b.spec, specs.MountNamespace) {
		b.releaseMountSources()
		return nil
	}
	err := rootfs.Prepare(b.rootfs)
	b.releaseMountSources()
	return err
}

// releaseMountSources closes the bind sources and ID-mapped trees the
// parent sent a Go init, once its mounts are made: they lead to host
// paths, and through /proc/1/fd so would anything in the container that
// resolves a path before the init execs.
func (b *rootfsBuilder) releaseMountSources() {
	for _, fds := range []map[int]int{b.mountSources, b.idmapTrees} {
		for _, fd := range fds {
			unix.Close(fd)
		}
		clear(fds) // the init and the rootfs config hold the same maps
	}
}

func (b *rootfsBuilder) setHostname() error {
	if b.spec.Hostname != "" {
		if err := unix.Sethostname([]byte(b.spec.Hostname)); err != nil {
			return fmt.Errorf("hostname %q: %w", b.spec.Hostname, err)
		}
	}
	if b.spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(b.spec.Domainname)); err != nil {
			return fmt.Errorf("domainname %q: %w", b.spec.Domainname, err)
		}
	}
	return nil
}

// loopbackUp sets lo up in a network namespace the container made, as
// runc does: a new namespace's lo starts down, and engines count on
// 127.0.0.1 (the containers of a podman pod made with --network none talk
// over the loopback of the infra container's namespace). A joined
// namespace is left as its owner set it.
func (b *rootfsBuilder) loopbackUp() error {
	if b.spec.Linux == nil || !newNetNamespace(b.spec.Linux.Namespaces) {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: set lo up: %w", err)
	}
	return nil
}

func (b *rootfsBuilder) awaitRuntimeHooks() error {
	if b.runtimeHooks == nil {
		return nil
	}
	return b.runtimeHooks()
}

func (b *rootfsBuilder) hookState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version: specs.Version, ID: b.cfg.ID, Status: status, Pid: b.hookPid,
		Bundle: b.cfg.Bundle, Annotations: b.spec.Annotations,
	}
}

// createContainerHooks run in the container's namespaces before pivot_root,
// in the rootfs directory as under runc (hooks written for runc use relative
// paths from there).
func (b *rootfsBuilder) createContainerHooks() error {
	if b.spec.Hooks == nil || len(b.spec.Hooks.CreateContainer) == 0 {
		return nil
	}
	if err := unix.Chdir(b.cfg.Rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", b.cfg.Rootfs, err)
	}
	return hooks.Run("createContainer", b.spec.Hooks.CreateContainer, b.hookState(specs.StateCreating))
}

// pivotRoot enters the rootfs. hull makes mounts only in a mount namespace
// of the container's own; without one (or with one joined by path) they
// would land in someone else's namespace, so the init only chroots.
func (b *rootfsBuilder) pivotRoot() error {
	if !ownsNamespace(b.spec, specs.MountNamespace) {
		return chrootInto(b.cfg.Rootfs)
	}
	return rootfs.Pivot(b.rootfs)
}

// makeCwd creates process.cwd where the rootfs lacks it, as runc does (an
// image's WORKDIR or a user's home need not exist in the image): after
// pivot_root, resolved inside the container's root (rootfs.MakeWorkdir),
// and before the root may turn read-only.
func (b *rootfsBuilder) makeCwd() error {
	if b.spec.Process == nil || b.spec.Process.Cwd == "" || b.spec.Process.Cwd == "/" {
		return nil
	}
	// Only a missing one: any other trouble (a loop, not a directory) is
	// the working directory check's to report, after the user is set.
	if err := rootfs.MakeWorkdir(b.spec.Process.Cwd); err != nil {
		return fmt.Errorf("process.cwd %q: %w", b.spec.Process.Cwd, err)
	}
	return nil
}

func (b *rootfsBuilder) finalizeRootfs() error {
	if !ownsNamespace(b.spec, specs.MountNamespace) {
		return nil
	}
	return rootfs.Finalize(b.rootfs)
}

// readonlyDev: after the console, whose /dev/console mount point may
// still have to be made in /dev.
func (b *rootfsBuilder) readonlyDev() error {
	if !ownsNamespace(b.spec, specs.MountNamespace) {
		return nil
	}
	return rootfs.ReadonlyDev(b.rootfs)
}

// applySysctls writes linux.sysctl through a verified procfs handle.
func (b *rootfsBuilder) applySysctls() error {
	if b.spec.Linux == nil || len(b.spec.Linux.Sysctl) == 0 {
		return nil
	}
	h, err := b.procfs()
	if err != nil {
		return err
	}
	for key, value := range b.spec.Linux.Sysctl {
		rel := "sys/" + strings.ReplaceAll(key, ".", "/")
		if err := h.WriteFile(rel, []byte(value)); err != nil {
			return fmt.Errorf("linux.sysctl[%q] = %q: %w", key, value, err)
		}
	}
	return nil
}

func (b *rootfsBuilder) procfs() (*procfs.Handle, error) {
	if b.proc == nil {
		h, err := procfs.Open()
		if err != nil {
			return nil, err
		}
		b.proc = h
	}
	return b.proc, nil
}

// makeConsole makes the container's pty in its devpts, hands the master to
// the console socket, binds the slave on /dev/console and keeps it for the
// init (takeConsole).
func (b *rootfsBuilder) makeConsole() error {
	if !b.spec.Process.Terminal {
		return nil
	}
	if b.consoleSock == nil {
		return errors.New("process.terminal is true but no console socket was given (--console-socket)")
	}
	master, slave, err := console.NewPty(b.spec.Process.ConsoleSize)
	if err != nil {
		return err
	}
	name := console.PtyName(master)
	err = console.SendFd(b.consoleSock, name, master.Fd())
	master.Close()
	if err == nil && ownsNamespace(b.spec, specs.MountNamespace) {
		err = console.BindDevConsole(slave)
	}
	if err != nil {
		slave.Close()
		return err
	}
	b.slave = slave
	return nil
}
