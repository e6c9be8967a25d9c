package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds symlink expansion while creating paths, as the kernel's
// own path walk does (MAXSYMLINKS).
const maxSymlinks = 40

// root is an O_PATH handle on a directory that every container path is
// resolved against as if it were "/". Holding the fd (instead of a path)
// means a concurrent rename of a parent directory cannot redirect us.
type root struct {
	fd   int
	path string // only for error messages
	// top is where fd lies as seen from the caller's root (pathOf),
	// read once: a rename of the rootfs meanwhile makes pathOf fail, not
	// pass.
	top string
}

func openRoot(path string) (*root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %q: %w", path, err)
	}
	return &root{fd: fd, path: path}, nil
}

func (r *root) Close() error { return unix.Close(r.fd) }

// open resolves p inside the root (symlinks and ".." are clamped to the root
// by the kernel) and returns an O_PATH fd for it. extra adds RESOLVE_* flags,
// e.g. RESOLVE_NO_SYMLINKS for destinations that must not be redirected.
func (r *root) open(p string, extra uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | extra,
	}
	for {
		fd, err := unix.Openat2(r.fd, rel(p), &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue // openat2 asks for a retry when a rename raced the walk
		}
		if err == unix.ELOOP && extra&unix.RESOLVE_NO_SYMLINKS != 0 {
			return -1, &os.PathError{Op: "resolve (no symlink allowed)", Path: p, Err: err}
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: p, Err: err}
		}
		return fd, nil
	}
}

// rel turns a container path into one relative to the root fd.
func rel(p string) string {
	p = strings.TrimLeft(filepath.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// ensure returns an O_PATH fd for p inside the root, creating it (and its
// parents) when missing: the last component as a directory when dir is set,
// else as an empty regular file. Every step works on fds obtained inside the
// root; a symlink met on the way is expanded relative to the root, so a
// dangling "evil -> /etc" makes us create <root>/etc, never the host's /etc.
// With noSymlinks any symlink on the way is an error instead.
func (r *root) ensure(p string, dir, noSymlinks bool) (int, error) {
	extra := uint64(0)
	if noSymlinks {
		extra = unix.RESOLVE_NO_SYMLINKS
	}
	fd, err := r.open(p, extra)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if fd, ok := r.createLast(p, dir, extra); ok {
		return fd, nil
	}
	w := walker{r: r, noSymlinks: noSymlinks}
	fd, err = w.walk(p, dir)
	if err != nil {
		return -1, fmt.Errorf("create %q inside %s: %w", p, r.path, err)
	}
	return fd, nil
}

// createLast is ensure's short way when only the last component of p is
// missing, the common case (a mount point in a fresh tmpfs): the parent
// is resolved inside the root in one openat2 and passes the checks the
// walk makes of every directory (not on procfs, not below /proc), then
// the name is made and opened below it without following anything. One
// walk costs four syscalls per component, this seven in all. Anything
// else (a missing parent, a dangling symlink at the end, a race) returns
// false and is left to the walk, which gives the answer and the error.
func (r *root) createLast(p string, dir bool, extra uint64) (int, bool) {
	clean := filepath.Clean("/" + p)
	name := filepath.Base(clean)
	if clean == "/" {
		return -1, false
	}
	parent, err := r.open(filepath.Dir(clean), extra)
	if err != nil {
		return -1, false
	}
	defer unix.Close(parent)
	if !r.mayCreateIn(parent) {
		return -1, false
	}
	how := stepHow
	if dir {
		err = unix.Mkdirat(parent, name, 0o755)
		how.Flags |= unix.O_DIRECTORY
	} else {
		create := unix.OpenHow{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Mode: 0o644, Resolve: stepHow.Resolve}
		var f int
		if f, err = unix.Openat2(parent, name, &create); err == nil {
			unix.Close(f)
		}
	}
	if err != nil {
		return -1, false
	}
	fd, err := unix.Openat2(parent, name, &how)
	if err != nil {
		return -1, false
	}
	return fd, true
}

// mayCreateIn: dir is neither on a procfs nor below the root's /proc.
func (r *root) mayCreateIn(dir int) bool {
	var fs unix.Statfs_t
	if unix.Fstatfs(dir, &fs) != nil || fs.Type == unix.PROC_SUPER_MAGIC {
		return false
	}
	p, err := r.pathOf(dir)
	return err == nil && p != "/proc" && !strings.HasPrefix(p, "/proc/")
}

type walker struct {
	r          *root
	noSymlinks bool
	cur        int      // fd of the directory reached so far
	curPath    []string // its symlink-free path from the root
	links      int
}

// stepHow opens exactly one component below w.cur without following it.
var stepHow = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
}

func (w *walker) walk(p string, dir bool) (int, error) {
	var err error
	if w.cur, err = unix.Dup(w.r.fd); err != nil {
		return -1, err
	}
	defer func() {
		if w.cur >= 0 {
			unix.Close(w.cur)
		}
	}()
	todo := split(p)
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if name == ".." {
			if err := w.up(); err != nil {
				return -1, err
			}
			continue
		}
		next, err := w.step(name, len(todo) == 0 && !dir)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, err := w.readlink(next, name)
			unix.Close(next)
			if err != nil {
				return -1, err
			}
			if filepath.IsAbs(target) {
				if err := w.reset(); err != nil {
					return -1, err
				}
			}
			todo = append(split(target), todo...)
		case unix.S_IFDIR:
			if err := refuseProcfs(next, append(w.curPath, name)); err != nil {
				unix.Close(next)
				return -1, err
			}
			unix.Close(w.cur)
			w.cur, w.curPath = next, append(w.curPath, name)
		default:
			if len(todo) > 0 || dir {
				unix.Close(next)
				return -1, fmt.Errorf("%q is not a directory: %w", "/"+filepath.Join(append(w.curPath, name)...), unix.ENOTDIR)
			}
			return next, nil
		}
	}
	fd := w.cur
	w.cur = -1
	return fd, nil
}

// refuseProcfs: the walk only runs for a path that does not exist yet,
// and nothing is ever made inside a procfs. Refused here, with the path
// named, rather than by whatever procfs answers: a builder outside the
// container's pid namespace cannot even read its /proc/self.
func refuseProcfs(fd int, path []string) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	if fs.Type == unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%q is on procfs: nothing is made inside /proc", "/"+filepath.Join(path...))
	}
	return nil
}

// step opens name below w.cur, creating it when it does not exist.
func (w *walker) step(name string, file bool) (int, error) {
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(w.cur, name, &stepHow)
		if err == nil || !errors.Is(err, unix.ENOENT) || tries > 0 {
			return fd, err
		}
		if file {
			how := unix.OpenHow{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Mode: 0o644, Resolve: stepHow.Resolve}
			f, err := unix.Openat2(w.cur, name, &how)
			if err == nil {
				unix.Close(f)
			} else if !errors.Is(err, unix.EEXIST) {
				return -1, fmt.Errorf("create file %q: %w", name, err)
			}
		} else if err := unix.Mkdirat(w.cur, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("mkdir %q: %w", name, err)
		}
	}
}

func (w *walker) readlink(fd int, name string) (string, error) {
	if w.noSymlinks {
		return "", fmt.Errorf("%q is a symlink: %w", "/"+filepath.Join(append(w.curPath, name)...), unix.ELOOP)
	}
	if w.links++; w.links > maxSymlinks {
		return "", unix.ELOOP
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", fmt.Errorf("readlink %q: %w", name, err)
	}
	return string(buf[:n]), nil
}

func (w *walker) reset() error {
	fd, err := unix.Dup(w.r.fd)
	if err != nil {
		return err
	}
	unix.Close(w.cur)
	w.cur, w.curPath = fd, nil
	return nil
}

// up moves to the parent; ".." at the root stays at the root, like chroot.
func (w *walker) up() error {
	if len(w.curPath) == 0 {
		return nil
	}
	parent := w.curPath[:len(w.curPath)-1]
	fd, err := w.r.open(filepath.Join(append([]string{"/"}, parent...)...), unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		return err
	}
	unix.Close(w.cur)
	w.cur, w.curPath = fd, parent
	return nil
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// fdPath names an fd for path-based syscalls (mount(2)). The kernel follows
// the magic link to the exact object the fd refers to, so no path walk
// happens at mount time. Callers must have checked that /proc is procfs.
func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// checkProcfs refuses to use a /proc that is not a real procfs: a fake one
// could make /proc/self/fd/N point anywhere.
func checkProcfs(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not procfs (fs magic %#x)", path, st.Type)
	}
	return nil
}
