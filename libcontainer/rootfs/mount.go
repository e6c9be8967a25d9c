package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupper carries the state of one Prepare call.
type setupper struct {
	c    *Config
	root *root
}

// mountOne performs spec mount m. Every destination is resolved inside the
// root to an fd, and the mount is made onto that fd, so nothing the
// container controls (symlinks, renames) can move it elsewhere.
// idmapTree, when > 0, is the parent's ID-mapped copy of an idmap mount's
// source (Config.IdmappedTrees).
func (s *setupper) mountOne(m specs.Mount, idmapTree int) error {
	o, err := parseOptions(m.Options)
	if err != nil {
		return err
	}
	o.idmapTree = idmapTree
	// Mappings on a mount make it ID-mapped with or without the option,
	// as runc takes them (and as hull create mapped it).
	o.idmap = o.idmap || idmapTree > 0 || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
	if isDev(m.Destination) && !isBind(m.Type, o) {
		// Devices, links and mount points are made in it yet: ReadonlyDev
		// makes it read-only at the end, as runc does.
		o.flags &^= unix.MS_RDONLY
	}
	if m.Type == "rbind" {
		o.flags |= unix.MS_BIND | unix.MS_REC
	}
	if o.copySymlink && isBind(m.Type, o) {
		if st, err := os.Lstat(m.Source); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return s.copySymlink(m)
		}
	}
	switch {
	case isBind(m.Type, o):
		return s.mountBind(m, o) // its flags and attributes too, on the new mount's fd
	case m.Type == "cgroup" || m.Type == "cgroup2":
		err = s.mountCgroup(m, o)
	default:
		err = s.mountFS(m, o)
	}
	if err != nil {
		return err
	}
	return s.applyAfter(m.Destination, o)
}

// mountFS mounts a new filesystem instance. proc and sysfs must not be
// redirected through a symlink (CVE-2019-19921): a /proc landing anywhere but
// /proc would leave it unmasked, so their destinations reject symlinks.
func (s *setupper) mountFS(m specs.Mount, o mountOptions) error {
	strict := m.Type == "proc" || m.Type == "sysfs"
	// runc gives a tmpfs the covered directory's mode only where one was
	// there: a directory made for the mount keeps the tmpfs's mode= option.
	existed := false
	// Opened only where it decides something: the usual tmpfs mounts
	// (/dev, /dev/shm) name their mode.
	if m.Type == "tmpfs" && (o.tmpcopyup || !hasMode(o)) {
		if pre, err := s.root.open(m.Destination, 0); err == nil {
			o = withCoveredMode(o, pre)
			unix.Close(pre)
			existed = true
		}
	}
	fd, err := s.root.ensure(m.Destination, true, strict)
	if err != nil {
		return fmt.Errorf("mount %s on %s: destination: %w", m.Type, m.Destination, err)
	}
	defer unix.Close(fd)
	if err := s.checkProcDest(fd, m, false); err != nil {
		return err
	}
	if strict {
		if err := requireDir(fd, m.Destination); err != nil {
			return fmt.Errorf("mount %s: %w", m.Type, err)
		}
	}
	if o.tmpcopyup {
		return s.mountTmpfsCopyUp(m, o, fd, existed)
	}
	if m.Type == "proc" && s.c.PidNS > 0 {
		return mountProcOf(s.c.PidNS, m, o, fd)
	}
	return mountNew(m, o, o.flags, fd)
}

// hasMode: the mount's data names a mode.
func hasMode(o mountOptions) bool {
	return slices.ContainsFunc(o.data, func(d string) bool { return strings.HasPrefix(d, "mode=") })
}

// withCoveredMode gives a tmpfs the mode of the directory it covers
// unless its options name one, as runc does: Docker's --tmpfs /run keeps
// the image's 0755 rather than becoming tmpfs's world-writable 1777.
func withCoveredMode(o mountOptions, dir int) mountOptions {
	if hasMode(o) {
		return o
	}
	var st unix.Stat_t
	if unix.Fstat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return o
	}
	o.data = append([]string{fmt.Sprintf("mode=%04o", st.Mode&0o7777)}, o.data...)
	return o
}

// mountNew mounts a new instance of m's filesystem on the directory fd.
func mountNew(m specs.Mount, o mountOptions, flags uintptr, fd int) error {
	src := m.Source
	if src == "" {
		src = m.Type
	}
	if err := unix.Mount(src, fdPath(fd), m.Type, flags, o.dataString()); err != nil {
		return mountError(m, o, err)
	}
	return nil
}

// mountTmpfsCopyUp is tmpcopyup: the new tmpfs starts with a copy of the
// directory it covers (podman asks for it on every tmpfs, so that e.g. a
// tmpfs /etc/ssl keeps the image's certificates). The covered directory
// stays readable through an fd opened before the mount; the copy is made
// read-write and the mount turned read-only afterwards if asked.
func (s *setupper) mountTmpfsCopyUp(m specs.Mount, o mountOptions, fd int, keepMode bool) error {
	if m.Type != "tmpfs" {
		return fmt.Errorf("mount %s on %s: option tmpcopyup is only for tmpfs", m.Type, m.Destination)
	}
	covered, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup %s: open the directory to copy: %w", m.Destination, err)
	}
	defer unix.Close(covered)
	if err := mountNew(m, o, o.flags&^unix.MS_RDONLY, fd); err != nil {
		return err
	}
	// Resolved again: fd still names the covered directory.
	top, err := s.openNewTmpfs(m.Destination)
	if err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", m.Destination, err)
	}
	defer unix.Close(top)
	dir, err := unix.Openat(top, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup %s: open the new tmpfs: %w", m.Destination, err)
	}
	defer unix.Close(dir)
	if err := copyUp(covered, dir, keepMode); err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", m.Destination, err)
	}
	if o.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return remountFd(top, m.Destination, o.flags)
}

// mountBind bind-mounts a host path: a detached copy of the source (or
// its ID-mapped copy) is moved onto the destination's fd, and its flags
// (ro, nosuid, ...: a bind takes none but MS_REC at mount time), recursive
// attributes and propagation are then set through the copy's own fd. Never
// through the destination's path again: a process that can rename a
// directory on that path (a shared volume) would otherwise send the flags
// to another mount and leave a host directory writable.
func (s *setupper) mountBind(m specs.Mount, o mountOptions) error {
	source := m.Source
	if o.idmap && o.idmapTree > 0 {
		source = fdPath(o.idmapTree) // the init may not reach m.Source itself
	}
	st, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("bind mount %s: source: %w", m.Destination, err)
	}
	fd, err := s.root.ensure(m.Destination, st.IsDir(), false)
	if err != nil {
		return fmt.Errorf("bind mount %s on %s: destination: %w", m.Source, m.Destination, err)
	}
	defer unix.Close(fd)
	if err := s.checkProcDest(fd, m, true); err != nil {
		return err
	}
	tree, err := s.bindTree(m, o)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", m.Source, m.Destination, err)
	}
	if o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 {
		if err := remountFd(tree, m.Destination, o.flags); err != nil {
			return err
		}
	}
	return applyAttrs(tree, m.Destination, o)
}

// bindTree is a detached copy of m's source tree (recursive for rbind):
// the ID-mapped one for an idmap mount.
func (s *setupper) bindTree(m specs.Mount, o mountOptions) (int, error) {
	if o.idmap {
		tree, err := s.idmappedTreeFor(m, o)
		if err != nil {
			return -1, fmt.Errorf("idmapped mount %s: %w", m.Destination, err)
		}
		return tree, nil
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.Source, flags)
	if err != nil {
		return -1, fmt.Errorf("bind mount %s on %s: %w", m.Source, m.Destination, err)
	}
	return tree, nil
}

// remountFd applies per-mount flags to the fresh mount fd leads to (at
// dest). In a user namespace the kernel locks flags such as
// nosuid/nodev/noexec/ro inherited from the source; dropping them is EPERM,
// so on EPERM we keep them and retry.
func remountFd(fd int, dest string, flags uintptr) error {
	flags &^= unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT
	err := unix.Mount("", fdPath(fd), "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
	if errors.Is(err, unix.EPERM) {
		var st unix.Statfs_t
		if serr := unix.Fstatfs(fd, &st); serr == nil {
			flags |= lockedFlags(st.Flags)
			err = unix.Mount("", fdPath(fd), "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
		}
	}
	if err != nil {
		return fmt.Errorf("remount bind %s with flags %#x: %w", dest, flags, err)
	}
	return nil
}

// statfs f_flags bits (ST_*), which differ from MS_* for the atime ones.
const (
	stRdonly     = 0x1
	stNosuid     = 0x2
	stNodev      = 0x4
	stNoexec     = 0x8
	stNoatime    = 0x400
	stNodiratime = 0x800
	stRelatime   = 0x1000
)

func lockedFlags(st int64) uintptr {
	var f uintptr
	for _, p := range []struct {
		st int64
		ms uintptr
	}{
		{stRdonly, unix.MS_RDONLY}, {stNosuid, unix.MS_NOSUID}, {stNodev, unix.MS_NODEV},
		{stNoexec, unix.MS_NOEXEC}, {stNoatime, unix.MS_NOATIME}, {stNodiratime, unix.MS_NODIRATIME},
		{stRelatime, unix.MS_RELATIME},
	} {
		if st&p.st != 0 {
			f |= p.ms
		}
	}
	return f
}

// applyAfter sets recursive attributes and propagation once a new
// filesystem's mount exists; the destination is re-resolved because the old
// fd names the covered dir (binds use their copy's fd instead: mountBind).
func (s *setupper) applyAfter(dest string, o mountOptions) error {
	if !o.recursive && len(o.propagation) == 0 {
		return nil
	}
	fd, err := s.root.open(dest, 0)
	if err != nil {
		return fmt.Errorf("mount %s: reopen: %w", dest, err)
	}
	defer unix.Close(fd)
	return applyAttrs(fd, dest, o)
}

// applyAttrs sets o's recursive attributes and propagation on the mount fd
// leads to (at dest).
func applyAttrs(fd int, dest string, o mountOptions) error {
	if o.recursive {
		attr := o.attr
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("mount_setattr %s (set %#x clear %#x): %w", dest, attr.Attr_set, attr.Attr_clr, err)
		}
	}
	for _, p := range o.propagation {
		if err := unix.Mount("", fdPath(fd), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %#x on %s: %w", p, dest, err)
		}
	}
	return nil
}

func requireDir(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("destination %s is not a directory", name)
	}
	return nil
}

// copySymlink is crun's copy-symlink: a bind mount whose source is a
// symlink (e.g. the host's /etc/localtime) makes the same symlink at the
// destination instead of binding what it points to. An existing symlink
// with the same target is fine; anything else there is an error.
func (s *setupper) copySymlink(m specs.Mount) error {
	target, err := os.Readlink(m.Source)
	if err != nil {
		return fmt.Errorf("copy-symlink %s: %w", m.Source, err)
	}
	parent, err := s.root.ensure(filepath.Dir(filepath.Clean("/"+m.Destination)), true, false)
	if err != nil {
		return fmt.Errorf("copy-symlink %s: destination's directory: %w", m.Destination, err)
	}
	defer unix.Close(parent)
	name := filepath.Base(filepath.Clean("/" + m.Destination))
	err = unix.Symlinkat(target, parent, name)
	if errors.Is(err, unix.EEXIST) {
		if cur, rerr := readlinkat(parent, name); rerr == nil && cur == target {
			return nil
		}
		return fmt.Errorf("copy-symlink %s: %s already exists and is not a symlink to %q", m.Source, m.Destination, target)
	}
	if err != nil {
		return fmt.Errorf("copy-symlink %s: symlink %s -> %q: %w", m.Source, m.Destination, target, err)
	}
	return nil
}

// openNewTmpfs opens dest, where a tmpfs was just mounted, and checks that
// the path still leads to a tmpfs: what is made below it is then made
// relative to that fd, in a filesystem that holds nothing else.
func (s *setupper) openNewTmpfs(dest string) (int, error) {
	top, err := s.root.open(dest, 0)
	if err != nil {
		return -1, fmt.Errorf("open the new tmpfs: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(top, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		unix.Close(top)
		return -1, fmt.Errorf("the path no longer leads to the new tmpfs (%v)", err)
	}
	return top, nil
}
