package process

import (
	"errors"
	"fmt"
	"os"
	"path"

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

// WithHomeAt is WithHome reading /etc/passwd inside root (a directory fd).
func WithHomeAt(env []string, root int, uid uint32) []string {
	return withHome(env, func() string { return homeAt(root, uid) })
}

func homeAt(root int, uid uint32) string {
	fd, err := openInFd(root, "/etc/passwd", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
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
