package process

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenIn opens p inside the directory root as if root were "/": symlinks
// and ".." cannot leave it (openat2 RESOLVE_IN_ROOT), and no magic link of
// /proc is followed. The parent uses it on /proc/PID/root, to look at a
// running container's files as its processes would.
func OpenIn(root int, p string, flags int) (*os.File, error) {
	fd, err := openInFd(root, p, flags)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openInFd is OpenIn's plain fd.
func openInFd(root int, p string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(root, p, &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return fd, nil
	}
}

// OpenCheckedIn is OpenIn for a file the container's own processes could
// not open on the caller's behalf: the caller (hull, in the host's cgroup)
// opens the file only after check passed on what p resolves to, through an
// O_PATH fd that opens nothing. A plain open would first open whatever the
// image or the container put there, a device node included, outside the
// container's device cgroup: opening some devices is an act in itself (a
// watchdog, once opened, reboots the host unless told otherwise).
func OpenCheckedIn(root int, p string, flags int, check func(*unix.Stat_t) error) (*os.File, error) {
	fd, err := openCheckedInFd(root, p, flags, check)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openCheckedInFd is OpenCheckedIn's plain fd.
func openCheckedInFd(root int, p string, flags int, check func(*unix.Stat_t) error) (int, error) {
	fd, err := openInFd(root, p, unix.O_PATH)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if err := check(&st); err != nil {
		return -1, fmt.Errorf("%s: %w", p, err)
	}
	// The same inode, opened for real: reopening an O_PATH fd through
	// /proc/self/fd resolves no path again.
	file, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return file, nil
}

// RegularFile is OpenCheckedIn's check for a regular file.
func RegularFile(st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("not a regular file (mode %#o)", st.Mode&unix.S_IFMT)
	}
	return nil
}

// WithHomeAt is WithHome reading /etc/passwd inside root (a directory fd).
func WithHomeAt(env []string, root int, uid uint32) []string {
	return withHome(env, func() string { return homeAt(root, uid) })
}

func homeAt(root int, uid uint32) string {
	fd, err := openCheckedInFd(root, "/etc/passwd", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, RegularFile)
	if err != nil {
		return "/"
	}
	return passwdHome(fd, uid)
}

// LookPathAt is LookPath inside root (a directory fd), for a process
// whose working directory will be cwd: the program must be a regular file
// with an execute bit. Whether the process's user may execute it is left
// to that process (the C finisher checks it after dropping privileges).
func LookPathAt(root int, arg0 string, env []string, cwd string) (string, error) {
	return pathLookup{
		direct: func(p string) string { return inDir(cwd, p) },
		inDir:  func(dir, arg0 string) string { return inDir(cwd, path.Join(dir, arg0)) },
		check:  func(p string) error { return checkExecutableAt(root, p) },
	}.find(arg0, env)
}

// inDir makes p absolute against cwd (an empty PATH element is cwd).
func inDir(cwd, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/", cwd, p)
}

func checkExecutableAt(root int, p string) error {
	f, err := OpenIn(root, p, unix.O_PATH)
	if err != nil {
		return errors.Unwrap(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("not a regular file (mode %#o)", st.Mode&unix.S_IFMT)
	}
	if st.Mode&0o111 == 0 {
		return fmt.Errorf("not executable: %w", unix.EACCES)
	}
	return nil
}
