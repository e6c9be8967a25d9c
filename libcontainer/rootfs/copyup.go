package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// copier copies a directory tree between two open directories with *at
// calls only: every name comes from readdir (one component, no slash) and
// nothing is followed, so a symlink in the image cannot send the copy out
// of the container's root.
type copier struct {
	dstRoot int                  // the new tmpfs's root, for hard links
	links   map[[2]uint64]string // (dev, ino) of a multiply linked file -> its copy, relative to dstRoot
}

// copyUp fills the directory dst with the content of src: files, their
// owners, modes, times and extended attributes, symlinks, device nodes,
// fifos, sockets and hard links. With keepMode (src was in the image, not
// made for the mount) dst takes src's mode over the tmpfs's mode= option;
// it keeps the owner its uid=/gid= options gave it: what runc does.
func copyUp(src, dst int, keepMode bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	c := &copier{dstRoot: dst, links: map[[2]uint64]string{}}
	if err := c.copyDir(src, dst, ""); err != nil {
		return err
	}
	if !keepMode {
		return nil
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod %#o: %w", st.Mode&0o7777, err)
	}
	return nil
}

func (c *copier) copyDir(src, dst int, rel string) error {
	names, err := readNames(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", displayPath(rel), err)
	}
	for _, name := range names {
		if err := c.copyEntry(src, dst, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory through a duplicate of its fd, so that
// closing the listing leaves src open.
func readNames(dir int) ([]string, error) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

func (c *copier) copyEntry(src, dst int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", displayPath(rel), err)
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = c.copySubdir(src, dst, name, rel, &st)
	case unix.S_IFREG:
		err = c.copyFile(src, dst, name, rel, &st)
	case unix.S_IFLNK:
		err = copySymlinkAt(src, dst, name, &st)
	default: // devices, fifos, sockets
		err = copyNode(src, dst, name, &st)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", displayPath(rel), err)
	}
	return nil
}

func (c *copier) copySubdir(src, dst int, name, rel string, st *unix.Stat_t) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(src, name, flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, name, flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	if err := c.copyDir(s, d, rel); err != nil {
		return err
	}
	// Owner, mode and times last: a read-only mode would stop the copy
	// into it, and the copy changes the directory's mtime.
	return copyMeta(s, d, st)
}

func (c *copier) copyFile(src, dst int, name, rel string, st *unix.Stat_t) error {
	key := [2]uint64{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return unix.Linkat(c.dstRoot, first, dst, name, 0)
		}
	}
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sf := os.NewFile(uintptr(s), name)
	defer sf.Close()
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	df := os.NewFile(uintptr(d), name)
	defer df.Close()
	if _, err := io.Copy(df, sf); err != nil {
		return err
	}
	if err := copyMeta(s, d, st); err != nil {
		return err
	}
	if st.Nlink > 1 {
		c.links[key] = rel
	}
	return nil
}

// copyMeta gives dst src's owner, mode, extended attributes and times.
// chown comes first: it clears set-id bits and file capabilities.
func copyMeta(src, dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %d:%d: %w", st.Uid, st.Gid, err)
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod %#o: %w", st.Mode&0o7777, err)
	}
	if err := copyXattrs(fdPath(src), fdPath(dst), false); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, fdPath(dst), ts, 0)
}

func copySymlinkAt(src, dst int, name string, st *unix.Stat_t) error {
	target, err := readlinkat(src, name)
	if err != nil {
		return err
	}
	if err := unix.Symlinkat(target, dst, name); err != nil {
		return err
	}
	return nodeMeta(src, dst, name, st, true)
}

func copyNode(src, dst int, name string, st *unix.Stat_t) error {
	if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
		return err
	}
	return nodeMeta(src, dst, name, st, false)
}

// nodeMeta is copyMeta for entries that cannot be opened (symlinks) or
// should not be (devices, fifos): named relative to their directory's fd,
// never followed.
func nodeMeta(src, dst int, name string, st *unix.Stat_t, link bool) error {
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", st.Uid, st.Gid, err)
	}
	if !link {
		if err := unix.Fchmodat(dst, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod %#o: %w", st.Mode&0o7777, err)
		}
	}
	// The parent's fd path plus one component: the l*xattr calls do not
	// follow that last component.
	if err := copyXattrs(fdPath(src)+"/"+name, fdPath(dst)+"/"+name, true); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// copyXattrs copies every extended attribute. One the new tmpfs cannot hold
// (no user.* before Linux 6.6) or that needs a privilege a user namespace
// lacks (trusted.*) is skipped, as runc, which copies none, would lose it.
func copyXattrs(src, dst string, nofollow bool) error {
	list, get, set := unix.Listxattr, unix.Getxattr, unix.Setxattr
	if nofollow {
		list, get, set = unix.Llistxattr, unix.Lgetxattr, unix.Lsetxattr
	}
	names, err := xattrNames(src, list)
	if err != nil {
		return err
	}
	for _, n := range names {
		val, err := xattrValue(src, n, get)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("get xattr %s: %w", n, err)
		}
		err = set(dst, n, val, 0)
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM) {
			continue
		}
		if err != nil {
			return fmt.Errorf("set xattr %s: %w", n, err)
		}
	}
	return nil
}

func xattrNames(p string, list func(string, []byte) (int, error)) ([]string, error) {
	n, err := list(p, nil)
	if errors.Is(err, unix.EOPNOTSUPP) || n == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	buf := make([]byte, n)
	if n, err = list(p, buf); err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	var names []string
	start := 0
	for i, b := range buf[:n] {
		if b == 0 {
			if i > start {
				names = append(names, string(buf[start:i]))
			}
			start = i + 1
		}
	}
	return names, nil
}

func xattrValue(p, name string, get func(string, string, []byte) (int, error)) ([]byte, error) {
	n, err := get(p, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if n, err = get(p, name, buf); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func displayPath(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}
