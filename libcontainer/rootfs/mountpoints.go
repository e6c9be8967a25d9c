package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Mountpoint is a path where a mount goes: a directory, or an empty file
// for a bind mount of a file. Path is resolved inside Root, the rootfs or,
// for a mount nested in a bind mount, that bind's source. Strict refuses a
// symlink on the way, as the mounts of proc and sysfs do (mountFS).
type Mountpoint struct {
	Root   string
	Path   string
	Dir    bool
	Strict bool
}

// MakeMountpoints makes each mount point that is missing, with its
// parents, resolving every path inside its root (a symlink on the way
// cannot lead out of it); what exists is left as it is. A restore needs
// them before criu mounts anything (a checkpoint restored into a fresh
// copy of the image, or with a fresh volume, lacks the ones create made).
func MakeMountpoints(points []Mountpoint) error {
	roots := map[string]*root{} // each root opened once: most points share the rootfs
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	for _, p := range points {
		r := roots[p.Root]
		if r == nil {
			var err error
			if r, err = openRoot(p.Root); err != nil {
				return fmt.Errorf("mount point %s: %w", p.Path, err)
			}
			roots[p.Root] = r
		}
		fd, err := r.ensure(p.Path, p.Dir, p.Strict)
		if err != nil {
			return fmt.Errorf("mount point %s in %s: %w", p.Path, p.Root, err)
		}
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("mount point %s in %s: %w", p.Path, p.Root, err)
		}
	}
	return nil
}

// MakeWorkdir creates dir, the process's working directory, inside the
// calling thread's root where it is missing, as runc does for an image's
// WORKDIR. Every component is resolved inside the root and no magic link
// is followed: until the init's own working directory moves into the
// container, /proc/1/cwd there still leads to the host's tree, and a
// WORKDIR through it would have hull make directories on the host. A path
// that exists, or that does not resolve for another reason than a missing
// component (a magic link, a loop, a file on the way), is left alone for
// the working directory check to report.
func MakeWorkdir(dir string) error {
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.Close()
	fd, err := r.open(dir, 0)
	if err == nil {
		return unix.Close(fd)
	}
	if !errors.Is(err, unix.ENOENT) {
		return nil
	}
	if fd, err = r.ensure(dir, true, false); err != nil {
		return err
	}
	return unix.Close(fd)
}
