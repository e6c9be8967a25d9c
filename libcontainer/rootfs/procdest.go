package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// lxcfsProcFiles are the files under /proc a mount may cover, as runc
// allows: lxcfs emulates them.
var lxcfsProcFiles = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// checkProcDest refuses a mount whose destination, fd, resolved inside
// the root (through whatever symlinks the image planted), lies inside
// /proc or on a procfs, as runc does: over-mounting procfs files would
// redirect the runtime's and the container's writes (CVE-2025-52881).
// /proc itself takes only a new proc or a bind of a procfs.
func (s *setupper) checkProcDest(fd int, m specs.Mount, bind bool) error {
	dest, err := s.root.pathOf(fd)
	if err != nil {
		return fmt.Errorf("mount %s: destination: %w", m.Destination, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return fmt.Errorf("mount %s: destination: statfs: %w", m.Destination, err)
	}
	onProc := fs.Type == unix.PROC_SUPER_MAGIC
	inProc := dest == "/proc" || strings.HasPrefix(dest, "/proc/")
	switch {
	case !inProc && !onProc:
		return nil
	case dest == "/proc" && !onProc && (m.Type == "proc" || bind && isProcfsRoot(m.Source)):
		return nil
	case slices.Contains(lxcfsProcFiles, dest):
		return nil
	case dest == "/proc":
		return fmt.Errorf("mount %s on %s: /proc takes only a proc file system or a bind of one (type %q, source %q)", m.Type, m.Destination, m.Type, m.Source)
	}
	return fmt.Errorf("mount %s on %s: the destination resolves to %s, inside /proc: refused", m.Type, m.Destination, dest)
}

// isProcfsRoot: path is the root of a procfs mount.
func isProcfsRoot(path string) bool {
	var fs unix.Statfs_t
	var st unix.Stat_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC &&
		unix.Stat(path, &st) == nil && st.Ino == 1
}

// pathOf is where fd, a file inside the root, lies as seen from the root.
func (r *root) pathOf(fd int) (string, error) {
	if r.top == "" {
		top, err := os.Readlink(fdPath(r.fd))
		if err != nil {
			return "", err
		}
		r.top = top
	}
	top := r.top
	p, err := os.Readlink(fdPath(fd))
	if err != nil {
		return "", err
	}
	if p == top {
		return "/", nil
	}
	if !strings.HasPrefix(p, strings.TrimSuffix(top, "/")+"/") {
		return "", fmt.Errorf("resolves to %s, outside the root %s", p, top)
	}
	return filepath.Clean("/" + strings.TrimPrefix(p, top)), nil
}
