package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Prepare builds the container's filesystem under c.Rootfs. It must run in
// the container's own mount namespace, before Pivot. See doc.go for the order.
func Prepare(c *Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	prop, _ := c.rootPropagation()
	if prop == 0 || prop&unix.MS_UNBINDABLE != 0 {
		// Unbindable would forbid binding the rootfs below: Finalize
		// applies it once the rootfs is the root.
		prop = unix.MS_SLAVE | unix.MS_REC
	}
	// First, so that nothing below can propagate back to the host.
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set propagation of / to %#x: %w", prop, err)
	}
	if mayLeaveShared(prop) {
		if err := makeParentPrivate(c.Rootfs, c.procFile("mountinfo")); err != nil {
			return err
		}
	}
	if err := unix.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", c.Rootfs, err)
	}
	if c.Readonly {
		if err := readonlyBelowRoot(c.Rootfs); err != nil {
			return err
		}
	}
	if err := checkProcfs("/proc/self/fd"); err != nil {
		return fmt.Errorf("cannot mount through fds: %w", err)
	}
	r, err := openRoot(c.Rootfs)
	if err != nil {
		return err
	}
	defer r.Close()
	s := &setupper{c: c, root: r}
	for i, m := range c.Mounts {
		if err := s.mountOne(m, c.IdmappedTrees[i]); err != nil {
			var oe *OptionError
			if errors.As(err, &oe) {
				return fmt.Errorf("mounts[%d].options %q: %w", i, oe.Option, err)
			}
			return fmt.Errorf("mounts[%d]: %w", i, err)
		}
	}
	return s.setupDev()
}

// mayLeaveShared tells whether, after "/" got propagation prop, a mount of
// the namespace can still be shared. A recursive slave or private leaves
// none (a shared mount made a slave, of a peer group of one, becomes
// private): then makeParentPrivate has nothing to find, and its mountinfo
// read (a third of a millisecond here) is skipped.
func mayLeaveShared(prop uintptr) bool {
	return prop != unix.MS_SLAVE|unix.MS_REC && prop != unix.MS_PRIVATE|unix.MS_REC
}

// makeParentPrivate: pivot_root(2) fails with EINVAL when the mount holding
// the new root is shared, which is the case when rootfsPropagation asked for
// shared; runc makes just that mount private.
func makeParentPrivate(rootfs, mountinfo string) error {
	rootfs = filepath.Clean(rootfs)
	mounts, err := readMountinfo(mountinfo)
	if err != nil {
		return err
	}
	var best *mountEntry
	for i := range mounts {
		mp := mounts[i].mountpoint
		if mp == rootfs || mp == "/" || strings.HasPrefix(rootfs, strings.TrimSuffix(mp, "/")+"/") {
			if best == nil || len(mp) >= len(best.mountpoint) {
				best = &mounts[i]
			}
		}
	}
	if best == nil || !strings.Contains(best.optional, "shared:") {
		return nil
	}
	if err := unix.Mount("", best.mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s (parent mount of rootfs) private: %w", best.mountpoint, err)
	}
	return nil
}

// Pivot makes c.Rootfs the root of the mount namespace and chdirs to "/".
func Pivot(c *Config) error {
	if c.NoPivot {
		return moveRoot(c.Rootfs, c.procFile("mountinfo"))
	}
	return pivotRoot(c.Rootfs)
}

// pivotRoot stacks the old root under the new one with pivot_root(".", ".")
// (no put_old directory is needed inside the container), then detaches it.
// The old root is made rslave first so the detach does not propagate to the
// host's mounts.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", rootfs, err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is --no-pivot: for roots where pivot_root is impossible (e.g. a
// ramfs initramfs). The old root stays in the mount namespace, below the
// chroot. The kernel lets a user namespace mount a fresh proc or sysfs only
// if a fully visible one already exists in the mount namespace, and a host
// /proc kept below the chroot would be one: so, as runc does, every full
// proc and sysfs mount outside the rootfs is detached (or covered with a
// tmpfs where it cannot be) before the move.
func moveRoot(rootfs, mountinfo string) error {
	mounts, err := readMountinfo(mountinfo)
	if err != nil {
		return err
	}
	for _, mp := range revealingMounts(mounts, rootfs) {
		if err := hideMount(mp); err != nil {
			return err
		}
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// revealingMounts lists the mount points of full (root "/") proc and sysfs
// mounts outside rootfs: what would let a user namespace in the container
// mount its own unmasked proc or sysfs.
func revealingMounts(mounts []mountEntry, rootfs string) []string {
	rootfs = filepath.Clean(rootfs)
	var out []string
	for _, m := range mounts {
		if m.root != "/" || (m.fstype != "proc" && m.fstype != "sysfs") {
			continue
		}
		if m.mountpoint == rootfs || strings.HasPrefix(m.mountpoint, rootfs+"/") {
			continue
		}
		out = append(out, m.mountpoint)
	}
	return out
}

// hideMount detaches the mount at mp without the detach reaching the host,
// or covers it with an empty tmpfs where detaching is not permitted.
func hideMount(mp string) error {
	if err := unix.Mount("", mp, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // under a mount detached before it
		}
		return fmt.Errorf("make %s rslave: %w", mp, err)
	}
	err := unix.Unmount(mp, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("detach %s: %w", mp, err)
	}
	if err := unix.Mount("tmpfs", mp, "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("cover %s with a tmpfs: %w", mp, err)
	}
	return nil
}

// readonlyBelowRoot makes the mounts the recursive bind brought along from
// under the rootfs directory read-only, before any of the spec's is made:
// root.readonly is the container's root filesystem, and a host mount
// below the rootfs (an nspawn machine's /srv, bound there by the admin)
// stayed writable under a root that Finalize makes read-only alone, as
// runc leaves it; nspawn's ReadOnly= makes the whole tree read-only. The
// root itself stays writable until Finalize, for the mount points still
// to be made, unless it was read-only already.
func readonlyBelowRoot(rootfs string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(rootfs, &st); err != nil {
		return fmt.Errorf("statfs rootfs %s: %w", rootfs, err)
	}
	all := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(unix.AT_FDCWD, rootfs, unix.AT_RECURSIVE, &all)
	if errors.Is(err, unix.ENOSYS) {
		return nil // before Linux 5.12: the root alone, at Finalize
	}
	if err != nil {
		return fmt.Errorf("make the mounts below rootfs %s read-only: %w", rootfs, err)
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return nil
	}
	top := unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, rootfs, 0, &top); err != nil {
		return fmt.Errorf("rootfs %s: keep it writable until its mounts are made: %w", rootfs, err)
	}
	return nil
}
