package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/criu"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
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
	spec, err := c.FullSpec()
	if err != nil {
		return err
	}
	if err := checkpointable(spec, o.Rootless); err != nil {
		return fmt.Errorf("container %q: %w", c.ID, err)
	}
	d := criu.Dump{Options: o.Options, Pid: c.Init.Pid, LeaveRunning: o.LeaveRunning}
	if d.FreezeCgroup, err = c.freezerDir(); err != nil {
		return err
	}
	d.BindMounts = checkpointMounts(spec, c.Bundle, c.Rootfs)
	if d.NetnsKey, d.NetnsInode, err = joinedNetns(spec); err != nil {
		return err
	}
	if err := makeCriuDirs(o.Options); err != nil {
		return err
	}
	descriptors, err := criu.ReadDescriptors(c.Init.Pid)
	if err != nil {
		return fmt.Errorf("checkpoint: the init's stdio: %w", err)
	}
	if err := criu.WriteDescriptors(o.ImagesDir, descriptors); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := criu.Run(o.CriuPath, d.Args(), nil, d.LogDir(), nil); err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.ID, err)
	}
	if o.LeaveRunning {
		return nil
	}
	// The image is whole and the processes are gone: a delete that leaves
	// something behind is the caller's to hear of, not a failed checkpoint
	// (runc warns too).
	if err := c.Delete(true); err != nil {
		c.warn("checkpoint %s: done, but deleting the container: %v", c.ID, err)
	}
	return nil
}

// checkpointable refuses, naming the reason, what hull does not
// checkpoint and restore: it runs before anything is made or dumped.
func checkpointable(spec *specs.Spec, rootless bool) error {
	switch {
	case rootless:
		return errors.New("checkpoint and restore need root (criu): not supported rootless")
	case !cgroups.UnifiedHost():
		return errors.New("checkpoint and restore are supported on cgroup v2 hosts only (on v1, criu needs every cgroup hierarchy mapped, which hull does not do yet)")
	case spec.Process != nil && spec.Process.Terminal:
		return errors.New("process.terminal: a container with a terminal cannot be restored, so it is not checkpointed")
	case ownsNamespace(spec, specs.UserNamespace):
		return errors.New("linux.namespaces: a container with a user namespace is not supported (its devices and masks are binds from the host, which criu would need named)")
	}
	if spec.Linux == nil {
		return nil
	}
	for i, ns := range spec.Linux.Namespaces {
		if ns.Path == "" || slices.Contains([]specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace}, ns.Type) {
			continue
		}
		return fmt.Errorf("linux.namespaces[%d]: joining the %s namespace %s is not supported (only network, ipc and uts may be joined)", i, ns.Type, ns.Path)
	}
	return nil
}

// makeCriuDirs makes the images and work directories criu writes to.
func makeCriuDirs(o criu.Options) error {
	if err := os.MkdirAll(o.ImagesDir, 0o700); err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	if err := os.MkdirAll(o.LogDir(), 0o700); err != nil {
		return fmt.Errorf("--work-path: %w", err)
	}
	return nil
}

// freezerDir is the container's freezer cgroup directory ("": none).
func (c *Container) freezerDir() (string, error) {
	cg, err := c.cgroup()
	if err != nil || cg == nil {
		return "", err
	}
	st := cg.State()
	if st.Dir != "" {
		return st.Dir, nil
	}
	return st.Paths["freezer"], nil
}

// checkpointMounts lists the spec's bind mounts with absolute sources
// (a relative source is the bundle's, as create takes it), each named by
// its destination as the rootfs resolves it: criu knows a mount by where
// it is, and /mnt/x/ or a path through a symlink is not that.
func checkpointMounts(spec *specs.Spec, bundle, rootfs string) []criu.BindMount {
	var out []criu.BindMount
	for _, m := range spec.Mounts {
		if src := bindSourcePath(m, bundle); src != "" {
			out = append(out, criu.BindMount{Destination: resolveInRootfs(rootfs, m.Destination), Source: src})
		}
	}
	return out
}

// restoreMountpoints are the mount points criu needs, made where missing
// before it restores, as runc makes them: a mount that lies in the rootfs
// gets its mount point there; one nested in a bind mount gets it in the
// bind's source (runc mounts the bind for that, hull resolves the rest of
// the path inside the source); one nested in any other mount needs none
// (a tmpfs's content is criu's to restore, proc's or sysfs's is the
// kernel's). The nearest enclosing mount decides, the last of equals being
// the one on top. A bind mount of a file needs a file.
func restoreMountpoints(spec *specs.Spec, bundle, rootfsDir string) []rootfs.Mountpoint {
	n := len(spec.Mounts)
	dests, srcs, srcIsDir := make([]string, n), make([]string, n), make([]bool, n)
	for i, m := range spec.Mounts {
		dests[i] = filepath.Clean("/" + m.Destination)
		srcs[i], srcIsDir[i] = bindSource(m, bundle)
	}
	var out []rootfs.Mountpoint
	for i, m := range spec.Mounts {
		root, path := rootfsDir, dests[i]
		if j := enclosingMount(dests, i); j >= 0 {
			if srcs[j] == "" || !srcIsDir[j] {
				continue
			}
			root, path = srcs[j], strings.TrimPrefix(path, strings.TrimSuffix(dests[j], "/"))
		}
		dir := srcs[i] == "" || srcIsDir[i]
		out = append(out, rootfs.Mountpoint{Root: root, Path: path, Dir: dir, Strict: m.Type == "proc" || m.Type == "sysfs"})
	}
	return out
}

// enclosingMount is the index of the deepest mount whose destination lies
// above dests[i] (the last of equals), or -1.
func enclosingMount(dests []string, i int) int {
	best := -1
	for j, d := range dests {
		if d != dests[i] && isBelow(dests[i], d) && (best < 0 || len(d) >= len(dests[best])) {
			best = j
		}
	}
	return best
}

// bindSourcePath is a bind mount's source, absolute (a relative one is
// the bundle's, as create takes it); "" for other mounts.
func bindSourcePath(m specs.Mount, bundle string) string {
	if !oci.IsBind(m) {
		return ""
	}
	if filepath.IsAbs(m.Source) {
		return m.Source
	}
	return filepath.Join(bundle, m.Source)
}

// bindSource is bindSourcePath and whether the source is a directory (one
// that cannot be read counts as a directory).
func bindSource(m specs.Mount, bundle string) (string, bool) {
	src := bindSourcePath(m, bundle)
	if src == "" {
		return "", false
	}
	st, err := os.Stat(src)
	return src, err != nil || st.IsDir()
}

// isBelow: p lies under dir (both clean and absolute).
func isBelow(p, dir string) bool {
	return dir == "/" || strings.HasPrefix(p, dir+"/")
}

// resolveInRootfs is dest with the rootfs's symlinks followed inside it
// (openat2 RESOLVE_IN_ROOT), as the mount was made; a destination the
// rootfs does not hold (under another mount of the container) is only
// cleaned.
func resolveInRootfs(rootfs, dest string) string {
	clean := filepath.Clean("/" + dest)
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return clean
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, clean, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return clean
	}
	defer unix.Close(fd)
	full, err1 := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	top, err2 := os.Readlink("/proc/self/fd/" + strconv.Itoa(root))
	if err1 != nil || err2 != nil {
		return clean
	}
	if full == top {
		return "/"
	}
	if rel, ok := strings.CutPrefix(full, top+"/"); ok {
		return "/" + rel
	}
	return clean
}

// joinedNetns: a network namespace the container joined by path is not
// the container's to dump (an engine made it and keeps it): criu names it
// external. (A joined ipc or uts namespace is dumped, and joined again at
// restore, as runc has criu do.)
func joinedNetns(spec *specs.Spec) (key string, inode uint64, err error) {
	if spec.Linux == nil {
		return "", 0, nil
	}
	for i, ns := range spec.Linux.Namespaces {
		if ns.Path == "" || ns.Type != specs.NetworkNamespace {
			continue
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
// nothing behind but the mount points it made (as runc's restore).
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
			// Once the hooks began, the undo runs the poststop hooks, as
			// after a failed create.
			if began, _ := c.restoreHooksOutcome(); began {
				c.Spec = b.Spec
			}
			err = errors.Join(err, c.abort())
		}
	}()
	cg, err := c.makeCgroup(b.Spec, o.SystemdCgroup, o.Rootless)
	if err != nil {
		return nil, err
	}
	r := criu.Restore{Options: o.Options, CgroupRoot: cg.State().Path, PidFile: dir.File("restore.pid"),
		JoinNS: joinedToRejoin(b.Spec)}
	if err := rootfs.MakeMountpoints(restoreMountpoints(b.Spec, b.Dir, b.Rootfs)); err != nil {
		return nil, fmt.Errorf("restore %s: %w", o.ID, err)
	}
	r.BindMounts = checkpointMounts(b.Spec, b.Dir, b.Rootfs)
	extra, err := restoreInherited(&r, b.Spec)
	if err != nil {
		return nil, err
	}
	defer closeFiles(extra)
	if r.Root, err = bindCriuRoot(b.Rootfs); err != nil {
		return nil, err
	}
	defer unbindCriuRoot(r.Root)
	if err := c.prepareRestoreHooks(&r, b.Spec); err != nil {
		return nil, err
	}
	if err := criu.Run(o.CriuPath, r.Args(), r.Env, r.LogDir(), extra); err != nil {
		return nil, c.restoreFailed(err)
	}
	if c.Init, err = restoredInit(r.PidFile); err != nil {
		// The tasks run, but hull cannot tell which is the init; once
		// killed, the init (this process's child) is reaped on exit.
		cg.Signal(unix.SIGKILL)
		return nil, err
	}
	c.Spec, c.rawSpec = b.Spec, b.Config
	c.removeRestoreHooksFiles()
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	return c, nil
}

// restoreFailed is the error of a restore whose criu failed: a hook's
// failure when one failed.
func (c *Container) restoreFailed(criuErr error) error {
	if _, hookErr := c.restoreHooksOutcome(); hookErr != nil {
		return fmt.Errorf("restore %s: %w (criu: %v)", c.ID, hookErr, criuErr)
	}
	return fmt.Errorf("restore %s: %w", c.ID, criuErr)
}

// validateRestore is create's validation, and what restore cannot do.
func validateRestore(b *oci.Bundle, o RestoreOpts) error {
	if err := checkpointable(b.Spec, o.Rootless); err != nil {
		return fmt.Errorf("%s: %w", b.ConfigPath(), err)
	}
	if err := errors.Join(validateRuntime(b.Spec, o.CreateOpts), validateNetDevices(b.Spec.Linux)); err != nil {
		return fmt.Errorf("%s: %w", b.ConfigPath(), err)
	}
	if !ownsNamespace(b.Spec, specs.MountNamespace) || !ownsNamespace(b.Spec, specs.PIDNamespace) {
		return fmt.Errorf("%s: linux.namespaces: restore needs a mount and a pid namespace of the container's own", b.ConfigPath())
	}
	if _, err := os.Stat(filepath.Join(o.ImagesDir, "inventory.img")); err != nil {
		return fmt.Errorf("--image-path %s: no checkpoint image there: %w", o.ImagesDir, err)
	}
	return makeCriuDirs(o.Options)
}

// joinedToRejoin lists the ipc and uts namespaces the config joins by
// path, as criu's --join-ns takes them: the restored tasks go back into
// them (a pod's infra container keeps them) rather than into copies.
func joinedToRejoin(spec *specs.Spec) []string {
	if spec.Linux == nil {
		return nil
	}
	var out []string
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" && (ns.Type == specs.IPCNamespace || ns.Type == specs.UTSNamespace) {
			out = append(out, string(ns.Type)+":"+ns.Path)
		}
	}
	return out
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
	path := namespacePath(spec, specs.NetworkNamespace)
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
