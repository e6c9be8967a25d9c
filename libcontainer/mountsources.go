package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/rootfs"
	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/oci"
)

// needsMountSources: a container with a user namespace of its own cannot
// reach every bind source itself (a directory only the host's root may
// enter), so a privileged parent opens them for it, as runc does; and an
// idmap mount's source is mapped by the parent, whose privilege over the
// source's filesystem an init in a user namespace lacks (runc does that
// in its parent too).
func needsMountSources(spec *specs.Spec) bool {
	// An unprivileged caller may not enter the container's mount namespace,
	// and needs not: the init, root of a namespace mapping the caller's own
	// ids, reaches every source the caller could.
	if os.Geteuid() != 0 || !ownsNamespace(spec, specs.MountNamespace) {
		return false
	}
	ownUserNS := ownsNamespace(spec, specs.UserNamespace)
	for _, m := range spec.Mounts {
		if isIdmapped(m) || ownUserNS && oci.IsBind(m) {
			return true
		}
	}
	return false
}

// isIdmapped: mount m asks for an ID-mapped mount.
func isIdmapped(m specs.Mount) bool {
	return len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 || hasOption(m.Options, "idmap", "ridmap")
}

// mountSources are what the parent prepares for the init's mounts, by
// mount index: O_PATH fds of bind sources, ID-mapped source trees.
type mountSources struct {
	paths, trees map[int]int
}

// openMountSources prepares spec's mount sources with the parent's
// credentials but in the mount namespace of the init pid: a bind mount's
// source must be a mount of the binder's own namespace. The work is done
// on a thread of its own that leaves hull's filesystem context (CLONE_FS,
// which setns into a mount namespace requires) and dies with its
// goroutine, so no other goroutine ever runs in the container's namespace.
// A bind source that cannot be opened gets no fd (the init then reports
// it); an idmap mount that cannot be prepared fails the create here.
func openMountSources(pid int, spec *specs.Spec) (*mountSources, error) {
	userns, err := idmapUserns(pid, spec)
	defer closeAll(userns)
	if err != nil {
		return nil, err
	}
	type result struct {
		src *mountSources
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		src, err := openInNamespace(pid, spec, userns)
		ch <- result{src, err}
	}()
	r := <-ch
	return r.src, r.err
}

// idmapUserns opens, by mount index, the user namespace each idmap mount
// maps through: one made with the mount's own mappings, else the init's
// (the container's mappings). Done before entering the init's mount
// namespace: the namespace's holder process is exec'd and its maps written
// through hull's own /proc.
func idmapUserns(pid int, spec *specs.Spec) (map[int]int, error) {
	fds := map[int]int{}
	for i, m := range spec.Mounts {
		if !isIdmapped(m) {
			continue
		}
		var fd int
		var err error
		switch {
		case len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0:
			fd, err = rootfs.NewUserns(m.UIDMappings, m.GIDMappings)
		case hasNamespace(spec, specs.UserNamespace):
			fd, err = unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		default:
			err = errors.New("no uidMappings/gidMappings on the mount, and the container has no user namespace to map through")
		}
		if err != nil {
			return fds, fmt.Errorf("mounts[%d] (%s): idmap: %w", i, m.Destination, err)
		}
		fds[i] = fd
	}
	return fds, nil
}

func openInNamespace(pid int, spec *specs.Spec, userns map[int]int) (*mountSources, error) {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, fmt.Errorf("open bind sources: unshare CLONE_FS: %w", err)
	}
	ns, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open bind sources: %w", err)
	}
	defer unix.Close(ns)
	if err := unix.Setns(ns, unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("open bind sources: enter the container's mount namespace: %w", err)
	}
	src := &mountSources{paths: map[int]int{}, trees: map[int]int{}}
	ownUserNS := ownsNamespace(spec, specs.UserNamespace)
	for i, m := range spec.Mounts {
		if usernsFd, ok := userns[i]; ok {
			tree, err := rootfs.IdmappedTree(m, usernsFd)
			if err != nil {
				src.close()
				return nil, fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
			}
			src.trees[i] = tree
			continue
		}
		if !ownUserNS || !oci.IsBind(m) {
			continue
		}
		if fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
			src.paths[i] = fd
		}
	}
	return src, nil
}

func (s *mountSources) close() {
	closeAll(s.paths)
	closeAll(s.trees)
}

func closeAll(fds map[int]int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// send sends each fd as its own message, then closes it.
func (s *mountSources) send(sock *os.File) error {
	var errs []error
	for _, set := range []struct {
		typ byte
		fds map[int]int
	}{{wire.MsgMountSource, s.paths}, {wire.MsgIdmapTree, s.trees}} {
		for i, fd := range set.fds {
			if err := wire.WriteFds(sock, set.typ, []byte(strconv.Itoa(i)), fd); err != nil {
				errs = append(errs, fmt.Errorf("send the source of mounts[%d]: %w", i, err))
			}
			unix.Close(fd)
		}
	}
	return errors.Join(errs...)
}

// withMountSources returns mounts with each source the parent opened
// replaced by the init's fd of it (/proc/self/fd/N: mount(2) and open_tree
// follow it without looking at the path's directories again).
func withMountSources(mounts []specs.Mount, fds map[int]int) []specs.Mount {
	if len(fds) == 0 {
		return mounts
	}
	out := append([]specs.Mount(nil), mounts...)
	for i, fd := range fds {
		if i >= 0 && i < len(out) {
			out[i].Source = "/proc/self/fd/" + strconv.Itoa(fd)
		}
	}
	return out
}
