// Package procfs gives the container init a verified handle on /proc.
//
// Writes to procfs (oom_score_adj, attr/*, sysctls) are security relevant: a
// malicious image or a racing process can put a tmpfs, a bind mount of some
// other file or a symlink where the runtime expects /proc/..., so a plain
// os.WriteFile("/proc/self/...") may write somewhere else entirely (runc
// CVE-2019-16884, CVE-2019-19921). Every path opened through a Handle is
// resolved below a directory fd that was checked to be the root of a real
// procfs mount, without following symlinks and without crossing mounts, and
// the file finally opened is checked to live on that same procfs mount.
package procfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procRootIno is the inode number procfs always gives its root directory.
const procRootIno = 1

// Handle is an O_PATH fd on the root of a verified procfs mount.
type Handle struct {
	root  *os.File
	mntID uint64 // 0 when the kernel cannot report mount ids
}

// Open opens and verifies "/proc". It prefers a private clone of the
// procfs mount at /proc: the clone holds that mount alone, without what
// is mounted on top of files inside it, and, detached from every mount
// namespace, nobody can mount on it later. A file opened through it is
// the procfs file of that name, not merely some file on a procfs
// (CVE-2025-52881). Where cloning is refused (no CAP_SYS_ADMIN over the
// mount namespace; locked mounts on /proc in a user namespace) it falls
// back to /proc itself, where lookups still refuse to cross any mount.
func Open() (*Handle, error) {
	if h, err := openPrivate("/proc"); err == nil {
		return h, nil
	}
	return openRoot("/proc")
}

// openPrivate opens a detached, non-recursive clone of the mount at dir.
func openPrivate(dir string) (*Handle, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return nil, fmt.Errorf("procfs: clone %s: %w", dir, err)
	}
	return verifyRoot(fd, dir)
}

// openRoot opens dir as a procfs root. It is separate from Open only so the
// path used in error messages and the opened path can never disagree.
func openRoot(dir string) (*Handle, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("procfs: open %s: %w", dir, err)
	}
	return verifyRoot(fd, dir)
}

// verifyRoot takes fd and makes it a Handle once it is the root of a procfs.
func verifyRoot(fd int, dir string) (*Handle, error) {
	f := os.NewFile(uintptr(fd), dir)
	if err := checkProcfs(fd, dir); err != nil {
		f.Close()
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("procfs: stat %s: %w", dir, err)
	}
	if st.Ino != procRootIno {
		f.Close()
		return nil, fmt.Errorf("procfs: %s is not the root of a procfs mount (inode %d, want %d)", dir, st.Ino, procRootIno)
	}
	mnt, err := mountID(fd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("procfs: mount id of %s: %w", dir, err)
	}
	return &Handle{root: f, mntID: mnt}, nil
}

// checkProcfs fails unless fd lives on a procfs filesystem.
func checkProcfs(fd int, name string) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("procfs: statfs %s: %w", name, err)
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("procfs: %s is not on procfs (f_type %#x, want %#x)", name, sfs.Type, unix.PROC_SUPER_MAGIC)
	}
	return nil
}

// mountID returns the mount id of fd, or 0 if the kernel (< 5.8) cannot
// report it; callers then rely on RESOLVE_NO_XDEV alone.
func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	if errors.Is(err, unix.ENOSYS) || (err == nil && stx.Mask&unix.STATX_MNT_ID == 0) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return stx.Mnt_id, nil
}

// Close releases the handle.
func (h *Handle) Close() error {
	return h.root.Close()
}

// OpenFile opens rel (relative to the procfs root, e.g. "self/oom_score_adj"
// or "sys/kernel/cap_last_cap") without following any symlink or crossing
// any mount. A leading "self" or "thread-self" component is resolved by
// reading that link on this procfs instance, so it names the pid as this
// procfs (and therefore its pid namespace) sees it. For "thread-self" the
// caller must hold runtime.LockOSThread.
func (h *Handle) OpenFile(rel string, flags int) (*os.File, error) {
	name := "/proc/" + rel
	clean, err := h.resolveSelf(rel)
	if err != nil {
		return nil, fmt.Errorf("procfs: open %s: %w", name, err)
	}
	fd, err := h.openBeneath(clean, flags)
	if err != nil {
		return nil, fmt.Errorf("procfs: open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := h.verify(fd, name); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// verify checks that fd is on procfs and on the very mount h was opened on,
// so an overmount inside /proc cannot substitute another file.
func (h *Handle) verify(fd int, name string) error {
	if err := checkProcfs(fd, name); err != nil {
		return err
	}
	if h.mntID == 0 {
		return nil
	}
	mnt, err := mountID(fd)
	if err != nil {
		return fmt.Errorf("procfs: mount id of %s: %w", name, err)
	}
	if mnt != h.mntID {
		return fmt.Errorf("procfs: %s is on mount %d, not on the procfs mount %d", name, mnt, h.mntID)
	}
	return nil
}

// resolveSelf cleans rel, rejects escapes and replaces a leading
// "self"/"thread-self" symlink with its target.
func (h *Handle) resolveSelf(rel string) (string, error) {
	clean := path.Clean("/" + rel)[1:]
	if clean == "" || strings.HasPrefix(rel, "/") || clean != strings.TrimSuffix(rel, "/") {
		return "", fmt.Errorf("path %q must be relative and clean", rel)
	}
	first, rest, _ := strings.Cut(clean, "/")
	if first != "self" && first != "thread-self" {
		return clean, nil
	}
	target, err := readlinkat(int(h.root.Fd()), first)
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", first, err)
	}
	if err := checkSelfTarget(first, target); err != nil {
		return "", err
	}
	if rest == "" {
		return target, nil
	}
	return target + "/" + rest, nil
}

// checkSelfTarget accepts only what procfs itself produces for these links
// ("<pid>" and "<pid>/task/<tid>"), so the substitution cannot introduce
// "..", absolute paths or other names.
func checkSelfTarget(link, target string) error {
	parts := strings.Split(target, "/")
	ok := len(parts) == 1 && link == "self" ||
		len(parts) == 3 && link == "thread-self" && parts[1] == "task"
	if ok {
		for i := 0; i < len(parts); i += 2 {
			if _, err := strconv.ParseUint(parts[i], 10, 31); err != nil {
				ok = false
			}
		}
	}
	if !ok {
		return fmt.Errorf("unexpected target %q of /proc/%s", target, link)
	}
	return nil
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	if n == len(buf) {
		return "", fmt.Errorf("link %s too long", name)
	}
	return string(buf[:n]), nil
}
