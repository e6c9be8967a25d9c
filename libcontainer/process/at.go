package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenIn opens p inside the directory root as if root were "/": symlinks
// and ".." cannot leave it (openat2 RESOLVE_IN_ROOT), and no magic link of
// /proc is followed. The parent uses it on /proc/PID/root, to look at a
// running container's files as its processes would.
func OpenIn(root int, p string, flags int) (*os.File, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(root, p, &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
}

// WithHomeAt is WithHome reading /etc/passwd inside root (a directory fd).
func WithHomeAt(env []string, root int, uid uint32) []string {
	if lastHome(env) != "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+homeAt(root, uid))
}

func lastHome(env []string) string {
	home := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	return home
}

func homeAt(root int, uid uint32) string {
	f, err := OpenIn(root, "/etc/passwd", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return "/"
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "/"
	}
	if home, ok := parsePasswdHome(io.LimitReader(f, maxPasswd), uid); ok {
		return home
	}
	return "/"
}

// LookPathAt is LookPath inside root (a directory fd), for a process
// whose working directory will be cwd: the program must be a regular file
// with an execute bit. Whether the process's user may execute it is left
// to that process (the C finisher checks it after dropping privileges).
func LookPathAt(root int, arg0 string, env []string, cwd string) (string, error) {
	if arg0 == "" {
		return "", errors.New("process.args[0]: empty executable name")
	}
	if strings.Contains(arg0, "/") {
		p := inDir(cwd, arg0)
		if err := checkExecutableAt(root, p); err != nil {
			return "", fmt.Errorf("process.args[0] %q: %w", arg0, err)
		}
		return p, nil
	}
	pathEnv, ok := DefaultPath, false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			pathEnv, ok = v, true
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		p := inDir(cwd, path.Join(dir, arg0))
		if checkExecutableAt(root, p) == nil {
			return p, nil
		}
	}
	src := "PATH"
	if !ok {
		src = "default PATH"
	}
	return "", fmt.Errorf("process.args[0] %q: executable file not found in %s %q", arg0, src, pathEnv)
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
