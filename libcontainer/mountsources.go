package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/oci"
)

// needsMountSources: a container with a user namespace of its own cannot
// reach every bind source itself (a directory only the host's root may
// enter), so a privileged parent opens them for it, as runc does.
func needsMountSources(spec *specs.Spec) bool {
	if !ownsNamespace(spec, specs.UserNamespace) || !ownsNamespace(spec, specs.MountNamespace) {
		return false
	}
	// An unprivileged caller may not enter the container's mount namespace,
	// and needs not: the init, root of a namespace mapping the caller's own
	// ids, reaches every source the caller could.
	if os.Geteuid() != 0 {
		return false
	}
	for _, m := range spec.Mounts {
		if oci.IsBind(m) {
			return true
		}
	}
	return false
}

// openMountSources opens (O_PATH) the source of every bind mount of spec,
// with the parent's credentials but in the mount namespace of the init pid:
// a bind mount's source must be a mount of the binder's own namespace. The
// work is done on a thread of its own that leaves hull's filesystem context
// (CLONE_FS, which setns into a mount namespace requires) and dies with its
// goroutine, so no other goroutine ever runs in the container's namespace.
// A source that cannot be opened gets no fd: the init then reports it.
func openMountSources(pid int, mounts []specs.Mount) (map[int]int, error) {
	type result struct {
		fds map[int]int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fds, err := openInNamespace(pid, mounts)
		ch <- result{fds, err}
	}()
	r := <-ch
	return r.fds, r.err
}

func openInNamespace(pid int, mounts []specs.Mount) (map[int]int, error) {
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
	fds := map[int]int{}
	for i, m := range mounts {
		if !oci.IsBind(m) {
			continue
		}
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			fds[i] = fd
		}
	}
	return fds, nil
}

// sendMountSources sends each fd as its own message, then closes it.
func sendMountSources(sock *os.File, fds map[int]int) error {
	var errs []error
	for i, fd := range fds {
		if err := wire.WriteFds(sock, wire.MsgMountSource, []byte(strconv.Itoa(i)), fd); err != nil {
			errs = append(errs, fmt.Errorf("send the source of mounts[%d]: %w", i, err))
		}
		unix.Close(fd)
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
