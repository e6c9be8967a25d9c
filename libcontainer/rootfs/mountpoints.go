package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Mountpoint is a path inside a rootfs where a mount goes: a directory,
// or an empty file for a bind mount of a file. Strict refuses a symlink
// on the way, as the mounts of proc and sysfs do (mountFS).
type Mountpoint struct {
	Path   string
	Dir    bool
	Strict bool
}

// MakeMountpoints makes in the rootfs at path each mount point that is
// missing, with its parents, resolving every path inside the rootfs (a
// symlink on the way cannot lead out of it); what exists is left as it is.
// A restore needs them before criu mounts anything (a checkpoint restored
// into a fresh copy of the image lacks the ones create made).
func MakeMountpoints(path string, points []Mountpoint) error {
	r, err := openRoot(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, p := range points {
		fd, err := r.ensure(p.Path, p.Dir, p.Strict)
		if err != nil {
			return fmt.Errorf("mount point %s: %w", p.Path, err)
		}
		unix.Close(fd)
	}
	return nil
}
