package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Finalize runs after Pivot, with "/" being the container's root.
func Finalize(c *Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.Close()
	t := &overlayTargets{r: r, proc: -1}
	defer t.close()
	for i, p := range c.ReadonlyPaths {
		if err := readonlyPath(t, p); err != nil {
			return fmt.Errorf("linux.readonlyPaths[%d]: %w", i, err)
		}
		t.covered(p)
	}
	if len(c.MaskedPaths) > 0 {
		if err := maskPaths(t, c.MaskedPaths); err != nil {
			return err
		}
	}
	if c.Readonly {
		// mount_setattr changes only the rdonly bit, so flags the kernel
		// locked (nosuid, nodev in a user namespace) are kept as they are.
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(r.fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fmt.Errorf("root.readonly: remount / read-only: %w", err)
		}
	}
	prop, _ := c.rootPropagation()
	if prop != 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %q: %w", c.Propagation, err)
		}
	}
	return nil
}

// overlayTargets resolves the paths Finalize covers with mounts. Paths
// below /proc are resolved from a /proc verified to be procfs, with no
// symlinks allowed, so a fake /proc or a symlink cannot send the mask to
// some other file while the real /proc/kcore stays visible. The verified
// /proc is opened once for all of them, and again only after a mount
// covered "/" or "/proc" itself (then "/proc" may name another mount).
type overlayTargets struct {
	r    *root
	proc int // verified /proc, or -1
}

func (t *overlayTargets) close() {
	if t.proc >= 0 {
		unix.Close(t.proc)
		t.proc = -1
	}
}

// covered is told that a mount now covers p.
func (t *overlayTargets) covered(p string) {
	if p = filepath.Clean(p); p == "/" || p == "/proc" {
		t.close()
	}
}

func (t *overlayTargets) verifiedProc() (int, error) {
	if t.proc >= 0 {
		return t.proc, nil
	}
	proc, err := t.r.open("/proc", unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		return -1, fmt.Errorf("/proc: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(proc, &st); err != nil {
		unix.Close(proc)
		return -1, fmt.Errorf("statfs /proc: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		unix.Close(proc)
		return -1, fmt.Errorf("refusing: /proc is not procfs (fs magic %#x)", st.Type)
	}
	t.proc = proc
	return proc, nil
}

// open resolves p, a path about to be covered by a mount. A missing path
// returns ENOENT, which callers skip like runc does: also below /proc,
// where the strict resolution's error counts only if p exists when
// symlinks are followed (the answer the path alone would give).
func (t *overlayTargets) open(p string) (int, error) {
	p = filepath.Clean(p)
	if p != "/proc" && !strings.HasPrefix(p, "/proc/") {
		return t.r.open(p, 0)
	}
	fd, err := t.strictProc(p)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	lfd, lerr := t.r.open(p, 0)
	if lerr != nil {
		return -1, lerr // missing: nothing to cover
	}
	unix.Close(lfd)
	return -1, err
}

func (t *overlayTargets) strictProc(p string) (int, error) {
	proc, err := t.verifiedProc()
	if err != nil {
		return -1, fmt.Errorf("%s: %w", p, err)
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "/proc"), "/")
	if rest == "" {
		return unix.Dup(proc)
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(proc, rest, &how)
	if errors.Is(err, unix.ENOENT) {
		// Every component before the missing one was no symlink, so
		// following symlinks would not find p either.
		return -1, err
	}
	if err != nil {
		return -1, fmt.Errorf("%s: resolve below procfs: %w", p, err)
	}
	return fd, nil
}

// readonlyPath covers p (and everything mounted below it) with a read-only
// recursive bind of itself. The clone is made read-only while still detached,
// so there is no moment where the new mount is writable.
func readonlyPath(t *overlayTargets, p string) error {
	fd, err := t.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("%s: clone: %w", p, err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("%s: set read-only: %w", p, err)
	}
	if err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("%s: attach read-only bind: %w", p, err)
	}
	return nil
}

// maskPaths hides each path: directories under an empty read-only tmpfs,
// anything else under a bind of the container's /dev/null, which is first
// verified to be the real null device (char 1:3) so an image cannot swap in
// a file of its own.
func maskPaths(t *overlayTargets, paths []string) error {
	null, err := t.r.open("/dev/null", 0)
	if err != nil {
		return fmt.Errorf("linux.maskedPaths: /dev/null: %w", err)
	}
	defer unix.Close(null)
	var st unix.Stat_t
	if err := unix.Fstat(null, &st); err != nil {
		return fmt.Errorf("linux.maskedPaths: stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return fmt.Errorf("linux.maskedPaths: /dev/null is not the null device (mode %#o, dev %d:%d)", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	for i, p := range paths {
		if err := maskPath(t, p, null); err != nil {
			return fmt.Errorf("linux.maskedPaths[%d]: %w", i, err)
		}
		t.covered(p)
	}
	return nil
}

func maskPath(t *overlayTargets, p string, null int) error {
	fd, err := t.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: stat: %w", p, err)
	}
	var mnt int
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		mnt, err = emptyTmpfs()
	} else {
		mnt, err = unix.OpenTree(null, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	}
	if err != nil {
		return fmt.Errorf("%s: make mask: %w", p, err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("%s: attach mask: %w", p, err)
	}
	return nil
}

// emptyTmpfs returns a detached, read-only, empty tmpfs mount.
func emptyTmpfs() (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("fsconfig create tmpfs: %w", err)
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}

func isDev(dest string) bool { return filepath.Clean(dest) == "/dev" }

// readonlyDev tells whether the container's /dev is a new filesystem (not a
// bind) asked to be read-only.
func readonlyDev(mounts []specs.Mount) bool {
	ro := false
	for _, m := range mounts {
		if !isDev(m.Destination) {
			continue
		}
		o, err := parseOptions(m.Options)
		ro = err == nil && !isBind(m.Type, o) && o.flags&unix.MS_RDONLY != 0
	}
	return ro
}

// ReadonlyDev makes a read-only /dev read-only, once everything that goes
// into it is there (devices, links, the devpts, shm and mqueue mount points
// and, after Finalize, /dev/console); its submounts stay as they are. It
// runs after Pivot. mountFS mounted it writable.
func ReadonlyDev(c *Config) error {
	if !readonlyDev(c.Mounts) {
		return nil
	}
	fd, err := unix.Open("/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("remount /dev read-only: %w", err)
	}
	return nil
}
