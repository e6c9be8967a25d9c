package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/criu"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
)

// netnsKey is the image's name for a network namespace the container
// joined (runc's, so that images move between the two).
const netnsKey = "extRootNetNS"

// CheckpointOpts are the inputs of `hull checkpoint` (runc's flags).
type CheckpointOpts struct {
	criu.Options
	CriuPath     string // the criu program ("criu": found on PATH)
	LeaveRunning bool
	Rootless     bool
}

// RestoreOpts are the inputs of `hull restore`: create's, and criu's.
type RestoreOpts struct {
	CreateOpts
	criu.Options
	CriuPath string
}

// Checkpoint dumps the running container's processes into o.ImagesDir
// with criu. Unless o.LeaveRunning, criu ends the processes and the
// container is deleted, as runc does: restore makes it anew.
func (c *Container) Checkpoint(o CheckpointOpts) error {
	if _, err := c.require(OpCheckpoint); err != nil {
		return err
	}
	if o.Rootless {
		return fmt.Errorf("container %q: checkpoint needs root (criu): not supported rootless", c.ID)
	}
	spec, err := c.FullSpec()
	if err != nil {
		return err
	}
	d := criu.Dump{Options: o.Options, Pid: c.Init.Pid, LeaveRunning: o.LeaveRunning}
	if d.BindMounts, err = checkpointMounts(spec, c.Bundle); err != nil {
		return err
	}
	if d.NetnsKey, d.NetnsInode, err = joinedNetns(spec); err != nil {
		return err
	}
	if err := os.MkdirAll(o.ImagesDir, 0o700); err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	if o.WorkDir != "" {
		if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
			return fmt.Errorf("--work-path: %w", err)
		}
	}
	descriptors, err := criu.ReadDescriptors(c.Init.Pid)
	if err != nil {
		return fmt.Errorf("checkpoint: the init's stdio: %w", err)
	}
	if err := criu.WriteDescriptors(o.ImagesDir, descriptors); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := criu.Run(o.CriuPath, d.Args(), d.LogDir(), nil); err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.ID, err)
	}
	if o.LeaveRunning {
		return nil
	}
	return c.Delete(true)
}

// checkpointMounts lists the spec's bind mounts with absolute sources
// (a relative source is the bundle's, as create takes it).
func checkpointMounts(spec *specs.Spec, bundle string) ([]criu.BindMount, error) {
	var out []criu.BindMount
	for i, m := range spec.Mounts {
		if !oci.IsBind(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		if m.Destination == "/dev/console" {
			return nil, fmt.Errorf("mounts[%d]: a bind mount at /dev/console cannot be checkpointed", i)
		}
		out = append(out, criu.BindMount{Destination: m.Destination, Source: src})
	}
	return out, nil
}

// joinedNetns: a network namespace the container joined by path is not
// the container's to dump (an engine made it and keeps it); any other
// joined namespace is refused, naming it, rather than dumped as if the
// container owned it.
func joinedNetns(spec *specs.Spec) (key string, inode uint64, err error) {
	if spec.Linux == nil {
		return "", 0, nil
	}
	for i, ns := range spec.Linux.Namespaces {
		if ns.Path == "" || ns.Type == specs.UserNamespace {
			continue
		}
		if ns.Type != specs.NetworkNamespace {
			return "", 0, fmt.Errorf("linux.namespaces[%d]: checkpoint of a container that joins the %s namespace %s is not supported", i, ns.Type, ns.Path)
		}
		var st unix.Stat_t
		if err := unix.Stat(ns.Path, &st); err != nil {
			return "", 0, fmt.Errorf("linux.namespaces[%d].path %q: %w", i, ns.Path, err)
		}
		return netnsKey, st.Ino, nil
	}
	return "", 0, nil
}

// Restore makes a container from a bundle and a checkpoint image: the
// state and cgroup as create makes them, then criu restores the processes
// into them, the init as this process's child. On any failure it leaves
// nothing behind.
func Restore(o RestoreOpts) (_ *Container, err error) {
	b := o.Bundle
	if err := validateRestore(b, o); err != nil {
		return nil, err
	}
	dir, err := state.Create(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir, Saved: Saved{ID: o.ID, Bundle: b.Dir, Rootfs: b.Rootfs, Created: time.Now().UTC()}}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.abort())
		}
	}()
	cg, err := c.makeCgroup(b.Spec, o.SystemdCgroup, o.Rootless)
	if err != nil {
		return nil, err
	}
	r := criu.Restore{Options: o.Options, CgroupRoot: cg.State().Path, PidFile: dir.File("restore.pid")}
	if r.BindMounts, err = checkpointMounts(b.Spec, b.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", b.ConfigPath(), err)
	}
	extra, err := restoreInherited(&r, b.Spec)
	if err != nil {
		return nil, err
	}
	defer closeFiles(extra)
	if r.Root, err = bindCriuRoot(b.Rootfs); err != nil {
		return nil, err
	}
	defer unbindCriuRoot(r.Root)
	if err := criu.Run(o.CriuPath, r.Args(), r.LogDir(), extra); err != nil {
		return nil, fmt.Errorf("restore %s: %w", o.ID, err)
	}
	if c.Init, err = restoredInit(r.PidFile); err != nil {
		// The tasks run, but hull cannot tell which is the init.
		cg.Signal(unix.SIGKILL)
		return nil, err
	}
	c.Spec, c.rawSpec = b.Spec, b.Config
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	return c, nil
}

// validateRestore is create's validation, and what restore cannot do.
func validateRestore(b *oci.Bundle, o RestoreOpts) error {
	if b.Spec.Process != nil && b.Spec.Process.Terminal {
		return fmt.Errorf("%s: process.terminal: restoring a container with a terminal is not supported", b.ConfigPath())
	}
	if err := errors.Join(validateRuntime(b.Spec, o.CreateOpts), validateNetDevices(b.Spec.Linux)); err != nil {
		return fmt.Errorf("%s: %w", b.ConfigPath(), err)
	}
	if !ownsNamespace(b.Spec, specs.MountNamespace) || !ownsNamespace(b.Spec, specs.PIDNamespace) {
		return fmt.Errorf("%s: linux.namespaces: restore needs a mount and a pid namespace of the container's own", b.ConfigPath())
	}
	if o.Rootless {
		return errors.New("restore needs root (criu): not supported rootless")
	}
	if _, err := os.Stat(filepath.Join(o.ImagesDir, "inventory.img")); err != nil {
		return fmt.Errorf("--image-path %s: no checkpoint image there: %w", o.ImagesDir, err)
	}
	return nil
}

// restoreInherited gives criu the caller's stdio in place of the pipes
// and sockets the image's init had, and a joined network namespace, as
// files it inherits.
func restoreInherited(r *criu.Restore, spec *specs.Spec) ([]*os.File, error) {
	descriptors, err := criu.LoadDescriptors(r.ImagesDir)
	if err != nil {
		return nil, err
	}
	r.InheritFDs = criu.StdioToInherit(descriptors)
	path := namespacePathOf(spec, specs.NetworkNamespace)
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("linux.namespaces: network namespace %s: %w", path, err)
	}
	r.InheritFDs[3] = netnsKey // the first extra file
	r.NetnsKey = netnsKey
	return []*os.File{f}, nil
}

func namespacePathOf(spec *specs.Spec, t specs.LinuxNamespaceType) string {
	if spec.Linux == nil {
		return ""
	}
	return namespacePath(spec, t)
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// bindCriuRoot binds the rootfs at a new temporary directory: criu
// restores the container's mounts on top of a root that is a mount point.
// Not in the state directory, which a failed restore removes with
// RemoveAll: the bind must never be under anything removed recursively.
func bindCriuRoot(rootfs string) (string, error) {
	dir, err := os.MkdirTemp("", "hull-restore-root-")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := unix.Mount(rootfs, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("restore: bind %s at %s: %w", rootfs, dir, err)
	}
	return dir, nil
}

// unbindCriuRoot undoes bindCriuRoot; rmdir fails, harmlessly, if the
// unmount did not happen.
func unbindCriuRoot(dir string) {
	unix.Unmount(dir, unix.MNT_DETACH)
	unix.Rmdir(dir)
}

// restoredInit reads criu's pid file and records the init it names.
func restoredInit(pidFile string) (state.Process, error) {
	data, err := os.ReadFile(pidFile)
	os.Remove(pidFile)
	if err != nil {
		return state.Process{}, fmt.Errorf("restore: criu's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return state.Process{}, fmt.Errorf("restore: criu's pid file %s: %q is no pid", pidFile, data)
	}
	return state.NewProcess(pid)
}
