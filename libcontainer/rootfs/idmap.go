package rootfs

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountIdmapped clones the source tree detached, attaches an ID mapping to
// it and only then moves it onto the destination fd, so the container never
// sees the unmapped mount.
func (s *setupper) mountIdmapped(m specs.Mount, o mountOptions, dest int) error {
	uids, gids := m.UIDMappings, m.GIDMappings
	if len(uids) == 0 && len(gids) == 0 {
		uids, gids = s.c.UIDMappings, s.c.GIDMappings
	}
	if len(uids) == 0 || len(gids) == 0 {
		return fmt.Errorf("idmapped mount %s: no uidMappings/gidMappings on the mount or the container", m.Destination)
	}
	usernsFd, err := usernsFd(uids, gids)
	if err != nil {
		return fmt.Errorf("idmapped mount %s: %w", m.Destination, err)
	}
	defer unix.Close(usernsFd)

	treeFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		treeFlags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.Source, treeFlags)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", m.Source, err)
	}
	defer unix.Close(tree)
	setFlags := uint(unix.AT_EMPTY_PATH)
	if o.idmapRec {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(usernsFd)}
	if err := unix.MountSetattr(tree, "", setFlags, &attr); err != nil {
		return fmt.Errorf("idmap %s: mount_setattr: %w", m.Source, err)
	}
	if err := unix.MoveMount(tree, "", dest, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move idmapped %s onto %s: %w", m.Source, m.Destination, err)
	}
	return s.remountBind(m.Destination, o.flags)
}

// usernsFd returns an fd of a new user namespace with the given mappings.
// A process is needed to own the namespace; it is started traced so that it
// stops right at execve and never runs any code, then killed once the
// namespace is pinned by our fd.
func usernsFd(uids, gids []specs.LinuxIDMapping) (int, error) {
	attr := &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: toSyscall(uids),
		GidMappings: toSyscall(gids),
		Ptrace:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
	// ptrace ties the tracee to the tracing thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	pid, err := syscall.ForkExec(exe, []string{"hull-userns"}, &syscall.ProcAttr{Sys: attr})
	if err != nil {
		return -1, fmt.Errorf("spawn user namespace holder: %w", err)
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}()
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open user namespace of %d: %w", pid, err)
	}
	return fd, nil
}

func toSyscall(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}
