package rootfs

import (
	"fmt"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// idmappedTreeFor is the detached, ID-mapped copy of m's source tree that
// mountBind moves onto the destination, so the container never sees the
// unmapped mount. The copy is the parent's when it made one (o.idmapTree,
// the usual case: hull create runs as the host's root; it is taken over
// here); else it is made here, which works where this process is
// privileged over the source's filesystem.
func (s *setupper) idmappedTreeFor(m specs.Mount, o mountOptions) (int, error) {
	if o.idmapTree > 0 {
		return o.idmapTree, nil
	}
	uids, gids := m.UIDMappings, m.GIDMappings
	if len(uids) == 0 && len(gids) == 0 {
		uids, gids = s.c.UIDMappings, s.c.GIDMappings
	}
	userns, err := NewUserns(uids, gids)
	if err != nil {
		return -1, err
	}
	defer unix.Close(userns)
	return idmappedTree(m.Source, o, userns)
}

// IdmappedTree returns an fd of a detached copy of mount m's source tree
// (recursive for rbind), ID-mapped through the user namespace usernsFd
// (recursively for ridmap), for an init to move onto m's destination.
func IdmappedTree(m specs.Mount, usernsFd int) (int, error) {
	o, err := parseOptions(m.Options)
	if err != nil {
		return -1, err
	}
	if m.Type == "rbind" {
		o.flags |= unix.MS_REC
	}
	return idmappedTree(m.Source, o, usernsFd)
}

func idmappedTree(source string, o mountOptions, usernsFd int) (int, error) {
	treeFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		treeFlags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, source, treeFlags)
	if err != nil {
		return -1, fmt.Errorf("open_tree %s: %w", source, err)
	}
	setFlags := uint(unix.AT_EMPTY_PATH)
	if o.idmapRec {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(usernsFd)}
	if err := unix.MountSetattr(tree, "", setFlags, &attr); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("idmap %s: mount_setattr: %w", source, err)
	}
	return tree, nil
}

// NewUserns returns an fd of a new user namespace with the given mappings.
// A process is needed to own the namespace: it is started traced, so it
// stops right at its execve and never runs any code, and is killed once
// the namespace is pinned by the fd. It execs /proc/self/exe, which exists
// whatever the mount namespace holds at this path. The caller's /proc must
// belong to its pid namespace: the child's maps are written through it.
func NewUserns(uids, gids []specs.LinuxIDMapping) (int, error) {
	if len(uids) == 0 || len(gids) == 0 {
		return -1, fmt.Errorf("no uidMappings/gidMappings on the mount or the container")
	}
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
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"hull-userns"}, &syscall.ProcAttr{Sys: attr})
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
